//! `--fs-mount VIRTUAL:HOST[:ro]`: HOST bound at VIRTUAL in the command's mount
//! namespace; `:ro` holds against every write; the host's VIRTUAL never changes.

mod util;

use util::{run, Mode, TempDir};

#[test]
fn a_mount_shows_host_at_virtual_and_ro_holds() {
    for mode in Mode::ALL {
        let dir = TempDir::new("fs-mount");
        let host = dir.subdir("host");
        let at = dir.subdir("at");
        let f = dir.file("host/f", "data");
        let seen = format!("{at}/f");
        let rw = format!("{at}:{host}");
        let ro = format!("{at}:{host}:ro");
        // Control: without the mount there is nothing at VIRTUAL.
        assert_eq!(
            util::sandboxed(mode, &["-r", &at], &["read", &seen]),
            "err ENOENT",
            "{mode:?}"
        );
        // Read-write: reads HOST's file, a new file lands in HOST, none in VIRTUAL.
        let new = format!("{at}/new-{mode:?}");
        assert_eq!(
            util::sandboxed(mode, &["--fs-mount", &rw], &["read", &seen]),
            "ok"
        );
        assert_eq!(
            util::sandboxed(mode, &["--fs-mount", &rw], &["write", &new]),
            "ok",
            "{mode:?}"
        );
        assert!(std::path::Path::new(&format!("{host}/new-{mode:?}")).exists());
        assert!(
            std::fs::read_dir(&at).unwrap().next().is_none(),
            "{mode:?}: VIRTUAL changed"
        );
        // Read-only: every write fails with EROFS, whatever rule would allow it.
        for flags in [&["--fs-mount", &ro][..], &["--fs-mount", &ro, "-w", &at]] {
            assert_eq!(
                util::sandboxed(mode, flags, &["read", &seen]),
                "ok",
                "{mode:?}"
            );
            assert_eq!(
                util::sandboxed(mode, flags, &["write", &seen]),
                "err EROFS",
                "{mode:?} {flags:?}"
            );
            assert_eq!(
                util::sandboxed(mode, flags, &["write", &format!("{at}/other")]),
                "err EROFS",
                "{mode:?} {flags:?}"
            );
        }
        assert_eq!(std::fs::read_to_string(&f).unwrap(), "data", "{mode:?}");
        // A file on a file.
        let g = dir.file("g", "gee");
        let target = dir.file("target", "");
        let file_mount = format!("{target}:{g}:ro");
        assert_eq!(
            util::sandboxed(mode, &["--fs-mount", &file_mount], &["read", &target]),
            "ok",
            "{mode:?}"
        );
    }
}

#[test]
fn bad_mount_specs_exit_2_and_run_nothing() {
    let dir = TempDir::new("fs-mount-bad");
    let host = dir.subdir("host");
    let file = dir.file("file", "");
    let marker = dir.join("ran");
    for spec in [
        "justone".to_owned(),
        format!(":{host}"),
        format!("{host}:"),
        format!("relative:{host}"),
        format!("{host}:/nonexistent-host"),
        format!("/nonexistent-virtual:{host}"),
        format!("{file}:{host}"),
        format!("/:{host}"),
    ] {
        let args = ["run", "--fs-mount", &spec, "--", "/bin/touch", &marker];
        let err = util::assert_one_error_line(&run(Mode::Root.sandlet(&args)), 2);
        assert!(err.contains("--fs-mount"), "{spec}: {err}");
    }
    assert!(!std::path::Path::new(&marker).exists());
}
