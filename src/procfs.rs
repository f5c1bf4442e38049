//! The few `/proc` reads the supervisor needs: process trees, thread groups, memory
//! counters, the heap's end and SysV shared memory. Each returns `None`/empty when the
//! process is gone; callers treat that as "nothing to account".

use std::fs::File;
use std::io::Read;

/// sandlet's own children that are not part of any sandbox (a `--policy-exec`
/// program): left out when the sandbox is "every child of sandlet".
static OUTSIDERS: std::sync::Mutex<Vec<i32>> = std::sync::Mutex::new(Vec::new());

/// The outsider list, locked (a panic elsewhere leaves it usable: it is only a list).
fn outsiders() -> std::sync::MutexGuard<'static, Vec<i32>> {
    OUTSIDERS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Marks child `pid` of sandlet as outside the sandbox (or, `outside` false, forgets it).
pub fn set_outsider(pid: i32, outside: bool) {
    let mut o = outsiders();
    o.retain(|&p| p != pid);
    if outside {
        o.push(pid);
    }
}

/// Whether child `pid` of sandlet is outside the sandbox (see [`set_outsider`]).
pub fn is_outsider(pid: i32) -> bool {
    outsiders().contains(&pid)
}

/// sandlet's children that belong to the sandbox.
pub fn own_children() -> Vec<i32> {
    let outsiders = outsiders().clone();
    let mut kids = children_of(None);
    kids.retain(|p| !outsiders.contains(p));
    kids
}

/// Direct children of every thread of `pid` (`None`: sandlet itself).
pub fn children_of(pid: Option<i32>) -> Vec<i32> {
    let dir = match pid {
        Some(p) => format!("/proc/{p}/task"),
        None => "/proc/self/task".to_owned(),
    };
    let mut out = Vec::new();
    let Ok(tasks) = std::fs::read_dir(dir) else {
        return out;
    };
    for task in tasks.flatten() {
        if let Ok(list) = std::fs::read_to_string(task.path().join("children")) {
            out.extend(
                list.split_ascii_whitespace()
                    .filter_map(|p| p.parse::<i32>().ok()),
            );
        }
    }
    out
}

/// Every process of the tree under `root` (`None`: sandlet's children that are not
/// outsiders, and theirs), found through the per-thread `children` files: cheap, in
/// proportion to the sandbox's size.
pub fn tree_pids(root: Option<i32>) -> Vec<i32> {
    let mut stack = match root {
        Some(pid) => vec![pid],
        None => {
            let outsiders = outsiders().clone();
            let mut kids = children_of(None);
            kids.retain(|p| !outsiders.contains(p));
            kids
        }
    };
    let mut out = Vec::new();
    while let Some(pid) = stack.pop() {
        if out.len() >= 1 << 16 || out.contains(&pid) {
            continue;
        }
        out.push(pid);
        stack.extend(children_of(Some(pid)));
    }
    out
}

/// A quick lower bound of [`sandbox_process_count`] from the per-thread `children`
/// files: a child moving between its parent's threads during the walk can be missed,
/// never counted twice.
pub fn sandbox_process_count_at_least(root: Option<i32>) -> u32 {
    let mut seen = std::collections::HashSet::new();
    let mut stack = match root {
        Some(pid) if std::path::Path::new(&format!("/proc/{pid}")).exists() => vec![pid],
        Some(_) => Vec::new(),
        None => own_children(),
    };
    while let Some(pid) = stack.pop() {
        if seen.insert(pid) {
            stack.extend(children_of(Some(pid)));
        }
    }
    seen.len() as u32
}

/// Number of processes (zombies included, threads not) in the tree rooted at `root`,
/// or (`None`) in the trees rooted at sandlet's own children: every process of the
/// sandbox when sandlet is its subreaper.
///
/// Built from every process's parent in `/proc/PID/stat` (a thread-group id, so it does
/// not change when a child moves between the threads of its parent, which makes the
/// per-thread `children` files race).
pub fn sandbox_process_count(root: Option<i32>) -> Option<u32> {
    sandbox_pids_checked(root).map(|p| p.len() as u32)
}

/// The processes counted by [`sandbox_process_count`] (none when /proc cannot be
/// read).
pub fn sandbox_pids(root: Option<i32>) -> Vec<i32> {
    sandbox_pids_checked(root).unwrap_or_default()
}

/// [`sandbox_pids`], or `None` when /proc could not be read in full (sandlet out of
/// descriptors, say): a count that must not come out too low.
fn sandbox_pids_checked(root: Option<i32>) -> Option<Vec<i32>> {
    let mut children: std::collections::HashMap<i32, Vec<i32>> = Default::default();
    let dir = std::fs::read_dir("/proc").ok()?;
    for entry in dir {
        let entry = entry.ok()?;
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<i32>().ok())
        else {
            continue;
        };
        match parent_of(pid) {
            Some(ppid) => children.entry(ppid).or_default().push(pid),
            // Gone meanwhile: not counted. Still there: the read failed.
            None if exists(pid) => return None,
            None => {}
        }
    }
    let mut stack = match root {
        Some(pid) if parent_of(pid).is_some() => vec![pid],
        Some(_) => Vec::new(),
        None => {
            let outsiders = outsiders().clone();
            let mut kids = children
                .get(&(std::process::id() as i32))
                .cloned()
                .unwrap_or_default();
            kids.retain(|p| !outsiders.contains(p));
            kids
        }
    };
    let mut pids = Vec::new();
    while let Some(pid) = stack.pop() {
        pids.push(pid);
        if let Some(kids) = children.get(&pid) {
            stack.extend(kids);
        }
    }
    Some(pids)
}

