//! Notification handlers, one module per concern. A handler reads the notification and
//! the shared state and decides; it never sends the response itself (the dispatcher
//! does, exactly once).

pub mod caller;
pub mod cpus;
pub mod dirs;
pub mod exec;
pub mod fdguard;
pub mod files;
pub mod identity;
pub mod learn;
pub mod memory;
pub mod net;
pub mod process;
pub mod procview;
pub mod programs;
pub mod random;
pub mod record;
pub mod swap;
pub mod tcp_table;
pub mod time;
pub mod tracer;

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
    /// `--name`: the sandbox's hostname for `uname` (`uname` is trapped only then).
    pub name: Option<String>,
    /// `--port-remap`'s port map.
    pub ports: Option<Mutex<crate::state::PortMap>>,
    /// `--num-cpus`.
    pub num_cpus: Option<u32>,
    /// `--random-seed`'s generator.
    pub random: Option<Mutex<crate::state::RandomState>>,
    /// `--deterministic-dirs`' listings.
    pub dirs: Option<Mutex<crate::state::DirState>>,
    /// The /proc view (when the command may read /proc).
    pub proc: Option<crate::state::ProcView>,
    /// The dynamic policy, when there is one.
    pub dynamic: Option<Dynamic>,
    /// `--deny-exec` globs.
    pub deny_exec: Vec<String>,
    /// The exec gate, when execs are decided (see [`exec`]).
    pub gate: Option<Gate>,
    /// `--time-start`: nanoseconds added to the wall clocks.
    pub time_offset: Option<i64>,
    /// Answers due later (absolute sleeps): (when, notification, response).
    pub delayed: Mutex<Vec<(std::time::Instant, Notif, Response)>>,
    /// Connects made on a caller's behalf that are still in progress: answered by the
    /// poll loop when the socket says how they ended (see [`net`]).
    pub connecting: Mutex<Vec<(Notif, OwnedFd, bool)>>,
    /// Wakes the poll loop (when something is handed to it from a worker).
    pub waker: Option<std::sync::Arc<mio::Waker>>,
    /// Files served instead of the host's (`/etc/hosts`, `/etc/hostname`, ...).
    pub served: crate::state::ServedFiles,
    /// The sandbox's process group (for `--memory-kill`).
    pub group: Pid,
    /// Where `pidfd_getfd` is refused: connects are made on twins (see [`swap`]).
    pub swap: Option<swap::Swap>,
    /// `--status-fd`: where limit events go.
    pub status: Option<std::sync::Arc<crate::status::Status>>,
    /// `sandlet learn`: the record of paths used.
    pub learn: Option<record::Learner>,
}

impl Ctx {
    /// Tells the exec gate that thread `tid` is no longer blocked in our notification.
    /// Called before the answer: once answered, the thread may trap again at once.
    pub fn answering(&self, tid: u32) {
        if let Some(g) = &self.gate {
            g.answered(tid);
        }
    }
}

/// What lets an exec decision freeze the sandbox: while the gate is held exclusively no
/// other handler runs; the poll thread defers what it receives meanwhile. `waiting`
/// holds the threads blocked in a notification we received and have not answered (they
/// cannot run, so a freeze need not stop them).
#[derive(Debug)]
pub struct Gate {
    lock: std::sync::RwLock<()>,
    waiting: Mutex<std::collections::HashSet<u32>>,
    deferred: Mutex<Vec<Notif>>,
    waker: Option<std::sync::Arc<mio::Waker>>,
}

/// An exclusive hold of the gate; dropping it wakes the poll thread to run what it
/// deferred.
pub struct Frozen<'a> {
    guard: Option<std::sync::RwLockWriteGuard<'a, ()>>,
    gate: &'a Gate,
}

impl Drop for Frozen<'_> {
    fn drop(&mut self) {
        // Release first: the poll thread may run the deferred notifications as soon as
        // it is woken, and would defer them again while the gate is still held.
        drop(self.guard.take());
        if let Some(w) = &self.gate.waker {
            let _ = w.wake();
        }
    }
}

