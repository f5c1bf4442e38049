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
        // Control: without --name the real name shows (uname is not even trapped).
        let plain = run(mode.sandlet(&["run", "--", "/usr/bin/uname", "-n"]));
        assert_eq!(plain.out().trim(), real_nodename(), "{mode:?}");
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
