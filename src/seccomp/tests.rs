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
