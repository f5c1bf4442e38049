//! Which syscalls go to the supervisor, decided once from the [`Policy`]: the seccomp
//! program notifies exactly these, and the supervisor's dispatch table handles exactly
//! these.

use super::Policy;

/// Which syscalls go to the supervisor. Derived from the policy; the dispatch table
/// handles exactly these.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Traps {
    /// Process-creating `clone`, `fork`, `vfork` (the process limit).
    pub fork: bool,
    /// Writable anonymous `mmap`, `mremap`, `brk` (the memory limit).
    pub memory: bool,
    /// `shmget` (the memory limit, when sysv_ipc is allowed).
    pub shm: bool,
    /// `connect` (network rules with addresses, or deny rules).
    pub connect: bool,
    /// `bind` (`--net-deny-bind`).
    pub bind: bool,
    /// UDP sockets allowed; `sendto` with an address, `sendmsg`, `sendmmsg` trapped.
    pub udp: bool,
    /// ICMP ping sockets allowed (sends trapped as for UDP).
    pub icmp: bool,
    /// `uname` (`--name`: the sandbox's name as the node name).
    pub uname: bool,
    /// `open`, `openat`, `openat2` (files served instead of the host's).
    pub open: bool,
    /// `getsockname`, `getpeername` (`--port-remap` shows virtual ports).
    pub sockname: bool,
    /// `getrandom` (`--random-seed`).
    pub random: bool,
    /// `sched_getaffinity` (`--num-cpus`).
    pub cpus: bool,
    /// `getdents64` (`--deterministic-dirs`, the /proc view).
    pub dirs: bool,
    /// `--time-start`: wall-clock reads, absolute wall-clock sleeps and timerfds, and
    /// `arch_prctl` (x86_64) to patch each new image's vDSO.
    pub time: bool,
    /// `execve`, `execveat` (`--deny-exec`, a dynamic policy); Linux AIO is refused then
    /// (its completions write memory while the sandbox is frozen).
    pub exec: bool,
    /// Forks traced for their creation event (a dynamic policy's fork events).
    pub fork_events: bool,
    /// The /proc view: path syscalls that can name a foreign process (`stat` and
    /// friends, `access`, `readlink`, `chdir`); opens go with `open`.
    pub proc: bool,
    /// `sandlet learn`: the path calls of [`crate::seccomp::LEARN_CALLS`] (opens and
    /// execs included) are recorded, then served or decided as the rest asks.
    pub learn: bool,
    /// `pidfd_getfd` is refused here: connects are made on twins installed over the
    /// caller's descriptor (`handlers::swap`), and binds are trapped only to note which
    /// sockets are bound. Set by [`Traps::without_pidfd_getfd`].
    pub swap: bool,
}

impl Traps {
    /// Everything trapped (for tests and fuzzing of the whole filter and table).
    pub const ALL: Traps = Traps {
        fork: true,
        memory: true,
        shm: true,
        connect: true,
        bind: true,
        udp: true,
        icmp: true,
        uname: true,
        open: true,
        sockname: true,
        random: true,
        cpus: true,
        dirs: true,
        time: true,
        exec: true,
        fork_events: true,
        proc: true,
        // A mode of its own (every path call notifies): tested on its own.
        learn: false,
        swap: false,
    };

    /// What `policy` needs trapped: nothing without the supervisor.
    pub fn for_policy(policy: &Policy) -> Traps {
        match &policy.supervisor {
            None => Traps::default(),
            Some(s) => Traps {
                fork: true,
                memory: s.memory.is_some(),
                shm: s.memory.is_some() && s.account_shm,
                connect: policy.net.trap_connect() || policy.dynamic.is_some(),
                bind: policy.net.trap_bind() || policy.dynamic.is_some(),
                udp: policy.net.udp(),
                icmp: policy.net.icmp(),
                uname: s.name.is_some(),
                open: policy.proc_view || !policy.served.is_empty(),
                sockname: policy.net.remap,
                random: s.random_seed.is_some(),
                cpus: s.num_cpus.is_some(),
                dirs: s.deterministic_dirs || policy.proc_view,
                time: s.time_start.is_some(),
                exec: policy.dynamic.is_some() || !policy.deny_exec.is_empty(),
                fork_events: policy.dynamic.is_some(),
                proc: policy.proc_view,
                learn: policy.learn,
                swap: false,
            },
        }
    }

    /// Whether anything is trapped (the filter needs a listener).
    pub fn any(self) -> bool {
        self.fork
            || self.memory
            || self.shm
            || self.connect
            || self.bind
            || self.datagrams()
            || self.uname
            || self.open
            || self.sockname
            || self.random
            || self.cpus
            || self.dirs
            || self.proc
            || self.time
            || self.exec
            || self.learn
    }

    /// Whether a handler takes the caller's descriptors (`pidfd_getfd`).
    pub fn take_fds(self) -> bool {
        self.connect || self.bind || self.datagrams() || self.sockname || self.dirs
    }

    /// These traps where `pidfd_getfd` is refused: connects go to twins (and binds are
    /// trapped to note bound sockets). `None` when a trap other than `connect` needs
    /// the caller's descriptors: nothing safe can stand in for it.
    pub fn without_pidfd_getfd(self) -> Option<Traps> {
        if self.bind || self.datagrams() || self.sockname || self.dirs {
            return None;
        }
        Some(Traps {
            bind: self.connect,
            swap: self.connect,
            ..self
        })
    }

    /// Datagram sockets are open, so sends that can name a destination are trapped.
    pub fn datagrams(self) -> bool {
        self.udp || self.icmp
    }
}
