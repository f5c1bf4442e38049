//! `--time-start`: the command sees wall-clock time starting at a given instant and
//! advancing normally. Only the wall clocks move (`CLOCK_REALTIME`, its coarse and
//! alarm variants, `CLOCK_TAI`); monotonic and boot-time clocks, and so timeouts and
//! `/proc/uptime`, are the real ones.
//!
//! How every path to the wall clock is covered:
//!
//! * Raw syscalls: `clock_gettime` (wall clocks only, chosen by the BPF filter),
//!   `gettimeofday` and `time` are answered by the supervisor with the real time plus
//!   the offset, written into the caller's buffer.
//! * The vDSO: programs normally read the clock in user space through the vDSO, which
//!   the kernel maps afresh at every `execve` and which no syscall sees. So a new
//!   image is patched before it can use it: the first thing every libc (and Go's
//!   runtime) does after exec on x86_64 is `arch_prctl(ARCH_SET_FS)` to set up
//!   thread-local storage, and that call is trapped. Its handler finds `[vdso]` in
//!   `/proc/PID/maps`, reads the vDSO's ELF symbol table through `/proc/PID/mem`, and
//!   overwrites the entry points of `clock_gettime`, `gettimeofday` and `time` with
//!   `mov eax, NR; syscall; ret`, so they become the raw (trapped) syscalls. The write
//!   goes to the process's private copy of the page (as a debugger's breakpoint does);
//!   forked children inherit the patched copy. A process whose vDSO cannot be patched
//!   is refused (its `arch_prctl` fails with EPERM) rather than shown the real time.
//! * Absolute sleeps: `clock_nanosleep(TIMER_ABSTIME)` on a wall clock is answered
//!   when the virtual deadline arrives (the poll loop's timer; the thread stays
//!   blocked meanwhile, and signals wait until then). `timerfd_settime` with
//!   `TFD_TIMER_ABSTIME` on a wall-clock timerfd is made on the caller's behalf on a
//!   duplicate of the timerfd, with the deadline moved back by the offset.
//!
//! * POSIX timers: `timer_settime` with `TIMER_ABSTIME` on a wall-clock timer: the
//!   caller is traced for the call, its deadline moved in place and restored once the
//!   kernel has read it (see [`timer_settime`]).
//!
//! File timestamps stay real.

use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use log::{debug, warn};
use rustix::time::{ClockId, DynamicClockId, Timespec};

use super::{caller_fd, Ctx, Decision, Handler};
use crate::seccomp::notif::{Notif, Response};
use crate::seccomp::WALL_CLOCKS;
use crate::sys;

pub const CLOCK_GETTIME: Handler = clock_gettime;
pub const GETTIMEOFDAY: Handler = gettimeofday;
pub const TIME: Handler = time;
pub const CLOCK_NANOSLEEP: Handler = clock_nanosleep;
pub const TIMERFD_SETTIME: Handler = timerfd_settime;
pub const NEW_IMAGE: Handler = new_image;
pub const TIMER_SETTIME: Handler = timer_settime;

const NANOS: i64 = 1_000_000_000;

fn errno(e: i32) -> Decision {
    Decision::Respond(Response::Errno(e))
}

/// Nanoseconds of a real clock reading.
fn now_ns(clock: DynamicClockId<'_>) -> i64 {
    let t = rustix::time::clock_gettime_dynamic(clock)
        .unwrap_or_else(|_| rustix::time::clock_gettime(ClockId::Realtime));
    t.tv_sec * NANOS + t.tv_nsec
}

/// The real clock a wall clock id reads.
fn real_clock(id: u32) -> DynamicClockId<'static> {
    match id {
        5 => DynamicClockId::Known(ClockId::RealtimeCoarse),
        11 => DynamicClockId::Tai,
        _ => DynamicClockId::Known(ClockId::Realtime),
    }
}

const REALTIME: DynamicClockId<'static> = DynamicClockId::Known(ClockId::Realtime);

fn timespec_bytes(ns: i64) -> [u8; 16] {
    let mut b = [0u8; 16];
    b[..8].copy_from_slice(&ns.div_euclid(NANOS).to_ne_bytes());
    b[8..].copy_from_slice(&ns.rem_euclid(NANOS).to_ne_bytes());
    b
}

