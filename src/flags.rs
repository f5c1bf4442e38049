//! `run`'s flags: the argh struct (its doc comments are the `--help` text) and the
//! producer that turns them into a [`Spec`]. The command line (`cli.rs`) and
//! profiles ([`crate::profile`]) both produce these flags.

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::{Duration, UNIX_EPOCH};

use argh::FromArgs;

use crate::error::PolicyError;
use crate::policy::parse::{self, ParseError, PortSet};
use crate::policy::protection::Protection;
use crate::policy::syscalls::{group, Syscalls};
use crate::policy::view::{Finish, ViewSpec};
use crate::policy::{net, Spec};

/// Run CMD confined. With no -r/-w flag at all a built-in default applies: read and
/// execute beneath /usr /lib /lib64 /bin /sbin /etc (those that exist), read-write
/// /dev/null /dev/zero /dev/full /dev/tty, nothing else. With any -r/-w flag, the given
/// paths apply, plus /dev/null /dev/zero /dev/full read-write. Without --net-allow/--net-deny, TCP connect is denied and
/// UDP/ICMP sockets cannot be created; bind only on --net-allow-bind ports; signals and
/// abstract unix sockets cannot reach outside the sandbox.
#[derive(FromArgs, Debug, Default, Clone)]
#[argh(subcommand, name = "run")]
pub struct RunArgs {
    /// take flags from profile NAME ($XDG_CONFIG_HOME/sandlet/profiles/NAME.toml, else
    /// ~/.config/...); the command line adds to its lists and overrides the rest
    #[argh(option, short = 'p')]
    pub profile: Option<String>,

    /// take flags from the profile file PATH (as -p)
    #[argh(option)]
    pub profile_file: Option<String>,

    /// allow reading and executing beneath PATH (repeatable)
    #[argh(option, short = 'r', long = "fs-read")]
    pub fs_read: Vec<String>,

    /// allow reading, writing, creating and removing beneath PATH (repeatable)
    #[argh(option, short = 'w', long = "fs-write")]
    pub fs_write: Vec<String>,

    /// do not add /dev/null, /dev/zero and /dev/full (read-write) to the -r/-w rules,
    /// nor keep them in the built-in default
    #[argh(switch)]
    pub no_default_devices: bool,

    /// working directory of the command
    #[argh(option)]
    pub cwd: Option<String>,

    /// start the command with an empty environment
    #[argh(switch)]
    pub clean_env: bool,

    /// set an environment variable, KEY=VALUE (repeatable)
    #[argh(option)]
    pub env: Vec<String>,

    /// kill the whole sandbox after SECS seconds (also 250ms, 2m, 1h); exit 124
    #[argh(option, short = 't')]
    pub timeout: Option<String>,

    /// limit open files (RLIMIT_NOFILE soft and hard) to N, at most sandlet's own limit
    #[argh(option)]
    pub max_open_files: Option<String>,

    /// disable core dumps (RLIMIT_CORE=0)
    #[argh(switch)]
    pub no_coredump: bool,

    /// disable address-space randomization (ADDR_NO_RANDOMIZE)
    #[argh(switch)]
    pub no_randomize_memory: bool,

    /// disable transparent huge pages (PR_SET_THP_DISABLE)
    #[argh(switch)]
    pub no_huge_pages: bool,

    /// TCP ports (and UDP ports, when UDP is open) the command may bind: 8080,9000-9005
    /// or * (default: none)
    #[argh(option)]
    pub net_allow_bind: Vec<String>,

    /// TCP ports the command may not bind (every other port may be, unless
    /// --net-allow-bind narrows it)
    #[argh(option)]
    pub net_deny_bind: Vec<String>,

    /// give the command its own port space: a bind to a taken port gets another real
    /// port, while getsockname, loopback connects and /proc/net/tcp use the asked one
    #[argh(switch)]
    pub port_remap: bool,

    /// allow TCP/UDP/ping to [tcp://|udp://|icmp://]HOST|IP|CIDR|*[:PORTS]
    /// (repeatable); HOST is looked up in /etc/hosts once, at start
    #[argh(option)]
    pub net_allow: Vec<String>,

