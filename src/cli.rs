//! Command-line surface: argh structs (their doc comments are the `--help` text), the
//! argv normalization argh needs to accept sandlock-style `--flag=value` / `-m512M`, and
//! the producer that turns `run`'s flags into a [`Spec`].

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::{Duration, UNIX_EPOCH};

use argh::FromArgs;

use crate::error::PolicyError;
use crate::policy::parse::{self, ParseError, PortSet};
use crate::policy::protection::Protection;
use crate::policy::syscalls::{group, Syscalls};
use crate::policy::view::{Finish, ViewSpec};
use crate::policy::{net, Spec};

/// sandlet: run a command confined by Landlock and seccomp, without root.
#[derive(FromArgs, Debug)]
pub struct Cli {
    /// print the version and exit
    #[argh(switch)]
    pub version: bool,

    #[argh(subcommand)]
    pub command: Option<Command>,
}

#[derive(FromArgs, Debug)]
#[argh(subcommand)]
// Parsed once per process; boxing would only fight argh's derive.
#[allow(clippy::large_enum_variant)]
pub enum Command {
    Run(RunArgs),
    Check(CheckArgs),
    Recover(RecoverArgs),
    Profile(ProfileArgs),
    Ps(PsArgs),
    Inspect(InspectArgs),
    Kill(KillArgs),
}

/// List this user's running sandboxes: name, pids, uptime, processes and memory used
/// of their limits, notifications answered, command.
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "ps")]
pub struct PsArgs {
    /// text (default) or json
    #[argh(option)]
    pub format: Option<String>,
}

/// Print a running sandbox's policy (as `explain` does) and its live counters.
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "inspect")]
pub struct InspectArgs {
    /// the sandbox's name, sandlet's pid or the command's pid
    #[argh(positional)]
    pub which: String,
}

/// Signal every process of a running sandbox (SIGKILL by default) and wait until it is
/// gone.
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "kill")]
pub struct KillArgs {
    /// the signal: a number or a name (TERM, SIGTERM)
    #[argh(option, short = 's')]
    pub signal: Option<String>,

    /// the sandbox's name, sandlet's pid or the command's pid
    #[argh(positional)]
    pub which: String,
}

/// Profiles: run flags kept in TOML files (sandlock's schema); see `run -p`.
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "profile")]
pub struct ProfileArgs {
    #[argh(subcommand)]
    pub command: ProfileCommand,
}

#[derive(FromArgs, Debug)]
#[argh(subcommand)]
pub enum ProfileCommand {
    List(ProfileList),
    Show(ProfileShow),
    Check(ProfileCheck),
}

/// List the profiles in $XDG_CONFIG_HOME/sandlet/profiles (else ~/.config/...).
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "list")]
pub struct ProfileList {}

/// Print profile NAME, checked, in canonical TOML.
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "show")]
pub struct ProfileShow {
    /// the profile's name
    #[argh(positional)]
    pub name: String,
}

/// Check the profile file FILE: exit 0 when it is valid, 2 with the error when not.
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "check")]
pub struct ProfileCheck {
    /// the profile file
    #[argh(positional)]
    pub file: String,
}

/// Finish the --workdir commits a killed sandlet left half done, and list the layers
/// kept (all of them, or those of DIR).
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "recover")]
pub struct RecoverArgs {
    /// where the layers are (default $XDG_RUNTIME_DIR/sandlet/layers, else
    /// /tmp/sandlet-UID/layers)
    #[argh(option)]
    pub fs_storage: Option<String>,

    /// only the layers of this workdir
    #[argh(positional)]
    pub dir: Option<String>,
}

/// Run CMD confined. With no -r/-w flag at all a built-in default applies: read and
/// execute beneath /usr /lib /lib64 /bin /sbin /etc (those that exist), read-write
/// /dev/null /dev/zero /dev/full /dev/tty, nothing else. With any -r/-w flag, the given
/// paths apply, plus /dev/null /dev/zero /dev/full read-write. Without --net-allow/--net-deny, TCP connect is denied and
/// UDP/ICMP sockets cannot be created; bind only on --net-allow-bind ports; signals and
/// abstract unix sockets cannot reach outside the sandbox.
#[derive(FromArgs, Debug, Default, Clone)]
#[argh(subcommand, name = "run")]
pub struct RunArgs {
    /// take flags from profile NAME ($XDG_CONFIG_HOME/sandlet/profiles/NAME.toml, else
    /// ~/.config/...); the command line adds to its lists and overrides the rest
    #[argh(option, short = 'p')]
    pub profile: Option<String>,

