//! Under Docker's default seccomp profile (no CAP_SYS_PTRACE): `pidfd_getfd`,
//! `process_vm_readv`, `process_vm_writev` and `kcmp` fail with EPERM. The probe's
//! `docker_profile` action installs exactly that before it execs sandlet; features that
//! read or write the caller's memory must still work (through `/proc/PID/mem`).

mod util;

use util::{run, Mode};

/// `sandlet ARGS...` as `mode`'s user, under the profile.
fn restricted(mode: Mode, args: &[&str]) -> util::Output {
    let mut argv = vec![util::probe(), "docker_profile", util::sandlet()];
    argv.extend_from_slice(args);
    run(mode.command(&argv))
}

/// `sandlet run FLAGS -r PROBE_DIR -- probe ARGS...`, with or without the profile.
fn probe_run(mode: Mode, profile: bool, flags: &[&str], probe_args: &[&str]) -> String {
    let mut args = vec!["run"];
    args.extend_from_slice(flags);
    args.extend_from_slice(&["-r", util::probe_dir(), "--", util::probe()]);
    args.extend_from_slice(probe_args);
    let out = if profile {
        restricted(mode, &args)
    } else {
        run(mode.sandlet(&args))
    };
    assert_eq!(out.code(), 0, "{mode:?} {args:?}: {}", out.err());
    out.out().trim().to_owned()
}

#[test]
fn the_profile_refuses_what_docker_refuses() {
    // Control: the launcher really takes the call away (sandlet's own filter refuses it
    // too, so this runs outside any sandbox).
    for mode in Mode::ALL {
        let call = [util::probe(), "sys", "process_vm_readv"];
        let mut limited = vec![util::probe(), "docker_profile"];
        limited.extend_from_slice(&call);
        assert_eq!(
            run(mode.command(&limited)).out().trim(),
            "err EPERM",
            "{mode:?}"
        );
        assert_ne!(
            run(mode.command(&call)).out().trim(),
            "err EPERM",
            "{mode:?}"
        );
    }
}

#[test]
fn seeded_randomness_works_under_the_profile() {
    // getrandom is answered by writing into the caller's buffer.
    for mode in Mode::ALL {
        let seeded = |profile| {
            probe_run(
                mode,
                profile,
                &["--random-seed", "42"],
                &["getrandom", "64"],
            )
        };
        let plain = seeded(false);
        assert!(plain.starts_with("ok "), "{mode:?}: {plain}");
        assert_eq!(seeded(true), plain, "{mode:?}");
    }
}

#[test]
fn the_name_and_the_clock_work_under_the_profile() {
    // uname's answer and the wall clock are written into the caller's memory.
    let system = util::system_flags();
    for mode in Mode::ALL {
        let mut args = vec!["run", "--name", "box-3"];
        args.extend(system.iter().map(String::as_str));
        args.extend_from_slice(&["--", "/bin/uname", "-n"]);
        let out = restricted(mode, &args);
        assert_eq!(out.out().trim(), "box-3", "{mode:?}: {}", out.err());

        let mut args = vec!["run", "--time-start", "2000-01-01T00:00:00Z"];
        args.extend(system.iter().map(String::as_str));
        args.extend_from_slice(&["--", "/bin/date", "-u", "+%Y"]);
        let out = restricted(mode, &args);
        assert_eq!(out.out().trim(), "2000", "{mode:?}: {}", out.err());
    }
}

#[test]
fn check_tells_what_the_profile_takes_away() {
    for mode in Mode::ALL {
        let out = restricted(mode, &["check"]);
        let row = |name: &str| {
            out.out()
                .lines()
                .find(|l| l.starts_with(name))
                .map(|l| l.split_whitespace().nth(1).unwrap_or("").to_owned())
                .unwrap_or_default()
        };
        assert_eq!(
            row("process_vm_readv/writev"),
            "missing",
            "{mode:?}: {}",
            out.out()
        );
        assert_eq!(row("/proc/PID/mem"), "available", "{mode:?}: {}", out.out());
        assert_eq!(row("pidfd_getfd"), "missing", "{mode:?}: {}", out.out());
        assert!(
            out.out().contains("pidfd_getfd is refused here"),
            "{mode:?}: {}",
            out.out()
        );
        let bare = run(mode.sandlet(&["check"]));
        assert!(
            bare.out()
                .contains("process_vm_readv/writev      available"),
            "{mode:?}"
        );
        assert!(
            bare.out()
                .contains("pidfd_getfd                  available"),
            "{mode:?}"
        );
        assert!(!bare.out().contains("is refused here"), "{mode:?}");
    }
}

