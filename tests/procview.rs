//! The /proc view: with /proc readable, processes outside the sandbox do not exist for
//! the command, sensitive host files are refused, and /proc/meminfo shows the memory
//! limit. Each check has a bare control showing the host would have allowed it.

mod util;

use std::os::unix::fs::PermissionsExt;
use std::process::Stdio;

use util::{bare, run, sandboxed, Mode, Target, TempDir};

/// Read access to the whole file system (so /proc is readable and the view is on).
const ALL: [&str; 2] = ["-r", "/"];

#[test]
fn foreign_processes_do_not_exist() {
    for mode in Mode::ALL {
        let host = Target::start(mode);
        let pid = host.pid();
        let dir = format!("/proc/{pid}");
        let stat = format!("/proc/{pid}/stat");
        let environ = format!("/proc/{pid}/environ");
        let exe = format!("/proc/{pid}/exe");
        // Controls: outside a sandbox the process is there.
        assert_eq!(bare(mode, &["read", &stat]), "ok", "{mode:?}");
        assert_eq!(bare(mode, &["stat", &dir]), "ok", "{mode:?}");
        assert!(bare(mode, &["names", "/proc"]).split(' ').any(|p| p == pid));
        for args in [
            ["read", stat.as_str()],
            ["read", environ.as_str()],
            ["stat", dir.as_str()],
            ["readlink", exe.as_str()],
            ["chdir", dir.as_str()],
            ["listdir", dir.as_str()],
        ] {
            assert_eq!(
                sandboxed(mode, &ALL, &args),
                "err ENOENT",
                "{mode:?} {args:?}"
            );
        }
        let listed = sandboxed(mode, &ALL, &["names", "/proc"]);
        assert!(!listed.split(' ').any(|p| p == pid), "{mode:?}: {listed}");
        assert!(
            !listed.split(' ').any(|p| p == "1"),
            "{mode:?}: init listed"
        );
        // The sandbox's own processes are there.
        assert_eq!(sandboxed(mode, &ALL, &["read", "/proc/self/status"]), "ok");
        assert!(listed.split(' ').any(|p| p == "self"), "{mode:?}: {listed}");
        // With only -r /proc (not /) the view is on too.
        let flags = ["-r", "/proc"];
        assert_eq!(
            sandboxed(mode, &flags, &["read", &stat]),
            "err ENOENT",
            "{mode:?}"
        );
    }
}

#[test]
fn a_racing_path_cannot_open_a_foreign_process() {
    let host = Target::start(Mode::Root);
    let foreign = format!("/proc/{}/stat", host.pid());
    let probe = util::probe();
    // "ok ESCAPED OPENED": opens that reached the foreign file, opens that succeeded.
    let field = |line: &str, i: usize| line.split(' ').nth(i).unwrap().parse::<u64>().unwrap();
    // Control: bare, the flipping thread gets opens of the foreign file through (a race:
    // a few tries, the flipper may not get a CPU of its own in a short one).
    let control = (0..5)
        .map(|_| bare(Mode::Root, &["open_race", probe, &foreign, "20000"]))
        .find(|line| field(line, 1) > 0);
    assert!(control.is_some(), "control: no open ever reached {foreign}");
    for mode in Mode::ALL {
        let line = sandboxed(mode, &ALL, &["open_race", probe, &foreign, "10000"]);
        assert_eq!(field(&line, 1), 0, "{mode:?}: {line}");
        // Both paths were tried: the probe's own opened, the foreign one was refused.
        let opened = field(&line, 2);
        assert!(opened > 0, "{mode:?}: nothing opened: {line}");
        assert!(
            opened < 10000,
            "{mode:?}: the racing path was never refused: {line}"
        );
    }
}

