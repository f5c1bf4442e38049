//! Syscall number -> handler table, and the one place responses are sent.
//!
//! Cheap handlers (bookkeeping under a lock, a /proc read) run inline on the poll thread;
//! handlers that read larger /proc files run on the worker pool. A panicking handler
//! answers EPERM; every notification gets exactly one response.

use std::os::fd::AsFd;
use std::panic::{catch_unwind, AssertUnwindSafe};

use log::{debug, warn};

use crate::handlers::{
    cpus, dirs, exec, files, identity, learn, memory, net, process, procview, random, time, Ctx,
    Decision, Handler,
};
use crate::policy::traps::Traps;
use crate::seccomp::notif::{Notif, Response};
use crate::seccomp::{names, MMAP};

/// Where a trapped syscall goes.
#[derive(Debug, Clone, Copy)]
pub struct Route {
    pub name: &'static str,
    pub handler: Handler,
    /// Run on the worker pool instead of the poll thread.
    pub blocking: bool,
}

/// The dispatch table for one run; it lists exactly what the filter traps.
#[derive(Debug, Default)]
pub struct Table {
    routes: Vec<(i32, Route)>,
}

impl Table {
    pub fn new(traps: Traps) -> Table {
        let mut table = Table::default();
        let mut add = |name: &'static str, handler: Handler, blocking: bool| {
            if let Some(nr) = names::number(name) {
                table.routes.push((
                    nr as i32,
                    Route {
                        name,
                        handler,
                        blocking,
                    },
                ));
            }
        };
        if traps.fork {
            // Under a dynamic policy forks are traced, on a worker, for their creation
            // event (the policy's fork events).
            for name in ["clone", "fork", "vfork"] {
                if traps.fork_events {
                    add(name, process::FORK_TRACED, true);
                } else {
                    add(name, process::FORK, false);
                }
            }
        }
        if traps.uname {
            add("uname", identity::UNAME, false);
        }
        if traps.sockname {
            add("getsockname", net::GETSOCKNAME, true);
            add("getpeername", net::GETPEERNAME, true);
        }
        if traps.proc {
            for &name in crate::seccomp::PROC_PATH_CALLS {
                add(name, procview::STAT, false);
            }
            for &name in crate::seccomp::PROC_PATHAT_CALLS {
                add(name, procview::STATAT, false);
            }
        }
        if traps.time {
            add("clock_gettime", time::CLOCK_GETTIME, false);
            add("gettimeofday", time::GETTIMEOFDAY, false);
            add("time", time::TIME, false);
            add("clock_nanosleep", time::CLOCK_NANOSLEEP, false);
            add("timerfd_settime", time::TIMERFD_SETTIME, false);
            add("timer_settime", time::TIMER_SETTIME, true);
            add("arch_prctl", time::NEW_IMAGE, false);
        }
        if traps.learn {
            for &name in crate::seccomp::LEARN_CALLS {
                let decided = traps.exec && name.starts_with("exec");
                add(name, learn::RECORD, decided);
            }
            add("connect", learn::RECORD, traps.connect);
            add("bind", learn::RECORD, traps.bind);
        }
        if traps.exec && !traps.learn {
            add("execve", exec::EXECVE, true);
            add("execveat", exec::EXECVEAT, true);
        }
        if traps.random {
            add("getrandom", random::GETRANDOM, false);
        }
        if traps.cpus {
            add("sched_getaffinity", cpus::SCHED_GETAFFINITY, false);
        }
        if traps.dirs {
            add("getdents64", dirs::GETDENTS64, true);
        }
        if traps.open && !traps.learn {
            add("open", files::OPEN, false);
            add("openat", files::OPENAT, false);
            add("openat2", files::OPENAT2, false);
        }
        if traps.memory {
            add(MMAP, memory::MMAP, false);
            add("mremap", memory::MREMAP, false);
            add("brk", memory::BRK, true);
        }
        if traps.shm {
            add("shmget", memory::SHMGET, true);
        }
        if traps.connect && !traps.learn {
            add("connect", net::CONNECT, true);
        }
        if traps.bind && !traps.learn {
            add("bind", net::BIND, true);
        }
        if traps.datagrams() {
            add("sendto", net::SENDTO, true);
            add("sendmsg", net::SENDMSG, true);
            add("sendmmsg", net::SENDMMSG, true);
        }
        table
    }

    pub fn get(&self, nr: i32) -> Option<&Route> {
        self.routes.iter().find(|(n, _)| *n == nr).map(|(_, r)| r)
    }

    /// Whether any route needs the worker pool.
    pub fn has_blocking(&self) -> bool {
        self.routes.iter().any(|(_, r)| r.blocking)
    }

    pub fn len(&self) -> usize {
        self.routes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.routes.is_empty()
    }
}

impl Route {
    /// An exec decision: it takes the gate exclusively itself.
    pub fn freezes(&self) -> bool {
        matches!(self.name, "execve" | "execveat")
    }
}