#[test]
fn connects_are_made_on_twins_under_the_profile() {
    // Without pidfd_getfd the supervisor connects a socket of its own and installs it
    // over the caller's descriptor: the caller sees a connected socket with its flags
    // (FD_CLOEXEC, O_NONBLOCK), EISCONN on a second connect; a socket bound before
    // connect cannot be carried over (EOPNOTSUPP); a denied address stays refused.
    let (allowed, denied) = (util::Counted::new(), util::Counted::new());
    let rule = format!("tcp://127.0.0.1:{}", allowed.port);
    let flags = ["--net-allow", rule.as_str(), "--net-allow-bind", "0"];
    let twin = ["tcp_twin", "127.0.0.1", allowed.port.as_str()];
    let to_denied = ["tcp_connect", "127.0.0.1", denied.port.as_str()];
    assert_eq!(util::bare(Mode::Root, &to_denied), "ok", "control");
    assert_eq!(denied.taken(), 1, "control");
    for mode in Mode::ALL {
        assert_eq!(
            probe_run(mode, false, &flags, &twin),
            "ok bound ok",
            "{mode:?}"
        );
        assert_eq!(
            probe_run(mode, true, &flags, &twin),
            "ok bound EOPNOTSUPP",
            "{mode:?}"
        );
        // Four connects without the profile, three with it (the bound socket's).
        assert_eq!(allowed.taken(), 7, "{mode:?}");
        let refused = probe_run(mode, false, &flags, &to_denied);
        assert!(refused.starts_with("err "), "{mode:?}: {refused}");
        assert_eq!(
            probe_run(mode, true, &flags, &to_denied),
            refused,
            "{mode:?}"
        );
        assert_eq!(denied.taken(), 0, "{mode:?}");
    }
}

#[test]
fn a_twin_connects_only_to_the_address_checked() {
    // One thread connects to the allowed server while another rewrites the sockaddr to
    // the denied one; under the profile too the denied server never sees a connection.
    let (allowed, denied) = (util::Counted::new(), util::Counted::new());
    let (a, d) = (allowed.port.as_str(), denied.port.as_str());
    let race = ["connect_race", "127.0.0.1", a, d, "2000"];
    let control = util::bare(Mode::Root, &race);
    assert!(control.starts_with("ok "), "control: {control}");
    assert!(
        denied.taken() > 0,
        "control: the race never hit the denied port"
    );
    allowed.taken();
    let rule = format!("tcp://127.0.0.1:{a}");
    for mode in Mode::ALL {
        let out = probe_run(mode, true, &["--net-allow", &rule], &race);
        let connected: usize = out.strip_prefix("ok ").unwrap().parse().unwrap();
        assert!(connected > 0, "{mode:?}: no connect was allowed: {out}");
        assert_eq!(allowed.taken(), connected, "{mode:?}: {out}");
        assert_eq!(
            denied.taken(),
            0,
            "{mode:?}: a connection reached the denied server"
        );
    }
}

#[test]
fn what_needs_pidfd_getfd_refuses_at_start() {
    // UDP rules, listings (and --port-remap, bind rules, a dynamic policy) take the
    // caller's descriptors with pidfd_getfd: under the profile the run refuses at start
    // (125) and says why, instead of failing every call. A default run still works,
    // and outside the profile the same flags run (control).
    let system = util::system_flags();
    for mode in Mode::ALL {
        for flags in [
            &["--net-allow", "127.0.0.1:80"][..],
            &["--net-deny-bind", "80"],
            &["--deterministic-dirs"],
        ] {
            let mut args = vec!["run"];
            args.extend_from_slice(flags);
            args.extend(system.iter().map(String::as_str));
            args.extend_from_slice(&["--", "/bin/true"]);
            let out = restricted(mode, &args);
            assert_eq!(out.code(), 125, "{mode:?} {flags:?}: {}", out.err());
            assert!(out.err().contains("SYS_PTRACE"), "{mode:?}: {}", out.err());
            assert_eq!(
                run(mode.sandlet(&args)).code(),
                0,
                "{mode:?} {flags:?} control"
            );
        }
        let mut args = vec!["run"];
        args.extend(system.iter().map(String::as_str));
        args.extend_from_slice(&["--", "/bin/true"]);
        assert_eq!(restricted(mode, &args).code(), 0, "{mode:?}: a default run");
    }
}

#[test]
fn exec_decisions_hold_under_the_profile() {
    // kcmp is refused there, so the exec gate cannot tell which processes share the
    // caller's memory and freezes them all; a shell's fork+exec and Python's
    // posix_spawn (vfork) are decided as outside the profile.
    let script = "import os, subprocess\n\
        print(subprocess.run(['/bin/true']).returncode)\n\
        quiet = [(os.POSIX_SPAWN_OPEN, 1, '/dev/null', os.O_WRONLY, 0)]\n\
        try:\n    os.waitpid(os.posix_spawn('/usr/bin/id', ['id'], os.environ, \
        file_actions=quiet), 0); print('spawned')\n\
        except OSError as e: print('refused', e.errno)\n";
    let system = util::system_flags();
    for mode in Mode::ALL {
        for (deny, want) in [(None, "0\nspawned"), (Some("/usr/bin/id"), "0\nrefused 1")] {
            let mut args = vec!["run"];
            args.extend(system.iter().map(String::as_str));
            if let Some(d) = deny {
                args.extend_from_slice(&["--deny-exec", d]);
            }
            args.extend_from_slice(&["--", "/usr/bin/python3", "-c", script]);
            let out = restricted(mode, &args);
            assert_eq!(out.out().trim(), want, "{mode:?} {deny:?}: {}", out.err());
            let bare = run(mode.sandlet(&args));
            assert_eq!(bare.out().trim(), want, "{mode:?} {deny:?} control");
        }
    }
}
