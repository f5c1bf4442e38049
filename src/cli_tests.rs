//! Unit tests of the command line (`cli.rs`).

use super::*;
use crate::policy::parse;
use crate::policy::protection::Protection;
use crate::policy::syscalls::{group, Syscalls};

use crate::policy::{net, Spec};
use std::time::{Duration, UNIX_EPOCH};

fn strs(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[test]
fn value_flags_are_every_option_with_a_value() {
    let flags = run_flags();
    assert!(flags.len() > 30, "{flags:?}");
    let from_help: Vec<(Option<char>, &str)> = flags
        .iter()
        .filter(|f| f.takes_value)
        .map(|f| (f.short, f.long.as_str()))
        .collect();
    let mut listed: Vec<(Option<char>, &str)> = VALUE_FLAGS.to_vec();
    let mut from_help = from_help;
    listed.sort();
    from_help.sort();
    assert_eq!(
        listed, from_help,
        "VALUE_FLAGS must list every option that takes a value"
    );
    assert!(flags
        .iter()
        .any(|f| f.long == "--clean-env" && !f.takes_value));
}

#[test]
fn normalize_splits_value_forms() {
    assert_eq!(
        normalize(&strs(&[
            "run",
            "--fs-read=/usr",
            "-r/lib",
            "-t",
            "5",
            "--",
            "x"
        ])),
        strs(&[
            "run",
            "--fs-read",
            "/usr",
            "-r",
            "/lib",
            "-t",
            "5",
            "--",
            "x"
        ])
    );
}

#[test]
fn normalize_stops_at_command() {
    assert_eq!(
        normalize(&strs(&["run", "ls", "-rX", "--cwd=/"])),
        strs(&["run", "ls", "-rX", "--cwd=/"])
    );
    assert_eq!(
        normalize(&strs(&["run", "--cwd", "-rweird", "--", "-r5"])),
        strs(&["run", "--cwd", "-rweird", "--", "-r5"])
    );
    assert_eq!(
        normalize(&strs(&["run", "--no-coredump=x"])),
        strs(&["run", "--no-coredump=x"])
    );
}

fn os(v: &[&str]) -> Vec<OsString> {
    v.iter().map(OsString::from).collect()
}

#[test]
fn parse_run_with_separator_keeps_command_raw() {
    match parse(&os(&["run", "-r", "/usr", "--", "ls", "-la", "--help"])) {
        Parsed::Run(args, cmd) => {
            assert_eq!(args.fs_read, vec!["/usr"]);
            assert_eq!(cmd, os(&["ls", "-la", "--help"]));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn parse_errors_and_specials() {
    assert!(matches!(parse(&os(&["run", "--bogus"])), Parsed::Usage(_)));
    assert!(matches!(parse(&os(&["--version"])), Parsed::Version));
    assert!(matches!(parse(&os(&["check"])), Parsed::Check));
    assert!(matches!(parse(&os(&["run", "--help"])), Parsed::Help(_)));
    assert!(matches!(parse(&os(&[])), Parsed::Usage(_)));
}

fn spec_of(argv: &[&str]) -> Result<Spec, PolicyError> {
    match parse(&os(argv)) {
        Parsed::Run(args, cmd) => spec(&args, cmd),
        other => panic!("{other:?}"),
    }
}

#[test]
fn spec_holds_every_flag_typed() {
    let s = spec_of(&[
        "run",
        "-r",
        "/usr",
        "-w",
        "/tmp",
        "--cwd",
        "/",
        "--clean-env",
        "--env",
        "A=1=2",
        "-t",
        "250ms",
        "--max-open-files",
        "64",
        "--no-coredump",
        "--no-randomize-memory",
        "--no-huge-pages",
        "-P",
        "5",
        "-m",
        "1.5G",
        "--memory-kill",
        "-c",
        "50",
        "--cpu-cores",
        "1,0",
        "--net-allow",
        "tcp://10.0.0.0/8:22",
        "--net-allow-bind",
        "80",
        "--net-allow-bind",
        "81",
        "--net-deny-bind",
        "22",
        "--port-remap",
        "--extra-deny-syscall",
        "getpid",
        "--extra-deny-syscall",
        "sysv_ipc",
        "--extra-allow-syscall",
        "sysv_ipc",
        "--allow-degraded",
        "fs-refer",
        "--keep-caps",
        "--name",
        "box",
        "--random-seed",
        "7",
        "--time-start",
        "1",
        "--num-cpus",
        "2",
        "--deterministic-dirs",
        "--deny-exec",
        "curl",
        "--policy-exec",
        "/bin/p",
        "--policy-timeout",
        "10",
        "--workers",
        "3",
        "--",
        "prog",
        "arg",
    ])
    .unwrap();
    let sysv = group("sysv_ipc").unwrap();
    let expected = Spec {
        command: os(&["prog", "arg"]),
        fs_read: vec!["/usr".into()],
        fs_write: vec!["/tmp".into()],
        no_default_devices: false,
        cwd: Some("/".into()),
        clean_env: true,
        env: vec![("A".into(), "1=2".into())],
        timeout: Some(Duration::from_millis(250)),
        max_open_files: Some(64),
        no_coredump: true,
        no_randomize_memory: true,
        no_huge_pages: true,
        max_processes: Some(5),
        max_memory: Some(3 << 29),
        memory_kill: true,
        cpu_percent: Some(50),
        cpu_cores: Some(vec![0, 1]),
        net_allow: vec![net::parse_net_spec("tcp://10.0.0.0/8:22").unwrap()],
        net_deny: vec![],
        net_allow_bind: Some(parse::parse_ports("80-81").unwrap()),
        net_deny_bind: parse::parse_ports("22").unwrap(),
        port_remap: true,
        extra_deny_syscalls: vec![Syscalls::named("getpid").unwrap(), Syscalls::Group(sysv)],
        extra_allow_groups: vec![sysv],
        allow_degraded: vec![Protection::FsRefer],
        keep_caps: true,
        name: Some("box".into()),
        random_seed: Some(7),
        time_start: Some(UNIX_EPOCH + Duration::from_secs(1)),
        num_cpus: Some(2),
        deterministic_dirs: true,
        deny_exec: vec!["curl".into()],
        policy_exec: Some("/bin/p".into()),
        policy_timeout: Some(Duration::from_millis(10)),
        workers: Some(3),
        no_supervisor: false,
        view: Default::default(),
        status_fd: None,
        learn: false,
        user: None,
    };
    assert_eq!(s, expected);
    let bare = spec_of(&["run", "--", "true"]).unwrap();
    assert_eq!(
        bare,
        Spec {
            command: os(&["true"]),
            ..Spec::default()
        }
    );
}

#[test]
fn spec_errors_quote_the_flag_and_value() {
    for (argv, text) in [
        (&["run", "-m", "lots", "--", "x"][..], "--max-memory 'lots'"),
        (
            &["run", "-P", "4294967296", "--", "x"],
            "--max-processes '4294967296'",
        ),
        (
            &["run", "--workers", "99999999999999999999", "--", "x"],
            "--workers",
        ),
        (
            &["run", "--extra-deny-syscall", "nope", "--", "x"],
            "'nope'",
        ),
        (
            &["run", "--extra-allow-syscall", "mount", "--", "x"],
            "'mount'",
        ),
        (&["run", "--allow-degraded", "all", "--", "x"], "'all'"),
        (&["run", "--net-allow", "a:b:c", "--", "x"], "--net-allow"),
        (&["run", "--env", "NOEQUALS", "--", "x"], "--env 'NOEQUALS'"),
    ] {
        let err = spec_of(argv).unwrap_err().to_string();
        assert!(err.contains(text), "{argv:?}: {err}");
    }
}
