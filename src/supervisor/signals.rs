//! Signals sandlet reacts to, delivered through a self-pipe the poll loop watches.
//!
//! signal-hook sets one flag per signal and writes a byte to the pipe; the loop drains
//! the pipe and takes the flags. Installed before fork, with all signals blocked around
//! the fork, so none is lost and none runs a handler in the child.

use std::io::Read;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use signal_hook::consts::{SIGCHLD, SIGHUP, SIGINT, SIGQUIT, SIGTERM};

/// Signals forwarded to the sandbox's process group.
pub const FORWARDED: [i32; 4] = [SIGINT, SIGTERM, SIGHUP, SIGQUIT];

/// The read end of the self-pipe plus one flag per watched signal.
pub struct Signals {
    pub(crate) read: UnixStream,
    forwarded: [(i32, Arc<AtomicBool>); 4],
    child: Arc<AtomicBool>,
    /// Unregistered on drop. Each pipe registration owns its own duplicate of the
    /// write end, which signal-hook closes when it is unregistered, so no handler can
    /// write to a closed (or reused) fd.
    ids: Vec<signal_hook::SigId>,
}

impl Signals {
    /// Installs the handlers for the forwarded signals and SIGCHLD.
    pub fn install() -> std::io::Result<Signals> {
        let (read, write) = UnixStream::pair()?;
        read.set_nonblocking(true)?;
        write.set_nonblocking(true)?;
        let forwarded = FORWARDED.map(|sig| (sig, Arc::new(AtomicBool::new(false))));
        let child = Arc::new(AtomicBool::new(false));
        let flags = forwarded
            .iter()
            .map(|(sig, flag)| (*sig, flag))
            .chain([(SIGCHLD, &child)]);
        let mut ids = Vec::new();
        let registered = flags.into_iter().try_for_each(|(sig, flag)| {
            ids.push(signal_hook::flag::register(sig, Arc::clone(flag))?);
            ids.push(signal_hook::low_level::pipe::register(
                sig,
                write.try_clone()?,
            )?);
            Ok::<(), std::io::Error>(())
        });
        let signals = Signals {
            read,
            forwarded,
            child,
            ids,
        };
        registered.map(|()| signals)
    }

    /// Empties the pipe; returns the forwarded signals that arrived and whether a
    /// SIGCHLD did.
    pub fn take(&mut self) -> (Vec<i32>, bool) {
        let mut buf = [0u8; 64];
        while matches!(self.read.read(&mut buf), Ok(n) if n > 0) {}
        let fwd = self
            .forwarded
            .iter()
            .filter(|(_, f)| f.swap(false, Ordering::SeqCst))
            .map(|(sig, _)| *sig)
            .collect();
        (fwd, self.child.swap(false, Ordering::SeqCst))
    }
}

impl Drop for Signals {
    fn drop(&mut self) {
        for id in self.ids.drain(..) {
            signal_hook::low_level::unregister(id);
        }
    }
}
