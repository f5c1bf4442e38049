//! The seccomp deny filter: which syscalls are refused, and the BPF program for it.
//!
//! Layout of the generated program (every jump stays inside its block):
//!
//! ```text
//! arch:    A = arch; A != AUDIT_ARCH_<target> -> KILL_PROCESS
//!          A = nr; (x86_64) nr has __X32_SYSCALL_BIT -> KILL_PROCESS
//! deny:    one `nr == N -> ERRNO(EPERM)` pair per denied syscall (clone3: ENOSYS)
//! args:    clone (CLONE_NEW* -> EPERM), ioctl (TIOCSTI/TIOCLINUX -> EPERM),
//!          socket (family/type/protocol), prctl (DUMPABLE/SECUREBITS/PTRACER -> EPERM),
//!          personality (anything but the query -> EPERM)
//! default: ALLOW
//! ```

pub mod bpf;
pub mod names;

use bpf::{arg_low, AsmError, Block, BPF_JEQ, BPF_JSET, OFFSET_ARCH, OFFSET_NR};
use bpf::{Label, SECCOMP_RET_ALLOW, SECCOMP_RET_ERRNO, SECCOMP_RET_KILL_PROCESS};

use crate::sys::SockFilter;

/// Syscalls refused with EPERM by default: they change the system, escape the sandbox
/// or reach kernel surface a confined command has no business with.
pub const DEFAULT_DENY: &[&str] = &[
    "mount",
    "umount2",
    "pivot_root",
    "chroot",
    "swapon",
    "swapoff",
    "reboot",
    "sethostname",
    "setdomainname",
    "kexec_load",
    "kexec_file_load",
    "init_module",
    "finit_module",
    "delete_module",
    "unshare",
    "setns",
    "perf_event_open",
    "bpf",
    "userfaultfd",
    "keyctl",
    "add_key",
    "request_key",
    "ptrace",
    "process_vm_readv",
    "process_vm_writev",
    "open_by_handle_at",
    "name_to_handle_at",
    "ioperm",
    "iopl",
    "quotactl",
    "quotactl_fd",
    "acct",
    "io_uring_setup",
    "io_uring_enter",
    "io_uring_register",
    "fsopen",
    "fsmount",
    "fsconfig",
    "move_mount",
    "open_tree",
    "mount_setattr",
    "lookup_dcookie",
    "vhangup",
    "syslog",
    "settimeofday",
    "clock_settime",
    "clock_adjtime",
    "adjtimex",
];

/// Named groups of syscalls for `--extra-deny-syscall` and `--extra-allow-syscall`.
/// Each group is denied by default unless its entry says otherwise.
pub const GROUPS: &[Group] = &[Group {
    name: "sysv_ipc",
    syscalls: &[
        "shmget",
        "shmat",
        "shmdt",
        "shmctl",
        "msgget",
        "msgsnd",
        "msgrcv",
        "msgctl",
        "semget",
        "semop",
        "semctl",
        "semtimedop",
        "ipc",
    ],
}];

/// A named set of syscalls (names missing on the build target are skipped).
#[derive(Debug)]
pub struct Group {
    pub name: &'static str,
    pub syscalls: &'static [&'static str],
}

/// The group called `name`.
pub fn group(name: &str) -> Option<&'static Group> {
    GROUPS.iter().find(|g| g.name == name)
}

/// Every group name, comma-separated, for messages.
pub fn group_names() -> String {
    GROUPS.iter().map(|g| g.name).collect::<Vec<_>>().join(", ")
}

/// Numbers of `names` that exist on the build target.
pub fn numbers<'a>(names: impl IntoIterator<Item = &'a str>) -> impl Iterator<Item = u32> {
    names.into_iter().filter_map(names::number)
}

#[cfg(target_arch = "x86_64")]
const AUDIT_ARCH: u32 = 0xC000_003E;
#[cfg(target_arch = "aarch64")]
const AUDIT_ARCH: u32 = 0xC000_00B7;
#[cfg(target_arch = "riscv64")]
const AUDIT_ARCH: u32 = 0xC000_00F3;
#[cfg(target_arch = "arm")]
const AUDIT_ARCH: u32 = 0x4000_0028;

#[cfg(target_arch = "x86_64")]
const X32_SYSCALL_BIT: u32 = 0x4000_0000;

const CLONE_NEW_ANY: u32 = (libc::CLONE_NEWNS
    | libc::CLONE_NEWCGROUP
    | libc::CLONE_NEWUTS
    | libc::CLONE_NEWIPC
    | libc::CLONE_NEWUSER
    | libc::CLONE_NEWPID
    | libc::CLONE_NEWNET) as u32;

const PR_SET_PTRACER: u32 = 0x5961_6d61;
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

/// `nr == N -> return action`; falls through with A = nr otherwise.
fn deny_one(nr: u32, action: u32) -> Block {
    Block::new()
        .jump(BPF_JEQ, nr, Label::Next, Label::At("miss"))
        .ret(action)
        .mark("miss")
}

/// Runs `body` only when A == `nr`; `body` must end every path in a return.
fn for_syscall(nr: u32, body: Block) -> Block {
    Block::new()
        .jump(BPF_JEQ, nr, Label::Next, Label::At("skip"))
        .append(body)
        .mark("skip")
}

/// Builds the filter refusing every syscall in `deny` (numbers of the build target) plus
/// the fixed argument filters.
pub fn program(deny: &[u32]) -> Result<Vec<SockFilter>, AsmError> {
    let eperm = errno(libc::EPERM);
    let allow = SECCOMP_RET_ALLOW;
    let mut blocks = vec![arch_check()];
    blocks.push(deny_one(nr("clone3"), errno(libc::ENOSYS)));
    for &n in deny {
        blocks.push(deny_one(n, eperm));
    }
    let clone = Block::new()
        .load(arg_low(0))
        .jump(BPF_JSET, CLONE_NEW_ANY, Label::Next, Label::At("allow"))
        .ret(eperm)
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
        .ret(eperm)
        .mark("stream")
        .load(arg_low(2))
        .if_eq(0, "allow")
        .if_eq(libc::IPPROTO_TCP as u32, "allow")
        .ret(eperm)
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
    for (name, body) in [
        ("clone", clone),
        ("ioctl", ioctl),
        ("socket", socket),
        ("prctl", prctl),
        ("personality", personality),
    ] {
        // A still holds the number when the body is skipped: bodies always return.
        blocks.push(for_syscall(nr(name), body));
    }
    blocks.push(Block::new().ret(allow));
    bpf::assemble(&blocks)
}
