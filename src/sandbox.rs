//! The library API: `Sandbox::builder()...build()?`, then `spawn()` or `run()`.
//!
//! The builder fills a [`Spec`] with typed values, as the CLI does from its flags, and
//! judges it through [`Policy::new`], so a library user and `sandlet run` get the same
//! checks and the same confinement.
//!
//! ```no_run
//! use std::time::Duration;
//! let sandbox = sandlet::Sandbox::builder()
//!     .command(["/bin/sh", "-c", "echo hello"])
//!     .net_allow("tcp://127.0.0.1:8080".parse()?)
//!     .net_allow_bind("9000-9005".parse()?)
//!     .max_processes(10)
//!     .max_memory(64 << 20)
//!     .timeout(Duration::from_secs(5))
//!     .build()?;
//! let child = sandbox.spawn()?;
//! println!("running as pid {}", child.pid());
//! let report = child.wait()?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::ffi::OsString;
use std::path::Path;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime};

use rustix::process::{Pid, Signal};

use crate::error::{PolicyError, RunError, SetupError};
use crate::launch::RunReport;
use crate::policy::net::NetSpec;
use crate::policy::parse::PortSet;
use crate::policy::protection::Protection;
use crate::policy::syscalls::{Group, Syscalls};
use crate::policy::{Policy, Spec};
use crate::supervisor::ForkControl;

/// A validated sandbox configuration, ready to start a command.
#[derive(Debug, Clone)]
pub struct Sandbox {
    policy: Policy,
}

/// Fills a [`Spec`] with typed values, one method per knob; `build` judges it.
#[derive(Debug, Default)]
pub struct SandboxBuilder {
    spec: Spec,
    policy_fn: Option<crate::dynamic::PolicyFn>,
}

