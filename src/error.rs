//! One error enum per layer, named after the operation that failed.
//!
//! `PolicyError` (exit 2, nothing ran), `SetupError` (exit 125, sandbox could not be
//! built), `ExecError` (exit 126/127), `SupervisorError` (the run could not be watched).
//! `main` prints each as one line: `sandlet: error: <Display>`.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use crate::policy::parse::ParseError;
use crate::policy::protection::Protection;
use crate::policy::syscalls::group_names;

/// A flag, value or combination that cannot make a valid policy. Exit 2.
#[derive(Debug)]
pub enum PolicyError {
    /// A flag value did not parse.
    BadValue {
        flag: &'static str,
        value: String,
        source: ParseError,
    },
    /// A path given to a flag cannot be used.
    BadPath {
        flag: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    /// `--cwd` is not a directory.
    NotADirectory { path: PathBuf },
    /// `--extra-deny-syscall` names neither a syscall of this architecture nor a group.
    UnknownSyscall { name: String },
    /// `--extra-allow-syscall` names something that is not an allowable group.
    UnknownGroup { name: String },
    /// `--allow-degraded` names no known protection.
    UnknownProtection { name: String },
    /// Two flags that cannot be combined.
    Conflict {
        flag: &'static str,
        other: &'static str,
    },
    /// A valid request sandlet cannot enforce yet.
    Unsupported {
        flag: &'static str,
        value: String,
        why: &'static str,
    },
    /// A flag that only makes sense with another one.
    Requires {
        flag: &'static str,
        needs: &'static str,
    },
    /// No command after the flags.
    NoCommand,
    /// `--image`: the image cannot be found, read, verified or unpacked.
    Image { reference: String, why: String },
    /// A flag outside `--` is not valid UTF-8.
    NonUtf8Argument,
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PolicyError::BadValue {
                flag,
                value,
                source,
            } => write!(f, "{flag} '{value}': {source}"),
            PolicyError::BadPath { flag, path, source } => {
                write!(f, "{flag} {}: {source}", path.display())
            }
            PolicyError::NotADirectory { path } => {
                write!(f, "--cwd {}: not a directory", path.display())
            }
            PolicyError::UnknownSyscall { name } => write!(
                f,
                "--extra-deny-syscall '{name}': no such syscall on this architecture, and not \
                 a group (groups: {})",
                group_names()
            ),
            PolicyError::UnknownGroup { name } => write!(
                f,
                "--extra-allow-syscall '{name}': not a group that can be allowed (groups: {})",
                group_names()
            ),
            PolicyError::UnknownProtection { name } => write!(
                f,
                "--allow-degraded '{name}': unknown protection (one of: {})",
                Protection::names()
            ),
            PolicyError::Requires { flag, needs } => write!(f, "{flag} requires {needs}"),
            PolicyError::Conflict { flag, other } => {
                write!(f, "{flag} cannot be combined with {other}")
            }
            PolicyError::Unsupported { flag, value, why } => write!(f, "{flag} '{value}': {why}"),
            PolicyError::Image { reference, why } => write!(f, "--image '{reference}': {why}"),
            PolicyError::NoCommand => {
                write!(
                    f,
                    "no command given (usage: sandlet run [FLAGS] -- CMD [ARGS...])"
                )
            }
            PolicyError::NonUtf8Argument => write!(
                f,
                "a flag before '--' is not valid UTF-8 (put the command after '--')"
            ),
        }
    }
}

impl std::error::Error for PolicyError {}

/// The sandbox could not be built or entered. Exit 125.
#[derive(Debug)]
pub enum SetupError {
    /// The kernel lacks what these protections need and `--allow-degraded` did not
    /// accept them.
    Unsupported {
        protections: Vec<Protection>,
        abi: u32,
    },
    /// A step of the sandbox setup failed (in the parent, or in the child before exec).
    Step {
        step: &'static str,
        source: io::Error,
    },
    /// Opening a path for a Landlock rule failed.
    OpenPath { path: PathBuf, source: io::Error },
    /// The seccomp program could not be assembled (a bug).
    Bpf(crate::seccomp::bpf::AsmError),
}

impl fmt::Display for SetupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SetupError::Unsupported { protections, abi } => {
                write!(f, "this kernel has Landlock ABI {abi}, which lacks ")?;
                for (i, p) in protections.iter().enumerate() {
                    let sep = if i == 0 { "" } else { ", " };
                    write!(f, "{sep}{p} (ABI {}, Linux {})", p.min_abi(), p.kernel())?;
                }
                f.write_str("; to run without them anyway, add")?;
                for p in protections {
                    write!(f, " --allow-degraded {p}")?;
                }
                Ok(())
            }
            SetupError::Step { step, source } => {
                write!(f, "{step}: {source}")?;
                if let Some(hint) = hint(step, source) {
                    write!(f, " ({hint})")?;
                }
                Ok(())
            }
            SetupError::OpenPath { path, source } => {
                write!(f, "open {} for a Landlock rule: {source}", path.display())
            }
            SetupError::Bpf(e) => write!(f, "assemble seccomp filter: {e}"),
        }
    }
}

