//! Orphans: sandlet is a child subreaper, so processes that leave the command's tree
//! (double-forked daemons, `setsid` jobs) are re-parented to it. They are found through
//! `/proc/self/task/*/children` and waited for by pid, never with "any child" (a worker
//! may own a ptrace stop), and killed when the command ends.

use log::{debug, warn};
use rustix::process::{Pid, WaitOptions};

/// Direct children of sandlet that belong to the sandbox (not the `--policy-exec`
/// program, which its owner waits for), warning when /proc cannot tell.
fn children() -> Vec<Pid> {
    if !std::path::Path::new("/proc/self/task").exists() {
        warn!("/proc is not mounted; processes that left the sandbox's group may survive");
    }
    crate::procfs::own_children()
        .into_iter()
        .filter_map(Pid::from_raw)
        .collect()
}

/// Reaps re-parented orphans that have exited (never `command`, reaped by pidfd). Only
/// zombies are waited for: a wait on a live orphan that a worker is tracing (an exec
/// decision) would take the ptrace stop the worker waits for, since the kernel reports
/// a tracee's stops to any thread of its tracer's process.
pub fn reap_exited_orphans(command: Pid) {
    for pid in children().into_iter().filter(|&p| p != command) {
        let raw = pid.as_raw_nonzero().get();
        if crate::procfs::task_state(raw as u32) != Some('Z') {
            continue;
        }
        if let Ok(Some(_)) = rustix::process::waitpid(Some(pid), WaitOptions::NOHANG) {
            debug!("reaped orphan {raw}");
        }
    }
}

/// Kills and reaps every child until none is left. A killed child's own children are
/// re-parented to sandlet and caught by the next round. A child's pid cannot be reused
/// before it is reaped, so signalling by pid is safe.
pub fn kill_all_children() {
    loop {
        let kids = children();
        if kids.is_empty() {
            return;
        }
        for &pid in &kids {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
        }
        for &pid in &kids {
            while let Err(rustix::io::Errno::INTR) =
                rustix::process::waitpid(Some(pid), WaitOptions::empty())
            {}
            debug!(
                "killed and reaped leftover process {}",
                pid.as_raw_nonzero()
            );
        }
    }
}
