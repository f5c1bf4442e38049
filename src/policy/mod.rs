//! `Policy`: everything a run needs, validated and immutable, built from a [`Spec`] by
//! [`Policy::new`], the one place where a sandbox description is judged. A `Policy` that
//! exists is valid.
//!
//! Files: [`spec`] (the typed description producers fill), [`parse`] and [`net`] (pure
//! parsers producers use), [`fs`] (filesystem rules), [`network`] (network rules),
//! [`supervision`] (supervisor knobs, dynamic policy), [`syscalls`] (deny list),
//! [`served`] (virtual files), [`protection`] (Landlock protections), [`traps`] (which
//! syscalls go to the supervisor).

pub mod fs;
pub mod net;
pub mod network;
pub mod parse;
pub mod protection;
pub mod root;
pub mod served;
pub mod spec;
pub mod supervision;
pub mod syscalls;
pub mod traps;
pub mod view;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::PolicyError;
pub use fs::{carved_dirs, landlock_rules, list_dir, FsAccess, FsRule, PROC};
pub use network::NetPolicy;
use parse::{ParseError, PortSet};
use protection::Protection;
pub use spec::Spec;
pub use supervision::{DynamicPolicy, MemoryLimit, SupervisorPolicy};

/// Longest `--timeout`: far beyond any sensible run, far below overflow.
const MAX_TIMEOUT: Duration = Duration::from_secs(366 * 24 * 3600);

/// A validated, immutable sandbox policy.
#[derive(Debug, Clone)]
pub struct Policy {
    /// Landlock filesystem rules (the built-in default when no -r/-w was given).
    pub fs: Vec<FsRule>,
    pub cwd: Option<PathBuf>,
    /// The command's complete environment.
    pub env: Vec<(OsString, OsString)>,
    pub timeout: Option<Duration>,
    pub max_open_files: Option<u64>,
    pub no_coredump: bool,
    pub no_randomize_memory: bool,
    pub no_huge_pages: bool,
    /// TCP ports the command may bind (before `net.deny_bind`).
    pub bind_ports: PortSet,
    pub net: NetPolicy,
    /// Syscall numbers refused with EPERM (sorted, unique).
    pub deny_syscalls: Vec<u32>,
    pub allow_degraded: Vec<Protection>,
    pub keep_caps: bool,
    /// `--cpu-cores`: the CPUs the command runs on (sorted; all available ones).
    pub cpu_cores: Option<Vec<usize>>,
    /// `-c`: the sandbox's share of one CPU, in percent.
    pub cpu_percent: Option<u8>,
    /// The command may read /proc and the supervisor serves it: /proc is kept out of the
    /// Landlock rules (see [`landlock_rules`]) and every open beneath it is made on the
    /// command's behalf, hiding processes outside the sandbox.
    pub proc_view: bool,
    /// `None` with `--no-supervisor`.
    pub supervisor: Option<SupervisorPolicy>,
    /// Files served instead of the host's (empty without the supervisor).
    pub served: Vec<served::Served>,
    /// A dynamic policy deciding each network and exec event (needs the supervisor).
    pub dynamic: Option<DynamicPolicy>,
    /// `--deny-exec` globs.
    pub deny_exec: Vec<String>,
    /// The copy-on-write view of a directory (`--workdir`), when asked for.
    pub view: Option<view::View>,
    /// `--fs-deny` paths (mounted over in the command's mount namespace).
    pub fs_deny: Vec<view::Denied>,
    /// `--fs-mount`s (bound in the command's mount namespace).
    pub fs_mounts: Vec<view::Mounted>,
    /// `--chroot`: the new root.
    pub root: Option<root::Root>,
    /// The user the command runs as, when not sandlet's (an OCI `process.user`).
    pub user: Option<spec::RunAs>,
    /// The command and its arguments; never empty.
    pub command: Vec<OsString>,
    /// `--status-fd`: an open descriptor of sandlet's for lifecycle events.
    pub status_fd: Option<i32>,
    /// `sandlet learn`: every path the command uses is recorded.
    pub learn: bool,
}

fn bad(flag: &'static str, value: impl ToString, why: impl Into<String>) -> PolicyError {
    PolicyError::BadValue {
        flag,
        value: value.to_string(),
        source: ParseError(why.into()),
    }
}

