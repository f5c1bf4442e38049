//! `--workdir`: the copy-on-write view (overlayfs in a user + mount namespace), what the
//! end of a run does with the changes, the change list, and bad view flags.

mod util;

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use util::{run, Mode, TempDir};

/// A workdir for `mode`: files `a` and `b`, a directory `sub` with `sub/keep`, and a
/// user xattr on `a` (where the file system has them); owned by the mode's user.
fn workdir(dir: &TempDir, mode: Mode) -> String {
    let w = dir.subdir("work");
    std::fs::write(format!("{w}/a"), "A\n").unwrap();
    std::fs::write(format!("{w}/b"), "B\n").unwrap();
    std::fs::create_dir(format!("{w}/sub")).unwrap();
    std::fs::write(format!("{w}/sub/keep"), "K\n").unwrap();
    let a = std::ffi::CString::new(format!("{w}/a")).unwrap();
    // SAFETY: a NUL-terminated path and a 4-byte value that outlive the call.
    unsafe {
        libc::setxattr(
            a.as_ptr(),
            c"user.keep".as_ptr(),
            b"kept".as_ptr().cast(),
            4,
            0,
        )
    };
    if mode == Mode::Nobody {
        chown_tree(Path::new(&w), 65534);
    }
    w
}

fn chown_tree(p: &Path, id: u32) {
    std::os::unix::fs::lchown(p, Some(id), Some(id)).unwrap();
    if p.is_dir() && !p.is_symlink() {
        for e in std::fs::read_dir(p).unwrap() {
            chown_tree(&e.unwrap().path(), id);
        }
    }
}

/// Extended attribute `name` of `path` ("" when it has none).
fn xattr(path: &str, name: &std::ffi::CStr) -> String {
    let c = std::ffi::CString::new(path).unwrap();
    let mut x = [0u8; 64];
    // SAFETY: a NUL-terminated path and name, and a buffer of the length given.
    let n = unsafe { libc::lgetxattr(c.as_ptr(), name.as_ptr(), x.as_mut_ptr().cast(), 64) };
    if n > 0 {
        String::from_utf8_lossy(&x[..n as usize]).into_owned()
    } else {
        String::new()
    }
}

/// Every entry beneath `dir`, with type, mode, owner, mtime, size, content or link
/// target, and the `user.keep` xattr: equal snapshots mean nothing changed.
fn snapshot(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        let mut names: Vec<_> = std::fs::read_dir(&d)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        names.sort();
        for p in names {
            let m = std::fs::symlink_metadata(&p).unwrap();
            let body = if m.file_type().is_symlink() {
                std::fs::read_link(&p).unwrap().display().to_string()
            } else if m.is_file() {
                String::from_utf8_lossy(&std::fs::read(&p).unwrap()).into_owned()
            } else {
                String::new()
            };
            let xattr = xattr(p.to_str().unwrap(), c"user.keep");
            out.push(format!(
                "{} {:o} {}:{} {}.{} {} {body:?} {xattr}",
                p.strip_prefix(dir).unwrap().display(),
                m.mode(),
                m.uid(),
                m.gid(),
                m.mtime(),
                m.mtime_nsec(),
                m.size()
            ));
            if m.is_dir() {
                stack.push(p);
            }
        }
    }
    out
}

/// `sandlet run` with the system dirs, the probe, `--workdir w -w w`, layers in `dir`,
/// and `flags`, running `sh -c line` (`$PROBE` names the probe).
fn in_view(mode: Mode, dir: &TempDir, w: &str, flags: &[&str], line: &str) -> util::Output {
    run(view_command(mode, dir, w, flags, line))
}

/// The command [`in_view`] runs.
fn view_command(
    mode: Mode,
    dir: &TempDir,
    w: &str,
    flags: &[&str],
    line: &str,
) -> std::process::Command {
    let storage = format!("{}/layers-{mode:?}", dir.path().display());
    let mut args = vec!["run", "--workdir", w, "-w", w, "--fs-storage", &storage];
    args.extend_from_slice(flags);
    let system = util::system_flags();
    args.extend(system.iter().map(String::as_str));
    let line = line.replace("$PROBE", util::probe());
    args.extend_from_slice(&["-r", util::probe_dir(), "--", "/bin/sh", "-c", &line]);
    mode.sandlet(&args)
}

