//! `Spec`: the plain, typed description of a sandbox that every producer fills (the
//! command line, [`crate::SandboxBuilder`], and later profile files and OCI configs).
//!
//! Every value is already parsed; nothing here touches the environment. A `Spec` may
//! still be wrong as a whole (a limit of zero, `--memory-kill` without a limit, a path
//! that does not exist): [`super::Policy::new`] judges it, and a `Policy` that exists is
//! valid. Each field's doc names the `sandlet run` flag it stands for, and that flag's
//! `--help` text is the reference for what it does.

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use super::net::NetSpec;
use super::parse::PortSet;
use super::protection::Protection;
use super::syscalls::{Group, Syscalls};
use super::view::ViewSpec;

/// Everything a sandbox can be asked for. `Default` is `sandlet run -- ` with no flag
/// (and no command, which [`super::Policy::new`] refuses).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Spec {
    /// The command and its arguments (after `--`); must not be empty.
    pub command: Vec<OsString>,

    // --- filesystem ---
    /// `-r/--fs-read`: read and execute beneath each path. With no `fs_read` and no
    /// `fs_write` at all, the built-in default applies ([`super::fs::DEFAULT_READ`],
    /// [`super::fs::DEFAULT_WRITE`]).
    pub fs_read: Vec<PathBuf>,
    /// `-w/--fs-write`: read, write, create and remove beneath each path.
    pub fs_write: Vec<PathBuf>,
    /// `--no-default-devices`: do not add [`super::fs::ALWAYS_WRITE`] (`/dev/null`,
    /// `/dev/zero`, `/dev/full`, read-write) to the rules.
    pub no_default_devices: bool,
    /// `--cwd`: the command's working directory.
    pub cwd: Option<PathBuf>,

    // --- environment ---
    /// `--clean-env`: start from an empty environment instead of sandlet's.
    pub clean_env: bool,
    /// `--env KEY=VALUE`: variables set on top, in order (a later one wins).
    pub env: Vec<(OsString, OsString)>,

    // --- limits ---
    /// `-t/--timeout`: kill the whole sandbox after this long (exit 124).
    pub timeout: Option<Duration>,
    /// `--max-open-files`: RLIMIT_NOFILE.
    pub max_open_files: Option<u64>,
    /// `--no-coredump`: RLIMIT_CORE = 0.
    pub no_coredump: bool,
    /// `--no-randomize-memory`: ADDR_NO_RANDOMIZE.
    pub no_randomize_memory: bool,
    /// `--no-huge-pages`: PR_SET_THP_DISABLE.
    pub no_huge_pages: bool,
    /// `-P/--max-processes`: live or unreaped processes (default
    /// [`super::supervision::DEFAULT_MAX_PROCESSES`]).
    pub max_processes: Option<u32>,
    /// `-m/--max-memory`: anonymous memory of the whole sandbox, in bytes.
    pub max_memory: Option<u64>,
    /// `--memory-kill`: kill instead of refusing an allocation over `max_memory`.
    pub memory_kill: bool,
    /// `-c/--cpu`: the sandbox's share of one CPU, in percent (1-100).
    pub cpu_percent: Option<u8>,
    /// `--cpu-cores`: the CPUs the command runs on.
    pub cpu_cores: Option<Vec<usize>>,

    // --- network ---
    /// `--net-allow`: what may be reached (host names are pinned from /etc/hosts by
    /// [`super::Policy::new`]).
    pub net_allow: Vec<NetSpec>,
    /// `--net-deny`: what may not be reached; everything else may (not with
    /// `net_allow`).
    pub net_deny: Vec<NetSpec>,
    /// `--net-allow-bind`: ports that may be bound (`None`: not given).
    pub net_allow_bind: Option<PortSet>,
    /// `--net-deny-bind`: ports that may not be bound.
    pub net_deny_bind: PortSet,
    /// `--port-remap`: the command gets its own port space.
    pub port_remap: bool,

    // --- syscalls and kernel protections ---
    /// `--extra-deny-syscall`: also refuse these with EPERM.
    pub extra_deny_syscalls: Vec<Syscalls>,
    /// `--extra-allow-syscall`: groups denied by default that are allowed back.
    pub extra_allow_groups: Vec<&'static Group>,
    /// `--allow-degraded`: protections the run may go without when the kernel lacks
    /// them.
    pub allow_degraded: Vec<Protection>,
    /// `--keep-caps`: keep capabilities when run as root.
    pub keep_caps: bool,

    // --- what the command sees ---
    /// `--name`: the sandbox's hostname (`uname`, `/etc/hostname`, `/etc/hosts`);
    /// without it they are the host's and nothing of them is trapped.
    pub name: Option<String>,
    /// `--random-seed`: getrandom and /dev/urandom give this seed's stream.
    pub random_seed: Option<u64>,
    /// `--time-start`: the command's wall clock starts at this instant.
    pub time_start: Option<SystemTime>,
    /// `--num-cpus`: how many CPUs the command sees (1-1024).
    pub num_cpus: Option<u32>,
    /// `--deterministic-dirs`: directory listings sorted by name.
    pub deterministic_dirs: bool,

    // --- exec and dynamic policy ---
    /// `--deny-exec`: globs of programs whose exec is refused.
    pub deny_exec: Vec<String>,
    /// `--policy-exec`: the program asked about each event.
    pub policy_exec: Option<String>,
    /// `--policy-timeout`: how long to wait for its verdict (default
    /// [`super::supervision::DEFAULT_POLICY_TIMEOUT`]).
    pub policy_timeout: Option<Duration>,

    // --- the supervisor ---
    /// `--workers`: supervisor worker threads (default
    /// [`super::supervision::DEFAULT_WORKERS`]).
    pub workers: Option<usize>,
    /// `--no-supervisor`: no seccomp user-notification supervisor.
    pub no_supervisor: bool,
    /// The filesystem view: `--workdir`, `--on-exit`, `--on-error`, `--dry-run`,
    /// `--fs-storage`.
    pub view: ViewSpec,
    /// `--status-fd`: sandlet's descriptor for lifecycle events (JSON lines).
    pub status_fd: Option<i32>,
    /// `sandlet learn`: record every path the command uses (needs the supervisor).
    pub learn: bool,
    /// An OCI container's `process.user`: the ids the command runs with (sandlet must
    /// be root to switch; no flag sets it).
    pub user: Option<RunAs>,
}

/// A user to run the command as.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunAs {
    pub uid: u32,
    pub gid: u32,
    /// Supplementary groups (none when empty).
    pub groups: Vec<u32>,
}
