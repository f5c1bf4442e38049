//! sandlet: confine a Linux command with Landlock and seccomp-bpf, without root,
//! namespaces or containers.
//!
//! Data flows one way: [`cli`] (argv) -> [`policy::Policy`] (validated, immutable) ->
//! [`spawn::ChildPlan`] (everything allocated before fork) -> [`child`] (fork, confine,
//! exec) -> [`supervisor`] (poll loop until the sandbox is gone) -> [`supervisor::Outcome`].
//!
//! Kernel: Linux >= 6.12 (Landlock ABI 6) for every protection; older kernels are refused
//! per missing protection unless `--allow-degraded` accepts it (see [`landlock`]).

pub mod check;
pub mod child;
pub mod cli;
pub mod error;
pub mod landlock;
pub mod policy;
pub mod seccomp;
pub mod spawn;
pub mod supervisor;
pub mod sys;

use std::io;
use std::os::fd::OwnedFd;

use log::warn;
use rustix::net::{AddressFamily, SocketFlags, SocketType};

use error::{ExecError, RunError, SetupError};
use policy::Policy;
use supervisor::{signals::Signals, Outcome, Sandbox};

fn setup(step: &'static str) -> impl FnOnce(io::Error) -> SetupError {
    move |source| SetupError::Step { step, source }
}

/// Runs `policy.command` confined by `policy` and waits until the sandbox is gone.
pub fn run(policy: &Policy) -> Result<Outcome, RunError> {
    let plan = spawn::ChildPlan::new(policy)?;
    for p in &plan.degraded {
        warn!(
            "the kernel lacks Landlock {p} (needs Linux {}); running without it as \
             --allow-degraded asked",
            p.kernel()
        );
    }
    let mut signals = Signals::install().map_err(setup("install signal handlers"))?;
    rustix::process::set_child_subreaper(Some(rustix::process::getpid()))
        .map_err(|e| setup("become child subreaper")(e.into()))?;
    let (ours, theirs) = rustix::net::socketpair(
        AddressFamily::UNIX,
        SocketType::SEQPACKET,
        SocketFlags::CLOEXEC,
        None,
    )
    .map_err(|e| setup("socketpair")(e.into()))?;

    let mask = sys::block_all_signals().map_err(setup("block signals"))?;
    let forked = child::spawn(&plan, &theirs);
    sys::restore_signal_mask(&mask).map_err(setup("restore signal mask"))?;
    drop(theirs);
    let pid = forked.map_err(setup("fork"))?;
    // Also set the group from this side, so it exists before we ever signal it.
    let _ = rustix::process::setpgid(Some(pid), Some(pid));
    let pidfd = match rustix::process::pidfd_open(pid, rustix::process::PidfdFlags::empty()) {
        Ok(fd) => fd,
        Err(e) => {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
            let _ = rustix::process::waitpid(Some(pid), rustix::process::WaitOptions::empty());
            return Err(setup("pidfd_open")(e.into()).into());
        }
    };
    let sandbox = Sandbox { pid, pidfd };
    let terminal = plan.terminal;
    drop(plan);
    let outcome = wait_for(&sandbox, &ours, &mut signals, policy);
    if let Some(tty) = terminal {
        reclaim_terminal(tty);
    }
    outcome
}

/// Takes the terminal foreground back after the command handed it over. sandlet is in a
/// background group now, so SIGTTOU is blocked around the call.
fn reclaim_terminal(tty: std::os::fd::BorrowedFd<'_>) {
    let Ok(mask) = sys::block_all_signals() else {
        return;
    };
    if let Err(e) = rustix::termios::tcsetpgrp(tty, rustix::process::getpgrp()) {
        log::debug!("take back the terminal: {e}");
    }
    let _ = sys::restore_signal_mask(&mask);
}

fn wait_for(
    sandbox: &Sandbox,
    ours: &OwnedFd,
    signals: &mut Signals,
    policy: &Policy,
) -> Result<Outcome, RunError> {
    if let Some((step, err)) = read_report(ours).map_err(setup("read child report"))? {
        let _ = sandbox.supervise(signals, None);
        return Err(match step {
            child::Step::Exec if err.raw_os_error() == Some(libc::ENOENT) => ExecError::NotFound {
                command: policy.command[0].to_string_lossy().into_owned(),
            }
            .into(),
            child::Step::Exec => ExecError::NotExecutable {
                command: policy.command[0].to_string_lossy().into_owned(),
                source: err,
            }
            .into(),
            step => SetupError::Step {
                step: step.name(),
                source: err,
            }
            .into(),
        });
    }
    Ok(sandbox.supervise(signals, policy.timeout)?)
}

/// Waits for the child's verdict: EOF means exec succeeded; otherwise (step, errno).
fn read_report(sock: &OwnedFd) -> io::Result<Option<(child::Step, io::Error)>> {
    let mut buf = [0u8; child::REPORT_LEN];
    loop {
        match rustix::io::read(sock, &mut buf) {
            Ok(0) => return Ok(None),
            Ok(n) => {
                return child::decode_report(&buf[..n])
                    .map(Some)
                    .ok_or_else(|| io::Error::from_raw_os_error(libc::EPROTO))
            }
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(e.into()),
        }
    }
}