/// `spec` with `--image REF` turned into what it means: the image (unpacked into the
/// cache when not there yet) as a copy-on-write `--chroot` whose changes are never
/// committed, its command, environment and working directory where `spec` has none.
fn with_image(mut spec: Spec, reference: &str) -> Result<Spec, PolicyError> {
    for (given, flag) in [
        (spec.view.chroot.is_some(), "--chroot"),
        (spec.view.workdir.is_some(), "--workdir"),
    ] {
        if given {
            return Err(PolicyError::Conflict {
                flag: "--image",
                other: flag,
            });
        }
    }
    for (finish, flag) in [
        (spec.view.on_exit, "--on-exit"),
        (spec.view.on_error, "--on-error"),
    ] {
        if finish == Some(view::Finish::Commit) {
            return Err(bad(
                flag,
                "commit",
                "with --image, the changes cannot be committed into the image",
            ));
        }
    }
    let image =
        crate::image::oci::open(reference, &crate::image::oci::cache_dir()).map_err(|e| {
            PolicyError::Image {
                reference: reference.to_owned(),
                why: e.to_string(),
            }
        })?;
    if let Some(user) = &image.user {
        log::warn!("the image's User '{user}' is not applied: the command runs as the caller");
    }
    spec.view.chroot = Some(image.rootfs.clone());
    spec.view.workdir = Some(image.rootfs);
    spec.view.on_exit.get_or_insert(view::Finish::Abort);
    spec.view.on_error.get_or_insert(view::Finish::Abort);
    if spec.command.is_empty() {
        spec.command = image.command.into_iter().map(OsString::from).collect();
    }
    if spec.cwd.is_none() {
        spec.cwd = image.cwd.map(PathBuf::from);
    }
    let given = std::mem::take(&mut spec.env);
    spec.env = image
        .env
        .into_iter()
        .map(|(k, v)| (OsString::from(k), OsString::from(v)))
        .chain(given)
        .collect();
    spec.clean_env = true;
    Ok(spec)
}

/// `path` when it exists: on the host, or under `--chroot` in the new root (where it is
/// taken from `/` when relative).
fn existing_path(
    flag: &'static str,
    path: &Path,
    root: Option<&root::Root>,
) -> Result<PathBuf, PolicyError> {
    let (path, found) = match root {
        Some(root) => {
            let path = root::lexical(path);
            let found = root.place(&path).map(drop);
            (path, found)
        }
        None => (path.to_owned(), std::fs::metadata(path).map(drop)),
    };
    match found {
        Ok(()) => Ok(path),
        Err(source) => Err(PolicyError::BadPath { flag, path, source }),
    }
}

const NEEDS_SUPERVISOR: &str = "the supervisor (drop --no-supervisor)";

