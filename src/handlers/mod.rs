//! Notification handlers, one module per concern. A handler reads the notification and
//! the shared state and decides; it never sends the response itself (the dispatcher
//! does, exactly once).

pub mod cpus;
pub mod dirs;
pub mod files;
pub mod identity;
pub mod memory;
pub mod net;
pub mod process;
pub mod procview;
pub mod random;
pub mod time;

use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::Mutex;

use rustix::process::Pid;

use crate::seccomp::notif::{Listener, Notif, Response};
use crate::state::{MemoryState, ProcessState};

/// Everything handlers share: the listener and the state, each concern under its lock.
#[derive(Debug)]
pub struct Ctx {
    pub listener: Listener,
    pub processes: Mutex<ProcessState>,
    pub memory: Option<Mutex<MemoryState>>,
    /// Network rules (immutable).
    pub net: crate::policy::NetPolicy,
    /// TCP ports that may be bound (before `net.deny_bind`).
    pub bind_ports: crate::policy::parse::PortSet,
    /// The sandbox's name (its hostname for `uname`), when `--name` gave one.
    pub name: Option<String>,
    /// `--port-remap`'s port map.
    pub ports: Option<Mutex<crate::state::PortMap>>,
    /// `--num-cpus`.
    pub num_cpus: Option<u32>,
    /// `--random-seed`'s generator.
    pub random: Option<Mutex<random::RandomState>>,
    /// `--deterministic-dirs`' listings.
    pub dirs: Option<Mutex<dirs::DirState>>,
    /// The /proc view (when the command may read /proc).
    pub proc: Option<procview::ProcView>,
    /// The dynamic policy, when there is one.
    pub dynamic: Option<Dynamic>,
    /// `--time-start`: nanoseconds added to the wall clocks.
    pub time_offset: Option<i64>,
    /// Answers due later (absolute sleeps): (when, notification id, response).
    pub delayed: Mutex<Vec<(std::time::Instant, u64, Response)>>,
    /// Files served instead of the host's (`/etc/hosts`, `/etc/hostname`).
    pub files: files::Files,
    /// The sandbox's process group (for `--memory-kill`).
    pub group: Pid,
}

/// Who decides network events at run time, and the restrictions it made so far.
#[derive(Debug)]
pub struct Dynamic {
    pub decider: Decider,
    pub limits: Mutex<crate::dynamic::NetLimits>,
}

#[derive(Debug)]
pub enum Decider {
    Callback(crate::dynamic::PolicyFn),
    Program(crate::dynamic::ProgramPolicy),
}

/// What to do with a notification.
#[derive(Debug)]
pub enum Decision {
    Respond(Response),
    /// Answer `response` at `until` (from the poll loop; inline handlers only).
    Delay {
        until: std::time::Instant,
        response: Response,
    },
    /// Answer with a new descriptor in the caller, a duplicate of `fd` (what an `open`
    /// on the caller's behalf returns); `cloexec` as the caller's `O_CLOEXEC`.
    SendFd {
        fd: OwnedFd,
        cloexec: bool,
    },
    /// Keep it unanswered (held forks); it is answered when the hold is released.
    Park,
}

impl PartialEq for Decision {
    fn eq(&self, other: &Decision) -> bool {
        match (self, other) {
            (Decision::Respond(a), Decision::Respond(b)) => a == b,
            (Decision::Park, Decision::Park) => true,
            (
                Decision::Delay {
                    until: a,
                    response: x,
                },
                Decision::Delay {
                    until: b,
                    response: y,
                },
            ) => a == b && x == y,
            (Decision::SendFd { fd: a, cloexec: x }, Decision::SendFd { fd: b, cloexec: y }) => {
                a.as_raw_fd() == b.as_raw_fd() && x == y
            }
            _ => false,
        }
    }
}

/// A duplicate of the caller's descriptor `fd` (the same open file description), taken
/// with `pidfd_getfd`. EBADF when the caller has no such fd; EPERM (logged) when it
/// cannot be taken.
pub fn caller_fd(n: &Notif, fd: u64) -> Result<OwnedFd, Decision> {
    let fail = |e: i32| Decision::Respond(Response::Errno(e));
    let open = |pid: i32| {
        let pid = rustix::process::Pid::from_raw(pid).ok_or(rustix::io::Errno::SRCH)?;
        rustix::process::pidfd_open(pid, rustix::process::PidfdFlags::empty())
    };
    // The caller is usually a process's main thread; only other threads need the
    // thread-group lookup.
    let pidfd = match open(n.pid as i32) {
        Ok(fd) => fd,
        Err(_) => {
            let tgid = crate::procfs::tgid_of(n.pid).ok_or(fail(libc::ESRCH))?;
            open(tgid).map_err(|e| fail(e.raw_os_error()))?
        }
    };
    let Ok(number) = i32::try_from(fd) else {
        return Err(fail(libc::EBADF));
    };
    match crate::sys::pidfd_getfd(std::os::fd::AsFd::as_fd(&pidfd), number) {
        Ok(dup) => Ok(dup),
        Err(e) if e.raw_os_error() == Some(libc::EBADF) => Err(fail(libc::EBADF)),
        Err(e) => {
            log::warn!("cannot take fd {fd} of process {}: {e}; refusing", n.pid);
            Err(fail(libc::EPERM))
        }
    }
}

/// A handler: pure decision over the notification and the shared state.
pub type Handler = fn(&Ctx, &Notif) -> Decision;
