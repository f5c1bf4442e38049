//! Exec decisions (`--deny-exec`, a dynamic policy) with an argv that cannot change
//! between the check and the exec.
//!
//! The kernel copies argv from the caller's memory only after the supervisor answers
//! CONTINUE, so whatever can write that memory is stopped first and kept stopped until
//! the copy is done:
//!
//! 1. The exec gate: while it is held, no other handler runs (the poll thread defers
//!    new notifications, workers wait), so nothing of ours writes a sandbox process's
//!    memory; handlers already running finish first.
//! 2. A tracer thread, started for this exec alone, seizes (`PTRACE_SEIZE` +
//!    `PTRACE_INTERRUPT`) every other thread sharing the caller's address space: its own
//!    threads and those of any process sharing the mm (`kcmp(KCMP_VM)`, e.g. the parent
//!    of a `vfork` child), and waits until each is stopped, or is blocked in one of our
//!    notifications (it cannot run until answered), or is the vfork parent waiting for
//!    the caller. This is repeated until no new thread shows up. Other processes have
//!    their own memory; argv in a shared mapping is refused outright.
//! 3. The path and argv are read and decided on.
//! 4. Refused: the caller gets the errno. Allowed: the caller is seized too (with
//!    `PTRACE_O_TRACEEXEC`), told to CONTINUE and interrupted; its first stop (the exec
//!    event, or the stop after a failed exec) comes after the kernel copied argv. A
//!    failed exec may instead be followed at once by the caller's next trapped call
//!    (it cannot stop while blocked in a notification): that too ends the wait. Its
//!    sibling threads, killed by the exec, are reaped on the way (the exec waits for
//!    them).
//! 5. The tracer thread exits; the kernel detaches every tracee, whatever its state.
//!
//! If the freeze cannot be set up (ptrace refused, a thread that will not stop), the
//! exec fails with EPERM and the reason is logged.

use std::time::{Duration, Instant};

use log::{debug, warn};

use super::programs;
use super::tracer::{on_tracer, seize, wait_for, Frozen, Scope, FREEZE_LIMIT};
use super::{Ctx, Decision, Handler};
use crate::dynamic::{Category, EventKind};
use crate::procfs;
use crate::seccomp::notif::{Notif, Response};
use crate::sys;

pub const EXECVE: Handler = execve;
pub const EXECVEAT: Handler = execveat;

/// `PTRACE_EVENT_FORK`, `_VFORK`, `_CLONE`.
const CREATION_EVENTS: [i32; 3] = [1, 2, 3];

/// Longest argv we read (the kernel's `MAX_ARG_STRINGS` is far larger, but execs with
/// more arguments than this are refused rather than half-checked).
const ARGV_MAX: usize = 65_536;
/// Longest single argument (`MAX_ARG_STRLEN`).
const ARG_MAX_LEN: usize = 128 * 1024;

fn errno(e: i32) -> Decision {
    Decision::Respond(Response::Errno(e))
}

/// `execve(path, argv, envp)`.
fn execve(ctx: &Ctx, n: &Notif) -> Decision {
    decide(ctx, n, libc::AT_FDCWD as u64, n.args[0], n.args[1], 0)
}

/// `execveat(dirfd, path, argv, envp, flags)`.
fn execveat(ctx: &Ctx, n: &Notif) -> Decision {
    decide(ctx, n, n.args[0], n.args[1], n.args[2], n.args[4])
}

/// Holds the gate, freezes on a tracer thread of its own, and answers from there.
fn decide(ctx: &Ctx, n: &Notif, dirfd: u64, path_at: u64, argv_at: u64, flags: u64) -> Decision {
    let Some(gate) = &ctx.gate else {
        return Decision::Respond(Response::Continue);
    };
    let _frozen = gate.freeze();
    on_tracer(|| frozen_exec(ctx, n, dirfd, path_at, argv_at, flags)).unwrap_or_else(|why| {
        warn!("exec by {}: {why}; refused", n.pid);
        errno(libc::EPERM)
    })
}