#[test]
fn sensitive_host_files_are_refused() {
    for mode in Mode::ALL {
        assert_eq!(bare(mode, &["read", "/proc/kallsyms"]), "ok", "control");
        assert_eq!(
            bare(mode, &["names", "/sys/firmware"]).split(' ').next(),
            Some("ok")
        );
        for path in [
            "/proc/kcore",
            "/proc/kallsyms",
            "/proc/keys",
            "/proc/key-users",
            "/proc/sysrq-trigger",
            "/proc/kmsg",
            "/proc/timer_list",
            "/proc/sched_debug",
            "/proc/modules",
            "/proc/self/pagemap",
            "/proc/self/stack",
        ] {
            if !std::path::Path::new(path).exists() {
                util::skip(&format!("{path} does not exist on this kernel"));
                continue;
            }
            // Control: the probe can open it bare (as root; uid 65534 may be refused
            // by the kernel itself, which the sandboxed EACCES cannot be told from).
            let outside = bare(mode, &["open", path]);
            if mode == Mode::Root {
                assert_eq!(outside, "ok", "{mode:?} control {path}");
            }
            assert_eq!(
                sandboxed(mode, &ALL, &["open", path]),
                "err EACCES",
                "{mode:?} {path}"
            );
        }
        for dir in ["/sys/firmware", "/sys/kernel/security"] {
            if std::path::Path::new(dir).exists() {
                let got = sandboxed(mode, &ALL, &["listdir", dir]);
                assert_eq!(got, "err EACCES", "{mode:?} {dir}");
            }
        }
        // Writes beneath /proc are refused (they are not trapped: Landlock does it).
        assert_eq!(bare(mode, &["write", "/proc/self/comm"]), "ok", "control");
        assert_eq!(
            sandboxed(mode, &ALL, &["write", "/proc/self/comm"]),
            "err EACCES",
            "{mode:?}"
        );
        // What is left of / and /sys after carving them out is still listable.
        for dir in ["/", "/sys", "/sys/kernel", "/proc"] {
            assert_eq!(
                sandboxed(mode, &ALL, &["listdir", dir]),
                "ok",
                "{mode:?} {dir}"
            );
        }
    }
}

#[test]
fn meminfo_reports_the_memory_limit() {
    for mode in Mode::ALL {
        let mut args = vec![
            "run",
            "-r",
            "/",
            "-m",
            "64M",
            "--",
            "/bin/grep",
            "MemTotal",
            "/proc/meminfo",
        ];
        let out = run(mode.sandlet(&args));
        let total: Vec<String> = out
            .expect_code(0)
            .out()
            .split_whitespace()
            .map(str::to_owned)
            .collect();
        assert_eq!(total, ["MemTotal:", "65536", "kB"], "{mode:?}");
        // Control: without -m the host's total shows.
        args.drain(3..5);
        let host = run(mode.sandlet(&args)).expect_code(0).out();
        assert_ne!(host.split_whitespace().nth(1), Some("65536"), "{mode:?}");
    }
}

/// `sandlet run -r / -w /dev/null FLAGS -- /bin/sh -c SCRIPT` as `mode`: its stdout.
fn shell(mode: Mode, flags: &[&str], script: &str) -> String {
    let mut args = vec!["run", "-r", "/", "-w", "/dev/null"];
    args.extend_from_slice(flags);
    args.extend_from_slice(&["--", "/bin/sh", "-c", script]);
    run(mode.sandlet(&args)).expect_code(0).out()
}

/// The same script run bare, as `mode`.
fn bare_shell(mode: Mode, script: &str) -> String {
    run(mode.command(&["/bin/sh", "-c", script]))
        .expect_code(0)
        .out()
}

/// Shell lines printing `open X` for each X in `list` (words, `$P` allowed) that
/// `prefix` + X opens for reading; each open is tried in a subshell.
fn try_opens(prefix: &str, list: &str) -> String {
    format!(
        "for f in {list}; do if (exec 3<{prefix}$f) 2>/dev/null; then echo \"open $f\"; fi; done"
    )
}

