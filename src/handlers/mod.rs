//! Notification handlers, one module per concern. A handler reads the notification and
//! the shared state and decides; it never sends the response itself (the dispatcher
//! does, exactly once).

pub mod identity;
pub mod memory;
pub mod net;
pub mod process;

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
    /// The sandbox's process group (for `--memory-kill`).
    pub group: Pid,
}

/// What to do with a notification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Respond(Response),
    /// Keep it unanswered (held forks); it is answered when the hold is released.
    Park,
}

/// A handler: pure decision over the notification and the shared state.
pub type Handler = fn(&Ctx, &Notif) -> Decision;
