//! Files served instead of the host's: `/etc/hostname` with the `--name`, `/etc/hosts`
//! with the names `--net-allow` rules pinned (or the host's with the `--name`).

mod util;

use util::{run, Mode};

fn cat(mode: Mode, flags: &[&str], path: &str) -> util::Output {
    let mut argv = vec!["run"];
    argv.extend_from_slice(flags);
    argv.extend_from_slice(&["--", "/bin/cat", path]);
    run(mode.sandlet(&argv))
}

#[test]
fn hostname_file_shows_the_sandbox_name() {
    let real = std::fs::read_to_string("/etc/hostname").ok();
    for mode in Mode::ALL {
        let named = cat(mode, &["--name", "box-9"], "/etc/hostname");
        assert_eq!(named.expect_code(0).out(), "box-9", "{mode:?}");
        // Without --name, and without the supervisor, the host's file shows.
        if let Some(real) = &real {
            for flags in [&[][..], &["--no-supervisor"]] {
                let out = cat(mode, flags, "/etc/hostname");
                assert_eq!(
                    out.expect_code(0).out(),
                    real.trim_end(),
                    "{mode:?} {flags:?}"
                );
            }
        }
    }
}

#[test]
fn hosts_file_holds_only_the_pinned_names() {
    let real = std::fs::read_to_string("/etc/hosts").unwrap();
    for mode in Mode::ALL {
        let pinned = cat(
            mode,
            &["--net-allow", "localhost:9", "--name", "bx"],
            "/etc/hosts",
        );
        let text = pinned.expect_code(0).out();
        assert!(text.starts_with("# served by sandlet"), "{mode:?}: {text}");
        let lines: Vec<&str> = text.lines().skip(1).collect();
        assert!(lines.contains(&"127.0.0.1\tlocalhost"), "{mode:?}: {text}");
        assert!(lines.contains(&"127.0.1.1\tbx"), "{mode:?}: {text}");
        // Every host line names localhost or the sandbox: nothing else of the host's.
        for l in &lines {
            assert!(
                l.ends_with("localhost") || l.contains("localhost ") || l.ends_with("\tbx"),
                "{l}"
            );
        }
        // A policy without host names shows the host's table with the sandbox's name
        // (the host's own name left out: identity.rs).
        let plain = cat(
            mode,
            &["--net-allow", "127.0.0.1:9", "--name", "bx"],
            "/etc/hosts",
        );
        let text = plain.expect_code(0).out();
        assert!(text.ends_with("127.0.1.1\tbx"), "{mode:?}: {text}");
        assert!(text.contains("localhost"), "{mode:?}: {text}");
        // Control: without the supervisor the host's file shows.
        let bare = cat(mode, &["--no-supervisor"], "/etc/hosts");
        assert_eq!(bare.expect_code(0).out(), real.trim_end(), "{mode:?}");
    }
}

#[test]
fn served_files_are_read_only_and_resolve() {
    for mode in Mode::ALL {
        // A write open is not served: it goes to the real file, which Landlock refuses.
        let mut argv = vec![
            "run", "--name", "rw", "-r", "/bin", "-r", "/usr", "-r", "/lib",
        ];
        if std::path::Path::new("/lib64").exists() {
            argv.extend_from_slice(&["-r", "/lib64"]);
        }
        argv.extend_from_slice(&[
            "-r",
            "/etc",
            "--",
            "/bin/sh",
            "-c",
            "echo x >> /etc/hostname && echo wrote; cat /etc/hostname",
        ]);
        let out = run(mode.sandlet(&argv));
        assert_eq!(out.out(), "rw", "{mode:?}: {}", out.err());
        assert!(
            out.err().contains("Permission denied"),
            "{mode:?}: {}",
            out.err()
        );
        // The C library resolves from the served file: the sandbox's name, which only
        // that file has ...
        let name = format!("box{}", std::process::id());
        let getent = |flags: &[&str], host: &str| {
            let mut argv = vec!["run", "--name", name.as_str()];
            argv.extend_from_slice(flags);
            argv.extend_from_slice(&["--", "/usr/bin/getent", "hosts", host]);
            run(mode.sandlet(&argv))
        };
        let bare_getent = |host: &str| run(mode.command(&["/usr/bin/getent", "hosts", host]));
        assert_eq!(
            bare_getent(&name).code(),
            2,
            "control: {name} resolves on the host"
        );
        for flags in [&["--net-allow", "localhost:9"][..], &[]] {
            let out = getent(flags, &name);
            assert!(
                out.expect_code(0).out().starts_with("127.0.1.1"),
                "{mode:?} {flags:?}"
            );
        }
        // ... and not a name only the host's file has (here the host's own name, which
        // the sandbox's table leaves out; with a pinned name, only those are there).
        let host = rustix::system::uname()
            .nodename()
            .to_string_lossy()
            .into_owned();
        if bare_getent(&host).code() != 0 {
            util::skip(&format!("the host's name {host} does not resolve bare"));
            continue;
        }
        for flags in [&["--net-allow", "localhost:9"][..], &[]] {
            assert_eq!(getent(flags, &host).code(), 2, "{mode:?} {flags:?}: {host}");
        }
    }
}
