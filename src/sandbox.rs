//! The library API: `Sandbox::builder()...build()?`, then `spawn()` or `run()`.
//!
//! The builder fills the same flag set the CLI parses and validates it through
//! [`Policy::new`], so a library user and `sandlet run` get the same checks and the same
//! confinement.
//!
//! ```no_run
//! use std::time::Duration;
//! let sandbox = sandlet::Sandbox::builder()
//!     .command(["/bin/sh", "-c", "echo hello"])
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
use std::time::Duration;

use rustix::process::{Pid, Signal};

use crate::cli::RunArgs;
use crate::error::{PolicyError, RunError, SetupError};
use crate::policy::Policy;
use crate::supervisor::ForkControl;
use crate::RunReport;

/// A validated sandbox configuration, ready to start a command.
#[derive(Debug, Clone)]
pub struct Sandbox {
    policy: Policy,
}

/// Collects the settings of a [`Sandbox`]; `build` validates them.
#[derive(Debug, Default)]
pub struct SandboxBuilder {
    args: RunArgs,
    command: Vec<OsString>,
    policy_fn: Option<crate::dynamic::PolicyFn>,
}

fn path_string(p: impl AsRef<Path>) -> String {
    p.as_ref().to_string_lossy().into_owned()
}

impl SandboxBuilder {
    /// The command and its arguments.
    pub fn command<I, S>(mut self, argv: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        self.command = argv.into_iter().map(Into::into).collect();
        self
    }
    /// Allow reading and executing beneath `path` (`-r`).
    pub fn fs_read(mut self, path: impl AsRef<Path>) -> Self {
        self.args.fs_read.push(path_string(path));
        self
    }
    /// Allow reading, writing, creating and removing beneath `path` (`-w`).
    pub fn fs_write(mut self, path: impl AsRef<Path>) -> Self {
        self.args.fs_write.push(path_string(path));
        self
    }
    /// Working directory of the command.
    pub fn cwd(mut self, path: impl AsRef<Path>) -> Self {
        self.args.cwd = Some(path_string(path));
        self
    }
    /// Start from an empty environment.
    pub fn clean_env(mut self) -> Self {
        self.args.clean_env = true;
        self
    }
    /// Set an environment variable.
    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.args.env.push(format!("{key}={value}"));
        self
    }
    /// Kill the sandbox after `after`.
    pub fn timeout(mut self, after: Duration) -> Self {
        self.args.timeout = Some(format!("{}ms", after.as_secs_f64() * 1000.0));
        self
    }
    /// At most `n` live or unreaped processes (default 64).
    pub fn max_processes(mut self, n: u32) -> Self {
        self.args.max_processes = Some(n.to_string());
        self
    }
    /// Limit anonymous memory to `bytes`.
    pub fn max_memory(mut self, bytes: u64) -> Self {
        self.args.max_memory = Some(bytes.to_string());
        self
    }
    /// Kill the sandbox instead of refusing allocations at the memory limit.
    pub fn memory_kill(mut self) -> Self {
        self.args.memory_kill = true;
        self
    }
    /// Supervisor worker threads (default 2).
    pub fn workers(mut self, n: usize) -> Self {
        self.args.workers = Some(n.to_string());
        self
    }
    /// TCP ports the command may bind (`8080,9000-9005` or `*`).
    pub fn net_allow_bind(mut self, ports: &str) -> Self {
        self.args.net_allow_bind.push(ports.to_owned());
        self
    }
    /// Allow connections/datagrams matching `spec` (`--net-allow`).
    pub fn net_allow(mut self, spec: &str) -> Self {
        self.args.net_allow.push(spec.to_owned());
        self
    }
    /// Allow TCP and UDP except to what `spec` matches (`--net-deny`).
    pub fn net_deny(mut self, spec: &str) -> Self {
        self.args.net_deny.push(spec.to_owned());
        self
    }
    /// TCP ports the command may not bind (`--net-deny-bind`).
    pub fn net_deny_bind(mut self, ports: &str) -> Self {
        self.args.net_deny_bind.push(ports.to_owned());
        self
    }
    /// The sandbox's name, its hostname inside (`--name`).
    pub fn name(mut self, name: &str) -> Self {
        self.args.name = Some(name.to_owned());
        self
    }
    /// RLIMIT_CORE = 0 (`--no-coredump`).
    pub fn no_coredump(mut self) -> Self {
        self.args.no_coredump = true;
        self
    }
    /// Disable address-space randomization (`--no-randomize-memory`).
    pub fn no_randomize_memory(mut self) -> Self {
        self.args.no_randomize_memory = true;
        self
    }
    /// Disable transparent huge pages (`--no-huge-pages`).
    pub fn no_huge_pages(mut self) -> Self {
        self.args.no_huge_pages = true;
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
    /// Ask PROGRAM about each network event (`--policy-exec`).
    pub fn policy_exec(mut self, program: &str) -> Self {
        self.args.policy_exec = Some(program.to_owned());
        self
    }
    /// Seed the command's randomness (`--random-seed`).
    pub fn random_seed(mut self, seed: u64) -> Self {
        self.args.random_seed = Some(seed.to_string());
        self
    }
    /// Start the command's wall clock at `at`: RFC 3339 or seconds since 1970
    /// (`--time-start`).
    pub fn time_start(mut self, at: &str) -> Self {
        self.args.time_start = Some(at.to_owned());
        self
    }
    /// Show the command `n` CPUs (`--num-cpus`).
    pub fn num_cpus(mut self, n: u32) -> Self {
        self.args.num_cpus = Some(n.to_string());
        self
    }
    /// Run the command on these CPUs only, e.g. `0,2` or `0-3` (`--cpu-cores`).
    pub fn cpu_cores(mut self, list: &str) -> Self {
        self.args.cpu_cores = Some(list.to_owned());
        self
    }
    /// Limit the sandbox to `percent` of one CPU (`-c`).
    pub fn cpu_percent(mut self, percent: u8) -> Self {
        self.args.cpu = Some(percent.to_string());
        self
    }
    /// List directories sorted by name (`--deterministic-dirs`).
    pub fn deterministic_dirs(mut self) -> Self {
        self.args.deterministic_dirs = true;
        self
    }
    /// Give the command its own port space (`--port-remap`).
    pub fn port_remap(mut self) -> Self {
        self.args.port_remap = true;
        self
    }
    /// Also deny this syscall or group.
    pub fn extra_deny_syscall(mut self, name: &str) -> Self {
        self.args.extra_deny_syscall.push(name.to_owned());
        self
    }
    /// Allow back a group denied by default (`sysv_ipc`).
    pub fn extra_allow_syscall(mut self, group: &str) -> Self {
        self.args.extra_allow_syscall.push(group.to_owned());
        self
    }
    /// Accept running without this Landlock protection on an older kernel.
    pub fn allow_degraded(mut self, protection: &str) -> Self {
        self.args.allow_degraded.push(protection.to_owned());
        self
    }
    /// Limit open files (RLIMIT_NOFILE).
    pub fn max_open_files(mut self, n: u64) -> Self {
        self.args.max_open_files = Some(n.to_string());
        self
    }
    /// Keep capabilities when running as root.
    pub fn keep_caps(mut self) -> Self {
        self.args.keep_caps = true;
        self
    }
    /// Run without the seccomp user-notification supervisor.
    pub fn no_supervisor(mut self) -> Self {
        self.args.no_supervisor = true;
        self
    }
    /// Validates the settings.
    pub fn build(self) -> Result<Sandbox, PolicyError> {
        let policy = Policy::new(&self.args, self.command)?;
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
                let result = crate::launch(&policy, None, move |pid, control| {
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
        crate::run(&self.policy)
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
