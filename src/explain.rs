//! `sandlet explain`: what a [`Policy`] enforces, for a human or as JSON, without running
//! anything. A consumer of the same functions that build the enforcement (the Landlock
//! rules after carve-outs, the ABI's rights, [`Traps::for_policy`], the seccomp program),
//! so that it cannot say something the run does not do.

use std::fmt::{self, Write as _};

use crate::dynamic::json_string;
use crate::landlock;
use crate::policy::protection::Protection;
use crate::policy::traps::Traps;
use crate::policy::{FsAccess, Policy};
use crate::seccomp::bpf::{
    BPF_ABS, BPF_ALU, BPF_AND, BPF_JA, BPF_JEQ, BPF_JGE, BPF_JMP, BPF_JSET, BPF_LD, BPF_RET,
    SECCOMP_RET_ALLOW, SECCOMP_RET_ERRNO, SECCOMP_RET_KILL_PROCESS, SECCOMP_RET_USER_NOTIF,
};
use crate::seccomp::names;
use crate::sys::SockFilter;

/// One section: named entries, each with its values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    pub title: &'static str,
    pub entries: Vec<(String, Vec<String>)>,
}

impl Section {
    fn new(title: &'static str) -> Section {
        Section {
            title,
            entries: Vec::new(),
        }
    }

    fn add(&mut self, key: impl Into<String>, values: Vec<String>) {
        self.entries.push((key.into(), values));
    }

    fn one(&mut self, key: impl Into<String>, value: impl fmt::Display) {
        self.add(key, vec![value.to_string()]);
    }
}

/// What a policy enforces, section by section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Explanation {
    pub sections: Vec<Section>,
}

/// Landlock's filesystem rights, in words.
const FS_RIGHTS: &[(u64, &str)] = &[
    (landlock::FS_EXECUTE, "execute"),
    (landlock::FS_READ_FILE, "read files"),
    (landlock::FS_READ_DIR, "list directories"),
    (landlock::FS_WRITE_FILE, "write files"),
    (landlock::FS_TRUNCATE, "truncate"),
    (landlock::FS_MAKE_REG, "create files"),
    (landlock::FS_MAKE_DIR, "create directories"),
    (landlock::FS_MAKE_SYM, "create symlinks"),
    (landlock::FS_MAKE_SOCK, "create sockets"),
    (landlock::FS_MAKE_FIFO, "create fifos"),
    (landlock::FS_MAKE_CHAR, "create char devices"),
    (landlock::FS_MAKE_BLOCK, "create block devices"),
    (landlock::FS_REMOVE_FILE, "remove files"),
    (landlock::FS_REMOVE_DIR, "remove directories"),
    (landlock::FS_REFER, "rename/link across directories"),
    (landlock::FS_IOCTL_DEV, "device ioctls"),
];

/// `rights` in words.
pub fn rights_in_words(rights: u64) -> Vec<String> {
    FS_RIGHTS
        .iter()
        .filter(|(bit, _)| rights & bit != 0)
        .map(|(_, word)| (*word).to_owned())
        .collect()
}

/// The explanation of `policy` on a kernel with Landlock ABI `abi` (with `--bpf`, the
/// seccomp program disassembled).
pub fn explain(policy: &Policy, abi: u32, bpf: bool) -> Explanation {
    let traps = Traps::for_policy(policy);
    let mut sections = vec![
        command(policy),
        filesystem(policy, abi),
        network(policy, abi),
    ];
    sections.push(seccomp(policy, traps, bpf));
    sections.push(limits(policy));
    sections.push(virtualization(policy));
    if let Some(view) = view(policy) {
        sections.push(view);
    }
    Explanation { sections }
}

fn command(policy: &Policy) -> Section {
    let mut s = Section::new("command");
    let argv = policy
        .command
        .iter()
        .map(|a| a.to_string_lossy().into_owned());
    s.add("argv", argv.collect());
    if let Some(cwd) = &policy.cwd {
        s.one("working directory", cwd.display());
    }
    s.one("environment", format!("{} variables", policy.env.len()));
    if !policy.deny_exec.is_empty() {
        s.add("exec refused (--deny-exec)", policy.deny_exec.clone());
    }
    if policy.dynamic.is_some() {
        s.one(
            "dynamic policy",
            "exec, new processes and network events are asked",
        );
    }
    s
}