#[test]
fn a_failed_run_leaves_the_workdir_identical() {
    // Every kind of change (tests/probes/probe.c, fs_storm), then exit 1: with no view
    // flag the changes are aborted, and the workdir is the same to the byte, mode,
    // owner, mtime and xattr. Control: the same with exit 0 commits them.
    for mode in Mode::ALL {
        let dir = TempDir::new("view-fail");
        let w = workdir(&dir, mode);
        let before = snapshot(Path::new(&w));
        let out = in_view(mode, &dir, &w, &[], &format!("$PROBE fs_storm {w}; exit 1"));
        assert_eq!(out.code(), 1, "{mode:?}: {}", out.err());
        assert_eq!(out.out().trim(), "ok", "{mode:?}: {}", out.err());
        assert_eq!(
            snapshot(Path::new(&w)),
            before,
            "{mode:?}: the workdir changed"
        );

        let out = in_view(mode, &dir, &w, &[], &format!("$PROBE fs_storm {w}; exit 0"));
        assert_eq!(out.code(), 0, "{mode:?} control: {}", out.err());
        let after = snapshot(Path::new(&w));
        assert_ne!(after, before, "{mode:?} control: nothing was committed");
        assert_eq!(
            std::fs::read_to_string(format!("{w}/sub/moved")).unwrap(),
            "new\n"
        );
        assert_eq!(
            std::fs::read_to_string(format!("{w}/a")).unwrap(),
            "B\n",
            "exchanged"
        );
        let fifo = std::fs::symlink_metadata(format!("{w}/fifo")).unwrap();
        assert!(
            std::os::unix::fs::FileTypeExt::is_fifo(&fifo.file_type()),
            "{mode:?}"
        );
        assert_eq!(
            std::fs::read_link(format!("{w}/rel-link")).unwrap(),
            Path::new("b")
        );
        // Extended attributes travel with the file (b is the old a after the exchange).
        assert_eq!(xattr(&format!("{w}/b"), c"user.keep"), "kept", "{mode:?}");
        assert_eq!(xattr(&format!("{w}/b"), c"user.storm"), "1", "{mode:?}");
        assert_eq!(xattr(&format!("{w}/a"), c"user.keep"), "", "{mode:?}");
        assert!(!Path::new(&format!("{w}/by-openat2")).exists(), "{mode:?}");
        let layers = std::fs::read_dir(format!("{}/layers-{mode:?}", dir.path().display()))
            .unwrap()
            .count();
        assert_eq!(layers, 0, "{mode:?}: layers left behind");
    }
}

#[test]
fn a_dry_run_lists_the_changes_and_keeps_none() {
    for mode in Mode::ALL {
        let dir = TempDir::new("view-dry");
        let w = workdir(&dir, mode);
        let before = snapshot(Path::new(&w));
        let out = in_view(
            mode,
            &dir,
            &w,
            &["--dry-run"],
            &format!("$PROBE fs_storm {w}"),
        );
        assert_eq!(out.code(), 0, "{mode:?}: {}", out.err());
        assert_eq!(out.out().trim(), "ok", "{mode:?}: {}", out.err());
        assert_eq!(
            snapshot(Path::new(&w)),
            before,
            "{mode:?}: the workdir changed"
        );
        let listed: Vec<String> = out.err().lines().map(str::to_owned).collect();
        let mut expected = vec!["M  a", "A  abs-link", "M  b", "A  fifo"];
        // O_TMPFILE works on overlayfs from Linux 6.6.
        if listed.iter().any(|l| l == "A  from-tmpfile") {
            expected.push("A  from-tmpfile");
        }
        expected.extend(["A  rel-link", "A  sub/moved"]);
        assert_eq!(listed, expected, "{mode:?}");

        let quiet = in_view(mode, &dir, &w, &["--dry-run"], "true");
        assert_eq!(
            quiet.err().trim(),
            "sandlet: dry-run: no filesystem changes"
        );
    }
}

