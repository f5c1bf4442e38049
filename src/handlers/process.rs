//! Process creation: `clone` (without CLONE_THREAD), `fork`, `vfork`.
//!
//! The limit counts live and unreaped processes. Forks are admitted against an
//! estimate (last count + admitted since); when the estimate reaches the limit the
//! sandbox is recounted from /proc, where zombies still appear until reaped. So exits
//! and reaps need no trapping, and a "fork and never wait" loop stays limited.

use log::debug;

use super::{Ctx, Decision, Handler};
use crate::procfs;
use crate::seccomp::notif::{Notif, Response};
use crate::state::{lock, InFlight, ProcessState};

const CLONE_NEW_ANY: u64 = crate::seccomp::CLONE_NEW_ANY as u64;

/// `SYS_clone` is a `c_long`: i64 here, i32 on 32-bit targets.
#[allow(clippy::unnecessary_cast)]
const SYS_CLONE: i64 = libc::SYS_clone as i64;

/// Handler for the fork family.
pub const FORK: Handler = fork;
/// The same under a dynamic policy: an admitted fork is traced for its creation event
/// (see `exec::traced_fork`).
pub const FORK_TRACED: Handler = fork_traced;

fn fork_traced(ctx: &Ctx, n: &Notif) -> Decision {
    match fork(ctx, n) {
        Decision::Respond(Response::Continue) if creates_process(n) => {
            super::exec::traced_fork(ctx, n)
        }
        other => other,
    }
}

/// Whether the call makes a new process (a `clone` may make a thread).
fn creates_process(n: &Notif) -> bool {
    i64::from(n.nr) != SYS_CLONE || n.args[0] & libc::CLONE_THREAD as u64 == 0
}

fn fork(ctx: &Ctx, n: &Notif) -> Decision {
    if i64::from(n.nr) == SYS_CLONE {
        // The filter already sorted these; checked again so a filter bug cannot turn
        // into a namespace or an uncounted process.
        let flags = n.args[0];
        if flags & CLONE_NEW_ANY != 0 {
            return Decision::Respond(Response::Errno(libc::EPERM));
        }
        if flags & libc::CLONE_THREAD as u64 != 0 {
            return Decision::Respond(Response::Continue);
        }
    }
    let mut p = lock(&ctx.processes);
    if i64::from(n.nr) == SYS_CLONE && n.args[0] & libc::CLONE_FILES as u64 != 0 {
        p.shared_files = true;
    }
    // A thread making a new fork call has returned from its previous one.
    p.inflight.retain(|f| f.tid != n.pid);
    if p.hold_forks {
        debug!("fork by {} parked (forks are held)", n.pid);
        p.parked.push(*n);
        return Decision::Park;
    }
    let answer = admit(&mut p, n.pid);
    if let (Response::Errno(_), Some(status)) = (&answer, &ctx.status) {
        use crate::status::Field;
        status.emit(
            "limit",
            &[
                ("limit", Field::Str("processes")),
                ("pid", Field::Num(i64::from(n.pid))),
                ("max", Field::Num(i64::from(p.max))),
            ],
        );
    }
    Decision::Respond(answer)
}

fn is_fork(nr: i64) -> bool {
    ["clone", "fork", "vfork"]
        .into_iter()
        .filter_map(crate::seccomp::names::number)
        .any(|n| i64::from(n) == nr)
}

/// Whether an admitted fork may still be creating its child.
fn still_in_flight(f: &InFlight) -> bool {
    let Some(now) = procfs::task_children(f.tid) else {
        return false; // the thread is gone
    };
    if now.iter().any(|c| !f.before.contains(c)) {
        return false; // the child exists (and is counted by the scan)
    }
    // Blocked in some other syscall: the fork is over (failed, or child already reaped).
    !matches!(procfs::task_syscall(f.tid), Some(procfs::SyscallState::In(nr)) if !is_fork(nr))
}

