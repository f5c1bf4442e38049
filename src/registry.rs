//! Running sandboxes, for `sandlet ps`, `inspect` and `kill`: each supervised run
//! registers with a pid file `$XDG_RUNTIME_DIR/sandlet/sandboxes/NAME` (else
//! `/tmp/sandlet-UID/sandboxes/NAME`; the directories 0700 and the user's), written whole
//! (a temporary file renamed), and answers on a control socket while it runs. One file,
//! no directory per run: registering costs a run a few syscalls.
//!
//! The control socket is an abstract unix socket made by the supervisor, outside every
//! Landlock domain: a sandboxed process cannot connect to it (Landlock's abstract unix
//! socket scope, ABI 6), whichever sandbox it is in, so no sandbox can stop or read
//! another. Abstract names have no permissions, so the supervisor also checks the peer's
//! credentials (`SO_PEERCRED`): the user who runs the sandbox, or root. Without the
//! scope (an older kernel, with `--allow-degraded abstract-unix-socket-scope`) no socket
//! is opened and the run is listed without live counters. The entry is removed when
//! the run ends; `ps` prunes those whose supervisor died (pid and start time checked).

use std::io::{self, Read, Write};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rustix::net::{AddressFamily, SocketAddrUnix, SocketFlags, SocketType};

/// One registered run, as its pid file says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub name: String,
    /// sandlet's pid (the supervisor).
    pub pid: i32,
    /// The supervisor's start time (clock ticks since boot), against pid reuse.
    pub start: u64,
    pub command_pid: i32,
    /// The abstract socket name (without the leading NUL), empty when none.
    pub socket: String,
    pub command: String,
}

impl Entry {
    /// The pid file's text: `key=value` lines.
    pub fn to_text(&self) -> String {
        format!(
            "pid={}\nstart={}\ncommand_pid={}\nsocket={}\ncommand={}\n",
            self.pid,
            self.start,
            self.command_pid,
            self.socket,
            self.command.replace('\n', " ")
        )
    }

    /// Reads a pid file's text; `None` when a field is missing or malformed.
    pub fn parse(name: &str, text: &str) -> Option<Entry> {
        let field = |key: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
        };
        Some(Entry {
            name: name.to_owned(),
            pid: field("pid")?.parse().ok()?,
            start: field("start")?.parse().ok()?,
            command_pid: field("command_pid")?.parse().ok()?,
            socket: field("socket")?.to_owned(),
            command: field("command")?.to_owned(),
        })
    }

    /// Whether its supervisor still runs (same pid, same start time).
    pub fn alive(&self) -> bool {
        start_time(self.pid) == Some(self.start)
    }
}

/// Where the entries are.
pub fn dir() -> PathBuf {
    let uid = rustix::process::geteuid().as_raw();
    match std::env::var_os("XDG_RUNTIME_DIR").filter(|d| !d.is_empty()) {
        Some(run) => PathBuf::from(run).join("sandlet/sandboxes"),
        None => PathBuf::from(format!("/tmp/sandlet-{uid}/sandboxes")),
    }
}

/// The start time of process `pid` (field 22 of /proc/PID/stat).
pub fn start_time(pid: i32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces and parentheses: count after the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_ascii_whitespace().nth(19)?.parse().ok()
}

/// Makes `path` (and its parents below an existing one) a directory of ours, mode 0700,
/// and checks that it and its parent are: owned by us, writable by no one else.
fn private_dir(path: &Path) -> io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt};
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(path)?;
    for p in [path, path.parent().unwrap_or(path)] {
        let m = std::fs::symlink_metadata(p)?;
        if !m.is_dir() || m.uid() != rustix::process::geteuid().as_raw() || m.mode() & 0o022 != 0 {
            return Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                format!("{} is not a private directory of this user", p.display()),
            ));
        }
    }
    Ok(())
}

/// A registered run: removed from the registry when dropped.
#[derive(Debug)]
pub struct Registration {
    pub entry: Entry,
    file: PathBuf,
    /// The listening control socket (`None` without Landlock's abstract socket scope).
    pub listener: Option<OwnedFd>,
}

impl Drop for Registration {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.file);
    }
}

/// Registers a run named `name` (`NAME-CMDPID` when a live run has that name) with the
/// command `command` running as `command_pid`; `control` opens its control socket.
pub fn register(
    name: &str,
    command_pid: i32,
    command: &str,
    control: bool,
) -> io::Result<Registration> {
    let pid = rustix::process::getpid().as_raw_nonzero().get();
    let root = dir();
    private_dir(&root)?;
    let mut chosen = name.to_owned();
    if read(&root, name).is_some_and(|e| e.alive()) {
        chosen = format!("{name}-{command_pid}");
    }
    let uid = rustix::process::geteuid().as_raw();
    let (listener, socket) = if control {
        let socket = format!("sandlet/{uid}/{chosen}/{pid}");
        (Some(listen(&socket)?), socket)
    } else {
        (None, String::new())
    };
    let entry = Entry {
        name: chosen,
        pid,
        start: start_time(pid).unwrap_or(0),
        command_pid,
        socket,
        command: command.to_owned(),
    };
    let file = root.join(&entry.name);
    let tmp = root.join(format!(".{}.{pid}", entry.name));
    std::fs::write(&tmp, entry.to_text())?;
    std::fs::rename(&tmp, &file)?;
    Ok(Registration {
        entry,
        file,
        listener,
    })
}

