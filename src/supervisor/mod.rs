//! Watches the running sandbox: one poll thread over the command's pidfd, the signal
//! pipe, a waker (all in a mio `Poll`), the seccomp listener and the `--timeout`
//! deadline. Notifications are received and dispatched (inline or to the worker pool).
//!
//! The thread sleeps in `ppoll` on two fds: mio's epoll fd and the listener itself. A
//! wake-up that goes through epoll loses `SYNC_WAKE_UP`'s same-CPU hint, and on a small
//! machine every notification then migrates between CPUs (about 3x slower); waiting on
//! the listener directly keeps the round trip near the kernel's floor. When the command ends,
//! everything it left behind is killed and reaped, so nothing outlives `sandlet run`.

mod connects;
pub mod control;
pub mod dispatch;
pub mod reap;
pub mod signals;
mod throttle;
pub mod workers;

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use log::{debug, warn};
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token, Waker};
use rustix::process::{Pid, Signal, WaitIdOptions};

use crate::dynamic::ProgramPolicy;
use crate::error::SupervisorError;
use crate::handlers::{process, Ctx, Decider, Dynamic, Gate};
use crate::policy::traps::Traps;
use crate::policy::DynamicPolicy;
use crate::policy::Policy;
use crate::seccomp::notif::{Listener, Notif, Response};
use crate::state::{lock, DirState, MemoryState, ProcView, ProcessState, RandomState, ServedFiles};
use dispatch::Table;
use signals::Signals;
use throttle::{Switch, Throttle};
use workers::Pool;

const CHILD: Token = Token(0);
const SIGNAL: Token = Token(1);
const WAKER: Token = Token(2);
const CONNECTS: Token = Token(3);
const CONTROL: Token = Token(4);

/// How the sandboxed command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// It exited with this status.
    Exited(i32),
    /// It was killed by this signal.
    Signaled(i32),
    /// `--timeout` expired; the whole sandbox was killed.
    TimedOut(Duration),
}

impl Outcome {
    /// The exit status that reports it, as a shell would: the status, 128 + the
    /// signal, 124 for a timeout.
    pub fn exit_code(self) -> u8 {
        match self {
            Outcome::Exited(code) => (code & 0xff) as u8,
            Outcome::Signaled(sig) => (128 + sig).clamp(0, 255) as u8,
            Outcome::TimedOut(_) => 124,
        }
    }
}

fn op(op: &'static str) -> impl FnOnce(io::Error) -> SupervisorError {
    move |source| SupervisorError { op, source }
}

/// The notification side of a sandbox: shared state, dispatch table, workers.
struct Supervised {
    ctx: Arc<Ctx>,
    table: Table,
    /// Started only when the table has blocking routes.
    pool: Option<Pool>,
    /// The listener is still registered (it is dropped from the poll set on hang-up).
    listening: bool,
    /// Notifications received so far.
    received: std::sync::atomic::AtomicU64,
}

/// What the memory limit did during the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryReport {
    pub limit: u64,
    pub refused: u64,
    pub killed: bool,
}

/// A handle to pause and resume process creation in a running sandbox, usable from any
/// thread.
#[derive(Clone, Debug)]
pub struct ForkControl {
    ctx: Arc<Ctx>,
    waker: Arc<Waker>,
}

impl ForkControl {
    /// Holds every new fork/clone/vfork until [`ForkControl::resume_forks`].
    pub fn pause_forks(&self) {
        lock(&self.ctx.processes).hold_forks = true;
    }

    /// Releases held forks (each is then admitted against the process limit).
    pub fn resume_forks(&self) {
        lock(&self.ctx.processes).hold_forks = false;
        if let Err(e) = self.waker.wake() {
            warn!("wake the supervisor: {e}");
        }
    }

    /// Number of forks currently held.
    pub fn parked_forks(&self) -> usize {
        lock(&self.ctx.processes).parked.len()
    }
}

/// The sandbox being watched: its first process (also its process-group id), its pidfd
/// and, when syscalls are trapped, the supervisor.
pub struct Supervisor {
    pub pid: Pid,
    pub pidfd: OwnedFd,
    /// sandlet is the sandbox's subreaper and has no other children: every child of
    /// sandlet belongs to the sandbox (the CLI). A library user's other children are
    /// never touched: only the sandbox's process group is killed.
    owns_children: bool,
    poll: Poll,
    waker: Arc<Waker>,
    supervised: Option<Supervised>,
    /// When the run began: `--timeout` counts from here, exec decisions included.
    started: Instant,
    /// The run's registration and its policy, for `inspect` (`None`: not registered).
    control: Option<(crate::registry::Registration, Box<Policy>)>,
    /// `--status-fd`: handlers report limit events there.
    pub status: Option<Arc<crate::status::Status>>,
}

