//! What the child sets up before exec: capabilities, no_new_privs, rlimits, personality,
//! THP, inherited fds, signal dispositions and mask, process group, cwd, environment.

mod util;

use std::process::Command;
use std::time::Duration;

use util::{
    bare, probe, probe_dir, run, sandboxed, sandlet, with_core_limit,
    with_signals_ignored_and_blocked, Mode, Running, TempDir,
};

const ZERO: &str = "0000000000000000";

/// `probe caps` fields: CapEff CapPrm CapInh CapBnd CapAmb.
fn caps(line: &str) -> Vec<String> {
    let f: Vec<String> = line
        .strip_prefix("ok ")
        .unwrap_or_else(|| panic!("probe caps: {line}"))
        .split(' ')
        .map(str::to_owned)
        .collect();
    assert_eq!(f.len(), 5, "{line}");
    f
}

#[test]
fn root_capabilities_dropped() {
    let outside = caps(&bare(Mode::Root, &["caps"]));
    assert_ne!(outside[0], ZERO, "control: root has effective capabilities");
    assert_ne!(outside[3], ZERO, "control: root has a bounding set");
    let inside = caps(&sandboxed(Mode::Root, &["-r", "/proc"], &["caps"]));
    assert_eq!(inside, vec![ZERO; 5], "Eff Prm Inh Bnd Amb under sandlet");
}

#[test]
fn root_capabilities_kept_with_keep_caps() {
    let outside = caps(&bare(Mode::Root, &["caps"]));
    let inside = caps(&sandboxed(
        Mode::Root,
        &["--keep-caps", "-r", "/proc"],
        &["caps"],
    ));
    assert_ne!(inside[0], ZERO, "--keep-caps: effective set");
    assert_eq!(inside, outside, "--keep-caps keeps every set as it was");
}

/// uid 65534 holding an ambient capability (given by setpriv), so there is something to
/// drop.
fn nobody_with_ambient_cap(argv: &[&str]) -> Command {
    let mut c = Command::new("setpriv");
    c.args([
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
        "--inh-caps=+net_bind_service",
        "--ambient-caps=+net_bind_service",
        "--",
    ]);
    c.args(argv);
    c
}

#[test]
fn unprivileged_capabilities_dropped() {
    const NET_BIND_SERVICE: &str = "0000000000000400";
    let control = run(nobody_with_ambient_cap(&[probe(), "caps"])).probe_line();
    let control = caps(&control);
    assert_eq!(control[0], NET_BIND_SERVICE, "control: effective");
    assert_eq!(control[4], NET_BIND_SERVICE, "control: ambient");

    let flags = [
        "run",
        "-r",
        "/proc",
        "-r",
        probe_dir(),
        "--",
        probe(),
        "caps",
    ];
    let mut argv = vec![sandlet()];
    argv.extend(flags);
    let inside = caps(&run(nobody_with_ambient_cap(&argv)).probe_line());
    // Eff, Prm, Inh, Amb. The bounding set cannot be changed without CAP_SETPCAP; with
    // no_new_privs and nothing permitted it grants nothing.
    for (i, name) in [(0, "CapEff"), (1, "CapPrm"), (2, "CapInh"), (4, "CapAmb")] {
        assert_eq!(inside[i], ZERO, "{name} under sandlet as uid 65534");
    }

    let mut argv = vec![sandlet(), "run", "--keep-caps"];
    argv.extend(&flags[1..]);
    let kept = caps(&run(nobody_with_ambient_cap(&argv)).probe_line());
    assert_eq!(
        kept[0], NET_BIND_SERVICE,
        "--keep-caps keeps the ambient capability"
    );
}

#[test]
fn no_new_privs_set() {
    for mode in Mode::ALL {
        assert_eq!(bare(mode, &["nnp"]), "ok 0", "{mode:?} control");
        assert_eq!(sandboxed(mode, &[], &["nnp"]), "ok 1", "{mode:?}");
        assert_eq!(
            sandboxed(mode, &["--keep-caps"], &["nnp"]),
            "ok 1",
            "{mode:?}"
        );
    }
}

