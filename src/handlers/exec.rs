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
//!    event, or the stop after a failed exec) comes after the kernel copied argv. Its
//!    sibling threads, killed by the exec, are reaped on the way (the exec waits for
//!    them).
//! 5. The tracer thread exits; the kernel detaches every tracee, whatever its state.
//!
//! If the freeze cannot be set up (ptrace refused, a thread that will not stop), the
//! exec fails with EPERM and the reason is logged.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use log::{debug, warn};

use super::{Ctx, Decision, Handler};
use crate::dynamic::{Category, EventKind};
use crate::procfs;
use crate::seccomp::notif::{Notif, Response};
use crate::state::lock;
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
/// How long threads get to stop, and the exec to take argv.
const FREEZE_LIMIT: Duration = Duration::from_secs(5);

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

/// Runs `f` on a tracer thread of its own and waits for it. Whatever that thread
/// seized is detached by the kernel when it exits, whatever state it is in.
pub(super) fn on_tracer<T: Send>(f: impl FnOnce() -> T + Send) -> Result<T, String> {
    let out = std::thread::scope(|s| {
        match std::thread::Builder::new()
            .name("sandlet-tracer".into())
            .spawn_scoped(s, || (rustix::thread::gettid(), f()))
        {
            Ok(t) => t
                .join()
                .map_err(|_| "the tracer thread panicked".to_owned()),
            Err(e) => Err(format!("cannot start a tracer thread ({e})")),
        }
    });
    let (tracer, value) = out?;
    // `join` returns before the exiting thread has detached its tracees; the next
    // tracer could not seize them yet. Its task is released after that.
    let task = format!("/proc/self/task/{}", tracer.as_raw_nonzero());
    let start = Instant::now();
    while std::path::Path::new(&task).exists() && start.elapsed() < FREEZE_LIMIT {
        std::thread::sleep(Duration::from_micros(20));
    }
    Ok(value)
}