impl Supervisor {
    pub fn new(
        pid: Pid,
        pidfd: OwnedFd,
        owns_children: bool,
    ) -> Result<Supervisor, SupervisorError> {
        let poll = Poll::new().map_err(op("create poll"))?;
        let waker = Waker::new(poll.registry(), WAKER).map_err(op("create waker"))?;
        poll.registry()
            .register(&mut SourceFd(&pidfd.as_raw_fd()), CHILD, Interest::READABLE)
            .map_err(op("watch pidfd"))?;
        Ok(Supervisor {
            pid,
            pidfd,
            owns_children,
            poll,
            waker: Arc::new(waker),
            supervised: None,
            started: Instant::now(),
            control: None,
            status: None,
        })
    }

    /// Starts answering the notifications of `listener` under `policy`.
    pub fn attach(
        &mut self,
        listener: OwnedFd,
        whole: &Policy,
        traps: Traps,
    ) -> Result<(), SupervisorError> {
        let Some(policy) = whole.supervisor.as_ref() else {
            return Err(op("attach the supervisor")(io::Error::from_raw_os_error(
                libc::EINVAL,
            )));
        };
        let listener = Listener::new(listener);
        match listener.set_sync_wake_up() {
            Ok(()) => debug!("SYNC_WAKE_UP set on the listener"),
            Err(e) => debug!("SYNC_WAKE_UP unavailable ({e}); notifications are slower"),
        }
        let ctx = Arc::new(Ctx {
            listener,
            processes: Mutex::new(ProcessState {
                peak: traps.learn.then_some(1),
                ..ProcessState::new(
                    policy.max_processes,
                    (!self.owns_children).then(|| self.pid.as_raw_nonzero().get()),
                )
            }),
            memory: policy
                .memory
                .map(|m| Mutex::new(MemoryState::new(m.bytes, m.kill))),
            net: whole.net.clone(),
            bind_ports: whole.bind_ports.clone(),
            name: policy.name.clone(),
            served: ServedFiles::new(whole.served.clone(), whole.root.as_ref()),
            time_offset: policy.time_start.map(|start| {
                let now = rustix::time::clock_gettime(rustix::time::ClockId::Realtime);
                start - (now.tv_sec * 1_000_000_000 + now.tv_nsec)
            }),
            delayed: Mutex::new(Vec::new()),
            connecting: Mutex::new(Vec::new()),
            waker: Some(Arc::clone(&self.waker)),
            deny_exec: whole.deny_exec.clone(),
            gate: (traps.exec || traps.udp || traps.icmp || (traps.bind && !traps.swap))
                .then(|| Gate::new(Some(Arc::clone(&self.waker)))),
            dynamic: match &whole.dynamic {
                None => None,
                Some(DynamicPolicy::Callback(f)) => Some(Decider::Callback(f.clone())),
                Some(DynamicPolicy::Program { program, timeout }) => Some(Decider::Program(
                    ProgramPolicy::start(program, *timeout)
                        .map_err(op("start the --policy-exec program"))?,
                )),
            }
            .map(|decider| Dynamic {
                decider,
                limits: Mutex::new(Default::default()),
            }),
            num_cpus: policy.num_cpus,
            random: policy.random_seed.map(RandomState::new),
            dirs: (policy.deterministic_dirs || whole.proc_view)
                .then(|| DirState::new(policy.deterministic_dirs)),
            proc: if whole.proc_view {
                Some(ProcView::open(&whole.fs).map_err(op("open /proc for the /proc view"))?)
            } else {
                None
            },
            ports: whole.net.remap.then(Default::default),
            group: self.pid,
            swap: traps.swap.then(Default::default),
            status: self.status.clone(),
            learn: traps.learn.then(|| crate::handlers::record::Learner {
                serve_opens: traps.open,
                decide_execs: traps.exec,
                check_connects: traps.connect,
                check_binds: traps.bind,
                ..Default::default()
            }),
        });
        let table = Table::new(traps);
        let pool = if table.has_blocking() {
            Some(Pool::start(policy.workers, &ctx).map_err(op("start workers"))?)
        } else {
            None
        };
        debug!("supervisor: {} trapped syscalls", table.len());
        self.supervised = Some(Supervised {
            ctx,
            table,
            pool,
            listening: true,
            received: Default::default(),
        });
        Ok(())
    }