/// The setup step that fails where `pidfd_getfd` is refused (it has a hint of its own).
pub const PIDFD_GETFD_STEP: &str =
    "pidfd_getfd, which UDP and ICMP rules, --net-deny, --net-deny-bind, \
     --port-remap, a dynamic policy, --deterministic-dirs and the /proc view need";

fn hint(step: &str, err: &io::Error) -> Option<&'static str> {
    match (step, err.raw_os_error()?) {
        ("install seccomp filter", libc::EBUSY) => {
            Some("already under a seccomp listener; use --no-supervisor for nesting")
        }
        (PIDFD_GETFD_STEP, _) => Some(
            "this environment refuses it (a container's seccomp profile without \
             CAP_SYS_PTRACE): give the container --cap-add SYS_PTRACE or a profile that \
             allows pidfd_getfd, or leave those flags out",
        ),
        ("landlock_restrict_self", libc::E2BIG) => {
            Some("too many stacked Landlock layers; nesting is limited to 16")
        }
        ("enter a user and mount namespace (--workdir, --fs-deny, --fs-mount)", _) => Some(
            "this user may not create namespaces here: see sysctl \
             kernel.unprivileged_userns_clone, kernel.apparmor_restrict_unprivileged_userns \
             and user.max_user_namespaces; a container's seccomp profile, or an enclosing \
             sandbox, refuses them too. The run does not go on without the view",
        ),
        ("mount the view (--workdir, --fs-deny, --fs-mount)", _) => Some(
            "the kernel refused a mount of the view: overlayfs needs Linux 5.11 for an \
             unprivileged mount and an --fs-storage file system with (user) xattrs; an \
             --fs-deny path must be a file or directory the user can mount over. The run \
             does not go on without the view",
        ),
        _ => None,
    }
}

impl std::error::Error for SetupError {}

impl From<crate::seccomp::bpf::AsmError> for SetupError {
    fn from(e: crate::seccomp::bpf::AsmError) -> Self {
        SetupError::Bpf(e)
    }
}

/// The command could not be started. Exit 127 (not found) or 126 (not executable).
#[derive(Debug)]
pub enum ExecError {
    NotFound {
        command: String,
    },
    NotExecutable {
        command: String,
        /// The file the command resolved to.
        resolved: PathBuf,
        /// What to do about it, when known.
        hint: Option<String>,
        source: io::Error,
    },
}

impl ExecError {
    pub fn exit_code(&self) -> u8 {
        match self {
            ExecError::NotFound { .. } => 127,
            ExecError::NotExecutable { .. } => 126,
        }
    }
}

impl fmt::Display for ExecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExecError::NotFound { command } => write!(f, "{command}: command not found"),
            ExecError::NotExecutable {
                command,
                resolved,
                hint,
                source,
            } => {
                write!(f, "{command}")?;
                if Path::new(command) != resolved {
                    write!(f, " ({})", resolved.display())?;
                }
                write!(f, ": cannot execute: {source}")?;
                if let Some(hint) = hint {
                    write!(f, " ({hint})")?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for ExecError {}

/// Watching the running command failed. The command is killed; exit 125.
#[derive(Debug)]
pub struct SupervisorError {
    pub op: &'static str,
    pub source: io::Error,
}

impl fmt::Display for SupervisorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "supervisor: {}: {}", self.op, self.source)
    }
}

impl std::error::Error for SupervisorError {}

/// Any failure of `sandlet run`, with its exit code.
#[derive(Debug)]
pub enum RunError {
    Policy(PolicyError),
    Setup(SetupError),
    Exec(ExecError),
    Supervisor(SupervisorError),
}

impl RunError {
    pub fn exit_code(&self) -> u8 {
        match self {
            RunError::Policy(_) => 2,
            RunError::Setup(_) | RunError::Supervisor(_) => 125,
            RunError::Exec(e) => e.exit_code(),
        }
    }
}

impl fmt::Display for RunError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RunError::Policy(e) => e.fmt(f),
            RunError::Setup(e) => e.fmt(f),
            RunError::Exec(e) => e.fmt(f),
            RunError::Supervisor(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for RunError {}

impl From<PolicyError> for RunError {
    fn from(e: PolicyError) -> Self {
        RunError::Policy(e)
    }
}

impl From<SetupError> for RunError {
    fn from(e: SetupError) -> Self {
        RunError::Setup(e)
    }
}

impl From<ExecError> for RunError {
    fn from(e: ExecError) -> Self {
        RunError::Exec(e)
    }
}

impl From<SupervisorError> for RunError {
    fn from(e: SupervisorError) -> Self {
        RunError::Supervisor(e)
    }
}
