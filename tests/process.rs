//! The process side of `sandlet run`: exit codes, signals, timeout, leftovers (process
//! group, re-parented orphans), stdout throughput, exec failures.

mod util;

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::ExitStatusExt;
use std::time::{Duration, Instant};

use util::{
    alive_with, assert_one_error_line, kill_if_alive, probe, probe_dir, read_pid, run,
    sandboxed_output, system_flags, wait_gone, Mode, PidGuard, Running, TempDir,
};

/// `sandlet run <system dirs> -r <probe dir> -w DIR EXTRA... -- sh -c SCRIPT`.
fn sandlet_sh(mode: Mode, dir: &str, extra: &[&str], script: &str) -> std::process::Command {
    let mut argv: Vec<String> = vec!["run".into()];
    argv.extend(system_flags());
    argv.extend(["-r".into(), probe_dir().into(), "-w".into(), dir.into()]);
    argv.extend(extra.iter().map(|s| s.to_string()));
    argv.extend(["--".into(), "sh".into(), "-c".into(), script.into()]);
    mode.sandlet(&argv)
}

/// Parses the `ok PID PGID SID` line of `probe pidfile`.
fn pidfile_line(line: &str) -> (i32, i32, i32) {
    let f: Vec<i32> = line
        .strip_prefix("ok ")
        .unwrap_or_else(|| panic!("not a pidfile line: {line:?}"))
        .split(' ')
        .map(|x| x.parse().expect("number"))
        .collect();
    assert_eq!(f.len(), 3, "{line:?}");
    (f[0], f[1], f[2])
}

#[test]
fn exit_code_passes_through() {
    for mode in Mode::ALL {
        for code in [0, 1, 3, 42, 125, 126, 127, 200, 255] {
            let c = code.to_string();
            sandboxed_output(mode, &[], &["exit", &c]).expect_code(code);
        }
    }
}

#[test]
fn killed_by_signal_is_128_plus_signal() {
    for mode in Mode::ALL {
        for sig in [libc::SIGKILL, libc::SIGTERM, libc::SIGSEGV, libc::SIGUSR1] {
            let s = sig.to_string();
            // Control: without sandlet the probe really dies of that signal.
            let bare = run(mode.command(&[probe(), "raise", &s]));
            assert_eq!(bare.status.signal(), Some(sig), "{mode:?} control");
            let out = sandboxed_output(mode, &["--no-coredump"], &["raise", &s]);
            out.expect_code(128 + sig);
        }
    }
}

#[test]
fn timeout_kills_the_whole_tree() {
    for mode in Mode::ALL {
        let t = TempDir::new("timeout");
        let pidfile = t.join("pid");
        // sandlet -> sh -> probe (a grandchild), which reports once it is up.
        let script = format!("{} pidfile {pidfile} 1000 & wait", probe());
        let start = Instant::now();
        let run = Running::start(sandlet_sh(mode, s(&t), &["-t", "2s"], &script));
        let (pid, _, _) = pidfile_line(&run.line());
        let _guard = PidGuard {
            pid,
            marker: "pidfile",
        };
        assert_eq!(read_pid(&pidfile), pid);
        // Control: the grandchild is running before the deadline.
        assert!(
            alive_with(pid, "pidfile"),
            "{mode:?}: grandchild not running"
        );
        let (status, stderr) = run.wait();
        let elapsed = start.elapsed();
        assert_eq!(status.code(), Some(124), "{mode:?}: {status:?} {stderr}");
        assert!(stderr.contains("timeout"), "{mode:?}: stderr {stderr:?}");
        assert!(
            elapsed >= Duration::from_millis(1900) && elapsed < Duration::from_secs(15),
            "{mode:?}: timeout of 2s took {elapsed:?}"
        );
        let survived = alive_with(pid, "pidfile");
        kill_if_alive(pid, "pidfile");
        assert!(!survived, "{mode:?}: grandchild {pid} outlived the timeout");
    }
}

fn s(t: &TempDir) -> &str {
    util::s(t.path())
}

#[test]
fn timeout_units() {
    for mode in Mode::ALL {
        let start = Instant::now();
        let out = sandboxed_output(mode, &["-t", "250ms"], &["sleep", "100"]);
        out.expect_code(124);
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "{mode:?}: 250ms timeout took {:?}",
            start.elapsed()
        );
        sandboxed_output(mode, &["--timeout", "2m"], &["exit", "3"]).expect_code(3);
        sandboxed_output(mode, &["-t", "1"], &["exit", "4"]).expect_code(4);
        sandboxed_output(mode, &["-t5"], &["exit", "5"]).expect_code(5);
    }
}