    /// A handle to hold and release forks (`None` without a supervisor).
    pub fn fork_control(&self) -> Option<ForkControl> {
        self.supervised.as_ref().map(|s| ForkControl {
            ctx: Arc::clone(&s.ctx),
            waker: Arc::clone(&self.waker),
        })
    }

    /// How many notifications the supervisor received (every trapped syscall).
    pub fn notifications(&self) -> u64 {
        self.supervised
            .as_ref()
            .map_or(0, |s| s.received.load(std::sync::atomic::Ordering::Relaxed))
    }

    /// What `sandlet learn` recorded, taken out of the record.
    pub fn learned(&self) -> Option<crate::profile::learned::Record> {
        let ctx = &self.supervised.as_ref()?.ctx;
        let learner = ctx.learn.as_ref()?;
        let paths = std::mem::take(&mut *lock(&learner.paths));
        Some(crate::profile::learned::Record {
            uses: paths.into_iter().map(|(p, u)| (p, u.write)).collect(),
            connects: std::mem::take(&mut *lock(&learner.connects))
                .into_iter()
                .collect(),
            binds: std::mem::take(&mut *lock(&learner.binds))
                .into_iter()
                .collect(),
            peak_processes: lock(&ctx.processes).peak,
        })
    }

    /// What the memory limit did (`None` without one).
    pub fn memory_report(&self) -> Option<MemoryReport> {
        let memory = self.supervised.as_ref()?.ctx.memory.as_ref()?;
        let m = lock(memory);
        Some(MemoryReport {
            limit: m.limit,
            refused: m.refused,
            killed: m.killed,
        })
    }

    /// Signals the sandbox's process group and every member of the sandbox outside it
    /// (one that moved itself with `setpgid` or `setsid`): the throttle, forwarded
    /// signals and the timeout follow the sandbox, not a group (hazard 18).
    fn signal_members(&self, sig: Signal) {
        self.signal_group(sig);
        let root = match self.owns_children {
            true => None,
            false => Some(self.pid.as_raw_nonzero().get()),
        };
        let group = self.pid;
        for pid in crate::procfs::tree_pids(root) {
            let Some(p) = Pid::from_raw(pid) else {
                continue;
            };
            if rustix::process::getpgid(Some(p)).is_ok_and(|g| g != group) {
                let _ = rustix::process::kill_process(p, sig);
            }
        }
    }

    fn signal_group(&self, sig: Signal) {
        match rustix::process::kill_process_group(self.pid, sig) {
            Ok(()) => debug!(
                "sent {sig:?} to process group {}",
                self.pid.as_raw_nonzero()
            ),
            Err(e) => debug!("signal {sig:?} to process group: {e}"),
        }
    }

    /// Answers notifications until `fd` is readable (or hangs up): the child's exec of
    /// the command can itself be trapped before `supervise` runs.
    /// Past the `timeout` of the run the sandbox is killed, which ends the wait.
    pub fn serve_until_readable(
        &self,
        fd: BorrowedFd<'_>,
        timeout: Option<Duration>,
    ) -> Result<(), SupervisorError> {
        use rustix::event::{PollFd, PollFlags};
        let Some(s) = &self.supervised else {
            return Ok(());
        };
        let deadline = timeout.map(|t| self.started + t);
        loop {
            let mut fds = [
                PollFd::from_borrowed_fd(fd, PollFlags::IN),
                PollFd::from_borrowed_fd(s.ctx.listener.as_fd(), PollFlags::IN),
            ];
            let wait = match deadline.map(|d| d.saturating_duration_since(Instant::now())) {
                Some(Duration::ZERO) => {
                    debug!("timeout expired before the command ran; killing the sandbox");
                    self.signal_members(Signal::KILL);
                    Some(rustix::time::Timespec {
                        tv_sec: 0,
                        tv_nsec: 10_000_000,
                    })
                }
                Some(left) => Some(rustix::time::Timespec {
                    tv_sec: left.as_secs() as i64,
                    tv_nsec: i64::from(left.subsec_nanos()),
                }),
                None => None,
            };
            match rustix::event::poll(&mut fds, wait.as_ref()) {
                Ok(_) => {}
                Err(rustix::io::Errno::INTR) => continue,
                Err(e) => return Err(op("poll")(e.into())),
            }
            if !fds[0].revents().is_empty() {
                return Ok(());
            }
            if fds[1].revents().contains(PollFlags::IN) {
                receive_one(s);
            } else if !fds[1].revents().is_empty() {
                return Ok(());
            }
        }
    }

