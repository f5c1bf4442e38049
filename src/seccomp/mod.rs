//! The seccomp program: the policy's deny list (see [`crate::policy::syscalls`]), the
//! fixed argument filters, and a notification for each syscall [`Traps`] names.
//!
//! Layout of the generated program:
//!
//! ```text
//! arch:    A = arch; A != AUDIT_ARCH_<target> -> KILL_PROCESS
//!          A = nr; (x86_64) nr has __X32_SYSCALL_BIT -> KILL_PROCESS
//! routes:  a binary search on nr (bpf::dispatch) to one body per listed syscall:
//!   deny:  ERRNO(EPERM) per denied syscall (clone3: ENOSYS)
//!   args:  clone (CLONE_NEW* -> EPERM), ioctl (TIOCSTI/TIOCLINUX -> EPERM),
//!          socket (family/type/protocol), prctl (DUMPABLE/SECUREBITS/PTRACER -> EPERM),
//!          personality (anything but the query -> EPERM), send* (MSG_FASTOPEN)
//!   traps: USER_NOTIF (whole call, or after an argument test)
//! default: ALLOW
//! ```
//!
//! When a number has several routes the first one built wins: the deny list before
//! everything else.

pub mod bpf;
pub mod names;
pub mod notif;

use bpf::SECCOMP_RET_USER_NOTIF;
use bpf::{arg_high, arg_low, AsmError, Block, BPF_JEQ, BPF_JSET, OFFSET_ARCH, OFFSET_NR};
use bpf::{Label, SECCOMP_RET_ALLOW, SECCOMP_RET_ERRNO, SECCOMP_RET_KILL_PROCESS};

use crate::policy::traps::Traps;
use crate::sys::SockFilter;

/// Path syscalls the /proc view checks, with the path as the first argument ...
/// What `sandlet learn` traps: every call that opens, executes, makes or removes a path.
pub const LEARN_CALLS: &[&str] = &[
    "open",
    "openat",
    "openat2",
    "creat",
    "execve",
    "execveat",
    "mkdir",
    "mkdirat",
    "rmdir",
    "unlink",
    "unlinkat",
    "rename",
    "renameat",
    "renameat2",
    "link",
    "linkat",
    "symlink",
    "symlinkat",
    "mknod",
    "mknodat",
    "truncate",
];
pub const PROC_PATH_CALLS: &[&str] = &["stat", "lstat", "access", "readlink", "chdir"];
/// ... and as the second, after a directory fd.
pub const PROC_PATHAT_CALLS: &[&str] = &[
    "newfstatat",
    "statx",
    "faccessat",
    "faccessat2",
    "readlinkat",
];

/// The `mmap` syscall of the target (`mmap2` on 32-bit arm).
pub const MMAP: &str = if cfg!(target_arch = "arm") {
    "mmap2"
} else {
    "mmap"
};

/// The wall clocks, whose readings `--time-start` moves: REALTIME, REALTIME_COARSE,
/// REALTIME_ALARM, TAI.
pub const WALL_CLOCKS: [u32; 4] = [0, 5, 8, 11];

#[cfg(target_arch = "x86_64")]
pub const AUDIT_ARCH: u32 = 0xC000_003E;
#[cfg(target_arch = "aarch64")]
pub const AUDIT_ARCH: u32 = 0xC000_00B7;
#[cfg(target_arch = "riscv64")]
pub const AUDIT_ARCH: u32 = 0xC000_00F3;
#[cfg(target_arch = "arm")]
pub const AUDIT_ARCH: u32 = 0x4000_0028;

#[cfg(target_arch = "x86_64")]
const X32_SYSCALL_BIT: u32 = 0x4000_0000;

/// Every namespace flag `clone` accepts (CLONE_NEWTIME shares a bit with the exit
/// signal there and is only valid for clone3/unshare).
pub const CLONE_NEW_ANY: u32 = (libc::CLONE_NEWNS
    | libc::CLONE_NEWCGROUP
    | libc::CLONE_NEWUTS
    | libc::CLONE_NEWIPC
    | libc::CLONE_NEWUSER
    | libc::CLONE_NEWPID
    | libc::CLONE_NEWNET) as u32;

const PR_SET_PTRACER: u32 = 0x5961_6d61;
/// The mapping-type bits of mmap's flags (`MAP_SHARED`, `MAP_PRIVATE`, ...).
const MAP_TYPE: u32 = 0x0f;
const SOCK_TYPE_MASK: u32 = 0xf;
const PERSONALITY_QUERY: u32 = 0xffff_ffff;