    /// take flags from the profile file PATH (as -p)
    #[argh(option)]
    pub profile_file: Option<String>,

    /// allow reading and executing beneath PATH (repeatable)
    #[argh(option, short = 'r', long = "fs-read")]
    pub fs_read: Vec<String>,

    /// allow reading, writing, creating and removing beneath PATH (repeatable)
    #[argh(option, short = 'w', long = "fs-write")]
    pub fs_write: Vec<String>,

    /// do not add /dev/null, /dev/zero and /dev/full (read-write) to the -r/-w rules,
    /// nor keep them in the built-in default
    #[argh(switch)]
    pub no_default_devices: bool,

    /// working directory of the command
    #[argh(option)]
    pub cwd: Option<String>,

    /// start the command with an empty environment
    #[argh(switch)]
    pub clean_env: bool,

    /// set an environment variable, KEY=VALUE (repeatable)
    #[argh(option)]
    pub env: Vec<String>,

    /// kill the whole sandbox after SECS seconds (also 250ms, 2m, 1h); exit 124
    #[argh(option, short = 't')]
    pub timeout: Option<String>,

    /// limit open files (RLIMIT_NOFILE soft and hard) to N, at most sandlet's own limit
    #[argh(option)]
    pub max_open_files: Option<String>,

    /// disable core dumps (RLIMIT_CORE=0)
    #[argh(switch)]
    pub no_coredump: bool,

    /// disable address-space randomization (ADDR_NO_RANDOMIZE)
    #[argh(switch)]
    pub no_randomize_memory: bool,

    /// disable transparent huge pages (PR_SET_THP_DISABLE)
    #[argh(switch)]
    pub no_huge_pages: bool,

    /// TCP ports (and UDP ports, when UDP is open) the command may bind: 8080,9000-9005
    /// or * (default: none)
    #[argh(option)]
    pub net_allow_bind: Vec<String>,

    /// TCP ports the command may not bind (every other port may be, unless
    /// --net-allow-bind narrows it)
    #[argh(option)]
    pub net_deny_bind: Vec<String>,

    /// give the command its own port space: a bind to a taken port gets another real
    /// port, while getsockname, loopback connects and /proc/net/tcp use the asked one
    #[argh(switch)]
    pub port_remap: bool,

    /// allow TCP/UDP/ping to [tcp://|udp://|icmp://]HOST|IP|CIDR|*[:PORTS]
    /// (repeatable); HOST is looked up in /etc/hosts once, at start
    #[argh(option)]
    pub net_allow: Vec<String>,

    /// allow TCP/UDP except to [tcp://|udp://]IP|CIDR|*[:PORTS] (repeatable; not with
    /// --net-allow)
    #[argh(option)]
    pub net_deny: Vec<String>,

    /// also deny this syscall (by name) or group (sysv_ipc) with EPERM (repeatable)
    #[argh(option)]
    pub extra_deny_syscall: Vec<String>,

    /// allow back a syscall group denied by default: sysv_ipc (repeatable)
    #[argh(option)]
    pub extra_allow_syscall: Vec<String>,

    /// run even when the kernel lacks this protection, with a warning: fs, fs-refer,
    /// fs-truncate, net-tcp, fs-ioctl-dev, signal-scope, abstract-unix-socket-scope
    #[argh(option)]
    pub allow_degraded: Vec<String>,

    /// the sandbox's name: the hostname `uname` and /etc/hostname show inside it
    /// (default: sandlet-PID, with sandlet's pid)
    #[argh(option)]
    pub name: Option<String>,

    /// seed for the command's randomness: getrandom and /dev/urandom, /dev/random
    /// return a reproducible stream (same seed, same bytes)
    #[argh(option)]
    pub random_seed: Option<String>,