    /// Runs until the command exits or the deadline passes, then kills and reaps every
    /// process left in the sandbox. With `signals`, forwards them to the sandbox.
    pub fn supervise(
        &mut self,
        mut signals: Option<&mut Signals>,
        timeout: Option<Duration>,
        cpu_percent: Option<u8>,
    ) -> Result<Outcome, SupervisorError> {
        if let Some(signals) = signals.as_deref() {
            self.poll
                .registry()
                .register(
                    &mut SourceFd(&signals.read.as_raw_fd()),
                    SIGNAL,
                    Interest::READABLE,
                )
                .map_err(op("watch signal pipe"))?;
        }
        let deadline = timeout.map(|t| self.started + t);
        let mut throttle = cpu_percent.and_then(|p| Throttle::new(p, Instant::now()));
        let mut events = Events::with_capacity(16);
        let mut exited = false;
        let mut connects: Option<connects::Connects> = None;
        while !exited {
            let now = Instant::now();
            if let Some(t) = throttle.as_mut() {
                match t.tick(now) {
                    Some(Switch::Stop) => self.signal_members(Signal::STOP),
                    Some(Switch::Continue) => self.signal_members(Signal::CONT),
                    None => {}
                }
            }
            let wait = deadline.map(|d| d.saturating_duration_since(now));
            if wait == Some(Duration::ZERO) {
                debug!("timeout expired; killing the sandbox");
                self.signal_members(Signal::KILL);
                self.reap_command()?;
                self.kill_leftovers();
                return Ok(Outcome::TimedOut(timeout.unwrap_or_default()));
            }
            let switch = throttle
                .as_ref()
                .map(|t| t.next().saturating_duration_since(now));
            let due = self
                .supervised
                .as_ref()
                .and_then(|s| answer_due(&s.ctx, now));
            if let (Some(c), Some(s)) = (connects.as_mut(), self.supervised.as_ref()) {
                c.sweep(&s.ctx, now);
            }
            let sweep = connects.as_ref().and_then(|c| c.next_sweep(now));
            let wait = [wait, switch, due, sweep].into_iter().flatten().min();
            let (mio_ready, listener) = self.wait(wait)?;
            if let Some(s) = self.supervised.as_mut() {
                match listener {
                    Readiness::Ready => receive_one(s),
                    Readiness::HungUp => {
                        s.listening = false;
                        debug!("seccomp listener hung up: no filtered task left");
                    }
                    Readiness::Idle => {}
                }
            }
            if !mio_ready {
                continue;
            }
            match self.poll.poll(&mut events, Some(Duration::ZERO)) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(op("poll")(e)),
            }
            for event in events.iter() {
                match event.token() {
                    CHILD => exited = true,
                    SIGNAL => {
                        let Some(signals) = signals.as_deref_mut() else {
                            continue;
                        };
                        let (forward, child) = signals.take();
                        for sig in forward {
                            if let Some(sig) = Signal::from_named_raw(sig) {
                                self.signal_members(sig);
                            }
                        }
                        if child && self.owns_children {
                            reap::reap_exited_orphans(self.pid);
                        }
                    }
                    CONTROL => self.serve_control(),
                    CONNECTS => {
                        if let (Some(c), Some(s)) = (connects.as_mut(), &self.supervised) {
                            c.ready(&s.ctx);
                        }
                    }
                    WAKER => {
                        if let Some(s) = &self.supervised {
                            connects::adopt(&mut connects, &s.ctx, self.poll.registry(), CONNECTS)
                                .map_err(op("watch connects"))?;
                            release_parked(s);
                            if let Some(g) = &s.ctx.gate {
                                for n in g.take_deferred() {
                                    dispatch_one(s, &n);
                                }
                            }
                        }
                    }
                    _ => {}
                }
            }
        }

