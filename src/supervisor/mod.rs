//! Watches the running sandbox: one mio poll loop over the command's pidfd, the signal
//! pipe and the `--timeout` deadline. When the command ends, everything it left behind
//! is killed and reaped, so nothing outlives `sandlet run`.

pub mod reap;
pub mod signals;

use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::time::{Duration, Instant};

use log::debug;
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token};
use rustix::process::{Pid, Signal, WaitIdOptions};

use crate::error::SupervisorError;
use signals::Signals;

const CHILD: Token = Token(0);
const SIGNAL: Token = Token(1);

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

fn op(op: &'static str) -> impl FnOnce(io::Error) -> SupervisorError {
    move |source| SupervisorError { op, source }
}

/// The sandbox being watched: its first process (also its process-group id) and pidfd.
pub struct Sandbox {
    pub pid: Pid,
    pub pidfd: OwnedFd,
}

impl Sandbox {
    fn signal_group(&self, sig: Signal) {
        match rustix::process::kill_process_group(self.pid, sig) {
            Ok(()) => debug!(
                "sent {sig:?} to process group {}",
                self.pid.as_raw_nonzero()
            ),
            Err(e) => debug!("signal {sig:?} to process group: {e}"),
        }
    }

    /// Runs until the command exits or the deadline passes, then kills and reaps every
    /// process left in the sandbox.
    pub fn supervise(
        &self,
        signals: &mut Signals,
        timeout: Option<Duration>,
    ) -> Result<Outcome, SupervisorError> {
        let mut poll = Poll::new().map_err(op("create poll"))?;
        let registry = poll.registry();
        registry
            .register(
                &mut SourceFd(&self.pidfd.as_raw_fd()),
                CHILD,
                Interest::READABLE,
            )
            .map_err(op("watch pidfd"))?;
        registry
            .register(
                &mut SourceFd(&signals.read.as_raw_fd()),
                SIGNAL,
                Interest::READABLE,
            )
            .map_err(op("watch signal pipe"))?;

        let deadline = timeout.map(|t| Instant::now() + t);
        let mut events = Events::with_capacity(8);
        let mut exited = false;
        while !exited {
            let wait = deadline.map(|d| d.saturating_duration_since(Instant::now()));
            if wait == Some(Duration::ZERO) {
                debug!("timeout expired; killing the sandbox");
                self.signal_group(Signal::KILL);
                self.reap_command()?;
                reap::kill_all_children();
                return Ok(Outcome::TimedOut(timeout.unwrap_or_default()));
            }
            match poll.poll(&mut events, wait) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(op("poll")(e)),
            }
            for event in events.iter() {
                match event.token() {
                    CHILD => exited = true,
                    SIGNAL => {
                        let (forward, child) = signals.take();
                        for sig in forward {
                            if let Some(sig) = Signal::from_named_raw(sig) {
                                self.signal_group(sig);
                            }
                        }
                        if child {
                            reap::reap_exited_orphans(self.pid);
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
        reap::kill_all_children();
        Ok(outcome)
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
