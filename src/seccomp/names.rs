//! Syscall name <-> number table for the build target, from `libc::SYS_*`.
//!
//! The common part lists the syscalls every supported architecture (x86_64, aarch64,
//! riscv64, armv7; glibc and musl) defines; legacy calls only some targets have are
//! behind `cfg`. Generated from the libc crate's per-arch constants.

/// One table: the names as one string (`SYS_a SYS_b ... `), where each name starts, and
/// the numbers in the same order. One string instead of a slice of `&str` keeps the
/// table out of the relocations a position-independent binary applies at start-up.
struct Table {
    names: &'static str,
    starts: &'static [u16],
    numbers: &'static [u32],
}

macro_rules! table {
    ($($name:ident),* $(,)?) => {{
        const NAMES: &str = concat!($(stringify!($name), " "),*);
        const NUMBERS: &[u32] = &[$(libc::$name as u32),*];
        const STARTS: [u16; NUMBERS.len()] = starts(NAMES);
        &Table { names: NAMES, starts: &STARTS, numbers: NUMBERS }
    }};
}

/// Where each space-terminated word of `names` starts.
const fn starts<const N: usize>(names: &str) -> [u16; N] {
    let bytes = names.as_bytes();
    let mut out = [0u16; N];
    let (mut i, mut k) = (0, 0);
    while i < bytes.len() {
        if i == 0 || bytes[i - 1] == b' ' {
            out[k] = i as u16;
            k += 1;
        }
        i += 1;
    }
    out
}

impl Table {
    fn len(&self) -> usize {
        self.numbers.len()
    }

    /// Entry `i`: the name without libc's `SYS_` prefix, and the number.
    fn get(&self, i: usize) -> (&'static str, u32) {
        let start = self.starts[i] as usize + 4;
        let end = self
            .starts
            .get(i + 1)
            .map_or(self.names.len(), |&s| s as usize)
            - 1;
        (&self.names[start..end], self.numbers[i])
    }

    fn iter(&'static self) -> impl Iterator<Item = (&'static str, u32)> {
        (0..self.len()).map(move |i| self.get(i))
    }
}

