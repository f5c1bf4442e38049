//! Exec decisions: `--deny-exec` globs, exec events of `--policy-exec`, and the argv a
//! policy sees being the argv that runs (the caller's address space is frozen while it
//! is read and until the kernel has copied it).

mod util;

use std::os::unix::fs::PermissionsExt;

use util::{run, Mode, TempDir};

/// An executable shell script `body` in `dir`.
fn script(dir: &TempDir, name: &str, body: &str) -> String {
    let path = dir.file(name, &format!("#!/bin/sh\n{body}\n"));
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

/// `/bin/sh -c line` in a sandbox with the system directories and `flags`.
fn shell(mode: Mode, flags: &[&str], line: &str) -> util::Output {
    let mut args = vec!["run"];
    args.extend_from_slice(flags);
    let system = util::system_flags();
    args.extend(system.iter().map(String::as_str));
    args.extend_from_slice(&["--", "/bin/sh", "-c", line]);
    run(mode.sandlet(&args))
}

#[test]
fn deny_exec_blocks_by_name_and_path() {
    for mode in Mode::ALL {
        let dir = TempDir::new("deny-exec");
        let bin = dir.subdir("bin");
        let curl = format!("{bin}/curl");
        std::fs::copy("/bin/true", &curl).unwrap();
        std::fs::set_permissions(&curl, std::fs::Permissions::from_mode(0o755)).unwrap();
        let read = ["-r", bin.as_str()];
        let line = format!(
            "PATH={bin}:$PATH; curl; echo $?; {curl}; echo $?; ls /usr >/dev/null && echo ls"
        );
        // Control: the copy runs.
        let plain = shell(mode, &read, &line);
        assert_eq!(plain.expect_code(0).out(), "0\n0\nls", "{mode:?}");
        for rule in ["curl", "*/bin/cur?"] {
            let flags = [read[0], read[1], "--deny-exec", rule];
            let out = shell(mode, &flags, &line);
            assert_eq!(out.out(), "126\n126\nls", "{mode:?} {rule}: {}", out.err());
            assert!(
                out.err().contains(&format!("denied by --deny-exec {rule}")),
                "{}",
                out.err()
            );
            // `exec curl` from a shell is refused too, and the shell reports it.
            let out = shell(mode, &flags, &format!("PATH={bin}:$PATH; exec curl"));
            assert_eq!(out.code(), 126, "{mode:?}: {}", out.err());
        }
    }
    for bad in [
        &["--deny-exec", ""][..],
        &["--no-supervisor", "--deny-exec", "x"],
    ] {
        let mut args = vec!["run"];
        args.extend_from_slice(bad);
        args.extend_from_slice(&["--", "/bin/true"]);
        util::assert_one_error_line(&run(Mode::Root.sandlet(&args)), 2);
    }
}

#[test]
fn exec_events_reach_the_policy_program() {
    for mode in Mode::ALL {
        let dir = TempDir::new("exec-policy");
        let log = dir.join("events");
        let body = format!(
            "while read -r line; do\n  echo \"$line\" >> {log}\n  case \"$line\" in\n    \
             *'\"forbidden\"'*) echo 'deny EACCES';;\n    *'\"audited\"'*) echo audit;;\n    \
             *) echo allow;;\n  esac\ndone"
        );
        let program = script(&dir, "policy.sh", &body);
        let flags = ["--policy-exec", &program];
        let out = shell(
            mode,
            &flags,
            "/bin/echo fine; /bin/echo forbidden; echo $?; /bin/echo audited",
        );
        assert_eq!(
            out.expect_code(0).out(),
            "fine\n126\naudited",
            "{mode:?}: {}",
            out.err()
        );
        assert!(
            out.err().contains("audit: execve by process"),
            "{}",
            out.err()
        );
        let events = std::fs::read_to_string(&log).unwrap();
        assert!(
            events.contains(r#""syscall":"execve","category":"process""#)
                && events.contains(r#""path":"/bin/echo","argv":["/bin/echo","forbidden"]"#),
            "{events}"
        );
    }
}

#[test]
fn argv_cannot_change_after_the_decision() {
    // 1,000 racing execs per mode, in two sandboxes of 500 (each command stays well
    // inside the test watchdog on a slow machine).
    let runs = "500";
    // Control: without a decision the racing thread gets "evil" (and torn mixes) run.
    let bare = run(Mode::Root.command(&[util::probe(), "argv_race", "300"]));
    assert!(
        bare.out().lines().any(|l| l == "evil"),
        "control never raced"
    );
    for (mode, round) in Mode::ALL.into_iter().flat_map(|m| [(m, 0), (m, 1)]) {
        let dir = TempDir::new("argv-race");
        let log = dir.join(&format!("events-{round}"));
        let body = format!(
            "while read -r line; do\n  echo \"$line\" >> {log}\n  case \"$line\" in\n    \
             *'\"evil\"'*) echo deny;;\n    *) echo allow;;\n  esac\ndone"
        );
        let program = script(&dir, "policy.sh", &body);
        let mut args = vec!["run", "--policy-exec", &program];
        let system = util::system_flags();
        args.extend(system.iter().map(String::as_str));
        args.extend_from_slice(&[
            "-r",
            util::probe_dir(),
            "--",
            util::probe(),
            "argv_race",
            runs,
        ]);
        let out = run(mode.sandlet(&args));
        let printed: Vec<String> = out
            .expect_code(0)
            .out()
            .lines()
            .map(str::to_owned)
            .collect();
        assert!(
            !printed.iter().any(|l| l == "evil"),
            "{mode:?}: an exec printed evil"
        );
        // What ran is exactly what the policy allowed: the same words, as often.
        let events = std::fs::read_to_string(&log).unwrap();
        let mut allowed: Vec<String> = events
            .lines()
            .filter(|l| l.contains(r#""path":"/bin/echo""#) && !l.contains(r#""evil""#))
            .map(|l| {
                let tail = l.rsplit_once(r#"["echo",""#).unwrap().1;
                tail.trim_end_matches("\"]}").to_owned()
            })
            .collect();
        let mut printed = printed;
        allowed.sort();
        printed.sort();
        assert_eq!(printed, allowed, "{mode:?}");
        assert!(printed.len() > 100, "{mode:?}: most execs are allowed");
    }
}

/// Shell lines a policy program runs on a fork event in `$line`: `$cp` is set to the
/// child's pid, and "early" or "late" is appended to `log` as the child's own marker
/// (`MARKER.PID`, its first act) is missing or there when the program looks. `allow` is
/// answered after looking, or with `after` before it and once the marker is there: the
/// control, where the child has run when the program looks.
fn child_check(marker: &str, log: &str, after: bool) -> String {
    let cp = "      cp=$(echo \"$line\" | sed 's/.*\"child_pid\":\\([0-9]*\\).*/\\1/')";
    let check =
        format!("if [ -e {marker}.$cp ]; then echo late >> {log}; else echo early >> {log}; fi");
    if after {
        format!(
            "{cp}\n      echo allow\n      n=0; while [ ! -e {marker}.$cp ] && [ $n -lt 500 ]; \
             do sleep 0.01; n=$((n+1)); done\n      {check}"
        )
    } else {
        format!("{cp}\n      {check}\n      echo allow")
    }
}

/// The control run's log (see [`child_check`]): its children were seen as late (the
/// last check may be cut short when the run ends), none as early. Empties the log.
fn assert_control_saw_late(log: &str, mode: Mode) {
    let events = std::fs::read_to_string(log).unwrap();
    let late = events.lines().filter(|l| *l == "late").count();
    assert!(
        late >= 3 && !events.contains("early"),
        "{mode:?} control: {events:?}"
    );
    std::fs::remove_file(log).unwrap();
}

#[test]
fn a_new_process_is_registered_before_it_runs() {
    for mode in Mode::ALL {
        let dir = TempDir::new("fork-events");
        let marker = dir.join("marker");
        let log = dir.join("events");
        // The policy looks for the file the child creates first thing (MARKER.PID):
        // finding it would mean the child ran before the policy heard of it. With
        // `after`, it answers first and then waits for the file: the control, showing
        // a child that has run is seen as late.
        let policy = |after: bool| {
            let on_child = child_check(&marker, &log, after);
            format!(
                "while read -r line; do\n  case \"$line\" in\n    *'\"child_pid\"'*)\n\
                 {on_child};;\n    *) echo allow;;\n  esac\ndone"
            )
        };
        let program = script(&dir, "policy.sh", &policy(false));
        let late_policy = script(&dir, "late.sh", &policy(true));
        // `probe fork_marker MARKER n` under the policy program `policy`.
        let forks = |policy: &str, n: &str| {
            let writable = util::s(dir.path());
            run(mode.sandlet(&[
                "run",
                "--policy-exec",
                policy,
                "-w",
                writable,
                "-r",
                util::probe_dir(),
                "--",
                util::probe(),
                "fork_marker",
                &marker,
                n,
            ]))
        };
        // Control: a policy that looks only after answering sees every child as late.
        let out = forks(&late_policy, "5");
        assert_eq!(out.probe_line(), "ok 5 0", "{mode:?}: {}", out.err());
        assert_control_saw_late(&log, mode);
        let out = forks(&program, "200");
        assert_eq!(out.probe_line(), "ok 200 0", "{mode:?}: {}", out.err());
        let events = std::fs::read_to_string(&log).unwrap();
        assert_eq!(
            events.lines().filter(|l| *l == "early").count(),
            200,
            "{mode:?}"
        );
        assert!(
            !events.contains("late"),
            "{mode:?}: a child ran before its fork event"
        );

        // A refused fork event: the child is killed before its first instruction.
        let deny = script(
            &dir,
            "deny.sh",
            "while read -r l; do case \"$l\" in *child_pid*) echo deny;; *) echo allow;; esac; done",
        );
        let out = forks(&deny, "3");
        assert_eq!(out.probe_line(), "ok 0 3", "{mode:?}: {}", out.err());
        assert!(
            !std::path::Path::new(&marker).exists(),
            "{mode:?}: a refused child ran"
        );
    }
}

#[test]
fn children_born_around_exec_freezes_are_registered_first() {
    // A fork storm in one process while another execs in a loop: every fork event
    // reaches the policy before its child has run (the child's first act is to create
    // the marker), freezes or not.
    for mode in Mode::ALL {
        let dir = TempDir::new("storm");
        let marker = dir.join("marker");
        let log = dir.join("events");
        // Only the fork_marker process's children are checked (its pid comes from its
        // exec event); the racing execs' forks are just allowed.
        // With `after`, the check is made after the answer, once the child's file is
        // there: the control showing that a child that ran is seen as late.
        let policy = |after: bool| {
            let on_child = child_check(&marker, &log, after);
            format!(
                "fm=none\nwhile read -r line; do\n  case \"$line\" in *'\"fork_marker\"'*)\n    \
                 fm=$(echo \"$line\" | sed 's/.*\"pid\":\\([0-9]*\\).*/\\1/');; esac\n  \
                 case \"$line\" in *\"\\\"pid\\\":$fm,\"*'\"child_pid\"'*)\n\
                 {on_child};;\n  *) echo allow;;\n  esac\ndone"
            )
        };
        let program = script(&dir, "policy.sh", &policy(false));
        let late_policy = script(&dir, "late.sh", &policy(true));
        let probe = util::probe();
        let storm = |policy: &str, n: u32| {
            let line = format!(
                "{probe} fork_marker {marker} {n} & {probe} argv_race {n} >/dev/null; wait"
            );
            let flags = [
                "--policy-exec",
                policy,
                "-w",
                util::s(dir.path()),
                "-r",
                util::probe_dir(),
            ];
            shell(mode, &flags, &line)
        };
        let out = storm(&late_policy, 5);
        assert_eq!(
            out.expect_code(0).out(),
            "ok 5 0",
            "{mode:?}: {}",
            out.err()
        );
        assert_control_saw_late(&log, mode);
        let out = storm(&program, 150);
        assert_eq!(
            out.expect_code(0).out(),
            "ok 150 0",
            "{mode:?}: {}",
            out.err()
        );
        let events = std::fs::read_to_string(&log).unwrap();
        assert!(
            !events.contains("late"),
            "{mode:?}: a child ran before its fork event"
        );
        let early = events.lines().filter(|l| *l == "early").count();
        assert_eq!(early, 150, "{mode:?}: every fork_marker child checked");
    }
}

/// The system's dynamic loader, when it has one of the usual names.
fn loader() -> Option<&'static str> {
    [
        "/lib64/ld-linux-x86-64.so.2",
        "/lib/ld-linux-aarch64.so.1",
        "/lib/ld-linux-riscv64-lp64d.so.1",
        "/lib/ld-linux-armhf.so.3",
    ]
    .into_iter()
    .find(|p| std::path::Path::new(p).exists())
}

#[test]
fn deny_exec_follows_interpreters_loaders_and_nameless_programs() {
    // A denied program also runs as a script's interpreter (nested too), as what a
    // dynamic loader is asked to run, or from a memfd: none of those is an exec of the
    // program that the rule would otherwise see.
    let Some(ld) = loader() else {
        util::skip("no dynamic loader found under a known name");
        return;
    };
    for mode in Mode::ALL {
        let dir = TempDir::new("indirect");
        let bin = dir.subdir("bin");
        let curl = format!("{bin}/curl");
        std::fs::copy("/bin/true", &curl).unwrap();
        std::fs::set_permissions(&curl, std::fs::Permissions::from_mode(0o755)).unwrap();
        let exe = |name: &str, body: String| {
            let p = dir.file(name, &body);
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
            p
        };
        let s1 = exe("s1", format!("#!{curl}\n"));
        let s2 = exe("s2", format!("#!{s1}\n"));
        let s3 = exe("s3", format!("#!{ld} {curl}\n"));
        let py = "import os; fd = os.memfd_create('c'); \
                  os.write(fd, open('/bin/true', 'rb').read()); ";
        let ways = [
            format!("{ld} {curl}"),
            format!("{ld} --argv0 x --inhibit-cache {curl}"),
            format!("{ld} --library-path /lib {curl}"),
            format!("cd {bin} && {ld} ./curl"),
            s1.clone(),
            s2.clone(),
            s3.clone(),
            format!("python3 -c \"{py}os.execv(f'/proc/self/fd/{{fd}}', ['x'])\""),
            format!("python3 -c \"{py}os.execve(fd, ['x'], {{}})\""),
        ];
        let line = ways
            .iter()
            .map(|w| format!("if ({w}) 2>/dev/null; then echo ran; else echo refused; fi"))
            .collect::<Vec<_>>()
            .join("\n");
        let d = dir.path().to_str().unwrap().to_owned();
        let read = ["-r", d.as_str()];
        let ran = vec!["ran"; ways.len()].join("\n");
        // Control: in the sandbox without the rule, every way runs the program.
        assert_eq!(
            shell(mode, &read, &line).expect_code(0).out(),
            ran,
            "{mode:?}"
        );
        let refused = vec!["refused"; ways.len()].join("\n");
        for rule in ["curl", "*/bin/cur?"] {
            let flags = [read[0], read[1], "--deny-exec", rule];
            let out = shell(mode, &flags, &line);
            assert_eq!(out.out(), refused, "{mode:?} {rule}: {}", out.err());
        }
        // Under another rule the named ways run; a nameless program is refused by any
        // rule, since no name of it can be matched.
        let flags = [read[0], read[1], "--deny-exec", "wget"];
        let mut want = vec!["ran"; ways.len() - 2];
        want.extend(["refused"; 2]);
        assert_eq!(
            shell(mode, &flags, &line).out(),
            want.join("\n"),
            "{mode:?}"
        );
    }
}

#[test]
fn execs_of_reparented_processes_are_not_held_up() {
    // Three setsid'd double forks (re-parented to sandlet) each exec twice while other
    // processes exit around them; under --deny-exec every exec is decided with ptrace.
    // A wait for orphans must not take those stops: the run ends in about a second.
    let line = "for i in 1 2 3; do (setsid sh -c 'sleep 0.3; /bin/true; /bin/true' &); done; \
                sleep 1; /bin/true";
    for mode in Mode::ALL {
        let start = std::time::Instant::now();
        let out = shell(mode, &["--deny-exec", "no-such-program"], line);
        let took = start.elapsed();
        assert_eq!(out.code(), 0, "{mode:?}: {}", out.err());
        assert!(
            took < std::time::Duration::from_secs(4),
            "{mode:?}: took {took:?} (an exec waited for a stop it never saw)"
        );
    }
}

#[test]
fn an_exec_the_kernel_refuses_does_not_hold_up_the_next() {
    // execvp tries PATH in order: the first `true` is an executable the sandbox's rules
    // do not cover, so the supervisor allows the exec and the kernel (Landlock) refuses
    // it; the caller's next exec traps at once, before the stop the exec decision waits
    // for. Without --deny-exec (control) and with it, the run takes no time.
    let dir = TempDir::new("refused-exec");
    // Three such entries: three chances for the caller to win the race to its next call.
    let mut path = String::new();
    for name in ["h1", "h2", "h3"] {
        let hidden = dir.subdir(name);
        let copy = format!("{hidden}/true");
        std::fs::copy("/bin/true", &copy).unwrap();
        std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o755)).unwrap();
        path += &format!("{hidden}:");
    }
    let line = format!("PATH={path}/usr/bin:/bin exec env true");
    for mode in Mode::ALL {
        for flags in [&[][..], &["--deny-exec", "no-such-program"]] {
            let start = std::time::Instant::now();
            let out = shell(mode, flags, &line);
            let took = start.elapsed();
            assert_eq!(out.code(), 0, "{mode:?} {flags:?}: {}", out.err());
            assert!(
                took < std::time::Duration::from_secs(4),
                "{mode:?} {flags:?}: took {took:?} (the exec decision waited for a stop)"
            );
        }
    }
}