impl Policy {
    /// Judges `spec`: every cross-field rule, every range, and what depends on this
    /// machine (paths exist, host names pinned from /etc/hosts, CPUs available, the
    /// environment when not clean). Runs nothing.
    pub fn new(spec: Spec) -> Result<Policy, PolicyError> {
        let spec = match &spec.view.image {
            Some(reference) => with_image(spec.clone(), reference)?,
            None => spec,
        };
        if spec.command.is_empty() || spec.command[0].is_empty() {
            return Err(PolicyError::NoCommand);
        }

        let root = match (&spec.view.chroot, &spec.view.terminal) {
            (Some(dir), None) => Some(root::Root::new(dir)?),
            (Some(dir), Some(tty)) => Some(root::Root::new(dir)?.with_terminal(tty)?),
            (None, Some(_)) => {
                return Err(PolicyError::Requires {
                    flag: "a terminal in /dev",
                    needs: "--chroot",
                })
            }
            (None, None) => None,
        };
        let root = match root {
            Some(mut r) => {
                for (at, options) in &spec.view.tmpfs {
                    r = r.with_tmpfs(at, options)?;
                }
                r.sysfs = spec.view.sysfs;
                Some(r)
            }
            None if !spec.view.tmpfs.is_empty() || spec.view.sysfs => {
                return Err(PolicyError::Requires {
                    flag: "tmpfs and sysfs mounts",
                    needs: "--chroot",
                })
            }
            None => None,
        };
        let exists = |p: &Path| match &root {
            Some(root) => root.exists(p),
            None => p.exists(),
        };
        let mut fs = Vec::new();
        for (paths, flag, access) in [
            (&spec.fs_read, "--fs-read", FsAccess::Read),
            (&spec.fs_write, "--fs-write", FsAccess::Write),
        ] {
            for path in paths {
                let path = existing_path(flag, path, root.as_ref())?;
                fs.push(FsRule { path, access });
            }
        }
        if fs.is_empty() {
            fs = fs::default_fs(&exists);
            if spec.no_default_devices {
                fs.retain(|r| !fs::ALWAYS_WRITE.iter().any(|d| r.path == Path::new(d)));
            }
        } else if !spec.no_default_devices {
            let devices = fs::default_devices(&fs, &exists);
            fs.extend(devices);
        }

        let cwd = match &spec.cwd {
            Some(path) => {
                let path = existing_path("--cwd", path, root.as_ref())?;
                let dir = match &root {
                    Some(root) => match root.place(&path) {
                        Ok(root::Place::Tree(host) | root::Place::Proc(host)) => host.is_dir(),
                        Ok(root::Place::Dev(host)) => host == Path::new("/dev"),
                        Ok(root::Place::Tmp) => true,
                        Err(_) => false,
                    },
                    None => path.is_dir(),
                };
                if !dir {
                    return Err(PolicyError::NotADirectory { path });
                }
                Some(path)
            }
            None => None,
        };

        let env = environment(&spec)?;

        if let Some(t) = spec.timeout {
            if t.is_zero() || t > MAX_TIMEOUT {
                return Err(bad(
                    "--timeout",
                    format!("{}s", parse::format_secs(t)),
                    "must be greater than zero and at most a year",
                ));
            }
        }

        let deny_bind = spec.net_deny_bind.clone();
        let bind_ports = match &spec.net_allow_bind {
            Some(ports) => ports.clone(),
            // Denying some ports means every other port may be bound.
            None if deny_bind != PortSet::None => PortSet::Any,
            None => PortSet::None,
        };
        let hosts = std::fs::read_to_string("/etc/hosts").unwrap_or_default();
        let net = network::net_policy(
            &spec.net_allow,
            &spec.net_deny,
            deny_bind,
            spec.port_remap,
            &hosts,
        )?;

        let deny_syscalls =
            syscalls::deny_list(&spec.extra_deny_syscalls, &spec.extra_allow_groups);
        let account_shm =
            crate::seccomp::names::number("shmget").is_some_and(|nr| !deny_syscalls.contains(&nr));

        let mut allow_degraded = Vec::new();
        for &p in &spec.allow_degraded {
            if !allow_degraded.contains(&p) {
                allow_degraded.push(p);
            }
        }

        let supervisor = supervision::supervisor_policy(&spec, account_shm)?;
        let cpu_cores = match &spec.cpu_cores {
            Some(cores) => Some(cpu_cores(cores)?),
            None => None,
        };
        if let Some(n) = supervisor.as_ref().and_then(|s| s.num_cpus) {
            let usable = cpu_cores
                .as_ref()
                .map_or_else(|| available_cpus().len(), Vec::len);
            if n as usize > usable {
                return Err(bad(
                    "--num-cpus",
                    n,
                    format!("only {usable} CPUs are available to the command"),
                ));
            }
        }
        if let Some(pct) = spec.cpu_percent {
            if !(1..=100).contains(&pct) {
                return Err(bad("--cpu", pct, "must be between 1 and 100"));
            }
        }
        if supervisor.is_none() {
            if net.trap_connect() {
                return Err(PolicyError::Requires {
                    flag: "--net-allow with addresses, or --net-deny,",
                    needs: NEEDS_SUPERVISOR,
                });
            }
            if net.trap_bind() {
                return Err(PolicyError::Requires {
                    flag: "--net-deny-bind",
                    needs: NEEDS_SUPERVISOR,
                });
            }
        }

        if spec.learn && supervisor.is_none() {
            return Err(PolicyError::Requires {
                flag: "sandlet learn",
                needs: NEEDS_SUPERVISOR,
            });
        }
        if let Some(fd) = spec.status_fd {
            if crate::sys::dup_raw(fd).is_err() {
                return Err(bad(
                    "--status-fd",
                    fd,
                    "is not an open descriptor of sandlet's",
                ));
            }
        }
        let proc_view =
            supervisor.is_some() && fs.iter().any(|r| Path::new(PROC).starts_with(&r.path));
        let dynamic = supervision::dynamic_policy(&spec, supervisor.is_some())?;
        for rule in &spec.deny_exec {
            if supervisor.is_none() {
                return Err(PolicyError::Requires {
                    flag: "--deny-exec",
                    needs: NEEDS_SUPERVISOR,
                });
            }
            if rule.is_empty() {
                return Err(bad("--deny-exec", rule, "the pattern is empty"));
            }
        }
        let served = match &supervisor {
            Some(s) => {
                let uname = rustix::system::uname();
                let host = served::Host {
                    hosts: &hosts,
                    name: &uname.nodename().to_string_lossy(),
                };
                served::served_files(
                    s.name.as_deref(),
                    &fs,
                    &net,
                    s.num_cpus,
                    s.random_seed.is_some(),
                    host,
                )
            }
            None => Vec::new(),
        };
        let view = view::View::new(&spec.view, rustix::process::getuid().as_raw())?;
        if let (Some(v), Some(r)) = (&view, &root) {
            if !v.workdir.starts_with(&r.dir) {
                return Err(bad(
                    "--workdir",
                    v.workdir.display(),
                    "with --chroot, must be the root directory or beneath it",
                ));
            }
        }
        let here = match &cwd {
            Some(c) => c.clone(),
            None => std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/")),
        };
        let me = (
            rustix::process::geteuid().as_raw(),
            rustix::process::getegid().as_raw(),
        );
        let user = match &spec.user {
            Some(u) if (u.uid, u.gid) == me && u.groups.is_empty() => None,
            Some(u) if me.0 != 0 => {
                return Err(PolicyError::Unsupported {
                    flag: "process.user",
                    value: format!("{}:{}", u.uid, u.gid),
                    why: "switching to another user needs sandlet to run as root",
                })
            }
            other => other.clone(),
        };
        let fs_deny = view::denied(&spec.view.deny, &here, root.as_ref())?;
        let fs_mounts = view::mounts(&spec.view.mounts, &here, root.as_ref())?;
        Ok(Policy {
            fs,
            cwd,
            env,
            timeout: spec.timeout,
            max_open_files: spec.max_open_files,
            no_coredump: spec.no_coredump,
            no_randomize_memory: spec.no_randomize_memory,
            no_huge_pages: spec.no_huge_pages,
            bind_ports,
            net,
            deny_syscalls,
            allow_degraded,
            keep_caps: spec.keep_caps,
            cpu_cores,
            cpu_percent: spec.cpu_percent,
            proc_view,
            served,
            dynamic,
            deny_exec: spec.deny_exec,
            supervisor,
            view,
            fs_deny,
            fs_mounts,
            root,
            user,
            command: spec.command,
            status_fd: spec.status_fd,
            learn: spec.learn,
        })
    }

