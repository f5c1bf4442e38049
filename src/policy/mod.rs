//! `Policy`: everything a run needs, validated and immutable. A `Policy` that exists is
//! valid; all checks on flags happen in `Policy::try_from(RunArgs)`.

pub mod net;
pub mod parse;

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::cli::RunArgs;
use crate::error::PolicyError;
use crate::landlock::Protection;
use crate::seccomp;
use parse::PortSet;

/// Read-execute paths of the built-in filesystem policy (those that exist).
pub const DEFAULT_READ: &[&str] = &["/usr", "/lib", "/lib64", "/bin", "/sbin", "/etc"];
/// Read-write paths of the built-in filesystem policy (those that exist).
pub const DEFAULT_WRITE: &[&str] = &["/dev/null", "/dev/zero", "/dev/full", "/dev/tty"];

/// Default `--max-processes`, as in sandlock.
pub const DEFAULT_MAX_PROCESSES: u32 = 64;
/// Default `--workers`.
pub const DEFAULT_WORKERS: usize = 2;
const MAX_WORKERS: u64 = 64;

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
    /// The sandbox's name: its hostname for `uname` and `/etc/hostname` (`--name`,
    /// by default `sandlet-PID` with sandlet's pid).
    pub name: String,
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

/// Network rules beyond Landlock's defaults (TCP connect denied, bind on listed ports).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NetPolicy {
    /// `--net-allow` rules, hostnames resolved to addresses.
    pub allow: Vec<net::NetSpec>,
    /// `--net-deny` rules (addresses only).
    pub deny: Vec<net::NetSpec>,
    /// `--net-deny-bind` ports.
    pub deny_bind: PortSet,
    /// Host names of `--net-allow` rules and the addresses they were pinned to at start
    /// (served to the command as its /etc/hosts).
    pub pinned: Vec<(String, Vec<std::net::IpAddr>)>,
    /// `--port-remap`: binds, connects, socket names and /proc/net/tcp go through the
    /// supervisor's virtual port map.
    pub remap: bool,
}

impl NetPolicy {
    /// Whether UDP sockets may exist: an allow rule covers UDP, or deny rules (which
    /// allow everything else).
    pub fn udp(&self) -> bool {
        !self.deny.is_empty() || self.allow.iter().any(|r| r.protos.udp)
    }

    /// Whether ICMP ping sockets may exist: only an `icmp://` allow rule opens them
    /// (deny rules do not).
    pub fn icmp(&self) -> bool {
        self.allow.iter().any(|r| r.protos.icmp)
    }

    /// Whether connects must go through the supervisor: a rule names addresses, or
    /// denies, or UDP/ICMP is open. Otherwise Landlock alone enforces the allowed ports.
    pub fn trap_connect(&self) -> bool {
        self.remap
            || self.udp()
            || self.icmp()
            || self.allow.iter().any(|r| r.tcp_ports_any_ip().is_none())
    }

    /// TCP ports Landlock may allow by itself (when connects are not trapped).
    pub fn landlock_connect_ports(&self) -> Vec<u16> {
        if self.trap_connect() {
            return Vec::new();
        }
        let mut ports: Vec<u16> = self
            .allow
            .iter()
            .filter_map(net::NetSpec::tcp_ports_any_ip)
            .flatten()
            .copied()
            .collect();
        ports.sort_unstable();
        ports.dedup();
        ports
    }

    /// The decision for `proto` traffic to `ip`:`port`.
    pub fn allowed(&self, proto: net::Proto, ip: std::net::IpAddr, port: u16) -> bool {
        if !self.deny.is_empty() {
            return !self.deny.iter().any(|r| r.matches(proto, ip, port));
        }
        self.allow.iter().any(|r| r.matches(proto, ip, port))
    }

    /// Whether binds must go through the supervisor: to refuse denied ports, to check
    /// UDP ports, or to remap.
    pub fn trap_bind(&self) -> bool {
        self.remap || self.deny_bind != PortSet::None || self.udp()
    }

    /// Whether a socket swapped onto a continued call's descriptor could get past the
    /// rules (UDP or ICMP sockets exist, or only the trap refuses denied bind ports).
    pub fn guards_fds(&self) -> bool {
        self.udp() || self.icmp() || self.deny_bind != PortSet::None
    }

    /// The /etc/hosts the command sees when rules pinned host names: those names with
    /// their pinned addresses (and `localhost`, unless a rule pinned it), so that
    /// re-resolving cannot reach another address. `None` when no rule names a host.
    pub fn hosts_file(&self, name: &str) -> Option<String> {
        use std::fmt::Write;
        if self.pinned.is_empty() {
            return None;
        }
        let mut text = String::from("# served by sandlet: the host names its rules pinned\n");
        for (host, addrs) in &self.pinned {
            for a in addrs {
                let _ = writeln!(text, "{a}\t{host}");
            }
        }
        if !self.pinned.iter().any(|(h, _)| h == "localhost") {
            text.push_str("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n");
        }
        let _ = writeln!(text, "127.0.1.1\t{name}");
        Some(text)
    }
}

