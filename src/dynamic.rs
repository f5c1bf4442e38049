//! Dynamic policy: a caller-supplied decision for each network event, and run-time
//! tightening of the sandbox.
//!
//! A [`PolicyFn`] sees every `connect`, datagram send and `bind` that the static rules
//! allow, and answers with a [`Verdict`]. It runs on a supervisor worker while the
//! calling thread stays blocked; the call itself is then made on the caller's behalf
//! with the address that was checked (see `handlers::net`), so what the callback saw is
//! what happens. Through [`PolicyCtx`] it may narrow the network to a set of addresses
//! (for the whole sandbox or one process) and lower the memory and process limits;
//! nothing it does can reach beyond the static policy.
//!
//! `--policy-exec PROGRAM` is the same thing for any language: [`ProgramPolicy`] writes
//! one JSON object per event to the program's stdin and reads one verdict line back.

use std::collections::{HashMap, HashSet};
use std::fmt::{self, Write as _};
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::AsFd;
use std::os::unix::process::CommandExt;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use log::{debug, warn};

use crate::policy::net::Proto;
use crate::state::lock;

/// What kind of thing an event is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Category {
    Network,
    Process,
}

impl Category {
    pub fn name(self) -> &'static str {
        match self {
            Category::Network => "network",
            Category::Process => "process",
        }
    }
}

/// What the event asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventKind {
    /// A connection (`connect`) or a datagram (`sendto`, `sendmsg`, `sendmmsg`) to `to`.
    Network { proto: Proto, to: SocketAddr },
    /// `bind` to `port`.
    Bind { proto: Proto, port: u16 },
    /// `execve`/`execveat` of `path` (absolute; as given, before symlinks) with `argv`
    /// (as the kernel will copy it: the caller's address space is frozen while it is
    /// read).
    Exec { path: String, argv: Vec<String> },
    /// A new process `child`, created by `fork`, `vfork` or `clone` and stopped before
    /// its first instruction (a `Deny` kills it there).
    Fork { child: i32 },
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EventKind::Network { proto, to } => write!(f, "{} {to}", proto.name()),
            EventKind::Bind { proto, port } => write!(f, "{} port {port}", proto.name()),
            EventKind::Exec { path, argv } => write!(f, "{path} {argv:?}"),
            EventKind::Fork { child } => write!(f, "child {child}"),
        }
    }
}

/// One syscall a dynamic policy decides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// The calling process (thread-group id).
    pub pid: i32,
    /// Its parent.
    pub parent_pid: i32,
    /// The syscall's name.
    pub syscall: &'static str,
    pub category: Category,
    pub kind: EventKind,
}

impl Event {
    /// The event as one line of JSON (without the newline), numbered `id`.
    pub fn to_json(&self, id: u64) -> String {
        let mut s = format!(
            "{{\"id\":{id},\"syscall\":{},\"category\":{},\"pid\":{},\"parent_pid\":{}",
            json_string(self.syscall),
            json_string(self.category.name()),
            self.pid,
            self.parent_pid
        );
        match &self.kind {
            EventKind::Network { proto, to } => {
                let _ = write!(
                    s,
                    ",\"protocol\":{},\"ip\":{},\"port\":{}",
                    json_string(proto.name()),
                    json_string(&to.ip().to_string()),
                    to.port()
                );
            }
            EventKind::Bind { proto, port } => {
                let _ = write!(
                    s,
                    ",\"protocol\":{},\"port\":{port}",
                    json_string(proto.name())
                );
            }
            EventKind::Exec { path, argv } => {
                let _ = write!(s, ",\"path\":{},\"argv\":[", json_string(path));
                for (i, a) in argv.iter().enumerate() {
                    if i > 0 {
                        s.push(',');
                    }
                    s.push_str(&json_string(a));
                }
                s.push(']');
            }
            EventKind::Fork { child } => {
                let _ = write!(s, ",\"child_pid\":{child}");
            }
        }
        s.push('}');
        s
    }
}

/// `s` as a JSON string literal (see [`crate::json::escape_into`]).
pub fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    crate::json::escape_into(&mut out, s);
    out
}

