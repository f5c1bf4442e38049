//! Landlock filesystem rules: -r, -w, the built-in default, and escapes through rename,
//! link and truncate.

mod util;

use std::fs;
use std::path::Path;

use util::{bare, run, sandboxed, sandboxed_output, Mode, TempDir};

#[test]
fn read_outside_read_paths_denied() {
    for mode in Mode::ALL {
        let t = TempDir::new("read-outside");
        let ro = t.subdir("ro");
        let secret = t.file("secret", "secret\n");
        t.file("ro/visible", "visible\n");
        assert_eq!(bare(mode, &["read", &secret]), "ok", "{mode:?} control");
        assert_eq!(
            sandboxed(mode, &["-r", &ro], &["read", &secret]),
            "err EACCES",
            "{mode:?}"
        );
        // Listing the parent is denied too; the allowed file stays readable.
        assert_eq!(
            sandboxed(mode, &["-r", &ro], &["listdir", t.path().to_str().unwrap()]),
            "err EACCES"
        );
        assert_eq!(
            sandboxed(mode, &["-r", &ro], &["read", &format!("{ro}/visible")]),
            "ok",
            "{mode:?}"
        );
    }
}

#[test]
fn read_outside_default_policy_denied() {
    for mode in Mode::ALL {
        let t = TempDir::new("default-policy");
        let file = t.file("data", "payload\n");
        // `cat` from /usr/bin runs under the default policy (no -r/-w at all).
        let out = run(mode.command(&["cat", &file]));
        out.expect_code(0);
        assert_eq!(out.out(), "payload", "{mode:?} control");
        let out = run(mode.sandlet(&["run", "--", "cat", &file]));
        out.expect_code(1);
        assert_eq!(out.out(), "", "{mode:?}: cat read the file");
        assert!(
            out.err().contains("Permission denied"),
            "{mode:?}: {}",
            out.err()
        );
        // A file under the default's read paths is readable.
        let out = run(mode.sandlet(&["run", "--", "cat", "/etc/passwd"]));
        out.expect_code(0);
    }
}

#[test]
fn write_under_read_path_denied() {
    for mode in Mode::ALL {
        let t = TempDir::new("write-ro");
        let ro = t.subdir("ro");
        let existing = t.file("ro/existing", "original\n");
        let new = format!("{ro}/new");
        let flags = ["-r", ro.as_str()];
        assert_eq!(sandboxed(mode, &flags, &["write", &existing]), "err EACCES");
        assert_eq!(sandboxed(mode, &flags, &["write", &new]), "err EACCES");
        assert_eq!(fs::read_to_string(&existing).unwrap(), "original\n");
        assert!(!Path::new(&new).exists(), "{mode:?}: {new} was created");
        // Control: the same writes under -w succeed.
        let flags = ["-w", ro.as_str()];
        assert_eq!(sandboxed(mode, &flags, &["write", &existing]), "ok");
        assert_eq!(sandboxed(mode, &flags, &["write", &new]), "ok");
    }
}

#[test]
fn write_under_write_path_reaches_host() {
    for mode in Mode::ALL {
        let t = TempDir::new("write-rw");
        let rw = t.subdir("rw");
        let target = format!("{rw}/out");
        assert_eq!(sandboxed(mode, &["-w", &rw], &["write", &target]), "ok");
        assert_eq!(fs::read_to_string(&target).unwrap(), "probe\n", "{mode:?}");
        // A shell redirect works too, with the content intact.
        let mut args = util::system_flags();
        args.extend(["-w".into(), rw.clone()]);
        let script = format!("printf 'line one\\nline two\\n' > {rw}/shell");
        let mut argv = vec!["run".to_owned()];
        argv.extend(args);
        argv.extend(["--".into(), "sh".into(), "-c".into(), script]);
        run(mode.sandlet(&argv)).expect_code(0);
        assert_eq!(
            fs::read_to_string(format!("{rw}/shell")).unwrap(),
            "line one\nline two\n"
        );
    }
}

#[test]
fn mkdir_and_unlink_under_read_path_denied() {
    for mode in Mode::ALL {
        let t = TempDir::new("mkdir-unlink");
        let dir = t.subdir("d");
        let file = t.file("d/f", "x\n");
        let sub = format!("{dir}/sub");
        let r = ["-r", dir.as_str()];
        assert_eq!(sandboxed(mode, &r, &["mkdir", &sub]), "err EACCES");
        assert!(!Path::new(&sub).exists());
        assert_eq!(sandboxed(mode, &r, &["unlink", &file]), "err EACCES");
        assert!(Path::new(&file).exists());
        let link = format!("{dir}/l");
        let fifo = format!("{dir}/fifo");
        assert_eq!(
            sandboxed(mode, &r, &["symlink", "/etc", &link]),
            "err EACCES"
        );
        assert!(
            fs::symlink_metadata(&link).is_err(),
            "{mode:?}: symlink made"
        );
        assert_eq!(sandboxed(mode, &r, &["mknod", &fifo]), "err EACCES");
        assert!(fs::symlink_metadata(&fifo).is_err(), "{mode:?}: fifo made");
        // Control: granted with -w, and each one then exists.
        let w = ["-w", dir.as_str()];
        assert_eq!(sandboxed(mode, &w, &["mkdir", &sub]), "ok", "{mode:?}");
        assert!(Path::new(&sub).is_dir());
        assert_eq!(sandboxed(mode, &w, &["unlink", &file]), "ok", "{mode:?}");
        assert!(!Path::new(&file).exists());
        assert_eq!(sandboxed(mode, &w, &["symlink", "/etc", &link]), "ok");
        assert!(fs::symlink_metadata(&link).is_ok_and(|m| m.file_type().is_symlink()));
        assert_eq!(sandboxed(mode, &w, &["mknod", &fifo]), "ok", "{mode:?}");
        assert!(fs::symlink_metadata(&fifo).is_ok(), "{mode:?}: no fifo");
    }
}