    /// the command's wall clock starts at this instant (RFC 3339, e.g.
    /// 2000-01-01T00:00:00Z, or seconds since 1970) and runs on from there
    #[argh(option)]
    pub time_start: Option<String>,

    /// refuse (EPERM) an exec whose argv[0] or path matches this glob: a name like curl
    /// matches the last path component, a pattern with / the whole path (repeatable)
    #[argh(option)]
    pub deny_exec: Vec<String>,

    /// run PROGRAM outside the sandbox and ask it about each exec, new process and
    /// network event: one JSON line per event on its stdin, one verdict line back
    /// (allow, deny, deny ERRNO, audit)
    #[argh(option)]
    pub policy_exec: Option<String>,

    /// milliseconds to wait for a --policy-exec verdict before denying (default 5000)
    #[argh(option)]
    pub policy_timeout: Option<String>,

    /// the command sees N CPUs: sched_getaffinity, /sys/devices/system/cpu/online and
    /// /proc/cpuinfo show N
    #[argh(option)]
    pub num_cpus: Option<String>,

    /// run the command only on these CPUs (0,2 or 0-3)
    #[argh(option)]
    pub cpu_cores: Option<String>,

    /// limit the whole sandbox to PCT percent of one CPU (1-100), by stopping and
    /// continuing it
    #[argh(option, short = 'c')]
    pub cpu: Option<String>,

    /// directory listings (getdents64) come sorted by name
    #[argh(switch)]
    pub deterministic_dirs: bool,

    /// at most N live or unreaped processes in the sandbox (default 64); more forks fail
    /// with EAGAIN; threads do not count
    #[argh(option, short = 'P')]
    pub max_processes: Option<String>,

    /// limit the sandbox's anonymous memory to SIZE (512K, 64M, 1.5G); allocations that
    /// would cross it fail with ENOMEM
    #[argh(option, short = 'm')]
    pub max_memory: Option<String>,

    /// kill the sandbox (exit 137) instead of refusing an allocation over --max-memory
    #[argh(switch)]
    pub memory_kill: bool,

    /// supervisor worker threads for blocking handlers (default 2)
    #[argh(option)]
    pub workers: Option<String>,

    /// run without the seccomp user-notification supervisor: no process or memory limit
    #[argh(switch)]
    pub no_supervisor: bool,

    /// copy-on-write view of DIR: the command's changes beneath it stay private until
    /// the run ends (in a user + mount namespace; see --on-exit, --on-error, --dry-run)
    #[argh(option)]
    pub workdir: Option<String>,

    /// with --workdir, what an exit with status 0 does with the changes: commit
    /// (default), abort or keep
    #[argh(option)]
    pub on_exit: Option<String>,

    /// with --workdir, what any other end (status, signal, timeout) does with the
    /// changes: abort (default), commit or keep
    #[argh(option)]
    pub on_error: Option<String>,

    /// with --workdir, print the changes (A/M/D path) on stderr and abort them
    #[argh(switch)]
    pub dry_run: bool,

    /// make PATH and everything beneath unreachable for the command, whatever rule
    /// covers it (repeatable; in a mount namespace of the command's own)
    #[argh(option)]
    pub fs_deny: Vec<String>,

    /// with --workdir, the most the changes may hold (e.g. 100M): the write that
    /// crosses it fails with ENOSPC (the upper layer is a tmpfs; not with keep)
    #[argh(option)]
    pub max_disk: Option<String>,

    /// with --workdir, where upper layers are made (default
    /// $XDG_RUNTIME_DIR/sandlet/layers, else /tmp/sandlet-UID/layers)
    #[argh(option)]
    pub fs_storage: Option<String>,

    /// write lifecycle events (started, exec, limit, exit) as JSON lines to descriptor
    /// FD, which sandlet must have open
    #[argh(option)]
    pub status_fd: Option<String>,

    /// keep capabilities when run as root (by default all are dropped)
    #[argh(switch)]
    pub keep_caps: bool,

    /// the command and its arguments (put them after --)
    #[argh(positional, greedy)]
    pub command: Vec<String>,
}

/// Print the kernel features sandlet relies on; exit 0 when a default run is possible.
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "check")]
pub struct CheckArgs {}

