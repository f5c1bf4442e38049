use super::*;
use std::path::{Path, PathBuf};

/// sandlock's README example, verbatim.
const BUILD: &str = r#"# ~/.config/sandlock/profiles/build.toml
[program]
exec = "make"
args = ["-j4"]
clean_env = true
env = { CC = "gcc", LANG = "C.UTF-8" }

[filesystem]
read = ["/usr", "/lib", "/lib64", "/bin", "/etc"]
write = ["/tmp/work"]

[limits]
memory = "512M"
processes = 50

[syscalls]
extra_deny = []
"#;

fn error(text: &str) -> String {
    from_text(text, "p.toml").unwrap_err().to_string()
}

#[test]
fn sandlocks_example_profile_reads() {
    let p = from_text(BUILD, "build.toml").unwrap();
    assert_eq!(p.command, ["make", "-j4"]);
    assert!(p.args.clean_env);
    assert_eq!(p.args.env, ["CC=gcc", "LANG=C.UTF-8"]);
    assert_eq!(p.args.fs_read, ["/usr", "/lib", "/lib64", "/bin", "/etc"]);
    assert_eq!(p.args.fs_write, ["/tmp/work"]);
    assert_eq!(p.args.max_memory.as_deref(), Some("512M"));
    assert_eq!(p.args.max_processes.as_deref(), Some("50"));
    assert!(p.args.extra_deny_syscall.is_empty());
    // The canonical print reads back to the same profile.
    let again = from_text(&p.table.to_string(), "again.toml").unwrap();
    assert_eq!(again.table, p.table);
    assert_eq!(again.command, p.command);
}

#[test]
fn every_section_maps_to_its_flags() {
    let text = "[config]\nworkdir = \"/w\"\nfs_storage = \"/s\"\n\
        [determinism]\nrandom_seed = 42\ntime_start = \"2000-01-01T00:00:00Z\"\n\
        deterministic_dirs = true\nno_randomize_memory = true\n\
        [program]\ncwd = \"/tmp\"\nno_coredump = true\nno_huge_pages = true\n\
        [program.env]\nA = \"1\"\n\
        [filesystem]\ndeny = [\"/etc/shadow\"]\non_exit = \"abort\"\non_error = \"keep\"\n\
        [network]\nallow = [\"tcp://127.0.0.1:80\"]\nallow_bind = [8080, \"9000-9005\"]\n\
        port_remap = true\n\
        [syscalls]\nextra_allow = [\"sysv_ipc\"]\n\
        [limits]\nopen_files = 100\ncpu = 50\ndisk = \"10M\"\ncpu_cores = [0]\nnum_cpus = 1\n";
    let a = from_text(text, "all.toml").unwrap().args;
    assert_eq!(a.workdir.as_deref(), Some("/w"));
    assert_eq!(a.fs_storage.as_deref(), Some("/s"));
    assert_eq!(a.random_seed.as_deref(), Some("42"));
    assert!(a.deterministic_dirs && a.no_randomize_memory && a.no_coredump);
    assert!(a.no_huge_pages && a.port_remap);
    assert_eq!(a.env, ["A=1"]);
    assert_eq!(a.fs_deny, ["/etc/shadow"]);
    assert_eq!(
        (a.on_exit.as_deref(), a.on_error.as_deref()),
        (Some("abort"), Some("keep"))
    );
    assert_eq!(a.net_allow_bind, ["8080", "9000-9005"]);
    assert_eq!(a.extra_allow_syscall, ["sysv_ipc"]);
    assert_eq!(a.cpu_cores.as_deref(), Some("0"));
    assert_eq!(a.max_open_files.as_deref(), Some("100"));
    assert_eq!(a.cpu.as_deref(), Some("50"));
    assert_eq!(a.max_disk.as_deref(), Some("10M"));
    assert_eq!(a.num_cpus.as_deref(), Some("1"));
}

#[test]
fn errors_name_the_key_and_where() {
    assert_eq!(
        error("[limits]\nmemroy = \"1M\"\n"),
        "profile p.toml:2:1: unknown key [limits] memroy"
    );
    assert!(error("[limitz]\n").starts_with("profile p.toml:1:1: unknown section [limitz]"));
    assert_eq!(
        error("[limits]\nmemory = 512\n"),
        "profile p.toml:2:10: [limits] memory must be a string"
    );
    assert_eq!(
        error("[filesystem]\nread = [\"/usr\", 7]\n"),
        "profile p.toml:2:17: [filesystem] read must be an array of strings"
    );
    let bad = error("[limits]\nmemory = \"12X\"\n");
    assert!(
        bad.starts_with("profile p.toml:2:10: [limits] memory: --max-memory"),
        "{bad}"
    );
    assert_eq!(
        error("[config]\nhttp_ca = \"/ca.pem\"\n"),
        "profile p.toml:2:1: [config] http_ca: HTTP rules and interception are not \
         implemented in sandlet"
    );
    assert!(error("[program]\nuid = 1000\n").contains("2:1: [program] uid"));
    assert!(error("top = 1\n").contains("1:1: 'top' is outside a section"));
    assert!(error("[program]\nargs = [\"x\"]\n").contains("args without [program] exec"));
    assert!(error("[program]\nenv = { A = 1 }\n").contains("2:13: [program] env must be"));
    assert!(error("[limits\n").starts_with("profile p.toml:1:1: "));
}

