//! Profiles: `run` flags kept in a TOML file, in sandlock's schema, so that a sandlock
//! profile works unchanged. A profile is a producer like the command line: it becomes
//! `run`'s flags ([`RunArgs`]), which the command line then adds to (lists: the
//! profile's entries first, then the flags'; `--env`: a flag wins on the same name) or
//! overrides (single values; switches can only be turned on), before the one path from
//! flags to [`crate::policy::Spec`].
//!
//! Every key is checked when the file is read, with its `line:column`: an unknown
//! section or key, a value of the wrong TOML type, a value the flag's parser refuses, and
//! a key of sandlock's that sandlet does not implement (`[http]`,
//! `uid`/`gid`, `gpu_devices`) are errors, never ignored.

pub mod learned;
pub mod toml;

use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};

use self::toml::{Item, Pos, Table, Value};
use crate::flags::{self, RunArgs};

/// What is wrong with a profile, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileError {
    pub file: String,
    pub pos: Option<Pos>,
    pub msg: String,
}

impl fmt::Display for ProfileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.pos {
            Some(pos) => write!(f, "profile {}:{pos}: {}", self.file, self.msg),
            None => write!(f, "profile {}: {}", self.file, self.msg),
        }
    }
}

/// The TOML type a key takes.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Str,
    Int,
    Bool,
    Strings,
    /// Integers, or strings such as "9000-9005" (bind ports).
    Ports,
    /// Integers, joined with commas (CPU lists).
    Ints,
    /// A table of strings (`env`).
    StrMap,
}

