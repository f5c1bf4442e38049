//! The control socket's server (see [`crate::registry`]), run by the poll loop: each
//! waiting connection from the run's user (or root) gets one answer to one request
//! (`status`, `inspect`, `kill SIGNAL`, `limit processes N`, `limit memory BYTES`) and
//! is closed. A client gets 50 ms to send its
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

/// `limit processes N` or `limit memory BYTES`: lowers a limit of the running sandbox
/// (new forks and allocations are judged against it; nothing running is taken away).
/// A limit can only be lowered, and only one the run has. The reply: `ok` or
/// `error: WHY`.
pub fn tighten(
    processes: &std::sync::Mutex<crate::state::ProcessState>,
    memory: Option<&std::sync::Mutex<crate::state::MemoryState>>,
    what: &str,
) -> String {
    use crate::state::lock;
    let (kind, value) = what.split_once(' ').unwrap_or((what, ""));
    let Ok(n) = value.parse::<u64>() else {
        return format!("error: '{value}' is not a number\n");
    };
    let lowered = match kind {
        "processes" => {
            let mut p = lock(processes);
            match u32::try_from(n) {
                Ok(n) if n >= 1 && n <= p.max => {
                    p.max = n;
                    Ok(())
                }
                _ => Err(format!(
                    "the process limit is {}: it can only be lowered",
                    p.max
                )),
            }
        }
        "memory" => match memory {
            Some(m) => {
                let mut m = lock(m);
                if n >= 1 && n <= m.limit {
                    m.limit = n;
                    Ok(())
                } else {
                    Err(format!(
                        "the memory limit is {}: it can only be lowered",
                        m.limit
                    ))
                }
            }
            None => Err("the run has no memory limit (-m) to lower".into()),
        },
        other => Err(format!("no limit '{other}' (processes, memory)")),
    };
    match lowered {
        Ok(()) => {
            log::info!("limit {kind} lowered to {n}");
            "ok\n".into()
        }
        Err(e) => format!("error: {e}\n"),
    }
}