#[test]
fn the_command_line_goes_over_the_profile() {
    let mut base = from_text(BUILD, "build.toml").unwrap().args;
    base.env.push("X=profile".into());
    let mut cli = RunArgs {
        fs_read: vec!["/opt".into()],
        env: vec!["X=cli".into()],
        max_memory: Some("1G".into()),
        no_coredump: true,
        ..RunArgs::default()
    };
    merge(&mut cli, base);
    assert_eq!(
        cli.fs_read,
        ["/usr", "/lib", "/lib64", "/bin", "/etc", "/opt"]
    );
    assert_eq!(cli.fs_write, ["/tmp/work"]);
    assert_eq!(cli.env, ["CC=gcc", "LANG=C.UTF-8", "X=profile", "X=cli"]);
    assert_eq!(cli.max_memory.as_deref(), Some("1G"));
    assert_eq!(cli.max_processes.as_deref(), Some("50"));
    assert!(cli.clean_env && cli.no_coredump);
}

#[test]
fn profile_names_are_file_names() {
    for bad in ["", ".hidden", "a/b", "../x"] {
        assert!(path_of(bad).is_err(), "{bad}");
    }
}

fn uses(list: &[(&str, bool)]) -> Vec<(PathBuf, bool)> {
    list.iter().map(|(p, w)| (PathBuf::from(p), *w)).collect()
}

#[test]
fn collapses_where_allowed_and_withholds_credentials() {
    let home = Path::new("/home/u");
    let used = uses(&[
        ("/usr/lib/a.so", false),
        ("/usr/lib/b.so", false),
        ("/usr/lib/c.so", false),
        ("/usr/lib/d.so", false),
        ("/usr/bin/tool", false),
        ("/etc/hosts", false),
        ("/proc/123/status", false),
        ("/home/u/.ssh/id_rsa", false),
        ("/home/u/.netrc", false),
        ("/home/u/a", false),
        ("/home/u/b", false),
        ("/home/u/c", false),
        ("/home/u/d", false),
        ("/tmp/out", true),
        ("/tmp/out/x", false),
        ("/gone", false),
    ]);
    let record = learned::Record {
        uses: used,
        connects: vec!["tcp://127.0.0.1:80".into()],
        binds: vec![8080],
        peak_processes: Some(3),
    };
    let learned = learned::profile(&record, &["make".into(), "-j4".into()], Some(home), &|p| {
        p != Path::new("/gone")
    });
    let parsed = from_text(&learned.text, "learned.toml").unwrap();
    assert_eq!(parsed.command, ["make", "-j4"]);
    assert_eq!(
        parsed.args.fs_read,
        [
            "/etc/hosts",
            "/home/u/a",
            "/home/u/b",
            "/home/u/c",
            "/home/u/d",
            "/proc",
            "/usr/bin/tool",
            "/usr/lib"
        ]
    );
    assert_eq!(parsed.args.fs_write, ["/tmp/out"]);
    assert_eq!(parsed.args.net_allow, ["tcp://127.0.0.1:80"]);
    assert_eq!(parsed.args.net_allow_bind, ["8080"]);
    assert_eq!(parsed.args.max_processes.as_deref(), Some("5"));
    assert_eq!(
        learned.withheld,
        [
            PathBuf::from("/home/u/.netrc"),
            PathBuf::from("/home/u/.ssh/id_rsa")
        ]
    );
    assert!(learned.text.contains("#   /home/u/.ssh/id_rsa"));
}

#[test]
fn never_collapses_to_the_root() {
    let used = uses(&[("/a", false), ("/b", false), ("/c", false), ("/d", false)]);
    let record = learned::Record {
        uses: used,
        ..Default::default()
    };
    let learned = learned::profile(&record, &[], None, &|_| true);
    let parsed = from_text(&learned.text, "l.toml").unwrap();
    assert_eq!(parsed.args.fs_read, ["/a", "/b", "/c", "/d"]);
}