/// What a filesystem rule grants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FsAccess {
    Read,
    Write,
}

/// Access beneath one path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FsRule {
    pub path: PathBuf,
    pub access: FsAccess,
}

/// Who decides network events at run time.
#[derive(Debug, Clone)]
pub enum DynamicPolicy {
    /// A library callback (`SandboxBuilder::policy_fn`).
    Callback(crate::dynamic::PolicyFn),
    /// `--policy-exec PROGRAM`, with `--policy-timeout`.
    Program { program: String, timeout: Duration },
}

/// `--policy-timeout` when not given.
pub const DEFAULT_POLICY_TIMEOUT: Duration = Duration::from_millis(5000);

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
    /// A dynamic policy deciding each network and exec event (needs the supervisor).
    pub dynamic: Option<DynamicPolicy>,
    /// `--deny-exec` globs.
    pub deny_exec: Vec<String>,
    /// The command and its arguments; never empty.
    pub command: Vec<OsString>,
}

fn bad_value(flag: &'static str, value: &str) -> impl FnOnce(parse::ParseError) -> PolicyError {
    let value = value.to_owned();
    move |source| PolicyError::BadValue {
        flag,
        value,
        source,
    }
}

fn existing_path(flag: &'static str, raw: &str) -> Result<PathBuf, PolicyError> {
    let path = PathBuf::from(raw);
    match std::fs::metadata(&path) {
        Ok(_) => Ok(path),
        Err(source) => Err(PolicyError::BadPath { flag, path, source }),
    }
}

fn default_fs() -> Vec<FsRule> {
    let rules = |paths: &[&str], access| -> Vec<FsRule> {
        paths
            .iter()
            .filter(|p| Path::new(p).exists())
            .map(|p| FsRule {
                path: PathBuf::from(p),
                access,
            })
            .collect()
    };
    let mut fs = rules(DEFAULT_READ, FsAccess::Read);
    fs.extend(rules(DEFAULT_WRITE, FsAccess::Write));
    fs
}

