//! Landlock network rules (TCP connect, TCP bind) and scopes (signals, abstract unix
//! sockets). Loopback only; every port comes from binding port 0 in the test.

mod util;

use std::net::{Ipv4Addr, Ipv6Addr, TcpListener};
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::UnixListener;
use std::sync::atomic::{AtomicUsize, Ordering};

use util::{bare, sandboxed, Mode, Target};

/// Two distinct ports that were free a moment ago (bound to port 0 together, then
/// released).
fn free_ports(ip: &str) -> (String, String) {
    let a = TcpListener::bind((ip, 0)).expect("bind port 0");
    let b = TcpListener::bind((ip, 0)).expect("bind port 0");
    let port = |l: &TcpListener| l.local_addr().unwrap().port().to_string();
    (port(&a), port(&b))
}

#[test]
fn tcp_connect_denied() {
    let v4 = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("listen on 127.0.0.1");
    let v6 = TcpListener::bind((Ipv6Addr::LOCALHOST, 0)).ok();
    let mut targets = vec![("127.0.0.1", v4.local_addr().unwrap())];
    match &v6 {
        Some(l) => targets.push(("::1", l.local_addr().unwrap())),
        None => util::skip("no IPv6 loopback, ::1 not tested"),
    }
    for mode in Mode::ALL {
        for (ip, addr) in &targets {
            let port = addr.port().to_string();
            let args = ["tcp_connect", ip, port.as_str()];
            assert_eq!(bare(mode, &args), "ok", "{mode:?} control {addr}");
            assert_eq!(sandboxed(mode, &[], &args), "err EACCES", "{mode:?} {addr}");
            // --net-allow-bind does not open connect.
            assert_eq!(
                sandboxed(mode, &["--net-allow-bind", "*"], &args),
                "err EACCES",
                "{mode:?} {addr}"
            );
        }
    }
}

#[test]
fn tcp_bind_only_on_allowed_ports() {
    for mode in Mode::ALL {
        for ip in ["127.0.0.1", "::1"] {
            if TcpListener::bind((ip, 0)).is_err() {
                util::skip(&format!("cannot bind {ip}"));
                continue;
            }
            let (p, q) = free_ports(ip);
            assert_eq!(bare(mode, &["tcp_bind", ip, &q]), "ok", "{mode:?} control");
            assert_eq!(
                sandboxed(mode, &[], &["tcp_bind", ip, &p]),
                "err EACCES",
                "{mode:?} {ip}: bind with no --net-allow-bind"
            );
            let allow = ["--net-allow-bind", p.as_str()];
            assert_allowed(
                &sandboxed(mode, &allow, &["tcp_bind", ip, &p]),
                &format!("{mode:?} {ip}: allowed port {p}"),
            );
            assert_eq!(
                sandboxed(mode, &allow, &["tcp_bind", ip, &q]),
                "err EACCES",
                "{mode:?} {ip}: port {q} not in --net-allow-bind {p}"
            );
            // Lists and ranges.
            let list = format!("{p},{q}");
            assert_allowed(
                &sandboxed(mode, &["--net-allow-bind", &list], &["tcp_bind", ip, &q]),
                &format!("{mode:?} {ip}: list {list}"),
            );
            let range = format!("{q}-{q}");
            assert_allowed(
                &sandboxed(mode, &["--net-allow-bind", &range], &["tcp_bind", ip, &q]),
                &format!("{mode:?} {ip}: range {range}"),
            );
        }
    }
}

/// An allowed bind: it succeeded, or got past Landlock (which answers before the port
/// is looked at) and found the free port taken meanwhile by another test's socket.
fn assert_allowed(got: &str, what: &str) {
    assert!(got == "ok" || got == "err EADDRINUSE", "{what}: {got}");
}

#[test]
fn tcp_bind_any_port_with_star() {
    for mode in Mode::ALL {
        let (p, q) = free_ports("127.0.0.1");
        assert_eq!(
            sandboxed(mode, &[], &["tcp_bind", "127.0.0.1", &p]),
            "err EACCES",
            "{mode:?}"
        );
        assert_eq!(
            sandboxed(
                mode,
                &["--net-allow-bind", "*"],
                &["tcp_bind", "127.0.0.1", &p]
            ),
            "ok",
            "{mode:?}"
        );
        assert_eq!(
            sandboxed(
                mode,
                &["--net-allow-bind=*"],
                &["tcp_bind", "127.0.0.1", &q]
            ),
            "ok",
            "{mode:?}"
        );
    }
}

#[test]
fn signal_outside_sandbox_denied() {
    for mode in Mode::ALL {
        let target = Target::start(mode);
        let pid = target.pid();
        assert_eq!(bare(mode, &["kill", &pid, "0"]), "ok", "{mode:?} control");
        assert_eq!(
            sandboxed(mode, &[], &["kill", &pid, "0"]),
            "err EPERM",
            "{mode:?}: kill({pid}, 0) from the sandbox"
        );
        assert_eq!(
            sandboxed(mode, &[], &["kill", &pid, &libc::SIGTERM.to_string()]),
            "err EPERM",
            "{mode:?}: kill({pid}, SIGTERM) from the sandbox"
        );
        // Signals inside the sandbox (its own process group) still work.
        assert_eq!(sandboxed(mode, &[], &["kill", "0", "0"]), "ok", "{mode:?}");
        // The target survived.
        assert!(util::alive_with(target.pid().parse().unwrap(), "sleep"));
    }
}

#[test]
fn abstract_unix_socket_outside_denied() {
    static N: AtomicUsize = AtomicUsize::new(0);
    for mode in Mode::ALL {
        let name = format!(
            "sandlet-test-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        );
        let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes())
            .expect("abstract address");
        let _listener = UnixListener::bind_addr(&addr).expect("listen on abstract socket");
        assert_eq!(
            bare(mode, &["abstract_connect", &name]),
            "ok",
            "{mode:?} control"
        );
        assert_eq!(
            sandboxed(mode, &[], &["abstract_connect", &name]),
            "err EPERM",
            "{mode:?}: connect to @{name} from the sandbox"
        );
    }
}

#[test]
fn signal_to_sandlet_itself_denied() {
    for mode in Mode::ALL {
        let run_sh = |script: &str| -> String {
            let mut argv: Vec<String> = vec!["run".into()];
            argv.extend(util::system_flags());
            argv.extend(["-r".into(), util::probe_dir().into()]);
            argv.extend(["--".into(), "sh".into(), "-c".into(), script.into()]);
            util::run(mode.sandlet(&argv)).probe_line()
        };
        let p = util::probe();
        // Control: inside the sandbox a process may signal its parent (the outer sh).
        assert_eq!(
            run_sh(&format!("sh -c 'exec {p} kill $PPID 0'; :")),
            "ok",
            "{mode:?}"
        );
        // The command's parent is sandlet, outside the sandbox.
        assert_eq!(
            run_sh(&format!("exec {p} kill $PPID 0")),
            "err EPERM",
            "{mode:?}"
        );
    }
}