const fn errno(e: i32) -> u32 {
    SECCOMP_RET_ERRNO | (e as u32 & 0xffff)
}

fn nr(name: &str) -> u32 {
    // Every name used below is in the common table of every supported target
    // (checked by the `argument_filters_resolve` test).
    names::number(name).unwrap_or(u32::MAX)
}

fn arch_check() -> Block {
    let b = Block::new()
        .load(OFFSET_ARCH)
        .if_eq(AUDIT_ARCH, "ok")
        .ret(SECCOMP_RET_KILL_PROCESS)
        .mark("ok")
        .load(OFFSET_NR);
    #[cfg(target_arch = "x86_64")]
    let b = b
        .jump(BPF_JSET, X32_SYSCALL_BIT, Label::Next, Label::At("native"))
        .ret(SECCOMP_RET_KILL_PROCESS)
        .mark("native");
    b
}

/// A route: syscall `nr` runs `body`, which ends every path in a return.
type Route = (u32, Block);

/// `nr -> return action`.
fn deny_one(nr: u32, action: u32) -> Route {
    (nr, Block::new().ret(action))
}

/// `nr -> USER_NOTIF` when `name` exists on the target.
fn notify_one(name: &str) -> Option<Route> {
    names::number(name).map(|nr| deny_one(nr, SECCOMP_RET_USER_NOTIF))
}

/// Runs `body` for syscall `nr`.
fn for_syscall(nr: u32, body: Block) -> Route {
    (nr, body)
}

/// `--time-start`'s notifications: wall-clock `clock_gettime`, `gettimeofday`, `time`,
/// absolute wall-clock `clock_nanosleep`, absolute `timerfd_settime`, `arch_prctl`.
fn time_rules() -> Vec<Route> {
    let notify = SECCOMP_RET_USER_NOTIF;
    let allow = SECCOMP_RET_ALLOW;
    // A wall clock id. The kernel reads a clockid_t (32 bits): the high half of the
    // register is ignored, so it must be here too (dynamic clocks, negative, never
    // have a listed low half).
    let wall_clock = || -> Block {
        let b = Block::new().load(arg_low(0));
        WALL_CLOCKS
            .iter()
            .fold(b, |b, &c| b.if_eq(c, "wall"))
            .ret(allow)
            .mark("wall")
    };
    // Notify when the flags in argument 1 have `bit`.
    let flag = |b: Block, bit: i32| -> Block {
        b.load(arg_low(1))
            .jump(BPF_JSET, bit as u32, Label::Next, Label::At("allow"))
            .ret(notify)
            .mark("allow")
            .ret(allow)
    };
    let mut out = vec![
        for_syscall(
            nr("clock_gettime"),
            wall_clock().ret(notify).mark("allow").ret(allow),
        ),
        for_syscall(
            nr("clock_nanosleep"),
            flag(wall_clock(), libc::TIMER_ABSTIME),
        ),
        for_syscall(nr("timer_settime"), flag(Block::new(), libc::TIMER_ABSTIME)),
        for_syscall(
            nr("timerfd_settime"),
            flag(Block::new(), libc::TFD_TIMER_ABSTIME),
        ),
    ];
    out.extend(
        ["gettimeofday", "time", "arch_prctl"]
            .into_iter()
            .filter_map(notify_one),
    );
    out
}

