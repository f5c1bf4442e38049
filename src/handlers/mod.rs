//! Notification handlers, one module per concern. A handler reads the notification and
//! the shared state and decides; it never sends the response itself (the dispatcher
//! does, exactly once).

pub mod files;
pub mod identity;
pub mod memory;
pub mod net;
pub mod process;

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
    /// Files served instead of the host's (`/etc/hosts`, `/etc/hostname`).
    pub files: files::Files,
    /// The sandbox's process group (for `--memory-kill`).
    pub group: Pid,
}

/// What to do with a notification.
#[derive(Debug)]
pub enum Decision {
    Respond(Response),
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
            (Decision::SendFd { fd: a, cloexec: x }, Decision::SendFd { fd: b, cloexec: y }) => {
                a.as_raw_fd() == b.as_raw_fd() && x == y
            }
            _ => false,
        }
    }
}

/// A handler: pure decision over the notification and the shared state.
pub type Handler = fn(&Ctx, &Notif) -> Decision;
