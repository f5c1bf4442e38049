//! `sandlet` command line: parse, build the policy, run, map the outcome to an exit code.

use std::ffi::OsString;
use std::io::Write;
use std::process::ExitCode;

use sandlet::cli::{self, Parsed};
use sandlet::policy::Policy;
use sandlet::supervisor::Outcome;

/// Writes one line to stderr; a failed write (a closed pipe) is ignored, so it never
/// changes the exit code.
macro_rules! say {
    ($($arg:tt)*) => {{
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

/// Writes one line to stdout; a failed write is ignored, as for [`say!`].
macro_rules! tell {
    ($($arg:tt)*) => {{
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

/// sandlet's log lines on stderr, `sandlet: LEVEL: message`, for its own targets.
struct Logger;

impl log::Log for Logger {
    fn enabled(&self, meta: &log::Metadata<'_>) -> bool {
        meta.level() <= log::max_level() && meta.target().starts_with("sandlet")
    }

    fn log(&self, record: &log::Record<'_>) {
        if self.enabled(record.metadata()) {
            let level = record.level().as_str().to_ascii_lowercase();
            // One write per line, so lines of concurrent threads do not interleave.
            let line = format!("sandlet: {level}: {}\n", record.args());
            let _ = std::io::stderr().write_all(line.as_bytes());
        }
    }

    fn flush(&self) {}
}

/// The level of sandlet's log from `RUST_LOG` (`warn` when it says nothing of sandlet):
/// the last directive naming `sandlet` or a module of it (`sandlet=debug`,
/// `sandlet::supervisor=trace`), else the last bare level (`debug`).
fn log_level(spec: &str) -> log::LevelFilter {
    let (mut ours, mut bare) = (None, None);
    for directive in spec.split(',').map(str::trim) {
        match directive.split_once('=') {
            Some((target, level)) if target == "sandlet" || target.starts_with("sandlet::") => {
                ours = level.parse().ok().or(ours);
            }
            Some(_) => {}
            None => bare = directive.parse().ok().or(bare),
        }
    }
    ours.or(bare).unwrap_or(log::LevelFilter::Warn)
}

fn init_logging() {
    static LOGGER: Logger = Logger;
    let spec = std::env::var("RUST_LOG").unwrap_or_default();
    if log::set_logger(&LOGGER).is_ok() {
        log::set_max_level(log_level(&spec));
    }
}

/// Exit code of `sandlet run` for how the command ended.
fn exit_code(outcome: Outcome) -> u8 {
    if let Outcome::TimedOut(after) = outcome {
        say!(
            "sandlet: timeout of {}s expired; the sandbox was killed",
            sandlet::policy::parse::format_secs(after)
        );
    }
    outcome.exit_code()
}

/// `sandlet recover`: finishes the commits cut short, lists the kept layers; exit 1
/// when a commit could not be finished, 2 on a bad directory.
fn recover(storage: Option<String>, dir: Option<String>) -> u8 {
    use sandlet::overlay::Recovered;
    let storage = storage.map(std::path::PathBuf::from).unwrap_or_else(|| {
        sandlet::policy::view::default_storage(rustix::process::getuid().as_raw())
    });
    let only = match dir.map(std::fs::canonicalize).transpose() {
        Ok(d) => d,
        Err(e) => {
            say!("sandlet: error: recover: {e}");
            return 2;
        }
    };
    match sandlet::overlay::recover(&storage, only.as_deref()) {
        Err(e) => {
            say!("sandlet: error: recover {}: {e}", storage.display());
            1
        }
        Ok(found) => {
            let mut code = 0;
            for r in found {
                match r {
                    Recovered::Finished { layer, workdir } => tell!(
                        "finished: the commit of {} to {}",
                        layer.display(),
                        workdir.display()
                    ),
                    Recovered::Failed {
                        layer,
                        workdir,
                        why,
                    } => {
                        code = 1;
                        tell!(
                            "failed: the commit of {} to {}: {why}",
                            layer.display(),
                            workdir.display()
                        )
                    }
                    Recovered::Lost { layer, workdir } => tell!(
                        "lost: the --max-disk commit of {} to {} (the layer was in memory)",
                        layer.display(),
                        workdir.display()
                    ),
                    Recovered::Kept { layer, workdir } => tell!(
                        "kept: {} (changes to {}; or a run still going)",
                        layer.display(),
                        workdir.display()
                    ),
                }
            }
            code
        }
    }
}

/// Reports what became of the `--workdir` changes; a failed commit makes a successful
/// run exit 1.
fn view_end(view: sandlet::overlay::ViewEnd, code: u8) -> u8 {
    if let Some(changes) = &view.changes {
        if changes.is_empty() {
            say!("sandlet: dry-run: no filesystem changes");
        }
        for change in changes {
            say!("{change}");
        }
    }
    match (&view.failed, &view.kept) {
        (Some(why), Some(kept)) => {
            say!(
                "sandlet: error: {why}; the changes are kept in {}",
                kept.display()
            );
            if code == 0 {
                1
            } else {
                code
            }
        }
        (Some(why), None) => {
            say!("sandlet: error: {why}");
            code
        }
        (None, Some(kept)) => {
            say!("sandlet: changes kept in {}", kept.display());
            code
        }
        (None, None) => code,
    }
}

/// The OCI runtime (`sandlet-runc ARGS` or `sandlet oci ARGS`): runc's command line.
/// Errors go to stderr and, with `--log`, to that file (JSON lines with
/// `--log-format json`, as containerd's shim reads them); exit 1.
fn oci(args: &[OsString]) -> u8 {
    use sandlet::oci::{cli, Done};
    let args: Option<Vec<String>> = args.iter().map(|a| a.to_str().map(str::to_owned)).collect();
    let Some(args) = args else {
        say!("sandlet-runc: error: an argument is not valid UTF-8");
        return 2;
    };
    let (global, command) = match cli::parse(&args) {
        Ok(parsed) => parsed,
        Err(e) => {
            say!("sandlet-runc: error: {e}");
            return 2;
        }
    };
    match sandlet::oci::main(&global, command) {
        Ok(Done::Print(text)) => {
            let _ = write!(std::io::stdout(), "{text}");
            0
        }
        Ok(Done::Exit(code)) => code,
        Err(e) => {
            say!("sandlet-runc: error: {e}");
            if let Some(log) = &global.log {
                let line = sandlet::oci::log_line(&e.to_string(), global.log_json);
                if let Ok(mut f) = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(log)
                {
                    let _ = f.write_all(line.as_bytes());
                }
            }
            1
        }
    }
}

fn main() -> ExitCode {
    init_logging();
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    let argv0 = std::env::args_os().next().unwrap_or_default();
    let runc =
        std::path::Path::new(&argv0).file_name() == Some(std::ffi::OsStr::new("sandlet-runc"));
    match args.first() {
        Some(a) if a == "oci" => return ExitCode::from(oci(&args[1..])),
        _ if runc => return ExitCode::from(oci(&args)),
        _ => {}
    }
    let code = match cli::parse(&args) {
        Parsed::Help(text) => {
            let _ = write!(std::io::stdout(), "{text}");
            0
        }
        Parsed::Version => {
            let _ = writeln!(std::io::stdout(), "sandlet {}", env!("CARGO_PKG_VERSION"));
            0
        }
        Parsed::Usage(msg) => {
            say!("sandlet: error: {msg}");
            2
        }
        Parsed::Recover { storage, dir } => recover(storage, dir),
        Parsed::Check => {
            let report = sandlet::check::probe();
            let _ = write!(std::io::stdout(), "{report}");
            if report.ok() {
                0
            } else {
                1
            }
        }
        Parsed::Profile(command) => profile(command),
        Parsed::Ps { json } => ps(json),
        Parsed::Inspect(which) => match sandlet::registry::find(&which) {
            Some(entry) => match sandlet::registry::ask(&entry, "inspect") {
                Ok(text) => {
                    let _ = write!(std::io::stdout(), "{text}");
                    0
                }
                Err(e) => {
                    say!("sandlet: error: inspect {which}: {e}");
                    1
                }
            },
            None => {
                say!("sandlet: error: no running sandbox of this user is named {which:?} or has that pid");
                1
            }
        },
        Parsed::Kill { which, signal } => kill(&which, signal),
        Parsed::Learn {
            mut run,
            mut command,
            output,
        } => match sandlet::profile::apply(&mut run, &mut command) {
            Ok(()) => learn(&run, command, &output),
            Err(e) => {
                say!("sandlet: error: {e}");
                2
            }
        },
        Parsed::Explain {
            mut run,
            mut command,
            json,
            bpf,
        } => {
            let policy = sandlet::profile::apply(&mut run, &mut command)
                .map_err(|e| e.to_string())
                .and_then(|()| {
                    cli::spec(&run, command)
                        .and_then(Policy::new)
                        .map_err(|e| e.to_string())
                });
            match policy {
                Ok(policy) => {
                    let e = sandlet::explain::explain(&policy, sandlet::landlock::abi(), bpf);
                    let _ = if json {
                        writeln!(std::io::stdout(), "{}", e.to_json())
                    } else {
                        write!(std::io::stdout(), "{e}")
                    };
                    0
                }
                Err(e) => {
                    say!("sandlet: error: {e}");
                    2
                }
            }
        }
        Parsed::Run(mut args, mut command) => {
            match sandlet::profile::apply(&mut args, &mut command) {
                Ok(()) => run(&args, command),
                Err(e) => {
                    say!("sandlet: error: {e}");
                    2
                }
            }
        }
    };
    ExitCode::from(code)
}

/// `sandlet ps`: one line (or JSON object) per running sandbox of this user.
fn ps(json: bool) -> u8 {
    use sandlet::registry;
    use std::fmt::Write as _;
    let mut rows = Vec::new();
    for entry in registry::list() {
        let status = registry::ask(&entry, "status").ok();
        rows.push((entry, status));
    }
    let mut out = std::io::stdout();
    let shown = if json {
        let objects: Vec<String> = rows
            .iter()
            .map(|(e, status)| match status {
                Some(s) => s.trim().to_owned(),
                None => format!(
                    "{{\"name\":{},\"pid\":{},\"command_pid\":{},\"command\":{}}}",
                    sandlet::dynamic::json_string(&e.name),
                    e.pid,
                    e.command_pid,
                    sandlet::dynamic::json_string(&e.command)
                ),
            })
            .collect();
        writeln!(out, "[{}]", objects.join(","))
    } else {
        let mut text = format!(
            "{:<20} {:>7} {:>7} {:>8} {:>9} {:>17} {:>8}  COMMAND\n",
            "NAME", "PID", "CMD-PID", "UPTIME", "PROCS", "MEMORY", "NOTIFS"
        );
        for (e, status) in &rows {
            let field = |key: &str| status.as_deref().and_then(|s| json_number(s, key));
            let of = |used: Option<u64>, max: Option<u64>, size: bool| {
                let show = |v: u64| {
                    if size {
                        sandlet::policy::parse::format_size(v.max(1))
                    } else {
                        v.to_string()
                    }
                };
                match (used, max) {
                    (Some(u), Some(m)) => format!("{}/{}", show(u), show(m)),
                    (Some(u), None) => show(u),
                    _ => "-".to_owned(),
                }
            };
            let uptime =
                field("uptime_ms").map_or_else(|| "-".to_owned(), |ms| format!("{}s", ms / 1000));
            let _ = writeln!(
                text,
                "{:<20} {:>7} {:>7} {:>8} {:>9} {:>17} {:>8}  {}",
                e.name,
                e.pid,
                e.command_pid,
                uptime,
                of(field("processes"), field("max_processes"), false),
                of(field("memory"), field("max_memory"), true),
                field("notifications").map_or_else(|| "-".to_owned(), |n| n.to_string()),
                e.command
            );
        }
        write!(out, "{text}")
    };
    u8::from(shown.is_err())
}

/// The number at `"key":` in a flat JSON object of ours; `None` for null or absent.
fn json_number(object: &str, key: &str) -> Option<u64> {
    let at = object.find(&format!("\"{key}\":"))? + key.len() + 3;
    let digits: String = object[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

/// `sandlet kill`: signals the sandbox and waits (at most 10 s) until its sandlet is
/// gone.
fn kill(which: &str, signal: i32) -> u8 {
    use sandlet::registry;
    let Some(entry) = registry::find(which) else {
        say!("sandlet: error: no running sandbox of this user is named {which:?} or has that pid");
        return 1;
    };
    let pidfd = rustix::process::Pid::from_raw(entry.pid)
        .and_then(|p| rustix::process::pidfd_open(p, rustix::process::PidfdFlags::empty()).ok());
    if let Err(e) = registry::ask(&entry, &format!("kill {signal}")) {
        say!("sandlet: error: kill {which}: {e}");
        return 1;
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while entry.alive() {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            say!("sandlet: error: {} is still running after 10 s", entry.name);
            return 1;
        }
        match &pidfd {
            Some(fd) => {
                let mut fds = [rustix::event::PollFd::new(fd, rustix::event::PollFlags::IN)];
                let t = rustix::time::Timespec {
                    tv_sec: left.as_secs() as i64,
                    tv_nsec: i64::from(left.subsec_nanos()),
                };
                let _ = rustix::event::poll(&mut fds, Some(&t));
            }
            None => std::thread::sleep(std::time::Duration::from_millis(10)),
        }
    }
    0
}

/// `sandlet profile list|show|check`.
fn profile(command: cli::ProfileCommand) -> u8 {
    use sandlet::profile;
    let mut out = std::io::stdout();
    let shown = match command {
        cli::ProfileCommand::List(_) => {
            let Some(dir) = profile::dir() else {
                say!("sandlet: error: neither XDG_CONFIG_HOME nor HOME is set");
                return 2;
            };
            let mut names: Vec<String> = std::fs::read_dir(&dir)
                .map(|entries| {
                    entries
                        .filter_map(|e| e.ok()?.file_name().into_string().ok())
                        .filter_map(|n| n.strip_suffix(".toml").map(str::to_owned))
                        .filter(|n| !n.starts_with('.'))
                        .collect()
                })
                .unwrap_or_default();
            names.sort();
            names.iter().try_for_each(|n| writeln!(out, "{n}"))
        }
        cli::ProfileCommand::Show(show) => {
            match profile::path_of(&show.name).and_then(|p| profile::load(&p)) {
                Ok(p) => write!(out, "{}", p.table),
                Err(e) => {
                    say!("sandlet: error: {e}");
                    return 2;
                }
            }
        }
        cli::ProfileCommand::Check(check) => {
            match profile::load(std::path::Path::new(&check.file)) {
                Ok(_) => writeln!(out, "{}: ok", check.file),
                Err(e) => {
                    say!("sandlet: error: {e}");
                    return 2;
                }
            }
        }
    };
    u8::from(shown.is_err())
}

/// `sandlet learn`: runs the command recording what it uses, then writes the profile.
fn learn(args: &cli::RunArgs, command: Vec<OsString>, output: &str) -> u8 {
    let shown: Vec<String> = command
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let policy = cli::spec(args, command).and_then(|mut spec| {
        spec.learn = true;
        Policy::new(spec)
    });
    let policy = match policy {
        Ok(p) => p,
        Err(e) => {
            say!("sandlet: error: {e}");
            return 2;
        }
    };
    let report = match sandlet::Sandbox::from_policy(policy).run() {
        Ok(r) => r,
        Err(e) => {
            say!("sandlet: error: {e}");
            return e.exit_code();
        }
    };
    let code = exit_code(report.outcome);
    let home = std::env::var_os("HOME").map(std::path::PathBuf::from);
    let record = report.learned.unwrap_or_default();
    let learned =
        sandlet::profile::learned::profile(&record, &shown, home.as_deref(), &|p| p.exists());
    if let Err(e) = std::fs::write(output, &learned.text) {
        say!("sandlet: error: write {output}: {e}");
        return 1;
    }
    for w in &learned.withheld {
        say!(
            "sandlet: learn: {} is a credential file: not granted",
            w.display()
        );
    }
    if code != 0 {
        say!("sandlet: learn: the command exited with {code}; {output} holds what it used until then");
    }
    code
}

/// `sandlet run`, once the flags are final.
fn run(args: &cli::RunArgs, command: Vec<std::ffi::OsString>) -> u8 {
    match cli::spec(args, command).and_then(Policy::new) {
        Err(e) => {
            say!("sandlet: error: {e}");
            2
        }
        Ok(policy) => match sandlet::Sandbox::from_policy(policy).run() {
            Ok(report) => {
                if let Some(m) = report.memory {
                    let limit = sandlet::policy::parse::format_size(m.limit);
                    if m.killed {
                        say!("sandlet: memory limit of {limit} exceeded, killed");
                    } else if m.refused > 0 {
                        // A program that does not handle ENOMEM often crashes on it.
                        let after = match report.outcome {
                            Outcome::Signaled(sig) => {
                                format!("; the command then died of signal {sig}")
                            }
                            _ => String::new(),
                        };
                        say!(
                            "sandlet: {} allocation(s) refused at the memory limit of \
                                 {limit}{after}",
                            m.refused
                        );
                    }
                }
                let code = exit_code(report.outcome);
                match report.view {
                    Some(view) => view_end(view, code),
                    None => code,
                }
            }
            Err(e) => {
                say!("sandlet: error: {e}");
                e.exit_code()
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::log_level;
    use log::LevelFilter;

    #[test]
    fn rust_log_directives() {
        assert_eq!(log_level(""), LevelFilter::Warn);
        assert_eq!(log_level("sandlet=debug"), LevelFilter::Debug);
        assert_eq!(log_level("sandlet::supervisor=trace"), LevelFilter::Trace);
        assert_eq!(log_level("info"), LevelFilter::Info);
        assert_eq!(log_level("info,sandlet=error"), LevelFilter::Error);
        assert_eq!(log_level("mio=trace"), LevelFilter::Warn);
        assert_eq!(log_level("sandlet=bogus"), LevelFilter::Warn);
        assert_eq!(log_level("sandlet=off"), LevelFilter::Off);
    }
}