/// Options of `run` that take a value, as (short, long).
const VALUE_FLAGS: &[(Option<char>, &str)] = &[
    (Some('p'), "--profile"),
    (None, "--status-fd"),
    (None, "--profile-file"),
    (Some('r'), "--fs-read"),
    (Some('w'), "--fs-write"),
    (None, "--cwd"),
    (None, "--env"),
    (Some('t'), "--timeout"),
    (None, "--max-open-files"),
    (None, "--net-allow-bind"),
    (None, "--net-deny-bind"),
    (None, "--net-allow"),
    (None, "--net-deny"),
    (None, "--random-seed"),
    (None, "--policy-exec"),
    (None, "--deny-exec"),
    (None, "--policy-timeout"),
    (None, "--time-start"),
    (None, "--num-cpus"),
    (None, "--cpu-cores"),
    (Some('c'), "--cpu"),
    (None, "--extra-deny-syscall"),
    (None, "--extra-allow-syscall"),
    (None, "--allow-degraded"),
    (None, "--name"),
    (Some('P'), "--max-processes"),
    (Some('m'), "--max-memory"),
    (None, "--workers"),
    (None, "--workdir"),
    (None, "--on-exit"),
    (None, "--on-error"),
    (None, "--fs-storage"),
    (None, "--fs-deny"),
    (None, "--max-disk"),
];

/// A flag of `run`, as its `--help` text lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunFlag {
    pub short: Option<char>,
    pub long: String,
    pub takes_value: bool,
}

/// Every flag of `run`, read from the help text argh makes of [`RunArgs`] (so a new
/// flag joins the list by itself): the usage line says which take a value, the option
/// lines pair short and long names.
pub fn run_flags() -> Vec<RunFlag> {
    let Err(early) = Cli::from_args(&["sandlet"], &["run", "--help"]) else {
        return Vec::new();
    };
    let text = early.output;
    let usage = text.lines().next().unwrap_or("");
    let mut flags = Vec::new();
    for line in text.lines().skip(1) {
        let line = line.trim_start();
        if !line.starts_with('-') {
            continue;
        }
        let names = line.split("  ").next().unwrap_or("");
        let (short, long) = match names.split_once(", ") {
            Some((s, l)) => (s.strip_prefix('-').and_then(|s| s.chars().next()), l),
            None => (None, names),
        };
        let long = long.trim().to_owned();
        if !long.starts_with("--") || long == "--help" {
            continue;
        }
        let spelled = match short {
            Some(c) => format!("[-{c} <"),
            None => format!("[{long} <"),
        };
        flags.push(RunFlag {
            short,
            takes_value: usage.contains(&spelled),
            long,
        });
    }
    flags
}

/// Rewrites `--flag=value` to `--flag value` and `-rPATH` to `-r PATH` for options that
/// take a value, after the subcommand and up to `--` or the first positional; argh
/// accepts only the split forms.
pub fn normalize(args: &[String]) -> Vec<String> {
    let mut out = Vec::with_capacity(args.len());
    let mut iter = args.iter();
    let mut in_subcommand = false;
    while let Some(arg) = iter.next() {
        if !in_subcommand && (arg == "run" || arg == "check") {
            in_subcommand = true;
            out.push(arg.clone());
            continue;
        }
        if arg == "--" || !arg.starts_with('-') {
            out.push(arg.clone());
            out.extend(iter.cloned());
            break;
        }
        if let Some((flag, value)) = arg.split_once('=') {
            if VALUE_FLAGS.iter().any(|&(_, long)| long == flag) {
                out.push(flag.to_owned());
                out.push(value.to_owned());
                continue;
            }
        }
        let mut chars = arg.chars();
        if let (Some('-'), Some(c)) = (chars.next(), chars.next()) {
            if c != '-' && VALUE_FLAGS.iter().any(|&(short, _)| short == Some(c)) {
                let rest = chars.as_str();
                out.push(format!("-{c}"));
                match rest {
                    "" => {
                        if let Some(value) = iter.next() {
                            out.push(value.clone());
                        }
                    }
                    _ => out.push(rest.to_owned()),
                }
                continue;
            }
        }
        let takes_value = VALUE_FLAGS.iter().any(|&(_, long)| long == arg);
        out.push(arg.clone());
        if takes_value {
            if let Some(value) = iter.next() {
                out.push(value.clone());
            }
        }
    }
    out
}

