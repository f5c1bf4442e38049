//! `--name`: the sandbox's name is the node name `uname` reports inside it, and its
//! `/etc/hostname` and `/etc/hosts` name it; without the flag all three are the host's.

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
        // Without --name the host's name shows (nothing is trapped for it).
        let plain = run(mode.sandlet(&["run", "--", "/usr/bin/uname", "-n"]));
        assert_eq!(
            plain.expect_code(0).out().trim(),
            real_nodename(),
            "{mode:?}"
        );
    }
}

#[test]
fn a_name_resolves_and_the_real_one_is_gone() {
    let real = real_nodename();
    let hosts = std::fs::read_to_string("/etc/hosts").unwrap();
    let host_hostname = std::fs::read_to_string("/etc/hostname").ok();
    for mode in Mode::ALL {
        let out = run(mode.sandlet(&[
            "run",
            "--name",
            "box-9",
            "--",
            "/bin/sh",
            "-c",
            "getent hosts \"$(uname -n)\"; cat /etc/hostname",
        ]));
        let text = out.expect_code(0).out();
        let mut lines = text.lines();
        let resolved = lines.next().unwrap_or_default();
        assert!(resolved.starts_with("127.0.1.1"), "{mode:?}: {text}");
        assert!(resolved.contains("box-9"), "{mode:?}: {text}");
        assert_eq!(lines.next(), Some("box-9"), "{mode:?}: {text}");
        if real != "localhost" && hosts.split_whitespace().any(|w| w == real) {
            let args = ["run", "--name", "box-9", "--", "/bin/cat", "/etc/hosts"];
            let inside = run(mode.sandlet(&args)).expect_code(0).out();
            assert!(
                !inside.split_whitespace().any(|w| w == real),
                "{mode:?}: {inside}"
            );
        }
        // Without --name, /etc/hosts and /etc/hostname are the host's.
        let inside = run(mode.sandlet(&["run", "--", "/bin/cat", "/etc/hosts"]));
        assert_eq!(inside.expect_code(0).out(), hosts.trim_end(), "{mode:?}");
        if let Some(h) = &host_hostname {
            let inside = run(mode.sandlet(&["run", "--", "/bin/cat", "/etc/hostname"]));
            assert_eq!(inside.expect_code(0).out(), h.trim_end(), "{mode:?}");
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