/// Where a key's value goes.
#[derive(Clone, Copy)]
enum Target {
    Opt(fn(&mut RunArgs) -> &mut Option<String>),
    List(fn(&mut RunArgs) -> &mut Vec<String>),
    Switch(fn(&mut RunArgs) -> &mut bool),
    Env,
    Exec,
    Args,
    /// sandlock has it; sandlet does not (the reason).
    Missing(&'static str),
}

struct Key {
    section: &'static str,
    name: &'static str,
    kind: Kind,
    target: Target,
}

const fn key(section: &'static str, name: &'static str, kind: Kind, target: Target) -> Key {
    Key {
        section,
        name,
        kind,
        target,
    }
}

const HTTP: Target = Target::Missing("HTTP rules and interception are not implemented");

/// sandlock's schema, key by key.
const KEYS: &[Key] = &[
    key(
        "config",
        "fs_storage",
        Kind::Str,
        Target::Opt(|a| &mut a.fs_storage),
    ),
    key(
        "config",
        "workdir",
        Kind::Str,
        Target::Opt(|a| &mut a.workdir),
    ),
    key("config", "http_ca", Kind::Str, HTTP),
    key("config", "http_key", Kind::Str, HTTP),
    key("config", "http_inject_ca", Kind::Strings, HTTP),
    key("config", "http_ca_out", Kind::Str, HTTP),
    key(
        "determinism",
        "random_seed",
        Kind::Int,
        Target::Opt(|a| &mut a.random_seed),
    ),
    key(
        "determinism",
        "time_start",
        Kind::Str,
        Target::Opt(|a| &mut a.time_start),
    ),
    key(
        "determinism",
        "deterministic_dirs",
        Kind::Bool,
        Target::Switch(|a| &mut a.deterministic_dirs),
    ),
    key(
        "determinism",
        "no_randomize_memory",
        Kind::Bool,
        Target::Switch(|a| &mut a.no_randomize_memory),
    ),
    key("program", "exec", Kind::Str, Target::Exec),
    key("program", "args", Kind::Strings, Target::Args),
    key("program", "env", Kind::StrMap, Target::Env),
    key("program", "cwd", Kind::Str, Target::Opt(|a| &mut a.cwd)),
    key(
        "program",
        "uid",
        Kind::Int,
        Target::Missing("--user (another uid) is not implemented"),
    ),
    key(
        "program",
        "gid",
        Kind::Int,
        Target::Missing("--user (another gid) is not implemented"),
    ),
    key(
        "program",
        "clean_env",
        Kind::Bool,
        Target::Switch(|a| &mut a.clean_env),
    ),
    key(
        "program",
        "no_coredump",
        Kind::Bool,
        Target::Switch(|a| &mut a.no_coredump),
    ),
    key(
        "program",
        "no_huge_pages",
        Kind::Bool,
        Target::Switch(|a| &mut a.no_huge_pages),
    ),
    key(
        "filesystem",
        "read",
        Kind::Strings,
        Target::List(|a| &mut a.fs_read),
    ),
    key(
        "filesystem",
        "write",
        Kind::Strings,
        Target::List(|a| &mut a.fs_write),
    ),
    key(
        "filesystem",
        "deny",
        Kind::Strings,
        Target::List(|a| &mut a.fs_deny),
    ),
    key(
        "filesystem",
        "chroot",
        Kind::Str,
        Target::Opt(|a| &mut a.chroot),
    ),
    key(
        "filesystem",
        "mount",
        Kind::Strings,
        Target::List(|a| &mut a.fs_mount),
    ),
    key(
        "filesystem",
        "on_exit",
        Kind::Str,
        Target::Opt(|a| &mut a.on_exit),
    ),
    key(
        "filesystem",
        "on_error",
        Kind::Str,
        Target::Opt(|a| &mut a.on_error),
    ),
    key(
        "network",
        "allow",
        Kind::Strings,
        Target::List(|a| &mut a.net_allow),
    ),
    key(
        "network",
        "deny",
        Kind::Strings,
        Target::List(|a| &mut a.net_deny),
    ),
    key(
        "network",
        "allow_bind",
        Kind::Ports,
        Target::List(|a| &mut a.net_allow_bind),
    ),
    key(
        "network",
        "deny_bind",
        Kind::Ports,
        Target::List(|a| &mut a.net_deny_bind),
    ),
    key(
        "network",
        "port_remap",
        Kind::Bool,
        Target::Switch(|a| &mut a.port_remap),
    ),
    key("http", "allow", Kind::Strings, HTTP),
    key("http", "deny", Kind::Strings, HTTP),
    key("http", "ports", Kind::Ints, HTTP),
    key(
        "syscalls",
        "extra_allow",
        Kind::Strings,
        Target::List(|a| &mut a.extra_allow_syscall),
    ),
    key(
        "syscalls",
        "extra_deny",
        Kind::Strings,
        Target::List(|a| &mut a.extra_deny_syscall),
    ),
    key(
        "limits",
        "memory",
        Kind::Str,
        Target::Opt(|a| &mut a.max_memory),
    ),
    key(
        "limits",
        "processes",
        Kind::Int,
        Target::Opt(|a| &mut a.max_processes),
    ),
    key(
        "limits",
        "open_files",
        Kind::Int,
        Target::Opt(|a| &mut a.max_open_files),
    ),
    key("limits", "cpu", Kind::Int, Target::Opt(|a| &mut a.cpu)),
    key(
        "limits",
        "disk",
        Kind::Str,
        Target::Opt(|a| &mut a.max_disk),
    ),
    key(
        "limits",
        "cpu_cores",
        Kind::Ints,
        Target::Opt(|a| &mut a.cpu_cores),
    ),
    key(
        "limits",
        "num_cpus",
        Kind::Int,
        Target::Opt(|a| &mut a.num_cpus),
    ),
    key(
        "limits",
        "gpu_devices",
        Kind::Ints,
        Target::Missing("GPU access is not implemented"),
    ),
];

const SECTIONS: &[&str] = &[
    "config",
    "determinism",
    "program",
    "filesystem",
    "network",
    "http",
    "syscalls",
    "limits",
];

/// A profile, read and checked: the flags it gives and its command (`[program]`).
#[derive(Debug, Default)]
pub struct Profile {
    pub args: RunArgs,
    pub command: Vec<String>,
    /// The document as read (for `profile show`).
    pub table: Table,
}

/// Where `-p NAME` looks: `$XDG_CONFIG_HOME/sandlet/profiles`, else
/// `$HOME/.config/sandlet/profiles`.
pub fn dir() -> Option<PathBuf> {
    let nonempty = |v: &str| std::env::var_os(v).filter(|s| !s.is_empty());
    match (nonempty("XDG_CONFIG_HOME"), nonempty("HOME")) {
        (Some(config), _) => Some(PathBuf::from(config).join("sandlet/profiles")),
        (None, Some(home)) => Some(PathBuf::from(home).join(".config/sandlet/profiles")),
        (None, None) => None,
    }
}

/// The file of profile `name`.
pub fn path_of(name: &str) -> Result<PathBuf, ProfileError> {
    let fail = |msg: &str| ProfileError {
        file: name.to_owned(),
        pos: None,
        msg: msg.to_owned(),
    };
    if name.is_empty() || name.starts_with('.') || name.contains('/') {
        return Err(fail(
            "a profile name is a file name without .toml (use --profile-file for a path)",
        ));
    }
    let dir = dir().ok_or_else(|| fail("neither XDG_CONFIG_HOME nor HOME is set"))?;
    Ok(dir.join(format!("{name}.toml")))
}

/// Reads and checks the profile at `path`.
pub fn load(path: &Path) -> Result<Profile, ProfileError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| ProfileError {
        file: file.clone(),
        pos: None,
        msg: format!("cannot read it: {e}"),
    })?;
    from_text(&text, &file)
}

