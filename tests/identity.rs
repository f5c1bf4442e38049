//! `--name`: the sandbox's name is the node name `uname` reports inside it.

mod util;

use util::{run, Mode};

fn real_nodename() -> String {
    rustix::system::uname()
        .nodename()
        .to_string_lossy()
        .into_owned()
}

#[test]
fn uname_reports_the_sandbox_name() {
    for mode in Mode::ALL {
        let named = run(mode.sandlet(&["run", "--name", "box-7", "--", "/usr/bin/uname", "-n"]));
        assert_eq!(named.out().trim(), "box-7", "{mode:?}");
        // By default the name is sandlet-PID, with sandlet's pid.
        let plain = run(mode.sandlet(&["run", "--", "/usr/bin/uname", "-n"]));
        let default = plain.expect_code(0).out();
        let pid = default.trim().strip_prefix("sandlet-").unwrap_or("x");
        assert!(pid.parse::<u32>().is_ok(), "{mode:?}: {default}");
        assert_ne!(default.trim(), real_nodename());
        // Control: without the supervisor the real name shows.
        let bare = run(mode.sandlet(&["run", "--no-supervisor", "--", "/usr/bin/uname", "-n"]));
        assert_eq!(bare.out().trim(), real_nodename(), "{mode:?}");
    }
}

#[test]
fn the_default_name_resolves_and_the_real_one_is_gone() {
    let real = real_nodename();
    for mode in Mode::ALL {
        let out = run(mode.sandlet(&[
            "run",
            "--",
            "/bin/sh",
            "-c",
            "getent hosts \"$(uname -n)\"; grep -c . /etc/hosts",
        ]));
        let text = out.expect_code(0).out();
        let mut lines = text.lines();
        let resolved = lines.next().unwrap_or_default();
        assert!(resolved.starts_with("127.0.1.1"), "{mode:?}: {text}");
        assert!(resolved.contains(" sandlet-"), "{mode:?}: {text}");
        let hosts = std::fs::read_to_string("/etc/hosts").unwrap();
        if real != "localhost" && hosts.split_whitespace().any(|w| w == real) {
            let inside = run(mode.sandlet(&["run", "--", "/bin/cat", "/etc/hosts"]));
            let inside = inside.expect_code(0).out();
            assert!(
                !inside.split_whitespace().any(|w| w == real),
                "{mode:?}: {inside}"
            );
        }
    }
}

#[test]
fn bad_names_exit_2() {
    for bad in ["", "a b", "-x", "x.", &"y".repeat(65)] {
        let out = run(Mode::Root.sandlet(&["run", "--name", bad, "--", "/bin/true"]));
        util::assert_one_error_line(&out, 2);
    }
    let out =
        run(Mode::Root.sandlet(&["run", "--no-supervisor", "--name", "x", "--", "/bin/true"]));
    util::assert_one_error_line(&out, 2);
}
