//! `sandlet explain`: what it prints is what a run with the same flags enforces,
//! checked by running the probe under those flags.

mod util;

use util::{run, Mode, TempDir};

fn explain(mode: Mode, args: &[&str]) -> util::Output {
    let mut argv = vec!["explain"];
    argv.extend_from_slice(args);
    run(mode.sandlet(&argv))
}

/// The values of `key` in the explanation's text (`  key: a, b`).
fn values(text: &str, key: &str) -> Vec<String> {
    let prefix = format!("  {key}: ");
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .map(|v| v.split(", ").map(str::to_owned).collect())
        .unwrap_or_default()
}

#[test]
fn the_landlock_rules_shown_are_the_ones_enforced() {
    let dir = TempDir::new("explain-fs");
    let (a, b, c) = (dir.subdir("a"), dir.subdir("b"), dir.subdir("c"));
    let (fa, fc) = (dir.file("a/f", "x"), dir.file("c/f", "x"));
    for mode in Mode::ALL {
        let flags = ["-r", util::probe_dir(), "-r", &a, "-w", &b];
        let mut args = flags.to_vec();
        args.extend_from_slice(&["--", util::probe(), "read", &fa]);
        let out = explain(mode, &args);
        assert_eq!(out.code(), 0, "{mode:?}: {}", out.err());
        let text = out.out();
        assert_eq!(
            values(&text, &format!("beneath {a}")),
            ["execute", "read files", "list directories"],
            "{text}"
        );
        let written = values(&text, &format!("beneath {b}"));
        assert!(written.contains(&"write files".to_owned()), "{text}");
        assert!(written.contains(&"remove files".to_owned()), "{text}");
        assert!(!text.contains(&c), "{text}");
        // The same flags, enforced.
        let probe = |args: &[&str]| util::sandboxed(mode, &flags[2..], args);
        assert_eq!(probe(&["read", &fa]), "ok", "{mode:?}");
        assert_eq!(probe(&["write", &fa]), "err EACCES", "{mode:?}");
        let new = format!("{b}/new-{mode:?}");
        assert_eq!(probe(&["write", &new]), "ok", "{mode:?}");
        assert_eq!(probe(&["read", &fc]), "err EACCES", "{mode:?}");
        assert_eq!(util::bare(mode, &["read", &fc]), "ok", "{mode:?} control");
    }
}

#[test]
fn the_filter_shown_is_the_one_installed() {
    // Every syscall the explanation says is refused with EPERM (by number or by its
    // arguments) and the probe can call is refused; one it does not list (getppid) is
    // not, until a flag adds it.
    let known = [
        "mount",
        "umount2",
        "pivot_root",
        "chroot",
        "swapon",
        "reboot",
        "sethostname",
        "unshare",
        "setns",
        "bpf",
        "userfaultfd",
        "keyctl",
        "ptrace",
        "process_vm_readv",
        "open_by_handle_at",
        "iopl",
        "acct",
        "io_uring_setup",
        "shmget",
        "msgget",
        "semget",
        "personality",
        "getppid",
    ];
    for mode in Mode::ALL {
        for extra in [None, Some("getppid")] {
            let mut flags = vec!["-r", util::probe_dir()];
            if let Some(e) = extra {
                flags.extend_from_slice(&["--extra-deny-syscall", e]);
            }
            let mut args = flags.clone();
            args.extend_from_slice(&["--", util::probe(), "exit", "0"]);
            let text = explain(mode, &args).out();
            let refused = values(&text, "refused with EPERM");
            assert!(refused.len() > 40, "{text}");
            assert_eq!(refused.contains(&"getppid".to_owned()), extra.is_some());
            let by_argument = |name: &str| {
                text.lines().any(|l| {
                    l.strip_prefix("  refused by argument: ")
                        .and_then(|l| l.split(':').next())
                        .is_some_and(|calls| calls.split(", ").any(|c| c == name))
                })
            };
            assert!(by_argument("personality"), "{text}");
            for name in known {
                let action = if name == "getppid" {
                    vec![name]
                } else {
                    vec!["sys", name]
                };
                let got = util::sandboxed(mode, &flags[2..], &action);
                let listed = refused.iter().any(|r| r == name) || by_argument(name);
                assert_eq!(
                    got == "err EPERM",
                    listed,
                    "{mode:?} {extra:?} {name}: {got}"
                );
            }
            // One filter of sandlet's, as /proc/self/status says.
            let mut with_proc = flags[2..].to_vec();
            with_proc.extend_from_slice(&["-r", "/proc"]);
            let status = util::sandboxed(mode, &with_proc, &["seccomp_status"]);
            assert_eq!(status, "ok 2 1", "{mode:?}");
        }
        // Traps: each flag adds what it says, and only that.
        let default = explain(mode, &["--", "/bin/true"]).out();
        let trapped: Vec<&str> = default.lines().filter(|l| l.contains("trapped:")).collect();
        assert_eq!(trapped.len(), 1, "{default}");
        assert!(trapped[0].contains("clone, fork, vfork"), "{default}");
        let named = explain(mode, &["--name", "box", "--", "/bin/true"]).out();
        assert!(named.contains("trapped: uname: --name"), "{named}");
        assert!(named.contains("name: box"), "{named}");
    }
}

#[test]
fn json_and_bpf() {
    let out = explain(Mode::Root, &["--bpf", "-m", "64M", "--", "/bin/true"]);
    let text = out.out();
    let count: usize = values(&text, "BPF instructions")[0].parse().unwrap();
    let listing = text
        .lines()
        .skip_while(|l| !l.starts_with("  BPF:"))
        .skip(1)
        .take_while(|l| l.contains('\t'))
        .count();
    assert_eq!(listing, count, "{text}");
    assert!(text.contains("ret NOTIFY (the supervisor)"), "{text}");
    let json = explain(
        Mode::Root,
        &["--format", "json", "--name", "box-7", "--", "/bin/true"],
    );
    assert_eq!(json.code(), 0);
    let Ok(py) = std::process::Command::new("python3")
        .args([
            "-c",
            "import json,sys; d=json.load(sys.stdin); print(d['virtualization']['name'][0], \
             d['limits']['processes (-P)'][0])",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
    else {
        util::skip("python3 is not installed to parse the JSON");
        return;
    };
    let mut py = py;
    use std::io::Write;
    py.stdin
        .take()
        .unwrap()
        .write_all(json.out().as_bytes())
        .unwrap();
    let parsed = py.wait_with_output().unwrap();
    assert_eq!(String::from_utf8_lossy(&parsed.stdout).trim(), "box-7 64");
}

#[test]
fn explain_runs_nothing_and_refuses_bad_input() {
    let dir = TempDir::new("explain-nothing");
    let marker = dir.join("ran");
    for mode in Mode::ALL {
        let out = explain(
            mode,
            &[
                "-w",
                dir.path().to_str().unwrap(),
                "--",
                "/bin/touch",
                &marker,
            ],
        );
        assert_eq!(out.code(), 0, "{mode:?}: {}", out.err());
        assert!(!std::path::Path::new(&marker).exists(), "{mode:?}");
        for bad in [
            &["--format", "yaml", "--", "/bin/true"][..],
            &["-m", "lots", "--", "/bin/true"],
            &["--bogus", "--", "/bin/true"],
        ] {
            util::assert_one_error_line(&explain(mode, bad), 2);
        }
    }
}
