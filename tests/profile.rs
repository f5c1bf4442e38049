//! Profiles (`-p NAME`, `--profile-file`, `sandlet profile ...`): sandlock's TOML schema
//! read into run flags, under the command line's.

mod util;

use util::{run, Mode, TempDir};

/// A config dir holding profile `name` with `text` (readable by uid 65534 too).
fn config(text: &str) -> TempDir {
    let dir = TempDir::new("profile");
    dir.subdir("sandlet");
    dir.subdir("sandlet/profiles");
    dir.file("sandlet/profiles/p.toml", text);
    dir
}

/// `sandlet ARGS` as `mode`'s user with XDG_CONFIG_HOME at `dir`.
fn sandlet(mode: Mode, dir: &TempDir, args: &[&str]) -> util::Output {
    let mut cmd = mode.sandlet(args);
    cmd.env("XDG_CONFIG_HOME", dir.path());
    run(cmd)
}

#[test]
fn a_profile_grants_what_it_lists_and_no_more() {
    let files = TempDir::new("profile-files");
    let (a, b) = (files.file("a", "x"), files.file("b", "x"));
    let probe = util::probe();
    for mode in Mode::ALL {
        let text = format!(
            "[program]\nexec = {probe:?}\nargs = [\"read\", {a:?}]\n\n\
             [filesystem]\nread = [{:?}, {a:?}]\n\n[limits]\nprocesses = 4\n",
            util::probe_dir()
        );
        let dir = config(&text);
        // The profile's own command, its read rule.
        let out = sandlet(mode, &dir, &["run", "-p", "p"]);
        assert_eq!(out.code(), 0, "{mode:?}: {}", out.err());
        assert_eq!(out.out().trim(), "ok", "{mode:?}");
        // Not what it does not list (control: the same read without the profile, with a
        // rule for b, works).
        let out = sandlet(mode, &dir, &["run", "-p", "p", "--", probe, "read", &b]);
        assert_eq!(out.out().trim(), "err EACCES", "{mode:?}: {}", out.err());
        let granted = [
            "run",
            "-r",
            util::probe_dir(),
            "-r",
            &b,
            "--",
            probe,
            "read",
            &b,
        ];
        assert_eq!(sandlet(mode, &dir, &granted).out().trim(), "ok", "{mode:?}");
        // The command line adds to its lists ...
        let out = sandlet(
            mode,
            &dir,
            &["run", "-p", "p", "-r", &b, "--", probe, "read", &b],
        );
        assert_eq!(out.out().trim(), "ok", "{mode:?}: {}", out.err());
        // ... and overrides its values (-P 4 in the profile; 1 leaves no room to fork).
        let fork = ["run", "-p", "p", "-P", "1", "--", probe, "fork"];
        let out = sandlet(mode, &dir, &fork);
        assert_eq!(out.out().trim(), "err EAGAIN", "{mode:?}: {}", out.err());
        // The same file by path.
        let file = dir.join("sandlet/profiles/p.toml");
        let out = sandlet(mode, &dir, &["run", "--profile-file", &file]);
        assert_eq!(out.out().trim(), "ok", "{mode:?}: {}", out.err());
    }
}

#[test]
fn a_bad_profile_runs_nothing_and_says_where() {
    let files = TempDir::new("profile-bad");
    let marker = files.join("ran");
    let cases = [
        (
            "[limits]\nmemory = 512\n",
            "p.toml:2:10: [limits] memory must be a string",
        ),
        (
            "[limits]\nmemroy = \"1M\"\n",
            "p.toml:2:1: unknown key [limits] memroy",
        ),
        (
            "[limits]\nmemory = \"12X\"\n",
            "p.toml:2:10: [limits] memory: --max-memory",
        ),
        (
            "[http]\nallow = [\"GET example.com/\"]\n",
            "p.toml:2:1: [http] allow: HTTP rules",
        ),
        (
            "[filesystem]\nmount = [\"a:/b\"]\n",
            "p.toml:2:9: [filesystem] mount: --fs-mount",
        ),
        (
            "[program]\nexec = \"/bin/true\"\nexec = \"x\"\n",
            "p.toml:3:1: key 'exec' defined twice",
        ),
        ("[network\n", "p.toml:1:1: expected ']'"),
    ];
    for mode in Mode::ALL {
        for (text, want) in cases {
            let dir = config(text);
            let args = ["run", "-p", "p", "--", "/bin/touch", &marker];
            let err = util::assert_one_error_line(&sandlet(mode, &dir, &args), 2);
            assert!(err.contains(want), "{mode:?} {text:?}: {err}");
            let file = dir.join("sandlet/profiles/p.toml");
            let check = sandlet(mode, &dir, &["profile", "check", &file]);
            assert_eq!(util::assert_one_error_line(&check, 2), err, "{mode:?}");
        }
        assert!(
            !std::path::Path::new(&marker).exists(),
            "{mode:?}: something ran"
        );
        let dir = config("");
        for args in [
            &["run", "-p", "nosuch", "--", "/bin/true"][..],
            &["run", "-p", "../p", "--", "/bin/true"],
            &["run", "-p", "p", "--profile-file", "/x", "--", "/bin/true"],
            &["profile", "show", "nosuch"],
        ] {
            util::assert_one_error_line(&sandlet(mode, &dir, args), 2);
        }
    }
}

#[test]
fn profile_list_and_show() {
    let dir = config("# comment\n[limits]\nprocesses = 0x10\n[program.env]\nA = 'b'\n");
    dir.file("sandlet/profiles/other.toml", "");
    dir.file("sandlet/profiles/notes.txt", "");
    for mode in Mode::ALL {
        let out = sandlet(mode, &dir, &["profile", "list"]);
        assert_eq!(out.code(), 0, "{mode:?}");
        assert_eq!(out.out(), "other\np", "{mode:?}");
        let out = sandlet(mode, &dir, &["profile", "show", "p"]);
        assert_eq!(
            out.out(),
            "[limits]\nprocesses = 16\n\n[program.env]\nA = \"b\"",
            "{mode:?}"
        );
    }
}