/// Runs on the tracer thread: everything ptrace does for this exec.
fn frozen_exec(
    ctx: &Ctx,
    n: &Notif,
    dirfd: u64,
    path_at: u64,
    argv_at: u64,
    flags: u64,
) -> Decision {
    let tid = n.pid as i32;
    let Some(tgid) = procfs::tgid_of(n.pid) else {
        return errno(libc::ESRCH);
    };
    let mut frozen = Frozen::default();
    if let Err(why) = frozen.freeze(ctx, tgid, tid, Scope::Memory) {
        warn!("exec by {tid}: cannot freeze the sandbox ({why}); refused");
        return errno(libc::EPERM);
    }
    let (mut path, mut argv, file_backed) = match read_exec(n, tgid, dirfd, path_at, argv_at, flags)
    {
        Ok(x) => x,
        Err(e) => return errno(e),
    };
    if file_backed {
        // Part of it is in a file mapping, which a write to the file by any process
        // changes: freeze the whole sandbox and read again.
        if let Err(why) = frozen.freeze(ctx, tgid, tid, Scope::Everyone) {
            warn!("exec by {tid}: cannot freeze the sandbox ({why}); refused");
            return errno(libc::EPERM);
        }
        (path, argv, _) = match read_exec(n, tgid, dirfd, path_at, argv_at, flags) {
            Ok(x) => x,
            Err(e) => return errno(e),
        };
    }
    if !ctx.listener.id_valid(n.id) {
        return errno(libc::EINTR);
    }
    // The caller's /proc/self, not sandlet's.
    if let Some(rest) = path.strip_prefix("/proc/self/") {
        path = format!("/proc/{tgid}/{rest}");
    } else if let Some(rest) = path.strip_prefix("/proc/thread-self/") {
        path = format!("/proc/{tgid}/task/{tid}/{rest}");
    }
    // A program with no name (a memfd, a deleted file run from its descriptor) cannot be
    // matched by name: with --deny-exec it is refused.
    // Files are looked at through the caller's root (its mount namespace: a --workdir
    // view shows files the host does not have).
    let theirs = in_root(tgid as u32, &path);
    let target = real_path(&theirs)
        .or_else(|| {
            std::fs::read_link(&path)
                .ok()
                .map(|p| p.to_string_lossy().into_owned())
        })
        .unwrap_or_else(|| path.clone());
    let anonymous = |p: &str| p.starts_with("/memfd:") || p.ends_with(" (deleted)");
    let nameless = anonymous(&path) || anonymous(&target);
    if nameless && !ctx.deny_exec.is_empty() {
        warn!(
            "exec of {path} by process {tgid} denied: --deny-exec cannot judge a nameless program"
        );
        return errno(libc::EPERM);
    }
    // A missing file is the kernel's ENOENT, answered here: nothing runs, and neither
    // the rules nor the policy see every miss of a PATH search.
    if let (false, Err(e)) = (nameless, std::fs::metadata(&theirs)) {
        if let Some(code @ (libc::ENOENT | libc::ENOTDIR)) = e.raw_os_error() {
            return errno(code);
        }
    }
    let resolved = real_path(&theirs).unwrap_or_else(|| path.clone());
    let argv0 = argv.first().cloned().unwrap_or_default();
    if let Some(rule) = crate::dynamic::deny_exec_rule(&ctx.deny_exec, &argv0, &path, &resolved) {
        warn!("exec of {path} by process {tgid} denied by --deny-exec {rule}");
        return errno(libc::EPERM);
    }
    if !ctx.deny_exec.is_empty() {
        let mut run = indirect_programs(n.pid, &path, &argv);
        if !run.is_empty() && !file_backed {
            // Scripts and loader targets are files any process may rewrite: decide on
            // them with the whole sandbox frozen.
            if let Err(why) = frozen.freeze(ctx, tgid, tid, Scope::Everyone) {
                warn!("exec by {tid}: cannot freeze the sandbox ({why}); refused");
                return errno(libc::EPERM);
            }
            run = indirect_programs(n.pid, &path, &argv);
        }
        for (program, resolved) in &run {
            let rule = crate::dynamic::deny_exec_rule(&ctx.deny_exec, program, program, resolved);
            if let Some(rule) = rule {
                warn!(
                    "exec of {path} by process {tgid} runs {program}: denied by --deny-exec {rule}"
                );
                return errno(libc::EPERM);
            }
        }
    }
    if let Some(dynamic) = &ctx.dynamic {
        let syscall = if n.nr == crate::seccomp::names::number("execveat").unwrap_or(0) as i32 {
            "execveat"
        } else {
            "execve"
        };
        let kind = EventKind::Exec {
            path: path.clone(),
            argv,
        };
        if let Some(refusal) =
            super::ask_dynamic(ctx, dynamic, tgid, syscall, Category::Process, kind)
        {
            return refusal;
        }
    }
    if let Some(status) = &ctx.status {
        use crate::status::Field;
        status.emit(
            "exec",
            &[
                ("pid", Field::Num(i64::from(tgid))),
                ("path", Field::Str(&path)),
            ],
        );
    }
    run_exec(ctx, n, tgid);
    Decision::Park
}