/// Whether `text` matches the glob `pattern`: `*` is any run of characters, `?` any one
/// character, everything else itself.
pub fn glob_match(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    // Where the last `*` was, and the text position it is trying to cover up to.
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some(b'*') => {
                star = Some((p, t));
                p += 1;
            }
            Some(&c) if c == b'?' || c == text[t] => {
                p += 1;
                t += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    p = sp + 1;
                    t = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

/// The `--deny-exec` rule that refuses an exec of `path` (and `resolved`, its target)
/// with `argv0`: a rule without `/` is matched against the last component of each, a
/// rule with `/` against each whole.
pub fn deny_exec_rule<'a>(
    rules: &'a [String],
    argv0: &str,
    path: &str,
    resolved: &str,
) -> Option<&'a str> {
    let base = |s: &str| s.rsplit('/').next().unwrap_or(s).to_owned();
    rules
        .iter()
        .find(|rule| {
            [argv0, path, resolved].iter().any(|cand| {
                let cand = if rule.contains('/') {
                    (*cand).to_owned()
                } else {
                    base(cand)
                };
                glob_match(rule.as_bytes(), cand.as_bytes())
            })
        })
        .map(String::as_str)
}

/// A dynamic policy's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Allow,
    /// Refused with EPERM.
    Deny,
    /// Refused with this errno.
    DenyWith(i32),
    /// Allowed, and logged (`sandlet: audit: ...`).
    Audit,
}

/// Errno names a verdict line may use.
const ERRNOS: &[(&str, i32)] = &[
    ("EPERM", libc::EPERM),
    ("EACCES", libc::EACCES),
    ("ECONNREFUSED", libc::ECONNREFUSED),
    ("ENETUNREACH", libc::ENETUNREACH),
    ("EHOSTUNREACH", libc::EHOSTUNREACH),
    ("ETIMEDOUT", libc::ETIMEDOUT),
    ("EADDRINUSE", libc::EADDRINUSE),
    ("EADDRNOTAVAIL", libc::EADDRNOTAVAIL),
    ("ENOENT", libc::ENOENT),
    ("EINVAL", libc::EINVAL),
    ("EAGAIN", libc::EAGAIN),
    ("ENOMEM", libc::ENOMEM),
    ("ENOSYS", libc::ENOSYS),
];

/// Parses a verdict line: `allow`, `audit`, `deny`, `deny ERRNO` (a name like `EACCES`
/// or a number 1-4095). Surrounding whitespace is ignored.
pub fn parse_verdict(line: &str) -> Option<Verdict> {
    let mut words = line.split_ascii_whitespace();
    let verdict = match (words.next()?, words.next()) {
        ("allow", None) => Verdict::Allow,
        ("audit", None) => Verdict::Audit,
        ("deny", None) => Verdict::Deny,
        ("deny", Some(e)) => {
            let code = match ERRNOS.iter().find(|(name, _)| *name == e) {
                Some(&(_, code)) => code,
                None if e.len() <= 4 && e.bytes().all(|b| b.is_ascii_digit()) => {
                    e.parse::<i32>().ok().filter(|c| (1..=4095).contains(c))?
                }
                None => return None,
            };
            Verdict::DenyWith(code)
        }
        _ => return None,
    };
    words.next().is_none().then_some(verdict)
}

/// What a callback asked for, applied after it returns (no lock is held while it runs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    RestrictNetwork(Vec<IpAddr>),
    GrantNetwork(Vec<IpAddr>),
    RestrictPidNetwork(i32, Vec<IpAddr>),
    RestrictMaxMemory(u64),
    RestrictMaxProcesses(u32),
}

/// What a callback may change.
#[derive(Debug, Default)]
pub struct PolicyCtx {
    actions: Vec<Action>,
}

impl PolicyCtx {
    /// From now on the sandbox may reach only these addresses (and only where the
    /// static rules allow). Repeated calls narrow further.
    pub fn restrict_network(&mut self, ips: &[IpAddr]) {
        self.actions.push(Action::RestrictNetwork(ips.to_vec()));
    }
    /// Gives back addresses an earlier restriction took away; never more than the
    /// static rules allow.
    pub fn grant_network(&mut self, ips: &[IpAddr]) {
        self.actions.push(Action::GrantNetwork(ips.to_vec()));
    }
    /// Like [`PolicyCtx::restrict_network`] for process `pid` only.
    pub fn restrict_pid_network(&mut self, pid: i32, ips: &[IpAddr]) {
        self.actions
            .push(Action::RestrictPidNetwork(pid, ips.to_vec()));
    }
    /// Lowers the memory limit (a higher value is ignored; needs `-m`).
    pub fn restrict_max_memory(&mut self, bytes: u64) {
        self.actions.push(Action::RestrictMaxMemory(bytes));
    }
    /// Lowers the process limit (a higher value is ignored).
    pub fn restrict_max_processes(&mut self, n: u32) {
        self.actions.push(Action::RestrictMaxProcesses(n));
    }

    /// What the callback asked for, in order.
    pub fn into_actions(self) -> Vec<Action> {
        self.actions
    }
}