/// Checks a profile's text (`file` names it in errors).
pub fn from_text(text: &str, file: &str) -> Result<Profile, ProfileError> {
    let at = |pos: Pos, msg: String| ProfileError {
        file: file.to_owned(),
        pos: Some(pos),
        msg,
    };
    let table = toml::parse(text).map_err(|e| at(e.pos, e.msg))?;
    let mut profile = Profile::default();
    let mut exec = None;
    let mut args = Vec::new();
    for section in &table.entries {
        let Value::Table(keys) = &section.item.value else {
            return Err(at(
                section.pos,
                format!(
                    "'{}' is outside a section ([program], [limits], ...)",
                    section.key
                ),
            ));
        };
        if !SECTIONS.contains(&section.key.as_str()) {
            return Err(at(
                section.pos,
                format!(
                    "unknown section [{}] (known: {})",
                    section.key,
                    SECTIONS.join(", ")
                ),
            ));
        }
        for entry in &keys.entries {
            let name = format!("[{}] {}", section.key, entry.key);
            let Some(k) = KEYS
                .iter()
                .find(|k| k.section == section.key && k.name == entry.key)
            else {
                return Err(at(entry.pos, format!("unknown key {name}")));
            };
            let values = strings(&entry.item, k.kind)
                .map_err(|(pos, want)| at(pos, format!("{name} must be {want}")))?;
            match k.target {
                Target::Missing(why) => {
                    return Err(at(entry.pos, format!("{name}: {why} in sandlet")))
                }
                Target::Exec => exec = values.into_iter().next(),
                Target::Args => args = values,
                Target::Env => profile.args.env.extend(values),
                Target::List(field) => field(&mut profile.args).extend(values),
                Target::Opt(field) => *field(&mut profile.args) = values.into_iter().next(),
                Target::Switch(field) => {
                    *field(&mut profile.args) = values.first().is_some_and(|v| v == "true")
                }
            }
            // The flag's own parser judges the value now, where its line is known.
            let mut alone = RunArgs::default();
            apply_key(&mut alone, &profile.args, k.target);
            if let Err(e) = flags::spec(&alone, vec![OsString::from("true")]) {
                return Err(at(entry.item.pos, format!("{name}: {e}")));
            }
        }
    }
    if let Some(exec) = exec {
        profile.command.push(exec);
        profile.command.extend(args);
    } else if !args.is_empty() {
        return Err(ProfileError {
            file: file.to_owned(),
            pos: None,
            msg: "[program] args without [program] exec".into(),
        });
    }
    profile.table = table;
    Ok(profile)
}