#[test]
fn setsid_daemon_does_not_outlive_sandlet() {
    for mode in Mode::ALL {
        let t = TempDir::new("daemon");
        // Double fork (subshell + background) and a new session: the daemon leaves
        // both the command's tree and its process group. `head` returns once the
        // daemon has written its pid file and reported.
        let daemon = |pidfile: &str| {
            format!(
                "(setsid {} pidfile {pidfile} 1000 2>/dev/null &) | head -n1",
                probe()
            )
        };

        // Control: without sandlet the daemon outlives its shell.
        let control_pid = t.join("control.pid");
        let out = run(mode.command(&["sh", "-c", &daemon(&control_pid)]));
        out.expect_code(0);
        let (pid, _, sid) = pidfile_line(&out.out());
        let _guard = PidGuard {
            pid,
            marker: "pidfile",
        };
        let survived = alive_with(pid, "pidfile");
        kill_if_alive(pid, "pidfile");
        assert!(
            survived,
            "{mode:?}: control daemon did not survive its shell"
        );
        assert_eq!(
            pid, sid,
            "{mode:?}: the control daemon is not a session leader"
        );

        let pidfile = t.join("pid");
        let out = run(sandlet_sh(mode, s(&t), &[], &daemon(&pidfile)));
        out.expect_code(0);
        let (pid, pgid, sid) = pidfile_line(&out.out());
        let _guard = PidGuard {
            pid,
            marker: "pidfile",
        };
        assert_eq!(read_pid(&pidfile), pid);
        assert_eq!(
            (pid, pgid),
            (sid, sid),
            "{mode:?}: daemon did not leave the group"
        );
        let survived = alive_with(pid, "pidfile");
        kill_if_alive(pid, "pidfile");
        assert!(!survived, "{mode:?}: setsid daemon {pid} outlived sandlet");
    }
}

#[test]
fn background_job_does_not_outlive_sandlet() {
    for mode in Mode::ALL {
        let t = TempDir::new("bgjob");
        let script = "sleep 1000 >/dev/null 2>&1 & echo $!";

        // Control: without sandlet the job outlives its shell.
        let out = run(mode.command(&["sh", "-c", script]));
        out.expect_code(0);
        let pid: i32 = out.out().parse().expect("pid");
        let survived = alive_with(pid, "1000");
        kill_if_alive(pid, "1000");
        assert!(survived, "{mode:?}: control job did not survive its shell");

        let out = run(sandlet_sh(mode, s(&t), &[], script));
        out.expect_code(0);
        let pid: i32 = out.out().parse().expect("pid");
        let survived = alive_with(pid, "1000");
        kill_if_alive(pid, "1000");
        assert!(!survived, "{mode:?}: background job {pid} outlived sandlet");
    }
}

/// Starts `probe ready 1000` under sandlet and waits for its line; returns the run and
/// the probe's pid.
fn ready(mode: Mode, flags: &[&str]) -> (Running, PidGuard) {
    let mut argv = vec!["run"];
    argv.extend_from_slice(flags);
    argv.extend_from_slice(&["-r", probe_dir(), "--", probe(), "ready", "1000"]);
    let run = Running::start(mode.sandlet(&argv));
    let line = run.line();
    let pid = line
        .strip_prefix("ok ready ")
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("unexpected line {line:?}"));
    (
        run,
        PidGuard {
            pid,
            marker: "ready",
        },
    )
}

#[test]
fn forwarded_signals_reach_the_command() {
    for mode in Mode::ALL {
        for sig in [libc::SIGTERM, libc::SIGINT, libc::SIGHUP, libc::SIGQUIT] {
            let (run, guard) = ready(mode, &["--no-coredump"]);
            let pid = guard.pid;
            assert!(alive_with(pid, "ready"), "{mode:?}: probe not running");
            run.signal(sig);
            let (status, stderr) = run.wait();
            // sandlet itself exits normally with the command's 128+S.
            assert_eq!(
                status.code(),
                Some(128 + sig),
                "{mode:?} signal {sig}: {status:?} {stderr}"
            );
            assert!(
                wait_gone(pid, Duration::from_secs(5)),
                "{mode:?}: probe alive"
            );
        }
    }
}