/// Absolute `path` as the process (or thread) `pid` sees it: through its root, so in
/// its mount namespace.
fn in_root(pid: u32, path: &str) -> String {
    format!("/proc/{pid}/root{path}")
}

/// The canonical path of what `path` names (links resolved where the path leads, e.g.
/// in another mount namespace), as the kernel spells the file.
fn real_path(path: &str) -> Option<String> {
    use rustix::fs::{Mode, OFlags};
    let fd = rustix::fs::open(path, OFlags::PATH | OFlags::CLOEXEC, Mode::empty()).ok()?;
    let link = std::fs::read_link(format!(
        "/proc/self/fd/{}",
        std::os::fd::AsRawFd::as_raw_fd(&fd)
    ))
    .ok()?;
    Some(link.to_string_lossy().into_owned())
}

/// What exec'ing `path` with `argv` by thread `tid` runs besides `path` (see
/// [`super::programs`]), each with its canonical path (relative names are the
/// caller's, from its working directory).
fn indirect_programs(tid: u32, path: &str, argv: &[String]) -> Vec<(String, String)> {
    let of_caller = |f: &str| -> String {
        if f.starts_with('/') {
            in_root(tid, f)
        } else {
            format!("/proc/{tid}/cwd/{f}")
        }
    };
    let head = |f: &str| -> Option<Vec<u8>> {
        use std::io::Read;
        let mut buf = Vec::with_capacity(programs::HEAD);
        std::fs::File::open(of_caller(f))
            .ok()?
            .take(programs::HEAD as u64)
            .read_to_end(&mut buf)
            .ok()?;
        Some(buf)
    };
    programs::indirect(path, argv, head)
        .into_iter()
        .map(|p| {
            let resolved = real_path(&of_caller(&p)).unwrap_or_else(|| p.clone());
            (p, resolved)
        })
        .collect()
}

/// An admitted fork, clone or vfork under a dynamic policy: the caller is traced for
/// exactly its creation event, so the child is stopped (auto-attached) before its first
/// instruction while the policy hears of it; a refused child is killed there. Runs on a
/// tracer thread of its own, which detaches both by exiting. If tracing fails, the fork
/// is refused with EPERM: no child runs unseen.
pub fn traced_fork(ctx: &Ctx, n: &Notif) -> Decision {
    on_tracer(|| fork_on_tracer(ctx, n)).unwrap_or_else(|why| {
        warn!("fork by {}: {why}; refused", n.pid);
        errno(libc::EPERM)
    })
}

fn fork_on_tracer(ctx: &Ctx, n: &Notif) -> Decision {
    let tid = n.pid as i32;
    let options = libc::PTRACE_O_TRACEFORK | libc::PTRACE_O_TRACEVFORK | libc::PTRACE_O_TRACECLONE;
    if let Err(e) = seize(tid, options as u32) {
        warn!("fork by {tid}: cannot trace it ({e}); refused");
        return errno(libc::EPERM);
    }
    // Before the answer, so a new notification of the caller's is not forgotten.
    ctx.answering(n.pid);
    if let Err(e) = ctx.listener.send(n.id, Response::Continue) {
        warn!("answer fork of {tid}: {e}");
    }
    // The creation event comes before the call returns. No PTRACE_INTERRUPT here: a
    // pending interrupt makes the kernel restart the fork (ERESTARTNOINTR), trapping it
    // again. A failed fork just returns: seen as the thread leaving the call.
    let forking: Vec<i64> = ["clone", "fork", "vfork", "clone3"]
        .iter()
        .filter_map(|name| crate::seccomp::names::number(name))
        .map(i64::from)
        .collect();
    let left_the_call = || match procfs::task_syscall(n.pid) {
        Some(procfs::SyscallState::In(nr)) => !forking.contains(&nr),
        Some(procfs::SyscallState::NotInSyscall) | None => true,
        Some(procfs::SyscallState::Running) => false,
    };
    let child = wait_for(tid, left_the_call, |w| {
        let event = (w.status >> 8) & 0xff;
        CREATION_EVENTS
            .contains(&event)
            .then(|| sys::ptrace_event_msg(tid).ok().map(|c| c as i32))
            .flatten()
    });
    let Some(child) = child else {
        return Decision::Park;
    };
    // The child starts in a stop of its own (it is traced from birth).
    if wait_for(child, || false, |_| Some(())).is_none() {
        warn!("fork by {tid}: child {child} did not stop; killing it");
        let _ = kill(child);
        return Decision::Park;
    }
    debug!("fork by {tid}: child {child} registered before it ran");
    let parent = procfs::tgid_of(n.pid).unwrap_or(tid);
    if let Some(dynamic) = &ctx.dynamic {
        let kind = EventKind::Fork { child };
        let syscall = crate::seccomp::names::name(n.nr as u32).unwrap_or("clone");
        if let Some(refusal) =
            super::ask_dynamic(ctx, dynamic, parent, syscall, Category::Process, kind)
        {
            debug!("fork by {tid}: child {child} refused ({refusal:?}); killed before it ran");
            let _ = kill(child);
        }
    }
    // Both are in ptrace stops we saw: let them go now rather than at thread exit.
    let _ = sys::ptrace_detach(child);
    let _ = sys::ptrace_detach(tid);
    Decision::Park
}