/// Syscalls defined on every supported architecture.
const COMMON: &Table = table!(
    SYS_accept,
    SYS_accept4,
    SYS_acct,
    SYS_add_key,
    SYS_adjtimex,
    SYS_bind,
    SYS_bpf,
    SYS_brk,
    SYS_capget,
    SYS_capset,
    SYS_chdir,
    SYS_chroot,
    SYS_clock_adjtime,
    SYS_clock_getres,
    SYS_clock_gettime,
    SYS_clock_nanosleep,
    SYS_clock_settime,
    SYS_clone,
    SYS_clone3,
    SYS_close,
    SYS_close_range,
    SYS_connect,
    SYS_copy_file_range,
    SYS_delete_module,
    SYS_dup,
    SYS_dup3,
    SYS_epoll_create1,
    SYS_epoll_ctl,
    SYS_epoll_pwait,
    SYS_epoll_pwait2,
    SYS_eventfd2,
    SYS_execve,
    SYS_execveat,
    SYS_exit,
    SYS_exit_group,
    SYS_faccessat,
    SYS_faccessat2,
    SYS_fallocate,
    SYS_fanotify_init,
    SYS_fanotify_mark,
    SYS_fchdir,
    SYS_fchmod,
    SYS_fchmodat,
    SYS_fchown,
    SYS_fchownat,
    SYS_fcntl,
    SYS_fdatasync,
    SYS_fgetxattr,
    SYS_finit_module,
    SYS_flistxattr,
    SYS_flock,
    SYS_fremovexattr,
    SYS_fsconfig,
    SYS_fsetxattr,
    SYS_fsmount,
    SYS_fsopen,
    SYS_fspick,
    SYS_fstat,
    SYS_fstatfs,
    SYS_fsync,
    SYS_ftruncate,
    SYS_futex,
    SYS_futex_waitv,
    SYS_get_mempolicy,
    SYS_get_robust_list,
    SYS_getcpu,
    SYS_getcwd,
    SYS_getdents64,
    SYS_getegid,
    SYS_geteuid,
    SYS_getgid,
    SYS_getgroups,
    SYS_getitimer,
    SYS_getpeername,
    SYS_getpgid,
    SYS_getpid,
    SYS_getppid,
    SYS_getpriority,
    SYS_getrandom,
    SYS_getresgid,
    SYS_getresuid,
    SYS_getrusage,
    SYS_getsid,
    SYS_getsockname,
    SYS_getsockopt,
    SYS_gettid,
    SYS_gettimeofday,
    SYS_getuid,
    SYS_getxattr,
    SYS_init_module,
    SYS_inotify_add_watch,
    SYS_inotify_init1,
    SYS_inotify_rm_watch,
    SYS_io_cancel,
    SYS_io_destroy,
    SYS_io_getevents,
    SYS_io_setup,
    SYS_io_submit,
    SYS_io_uring_enter,
    SYS_io_uring_register,
    SYS_io_uring_setup,
    SYS_ioctl,
    SYS_ioprio_get,
    SYS_ioprio_set,
    SYS_kcmp,
    SYS_kexec_load,
    SYS_keyctl,
    SYS_kill,
    SYS_landlock_add_rule,
    SYS_landlock_create_ruleset,
    SYS_landlock_restrict_self,
    SYS_lgetxattr,
    SYS_linkat,
    SYS_listen,
    SYS_listxattr,
    SYS_llistxattr,
    SYS_lookup_dcookie,
    SYS_lremovexattr,
    SYS_lseek,
    SYS_lsetxattr,
    SYS_madvise,
    SYS_mbind,
    SYS_membarrier,
    SYS_memfd_create,
    SYS_mincore,
    SYS_mkdirat,
    SYS_mknodat,
    SYS_mlock,
    SYS_mlock2,
    SYS_mlockall,
    SYS_mount,
    SYS_mount_setattr,
    SYS_move_mount,
    SYS_move_pages,
    SYS_mprotect,
    SYS_mq_getsetattr,
    SYS_mq_notify,
    SYS_mq_open,
    SYS_mq_timedreceive,
    SYS_mq_timedsend,
    SYS_mq_unlink,
    SYS_mremap,
    SYS_msgctl,
    SYS_msgget,
    SYS_msgrcv,
    SYS_msgsnd,
    SYS_msync,
    SYS_munlock,
    SYS_munlockall,
    SYS_munmap,
    SYS_name_to_handle_at,
    SYS_nanosleep,
    SYS_nfsservctl,
    SYS_open_by_handle_at,
    SYS_open_tree,
    SYS_openat,
    SYS_openat2,
    SYS_perf_event_open,
    SYS_personality,
    SYS_pidfd_getfd,
    SYS_pidfd_open,
    SYS_pidfd_send_signal,
    SYS_pipe2,
    SYS_pivot_root,
    SYS_pkey_alloc,
    SYS_pkey_free,
    SYS_pkey_mprotect,
    SYS_ppoll,
    SYS_prctl,
    SYS_pread64,
    SYS_preadv,
    SYS_preadv2,
    SYS_prlimit64,
    SYS_process_madvise,
    SYS_process_vm_readv,
    SYS_process_vm_writev,
    SYS_pselect6,
    SYS_ptrace,
    SYS_pwrite64,
    SYS_pwritev,
    SYS_pwritev2,
    SYS_quotactl,
    SYS_read,
    SYS_readahead,
    SYS_readlinkat,
    SYS_readv,
    SYS_reboot,
    SYS_recvfrom,
    SYS_recvmmsg,
    SYS_recvmsg,
    SYS_remap_file_pages,
    SYS_removexattr,
    SYS_renameat2,
    SYS_request_key,
    SYS_restart_syscall,
    SYS_rt_sigaction,
    SYS_rt_sigpending,
    SYS_rt_sigprocmask,
    SYS_rt_sigqueueinfo,
    SYS_rt_sigreturn,
    SYS_rt_sigsuspend,
    SYS_rt_sigtimedwait,
    SYS_rt_tgsigqueueinfo,
    SYS_sched_get_priority_max,
    SYS_sched_get_priority_min,
    SYS_sched_getaffinity,
    SYS_sched_getattr,
    SYS_sched_getparam,
    SYS_sched_getscheduler,
    SYS_sched_rr_get_interval,
    SYS_sched_setaffinity,
    SYS_sched_setattr,
    SYS_sched_setparam,
    SYS_sched_setscheduler,
    SYS_sched_yield,
    SYS_seccomp,
    SYS_semctl,
    SYS_semget,
    SYS_semop,
    SYS_semtimedop,
    SYS_sendfile,
    SYS_sendmmsg,
    SYS_sendmsg,
    SYS_sendto,
    SYS_set_mempolicy,
    SYS_set_robust_list,
    SYS_set_tid_address,
    SYS_setdomainname,
    SYS_setfsgid,
    SYS_setfsuid,
    SYS_setgid,
    SYS_setgroups,
    SYS_sethostname,
    SYS_setitimer,
    SYS_setns,
    SYS_setpgid,
    SYS_setpriority,
    SYS_setregid,
    SYS_setresgid,
    SYS_setresuid,
    SYS_setreuid,
    SYS_setsid,
    SYS_setsockopt,
    SYS_settimeofday,
    SYS_setuid,
    SYS_setxattr,
    SYS_shmat,
    SYS_shmctl,
    SYS_shmdt,
    SYS_shmget,
    SYS_shutdown,
    SYS_sigaltstack,
    SYS_signalfd4,
    SYS_socket,
    SYS_socketpair,
    SYS_splice,
    SYS_statfs,
    SYS_statx,
    SYS_swapoff,
    SYS_swapon,
    SYS_symlinkat,
    SYS_sync,
    SYS_syncfs,
    SYS_sysinfo,
    SYS_syslog,
    SYS_tee,
    SYS_tgkill,
    SYS_timer_create,
    SYS_timer_delete,
    SYS_timer_getoverrun,
    SYS_timer_gettime,
    SYS_timer_settime,
    SYS_timerfd_create,
    SYS_timerfd_gettime,
    SYS_timerfd_settime,
    SYS_times,
    SYS_tkill,
    SYS_truncate,
    SYS_umask,
    SYS_umount2,
    SYS_uname,
    SYS_unlinkat,
    SYS_unshare,
    SYS_userfaultfd,
    SYS_utimensat,
    SYS_vhangup,
    SYS_vmsplice,
    SYS_wait4,
    SYS_waitid,
    SYS_write,
    SYS_writev,
);

