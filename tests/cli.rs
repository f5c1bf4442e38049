//! The command line: bad input exits 2 before anything runs, flag forms, help, version,
//! check, and the degraded-kernel paths (SANDLET_LANDLOCK_ABI_MAX).

mod util;

use std::os::linux::net::SocketAddrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use util::{
    assert_one_error_line, bare, probe, probe_dir, run, sandboxed, sandboxed_output, Mode, Target,
    TempDir,
};

const ABI_MAX: &str = "SANDLET_LANDLOCK_ABI_MAX";

/// `sandlet run -r <probe dir> -w DIR BAD... -- probe write DIR/marker`.
fn attempt(mode: Mode, dir: &str, bad: &[&str]) -> util::Output {
    let marker = format!("{dir}/marker");
    let mut argv = vec!["run", "-r", probe_dir(), "-w", dir];
    argv.extend_from_slice(bad);
    argv.extend(["--", probe(), "write", marker.as_str()]);
    run(mode.sandlet(&argv))
}

#[test]
fn bad_input_exits_2_and_runs_nothing() {
    let cases: &[&[&str]] = &[
        &["--bogus"],
        &["--fs-raed", "/usr"],
        &["-t", "soon"],
        &["--timeout", "5x"],
        &["--timeout=-1"],
        &["--net-allow-bind", "80,x"],
        &["--net-allow-bind", "70000"],
        &["--net-allow-bind", "9000-8000"],
        &["--env", "NOEQUALS"],
        &["--env", "=value"],
        &["-r", "/nonexistent/sandlet-test"],
        &["-w", "/nonexistent/sandlet-test"],
        &["--cwd", "/etc/passwd"],
        &["--cwd", "/nonexistent/sandlet-test"],
        &["--extra-deny-syscall", "not_a_syscall"],
        &["--extra-allow-syscall", "not_a_group"],
        &["--extra-allow-syscall", "mount"],
        &["--allow-degraded", "everything"],
        &["--max-open-files", "lots"],
        &["--no-coredump=yes"],
    ];
    for mode in Mode::ALL {
        let t = TempDir::new("cli");
        let dir = util::s(t.path());
        let marker = format!("{dir}/marker");
        for bad in cases {
            let out = attempt(mode, dir, bad);
            let line = assert_one_error_line(&out, 2);
            assert_eq!(out.out(), "", "{mode:?} {bad:?}: stdout");
            assert!(
                !Path::new(&marker).exists(),
                "{mode:?} {bad:?}: the command ran ({line})"
            );
        }
        // Control: without a bad flag the command runs and leaves the marker.
        let out = attempt(mode, dir, &[]);
        out.expect_code(0);
        assert_eq!(out.out(), "ok");
        assert!(
            Path::new(&marker).exists(),
            "{mode:?}: control marker missing"
        );
    }
}

#[test]
fn no_command_exits_2() {
    for mode in Mode::ALL {
        for argv in [
            &["run"][..],
            &["run", "--"],
            &["run", "-r", "/usr", "--"],
            &["run", "-r"],
            &["run", "--", ""],
            &[],
            &["frobnicate"],
        ] {
            let out = run(mode.sandlet(argv));
            assert_one_error_line(&out, 2);
            assert_eq!(out.out(), "", "{argv:?}");
        }
    }
}

