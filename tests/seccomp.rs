//! The seccomp filter: deny list, clone3, namespace clones, ioctl, socket, prctl,
//! personality, x32, and the --extra-deny-syscall / --extra-allow-syscall flags.
//!
//! As root the sandboxed runs use --keep-caps: with the capabilities dropped, many of
//! these calls would fail with EPERM without any filter, and the tests could not fail.

mod util;

use util::{bare, sandboxed, sandboxed_output, Mode};

/// Probes whose bare result is EPERM for uid 65534 (tests/probes/BARE_RESULTS.md): the
/// kernel checks a capability first. For these only the sandboxed EPERM is asserted.
const NOBODY_BARE_EPERM: &[&str] = &[
    "sys pivot_root",
    "sys swapoff",
    "sys reboot",
    "sys sethostname",
    "sys setdomainname",
    "sys acct",
    "clone_ns newns",
    "clone_ns newpid",
    "clone_ns newnet",
    "clone_ns newuts",
    "clone_ns newipc",
    "clone_ns newcgroup",
    "prctl_set_securebits",
    "socket inet raw icmp",
    "socket inet6 raw icmpv6",
];

/// Flags that keep the capability check out of the way as root.
fn caps(mode: Mode) -> &'static [&'static str] {
    match mode {
        Mode::Root => &["--keep-caps"],
        Mode::Nobody => &[],
    }
}

/// The names of the `sys NAME` probes, read from probe.c's table.
fn sys_names() -> Vec<String> {
    let src = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/probes/probe.c"))
        .expect("read probe.c");
    let start = src
        .find("sysprobes[] = {")
        .expect("probe.c has the sysprobes table");
    let table = &src[start..start + src[start..].find("};").expect("end of table")];
    let names: Vec<String> = table
        .split("SP(")
        .skip(1)
        .map(|s| s[..s.find(')').expect("SP(name)")].to_owned())
        .collect();
    assert!(names.len() >= 40, "too few sys probes parsed: {names:?}");
    names
}

/// Asserts the probe gets `want` in the sandbox, and (unless the bare result is EPERM
/// for uid 65534 by design) something else without sandlet.
fn denied(mode: Mode, action: &str, want: &str) {
    let args: Vec<&str> = action.split(' ').collect();
    let inside = sandboxed(mode, caps(mode), &args);
    assert_eq!(
        inside,
        format!("err {want}"),
        "{mode:?}: `probe {action}` under sandlet"
    );
    let outside = bare(mode, &args);
    if mode == Mode::Nobody && NOBODY_BARE_EPERM.contains(&action) {
        return;
    }
    assert_ne!(
        outside, inside,
        "{mode:?}: `probe {action}` gives the same result without sandlet, so the test \
         proves nothing"
    );
}

fn deny_list(mode: Mode) {
    for name in sys_names() {
        let want = if name == "clone3" { "ENOSYS" } else { "EPERM" };
        denied(mode, &format!("sys {name}"), want);
    }
}

#[test]
fn deny_list_root() {
    deny_list(Mode::Root);
}

#[test]
fn deny_list_nobody() {
    deny_list(Mode::Nobody);
}

#[test]
fn clone3_is_enosys() {
    for mode in Mode::ALL {
        denied(mode, "sys clone3", "ENOSYS");
    }
}

#[test]
fn namespace_clones_denied() {
    for mode in Mode::ALL {
        for ns in [
            "newuser",
            "newns",
            "newpid",
            "newnet",
            "newuts",
            "newipc",
            "newcgroup",
        ] {
            denied(mode, &format!("clone_ns {ns}"), "EPERM");
        }
    }
}

#[test]
fn fork_and_threads_still_work() {
    for mode in Mode::ALL {
        for action in ["fork", "thread"] {
            assert_eq!(
                sandboxed(mode, caps(mode), &[action]),
                "ok",
                "{mode:?} {action}"
            );
            assert_eq!(sandboxed(mode, &[], &[action]), "ok", "{mode:?} {action}");
        }
    }
}

#[test]
fn terminal_injection_ioctls_denied() {
    for mode in Mode::ALL {
        for action in ["ioctl_tiocsti", "ioctl_tioclinux"] {
            assert_eq!(
                bare(mode, &[action]),
                "err ENOTTY",
                "{mode:?} bare {action}"
            );
            denied(mode, action, "EPERM");
        }
    }
}

#[test]
fn inet_sockets_other_than_tcp_denied() {
    for mode in Mode::ALL {
        for action in [
            "socket inet raw icmp",
            "socket inet6 raw icmpv6",
            "socket inet dgram udp",
            "socket inet dgram 0",
            "socket inet6 dgram 0",
            "socket inet stream sctp",
            "socket inet stream mptcp",
        ] {
            denied(mode, action, "EPERM");
        }
    }
}

