//! `--num-cpus N`: `sched_getaffinity` shows at most N CPUs (the first N of the real
//! mask). The mask is the kernel's, read by the supervisor for the same thread with the
//! caller's buffer size (so size errors are the kernel's own), then cut down and written
//! into the caller's buffer. `/sys/devices/system/cpu/online` and `/proc/cpuinfo` are
//! served by [`super::files`].

use super::{Ctx, Decision, Handler};
use crate::seccomp::notif::{Notif, Response};
use crate::sys;

pub const SCHED_GETAFFINITY: Handler = sched_getaffinity;

/// Largest mask we read (8192 CPUs); a larger buffer is answered with the kernel's
/// mask size all the same.
const MASK_MAX: usize = 1024;

/// Clears every set bit after the first `keep` set ones.
fn keep_first(mask: &mut [u8], keep: u32) {
    let mut seen = 0u32;
    for byte in mask.iter_mut() {
        for bit in 0..8 {
            if *byte & (1 << bit) != 0 {
                if seen >= keep {
                    *byte &= !(1 << bit);
                } else {
                    seen += 1;
                }
            }
        }
    }
}

/// `sched_getaffinity(pid, len, mask)`.
fn sched_getaffinity(ctx: &Ctx, n: &Notif) -> Decision {
    let Some(cpus) = ctx.num_cpus else {
        return Decision::Respond(Response::Continue);
    };
    let tid = match n.args[0] as i32 {
        0 => n.pid as i32,
        t => t,
    };
    let len = usize::try_from(n.args[1]).unwrap_or(MASK_MAX).min(MASK_MAX);
    let mut mask = vec![0u8; len];
    let size = match sys::sched_getaffinity_raw(tid, &mut mask) {
        Ok(size) => size,
        Err(e) => {
            return Decision::Respond(Response::Errno(e.raw_os_error().unwrap_or(libc::EINVAL)))
        }
    };
    keep_first(&mut mask[..size], cpus);
    if !ctx.listener.id_valid(n.id) {
        return Decision::Respond(Response::Errno(libc::EINTR));
    }
    Decision::Respond(
        match sys::process_vm_write(n.pid as i32, n.args[2], &mask[..size]) {
            Ok(written) if written == size => Response::Value(size as i64),
            _ => Response::Errno(libc::EFAULT),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_first_cpus() {
        let mut m = [0b1011_0110u8, 0xff];
        keep_first(&mut m, 3);
        assert_eq!(m, [0b0001_0110, 0]);
        let mut m = [0b1u8, 0b10];
        keep_first(&mut m, 2);
        assert_eq!(m, [0b1, 0b10]);
        let mut m = [0xffu8];
        keep_first(&mut m, 1);
        assert_eq!(m, [1]);
    }
}
