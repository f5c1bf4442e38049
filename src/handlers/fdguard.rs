//! Calls on sockets the network rules do not govern (unix, netlink) continue; this
//! makes sure the descriptor number still names that socket when the kernel looks it
//! up again.
//!
//! A trapped `connect`, `bind` or send on a non-inet socket is answered CONTINUE, and
//! the kernel then reads the fd from the caller's table once more. Another thread
//! sharing that table could `dup2` a UDP socket onto the number in between and get a
//! send (or a bind) the rules never saw. So, when UDP/ICMP sockets can exist, bind
//! rules depend on the trap, or a dynamic policy decides:
//!
//! 1. No other task shares the caller's table (no other thread in its process, and,
//!    once a process was made with `CLONE_FILES`, none that `kcmp(KCMP_FILES)` matches):
//!    nothing can change it while the caller waits for us, so CONTINUE is safe as is.
//! 2. Otherwise a tracer thread (one guard at a time) seizes and interrupts every
//!    sharer, with their creation events, and waits until each is stopped or blocked
//!    in a call that cannot change which file a number names (an interrupted thread
//!    makes no further call). The call is then decided again on the frozen table: an
//!    inet socket now takes the checked path of `net`.
//! 3. Still a non-inet socket: the caller is seized (not stopped), answered CONTINUE,
//!    and watched until it has certainly looked the descriptor up: it sleeps
//!    interruptibly (nothing between our answer and the lookup sleeps that way: the
//!    seccomp wait is over, and its lock sleeps uninterruptibly), left the call, started
//!    another one, or stopped. (`connect`, `bind`, `sendto`, `sendmsg` and `sendmmsg`
//!    look the descriptor up before they read the caller's memory, so a page fault
//!    cannot put them to sleep first.) If none of that shows within `PATIENCE`, it is
//!    interrupted: it stops when the call returns, or restarts the call, which traps
//!    again and is decided anew.
//! 4. The tracer thread exits; the kernel detaches everything and the sharers go on.
//!
//! A sharer is never held while the caller blocks, so a receiver among them drains
//! what the caller sends. The cost is a freeze per such call in multi-threaded
//! programs (README, Network).

use std::cell::Cell;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use log::{debug, warn};

use super::tracer::{on_tracer, Frozen, Scope};
use super::{Ctx, Decision, Handler};
use crate::procfs::{self, SyscallState};
use crate::seccomp::notif::{Notif, Response};
use crate::sys;

/// One guard at a time: two would try to seize the same sharers.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// How long the caller may run before it is interrupted.
const PATIENCE: Duration = Duration::from_millis(2);
/// How long anything here may take before the guard gives up.
const LIMIT: Duration = Duration::from_secs(5);

thread_local! {
    /// Set on a tracer thread while the sharers are frozen: the call may continue.
    static FROZEN: Cell<bool> = const { Cell::new(false) };
}

fn errno(e: i32) -> Decision {
    Decision::Respond(Response::Errno(e))
}

/// The answer for a call `handler` found to be on a non-inet socket.
pub fn non_inet(ctx: &Ctx, n: &Notif, handler: Handler) -> Decision {
    let carry_on = Decision::Respond(Response::Continue);
    if FROZEN.with(Cell::get) || !(ctx.net.guards_fds() || ctx.dynamic.is_some()) {
        return carry_on;
    }
    let tid = n.pid as i32;
    if super::tracer::file_sharers(ctx, tid)
        .iter()
        .all(|&t| t == tid)
    {
        return carry_on;
    }
    let Some(tgid) = procfs::tgid_of(n.pid) else {
        return errno(libc::ESRCH);
    };
    // Held until the tracer thread has exited and so detached what it seized.
    let _one = crate::state::lock(&ONE_AT_A_TIME);
    on_tracer(|| guarded(ctx, n, tgid, handler)).unwrap_or_else(|why| {
        warn!("{why}; call by {tid} refused");
        errno(libc::EPERM)
    })
}

/// Steps 2 to 4 of the module doc, on the tracer thread.
fn guarded(ctx: &Ctx, n: &Notif, tgid: i32, handler: Handler) -> Decision {
    let tid = n.pid as i32;
    let mut frozen = Frozen::default();
    if let Err(why) = frozen.freeze(ctx, tgid, tid, Scope::Files) {
        warn!("call by {tid}: cannot freeze the threads sharing its descriptors ({why}); refused");
        return errno(libc::EPERM);
    }
    FROZEN.with(|f| f.set(true));
    let decision = handler(ctx, n);
    FROZEN.with(|f| f.set(false));
    if !matches!(decision, Decision::Respond(Response::Continue)) {
        return decision;
    }
    let seized = super::tracer::seize(tid, 0).is_ok();
    // Before the answer: a new notification of the caller's must not be forgotten.
    ctx.answering(n.pid);
    if let Err(e) = ctx.listener.send(n.id, Response::Continue) {
        debug!("answer {tid}: {e}");
        return Decision::Park;
    }
    if seized && !watch(ctx, tid, i64::from(n.nr)) {
        warn!("call by {tid}: not seen past its descriptor lookup after {LIMIT:?}");
    }
    Decision::Park
}

/// Waits until the caller, answered CONTINUE, has looked its descriptor up (step 3).
fn watch(ctx: &Ctx, tid: i32, nr: i64) -> bool {
    let start = Instant::now();
    let mut interrupted = false;
    while start.elapsed() < LIMIT {
        match sys::waitid_thread(tid, libc::WSTOPPED | libc::WEXITED | libc::WNOHANG) {
            Ok(None) => {}
            // Stopped, gone, or no longer ours.
            _ => return true,
        }
        if ctx.gate.as_ref().is_some_and(|g| g.is_waiting(tid as u32)) {
            return true;
        }
        match procfs::task_syscall(tid as u32) {
            None | Some(SyscallState::NotInSyscall) => return true,
            Some(SyscallState::In(other)) if other != nr => return true,
            _ => {}
        }
        if procfs::task_state(tid as u32).is_none_or(|s| s == 'S') {
            return true;
        }
        if !interrupted && start.elapsed() > PATIENCE {
            interrupted = true;
            if sys::ptrace_interrupt(tid).is_err() {
                return true;
            }
        }
        std::thread::sleep(Duration::from_micros(20));
    }
    false
}
