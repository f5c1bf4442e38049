//! The only `fork()`. The child confines itself in numbered steps and execs the command.
//!
//! After fork the child allocates nothing and takes no lock: it reads the prepared
//! [`ChildPlan`] and makes raw syscalls. A failing step writes `(step, errno)` to the
//! report socket and `_exit`s; a successful `execve` closes the socket (close-on-exec),
//! which the parent reads as "the command is running".

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use rustix::process::Pid;

use crate::spawn::ChildPlan;
use crate::sys;

/// The child's setup steps, in execution order. Steps marked irreversible cannot be
/// undone once taken; seccomp is installed last before exec.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub enum Step {
    /// 1. Own process group, so the whole sandbox can be signalled at once.
    SetPgid = 1,
    /// 2. Foreground of sandlet's terminal, when sandlet had it (signals are still
    ///    blocked, so SIGTTOU cannot stop us here).
    ForegroundTerminal,
    /// 3. Default dispositions, empty mask (both survive execve otherwise).
    ResetSignals,
    /// 4. `--workdir`: a mount namespace of its own (and a user namespace, mapping only
    ///    sandlet's ids, when sandlet is not root). Before the parent-death signal, which
    ///    a change of credentials may clear.
    Namespaces,
    /// 5. `--workdir`: overlayfs mounted over the workdir, the working directory entered
    ///    again.
    MountView,
    /// 6. Die with sandlet.
    ParentDeathSignal,
    /// 7. ... unless sandlet already died before step 6.
    ParentCheck,
    /// 8. Resource limits.
    Rlimit,
    /// 9. Personality (ADDR_NO_RANDOMIZE).
    Personality,
    /// 10. Transparent huge pages off.
    DisableThp,
    /// 11. CPU affinity (`--cpu-cores`).
    Affinity,
    /// 12. Working directory.
    Chdir,
    /// 13. Irreversible: capability bounding set emptied (with CAP_SETPCAP).
    DropBoundingSet,
    /// 14. Irreversible: ambient capabilities cleared.
    ClearAmbientCaps,
    /// 14b. `process.user` of an OCI container: supplementary groups, gid and uid set
    ///     (sandlet is root), then the parent-death signal armed again (a change of
    ///     credentials clears it).
    SetUser,
    /// 15. Irreversible: effective/permitted/inheritable cleared.
    ClearCaps,
    /// 16. Irreversible: no_new_privs.
    NoNewPrivs,
    /// 17. Irreversible: Landlock ruleset enforced.
    Landlock,
    /// 18. Irreversible: seccomp filter installed.
    Seccomp,
    /// 19. The filter's listener fd sent to sandlet (when anything is trapped).
    SendListener,
    /// 20. Wait for sandlet's "go": its supervisor is answering.
    WaitForSupervisor,
    /// 21. Every fd above 2 close-on-exec (the report socket closes at exec too).
    CloseFds,
    /// 22. RLIMIT_NOFILE (`--max-open-files`): last, as the steps above need
    ///     descriptors of their own.
    OpenFilesLimit,
    /// 23. The command.
    Exec,
}

impl Step {
    const ALL: [Step; 24] = [
        Step::SetPgid,
        Step::ForegroundTerminal,
        Step::ResetSignals,
        Step::Namespaces,
        Step::MountView,
        Step::ParentDeathSignal,
        Step::ParentCheck,
        Step::Rlimit,
        Step::Personality,
        Step::DisableThp,
        Step::Affinity,
        Step::Chdir,
        Step::DropBoundingSet,
        Step::ClearAmbientCaps,
        Step::SetUser,
        Step::ClearCaps,
        Step::NoNewPrivs,
        Step::Landlock,
        Step::Seccomp,
        Step::SendListener,
        Step::WaitForSupervisor,
        Step::CloseFds,
        Step::OpenFilesLimit,
        Step::Exec,
    ];

    /// The step's name in error messages.
    pub fn name(self) -> &'static str {
        match self {
            Step::SetPgid => "setpgid",
            Step::ForegroundTerminal => "take the terminal foreground",
            Step::ResetSignals => "reset signal dispositions",
            Step::Namespaces => {
                "enter a user and mount namespace (--workdir, --fs-deny, --fs-mount)"
            }
            Step::MountView => "mount the view (--workdir, --fs-deny, --fs-mount)",
            Step::ParentDeathSignal => "set parent-death signal",
            Step::ParentCheck => "check parent is alive",
            Step::Rlimit => "setrlimit",
            Step::Personality => "set personality",
            Step::DisableThp => "disable transparent huge pages",
            Step::Affinity => "set CPU affinity (--cpu-cores)",
            Step::Chdir => "chdir to --cwd",
            Step::DropBoundingSet => "drop capability bounding set",
            Step::ClearAmbientCaps => "clear ambient capabilities",
            Step::SetUser => "switch to the container's user",
            Step::ClearCaps => "clear capabilities",
            Step::NoNewPrivs => "set no_new_privs",
            Step::Landlock => "landlock_restrict_self",
            Step::Seccomp => "install seccomp filter",
            Step::SendListener => "send the seccomp listener to sandlet",
            Step::WaitForSupervisor => "wait for the supervisor",
            Step::CloseFds => "close inherited file descriptors",
            Step::OpenFilesLimit => "set RLIMIT_NOFILE (--max-open-files)",
            Step::Exec => "execve",
        }
    }

    pub fn from_code(code: u32) -> Option<Step> {
        Step::ALL.into_iter().find(|&s| s as u32 == code)
    }
}

