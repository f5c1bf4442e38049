//! Dynamic policy from the command line: `--policy-exec PROGRAM` decides each network
//! event the static rules allow; a program that dies, hangs or answers garbage means
//! deny.

mod util;

use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

use util::{run, sandboxed_output, Mode, TempDir};

fn listen() -> (TcpListener, String) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port().to_string();
    (l, port)
}

/// An executable shell script `body` in `dir`.
fn script(dir: &TempDir, name: &str, body: &str) -> String {
    let path = dir.file(name, &format!("#!/bin/sh\n{body}\n"));
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

/// `sh -c "probe A; probe B; ..."` in the sandbox with `flags`: stdout lines, stderr.
fn probes(mode: Mode, flags: &[&str], calls: &[&[&str]]) -> (Vec<String>, String) {
    let probe = util::probe();
    let line = calls
        .iter()
        .map(|c| format!("{probe} {}", c.join(" ")))
        .collect::<Vec<_>>()
        .join("; ");
    let mut args = vec!["run"];
    args.extend_from_slice(flags);
    let system = util::system_flags();
    args.extend(system.iter().map(String::as_str));
    args.extend_from_slice(&["-r", util::probe_dir(), "--", "/bin/sh", "-c", &line]);
    let out = run(mode.sandlet(&args));
    (out.out().lines().map(str::to_owned).collect(), out.err())
}

#[test]
fn verdicts_from_a_policy_program() {
    let (_a, a) = listen();
    let (_b, b) = listen();
    let (_c, c) = listen();
    let (_d, d) = listen();
    for mode in Mode::ALL {
        let dir = TempDir::new("policy");
        let log = dir.join("events");
        let body = format!(
            "while read -r line; do\n  case \"$line\" in *process*) echo allow; continue;; esac\n  \
             echo \"$line\" >> {log}\n  case \"$line\" in\n    \
             *'\"syscall\":\"bind\"'*) echo 'deny EADDRINUSE';;\n    *':{a}}}') echo allow;;\n    \
             *':{b}}}') echo 'deny EACCES';;\n    *':{c}}}') echo audit;;\n    *) echo deny;;\n  \
             esac\ndone"
        );
        let program = script(&dir, "policy.sh", &body);
        let flags = [
            "--net-allow",
            "tcp://127.0.0.1",
            "--net-allow-bind",
            "*",
            "--policy-exec",
            &program,
        ];
        let (lines, err) = probes(
            mode,
            &flags,
            &[
                &["tcp_connect", "127.0.0.1", &a],
                &["tcp_connect", "127.0.0.1", &b],
                &["tcp_connect", "127.0.0.1", &c],
                &["tcp_connect", "127.0.0.1", &d],
                &["tcp_bind", "127.0.0.1", "0"],
            ],
        );
        assert_eq!(
            lines,
            ["ok", "err EACCES", "ok", "err EPERM", "err EADDRINUSE"],
            "{mode:?}: {err}"
        );
        assert!(
            err.contains("audit: connect by process") && err.contains(&format!(":{c}")),
            "{mode:?}: {err}"
        );
        let events = std::fs::read_to_string(&log).unwrap();
        let first = events.lines().next().unwrap();
        assert!(
            first.starts_with("{\"id\":")
                && first.contains(",\"syscall\":\"connect\",\"category\":\"network\",\"pid\":"),
            "{first}"
        );
        assert!(
            first.ends_with(&format!(
                "\"protocol\":\"tcp\",\"ip\":\"127.0.0.1\",\"port\":{a}}}"
            )),
            "{first}"
        );
        assert!(events.contains("\"syscall\":\"bind\""), "{events}");
        // Control: the same calls without the program.
        let flags = ["--net-allow", "tcp://127.0.0.1", "--net-allow-bind", "*"];
        let (lines, _) = probes(
            mode,
            &flags,
            &[
                &["tcp_connect", "127.0.0.1", &d],
                &["tcp_bind", "127.0.0.1", "0"],
            ],
        );
        assert_eq!(lines, ["ok", "ok"], "{mode:?}");
    }
}

#[test]
fn a_failing_policy_program_means_deny() {
    let (_a, a) = listen();
    let connect: &[&str] = &["tcp_connect", "127.0.0.1", &a];
    for mode in Mode::ALL {
        let dir = TempDir::new("policy-fail");
        for (name, body, says) in [
            // Dies without answering (execs are allowed; the first connect kills it).
            (
                "crash.sh",
                "while read -r l; do case \"$l\" in *process*) echo allow;; *) exit 3;; esac; done",
                "stopped answering",
            ),
            // Answers garbage for a connect; the next connect would be allowed: still
            // denied.
            (
                "garbage.sh",
                "n=0; while read -r l; do case \"$l\" in *process*) echo allow;; \
                 *) n=$((n+1)); [ $n = 1 ] && echo maybe || echo allow;; esac; done",
                "not a verdict",
            ),
        ] {
            let program = script(&dir, name, body);
            let flags = ["--net-allow", "tcp://127.0.0.1", "--policy-exec", &program];
            // The second probe's exec is a later event too: refused.
            let (lines, err) = probes(mode, &flags, &[connect, connect]);
            assert_eq!(lines, ["err EPERM"], "{mode:?} {name}: {err}");
            // (the shell's fork for it is refused too: the child is killed unborn)
            assert!(
                err.contains("Operation not permitted") || err.contains("Killed"),
                "{mode:?} {name}: {err}"
            );
            assert!(
                err.contains("policy program failed") && err.contains(says),
                "{mode:?} {name}: {err}"
            );
        }
        // Hangs: each event waits --policy-timeout, then is denied.
        let program = script(
            &dir,
            "hang.sh",
            "while read -r l; do case \"$l\" in *process*) echo allow;; *) sleep 100;; esac; done",
        );
        let flags = [
            "--net-allow",
            "tcp://127.0.0.1",
            "--policy-exec",
            &program,
            "--policy-timeout",
            "300",
        ];
        let start = Instant::now();
        let out = sandboxed_output(mode, &flags, connect);
        assert_eq!(out.probe_line(), "err EPERM", "{mode:?}");
        assert!(start.elapsed() < Duration::from_secs(10));
        assert!(out.err().contains("no verdict"), "{mode:?}: {}", out.err());
    }
}

#[test]
fn bad_policy_flags_exit_2() {
    for bad in [
        &["--policy-timeout", "100"][..],
        &["--policy-exec", "/bin/cat", "--policy-timeout", "0"],
        &["--policy-exec", "/bin/cat", "--policy-timeout", "soon"],
        &["--policy-exec", ""],
        &["--no-supervisor", "--policy-exec", "/bin/cat"],
    ] {
        let mut args = vec!["run"];
        args.extend_from_slice(bad);
        args.extend_from_slice(&["--", "/bin/true"]);
        util::assert_one_error_line(&run(Mode::Root.sandlet(&args)), 2);
    }
}

#[test]
fn the_policy_program_is_found_like_a_command_or_refused_at_start() {
    let dir = TempDir::new("policy-path");
    script(&dir, "policy.sh", "while read -r l; do echo allow; done");
    let plain = dir.file("plain.sh", "#!/bin/sh\n");
    for mode in Mode::ALL {
        // A bare name: a file in the working directory (not searched on PATH only).
        let mut cmd = mode.sandlet(&["run", "--policy-exec", "policy.sh", "--", "/bin/true"]);
        cmd.current_dir(dir.path());
        let out = run(cmd);
        assert_eq!(out.code(), 0, "{mode:?}: {}", out.err());
        // A relative path with a slash.
        let mut cmd = mode.sandlet(&["run", "--policy-exec", "./policy.sh", "--", "/bin/true"]);
        cmd.current_dir(dir.path());
        assert_eq!(run(cmd).code(), 0, "{mode:?}");
        // Missing or not executable: a usage error, and nothing runs.
        let marker = dir.join("ran");
        for bad in ["no-such-policy", "./no-such-policy", plain.as_str()] {
            let w = dir.path().to_str().unwrap();
            let system = util::system_flags();
            let mut args = vec!["run", "-w", w, "--policy-exec", bad];
            args.extend(system.iter().map(String::as_str));
            args.extend_from_slice(&["--", "/bin/touch", &marker]);
            let mut cmd = mode.sandlet(&args);
            cmd.current_dir(dir.path());
            let out = run(cmd);
            util::assert_one_error_line(&out, 2);
            assert!(out.err().contains("--policy-exec"), "{}", out.err());
            assert!(
                !std::path::Path::new(&marker).exists(),
                "{mode:?} {bad}: ran"
            );
        }
        // Control: with a good program the same command runs and leaves the marker.
        let w = dir.path().to_str().unwrap();
        let system = util::system_flags();
        let mut args = vec!["run", "-w", w, "--policy-exec", "policy.sh"];
        args.extend(system.iter().map(String::as_str));
        args.extend_from_slice(&["--", "/bin/touch", &marker]);
        let mut cmd = mode.sandlet(&args);
        cmd.current_dir(dir.path());
        assert_eq!(run(cmd).code(), 0, "{mode:?}");
        assert!(
            std::path::Path::new(&marker).exists(),
            "{mode:?}: control did not run"
        );
        std::fs::remove_file(&marker).unwrap();
    }
}

#[test]
fn the_timeout_covers_a_hung_first_exec_decision() {
    // The policy program never answers; its own timeout is an hour. -t 1 still ends
    // the run (124) about a second after it started.
    let dir = TempDir::new("hung-policy");
    let program = script(&dir, "hung.sh", "exec sleep 100017");
    let left_running = || {
        std::fs::read_dir("/proc").unwrap().flatten().any(|p| {
            std::fs::read(p.path().join("cmdline")).is_ok_and(|c| c == b"sleep\x00100017\x00")
        })
    };
    for mode in Mode::ALL {
        let start = Instant::now();
        let out = run(mode.sandlet(&[
            "run",
            "-t",
            "1",
            "--policy-exec",
            &program,
            "--policy-timeout",
            "3600000",
            "--",
            "/bin/true",
        ]));
        let took = start.elapsed();
        assert_eq!(out.code(), 124, "{mode:?}: {}", out.err());
        assert!(took < Duration::from_secs(10), "{mode:?}: took {took:?}");
        // The program's end at the end of the run is not its failure, and it is gone.
        assert!(
            !out.err().contains("policy program"),
            "{mode:?}: {}",
            out.err()
        );
        assert!(
            !left_running(),
            "{mode:?}: the policy program outlived the run"
        );
    }
}