/// What the command line asked for.
#[derive(Debug)]
pub enum Parsed {
    /// `sandlet run`; the command as given (args after `--` are kept as OsString).
    Run(Box<RunArgs>, Vec<OsString>),
    Check,
    /// `sandlet recover [--fs-storage DIR] [WORKDIR]`.
    Recover {
        storage: Option<String>,
        dir: Option<String>,
    },
    /// `sandlet profile list|show|check`.
    Profile(ProfileCommand),
    /// `sandlet ps [--format json]`.
    Ps {
        json: bool,
    },
    /// `sandlet inspect NAME|PID`.
    Inspect(String),
    /// `sandlet kill [-s SIGNAL] NAME|PID`; the signal parsed.
    Kill {
        which: String,
        signal: i32,
    },
    /// `sandlet learn -o FILE RUN-FLAGS -- CMD`.
    Learn {
        run: Box<RunArgs>,
        command: Vec<OsString>,
        output: String,
    },
    /// `sandlet explain [--format text|json] [--bpf] RUN-FLAGS -- CMD`.
    Explain {
        run: Box<RunArgs>,
        command: Vec<OsString>,
        json: bool,
        bpf: bool,
    },
    Version,
    /// `--help` or `help` output, exit 0.
    Help(String),
    /// A usage error (one line), exit 2.
    Usage(String),
}

/// Parses argv (without argv[0]). Flags must be UTF-8; the command after `--` need not be.
pub fn parse(args: &[OsString]) -> Parsed {
    let split = args.iter().position(|a| a == "--");
    let (flags, tail) = match split {
        Some(i) => (&args[..i], Some(&args[i + 1..])),
        None => (args, None),
    };
    let Some(flags) = flags
        .iter()
        .map(|a| a.to_str().map(str::to_owned))
        .collect::<Option<Vec<String>>>()
    else {
        return Parsed::Usage(PolicyError::NonUtf8Argument.to_string());
    };
    let tail_utf8_ok = tail.is_none();
    let mut flags = normalize(&flags);
    // `learn` takes run's flags, plus -o FILE.
    let mut learn = None;
    if flags.first().is_some_and(|f| f == "learn") {
        let mut rest = Vec::new();
        let mut it = flags.iter().skip(1);
        while let Some(f) = it.next() {
            match f.as_str() {
                "-o" | "--output" => match it.next() {
                    Some(file) => learn = Some(file.clone()),
                    None => return Parsed::Usage("-o needs a file".into()),
                },
                _ => rest.push(f.clone()),
            }
        }
        let Some(output) = learn.take() else {
            return Parsed::Usage("sandlet learn needs -o FILE, the profile to write".into());
        };
        learn = Some(output);
        flags = std::iter::once("run".to_owned()).chain(rest).collect();
    }
    // `explain` takes run's flags, plus its own two.
    let mut explain = None;
    if flags.first().is_some_and(|f| f == "explain") {
        let (mut json, mut bpf) = (false, false);
        let mut rest = Vec::new();
        let mut it = flags.iter().skip(1);
        while let Some(f) = it.next() {
            match f.as_str() {
                "--bpf" => bpf = true,
                "--format" => match it.next().map(String::as_str) {
                    Some("json") => json = true,
                    Some("text") => json = false,
                    other => {
                        return Parsed::Usage(format!(
                            "--format takes text or json, not {:?}",
                            other.unwrap_or("nothing")
                        ))
                    }
                },
                _ => rest.push(f.clone()),
            }
        }
        explain = Some((json, bpf));
        flags = std::iter::once("run".to_owned()).chain(rest).collect();
    }
    if !tail_utf8_ok {
        // argh must not see the command: its arguments may look like flags or not be UTF-8.
        flags.push("--".into());
    }
    let refs: Vec<&str> = flags.iter().map(String::as_str).collect();
    match Cli::from_args(&["sandlet"], &refs) {
        Ok(cli) => match (cli.version, cli.command) {
            (true, _) => Parsed::Version,
            (false, Some(Command::Check(_))) => Parsed::Check,
            (false, Some(Command::Profile(p))) => Parsed::Profile(p.command),
            (false, Some(Command::Ps(p))) => match p.format.as_deref() {
                None | Some("text") => Parsed::Ps { json: false },
                Some("json") => Parsed::Ps { json: true },
                Some(other) => Parsed::Usage(format!("--format takes text or json, not {other:?}")),
            },
            (false, Some(Command::Inspect(i))) => Parsed::Inspect(i.which),
            (false, Some(Command::Kill(k))) => {
                let raw = k.signal.as_deref().unwrap_or("KILL");
                match crate::registry::parse_signal(raw) {
                    Some(signal) => Parsed::Kill {
                        which: k.which,
                        signal,
                    },
                    None => Parsed::Usage(format!("-s {raw:?}: not a signal")),
                }
            }
            (false, Some(Command::Recover(r))) => Parsed::Recover {
                storage: r.fs_storage,
                dir: r.dir,
            },
            (false, Some(Command::Run(run))) => {
                let command = match tail {
                    Some(tail) => tail.to_vec(),
                    None => run.command.iter().map(OsString::from).collect(),
                };
                if let Some(output) = learn {
                    return Parsed::Learn {
                        run: Box::new(run),
                        command,
                        output,
                    };
                }
                match explain {
                    Some((json, bpf)) => Parsed::Explain {
                        run: Box::new(run),
                        command,
                        json,
                        bpf,
                    },
                    None => Parsed::Run(Box::new(run), command),
                }
            }
            (false, None) => Parsed::Usage(
                "no subcommand given (try 'sandlet run -- CMD', 'sandlet check' or \
                 'sandlet --help')"
                    .into(),
            ),
        },
        Err(early) => match early.status {
            Ok(()) => Parsed::Help(early.output),
            Err(()) => {
                let first = early.output.lines().next().unwrap_or("invalid arguments");
                Parsed::Usage(format!(
                    "{} (see 'sandlet run --help')",
                    first.trim_end_matches('.')
                ))
            }
        },
    }
}

