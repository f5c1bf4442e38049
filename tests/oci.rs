//! `sandlet oci` (runc's command line) without containerd: the create/start/state/kill/
//! delete lifecycle, `run`'s exit status, and a bad config refused by `create` with a
//! JSON log line and nothing left behind. scripts/containerd-e2e.sh runs it under
//! containerd's shim.

mod util;

use std::path::Path;
use std::time::{Duration, Instant};

use util::{run, Mode, Output, TempDir};

/// A bundle: busybox root, config.json with `args` and `annotations` (JSON text).
fn bundle(dir: &TempDir, args: &str, annotations: &str) -> Option<String> {
    bundle_with(dir, args, annotations, "")
}

/// [`bundle`] with more `process` fields (JSON text, after a comma).
fn bundle_with(dir: &TempDir, args: &str, annotations: &str, process: &str) -> Option<String> {
    if !Path::new("/bin/busybox").exists() {
        util::skip("no static busybox at /bin/busybox (apt install busybox-static)");
        return None;
    }
    let b = dir.subdir("bundle");
    for d in ["rootfs", "rootfs/bin", "rootfs/etc"] {
        dir.subdir(&format!("bundle/{d}"));
    }
    std::fs::copy("/bin/busybox", format!("{b}/rootfs/bin/busybox")).unwrap();
    for a in ["sh", "sleep", "cat", "grep"] {
        std::os::unix::fs::symlink("busybox", format!("{b}/rootfs/bin/{a}")).unwrap();
    }
    dir.file("bundle/rootfs/etc/marker", "inside");
    let config = format!(
        r#"{{"ociVersion":"1.0.2","process":{{"args":{args},"env":["PATH=/bin"],"cwd":"/"{process}}},
           "root":{{"path":"rootfs"}},"annotations":{{{annotations}}}}}"#
    );
    std::fs::write(format!("{b}/config.json"), config).unwrap();
    Some(b)
}

fn oci(root: &str, args: &[&str]) -> Output {
    let mut argv = vec!["oci", "--root", root];
    argv.extend_from_slice(args);
    run(Mode::Root.sandlet(&argv))
}

/// Force-deletes the container when dropped, so a failing test leaves nothing running.
struct Cleanup<'a>(&'a str, &'a str);

impl Drop for Cleanup<'_> {
    fn drop(&mut self) {
        let _ = oci(self.0, &["delete", "--force", self.1]);
    }
}

fn status(root: &str, id: &str) -> String {
    let out = oci(root, &["state", id]);
    let v = sandlet::json::parse(&out.out()).unwrap_or(sandlet::json::Value::Null);
    v.get("status")
        .and_then(|s| s.as_str())
        .unwrap_or("")
        .to_owned()
}