/// Builds the filter refusing every syscall in `deny` (numbers of the build target), the
/// fixed argument filters, and the notifications `traps` asks for.
pub fn program(deny: &[u32], traps: Traps) -> Result<Vec<SockFilter>, AsmError> {
    let eperm = errno(libc::EPERM);
    let allow = SECCOMP_RET_ALLOW;
    let mut blocks: Vec<Route> = vec![deny_one(nr("clone3"), errno(libc::ENOSYS))];
    for &n in deny {
        blocks.push(deny_one(n, eperm));
    }
    let new_process = if traps.fork {
        SECCOMP_RET_USER_NOTIF
    } else {
        allow
    };
    let clone = Block::new()
        .load(arg_low(0))
        .jump(BPF_JSET, CLONE_NEW_ANY, Label::Next, Label::At("no_ns"))
        .ret(eperm)
        .mark("no_ns")
        .jump(
            BPF_JSET,
            libc::CLONE_THREAD as u32,
            Label::At("allow"),
            Label::Next,
        )
        .ret(new_process)
        .mark("allow")
        .ret(allow);
    let ioctl = Block::new()
        .load(arg_low(1))
        .if_eq(libc::TIOCSTI as u32, "deny")
        .if_eq(libc::TIOCLINUX as u32, "deny")
        .ret(allow)
        .mark("deny")
        .ret(eperm);
    let socket = Block::new()
        .load(arg_low(0))
        .if_eq(libc::AF_UNIX as u32, "allow")
        .if_eq(libc::AF_INET as u32, "inet")
        .if_eq(libc::AF_INET6 as u32, "inet")
        .if_eq(libc::AF_NETLINK as u32, "netlink")
        .ret(errno(libc::EAFNOSUPPORT))
        .mark("netlink")
        .load(arg_low(2))
        .if_eq(libc::NETLINK_ROUTE as u32, "allow")
        .ret(errno(libc::EAFNOSUPPORT))
        .mark("inet")
        .load(arg_low(1))
        .and(SOCK_TYPE_MASK)
        .if_eq(libc::SOCK_STREAM as u32, "stream")
        .if_eq(libc::SOCK_DGRAM as u32, "dgram")
        .ret(eperm)
        .mark("stream")
        .load(arg_low(2))
        .if_eq(0, "allow")
        .if_eq(libc::IPPROTO_TCP as u32, "allow")
        .ret(eperm)
        .mark("dgram")
        .load(arg_low(2))
        .if_eq(0, "udp")
        .if_eq(libc::IPPROTO_UDP as u32, "udp")
        .if_eq(libc::IPPROTO_ICMP as u32, "icmp")
        .if_eq(libc::IPPROTO_ICMPV6 as u32, "icmp")
        .ret(eperm)
        .mark("udp")
        .ret(if traps.udp { allow } else { eperm })
        .mark("icmp")
        .ret(if traps.icmp { allow } else { eperm })
        .mark("allow")
        .ret(allow);
    let prctl = Block::new()
        .load(arg_low(0))
        .if_eq(libc::PR_SET_DUMPABLE as u32, "deny")
        .if_eq(libc::PR_SET_SECUREBITS as u32, "deny")
        .if_eq(PR_SET_PTRACER, "deny")
        .ret(allow)
        .mark("deny")
        .ret(eperm);
    let personality = Block::new()
        .load(arg_low(0))
        .if_eq(PERSONALITY_QUERY, "allow")
        .ret(eperm)
        .mark("allow")
        .ret(allow);
    if traps.fork {
        blocks.extend(["fork", "vfork"].into_iter().filter_map(notify_one));
    }
    if traps.memory {
        // Writable and anonymous, or writable and private (a private mapping of a file,
        // /dev/zero or a memfd is private memory too: the kernel's VmData counts it).
        let mmap = Block::new()
            .load(arg_low(2))
            .jump(
                BPF_JSET,
                libc::PROT_WRITE as u32,
                Label::Next,
                Label::At("allow"),
            )
            .load(arg_low(3))
            .jump(
                BPF_JSET,
                libc::MAP_ANONYMOUS as u32,
                Label::At("notify"),
                Label::Next,
            )
            .and(MAP_TYPE)
            .if_eq(libc::MAP_PRIVATE as u32, "notify")
            .ret(allow)
            .mark("notify")
            .ret(SECCOMP_RET_USER_NOTIF)
            .mark("allow")
            .ret(allow);
        blocks.push(for_syscall(nr(MMAP), mmap));
        blocks.extend(["mremap", "brk"].into_iter().filter_map(notify_one));
    }
    if traps.shm {
        blocks.extend(notify_one("shmget"));
    }
    if traps.connect {
        blocks.extend(notify_one("connect"));
    }
    if traps.bind {
        blocks.extend(notify_one("bind"));
    }
    if traps.uname {
        blocks.extend(notify_one("uname"));
    }
    if traps.sockname {
        blocks.extend(
            ["getsockname", "getpeername"]
                .into_iter()
                .filter_map(notify_one),
        );
    }
    if traps.time {
        blocks.extend(time_rules());
    }
    if traps.learn {
        blocks.extend(LEARN_CALLS.iter().copied().filter_map(notify_one));
    }
    if traps.exec {
        if !traps.learn {
            blocks.extend(["execve", "execveat"].into_iter().filter_map(notify_one));
        }
        for name in ["io_setup", "io_submit"] {
            if let Some(n) = names::number(name) {
                blocks.push(deny_one(n, eperm));
            }
        }
    }
    if traps.proc {
        blocks.extend(
            PROC_PATH_CALLS
                .iter()
                .chain(PROC_PATHAT_CALLS)
                .copied()
                .filter_map(notify_one),
        );
    }
    for (trapped, name) in [
        (traps.random, "getrandom"),
        (traps.cpus, "sched_getaffinity"),
        (traps.dirs, "getdents64"),
    ] {
        if trapped {
            blocks.extend(notify_one(name));
        }
    }
    if traps.open && !traps.learn {
        // Served files are only read, so an open that writes or creates goes on without
        // a notification (beneath /proc, Landlock refuses it: /proc is not in the rules).
        // Unless the /proc view (which also serves directories and answers O_PATH opens
        // of foreign processes) is on, so does one that only names the file (O_PATH) or
        // wants a directory: the kernel refuses a directory open of a served file by
        // itself (ENOTDIR).
        let writes = (libc::O_ACCMODE | libc::O_CREAT | libc::O_TRUNC) as u32;
        let not_served = if traps.proc {
            writes
        } else {
            writes | (libc::O_PATH | libc::O_DIRECTORY) as u32
        };
        for (name, flags_arg) in [("open", 1), ("openat", 2)] {
            let Some(nr) = names::number(name) else {
                continue;
            };
            let body = Block::new()
                .load(arg_low(flags_arg))
                .jump(BPF_JSET, not_served, Label::At("pass"), Label::Next)
                .ret(SECCOMP_RET_USER_NOTIF)
                .mark("pass")
                .ret(allow);
            blocks.push(for_syscall(nr, body));
        }
        blocks.extend(notify_one("openat2"));
    }
    // TCP Fast Open connects from sendto/sendmsg/sendmmsg: refused, so every TCP
    // connection goes through connect (Landlock or the supervisor). With UDP open,
    // sends that may carry an address go to the supervisor: sendto with a non-NULL
    // address (an integer argument), and every sendmsg/sendmmsg (the address is in
    // memory the caller can rewrite).
    for (name, flags_arg, addr_arg) in [
        ("sendto", 3, Some(4)),
        ("sendmsg", 2, None),
        ("sendmmsg", 3, None),
    ] {
        let body = Block::new()
            .load(arg_low(flags_arg))
            .jump(
                BPF_JSET,
                libc::MSG_FASTOPEN as u32,
                Label::Next,
                Label::At("ok"),
            )
            .ret(eperm)
            .mark("ok");
        let body = match (traps.datagrams(), addr_arg) {
            (false, _) => body.ret(allow),
            (true, None) => body.ret(SECCOMP_RET_USER_NOTIF),
            (true, Some(a)) => body
                .load(arg_low(a))
                .jump(BPF_JEQ, 0, Label::Next, Label::At("addr"))
                .load(arg_high(a))
                .jump(BPF_JEQ, 0, Label::Next, Label::At("addr"))
                .ret(allow)
                .mark("addr")
                .ret(SECCOMP_RET_USER_NOTIF),
        };
        blocks.push(for_syscall(nr(name), body));
    }
    for (name, body) in [
        ("clone", clone),
        ("ioctl", ioctl),
        ("socket", socket),
        ("prctl", prctl),
        ("personality", personality),
    ] {
        blocks.push(for_syscall(nr(name), body));
    }
    bpf::assemble(&[arch_check(), bpf::dispatch(&blocks, allow)?])
}