#[test]
fn the_policy_program_is_outside_the_view() {
    for mode in Mode::ALL {
        let dir = TempDir::new("outsider");
        let pidfile = dir.join("pid");
        let body = format!(
            "#!/bin/sh\necho $$ > {pidfile}.new; mv {pidfile}.new {pidfile}\n\
             while read -r l; do echo allow; done\n"
        );
        let program = dir.file("policy.sh", &body);
        std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o755)).unwrap();
        // Every way in: its files, its descriptors (fd 1 is the verdict pipe), its
        // directory, the listing.
        let opens = try_opens(
            "/proc/$P/",
            "status environ cmdline fd/0 fd/1 task/$P/environ",
        );
        let probe = format!(
            "while [ ! -s {pidfile} ]; do :; done; read -r P < {pidfile}\n{opens}\n\
             ls /proc | grep -qx \"$P\" && echo listed\n\
             [ -e /proc/$P ] && echo exists\necho done"
        );
        // Control: the same probe, bare, against the program run by hand.
        let mut helper = mode.command(&[program.as_str()]);
        let mut helper = helper
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let control = bare_shell(mode, &probe);
        let _ = helper.kill();
        let _ = helper.wait();
        let pid = std::fs::read_to_string(&pidfile).unwrap();
        // (As uid 65534 the helper's pipes, made by the root test, cannot be reopened.)
        let fds = match mode {
            Mode::Root => "open fd/0\nopen fd/1\n",
            Mode::Nobody => "",
        };
        assert_eq!(
            control,
            format!(
                "open status\nopen environ\nopen cmdline\n{fds}open task/{}/environ\n\
                 listed\nexists\ndone",
                pid.trim()
            ),
            "{mode:?} control"
        );
        std::fs::remove_file(&pidfile).unwrap();
        let got = shell(mode, &["--policy-exec", &program], &probe);
        assert_eq!(got, "done", "{mode:?}");
    }
}

#[test]
fn a_descriptor_link_gives_no_more_than_a_read() {
    // /proc/PID/fd/N hands over the open file description itself: only a read-only
    // one may answer a read-only open.
    for mode in Mode::ALL {
        let dir = TempDir::new("fdmode");
        let f = dir.file("f", "x\n");
        let opens = try_opens("/proc/self/fd/", "4 5 6");
        let probe = format!("exec 4>>{f}; exec 5<>{f}; exec 6<{f}\n{opens}\necho done");
        assert_eq!(
            bare_shell(mode, &probe),
            "open 4\nopen 5\nopen 6\ndone",
            "{mode:?} control"
        );
        let w = dir.path().to_str().unwrap().to_owned();
        assert_eq!(shell(mode, &["-w", &w], &probe), "open 6\ndone", "{mode:?}");
    }
}

#[test]
fn the_view_opens_nothing_the_caller_could_not() {
    for mode in Mode::ALL {
        // /proc/iomem shows real addresses only to an opener with CAP_SYS_ADMIN; the
        // supervisor may have it, the command does not.
        assert_eq!(bare(mode, &["read", "/proc/iomem"]), "ok", "control");
        assert_eq!(
            sandboxed(mode, &ALL, &["read", "/proc/iomem"]),
            "err EACCES",
            "{mode:?}"
        );
    }
    let keep = ["-r", "/", "--keep-caps"];
    assert_eq!(
        sandboxed(Mode::Root, &keep, &["read", "/proc/iomem"]),
        "ok",
        "with its capabilities the command reads it itself"
    );
    // A process of the sandbox that became another user (root, --keep-caps) is judged
    // with its own credentials: a root-only file and a root process's environment and
    // memory are refused, as the kernel refuses them bare; its own environment is not.
    let opens = try_opens(
        "",
        "/proc/slabinfo /proc/$P/environ /proc/$P/mem /proc/self/environ",
    )
    .replace('$', "\\$")
    .replace('"', "\\\"")
    .replace("\\$P", "$P");
    let probe = format!(
        "P=$$; setpriv --reuid=65534 --regid=65534 --clear-groups /bin/sh -c \"{opens}; echo done\""
    );
    let want = "open /proc/self/environ\ndone";
    assert_eq!(bare_shell(Mode::Root, &probe), want, "control");
    assert_eq!(shell(Mode::Root, &["--keep-caps"], &probe), want);
}
