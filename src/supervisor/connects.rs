//! Connects in progress on callers' behalf (see `handlers::net`). Each socket joins an
//! epoll set of sandlet's (one-shot, for the end of the attempt) and the duplicate
//! sandlet took is closed at once: an epoll registration lives as long as the socket,
//! not the descriptor, so a connect that never completes holds no descriptor and no
//! thread of sandlet's. When the socket reports, the caller's descriptor is taken again
//! to read the result (SO_ERROR) and the caller is answered. (A twin, made where
//! `pidfd_getfd` is refused, is kept instead: it cannot be taken again; at most
//! `MAX_CONNECTING` are.) A connect that succeeded is made once more, as the caller's
//! own blocking connect would have, so that the socket counts as connected (a later
//! connect answers EISCONN, not 0). An attempt whose caller was
//! killed is forgotten at the next sweep (its socket, closed with the caller, leaves the
//! set by itself).

use std::os::fd::{AsRawFd, OwnedFd};
use std::time::{Duration, Instant};

use log::debug;
use mio::unix::SourceFd;
use mio::{Interest, Registry, Token};
use rustix::event::epoll;

use super::dispatch;
use crate::handlers::{caller_fd, Ctx, Decision};
use crate::seccomp::notif::{Notif, Response};
use crate::state::lock;

/// How often, while connects are pending, their callers are checked for being gone.
pub const SWEEP: Duration = Duration::from_secs(1);

/// A connect being waited for: its notification and the socket's inode (to know the
/// caller's descriptor still names it when the result is read).
struct Waiting {
    key: u64,
    n: Notif,
    ino: u64,
    twin: Option<OwnedFd>,
}

/// The epoll set of sockets being connected, itself watched by the poll loop.
pub struct Connects {
    epoll: OwnedFd,
    next: u64,
    waiting: Vec<Waiting>,
    last_sweep: Instant,
}

impl Connects {
    /// An empty set, registered with the poll loop's `registry` under `token`.
    fn new(registry: &Registry, token: Token) -> std::io::Result<Connects> {
        let epoll = epoll::create(epoll::CreateFlags::CLOEXEC)?;
        registry.register(&mut SourceFd(&epoll.as_raw_fd()), token, Interest::READABLE)?;
        Ok(Connects {
            epoll,
            next: 0,
            waiting: Vec::new(),
            last_sweep: Instant::now(),
        })
    }

    /// Watches the sockets of the connects handed over since the last call (see
    /// [`Decision::Connecting`]) and closes sandlet's duplicates of them.
    fn adopt(&mut self, ctx: &Ctx, handed: Vec<(Notif, OwnedFd, bool)>) {
        for (n, socket, twin) in handed {
            let key = self.next;
            self.next += 1;
            let ino = rustix::fs::fstat(&socket).map_or(0, |s| s.st_ino);
            let data = epoll::EventData::new_u64(key);
            let flags = epoll::EventFlags::OUT | epoll::EventFlags::ONESHOT;
            let watched = match epoll::add(&self.epoll, &socket, data, flags) {
                // Watched already under this descriptor number (an earlier connect of
                // the same socket, answered): arm it again.
                Err(rustix::io::Errno::EXIST) => epoll::modify(&self.epoll, &socket, data, flags),
                other => other,
            };
            match watched {
                Ok(()) => self.waiting.push(Waiting {
                    key,
                    n,
                    ino,
                    twin: twin.then_some(socket),
                }),
                Err(e) => dispatch::answer(
                    ctx,
                    &n,
                    Decision::Respond(Response::Errno(e.raw_os_error())),
                ),
            }
        }
    }

    /// Answers the connects whose socket reported the end of the attempt.
    pub fn ready(&mut self, ctx: &Ctx) {
        let zero = rustix::time::Timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        loop {
            let mut events: Vec<epoll::Event> = Vec::with_capacity(32);
            match epoll::wait(
                &self.epoll,
                rustix::buffer::spare_capacity(&mut events),
                Some(&zero),
            ) {
                Ok(_) if !events.is_empty() => {}
                Err(rustix::io::Errno::INTR) => continue,
                _ => return,
            }
            for event in events {
                let key = event.data.u64();
                let Some(at) = self.waiting.iter().position(|w| w.key == key) else {
                    continue;
                };
                let w = self.waiting.swap_remove(at);
                let response = result(&w, event.flags);
                dispatch::answer(ctx, &w.n, Decision::Respond(response));
            }
        }
    }

    /// When connects are pending: how long until the next sweep for gone callers.
    pub fn next_sweep(&self, now: Instant) -> Option<Duration> {
        (!self.waiting.is_empty()).then(|| (self.last_sweep + SWEEP).saturating_duration_since(now))
    }

    /// Forgets the connects whose caller is gone, once per [`SWEEP`].
    pub fn sweep(&mut self, ctx: &Ctx, now: Instant) {
        if self.waiting.is_empty() || now < self.last_sweep + SWEEP {
            return;
        }
        self.last_sweep = now;
        self.waiting.retain(|w| {
            let alive = ctx.listener.id_valid(w.n.id);
            if !alive {
                debug!(
                    "connect by {}: the caller is gone; attempt forgotten",
                    w.n.pid
                );
            }
            alive
        });
    }
}

/// How the connect of `w` ended: SO_ERROR of the caller's socket, read through a new
/// duplicate of the caller's descriptor (or of the twin). If that descriptor was closed or now names
/// another file, only the event is left to tell.
fn result(w: &Waiting, flags: epoll::EventFlags) -> Response {
    let taken;
    let fd = match &w.twin {
        Some(twin) => Some(twin),
        None => {
            taken = caller_fd(&w.n, w.n.args[0]).ok();
            taken.as_ref()
        }
    };
    match fd {
        Some(fd) if rustix::fs::fstat(fd).is_ok_and(|s| s.st_ino == w.ino) => {
            match rustix::net::sockopt::socket_error(fd) {
                Ok(Ok(())) => {
                    settle(fd);
                    Response::Value(0)
                }
                Ok(Err(e)) | Err(e) => Response::Errno(e.raw_os_error()),
            }
        }
        _ if flags.intersects(epoll::EventFlags::ERR | epoll::EventFlags::HUP) => {
            Response::Errno(libc::ECONNABORTED)
        }
        _ => Response::Value(0),
    }
}

/// Connects a socket whose attempt succeeded once more, to its peer: the kernel then
/// counts it as connected (a third connect gets EISCONN, as after a blocking connect).
fn settle(fd: &OwnedFd) {
    if let Ok(peer) = rustix::net::getpeername(fd) {
        if let Some(Ok(peer)) = peer.map(std::net::SocketAddr::try_from) {
            let _ = match peer {
                std::net::SocketAddr::V4(a) => rustix::net::connect(fd, &a),
                std::net::SocketAddr::V6(a) => rustix::net::connect(fd, &a),
            };
        }
    }
}

/// Watches the connects handed over to the poll loop, starting the set (registered
/// under `token`) with the first of the run.
pub fn adopt(
    set: &mut Option<Connects>,
    ctx: &Ctx,
    registry: &Registry,
    token: Token,
) -> std::io::Result<()> {
    let handed = std::mem::take(&mut *lock(&ctx.connecting));
    if handed.is_empty() {
        return Ok(());
    }
    let set = match set {
        Some(set) => set,
        None => set.insert(Connects::new(registry, token)?),
    };
    set.adopt(ctx, handed);
    Ok(())
}
