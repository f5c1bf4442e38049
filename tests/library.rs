//! The library API: builder validation, spawn/wait/kill, and holding forks.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, UNIX_EPOCH};

use sandlet::supervisor::Outcome;
use sandlet::Sandbox;

fn scratch(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sandlet-lib-{}-{tag}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn system_reads(mut b: sandlet::SandboxBuilder) -> sandlet::SandboxBuilder {
    for p in ["/usr", "/lib", "/lib64", "/bin", "/etc"] {
        if Path::new(p).exists() {
            b = b.fs_read(p);
        }
    }
    b
}

fn wait_until(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if cond() {
            return true;
        }
        std::thread::yield_now();
    }
    cond()
}

#[test]
fn builder_validates_like_the_cli() {
    let err = Sandbox::builder()
        .command(["/bin/true"])
        .max_processes(0)
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("--max-processes"), "{err}");
    assert!(Sandbox::builder().build().is_err(), "no command accepted");
    assert!(Sandbox::builder()
        .command(["/bin/true"])
        .fs_read("/no/such/dir")
        .build()
        .is_err());
    // Typed values outside a knob's range are judged as the CLI's flags are.
    let refused = |b: sandlet::SandboxBuilder, flag: &str| {
        let err = b.command(["/bin/true"]).build().unwrap_err().to_string();
        assert!(err.contains(flag), "{flag}: {err}");
    };
    refused(Sandbox::builder().workers(0), "--workers");
    refused(Sandbox::builder().cpu_percent(101), "--cpu");
    refused(Sandbox::builder().num_cpus(0), "--num-cpus");
    refused(Sandbox::builder().name("no spaces"), "--name");
    refused(Sandbox::builder().env("A=B", "c"), "--env");
    refused(Sandbox::builder().timeout(Duration::ZERO), "--timeout");
    refused(Sandbox::builder().memory_kill(), "--memory-kill");
    refused(
        Sandbox::builder().policy_timeout(Duration::from_secs(1)),
        "--policy-timeout",
    );
    // A Spec made elsewhere builds the same sandbox as the builder's methods.
    let spec = sandlet::Spec {
        command: vec!["/bin/true".into()],
        max_processes: Some(3),
        ..Default::default()
    };
    let from_spec = sandlet::SandboxBuilder::from_spec(spec).build().unwrap();
    let built = Sandbox::builder()
        .command(["/bin/true"])
        .max_processes(3)
        .build()
        .unwrap();
    assert_eq!(
        from_spec.policy().supervisor,
        built.policy().supervisor,
        "the same description"
    );
}

#[test]
fn spawn_wait_reports_the_exit_status() {
    let sandbox = Sandbox::builder()
        .command(["/bin/sh", "-c", "exit 7"])
        .build()
        .unwrap();
    let child = sandbox.spawn().unwrap();
    assert!(child.pid() > 0);
    assert_eq!(child.wait().unwrap().outcome, Outcome::Exited(7));
}

#[test]
fn spawn_of_a_missing_command_fails_without_running() {
    let sandbox = Sandbox::builder()
        .command(["/no/such/program"])
        .build()
        .unwrap();
    let err = sandbox.spawn().unwrap_err();
    assert_eq!(err.exit_code(), 127, "{err}");
}

#[test]
fn kill_ends_the_sandbox() {
    let sandbox = Sandbox::builder()
        .command(["/bin/sleep", "100"])
        .build()
        .unwrap();
    let child = sandbox.spawn().unwrap();
    child.kill();
    assert_eq!(child.wait().unwrap().outcome, Outcome::Signaled(9));
}