fn kill(pid: i32) -> rustix::io::Result<()> {
    let pid = rustix::process::Pid::from_raw(pid).ok_or(rustix::io::Errno::SRCH)?;
    rustix::process::kill_process(pid, rustix::process::Signal::KILL)
}

/// Lets the exec go on and waits until the kernel has taken argv (see the module doc).
fn run_exec(ctx: &Ctx, n: &Notif, tgid: i32) {
    let tid = n.pid as i32;
    let traced = seize(tid, libc::PTRACE_O_TRACEEXEC as u32).is_ok();
    // Before the answer, so a new notification of the caller's is not forgotten.
    ctx.answering(n.pid);
    if let Err(e) = ctx.listener.send(n.id, Response::Continue) {
        warn!("answer exec of {tid}: {e}");
    }
    if !traced || sys::ptrace_interrupt(tid).is_err() {
        // Not traceable any more (it died): nothing to wait for.
        return;
    }
    let start = Instant::now();
    while start.elapsed() < FREEZE_LIMIT {
        if let Ok(Some(_)) = sys::waitid_thread(tid, libc::WSTOPPED | libc::WNOHANG) {
            return;
        }
        if let Ok(Some(_)) = sys::waitid_thread(tid, libc::WEXITED | libc::WNOHANG | libc::WNOWAIT)
        {
            return;
        }
        // The exec failed and the caller trapped again before the interrupt reached it
        // (execvp trying the next PATH entry): blocked in that notification, which the
        // gate defers while we wait, it cannot stop. Its exec is over; argv was read.
        if ctx.gate.as_ref().is_some_and(|g| g.is_waiting(n.pid)) {
            debug!("exec by {tid} failed; it is in its next trapped call");
            return;
        }
        // The exec kills the caller's other threads and waits until they are gone:
        // reap the ones we trace.
        for t in procfs::threads(tgid) {
            if t != tid && t != tgid {
                let _ = sys::waitid_thread(t, libc::WEXITED | libc::WNOHANG);
            }
        }
        std::thread::sleep(Duration::from_micros(50));
    }
    warn!("exec by {tid}: no stop after {FREEZE_LIMIT:?}; letting the sandbox run on");
}

/// The exec's path (absolute) and argv, read from the caller, and whether any of it
/// (the strings or the pointer array) lies in a file mapping.
fn read_exec(
    n: &Notif,
    tgid: i32,
    dirfd: u64,
    path_at: u64,
    argv_at: u64,
    flags: u64,
) -> Result<(String, Vec<String>, bool), i32> {
    let maps = std::fs::read_to_string(format!("/proc/{tgid}/maps")).map_err(|_| libc::ESRCH)?;
    let file_backed = std::cell::Cell::new(false);
    let private = |at: u64, len: u64| match range_kind(&maps, at, len) {
        Some((private, file)) => {
            file_backed.set(file_backed.get() || file);
            private
        }
        None => false,
    };
    let raw_path = super::caller::read_path(n, path_at).ok_or(libc::EFAULT)?;
    if !private(path_at, raw_path.len() as u64 + 1) {
        return Err(shared_refusal(tgid));
    }
    let path = if raw_path.is_empty() && flags & libc::AT_EMPTY_PATH as u64 != 0 {
        std::fs::read_link(format!("/proc/{}/fd/{}", n.pid, dirfd as i32))
            .map(|p| p.as_os_str().as_encoded_bytes().to_vec())
            .map_err(|_| libc::EBADF)?
    } else {
        super::procview::absolute(n, dirfd, &raw_path).ok_or(libc::ENOENT)?
    };
    let mut argv = Vec::new();
    let mut at = argv_at;
    // A NULL argv is an empty one (Linux accepts it).
    while at != 0 {
        if argv.len() >= ARGV_MAX {
            return Err(libc::E2BIG);
        }
        let mut ptr = [0u8; 8];
        match sys::process_vm_read(n.pid as i32, at, &mut ptr) {
            Ok(8) => {}
            _ => return Err(libc::EFAULT),
        }
        if !private(at, 8) {
            return Err(shared_refusal(tgid));
        }
        let arg_at = u64::from_ne_bytes(ptr);
        if arg_at == 0 {
            break;
        }
        let arg = read_arg(n, arg_at)?;
        if !private(arg_at, arg.len() as u64 + 1) {
            return Err(shared_refusal(tgid));
        }
        argv.push(String::from_utf8_lossy(&arg).into_owned());
        at += 8;
    }
    Ok((
        String::from_utf8_lossy(&path).into_owned(),
        argv,
        file_backed.get(),
    ))
}