    /// allow TCP/UDP except to [tcp://|udp://]IP|CIDR|*[:PORTS] (repeatable; not with
    /// --net-allow)
    #[argh(option)]
    pub net_deny: Vec<String>,

    /// also deny this syscall (by name) or group (sysv_ipc) with EPERM (repeatable)
    #[argh(option)]
    pub extra_deny_syscall: Vec<String>,

    /// allow back a syscall group denied by default: sysv_ipc (repeatable)
    #[argh(option)]
    pub extra_allow_syscall: Vec<String>,

    /// run even when the kernel lacks this protection, with a warning: fs, fs-refer,
    /// fs-truncate, net-tcp, fs-ioctl-dev, signal-scope, abstract-unix-socket-scope
    #[argh(option)]
    pub allow_degraded: Vec<String>,

    /// the sandbox's name: the hostname `uname` and /etc/hostname show inside it
    /// (default: sandlet-PID, with sandlet's pid)
    #[argh(option)]
    pub name: Option<String>,

    /// seed for the command's randomness: getrandom and /dev/urandom, /dev/random
    /// return a reproducible stream (same seed, same bytes)
    #[argh(option)]
    pub random_seed: Option<String>,

    /// the command's wall clock starts at this instant (RFC 3339, e.g.
    /// 2000-01-01T00:00:00Z, or seconds since 1970) and runs on from there
    #[argh(option)]
    pub time_start: Option<String>,

    /// refuse (EPERM) an exec whose argv[0] or path matches this glob: a name like curl
    /// matches the last path component, a pattern with / the whole path (repeatable)
    #[argh(option)]
    pub deny_exec: Vec<String>,

    /// run PROGRAM outside the sandbox and ask it about each exec, new process and
    /// network event: one JSON line per event on its stdin, one verdict line back
    /// (allow, deny, deny ERRNO, audit)
    #[argh(option)]
    pub policy_exec: Option<String>,

    /// milliseconds to wait for a --policy-exec verdict before denying (default 5000)
    #[argh(option)]
    pub policy_timeout: Option<String>,

    /// the command sees N CPUs: sched_getaffinity, /sys/devices/system/cpu/online and
    /// /proc/cpuinfo show N
    #[argh(option)]
    pub num_cpus: Option<String>,

    /// run the command only on these CPUs (0,2 or 0-3)
    #[argh(option)]
    pub cpu_cores: Option<String>,

    /// limit the whole sandbox to PCT percent of one CPU (1-100), by stopping and
    /// continuing it
    #[argh(option, short = 'c')]
    pub cpu: Option<String>,

    /// directory listings (getdents64) come sorted by name
    #[argh(switch)]
    pub deterministic_dirs: bool,

    /// at most N live or unreaped processes in the sandbox (default 64); more forks fail
    /// with EAGAIN; threads do not count
    #[argh(option, short = 'P')]
    pub max_processes: Option<String>,

    /// limit the sandbox's anonymous memory to SIZE (512K, 64M, 1.5G); allocations that
    /// would cross it fail with ENOMEM
    #[argh(option, short = 'm')]
    pub max_memory: Option<String>,

    /// kill the sandbox (exit 137) instead of refusing an allocation over --max-memory
    #[argh(switch)]
    pub memory_kill: bool,

    /// supervisor worker threads for blocking handlers (default 2)
    #[argh(option)]
    pub workers: Option<String>,

    /// run without the seccomp user-notification supervisor: no process or memory limit
    #[argh(switch)]
    pub no_supervisor: bool,

    /// copy-on-write view of DIR: the command's changes beneath it stay private until
    /// the run ends (in a user + mount namespace; see --on-exit, --on-error, --dry-run)
    #[argh(option)]
    pub workdir: Option<String>,

    /// with --workdir, what an exit with status 0 does with the changes: commit
    /// (default), abort or keep
    #[argh(option)]
    pub on_exit: Option<String>,

    /// with --workdir, what any other end (status, signal, timeout) does with the
    /// changes: abort (default), commit or keep
    #[argh(option)]
    pub on_error: Option<String>,

    /// with --workdir, print the changes (A/M/D path) on stderr and abort them
    #[argh(switch)]
    pub dry_run: bool,

