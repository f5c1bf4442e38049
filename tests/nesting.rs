//! sandlet inside sandlet: a second listener is refused with a hint, and
//! `--no-supervisor` nests.

mod util;

use std::path::Path;
use std::process::Command;

/// sandlet run (system dirs, its own dir) -- sandlet run INNER_FLAGS -- echo, with the
/// suite's watchdog.
fn nested(inner_flags: &[&str]) -> util::Output {
    let bin = env!("CARGO_BIN_EXE_sandlet");
    let dir = Path::new(bin).parent().unwrap().to_str().unwrap();
    let mut cmd = Command::new(bin);
    cmd.arg("run");
    for p in ["/usr", "/lib", "/lib64", "/bin", "/etc"] {
        if Path::new(p).exists() {
            cmd.args(["-r", p]);
        }
    }
    cmd.args(["-r", dir, "--", bin, "run"]);
    cmd.args(inner_flags);
    cmd.args(["--", "/bin/echo", "inner ran"]);
    util::run(cmd)
}

#[test]
fn nested_supervisor_is_refused_with_a_hint() {
    let out = nested(&[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(125), "{err}");
    assert!(err.contains("--no-supervisor"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(out.stdout.is_empty());
}

#[test]
fn nested_without_supervisor_runs() {
    let out = nested(&["--no-supervisor"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "inner ran\n");
}