#[test]
fn other_socket_families_unsupported() {
    for mode in Mode::ALL {
        for action in [
            "socket packet raw 0",
            "socket vsock stream 0",
            "socket xdp raw 0",
            "socket netlink raw audit",
            "socket netlink raw uevent",
            "socket netlink raw generic",
            "socket netlink raw xfrm",
            "socket netlink raw sock_diag",
        ] {
            denied(mode, action, "EAFNOSUPPORT");
        }
        // Families this kernel may not have built in: checked where it has them.
        for action in [
            "socket alg seqpacket 0",
            "socket bluetooth raw 0",
            "socket key raw pfkey",
            "socket can raw 0",
        ] {
            let args: Vec<&str> = action.split(' ').collect();
            if bare(mode, &args) == "err EAFNOSUPPORT" {
                util::skip(&format!(
                    "{mode:?}: `{action}` is not supported by this kernel"
                ));
                continue;
            }
            denied(mode, action, "EAFNOSUPPORT");
        }
    }
}

#[test]
fn allowed_sockets_still_work() {
    for mode in Mode::ALL {
        for action in [
            "socket inet stream tcp",
            "socket inet stream 0",
            "socket inet6 stream tcp",
            "socket inet stream+nonblock+cloexec 0",
            "socket unix stream 0",
            "socket unix dgram 0",
            "socket unix seqpacket 0",
            "socket netlink raw route",
            "socket netlink dgram route",
        ] {
            let args: Vec<&str> = action.split(' ').collect();
            assert_eq!(bare(mode, &args), "ok", "{mode:?} bare {action}");
            assert_eq!(
                sandboxed(mode, caps(mode), &args),
                "ok",
                "{mode:?} {action}"
            );
        }
    }
}

#[test]
fn prctl_privilege_options_denied() {
    for mode in Mode::ALL {
        for action in [
            "prctl_set_dumpable",
            "prctl_set_securebits",
            "prctl_set_ptracer",
        ] {
            denied(mode, action, "EPERM");
        }
    }
}

#[test]
fn personality_set_denied_query_allowed() {
    for mode in Mode::ALL {
        assert_eq!(bare(mode, &["sys", "personality"]), "ok");
        denied(mode, "sys personality", "EPERM");
        assert_eq!(bare(mode, &["personality_query"]), "ok");
        assert_eq!(sandboxed(mode, caps(mode), &["personality_query"]), "ok");
    }
}

#[test]
fn x32_syscall_kills_with_sigsys() {
    for mode in Mode::ALL {
        assert_eq!(bare(mode, &["x32"]), "err ENOSYS", "{mode:?} bare x32");
        let out = sandboxed_output(mode, caps(mode), &["x32"]);
        out.expect_code(128 + libc::SIGSYS);
        assert_eq!(out.out(), "", "{mode:?}: the probe must not get to print");
    }
}

#[test]
fn i386_syscall_kills_with_sigsys() {
    for mode in Mode::ALL {
        // Control: the 32-bit entry point works without sandlet (IA32 emulation on).
        assert_eq!(bare(mode, &["i386"]), "ok", "{mode:?} bare i386");
        let out = sandboxed_output(mode, caps(mode), &["i386"]);
        out.expect_code(128 + libc::SIGSYS);
        assert_eq!(out.out(), "", "{mode:?}: the probe must not get to print");
    }
}

#[test]
fn extra_deny_syscall() {
    for mode in Mode::ALL {
        let free = sandboxed(mode, caps(mode), &["getppid"]);
        assert!(
            free.starts_with("ok "),
            "{mode:?}: getppid without the flag: {free}"
        );
        let mut flags = caps(mode).to_vec();
        flags.extend(["--extra-deny-syscall", "getppid"]);
        assert_eq!(
            sandboxed(mode, &flags, &["getppid"]),
            "err EPERM",
            "{mode:?}"
        );
        // Other calls are unaffected.
        assert_eq!(sandboxed(mode, &flags, &["fork"]), "ok", "{mode:?}");
    }
}

#[test]
fn extra_deny_syscall_group() {
    for mode in Mode::ALL {
        let mut flags = caps(mode).to_vec();
        flags.extend([
            "--extra-allow-syscall",
            "sysv_ipc",
            "--extra-deny-syscall",
            "sysv_ipc",
        ]);
        // An explicit deny wins over the allow.
        assert_eq!(sandboxed(mode, &flags, &["sys", "shmget"]), "err EPERM");
    }
}

#[test]
fn extra_allow_sysv_ipc() {
    for mode in Mode::ALL {
        let mut flags = caps(mode).to_vec();
        flags.extend(["--extra-allow-syscall", "sysv_ipc"]);
        for name in ["shmget", "msgget", "semget", "shmctl", "semop"] {
            let denied = sandboxed(mode, caps(mode), &["sys", name]);
            assert_eq!(denied, "err EPERM", "{mode:?} {name} by default");
            let allowed = sandboxed(mode, &flags, &["sys", name]);
            assert_eq!(
                allowed,
                bare(mode, &["sys", name]),
                "{mode:?} {name} allowed"
            );
            assert_ne!(allowed, "err EPERM", "{mode:?} {name} allowed");
        }
        // The rest of the deny list stays.
        assert_eq!(sandboxed(mode, &flags, &["sys", "mount"]), "err EPERM");
    }
}
