//! The /proc view: when the policy lets the command read /proc, processes outside the
//! sandbox do not exist for it, and a few host files are refused.
//!
//! Safety model. /proc is kept out of the Landlock rules (`policy::landlock_rules`), so
//! the kernel refuses any open beneath it that the command makes itself. Opens are
//! trapped; one that names a path beneath /proc is made by the supervisor with
//! `openat2` beneath its own /proc descriptor (`RESOLVE_BENEATH |
//! RESOLVE_NO_MAGICLINKS`: nothing outside /proc, no jump through `root`, `cwd`, `exe`
//! or `fd` links) and the result installed with `SECCOMP_IOCTL_NOTIF_ADDFD`. Every other
//! open continues: if another thread rewrites the path to a /proc one in between, the
//! kernel's own open hits Landlock and fails. `/proc/PID/fd/N` is answered with the
//! process's descriptor itself (`pidfd_getfd`), never reopened. Only reads are served.
//!
//! Listings of /proc come from `getdents64` on the descriptor we opened, which is
//! answered from the supervisor's side too ([`super::dirs`]) with foreign pids left out.
//! `stat`, `access`, `readlink` and `chdir` of `/proc/PID` for a foreign PID fail with
//! ENOENT; those calls are otherwise continued (a racing thread can learn that a
//! foreign pid exists, but not open anything of it).

use std::collections::HashSet;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;

use rustix::fs::{Mode, OFlags, ResolveFlags};

use super::{Ctx, Decision, Handler};
use crate::creds::{self, Creds, Inspect};
use crate::procfs;
use crate::seccomp::notif::{Notif, Response};
use crate::state::lock;
use crate::sys;

pub const STAT: Handler = path_arg0;
pub const STATAT: Handler = path_arg1;

/// Top-level /proc files nobody in a sandbox reads: kernel memory and symbols, keys,
/// the kernel log, the SysRq trigger, scheduler and timer internals.
const SENSITIVE: &[&str] = &[
    "kcore",
    "kallsyms",
    "keys",
    "key-users",
    "sysrq-trigger",
    "kmsg",
    "timer_list",
    "sched_debug",
    "modules",
];
/// Per-process files that leak kernel addresses or physical frames to a privileged
/// opener (the supervisor may be root).
const SENSITIVE_PER_PROCESS: &[&str] = &["pagemap", "stack"];
/// Top-level files whose content depends on the opener's `CAP_SYS_ADMIN` (real physical
/// addresses or zeros): served only to a caller that has it, since the supervisor's
/// open would show its own view.
const OPENER_DEPENDENT: &[&str] = &["iomem", "ioports"];
/// Per-process files the kernel shows another process only after a ptrace access
/// check (`PTRACE_MODE_ATTACH` for these ...
const INSPECT_ATTACH: &[&str] = &["mem", "syscall", "stack", "personality"];
/// ... and `PTRACE_MODE_READ` for these).
const INSPECT_READ: &[&str] = &[
    "environ",
    "auxv",
    "maps",
    "smaps",
    "smaps_rollup",
    "numa_maps",
    "pagemap",
    "fd",
    "fdinfo",
    "map_files",
    "io",
    "wchan",
    "timers",
    "ns",
    "cwd",
    "root",
    "exe",
];
/// Top-level links to `self/...`, resolved for the caller instead of the supervisor.
const SELF_LINKS: &[&str] = &["mounts", "net"];

/// A path beneath /proc, as the caller means it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcPath {
    /// Relative to /proc ("" for /proc itself), `self`/`thread-self` replaced.
    pub rel: String,
    /// The process it is about, for `/proc/PID/...`.
    pub pid: Option<i32>,
}

