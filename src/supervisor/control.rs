//! The control socket's server (see [`crate::registry`]), run by the poll loop: each
//! waiting connection from the run's user (or root) gets one answer to one request
//! (`status`, `inspect`, `kill SIGNAL`) and is closed. A client gets 50 ms to send its
//! request, so a silent one costs the loop no more than that.

use std::os::fd::OwnedFd;

use log::debug;
use rustix::event::{PollFd, PollFlags};
use rustix::net::{sockopt, SocketFlags};

/// Accepts and answers every waiting connection on `listener`; `answer` makes the
/// reply to a request (`None`: close without one).
pub fn serve(listener: &OwnedFd, mut answer: impl FnMut(&str) -> Option<String>) {
    let me = rustix::process::geteuid();
    loop {
        let conn = match rustix::net::accept_with(
            listener,
            SocketFlags::NONBLOCK | SocketFlags::CLOEXEC,
        ) {
            Ok(conn) => conn,
            Err(rustix::io::Errno::INTR) => continue,
            Err(_) => return,
        };
        match sockopt::socket_peercred(&conn) {
            Ok(cred) if cred.uid == me || cred.uid.is_root() => {}
            other => {
                debug!("control socket: connection from {other:?} refused");
                continue;
            }
        }
        let mut buf = [0u8; 128];
        let mut fds = [PollFd::new(&conn, PollFlags::IN)];
        let timeout = rustix::time::Timespec {
            tv_sec: 0,
            tv_nsec: 50_000_000,
        };
        let n = match rustix::event::poll(&mut fds, Some(&timeout)) {
            Ok(1) => rustix::io::read(&conn, &mut buf).unwrap_or(0),
            _ => 0,
        };
        let Ok(request) = std::str::from_utf8(&buf[..n]) else {
            continue;
        };
        debug!("control socket: {:?}", request.trim());
        if let Some(reply) = answer(request.trim()) {
            let _ = rustix::io::write(&conn, reply.as_bytes());
        }
    }
}