#[test]
fn sigterm_can_be_handled_by_the_command() {
    for mode in Mode::ALL {
        let t = TempDir::new("trap");
        let script = format!(
            "trap 'echo got TERM; exit 3' TERM; {} ready 1000 & wait",
            probe()
        );
        let run = Running::start(sandlet_sh(mode, s(&t), &[], &script));
        assert!(run.line().starts_with("ok ready "));
        run.signal(libc::SIGTERM);
        assert_eq!(run.line(), "got TERM", "{mode:?}");
        let (status, stderr) = run.wait();
        assert_eq!(status.code(), Some(3), "{mode:?}: {stderr}");
    }
}

#[test]
fn command_dies_with_sandlet() {
    for mode in Mode::ALL {
        let (run, guard) = ready(mode, &[]);
        let pid = guard.pid;
        run.signal(libc::SIGKILL);
        let (status, _) = run.wait();
        assert_eq!(status.signal(), Some(libc::SIGKILL));
        let gone = wait_gone(pid, Duration::from_secs(5));
        kill_if_alive(pid, "ready");
        assert!(gone, "{mode:?}: the command survived a SIGKILLed sandlet");
    }
}

#[test]
fn ten_mib_of_stdout_intact() {
    const N: usize = 10 * 1024 * 1024;
    for mode in Mode::ALL {
        let out = sandboxed_output(mode, &[], &["emit", &N.to_string()]);
        out.expect_code(0);
        assert_eq!(out.stdout.len(), N, "{mode:?}: byte count");
        let bad = out
            .stdout
            .iter()
            .enumerate()
            .position(|(i, &b)| b != (i % 251) as u8);
        assert_eq!(bad, None, "{mode:?}: first corrupted byte");
        assert!(out.stderr.is_empty(), "{mode:?}: {}", out.err());
    }
}

#[test]
fn command_not_found_is_127() {
    for mode in Mode::ALL {
        for cmd in ["sandlet-no-such-command-xyz", "/nonexistent/dir/cmd"] {
            let mut c = mode.sandlet(&["run", "--", cmd, "arg"]);
            c.env("PATH", "/usr/local/bin:/usr/bin:/bin");
            let out = run(c);
            let line = assert_one_error_line(&out, 127);
            assert!(line.contains(cmd), "{mode:?}: {line}");
            assert_eq!(out.out(), "");
        }
    }
}

/// A PATH entry the user cannot search (here: a 0700 root dir, as root's ~/.cargo/bin is
/// for uid 65534 under `sudo -u`/`setpriv`) does not make a missing command "found".
#[test]
fn command_not_found_with_unsearchable_dir_on_path_is_127() {
    let t = TempDir::new("path");
    let private = t.subdir("private");
    std::fs::set_permissions(&private, std::fs::Permissions::from_mode(0o700)).unwrap();
    let path = format!("{private}:/usr/bin:/bin");
    for mode in Mode::ALL {
        // Control: the shell's own lookup says "not found" (127).
        let mut c = mode.command(&["sh", "-c", "sandlet-no-such-command-xyz"]);
        c.env("PATH", &path);
        run(c).expect_code(127);
        let mut c = mode.sandlet(&["run", "--", "sandlet-no-such-command-xyz"]);
        c.env("PATH", &path);
        let out = run(c);
        assert_one_error_line(&out, 127);
        // A command that exists later on that PATH is still found.
        let mut c = mode.sandlet(&["run", "--", "true"]);
        c.env("PATH", &path);
        run(c).expect_code(0);
    }
}

#[test]
fn not_executable_is_126() {
    for mode in Mode::ALL {
        let t = TempDir::new("noexec");
        let script = t.file("script", "#!/bin/sh\necho RAN\n");
        // Control: once it has x bits (and its dir is readable) it runs.
        let flags = ["-r", s(&t)];
        let system = system_flags();
        let mut argv = vec!["run"];
        argv.extend(system.iter().map(String::as_str));
        argv.extend(flags);
        argv.extend(["--", script.as_str()]);
        let out = run(mode.sandlet(&argv));
        let line = assert_one_error_line(&out, 126);
        assert!(line.contains(&script), "{mode:?}: {line}");
        assert_eq!(out.out(), "");

        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        let out = run(mode.sandlet(&argv));
        out.expect_code(0);
        assert_eq!(out.out(), "RAN");
        // A directory is not executable either.
        let out = run(mode.sandlet(&["run", "--", "/usr"]));
        assert_one_error_line(&out, 126);
    }
}