#[test]
fn the_end_of_a_run_commits_aborts_or_keeps_as_asked() {
    for mode in Mode::ALL {
        let dir = TempDir::new("view-end");
        let w = workdir(&dir, mode);
        let write = format!("echo changed > {w}/a; exit 3");
        let keep = in_view(mode, &dir, &w, &["--on-error", "keep"], &write);
        assert_eq!(keep.code(), 3, "{mode:?}: {}", keep.err());
        let kept = keep
            .err()
            .lines()
            .find_map(|l| {
                l.strip_prefix("sandlet: changes kept in ")
                    .map(str::to_owned)
            })
            .unwrap_or_else(|| panic!("{mode:?}: {}", keep.err()));
        assert_eq!(
            std::fs::read_to_string(format!("{kept}/a")).unwrap(),
            "changed\n"
        );
        assert_eq!(std::fs::read_to_string(format!("{w}/a")).unwrap(), "A\n");

        let commit = in_view(mode, &dir, &w, &["--on-error", "commit"], &write);
        assert_eq!(commit.code(), 3, "{mode:?}: {}", commit.err());
        assert_eq!(
            std::fs::read_to_string(format!("{w}/a")).unwrap(),
            "changed\n"
        );

        // Hard links made in the view stay hard links.
        let links = in_view(
            mode,
            &dir,
            &w,
            &[],
            &format!("echo h > {w}/h1; ln {w}/h1 {w}/h2"),
        );
        assert_eq!(links.code(), 0, "{mode:?}: {}", links.err());
        let (h1, h2) = (
            std::fs::metadata(format!("{w}/h1")).unwrap(),
            std::fs::metadata(format!("{w}/h2")).unwrap(),
        );
        assert_eq!((h1.ino(), h1.nlink()), (h2.ino(), 2), "{mode:?}");

        let ok = format!("echo again > {w}/a");
        let abort = in_view(mode, &dir, &w, &["--on-exit", "abort"], &ok);
        assert_eq!(abort.code(), 0, "{mode:?}: {}", abort.err());
        assert_eq!(
            std::fs::read_to_string(format!("{w}/a")).unwrap(),
            "changed\n"
        );
    }
}

#[test]
fn bad_view_flags_exit_2_and_run_nothing() {
    let dir = TempDir::new("view-bad");
    let w = dir.subdir("work");
    let marker = dir.join("ran");
    let inside = format!("{w}/layers");
    // Storage another user may write: refused (a layer could be changed before its
    // commit).
    let shared = dir.subdir("shared-storage");
    for flags in [
        &["--dry-run"][..],
        &["--on-exit", "commit"],
        &["--workdir", &w, "--on-exit", "maybe"],
        &["--workdir", &w, "--on-error", ""],
        &["--workdir", "/no/such/dir"],
        &["--workdir", "/"],
        &["--workdir", &w, "--fs-storage", &inside],
        &[
            "--workdir",
            &w,
            "--fs-storage",
            "/proc/sandlet-cannot-be-made",
        ],
        &["--workdir", &w, "--fs-storage", &shared],
        &["--fs-deny", "/no/such/path"],
        &["--max-disk", "1M"],
        &["--workdir", &w, "--max-disk", "1M", "--on-error", "keep"],
        &["--workdir", &w, "--max-disk", "lots"],
        &["--fs-deny", "/"],
    ] {
        let mut args = vec!["run"];
        args.extend_from_slice(flags);
        let system = util::system_flags();
        args.extend(system.iter().map(String::as_str));
        let touch = format!("touch {marker}");
        args.extend_from_slice(&["--", "/bin/sh", "-c", &touch]);
        let out = run(Mode::Root.sandlet(&args));
        assert_eq!(out.code(), 2, "{flags:?}: {}", out.err());
        assert_eq!(out.err().lines().count(), 1, "{flags:?}: {}", out.err());
        assert!(!Path::new(&marker).exists(), "{flags:?}: the command ran");
    }
}