fn timespec_ns(b: &[u8]) -> Option<i64> {
    let sec = i64::from_ne_bytes(b.get(..8)?.try_into().ok()?);
    let nsec = i64::from_ne_bytes(b.get(8..16)?.try_into().ok()?);
    // As the kernel's timespec64_valid: no negative seconds, nanoseconds below 1e9.
    if sec < 0 || !(0..NANOS).contains(&nsec) {
        return None;
    }
    sec.checked_mul(NANOS)?.checked_add(nsec)
}

/// Writes `data` at `addr` in the caller and answers `value`, or EFAULT.
fn write_and_answer(ctx: &Ctx, n: &Notif, writes: &[(u64, &[u8])], value: i64) -> Decision {
    if !ctx.listener.id_valid(n.id) {
        return errno(libc::EINTR);
    }
    for &(addr, data) in writes {
        match sys::process_vm_write(n.pid as i32, addr, data) {
            Ok(w) if w == data.len() => {}
            _ => return errno(libc::EFAULT),
        }
    }
    Decision::Respond(Response::Value(value))
}

fn offset(ctx: &Ctx) -> i64 {
    ctx.time_offset.unwrap_or(0)
}

/// `clock_gettime(clock, tp)` for a wall clock.
fn clock_gettime(ctx: &Ctx, n: &Notif) -> Decision {
    let virt = now_ns(real_clock(n.args[0] as u32)) + offset(ctx);
    write_and_answer(ctx, n, &[(n.args[1], &timespec_bytes(virt))], 0)
}

/// `gettimeofday(tv, tz)`.
fn gettimeofday(ctx: &Ctx, n: &Notif) -> Decision {
    let virt = now_ns(REALTIME) + offset(ctx);
    let mut tv = [0u8; 16];
    tv[..8].copy_from_slice(&virt.div_euclid(NANOS).to_ne_bytes());
    tv[8..].copy_from_slice(&(virt.rem_euclid(NANOS) / 1000).to_ne_bytes());
    // struct timezone is obsolete; the kernel's is all zero unless someone set it.
    let tz = [0u8; 8];
    let mut writes: Vec<(u64, &[u8])> = Vec::new();
    if n.args[0] != 0 {
        writes.push((n.args[0], &tv));
    }
    if n.args[1] != 0 {
        writes.push((n.args[1], &tz));
    }
    write_and_answer(ctx, n, &writes, 0)
}

/// `time(tloc)`.
fn time(ctx: &Ctx, n: &Notif) -> Decision {
    let secs = (now_ns(REALTIME) + offset(ctx)).div_euclid(NANOS);
    let bytes = secs.to_ne_bytes();
    let writes: &[(u64, &[u8])] = if n.args[0] != 0 {
        &[(n.args[0], &bytes)]
    } else {
        &[]
    };
    write_and_answer(ctx, n, writes, secs)
}

/// `clock_nanosleep(clock, TIMER_ABSTIME, req, rem)` on a wall clock: answered when
/// the virtual deadline arrives.
fn clock_nanosleep(ctx: &Ctx, n: &Notif) -> Decision {
    let mut req = [0u8; 16];
    match sys::process_vm_read(n.pid as i32, n.args[2], &mut req) {
        Ok(16) => {}
        _ => return errno(libc::EFAULT),
    }
    let Some(deadline) = timespec_ns(&req) else {
        return errno(libc::EINVAL);
    };
    let now = now_ns(real_clock(n.args[0] as u32)).saturating_add(offset(ctx));
    let left = deadline.saturating_sub(now);
    if left <= 0 {
        return Decision::Respond(Response::Value(0));
    }
    Decision::Delay {
        until: Instant::now() + Duration::from_nanos(left as u64),
        response: Response::Value(0),
    }
}

