//! `sandlet learn`: every path the command opens, creates, removes or executes is
//! recorded (resolved against the caller's working directory or directory descriptor,
//! through its root), and the call goes on as the rest of the policy decides: an open or
//! exec that another handler serves is handed to it. Only observing: nothing here
//! grants or refuses anything.

use std::path::{Component, Path, PathBuf};

use super::record::Learner;
use super::{caller, exec, files, Ctx, Decision};
use crate::seccomp::names;
use crate::seccomp::notif::{Notif, Response};
use crate::state::lock;

pub const RECORD: super::Handler = record;

const AT_FDCWD: i64 = libc::AT_FDCWD as i64;

fn record(ctx: &Ctx, n: &Notif) -> Decision {
    let Some(learner) = &ctx.learn else {
        return Decision::Respond(Response::Continue);
    };
    let name = names::name(n.nr as u32).unwrap_or("");
    let a = n.args;
    // (dirfd, path address, what) per call; AT_FDCWD for the path-only calls.
    if name == "connect" || name == "bind" {
        note_net(learner, n, name == "connect");
        return match name {
            "connect" if learner.check_connects => super::net::CONNECT(ctx, n),
            "bind" if learner.check_binds => super::net::BIND(ctx, n),
            _ => Decision::Respond(Response::Continue),
        };
    }
    let mut seen: Vec<(i64, u64, Effect)> = Vec::new();
    match name {
        "open" => seen.push((AT_FDCWD, a[0], open_effect(a[1]))),
        "openat" => seen.push((a[0] as i32 as i64, a[1], open_effect(a[2]))),
        "openat2" => {
            let mut how = [0u8; 8];
            let flags = match crate::sys::process_vm_read(n.pid as i32, a[2], &mut how) {
                Ok(8) => u64::from_ne_bytes(how),
                _ => 0,
            };
            seen.push((a[0] as i32 as i64, a[1], open_effect(flags)));
        }
        "creat" => seen.push((AT_FDCWD, a[0], Effect::OpenCreate)),
        "mkdir" | "mknod" => seen.push((AT_FDCWD, a[0], Effect::Create)),
        "rmdir" | "unlink" => seen.push((AT_FDCWD, a[0], Effect::Create)),
        "truncate" => seen.push((AT_FDCWD, a[0], Effect::Write)),
        "execve" => seen.push((AT_FDCWD, a[0], Effect::Exec)),
        "execveat" => seen.push((a[0] as i32 as i64, a[1], Effect::Exec)),
        "mkdirat" | "mknodat" | "unlinkat" => seen.push((a[0] as i32 as i64, a[1], Effect::Create)),
        "symlink" => seen.push((AT_FDCWD, a[1], Effect::Create)),
        "symlinkat" => seen.push((a[1] as i32 as i64, a[2], Effect::Create)),
        "link" | "rename" => {
            seen.push((AT_FDCWD, a[0], Effect::Create));
            seen.push((AT_FDCWD, a[1], Effect::Create));
        }
        "linkat" | "renameat" | "renameat2" => {
            seen.push((a[0] as i32 as i64, a[1], Effect::Create));
            seen.push((a[2] as i32 as i64, a[3], Effect::Create));
        }
        _ => {}
    }
    for (dirfd, at, effect) in seen {
        let Some(raw) = caller::read_path(n, at) else {
            continue;
        };
        let path = String::from_utf8_lossy(&raw).into_owned();
        if let Some(abs) = absolute(n.pid, dirfd, &path) {
            note(learner, n.pid, &abs, effect);
        }
    }
    match name {
        "open" if learner.serve_opens => files::OPEN(ctx, n),
        "openat" if learner.serve_opens => files::OPENAT(ctx, n),
        "openat2" if learner.serve_opens => files::OPENAT2(ctx, n),
        "execve" if learner.decide_execs => exec::EXECVE(ctx, n),
        "execveat" if learner.decide_execs => exec::EXECVEAT(ctx, n),
        _ => Decision::Respond(Response::Continue),
    }
}

/// Records a connect (as a `--net-allow` rule) or a bind (its port) of an inet socket;
/// the protocol comes from the socket (`system.sockprotoname`, no descriptor taken).
fn note_net(learner: &Learner, n: &Notif, connecting: bool) {
    let mut raw = [0u8; 128];
    let len = (n.args[2] as usize).min(raw.len());
    if !matches!(crate::sys::process_vm_read(n.pid as i32, n.args[1], &mut raw[..len]), Ok(l) if l == len)
    {
        return;
    }
    let Ok(Some(addr)) = super::net::parse_sockaddr(&raw[..len]) else {
        return;
    };
    let path = format!("/proc/{}/fd/{}", n.pid, n.args[0] as i32);
    let mut name = [0u8; 32];
    let Ok(got) = rustix::fs::getxattr(&*path, "system.sockprotoname", &mut name[..]) else {
        return;
    };
    let proto = match name[..got].strip_suffix(b"\0").unwrap_or(&name[..got]) {
        b"TCP" | b"TCPv6" => "tcp",
        b"UDP" | b"UDPv6" => "udp",
        b"PING" | b"PINGv6" => "icmp",
        _ => return,
    };
    if connecting {
        let rule = match addr {
            std::net::SocketAddr::V4(a) => format!("{proto}://{}:{}", a.ip(), a.port()),
            std::net::SocketAddr::V6(a) => format!("{proto}://[{}]:{}", a.ip(), a.port()),
        };
        lock(&learner.connects).insert(rule);
    } else if addr.port() != 0 {
        lock(&learner.binds).insert(addr.port());
    }
}

