//! Mutable supervisor state, split by concern, each behind its own `Mutex`.
//!
//! Lock order when two are needed: `processes` before `memory`. Never hold a lock
//! across a blocking call (a channel send, a wait on another process).

use std::collections::HashMap;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::sync::{Mutex, MutexGuard};

use rustix::fs::{Mode, OFlags};

use crate::policy::fs::{carved_dirs, FsRule, PROC};
use crate::policy::net::Proto;
use crate::policy::served::Served;
use crate::rng::Stream;
use crate::seccomp::notif::Notif;

/// Locks `m`, recovering the data if a handler panicked while holding it (the panic
/// already answered its notification with EPERM; the counters stay usable).
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A fork admitted but maybe not yet done: its child may not be visible in /proc.
#[derive(Debug, Clone)]
pub struct InFlight {
    /// The thread that called fork.
    pub tid: u32,
    /// That thread's children just before the fork was let through.
    pub before: Vec<i32>,
}

/// The process limit's bookkeeping.
#[derive(Debug)]
pub struct ProcessState {
    pub max: u32,
    /// Processes in the sandbox as of the last count, plus forks allowed since. The
    /// sandbox's real size is recounted from /proc whenever this reaches `max`, so
    /// exits (and reaps of zombies) are noticed exactly when they matter.
    pub estimate: u32,
    /// While set, fork-like notifications are parked instead of answered.
    pub hold_forks: bool,
    pub parked: Vec<Notif>,
    /// Admitted forks whose child has not been seen yet; a recount adds them, so
    /// simultaneous forks cannot slip past the limit while their children are created.
    pub inflight: Vec<InFlight>,
    /// Where to count from: the sandbox's first process, or (`None`) all of sandlet's
    /// children when sandlet is the sandbox's subreaper and has no other children.
    pub root: Option<i32>,
    /// Whether a process was ever created sharing its parent's descriptor table
    /// (`CLONE_FILES` without `CLONE_THREAD`); until then only a process's own threads
    /// share one.
    pub shared_files: bool,
    /// `sandlet learn`: the most processes the sandbox held at once (counted at each
    /// admitted fork; `None` when not learning).
    pub peak: Option<u32>,
}

impl ProcessState {
    pub fn new(max: u32, root: Option<i32>) -> ProcessState {
        ProcessState {
            max,
            root,
            estimate: 1,
            hold_forks: false,
            parked: Vec::new(),
            inflight: Vec::new(),
            shared_files: false,
            peak: None,
        }
    }
}

/// One process whose memory is accounted.
#[derive(Debug)]
pub struct Tracked {
    /// Private writable bytes at the last look.
    pub bytes: u64,
    /// Bytes granted since that look (they may not be mapped yet; counted until the
    /// next look at this process shows them).
    pub granted: u64,
}

impl Tracked {
    pub fn charge(&self) -> u64 {
        self.bytes.saturating_add(self.granted)
    }
}

/// An admitted allocation whose syscall may still be on its way into the kernel's
/// counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pending {
    pub tgid: i32,
    /// The syscall that was let through.
    pub nr: i32,
    pub bytes: u64,
    /// A SysV segment (counted in /proc/sysvipc/shm, not in the process).
    pub shm: bool,
}

/// The memory limit's ledger. The kernel's own counters (`/proc/PID/statm`) are the
/// truth: a process's charge is re-read when it asks for more, so unmaps, exec and exit
/// give memory back without being trapped, and the ledger cannot drift.
#[derive(Debug)]
pub struct MemoryState {
    pub limit: u64,
    pub kill: bool,
    /// Grants whose call may not have completed yet, by thread: charged on top of what
    /// the kernel's counters show until the thread is known to be past that call.
    pub pending: HashMap<u32, Pending>,
    /// Thread id -> thread-group id, for callers seen so far.
    pub tgids: HashMap<u32, i32>,
    pub procs: HashMap<i32, Tracked>,
    /// SysV segments created by the sandbox.
    pub shm_bytes: u64,
    /// Allocations refused at the limit.
    pub refused: u64,
    /// The sandbox was killed at the limit (`--memory-kill`).
    pub killed: bool,
}