/// The [`Spec`] that `run`'s flags and `command` describe: each value parsed with the
/// pure parsers of [`crate::policy::parse`]; whether the whole makes sense is
/// [`crate::policy::Policy::new`]'s to judge.
pub fn spec(args: &RunArgs, command: Vec<OsString>) -> Result<Spec, PolicyError> {
    fn value<T>(
        flag: &'static str,
        raw: &str,
        parse: impl FnOnce(&str) -> Result<T, ParseError>,
    ) -> Result<T, PolicyError> {
        parse(raw).map_err(|source| PolicyError::BadValue {
            flag,
            value: raw.to_owned(),
            source,
        })
    }
    fn option<T>(
        flag: &'static str,
        raw: &Option<String>,
        parse: impl FnOnce(&str) -> Result<T, ParseError>,
    ) -> Result<Option<T>, PolicyError> {
        raw.as_deref().map(|r| value(flag, r, parse)).transpose()
    }
    fn list<T>(
        flag: &'static str,
        raws: &[String],
        parse: impl Fn(&str) -> Result<T, ParseError>,
    ) -> Result<Vec<T>, PolicyError> {
        raws.iter().map(|r| value(flag, r, &parse)).collect()
    }
    fn ports(flag: &'static str, raws: &[String]) -> Result<Option<PortSet>, PolicyError> {
        let sets = list(flag, raws, parse::parse_ports)?;
        Ok(sets.into_iter().reduce(PortSet::union))
    }
    /// A count that must fit `T`; `range` names the accepted values for the error.
    fn count<T: TryFrom<u64>>(
        flag: &'static str,
        raw: &Option<String>,
        range: &str,
    ) -> Result<Option<T>, PolicyError> {
        option(flag, raw, |r| {
            let n = parse::parse_count(r)?;
            T::try_from(n).map_err(|_| ParseError(format!("must be between {range}")))
        })
    }

    let mut extra_deny_syscalls = Vec::new();
    for name in &args.extra_deny_syscall {
        let s = Syscalls::named(name)
            .ok_or_else(|| PolicyError::UnknownSyscall { name: name.clone() })?;
        extra_deny_syscalls.push(s);
    }
    let mut extra_allow_groups = Vec::new();
    for name in &args.extra_allow_syscall {
        let g = group(name).ok_or_else(|| PolicyError::UnknownGroup { name: name.clone() })?;
        extra_allow_groups.push(g);
    }
    let mut allow_degraded = Vec::new();
    for name in &args.allow_degraded {
        let p = Protection::from_name(name)
            .ok_or_else(|| PolicyError::UnknownProtection { name: name.clone() })?;
        allow_degraded.push(p);
    }
    let env = list("--env", &args.env, parse::parse_env)?
        .into_iter()
        .map(|(k, v)| (k.into(), v.into()))
        .collect();
    // (Never negative: parse_time_start refuses instants before 1970.)
    let time_start = option("--time-start", &args.time_start, parse::parse_time_start)?
        .map(|ns| UNIX_EPOCH + Duration::from_nanos(ns.unsigned_abs()));
    Ok(Spec {
        command,
        fs_read: args.fs_read.iter().map(PathBuf::from).collect(),
        fs_write: args.fs_write.iter().map(PathBuf::from).collect(),
        no_default_devices: args.no_default_devices,
        cwd: args.cwd.as_ref().map(PathBuf::from),
        clean_env: args.clean_env,
        env,
        timeout: option("--timeout", &args.timeout, parse::parse_duration)?,
        max_open_files: option("--max-open-files", &args.max_open_files, parse::parse_count)?,
        no_coredump: args.no_coredump,
        no_randomize_memory: args.no_randomize_memory,
        no_huge_pages: args.no_huge_pages,
        max_processes: count("--max-processes", &args.max_processes, "1 and 4294967295")?,
        max_memory: option("--max-memory", &args.max_memory, parse::parse_size)?,
        memory_kill: args.memory_kill,
        cpu_percent: option("--cpu", &args.cpu, parse::parse_percent)?,
        cpu_cores: option("--cpu-cores", &args.cpu_cores, parse::parse_cpu_list)?,
        net_allow: list("--net-allow", &args.net_allow, net::parse_net_spec)?,
        net_deny: list("--net-deny", &args.net_deny, net::parse_net_spec)?,
        net_allow_bind: ports("--net-allow-bind", &args.net_allow_bind)?,
        net_deny_bind: ports("--net-deny-bind", &args.net_deny_bind)?.unwrap_or_default(),
        port_remap: args.port_remap,
        extra_deny_syscalls,
        extra_allow_groups,
        allow_degraded,
        keep_caps: args.keep_caps,
        name: args.name.clone(),
        random_seed: option("--random-seed", &args.random_seed, parse::parse_count)?,
        time_start,
        num_cpus: count("--num-cpus", &args.num_cpus, "1 and 1024")?,
        deterministic_dirs: args.deterministic_dirs,
        deny_exec: args.deny_exec.clone(),
        policy_exec: args.policy_exec.clone(),
        policy_timeout: option("--policy-timeout", &args.policy_timeout, parse::parse_count)?
            .map(Duration::from_millis),
        workers: count("--workers", &args.workers, "1 and 64")?,
        learn: false,
        status_fd: option("--status-fd", &args.status_fd, parse::parse_count)?
            .map(|fd| i32::try_from(fd).unwrap_or(i32::MAX)),
        no_supervisor: args.no_supervisor,
        view: ViewSpec {
            workdir: args.workdir.as_ref().map(PathBuf::from),
            on_exit: option("--on-exit", &args.on_exit, str::parse::<Finish>)?,
            on_error: option("--on-error", &args.on_error, str::parse::<Finish>)?,
            dry_run: args.dry_run,
            storage: args.fs_storage.as_ref().map(PathBuf::from),
            deny: args.fs_deny.iter().map(PathBuf::from).collect(),
            max_disk: option("--max-disk", &args.max_disk, parse::parse_size)?,
        },
    })
}

#[cfg(test)]
#[path = "cli_tests.rs"]
mod tests;