/// Legacy or arch-specific syscalls of x86_64.
#[cfg(target_arch = "x86_64")]
const ARCH: &Table = table!(
    SYS__sysctl,
    SYS_access,
    SYS_afs_syscall,
    SYS_alarm,
    SYS_arch_prctl,
    SYS_chmod,
    SYS_chown,
    SYS_creat,
    SYS_dup2,
    SYS_epoll_create,
    SYS_epoll_ctl_old,
    SYS_epoll_wait,
    SYS_epoll_wait_old,
    SYS_eventfd,
    SYS_fadvise64,
    SYS_fchmodat2,
    SYS_fork,
    SYS_futimesat,
    SYS_get_thread_area,
    SYS_getdents,
    SYS_getpgrp,
    SYS_getpmsg,
    SYS_getrlimit,
    SYS_inotify_init,
    SYS_ioperm,
    SYS_iopl,
    SYS_kexec_file_load,
    SYS_lchown,
    SYS_link,
    SYS_lstat,
    SYS_memfd_secret,
    SYS_migrate_pages,
    SYS_mkdir,
    SYS_mknod,
    SYS_mmap,
    SYS_modify_ldt,
    SYS_mseal,
    SYS_newfstatat,
    SYS_open,
    SYS_pause,
    SYS_pipe,
    SYS_poll,
    SYS_process_mrelease,
    SYS_putpmsg,
    SYS_quotactl_fd,
    SYS_readlink,
    SYS_rename,
    SYS_renameat,
    SYS_rmdir,
    SYS_rseq,
    SYS_security,
    SYS_select,
    SYS_set_mempolicy_home_node,
    SYS_set_thread_area,
    SYS_setrlimit,
    SYS_signalfd,
    SYS_stat,
    SYS_symlink,
    SYS_sync_file_range,
    SYS_sysfs,
    SYS_time,
    SYS_tuxcall,
    SYS_unlink,
    SYS_uselib,
    SYS_ustat,
    SYS_utime,
    SYS_utimes,
    SYS_vfork,
    SYS_vserver,
);

#[cfg(target_arch = "aarch64")]
const ARCH: &Table = table!(SYS_kexec_file_load, SYS_mmap);

#[cfg(target_arch = "riscv64")]
const ARCH: &Table = table!(SYS_mmap);

#[cfg(target_arch = "arm")]
const ARCH: &Table = table!(SYS_fork, SYS_vfork, SYS_mmap2);

/// Every (name, number) pair of the build target.
fn entries() -> impl Iterator<Item = (&'static str, u32)> {
    COMMON.iter().chain(ARCH.iter())
}

/// The number of syscall `name` on the build target, if it has one. Both tables are
/// sorted by name (checked by a test), so this is two binary searches.
pub fn number(name: &str) -> Option<u32> {
    [COMMON, ARCH].into_iter().find_map(|table| {
        let (mut lo, mut hi) = (0, table.len());
        while lo < hi {
            let mid = (lo + hi) / 2;
            let (n, nr) = table.get(mid);
            match n.cmp(name) {
                std::cmp::Ordering::Equal => return Some(nr),
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
            }
        }
        None
    })
}

/// The name of syscall `nr` on the build target, for logs and messages.
pub fn name(nr: u32) -> Option<&'static str> {
    entries().find(|&(_, n)| n == nr).map(|(name, _)| name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn looks_up_both_ways() {
        let nr = number("openat").unwrap();
        assert_eq!(nr, libc::SYS_openat as u32);
        assert_eq!(name(nr), Some("openat"));
        assert_eq!(number("no_such_call"), None);
        assert_eq!(number("SYS_openat"), None);
    }

    #[test]
    fn tables_are_sorted_by_name() {
        for table in [COMMON, ARCH] {
            let names: Vec<&str> = table.iter().map(|(n, _)| n).collect();
            assert!(names.windows(2).all(|w| w[0] < w[1]), "{names:?}");
            assert_eq!(names.len(), table.names.split_terminator(' ').count());
        }
        for (name, nr) in entries() {
            assert_eq!(number(name), Some(nr), "{name}");
        }
    }

    #[test]
    fn names_and_numbers_are_unique() {
        let all: Vec<_> = entries().collect();
        for (i, (n, nr)) in all.iter().enumerate() {
            for (m, mr) in &all[i + 1..] {
                assert_ne!(n, m);
                assert_ne!(nr, mr, "{n} and {m} share a number");
            }
        }
    }
}