    /// make PATH and everything beneath unreachable for the command, whatever rule
    /// covers it (repeatable; in a mount namespace of the command's own)
    #[argh(option)]
    pub fs_deny: Vec<String>,

    /// bind HOST at VIRTUAL for the command (VIRTUAL:HOST[:ro], repeatable; VIRTUAL must
    /// exist; the command may read it, and write it unless :ro; in a mount namespace of
    /// its own)
    #[argh(option)]
    pub fs_mount: Vec<String>,

    /// DIR becomes / for the command (pivot_root in a mount namespace of its own; with
    /// its own /proc, /dev and /tmp); paths of other flags name paths in DIR
    #[argh(option)]
    pub chroot: Option<String>,

    /// run in a local container image: an OCI image layout directory, or an OCI or
    /// `docker save` archive, optionally PATH:TAG (a copy-on-write root; changes are
    /// never committed into it); its command, Env and WorkingDir are the defaults
    #[argh(option)]
    pub image: Option<String>,

    /// with --workdir, the most the changes may hold (e.g. 100M): the write that
    /// crosses it fails with ENOSPC (the upper layer is a tmpfs; not with keep)
    #[argh(option)]
    pub max_disk: Option<String>,

    /// with --workdir, where upper layers are made (default
    /// $XDG_RUNTIME_DIR/sandlet/layers, else /tmp/sandlet-UID/layers)
    #[argh(option)]
    pub fs_storage: Option<String>,

    /// write lifecycle events (started, exec, limit, exit) as JSON lines to descriptor
    /// FD, which sandlet must have open
    #[argh(option)]
    pub status_fd: Option<String>,

    /// keep capabilities when run as root (by default all are dropped)
    #[argh(switch)]
    pub keep_caps: bool,

    /// the command and its arguments (put them after --)
    #[argh(positional, greedy)]
    pub command: Vec<String>,
}