fn filesystem(policy: &Policy, abi: u32) -> Section {
    let mut s = Section::new("filesystem (Landlock)");
    s.one("Landlock ABI", abi);
    let handled = landlock::fs_rights(abi);
    let rules =
        crate::policy::landlock_rules(&policy.fs, policy.proc_view, &crate::policy::list_dir);
    for rule in &rules {
        let wanted = match rule.access {
            FsAccess::Read => landlock::FS_READ,
            FsAccess::Write => landlock::FS_WRITE,
        } & handled;
        let dir = std::fs::metadata(&rule.path).is_ok_and(|m| m.is_dir());
        let rights = if dir {
            wanted
        } else {
            wanted & landlock::FS_FILE_RIGHTS
        };
        let what = if dir { "beneath" } else { "file" };
        s.add(
            format!("{what} {}", rule.path.display()),
            rights_in_words(rights),
        );
    }
    if rules.is_empty() {
        s.one("rules", "none: no file can be opened");
    }
    if policy.proc_view {
        s.one(
            "/proc",
            "served by the supervisor: only the sandbox's processes",
        );
    }
    for m in &policy.fs_mounts {
        let how = if m.read_only {
            "read-only"
        } else {
            "read-write"
        };
        s.one(
            format!("mounted {}", m.seen.display()),
            format!("{} ({how}, --fs-mount)", m.host.display()),
        );
    }
    if let Some(root) = &policy.root {
        s.one(
            "root",
            format!(
                "{} (--chroot: paths above are paths in it; /proc, /dev, /tmp mounted)",
                root.dir.display()
            ),
        );
    }
    for denied in &policy.fs_deny {
        s.one(
            format!("unreachable {}", denied.path.display()),
            "--fs-deny",
        );
    }
    let missing: Vec<String> = Protection::ALL
        .into_iter()
        .filter(|p| abi < p.min_abi())
        .map(|p| format!("{} (needs Linux {})", p.name(), p.kernel()))
        .collect();
    if !missing.is_empty() {
        s.add("not enforced on this kernel", missing);
    }
    if abi >= 6 {
        s.add(
            "scoped",
            vec![
                "signals to processes outside".into(),
                "abstract unix sockets outside".into(),
            ],
        );
    }
    s
}

fn network(policy: &Policy, abi: u32) -> Section {
    let mut s = Section::new("network");
    let net = &policy.net;
    let show =
        |rules: &[crate::policy::net::NetSpec]| rules.iter().map(|r| r.to_string()).collect();
    if net.allow.is_empty() && net.deny.is_empty() {
        s.one(
            "connect",
            "none (TCP denied; UDP and ICMP sockets cannot be made)",
        );
    }
    if !net.allow.is_empty() {
        s.add("allow", show(&net.allow));
    }
    if !net.deny.is_empty() {
        s.add("allow all but", show(&net.deny));
    }
    for (host, addrs) in &net.pinned {
        s.add(
            format!("host {host}"),
            addrs.iter().map(|a| a.to_string()).collect(),
        );
    }
    let ports = net.landlock_connect_ports();
    if abi >= 4 && !net.trap_connect() {
        let by = if ports.is_empty() {
            "none".to_owned()
        } else {
            ports
                .iter()
                .map(u16::to_string)
                .collect::<Vec<_>>()
                .join(",")
        };
        s.one("TCP connect ports (Landlock)", by);
    } else if net.trap_connect() {
        s.one("connects", "checked and made by the supervisor");
    }
    s.one("bind ports", &policy.bind_ports);
    if net.deny_bind != crate::policy::parse::PortSet::None {
        s.one("bind refused", &net.deny_bind);
    }
    if net.remap {
        s.one("port space", "virtual (--port-remap)");
    }
    s
}

/// Each trap, with the syscalls and the flag that asked for it.
pub fn trap_reasons(traps: Traps) -> Vec<(&'static str, &'static str)> {
    let all = [
        (traps.fork, "clone, fork, vfork", "-P (the process limit; always)"),
        (traps.memory, "mmap, mremap, brk (writable anonymous)", "-m"),
        (traps.shm, "shmget", "-m with sysv_ipc allowed"),
        (traps.connect, "connect", "rules with addresses, --net-deny, UDP, a dynamic policy"),
        (traps.bind, "bind", "--net-deny-bind, --port-remap, UDP, a dynamic policy"),
        (traps.datagrams(), "sendto, sendmsg, sendmmsg", "UDP or ICMP rules"),
        (traps.uname, "uname", "--name"),
        (traps.open, "open, openat, openat2", "served files (--name, --random-seed, --num-cpus, host rules, --port-remap) or the /proc view"),
        (traps.sockname, "getsockname, getpeername", "--port-remap"),
        (traps.random, "getrandom", "--random-seed"),
        (traps.cpus, "sched_getaffinity", "--num-cpus"),
        (traps.dirs, "getdents64", "--deterministic-dirs or the /proc view"),
        (traps.time, "clock_gettime, gettimeofday, time, clock_nanosleep, timerfd_settime, arch_prctl", "--time-start"),
        (traps.exec, "execve, execveat", "--deny-exec or a dynamic policy"),
        (traps.proc, "stat family, access, readlink, chdir (beneath /proc)", "the /proc view"),
    ];
    all.into_iter()
        .filter(|(on, _, _)| *on)
        .map(|(_, calls, why)| (calls, why))
        .collect()
}