#[test]
fn rename_into_write_path_denied() {
    for mode in Mode::ALL {
        let t = TempDir::new("rename");
        let ro = t.subdir("ro");
        let rw = t.subdir("rw");
        let src = t.file("ro/f", "content\n");
        let dst = format!("{rw}/f");
        let out = sandboxed(mode, &["-r", &ro, "-w", &rw], &["rename", &src, &dst]);
        assert!(
            out == "err EXDEV" || out == "err EACCES",
            "{mode:?}: rename out of a read-only dir: {out}"
        );
        assert!(!Path::new(&dst).exists(), "{mode:?}: {dst} was created");
        assert!(Path::new(&src).exists(), "{mode:?}: {src} was removed");
        // And the other way: a file of the -w dir into the -r dir.
        let inner = t.file("rw/g", "g\n");
        let out = sandboxed(
            mode,
            &["-r", &ro, "-w", &rw],
            &["rename", &inner, &format!("{ro}/g")],
        );
        assert!(out == "err EXDEV" || out == "err EACCES", "{mode:?}: {out}");
        assert!(!Path::new(&format!("{ro}/g")).exists());
        // Control: both dirs writable.
        assert_eq!(
            sandboxed(mode, &["-w", &ro, "-w", &rw], &["rename", &src, &dst]),
            "ok",
            "{mode:?}"
        );
        assert_eq!(fs::read_to_string(&dst).unwrap(), "content\n");
    }
}

#[test]
fn link_into_write_path_denied() {
    for mode in Mode::ALL {
        let t = TempDir::new("link");
        let ro = t.subdir("ro");
        let rw = t.subdir("rw");
        let src = t.file("ro/f", "content\n");
        let dst = format!("{rw}/f");
        let out = sandboxed(mode, &["-r", &ro, "-w", &rw], &["link", &src, &dst]);
        assert!(
            out == "err EXDEV" || out == "err EACCES",
            "{mode:?}: hard link out of a read-only dir: {out}"
        );
        assert!(!Path::new(&dst).exists(), "{mode:?}: {dst} was created");
        // Control: both dirs writable.
        assert_eq!(
            sandboxed(mode, &["-w", &ro, "-w", &rw], &["link", &src, &dst]),
            "ok",
            "{mode:?}"
        );
        assert_eq!(fs::read_to_string(&dst).unwrap(), "content\n");
    }
}

#[test]
fn truncate_under_read_path_denied() {
    for mode in Mode::ALL {
        let t = TempDir::new("truncate");
        let dir = t.subdir("d");
        let file = t.file("d/f", "keep me\n");
        assert_eq!(
            sandboxed(mode, &["-r", &dir], &["truncate", &file]),
            "err EACCES",
            "{mode:?}"
        );
        assert_eq!(fs::read_to_string(&file).unwrap(), "keep me\n");
        assert_eq!(sandboxed(mode, &["-w", &dir], &["truncate", &file]), "ok");
        assert_eq!(fs::metadata(&file).unwrap().len(), 0, "{mode:?} control");
    }
}

#[test]
fn exec_outside_read_paths_denied() {
    for mode in Mode::ALL {
        let t = TempDir::new("exec");
        let other = t.subdir("other");
        // The command itself is not under any -r path: 126, nothing runs.
        let out = run(mode.sandlet(&["run", "-r", &other, "--", util::probe(), "exit", "0"]));
        util::assert_one_error_line(&out, 126);
        // Control: with its dir readable it runs.
        let out = run(mode.sandlet(&[
            "run",
            "-r",
            util::probe_dir(),
            "--",
            util::probe(),
            "exit",
            "7",
        ]));
        out.expect_code(7);
        // From inside: exec of /usr/bin/true without /usr readable.
        assert_eq!(
            sandboxed(mode, &[], &["exec", "/usr/bin/true"]),
            "err EACCES",
            "{mode:?}"
        );
        let system = util::system_flags();
        let system: Vec<&str> = system.iter().map(String::as_str).collect();
        let out = sandboxed_output(mode, &system, &["exec", "/usr/bin/true"]);
        out.expect_code(0);
        assert_eq!(
            out.out(),
            "",
            "{mode:?}: true ran, the probe printed nothing"
        );
    }
}

#[test]
fn harmless_devices_are_writable_with_explicit_rules() {
    // `2>/dev/null` must work under any -r/-w: /dev/null, /dev/zero and /dev/full are
    // read-write in every run unless --no-default-devices.
    for mode in Mode::ALL {
        for dev in ["/dev/null", "/dev/zero"] {
            assert_eq!(
                sandboxed(mode, &[], &["write", dev]),
                "ok",
                "{mode:?} {dev}"
            );
            assert_eq!(
                sandboxed(mode, &["--no-default-devices"], &["write", dev]),
                "err EACCES",
                "{mode:?} {dev}"
            );
        }
    }
}
