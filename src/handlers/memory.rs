//! Memory: writable anonymous `mmap`, `mremap` growth, `brk` growth, `shmget`.
//!
//! A request is admitted when the sandbox's charge plus the request fits the limit.
//! A process's charge is what `/proc/PID/statm` showed at the last look plus everything
//! granted since: an upper bound, so the common case needs no /proc read at all. Only
//! when a request would not fit is every process re-read, so memory given back (unmap,
//! exec, exit) is counted before anything is refused. A grant whose call may not have
//! reached the counters yet (the thread is still in it, or running) stays charged on
//! top of them until the thread is seen past it: in a new trapped call, blocked
//! elsewhere, or gone; so concurrent allocations are never admitted twice over. (A
//! thread that runs on in user space keeps its last grant charged twice until then: a
//! bounded over-count, on the safe side.) Over the limit the request fails
//! as on a full machine (ENOMEM; `brk` returns the unchanged break), or with
//! `--memory-kill` the sandbox is killed.

use log::debug;

use super::{Ctx, Decision, Handler};
use crate::procfs;
use crate::seccomp::notif::{Notif, Response};
use crate::state::{lock, MemoryState, Pending, Tracked};

pub const MMAP: Handler = mmap;
pub const MREMAP: Handler = mremap;
pub const BRK: Handler = brk;
pub const SHMGET: Handler = shmget;

fn page_size() -> u64 {
    rustix::param::page_size() as u64
}

fn round_up(len: u64) -> u64 {
    let page = page_size();
    len.saturating_add(page - 1) & !(page - 1)
}

/// Who asked, for accounting.
enum Caller {
    /// This thread group, registered.
    Known(i32),
    /// Gone: its call will not complete, the answer does not matter.
    Gone,
    /// Alive, but /proc could not be read for it (sandlet out of descriptors, say):
    /// accounting that cannot be done refuses.
    Unknown,
}

/// The caller's thread group, registered for accounting on first sight.
fn caller(m: &mut MemoryState, tid: u32) -> Caller {
    let failed = |id: i32| {
        if procfs::exists(id) {
            Caller::Unknown
        } else {
            Caller::Gone
        }
    };
    let mut tgid = match m.tgids.get(&tid) {
        Some(&t) => t,
        None => match procfs::tgid_of(tid) {
            Some(t) => {
                m.tgids.insert(tid, t);
                t
            }
            None => return failed(tid as i32),
        },
    };
    if !m.procs.contains_key(&tgid) && !procfs::exists(tgid) {
        // The cached process is gone, so this thread id was reused by another one:
        // look it up afresh (never charge a new process to a dead one's entry).
        match procfs::tgid_of(tid) {
            Some(t) => {
                m.tgids.insert(tid, t);
                tgid = t;
            }
            None => {
                m.tgids.remove(&tid);
                return failed(tid as i32);
            }
        }
    }
    if let std::collections::hash_map::Entry::Vacant(slot) = m.procs.entry(tgid) {
        let Ok(pages) = procfs::data_pages(tgid) else {
            return failed(tgid);
        };
        slot.insert(Tracked {
            bytes: pages.saturating_mul(page_size()),
            granted: 0,
        });
    }
    Caller::Known(tgid)
}

static UNKNOWN_CALLER: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Whether thread `tid` may still be inside syscall `nr` (so a grant for it may not
/// show in the kernel's counters yet): it is in that call, or running (in user space or
/// in the kernel: it cannot be told). Gone, or blocked anywhere else, means past it.
fn maybe_in_call(tid: u32, nr: i32) -> bool {
    match procfs::task_syscall(tid) {
        Some(procfs::SyscallState::In(n)) => n == i64::from(nr),
        Some(procfs::SyscallState::Running) => true,
        Some(procfs::SyscallState::NotInSyscall) | None => false,
    }
}

/// Re-reads every tracked process, forgetting those that are gone. What the counters
/// cannot show yet stays charged: grants whose thread may still be in the call.
fn refresh_all(m: &mut MemoryState, page: u64, shm: bool) {
    m.pending.retain(|&tid, p| maybe_in_call(tid, p.nr));
    let mut in_flight: std::collections::HashMap<i32, u64> = Default::default();
    let mut shm_in_flight = 0u64;
    for p in m.pending.values() {
        if p.shm {
            shm_in_flight = shm_in_flight.saturating_add(p.bytes);
        } else {
            let e = in_flight.entry(p.tgid).or_default();
            *e = e.saturating_add(p.bytes);
        }
    }
    m.procs.retain(|&tgid, t| match procfs::data_pages(tgid) {
        Ok(pages) => {
            t.bytes = pages.saturating_mul(page);
            t.granted = in_flight.get(&tgid).copied().unwrap_or(0);
            true
        }
        // A process that is still there keeps its charge (a failed read must not make
        // room); a gone one is forgotten.
        Err(_) => procfs::exists(tgid),
    });
    // Thread ids are checked, not assumed: one that now belongs to another process (or
    // to none) is looked up afresh at its next call.
    m.tgids
        .retain(|&tid, tgid| procfs::tgid_of(tid) == Some(*tgid));
    if shm {
        let pids: Vec<i32> = m.procs.keys().copied().collect();
        m.shm_bytes = procfs::shm_bytes_created_by(&pids).saturating_add(shm_in_flight);
    }
}

/// What a granted request adds to.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Charge {
    /// The caller's private memory (shows up in its statm).
    Process,
    /// A SysV segment (shows up in /proc/sysvipc/shm).
    Shm,
}

