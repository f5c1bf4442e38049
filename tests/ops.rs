//! Running sandboxes: `sandlet ps`, `inspect`, `kill`, and their control socket, which
//! neither a sandboxed process nor another user can use.

mod util;

use std::process::Command;
use std::time::{Duration, Instant};

use util::{run, Mode, Running, TempDir};

/// A runtime dir of the test's own (the registry lives beneath it), usable by 65534.
fn runtime() -> TempDir {
    TempDir::new("ops-run")
}

fn with_runtime(mut cmd: Command, dir: &TempDir) -> Command {
    cmd.env("XDG_RUNTIME_DIR", dir.path());
    cmd
}

/// Starts `sandlet run --name NAME ... -- /bin/sleep 60` as `mode`'s user.
fn start(mode: Mode, dir: &TempDir, name: &str, flags: &[&str]) -> Running {
    let mut args = vec!["run", "--name", name];
    args.extend_from_slice(flags);
    let system = util::system_flags();
    args.extend(system.iter().map(String::as_str));
    args.extend_from_slice(&["--", "/bin/sleep", "60"]);
    Running::start(with_runtime(mode.sandlet(&args), dir))
}

fn sandlet(mode: Mode, dir: &TempDir, args: &[&str]) -> util::Output {
    run(with_runtime(mode.sandlet(args), dir))
}

/// `ps` once `names` are all listed (registration follows the command's start).
fn ps_listing(mode: Mode, dir: &TempDir, names: &[&str]) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let out = sandlet(mode, dir, &["ps"]).out();
        if names
            .iter()
            .all(|n| out.lines().any(|l| l.starts_with(&format!("{n} "))))
        {
            return out;
        }
        assert!(Instant::now() < deadline, "{mode:?}: not listed: {out}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The control socket's name from the registry's pid file.
fn socket_of(dir: &TempDir, name: &str) -> String {
    let pid = dir.path().join("sandlet/sandboxes").join(name);
    let text = std::fs::read_to_string(pid).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix("socket="))
        .unwrap()
        .to_owned()
}

#[test]
fn ps_inspect_and_kill_two_sandboxes() {
    for mode in Mode::ALL {
        let dir = runtime();
        let a = start(mode, &dir, "box-a", &["-m", "64M"]);
        let b = start(mode, &dir, "box-b", &[]);
        let listing = ps_listing(mode, &dir, &["box-a", "box-b"]);
        let row = listing.lines().find(|l| l.starts_with("box-a ")).unwrap();
        assert!(
            row.contains("/64M") && row.contains("/64 ") && row.ends_with("/bin/sleep 60"),
            "{row}"
        );
        let json = sandlet(mode, &dir, &["ps", "--format", "json"]).out();
        assert!(
            json.starts_with('[') && json.contains("\"name\":\"box-b\""),
            "{json}"
        );
        let inspect = sandlet(mode, &dir, &["inspect", "box-a"]);
        assert_eq!(inspect.code(), 0, "{mode:?}: {}", inspect.err());
        assert!(
            inspect.out().contains("filesystem (Landlock)"),
            "{}",
            inspect.out()
        );
        assert!(
            inspect.out().contains("\"max_memory\":67108864"),
            "{}",
            inspect.out()
        );
        // kill: the default signal is SIGKILL, and it returns once the run is gone.
        assert_eq!(
            sandlet(mode, &dir, &["kill", "box-a"]).code(),
            0,
            "{mode:?}"
        );
        let (status, _) = a.wait_for(Duration::from_secs(5));
        assert_eq!(status.code(), Some(137), "{mode:?}");
        let listing = sandlet(mode, &dir, &["ps"]).out();
        assert!(
            !listing.contains("box-a") && listing.contains("box-b"),
            "{listing}"
        );
        // By pid, with another signal.
        let pid = listing.lines().find(|l| l.starts_with("box-b ")).unwrap();
        let pid = pid.split_whitespace().nth(1).unwrap().to_owned();
        assert_eq!(sandlet(mode, &dir, &["kill", "-s", "TERM", &pid]).code(), 0);
        let (status, _) = b.wait_for(Duration::from_secs(5));
        assert_eq!(status.code(), Some(143), "{mode:?}");
        assert_eq!(
            sandlet(mode, &dir, &["ps"]).out().lines().count(),
            1,
            "{mode:?}"
        );
        // Gone or never there; a bad signal is bad input.
        assert_eq!(sandlet(mode, &dir, &["kill", "box-a"]).code(), 1);
        assert_eq!(sandlet(mode, &dir, &["inspect", "nosuch"]).code(), 1);
        util::assert_one_error_line(&sandlet(mode, &dir, &["kill", "-s", "BOGUS", "x"]), 2);
        util::assert_one_error_line(&sandlet(mode, &dir, &["ps", "--format", "yaml"]), 2);
    }
}

