//! runc's command line, as containerd's shim (go-runc) and people call it: global flags
//! before the command, `--flag=value` or `--flag value`, one or two dashes.

use std::path::PathBuf;

/// The global flags.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Global {
    pub root: Option<PathBuf>,
    pub log: Option<PathBuf>,
    pub log_json: bool,
    pub debug: bool,
}

/// A command with its flags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Create(Create),
    Run {
        create: Create,
        detach: bool,
    },
    Start {
        id: String,
    },
    State {
        id: String,
    },
    Kill {
        id: String,
        signal: i32,
        all: bool,
    },
    Delete {
        id: String,
        force: bool,
    },
    Exec(Exec),
    Ps {
        id: String,
    },
    /// `update`: limits lowered (`--resources FILE` or `-` for stdin, or `--memory`,
    /// `--pids-limit`).
    Update {
        id: String,
        resources: Option<PathBuf>,
        memory: Option<String>,
        pids: Option<String>,
    },
    /// `pause` (true) or `resume` (false).
    Pause {
        id: String,
        pause: bool,
    },
    Features,
    Spec {
        bundle: PathBuf,
    },
    /// `pause`, `resume`, `update`, `checkpoint`, ...: refused with the reason.
    Unsupported {
        name: String,
    },
    /// Internal: the container's init process (started by `create`).
    Init {
        id: String,
    },
}

/// `create` (and `run`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Create {
    pub id: String,
    pub bundle: PathBuf,
    pub pid_file: Option<PathBuf>,
    pub console_socket: Option<PathBuf>,
}

/// `exec`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exec {
    pub id: String,
    pub process: Option<PathBuf>,
    pub args: Vec<String>,
    pub detach: bool,
    pub pid_file: Option<PathBuf>,
    pub console_socket: Option<PathBuf>,
}

/// Flags that take no value (everything else that starts with `-` takes one).
const SWITCHES: &[&str] = &[
    "debug",
    "systemd-cgroup",
    "detach",
    "d",
    "all",
    "a",
    "force",
    "f",
    "no-pivot",
    "no-new-keyring",
    "no-subreaper",
    "tty",
    "t",
    "help",
    "h",
    "version",
    "v",
];

/// A flag's name and value (none for a switch).
type Flag = (String, Option<String>);

/// Flags and positionals of one level, in order.
fn split(args: &[String]) -> Result<(Vec<Flag>, Vec<String>), String> {
    let mut flags = Vec::new();
    let mut rest = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        if a == "--" {
            rest.extend(args[i + 1..].iter().cloned());
            break;
        }
        if let Some(name) = a.strip_prefix("--").or_else(|| a.strip_prefix('-')) {
            if !rest.is_empty() || name.is_empty() {
                rest.extend(args[i..].iter().cloned());
                break;
            }
            match name.split_once('=') {
                Some((n, v)) => flags.push((n.to_owned(), Some(v.to_owned()))),
                None if SWITCHES.contains(&name) => flags.push((name.to_owned(), None)),
                None => {
                    let v = args
                        .get(i + 1)
                        .ok_or_else(|| format!("flag --{name} needs a value"))?;
                    flags.push((name.to_owned(), Some(v.clone())));
                    i += 1;
                }
            }
        } else {
            rest.push(a.clone());
        }
        i += 1;
    }
    Ok((flags, rest))
}

fn truth(v: &Option<String>) -> bool {
    !matches!(v.as_deref(), Some("false" | "0"))
}

