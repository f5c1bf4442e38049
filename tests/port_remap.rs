//! `--port-remap`: each sandbox has its own port space. A bind to a port taken outside
//! gets another real port; getsockname, getpeername, loopback connects and
//! /proc/net/tcp all use the port the command asked for.

mod util;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use util::{probe, probe_dir, run, Mode, WATCHDOG};

/// A started probe: its stdin (to let it go on) and its stdout lines, read by a thread
/// so that every wait has the suite's watchdog.
struct Started {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Started {
    fn line(&mut self) -> String {
        match self.lines.recv_timeout(WATCHDOG) {
            Ok(l) => l,
            Err(e) => {
                let _ = self.child.kill();
                panic!("no line from the probe within {WATCHDOG:?} ({e:?})");
            }
        }
    }
}

impl Drop for Started {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `probe tcp_remap PORT TOKEN` in a sandbox (with `remap` or without) and
/// waits for its "bound" line (or its final line, when the bind failed).
fn start(mode: Mode, remap: bool, port: &str, token: &str) -> (Started, String) {
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
    let out = BufReader::new(child.stdout.take().unwrap());
    let (tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in out.lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut started = Started { child, lines };
    let first = started.line();
    (started, first)
}

/// Lets a started probe go on; its result line, once it has exited with 0.
fn finish(mut s: Started) -> String {
    s.child.stdin.take().unwrap().write_all(b"g").unwrap();
    let line = s.line();
    let deadline = Instant::now() + WATCHDOG;
    loop {
        match s.child.try_wait().unwrap() {
            Some(st) => {
                assert!(st.success(), "the probe exited with {st}");
                break;
            }
            None if Instant::now() > deadline => panic!("the probe did not exit"),
            None => std::thread::sleep(Duration::from_millis(10)),
        }
    }
    line
}

/// Whether the host's /proc/net/tcp lists a socket bound to local `port`.
fn host_lists(port: u16) -> bool {
    let table = std::fs::read_to_string("/proc/net/tcp").unwrap();
    let want = format!(":{port:04X}");
    table
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().nth(1))
        .any(|local| local.ends_with(&want))
}

#[test]
fn two_sandboxes_bind_a_taken_port_at_once() {
    // The port is taken outside every sandbox for the whole test.
    let outside = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = outside.local_addr().unwrap().port().to_string();
    for mode in Mode::ALL {
        // Control: without --port-remap the bind fails, the port is taken.
        let (control, first) = start(mode, false, &port, "c");
        assert_eq!(first, "err EADDRINUSE", "{mode:?}");
        drop(control);

        // The taken port, and 8080 (free or not: the first sandbox may get the real
        // one, the second cannot).
        for port in [port.as_str(), "8080"] {
            let (a, a_first) = start(mode, true, port, "alpha");
            let (b, b_first) = start(mode, true, port, "beta");
            let firsts = (a_first.as_str(), b_first.as_str());
            assert_eq!(firsts, ("bound", "bound"), "{mode:?}");
            // Both hold the port now; each client reaches its own server, and every
            // name the command sees is the port it asked for. /proc/net/tcp lists only
            // the sandbox's three sockets (listener, client, accepted), not the
            // outside listener nor the other sandbox's.
            let want_a = format!("ok {port} {port} alpha 3");
            let want_b = format!("ok {port} {port} beta 3");
            assert_eq!(finish(a), want_a, "{mode:?}");
            assert_eq!(finish(b), want_b, "{mode:?}");
        }
    }
    // Control for the /proc/net/tcp count: outside a sandbox the outside listener
    // shows in the host's table.
    let port: u16 = port.parse().unwrap();
    assert!(
        host_lists(port),
        "the outside listener is not in the host's table"
    );
    drop(outside);
}

#[test]
fn port_remap_needs_the_supervisor() {
    let out =
        run(Mode::Root.sandlet(&["run", "--no-supervisor", "--port-remap", "--", "/bin/true"]));
    util::assert_one_error_line(&out, 2);
}
