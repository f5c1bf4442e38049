//! What the seccomp user-notification supervisor enforces, and the dynamic policy it
//! asks: built from a [`Spec`] with the "X requires the supervisor" rules and the range
//! of each supervisor knob.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::parse::{self, ParseError};
use super::spec::Spec;
use crate::error::PolicyError;

/// Default `--max-processes`, as in sandlock.
pub const DEFAULT_MAX_PROCESSES: u32 = 64;
/// Default `--workers`.
pub const DEFAULT_WORKERS: usize = 2;
/// Most `--workers`.
pub const MAX_WORKERS: usize = 64;
/// Least `--max-memory`: smaller values are slips (`-m 1` for `-m 1G`); no program
/// starts with less (a dynamically linked one needs about 1M).
pub const MIN_MEMORY: u64 = 64 << 10;
/// Most `--num-cpus`.
pub const MAX_NUM_CPUS: u32 = 1024;
/// `--policy-timeout` when not given.
pub const DEFAULT_POLICY_TIMEOUT: Duration = Duration::from_millis(5000);
/// Longest `--policy-timeout`.
pub const MAX_POLICY_TIMEOUT: Duration = Duration::from_secs(3600);

/// The memory limit and what happens at it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryLimit {
    pub bytes: u64,
    /// Kill the sandbox instead of refusing the allocation (`--memory-kill`).
    pub kill: bool,
}

/// What the seccomp user-notification supervisor enforces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SupervisorPolicy {
    pub max_processes: u32,
    pub memory: Option<MemoryLimit>,
    /// `--name`: the sandbox's hostname for `uname`, `/etc/hostname` and `/etc/hosts`
    /// (`None`: the host's, and nothing of them is trapped).
    pub name: Option<String>,
    pub workers: usize,
    /// `shmget` is allowed (sysv_ipc) and so must be accounted.
    pub account_shm: bool,
    /// `--random-seed`: getrandom and /dev/urandom, /dev/random give this seed's stream.
    pub random_seed: Option<u64>,
    /// `--num-cpus`: how many CPUs the command sees.
    pub num_cpus: Option<u32>,
    /// `--deterministic-dirs`: getdents64 answers sorted by name.
    pub deterministic_dirs: bool,
    /// `--time-start`: the wall-clock instant the command starts at (ns since 1970).
    pub time_start: Option<i64>,
}

/// Who decides network events at run time.
#[derive(Debug, Clone)]
pub enum DynamicPolicy {
    /// A library callback (`SandboxBuilder::policy_fn`).
    Callback(crate::dynamic::PolicyFn),
    /// `--policy-exec PROGRAM`, with `--policy-timeout`.
    Program { program: String, timeout: Duration },
}

fn out_of_range(flag: &'static str, value: impl ToString, why: String) -> PolicyError {
    PolicyError::BadValue {
        flag,
        value: value.to_string(),
        source: ParseError(why),
    }
}

const NEEDS_SUPERVISOR: &str = "the supervisor (drop --no-supervisor)";

/// The supervisor's settings (`None` with `--no-supervisor`); `account_shm` says whether
/// `shmget` is allowed and so counts against the memory limit.
pub fn supervisor_policy(
    spec: &Spec,
    account_shm: bool,
) -> Result<Option<SupervisorPolicy>, PolicyError> {
    let requires = |flag: &'static str, needs: &'static str| PolicyError::Requires { flag, needs };
    if spec.memory_kill && spec.max_memory.is_none() {
        return Err(requires("--memory-kill", "--max-memory"));
    }
    if spec.no_supervisor {
        for (given, flag) in [
            (spec.max_processes.is_some(), "--max-processes"),
            (spec.max_memory.is_some(), "--max-memory"),
            (spec.workers.is_some(), "--workers"),
            (spec.name.is_some(), "--name"),
            (spec.port_remap, "--port-remap"),
            (spec.random_seed.is_some(), "--random-seed"),
            (spec.num_cpus.is_some(), "--num-cpus"),
            (spec.deterministic_dirs, "--deterministic-dirs"),
            (spec.time_start.is_some(), "--time-start"),
        ] {
            if given {
                return Err(requires(flag, NEEDS_SUPERVISOR));
            }
        }
        return Ok(None);
    }
    let max_processes = match spec.max_processes {
        Some(0) => {
            return Err(out_of_range(
                "--max-processes",
                0,
                format!("must be between 1 and {}", u32::MAX),
            ))
        }
        Some(n) => n,
        None => DEFAULT_MAX_PROCESSES,
    };
    let memory = match spec.max_memory {
        Some(bytes) if bytes < MIN_MEMORY => {
            return Err(out_of_range(
                "--max-memory",
                parse::format_size(bytes),
                format!(
                    "below the minimum of {} (a program needs more to start)",
                    parse::format_size(MIN_MEMORY)
                ),
            ))
        }
        Some(bytes) => Some(MemoryLimit {
            bytes,
            kill: spec.memory_kill,
        }),
        None => None,
    };
    let workers = match spec.workers {
        Some(n @ 1..=MAX_WORKERS) => n,
        Some(n) => {
            return Err(out_of_range(
                "--workers",
                n,
                format!("must be between 1 and {MAX_WORKERS}"),
            ))
        }
        None => DEFAULT_WORKERS,
    };
    let name = match &spec.name {
        Some(raw) => Some(
            parse::parse_name(raw).map_err(|source| PolicyError::BadValue {
                flag: "--name",
                value: raw.clone(),
                source,
            })?,
        ),
        None => None,
    };
    let num_cpus = match spec.num_cpus {
        Some(n @ 1..=MAX_NUM_CPUS) => Some(n),
        Some(n) => {
            return Err(out_of_range(
                "--num-cpus",
                n,
                format!("must be between 1 and {MAX_NUM_CPUS}"),
            ))
        }
        None => None,
    };
    let time_start = match spec.time_start {
        Some(at) => Some(time_start_ns(at)?),
        None => None,
    };
    Ok(Some(SupervisorPolicy {
        time_start,
        max_processes,
        memory,
        name,
        workers,
        account_shm,
        random_seed: spec.random_seed,
        num_cpus,
        deterministic_dirs: spec.deterministic_dirs,
    }))
}

