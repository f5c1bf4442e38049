//! Starting a sandbox from a [`Policy`]: plan, fork, hand over the listener, let the
//! child exec, then supervise until the sandbox is gone.

use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use log::warn;
use rustix::net::{AddressFamily, SocketFlags, SocketType};
use rustix::process::Pid;

use crate::error::{ExecError, RunError, SetupError};
use crate::policy::protection::Protection;
use crate::policy::traps::Traps;
use crate::policy::Policy;
use crate::supervisor::{signals::Signals, ForkControl, MemoryReport, Outcome, Supervisor};
use crate::{child, spawn, sys};

fn setup(step: &'static str) -> impl FnOnce(io::Error) -> SetupError {
    move |source| SetupError::Step { step, source }
}

/// How a run ended, plus what the limits did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunReport {
    pub outcome: Outcome,
    pub memory: Option<MemoryReport>,
    /// Syscalls the supervisor was notified of (0 when nothing was trapped): what the
    /// flags of the run cost.
    pub notifications: u64,
    /// What became of the `--workdir` view's changes.
    pub view: Option<crate::overlay::ViewEnd>,
    /// `sandlet learn`: what the command used.
    pub learned: Option<crate::profile::learned::Record>,
}

/// Runs `policy.command` confined by `policy` and waits until the sandbox is gone, as
/// the CLI does: sandlet becomes the sandbox's subreaper (so it must have no other
/// children), and signals sent to it (INT, TERM, HUP, QUIT) are forwarded.
pub fn run(policy: &Policy) -> Result<RunReport, RunError> {
    run_started(policy, |_| {})
}

/// [`run`], calling `started` with the command's pid once it runs.
pub fn run_started(policy: &Policy, started: impl FnOnce(Pid)) -> Result<RunReport, RunError> {
    let mut signals = Signals::install().map_err(setup("install signal handlers"))?;
    rustix::process::set_child_subreaper(Some(rustix::process::getpid()))
        .map_err(|e| setup("become child subreaper")(e.into()))?;
    launch(policy, Some(&mut signals), |pid, _| started(pid))
}

/// Starts the sandbox and supervises it until it is gone. `started` is called once the
/// command runs (after exec), with its pid and the fork control. With `signals` (the
/// CLI), sandlet is the subreaper and owns all its children.
pub(crate) fn launch(
    policy: &Policy,
    signals: Option<&mut Signals>,
    started: impl FnOnce(Pid, Option<ForkControl>),
) -> Result<RunReport, RunError> {
    let layer = match &policy.view {
        Some(view) => {
            Some(
                crate::overlay::Layer::create(view).map_err(|source| SetupError::Step {
                    step: "create the view's layer in --fs-storage",
                    source,
                })?,
            )
        }
        None => None,
    };
    let mut layer = layer;
    let result = supervise(policy, signals, started, layer.as_mut());
    match (layer, &policy.view) {
        (Some(layer), Some(view)) => match result {
            Ok(mut report) => {
                let success = matches!(report.outcome, Outcome::Exited(0));
                report.view = Some(crate::overlay::end(view, layer, success));
                Ok(report)
            }
            Err(e) => {
                if let Err(rm) = layer.remove() {
                    warn!("removing the layer {}: {rm}", layer.dir.display());
                }
                Err(e)
            }
        },
        _ => result,
    }
}