fn seccomp(policy: &Policy, traps: Traps, bpf: bool) -> Section {
    let mut s = Section::new("seccomp");
    if policy.supervisor.is_none() {
        s.one("supervisor", "none (--no-supervisor): nothing is trapped");
    }
    for (calls, why) in trap_reasons(traps) {
        s.one(format!("trapped: {calls}"), why);
    }
    let denied: Vec<String> = policy
        .deny_syscalls
        .iter()
        .map(|&nr| names::name(nr).map_or_else(|| format!("#{nr}"), str::to_owned))
        .collect();
    s.add("refused with EPERM", denied);
    s.one(
        "refused with ENOSYS",
        "clone3 (so that libc falls back to clone, which is checked)",
    );
    for (calls, what) in argument_rules(traps) {
        s.one(format!("refused by argument: {calls}"), what);
    }
    match crate::seccomp::program(&policy.deny_syscalls, traps) {
        Ok(program) => {
            s.one("BPF instructions", program.len());
            if bpf {
                s.add("BPF", disassemble(&program));
            }
        }
        Err(e) => s.one("BPF", format!("cannot be assembled: {e}")),
    }
    s
}

/// What [`crate::seccomp::program`] refuses by the arguments of a call rather than by its number, in
/// words (kept next to its reader;
/// `tests/explain.rs` probes each against a run): (the calls, what is refused).
fn argument_rules(traps: Traps) -> Vec<(&'static str, String)> {
    let mut dgram = vec!["stream (TCP)"];
    if traps.udp {
        dgram.push("datagram (UDP)");
    }
    if traps.icmp {
        dgram.push("ping (ICMP)");
    }
    let mut rules = vec![
        (
            "clone",
            "with a CLONE_NEW* flag: EPERM (no namespaces)".to_owned(),
        ),
        (
            "ioctl",
            "TIOCSTI and TIOCLINUX: EPERM (no typing into a terminal)".to_owned(),
        ),
        (
            "socket",
            format!(
                "only unix, netlink route, and inet/inet6 {}: EAFNOSUPPORT or EPERM otherwise",
                dgram.join(", ")
            ),
        ),
        (
            "prctl",
            "PR_SET_DUMPABLE, PR_SET_SECUREBITS, PR_SET_PTRACER: EPERM".to_owned(),
        ),
        ("personality", "anything but a query: EPERM".to_owned()),
        (
            "sendto, sendmsg, sendmmsg",
            "MSG_FASTOPEN: EPERM".to_owned(),
        ),
    ];
    if traps.exec {
        rules.push((
            "io_setup, io_submit",
            "always: EPERM (exec decisions)".to_owned(),
        ));
    }
    rules
}

fn limits(policy: &Policy) -> Section {
    let mut s = Section::new("limits");
    if let Some(sup) = &policy.supervisor {
        s.one("processes (-P)", sup.max_processes);
        match &sup.memory {
            Some(m) => s.one(
                "memory (-m)",
                format!(
                    "{}{}",
                    crate::policy::parse::format_size(m.bytes),
                    if m.kill {
                        ", then the sandbox is killed"
                    } else {
                        ", then ENOMEM"
                    }
                ),
            ),
            None => s.one("memory (-m)", "none"),
        }
        s.one("supervisor workers", sup.workers);
    }
    let none = || "none".to_owned();
    s.one(
        "timeout (-t)",
        policy.timeout.map_or_else(none, |t| format!("{t:?}")),
    );
    s.one(
        "CPU (-c)",
        policy
            .cpu_percent
            .map_or_else(none, |p| format!("{p}% of one CPU")),
    );
    if let Some(cores) = &policy.cpu_cores {
        s.add(
            "CPUs (--cpu-cores)",
            cores.iter().map(usize::to_string).collect(),
        );
    }
    s.one(
        "open files",
        policy
            .max_open_files
            .map_or_else(|| "inherited".to_owned(), |n| n.to_string()),
    );
    let mut flags = Vec::new();
    for (on, what) in [
        (policy.no_coredump, "no core dumps"),
        (policy.no_randomize_memory, "no address-space randomization"),
        (policy.no_huge_pages, "no transparent huge pages"),
        (!policy.keep_caps, "capabilities dropped"),
    ] {
        if on {
            flags.push(what.to_owned());
        }
    }
    s.add("process", flags);
    s
}