#[test]
fn held_forks_proceed_after_resume() {
    let dir = scratch("hold");
    let go = dir.join("go");
    let done = dir.join("done");
    // Spins on shell builtins (no fork) until `go` exists, then forks once.
    let script = format!(
        "while [ ! -e {go} ]; do :; done; /bin/true && echo ok > {done}",
        go = go.display(),
        done = done.display()
    );
    let sandbox = system_reads(Sandbox::builder())
        .fs_write(&dir)
        .command(["/bin/sh", "-c", &script])
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    let child = sandbox.spawn().unwrap();
    child.pause_forks();
    std::fs::write(&go, "").unwrap();
    assert!(
        wait_until(Duration::from_secs(10), || child.parked_forks() == 1),
        "the fork was not held"
    );
    assert!(!done.exists(), "the held fork ran anyway");
    child.resume_forks();
    let report = child.wait().unwrap();
    assert_eq!(report.outcome, Outcome::Exited(0));
    assert_eq!(std::fs::read_to_string(&done).unwrap(), "ok\n");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn without_pause_the_same_script_runs_straight_through() {
    let dir = scratch("nohold");
    let done = dir.join("done");
    let script = format!("/bin/true && echo ok > {}", done.display());
    let sandbox = system_reads(Sandbox::builder())
        .fs_write(&dir)
        .command(["/bin/sh", "-c", &script])
        .build()
        .unwrap();
    let report = sandbox.spawn().unwrap().wait().unwrap();
    assert_eq!(report.outcome, Outcome::Exited(0));
    assert!(done.exists());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn virtualization_from_the_builder() {
    // A seeded /dev/urandom read through `od` and the wall clock through `date`: the
    // same output twice, and the year the builder asked for.
    let run = |seed: u64| {
        let dir = scratch(&format!("virt-{seed}"));
        let out = dir.join("out");
        let script = format!(
            "head -c 16 /dev/urandom | od -An -tx1 > {0}; date -u +%Y >> {0}",
            out.display()
        );
        let sandbox = system_reads(Sandbox::builder())
            .fs_write(&dir)
            .random_seed(seed)
            .time_start(UNIX_EPOCH + Duration::from_secs(959_817_600))
            .num_cpus(1)
            .deterministic_dirs()
            .command(["/bin/sh", "-c", script.as_str()])
            .build()
            .unwrap();
        let report = sandbox.spawn().unwrap().wait().unwrap();
        assert_eq!(report.outcome, Outcome::Exited(0));
        let text = std::fs::read_to_string(&out).unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        text
    };
    let first = run(9);
    assert!(first.ends_with("2000\n"), "{first}");
    assert_eq!(first, run(9));
    assert_ne!(first, run(10));
}

#[test]
fn policy_fn_sees_events_and_restricts_the_network() {
    use sandlet::dynamic::{EventKind, Verdict};
    use std::sync::{Arc, Mutex};
    let server = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = server.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    let dir = scratch("policy-fn");
    let out = dir.join("out");
    // Two connects to the same allowed address: the callback lets the first through
    // and narrows the network to another address, so the second is refused.
    let script = format!(
        "for i in 1 2; do if (exec 3<>/dev/tcp/127.0.0.1/{port}) 2>>{0}.err; then echo ok; \
         else echo no; fi; done > {0}",
        out.display()
    );
    let sandbox = system_reads(Sandbox::builder())
        .fs_write(&dir)
        .net_allow("tcp://127.0.0.1".parse().unwrap())
        .policy_fn(move |event, ctx| {
            if matches!(event.kind, EventKind::Network { .. }) {
                log.lock().unwrap().push(event.clone());
                ctx.restrict_network(&["127.0.0.2".parse().unwrap()]);
            }
            Verdict::Allow
        })
        .command(["/bin/bash", "-c", script.as_str()])
        .build()
        .unwrap();
    let report = sandbox.spawn().unwrap().wait().unwrap();
    assert_eq!(report.outcome, Outcome::Exited(0));
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "ok\nno\n");
    let _ = std::fs::remove_dir_all(&dir);
    let seen = seen.lock().unwrap();
    assert_eq!(
        seen.len(),
        1,
        "the refused connect never reached the callback: {seen:?}"
    );
    assert_eq!(seen[0].syscall, "connect");
    match &seen[0].kind {
        EventKind::Network { to, .. } => assert_eq!(to.port(), port),
        other => panic!("{other:?}"),
    }
    // A dynamic policy needs the supervisor.
    let err = Sandbox::builder()
        .command(["/bin/true"])
        .no_supervisor()
        .policy_fn(|_, _| Verdict::Allow)
        .build();
    assert!(err.is_err());
}

/// The execs a callback saw: (path, argv).
type ExecLog = std::sync::Arc<std::sync::Mutex<Vec<(String, Vec<String>)>>>;

#[test]
fn exec_events_and_restricting_the_network_after_the_first_exec() {
    use sandlet::dynamic::{EventKind, Verdict};
    use std::sync::{Arc, Mutex};
    let server = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = server.local_addr().unwrap().port();
    let execs = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&execs);
    let dir = scratch("exec-events");
    let out = dir.join("out");
    // bash execs /bin/true (seen by the callback, which then cuts the network off);
    // the connect after it is refused.
    let script = format!(
        "/bin/true first; if (exec 3<>/dev/tcp/127.0.0.1/{port}) 2>>{0}.err; then echo ok; \
         else echo no; fi > {0}",
        out.display()
    );
    let sandbox = |restrict: bool, log: ExecLog| {
        system_reads(Sandbox::builder())
            .fs_write(&dir)
            .net_allow("tcp://127.0.0.1".parse().unwrap())
            .policy_fn(move |event, ctx| {
                if let EventKind::Exec { path, argv } = &event.kind {
                    log.lock().unwrap().push((path.clone(), argv.clone()));
                    if restrict && argv.get(1).map(String::as_str) == Some("first") {
                        ctx.restrict_network(&[]);
                    }
                }
                Verdict::Allow
            })
            .command(["/bin/bash", "-c", script.as_str()])
            .build()
            .unwrap()
    };
    // Control: a callback that does not restrict lets the same connect through.
    let report = sandbox(false, Arc::new(Mutex::new(Vec::new())))
        .spawn()
        .unwrap()
        .wait()
        .unwrap();
    assert_eq!(report.outcome, Outcome::Exited(0));
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "ok\n", "control");
    let report = sandbox(true, log).spawn().unwrap().wait().unwrap();
    assert_eq!(report.outcome, Outcome::Exited(0));
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "no\n");
    let _ = std::fs::remove_dir_all(&dir);
    let execs = execs.lock().unwrap();
    assert_eq!(
        execs[0].0, "/bin/bash",
        "the command's own exec is an event: {execs:?}"
    );
    assert!(
        execs.contains(&(
            "/bin/true".to_owned(),
            vec!["/bin/true".to_owned(), "first".to_owned()]
        )),
        "{execs:?}"
    );
}