/// The sandbox's processes: those in /proc plus forks whose child is not there yet.
/// A quick lower bound settles refusals (a fork bomb at the limit); admitting takes the
/// exact count.
fn recount(p: &mut ProcessState) -> u32 {
    p.inflight.retain(still_in_flight);
    let inflight = p.inflight.len() as u32;
    let quick = procfs::sandbox_process_count_at_least(p.root);
    if quick.saturating_add(inflight) >= p.max {
        return quick.saturating_add(inflight);
    }
    let Some(seen) = procfs::sandbox_process_count(p.root) else {
        // A count that cannot be made must not admit: the sandbox is taken as full.
        warn_once(
            &COUNT_FAILED,
            "cannot count the sandbox's processes in /proc; forks are refused until it can",
        );
        return p.max;
    };
    debug!(
        "recounted the sandbox: {seen} processes + {} forks in flight",
        p.inflight.len()
    );
    seen.saturating_add(p.inflight.len() as u32)
}

static COUNT_FAILED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Logs `message` as a warning the first time `flag` is raised.
fn warn_once(flag: &std::sync::atomic::AtomicBool, message: &str) {
    if !flag.swap(true, std::sync::atomic::Ordering::Relaxed) {
        log::warn!("{message}");
    }
}

/// Admits one more process or refuses with EAGAIN.
pub fn admit(p: &mut ProcessState, caller: u32) -> Response {
    if p.estimate >= p.max || p.inflight.len() as u64 > 2 * u64::from(p.max) {
        p.estimate = recount(p);
    }
    if p.estimate >= p.max {
        debug!(
            "fork by {caller} refused: {} processes, limit {}",
            p.estimate, p.max
        );
        return Response::Errno(libc::EAGAIN);
    }
    p.estimate += 1;
    if p.peak.is_some() {
        let now = procfs::sandbox_process_count(p.root).unwrap_or(0) + 1;
        p.peak = p.peak.max(Some(now));
    }
    p.inflight.push(InFlight {
        tid: caller,
        before: procfs::task_children(caller).unwrap_or_default(),
    });
    debug!("fork by {caller} allowed ({} of {})", p.estimate, p.max);
    Response::Continue
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admits_up_to_the_limit_then_recounts() {
        // Threads that do not exist: their admitted forks are over by definition.
        let ghost = u32::MAX;
        let mut p = ProcessState::new(3, Some(ghost as i32));
        assert_eq!(admit(&mut p, ghost), Response::Continue);
        assert_eq!(admit(&mut p, ghost), Response::Continue);
        assert_eq!(p.estimate, 3);
        // At the limit: the recount finds nothing alive, so the slots are free again.
        assert_eq!(admit(&mut p, ghost), Response::Continue);
        assert_eq!(p.estimate, 1);
        let mut full = ProcessState::new(0, Some(ghost as i32));
        assert_eq!(admit(&mut full, ghost), Response::Errno(libc::EAGAIN));
    }

    #[test]
    fn forks_in_flight_count_at_a_recount() {
        use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
        use std::sync::Arc;
        // A spinning thread is "running": a fork it was admitted for may still be
        // creating the child, so it counts.
        let stop = Arc::new(AtomicBool::new(false));
        let tid = Arc::new(AtomicU32::new(0));
        let spinner = {
            let (stop, tid) = (Arc::clone(&stop), Arc::clone(&tid));
            std::thread::spawn(move || {
                tid.store(
                    rustix::thread::gettid().as_raw_nonzero().get() as u32,
                    Ordering::SeqCst,
                );
                while !stop.load(Ordering::Relaxed) {
                    std::hint::spin_loop();
                }
            })
        };
        while tid.load(Ordering::SeqCst) == 0 {
            std::thread::yield_now();
        }
        let spinning = tid.load(Ordering::SeqCst);
        let mut p = ProcessState::new(1, Some(u32::MAX as i32));
        p.estimate = 1;
        p.inflight.push(InFlight {
            tid: spinning,
            before: vec![],
        });
        assert_eq!(admit(&mut p, u32::MAX), Response::Errno(libc::EAGAIN));
        assert_eq!(p.inflight.len(), 1);
        stop.store(true, Ordering::Relaxed);
        spinner.join().unwrap();
        // join returns when the thread clears its tid, a moment before the kernel
        // releases it.
        let task = format!("/proc/self/task/{spinning}");
        while std::path::Path::new(&task).exists() {
            std::thread::yield_now();
        }
        // Once its thread is gone, the fork is over: the slot is free.
        assert_eq!(admit(&mut p, u32::MAX), Response::Continue);
    }
}