/// What a call does to the path it names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Effect {
    Read,
    Write,
    /// Makes or removes the name: a write of its directory.
    Create,
    /// Opens with O_CREAT: a write of the file when it exists, else of its directory.
    OpenCreate,
    /// Runs it: a read of it, and of what the kernel starts with it (a `#!`
    /// interpreter, the ELF's loader).
    Exec,
}

fn open_effect(flags: u64) -> Effect {
    let flags = flags as i32;
    if flags & libc::O_CREAT != 0 {
        Effect::OpenCreate
    } else if flags & libc::O_ACCMODE != libc::O_RDONLY || flags & libc::O_TRUNC != 0 {
        Effect::Write
    } else {
        Effect::Read
    }
}

/// `path` as an absolute path, relative ones taken from the caller's working directory
/// or directory descriptor `dirfd`; `.` and `..` folded.
fn absolute(pid: u32, dirfd: i64, path: &str) -> Option<PathBuf> {
    let base = if path.starts_with('/') {
        PathBuf::from("/")
    } else if dirfd == AT_FDCWD {
        std::fs::read_link(format!("/proc/{pid}/cwd")).ok()?
    } else {
        std::fs::read_link(format!("/proc/{pid}/fd/{dirfd}")).ok()?
    };
    Some(fold(&base.join(path)))
}

/// `.` and `..` folded, lexically.
pub fn fold(path: &Path) -> PathBuf {
    let mut out = PathBuf::from("/");
    for c in path.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::Normal(part) => out.push(part),
            _ => {}
        }
    }
    out
}

/// Records `path` (as the caller `pid` sees it) under `effect`: the file itself, or for
/// a name made or removed, its directory. Symlinks are followed where they exist
/// (Landlock judges the file reached).
fn note(learner: &Learner, pid: u32, path: &Path, effect: Effect) {
    let theirs = |p: &Path| format!("/proc/{pid}/root{}", p.display());
    let (target, write) = match effect {
        Effect::Read => (path.to_owned(), false),
        Effect::Write => (path.to_owned(), true),
        // O_CREAT of a file that exists writes the file, not its directory.
        Effect::OpenCreate if std::fs::metadata(theirs(path)).is_ok() => (path.to_owned(), true),
        Effect::Create | Effect::OpenCreate => (path.parent().unwrap_or(path).to_owned(), true),
        Effect::Exec => {
            // The kernel nests `#!` at most 4 deep, then a loader.
            let mut next = started_with(&theirs(path));
            for _ in 0..5 {
                let Some(program) = next.take() else {
                    break;
                };
                let program = PathBuf::from(program);
                next = started_with(&theirs(&program));
                note(learner, pid, &program, Effect::Read);
            }
            (path.to_owned(), false)
        }
    };
    let mut paths = vec![target.clone()];
    if let Ok(real) = std::fs::canonicalize(theirs(&target)) {
        let root = std::fs::canonicalize(format!("/proc/{pid}/root")).unwrap_or_default();
        if let Ok(rest) = real.strip_prefix(&root) {
            let real = Path::new("/").join(rest);
            if real != target {
                paths.push(real);
            }
        }
    }
    let mut record = lock(&learner.paths);
    for p in paths {
        let entry = record.entry(p).or_default();
        if write {
            entry.write = true;
        } else {
            entry.read = true;
        }
    }
}

/// What the kernel starts along with the file at `path`: its `#!` interpreter or ELF
/// loader.
fn started_with(path: &str) -> Option<String> {
    use std::io::Read;
    let mut head = Vec::with_capacity(4096);
    std::fs::File::open(path)
        .ok()?
        .take(4096)
        .read_to_end(&mut head)
        .ok()?;
    super::programs::shebang(&head)
        .map(|(interpreter, _)| interpreter)
        .or_else(|| super::programs::elf_interpreter(&head))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_fold_and_effects_follow_the_flags() {
        assert_eq!(fold(Path::new("/a/./b/../c")), PathBuf::from("/a/c"));
        assert_eq!(fold(Path::new("/../x")), PathBuf::from("/x"));
        assert_eq!(open_effect(libc::O_RDONLY as u64), Effect::Read);
        assert_eq!(open_effect(libc::O_RDWR as u64), Effect::Write);
        assert_eq!(
            open_effect((libc::O_WRONLY | libc::O_CREAT) as u64),
            Effect::OpenCreate
        );
        assert_eq!(
            open_effect((libc::O_RDONLY | libc::O_TRUNC) as u64),
            Effect::Write
        );
    }
}
