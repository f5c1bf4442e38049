//! Parent side of the launch: resolve the executable, build every byte the child needs
//! (argv/envp, BPF program, Landlock ruleset, limits) before `fork`, then start it.

use std::ffi::{c_char, c_int, CString, OsStr, OsString};
use std::os::fd::{BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use log::debug;
use rustix::process::{getrlimit, Resource};

use crate::error::{ExecError, RunError, SetupError};
use crate::landlock;
use crate::policy::protection::Protection;
use crate::policy::root::{Place, Root};
use crate::policy::traps::Traps;
use crate::policy::Policy;
use crate::seccomp;
use crate::sys::SockFilter;

/// `execvp`'s search path when the command's environment has no PATH.
const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// One resource limit to set in the child: (resource, soft, hard).
pub type Rlimit = (c_int, u64, u64);

/// Everything the child needs, allocated before fork. The child only reads it.
pub struct ChildPlan {
    pub exe: CString,
    pub argv: Vec<*const c_char>,
    pub envp: Vec<*const c_char>,
    pub cwd: Option<CString>,
    pub rlimits: Vec<Rlimit>,
    /// RLIMIT_NOFILE (`--max-open-files`), set as the last step before exec: the setup
    /// itself needs descriptors (the seccomp listener), so any value works.
    pub open_files: Option<u64>,
    /// The persona to set (`None`: leave it).
    pub personality: Option<libc::c_ulong>,
    pub thp_disable: bool,
    /// The CPUs to run on (`--cpu-cores`).
    pub affinity: Option<rustix::thread::CpuSet>,
    /// Clear every capability set (and the bounding set when allowed).
    pub drop_caps: bool,
    /// sandlet holds CAP_SETPCAP, so it can empty the bounding set (root, normally).
    /// Without it the set stays, but no_new_privs keeps an exec from gaining anything.
    pub can_drop_bounding: bool,
    /// A standard fd on the terminal whose foreground group is sandlet's: the command
    /// gets the foreground, so it can read the terminal (a background group would get
    /// SIGTTIN and stop).
    pub terminal: Option<BorrowedFd<'static>>,
    pub landlock: Option<OwnedFd>,
    pub filter: Vec<SockFilter>,
    /// What the filter sends to the supervisor.
    pub traps: Traps,
    /// The filter traps syscalls: install it with a listener and hand that over.
    pub listener: bool,
    /// `sendmsg` is trapped, so a courier process outside the filter sends the
    /// listener (`child::Courier`).
    pub listener_by_courier: bool,
    /// sandlet's pid, compared with `getppid()` after PDEATHSIG is armed.
    pub parent: rustix::process::Pid,
    /// Owners of the strings `argv`/`envp` point into; they must outlive the child's exec.
    _strings: Vec<CString>,
    /// Protections the kernel lacked and the policy accepted.
    pub degraded: Vec<Protection>,
    /// The copy-on-write view to build first (`--workdir`).
    pub view: Option<crate::overlay::ViewPlan>,
    /// The user to switch to (uid, gid, supplementary groups).
    pub user: Option<(
        rustix::process::Uid,
        rustix::process::Gid,
        Vec<rustix::process::Gid>,
    )>,
}

fn cstring(bytes: &[u8], what: &'static str) -> Result<CString, SetupError> {
    CString::new(bytes).map_err(|_| SetupError::Step {
        step: what,
        source: std::io::Error::from_raw_os_error(libc::EINVAL),
    })
}

impl ChildPlan {
    /// Prepares the launch of `policy.command`, with `layer` for its view.
    pub fn new(
        policy: &Policy,
        layer: Option<&crate::overlay::Layer>,
    ) -> Result<ChildPlan, RunError> {
        let in_root = policy.root.as_ref().map(|r| {
            let cwd = policy.cwd.as_deref().unwrap_or(Path::new("/"));
            (r, cwd)
        });
        let exe = resolve(&policy.command[0], &policy.env, in_root)?;
        debug!("executable: {}", exe.display());
        let exe = cstring(exe.as_os_str().as_bytes(), "prepare executable path")?;

        let mut strings = Vec::new();
        let mut argv = Vec::new();
        for arg in &policy.command {
            let s = cstring(arg.as_bytes(), "prepare argv (NUL byte in an argument)")?;
            argv.push(s.as_ptr());
            strings.push(s);
        }
        argv.push(std::ptr::null());
        let mut envp = Vec::new();
        for (k, v) in &policy.env {
            let mut kv = k.as_bytes().to_vec();
            kv.push(b'=');
            kv.extend_from_slice(v.as_bytes());
            let s = cstring(&kv, "prepare environment (NUL byte in a variable)")?;
            envp.push(s.as_ptr());
            strings.push(s);
        }
        envp.push(std::ptr::null());

        let cwd = match &policy.cwd {
            Some(p) => Some(cstring(p.as_os_str().as_bytes(), "prepare --cwd")?),
            None => None,
        };

        let mut rlimits = Vec::new();
        let open_files = policy.max_open_files.map(|n| {
            let own = getrlimit(Resource::Nofile);
            let hard = own.maximum.unwrap_or(u64::MAX);
            if n > hard {
                log::warn!("--max-open-files clamped to sandlet's own hard limit {hard}");
            }
            n.min(hard)
        });
        if policy.no_coredump {
            rlimits.push((libc::RLIMIT_CORE as c_int, 0, 0));
        }

        let personality = if policy.no_randomize_memory {
            let current =
                crate::sys::personality(0xffff_ffff).map_err(|source| SetupError::Step {
                    step: "query personality",
                    source,
                })?;
            Some(current as libc::c_ulong | libc::ADDR_NO_RANDOMIZE as libc::c_ulong)
        } else {
            None
        };

        let ruleset = landlock::build(policy, landlock::abi())?;
        let namespaced = policy.view.is_some()
            || !policy.fs_deny.is_empty()
            || !policy.fs_mounts.is_empty()
            || policy.root.is_some();
        let view = if namespaced {
            let here = match &policy.cwd {
                Some(c) => c.clone(),
                None => std::env::current_dir().map_err(|source| SetupError::Step {
                    step: "find the working directory",
                    source,
                })?,
            };
            let overlay = policy.view.as_ref().zip(layer);
            let plan = crate::overlay::ViewPlan::new(
                overlay,
                &policy.fs_deny,
                &policy.fs_mounts,
                policy.root.as_ref(),
                &here,
                &ruleset.in_view,
            )
            .map_err(|source| SetupError::Step {
                step: "prepare the view (--workdir, --fs-deny, --fs-mount, --chroot)",
                source,
            })?;
            Some(plan)
        } else {
            None
        };
        let mut traps = Traps::for_policy(policy);
        // Handlers that act on the caller's descriptors take them with pidfd_getfd:
        // where it is refused (a container's seccomp profile), connects go to twins,
        // and anything else that needs it refuses at start, not per call.
        if (traps.take_fds() || traps.time) && !crate::sys::pidfd_getfd_available() {
            if traps.take_fds() {
                traps = traps.without_pidfd_getfd().ok_or(SetupError::Step {
                    step: crate::error::PIDFD_GETFD_STEP,
                    source: std::io::Error::from_raw_os_error(libc::EPERM),
                })?;
                log::warn!(
                    "pidfd_getfd is refused here: connects are made on new sockets \
                     (options set before connect are not carried over)"
                );
            }
            if traps.time {
                log::warn!(
                    "pidfd_getfd is refused here: under --time-start, a timerfd set to an \
                     absolute wall-clock deadline fails with EPERM"
                );
            }
        }
        let filter = seccomp::program(&policy.deny_syscalls, traps).map_err(SetupError::from)?;
        debug!("seccomp filter: {} instructions", filter.len());

        Ok(ChildPlan {
            exe,
            argv,
            envp,
            cwd,
            rlimits,
            open_files,
            personality,
            thp_disable: policy.no_huge_pages,
            affinity: policy.cpu_cores.as_ref().map(|cores| {
                let mut set = rustix::thread::CpuSet::new();
                for &c in cores {
                    set.set(c);
                }
                set
            }),
            drop_caps: !policy.keep_caps,
            can_drop_bounding: rustix::thread::capabilities(None)
                .is_ok_and(|c| c.effective.contains(rustix::thread::CapabilitySet::SETPCAP)),
            terminal: owned_terminal(),
            landlock: ruleset.fd,
            filter,
            traps,
            listener: traps.any(),
            listener_by_courier: traps.datagrams(),
            parent: rustix::process::getpid(),
            _strings: strings,
            degraded: ruleset.degraded,
            view,
            user: policy.user.as_ref().map(|u| {
                (
                    rustix::process::Uid::from_raw(u.uid),
                    rustix::process::Gid::from_raw(u.gid),
                    u.groups
                        .iter()
                        .map(|&g| rustix::process::Gid::from_raw(g))
                        .collect(),
                )
            }),
        })
    }
}

/// The first of stdin, stdout, stderr that is a terminal whose foreground process group
/// is sandlet's.
pub fn owned_terminal() -> Option<BorrowedFd<'static>> {
    [
        rustix::stdio::stdin(),
        rustix::stdio::stdout(),
        rustix::stdio::stderr(),
    ]
    .into_iter()
    .find(|&fd| {
        rustix::termios::isatty(fd)
            && rustix::termios::tcgetpgrp(fd).ok() == Some(rustix::process::getpgrp())
    })
}

