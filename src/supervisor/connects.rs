//! Connects in progress on callers' behalf (see `handlers::net`): the poll loop watches
//! each socket and answers its caller when the attempt ends, so no worker waits on a
//! peer; an attempt whose caller is gone (killed while it waited) is dropped.

use std::os::fd::OwnedFd;
use std::time::Duration;

use log::debug;
use rustix::event::{PollFd, PollFlags};

use super::dispatch;
use crate::handlers::{Ctx, Decision};
use crate::seccomp::notif::{Notif, Response};
use crate::state::lock;

/// How often, while connects are pending, their callers are checked for being gone.
pub const SWEEP: Duration = Duration::from_secs(1);

/// The connects in progress, taken out of the context for one turn of the poll loop.
pub struct Pending {
    list: Vec<(Notif, OwnedFd)>,
}

impl Pending {
    pub fn take(ctx: Option<&Ctx>) -> Pending {
        Pending {
            list: ctx.map_or_else(Vec::new, |c| std::mem::take(&mut *lock(&c.connecting))),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// One entry per pending connect, waiting for its socket to become writable (the
    /// connection is up) or to report an error.
    pub fn poll_fds(&self) -> impl Iterator<Item = PollFd<'_>> {
        self.list
            .iter()
            .map(|(_, fd)| PollFd::new(fd, PollFlags::OUT))
    }

    /// Answers the connects whose socket is ready (`ready[i]`) with their result; when
    /// `sweep`, drops those whose caller is gone; gives the rest back to `ctx`.
    pub fn settle(self, ctx: &Ctx, ready: &[bool], sweep: bool) {
        let mut keep = Vec::new();
        for (i, (n, fd)) in self.list.into_iter().enumerate() {
            if ready.get(i).copied().unwrap_or(false) {
                let response = match rustix::net::sockopt::socket_error(&fd) {
                    Ok(Ok(())) => Response::Value(0),
                    Ok(Err(e)) | Err(e) => Response::Errno(e.raw_os_error()),
                };
                dispatch::answer(ctx, &n, Decision::Respond(response));
            } else if sweep && !ctx.listener.id_valid(n.id) {
                debug!("connect by {}: the caller is gone; attempt dropped", n.pid);
            } else {
                keep.push((n, fd));
            }
        }
        lock(&ctx.connecting).extend(keep);
    }
}
