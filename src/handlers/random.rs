//! `--random-seed`: the command's randomness comes from a seeded generator
//! ([`crate::rng::Stream`]) instead of the kernel, so a run can be repeated byte for byte.
//!
//! `getrandom` is answered by writing the next bytes of stream 0 into the caller's buffer
//! (after checking the notification is still pending); nothing is read from the caller.
//! Opens of `/dev/urandom` and `/dev/random` (see [`super::files`]) get the read end of
//! a pipe that a thread of sandlet keeps full with stream K, K counting the opens from 1.
//! Each consumer has its own stream, so the bytes one of them sees do not depend on how
//! fast the others read; the order of the calls must be the same for two runs to match
//! (true for a single-threaded program).

use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use log::debug;

use super::{Ctx, Decision, Handler};
use crate::rng::Stream;
use crate::seccomp::notif::{Notif, Response};
use crate::state::lock;
use crate::sys;

pub const GETRANDOM: Handler = getrandom;

/// Most bytes one `getrandom` answer carries (the kernel also returns short counts for
/// large requests; callers loop).
const MAX_CALL: usize = 1 << 20;
/// `GRND_NONBLOCK | GRND_RANDOM | GRND_INSECURE`: other flag bits are invalid.
const GRND_ALL: u64 = 0x7;
/// Bytes the feeding thread writes at a time, and the pipe size it asks for.
const CHUNK: usize = 64 << 10;
const PIPE_SIZE: usize = 256 << 10;
/// Most streams open at once in a sandbox (each is a thread and a pipe of sandlet's):
/// past it an open fails with EMFILE, as past a descriptor limit.
pub const MAX_STREAMS: usize = 64;

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
    let (seed, number, live) = {
        let mut s = lock(state);
        if s.live.load(Ordering::SeqCst) >= MAX_STREAMS {
            return Err(rustix::io::Errno::MFILE);
        }
        s.opened += 1;
        s.live.fetch_add(1, Ordering::SeqCst);
        (s.seed, s.opened, Arc::clone(&s.live))
    };
    // Released when the feeding thread ends (the read end closed), or here on failure.
    let release = Release(live);
    let (read, write) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)?;
    if let Err(e) = rustix::pipe::fcntl_setpipe_size(&write, PIPE_SIZE) {
        debug!("random stream pipe stays at the default size: {e}");
    }
    std::thread::Builder::new()
        .name("sandlet-random".into())
        .spawn(move || {
            let _release = release;
            feed(&write, Stream::new(seed, number))
        })
        .map_err(|e| rustix::io::Errno::from_io_error(&e).unwrap_or(rustix::io::Errno::AGAIN))?;
    Ok(read)
}

/// A live stream's place in the count, given back on drop.
struct Release(Arc<AtomicUsize>);

impl Drop for Release {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Keeps `pipe` full of `stream` until its read end is closed.
fn feed(pipe: &OwnedFd, mut stream: Stream) {
    // A write to a closed pipe raises SIGPIPE: blocked here, it stays pending on this
    // thread (and dies with it) while the write fails with EPIPE, whatever the host
    // process does with SIGPIPE.
    if sys::block_all_signals().is_err() {
        return;
    }
    let mut buf = vec![0u8; CHUNK];
    loop {
        stream.fill(&mut buf);
        let mut rest = &buf[..];
        while !rest.is_empty() {
            match rustix::io::write(pipe, rest) {
                Ok(n) => rest = &rest[n..],
                Err(rustix::io::Errno::INTR) => {}
                Err(_) => return,
            }
        }
    }
}
