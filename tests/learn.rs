//! `sandlet learn`: the profile it writes runs the same command, and refuses what the
//! command did not use.

mod util;

use util::{run, Mode, TempDir};

#[test]
fn a_learned_profile_runs_the_command_and_no_more() {
    for mode in Mode::ALL {
        let dir = TempDir::new("learn");
        let data = dir.subdir("data");
        for i in 1..=5 {
            dir.file(&format!("data/f{i}"), "x");
        }
        let out = dir.subdir("out");
        let other = dir.file("other", "secret");
        let home = dir.subdir("home");
        dir.subdir("home/.ssh");
        let key = dir.file("home/.ssh/id", "key");
        let profile = dir.join("p.toml");
        let (server, other_server) = (util::Counted::new(), util::Counted::new());
        let probe = util::probe();
        let script = format!(
            "cat {data}/f1 {data}/f2 {data}/f3 {data}/f4 >/dev/null; echo hi > {out}/x; \
             ls {data} >/dev/null; {probe} tcp_connect 127.0.0.1 {}; cat {key} >/dev/null",
            server.port
        );
        let learn = [
            "learn", "-o", &profile, "-r", "/", "-w", &out, "--", "/bin/sh", "-c", &script,
        ];
        let mut cmd = mode.sandlet(&learn);
        cmd.env("HOME", &home);
        let learned = run(cmd);
        assert_eq!(learned.code(), 0, "{mode:?}: {}", learned.err());
        assert!(
            learned
                .err()
                .contains(&format!("{key} is a credential file: not granted")),
            "{mode:?}: {}",
            learned.err()
        );
        let text = std::fs::read_to_string(&profile).unwrap();
        assert!(text.contains(&format!("\"{data}\"")), "{text}");
        assert!(
            !text.contains(&other) && !text.contains(&format!("\"{key}\"")),
            "{text}"
        );
        // The same command under the profile (it now needs no key: the key is withheld).
        std::fs::remove_file(format!("{out}/x")).unwrap();
        let again = run(mode.sandlet(&[
            "run",
            "--profile-file",
            &profile,
            "--",
            "/bin/sh",
            "-c",
            &script.replace(&format!("; cat {key} >/dev/null"), ""),
        ]));
        assert_eq!(again.code(), 0, "{mode:?}: {}", again.err());
        assert_eq!(again.out().trim(), "ok", "{mode:?}: the learned connect");
        assert_eq!(server.taken(), 1, "{mode:?}");
        assert!(
            std::path::Path::new(&format!("{out}/x")).exists(),
            "{mode:?}"
        );
        // Another port is refused (control: it accepts outside the sandbox).
        let connect = ["tcp_connect", "127.0.0.1", other_server.port.as_str()];
        let mut args = vec!["run", "--profile-file", &profile, "--", probe];
        args.extend_from_slice(&connect);
        assert!(
            run(mode.sandlet(&args)).out().starts_with("err "),
            "{mode:?}"
        );
        assert_eq!(util::bare(mode, &connect), "ok", "{mode:?} control");
        // What it did not use is refused (control: outside the sandbox it is readable).
        for file in [&other, &key] {
            let cat = [
                "run",
                "--profile-file",
                &profile,
                "--",
                "/bin/cat",
                file.as_str(),
            ];
            let refused = run(mode.sandlet(&cat));
            assert_eq!(refused.code(), 1, "{mode:?} {file}: {}", refused.out());
            assert!(
                refused.err().contains("Permission denied"),
                "{}",
                refused.err()
            );
            assert_eq!(run(mode.command(&["/bin/cat", file.as_str()])).code(), 0);
        }
    }
}

#[test]
fn learn_needs_an_output_and_the_supervisor() {
    for args in [
        &["learn", "--", "/bin/true"][..],
        &["learn", "-o"],
        &[
            "learn",
            "-o",
            "/tmp/x.toml",
            "--no-supervisor",
            "--",
            "/bin/true",
        ],
    ] {
        util::assert_one_error_line(&run(Mode::Root.sandlet(args)), 2);
    }
}