type Callback = dyn Fn(&Event, &mut PolicyCtx) -> Verdict + Send + Sync;

/// A dynamic policy callback.
#[derive(Clone)]
pub struct PolicyFn(Arc<Callback>);

impl PolicyFn {
    pub fn new(f: impl Fn(&Event, &mut PolicyCtx) -> Verdict + Send + Sync + 'static) -> Self {
        PolicyFn(Arc::new(f))
    }

    pub fn call(&self, event: &Event, ctx: &mut PolicyCtx) -> Verdict {
        (self.0)(event, ctx)
    }
}

impl fmt::Debug for PolicyFn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PolicyFn")
    }
}

/// Addresses the dynamic restrictions leave reachable (`None`: no restriction).
#[derive(Debug, Default)]
pub struct NetLimits {
    all: Option<HashSet<IpAddr>>,
    per_pid: HashMap<i32, HashSet<IpAddr>>,
}

impl NetLimits {
    /// Whether process `pid` may still reach `ip`.
    pub fn allows(&self, pid: i32, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.all.as_ref().is_none_or(|s| s.contains(&ip))
            && self.per_pid.get(&pid).is_none_or(|s| s.contains(&ip))
    }

    /// Applies the network actions of a callback.
    pub fn apply(&mut self, action: &Action) {
        let set = |ips: &[IpAddr]| ips.iter().copied().map(canonical).collect::<HashSet<_>>();
        match action {
            Action::RestrictNetwork(ips) => {
                let new = set(ips);
                self.all = Some(match self.all.take() {
                    Some(old) => old.intersection(&new).copied().collect(),
                    None => new,
                });
            }
            Action::GrantNetwork(ips) => {
                if let Some(all) = self.all.as_mut() {
                    all.extend(set(ips));
                }
            }
            Action::RestrictPidNetwork(pid, ips) => {
                let new = set(ips);
                let entry = self.per_pid.remove(pid);
                self.per_pid.insert(
                    *pid,
                    match entry {
                        Some(old) => old.intersection(&new).copied().collect(),
                        None => new,
                    },
                );
            }
            Action::RestrictMaxMemory(_) | Action::RestrictMaxProcesses(_) => {}
        }
    }
}

/// IPv4-mapped IPv6 addresses as IPv4.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// `--policy-exec PROGRAM`: the policy program and the protocol with it.
pub struct ProgramPolicy {
    inner: Mutex<Program>,
    timeout: Duration,
    /// The program's pid: a child of sandlet, reaped only when `Program` is dropped, so
    /// the pid stays its own until then.
    pid: i32,
    /// Set when the run ends: the program's end is then expected, not a failure.
    closing: AtomicBool,
}

struct Program {
    child: Child,
    stdin: ChildStdin,
    stdout: ChildStdout,
    /// Bytes read but not yet consumed as lines.
    pending: Vec<u8>,
    /// Verdicts still owed for events that timed out (read and dropped when they come).
    stale: u64,
    next_id: u64,
    /// Why every later event is denied.
    broken: Option<String>,
}

impl ProgramPolicy {
    /// Starts `program` (outside the sandbox) with piped stdin and stdout, in a process
    /// group of its own, so that it ends with everything it started.
    pub fn start(program: &str, timeout: Duration) -> io::Result<ProgramPolicy> {
        let mut child = Command::new(program)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .process_group(0)
            .spawn()?;
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(io::Error::from_raw_os_error(libc::EPIPE));
        };
        // Not part of the sandbox, though a child of sandlet.
        crate::procfs::set_outsider(child.id() as i32, true);
        // Writes must not block (see `Program::write_all`).
        if let Err(e) = rustix::io::ioctl_fionbio(&stdin, true) {
            let _ = child.kill();
            let _ = child.wait();
            return Err(e.into());
        }
        let pid = child.id() as i32;
        Ok(ProgramPolicy {
            pid,
            closing: AtomicBool::new(false),
            inner: Mutex::new(Program {
                child,
                stdin,
                stdout,
                pending: Vec::new(),
                stale: 0,
                next_id: 1,
                broken: None,
            }),
            timeout,
        })
    }

    /// Ends the program at the end of the run, without taking the lock a worker may
    /// hold while it waits for a verdict (that wait then ends with a denial, quietly).
    pub fn close(&self) {
        self.closing.store(true, Ordering::SeqCst);
        kill_group(self.pid);
    }

    /// Asks the program about `event`; anything but a timely, well-formed answer is
    /// `Deny`.
    pub fn decide(&self, event: &Event) -> Verdict {
        let mut p = lock(&self.inner);
        if p.broken.is_some() {
            return Verdict::Deny;
        }
        let id = p.next_id;
        p.next_id += 1;
        let answer = p.ask(event, id, self.timeout);
        if self.closing.load(Ordering::SeqCst) {
            debug!("policy program: event {id} denied, the run is ending");
            return Verdict::Deny;
        }
        match answer {
            Ok(Some(v)) => v,
            Ok(None) => {
                warn!(
                    "policy program gave no verdict for event {id} within {} ms; denied",
                    self.timeout.as_millis()
                );
                p.stale += 1;
                Verdict::Deny
            }
            Err(why) => {
                warn!("policy program failed ({why}); every later event is denied");
                p.broken = Some(why);
                Verdict::Deny
            }
        }
    }
}