#[test]
fn equals_and_attached_forms_accepted() {
    for mode in Mode::ALL {
        let t = TempDir::new("forms");
        let dir = util::s(t.path());
        let p = probe_dir();
        let read_eq = format!("--fs-read={p}");
        let read_att = format!("-r{p}");
        let write_eq = format!("--fs-write={dir}");
        let write_att = format!("-w{dir}");
        for (r, w, name) in [
            (&read_eq, &write_eq, "a"),
            (&read_att, &write_att, "b"),
            (&read_eq, &write_att, "c"),
        ] {
            let target = format!("{dir}/{name}");
            let out = run(mode.sandlet(&["run", r, w, "--", probe(), "write", &target]));
            out.expect_code(0);
            assert_eq!(out.out(), "ok", "{mode:?} {r} {w}");
            assert!(Path::new(&target).exists());
        }
        // `--fs-read=/usr` and `-r/usr` with a system binary.
        for flags in [
            ["--fs-read=/usr", "--fs-read=/lib", "--fs-read=/lib64"],
            ["-r/usr", "-r/lib", "-r/lib64"],
        ] {
            let mut argv = vec!["run"];
            argv.extend(flags);
            argv.extend(["--", "/usr/bin/true"]);
            run(mode.sandlet(&argv)).expect_code(0);
            // Control: without /usr it cannot run.
            let out = run(mode.sandlet(&["run", flags[1], "--", "/usr/bin/true"]));
            assert_eq!(out.code(), 126, "{mode:?} {flags:?}: true ran without /usr");
        }
    }
}

#[test]
fn command_arguments_are_not_flags() {
    for mode in Mode::ALL {
        let out = run(mode.sandlet(&[
            "run",
            "--",
            "/usr/bin/echo",
            "-r",
            "--bogus",
            "--fs-read=/x",
            "--",
        ]));
        out.expect_code(0);
        assert_eq!(out.out(), "-r --bogus --fs-read=/x --", "{mode:?}");
    }
}

#[test]
fn no_supervisor_accepted() {
    for mode in Mode::ALL {
        sandboxed_output(mode, &["--no-supervisor"], &["exit", "0"]).expect_code(0);
        // The sandbox is still on.
        assert_eq!(
            sandboxed(mode, &["--no-supervisor", "--keep-caps"], &["sys", "mount"]),
            "err EPERM"
        );
    }
}

#[test]
fn help_and_version() {
    let out = run(Mode::Root.sandlet(&["run", "--help"]));
    out.expect_code(0);
    let help = out.out();
    for needle in [
        "default",
        "/usr",
        "/etc",
        "/dev/null",
        "--fs-read",
        "--timeout",
    ] {
        assert!(
            help.contains(needle),
            "run --help lacks {needle:?}:\n{help}"
        );
    }
    assert_eq!(out.err(), "");

    for argv in [&["--help"][..], &["help"]] {
        let out = run(Mode::Root.sandlet(argv));
        out.expect_code(0);
        let text = out.out();
        assert!(
            text.contains("run") && text.contains("check"),
            "{argv:?}:\n{text}"
        );
    }

    let out = run(Mode::Nobody.sandlet(&["--version"]));
    out.expect_code(0);
    assert_eq!(out.out(), format!("sandlet {}", env!("CARGO_PKG_VERSION")));
}

#[test]
fn check_lists_every_protection() {
    for mode in Mode::ALL {
        let out = run(mode.sandlet(&["check"]));
        out.expect_code(0);
        let table = out.out();
        for name in [
            "fs",
            "fs-refer",
            "fs-truncate",
            "net-tcp",
            "fs-ioctl-dev",
            "signal-scope",
            "abstract-unix-socket-scope",
        ] {
            let row = table
                .lines()
                .find(|l| l.split_whitespace().next() == Some(name))
                .unwrap_or_else(|| panic!("no row for {name}:\n{table}"));
            assert!(row.contains("available"), "{row}");
        }
        // With a lowered ABI the rows turn missing.
        let mut c = mode.sandlet(&["check"]);
        c.env(ABI_MAX, "3");
        let table = run(c).out();
        let row = table
            .lines()
            .find(|l| l.starts_with("net-tcp"))
            .unwrap_or_else(|| panic!("no net-tcp row:\n{table}"));
        assert!(row.contains("missing"), "{row}");
    }
}