#[cfg(test)]
mod tests {
    use super::bpf::*;
    use super::*;
    use crate::policy::syscalls::{numbers, DEFAULT_DENY, GROUPS};

    fn run(prog: &[SockFilter], arch: u32, nr: u32, args: [u64; 6]) -> u32 {
        interpret(prog, arch, nr, args).action
    }

    fn prog() -> Vec<SockFilter> {
        let deny: Vec<u32> = numbers(DEFAULT_DENY.iter().copied())
            .chain(numbers(GROUPS[0].syscalls.iter().copied()))
            .collect();
        program(&deny, Traps::default()).unwrap()
    }

    fn supervised() -> Vec<SockFilter> {
        let traps = Traps::ALL;
        program(
            &numbers(DEFAULT_DENY.iter().copied()).collect::<Vec<_>>(),
            traps,
        )
        .unwrap()
    }

    const NOTIFY: u32 = SECCOMP_RET_USER_NOTIF;

    /// The kernel runs the filter once per syscall number (args unknown) to build its
    /// action cache, and every trapped or filtered call runs it again: a number is
    /// decided, or reaches its argument tests, in a few steps, not one per listed call.
    #[test]
    fn every_number_is_decided_in_few_steps() {
        let all = numbers(GROUPS.iter().flat_map(|g| g.syscalls.iter().copied()))
            .chain(numbers(DEFAULT_DENY.iter().copied()))
            .collect::<Vec<_>>();
        for p in [prog(), supervised(), program(&all, Traps::ALL).unwrap()] {
            let worst = (0..1024)
                .map(|nr| interpret(&p, AUDIT_ARCH, nr, [0; 6]).steps_before_args)
                .max()
                .unwrap();
            assert!(
                worst <= 30,
                "{worst} steps for some number ({} instructions)",
                p.len()
            );
        }
    }