/// A message from the child: 4 bytes step, 4 bytes errno, native endian. Step 0 carries
/// the listener fd (SCM_RIGHTS); any other step is a failure.
pub const REPORT_LEN: usize = 8;

/// What the child said.
#[derive(Debug)]
pub enum Report {
    /// Here is the seccomp listener; waiting for "go".
    Listener(OwnedFd),
    /// This step failed with this error; the child has exited.
    Failed(Step, io::Error),
    /// `--max-disk`: the size-limited layer directory (a tmpfs in the child's mount
    /// namespace), for sandlet to read the changes through.
    Layer(OwnedFd),
}

/// The code of the [`Report::Layer`] message.
const LAYER_CODE: u32 = u32::MAX;

/// Decodes a message; `None` when malformed.
pub fn decode_report(buf: &[u8], fd: Option<OwnedFd>) -> Option<Report> {
    let step = u32::from_ne_bytes(buf.get(0..4)?.try_into().ok()?);
    let errno = i32::from_ne_bytes(buf.get(4..8)?.try_into().ok()?);
    match (step, fd) {
        (0, Some(fd)) => Some(Report::Listener(fd)),
        (0, None) => None,
        (LAYER_CODE, Some(fd)) => Some(Report::Layer(fd)),
        (LAYER_CODE, None) => None,
        (step, _) => Some(Report::Failed(
            Step::from_code(step)?,
            io::Error::from_raw_os_error(errno),
        )),
    }
}

/// Forks; the child confines itself per `plan` and execs, reporting failure on `report`.
/// Returns the child's pid in the parent. The caller must have blocked all signals (so
/// no handler of the parent runs in the child before step 1 resets them).
pub fn spawn(plan: &ChildPlan, report: &OwnedFd) -> io::Result<Pid> {
    // SAFETY: after fork the child runs only `confine_and_exec`, which makes raw
    // syscalls on memory prepared before the fork, allocates nothing, takes no lock and
    // never returns (it execs or `_exit`s).
    let pid = unsafe { libc::fork() };
    match pid {
        -1 => Err(io::Error::last_os_error()),
        0 => confine_and_exec(plan, report.as_raw_fd()),
        pid => Ok(Pid::from_raw(pid).expect("fork returned a positive pid")),
    }
}

fn fail(report: RawFd, step: Step, err: io::Error) -> ! {
    let errno = err.raw_os_error().unwrap_or(libc::EINVAL);
    let mut buf = [0u8; REPORT_LEN];
    buf[..4].copy_from_slice(&(step as u32).to_ne_bytes());
    buf[4..].copy_from_slice(&errno.to_ne_bytes());
    let _ = sys::write_all_raw(report, &buf);
    sys::exit_immediately(125)
}

/// Step 14b: the container's user, when it has one (allocates nothing).
fn set_user(plan: &ChildPlan, report: RawFd) {
    let Some((uid, gid, groups)) = &plan.user else {
        return;
    };
    let set = || -> io::Result<()> {
        rustix::thread::set_thread_groups(groups)?;
        rustix::thread::set_thread_res_gid(*gid, *gid, *gid)?;
        rustix::thread::set_thread_res_uid(*uid, *uid, *uid)?;
        sys::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as u64, 0, 0, 0)?;
        Ok(())
    };
    if let Err(e) = set() {
        fail(report, Step::SetUser, e);
    }
    if rustix::process::getppid() != Some(plan.parent) {
        fail(
            report,
            Step::SetUser,
            io::Error::from_raw_os_error(libc::ESRCH),
        );
    }
}