/// Runs `route`'s handler; a panic becomes EPERM.
pub fn decide(ctx: &Ctx, route: &Route, n: &Notif) -> Decision {
    match catch_unwind(AssertUnwindSafe(|| (route.handler)(ctx, n))) {
        Ok(d) => d,
        Err(_) => {
            warn!(
                "handler for {} panicked; answering EPERM to process {}",
                route.name, n.pid
            );
            Decision::Respond(Response::Errno(libc::EPERM))
        }
    }
}

/// Sends the decision's response (parked notifications are answered later).
pub fn answer(ctx: &Ctx, n: &Notif, decision: Decision) {
    let name = || names::name(n.nr as u32).unwrap_or("?");
    // Before the answer: once answered, the caller may trap again at once, and that
    // new notification must not be forgotten.
    if matches!(decision, Decision::Respond(_) | Decision::SendFd { .. }) {
        ctx.answering(n.pid);
    }
    let response = match decision {
        Decision::Respond(response) => response,
        Decision::Park => return,
        Decision::Connecting { socket, twin } => {
            debug!(
                "{} by {}: in progress, answered when it ends",
                name(),
                n.pid
            );
            crate::state::lock(&ctx.connecting).push((*n, socket, twin));
            if let Some(waker) = &ctx.waker {
                if let Err(e) = waker.wake() {
                    warn!("wake the supervisor: {e}");
                }
            }
            return;
        }
        Decision::Delay { until, response } => {
            debug!(
                "{} by {}: {response:?} in {:?}",
                name(),
                n.pid,
                until - std::time::Instant::now()
            );
            crate::state::lock(&ctx.delayed).push((until, *n, response));
            return;
        }
        Decision::SendFd { fd, cloexec } => match ctx.listener.send_fd(n.id, fd.as_fd(), cloexec) {
            Ok(()) => {
                debug!("{} by {}: answered with a descriptor", name(), n.pid);
                return;
            }
            // E.g. EMFILE: the caller's table is full; the notification is still pending.
            Err(e) => Response::Errno(e.raw_os_error().unwrap_or(libc::EIO)),
        },
    };
    debug!("{} by {}: {response:?}", name(), n.pid);
    if let Err(e) = ctx.listener.send(n.id, response) {
        warn!("answer notification {}: {e}", n.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> Ctx {
        use crate::seccomp::notif::Listener;
        use crate::state::ProcessState;
        let fd = std::fs::File::open("/dev/null").unwrap();
        Ctx {
            listener: Listener::new(fd.into()),
            processes: std::sync::Mutex::new(ProcessState::new(1, None)),
            memory: None,
            net: Default::default(),
            bind_ports: Default::default(),
            name: Some("test".into()),
            served: Default::default(),
            ports: None,
            num_cpus: None,
            random: None,
            dirs: None,
            proc: None,
            time_offset: None,
            delayed: Default::default(),
            connecting: Default::default(),
            waker: None,
            dynamic: None,
            deny_exec: Vec::new(),
            gate: None,
            group: rustix::process::getpid(),
            swap: None,
            status: None,
            learn: None,
        }
    }

    fn notif() -> Notif {
        Notif {
            id: 1,
            pid: 1,
            nr: 0,
            arch: 0,
            args: [0; 6],
        }
    }

    #[test]
    fn a_panicking_handler_answers_eperm() {
        fn boom(_: &Ctx, _: &Notif) -> Decision {
            panic!("handler bug")
        }
        let route = Route {
            name: "test",
            handler: boom,
            blocking: false,
        };
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(|_| {}));
        let decision = decide(&ctx(), &route, &notif());
        std::panic::set_hook(previous);
        assert_eq!(decision, Decision::Respond(Response::Errno(libc::EPERM)));
    }

    #[test]
    fn a_handler_decision_passes_through() {
        fn value(_: &Ctx, _: &Notif) -> Decision {
            Decision::Respond(Response::Value(7))
        }
        let route = Route {
            name: "test",
            handler: value,
            blocking: false,
        };
        assert_eq!(
            decide(&ctx(), &route, &notif()),
            Decision::Respond(Response::Value(7))
        );
    }

    #[test]
    fn table_matches_the_traps() {
        assert!(Table::new(Traps::default()).is_empty());
        let fork = Table::new(Traps {
            fork: true,
            ..Default::default()
        });
        let clone = names::number("clone").unwrap() as i32;
        assert!(fork.get(clone).is_some());
        assert!(fork.get(names::number("brk").unwrap() as i32).is_none());
        let all = Table::new(Traps::ALL);
        for name in [MMAP, "mremap", "brk", "shmget", "clone", "connect", "bind"] {
            let route = all.get(names::number(name).unwrap() as i32);
            assert_eq!(route.map(|r| r.name), Some(name));
        }
        assert!(
            all.get(names::number("brk").unwrap() as i32)
                .unwrap()
                .blocking
        );
        assert!(
            !fork.get(clone).unwrap().blocking,
            "the process limit alone is inline"
        );
        assert!(
            all.get(clone).unwrap().blocking,
            "fork events are traced on a worker"
        );
        assert!(all.get(names::number("read").unwrap() as i32).is_none());
    }
}
