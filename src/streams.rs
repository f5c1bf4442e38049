//! Seeded byte streams served through pipes: one thread of sandlet's keeps the write end
//! of every stream's pipe full (waiting in `poll` for pipes with room), for as many
//! streams as are open. Used by `--random-seed` for opens of the random devices.

use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use log::{debug, warn};
use rustix::event::{PollFd, PollFlags};

use crate::rng::Stream;
use crate::sys;

/// The list, whatever a panic elsewhere left it as (it is only a list).
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Bytes of a stream made at a time (a pipe at its default size holds 64 KiB).
const CHUNK: usize = 16 << 10;

/// The thread that keeps every stream's pipe full, and how to hand it a new one. When
/// this is dropped (the sandbox's state goes), the thread sees its wake pipe close and
/// ends, closing the pipes it still feeds.
#[derive(Debug)]
pub struct Feeder {
    new: Arc<Mutex<Vec<(OwnedFd, Stream)>>>,
    wake: OwnedFd,
}

impl Feeder {
    pub fn start(live: Arc<AtomicUsize>) -> rustix::io::Result<Feeder> {
        let new = Arc::new(Mutex::new(Vec::new()));
        let taken = Arc::clone(&new);
        let (wake_read, wake) = rustix::pipe::pipe_with(
            rustix::pipe::PipeFlags::CLOEXEC | rustix::pipe::PipeFlags::NONBLOCK,
        )?;
        std::thread::Builder::new()
            .name("sandlet-random".into())
            .stack_size(64 * 1024)
            .spawn(move || feed(&wake_read, &taken, &live))
            .map_err(|e| {
                rustix::io::Errno::from_io_error(&e).unwrap_or(rustix::io::Errno::AGAIN)
            })?;
        Ok(Feeder { new, wake })
    }

    pub fn add(&self, pipe: OwnedFd, stream: Stream) -> rustix::io::Result<()> {
        lock(&self.new).push((pipe, stream));
        self.nudge()
    }

    /// Makes the thread look at every stream (and take new ones) now.
    pub fn nudge(&self) -> rustix::io::Result<()> {
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
fn feed(wake: &OwnedFd, new: &Mutex<Vec<(OwnedFd, Stream)>>, live: &AtomicUsize) {
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
            let taken = std::mem::take(&mut *lock(new));
            for (pipe, stream) in taken {
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