/// Admits `request` more bytes for the caller of `n`, or refuses (and counts it, or
/// kills the sandbox with `--memory-kill`).
fn admit(ctx: &Ctx, n: &Notif, request: u64, charge: Charge) -> bool {
    let Some(memory) = &ctx.memory else {
        return true;
    };
    let page = page_size();
    let mut m = lock(memory);
    let tgid = match caller(&mut m, n.pid) {
        Caller::Known(tgid) => tgid,
        // Its syscall will not complete.
        Caller::Gone => return true,
        Caller::Unknown => {
            if !UNKNOWN_CALLER.swap(true, std::sync::atomic::Ordering::Relaxed) {
                log::warn!(
                    "memory: cannot read /proc for process {}; its allocations are refused",
                    n.pid
                );
            }
            return false;
        }
    };
    // The caller is in a new call, so its previous one is over: that grant shows in
    // the counters now (or never will, if it failed).
    m.pending.remove(&n.pid);
    let mut fits = m.fits(request);
    if !fits {
        refresh_all(&mut m, page, true);
        fits = m.fits(request);
    }
    if fits {
        debug!(
            "memory: {request} bytes for {tgid} allowed ({} of {})",
            m.total(),
            m.limit
        );
        match charge {
            Charge::Process => {
                if let Some(t) = m.procs.get_mut(&tgid) {
                    t.granted = t.granted.saturating_add(request);
                }
            }
            Charge::Shm => m.shm_bytes = m.shm_bytes.saturating_add(request),
        }
        let pending = Pending {
            tgid,
            nr: n.nr,
            bytes: request,
            shm: charge == Charge::Shm,
        };
        m.pending.insert(n.pid, pending);
        return true;
    }
    if !ctx.listener.id_valid(n.id) {
        return true;
    }
    m.refused += 1;
    if let Some(status) = &ctx.status {
        use crate::status::Field;
        status.emit(
            "limit",
            &[
                ("limit", Field::Str("memory")),
                ("pid", Field::Num(i64::from(tgid))),
                ("bytes", Field::Num(request as i64)),
                ("max", Field::Num(m.limit as i64)),
                ("kill", Field::Bool(m.kill)),
            ],
        );
    }
    debug!(
        "memory: {request} bytes for {tgid} refused ({} of {} in use)",
        m.total(),
        m.limit
    );
    if m.kill && !m.killed {
        m.killed = true;
        drop(m);
        debug!("memory limit exceeded by process {tgid}; killing the sandbox");
        let _ = rustix::process::kill_process_group(ctx.group, rustix::process::Signal::KILL);
        // Members that left the group (setpgid, setsid) too. (The memory lock is
        // released: the process lock comes first in the lock order.)
        let root = lock(&ctx.processes).root;
        for pid in procfs::tree_pids(root) {
            if let Some(p) = rustix::process::Pid::from_raw(pid) {
                let _ = rustix::process::kill_process(p, rustix::process::Signal::KILL);
            }
        }
    }
    false
}

fn refuse_or_continue(ok: bool) -> Decision {
    Decision::Respond(if ok {
        Response::Continue
    } else {
        Response::Errno(libc::ENOMEM)
    })
}

fn mmap(ctx: &Ctx, n: &Notif) -> Decision {
    let len = round_up(n.args[1]);
    if len == 0 {
        return Decision::Respond(Response::Continue);
    }
    refuse_or_continue(admit(ctx, n, len, Charge::Process))
}

fn mremap(ctx: &Ctx, n: &Notif) -> Decision {
    let (old, new) = (round_up(n.args[1]), round_up(n.args[2]));
    if new <= old {
        return Decision::Respond(Response::Continue);
    }
    refuse_or_continue(admit(ctx, n, new - old, Charge::Process))
}

fn brk(ctx: &Ctx, n: &Notif) -> Decision {
    let wanted = n.args[0];
    if wanted == 0 {
        return Decision::Respond(Response::Continue);
    }
    let Some(memory) = &ctx.memory else {
        return Decision::Respond(Response::Continue);
    };
    let who = caller(&mut lock(memory), n.pid);
    let current = match &who {
        Caller::Known(tgid) => procfs::current_brk(*tgid),
        Caller::Gone => return Decision::Respond(Response::Continue),
        // Unaccountable: refused, as a full machine would (the unchanged break).
        Caller::Unknown => {
            return Decision::Respond(match procfs::current_brk(n.pid as i32) {
                Some(current) => Response::Value(current as i64),
                None => Response::Errno(libc::ENOMEM),
            })
        }
    };
    let Some(current) = current else {
        return Decision::Respond(if procfs::exists(n.pid as i32) {
            Response::Errno(libc::ENOMEM)
        } else {
            Response::Continue
        });
    };
    if wanted <= current || admit(ctx, n, round_up(wanted - current), Charge::Process) {
        return Decision::Respond(Response::Continue);
    }
    // The kernel's answer to a brk it cannot grant: the unchanged break.
    Decision::Respond(Response::Value(current as i64))
}

fn shmget(ctx: &Ctx, n: &Notif) -> Decision {
    let (size, flags) = (round_up(n.args[1]), n.args[2]);
    if flags & libc::IPC_CREAT as u64 == 0 || size == 0 {
        return Decision::Respond(Response::Continue);
    }
    refuse_or_continue(admit(ctx, n, size, Charge::Shm))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounds_to_pages() {
        let page = page_size();
        assert_eq!(round_up(0), 0);
        assert_eq!(round_up(1), page);
        assert_eq!(round_up(page), page);
        assert_eq!(round_up(page + 1), 2 * page);
        assert_eq!(round_up(u64::MAX), !(page - 1));
    }
}