fn confine_and_exec(plan: &ChildPlan, report: RawFd) -> ! {
    let check = |step: Step, r: io::Result<()>| {
        if let Err(e) = r {
            fail(report, step, e);
        }
    };

    check(
        Step::SetPgid,
        rustix::process::setpgid(None, None).map_err(io::Error::from),
    );
    if let Some(tty) = plan.terminal {
        check(
            Step::ForegroundTerminal,
            rustix::termios::tcsetpgrp(tty, rustix::process::getpid()).map_err(io::Error::from),
        );
    }
    check(Step::ResetSignals, sys::reset_signals());
    if let Some(view) = &plan.view {
        check(Step::Namespaces, view.enter_namespaces());
        let ruleset = plan.landlock.as_ref().map(|fd| fd.as_fd());
        match view.mount(ruleset) {
            Ok(None) => {}
            Ok(Some(layer)) => {
                // SAFETY: `report` is the open socket `spawn` borrowed for this child.
                let sock = unsafe { BorrowedFd::borrow_raw(report) };
                let mut msg = [0u8; REPORT_LEN];
                msg[..4].copy_from_slice(&LAYER_CODE.to_ne_bytes());
                check(
                    Step::MountView,
                    sys::send_with_fd(sock, &msg, layer.as_fd()),
                );
            }
            Err(e) => fail(report, Step::MountView, e),
        }
    }
    check(
        Step::ParentDeathSignal,
        sys::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as u64, 0, 0, 0).map(drop),
    );
    if rustix::process::getppid() != Some(plan.parent) {
        fail(
            report,
            Step::ParentCheck,
            io::Error::from_raw_os_error(libc::ESRCH),
        );
    }
    for &(resource, soft, hard) in &plan.rlimits {
        check(Step::Rlimit, sys::setrlimit(resource, soft, hard));
    }
    if let Some(persona) = plan.personality {
        check(Step::Personality, sys::personality(persona).map(drop));
    }
    if plan.thp_disable {
        check(
            Step::DisableThp,
            sys::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0).map(drop),
        );
    }
    if let Some(cpus) = &plan.affinity {
        check(
            Step::Affinity,
            rustix::thread::sched_setaffinity(None, cpus).map_err(io::Error::from),
        );
    }
    if let Some(cwd) = &plan.cwd {
        check(
            Step::Chdir,
            rustix::process::chdir(cwd.as_c_str()).map_err(io::Error::from),
        );
    }
    if plan.drop_caps {
        if plan.can_drop_bounding {
            for cap in 0..64 {
                match sys::prctl(libc::PR_CAPBSET_DROP, cap, 0, 0, 0) {
                    Ok(_) => {}
                    // Past the kernel's last capability.
                    Err(e) if e.raw_os_error() == Some(libc::EINVAL) => break,
                    Err(e) => fail(report, Step::DropBoundingSet, e),
                }
            }
        }
        check(
            Step::ClearAmbientCaps,
            sys::prctl(
                libc::PR_CAP_AMBIENT,
                libc::PR_CAP_AMBIENT_CLEAR_ALL as u64,
                0,
                0,
                0,
            )
            .map(drop),
        );
        set_user(plan, report);
        check(Step::ClearCaps, sys::clear_capabilities());
    } else {
        set_user(plan, report);
    }
    check(
        Step::NoNewPrivs,
        sys::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0).map(drop),
    );
    if let Some(ruleset) = &plan.landlock {
        check(
            Step::Landlock,
            sys::landlock_restrict_self(ruleset.as_raw_fd()),
        );
    }
    if plan.listener {
        // sendmsg trapped by the filter itself: a courier made before the filter (so
        // outside it) shares our descriptor table and sends the listener for us.
        let courier = if plan.listener_by_courier {
            match Courier::start(report) {
                Ok(c) => Some(c),
                Err(e) => fail(report, Step::SendListener, e),
            }
        } else {
            None
        };
        let flags = sys::SECCOMP_FILTER_FLAG_NEW_LISTENER;
        let installed = match sys::seccomp_set_filter(
            &plan.filter,
            flags | sys::SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV,
        ) {
            // WAIT_KILLABLE_RECV is Linux 5.19+.
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
                sys::seccomp_set_filter(&plan.filter, flags)
            }
            other => other,
        };
        let listener = match installed {
            // SAFETY: NEW_LISTENER returns a fresh fd that nothing else owns.
            Ok(fd) => unsafe { OwnedFd::from_raw_fd(fd as RawFd) },
            Err(e) => fail(report, Step::Seccomp, e),
        };
        // SAFETY: `report` is the open socket `spawn` borrowed for this child.
        let sock = unsafe { BorrowedFd::borrow_raw(report) };
        let sent = match courier {
            Some(courier) => courier.deliver(listener.as_raw_fd()),
            None => sys::send_with_fd(sock, &[0u8; REPORT_LEN], listener.as_fd()),
        };
        check(Step::SendListener, sent);
        let mut go = [0u8; 1];
        let answer = sys::read_raw(sock, &mut go);
        drop(listener);
        match answer {
            Ok(1) => {}
            Ok(_) => fail(
                report,
                Step::WaitForSupervisor,
                io::Error::from_raw_os_error(libc::EPIPE),
            ),
            Err(e) => fail(report, Step::WaitForSupervisor, e),
        }
    } else {
        check(
            Step::Seccomp,
            sys::seccomp_set_filter(&plan.filter, 0).map(drop),
        );
    }
    check(Step::CloseFds, sys::cloexec_from(3));
    if let Some(n) = plan.open_files {
        check(
            Step::OpenFilesLimit,
            sys::setrlimit(libc::RLIMIT_NOFILE as libc::c_int, n, n),
        );
    }
    let err = sys::execve(&plan.exe, &plan.argv, &plan.envp);
    fail(report, Step::Exec, err)
}