impl Policy {
    /// Builds the policy from parsed flags and the command (kept apart because it may
    /// not be UTF-8). Reads the environment and checks paths exist; runs nothing.
    pub fn new(args: &RunArgs, command: Vec<OsString>) -> Result<Policy, PolicyError> {
        if command.is_empty() || command[0].is_empty() {
            return Err(PolicyError::NoCommand);
        }

        let mut fs = Vec::new();
        for raw in &args.fs_read {
            let path = existing_path("--fs-read", raw)?;
            fs.push(FsRule {
                path,
                access: FsAccess::Read,
            });
        }
        for raw in &args.fs_write {
            let path = existing_path("--fs-write", raw)?;
            fs.push(FsRule {
                path,
                access: FsAccess::Write,
            });
        }
        if fs.is_empty() {
            fs = default_fs();
        }

        let cwd = match &args.cwd {
            Some(raw) => {
                let path = existing_path("--cwd", raw)?;
                if !path.is_dir() {
                    return Err(PolicyError::NotADirectory { path });
                }
                Some(path)
            }
            None => None,
        };

        let mut env: Vec<(OsString, OsString)> = if args.clean_env {
            Vec::new()
        } else {
            std::env::vars_os().collect()
        };
        for raw in &args.env {
            let (key, value) = parse::parse_env(raw).map_err(bad_value("--env", raw))?;
            let key = OsString::from(key);
            env.retain(|(k, _)| *k != key);
            env.push((key, value.into()));
        }

        let timeout = match &args.timeout {
            Some(raw) => Some(parse::parse_duration(raw).map_err(bad_value("--timeout", raw))?),
            None => None,
        };
        let max_open_files = match &args.max_open_files {
            Some(raw) => Some(parse::parse_count(raw).map_err(bad_value("--max-open-files", raw))?),
            None => None,
        };

        let mut bind_ports = PortSet::None;
        for raw in &args.net_allow_bind {
            let ports = parse::parse_ports(raw).map_err(bad_value("--net-allow-bind", raw))?;
            bind_ports = bind_ports.union(ports);
        }

        let mut deny_bind = PortSet::None;
        for raw in &args.net_deny_bind {
            let ports = parse::parse_ports(raw).map_err(bad_value("--net-deny-bind", raw))?;
            deny_bind = deny_bind.union(ports);
        }
        if deny_bind != PortSet::None && args.net_allow_bind.is_empty() {
            // Denying some ports means every other port may be bound.
            bind_ports = PortSet::Any;
        }
        let net = net_policy(
            args,
            deny_bind,
            &std::fs::read_to_string("/etc/hosts").unwrap_or_default(),
        )?;

        let deny_syscalls = deny_list(&args.extra_deny_syscall, &args.extra_allow_syscall)?;

        let mut allow_degraded = Vec::new();
        for name in &args.allow_degraded {
            let p = Protection::from_name(name)
                .ok_or_else(|| PolicyError::UnknownProtection { name: name.clone() })?;
            if !allow_degraded.contains(&p) {
                allow_degraded.push(p);
            }
        }

        let supervisor = supervisor_policy(args, &deny_syscalls)?;
        let available = available_cpus();
        let cpu_cores = match &args.cpu_cores {
            Some(raw) => {
                let cores = parse::parse_cpu_list(raw).map_err(bad_value("--cpu-cores", raw))?;
                if let Some(c) = cores.iter().find(|c| !available.contains(c)) {
                    return Err(PolicyError::BadValue {
                        flag: "--cpu-cores",
                        value: raw.clone(),
                        source: parse::ParseError(format!(
                            "CPU {c} is not one sandlet may run on ({})",
                            cpu_list(&available)
                        )),
                    });
                }
                Some(cores)
            }
            None => None,
        };
        if let Some(n) = supervisor.as_ref().and_then(|s| s.num_cpus) {
            let usable = cpu_cores.as_ref().map_or(available.len(), Vec::len);
            if n as usize > usable {
                return Err(PolicyError::BadValue {
                    flag: "--num-cpus",
                    value: n.to_string(),
                    source: parse::ParseError(format!(
                        "only {usable} CPUs are available to the command"
                    )),
                });
            }
        }
        let cpu_percent = match &args.cpu {
            Some(raw) => Some(parse::parse_percent(raw).map_err(bad_value("--cpu", raw))?),
            None => None,
        };
        if supervisor.is_none() {
            if net.trap_connect() {
                return Err(PolicyError::Requires {
                    flag: "--net-allow with addresses, or --net-deny,",
                    needs: "the supervisor (drop --no-supervisor)",
                });
            }
            if net.trap_bind() {
                return Err(PolicyError::Requires {
                    flag: "--net-deny-bind",
                    needs: "the supervisor (drop --no-supervisor)",
                });
            }
        }

        let proc_view =
            supervisor.is_some() && fs.iter().any(|r| Path::new(PROC).starts_with(&r.path));
        let dynamic = dynamic_policy(args, supervisor.is_some())?;
        for rule in &args.deny_exec {
            if supervisor.is_none() {
                return Err(PolicyError::Requires {
                    flag: "--deny-exec",
                    needs: "the supervisor (drop --no-supervisor)",
                });
            }
            if rule.is_empty() {
                return Err(PolicyError::BadValue {
                    flag: "--deny-exec",
                    value: rule.clone(),
                    source: parse::ParseError("the pattern is empty".into()),
                });
            }
        }
        Ok(Policy {
            fs,
            cwd,
            env,
            timeout,
            max_open_files,
            no_coredump: args.no_coredump,
            no_randomize_memory: args.no_randomize_memory,
            no_huge_pages: args.no_huge_pages,
            bind_ports,
            net,
            deny_syscalls,
            allow_degraded,
            keep_caps: args.keep_caps,
            cpu_cores,
            cpu_percent,
            proc_view,
            dynamic,
            deny_exec: args.deny_exec.clone(),
            supervisor,
            command,
        })
    }
}