#[test]
fn max_open_files() {
    let mut own = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: own is a valid rlimit to write to.
    assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut own) }, 0);
    for mode in Mode::ALL {
        let outside = bare(mode, &["nofile"]);
        assert_ne!(outside, "ok 64 64", "{mode:?} control");
        assert_eq!(
            sandboxed(mode, &[], &["nofile"]),
            outside,
            "{mode:?} no flag"
        );
        assert_eq!(
            sandboxed(mode, &["--max-open-files", "64"], &["nofile"]),
            "ok 64 64",
            "{mode:?}"
        );
        assert_eq!(
            sandboxed(mode, &["--max-open-files=64"], &["nofile"]),
            "ok 64 64",
            "{mode:?}"
        );
        // Above sandlet's own hard limit: clamped to it, not an error.
        let hard = own.rlim_max;
        assert_ne!(
            hard,
            libc::RLIM_INFINITY,
            "test needs a finite NOFILE hard limit"
        );
        // Limits below what the setup itself needs (the seccomp listener, the report
        // socket, inherited descriptors) apply all the same: the limit is set last.
        for n in ["0", "3", "12"] {
            assert_eq!(
                sandboxed(mode, &["--max-open-files", n], &["nofile"]),
                format!("ok {n} {n}"),
                "{mode:?}"
            );
        }
        let above = (hard + 1000).to_string();
        assert_eq!(
            sandboxed(mode, &["--max-open-files", &above], &["nofile"]),
            format!("ok {hard} {hard}"),
            "{mode:?}"
        );
    }
}

#[test]
fn no_coredump() {
    const CORE: u64 = 1 << 20;
    for mode in Mode::ALL {
        let mut c = mode.command(&[probe(), "core"]);
        with_core_limit(&mut c, CORE);
        assert_eq!(run(c).probe_line(), format!("ok {CORE} {CORE}"), "control");

        let flags = ["run", "-r", probe_dir(), "--", probe(), "core"];
        let mut c = mode.sandlet(&flags);
        with_core_limit(&mut c, CORE);
        assert_eq!(run(c).probe_line(), format!("ok {CORE} {CORE}"), "no flag");

        let mut c = mode.sandlet(&[
            "run",
            "--no-coredump",
            "-r",
            probe_dir(),
            "--",
            probe(),
            "core",
        ]);
        with_core_limit(&mut c, CORE);
        assert_eq!(run(c).probe_line(), "ok 0 0", "{mode:?} --no-coredump");
    }
}

#[test]
fn no_huge_pages() {
    for mode in Mode::ALL {
        assert_eq!(bare(mode, &["thp"]), "ok 0", "{mode:?} control");
        assert_eq!(sandboxed(mode, &[], &["thp"]), "ok 0", "{mode:?}");
        assert_eq!(
            sandboxed(mode, &["--no-huge-pages"], &["thp"]),
            "ok 1",
            "{mode:?}"
        );
    }
}

#[test]
fn no_randomize_memory() {
    const ADDR_NO_RANDOMIZE: u64 = 0x0040000;
    let persona = |line: String| -> u64 {
        let hex = line
            .strip_prefix("ok 0x")
            .unwrap_or_else(|| panic!("probe persona: {line}"));
        u64::from_str_radix(hex, 16).expect("hex persona")
    };
    for mode in Mode::ALL {
        assert_eq!(persona(bare(mode, &["persona"])) & ADDR_NO_RANDOMIZE, 0);
        assert_eq!(
            persona(sandboxed(mode, &[], &["persona"])) & ADDR_NO_RANDOMIZE,
            0
        );
        let p = persona(sandboxed(mode, &["--no-randomize-memory"], &["persona"]));
        assert_eq!(p & ADDR_NO_RANDOMIZE, ADDR_NO_RANDOMIZE, "{mode:?}: {p:#x}");
    }
}

/// The fd numbers `probe fds` lists.
fn fds(line: &str) -> Vec<u32> {
    line.strip_prefix("ok")
        .unwrap_or_else(|| panic!("probe fds: {line}"))
        .split_whitespace()
        .map(|x| x.parse().expect("fd"))
        .collect()
}

#[test]
fn inherited_fds_closed() {
    for mode in Mode::ALL {
        let control = format!("exec 7</dev/null; exec {} fds", probe());
        let control = run(mode.command(&["sh", "-c", &control])).probe_line();
        assert!(fds(&control).contains(&7), "{mode:?} control: {control}");

        let script = format!(
            "exec 7</dev/null; exec {} run -r /proc -r {} -- {} fds",
            sandlet(),
            probe_dir(),
            probe()
        );
        let inside = run(mode.command(&["sh", "-c", &script])).probe_line();
        assert_eq!(fds(&inside), vec![0, 1, 2], "{mode:?}: {inside}");
    }
}