impl SandboxBuilder {
    /// Starts from `spec` (a description made elsewhere) instead of an empty one.
    pub fn from_spec(spec: Spec) -> Self {
        SandboxBuilder {
            spec,
            policy_fn: None,
        }
    }
    /// The command and its arguments.
    pub fn command<I, S>(mut self, argv: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        self.spec.command = argv.into_iter().map(Into::into).collect();
        self
    }
    /// Allow reading and executing beneath `path` (`-r`).
    pub fn fs_read(mut self, path: impl AsRef<Path>) -> Self {
        self.spec.fs_read.push(path.as_ref().to_owned());
        self
    }
    /// Allow reading, writing, creating and removing beneath `path` (`-w`).
    pub fn fs_write(mut self, path: impl AsRef<Path>) -> Self {
        self.spec.fs_write.push(path.as_ref().to_owned());
        self
    }
    /// Leave /dev/null, /dev/zero and /dev/full out of the rules (`--no-default-devices`).
    pub fn no_default_devices(mut self) -> Self {
        self.spec.no_default_devices = true;
        self
    }
    /// Working directory of the command.
    pub fn cwd(mut self, path: impl AsRef<Path>) -> Self {
        self.spec.cwd = Some(path.as_ref().to_owned());
        self
    }
    /// Start from an empty environment.
    pub fn clean_env(mut self) -> Self {
        self.spec.clean_env = true;
        self
    }
    /// Set an environment variable.
    pub fn env(mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> Self {
        self.spec.env.push((key.into(), value.into()));
        self
    }
    /// Kill the sandbox after `after`.
    pub fn timeout(mut self, after: Duration) -> Self {
        self.spec.timeout = Some(after);
        self
    }
    /// At most `n` live or unreaped processes (default 64).
    pub fn max_processes(mut self, n: u32) -> Self {
        self.spec.max_processes = Some(n);
        self
    }
    /// Limit anonymous memory to `bytes`.
    pub fn max_memory(mut self, bytes: u64) -> Self {
        self.spec.max_memory = Some(bytes);
        self
    }
    /// Kill the sandbox instead of refusing allocations at the memory limit.
    pub fn memory_kill(mut self) -> Self {
        self.spec.memory_kill = true;
        self
    }
    /// Supervisor worker threads (default 2).
    pub fn workers(mut self, n: usize) -> Self {
        self.spec.workers = Some(n);
        self
    }
    /// Ports the command may bind (`--net-allow-bind`; `"8080,9000-9005".parse()`).
    pub fn net_allow_bind(mut self, ports: PortSet) -> Self {
        let all = self.spec.net_allow_bind.take().unwrap_or_default();
        self.spec.net_allow_bind = Some(all.union(ports));
        self
    }
    /// Allow connections/datagrams matching `rule` (`--net-allow`;
    /// `"tcp://127.0.0.1:8080".parse()`).
    pub fn net_allow(mut self, rule: NetSpec) -> Self {
        self.spec.net_allow.push(rule);
        self
    }
    /// Allow TCP and UDP except to what `rule` matches (`--net-deny`).
    pub fn net_deny(mut self, rule: NetSpec) -> Self {
        self.spec.net_deny.push(rule);
        self
    }
    /// Ports the command may not bind (`--net-deny-bind`).
    pub fn net_deny_bind(mut self, ports: PortSet) -> Self {
        let all = std::mem::take(&mut self.spec.net_deny_bind);
        self.spec.net_deny_bind = all.union(ports);
        self
    }
    /// The sandbox's name, its hostname inside (`--name`).
    pub fn name(mut self, name: &str) -> Self {
        self.spec.name = Some(name.to_owned());
        self
    }
    /// RLIMIT_CORE = 0 (`--no-coredump`).
    pub fn no_coredump(mut self) -> Self {
        self.spec.no_coredump = true;
        self
    }
    /// Disable address-space randomization (`--no-randomize-memory`).
    pub fn no_randomize_memory(mut self) -> Self {
        self.spec.no_randomize_memory = true;
        self
    }
    /// Disable transparent huge pages (`--no-huge-pages`).
    pub fn no_huge_pages(mut self) -> Self {
        self.spec.no_huge_pages = true;
        self
    }
    /// Decide each network event (connect, datagram send, bind) that the static rules
    /// allow, at run time; see [`crate::dynamic`].
    pub fn policy_fn(
        mut self,
        f: impl Fn(&crate::dynamic::Event, &mut crate::dynamic::PolicyCtx) -> crate::dynamic::Verdict
            + Send
            + Sync
            + 'static,
    ) -> Self {
        self.policy_fn = Some(crate::dynamic::PolicyFn::new(f));
        self
    }
    /// Ask PROGRAM about each event (`--policy-exec`).
    pub fn policy_exec(mut self, program: &str) -> Self {
        self.spec.policy_exec = Some(program.to_owned());
        self
    }
    /// How long to wait for the program's verdict (`--policy-timeout`).
    pub fn policy_timeout(mut self, timeout: Duration) -> Self {
        self.spec.policy_timeout = Some(timeout);
        self
    }
    /// Refuse execs matching `glob` (`--deny-exec`).
    pub fn deny_exec(mut self, glob: &str) -> Self {
        self.spec.deny_exec.push(glob.to_owned());
        self
    }
    /// Seed the command's randomness (`--random-seed`).
    pub fn random_seed(mut self, seed: u64) -> Self {
        self.spec.random_seed = Some(seed);
        self
    }
    /// Start the command's wall clock at `at` (`--time-start`).
    pub fn time_start(mut self, at: SystemTime) -> Self {
        self.spec.time_start = Some(at);
        self
    }
    /// Show the command `n` CPUs (`--num-cpus`).
    pub fn num_cpus(mut self, n: u32) -> Self {
        self.spec.num_cpus = Some(n);
        self
    }
    /// Run the command on these CPUs only (`--cpu-cores`).
    pub fn cpu_cores(mut self, cpus: impl IntoIterator<Item = usize>) -> Self {
        self.spec.cpu_cores = Some(cpus.into_iter().collect());
        self
    }
    /// Limit the sandbox to `percent` of one CPU (`-c`).
    pub fn cpu_percent(mut self, percent: u8) -> Self {
        self.spec.cpu_percent = Some(percent);
        self
    }
    /// List directories sorted by name (`--deterministic-dirs`).
    pub fn deterministic_dirs(mut self) -> Self {
        self.spec.deterministic_dirs = true;
        self
    }
    /// Give the command its own port space (`--port-remap`).
    pub fn port_remap(mut self) -> Self {
        self.spec.port_remap = true;
        self
    }
    /// Also deny this syscall or group (`--extra-deny-syscall`; `"getpid".parse()`).
    pub fn extra_deny_syscall(mut self, syscalls: Syscalls) -> Self {
        self.spec.extra_deny_syscalls.push(syscalls);
        self
    }
    /// Allow back a group denied by default (`--extra-allow-syscall`;
    /// [`crate::policy::syscalls::group`]).
    pub fn extra_allow_syscall(mut self, group: &'static Group) -> Self {
        self.spec.extra_allow_groups.push(group);
        self
    }
    /// Accept running without this Landlock protection on an older kernel.
    pub fn allow_degraded(mut self, protection: Protection) -> Self {
        self.spec.allow_degraded.push(protection);
        self
    }
    /// Limit open files (RLIMIT_NOFILE).
    pub fn max_open_files(mut self, n: u64) -> Self {
        self.spec.max_open_files = Some(n);
        self
    }
    /// Keep capabilities when running as root.
    pub fn keep_caps(mut self) -> Self {
        self.spec.keep_caps = true;
        self
    }
    /// Run without the seccomp user-notification supervisor.
    pub fn no_supervisor(mut self) -> Self {
        self.spec.no_supervisor = true;
        self
    }
    /// The description so far.
    /// `--workdir`: a copy-on-write view of `dir` (committed when the command exits 0).
    pub fn workdir(mut self, dir: impl AsRef<Path>) -> Self {
        self.spec.view.workdir = Some(dir.as_ref().to_owned());
        self
    }

    /// `--fs-storage`: where the view's upper layers are made.
    pub fn fs_storage(mut self, dir: impl AsRef<Path>) -> Self {
        self.spec.view.storage = Some(dir.as_ref().to_owned());
        self
    }

    /// `--image`: a copy-on-write root over a local container image (an OCI layout or
    /// archive, or a `docker save` tarball, optionally `PATH:TAG`).
    pub fn image(mut self, reference: &str) -> Self {
        self.spec.view.image = Some(reference.to_owned());
        self
    }

    /// `--chroot`: `dir` is `/` for the command.
    pub fn chroot(mut self, dir: impl AsRef<Path>) -> Self {
        self.spec.view.chroot = Some(dir.as_ref().to_owned());
        self
    }

    pub fn spec(&self) -> &Spec {
        &self.spec
    }
    /// Judges the settings ([`Policy::new`]: the same checks as `sandlet run`).
    pub fn build(self) -> Result<Sandbox, PolicyError> {
        let policy = Policy::new(self.spec)?;
        let policy = match self.policy_fn {
            Some(f) => policy.with_policy_fn(f)?,
            None => policy,
        };
        Ok(Sandbox { policy })
    }
}

impl Sandbox {
    pub fn builder() -> SandboxBuilder {
        SandboxBuilder::default()
    }

