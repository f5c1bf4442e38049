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
use crate::state::{lock, ProcessState};

const CLONE_NEW_ANY: u64 = (libc::CLONE_NEWNS
    | libc::CLONE_NEWCGROUP
    | libc::CLONE_NEWUTS
    | libc::CLONE_NEWIPC
    | libc::CLONE_NEWUSER
    | libc::CLONE_NEWPID
    | libc::CLONE_NEWNET) as u64;

/// Handler for the fork family.
pub const FORK: Handler = fork;

fn fork(ctx: &Ctx, n: &Notif) -> Decision {
    if i64::from(n.nr) == libc::SYS_clone as i64 {
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
    if p.hold_forks {
        debug!("fork by {} parked (forks are held)", n.pid);
        p.parked.push(*n);
        return Decision::Park;
    }
    Decision::Respond(admit(&mut p, n.pid))
}

/// Admits one more process or refuses with EAGAIN.
pub fn admit(p: &mut ProcessState, caller: u32) -> Response {
    if p.estimate >= p.max {
        p.estimate = procfs::sandbox_process_count(p.root);
        debug!("recounted the sandbox: {} processes", p.estimate);
    }
    if p.estimate >= p.max {
        debug!(
            "fork by {caller} refused: {} processes, limit {}",
            p.estimate, p.max
        );
        return Response::Errno(libc::EAGAIN);
    }
    p.estimate += 1;
    debug!("fork by {caller} allowed ({} of {})", p.estimate, p.max);
    Response::Continue
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admits_up_to_the_limit_then_recounts() {
        // This test process has no children, so a recount finds 0.
        let mut p = ProcessState::new(3, None);
        assert_eq!(admit(&mut p, 1), Response::Continue);
        assert_eq!(admit(&mut p, 1), Response::Continue);
        assert_eq!(p.estimate, 3);
        // At the limit: the recount (0 children here) frees the slots again.
        assert_eq!(admit(&mut p, 1), Response::Continue);
        assert_eq!(p.estimate, 1);
        let mut full = ProcessState::new(0, None);
        assert_eq!(admit(&mut full, 1), Response::Errno(libc::EAGAIN));
    }
}
