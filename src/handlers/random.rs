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
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Mutex};

use log::{debug, warn};
use rustix::event::{PollFd, PollFlags};

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
/// Bytes of a stream made at a time (a pipe at its default size holds 64 KiB).
const CHUNK: usize = 16 << 10;
/// Most streams open at once in a sandbox (each is a pipe of sandlet's and a chunk of
/// its memory): past it an open fails with EMFILE, as past a descriptor limit.
pub const MAX_STREAMS: usize = 32;
/// How long an open at the limit waits for the feeder to drop closed streams.
const REAP_WAIT: std::time::Duration = std::time::Duration::from_millis(20);

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
    pub feeder: Option<Feeder>,
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

/// A new descriptor reading the next seeded stream (for an open of /dev/urandom).
pub fn open_stream(ctx: &Ctx) -> rustix::io::Result<OwnedFd> {
    let Some(state) = &ctx.random else {
        return Err(rustix::io::Errno::NOENT);
    };
    let mut s = lock(state);
    if s.live.load(Ordering::SeqCst) >= MAX_STREAMS {
        // Streams whose reader closed count until the feeder notices: have it look now.
        if let Some(feeder) = &s.feeder {
            feeder.nudge()?;
        }
        let deadline = std::time::Instant::now() + REAP_WAIT;
        while s.live.load(Ordering::SeqCst) >= MAX_STREAMS {
            if std::time::Instant::now() >= deadline {
                return Err(rustix::io::Errno::MFILE);
            }
            std::thread::sleep(std::time::Duration::from_micros(100));
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

/// The thread that keeps every stream's pipe full, and how to hand it a new one. When
/// this is dropped (the sandbox's state goes), the thread sees its wake pipe close and
/// ends, closing the pipes it still feeds.
#[derive(Debug)]
pub struct Feeder {
    tx: Sender<(OwnedFd, Stream)>,
    wake: OwnedFd,
}

impl Feeder {
    fn start(live: Arc<AtomicUsize>) -> rustix::io::Result<Feeder> {
        let (tx, rx) = channel();
        let (wake_read, wake) = rustix::pipe::pipe_with(
            rustix::pipe::PipeFlags::CLOEXEC | rustix::pipe::PipeFlags::NONBLOCK,
        )?;
        std::thread::Builder::new()
            .name("sandlet-random".into())
            .stack_size(64 * 1024)
            .spawn(move || feed(&wake_read, &rx, &live))
            .map_err(|e| {
                rustix::io::Errno::from_io_error(&e).unwrap_or(rustix::io::Errno::AGAIN)
            })?;
        Ok(Feeder { tx, wake })
    }

    fn add(&self, pipe: OwnedFd, stream: Stream) -> rustix::io::Result<()> {
        self.tx
            .send((pipe, stream))
            .map_err(|_| rustix::io::Errno::AGAIN)?;
        self.nudge()
    }

    /// Makes the thread look at every stream (and take new ones) now.
    fn nudge(&self) -> rustix::io::Result<()> {
        match rustix::io::write(&self.wake, &[1]) {
            // A full wake pipe already has the thread's attention.
            Ok(_) | Err(rustix::io::Errno::AGAIN) => Ok(()),
            Err(e) => Err(e),
        }
    }
}

/// One stream being fed: its pipe, its generator and the part of the last chunk made
/// that the pipe has not taken yet.
struct Fed {
    pipe: OwnedFd,
    stream: Stream,
    chunk: Vec<u8>,
    at: usize,
}

impl Fed {
    /// Writes what the pipe takes; false when its reader is gone (or it failed).
    fn top_up(&mut self) -> bool {
        loop {
            if self.at == self.chunk.len() {
                self.stream.fill(&mut self.chunk);
                self.at = 0;
            }
            match rustix::io::write(&self.pipe, &self.chunk[self.at..]) {
                Ok(n) => self.at += n,
                Err(rustix::io::Errno::INTR) => {}
                Err(rustix::io::Errno::AGAIN) => return true,
                Err(_) => return false,
            }
        }
    }
}

/// The feeding thread: waits for room in any stream's pipe (or a new stream) and
/// fills it; a stream ends when its reader closes, and the thread when `wake` closes.
fn feed(wake: &OwnedFd, new: &Receiver<(OwnedFd, Stream)>, live: &AtomicUsize) {
    // A write to a closed pipe raises SIGPIPE: blocked here, it stays pending on this
    // thread (and dies with it) while the write fails with EPIPE, whatever the host
    // process does with SIGPIPE.
    if let Err(e) = sys::block_all_signals() {
        warn!("random streams: cannot block signals ({e}); not fed");
        return;
    }
    let mut fed: Vec<Fed> = Vec::new();
    loop {
        let mut fds = vec![PollFd::new(wake, PollFlags::IN)];
        fds.extend(fed.iter().map(|f| PollFd::new(&f.pipe, PollFlags::OUT)));
        match rustix::event::poll(&mut fds, None) {
            Ok(_) | Err(rustix::io::Errno::INTR) => {}
            Err(e) => {
                warn!("random streams: poll failed ({e}); no longer fed");
                return;
            }
        }
        let woken = fds[0].revents();
        let ready: Vec<bool> = fds[1..].iter().map(|f| !f.revents().is_empty()).collect();
        drop(fds);
        let before = fed.len();
        let mut i = 0;
        fed.retain_mut(|f| {
            let keep = !ready[i] || f.top_up();
            i += 1;
            keep
        });
        live.fetch_sub(before - fed.len(), Ordering::SeqCst);
        if woken.intersects(PollFlags::HUP | PollFlags::ERR) && !woken.contains(PollFlags::IN) {
            return;
        }
        if woken.contains(PollFlags::IN) {
            let mut drain = [0u8; 64];
            while matches!(rustix::io::read(wake, &mut drain), Ok(1..)) {}
            for (pipe, stream) in new.try_iter() {
                let mut f = Fed {
                    pipe,
                    stream,
                    chunk: vec![0u8; CHUNK],
                    at: CHUNK,
                };
                if f.top_up() {
                    fed.push(f);
                } else {
                    live.fetch_sub(1, Ordering::SeqCst);
                }
            }
            if woken.contains(PollFlags::HUP) {
                return;
            }
        }
        debug!("random streams: {} fed", fed.len());
    }
}