#[test]
fn no_sandbox_and_no_other_user_can_use_the_control_socket() {
    let dir = runtime();
    let target = start(Mode::Root, &dir, "target", &[]);
    ps_listing(Mode::Root, &dir, &["target"]);
    let socket = socket_of(&dir, "target");
    let ask = |line: &'static str| ["abstract_ask", socket.as_str(), line];
    // Control: root, outside any sandbox, gets answers.
    let status = util::bare(Mode::Root, &ask("status"));
    assert!(status.starts_with("ok {\"name\":\"target\""), "{status}");
    // Another user connects (abstract names have no permissions) but is not answered.
    assert_eq!(util::bare(Mode::Nobody, &ask("kill 9")), "ok");
    // A sandboxed process, of root or not, cannot even connect (Landlock's scope).
    for mode in Mode::ALL {
        assert_eq!(
            util::sandboxed(mode, &[], &ask("kill 9")),
            "err EPERM",
            "{mode:?}"
        );
    }
    // The other user's ps does not list it either.
    let theirs = sandlet(Mode::Nobody, &runtime(), &["ps"]).out();
    assert!(!theirs.contains("target"), "{theirs}");
    // Still running: only root outside can stop it.
    assert!(sandlet(Mode::Root, &dir, &["ps"]).out().contains("target"));
    assert_eq!(sandlet(Mode::Root, &dir, &["kill", "target"]).code(), 0);
    let (status, _) = target.wait_for(Duration::from_secs(5));
    assert_eq!(status.code(), Some(137));
}

#[test]
fn ps_prunes_the_entries_of_dead_runs() {
    let dir = runtime();
    let root = dir.path().join("sandlet/sandboxes");
    std::fs::create_dir_all(&root).unwrap();
    let stale = root.join("stale");
    // A pid above the kernel's largest (PID_MAX_LIMIT): never running.
    std::fs::write(
        &stale,
        "pid=4194305\nstart=1\ncommand_pid=2\nsocket=\ncommand=gone\n",
    )
    .unwrap();
    let out = sandlet(Mode::Root, &dir, &["ps"]);
    assert_eq!(out.out().lines().count(), 1, "{}", out.out());
    assert!(!stale.exists());
}

#[test]
fn status_fd_reports_the_lifecycle_and_stays_sandlets() {
    let dir = TempDir::new("status-fd");
    for mode in Mode::ALL {
        let events = dir.join(&format!("events-{mode:?}"));
        // sandlet gets the file as descriptor 3 from a shell.
        let line = format!(
            "exec \"$0\" run --name st --status-fd 3 -P 1 -m 64M -r {} -- {} fork 3>{events}",
            util::probe_dir(),
            util::probe()
        );
        let out = run(mode.command(&["/bin/sh", "-c", &line, util::sandlet()]));
        assert_eq!(out.out().trim(), "err EAGAIN", "{mode:?}: {}", out.err());
        let text = std::fs::read_to_string(&events).unwrap();
        let kinds: Vec<&str> = text
            .lines()
            .map(|l| {
                l.strip_prefix("{\"event\":\"")
                    .and_then(|r| r.split('"').next())
                    .unwrap_or("?")
            })
            .collect();
        assert_eq!(
            kinds,
            ["started", "exec", "limit", "exit"],
            "{mode:?}: {text}"
        );
        assert!(text.contains("\"name\":\"st\""), "{text}");
        assert!(
            text.contains("\"limit\":\"processes\",") && text.contains("\"max\":1"),
            "{text}"
        );
        assert!(
            text.lines().last().unwrap().contains("\"status\":0"),
            "{text}"
        );
        // A refusal at -m is a limit event too.
        let line = format!(
            "exec \"$0\" run --status-fd 3 -m 16M -r {} -- {} mmap 67108864 3>{events}",
            util::probe_dir(),
            util::probe()
        );
        let out = run(mode.command(&["/bin/sh", "-c", &line, util::sandlet()]));
        assert_eq!(out.out().trim(), "err ENOMEM", "{mode:?}: {}", out.err());
        let text = std::fs::read_to_string(&events).unwrap();
        assert!(
            text.contains("\"limit\":\"memory\",") && text.contains("\"bytes\":67108864"),
            "{mode:?}: {text}"
        );
        // With exec decisions, each allowed exec is an event.
        let line = format!(
            "exec \"$0\" run --status-fd 3 --deny-exec nothing-else -r {} -- {} exec {} 3>{events}",
            util::probe_dir(),
            util::probe(),
            util::probe()
        );
        run(mode.command(&["/bin/sh", "-c", &line, util::sandlet()]));
        let text = std::fs::read_to_string(&events).unwrap();
        let execs = text
            .lines()
            .filter(|l| l.contains("\"event\":\"exec\""))
            .count();
        assert_eq!(execs, 2, "{mode:?}: {text}");
        // The command never holds it (control: the probe sees an inherited fd 3).
        let line = format!(
            "exec \"$0\" run --status-fd 3 -r {} -r /proc -- {} fds 3>/dev/null",
            util::probe_dir(),
            util::probe()
        );
        let fds = run(mode.command(&["/bin/sh", "-c", &line, util::sandlet()])).out();
        assert_eq!(fds, "ok 0 1 2", "{mode:?}");
        let bare = "exec \"$0\" fds 3>/dev/null";
        let fds = run(mode.command(&["/bin/sh", "-c", bare, util::probe()])).out();
        assert!(fds.split(' ').any(|f| f == "3"), "{mode:?} control: {fds}");
        // Not open: bad input, nothing runs.
        util::assert_one_error_line(
            &run(mode.sandlet(&["run", "--status-fd", "77", "--", "/bin/true"])),
            2,
        );
    }
}