#[test]
fn the_view_fails_closed_where_namespaces_are_refused() {
    // Inside a sandlet sandbox unshare is refused (EPERM), as under a container's
    // seccomp profile: the inner run exits 125 naming what is missing, the command
    // never runs, and no layer is left. Control: the same inner run outside works.
    let sandlet = util::sandlet();
    let bin_dir = Path::new(sandlet)
        .parent()
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    for mode in Mode::ALL {
        let dir = TempDir::new("view-refused");
        let w = workdir(&dir, mode);
        // Owned by the mode's user and writable by no one else, as sandlet requires.
        let storage = dir.join("layers");
        std::fs::create_dir(&storage).unwrap();
        if mode == Mode::Nobody {
            chown_tree(Path::new(&storage), 65534);
        }
        let marker = format!("{w}/ran");
        let system = util::system_flags();
        let mut inner = vec![sandlet, "run", "--no-supervisor"];
        inner.extend(system.iter().map(String::as_str));
        inner.extend_from_slice(&["--workdir", &w, "-w", &w, "--fs-storage", &storage]);
        inner.extend_from_slice(&["--", "/bin/touch", &marker]);
        let control = run(mode.command(&inner));
        assert_eq!(control.code(), 0, "{mode:?} control: {}", control.err());
        assert!(
            Path::new(&marker).exists(),
            "{mode:?} control: not committed"
        );
        std::fs::remove_file(&marker).unwrap();

        let mut outer = vec!["run", "-r", &bin_dir, "-w", &w, "-w", &storage];
        outer.extend(system.iter().map(String::as_str));
        outer.push("--");
        outer.extend_from_slice(&inner);
        let out = run(mode.sandlet(&outer));
        assert_eq!(out.code(), 125, "{mode:?}: {}", out.err());
        assert!(
            out.err()
                .contains("enter a user and mount namespace (--workdir, --fs-deny, --fs-mount)")
                && out.err().contains("does not go on without the view"),
            "{mode:?}: {}",
            out.err()
        );
        assert!(!Path::new(&marker).exists(), "{mode:?}: the command ran");
        assert_eq!(
            std::fs::read_dir(&storage).unwrap().count(),
            0,
            "{mode:?}: layer left"
        );
    }
}

#[test]
fn exec_decisions_look_at_the_view() {
    // Under --deny-exec the supervisor resolves what an exec runs through the caller's
    // root: a script created in the view runs (the host has no such file), and a copy
    // of a program under a denied name made in the view is refused.
    for mode in Mode::ALL {
        let dir = TempDir::new("view-exec");
        let w = workdir(&dir, mode);
        let line = format!(
            "printf '#!/bin/sh\\necho from-the-view\\n' > {w}/s.sh; chmod +x {w}/s.sh; {w}/s.sh; \
             cp /bin/true {w}/curl; {w}/curl; echo curl=$?"
        );
        let out = in_view(
            mode,
            &dir,
            &w,
            &["--deny-exec", "curl", "--on-exit", "abort"],
            &line,
        );
        assert_eq!(out.code(), 0, "{mode:?}: {}", out.err());
        assert_eq!(
            out.out().trim(),
            "from-the-view\ncurl=126",
            "{mode:?}: {}",
            out.err()
        );
        assert!(
            !Path::new(&format!("{w}/s.sh")).exists(),
            "{mode:?}: not aborted"
        );
    }
}

/// Starts `sandlet run --workdir w` (layers in `dir`) on `sh -c line` in the background.
fn start_in_view(mode: Mode, dir: &TempDir, w: &str, sync: &str, line: &str) -> util::Running {
    util::Running::start(view_command(mode, dir, w, &["-w", sync], line))
}

/// A FIFO the sandbox blocks on (`cat FIFO`): [`reached`] returns once the sandbox got
/// there; dropping what it returns lets the sandbox go on.
/// Opens `fifo` for writing once its reader (the sandbox) has it open (20 s at most).
fn reached(fifo: &str) -> std::fs::File {
    use std::os::unix::fs::OpenOptionsExt;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        match std::fs::OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(fifo)
        {
            Ok(f) => return f,
            Err(e) if e.raw_os_error() == Some(libc::ENXIO) => {
                assert!(std::time::Instant::now() < deadline, "{fifo}: never opened");
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            Err(e) => panic!("{fifo}: {e}"),
        }
    }
}