pub(crate) fn supervise(
    policy: &Policy,
    signals: Option<&mut Signals>,
    started: impl FnOnce(Pid, Option<ForkControl>),
    layer: Option<&mut crate::overlay::Layer>,
) -> Result<RunReport, RunError> {
    let plan = spawn::ChildPlan::new(policy, layer.as_deref())?;
    for p in &plan.degraded {
        warn!(
            "the kernel lacks Landlock {p} (needs Linux {}); running without it as \
             --allow-degraded asked",
            p.kernel()
        );
    }
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
    let owns_children = signals.is_some();
    let supervisor = rustix::process::pidfd_open(pid, rustix::process::PidfdFlags::empty())
        .map_err(|e| RunError::from(setup("pidfd_open")(e.into())))
        .and_then(|pidfd| Ok(Supervisor::new(pid, pidfd, owns_children)?));
    let mut supervisor = match supervisor {
        Ok(s) => s,
        Err(e) => {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
            let _ = rustix::process::waitpid(Some(pid), rustix::process::WaitOptions::empty());
            return Err(e);
        }
    };
    let status = match policy.status_fd.map(crate::status::Status::open) {
        Some(Ok(s)) => Some(Arc::new(s)),
        Some(Err(e)) => {
            abort(&mut supervisor);
            return Err(setup("open --status-fd")(e).into());
        }
        None => None,
    };
    supervisor.status = status.clone();
    if let Some(s) = &status {
        use crate::status::Field;
        let name = policy.supervisor.as_ref().and_then(|s| s.name.as_deref());
        s.emit(
            "started",
            &[
                ("pid", Field::Num(i64::from(std::process::id()))),
                (
                    "command_pid",
                    Field::Num(i64::from(pid.as_raw_nonzero().get())),
                ),
                ("name", Field::Str(name.unwrap_or(""))),
            ],
        );
    }
    let (terminal, traps) = (plan.terminal, plan.traps);
    let exe = PathBuf::from(std::ffi::OsStr::from_bytes(plan.exe.as_bytes()));
    drop(plan);
    let result = start(&mut supervisor, &ours, policy, &exe, traps).and_then(|disk| {
        if let (Some(layer), Some(fd)) = (layer, disk) {
            layer.disk = Some(fd);
        }
        // Registered before anyone is told it runs: whoever hears it may ask it at once.
        register(&mut supervisor, policy, pid)?;
        started(pid, supervisor.fork_control());
        if let (Some(s), false) = (&status, traps.exec) {
            // (With exec decisions, the exec handler reported it.)
            s.emit(
                "exec",
                &[
                    (
                        "pid",
                        crate::status::Field::Num(i64::from(pid.as_raw_nonzero().get())),
                    ),
                    ("path", crate::status::Field::Str(&exe.to_string_lossy())),
                ],
            );
        }
        let outcome = supervisor.supervise(signals, policy.timeout, policy.cpu_percent)?;
        if let Some(s) = &status {
            use crate::status::Field;
            let (key, value) = match outcome {
                Outcome::Exited(code) => ("status", i64::from(code)),
                Outcome::Signaled(sig) => ("signal", i64::from(sig)),
                Outcome::TimedOut(t) => ("timeout_ms", t.as_millis() as i64),
            };
            s.emit("exit", &[(key, Field::Num(value))]);
        }
        Ok(RunReport {
            outcome,
            memory: supervisor.memory_report(),
            notifications: supervisor.notifications(),
            view: None,
            learned: supervisor.learned(),
        })
    });
    if let (Some(s), Err(e)) = (&status, &result) {
        s.emit(
            "exit",
            &[("error", crate::status::Field::Str(&e.to_string()))],
        );
    }
    if let Some(tty) = terminal {
        reclaim_terminal(tty);
    }
    result
}

