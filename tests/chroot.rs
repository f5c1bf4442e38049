//! `--chroot DIR`: DIR is `/` for the command (pivot_root, old root detached); nothing
//! outside it is reachable by any path; `-r`/`-w`/`--fs-mount` name paths of the new root;
//! with `--workdir` the root is copy-on-write.

mod util;

use std::path::Path;

use util::{run, Mode, Output, TempDir};

const BUSYBOX: &str = "/bin/busybox";

/// A small root: busybox (sh and a few applets), the probe, /etc/marker, a `#!` script,
/// a link pointing at the host's absolute path `outside`, and empty /proc, /dev, /tmp,
/// /mnt. `None` (recorded as a skip) without a static busybox.
fn rootfs(dir: &TempDir, outside: &str) -> Option<String> {
    if !Path::new(BUSYBOX).exists() {
        util::skip("no static busybox at /bin/busybox (apt install busybox-static)");
        return None;
    }
    let root = dir.subdir("root");
    for d in ["bin", "etc", "proc", "dev", "tmp", "mnt", "work"] {
        dir.subdir(&format!("root/{d}"));
    }
    std::fs::copy(BUSYBOX, format!("{root}/bin/busybox")).unwrap();
    std::fs::copy(util::probe(), format!("{root}/bin/probe")).unwrap();
    for applet in ["sh", "cat", "ls", "readlink", "chroot", "pwd", "true"] {
        std::os::unix::fs::symlink("busybox", format!("{root}/bin/{applet}")).unwrap();
    }
    dir.file("root/etc/marker", "inside");
    dir.file("root/bin/script", "#!/bin/sh\necho script ran as $0\n");
    std::fs::set_permissions(
        format!("{root}/bin/script"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    std::os::unix::fs::symlink(outside, format!("{root}/etc/link")).unwrap();
    Some(root)
}

fn in_root(mode: Mode, root: &str, flags: &[&str], argv: &[&str]) -> Output {
    let mut args = vec!["run", "--chroot", root];
    args.extend_from_slice(flags);
    args.push("--");
    args.extend_from_slice(argv);
    run(mode.sandlet(&args))
}

fn shell(mode: Mode, root: &str, flags: &[&str], script: &str) -> String {
    let out = in_root(mode, root, flags, &["/bin/sh", "-c", script]);
    assert_eq!(out.code(), 0, "{mode:?} {script}: {}", out.err());
    out.out()
}

fn probe(mode: Mode, root: &str, flags: &[&str], args: &[&str]) -> String {
    let mut argv = vec!["/bin/probe"];
    argv.extend_from_slice(args);
    in_root(mode, root, flags, &argv).probe_line()
}

#[test]
fn the_root_is_the_whole_world() {
    for mode in Mode::ALL {
        let dir = TempDir::new("chroot");
        let outside = dir.file("outside", "host secret");
        let Some(root) = rootfs(&dir, &outside) else {
            return;
        };
        // Control: the host file is readable without the root.
        assert_eq!(util::bare(mode, &["read", &outside]), "ok");
        assert_eq!(
            util::sandboxed(mode, &["-r", &outside], &["read", &outside]),
            "ok"
        );
        // Inside, it is unreachable by any path: its own, through `..`, through an
        // absolute link in the root, through another process's root.
        let up = format!("/../../..{outside}");
        let sandlet_root = format!("/proc/{}/root{outside}", std::process::id());
        for path in [
            outside.as_str(),
            &up,
            "/etc/link",
            &sandlet_root,
            "/proc/1/root/etc/hostname",
        ] {
            let got = probe(mode, &root, &["-r", "/"], &["read", path]);
            assert!(
                got == "err ENOENT" || got == "err EACCES",
                "{mode:?}: {path} reachable inside the root: {got}"
            );
        }
        // The root's own files; `/` lists the root; `..` of `/` is `/`.
        assert_eq!(probe(mode, &root, &[], &["read", "/etc/marker"]), "ok");
        let listing = shell(mode, &root, &["-r", "/"], "cd /../..; pwd; ls");
        assert_eq!(
            listing.split_whitespace().collect::<Vec<_>>(),
            ["/", "bin", "dev", "etc", "mnt", "proc", "tmp", "work"],
            "{mode:?}"
        );
        // `#!` scripts, /proc/self/exe per process, no descriptor across exec.
        assert_eq!(
            shell(mode, &root, &[], "/bin/script"),
            "script ran as /bin/script"
        );
        assert_eq!(
            shell(
                mode,
                &root,
                &["-r", "/"],
                "readlink /proc/self/exe; /bin/probe readlink /proc/self/exe"
            ),
            "/bin/busybox\nok",
            "{mode:?}"
        );
        assert_eq!(probe(mode, &root, &["-r", "/"], &["fds"]), "ok 0 1 2");
        // /dev has the harmless devices and nothing else; /tmp is private.
        assert_eq!(probe(mode, &root, &[], &["write", "/dev/null"]), "ok");
        assert_eq!(
            shell(
                mode,
                &root,
                &["-r", "/", "-w", "/tmp"],
                "ls /dev; echo x > /tmp/f; cat /tmp/f"
            ),
            "fd\nfull\nnull\nrandom\nstderr\nstdin\nstdout\ntty\nurandom\nzero\nx",
            "{mode:?}"
        );
        assert!(std::fs::read_dir(format!("{root}/tmp"))
            .unwrap()
            .next()
            .is_none());
        assert!(std::fs::read_dir(format!("{root}/dev"))
            .unwrap()
            .next()
            .is_none());
        // No way out: a second chroot(2) and pivot_root are refused.
        let out = in_root(
            mode,
            &root,
            &["-r", "/"],
            &["/bin/chroot", "/", "/bin/true"],
        );
        assert_ne!(out.code(), 0, "{mode:?}: chroot from inside succeeded");
        assert!(
            out.err().contains("Operation not permitted"),
            "{}",
            out.err()
        );
        assert_eq!(probe(mode, &root, &[], &["sys", "pivot_root"]), "err EPERM");
    }
}

#[test]
fn flags_name_paths_of_the_new_root() {
    let dir = TempDir::new("chroot-paths");
    let outside = dir.file("outside", "");
    let Some(root) = rootfs(&dir, &outside) else {
        return;
    };
    let mode = Mode::Root;
    // -w on a path of the root: writable there, nothing written on the host's path.
    assert_eq!(
        probe(
            mode,
            &root,
            &["-r", "/bin", "-w", "/work"],
            &["write", "/work/f"]
        ),
        "ok"
    );
    assert!(Path::new(&format!("{root}/work/f")).exists());
    assert_eq!(probe(mode, &root, &[], &["write", "/work/g"]), "err EACCES");
    // --cwd names a directory of the root.
    assert_eq!(
        shell(mode, &root, &["--cwd", "/etc", "-r", "/"], "pwd"),
        "/etc"
    );
    // A path that exists only on the host is refused at start.
    for flags in [
        &["-r", outside.as_str()][..],
        &["--cwd", dir.path().to_str().unwrap()],
        &["--fs-deny", outside.as_str()],
    ] {
        let out = in_root(mode, &root, flags, &["/bin/true"]);
        util::assert_one_error_line(&out, 2);
    }
}

#[test]
fn fs_mounts_inside_the_root() {
    for mode in Mode::ALL {
        let dir = TempDir::new("chroot-mount");
        let Some(root) = rootfs(&dir, "/nonexistent") else {
            return;
        };
        let host = dir.subdir("host");
        let f = dir.file("host/f", "data");
        let rw = format!("/mnt:{host}");
        let ro = format!("/mnt:{host}:ro");
        assert_eq!(
            probe(mode, &root, &["--fs-mount", &rw], &["read", "/mnt/f"]),
            "ok"
        );
        assert_eq!(
            probe(mode, &root, &["--fs-mount", &rw], &["write", "/mnt/new"]),
            "ok"
        );
        assert!(Path::new(&format!("{host}/new")).exists(), "{mode:?}");
        assert_eq!(
            probe(
                mode,
                &root,
                &["--fs-mount", &ro, "-r", "/bin", "-w", "/mnt"],
                &["write", "/mnt/f"]
            ),
            "err EROFS",
            "{mode:?}"
        );
        assert_eq!(std::fs::read_to_string(&f).unwrap(), "data");
        assert!(std::fs::read_dir(format!("{root}/mnt"))
            .unwrap()
            .next()
            .is_none());
        // Beneath /dev: made in sandlet's tmpfs there, never in the root on the host.
        let dev = format!("/dev/termination-log:{f}:ro");
        assert_eq!(
            probe(
                mode,
                &root,
                &["--fs-mount", &dev],
                &["read", "/dev/termination-log"]
            ),
            "ok",
            "{mode:?}"
        );
        assert_eq!(
            probe(
                mode,
                &root,
                &["--fs-mount", &dev],
                &["write", "/dev/termination-log"]
            ),
            "err EROFS",
            "{mode:?}"
        );
        assert!(std::fs::read_dir(format!("{root}/dev"))
            .unwrap()
            .next()
            .is_none());
        let nested = format!("/dev/a/b:{host}");
        assert_eq!(
            probe(
                mode,
                &root,
                &["--fs-mount", &nested],
                &["read", "/dev/a/b/f"]
            ),
            "ok",
            "{mode:?}"
        );
        for bad in [format!("/dev:{host}"), format!("/dev/pts/x:{f}")] {
            let out = in_root(mode, &root, &["--fs-mount", &bad], &["/bin/true"]);
            util::assert_one_error_line(&out, 2);
        }
    }
}

#[test]
fn a_copy_on_write_root_commits_or_aborts() {
    for mode in Mode::ALL {
        let dir = TempDir::new("chroot-cow");
        let Some(root) = rootfs(&dir, "/nonexistent") else {
            return;
        };
        let storage = dir.join("layers");
        let marker = format!("{root}/work/file");
        std::fs::write(&marker, "old").unwrap();
        std::fs::set_permissions(&marker, std::os::unix::fs::PermissionsExt::from_mode(0o666))
            .unwrap();
        if mode == Mode::Nobody {
            // Only the caller's uid maps into its user namespace: overlayfs cannot copy
            // up a directory owned by another user (EOVERFLOW).
            chown_tree(Path::new(&root), util::NOBODY);
        }
        let view = [
            "--workdir",
            &root,
            "--fs-storage",
            &storage,
            "-r",
            "/bin",
            "-w",
            "/work",
        ];
        // A failing command: its changes are thrown away.
        let out = in_root(
            mode,
            &root,
            &view,
            &[
                "/bin/sh",
                "-c",
                "echo new > /work/file; echo x > /work/added; exit 3",
            ],
        );
        assert_eq!(out.code(), 3, "{mode:?}: {}", out.err());
        assert_eq!(std::fs::read_to_string(&marker).unwrap(), "old", "{mode:?}");
        assert!(!Path::new(&format!("{root}/work/added")).exists());
        // A successful one: committed to the root directory.
        let out = in_root(
            mode,
            &root,
            &view,
            &[
                "/bin/sh",
                "-c",
                "echo new > /work/file; echo x > /work/added",
            ],
        );
        assert_eq!(out.code(), 0, "{mode:?}: {}", out.err());
        assert_eq!(
            std::fs::read_to_string(&marker).unwrap(),
            "new\n",
            "{mode:?}"
        );
        assert!(Path::new(&format!("{root}/work/added")).exists());
        // A workdir outside the root is refused.
        let out = in_root(mode, &root, &["--workdir", &storage], &["/bin/true"]);
        util::assert_one_error_line(&out, 2);
    }
}

#[test]
fn bad_roots_exit_2_and_run_nothing() {
    let dir = TempDir::new("chroot-bad");
    let file = dir.file("file", "");
    for root in ["/", file.as_str(), "/nonexistent/root", ""] {
        let out = run(Mode::Root.sandlet(&["run", "--chroot", root, "--", "/bin/true"]));
        util::assert_one_error_line(&out, 2);
    }
}

fn chown_tree(path: &Path, uid: u32) {
    std::os::unix::fs::lchown(path, Some(uid), Some(uid)).unwrap();
    if path.is_dir() && !path.is_symlink() {
        for entry in std::fs::read_dir(path).unwrap() {
            chown_tree(&entry.unwrap().path(), uid);
        }
    }
}

#[test]
fn listing_the_root_follows_its_permissions() {
    // With -r /, the /proc view lists `/` on the command's behalf: only when the
    // command could itself (hazard 17). The root is uid 1234's, mode 0711 (searchable,
    // not readable by others); the command is root without capabilities.
    let dir = TempDir::new("chroot-list");
    let Some(root) = rootfs(&dir, "/nonexistent") else {
        return;
    };
    use std::os::unix::fs::PermissionsExt;
    std::os::unix::fs::chown(&root, Some(1234), Some(1234)).unwrap();
    std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o755)).unwrap();
    assert_eq!(
        probe(Mode::Root, &root, &["-r", "/"], &["listdir", "/"]),
        "ok"
    );
    std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o711)).unwrap();
    assert_eq!(
        probe(Mode::Root, &root, &["-r", "/"], &["listdir", "/"]),
        "err EACCES"
    );
    assert_eq!(
        probe(Mode::Root, &root, &["-r", "/"], &["read", "/etc/marker"]),
        "ok"
    );
}

#[test]
fn served_files_are_recognized_in_the_root_whatever_the_spelling() {
    // --name serves /etc/hostname: in the root, every spelling of the root's
    // /etc/hostname gets the name (hazard 15), not the root's own file.
    let dir = TempDir::new("chroot-served");
    let Some(root) = rootfs(&dir, "/nonexistent") else {
        return;
    };
    dir.file("root/etc/hostname", "rootfs-name");
    let script = "cat /etc/hostname; echo; cd /etc && cat ./hostname; echo; \
                  cat /etc/./hostname; echo; cd /bin && cat ../etc/hostname";
    // Control: without --name, every spelling reads the root's file.
    let control = shell(Mode::Root, &root, &[], script);
    assert_eq!(control.matches("rootfs-name").count(), 4, "{control}");
    for mode in Mode::ALL {
        let out = shell(mode, &root, &["--name", "box"], script);
        assert_eq!(out.matches("box").count(), 4, "{mode:?}: {out}");
        assert!(!out.contains("rootfs-name"), "{mode:?}: {out}");
    }
}