impl Gate {
    pub fn new(waker: Option<std::sync::Arc<mio::Waker>>) -> Gate {
        Gate {
            lock: std::sync::RwLock::new(()),
            waiting: Mutex::new(Default::default()),
            deferred: Mutex::new(Vec::new()),
            waker,
        }
    }

    /// Holds the gate exclusively (waits for running handlers to finish).
    pub fn freeze(&self) -> Frozen<'_> {
        Frozen {
            guard: Some(self.lock.write().unwrap_or_else(|p| p.into_inner())),
            gate: self,
        }
    }

    /// Runs `f` unless a freeze holds the gate (`None`: the caller defers).
    pub fn try_run<T>(&self, f: impl FnOnce() -> T) -> Option<T> {
        match self.lock.try_read() {
            Ok(_g) => Some(f()),
            Err(std::sync::TryLockError::Poisoned(p)) => {
                let _g = p.into_inner();
                Some(f())
            }
            Err(std::sync::TryLockError::WouldBlock) => None,
        }
    }

    /// Runs `f` once no freeze holds the gate (workers).
    pub fn run<T>(&self, f: impl FnOnce() -> T) -> T {
        let _g = self.lock.read().unwrap_or_else(|p| p.into_inner());
        f()
    }

    pub fn defer(&self, n: Notif) {
        log::debug!(
            "notification of {} deferred until the exec freeze ends",
            n.pid
        );
        crate::state::lock(&self.deferred).push(n);
    }

    pub fn take_deferred(&self) -> Vec<Notif> {
        std::mem::take(&mut *crate::state::lock(&self.deferred))
    }

    pub fn received(&self, tid: u32) {
        crate::state::lock(&self.waiting).insert(tid);
    }

    pub fn answered(&self, tid: u32) {
        crate::state::lock(&self.waiting).remove(&tid);
    }

    pub fn is_waiting(&self, tid: u32) -> bool {
        crate::state::lock(&self.waiting).contains(&tid)
    }
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
    /// A connect on the caller's behalf is in progress on `socket` (a duplicate of the
    /// caller's, or a `twin` that replaced it): the poll loop answers when it ends,
    /// with its result.
    Connecting {
        socket: OwnedFd,
        twin: bool,
    },
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

/// Asks the dynamic policy about `kind` (a call by process `pid` that the static rules
/// allow), applies what it changed, and returns `None` to go ahead or the refusal.
pub fn ask_dynamic(
    ctx: &Ctx,
    dynamic: &Dynamic,
    pid: i32,
    syscall: &'static str,
    category: crate::dynamic::Category,
    kind: crate::dynamic::EventKind,
) -> Option<Decision> {
    use crate::dynamic::{Action, Event, PolicyCtx, Verdict};
    use crate::state::lock;
    let event = Event {
        pid,
        parent_pid: crate::procfs::parent_of(pid).unwrap_or(0),
        syscall,
        category,
        kind,
    };
    let mut policy_ctx = PolicyCtx::default();
    let verdict = match &dynamic.decider {
        Decider::Callback(f) => f.call(&event, &mut policy_ctx),
        Decider::Program(p) => p.decide(&event),
    };
    for action in policy_ctx.into_actions() {
        log::debug!("dynamic policy: {action:?}");
        match action {
            Action::RestrictMaxMemory(bytes) => {
                if let Some(m) = &ctx.memory {
                    let mut m = lock(m);
                    m.limit = m.limit.min(bytes);
                }
            }
            Action::RestrictMaxProcesses(max) => {
                let mut p = lock(&ctx.processes);
                p.max = p.max.min(max);
            }
            net => lock(&dynamic.limits).apply(&net),
        }
    }
    match verdict {
        Verdict::Allow => None,
        Verdict::Audit => {
            log::warn!("audit: {syscall} by process {pid}: {}", event.kind);
            None
        }
        Verdict::Deny => Some(Decision::Respond(Response::Errno(libc::EPERM))),
        Verdict::DenyWith(e) => Some(Decision::Respond(Response::Errno(e))),
    }
}

/// A handler: pure decision over the notification and the shared state.
pub type Handler = fn(&Ctx, &Notif) -> Decision;
