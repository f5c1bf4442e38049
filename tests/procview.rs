//! The /proc view: with /proc readable, processes outside the sandbox do not exist for
//! the command, sensitive host files are refused, and /proc/meminfo shows the memory
//! limit. Each check has a bare control showing the host would have allowed it.

mod util;

use util::{bare, run, sandboxed, Mode, Target};

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
    // Control: bare, the flipping thread gets opens of the foreign file through.
    let control = bare(Mode::Root, &["open_race", probe, &foreign, "5000"]);
    let escaped = |line: &str| line.split(' ').nth(1).unwrap().parse::<u64>().unwrap();
    assert!(escaped(&control) > 0, "control: {control}");
    for mode in Mode::ALL {
        let line = sandboxed(mode, &ALL, &["open_race", probe, &foreign, "10000"]);
        assert_eq!(escaped(&line), 0, "{mode:?}: {line}");
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
            "/proc/sysrq-trigger",
            "/proc/kmsg",
            "/proc/self/pagemap",
        ] {
            assert_eq!(
                sandboxed(mode, &ALL, &["read", path]),
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