#[test]
fn a_run_pays_only_for_its_flags() {
    // A default run traps what its limits need (the fork family for -P) and nothing
    // else: 500 opens, no notification. --name serves /etc/hostname, so opens are
    // trapped then.
    let probe_dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("probe-lib");
    std::fs::create_dir_all(&probe_dir).unwrap();
    let probe = probe_dir.join("probe");
    let src = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/probes/probe.c");
    let built = std::process::Command::new("gcc")
        .args(["-O2", "-static", "-pthread", "-o"])
        .arg(&probe)
        .arg(src)
        .status()
        .expect("gcc");
    assert!(built.success(), "build the probe");
    let run = |named: bool| {
        let mut b = Sandbox::builder()
            .fs_read(&probe_dir)
            .fs_read("/etc")
            .command([
                probe.as_os_str(),
                "open_loop".as_ref(),
                "/etc/passwd".as_ref(),
                "500".as_ref(),
            ]);
        if named {
            b = b.name("box");
        }
        b.build().unwrap().spawn().unwrap().wait().unwrap()
    };
    let plain = run(false);
    assert_eq!(plain.outcome, Outcome::Exited(0));
    assert_eq!(plain.notifications, 0, "a default run trapped something");
    let named = run(true);
    assert_eq!(named.outcome, Outcome::Exited(0));
    assert!(
        named.notifications >= 500,
        "--name: {} notifications",
        named.notifications
    );
}