impl Program {
    /// Sends the event and waits for its verdict: `Ok(None)` on timeout, `Err` when the
    /// program is gone or answered garbage.
    fn ask(
        &mut self,
        event: &Event,
        id: u64,
        timeout: Duration,
    ) -> Result<Option<Verdict>, String> {
        let deadline = Instant::now() + timeout;
        let line = event.to_json(id) + "\n";
        self.write_all(line.as_bytes(), deadline)?;
        loop {
            let Some(answer) = self.read_line(deadline)? else {
                return Ok(None);
            };
            if self.stale > 0 {
                self.stale -= 1;
                continue;
            }
            let text = String::from_utf8_lossy(&answer);
            return parse_verdict(&text)
                .map(Some)
                .ok_or_else(|| format!("it answered {:?}, not a verdict", text.trim_end()));
        }
    }

    /// Writes `data` to the program's input (non-blocking) by `deadline`: a program that
    /// does not read its input is a failed one, not a reason to hang.
    fn write_all(&mut self, mut data: &[u8], deadline: Instant) -> Result<(), String> {
        while !data.is_empty() {
            match rustix::io::write(self.stdin.as_fd(), data) {
                Ok(n) => data = &data[n..],
                Err(rustix::io::Errno::INTR) => {}
                Err(rustix::io::Errno::AGAIN) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return Err("it does not read its input".into());
                    }
                    let mut fds = [rustix::event::PollFd::new(
                        &self.stdin,
                        rustix::event::PollFlags::OUT,
                    )];
                    let wait = rustix::time::Timespec {
                        tv_sec: left.as_secs() as i64,
                        tv_nsec: i64::from(left.subsec_nanos()),
                    };
                    match rustix::event::poll(&mut fds, Some(&wait)) {
                        Ok(_) | Err(rustix::io::Errno::INTR) => {}
                        Err(e) => return Err(format!("waiting to write to it: {e}")),
                    }
                }
                Err(e) => return Err(format!("writing to it: {e}")),
            }
        }
        Ok(())
    }

    /// The next line (without its newline) by `deadline`; `Ok(None)` on timeout.
    fn read_line(&mut self, deadline: Instant) -> Result<Option<Vec<u8>>, String> {
        loop {
            if let Some(end) = self.pending.iter().position(|&b| b == b'\n') {
                let line = self.pending.drain(..=end).collect::<Vec<u8>>();
                return Ok(Some(line[..line.len() - 1].to_vec()));
            }
            if self.pending.len() > 4096 {
                return Err("it sent a line longer than 4096 bytes".into());
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(None);
            }
            let mut fds = [rustix::event::PollFd::new(
                &self.stdout,
                rustix::event::PollFlags::IN,
            )];
            let wait = rustix::time::Timespec {
                tv_sec: left.as_secs() as i64,
                tv_nsec: i64::from(left.subsec_nanos()),
            };
            match rustix::event::poll(&mut fds, Some(&wait)) {
                Ok(0) => return Ok(None),
                Ok(_) => {}
                Err(rustix::io::Errno::INTR) => continue,
                Err(e) => return Err(format!("waiting for it: {e}")),
            }
            let mut buf = [0u8; 512];
            match rustix::io::read(self.stdout.as_fd(), &mut buf) {
                Ok(0) => {
                    let status = match self.child.try_wait() {
                        Ok(Some(s)) => format!("; {s}"),
                        _ => String::new(),
                    };
                    return Err(format!("it stopped answering: output closed{status}"));
                }
                Ok(n) => self.pending.extend_from_slice(&buf[..n]),
                Err(rustix::io::Errno::INTR) => {}
                Err(e) => return Err(format!("reading from it: {e}")),
            }
        }
    }
}