fn virtualization(policy: &Policy) -> Section {
    let mut s = Section::new("virtualization");
    if let Some(sup) = &policy.supervisor {
        if let Some(name) = &sup.name {
            s.one("name", name);
        }
        if let Some(seed) = sup.random_seed {
            s.one("random seed", seed);
        }
        if let Some(cpus) = sup.num_cpus {
            s.one("CPUs shown", cpus);
        }
        if let Some(start) = sup.time_start {
            s.one("clock starts at (ns since 1970)", start);
        }
        if sup.deterministic_dirs {
            s.one("directory listings", "sorted");
        }
    }
    let served: Vec<String> = policy
        .served
        .iter()
        .map(|(path, _)| (*path).to_owned())
        .collect();
    if !served.is_empty() {
        s.add("files served", served);
    }
    s
}

fn view(policy: &Policy) -> Option<Section> {
    let v = policy.view.as_ref()?;
    let mut s = Section::new("filesystem view");
    let word = |f: crate::policy::view::Finish| format!("{f:?}").to_lowercase();
    s.one("copy-on-write over", v.workdir.display());
    s.one("on exit 0", word(v.on_exit));
    s.one("otherwise", word(v.on_error));
    if v.dry_run {
        s.one("dry run", "changes printed, then aborted");
    }
    s.one("layers in", v.storage.display());
    if let Some(max) = v.max_disk {
        s.one("at most", crate::policy::parse::format_size(max));
    }
    Some(s)
}

/// The seccomp program, one instruction per line, jump targets labelled.
pub fn disassemble(program: &[SockFilter]) -> Vec<String> {
    let mut targets = std::collections::BTreeSet::new();
    for (i, ins) in program.iter().enumerate() {
        if ins.code & 0x07 == BPF_JMP {
            if ins.code & 0xf0 == BPF_JA {
                targets.insert(i + 1 + ins.k as usize);
            } else {
                targets.insert(i + 1 + ins.jt as usize);
                targets.insert(i + 1 + ins.jf as usize);
            }
        }
    }
    let label = |at: usize| format!("L{at}");
    // What the accumulator holds when each instruction runs: the field last loaded on
    // every path there (jumps only go forward), or Some(None) when paths disagree.
    let mut held: Vec<Option<Option<u32>>> = vec![None; program.len() + 1];
    if let Some(first) = held.first_mut() {
        *first = Some(None);
    }
    fn flow(held: &mut [Option<Option<u32>>], to: usize, value: Option<u32>) {
        if let Some(slot) = held.get_mut(to) {
            *slot = match *slot {
                None => Some(value),
                Some(v) if v == value => Some(v),
                Some(_) => Some(None),
            };
        }
    }
    let mut out = Vec::new();
    for (i, ins) in program.iter().enumerate() {
        let acc = held[i].flatten();
        let mut line = String::new();
        if targets.contains(&i) {
            let _ = write!(line, "{}:", label(i));
        }
        line.push('\t');
        match (ins.code & 0x07, ins.code & 0xf0) {
            (BPF_LD, _) if ins.code == BPF_LD | BPF_ABS => {
                let _ = write!(line, "ld {}", field(ins.k));
                flow(&mut held, i + 1, Some(ins.k));
            }
            (BPF_ALU, BPF_AND) => {
                let _ = write!(line, "and #{:#x}", ins.k);
                flow(&mut held, i + 1, None);
            }
            (BPF_JMP, BPF_JA) => {
                let _ = write!(line, "ja {}", label(i + 1 + ins.k as usize));
                flow(&mut held, i + 1 + ins.k as usize, acc);
            }
            (BPF_JMP, op @ (BPF_JEQ | BPF_JGE | BPF_JSET)) => {
                let name = match op {
                    BPF_JEQ => "jeq",
                    BPF_JGE => "jge",
                    _ => "jset",
                };
                let syscall = (acc == Some(0) && op != BPF_JSET)
                    .then(|| names::name(ins.k))
                    .flatten();
                let what = syscall.map_or_else(|| format!("#{:#x}", ins.k), str::to_owned);
                let (t, f) = (i + 1 + ins.jt as usize, i + 1 + ins.jf as usize);
                let _ = write!(line, "{name} {what}, {}, {}", label(t), label(f));
                flow(&mut held, t, acc);
                flow(&mut held, f, acc);
            }
            (BPF_RET, _) => {
                let _ = write!(line, "ret {}", action(ins.k));
            }
            _ => {
                let _ = write!(line, "code {:#x} k {:#x}", ins.code, ins.k);
                flow(&mut held, i + 1, None);
            }
        }
        out.push(line);
    }
    out
}