fn shared_refusal(tgid: i32) -> i32 {
    warn!("exec by process {tgid}: its path or argv is in shared memory (it could change after the check); refused");
    libc::EPERM
}

/// One NUL-terminated argument (at most `ARG_MAX_LEN` bytes).
fn read_arg(n: &Notif, at: u64) -> Result<Vec<u8>, i32> {
    let mut out = Vec::new();
    let mut addr = at;
    while out.len() <= ARG_MAX_LEN {
        let chunk = (4096 - addr % 4096) as usize;
        let mut buf = vec![0u8; chunk];
        let got = sys::process_vm_read(n.pid as i32, addr, &mut buf).map_err(|_| libc::EFAULT)?;
        if got == 0 {
            return Err(libc::EFAULT);
        }
        if let Some(end) = buf[..got].iter().position(|&b| b == 0) {
            out.extend_from_slice(&buf[..end]);
            return Ok(out);
        }
        out.extend_from_slice(&buf[..got]);
        addr += got as u64;
    }
    Err(libc::E2BIG)
}

/// For `[at, at+len)` in the process whose `/proc/PID/maps` text is `maps`: whether it
/// lies wholly in private mappings (a shared one could be written by another process
/// while the caller's threads are frozen), and whether any part is file-backed (a
/// private file page not yet copied changes when the file is written). `None` when part
/// of it is unmapped.
fn range_kind(maps: &str, at: u64, len: u64) -> Option<(bool, bool)> {
    let end = at.saturating_add(len.max(1));
    let mut covered = at;
    // The kernel lists mappings in address order, which the walk below needs (were they
    // not, the range would not be covered and the exec refused: it fails closed).
    let regions = maps.lines().filter_map(|l| {
        let mut f = l.split_ascii_whitespace();
        let (lo, hi) = f.next()?.split_once('-')?;
        let perms = f.next()?;
        let inode = f.nth(2)?;
        Some((
            u64::from_str_radix(lo, 16).ok()?,
            u64::from_str_radix(hi, 16).ok()?,
            perms.as_bytes().get(3) == Some(&b'p'),
            inode != "0",
        ))
    });
    let (mut private, mut file) = (true, false);
    for (lo, hi, p, f) in regions {
        if hi <= covered || lo > covered {
            continue;
        }
        private &= p;
        file |= f;
        covered = hi;
        if covered >= end {
            return Some((private, file));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argv_must_lie_in_private_memory() {
        let maps = "1000-3000 rw-p 00000000 00:00 0 [heap]\n\
                    3000-4000 rw-s 00000000 00:05 7 /dev/shm/x\n\
                    4000-5000 rw-p 00000000 00:00 0\n\
                    5000-6000 r--p 00001000 08:01 1234 /usr/bin/x\n";
        assert_eq!(range_kind(maps, 0x1000, 0x10), Some((true, false)));
        assert_eq!(range_kind(maps, 0x2ff0, 0x10), Some((true, false)));
        assert_eq!(
            range_kind(maps, 0x2ff0, 0x20),
            Some((false, true)),
            "into the shared one"
        );
        assert_eq!(range_kind(maps, 0x3100, 1), Some((false, true)));
        assert_eq!(range_kind(maps, 0x4000, 0x1000), Some((true, false)));
        assert_eq!(
            range_kind(maps, 0x4ff0, 0x20),
            Some((true, true)),
            "into the file"
        );
        assert_eq!(range_kind(maps, 0x5ff0, 0x20), None, "runs off the end");
        assert_eq!(range_kind(maps, 0x100, 1), None, "unmapped");
    }
}