    /// A sandbox for an already validated policy (what `sandlet run` builds).
    pub fn from_policy(policy: Policy) -> Sandbox {
        Sandbox { policy }
    }

    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Starts the command and returns once it runs. The sandbox is supervised by a
    /// thread of this process; only its process group is killed at the end (orphans
    /// that left it are not tracked in library use).
    pub fn spawn(&self) -> Result<Child, RunError> {
        let policy = self.policy.clone();
        let (tx, rx) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("sandlet-supervisor".into())
            .spawn(move || {
                let started_tx = tx.clone();
                let result = crate::launch::launch(&policy, None, move |pid, control| {
                    let _ = started_tx.send(Ok((pid, control)));
                });
                match result {
                    Ok(report) => Some(Ok(report)),
                    // Not started yet: the error goes to `spawn`'s caller.
                    Err(e) => match tx.send(Err(e)) {
                        Ok(()) => None,
                        Err(mpsc::SendError(Err(e))) => Some(Err(e)),
                        Err(mpsc::SendError(Ok(_))) => None,
                    },
                }
            })
            .map_err(|source| SetupError::Step {
                step: "start the supervisor thread",
                source,
            })?;
        match rx.recv() {
            Ok(Ok((pid, control))) => Ok(Child {
                pid,
                control,
                thread,
            }),
            Ok(Err(e)) => {
                let _ = thread.join();
                Err(e)
            }
            Err(_) => Err(SetupError::Step {
                step: "start the sandbox",
                source: std::io::Error::from_raw_os_error(libc::ECHILD),
            }
            .into()),
        }
    }

    /// Runs the command to completion as the CLI does (subreaper, signal forwarding).
    pub fn run(&self) -> Result<RunReport, RunError> {
        crate::launch::run(&self.policy)
    }
}

/// A running sandbox.
#[derive(Debug)]
pub struct Child {
    pid: Pid,
    control: Option<ForkControl>,
    thread: JoinHandle<Option<Result<RunReport, RunError>>>,
}

impl Child {
    /// The command's pid, also the sandbox's process-group id.
    pub fn pid(&self) -> i32 {
        self.pid.as_raw_nonzero().get()
    }

    /// Kills every process of the sandbox's process group.
    pub fn kill(&self) {
        let _ = rustix::process::kill_process_group(self.pid, Signal::KILL);
    }

    /// Holds new processes (fork/clone/vfork block) until [`Child::resume_forks`].
    /// No effect without the supervisor.
    pub fn pause_forks(&self) {
        if let Some(c) = &self.control {
            c.pause_forks();
        }
    }

    /// Lets held forks proceed (each is admitted against the process limit).
    pub fn resume_forks(&self) {
        if let Some(c) = &self.control {
            c.resume_forks();
        }
    }

    /// Forks currently held by [`Child::pause_forks`].
    pub fn parked_forks(&self) -> usize {
        self.control.as_ref().map_or(0, ForkControl::parked_forks)
    }

    /// Waits until the sandbox is gone.
    pub fn wait(self) -> Result<RunReport, RunError> {
        match self.thread.join() {
            Ok(Some(result)) => result,
            _ => Err(SetupError::Step {
                step: "supervisor thread",
                source: std::io::Error::from_raw_os_error(libc::EIO),
            }
            .into()),
        }
    }
}
