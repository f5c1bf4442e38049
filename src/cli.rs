//! Command-line surface: argh structs of the subcommands (their doc comments are the
//! `--help` text; `run`'s flags are [`crate::flags`]'s), and the argv normalization argh
//! needs to accept sandlock-style `--flag=value` / `-m512M`.

use std::ffi::OsString;

use argh::FromArgs;

use crate::error::PolicyError;
pub use crate::flags::{spec, RunArgs};

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
    (None, "--fs-mount"),
    (None, "--chroot"),
    (None, "--image"),
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

#[cfg(test)]
#[path = "cli_tests.rs"]
mod tests;