/// `PTRACE_SEIZE` of `tid`, waiting out an earlier tracer thread of ours that is
/// still exiting (its tracees are detached only at the end of its exit).
pub(super) fn seize(tid: i32, options: u32) -> std::io::Result<()> {
    let start = Instant::now();
    loop {
        match sys::ptrace_seize(tid, options) {
            Err(e) if e.raw_os_error() == Some(libc::EPERM) && start.elapsed() < FREEZE_LIMIT => {
                let me = rustix::thread::gettid().as_raw_nonzero().get();
                match procfs::tracer_of(tid as u32) {
                    Some(t)
                        if t != me
                            && std::path::Path::new(&format!("/proc/self/task/{t}")).exists() =>
                    {
                        std::thread::sleep(Duration::from_micros(20));
                    }
                    _ => return Err(e),
                }
            }
            r => return r,
        }
    }
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
    // A missing file is the kernel's ENOENT, answered here: nothing runs, and neither
    // the rules nor the policy see every miss of a PATH search.
    if let Err(e) = std::fs::metadata(&path) {
        if let Some(code @ (libc::ENOENT | libc::ENOTDIR)) = e.raw_os_error() {
            return errno(code);
        }
    }
    let resolved = std::fs::canonicalize(&path)
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_else(|_| path.clone());
    let argv0 = argv.first().cloned().unwrap_or_default();
    if let Some(rule) = crate::dynamic::deny_exec_rule(&ctx.deny_exec, &argv0, &path, &resolved) {
        warn!("exec of {path} by process {tgid} denied by --deny-exec {rule}");
        return errno(libc::EPERM);
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
    run_exec(ctx, n, tgid);
    Decision::Park
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

/// Waits (up to `FREEZE_LIMIT`) for the next stop of tracee `tid` and maps it with
/// `on_stop`; `None` when it exits, never stops, or `gave_up` said (before the last
/// look for a stop) that no stop will come.
pub(super) fn wait_for<T>(
    tid: i32,
    gave_up: impl Fn() -> bool,
    on_stop: impl Fn(sys::Waited) -> Option<T>,
) -> Option<T> {
    let start = Instant::now();
    while start.elapsed() < FREEZE_LIMIT {
        let giving_up = gave_up();
        match sys::waitid_thread(tid, libc::WSTOPPED | libc::WNOHANG) {
            Ok(Some(w)) => return on_stop(w),
            Ok(None) => {}
            Err(e) => {
                debug!("waiting for tracee {tid}: {e}");
                return None;
            }
        }
        // For a tracee this also reports a stop that came after the check above (the
        // kernel reports tracee stops to any wait); only an exit ends the wait.
        if let Ok(Some(w)) = sys::waitid_thread(tid, libc::WEXITED | libc::WNOHANG | libc::WNOWAIT)
        {
            if matches!(
                w.code,
                libc::CLD_EXITED | libc::CLD_KILLED | libc::CLD_DUMPED
            ) {
                return None;
            }
            continue;
        }
        if giving_up {
            return None;
        }
        std::thread::sleep(Duration::from_micros(20));
    }
    None
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

/// Which threads a freeze stops (besides the caller).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Scope {
    /// Every thread that can write the caller's memory (module doc, step 2).
    Memory,
    /// Every thread of the sandbox.
    Everyone,
    /// Every thread sharing the caller's descriptor table (`fdguard`). They are traced
    /// with their creations too, so a thread one of them starts is born stopped.
    Files,
}

/// The threads seized so far for one freeze, and those known to be harmless.
#[derive(Default)]
pub(super) struct Frozen {
    seized: HashSet<i32>,
    settled: HashSet<i32>,
}

impl Frozen {
    /// Stops every other thread of `scope` and waits until each is harmless.
    pub(super) fn freeze(
        &mut self,
        ctx: &Ctx,
        tgid: i32,
        caller: i32,
        scope: Scope,
    ) -> Result<(), String> {
        let start = Instant::now();
        let options = match scope {
            Scope::Files => {
                libc::PTRACE_O_TRACECLONE | libc::PTRACE_O_TRACEFORK | libc::PTRACE_O_TRACEVFORK
            }
            _ => 0,
        };
        loop {
            let candidates: Vec<i32> = match scope {
                Scope::Everyone => {
                    let root = lock(&ctx.processes).root;
                    procfs::sandbox_pids(root)
                        .into_iter()
                        .flat_map(procfs::threads)
                        .collect()
                }
                Scope::Memory => sharers(ctx, tgid, sys::same_vm),
                Scope::Files => file_sharers(ctx, tgid),
            };
            let fresh: Vec<i32> = candidates
                .into_iter()
                .filter(|t| *t != caller && !self.seized.contains(t))
                .collect();
            for &t in &fresh {
                match seize(t, options as u32) {
                    Ok(()) => {}
                    Err(e) if e.raw_os_error() == Some(libc::ESRCH) => continue,
                    // Born traced by us (a creation event of a thread we seized).
                    Err(_) if ours(t) => {
                        self.seized.insert(t);
                        continue;
                    }
                    Err(e) => return Err(format!("PTRACE_SEIZE of thread {t}: {e}")),
                }
                self.seized.insert(t);
                if let Err(e) = sys::ptrace_interrupt(t) {
                    if e.raw_os_error() != Some(libc::ESRCH) {
                        return Err(format!("PTRACE_INTERRUPT of thread {t}: {e}"));
                    }
                }
            }
            // Wait for each seized thread to be harmless.
            loop {
                let mut all = true;
                for &t in &self.seized {
                    if self.settled.contains(&t) {
                        continue;
                    }
                    let stopped = matches!(
                        sys::waitid_thread(t, libc::WSTOPPED | libc::WNOHANG),
                        Ok(Some(_))
                    );
                    // (For a tracee this also reports a stop, which settles it too.)
                    let gone = !matches!(
                        sys::waitid_thread(t, libc::WEXITED | libc::WNOHANG | libc::WNOWAIT),
                        Ok(None)
                    );
                    let harmless = match scope {
                        Scope::Files => in_call_keeping_fds(t),
                        _ => {
                            ctx.gate.as_ref().is_some_and(|g| g.is_waiting(t as u32))
                                || vfork_parent_of(t, caller)
                        }
                    };
                    if stopped || gone || harmless {
                        self.settled.insert(t);
                    } else {
                        all = false;
                    }
                }
                if all {
                    break;
                }
                if start.elapsed() > FREEZE_LIMIT {
                    return Err(format!("threads still running after {FREEZE_LIMIT:?}"));
                }
                std::thread::sleep(Duration::from_micros(50));
            }
            if fresh.is_empty() {
                debug!(
                    "froze {} thread(s) for {caller} ({scope:?})",
                    self.seized.len()
                );
                return Ok(());
            }
        }
    }
}

/// Whether thread `t` is traced by this thread (`waitid` would also report the
/// tracees of our other threads).
fn ours(t: i32) -> bool {
    procfs::tracer_of(t as u32) == Some(rustix::thread::gettid().as_raw_nonzero().get())
}

/// Whether thread `t` is blocked in a syscall that cannot change which file a
/// descriptor number names. Once interrupted it stops when that call returns, so it
/// cannot make another.
fn in_call_keeping_fds(t: i32) -> bool {
    let Some(procfs::SyscallState::In(nr)) = procfs::task_syscall(t as u32) else {
        return false;
    };
    !["close", "dup2", "dup3", "close_range"]
        .iter()
        .filter_map(|n| crate::seccomp::names::number(n))
        .any(|x| i64::from(x) == nr)
}

/// Every thread that may share `tgid`'s descriptor table: its own, and those of other
/// processes sharing it once any process was created with `CLONE_FILES` (finding
/// them walks all of /proc).
pub(super) fn file_sharers(ctx: &Ctx, tgid: i32) -> Vec<i32> {
    if lock(&ctx.processes).shared_files {
        sharers(ctx, tgid, sys::same_files)
    } else {
        procfs::threads(tgid)
    }
}

/// Every thread of `tgid` and of every sandbox process that `same` says shares with it
/// (its address space, its descriptor table).
pub(super) fn sharers(
    ctx: &Ctx,
    tgid: i32,
    same: fn(i32, i32) -> std::io::Result<bool>,
) -> Vec<i32> {
    let mut out = procfs::threads(tgid);
    let root = lock(&ctx.processes).root;
    for pid in procfs::sandbox_pids(root) {
        // A process that is gone shares nothing; one we cannot compare is assumed to.
        let shares = match same(tgid, pid) {
            Ok(same) => same,
            Err(e) => e.raw_os_error() != Some(libc::ESRCH),
        };
        if pid != tgid && shares {
            out.extend(procfs::threads(pid));
        }
    }
    out
}

/// Whether thread `t` is waiting in `vfork` for `caller` (its vfork child) to exec.
fn vfork_parent_of(t: i32, caller: i32) -> bool {
    let Some(child_tgid) = procfs::tgid_of(caller as u32) else {
        return false;
    };
    let parent = procfs::parent_of(child_tgid);
    let t_tgid = procfs::tgid_of(t as u32);
    if parent.is_none() || parent != t_tgid {
        return false;
    }
    let forking = ["vfork", "clone", "clone3"]
        .iter()
        .filter_map(|n| crate::seccomp::names::number(n))
        .map(i64::from)
        .collect::<Vec<_>>();
    matches!(procfs::task_syscall(t as u32), Some(procfs::SyscallState::In(nr)) if forking.contains(&nr))
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
    let raw_path = super::files::read_path(n, path_at).ok_or(libc::EFAULT)?;
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
    let mut regions: Vec<(u64, u64, bool, bool)> = maps
        .lines()
        .filter_map(|l| {
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
        })
        .collect();
    regions.sort_unstable();
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