    #[test]
    fn traps_what_the_supervisor_handles() {
        let p = supervised();
        let sigchld = libc::SIGCHLD as u64;
        assert_eq!(call(&p, "clone", [sigchld, 0, 0, 0, 0, 0]), NOTIFY);
        let thread = (libc::CLONE_VM | libc::CLONE_THREAD | libc::CLONE_SIGHAND) as u64;
        assert_eq!(call(&p, "clone", [thread, 0, 0, 0, 0, 0]), ALLOW);
        let userns = libc::CLONE_NEWUSER as u64 | sigchld;
        assert_eq!(call(&p, "clone", [userns, 0, 0, 0, 0, 0]), EPERM);
        #[cfg(target_arch = "x86_64")]
        {
            assert_eq!(call(&p, "fork", [0; 6]), NOTIFY);
            assert_eq!(call(&p, "vfork", [0; 6]), NOTIFY);
        }
        let rw = (libc::PROT_READ | libc::PROT_WRITE) as u64;
        let anon = (libc::MAP_PRIVATE | libc::MAP_ANONYMOUS) as u64;
        assert_eq!(call(&p, MMAP, [0, 4096, rw, anon, u64::MAX, 0]), NOTIFY);
        let private = libc::MAP_PRIVATE as u64;
        assert_eq!(
            call(&p, MMAP, [0, 4096, rw, private, 3, 0]),
            NOTIFY,
            "private file"
        );
        let shared = libc::MAP_SHARED as u64;
        assert_eq!(
            call(&p, MMAP, [0, 4096, rw, shared, 3, 0]),
            ALLOW,
            "shared file"
        );
        let ro = libc::PROT_READ as u64;
        assert_eq!(
            call(&p, MMAP, [0, 4096, ro, private, 3, 0]),
            ALLOW,
            "read-only"
        );
        let none = libc::PROT_NONE as u64;
        assert_eq!(call(&p, MMAP, [0, 1 << 40, none, anon, u64::MAX, 0]), ALLOW);
        for name in ["brk", "mremap", "shmget", "connect", "bind"] {
            assert_eq!(call(&p, name, [0; 6]), NOTIFY, "{name}");
        }
        let fastopen = libc::MSG_FASTOPEN as u64;
        assert_eq!(call(&p, "sendto", [3, 0, 1, fastopen, 0, 0]), EPERM);
        assert_eq!(call(&p, "sendmsg", [3, 0, fastopen, 0, 0, 0]), EPERM);
        assert_eq!(call(&p, "sendmmsg", [3, 0, 1, fastopen, 0, 0]), EPERM);
        assert_eq!(call(&p, "sendto", [3, 0, 1, 0, 0, 0]), ALLOW, "no address");
        assert_eq!(call(&p, "sendto", [3, 0, 1, 0, 0x7000, 16]), NOTIFY);
        assert_eq!(call(&p, "sendto", [3, 0, 1, 0, 1 << 40, 16]), NOTIFY);
        assert_eq!(call(&p, "sendmsg", [3, 0x7000, 0, 0, 0, 0]), NOTIFY);
        let udp = |t: i32, proto: i32| {
            call(
                &p,
                "socket",
                [libc::AF_INET as u64, t as u64, proto as u64, 0, 0, 0],
            )
        };
        assert_eq!(udp(libc::SOCK_DGRAM, 0), ALLOW);
        assert_eq!(udp(libc::SOCK_DGRAM, libc::IPPROTO_UDP), ALLOW);
        assert_eq!(udp(libc::SOCK_DGRAM, libc::IPPROTO_ICMP), ALLOW);
        assert_eq!(udp(libc::SOCK_RAW, libc::IPPROTO_UDP), EPERM);
        for name in ["munmap", "read", "getpid"] {
            assert_eq!(call(&p, name, [0; 6]), ALLOW, "{name}");
        }
        // Opens: with the /proc view, reads, O_PATH and directories notify; writes never.
        let openat =
            |p: &[SockFilter], flags: i32| call(p, "openat", [3, 0x7000, flags as u64, 0, 0, 0]);
        for flags in [libc::O_RDONLY, libc::O_PATH, libc::O_DIRECTORY] {
            assert_eq!(openat(&p, flags), NOTIFY, "{flags:#x}");
        }
        for flags in [
            libc::O_WRONLY,
            libc::O_RDWR,
            libc::O_CREAT,
            libc::O_RDONLY | libc::O_TRUNC,
        ] {
            assert_eq!(openat(&p, flags), ALLOW, "{flags:#x}");
        }
        // learn: every path call notifies, writes too.
        let mut learning = Traps::ALL;
        learning.learn = true;
        let l = program(&[], learning).unwrap();
        for name in LEARN_CALLS {
            assert_eq!(call(&l, name, [3, 0x7000, 0, 0, 0, 0]), NOTIFY, "{name}");
        }
        assert_eq!(openat(&l, libc::O_WRONLY | libc::O_CREAT), NOTIFY);
        let mut no_view = Traps::ALL;
        no_view.proc = false;
        let q = program(&[], no_view).unwrap();
        assert_eq!(openat(&q, libc::O_RDONLY), NOTIFY);
        assert_eq!(openat(&q, libc::O_PATH), ALLOW);
        assert_eq!(openat(&q, libc::O_DIRECTORY), ALLOW);
        // Without traps nothing notifies.
        let plain = prog();
        assert_eq!(call(&plain, "clone", [sigchld, 0, 0, 0, 0, 0]), ALLOW);
        assert_eq!(call(&plain, "brk", [0; 6]), ALLOW);
        assert_eq!(call(&plain, "connect", [0; 6]), ALLOW);
        assert_eq!(call(&plain, "sendmsg", [3, 0x7000, 0, 0, 0, 0]), ALLOW);
        let dgram = [libc::AF_INET as u64, libc::SOCK_DGRAM as u64, 0, 0, 0, 0];
        assert_eq!(
            call(&plain, "socket", dgram),
            EPERM,
            "UDP closed without rules"
        );
    }