#[test]
fn degraded_kernel_refused_without_allow_degraded() {
    for mode in Mode::ALL {
        let t = TempDir::new("degraded");
        let dir = util::s(t.path());
        let marker = format!("{dir}/marker");
        for (abi, name, kernel) in [
            ("3", "net-tcp", "6.7"),
            ("0", "fs", "5.13"),
            ("5", "signal-scope", "6.12"),
        ] {
            let mut argv = vec!["run", "-r", probe_dir(), "-w", dir];
            argv.extend(["--", probe(), "write", &marker]);
            let mut c = mode.sandlet(&argv);
            c.env(ABI_MAX, abi);
            let out = run(c);
            let line = assert_one_error_line(&out, 125);
            assert!(
                line.contains(name) && line.contains(kernel),
                "{mode:?} ABI {abi}: {line}"
            );
            assert!(
                !Path::new(&marker).exists(),
                "{mode:?} ABI {abi}: command ran"
            );
        }
    }
}

/// Accepting only part of what is missing is not enough: exit 125 naming the next
/// missing protection, and no message pretends the run went ahead.
#[test]
fn partial_allow_degraded_refused() {
    for mode in Mode::ALL {
        let mut c = mode.sandlet(&["run", "--allow-degraded", "net-tcp", "--", "/usr/bin/true"]);
        c.env(ABI_MAX, "3");
        let out = run(c);
        out.expect_code(125);
        let err = out.err();
        let errors: Vec<&str> = err
            .lines()
            .filter(|l| l.starts_with("sandlet: error: "))
            .collect();
        assert_eq!(errors.len(), 1, "{mode:?}: {err}");
        assert!(
            errors[0].contains("fs-ioctl-dev") && errors[0].contains("6.10"),
            "{mode:?}: {err}"
        );
        // Nothing ran, so no line may claim the run goes ahead without a protection.
        assert!(
            !err.contains("running without"),
            "{mode:?}: stderr claims a run that never happened:\n{err}"
        );
    }
}

#[test]
fn degraded_kernel_runs_with_allow_degraded() {
    let missing = [
        "net-tcp",
        "fs-ioctl-dev",
        "signal-scope",
        "abstract-unix-socket-scope",
    ];
    for mode in Mode::ALL {
        let t = TempDir::new("degraded-ok");
        let dir = util::s(t.path());
        let marker = format!("{dir}/marker");
        let mut argv = vec!["run", "-r", probe_dir(), "-w", dir];
        for m in missing {
            argv.extend(["--allow-degraded", m]);
        }
        argv.extend(["--", probe(), "write", &marker]);
        let mut c = mode.sandlet(&argv);
        c.env(ABI_MAX, "3");
        let out = run(c);
        out.expect_code(0);
        assert_eq!(out.out(), "ok");
        assert!(Path::new(&marker).exists(), "{mode:?}: command did not run");
        let err = out.err();
        for m in missing {
            assert!(err.contains(m), "{mode:?}: no warning about {m}:\n{err}");
        }
        // Control: the same run without the variable prints no warning.
        let mut c = mode.sandlet(&argv);
        c.env_remove(ABI_MAX);
        let out = run(c);
        out.expect_code(0);
        assert_eq!(out.err(), "", "{mode:?}");
    }
}

#[test]
fn degraded_scopes_are_exactly_the_ones_dropped() {
    let listener_name = format!("sandlet-test-degraded-{}", std::process::id());
    let addr = std::os::unix::net::SocketAddr::from_abstract_name(listener_name.as_bytes())
        .expect("abstract address");
    let _listener = std::os::unix::net::UnixListener::bind_addr(&addr).expect("listen");
    let tcp = std::net::TcpListener::bind("127.0.0.1:0").expect("listen tcp");
    let tcp_port = tcp.local_addr().unwrap().port().to_string();
    for mode in Mode::ALL {
        let target = Target::start(mode);
        let pid = target.pid();
        let t = TempDir::new("degraded-scope");
        let secret = t.file("secret", "x\n");
        let degraded = |args: &[&str]| -> String {
            let mut argv = vec![
                "run",
                "--allow-degraded",
                "signal-scope",
                "--allow-degraded",
                "abstract-unix-socket-scope",
                "-r",
                probe_dir(),
                "--",
                probe(),
            ];
            argv.extend_from_slice(args);
            let mut c = mode.sandlet(&argv);
            c.env(ABI_MAX, "5");
            run(c).probe_line()
        };
        // Control: with the real ABI both are blocked.
        assert_eq!(sandboxed(mode, &[], &["kill", &pid, "0"]), "err EPERM");
        assert_eq!(
            sandboxed(mode, &[], &["abstract_connect", &listener_name]),
            "err EPERM"
        );
        assert_eq!(bare(mode, &["kill", &pid, "0"]), "ok");
        // Degraded: a signal and an abstract socket now reach outside...
        assert_eq!(degraded(&["kill", &pid, "0"]), "ok", "{mode:?}");
        assert_eq!(
            degraded(&["abstract_connect", &listener_name]),
            "ok",
            "{mode:?}"
        );
        // ... and nothing else was given up.
        assert_eq!(
            degraded(&["tcp_connect", "127.0.0.1", &tcp_port]),
            "err EACCES",
            "{mode:?}"
        );
        assert_eq!(degraded(&["read", &secret]), "err EACCES", "{mode:?}");
        assert_eq!(degraded(&["sys", "mount"]), "err EPERM", "{mode:?}");
    }
}