/// Kills the program's process group: the program and what it started (its group id is
/// its pid, which stays its own until it is reaped).
fn kill_group(pid: i32) {
    if let Some(pid) = rustix::process::Pid::from_raw(pid) {
        let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
    }
}

impl Drop for Program {
    fn drop(&mut self) {
        kill_group(self.child.id() as i32);
        let _ = self.child.wait();
        crate::procfs::set_outsider(self.child.id() as i32, false);
    }
}

impl fmt::Debug for ProgramPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ProgramPolicy")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdict_lines() {
        assert_eq!(parse_verdict("allow"), Some(Verdict::Allow));
        assert_eq!(parse_verdict(" audit \r"), Some(Verdict::Audit));
        assert_eq!(parse_verdict("deny"), Some(Verdict::Deny));
        assert_eq!(
            parse_verdict("deny EACCES"),
            Some(Verdict::DenyWith(libc::EACCES))
        );
        assert_eq!(parse_verdict("deny 13"), Some(Verdict::DenyWith(13)));
        for bad in [
            "",
            "ALLOW",
            "deny 0",
            "deny 4096",
            "deny EWHAT",
            "allow now",
            "deny 1 2",
        ] {
            assert_eq!(parse_verdict(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn events_as_json() {
        let e = Event {
            pid: 7,
            parent_pid: 1,
            syscall: "connect",
            category: Category::Network,
            kind: EventKind::Network {
                proto: Proto::Tcp,
                to: "[::1]:80".parse().unwrap(),
            },
        };
        assert_eq!(
            e.to_json(3),
            r#"{"id":3,"syscall":"connect","category":"network","pid":7,"parent_pid":1,"protocol":"tcp","ip":"::1","port":80}"#
        );
        assert_eq!(json_string("a\"b\\\n\u{1}"), r#""a\"b\\\n\u0001""#);
    }

    #[test]
    fn globs() {
        let m = |p: &str, t: &str| glob_match(p.as_bytes(), t.as_bytes());
        assert!(m("curl", "curl") && !m("curl", "curl2") && !m("curl", "xcurl"));
        assert!(m("*/wget", "/usr/bin/wget") && !m("*/wget", "wget"));
        assert!(m("/usr/bin/nc*", "/usr/bin/nc.openbsd") && m("/usr/bin/nc*", "/usr/bin/nc"));
        assert!(m("a?c", "abc") && !m("a?c", "ac"));
        assert!(m("*", "") && m("**", "x") && m("*a*b*", "xxaYYbZ") && !m("*a*b", "ba"));
        let rules = vec!["curl".to_owned(), "*/wget".to_owned()];
        let rule = |a: &str, p: &str, r: &str| deny_exec_rule(&rules, a, p, r);
        assert_eq!(rule("curl", "/usr/bin/curl", "/usr/bin/curl"), Some("curl"));
        assert_eq!(rule("x", "/tmp/x", "/usr/bin/curl"), Some("curl"));
        assert_eq!(
            rule("wget", "/usr/bin/wget", "/usr/bin/wget"),
            Some("*/wget")
        );
        assert_eq!(rule("ls", "/bin/ls", "/usr/bin/ls"), None);
    }

    #[test]
    fn restrictions_only_narrow() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let mut l = NetLimits::default();
        assert!(l.allows(1, ip("10.0.0.1")));
        l.apply(&Action::RestrictNetwork(vec![
            ip("10.0.0.1"),
            ip("10.0.0.2"),
        ]));
        assert!(l.allows(1, ip("10.0.0.1")) && !l.allows(1, ip("10.0.0.3")));
        assert!(
            l.allows(1, ip("::ffff:10.0.0.2")),
            "mapped addresses match as IPv4"
        );
        l.apply(&Action::RestrictNetwork(vec![
            ip("10.0.0.2"),
            ip("10.0.0.3"),
        ]));
        assert!(!l.allows(1, ip("10.0.0.1")) && !l.allows(1, ip("10.0.0.3")));
        assert!(l.allows(1, ip("10.0.0.2")));
        l.apply(&Action::GrantNetwork(vec![ip("10.0.0.1")]));
        assert!(l.allows(1, ip("10.0.0.1")));
        l.apply(&Action::RestrictPidNetwork(5, vec![ip("10.0.0.2")]));
        assert!(!l.allows(5, ip("10.0.0.1")) && l.allows(6, ip("10.0.0.1")));
        // A grant without an earlier restriction changes nothing.
        let mut fresh = NetLimits::default();
        fresh.apply(&Action::GrantNetwork(vec![ip("1.1.1.1")]));
        assert!(fresh.allows(1, ip("2.2.2.2")));
    }
}