/// The threads of process `pid` (none when it is gone).
pub fn threads(pid: i32) -> Vec<i32> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    tasks
        .flatten()
        .filter_map(|t| t.file_name().to_str().and_then(|n| n.parse().ok()))
        .collect()
}

/// Inodes of the sockets process `pid` has open (`socket:[N]` links in /proc/PID/fd).
pub fn socket_inodes(pid: i32, into: &mut std::collections::HashSet<u64>) {
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return;
    };
    for fd in fds.flatten() {
        if let Ok(target) = std::fs::read_link(fd.path()) {
            let target = target.to_string_lossy();
            if let Some(inode) = target
                .strip_prefix("socket:[")
                .and_then(|t| t.strip_suffix(']'))
                .and_then(|t| t.parse().ok())
            {
                into.insert(inode);
            }
        }
    }
}

/// The parent process of `pid` (field 4 of `/proc/PID/stat`).
pub fn parent_of(pid: i32) -> Option<i32> {
    let mut buf = [0u8; 512];
    let n = File::open(format!("/proc/{pid}/stat"))
        .ok()?
        .read(&mut buf)
        .ok()?;
    parse_ppid(std::str::from_utf8(&buf[..n]).ok()?)
}

fn parse_ppid(stat: &str) -> Option<i32> {
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_ascii_whitespace().nth(1)?.parse().ok()
}

/// Children created by thread `tid` itself (`None` when the thread is gone).
pub fn task_children(tid: u32) -> Option<Vec<i32>> {
    let list = std::fs::read_to_string(format!("/proc/{tid}/task/{tid}/children")).ok()?;
    Some(
        list.split_ascii_whitespace()
            .filter_map(|p| p.parse().ok())
            .collect(),
    )
}

/// What thread `tid` is doing, from `/proc/TID/syscall`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyscallState {
    /// On a CPU right now (user or kernel).
    Running,
    /// Blocked outside any syscall.
    NotInSyscall,
    /// Blocked inside this syscall.
    In(i64),
}

pub fn task_syscall(tid: u32) -> Option<SyscallState> {
    let text = std::fs::read_to_string(format!("/proc/{tid}/syscall")).ok()?;
    parse_syscall(&text)
}

fn parse_syscall(text: &str) -> Option<SyscallState> {
    let first = text.split_ascii_whitespace().next()?;
    if first == "running" {
        return Some(SyscallState::Running);
    }
    match first.parse::<i64>().ok()? {
        -1 => Some(SyscallState::NotInSyscall),
        nr => Some(SyscallState::In(nr)),
    }
}

/// The scheduler state letter of thread `tid` (`R`, `S`, `D`, `t`, ...), from
/// `/proc/TID/stat`.
pub fn task_state(tid: u32) -> Option<char> {
    let text = std::fs::read_to_string(format!("/proc/{tid}/stat")).ok()?;
    parse_state(&text)
}

fn parse_state(stat: &str) -> Option<char> {
    // The command name may hold anything, ')' included: the state follows the last one.
    stat[stat.rfind(')')? + 1..].trim_start().chars().next()
}

/// The thread tracing thread `tid` (`None` when untraced or gone).
pub fn tracer_of(tid: u32) -> Option<i32> {
    status_field(tid, "TracerPid:").filter(|&t| t != 0)
}

/// Whether thread `tid` has capability `cap` (a `CAP_*` number) in its effective set.
pub fn has_capability(tid: u32, cap: u32) -> bool {
    let Ok(status) = std::fs::read_to_string(format!("/proc/{tid}/status")) else {
        return false;
    };
    status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        .is_some_and(|set| cap < 64 && set & (1 << cap) != 0)
}

/// The thread-group id of thread `tid`.
pub fn tgid_of(tid: u32) -> Option<i32> {
    status_field(tid, "Tgid:")
}