#[test]
fn an_unexecutable_command_says_which_file_and_which_rule() {
    for mode in Mode::ALL {
        let t = TempDir::new("unexec");
        let bin = t.subdir("bin");
        let tool = format!("{bin}/tool");
        std::fs::copy("/bin/true", &tool).unwrap();
        let scripts = t.subdir("scripts");
        let script = |name: &str, interp: &str| {
            let p = t.file(&format!("scripts/{name}"), &format!("#!{interp}\n"));
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
            p
        };
        let missing = script("missing", "/no/such/interpreter");
        let outside = script("outside", &tool);
        let dir = scripts;
        let system = util::system_flags();
        let with = |extra: &[&str], cmd: &[&str]| {
            let mut argv = vec!["run"];
            argv.extend(system.iter().map(String::as_str));
            argv.extend_from_slice(extra);
            argv.push("--");
            argv.extend_from_slice(cmd);
            run(mode.sandlet(&argv))
        };
        // The command itself outside the rules: found on PATH, named with its file.
        let out = with(&["--env", &format!("PATH={bin}")], &["tool"]);
        util::assert_one_error_line(&out, 126);
        let want = format!("tool ({tool}): cannot execute");
        assert!(out.err().contains(&want), "{mode:?}: {}", out.err());
        assert!(
            out.err().contains(&format!("add -r {bin}")),
            "{}",
            out.err()
        );
        // A script whose interpreter the rules leave out, or that does not exist.
        let out = with(&["-r", &dir], &[&outside]);
        util::assert_one_error_line(&out, 126);
        assert!(
            out.err().contains(&format!("script for {tool}")) && out.err().contains("add -r"),
            "{mode:?}: {}",
            out.err()
        );
        let out = with(&["-r", &dir], &[&missing]);
        util::assert_one_error_line(&out, 126);
        assert!(
            out.err().contains("does not exist"),
            "{mode:?}: {}",
            out.err()
        );
        // Control: with the rule the tool runs.
        with(&["-r", &bin, "-r", &dir], &[&outside]).expect_code(0);
    }
}

#[test]
fn a_closed_stderr_does_not_change_the_exit_code() {
    // The timeout's message meets a closed pipe: the exit code stays 124, as with a
    // readable stderr (the control).
    for mode in Mode::ALL {
        let argv = ["run", "-t", "0.3", "--", "/bin/sleep", "5"];
        let control = run(mode.sandlet(&argv));
        assert_eq!(control.code(), 124, "{mode:?} control: {}", control.err());
        let mut cmd = mode.sandlet(&argv);
        cmd.stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        drop(child.stderr.take()); // the read end is closed: writes get EPIPE
        let deadline = std::time::Instant::now() + util::WATCHDOG;
        let status = loop {
            if let Some(st) = child.try_wait().unwrap() {
                break st;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{mode:?}: still running"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        };
        assert_eq!(status.code(), Some(124), "{mode:?}: {status}");
    }
}
