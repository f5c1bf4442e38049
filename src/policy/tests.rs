//! Unit tests of `Policy::new`: what a `Spec` becomes, and what it may not be.

use std::time::{Duration, UNIX_EPOCH};

use super::*;

fn cmd() -> Vec<OsString> {
    vec!["true".into()]
}

fn spec() -> Spec {
    Spec {
        command: cmd(),
        ..Spec::default()
    }
}

#[test]
fn default_fs_applies_only_without_fs_flags() {
    let p = Policy::new(spec()).unwrap();
    assert!(p.fs.iter().any(|r| r.path == Path::new("/usr")));
    assert!(p
        .fs
        .iter()
        .any(|r| r.path == Path::new("/dev/null") && r.access == FsAccess::Write));
    let p = Policy::new(Spec {
        fs_read: vec!["/tmp".into()],
        ..spec()
    })
    .unwrap();
    let rule = |p: &str, access| FsRule {
        path: p.into(),
        access,
    };
    let mut want = vec![rule("/tmp", FsAccess::Read)];
    for d in fs::ALWAYS_WRITE {
        if Path::new(d).exists() {
            want.push(rule(d, FsAccess::Write));
        }
    }
    assert_eq!(p.fs, want, "the harmless devices are added");
    let p = Policy::new(Spec {
        fs_read: vec!["/tmp".into()],
        no_default_devices: true,
        ..spec()
    })
    .unwrap();
    assert_eq!(p.fs, vec![rule("/tmp", FsAccess::Read)]);
    let p = Policy::new(Spec {
        no_default_devices: true,
        ..spec()
    })
    .unwrap();
    assert!(p.fs.iter().all(|r| r.path != Path::new("/dev/null")));
    assert!(p.fs.iter().any(|r| r.path == Path::new("/usr")));
}

#[test]
fn rejects_bad_specs() {
    let cases: Vec<(&str, Spec)> = vec![
        (
            "--fs-read",
            Spec {
                fs_read: vec!["/no/such/path".into()],
                ..spec()
            },
        ),
        (
            "--cwd",
            Spec {
                cwd: Some("/etc/passwd".into()),
                ..spec()
            },
        ),
        (
            "--timeout",
            Spec {
                timeout: Some(Duration::ZERO),
                ..spec()
            },
        ),
        (
            "--env",
            Spec {
                env: vec![("".into(), "x".into())],
                ..spec()
            },
        ),
        (
            "--env",
            Spec {
                env: vec![("A=B".into(), "x".into())],
                ..spec()
            },
        ),
        (
            "--cpu",
            Spec {
                cpu_percent: Some(0),
                ..spec()
            },
        ),
        (
            "--cpu",
            Spec {
                cpu_percent: Some(101),
                ..spec()
            },
        ),
        (
            "--cpu-cores",
            Spec {
                cpu_cores: Some(vec![100_000]),
                ..spec()
            },
        ),
        (
            "--num-cpus",
            Spec {
                num_cpus: Some(0),
                ..spec()
            },
        ),
        (
            "--name",
            Spec {
                name: Some("a b".into()),
                ..spec()
            },
        ),
        (
            "--deny-exec",
            Spec {
                deny_exec: vec![String::new()],
                ..spec()
            },
        ),
        (
            "--policy-timeout",
            Spec {
                policy_timeout: Some(Duration::from_secs(1)),
                ..spec()
            },
        ),
        (
            "--policy-timeout",
            Spec {
                policy_exec: Some("/bin/true".into()),
                policy_timeout: Some(Duration::ZERO),
                ..spec()
            },
        ),
        (
            "--time-start",
            Spec {
                time_start: Some(UNIX_EPOCH - Duration::from_secs(1)),
                ..spec()
            },
        ),
    ];
    for (flag, s) in cases {
        match Policy::new(s.clone()) {
            Ok(_) => panic!("{s:?} accepted"),
            Err(e) => assert!(e.to_string().contains(flag), "{flag}: {e}"),
        }
    }
    assert!(matches!(
        Policy::new(Spec::default()),
        Err(PolicyError::NoCommand)
    ));
}