        // The command is a zombie now: its pid (= the group id) cannot be reused until it
        // is reaped, so kill the rest of the group first, then reap it.
        self.signal_group(Signal::KILL);
        let outcome = self.reap_command()?;
        self.kill_leftovers();
        Ok(outcome)
    }

    /// Registers the run (see [`crate::registry`]) and serves its control socket
    /// from the poll loop; `inspect` explains `policy`.
    pub fn set_control(
        &mut self,
        registration: crate::registry::Registration,
        policy: Box<Policy>,
    ) -> Result<(), SupervisorError> {
        if let Some(listener) = &registration.listener {
            self.poll
                .registry()
                .register(
                    &mut SourceFd(&listener.as_raw_fd()),
                    CONTROL,
                    Interest::READABLE,
                )
                .map_err(op("watch the control socket"))?;
        }
        self.control = Some((registration, policy));
        Ok(())
    }

    fn serve_control(&self) {
        let Some((registration, policy)) = &self.control else {
            return;
        };
        let Some(listener) = &registration.listener else {
            return;
        };
        control::serve(listener, |request| {
            let status = || self.status(&registration.entry);
            match request.split_once(' ').unwrap_or((request, "")) {
                ("status", "") => Some(status()),
                ("inspect", "") => {
                    let abi = crate::landlock::abi();
                    let explanation = crate::explain::explain(policy, abi, false);
                    Some(format!("{explanation}\nnow\n{}\n", status()))
                }
                ("kill", sig) => {
                    let sig = sig.parse().ok().and_then(Signal::from_named_raw)?;
                    self.signal_members(sig);
                    Some("ok\n".to_owned())
                }
                ("limit", what) => Some(match &self.supervised {
                    Some(s) => control::tighten(&s.ctx.processes, s.ctx.memory.as_ref(), what),
                    None => "error: this run has no supervisor\n".into(),
                }),
                _ => None,
            }
        });
    }

    /// The run's live counters, as one JSON object.
    fn status(&self, entry: &crate::registry::Entry) -> String {
        use crate::dynamic::json_string;
        let root = (!self.owns_children).then(|| self.pid.as_raw_nonzero().get());
        let processes = crate::procfs::tree_pids(root).len();
        let (max_processes, memory, max_memory) = match &self.supervised {
            Some(s) => {
                let max = lock(&s.ctx.processes).max;
                let (used, limit) = s.ctx.memory.as_ref().map_or((None, None), |m| {
                    let m = lock(m);
                    (Some(m.total()), Some(m.limit))
                });
                (Some(max), used, limit)
            }
            None => (None, None, None),
        };
        let num = |v: Option<u64>| v.map_or_else(|| "null".to_owned(), |v| v.to_string());
        format!(
            "{{\"name\":{},\"pid\":{},\"command_pid\":{},\"uptime_ms\":{},\"command\":{},\
             \"processes\":{processes},\"max_processes\":{},\"memory\":{},\"max_memory\":{},\
             \"notifications\":{}}}\n",
            json_string(&entry.name),
            entry.pid,
            entry.command_pid,
            self.started.elapsed().as_millis(),
            json_string(&entry.command),
            num(max_processes.map(u64::from)),
            num(memory),
            num(max_memory),
            self.notifications(),
        )
    }

    /// Sleeps until mio's sources or the listener are ready, or `wait` passes. Returns
    /// whether mio has events and the listener's state.
    fn wait(&self, wait: Option<Duration>) -> Result<(bool, Readiness), SupervisorError> {
        use rustix::event::{PollFd, PollFlags};
        let listener = self
            .supervised
            .as_ref()
            .filter(|s| s.listening)
            .map(|s| s.ctx.listener.as_fd());
        let mut fds = [
            PollFd::from_borrowed_fd(crate::sys::poll_fd(&self.poll), PollFlags::IN),
            PollFd::from_borrowed_fd(
                listener.unwrap_or(crate::sys::poll_fd(&self.poll)),
                if listener.is_some() {
                    PollFlags::IN
                } else {
                    PollFlags::empty()
                },
            ),
        ];
        let timeout = wait.map(|w| rustix::time::Timespec {
            tv_sec: w.as_secs() as i64,
            tv_nsec: i64::from(w.subsec_nanos()),
        });
        match rustix::event::poll(&mut fds, timeout.as_ref()) {
            Ok(_) => {}
            Err(rustix::io::Errno::INTR) => return Ok((false, Readiness::Idle)),
            Err(e) => return Err(op("poll")(e.into())),
        }
        let mio_ready = !fds[0].revents().is_empty();
        let l = fds[1].revents();
        let readiness = if listener.is_none() {
            Readiness::Idle
        } else if l.contains(PollFlags::IN) {
            Readiness::Ready
        } else if l.intersects(PollFlags::HUP | PollFlags::ERR) {
            Readiness::HungUp
        } else {
            Readiness::Idle
        };
        Ok((mio_ready, readiness))
    }

    /// Kills what left the process group (re-parented orphans), when that is safe, and
    /// ends the `--policy-exec` program.
    fn kill_leftovers(&self) {
        if self.owns_children {
            reap::kill_all_children();
        }
        let program = self.supervised.as_ref().and_then(|s| match &s.ctx.dynamic {
            Some(Dynamic {
                decider: Decider::Program(p),
                ..
            }) => Some(p),
            _ => None,
        });
        if let Some(p) = program {
            p.close();
        }
    }

    /// Kills the whole sandbox now (the loop then sees the command exit).
    pub fn kill(&self) {
        self.signal_members(Signal::KILL);
    }

    fn reap_command(&self) -> Result<Outcome, SupervisorError> {
        loop {
            match rustix::process::waitid(
                rustix::process::WaitId::PidFd(self.pidfd.as_fd()),
                WaitIdOptions::EXITED,
            ) {
                Ok(Some(status)) => {
                    if let Some(code) = status.exit_status() {
                        return Ok(Outcome::Exited(code));
                    }
                    if let Some(sig) = status.terminating_signal() {
                        return Ok(Outcome::Signaled(sig));
                    }
                }
                Ok(None) => {}
                Err(rustix::io::Errno::INTR) => {}
                Err(e) => return Err(op("wait for the command")(e.into())),
            }
        }
    }
}