    /// This policy with `f` deciding network events (the library's `policy_fn`).
    pub fn with_policy_fn(mut self, f: crate::dynamic::PolicyFn) -> Result<Policy, PolicyError> {
        if self.supervisor.is_none() {
            return Err(PolicyError::Requires {
                flag: "a dynamic policy",
                needs: NEEDS_SUPERVISOR,
            });
        }
        if self.dynamic.is_some() {
            return Err(PolicyError::Conflict {
                flag: "policy_fn",
                other: "--policy-exec",
            });
        }
        self.dynamic = Some(DynamicPolicy::Callback(f));
        Ok(self)
    }

    /// Whether a rule covers `path` (so the command could open it itself).
    pub fn reads(&self, path: &str) -> bool {
        fs::covers(&self.fs, path)
    }
}

/// The command's environment: sandlet's (unless `clean_env`) with `spec.env` on top.
fn environment(spec: &Spec) -> Result<Vec<(OsString, OsString)>, PolicyError> {
    use std::os::unix::ffi::OsStrExt;
    let mut env: Vec<(OsString, OsString)> = if spec.clean_env {
        Vec::new()
    } else {
        std::env::vars_os().collect()
    };
    for (key, value) in &spec.env {
        let shown = || format!("{}={}", key.to_string_lossy(), value.to_string_lossy());
        if key.is_empty() {
            return Err(bad("--env", shown(), "has an empty variable name"));
        }
        if key.as_bytes().contains(&b'=') {
            return Err(bad("--env", shown(), "the variable name contains '='"));
        }
        if key.as_bytes().contains(&0) || value.as_bytes().contains(&0) {
            return Err(bad(
                "--env",
                shown(),
                "an environment variable cannot contain a NUL byte",
            ));
        }
        env.retain(|(k, _)| k != key);
        env.push((key.clone(), value.clone()));
    }
    Ok(env)
}

/// `--cpu-cores`, sorted and unique, each one a CPU sandlet may run on.
fn cpu_cores(cores: &[usize]) -> Result<Vec<usize>, PolicyError> {
    let mut cores = cores.to_vec();
    parse::sort_unique(&mut cores);
    let available = available_cpus();
    if cores.is_empty() {
        return Err(bad("--cpu-cores", "", "the CPU list is empty"));
    }
    if let Some(c) = cores.iter().find(|c| !available.contains(c)) {
        return Err(bad(
            "--cpu-cores",
            cpu_list(&cores),
            format!(
                "CPU {c} is not one sandlet may run on ({})",
                cpu_list(&available)
            ),
        ));
    }
    Ok(cores)
}

/// The CPUs sandlet itself may run on.
pub fn available_cpus() -> Vec<usize> {
    match rustix::thread::sched_getaffinity(None) {
        Ok(set) => (0..rustix::thread::CpuSet::MAX_CPU)
            .filter(|&c| set.is_set(c))
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// `cpus` as a CPU list (`0-3,8`).
pub fn cpu_list(cpus: &[usize]) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut i = 0;
    while i < cpus.len() {
        let mut j = i;
        while j + 1 < cpus.len() && cpus[j + 1] == cpus[j] + 1 {
            j += 1;
        }
        parts.push(if i == j {
            cpus[i].to_string()
        } else {
            format!("{}-{}", cpus[i], cpus[j])
        });
        i = j + 1;
    }
    parts.join(",")
}

#[cfg(test)]
mod tests;