/// `--time-start` as nanoseconds since 1970, where the vDSO patch exists.
fn time_start_ns(at: SystemTime) -> Result<i64, PolicyError> {
    let since = at.duration_since(UNIX_EPOCH).ok();
    let ns = since.and_then(|d| i64::try_from(d.as_nanos()).ok());
    let shown = || match since {
        Some(d) => format!("{}s after 1970", d.as_secs()),
        None => "before 1970".to_owned(),
    };
    // The clock must run on for a century without overflowing (i64 ns end in 2262).
    const CENTURY_NS: i64 = 100 * 366 * 24 * 3600 * 1_000_000_000;
    let Some(ns) = ns.filter(|ns| ns.checked_add(CENTURY_NS).is_some()) else {
        return Err(out_of_range(
            "--time-start",
            shown(),
            "the instant must be between 1970 and 2161 (the clock must run on for a century)"
                .into(),
        ));
    };
    if !cfg!(target_arch = "x86_64") {
        return Err(PolicyError::Unsupported {
            flag: "--time-start",
            value: shown(),
            why: "needs x86_64 (the vDSO patch is written for it)",
        });
    }
    Ok(ns)
}

/// `--policy-exec` / `--policy-timeout`.
pub fn dynamic_policy(spec: &Spec, supervised: bool) -> Result<Option<DynamicPolicy>, PolicyError> {
    let requires = |flag: &'static str, needs: &'static str| PolicyError::Requires { flag, needs };
    let Some(program) = &spec.policy_exec else {
        if spec.policy_timeout.is_some() {
            return Err(requires("--policy-timeout", "--policy-exec"));
        }
        return Ok(None);
    };
    if !supervised {
        return Err(requires("--policy-exec", NEEDS_SUPERVISOR));
    }
    if program.is_empty() {
        return Err(out_of_range(
            "--policy-exec",
            program,
            "the program name is empty".into(),
        ));
    }
    let timeout = match spec.policy_timeout {
        Some(t) if t >= Duration::from_millis(1) && t <= MAX_POLICY_TIMEOUT => t,
        Some(t) => {
            return Err(out_of_range(
                "--policy-timeout",
                t.as_millis(),
                format!(
                    "must be between 1 and {} ms",
                    MAX_POLICY_TIMEOUT.as_millis()
                ),
            ))
        }
        None => DEFAULT_POLICY_TIMEOUT,
    };
    Ok(Some(DynamicPolicy::Program {
        program: program_path(program)?,
        timeout,
    }))
}

/// The `--policy-exec` program as an absolute path: a path with a `/` as given, else a
/// file of that name in the working directory, else one found on `PATH`.
fn program_path(raw: &str) -> Result<String, PolicyError> {
    use std::os::unix::fs::PermissionsExt;
    let runnable = |p: &Path| {
        std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    let found = if raw.contains('/') {
        Some(PathBuf::from(raw))
    } else if Path::new(raw).is_file() {
        Some(Path::new(".").join(raw))
    } else {
        std::env::var_os("PATH").and_then(|path| {
            std::env::split_paths(&path)
                .map(|dir| dir.join(raw))
                .find(|c| runnable(c))
        })
    };
    let why = match &found {
        None => "not found (give a path, or a file in the working directory or on PATH)",
        Some(p) if !p.exists() => "no such file",
        Some(p) if !runnable(p) => "not an executable file",
        Some(_) => "",
    };
    match found.map(std::fs::canonicalize) {
        Some(Ok(p)) if why.is_empty() => Ok(p.to_string_lossy().into_owned()),
        Some(Err(e)) if why.is_empty() => Err(out_of_range("--policy-exec", raw, e.to_string())),
        _ => Err(out_of_range("--policy-exec", raw, why.into())),
    }
}
