//! `--port-remap`: each sandbox has its own port space. A bind to a port taken outside
//! gets another real port; getsockname, getpeername, loopback connects and
//! /proc/net/tcp all use the port the command asked for.

mod util;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::process::{Child, Stdio};

use util::{probe, probe_dir, run, Mode};

/// Starts `probe tcp_remap PORT TOKEN` in a sandbox (with `remap` or without) and
/// waits for its "bound" line (or its final line, when the bind failed).
fn start(
    mode: Mode,
    remap: bool,
    port: &str,
    token: &str,
) -> (Child, BufReader<std::process::ChildStdout>, String) {
    let rule = format!("127.0.0.1:{port}");
    let mut args = vec!["run"];
    if remap {
        args.push("--port-remap");
    }
    args.extend_from_slice(&[
        "--net-allow",
        &rule,
        "--net-allow-bind",
        port,
        "-r",
        "/proc",
        "-r",
        probe_dir(),
        "--",
        probe(),
        "tcp_remap",
        port,
        token,
    ]);
    let mut cmd = mode.sandlet(&args);
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut child = cmd.spawn().expect("start sandlet");
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    out.read_line(&mut first).unwrap();
    (child, out, first.trim_end().to_owned())
}

/// Lets a started probe go on; its result line.
fn finish(mut child: Child, mut out: BufReader<std::process::ChildStdout>) -> String {
    child.stdin.take().unwrap().write_all(b"g").unwrap();
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    assert!(child.wait().unwrap().success());
    line.trim_end().to_owned()
}

#[test]
fn two_sandboxes_bind_a_taken_port_at_once() {
    // The port is taken outside every sandbox for the whole test.
    let outside = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = outside.local_addr().unwrap().port().to_string();
    for mode in Mode::ALL {
        // Control: without --port-remap the bind fails, the port is taken.
        let (child, out, first) = start(mode, false, &port, "c");
        assert_eq!(first, "err EADDRINUSE", "{mode:?}");
        drop(out);
        let _ = { child }.wait();

        // The taken port, and 8080 (free or not: the first sandbox may get the real
        // one, the second cannot).
        for port in [port.as_str(), "8080"] {
            let (a, a_out, a_first) = start(mode, true, port, "alpha");
            let (b, b_out, b_first) = start(mode, true, port, "beta");
            let firsts = (a_first.as_str(), b_first.as_str());
            assert_eq!(firsts, ("bound", "bound"), "{mode:?}");
            // Both hold the port now; each client reaches its own server, and every
            // name the command sees is the port it asked for. /proc/net/tcp lists only
            // the sandbox's three sockets (listener, client, accepted), not the
            // outside listener nor the other sandbox's.
            let want_a = format!("ok {port} {port} alpha 3");
            let want_b = format!("ok {port} {port} beta 3");
            assert_eq!(finish(a, a_out), want_a, "{mode:?}");
            assert_eq!(finish(b, b_out), want_b, "{mode:?}");
        }
    }
    // Control for the /proc/net/tcp count: outside a sandbox the host's sockets show.
    let host_lines = std::fs::read_to_string("/proc/net/tcp")
        .unwrap()
        .lines()
        .count()
        - 1;
    assert!(
        host_lines >= 1,
        "the outside listener is in the host's table"
    );
    drop(outside);
}

#[test]
fn port_remap_needs_the_supervisor() {
    let out =
        run(Mode::Root.sandlet(&["run", "--no-supervisor", "--port-remap", "--", "/bin/true"]));
    util::assert_one_error_line(&out, 2);
}
