//! Seeded byte streams served through pipes: one thread of sandlet's keeps the write end
//! of every stream's pipe full (waiting in `poll` for pipes with room), for as many
//! streams as are open. Used by `--random-seed` for opens of the random devices.

use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
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
    /// Looks asked for ([`Feeder::reap`]) and the last one the thread has finished.
    looks: Arc<Looks>,
}

/// Requests for a look at every stream, and the last request a finished pass answered.
#[derive(Debug, Default)]
struct Looks {
    asked: AtomicU64,
    done: AtomicU64,
}

impl Feeder {
    pub fn start(live: Arc<AtomicUsize>) -> rustix::io::Result<Feeder> {
        let new = Arc::new(Mutex::new(Vec::new()));
        let taken = Arc::clone(&new);
        let looks = Arc::new(Looks::default());
        let answered = Arc::clone(&looks);
        let (wake_read, wake) = rustix::pipe::pipe_with(
            rustix::pipe::PipeFlags::CLOEXEC | rustix::pipe::PipeFlags::NONBLOCK,
        )?;
        std::thread::Builder::new()
            .name("sandlet-random".into())
            .stack_size(64 * 1024)
            .spawn(move || feed(&wake_read, &taken, &live, &answered))
            .map_err(|e| {
                rustix::io::Errno::from_io_error(&e).unwrap_or(rustix::io::Errno::AGAIN)
            })?;
        Ok(Feeder { new, wake, looks })
    }

    /// Returns once the thread has looked at every stream after this call (so every
    /// stream whose reader had closed is dropped and no longer live), or after
    /// `limit` if it does not get to it.
    pub fn reap(&self, limit: std::time::Duration) -> rustix::io::Result<()> {
        let ask = self.looks.asked.fetch_add(1, Ordering::SeqCst) + 1;
        self.nudge()?;
        let deadline = std::time::Instant::now() + limit;
        while self.looks.done.load(Ordering::SeqCst) < ask {
            if std::time::Instant::now() >= deadline {
                break;
            }
            std::thread::sleep(std::time::Duration::from_micros(50));
        }
        Ok(())
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
fn feed(wake: &OwnedFd, new: &Mutex<Vec<(OwnedFd, Stream)>>, live: &AtomicUsize, looks: &Looks) {
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
        let mut woken = fds[0].revents();
        // Woken by a request for a look: look again now, after reading the request, so
        // that every stream closed before it shows (a closed reader: POLLERR).
        let mut asked = None;
        if woken.contains(PollFlags::IN) {
            // Drained first: a request made after the load below leaves its own byte.
            let mut drain = [0u8; 64];
            while matches!(rustix::io::read(wake, &mut drain), Ok(1..)) {}
            asked = Some(looks.asked.load(Ordering::SeqCst));
            let now = rustix::time::Timespec {
                tv_sec: 0,
                tv_nsec: 0,
            };
            if rustix::event::poll(&mut fds, Some(&now)).is_ok() {
                woken |= fds[0].revents();
            }
        }
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
        if let Some(asked) = asked {
            looks.done.fetch_max(asked, Ordering::SeqCst);
        }
        debug!("random streams: {} fed", fed.len());
    }
}