#[test]
fn the_runc_lifecycle() {
    let dir = TempDir::new("oci");
    let script =
        r#"["/bin/sh","-c","trap 'exit 3' TERM; cat /etc/marker; while :; do sleep 0.1; done"]"#;
    let Some(b) = bundle(&dir, script, "") else {
        return;
    };
    let root = dir.join("state");
    let _cleanup = Cleanup(&root, "c1");
    let pid_file = dir.join("pid");
    // The init keeps create's stdio as the container's: give it files, not pipes.
    let io = dir.join("io");
    let file = || std::fs::File::create(&io).unwrap();
    let mut cmd = Mode::Root.sandlet(&[
        "oci",
        "--root",
        &root,
        "create",
        "--bundle",
        &b,
        "--pid-file",
        &pid_file,
        "c1",
    ]);
    cmd.stdout(file()).stderr(file());
    let st = cmd.status().unwrap();
    assert!(st.success(), "{}", std::fs::read_to_string(&io).unwrap());
    assert_eq!(status(&root, "c1"), "created");
    let pid = std::fs::read_to_string(&pid_file).unwrap();
    assert!(oci(&root, &["state", "c1"])
        .out()
        .contains(&format!("\"pid\":{pid}")));
    // A second container with the same id is refused.
    let again = oci(
        &root,
        &[
            "create",
            "--bundle",
            &b,
            "--pid-file",
            &dir.join("p2"),
            "c1",
        ],
    );
    assert!(
        again.code() != 0 && again.err().contains("already exists"),
        "{}",
        again.err()
    );
    assert_eq!(oci(&root, &["start", "c1"]).code(), 0);
    assert_eq!(status(&root, "c1"), "running");
    assert!(oci(&root, &["ps", "c1"]).out().starts_with('['));
    // Running: delete without --force is refused; TERM reaches the command.
    assert_ne!(oci(&root, &["delete", "c1"]).code(), 0);
    assert_eq!(oci(&root, &["kill", "c1", "TERM"]).code(), 0);
    let deadline = Instant::now() + Duration::from_secs(10);
    while status(&root, "c1") != "stopped" {
        assert!(Instant::now() < deadline, "still {}", status(&root, "c1"));
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(oci(&root, &["delete", "c1"]).code(), 0);
    assert_eq!(std::fs::read_to_string(&io).unwrap(), "inside");
    assert!(!Path::new(&format!("{root}/c1")).exists());
    assert_ne!(oci(&root, &["state", "c1"]).code(), 0);
}

#[test]
fn a_created_container_is_deleted_without_force() {
    let dir = TempDir::new("oci-created");
    let Some(b) = bundle(&dir, r#"["/bin/sh","-c","echo never"]"#, "") else {
        return;
    };
    let root = dir.join("state");
    let io = dir.join("io");
    let mut cmd = Mode::Root.sandlet(&["oci", "--root", &root, "create", "--bundle", &b, "c9"]);
    cmd.stdout(std::fs::File::create(&io).unwrap());
    assert!(cmd.status().unwrap().success());
    assert_eq!(status(&root, "c9"), "created");
    assert_eq!(oci(&root, &["delete", "c9"]).code(), 0);
    assert!(!Path::new(&format!("{root}/c9")).exists());
    assert_eq!(std::fs::read_to_string(&io).unwrap(), "", "the command ran");
}

#[test]
fn run_exits_with_the_commands_status() {
    let dir = TempDir::new("oci-run");
    let Some(b) = bundle(&dir, r#"["/bin/sh","-c","cat /etc/marker; exit 7"]"#, "") else {
        return;
    };
    // A state root and id as long as Kubernetes makes them: the start socket's path
    // would not fit sun_path (108 bytes).
    let root = dir.join(&format!("state-{}", "r".repeat(60)));
    let id = "f".repeat(64);
    let out = oci(&root, &["run", "--bundle", &b, &id]);
    assert_eq!(out.code(), 7, "{}", out.err());
    assert_eq!(out.out(), "inside");
}

#[test]
fn a_bad_config_fails_create_with_a_log_line() {
    let dir = TempDir::new("oci-bad");
    let Some(b) = bundle(&dir, r#"["/bin/true"]"#, r#""io.sandlet.nope":"1""#) else {
        return;
    };
    let root = dir.join("state");
    let log = dir.join("log.json");
    let out = oci(
        &root,
        &[
            "--log",
            &log,
            "--log-format",
            "json",
            "create",
            "--bundle",
            &b,
            "c2",
        ],
    );
    assert_eq!(out.code(), 1);
    let line = std::fs::read_to_string(&log).unwrap();
    let v = sandlet::json::parse(line.trim()).unwrap();
    assert_eq!(v.get("level").and_then(|l| l.as_str()), Some("error"));
    assert!(line.contains("io.sandlet.nope"), "{line}");
    assert!(!Path::new(&format!("{root}/c2")).exists());
    // Bad command lines: exit 2.
    assert_eq!(oci(&root, &["frobnicate", "c2"]).code(), 2);
    assert_eq!(oci(&root, &["kill", "c2", "NOSIG"]).code(), 2);
}

#[test]
fn update_lowers_limits_only() {
    let dir = TempDir::new("oci-update");
    let script = r#"["/bin/sh","-c","cat /etc/marker; while :; do sleep 0.1; done"]"#;
    let Some(b) = bundle(&dir, script, "") else {
        return;
    };
    let root = dir.join("state");
    let _cleanup = Cleanup(&root, "u1");
    let io = dir.join("io");
    let file = || std::fs::File::create(&io).unwrap();
    let mut cmd = Mode::Root.sandlet(&[
        "oci", "--root", &root, "run", "--detach", "--bundle", &b, "u1",
    ]);
    cmd.stdout(file()).stderr(file());
    assert!(
        cmd.status().unwrap().success(),
        "{}",
        std::fs::read_to_string(&io).unwrap()
    );
    assert_eq!(status(&root, "u1"), "running");
    // update lowers a limit of the running sandbox, never raises one.
    let refused = oci(&root, &["update", "--pids-limit", "100000", "u1"]);
    assert!(
        refused.err().contains("only be lowered"),
        "{}",
        refused.err()
    );
    let refused = oci(&root, &["update", "--memory", "64M", "u1"]);
    assert!(
        refused.err().contains("no memory limit"),
        "{}",
        refused.err()
    );
    let out = oci(&root, &["update", "--pids-limit", "1", "u1"]);
    assert_eq!(out.code(), 0, "{}", out.err());
    // The loop's next `sleep` cannot be forked any more.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !std::fs::read_to_string(&io).unwrap().contains("fork") {
        assert!(Instant::now() < deadline, "the lowered limit did not hold");
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = oci(&root, &["delete", "--force", "u1"]);
    assert!(!Path::new(&format!("{root}/u1")).exists());
}

#[test]
fn process_user_is_who_the_command_runs_as() {
    let dir = TempDir::new("oci-user");
    let script =
        r#"["/bin/sh","-c","grep -E '^(Uid|Gid|Groups)' /proc/self/status; cat /etc/secret"]"#;
    let user = r#","user":{"uid":1000,"gid":1001,"additionalGids":[5,7]}"#;
    let Some(b) = bundle_with(&dir, script, "", user) else {
        return;
    };
    std::fs::write(format!("{b}/rootfs/etc/secret"), "s3cret").unwrap();
    std::fs::set_permissions(
        format!("{b}/rootfs/etc/secret"),
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .unwrap();
    let root = dir.join("state");
    let out = oci(&root, &["run", "--bundle", &b, "u1"]);
    assert_eq!(out.code(), 1, "{}", out.err());
    let ids: Vec<String> = out
        .out()
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    assert_eq!(
        ids,
        [
            "Uid: 1000 1000 1000 1000",
            "Gid: 1001 1001 1001 1001",
            "Groups: 5 7"
        ]
    );
    assert!(out.err().contains("Permission denied"), "{}", out.err());
    // Control: without process.user, root's file is read.
    let dir = TempDir::new("oci-user-control");
    let Some(b) = bundle_with(&dir, r#"["/bin/cat","/etc/secret"]"#, "", "") else {
        return;
    };
    std::fs::write(format!("{b}/rootfs/etc/secret"), "s3cret").unwrap();
    let out = oci(&dir.join("state"), &["run", "--bundle", &b, "u2"]);
    assert_eq!(
        (out.code(), out.out().as_str()),
        (0, "s3cret"),
        "{}",
        out.err()
    );
    // Unprivileged, switching users is refused at create.
    let dir = TempDir::new("oci-user-nobody");
    let Some(b) = bundle_with(&dir, r#"["/bin/true"]"#, "", user) else {
        return;
    };
    let state = dir.join("state");
    let out = run(Mode::Nobody.sandlet(&["oci", "--root", &state, "run", "--bundle", &b, "u3"]));
    assert_eq!(out.code(), 1);
    assert!(
        out.err().contains("needs sandlet to run as root"),
        "{}",
        out.err()
    );
}
