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
        // Connects and binds too, unless the network rules trap them already.
        if !traps.connect {
            blocks.extend(notify_one("connect"));
        }
        if !traps.bind {
            blocks.extend(notify_one("bind"));
        }
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
mod tests;
