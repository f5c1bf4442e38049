//! The ptrace machinery the handlers share: a tracer thread per decision
//! ([`on_tracer`]), seizing ([`seize`]), waiting for a tracee's stop ([`wait_for`]),
//! and stopping every thread that shares something with a caller ([`Frozen`]): its
//! address space (exec decisions), its descriptor table (`fdguard`), or the whole
//! sandbox.
//!
//! Tracees are never detached one by one (a running tracee cannot be): the tracer
//! thread exits, and the kernel detaches whatever it traced, in whatever state.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use log::debug;

use super::Ctx;
use crate::procfs;
use crate::state::lock;
use crate::sys;

/// How long threads get to stop, and a traced call to get where it is watched for.
pub const FREEZE_LIMIT: Duration = Duration::from_secs(5);

/// Runs `f` on a tracer thread of its own and waits for it. Whatever that thread
/// seized is detached by the kernel when it exits, whatever state it is in.
pub fn on_tracer<T: Send>(f: impl FnOnce() -> T + Send) -> Result<T, String> {
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
pub fn seize(tid: i32, options: u32) -> std::io::Result<()> {
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

/// Waits (up to `FREEZE_LIMIT`) for the next stop of tracee `tid` and maps it with
/// `on_stop`; `None` when it exits, never stops, or `gave_up` said (before the last
/// look for a stop) that no stop will come.
pub fn wait_for<T>(
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

/// Which threads a freeze stops (besides the caller).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Every thread that can write the caller's memory (`exec`'s module doc, step 2).
    Memory,
    /// Every thread of the sandbox.
    Everyone,
    /// Every thread sharing the caller's descriptor table (`fdguard`). They are traced
    /// with their creations too, so a thread one of them starts is born stopped.
    Files,
}

/// The threads seized so far for one freeze, and those known to be harmless.
#[derive(Default)]
pub struct Frozen {
    seized: HashSet<i32>,
    settled: HashSet<i32>,
}

impl Frozen {
    /// Stops every other thread of `scope` and waits until each is harmless.
    pub fn freeze(
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

/// Every thread that may share thread `tid`'s descriptor table: those of its process,
/// and those of other processes sharing it once any process was created with
/// `CLONE_FILES` (finding them walks all of /proc).
pub fn file_sharers(ctx: &Ctx, tid: i32) -> Vec<i32> {
    if !lock(&ctx.processes).shared_files {
        // /proc/TID/task lists the whole thread group, whichever thread TID is.
        return procfs::threads(tid);
    }
    match procfs::tgid_of(tid as u32) {
        Some(tgid) => sharers(ctx, tgid, sys::same_files),
        None => Vec::new(),
    }
}

/// Every thread of `tgid` and of every sandbox process that `same` says shares with it
/// (its address space, its descriptor table).
pub fn sharers(ctx: &Ctx, tgid: i32, same: fn(i32, i32) -> std::io::Result<bool>) -> Vec<i32> {
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