fn fifo(dir: &str, name: &str, mode: Mode) -> String {
    let path = format!("{dir}/{name}");
    let c = std::ffi::CString::new(path.clone()).unwrap();
    // SAFETY: a NUL-terminated path that outlives the call.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o666) }, 0);
    if mode == Mode::Nobody {
        chown_tree(Path::new(&path), 65534);
    }
    path
}

#[test]
fn a_change_on_the_host_during_the_run_is_a_conflict() {
    // Two sandboxes on one workdir change the same file; the host changes another one
    // while a third runs. The first commit goes through; the second, whose file was
    // committed by the first after it began, and the third, whose file the host
    // changed, keep their layer, name the file and exit 1. Control: a sandbox changing
    // a file nobody else touched commits.
    for mode in Mode::ALL {
        let dir = TempDir::new("view-conflict");
        let w = workdir(&dir, mode);
        let sync = dir.subdir("sync");
        let (fa, fb, fc) = (
            fifo(&sync, "a", mode),
            fifo(&sync, "b", mode),
            fifo(&sync, "c", mode),
        );
        let first = start_in_view(
            mode,
            &dir,
            &w,
            &sync,
            &format!("echo first > {w}/a; cat {fa}"),
        );
        let second = start_in_view(
            mode,
            &dir,
            &w,
            &sync,
            &format!("echo second > {w}/a; cat {fb}"),
        );
        let third = start_in_view(
            mode,
            &dir,
            &w,
            &sync,
            &format!("echo third > {w}/b; echo c > {w}/c; cat {fc}"),
        );
        // Each open returns once its sandbox wrote and waits (so all three began before
        // any commit); the close lets it end.
        let (a, b, c) = (reached(&fa), reached(&fb), reached(&fc));
        drop(a);
        let (status, _) = first.wait();
        assert_eq!(status.code(), Some(0), "{mode:?} first");
        assert_eq!(
            std::fs::read_to_string(format!("{w}/a")).unwrap(),
            "first\n"
        );

        drop(b);
        let (status, err) = second.wait();
        assert_eq!(status.code(), Some(1), "{mode:?} second: {err}");
        assert!(
            err.contains("conflict") && err.contains(": a"),
            "{mode:?}: {err}"
        );
        assert_eq!(
            std::fs::read_to_string(format!("{w}/a")).unwrap(),
            "first\n"
        );
        let kept = err
            .lines()
            .find_map(|l| {
                l.split("the changes are kept in ")
                    .nth(1)
                    .map(str::to_owned)
            })
            .unwrap_or_else(|| panic!("{mode:?}: {err}"));
        assert_eq!(
            std::fs::read_to_string(format!("{kept}/a")).unwrap(),
            "second\n"
        );

        std::fs::write(format!("{w}/b"), "host\n").unwrap();
        drop(c);
        let (status, err) = third.wait();
        assert_eq!(status.code(), Some(1), "{mode:?} third: {err}");
        assert!(err.contains(": b"), "{mode:?}: {err}");
        assert_eq!(std::fs::read_to_string(format!("{w}/b")).unwrap(), "host\n");
        assert!(
            !Path::new(&format!("{w}/c")).exists(),
            "{mode:?}: partly committed"
        );
    }
}

/// `sandlet run` with the system dirs, the probe and `flags`, running the probe.
fn probe_in(mode: Mode, flags: &[&str], probe_args: &[&str]) -> util::Output {
    let system = util::system_flags();
    let mut all = flags.to_vec();
    all.extend(system.iter().map(String::as_str));
    util::sandboxed_output(mode, &all, probe_args)
}