/// A `seccomp_data` offset by name.
fn field(k: u32) -> String {
    match k {
        0 => "nr".into(),
        4 => "arch".into(),
        8 => "ip".into(),
        12 => "ip_high".into(),
        k if (16..64).contains(&k) => {
            let arg = (k - 16) / 8;
            let half = if (k - 16) % 8 == 0 { "low" } else { "high" };
            format!("args[{arg}].{half}")
        }
        k => format!("[{k}]"),
    }
}

/// A filter's return value by name.
fn action(k: u32) -> String {
    match k & 0xffff_0000 {
        SECCOMP_RET_ALLOW => "ALLOW".into(),
        SECCOMP_RET_USER_NOTIF => "NOTIFY (the supervisor)".into(),
        SECCOMP_RET_ERRNO => {
            let errno = (k & 0xffff) as i32;
            let name = [
                (libc::EPERM, "EPERM"),
                (libc::ENOSYS, "ENOSYS"),
                (libc::EACCES, "EACCES"),
                (libc::EINVAL, "EINVAL"),
                (libc::EAFNOSUPPORT, "EAFNOSUPPORT"),
                (libc::EOPNOTSUPP, "EOPNOTSUPP"),
                (libc::EPROTONOSUPPORT, "EPROTONOSUPPORT"),
            ]
            .iter()
            .find(|(e, _)| *e == errno)
            .map_or_else(|| errno.to_string(), |(_, n)| (*n).to_owned());
            format!("ERRNO({name})")
        }
        SECCOMP_RET_KILL_PROCESS => "KILL_PROCESS".into(),
        _ => format!("{k:#x}"),
    }
}

impl fmt::Display for Explanation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown = self.sections.iter().filter(|s| !s.entries.is_empty());
        for (i, s) in shown.enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            writeln!(f, "{}", s.title)?;
            for (key, values) in &s.entries {
                match values.as_slice() {
                    [one] if key != "BPF" => writeln!(f, "  {key}: {one}")?,
                    [] => writeln!(f, "  {key}: -")?,
                    many if key == "BPF" => {
                        writeln!(f, "  {key}:")?;
                        for v in many {
                            writeln!(f, "  {v}")?;
                        }
                    }
                    many => writeln!(f, "  {key}: {}", many.join(", "))?,
                }
            }
        }
        Ok(())
    }
}

impl Explanation {
    /// One JSON object: each section an object of key -> array of strings.
    pub fn to_json(&self) -> String {
        let mut out = String::from("{");
        for (i, s) in self.sections.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            let _ = write!(out, "{}:{{", json_string(s.title));
            for (j, (key, values)) in s.entries.iter().enumerate() {
                if j > 0 {
                    out.push(',');
                }
                let values: Vec<String> = values.iter().map(|v| json_string(v)).collect();
                let _ = write!(out, "{}:[{}]", json_string(key), values.join(","));
            }
            out.push('}');
        }
        out.push('}');
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seccomp::bpf::{jump, stmt, BPF_K, BPF_W};

    #[test]
    fn disassembly_names_fields_syscalls_and_actions() {
        let getpid = names::number("getpid").unwrap();
        let program = [
            stmt(BPF_LD | BPF_W | BPF_ABS, 0),
            jump(BPF_JMP | BPF_JEQ | BPF_K, getpid, 0, 1),
            stmt(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | libc::EPERM as u32),
            stmt(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        ];
        let text = disassemble(&program);
        assert_eq!(
            text,
            [
                "\tld nr",
                "\tjeq getpid, L2, L3",
                "L2:\tret ERRNO(EPERM)",
                "L3:\tret ALLOW"
            ]
        );
        assert_eq!(field(16), "args[0].low");
        assert_eq!(field(28), "args[1].high");
    }

    #[test]
    fn json_is_escaped() {
        let e = Explanation {
            sections: vec![Section {
                title: "t",
                entries: vec![("k".into(), vec!["v".into(), "w".into()])],
            }],
        };
        assert_eq!(e.to_json(), "{\"t\":{\"k\":[\"v\",\"w\"]}}");
    }

    #[test]
    fn rights_read_as_words() {
        assert_eq!(
            rights_in_words(landlock::FS_READ),
            ["execute", "read files", "list directories"]
        );
    }
}