/// A process that shares the child's descriptor table (`CLONE_FILES`) but not its
/// seccomp filter, made before the filter is installed. When the filter traps `sendmsg`
/// (UDP rules), the child cannot send the listener itself: the notification would go to
/// that very listener, which nobody reads yet. The courier can, and the parent needs no
/// `pidfd_getfd` to take it (which container profiles refuse). It runs only our code:
/// it reads the listener's number from a pipe, sends it, and exits before the command
/// is exec'd (the child reaps it); it dies with the child (parent-death signal). No
/// exemption is added to the filter, so the command gains nothing from it.
struct Courier {
    pid: Pid,
    number: OwnedFd,
    _rx: OwnedFd,
}

impl Courier {
    fn start(report: RawFd) -> io::Result<Courier> {
        let (rx, tx) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)?;
        let parent = rustix::process::getpid();
        // SAFETY: as fork() in `spawn`: the new process has a copy of our memory and
        // runs only `Courier::run`, which makes raw syscalls, allocates nothing and
        // never returns. CLONE_FILES shares the descriptor table, nothing else.
        let pid = unsafe {
            libc::syscall(
                libc::SYS_clone,
                (libc::CLONE_FILES | libc::SIGCHLD) as libc::c_ulong,
                0usize,
                0usize,
                0usize,
                0usize,
            )
        };
        match pid {
            -1 => Err(io::Error::last_os_error()),
            0 => Courier::run(report, rx.as_raw_fd(), parent),
            pid => Ok(Courier {
                pid: Pid::from_raw(pid as i32).expect("clone returned a positive pid"),
                number: tx,
                _rx: rx,
            }),
        }
    }

    /// In the courier: wait for the number, send that descriptor on `report`.
    fn run(report: RawFd, rx: RawFd, parent: Pid) -> ! {
        let died = sys::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as u64, 0, 0, 0).is_err()
            || rustix::process::getppid() != Some(parent);
        if died {
            sys::exit_immediately(1);
        }
        let mut number = [0u8; 4];
        // SAFETY: `rx` is the pipe's read end, open in the table we share.
        let rx = unsafe { BorrowedFd::borrow_raw(rx) };
        if !matches!(sys::read_raw(rx, &mut number), Ok(4)) {
            sys::exit_immediately(1);
        }
        let fd = i32::from_ne_bytes(number);
        // SAFETY: the child wrote the number of its listener, open in the shared table
        // until the child hears from us (it waits for our exit first).
        let (sock, listener) =
            unsafe { (BorrowedFd::borrow_raw(report), BorrowedFd::borrow_raw(fd)) };
        match sys::send_with_fd(sock, &[0u8; REPORT_LEN], listener) {
            Ok(()) => sys::exit_immediately(0),
            Err(_) => sys::exit_immediately(1),
        }
    }

    /// In the child: has the courier send descriptor `fd`; waits until it is gone.
    fn deliver(self, fd: RawFd) -> io::Result<()> {
        sys::write_all_raw(self.number.as_raw_fd(), &fd.to_ne_bytes())?;
        loop {
            match rustix::process::waitpid(Some(self.pid), rustix::process::WaitOptions::empty()) {
                Ok(Some((_, status))) if status.exit_status() == Some(0) => return Ok(()),
                Ok(_) => return Err(io::Error::from_raw_os_error(libc::EPIPE)),
                Err(rustix::io::Errno::INTR) => continue,
                Err(e) => return Err(e.into()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn step_codes_round_trip_and_report_decodes() {
        for s in Step::ALL {
            assert_eq!(Step::from_code(s as u32), Some(s));
        }
        assert_eq!(Step::from_code(0), None);
        let mut buf = [0u8; REPORT_LEN];
        buf[..4].copy_from_slice(&(Step::Landlock as u32).to_ne_bytes());
        buf[4..].copy_from_slice(&libc::EPERM.to_ne_bytes());
        match decode_report(&buf, None) {
            Some(Report::Failed(step, err)) => {
                assert_eq!(step, Step::Landlock);
                assert_eq!(err.raw_os_error(), Some(libc::EPERM));
            }
            other => panic!("{other:?}"),
        }
        assert!(decode_report(&buf[..7], None).is_none());
        assert!(decode_report(&[0u8; REPORT_LEN], None).is_none());
    }
}