/// Registers a supervised run for `sandlet ps`, `inspect` and `kill` (a failure to is
/// only warned about: nothing of the confinement depends on it).
fn register(supervisor: &mut Supervisor, policy: &Policy, pid: Pid) -> Result<(), RunError> {
    let Some(sup) = &policy.supervisor else {
        return Ok(());
    };
    let name = sup
        .name
        .clone()
        .unwrap_or_else(|| format!("sandlet-{}", std::process::id()));
    let command: Vec<String> = policy
        .command
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let abi = crate::landlock::abi();
    let control = abi >= Protection::AbstractUnixSocketScope.min_abi();
    match crate::registry::register(
        &name,
        pid.as_raw_nonzero().get(),
        &command.join(" "),
        control,
    ) {
        Ok(registration) => supervisor.set_control(registration, Box::new(policy.clone()))?,
        Err(e) => warn!("cannot register the run for sandlet ps: {e}"),
    }
    Ok(())
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

/// Kills a child that will not exec and reaps it.
fn abort(sandbox: &mut Supervisor) {
    let _ = rustix::process::kill_process(sandbox.pid, rustix::process::Signal::KILL);
    let _ = sandbox.supervise(None, None, None);
}

/// Takes the listener (when syscalls are trapped), lets the child exec, and waits until
/// it did.
fn start(
    sandbox: &mut Supervisor,
    ours: &OwnedFd,
    policy: &Policy,
    exe: &Path,
    traps: Traps,
) -> Result<Option<OwnedFd>, RunError> {
    // Under --max-disk the child first sends the size-limited layer's directory.
    let mut disk = None;
    if policy.view.as_ref().is_some_and(|v| v.max_disk.is_some()) {
        match read_report(ours) {
            Ok(Some(child::Report::Layer(fd))) => disk = Some(fd),
            Ok(Some(child::Report::Failed(step, err))) => {
                abort(sandbox);
                return Err(child_failure(policy, exe, step, err));
            }
            Ok(_) => {
                abort(sandbox);
                let e = io::Error::from_raw_os_error(libc::EPROTO);
                return Err(setup("receive the --max-disk layer")(e).into());
            }
            Err(e) => {
                abort(sandbox);
                return Err(setup("receive the --max-disk layer")(e).into());
            }
        }
    }
    // Nothing is trapped without a supervisor (Traps::for_policy).
    if traps.any() {
        match read_report(ours) {
            Ok(Some(child::Report::Listener(fd))) => {
                if let Err(e) = sandbox.attach(fd, policy, traps) {
                    abort(sandbox);
                    return Err(e.into());
                }
                if let Err(e) = rustix::io::write(ours, b"g") {
                    abort(sandbox);
                    return Err(setup("start the command")(e.into()).into());
                }
            }
            Ok(Some(child::Report::Failed(step, err))) => {
                abort(sandbox);
                return Err(child_failure(policy, exe, step, err));
            }
            Ok(None | Some(child::Report::Layer(_))) => {
                abort(sandbox);
                return Err(
                    setup("receive the seccomp listener")(io::Error::from_raw_os_error(
                        libc::EPIPE,
                    ))
                    .into(),
                );
            }
            Err(e) => {
                abort(sandbox);
                return Err(setup("receive the seccomp listener")(e).into());
            }
        }
    }
    // The exec itself may be trapped (exec decisions, learn): answer notifications until
    // the child reports or its exec closes the socket.
    if traps.exec || traps.learn {
        sandbox
            .serve_until_readable(ours.as_fd(), policy.timeout)
            .map_err(RunError::from)?;
    }
    match read_report(ours) {
        Ok(None) => {}
        Ok(Some(child::Report::Failed(step, err))) => {
            abort(sandbox);
            return Err(child_failure(policy, exe, step, err));
        }
        Ok(Some(child::Report::Listener(_) | child::Report::Layer(_))) => {
            abort(sandbox);
            return Err(
                setup("read child report")(io::Error::from_raw_os_error(libc::EPROTO)).into(),
            );
        }
        Err(e) => {
            abort(sandbox);
            return Err(setup("read child report")(e).into());
        }
    }
    Ok(disk)
}

fn child_failure(policy: &Policy, exe: &Path, step: child::Step, err: io::Error) -> RunError {
    let command = policy.command[0].to_string_lossy().into_owned();
    match step {
        child::Step::Exec if err.raw_os_error() == Some(libc::ENOENT) && !exe.exists() => {
            ExecError::NotFound { command }.into()
        }
        child::Step::Exec => ExecError::NotExecutable {
            command,
            resolved: exe.to_owned(),
            hint: exec_hint(policy, exe, &err),
            source: err,
        }
        .into(),
        step => SetupError::Step {
            step: step.name(),
            source: err,
        }
        .into(),
    }
}

/// What to do when `exe` (the resolved command) did not run: name the file the rules
/// leave out (the command itself, or its `#!` interpreter) and the `-r` that allows it.
fn exec_hint(policy: &Policy, exe: &Path, err: &io::Error) -> Option<String> {
    let real = std::fs::canonicalize(exe).unwrap_or_else(|_| exe.to_owned());
    let dir = |p: &Path| p.parent().unwrap_or(p).display().to_string();
    let covered = |p: &Path| policy.reads(&p.to_string_lossy());
    if !covered(&real) {
        return Some(format!(
            "{} is not under an --fs-read path; add -r {}",
            real.display(),
            dir(&real)
        ));
    }
    let head = std::fs::read(&real).ok()?;
    let head = &head[..head.len().min(crate::handlers::programs::HEAD)];
    if let Some((interp, _)) = crate::handlers::programs::shebang(head) {
        let interp = Path::new(&interp);
        let real_interp = std::fs::canonicalize(interp).unwrap_or_else(|_| interp.to_owned());
        if !real_interp.exists() {
            return Some(format!(
                "it is a script for {}, which does not exist",
                interp.display()
            ));
        }
        if !covered(&real_interp) {
            return Some(format!(
                "it is a script for {}, which is not under an --fs-read path; add -r {}",
                interp.display(),
                dir(&real_interp)
            ));
        }
    }
    (err.raw_os_error() == Some(libc::EACCES))
        .then(|| "are its interpreter and libraries under an --fs-read path?".to_owned())
}

/// Waits for the child's next message: `None` is EOF (exec succeeded).
fn read_report(sock: &OwnedFd) -> io::Result<Option<child::Report>> {
    let mut buf = [0u8; child::REPORT_LEN];
    let (n, fd) = sys::recv_with_fd(sock.as_fd(), &mut buf)?;
    if n == 0 && fd.is_none() {
        return Ok(None);
    }
    child::decode_report(&buf[..n], fd)
        .map(Some)
        .ok_or_else(|| io::Error::from_raw_os_error(libc::EPROTO))
}