impl MemoryState {
    pub fn new(limit: u64, kill: bool) -> MemoryState {
        MemoryState {
            limit,
            kill,
            tgids: HashMap::new(),
            procs: HashMap::new(),
            pending: HashMap::new(),
            shm_bytes: 0,
            refused: 0,
            killed: false,
        }
    }

    /// Bytes charged to the whole sandbox.
    pub fn total(&self) -> u64 {
        self.procs
            .values()
            .map(Tracked::charge)
            .fold(self.shm_bytes, u64::saturating_add)
    }

    /// Whether `request` more bytes fit under the limit.
    pub fn fits(&self, request: u64) -> bool {
        self.total().saturating_add(request) <= self.limit
    }
}

/// `--port-remap`: the sandbox's virtual ports and the real ports behind them, per
/// protocol. A bind that got the port it asked for maps it to itself (replacing what an
/// earlier socket left), so the map always names the latest bind of each port.
#[derive(Debug, Default)]
pub struct PortMap {
    real: HashMap<(Proto, u16), u16>,
}

impl PortMap {
    pub fn insert(&mut self, proto: Proto, virt: u16, real: u16) {
        self.real.insert((proto, virt), real);
    }

    /// The real port behind virtual port `virt`, if the sandbox bound it.
    pub fn real(&self, proto: Proto, virt: u16) -> Option<u16> {
        self.real.get(&(proto, virt)).copied()
    }