#[test]
fn denied_paths_are_unreachable_whatever_the_rules() {
    // A file and a directory in a writable directory, denied: every way to reach them
    // fails, 10k times from two racing threads, under -w on their parent; the other
    // files there stay fully usable; spellings through a symlink and relative to the
    // working directory are covered. Control: the same probe without --fs-deny reaches
    // them.
    for mode in Mode::ALL {
        let dir = TempDir::new("deny");
        let w = workdir(&dir, mode);
        let secret = format!("{w}/a");
        let sub = format!("{w}/sub");
        let link = dir.join("link-to-work");
        std::os::unix::fs::symlink(&w, &link).unwrap();
        for (what, deny, target) in [
            ("file", secret.clone(), secret.clone()),
            ("dir", sub.clone(), format!("{sub}/keep")),
            ("symlink spelling", format!("{link}/a"), secret.clone()),
        ] {
            let race = ["deny_race", target.as_str(), "10000"];
            let out = probe_in(mode, &["-w", &w, "--fs-deny", &deny], &race);
            assert_eq!(out.code(), 0, "{mode:?} {what}: {}", out.err());
            assert_eq!(out.out().trim(), "ok 0", "{mode:?} {what}: {}", out.err());
        }
        assert_eq!(std::fs::read_to_string(&secret).unwrap(), "A\n", "{mode:?}");
        assert_eq!(
            std::fs::read_to_string(format!("{sub}/keep")).unwrap(),
            "K\n"
        );

        // Relative to the working directory (--cwd), and the neighbours still usable.
        let line = format!("cat {w}/b && echo new > {w}/c && cat {w}/c && cat a");
        let mut args = vec!["run", "-w", &w, "--cwd", &w, "--fs-deny", "a"];
        let system = util::system_flags();
        args.extend(system.iter().map(String::as_str));
        args.extend_from_slice(&["--", "/bin/sh", "-c", &line]);
        let out = run(mode.sandlet(&args));
        assert_eq!(out.out().trim(), "B\nnew", "{mode:?}: {}", out.err());
        assert!(
            out.err().contains("Permission denied"),
            "{mode:?}: {}",
            out.err()
        );
        assert_ne!(out.code(), 0, "{mode:?}");

        let control = probe_in(mode, &["-w", &w], &["deny_race", &secret, "10"]);
        assert_ne!(
            control.out().trim(),
            "ok 0",
            "{mode:?} control: {}",
            control.err()
        );
    }
}

#[test]
fn max_disk_stops_the_write_that_crosses_it() {
    // --max-disk 1M: a 5 MB write fails with ENOSPC at 1 MiB (head exits 1); after
    // removing it, a small file still commits (read through the layer's descriptor once
    // the namespace is gone). Control: without --max-disk the 5 MB write succeeds.
    for mode in Mode::ALL {
        let dir = TempDir::new("view-disk");
        let w = workdir(&dir, mode);
        let line = format!(
            "head -c 5000000 /dev/zero > {w}/big; echo head=$?; wc -c < {w}/big; rm {w}/big; \
             echo small > {w}/s"
        );
        let out = in_view(mode, &dir, &w, &["--max-disk", "1M"], &line);
        assert_eq!(out.code(), 0, "{mode:?}: {}", out.err());
        assert_eq!(
            out.out().trim(),
            "head=1\n1048576",
            "{mode:?}: {}",
            out.err()
        );
        assert!(
            out.err().contains("No space left on device"),
            "{mode:?}: {}",
            out.err()
        );
        assert_eq!(
            std::fs::read_to_string(format!("{w}/s")).unwrap(),
            "small\n"
        );

        let control = in_view(mode, &dir, &w, &["--on-exit", "abort"], &line);
        assert_eq!(control.out().trim(), "head=0\n5000000", "{mode:?} control");
    }
}

