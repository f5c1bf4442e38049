//! `--random-seed`: the command's randomness comes from a seeded generator
//! ([`crate::rng::Stream`]) instead of the kernel, so a run can be repeated byte for byte.
//!
//! `getrandom` is answered by writing the next bytes of stream 0 into the caller's buffer
//! (after checking the notification is still pending); nothing is read from the caller.
//! Opens of `/dev/urandom` and `/dev/random` (see [`super::files`]) get the read end of
//! a pipe kept full with stream K, K counting the opens from 1, by one feeding thread of
//! sandlet's for all the streams (it waits in `poll` for pipes with room).
//! Each consumer has its own stream, so the bytes one of them sees do not depend on how
//! fast the others read; the order of the calls must be the same for two runs to match
//! (true for a single-threaded program).

use std::os::fd::OwnedFd;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::{Ctx, Decision, Handler};
use crate::rng::Stream;
use crate::seccomp::notif::{Notif, Response};
use crate::state::lock;
use crate::streams::Feeder;
use crate::sys;

pub const GETRANDOM: Handler = getrandom;

/// Most bytes one `getrandom` answer carries (the kernel also returns short counts for
/// large requests; callers loop).
const MAX_CALL: usize = 1 << 20;
/// `GRND_NONBLOCK | GRND_RANDOM | GRND_INSECURE`: other flag bits are invalid.
const GRND_ALL: u64 = 0x7;
/// Most streams open at once in a sandbox (each is a pipe of sandlet's and a chunk of
/// its memory): past it an open fails with EMFILE, as past a descriptor limit.
pub const MAX_STREAMS: usize = 32;
/// The longest an open at the limit waits for the feeder's look at every stream (it
/// takes microseconds; this only bounds a feeder that is stuck).
const REAP_LIMIT: std::time::Duration = std::time::Duration::from_secs(1);

/// `getrandom(buf, len, flags)`.
fn getrandom(ctx: &Ctx, n: &Notif) -> Decision {
    let Some(state) = &ctx.random else {
        return Decision::Respond(Response::Continue);
    };
    if n.args[2] & !GRND_ALL != 0 {
        return Decision::Respond(Response::Errno(libc::EINVAL));
    }
    let len = usize::try_from(n.args[1]).unwrap_or(MAX_CALL).min(MAX_CALL);
    let mut buf = vec![0u8; len];
    lock(state).calls.fill(&mut buf);
    if !ctx.listener.id_valid(n.id) {
        return Decision::Respond(Response::Errno(libc::EINTR));
    }
    Decision::Respond(match sys::process_vm_write(n.pid as i32, n.args[0], &buf) {
        Ok(written) if written > 0 || len == 0 => Response::Value(written as i64),
        _ => Response::Errno(libc::EFAULT),
    })
}

/// A new descriptor reading the next seeded stream (for an open of /dev/urandom).
pub fn open_stream(ctx: &Ctx) -> rustix::io::Result<OwnedFd> {
    let Some(state) = &ctx.random else {
        return Err(rustix::io::Errno::NOENT);
    };
    let mut s = lock(state);
    if s.live.load(Ordering::SeqCst) >= MAX_STREAMS {
        // Streams whose reader closed count until the feeder notices: have it look at
        // all of them now, and wait for that (not for a time, which a loaded machine
        // can outlast).
        if let Some(feeder) = &s.feeder {
            feeder.reap(REAP_LIMIT)?;
        }
        if s.live.load(Ordering::SeqCst) >= MAX_STREAMS {
            return Err(rustix::io::Errno::MFILE);
        }
    }
    let (read, write) = rustix::pipe::pipe_with(
        rustix::pipe::PipeFlags::CLOEXEC | rustix::pipe::PipeFlags::NONBLOCK,
    )?;
    // Only the feeder's end is non-blocking; the command reads as from the device.
    let flags = rustix::fs::fcntl_getfl(&read)?;
    rustix::fs::fcntl_setfl(&read, flags - rustix::fs::OFlags::NONBLOCK)?;
    if s.feeder.is_none() {
        s.feeder = Some(Feeder::start(Arc::clone(&s.live))?);
    }
    let number = s.opened + 1;
    let stream = Stream::new(s.seed, number);
    if let Some(feeder) = &s.feeder {
        feeder.add(write, stream)?;
    }
    s.opened = number;
    s.live.fetch_add(1, Ordering::SeqCst);
    Ok(read)
}