/// A listening abstract unix socket named `name`, non-blocking.
fn listen(name: &str) -> io::Result<OwnedFd> {
    let fd = rustix::net::socket_with(
        AddressFamily::UNIX,
        SocketType::STREAM,
        SocketFlags::CLOEXEC | SocketFlags::NONBLOCK,
        None,
    )?;
    rustix::net::bind(&fd, &SocketAddrUnix::new_abstract_name(name.as_bytes())?)?;
    rustix::net::listen(&fd, 16)?;
    Ok(fd)
}

fn read(root: &Path, name: &str) -> Option<Entry> {
    let text = std::fs::read_to_string(root.join(name)).ok()?;
    Entry::parse(name, &text)
}

/// The live entries, sorted by name; those of dead supervisors are removed.
pub fn list() -> Vec<Entry> {
    let root = dir();
    let Ok(files) = std::fs::read_dir(&root) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for f in files.flatten() {
        let Some(name) = f.file_name().to_str().map(str::to_owned) else {
            continue;
        };
        if let Some(tmp) = name.strip_prefix('.') {
            // A pid file being written: left alone while its writer lives.
            let writer = tmp
                .rsplit_once('.')
                .and_then(|(_, pid)| pid.parse::<i32>().ok());
            if writer.is_none_or(|pid| start_time(pid).is_none()) {
                let _ = std::fs::remove_file(f.path());
            }
            continue;
        }
        match read(&root, &name) {
            Some(e) if e.alive() => out.push(e),
            // A dead supervisor's entry.
            _ => {
                let _ = std::fs::remove_file(f.path());
            }
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

/// The live entry named `which`, or whose supervisor or command has pid `which`.
pub fn find(which: &str) -> Option<Entry> {
    let pid: Option<i32> = which.parse().ok();
    list()
        .into_iter()
        .find(|e| e.name == which || pid.is_some_and(|p| p == e.pid || p == e.command_pid))
}

/// Sends `request` to the run's control socket and returns its answer.
pub fn ask(entry: &Entry, request: &str) -> io::Result<String> {
    if entry.socket.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "this run has no control socket (no Landlock abstract socket scope)",
        ));
    }
    let fd = rustix::net::socket_with(
        AddressFamily::UNIX,
        SocketType::STREAM,
        SocketFlags::CLOEXEC,
        None,
    )?;
    rustix::net::connect(
        &fd,
        &SocketAddrUnix::new_abstract_name(entry.socket.as_bytes())?,
    )?;
    let mut stream = std::os::unix::net::UnixStream::from(fd);
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    stream.write_all(format!("{request}\n").as_bytes())?;
    stream.shutdown(std::net::Shutdown::Write)?;
    let mut answer = String::new();
    stream.take(1 << 20).read_to_string(&mut answer)?;
    Ok(answer)
}

/// A signal by number or name (`9`, `KILL`, `SIGKILL`, case-insensitive).
pub fn parse_signal(s: &str) -> Option<i32> {
    if let Ok(n) = s.parse::<i32>() {
        return (1..=64).contains(&n).then_some(n);
    }
    let upper = s.to_ascii_uppercase();
    let name = upper.strip_prefix("SIG").unwrap_or(&upper);
    let known = [
        ("HUP", libc::SIGHUP),
        ("INT", libc::SIGINT),
        ("QUIT", libc::SIGQUIT),
        ("KILL", libc::SIGKILL),
        ("USR1", libc::SIGUSR1),
        ("USR2", libc::SIGUSR2),
        ("TERM", libc::SIGTERM),
        ("CONT", libc::SIGCONT),
        ("STOP", libc::SIGSTOP),
        ("ALRM", libc::SIGALRM),
        ("WINCH", libc::SIGWINCH),
        ("PIPE", libc::SIGPIPE),
    ];
    known.iter().find(|(n, _)| *n == name).map(|(_, s)| *s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_round_trip_and_signals_parse() {
        let e = Entry {
            name: "box".into(),
            pid: 10,
            start: 99,
            command_pid: 11,
            socket: "sandlet/0/box/10".into(),
            command: "sh -c 'a\nb'".into(),
        };
        let back = Entry::parse("box", &e.to_text()).unwrap();
        assert_eq!(back.command, "sh -c 'a b'");
        assert_eq!(back.pid, 10);
        assert_eq!(back.socket, e.socket);
        assert!(Entry::parse("box", "pid=1\n").is_none());
        assert_eq!(parse_signal("9"), Some(9));
        assert_eq!(parse_signal("sigterm"), Some(libc::SIGTERM));
        assert_eq!(parse_signal("TERM"), Some(libc::SIGTERM));
        assert_eq!(parse_signal("0"), None);
        assert_eq!(parse_signal("BOGUS"), None);
        let me = rustix::process::getpid().as_raw_nonzero().get();
        assert!(start_time(me).is_some());
    }
}