#[test]
fn a_commit_cut_short_is_finished_by_recover() {
    // sandlet is killed (SIGKILL) while it commits 3,000 files (each synced); `sandlet
    // recover DIR` finishes the commit: every file there, no temporary left, the layer
    // gone. A kept layer is listed. Control: before recover the commit was partial.
    for mode in Mode::ALL {
        let dir = TempDir::new("view-recover");
        let w = workdir(&dir, mode);
        let storage = format!("{}/layers-{mode:?}", dir.path().display());
        let line = format!("i=0; while [ $i -lt 3000 ]; do echo $i > {w}/f$i; i=$((i+1)); done");
        let running = util::Running::start(view_command(mode, &dir, &w, &[], &line));
        let marked = || {
            std::fs::read_dir(&storage)
                .map(|rd| rd.flatten().any(|e| e.path().join("committing").exists()))
                .unwrap_or(false)
        };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while !marked() {
            assert!(
                std::time::Instant::now() < deadline,
                "{mode:?}: no commit began"
            );
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        running.signal(libc::SIGKILL);
        let _ = running.wait();
        let committed = (0..3000)
            .filter(|i| Path::new(&format!("{w}/f{i}")).exists())
            .count();
        assert!(
            committed < 3000,
            "{mode:?}: the commit ended before the kill"
        );

        let recover = ["recover", "--fs-storage", &storage, &w];
        let out = run(mode.sandlet(&recover));
        assert_eq!(out.code(), 0, "{mode:?}: {}", out.err());
        assert!(
            out.out().starts_with("finished: the commit of "),
            "{mode:?}: {}",
            out.out()
        );
        for i in (0..3000).step_by(97) {
            let got = std::fs::read_to_string(format!("{w}/f{i}")).unwrap();
            assert_eq!(got, format!("{i}\n"), "{mode:?}");
        }
        let names: Vec<String> = std::fs::read_dir(&w)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names.iter().filter(|n| n.starts_with('f')).count(), 3000);
        assert!(
            !names.iter().any(|n| n.starts_with(".sandlet-commit-")),
            "{mode:?}"
        );
        assert_eq!(std::fs::read_dir(&storage).unwrap().count(), 0, "{mode:?}");

        let keep = in_view(
            mode,
            &dir,
            &w,
            &["--on-exit", "keep"],
            &format!("echo k > {w}/k"),
        );
        assert_eq!(keep.code(), 0, "{mode:?}: {}", keep.err());
        let listed = run(mode.sandlet(&recover));
        assert!(
            listed.out().starts_with("kept: "),
            "{mode:?}: {}",
            listed.out()
        );
    }
}

#[test]
fn descriptors_see_what_overlayfs_gives() {
    // A descriptor opened before a write (to a file of the lower layer, which the write
    // copies up) reads what the write wrote, as on a plain file system: overlayfs
    // moves open descriptors to the copy. Nothing of it reaches the host (abort).
    for mode in Mode::ALL {
        let dir = TempDir::new("view-fd");
        let w = workdir(&dir, mode);
        let line = format!("exec 3< {w}/a; echo new > {w}/a; cat <&3; cat {w}/a");
        let out = in_view(mode, &dir, &w, &["--on-exit", "abort"], &line);
        assert_eq!(out.code(), 0, "{mode:?}: {}", out.err());
        assert_eq!(out.out().trim(), "new\nnew", "{mode:?}: {}", out.err());
        assert_eq!(std::fs::read_to_string(format!("{w}/a")).unwrap(), "A\n");
    }
}

#[test]
fn the_working_directory_is_the_views_or_left_alone() {
    // A working directory inside the workdir is entered again in the view: relative
    // writes land in the layer (aborted here, so the host never sees them). One outside
    // the workdir is left as it is, even one the user cannot enter (uid 65534 started
    // from a root-only directory, as a clone made with mktemp -d is).
    let root_only = TempDir::new("view-cwd-root-only");
    std::fs::set_permissions(
        root_only.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o700),
    )
    .unwrap();
    for mode in Mode::ALL {
        let dir = TempDir::new("view-cwd");
        let w = workdir(&dir, mode);
        let mut inside = view_command(mode, &dir, &w, &[], "echo x > relative; exit 1");
        inside.current_dir(&w);
        let out = run(inside);
        assert_eq!(out.code(), 1, "{mode:?}: {}", out.err());
        assert!(
            !Path::new(&format!("{w}/relative")).exists(),
            "{mode:?}: written on the host"
        );

        let mut elsewhere = view_command(mode, &dir, &w, &[], &format!("echo y > {w}/y"));
        elsewhere.current_dir(root_only.path());
        let out = run(elsewhere);
        assert_eq!(out.code(), 0, "{mode:?}: {}", out.err());
        assert_eq!(
            std::fs::read_to_string(format!("{w}/y")).unwrap(),
            "y\n",
            "{mode:?}"
        );
    }
}