/// `timerfd_settime(fd, TFD_TIMER_ABSTIME | .., new, old)`: on a wall-clock timerfd,
/// set on the caller's behalf with the deadline moved back to real time.
fn timerfd_settime(ctx: &Ctx, n: &Notif) -> Decision {
    let clock = std::fs::read_to_string(format!("/proc/{}/fdinfo/{}", n.pid, n.args[0] as i32))
        .ok()
        .and_then(|info| {
            info.lines()
                .find_map(|l| l.strip_prefix("clockid:"))
                .and_then(|c| c.trim().parse::<u32>().ok())
        });
    match clock {
        Some(c) if WALL_CLOCKS.contains(&c) => {}
        // Not a wall-clock timerfd (or not a timerfd: the kernel answers that).
        _ => return Decision::Respond(Response::Continue),
    }
    let fd = match caller_fd(n, n.args[0]) {
        Ok(fd) => fd,
        Err(d) => return d,
    };
    let mut new = [0u8; 32];
    match sys::process_vm_read(n.pid as i32, n.args[2], &mut new) {
        Ok(32) => {}
        _ => return errno(libc::EFAULT),
    }
    let (Some(interval), Some(value)) = (timespec_ns(&new[..16]), timespec_ns(&new[16..])) else {
        return errno(libc::EINVAL);
    };
    // A zero value disarms the timer; anything else is an instant to move.
    let real_value = if value == 0 {
        0
    } else {
        value.saturating_sub(offset(ctx)).max(1)
    };
    let spec = |ns: i64| Timespec {
        tv_sec: ns.div_euclid(NANOS),
        tv_nsec: ns.rem_euclid(NANOS),
    };
    let flags = rustix::time::TimerfdTimerFlags::from_bits_retain(n.args[1] as u32);
    let old = rustix::time::timerfd_settime(
        fd.as_fd(),
        flags,
        &rustix::time::Itimerspec {
            it_interval: spec(interval),
            it_value: spec(real_value),
        },
    );
    let old = match old {
        Ok(old) => old,
        Err(e) => return errno(e.raw_os_error()),
    };
    let mut old_bytes = [0u8; 32];
    old_bytes[..16].copy_from_slice(&timespec_bytes(
        old.it_interval.tv_sec * NANOS + old.it_interval.tv_nsec,
    ));
    old_bytes[16..].copy_from_slice(&timespec_bytes(
        old.it_value.tv_sec * NANOS + old.it_value.tv_nsec,
    ));
    let writes: &[(u64, &[u8])] = if n.args[3] != 0 {
        &[(n.args[3], &old_bytes)]
    } else {
        &[]
    };
    write_and_answer(ctx, n, writes, 0)
}

/// `timer_settime(id, TIMER_ABSTIME, new, old)` on a wall-clock POSIX timer. The timer
/// lives in the caller, so the call must be the caller's own: on a tracer thread the
/// caller is seized, the deadline in its `new` struct is moved back to real time, the
/// call continues, and at the caller's next stop (PTRACE_INTERRUPT, on its way back to
/// user space) the struct gets its original bytes again. Another thread of the caller
/// reading that struct meanwhile would see the real deadline. If any step fails the
/// call is refused with EINVAL rather than arming the timer at the wrong instant.
fn timer_settime(ctx: &Ctx, n: &Notif) -> Decision {
    let tgid = crate::procfs::tgid_of(n.pid).unwrap_or(n.pid as i32);
    let timers = std::fs::read_to_string(format!("/proc/{tgid}/timers")).unwrap_or_default();
    match timer_clock(&timers, n.args[0] as i32) {
        Some(clock) if WALL_CLOCKS.contains(&clock) => {}
        _ => return Decision::Respond(Response::Continue),
    }
    match super::tracer::on_tracer(|| timer_on_tracer(ctx, n)).and_then(|r| r) {
        Ok(()) => Decision::Park,
        Err(why) => {
            warn!(
                "process {tgid}: cannot move an absolute wall-clock timer for --time-start \
                 ({why}); timer_settime refused with EINVAL"
            );
            errno(libc::EINVAL)
        }
    }
}