/// What is at a candidate path for the executable.
enum Candidate {
    Executable,
    /// It exists but is a directory or has no execute bit.
    NotExecutable,
    /// Nothing we can see (missing, or a directory on the way we may not search).
    Absent(std::io::Error),
}

/// Looks at `path`; under `--chroot` (the root, and the command's working directory in
/// it) a path of the new root.
fn candidate(path: &Path, root: Option<(&Root, &Path)>) -> Candidate {
    let found = match root {
        Some((root, cwd)) => match root.place(&crate::policy::root::lexical(&cwd.join(path))) {
            Ok(Place::Tree(host) | Place::Proc(host) | Place::Dev(host)) => std::fs::metadata(host),
            Ok(Place::Tmp) => std::fs::metadata(std::env::temp_dir()),
            Err(e) => Err(e),
        },
        None => std::fs::metadata(path),
    };
    match found {
        Ok(meta) if !meta.is_dir() && meta.permissions().mode() & 0o111 != 0 => {
            Candidate::Executable
        }
        Ok(_) => Candidate::NotExecutable,
        Err(e) => Candidate::Absent(e),
    }
}

/// Finds the program to execute the way a shell would: a name with a slash is used as
/// is, otherwise the first executable match on the command's PATH. A name that exists
/// only as non-executable files is 126; one found nowhere (including behind PATH
/// directories we may not search) is 127.
pub fn resolve(
    command: &OsStr,
    env: &[(OsString, OsString)],
    root: Option<(&Root, &Path)>,
) -> Result<PathBuf, ExecError> {
    let shown = command.to_string_lossy().into_owned();
    let not_executable = |command: String| ExecError::NotExecutable {
        resolved: PathBuf::from(&command),
        command,
        hint: Some("no execute permission".into()),
        source: std::io::Error::from_raw_os_error(libc::EACCES),
    };
    if command.as_bytes().contains(&b'/') {
        let path = PathBuf::from(command);
        return match candidate(&path, root) {
            Candidate::Executable => Ok(path),
            Candidate::NotExecutable => Err(not_executable(shown)),
            Candidate::Absent(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Err(ExecError::NotFound { command: shown })
            }
            Candidate::Absent(source) => Err(ExecError::NotExecutable {
                resolved: path,
                command: shown,
                hint: None,
                source,
            }),
        };
    }
    let search: OsString = env
        .iter()
        .find(|(k, _)| k == "PATH")
        .map(|(_, v)| v.clone())
        .unwrap_or_else(|| DEFAULT_PATH.into());
    let mut seen_non_executable = false;
    for dir in search.as_bytes().split(|&b| b == b':') {
        let dir = if dir.is_empty() { b".".as_slice() } else { dir };
        let path = Path::new(OsStr::from_bytes(dir)).join(command);
        match candidate(&path, root) {
            Candidate::Executable => return Ok(path),
            Candidate::NotExecutable => seen_non_executable = true,
            Candidate::Absent(_) => {}
        }
    }
    if seen_non_executable {
        Err(not_executable(shown))
    } else {
        Err(ExecError::NotFound { command: shown })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_like_execvp() {
        let env = vec![("PATH".into(), "/nonexistent:/usr/bin:/bin".into())];
        let sh = resolve(OsStr::new("sh"), &env, None).unwrap();
        assert!(sh.ends_with("sh"));
        assert!(matches!(
            resolve(OsStr::new("no-such-command-xyz"), &env, None),
            Err(ExecError::NotFound { .. })
        ));
        assert!(matches!(
            resolve(OsStr::new("/etc/passwd"), &env, None),
            Err(ExecError::NotExecutable { .. })
        ));
        assert!(matches!(
            resolve(OsStr::new("/etc"), &env, None),
            Err(ExecError::NotExecutable { .. })
        ));
        assert!(matches!(
            resolve(OsStr::new("./no/such"), &env, None),
            Err(ExecError::NotFound { .. })
        ));
    }
}