    fn call(prog: &[SockFilter], name: &str, args: [u64; 6]) -> u32 {
        run(prog, AUDIT_ARCH, names::number(name).unwrap(), args)
    }

    const EPERM: u32 = SECCOMP_RET_ERRNO | libc::EPERM as u32;
    const ALLOW: u32 = SECCOMP_RET_ALLOW;

    #[test]
    // The ioctl request constants are c_ulong on glibc and c_int on musl.
    #[allow(clippy::unnecessary_cast)]
    fn high_bits_of_32_bit_arguments_change_no_verdict() {
        // The kernel reads these arguments as 32 bits (int, unsigned int, clockid_t; clone
        // and mmap take the low half of their flags), so garbage above them must not
        // change the verdict: hazard 14.
        let garbage = [1u64 << 32, 0xdead_beef_0000_0000, 0xffff_ffff_0000_0000];
        let i = |v: i32| v as u32 as u64;
        let rw = i(libc::PROT_READ | libc::PROT_WRITE);
        let anon = i(libc::MAP_PRIVATE | libc::MAP_ANONYMOUS);
        let cases: Vec<(&str, [u64; 6], &[usize])> = vec![
            ("clock_gettime", [0, 0x7000, 0, 0, 0, 0], &[0]),
            ("clock_gettime", [5, 0x7000, 0, 0, 0, 0], &[0]),
            ("clock_gettime", [11, 0x7000, 0, 0, 0, 0], &[0]),
            ("clock_gettime", [1, 0x7000, 0, 0, 0, 0], &[0]),
            (
                "clock_nanosleep",
                [0, i(libc::TIMER_ABSTIME), 0x7000, 0, 0, 0],
                &[0, 1],
            ),
            ("clock_nanosleep", [0, 0, 0x7000, 0, 0, 0], &[0, 1]),
            (
                "clock_nanosleep",
                [1, i(libc::TIMER_ABSTIME), 0x7000, 0, 0, 0],
                &[0, 1],
            ),
            (
                "timer_settime",
                [0, i(libc::TIMER_ABSTIME), 0x7000, 0, 0, 0],
                &[1],
            ),
            (
                "timerfd_settime",
                [3, i(libc::TFD_TIMER_ABSTIME), 0x7000, 0, 0, 0],
                &[1],
            ),
            ("clone", [i(libc::SIGCHLD), 0, 0, 0, 0, 0], &[0]),
            (
                "clone",
                [i(libc::CLONE_NEWUSER | libc::SIGCHLD), 0, 0, 0, 0, 0],
                &[0],
            ),
            (
                "clone",
                [i(libc::CLONE_VM | libc::CLONE_THREAD), 0, 0, 0, 0, 0],
                &[0],
            ),
            ("ioctl", [0, libc::TIOCSTI as u64, 0, 0, 0, 0], &[1]),
            ("ioctl", [0, libc::TCGETS as u64, 0, 0, 0, 0], &[1]),
            (
                "socket",
                [i(libc::AF_INET), i(libc::SOCK_DGRAM), 0, 0, 0, 0],
                &[0, 1, 2],
            ),
            (
                "socket",
                [i(libc::AF_INET), i(libc::SOCK_RAW), 1, 0, 0, 0],
                &[0, 1, 2],
            ),
            (
                "socket",
                [i(libc::AF_PACKET), i(libc::SOCK_RAW), 0, 0, 0, 0],
                &[0, 1, 2],
            ),
            (
                "socket",
                [i(libc::AF_NETLINK), i(libc::SOCK_RAW), 9, 0, 0, 0],
                &[0, 1, 2],
            ),
            (
                "socket",
                [i(libc::AF_UNIX), i(libc::SOCK_STREAM), 0, 0, 0, 0],
                &[0, 1, 2],
            ),
            ("prctl", [i(libc::PR_SET_DUMPABLE), 0, 0, 0, 0, 0], &[0]),
            ("prctl", [i(libc::PR_SET_NAME), 0, 0, 0, 0, 0], &[0]),
            ("personality", [0x0040000, 0, 0, 0, 0, 0], &[0]),
            ("personality", [0xffff_ffff, 0, 0, 0, 0, 0], &[0]),
            ("sendto", [3, 0, 1, i(libc::MSG_FASTOPEN), 0, 0], &[3]),
            ("sendto", [3, 0, 1, 0, 0, 0], &[3]),
            ("sendmsg", [3, 0x7000, i(libc::MSG_FASTOPEN), 0, 0, 0], &[2]),
            (
                "sendmmsg",
                [3, 0x7000, 1, i(libc::MSG_FASTOPEN), 0, 0],
                &[3],
            ),
            (MMAP, [0, 4096, rw, anon, u64::MAX, 0], &[2, 3]),
            (
                MMAP,
                [0, 4096, i(libc::PROT_READ), anon, u64::MAX, 0],
                &[2, 3],
            ),
            ("openat", [3, 0x7000, i(libc::O_RDONLY), 0, 0, 0], &[2]),
            ("openat", [3, 0x7000, i(libc::O_WRONLY), 0, 0, 0], &[2]),
        ];
        let mut proc_off = Traps::ALL;
        proc_off.proc = false;
        for p in [supervised(), prog(), program(&[], proc_off).unwrap()] {
            for (name, args, ints) in &cases {
                let want = call(&p, name, *args);
                for &a in *ints {
                    for g in garbage {
                        let mut high = *args;
                        high[a] |= g;
                        assert_eq!(
                            call(&p, name, high),
                            want,
                            "{name} argument {a} with {g:#x}: {args:?}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn argument_filters_resolve() {
        for name in ["clone", "clone3", "ioctl", "socket", "prctl", "personality"] {
            assert!(names::number(name).is_some(), "{name}");
        }
    }

    #[test]
    fn denies_the_list_and_allows_the_rest() {
        let p = prog();
        assert!(p.len() < BPF_MAXINSNS);
        for name in DEFAULT_DENY {
            if names::number(name).is_some() {
                assert_eq!(call(&p, name, [0; 6]), EPERM, "{name}");
            }
        }
        assert_eq!(call(&p, "shmget", [0; 6]), EPERM);
        for name in [
            "read",
            "write",
            "openat",
            "execve",
            "close_range",
            "exit_group",
        ] {
            assert_eq!(call(&p, name, [0; 6]), ALLOW, "{name}");
        }
        assert_eq!(
            call(&p, "clone3", [0; 6]),
            SECCOMP_RET_ERRNO | libc::ENOSYS as u32
        );
    }

    #[test]
    fn kills_foreign_arch_and_x32() {
        let p = prog();
        assert_eq!(run(&p, 0x4000_0003, 39, [0; 6]), SECCOMP_RET_KILL_PROCESS);
        #[cfg(target_arch = "x86_64")]
        assert_eq!(
            run(&p, AUDIT_ARCH, 0x4000_0000 | 39, [0; 6]),
            SECCOMP_RET_KILL_PROCESS
        );
    }

    #[test]
    // The ioctl request constants are c_ulong on glibc and c_int on musl.
    #[allow(clippy::unnecessary_cast)]
    fn argument_filters() {
        let p = prog();
        let sigchld = libc::SIGCHLD as u64;
        assert_eq!(call(&p, "clone", [sigchld, 0, 0, 0, 0, 0]), ALLOW);
        let thread = (libc::CLONE_VM | libc::CLONE_THREAD | libc::CLONE_SIGHAND) as u64;
        assert_eq!(call(&p, "clone", [thread, 0, 0, 0, 0, 0]), ALLOW);
        for ns in [libc::CLONE_NEWUSER, libc::CLONE_NEWNS, libc::CLONE_NEWNET] {
            let flags = ns as u64 | sigchld;
            assert_eq!(call(&p, "clone", [flags, 0, 0, 0, 0, 0]), EPERM);
        }
        let ioctl = |cmd: u64| call(&p, "ioctl", [0, cmd, 0, 0, 0, 0]);
        assert_eq!(ioctl(libc::TIOCSTI as u64), EPERM);
        assert_eq!(ioctl(libc::TIOCLINUX as u64), EPERM);
        assert_eq!(ioctl(0xdead_0000_0000 | libc::TIOCSTI as u64), EPERM);
        assert_eq!(ioctl(libc::TCGETS as u64), ALLOW);

        let socket = |d: i32, t: i32, proto: i32| {
            call(&p, "socket", [d as u64, t as u64, proto as u64, 0, 0, 0])
        };
        let eafno = SECCOMP_RET_ERRNO | libc::EAFNOSUPPORT as u32;
        assert_eq!(socket(libc::AF_UNIX, libc::SOCK_DGRAM, 0), ALLOW);
        assert_eq!(socket(libc::AF_INET, libc::SOCK_STREAM, 0), ALLOW);
        let cloexec_stream = libc::SOCK_STREAM | libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK;
        assert_eq!(
            socket(libc::AF_INET6, cloexec_stream, libc::IPPROTO_TCP),
            ALLOW
        );
        assert_eq!(socket(libc::AF_INET, libc::SOCK_DGRAM, 0), EPERM);
        assert_eq!(
            socket(libc::AF_INET, libc::SOCK_RAW, libc::IPPROTO_ICMP),
            EPERM
        );
        assert_eq!(
            socket(libc::AF_INET, libc::SOCK_STREAM, libc::IPPROTO_SCTP),
            EPERM
        );
        assert_eq!(socket(libc::AF_NETLINK, libc::SOCK_RAW, 0), ALLOW);
        assert_eq!(socket(libc::AF_NETLINK, libc::SOCK_RAW, 9), eafno);
        assert_eq!(socket(libc::AF_PACKET, libc::SOCK_RAW, 0), eafno);
        assert_eq!(socket(libc::AF_VSOCK, libc::SOCK_STREAM, 0), eafno);

        let prctl = |op: i32| call(&p, "prctl", [op as u64, 0, 0, 0, 0, 0]);
        assert_eq!(prctl(libc::PR_SET_DUMPABLE), EPERM);
        assert_eq!(prctl(libc::PR_SET_SECUREBITS), EPERM);
        assert_eq!(prctl(PR_SET_PTRACER as i32), EPERM);
        assert_eq!(prctl(libc::PR_SET_NAME), ALLOW);

        assert_eq!(call(&p, "personality", [0xffff_ffff, 0, 0, 0, 0, 0]), ALLOW);
        assert_eq!(call(&p, "personality", [0x0040000, 0, 0, 0, 0, 0]), EPERM);
    }
}