/// Signals the test ignores and blocks before starting the command (32 and 33 are the
/// ones glibc keeps for itself; a program started by glibc's posix_spawn, e.g. from Rust's
/// `Command`, already has them ignored). glibc unblocks 32/33 at start-up, so only
/// ordinary and real-time signals are blocked.
const IGNORED: [i32; 4] = [libc::SIGHUP, libc::SIGUSR1, 32, 33];
const BLOCKED: [i32; 2] = [libc::SIGUSR2, 40];

fn sig_masks(line: &str) -> (u64, u64) {
    let f: Vec<u64> = line
        .strip_prefix("ok ")
        .unwrap_or_else(|| panic!("probe sigs: {line}"))
        .split(' ')
        .map(|x| u64::from_str_radix(x, 16).expect("hex mask"))
        .collect();
    (f[0], f[1])
}

/// SigBlk and SigIgn are hex masks, bit N-1 for signal N.
fn bits(sigs: &[i32]) -> u64 {
    sigs.iter().fold(0, |m, &s| m | 1 << (s - 1))
}

#[test]
fn signal_dispositions_and_mask_reset() {
    for mode in Mode::ALL {
        // Control: without sandlet, all of them reach the probe.
        let control = format!("trap '' USR1 USR2 PIPE; exec {} sigs", probe());
        let mut c = mode.command(&["sh", "-c", &control]);
        with_signals_ignored_and_blocked(&mut c, &IGNORED, &BLOCKED);
        let (blocked, ignored) = sig_masks(&run(c).probe_line());
        assert_eq!(
            blocked & bits(&BLOCKED),
            bits(&BLOCKED),
            "control {blocked:#x}"
        );
        let want = bits(&IGNORED) | bits(&[libc::SIGUSR2, libc::SIGPIPE]);
        assert_eq!(ignored & want, want, "control: {ignored:#x}");

        let script = format!(
            "trap '' USR1 USR2 PIPE; exec {} run -r /proc -r {} -- {} sigs",
            sandlet(),
            probe_dir(),
            probe()
        );
        let mut c = mode.command(&["sh", "-c", &script]);
        with_signals_ignored_and_blocked(&mut c, &IGNORED, &BLOCKED);
        let (blocked, ignored) = sig_masks(&run(c).probe_line());
        assert_eq!(blocked, 0, "{mode:?}: blocked signals {blocked:#x}");
        assert_eq!(ignored, 0, "{mode:?}: ignored signals {ignored:#x}");
    }
}

/// The ordinary signals alone (1..=31): ignored or blocked ones are reset too.
#[test]
fn standard_signal_dispositions_and_mask_reset() {
    let ignored_sigs = [libc::SIGHUP, libc::SIGUSR1, libc::SIGINT, libc::SIGTERM];
    let blocked_sigs = [libc::SIGUSR2, libc::SIGTERM, libc::SIGCHLD];
    for mode in Mode::ALL {
        // Control: without sandlet the probe inherits them.
        let mut c = mode.command(&[probe(), "sigs"]);
        with_signals_ignored_and_blocked(&mut c, &ignored_sigs, &blocked_sigs);
        let (blocked, ignored) = sig_masks(&run(c).probe_line());
        assert_eq!(
            blocked & bits(&blocked_sigs),
            bits(&blocked_sigs),
            "{mode:?} control: {blocked:#x}"
        );
        assert_eq!(
            ignored & bits(&ignored_sigs),
            bits(&ignored_sigs),
            "{mode:?} control: {ignored:#x}"
        );
        let flags = [
            "run",
            "-r",
            "/proc",
            "-r",
            probe_dir(),
            "--",
            probe(),
            "sigs",
        ];
        let mut c = mode.sandlet(&flags);
        with_signals_ignored_and_blocked(&mut c, &ignored_sigs, &blocked_sigs);
        let (blocked, ignored) = sig_masks(&run(c).probe_line());
        let std_mask = (1u64 << 31) - 1;
        assert_eq!(
            blocked & std_mask,
            0,
            "{mode:?}: blocked signals {blocked:#x}"
        );
        assert_eq!(
            ignored & std_mask,
            0,
            "{mode:?}: ignored signals {ignored:#x}"
        );
    }
}