#[test]
fn supervisor_knobs() {
    let sup = Policy::new(spec()).unwrap().supervisor.unwrap();
    assert_eq!(sup.max_processes, supervision::DEFAULT_MAX_PROCESSES);
    assert_eq!(sup.memory, None);
    assert!(!sup.account_shm);
    assert_eq!(sup.name, None, "--name is opt-in");
    let p = Policy::new(spec()).unwrap();
    assert!(p.served.is_empty(), "a default run serves nothing");
    let traps = traps::Traps::for_policy(&p);
    assert!(
        !traps.open && !traps.uname,
        "a default run traps no open, no uname"
    );
    let sysv = syscalls::group("sysv_ipc").unwrap();
    let sup = Policy::new(Spec {
        max_memory: Some(64 << 20),
        memory_kill: true,
        max_processes: Some(5),
        extra_allow_groups: vec![sysv],
        time_start: Some(UNIX_EPOCH + Duration::from_secs(946_684_800)),
        ..spec()
    })
    .unwrap()
    .supervisor
    .unwrap();
    assert_eq!(
        sup.memory,
        Some(MemoryLimit {
            bytes: 64 << 20,
            kill: true
        })
    );
    assert_eq!(sup.max_processes, 5);
    assert!(sup.account_shm);
    assert_eq!(sup.time_start, Some(946_684_800_000_000_000));
    let none = Spec {
        no_supervisor: true,
        ..spec()
    };
    let p = Policy::new(none).unwrap();
    assert!(p.supervisor.is_none() && p.served.is_empty());
    let bad = [
        Spec {
            memory_kill: true,
            ..spec()
        },
        Spec {
            no_supervisor: true,
            max_memory: Some(1 << 20),
            ..spec()
        },
        Spec {
            no_supervisor: true,
            net_deny_bind: PortSet::Any,
            ..spec()
        },
        Spec {
            max_processes: Some(0),
            ..spec()
        },
        Spec {
            workers: Some(0),
            ..spec()
        },
        Spec {
            workers: Some(65),
            ..spec()
        },
        Spec {
            max_memory: Some(0),
            ..spec()
        },
    ];
    for s in bad {
        assert!(Policy::new(s.clone()).is_err(), "{s:?} accepted");
    }
}

#[test]
fn bind_ports_follow_allow_and_deny() {
    let ports = |allow: Option<PortSet>, deny: PortSet| {
        Policy::new(Spec {
            net_allow_bind: allow,
            net_deny_bind: deny,
            ..spec()
        })
        .unwrap()
        .bind_ports
    };
    let p80 = parse::parse_ports("80").unwrap();
    assert_eq!(ports(None, PortSet::None), PortSet::None);
    assert_eq!(ports(Some(p80.clone()), PortSet::None), p80);
    assert_eq!(
        ports(None, p80.clone()),
        PortSet::Any,
        "deny alone opens the rest"
    );
    assert_eq!(ports(Some(p80.clone()), p80.clone()), p80);
}

#[test]
fn served_files_follow_the_supervisor() {
    let p = Policy::new(Spec {
        name: Some("box".into()),
        random_seed: Some(1),
        ..spec()
    })
    .unwrap();
    let paths: Vec<&str> = p.served.iter().map(|(path, _)| *path).collect();
    assert_eq!(
        paths,
        ["/etc/hosts", "/etc/hostname", "/dev/urandom", "/dev/random"]
    );
    assert!(traps::Traps::for_policy(&p).open);
    assert!(traps::Traps::for_policy(&p).random);
}

#[test]
fn env_overrides_and_clean_env() {
    let p = Policy::new(Spec {
        clean_env: true,
        env: vec![
            ("A".into(), "1".into()),
            ("A".into(), "2".into()),
            ("B".into(), "".into()),
        ],
        ..spec()
    })
    .unwrap();
    assert_eq!(
        p.env,
        vec![("A".into(), "2".into()), ("B".into(), "".into())]
    );
}

#[test]
fn fs_mount_specs_parse() {
    use super::view::parse_mount;
    let p = |s: &str| parse_mount(s).map_err(|e| e.to_string());
    assert_eq!(p("/v:/h"), Ok(("/v".into(), "/h".into(), false)));
    assert_eq!(p("/v:/h:ro"), Ok(("/v".into(), "/h".into(), true)));
    assert_eq!(p("/v:/h:rw"), Ok(("/v".into(), "/h".into(), false)));
    // Only a trailing option counts: HOST may hold colons.
    assert_eq!(p("/v:/a:b:ro"), Ok(("/v".into(), "/a:b".into(), true)));
    assert_eq!(p("/v:/a:b"), Ok(("/v".into(), "/a:b".into(), false)));
    for bad in ["", "/v", ":/h", "/v:", "v:/h", ":ro", "/v::ro"] {
        assert!(p(bad).is_err(), "{bad:?}");
    }
}