    /// The virtual port a real port stands for (itself when it is not a remapped one).
    pub fn virt(&self, proto: Proto, real: u16) -> u16 {
        self.real
            .iter()
            .find(|(&(p, v), &r)| p == proto && r == real && v != r)
            .map_or(real, |(&(_, v), _)| v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_map_translates_both_ways() {
        let mut m = PortMap::default();
        m.insert(Proto::Tcp, 8080, 41000);
        m.insert(Proto::Tcp, 9000, 9000);
        assert_eq!(m.real(Proto::Tcp, 8080), Some(41000));
        assert_eq!(m.real(Proto::Udp, 8080), None);
        assert_eq!(m.virt(Proto::Tcp, 41000), 8080);
        assert_eq!(m.virt(Proto::Tcp, 9000), 9000);
        assert_eq!(m.virt(Proto::Tcp, 1234), 1234);
        assert_eq!(m.virt(Proto::Udp, 41000), 41000);
        // A later bind that got 8080 itself replaces the remapping.
        m.insert(Proto::Tcp, 8080, 8080);
        assert_eq!(m.real(Proto::Tcp, 8080), Some(8080));
        assert_eq!(m.virt(Proto::Tcp, 41000), 41000);
    }

    #[test]
    fn ledger_arithmetic() {
        let mut m = MemoryState::new(100, false);
        assert_eq!(m.total(), 0);
        assert!(m.fits(100));
        assert!(!m.fits(101));
        let me = std::process::id() as i32;
        m.procs.insert(
            me,
            Tracked {
                bytes: 40,
                granted: 20,
            },
        );
        m.shm_bytes = 30;
        assert_eq!(m.total(), 90);
        assert!(m.fits(10));
        assert!(!m.fits(11));
        assert!(!m.fits(u64::MAX), "no overflow");
        m.procs.get_mut(&me).unwrap().bytes = u64::MAX;
        assert_eq!(m.total(), u64::MAX);
    }
}

/// `--random-seed`: the generator state of one run.
#[derive(Debug)]
pub struct RandomState {
    pub seed: u64,
    /// The stream `getrandom` reads (number 0).
    pub calls: Stream,
    /// Opens of the random devices so far (the next stream number).
    pub opened: u64,
    /// Streams open now (each a pipe that the feeder keeps full).
    pub live: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    /// The thread feeding the streams, started by the first open.
    pub feeder: Option<crate::streams::Feeder>,
}

impl RandomState {
    pub fn new(seed: u64) -> Mutex<RandomState> {
        Mutex::new(RandomState {
            seed,
            calls: Stream::new(seed, 0),
            opened: 0,
            live: Default::default(),
            feeder: None,
        })
    }
}

/// One directory entry of a served listing.
#[derive(Debug)]
pub struct Entry {
    pub ino: u64,
    /// `d_type`.
    pub kind: u8,
    pub name: Vec<u8>,
}

/// A directory's listing, as served.
#[derive(Debug)]
pub struct Listing {
    /// The directory (device, inode).
    pub dir: (u64, u64),
    pub entries: Vec<Entry>,
}

/// `getdents64` answered by the supervisor: cached listings by (thread, fd).
#[derive(Debug, Default)]
pub struct DirState {
    /// `--deterministic-dirs` (otherwise listings keep the file system's order; they
    /// are served only to hide foreign processes in /proc).
    pub sorted: bool,
    pub listings: HashMap<(u32, u64), Listing>,
    /// The keys of `listings`, oldest first.
    pub order: std::collections::VecDeque<(u32, u64)>,
}

impl DirState {
    pub fn new(sorted: bool) -> Mutex<DirState> {
        Mutex::new(DirState {
            sorted,
            listings: HashMap::new(),
            order: Default::default(),
        })
    }
}

/// The /proc view: the supervisor's side of it.
#[derive(Debug)]
pub struct ProcView {
    /// /proc, opened `O_PATH`.
    pub root: OwnedFd,
    /// /proc's device (to recognise a listing of it).
    pub dev: u64,
    /// Directories whose Landlock rule was split to keep /proc (and the sensitive
    /// /sys paths) out: read-only opens of exactly these are served, so they can
    /// still be listed.
    pub carved: Vec<Vec<u8>>,
}

impl ProcView {
    /// Opens /proc for a sandbox with the filesystem rules `fs`.
    pub fn open(fs: &[FsRule]) -> std::io::Result<ProcView> {
        let carved = carved_dirs(fs, true)
            .into_iter()
            .map(|p| p.as_os_str().as_bytes().to_vec())
            .collect();
        let root = rustix::fs::open(
            PROC,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        let dev = rustix::fs::fstat(&root)?.st_dev;
        Ok(ProcView { root, dev, carved })
    }
}

/// What identifies a file whatever path names it: a character device by its device
/// number (another node of the same device is the same device), anything else by its
/// file system and inode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileId {
    Device(u64),
    Inode(u64, u64),
}

impl FileId {
    pub fn of(st: &rustix::fs::Stat) -> FileId {
        if st.st_mode & libc::S_IFMT == libc::S_IFCHR {
            FileId::Device(st.st_rdev)
        } else {
            FileId::Inode(st.st_dev, st.st_ino)
        }
    }
}

/// The files served instead of the host's, each with the identity of the host file it
/// stands for (`None` when there is no such file), so that any spelling of the path
/// finds it.
#[derive(Debug, Default)]
pub struct ServedFiles {
    pub files: Vec<Served>,
    pub ids: Vec<Option<FileId>>,
    /// Under `--chroot`: the ids are of the new root's files, and an absolute path is
    /// looked up through the caller's root.
    pub rooted: bool,
}

impl ServedFiles {
    /// The served files, identified on the host or, under `--chroot`, in `root`.
    pub fn new(files: Vec<Served>, root: Option<&crate::policy::root::Root>) -> ServedFiles {
        use crate::policy::root::Place;
        let host = |path: &str| -> Option<std::path::PathBuf> {
            match root {
                None => Some(path.into()),
                Some(r) => match r.place(std::path::Path::new(path)).ok()? {
                    Place::Tree(h) | Place::Proc(h) | Place::Dev(h) => Some(h),
                    Place::Tmp => None,
                },
            }
        };
        let ids = files
            .iter()
            .map(|(path, _)| {
                let st = rustix::fs::stat(host(path)?).ok()?;
                Some(FileId::of(&st))
            })
            .collect();
        ServedFiles {
            files,
            ids,
            rooted: root.is_some(),
        }
    }

    /// The served file whose host file is `id`.
    pub fn by_id(&self, id: FileId) -> Option<&Served> {
        let i = self.ids.iter().position(|x| *x == Some(id))?;
        self.files.get(i)
    }
}