/// Parses runc's arguments (without the program name).
pub fn parse(args: &[String]) -> Result<(Global, Command), String> {
    // The command: the first word that is neither a flag nor a flag's value.
    let mut at = 0;
    while let Some(a) = args.get(at) {
        match a.strip_prefix("--").or_else(|| a.strip_prefix('-')) {
            Some(f) if f.contains('=') || SWITCHES.contains(&f) => at += 1,
            Some(_) => at += 2,
            None => break,
        }
    }
    if at >= args.len() {
        return Err("no command given".into());
    }
    let (flags, _) = split(&args[..at])?;
    let mut global = Global::default();
    for (name, value) in flags {
        match (name.as_str(), value) {
            ("root", Some(v)) => global.root = Some(v.into()),
            ("log", Some(v)) => global.log = Some(v.into()),
            ("log-format", Some(v)) => match v.as_str() {
                "json" => global.log_json = true,
                "text" => global.log_json = false,
                _ => return Err(format!("--log-format '{v}': text or json")),
            },
            ("debug", v) => global.debug = truth(&v),
            ("systemd-cgroup", _) | ("rootless", _) | ("criu", _) => {}
            (other, _) => return Err(format!("unknown global flag --{other}")),
        }
    }
    let name = args[at].as_str();
    let (flags, pos) = split(&args[at + 1..])?;
    let flag = |n: &[&str]| {
        flags
            .iter()
            .rev()
            .find(|(f, _)| n.contains(&f.as_str()))
            .map(|(_, v)| v.clone())
    };
    let path = |n: &[&str]| flag(n).flatten().map(PathBuf::from);
    let on = |n: &[&str]| flag(n).is_some_and(|v| truth(&v));
    let id = || -> Result<String, String> {
        match pos.first() {
            Some(id) if valid_id(id) => Ok(id.clone()),
            Some(id) => Err(format!("invalid container id '{id}'")),
            None => Err(format!("{name}: a container id is required")),
        }
    };
    let create = || -> Result<Create, String> {
        Ok(Create {
            id: id()?,
            bundle: path(&["bundle", "b"]).unwrap_or_else(|| PathBuf::from(".")),
            pid_file: path(&["pid-file"]),
            console_socket: path(&["console-socket"]),
        })
    };
    let command = match name {
        "create" => Command::Create(create()?),
        "run" => Command::Run {
            create: create()?,
            detach: on(&["detach", "d"]),
        },
        "start" => Command::Start { id: id()? },
        "state" => Command::State { id: id()? },
        "kill" => Command::Kill {
            id: id()?,
            signal: signal(pos.get(1).map_or("TERM", String::as_str))?,
            all: on(&["all", "a"]),
        },
        "delete" => Command::Delete {
            id: id()?,
            force: on(&["force", "f"]),
        },
        "exec" => Command::Exec(Exec {
            id: id()?,
            process: path(&["process", "p"]),
            args: pos[1..].to_vec(),
            detach: on(&["detach", "d"]),
            pid_file: path(&["pid-file"]),
            console_socket: path(&["console-socket"]),
        }),
        "ps" => Command::Ps { id: id()? },
        "features" => Command::Features,
        "spec" => Command::Spec {
            bundle: path(&["bundle", "b"]).unwrap_or_else(|| PathBuf::from(".")),
        },
        "init" => Command::Init { id: id()? },
        "pause" => Command::Pause {
            id: id()?,
            pause: true,
        },
        "resume" => Command::Pause {
            id: id()?,
            pause: false,
        },
        "update" => Command::Update {
            id: id()?,
            resources: path(&["resources", "r"]),
            memory: flag(&["memory", "m"]).flatten(),
            pids: flag(&["pids-limit"]).flatten(),
        },
        "checkpoint" | "restore" | "events" | "list" => Command::Unsupported {
            name: name.to_owned(),
        },
        other => return Err(format!("unknown command '{other}'")),
    };
    Ok((global, command))
}

/// runc's rule for ids: letters, digits, `_`, `+`, `-`, `.`; not `.` or `..`.
pub fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id != "."
        && id != ".."
        && id.len() <= 1024
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'+' | b'-' | b'.'))
}

/// A signal by number (1-64) or name (`KILL`, `SIGKILL`), as `sandlet kill` takes it.
pub fn signal(s: &str) -> Result<i32, String> {
    crate::registry::parse_signal(s).ok_or_else(|| format!("unknown signal '{s}'"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Result<(Global, Command), String> {
        parse(&s.split_whitespace().map(str::to_owned).collect::<Vec<_>>())
    }

    #[test]
    fn shim_command_lines() {
        let (g, c) = p("--root /run/r --log /l.json --log-format json --systemd-cgroup create --bundle /b --pid-file /p --console-socket=/s id1").unwrap();
        assert_eq!(g.root, Some("/run/r".into()));
        assert!(g.log_json);
        assert_eq!(
            c,
            Command::Create(Create {
                id: "id1".into(),
                bundle: "/b".into(),
                pid_file: Some("/p".into()),
                console_socket: Some("/s".into()),
            })
        );
        assert_eq!(
            p("--root=/r kill --all id1 9").unwrap().1,
            Command::Kill {
                id: "id1".into(),
                signal: 9,
                all: true
            }
        );
        assert_eq!(
            p("kill c SIGUSR1").unwrap().1,
            Command::Kill {
                id: "c".into(),
                signal: 10,
                all: false
            }
        );
        assert_eq!(
            p("delete --force c").unwrap().1,
            Command::Delete {
                id: "c".into(),
                force: true
            }
        );
        let Command::Exec(e) = p("exec --process /p.json --detach --pid-file /x c")
            .unwrap()
            .1
        else {
            panic!()
        };
        assert!(e.detach && e.process == Some("/p.json".into()));
        assert!(p("create --bundle /b ../x").is_err());
        assert!(p("kill c NOPE").is_err());
        assert!(p("frobnicate c").is_err());
        assert!(p("--bogus x state c").is_err());
    }
}