/// The tracer's part of [`timer_settime`]: `Ok` once the call has been answered.
fn timer_on_tracer(ctx: &Ctx, n: &Notif) -> Result<(), String> {
    let pid = n.pid as i32;
    let value_at = n.args[2] + 16;
    let mut original = [0u8; 16];
    match sys::process_vm_read(pid, value_at, &mut original) {
        Ok(16) => {}
        _ => return Err("cannot read its itimerspec".into()),
    }
    let value = timespec_ns(&original).ok_or("invalid it_value")?;
    if value == 0 {
        // Disarming: nothing to move.
        ctx.answering(n.pid);
        if let Err(e) = ctx.listener.send(n.id, Response::Continue) {
            warn!("answer timer_settime of {pid}: {e}");
        }
        return Ok(());
    }
    let moved = timespec_bytes(value.saturating_sub(offset(ctx)).max(1));
    super::tracer::seize(pid, 0).map_err(|e| format!("PTRACE_SEIZE: {e}"))?;
    match sys::process_vm_write(pid, value_at, &moved) {
        Ok(16) => {}
        _ => return Err("cannot write its itimerspec".into()),
    }
    if !ctx.listener.id_valid(n.id) {
        let _ = sys::process_vm_write(pid, value_at, &original);
        return Ok(());
    }
    // Interrupted before it is answered (its wait for the answer only ends for a fatal
    // signal), so the stop comes right on its way back to user space, after the kernel
    // copied the struct, and never in a later call. timer_settime does not sleep, so
    // the pending interrupt cannot restart it.
    let interrupted = sys::ptrace_interrupt(pid).is_ok();
    ctx.answering(n.pid);
    if let Err(e) = ctx.listener.send(n.id, Response::Continue) {
        warn!("answer timer_settime of {pid}: {e}");
    }
    if interrupted {
        let _ = super::tracer::wait_for(pid, || false, |_| Some(()));
    }
    let _ = sys::process_vm_write(pid, value_at, &original);
    Ok(())
}

/// The clock of POSIX timer `id` in the text of /proc/PID/timers.
fn timer_clock(timers: &str, id: i32) -> Option<u32> {
    let mut current = None;
    for line in timers.lines() {
        if let Some(v) = line.strip_prefix("ID:") {
            current = v.trim().parse::<i32>().ok();
        } else if let Some(v) = line.strip_prefix("ClockID:") {
            if current == Some(id) {
                return v.trim().parse().ok();
            }
        }
    }
    None
}

/// The first `arch_prctl` of a new image: patch its vDSO, then let the call run.
fn new_image(_ctx: &Ctx, n: &Notif) -> Decision {
    match vdso::patch(n.pid as i32) {
        Ok(patched) => {
            if patched {
                debug!("vDSO of {} patched for --time-start", n.pid);
            }
            Decision::Respond(Response::Continue)
        }
        Err(e) => {
            warn!(
                "cannot patch the vDSO of process {} for --time-start ({e}); refusing to \
                 run it with the real time",
                n.pid
            );
            errno(libc::EPERM)
        }
    }
}

/// Finding and patching the clock entry points of a process's vDSO.
pub mod vdso {
    use std::io;
    use std::os::unix::fs::FileExt;

    /// The entry points turned into raw syscalls, with their x86_64 numbers.
    const PATCHED: [(&str, u32); 3] = [
        ("__vdso_clock_gettime", 228),
        ("__vdso_gettimeofday", 96),
        ("__vdso_time", 201),
    ];

    /// `mov eax, NR; syscall; ret`.
    fn stub(nr: u32) -> [u8; 8] {
        let n = nr.to_le_bytes();
        [0xb8, n[0], n[1], n[2], n[3], 0x0f, 0x05, 0xc3]
    }

    /// The `[vdso]` mapping of `maps` (the text of /proc/PID/maps): start and end.
    pub fn find(maps: &str) -> Option<(u64, u64)> {
        let line = maps.lines().find(|l| l.ends_with("[vdso]"))?;
        let (lo, hi) = line.split_whitespace().next()?.split_once('-')?;
        Some((
            u64::from_str_radix(lo, 16).ok()?,
            u64::from_str_radix(hi, 16).ok()?,
        ))
    }

    fn u16_at(b: &[u8], at: usize) -> Option<u16> {
        Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
    }
    fn u32_at(b: &[u8], at: usize) -> Option<u32> {
        Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
    }
    fn u64_at(b: &[u8], at: usize) -> Option<u64> {
        Some(u64::from_le_bytes(b.get(at..at + 8)?.try_into().ok()?))
    }

