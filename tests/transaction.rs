//! `Transaction`: stages over one copy-on-write workdir; stage N+1 sees stage N's
//! changes; all exit 0 -> one commit; any failure -> nothing reaches the workdir. Its own
//! test binary (it makes this process a subreaper). The uid-65534 case runs this binary
//! again under setpriv.

mod util;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use sandlet::supervisor::Outcome;
use sandlet::{SandboxBuilder, Transaction};

/// Every file beneath `dir`: kind, mode, size, mtime, content or link target.
fn snapshot(dir: &Path) -> BTreeMap<String, String> {
    use std::os::unix::fs::MetadataExt;
    let mut out = BTreeMap::new();
    let mut todo = vec![dir.to_owned()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            let m = std::fs::symlink_metadata(&p).unwrap();
            let what = if m.is_dir() {
                todo.push(p.clone());
                String::new()
            } else if m.is_symlink() {
                std::fs::read_link(&p).unwrap().display().to_string()
            } else {
                String::from_utf8_lossy(&std::fs::read(&p).unwrap()).into_owned()
            };
            let key = p.strip_prefix(dir).unwrap().display().to_string();
            let stamp = (m.mode(), m.size(), m.mtime(), m.mtime_nsec(), m.uid());
            out.insert(key, format!("{stamp:?} {what}"));
        }
    }
    out
}

fn stage(work: &Path, script: &str) -> SandboxBuilder {
    let mut b = SandboxBuilder::default()
        .command(["/bin/sh", "-c", script])
        .cwd(work)
        .fs_write(work);
    for p in ["/usr", "/bin", "/lib", "/lib64", "/etc"] {
        if Path::new(p).exists() {
            b = b.fs_read(p);
        }
    }
    b
}

/// The checks, in the workdir `work` with layers in `storage`.
fn transactions(work: &Path, storage: &Path) {
    std::fs::write(work.join("a"), "zero\n").unwrap();
    std::fs::create_dir(work.join("keep")).unwrap();
    std::fs::write(work.join("keep/old"), "old").unwrap();
    let before = snapshot(work);
    let tx = |second: SandboxBuilder| {
        Transaction::new(work)
            .fs_storage(storage)
            .stage(
                "first",
                stage(work, "echo one >> a; mkdir d; echo x > d/f; rm keep/old"),
            )
            .stage("second", second)
            .stage("third", stage(work, "echo three > c"))
    };
    // The second stage fails: the third does not run, the workdir is identical.
    let report = tx(stage(work, "test -f d/f && echo two >> a; exit 7"))
        .run()
        .unwrap();
    assert_eq!(report.failed, Some(1));
    assert_eq!(report.failure(), Some(("second", Outcome::Exited(7))));
    assert_eq!(report.stages.len(), 2);
    assert!(!report.committed());
    assert_eq!(snapshot(work), before);
    // A stage killed by its timeout: the same.
    let slow = stage(work, "echo two >> a; exec sleep 10").timeout(Duration::from_millis(300));
    let report = tx(slow).run().unwrap();
    assert!(
        matches!(report.failure(), Some(("second", Outcome::TimedOut(_)))),
        "{report:?}"
    );
    assert_eq!(snapshot(work), before);
    // Control: every stage exits 0; the second saw the first's changes; one commit.
    let report = tx(stage(
        work,
        "test -f d/f && test ! -e keep/old && echo two >> a",
    ))
    .run()
    .unwrap();
    assert_eq!(report.failed, None, "{report:?}");
    assert!(report.committed(), "{report:?}");
    assert_eq!(report.stages.len(), 3);
    assert_eq!(
        std::fs::read_to_string(work.join("a")).unwrap(),
        "zero\none\ntwo\n"
    );
    assert_eq!(std::fs::read_to_string(work.join("c")).unwrap(), "three\n");
    assert!(!work.join("keep/old").exists());
    // Nothing of the layers is left behind.
    assert_eq!(std::fs::read_dir(storage).unwrap().count(), 0);
}

/// Set when this binary runs again as uid 65534: (workdir, storage).
const NOBODY_DIRS: &str = "SANDLET_TEST_TRANSACTION_DIRS";

/// One test: the in-process run makes this process a subreaper whose supervisor reaps
/// every child, so the uid-65534 run (a child) goes first.
#[test]
fn a_failed_stage_discards_everything() {
    if let Ok(dirs) = std::env::var(NOBODY_DIRS) {
        // The uid-65534 run of this binary.
        let (work, storage) = dirs.split_once(':').unwrap();
        transactions(Path::new(work), Path::new(storage));
        return;
    }
    util::require_root();
    let dir = util::TempDir::new("transaction-nobody");
    let work = dir.join("work");
    std::fs::create_dir(&work).unwrap();
    std::os::unix::fs::chown(&work, Some(util::NOBODY), Some(util::NOBODY)).unwrap();
    let storage = dir.join("layers");
    let exe = std::env::current_exe().unwrap();
    let mut cmd = util::Mode::Nobody.command(&[
        exe.to_str().unwrap(),
        "--exact",
        "a_failed_stage_discards_everything",
    ]);
    cmd.env(NOBODY_DIRS, format!("{work}:{storage}"));
    let out = util::run(cmd);
    assert_eq!(out.code(), 0, "{}\n{}", out.out(), out.err());
    assert!(out.out().contains("1 passed"), "{}", out.out());

    let dir = util::TempDir::new("transaction");
    let work = dir.subdir("work");
    let storage = dir.join("layers");
    transactions(Path::new(&work), Path::new(&storage));
}