impl Policy {
    /// This policy with `f` deciding network events (the library's `policy_fn`).
    pub fn with_policy_fn(mut self, f: crate::dynamic::PolicyFn) -> Result<Policy, PolicyError> {
        if self.supervisor.is_none() {
            return Err(PolicyError::Requires {
                flag: "a dynamic policy",
                needs: "the supervisor (drop --no-supervisor)",
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
        self.fs.iter().any(|r| Path::new(path).starts_with(&r.path))
    }
}

/// Where the proc file system is.
pub const PROC: &str = "/proc";

/// Host paths no broad rule reaches: a rule on one of their ancestors is split into its
/// other children (rules naming them, or paths beneath them, still apply).
pub const SENSITIVE: &[&str] = &["/sys/firmware", "/sys/kernel/security"];

/// The rules given to Landlock: `rules` with every [`SENSITIVE`] path carved out of its
/// ancestors' rules, and with the proc view also /proc (rules on or beneath it dropped:
/// the supervisor serves it). `list` gives a directory's entries.
pub fn landlock_rules(
    rules: &[FsRule],
    proc_view: bool,
    list: &dyn Fn(&Path) -> Vec<PathBuf>,
) -> Vec<FsRule> {
    let mut out = rules.to_vec();
    for hole in SENSITIVE {
        out = carve(out, Path::new(hole), false, list);
    }
    if proc_view {
        out = carve(out, Path::new(PROC), true, list);
    }
    out
}

/// Directories that lost their own rule to [`landlock_rules`]' carving: strict
/// ancestors of a hole that a rule covered. The /proc view serves read-only opens of
/// exactly these (so `ls /` still works under `-r /`).
pub fn carved_dirs(rules: &[FsRule], proc_view: bool) -> Vec<PathBuf> {
    let mut holes: Vec<&str> = SENSITIVE.to_vec();
    if proc_view {
        holes.push(PROC);
    }
    let mut out: Vec<PathBuf> = Vec::new();
    for hole in holes {
        for dir in Path::new(hole).ancestors().skip(1) {
            let covered = rules.iter().any(|r| dir.starts_with(&r.path));
            if covered && !out.iter().any(|d| d == dir) {
                out.push(dir.to_owned());
            }
        }
    }
    out.sort();
    out
}

/// Replaces each rule on a strict ancestor of `hole` by rules on the ancestor's other
/// children, down to `hole`'s parent; with `drop_inside`, rules on or beneath `hole`
/// go too.
fn carve(
    rules: Vec<FsRule>,
    hole: &Path,
    drop_inside: bool,
    list: &dyn Fn(&Path) -> Vec<PathBuf>,
) -> Vec<FsRule> {
    let mut out = Vec::new();
    for rule in rules {
        if rule.path.starts_with(hole) {
            if !drop_inside {
                out.push(rule);
            }
            continue;
        }
        if !hole.starts_with(&rule.path) {
            out.push(rule);
            continue;
        }
        // rule.path is a strict ancestor: walk down towards the hole.
        let mut dir = rule.path.clone();
        for part in hole
            .strip_prefix(&rule.path)
            .into_iter()
            .flat_map(Path::components)
        {
            let next = dir.join(part);
            for child in list(&dir) {
                if child != next {
                    out.push(FsRule {
                        path: child,
                        access: rule.access,
                    });
                }
            }
            dir = next;
        }
    }
    out
}

/// The entries of `dir` that exist (dangling symlinks left out), for [`landlock_rules`].
pub fn list_dir(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.exists())
        .collect();
    out.sort();
    out
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

/// `--net-allow` / `--net-deny`: parsed, hostnames resolved from `hosts` (the text of
/// /etc/hosts), and what this version cannot enforce refused.
fn net_policy(args: &RunArgs, deny_bind: PortSet, hosts: &str) -> Result<NetPolicy, PolicyError> {
    if !args.net_allow.is_empty() && !args.net_deny.is_empty() {
        return Err(PolicyError::Conflict {
            flag: "--net-allow",
            other: "--net-deny",
        });
    }
    let parse = |flag: &'static str, raw: &String| {
        net::parse_net_spec(raw).map_err(|source| PolicyError::BadValue {
            flag,
            value: raw.clone(),
            source,
        })
    };
    let unsupported = |flag, raw: &String, why| PolicyError::Unsupported {
        flag,
        value: raw.clone(),
        why,
    };
    let mut allow = Vec::new();
    let mut pinned: Vec<(String, Vec<std::net::IpAddr>)> = Vec::new();
    for raw in &args.net_allow {
        let spec = parse("--net-allow", raw)?;
        match spec.is_host() {
            Some(host) => {
                let addrs = net::lookup_hosts(hosts, host);
                if addrs.is_empty() {
                    return Err(unsupported(
                        "--net-allow",
                        raw,
                        "host not found in /etc/hosts (sandlet resolves names there only; use an IP)",
                    ));
                }
                allow.extend(spec.resolved(&addrs));
                if !pinned.iter().any(|(h, _)| h == host) {
                    pinned.push((host.to_owned(), addrs));
                }
            }
            None => allow.push(spec),
        }
    }
    let mut deny = Vec::new();
    for raw in &args.net_deny {
        let spec = parse("--net-deny", raw)?;
        if spec.is_host().is_some() {
            return Err(unsupported(
                "--net-deny",
                raw,
                "--net-deny takes IP addresses or CIDRs, not host names; use an IP",
            ));
        }
        deny.push(spec);
    }
    Ok(NetPolicy {
        allow,
        deny,
        deny_bind,
        pinned,
        remap: args.port_remap,
    })
}

/// `--policy-exec` / `--policy-timeout`.
fn dynamic_policy(args: &RunArgs, supervised: bool) -> Result<Option<DynamicPolicy>, PolicyError> {
    let requires = |flag: &'static str, needs: &'static str| PolicyError::Requires { flag, needs };
    let Some(program) = &args.policy_exec else {
        if args.policy_timeout.is_some() {
            return Err(requires("--policy-timeout", "--policy-exec"));
        }
        return Ok(None);
    };
    if !supervised {
        return Err(requires(
            "--policy-exec",
            "the supervisor (drop --no-supervisor)",
        ));
    }
    if program.is_empty() {
        return Err(PolicyError::BadValue {
            flag: "--policy-exec",
            value: program.clone(),
            source: parse::ParseError("the program name is empty".into()),
        });
    }
    let timeout = match &args.policy_timeout {
        Some(raw) => match parse::parse_count(raw).map_err(bad_value("--policy-timeout", raw))? {
            ms @ 1..=3_600_000 => Duration::from_millis(ms),
            _ => {
                return Err(PolicyError::BadValue {
                    flag: "--policy-timeout",
                    value: raw.clone(),
                    source: parse::ParseError("must be between 1 and 3600000 ms".into()),
                })
            }
        },
        None => DEFAULT_POLICY_TIMEOUT,
    };
    Ok(Some(DynamicPolicy::Program {
        program: program.clone(),
        timeout,
    }))
}

/// The supervisor's settings, with the "X requires Y" rules between its flags.
fn supervisor_policy(
    args: &RunArgs,
    deny: &[u32],
) -> Result<Option<SupervisorPolicy>, PolicyError> {
    let requires = |flag: &'static str, needs: &'static str| PolicyError::Requires { flag, needs };
    if args.memory_kill && args.max_memory.is_none() {
        return Err(requires("--memory-kill", "--max-memory"));
    }
    if args.no_supervisor {
        for (given, flag) in [
            (args.max_processes.is_some(), "--max-processes"),
            (args.max_memory.is_some(), "--max-memory"),
            (args.workers.is_some(), "--workers"),
            (args.name.is_some(), "--name"),
            (args.port_remap, "--port-remap"),
            (args.random_seed.is_some(), "--random-seed"),
            (args.num_cpus.is_some(), "--num-cpus"),
            (args.deterministic_dirs, "--deterministic-dirs"),
            (args.time_start.is_some(), "--time-start"),
        ] {
            if given {
                return Err(requires(flag, "the supervisor (drop --no-supervisor)"));
            }
        }
        return Ok(None);
    }
    let max_processes = match &args.max_processes {
        Some(raw) => {
            let n = parse::parse_count(raw).map_err(bad_value("--max-processes", raw))?;
            match u32::try_from(n) {
                Ok(n) if n >= 1 => n,
                _ => {
                    return Err(PolicyError::BadValue {
                        flag: "--max-processes",
                        value: raw.clone(),
                        source: parse::ParseError("must be between 1 and 4294967295".into()),
                    })
                }
            }
        }
        None => DEFAULT_MAX_PROCESSES,
    };
    let memory = match &args.max_memory {
        Some(raw) => Some(MemoryLimit {
            bytes: parse::parse_size(raw).map_err(bad_value("--max-memory", raw))?,
            kill: args.memory_kill,
        }),
        None => None,
    };
    let workers = match &args.workers {
        Some(raw) => match parse::parse_count(raw).map_err(bad_value("--workers", raw))? {
            n @ 1..=MAX_WORKERS => n as usize,
            _ => {
                return Err(PolicyError::BadValue {
                    flag: "--workers",
                    value: raw.clone(),
                    source: parse::ParseError(format!("must be between 1 and {MAX_WORKERS}")),
                })
            }
        },
        None => DEFAULT_WORKERS,
    };
    let account_shm = seccomp::names::number("shmget").is_some_and(|nr| !deny.contains(&nr));
    let name = match &args.name {
        Some(raw) => parse::parse_name(raw).map_err(bad_value("--name", raw))?,
        None => format!("sandlet-{}", std::process::id()),
    };
    let random_seed = match &args.random_seed {
        Some(raw) => Some(parse::parse_count(raw).map_err(bad_value("--random-seed", raw))?),
        None => None,
    };
    let num_cpus = match &args.num_cpus {
        Some(raw) => match parse::parse_count(raw).map_err(bad_value("--num-cpus", raw))? {
            n @ 1..=1024 => Some(n as u32),
            _ => {
                return Err(PolicyError::BadValue {
                    flag: "--num-cpus",
                    value: raw.clone(),
                    source: parse::ParseError("must be between 1 and 1024".into()),
                })
            }
        },
        None => None,
    };
    let time_start = match &args.time_start {
        Some(raw) => {
            let at = parse::parse_time_start(raw).map_err(bad_value("--time-start", raw))?;
            if !cfg!(target_arch = "x86_64") {
                return Err(PolicyError::Unsupported {
                    flag: "--time-start",
                    value: raw.clone(),
                    why: "needs x86_64 (the vDSO patch is written for it)",
                });
            }
            Some(at)
        }
        None => None,
    };
    Ok(Some(SupervisorPolicy {
        time_start,
        max_processes,
        memory,
        name,
        workers,
        account_shm,
        random_seed,
        num_cpus,
        deterministic_dirs: args.deterministic_dirs,
    }))
}

/// Default deny list, plus `extra_deny` (names or groups), minus `extra_allow` (groups).
fn deny_list(extra_deny: &[String], extra_allow: &[String]) -> Result<Vec<u32>, PolicyError> {
    let mut allowed_groups = BTreeSet::new();
    for name in extra_allow {
        let group =
            seccomp::group(name).ok_or_else(|| PolicyError::UnknownGroup { name: name.clone() })?;
        allowed_groups.insert(group.name);
    }
    let mut deny: BTreeSet<u32> = seccomp::numbers(seccomp::DEFAULT_DENY.iter().copied()).collect();
    for g in seccomp::GROUPS {
        if !allowed_groups.contains(g.name) {
            deny.extend(seccomp::numbers(g.syscalls.iter().copied()));
        }
    }
    for name in extra_deny {
        if let Some(group) = seccomp::group(name) {
            deny.extend(seccomp::numbers(group.syscalls.iter().copied()));
        } else if let Some(nr) = seccomp::names::number(name) {
            deny.insert(nr);
        } else {
            return Err(PolicyError::UnknownSyscall { name: name.clone() });
        }
    }
    Ok(deny.into_iter().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmd() -> Vec<OsString> {
        vec!["true".into()]
    }

    #[test]
    fn carving_keeps_holes_out_of_broad_rules() {
        let tree = |d: &Path| -> Vec<PathBuf> {
            let names: &[&str] = match d.to_str().unwrap() {
                "/" => &["/bin", "/proc", "/sys", "/usr"],
                "/sys" => &["/sys/class", "/sys/firmware", "/sys/kernel"],
                "/sys/kernel" => &["/sys/kernel/mm", "/sys/kernel/security"],
                _ => &[],
            };
            names.iter().map(PathBuf::from).collect()
        };
        let rule = |p: &str, access| FsRule {
            path: p.into(),
            access,
        };
        let paths = |rules: Vec<FsRule>| -> Vec<String> {
            rules.iter().map(|r| r.path.display().to_string()).collect()
        };
        let root = [rule("/", FsAccess::Read)];
        assert_eq!(
            paths(landlock_rules(&root, true, &tree)),
            ["/bin", "/usr", "/sys/class", "/sys/kernel/mm"]
        );
        // Without the proc view /proc stays; a rule naming a sensitive path stays.
        let rules = [
            rule("/", FsAccess::Read),
            rule("/sys/firmware", FsAccess::Read),
            rule("/tmp", FsAccess::Write),
        ];
        assert_eq!(
            paths(landlock_rules(&rules, false, &tree)),
            [
                "/bin",
                "/proc",
                "/usr",
                "/sys/class",
                "/sys/kernel/mm",
                "/sys/firmware",
                "/tmp"
            ]
        );
        // With it, rules on or beneath /proc go; unrelated rules are untouched.
        let proc = [rule("/proc", FsAccess::Read), rule("/usr", FsAccess::Read)];
        assert_eq!(paths(landlock_rules(&proc, true, &tree)), ["/usr"]);
        let w = landlock_rules(&[rule("/sys", FsAccess::Write)], false, &tree);
        assert!(w.iter().all(|r| r.access == FsAccess::Write));
        let dirs = |rules: &[FsRule], view| -> Vec<String> {
            carved_dirs(rules, view)
                .iter()
                .map(|p| p.display().to_string())
                .collect()
        };
        assert_eq!(dirs(&root, true), ["/", "/sys", "/sys/kernel"]);
        assert_eq!(
            dirs(&[rule("/usr", FsAccess::Read)], true),
            Vec::<String>::new()
        );
        assert_eq!(
            dirs(&[rule("/sys", FsAccess::Read)], false),
            ["/sys", "/sys/kernel"]
        );
    }

    #[test]
    fn pinned_names_make_the_hosts_file() {
        let hosts = "127.0.0.1 localhost\n10.0.0.7 db db.lan\n10.0.0.8 db\n::1 localhost\n";
        let args = RunArgs {
            net_allow: vec!["db:5432".into(), "tcp://db:5433".into()],
            ..Default::default()
        };
        let net = net_policy(&args, PortSet::None, hosts).unwrap();
        assert_eq!(
            net.pinned,
            vec![(
                "db".to_owned(),
                vec!["10.0.0.7".parse().unwrap(), "10.0.0.8".parse().unwrap()]
            )]
        );
        let text = net.hosts_file("box").unwrap();
        let lines: Vec<&str> = text.lines().skip(1).collect();
        assert_eq!(
            lines,
            [
                "10.0.0.7\tdb",
                "10.0.0.8\tdb",
                "127.0.0.1\tlocalhost",
                "::1\tlocalhost ip6-localhost ip6-loopback",
                "127.0.1.1\tbox"
            ]
        );
        let by_ip = RunArgs {
            net_allow: vec!["10.0.0.7:1".into()],
            ..Default::default()
        };
        assert_eq!(
            net_policy(&by_ip, PortSet::None, hosts)
                .unwrap()
                .hosts_file("box"),
            None
        );
    }

    #[test]
    fn default_fs_applies_only_without_fs_flags() {
        let p = Policy::new(&RunArgs::default(), cmd()).unwrap();
        assert!(p.fs.iter().any(|r| r.path == Path::new("/usr")));
        assert!(p
            .fs
            .iter()
            .any(|r| r.path == Path::new("/dev/null") && r.access == FsAccess::Write));
        let args = RunArgs {
            fs_read: vec!["/tmp".into()],
            ..Default::default()
        };
        let p = Policy::new(&args, cmd()).unwrap();
        assert_eq!(
            p.fs,
            vec![FsRule {
                path: "/tmp".into(),
                access: FsAccess::Read
            }]
        );
    }

    #[test]
    fn rejects_bad_input() {
        let cases: Vec<RunArgs> = vec![
            RunArgs {
                fs_read: vec!["/no/such/path".into()],
                ..Default::default()
            },
            RunArgs {
                cwd: Some("/etc/passwd".into()),
                ..Default::default()
            },
            RunArgs {
                timeout: Some("soon".into()),
                ..Default::default()
            },
            RunArgs {
                net_allow_bind: vec!["80,x".into()],
                ..Default::default()
            },
            RunArgs {
                extra_deny_syscall: vec!["not_a_syscall".into()],
                ..Default::default()
            },
            RunArgs {
                extra_allow_syscall: vec!["mount".into()],
                ..Default::default()
            },
            RunArgs {
                allow_degraded: vec!["everything".into()],
                ..Default::default()
            },
            RunArgs {
                env: vec!["NOEQUALS".into()],
                ..Default::default()
            },
        ];
        for args in cases {
            assert!(Policy::new(&args, cmd()).is_err(), "{args:?} accepted");
        }
        assert!(matches!(
            Policy::new(&RunArgs::default(), vec![]),
            Err(PolicyError::NoCommand)
        ));
    }

    #[test]
    fn deny_list_groups() {
        let shmget = seccomp::names::number("shmget").unwrap();
        let mount = seccomp::names::number("mount").unwrap();
        let getpid = seccomp::names::number("getpid").unwrap();
        let d = deny_list(&[], &[]).unwrap();
        assert!(d.contains(&shmget) && d.contains(&mount) && !d.contains(&getpid));
        let d = deny_list(&["getpid".into()], &["sysv_ipc".into()]).unwrap();
        assert!(!d.contains(&shmget) && d.contains(&getpid));
        let d = deny_list(&["sysv_ipc".into()], &["sysv_ipc".into()]).unwrap();
        assert!(d.contains(&shmget), "an explicit deny wins over an allow");
    }

    #[test]
    fn supervisor_flags() {
        let p = Policy::new(&RunArgs::default(), cmd()).unwrap();
        let sup = p.supervisor.unwrap();
        assert_eq!(sup.max_processes, DEFAULT_MAX_PROCESSES);
        assert_eq!(sup.memory, None);
        assert!(!sup.account_shm);
        let args = RunArgs {
            max_memory: Some("64M".into()),
            memory_kill: true,
            max_processes: Some("5".into()),
            extra_allow_syscall: vec!["sysv_ipc".into()],
            ..Default::default()
        };
        let sup = Policy::new(&args, cmd()).unwrap().supervisor.unwrap();
        assert_eq!(
            sup.memory,
            Some(MemoryLimit {
                bytes: 64 << 20,
                kill: true
            })
        );
        assert_eq!(sup.max_processes, 5);
        assert!(sup.account_shm);
        let none = RunArgs {
            no_supervisor: true,
            ..Default::default()
        };
        assert!(Policy::new(&none, cmd()).unwrap().supervisor.is_none());
        let bad = [
            RunArgs {
                memory_kill: true,
                ..Default::default()
            },
            RunArgs {
                no_supervisor: true,
                max_memory: Some("1M".into()),
                ..Default::default()
            },
            RunArgs {
                max_processes: Some("0".into()),
                ..Default::default()
            },
            RunArgs {
                workers: Some("0".into()),
                ..Default::default()
            },
            RunArgs {
                max_memory: Some("lots".into()),
                ..Default::default()
            },
        ];
        for args in bad {
            assert!(Policy::new(&args, cmd()).is_err(), "{args:?} accepted");
        }
    }

    fn net(allow: &[&str], deny: &[&str]) -> Result<NetPolicy, PolicyError> {
        let args = RunArgs {
            net_allow: allow.iter().map(|s| s.to_string()).collect(),
            net_deny: deny.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        };
        net_policy(&args, PortSet::None, "127.0.0.1 localhost\n::1 localhost\n")
    }

    #[test]
    fn net_rules_decide_and_choose_the_enforcer() {
        use net::Proto::{Tcp, Udp};
        let ip = |s: &str| s.parse::<std::net::IpAddr>().unwrap();
        let none = net(&[], &[]).unwrap();
        assert!(!none.trap_connect() && none.landlock_connect_ports().is_empty());
        assert!(!none.allowed(Tcp, ip("127.0.0.1"), 80));
        assert!(!none.udp());

        let ports = net(&["tcp://:443", "tcp://*:80,443"], &[]).unwrap();
        assert!(!ports.trap_connect(), "TCP port-only rules are Landlock's");
        assert_eq!(ports.landlock_connect_ports(), vec![80, 443]);
        let both = net(&[":443"], &[]).unwrap();
        assert!(both.udp() && both.trap_connect(), "no scheme: TCP and UDP");
        assert!(both.allowed(Udp, ip("1.1.1.1"), 443));
        assert!(!both.allowed(Udp, ip("1.1.1.1"), 53));
        let udp = net(&["udp://1.1.1.1:53"], &[]).unwrap();
        assert!(udp.allowed(Udp, ip("1.1.1.1"), 53));
        assert!(
            !udp.allowed(Tcp, ip("1.1.1.1"), 53),
            "udp:// does not open TCP"
        );

        let addr = net(&["10.0.0.0/8:22", ":443"], &[]).unwrap();
        assert!(addr.trap_connect());
        assert!(addr.landlock_connect_ports().is_empty());
        assert!(addr.allowed(Tcp, ip("10.9.8.7"), 22));
        assert!(addr.allowed(Tcp, ip("1.2.3.4"), 443));
        assert!(!addr.allowed(Tcp, ip("11.0.0.1"), 22));
        assert!(addr.allowed(Tcp, ip("::ffff:10.0.0.1"), 22), "v4-mapped");

        let host = net(&["localhost:5432"], &[]).unwrap();
        assert!(host.allowed(Tcp, ip("127.0.0.1"), 5432));
        assert!(host.allowed(Tcp, ip("::1"), 5432));
        assert!(!host.allowed(Tcp, ip("127.0.0.2"), 5432));

        let deny = net(&[], &["169.254.169.254", "10.0.0.0/8:22"]).unwrap();
        assert!(deny.trap_connect() && deny.udp());
        assert!(!deny.allowed(Udp, ip("169.254.169.254"), 53));
        assert!(deny.allowed(Udp, ip("1.1.1.1"), 53));
        assert!(!deny.allowed(Tcp, ip("169.254.169.254"), 80));
        assert!(!deny.allowed(Tcp, ip("10.1.1.1"), 22));
        assert!(deny.allowed(Tcp, ip("10.1.1.1"), 23));

        assert!(net(&[":80"], &["1.2.3.4"]).is_err(), "allow + deny");
        let icmp = net(&["icmp://1.1.1.1"], &[]).unwrap();
        assert!(icmp.icmp() && !icmp.udp() && icmp.trap_connect());
        assert!(icmp.allowed(net::Proto::Icmp, ip("1.1.1.1"), 0));
        assert!(!icmp.allowed(net::Proto::Icmp, ip("1.1.1.2"), 0));
        assert!(!icmp.allowed(Tcp, ip("1.1.1.1"), 80));
        assert!(!deny.icmp(), "deny rules do not open ICMP");
        assert!(net(&["nowhere.invalid"], &[]).is_err(), "unresolvable");
        assert!(net(&[], &["localhost"]).is_err(), "deny takes IPs");
    }

    #[test]
    fn env_overrides_and_clean_env() {
        let args = RunArgs {
            clean_env: true,
            env: vec!["A=1".into(), "A=2".into(), "B=".into()],
            ..Default::default()
        };
        let p = Policy::new(&args, cmd()).unwrap();
        assert_eq!(
            p.env,
            vec![("A".into(), "2".into()), ("B".into(), "".into())]
        );
    }
}