fn status_field(tid: u32, key: &str) -> Option<i32> {
    let status = std::fs::read_to_string(format!("/proc/{tid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.trim().parse().ok())
}

/// Process `pid`'s data + stack size in pages (statm's sixth field): private writable
/// memory, what anonymous allocations grow. Opened, read and closed each time: nothing
/// is held per process.
pub fn data_pages(pid: i32) -> std::io::Result<u64> {
    let mut buf = [0u8; 160];
    let n = File::open(format!("/proc/{pid}/statm"))?.read(&mut buf)?;
    parse_statm_data(&buf[..n]).ok_or_else(|| std::io::Error::from_raw_os_error(libc::EIO))
}

/// Whether process (or thread) `pid` exists (a zombie does), by `kill(pid, 0)`: no
/// descriptor needed, so it answers when sandlet is out of them.
pub fn exists(pid: i32) -> bool {
    match rustix::process::Pid::from_raw(pid) {
        Some(p) => !matches!(
            rustix::process::test_kill_process(p),
            Err(rustix::io::Errno::SRCH)
        ),
        None => false,
    }
}

fn parse_statm_data(buf: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(buf).ok()?;
    text.split_ascii_whitespace().nth(5)?.parse().ok()
}

/// The current program break of `pid`: the end of its `[heap]` mapping, or `start_brk`
/// when the heap is still empty.
pub fn current_brk(pid: i32) -> Option<u64> {
    let maps = std::fs::read_to_string(format!("/proc/{pid}/maps")).ok()?;
    if let Some(line) = maps.lines().find(|l| l.ends_with("[heap]")) {
        let range = line.split_ascii_whitespace().next()?;
        let (_, end) = range.split_once('-')?;
        return u64::from_str_radix(end, 16).ok();
    }
    let mut stat = String::new();
    File::open(format!("/proc/{pid}/stat"))
        .ok()?
        .read_to_string(&mut stat)
        .ok()?;
    parse_start_brk(&stat)
}

fn parse_start_brk(stat: &str) -> Option<u64> {
    // Fields after the command name (which may hold spaces) start at field 3.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_ascii_whitespace().nth(47 - 3)?.parse().ok()
}

/// Total size of the SysV shared memory segments created by any of `pids`.
pub fn shm_bytes_created_by(pids: &[i32]) -> u64 {
    let Ok(table) = std::fs::read_to_string("/proc/sysvipc/shm") else {
        return 0;
    };
    parse_shm(&table, pids)
}

fn parse_shm(table: &str, pids: &[i32]) -> u64 {
    // key shmid perms size cpid lpid ...
    table
        .lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_ascii_whitespace().collect();
            let size: u64 = f.get(3)?.parse().ok()?;
            let cpid: i32 = f.get(4)?.parse().ok()?;
            pids.contains(&cpid).then_some(size)
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_statm_stat_and_shm() {
        assert_eq!(parse_statm_data(b"2561 1100 800 10 0 423 0\n"), Some(423));
        assert_eq!(parse_statm_data(b"1 2 3"), None);
        // Fields 3..=52 after "pid (comm)"; field 47 is start_brk.
        let fields: Vec<String> = (3..=52)
            .map(|i| {
                if i == 47 {
                    "94000".into()
                } else {
                    i.to_string()
                }
            })
            .collect();
        let stat = format!("12 (a) b) c) {}", fields.join(" "));
        let stat = stat.as_str();
        assert_eq!(parse_start_brk(stat), Some(94000));
        assert_eq!(parse_ppid(stat), Some(4));
        assert_eq!(parse_ppid("7 (x) y) S 1 7 7"), Some(1));
        let shm = "       key      shmid perms                  size  cpid  lpid\n\
                   0 1 600 4096 100 100\n\
                   0 2 600 8192 200 200\n";
        assert_eq!(parse_shm(shm, &[100]), 4096);
        assert_eq!(parse_shm(shm, &[100, 200]), 12288);
        assert_eq!(parse_shm(shm, &[]), 0);
    }

    #[test]
    fn parses_syscall_state() {
        assert_eq!(parse_syscall("running\n"), Some(SyscallState::Running));
        assert_eq!(
            parse_syscall("-1 0x7ffd 0x7f00\n"),
            Some(SyscallState::NotInSyscall)
        );
        assert_eq!(
            parse_syscall("61 0x1 0x2 0x3 0x4 0x5 0x6 0x7ffd 0x7f00\n"),
            Some(SyscallState::In(61))
        );
        assert_eq!(parse_syscall(""), None);
    }

    #[test]
    fn parses_the_state_after_the_last_parenthesis() {
        assert_eq!(parse_state("12 (cat) S 1 12"), Some('S'));
        assert_eq!(parse_state("12 (a) R (b)) D 1 12"), Some('D'));
        assert_eq!(parse_state("12 (cat"), None);
        assert_eq!(parse_state("12 (cat)"), None);
    }

    #[test]
    fn reads_our_own_process() {
        let me = std::process::id() as i32;
        assert_eq!(tgid_of(me as u32), Some(me));
        assert!(data_pages(me).unwrap() > 0);
        assert!(exists(me) && !exists(i32::MAX));
        assert!(current_brk(me).unwrap() > 0);
        assert_eq!(task_children(me as u32), Some(vec![]));
        assert_eq!(
            parent_of(me),
            Some(std::os::unix::process::parent_id() as i32)
        );
        assert_eq!(sandbox_process_count(Some(me)), Some(1));
        assert_eq!(sandbox_process_count(Some(-5)), Some(0));
        assert_eq!(sandbox_process_count_at_least(Some(me)), 1);
        assert_eq!(sandbox_process_count_at_least(Some(-5)), 0);
    }
}