/// Copies what `target` set in `from` into `to`.
fn apply_key(to: &mut RunArgs, from: &RunArgs, target: Target) {
    let mut from = from.clone();
    match target {
        Target::Opt(field) => *field(to) = field(&mut from).take(),
        Target::List(field) => *field(to) = std::mem::take(field(&mut from)),
        Target::Switch(field) => *field(to) = *field(&mut from),
        Target::Env => to.env = from.env,
        Target::Exec | Target::Args | Target::Missing(_) => {}
    }
}

fn int(v: &Value) -> Option<String> {
    match v {
        Value::Int(i) => Some(i.to_string()),
        _ => None,
    }
}

/// The value of `item` as `kind` wants it, as flag strings; else where it is wrong and
/// what it must be.
fn strings(item: &Item, kind: Kind) -> Result<Vec<String>, (Pos, &'static str)> {
    let each = |want: &'static str, ok: fn(&Value) -> Option<String>| match &item.value {
        Value::Array(items) => items
            .iter()
            .map(|i| ok(&i.value).ok_or((i.pos, want)))
            .collect(),
        _ => Err((item.pos, want)),
    };
    match (kind, &item.value) {
        (Kind::Str, Value::Str(s)) => Ok(vec![s.clone()]),
        (Kind::Str, _) => Err((item.pos, "a string")),
        (Kind::Int, Value::Int(i)) => Ok(vec![i.to_string()]),
        (Kind::Int, _) => Err((item.pos, "an integer")),
        (Kind::Bool, Value::Bool(b)) => Ok(vec![b.to_string()]),
        (Kind::Bool, _) => Err((item.pos, "true or false")),
        (Kind::Strings, _) => each("an array of strings", |v| match v {
            Value::Str(s) => Some(s.clone()),
            _ => None,
        }),
        (Kind::Ports, _) => each("an array of ports (integers or strings)", |v| match v {
            Value::Str(s) => Some(s.clone()),
            v => int(v),
        }),
        (Kind::Ints, _) => {
            let ints: Vec<String> = each("an array of integers", int)?;
            Ok(vec![ints.join(",")])
        }
        (Kind::StrMap, Value::Table(t)) => t
            .entries
            .iter()
            .map(|e| match &e.item.value {
                Value::Str(v) => Ok(format!("{}={v}", e.key)),
                _ => Err((e.item.pos, "a table of strings")),
            })
            .collect(),
        (Kind::StrMap, _) => Err((item.pos, "a table of strings")),
    }
}

/// Puts the profile `-p`/`--profile-file` names (if any) under the command line's
/// flags: lists get the profile's entries first, single values and switches the
/// command line's when given; the command line's command replaces `[program]`'s.
pub fn apply(args: &mut RunArgs, command: &mut Vec<OsString>) -> Result<(), ProfileError> {
    let path = match (&args.profile, &args.profile_file) {
        (None, None) => return Ok(()),
        (Some(_), Some(_)) => {
            return Err(ProfileError {
                file: "-p".into(),
                pos: None,
                msg: "-p/--profile and --profile-file cannot be combined".into(),
            })
        }
        (Some(name), None) => path_of(name)?,
        (None, Some(file)) => PathBuf::from(file),
    };
    let profile = load(&path)?;
    merge(args, profile.args);
    if command.is_empty() {
        command.extend(profile.command.into_iter().map(OsString::from));
    }
    Ok(())
}

/// The command line's flags `cli` over a profile's `base`.
fn merge(cli: &mut RunArgs, mut base: RunArgs) {
    for k in KEYS {
        match k.target {
            Target::Opt(field) => {
                if field(cli).is_none() {
                    *field(cli) = field(&mut base).take();
                }
            }
            Target::List(field) => {
                let mut list = std::mem::take(field(&mut base));
                list.append(field(cli));
                *field(cli) = list;
            }
            Target::Switch(field) => *field(cli) |= *field(&mut base),
            Target::Env => {
                let mut env = std::mem::take(&mut base.env);
                env.append(&mut cli.env);
                cli.env = env;
            }
            Target::Exec | Target::Args | Target::Missing(_) => {}
        }
    }
}

#[cfg(test)]
mod tests;