/// Lexically normalized absolute path: no `.`, no empty components, `..` applied.
fn normalize(path: &[u8]) -> Vec<u8> {
    let mut parts: Vec<&[u8]> = Vec::new();
    for part in path.split(|&b| b == b'/') {
        match part {
            b"" | b"." => {}
            b".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    let mut out = Vec::with_capacity(path.len());
    for p in &parts {
        out.push(b'/');
        out.extend_from_slice(p);
    }
    if out.is_empty() {
        out.push(b'/');
    }
    out
}

/// The /proc path `abs` (absolute, any form) names for thread `tid` of process `tgid`;
/// `None` when it is not beneath /proc.
pub fn classify(abs: &[u8], tgid: i32, tid: i32) -> Option<ProcPath> {
    let norm = normalize(abs);
    let text = std::str::from_utf8(&norm).ok()?;
    let rest = match text.strip_prefix(crate::policy::PROC) {
        Some("") => "",
        Some(r) => r.strip_prefix('/')?,
        None => return None,
    };
    let (first, tail) = match rest.split_once('/') {
        Some((f, t)) => (f, Some(t)),
        None => (rest, None),
    };
    let join = |head: String| match tail {
        Some(t) => format!("{head}/{t}"),
        None => head,
    };
    let (rel, pid) = match first {
        "self" => (join(tgid.to_string()), Some(tgid)),
        "thread-self" => (join(format!("{tgid}/task/{tid}")), Some(tgid)),
        l if SELF_LINKS.contains(&l) => (join(format!("{tgid}/{l}")), Some(tgid)),
        p if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => {
            (rest.to_owned(), p.parse().ok())
        }
        _ => (rest.to_owned(), None),
    };
    Some(ProcPath { rel, pid })
}

/// The per-process part of `p` (after `PID/` and `task/TID/`), for `/proc/PID/...`.
fn per_process(p: &ProcPath) -> Option<Vec<&str>> {
    p.pid?;
    let mut rest: Vec<&str> = p.rel.split('/').skip(1).collect();
    if rest.first() == Some(&"task") && rest.len() >= 2 {
        rest.drain(..2);
    }
    Some(rest)
}

/// The ptrace check the kernel makes before showing `p` of another process.
fn inspection(p: &ProcPath) -> Option<Inspect> {
    let rest = per_process(p)?;
    let first = *rest.first()?;
    if INSPECT_ATTACH.contains(&first) {
        Some(Inspect::Attach)
    } else if INSPECT_READ.contains(&first) {
        Some(Inspect::Read)
    } else {
        None
    }
}

/// Whether the caller of `n` may inspect process `pid` as `how` asks (hazard 17: the
/// supervisor's own open would be made with sandlet's credentials).
fn may_inspect(n: &Notif, caller_tgid: i32, pid: i32, how: Inspect) -> bool {
    let (Some(caller), Some(target)) = (
        Creds::of(n.pid),
        u32::try_from(pid).ok().and_then(Creds::of),
    ) else {
        return false;
    };
    let scope = creds::yama_scope();
    let descendant = how == Inspect::Attach && scope == 1 && descends_from(pid, caller_tgid);
    caller.may_inspect(&target, how, scope, descendant)
}

/// Whether process `pid` descends from process `ancestor`.
fn descends_from(pid: i32, ancestor: i32) -> bool {
    let mut p = pid;
    for _ in 0..4096 {
        match procfs::parent_of(p) {
            Some(parent) if parent == ancestor => return true,
            Some(parent) if parent > 1 => p = parent,
            _ => return false,
        }
    }
    false
}

/// Whether the caller of `n` may read the file the supervisor opened as `fd`: files
/// readable by everyone pass at once; others get the kernel's discretionary check with
/// the caller's credentials.
fn caller_may_read(n: &Notif, fd: &OwnedFd) -> bool {
    let Ok(st) = rustix::fs::fstat(fd) else {
        return false;
    };
    if st.st_mode & 0o004 != 0 {
        return true;
    }
    Creds::of(n.pid).is_some_and(|c| c.may_read(st.st_mode & 0o7777, st.st_uid, st.st_gid))
}

/// Whether opening `p` is refused outright.
fn sensitive(p: &ProcPath) -> bool {
    let mut parts = p.rel.split('/');
    let first = parts.next().unwrap_or("");
    if p.pid.is_none() {
        return SENSITIVE.contains(&first);
    }
    let mut rest: Vec<&str> = parts.collect();
    if rest.first() == Some(&"task") && rest.len() >= 2 {
        rest.drain(..2);
    }
    rest.first()
        .is_some_and(|f| SENSITIVE_PER_PROCESS.contains(f))
}

/// `Some((pid, fd))` for `PID/fd/N` (or `PID/task/TID/fd/N`).
fn fd_link(p: &ProcPath) -> Option<(i32, i32)> {
    let parts: Vec<&str> = p.rel.split('/').collect();
    let (pid, fd) = match parts.as_slice() {
        [pid, "fd", fd] | [pid, "task", _, "fd", fd] => (pid, fd),
        _ => return None,
    };
    Some((pid.parse().ok()?, fd.parse().ok()?))
}

/// Every process of the sandbox (for listings).
pub fn members(ctx: &Ctx) -> HashSet<i32> {
    let root = lock(&ctx.processes).root;
    procfs::sandbox_pids(root).into_iter().collect()
}

/// Whether process (or thread) `pid` belongs to the sandbox: its ancestry reaches the
/// sandbox's first process (library) or sandlet (CLI, sandlet is the subreaper) through
/// a child of sandlet that is not an outsider (the `--policy-exec` program).
pub fn in_sandbox(ctx: &Ctx, pid: i32) -> bool {
    let root = lock(&ctx.processes).root;
    let me = std::process::id() as i32;
    let Some(mut p) = u32::try_from(pid).ok().and_then(procfs::tgid_of) else {
        return false;
    };
    for _ in 0..4096 {
        if Some(p) == root {
            return true;
        }
        if p == me || p <= 1 {
            return false;
        }
        match procfs::parent_of(p) {
            Some(parent) if parent == me => return root.is_none() && !procfs::is_outsider(p),
            Some(parent) => p = parent,
            None => return false,
        }
    }
    false
}

/// The caller's thread-group id (the thread itself when it cannot be read).
fn tgid(n: &Notif) -> i32 {
    procfs::tgid_of(n.pid).unwrap_or(n.pid as i32)
}

/// `path` made absolute for the caller: relative to its working directory or to the
/// directory `dirfd` is open on. `None` when that is not a path (a pipe, say) or the
/// path is empty.
pub fn absolute(n: &Notif, dirfd: u64, path: &[u8]) -> Option<Vec<u8>> {
    if path.first() == Some(&b'/') {
        return Some(path.to_vec());
    }
    if path.is_empty() {
        return None;
    }
    let link = match dirfd as i32 {
        libc::AT_FDCWD => format!("/proc/{}/cwd", n.pid),
        fd => format!("/proc/{}/fd/{fd}", n.pid),
    };
    let base = std::fs::read_link(link).ok()?;
    let base = base.as_os_str().as_bytes().to_vec();
    if base.first() != Some(&b'/') {
        return None;
    }
    let mut abs = base;
    abs.push(b'/');
    abs.extend_from_slice(path);
    Some(abs)
}

fn errno(e: i32) -> Decision {
    Decision::Respond(Response::Errno(e))
}

/// The /proc path the caller means by (`dirfd`, `path`), when the view is on.
fn proc_path(ctx: &Ctx, n: &Notif, dirfd: u64, path: &[u8]) -> Option<ProcPath> {
    ctx.proc.as_ref()?;
    let abs = normalize(&absolute(n, dirfd, path)?);
    beneath_proc(&abs).then(|| classify(&abs, tgid(n), n.pid as i32))?
}

/// Whether the normalized absolute `path` is /proc or beneath it (cheap: the caller's
/// thread-group id is only looked up for such paths).
fn beneath_proc(path: &[u8]) -> bool {
    let proc = crate::policy::PROC.as_bytes();
    path.starts_with(proc) && matches!(path.get(proc.len()), None | Some(b'/'))
}

/// Opens `path` (read by the caller's open) on its behalf when it is beneath /proc or
/// a carved directory; `None` when it is neither (the open continues).
pub fn open(ctx: &Ctx, n: &Notif, dirfd: u64, path: &[u8], flags: u64) -> Option<Decision> {
    let view = ctx.proc.as_ref()?;
    let abs = absolute(n, dirfd, path)?;
    let cloexec = flags & libc::O_CLOEXEC as u64 != 0;
    let norm = normalize(&abs);
    if view.carved.contains(&norm) {
        let reading = flags & (libc::O_ACCMODE | libc::O_CREAT | libc::O_TRUNC) as u64 == 0;
        if !reading {
            return None;
        }
        // The directory of the caller's root (under --chroot, not the host's), resolved
        // inside it.
        let rel = match norm.strip_prefix(b"/") {
            Some(b"") | None => b".".as_slice(),
            Some(rest) => rest,
        };
        let opened = rustix::fs::open(
            format!("/proc/{}/root", tgid(n)),
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .and_then(|root| {
            rustix::fs::openat2(
                &root,
                std::ffi::OsStr::from_bytes(rel),
                OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
                Mode::empty(),
                ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS,
            )
        });
        return Some(match opened {
            // Opened with sandlet's credentials: only what the caller could list itself.
            Ok(fd) if !caller_may_read(n, &fd) => errno(libc::EACCES),
            Ok(fd) => Decision::SendFd { fd, cloexec },
            Err(e) => errno(e.raw_os_error()),
        });
    }
    if !beneath_proc(&norm) {
        return None;
    }
    let p = classify(&norm, tgid(n), n.pid as i32)?;
    if p.pid.is_some_and(|pid| !in_sandbox(ctx, pid)) {
        return Some(errno(libc::ENOENT));
    }
    if sensitive(&p) {
        return Some(errno(libc::EACCES));
    }
    let write = (libc::O_ACCMODE | libc::O_CREAT | libc::O_TRUNC) as u64;
    if flags & write != 0 {
        return Some(errno(libc::EACCES));
    }
    let caller = tgid(n);
    if let (Some(pid), Some(how)) = (p.pid, inspection(&p)) {
        if pid != caller && !may_inspect(n, caller, pid, how) {
            return Some(errno(libc::EACCES));
        }
    }
    if p.pid.is_none() && OPENER_DEPENDENT.contains(&p.rel.as_str()) {
        let privileged = Creds::of(n.pid).is_some_and(|c| c.has(creds::CAP_SYS_ADMIN));
        if !privileged {
            return Some(errno(libc::EACCES));
        }
    }
    if let Some((pid, fd)) = fd_link(&p) {
        return Some(match take_fd(pid, fd) {
            Ok(fd) => Decision::SendFd { fd, cloexec },
            Err(e) => errno(e),
        });
    }
    if p.rel == "meminfo" {
        if let Some(text) = meminfo(ctx) {
            return Some(match super::caller::memfd("meminfo", text.as_bytes()) {
                Ok(fd) => Decision::SendFd { fd, cloexec },
                Err(e) => errno(e.raw_os_error()),
            });
        }
    }
    let passed = OFlags::from_bits_truncate(
        (flags as u32) & (libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_NONBLOCK) as u32,
    );
    let rel = if p.rel.is_empty() {
        "."
    } else {
        p.rel.as_str()
    };
    let opened = rustix::fs::openat2(
        view.root.as_fd(),
        rel,
        OFlags::RDONLY | OFlags::CLOEXEC | passed,
        Mode::empty(),
        ResolveFlags::BENEATH | ResolveFlags::NO_MAGICLINKS,
    );
    Some(match opened {
        Ok(fd) if !caller_may_read(n, &fd) => errno(libc::EACCES),
        Ok(fd) => Decision::SendFd { fd, cloexec },
        // ELOOP from a magic link (root, cwd, exe): refused as Landlock would.
        Err(rustix::io::Errno::LOOP) | Err(rustix::io::Errno::XDEV) => errno(libc::EACCES),
        Err(e) => errno(e.raw_os_error()),
    })
}

/// Descriptor `fd` of process `pid`, for a read-only open of `/proc/PID/fd/N`. The
/// open file description itself is handed over, so it must be read-only too: one open
/// for writing is refused (EACCES) rather than given to a caller that asked to read.
fn take_fd(pid: i32, fd: i32) -> Result<OwnedFd, i32> {
    let fd = take_any_fd(pid, fd)?;
    let mode = rustix::fs::fcntl_getfl(&fd).map_err(|e| e.raw_os_error())?;
    let read_only = (mode & OFlags::ACCMODE) == OFlags::RDONLY || mode.contains(OFlags::PATH);
    if read_only {
        Ok(fd)
    } else {
        Err(libc::EACCES)
    }
}

/// Descriptor `fd` of process `pid`, whatever its mode.
fn take_any_fd(pid: i32, fd: i32) -> Result<OwnedFd, i32> {
    let pid = rustix::process::Pid::from_raw(pid).ok_or(libc::ENOENT)?;
    let pidfd = rustix::process::pidfd_open(pid, rustix::process::PidfdFlags::empty())
        .map_err(|e| e.raw_os_error())?;
    sys::pidfd_getfd(pidfd.as_fd(), fd).map_err(|e| match e.raw_os_error() {
        Some(libc::EBADF) => libc::ENOENT,
        Some(e) => e,
        None => libc::EIO,
    })
}

/// /proc/meminfo with `--max-memory` as MemTotal (and free memory capped to what is
/// left of it); `None` without a limit.
fn meminfo(ctx: &Ctx) -> Option<String> {
    let (limit, used) = {
        let m = lock(ctx.memory.as_ref()?);
        (m.limit, m.total())
    };
    let real = std::fs::read_to_string("/proc/meminfo").ok()?;
    Some(limit_meminfo(
        &real,
        limit / 1024,
        limit.saturating_sub(used) / 1024,
    ))
}

fn limit_meminfo(real: &str, total_kb: u64, left_kb: u64) -> String {
    let mut out = String::with_capacity(real.len());
    for line in real.lines() {
        let key = line.split(':').next().unwrap_or("");
        let capped = match key {
            "MemTotal" => Some(total_kb),
            "MemFree" | "MemAvailable" => {
                let v = line
                    .split_ascii_whitespace()
                    .nth(1)
                    .and_then(|v| v.parse::<u64>().ok())
                    .unwrap_or(0);
                Some(v.min(left_kb))
            }
            _ => None,
        };
        match capped {
            Some(kb) => out.push_str(&format!("{:<16}{kb:>8} kB", format!("{key}:"))),
            None => out.push_str(line),
        }
        out.push('\n');
    }
    out
}

/// A path syscall on a foreign process's /proc entry fails with ENOENT; anything else
/// continues.
fn check_path(ctx: &Ctx, n: &Notif, dirfd: u64, path_at: u64) -> Decision {
    let Some(path) = super::caller::read_path(n, path_at) else {
        return Decision::Respond(Response::Continue);
    };
    match proc_path(ctx, n, dirfd, &path) {
        Some(p) if p.pid.is_some_and(|pid| !in_sandbox(ctx, pid)) => errno(libc::ENOENT),
        _ => Decision::Respond(Response::Continue),
    }
}

/// `stat(path, ..)`, `lstat`, `access`, `readlink`, `chdir`.
fn path_arg0(ctx: &Ctx, n: &Notif) -> Decision {
    check_path(ctx, n, libc::AT_FDCWD as u64, n.args[0])
}

/// `newfstatat(dirfd, path, ..)`, `statx`, `faccessat`, `faccessat2`, `readlinkat`.
fn path_arg1(ctx: &Ctx, n: &Notif) -> Decision {
    check_path(ctx, n, n.args[0], n.args[1])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pp(rel: &str, pid: Option<i32>) -> Option<ProcPath> {
        Some(ProcPath {
            rel: rel.into(),
            pid,
        })
    }

    #[test]
    fn classifies_proc_paths() {
        let c = |p: &str| classify(p.as_bytes(), 100, 101);
        assert_eq!(c("/proc"), pp("", None));
        assert_eq!(c("/proc/"), pp("", None));
        assert_eq!(c("/proc/self/status"), pp("100/status", Some(100)));
        assert_eq!(c("/proc/self"), pp("100", Some(100)));
        assert_eq!(
            c("/proc/thread-self/comm"),
            pp("100/task/101/comm", Some(100))
        );
        assert_eq!(c("/proc/1/environ"), pp("1/environ", Some(1)));
        assert_eq!(c("/proc/./1/../2//stat"), pp("2/stat", Some(2)));
        assert_eq!(c("/proc/net/tcp"), pp("100/net/tcp", Some(100)));
        assert_eq!(c("/proc/mounts"), pp("100/mounts", Some(100)));
        assert_eq!(c("/proc/meminfo"), pp("meminfo", None));
        assert_eq!(c("/proc/../etc/passwd"), None);
        assert_eq!(c("/processes"), None);
        assert_eq!(c("/etc/../proc/1"), pp("1", Some(1)));
        assert_eq!(c("/"), None);
    }

    #[test]
    fn refuses_sensitive_files_and_finds_fd_links() {
        let c = |p: &str| classify(p.as_bytes(), 100, 101).unwrap();
        for s in [
            "/proc/kcore",
            "/proc/kallsyms",
            "/proc/sysrq-trigger",
            "/proc/self/pagemap",
        ] {
            assert!(sensitive(&c(s)), "{s}");
        }
        assert!(sensitive(&c("/proc/thread-self/stack")));
        for ok in [
            "/proc/meminfo",
            "/proc/self/status",
            "/proc/1/kcore",
            "/proc",
        ] {
            assert!(!sensitive(&c(ok)), "{ok}");
        }
        assert_eq!(fd_link(&c("/proc/self/fd/3")), Some((100, 3)));
        assert_eq!(fd_link(&c("/proc/thread-self/fd/0")), Some((100, 0)));
        assert_eq!(fd_link(&c("/proc/self/fdinfo/3")), None);
        assert_eq!(fd_link(&c("/proc/self/fd")), None);
    }

    #[test]
    fn meminfo_shows_the_limit() {
        let real = "MemTotal:       16000000 kB\nMemFree:         9000000 kB\nMemAvailable:   12000000 kB\nBuffers:          100 kB\n";
        let out = limit_meminfo(real, 65536, 60000);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[0], "MemTotal:          65536 kB");
        assert_eq!(lines[1], "MemFree:           60000 kB");
        assert_eq!(lines[2], "MemAvailable:      60000 kB");
        assert_eq!(lines[3], "Buffers:          100 kB");
    }

    #[test]
    fn normalizes_lexically() {
        assert_eq!(normalize(b"/a/./b/../c//"), b"/a/c".to_vec());
        assert_eq!(normalize(b"/.."), b"/".to_vec());
    }
}