/// The seccomp listener's state after a wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Readiness {
    /// A notification is queued: RECV will not block.
    Ready,
    /// No filtered task is left; the listener would stay "ready" forever, so it is
    /// dropped from the wait set.
    HungUp,
    Idle,
}

/// Receives and dispatches one queued notification.
fn receive_one(s: &Supervised) {
    match s.ctx.listener.recv() {
        Ok(Some(n)) => {
            s.received
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            dispatch_one(s, &n)
        }
        Ok(None) => {}
        Err(e) => warn!("receive a notification: {e}"),
    }
}

fn dispatch_one(s: &Supervised, n: &Notif) {
    if let Some(g) = &s.ctx.gate {
        g.received(n.pid);
    }
    match (s.table.get(n.nr), &s.pool) {
        (Some(route), Some(pool)) if route.blocking => pool.submit(*n, *route),
        (Some(route), _) => {
            let run = || dispatch::answer(&s.ctx, n, dispatch::decide(&s.ctx, route, n));
            match &s.ctx.gate {
                // A freeze holds the gate: run it once the freeze is over.
                Some(g) => {
                    if g.try_run(run).is_none() {
                        g.defer(*n);
                    }
                }
                None => run(),
            }
        }
        (None, _) => {
            warn!(
                "notification for unexpected syscall {}; answering EPERM",
                n.nr
            );
            dispatch::answer(
                &s.ctx,
                n,
                crate::handlers::Decision::Respond(Response::Errno(libc::EPERM)),
            );
        }
    }
}

/// Sends the delayed answers due at `now`; how long until the next one.
fn answer_due(ctx: &Ctx, now: Instant) -> Option<Duration> {
    let due: Vec<(Notif, Response)> = {
        let mut delayed = lock(&ctx.delayed);
        if delayed.is_empty() {
            return None;
        }
        let (due, later): (Vec<_>, Vec<_>) = delayed.drain(..).partition(|d| d.0 <= now);
        *delayed = later;
        due.into_iter().map(|(_, n, r)| (n, r)).collect()
    };
    for (n, response) in due {
        dispatch::answer(ctx, &n, crate::handlers::Decision::Respond(response));
    }
    lock(&ctx.delayed)
        .iter()
        .map(|d| d.0.saturating_duration_since(now))
        .min()
}

/// Answers the forks held while `hold_forks` was set, once it is cleared.
fn release_parked(s: &Supervised) {
    let ctx = &s.ctx;
    let parked = {
        let mut p = lock(&ctx.processes);
        if p.hold_forks {
            return;
        }
        std::mem::take(&mut p.parked)
    };
    if ctx.dynamic.is_some() {
        // Under a dynamic policy a fork goes through its traced route (fork events).
        for n in parked {
            dispatch_one(s, &n);
        }
        return;
    }
    for n in parked {
        let response = process::admit(&mut lock(&ctx.processes), n.pid);
        dispatch::answer(ctx, &n, crate::handlers::Decision::Respond(response));
    }
}