    /// The value (offset in the image) of each dynamic symbol named in `names`, from
    /// an ELF64 little-endian image; `None` when it is not one.
    pub fn symbols(img: &[u8], names: &[&str]) -> Option<Vec<(String, u64)>> {
        if img.get(..4)? != b"\x7fELF" || img.get(4)? != &2 {
            return None;
        }
        let shoff = usize::try_from(u64_at(img, 0x28)?).ok()?;
        let shentsize = usize::from(u16_at(img, 0x3a)?);
        let shnum = usize::from(u16_at(img, 0x3c)?);
        let section = |i: usize| -> Option<(u32, usize, usize, u32)> {
            let at = shoff.checked_add(i.checked_mul(shentsize)?)?;
            let kind = u32_at(img, at + 4)?;
            let offset = usize::try_from(u64_at(img, at + 0x18)?).ok()?;
            let size = usize::try_from(u64_at(img, at + 0x20)?).ok()?;
            let link = u32_at(img, at + 0x28)?;
            Some((kind, offset, size, link))
        };
        const SHT_DYNSYM: u32 = 11;
        let (_, symoff, symsize, link) =
            (0..shnum).filter_map(section).find(|s| s.0 == SHT_DYNSYM)?;
        let (_, stroff, strsize, _) = section(link as usize)?;
        let strtab = img.get(stroff..stroff.checked_add(strsize)?)?;
        let mut out = Vec::new();
        for i in 0..symsize / 24 {
            let at = symoff + i * 24;
            let name_at = u32_at(img, at)? as usize;
            let value = u64_at(img, at + 8)?;
            let name = strtab.get(name_at..)?;
            let name = &name[..name.iter().position(|&b| b == 0)?];
            if let Some(n) = names.iter().find(|n| n.as_bytes() == name) {
                out.push(((*n).to_owned(), value));
            }
        }
        Some(out)
    }

    /// Patches the vDSO of process `pid`; `Ok(false)` when there was nothing to do
    /// (no vDSO, or patched already).
    pub fn patch(pid: i32) -> io::Result<bool> {
        if !cfg!(target_arch = "x86_64") {
            return Err(io::Error::from_raw_os_error(libc::ENOSYS));
        }
        let maps = std::fs::read_to_string(format!("/proc/{pid}/maps"))?;
        let Some((lo, hi)) = find(&maps) else {
            return Ok(false);
        };
        let mem = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(format!("/proc/{pid}/mem"))?;
        let mut img = vec![0u8; usize::try_from(hi - lo).unwrap_or(0).min(1 << 20)];
        mem.read_exact_at(&mut img, lo)?;
        let names: Vec<&str> = PATCHED.iter().map(|p| p.0).collect();
        let syms = symbols(&img, &names)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "vDSO is not ELF64"))?;
        let mut changed = false;
        for (name, nr) in PATCHED {
            let Some((_, value)) = syms.iter().find(|(n, _)| n == name) else {
                continue;
            };
            let code = stub(nr);
            let at = usize::try_from(*value).unwrap_or(usize::MAX);
            if img.get(at..at + code.len()) == Some(&code[..]) {
                continue;
            }
            if at.checked_add(code.len()).is_none_or(|end| end > img.len()) {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "symbol outside vDSO",
                ));
            }
            mem.write_all_at(&code, lo + *value)?;
            changed = true;
        }
        Ok(changed)
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn finds_our_own_vdso_clock() {
            let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
            let Some((lo, hi)) = find(&maps) else {
                return; // vDSO disabled on this kernel
            };
            let mem = std::fs::File::open("/proc/self/mem").unwrap();
            let mut img = vec![0u8; (hi - lo) as usize];
            mem.read_exact_at(&mut img, lo).unwrap();
            let syms = symbols(&img, &["__vdso_clock_gettime", "__vdso_time"]).unwrap();
            assert!(syms
                .iter()
                .any(|(n, v)| n == "__vdso_clock_gettime" && *v > 0));
            assert!(symbols(b"not an elf", &["x"]).is_none());
            assert_eq!(stub(228), [0xb8, 228, 0, 0, 0, 0x0f, 0x05, 0xc3]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_a_timers_clock() {
        let t = "ID: 1\nsignal: 0/0\nnotify: none/pid.5\nClockID: 1\nID: 0\nsignal: 0/0\nnotify: none/pid.5\nClockID: 0\n";
        assert_eq!(timer_clock(t, 0), Some(0));
        assert_eq!(timer_clock(t, 1), Some(1));
        assert_eq!(timer_clock(t, 2), None);
    }

    #[test]
    fn timespecs_round_trip() {
        for ns in [0, 1, NANOS - 1, NANOS, 946_684_800 * NANOS + 5] {
            assert_eq!(timespec_ns(&timespec_bytes(ns)), Some(ns));
        }
        let mut bad = timespec_bytes(0);
        bad[8..].copy_from_slice(&NANOS.to_ne_bytes());
        assert_eq!(timespec_ns(&bad), None);
        assert_eq!(timespec_ns(&timespec_bytes(-1)), None, "negative seconds");
    }
}