/// The [`Spec`] that `run`'s flags and `command` describe: each value parsed with the
/// pure parsers of [`crate::policy::parse`]; whether the whole makes sense is
/// [`crate::policy::Policy::new`]'s to judge.
pub fn spec(args: &RunArgs, command: Vec<OsString>) -> Result<Spec, PolicyError> {
    fn value<T>(
        flag: &'static str,
        raw: &str,
        parse: impl FnOnce(&str) -> Result<T, ParseError>,
    ) -> Result<T, PolicyError> {
        parse(raw).map_err(|source| PolicyError::BadValue {
            flag,
            value: raw.to_owned(),
            source,
        })
    }
    fn option<T>(
        flag: &'static str,
        raw: &Option<String>,
        parse: impl FnOnce(&str) -> Result<T, ParseError>,
    ) -> Result<Option<T>, PolicyError> {
        raw.as_deref().map(|r| value(flag, r, parse)).transpose()
    }
    fn list<T>(
        flag: &'static str,
        raws: &[String],
        parse: impl Fn(&str) -> Result<T, ParseError>,
    ) -> Result<Vec<T>, PolicyError> {
        raws.iter().map(|r| value(flag, r, &parse)).collect()
    }
    fn ports(flag: &'static str, raws: &[String]) -> Result<Option<PortSet>, PolicyError> {
        let sets = list(flag, raws, parse::parse_ports)?;
        Ok(sets.into_iter().reduce(PortSet::union))
    }
    /// A count that must fit `T`; `range` names the accepted values for the error.
    fn count<T: TryFrom<u64>>(
        flag: &'static str,
        raw: &Option<String>,
        range: &str,
    ) -> Result<Option<T>, PolicyError> {
        option(flag, raw, |r| {
            let n = parse::parse_count(r)?;
            T::try_from(n).map_err(|_| ParseError(format!("must be between {range}")))
        })
    }

    let mut extra_deny_syscalls = Vec::new();
    for name in &args.extra_deny_syscall {
        let s = Syscalls::named(name)
            .ok_or_else(|| PolicyError::UnknownSyscall { name: name.clone() })?;
        extra_deny_syscalls.push(s);
    }
    let mut extra_allow_groups = Vec::new();
    for name in &args.extra_allow_syscall {
        let g = group(name).ok_or_else(|| PolicyError::UnknownGroup { name: name.clone() })?;
        extra_allow_groups.push(g);
    }
    let mut allow_degraded = Vec::new();
    for name in &args.allow_degraded {
        let p = Protection::from_name(name)
            .ok_or_else(|| PolicyError::UnknownProtection { name: name.clone() })?;
        allow_degraded.push(p);
    }
    let env = list("--env", &args.env, parse::parse_env)?
        .into_iter()
        .map(|(k, v)| (k.into(), v.into()))
        .collect();
    // (Never negative: parse_time_start refuses instants before 1970.)
    let time_start = option("--time-start", &args.time_start, parse::parse_time_start)?
        .map(|ns| UNIX_EPOCH + Duration::from_nanos(ns.unsigned_abs()));
    Ok(Spec {
        command,
        fs_read: args.fs_read.iter().map(PathBuf::from).collect(),
        fs_write: args.fs_write.iter().map(PathBuf::from).collect(),
        no_default_devices: args.no_default_devices,
        cwd: args.cwd.as_ref().map(PathBuf::from),
        clean_env: args.clean_env,
        env,
        timeout: option("--timeout", &args.timeout, parse::parse_duration)?,
        max_open_files: option("--max-open-files", &args.max_open_files, parse::parse_count)?,
        no_coredump: args.no_coredump,
        no_randomize_memory: args.no_randomize_memory,
        no_huge_pages: args.no_huge_pages,
        max_processes: count("--max-processes", &args.max_processes, "1 and 4294967295")?,
        max_memory: option("--max-memory", &args.max_memory, parse::parse_size)?,
        memory_kill: args.memory_kill,
        cpu_percent: option("--cpu", &args.cpu, parse::parse_percent)?,
        cpu_cores: option("--cpu-cores", &args.cpu_cores, parse::parse_cpu_list)?,
        net_allow: list("--net-allow", &args.net_allow, net::parse_net_spec)?,
        net_deny: list("--net-deny", &args.net_deny, net::parse_net_spec)?,
        net_allow_bind: ports("--net-allow-bind", &args.net_allow_bind)?,
        net_deny_bind: ports("--net-deny-bind", &args.net_deny_bind)?.unwrap_or_default(),
        port_remap: args.port_remap,
        extra_deny_syscalls,
        extra_allow_groups,
        allow_degraded,
        keep_caps: args.keep_caps,
        name: args.name.clone(),
        random_seed: option("--random-seed", &args.random_seed, parse::parse_count)?,
        time_start,
        num_cpus: count("--num-cpus", &args.num_cpus, "1 and 1024")?,
        deterministic_dirs: args.deterministic_dirs,
        deny_exec: args.deny_exec.clone(),
        policy_exec: args.policy_exec.clone(),
        policy_timeout: option("--policy-timeout", &args.policy_timeout, parse::parse_count)?
            .map(Duration::from_millis),
        workers: count("--workers", &args.workers, "1 and 64")?,
        learn: false,
        user: None,
        status_fd: option("--status-fd", &args.status_fd, parse::parse_count)?
            .map(|fd| i32::try_from(fd).unwrap_or(i32::MAX)),
        no_supervisor: args.no_supervisor,
        view: ViewSpec {
            workdir: args.workdir.as_ref().map(PathBuf::from),
            on_exit: option("--on-exit", &args.on_exit, str::parse::<Finish>)?,
            on_error: option("--on-error", &args.on_error, str::parse::<Finish>)?,
            dry_run: args.dry_run,
            storage: args.fs_storage.as_ref().map(PathBuf::from),
            deny: args.fs_deny.iter().map(PathBuf::from).collect(),
            mounts: list(
                "--fs-mount",
                &args.fs_mount,
                crate::policy::view::parse_mount,
            )?,
            max_disk: option("--max-disk", &args.max_disk, parse::parse_size)?,
            chroot: args.chroot.as_ref().map(PathBuf::from),
            image: args.image.clone(),
            terminal: None,
            tmpfs: Vec::new(),
            sysfs: false,
        },
    })
}