#[test]
fn yes_pipe_head_ends() {
    // `yes` reports how it ended: 141 = killed by SIGPIPE (default disposition), 1 =
    // write error (SIGPIPE ignored, inherited through the shells and sandlet).
    let inner = "(yes; echo yes=$? >&2) | head -n1";
    for mode in Mode::ALL {
        let control = format!("trap '' PIPE; exec sh -c '{inner}'");
        let out = run(mode.command(&["sh", "-c", &control]));
        out.expect_code(0);
        assert!(
            out.err().contains("yes=1"),
            "{mode:?} control: {}",
            out.err()
        );

        let script = format!("trap '' PIPE; exec {} run -- sh -c '{inner}'", sandlet());
        let run = Running::start(mode.command(&["sh", "-c", &script]));
        assert_eq!(run.line(), "y");
        let (status, stderr) = run.wait_for(Duration::from_secs(10));
        assert_eq!(status.code(), Some(0), "{mode:?}: {stderr}");
        assert!(stderr.contains("yes=141"), "{mode:?}: {stderr}");
    }
}

#[test]
fn working_directory() {
    for mode in Mode::ALL {
        let t = TempDir::new("cwd");
        let dir = std::fs::canonicalize(t.path()).unwrap();
        let dir = dir.to_str().unwrap();
        let here = std::env::current_dir().unwrap();
        assert_ne!(here.to_str().unwrap(), dir);
        assert_eq!(
            sandboxed(mode, &[], &["cwd"]),
            format!("ok {}", here.display()),
            "{mode:?} no --cwd"
        );
        assert_eq!(
            sandboxed(mode, &["--cwd", dir], &["cwd"]),
            format!("ok {dir}"),
            "{mode:?}"
        );
        assert_eq!(
            sandboxed(mode, &[&format!("--cwd={dir}")], &["cwd"]),
            format!("ok {dir}"),
            "{mode:?}"
        );
    }
}

#[test]
fn environment() {
    let env_of = |mode: Mode, flags: &[&str]| -> Vec<String> {
        let mut argv = vec!["run"];
        argv.extend_from_slice(flags);
        argv.extend(["--", "/usr/bin/env"]);
        let mut c = mode.sandlet(&argv);
        c.env("SANDLET_TEST_MARK", "present");
        let out = run(c);
        out.expect_code(0);
        out.out().lines().map(str::to_owned).collect()
    };
    for mode in Mode::ALL {
        let clean = env_of(mode, &["--clean-env", "--env", "A=1"]);
        assert_eq!(clean, vec!["A=1"], "{mode:?}");
        let clean = env_of(mode, &["--clean-env"]);
        assert!(clean.is_empty(), "{mode:?}: {clean:?}");
        // Without PATH the command is still found by name.
        let out = run(mode.sandlet(&["run", "--clean-env", "--env", "B=2", "--", "env"]));
        out.expect_code(0);
        assert_eq!(out.out(), "B=2", "{mode:?}");

        // Control: without --clean-env the environment is inherited, plus A.
        let full = env_of(mode, &["--env", "A=1"]);
        assert!(full.contains(&"A=1".to_owned()), "{mode:?}: {full:?}");
        assert!(full.contains(&"SANDLET_TEST_MARK=present".to_owned()));
        // --env replaces an inherited value (once, not twice).
        let over = env_of(mode, &["--env=SANDLET_TEST_MARK=new"]);
        let marks: Vec<&String> = over
            .iter()
            .filter(|v| v.starts_with("SANDLET_TEST_MARK="))
            .collect();
        assert_eq!(marks, vec!["SANDLET_TEST_MARK=new"], "{mode:?}");
    }
}

#[test]
fn own_process_group() {
    for mode in Mode::ALL {
        let pg = |line: String| -> (i64, i64) {
            let f: Vec<i64> = line
                .strip_prefix("ok ")
                .unwrap_or_else(|| panic!("probe pgid: {line}"))
                .split(' ')
                .map(|x| x.parse().expect("number"))
                .collect();
            (f[0], f[1])
        };
        let (pgid, pid) = pg(bare(mode, &["pgid"]));
        assert_ne!(
            pgid, pid,
            "{mode:?} control: the bare probe is in the test's group"
        );
        let (pgid, pid) = pg(sandboxed(mode, &[], &["pgid"]));
        assert_eq!(pgid, pid, "{mode:?}: pgid of the sandboxed command");
    }
}
