//! A fixed pool of worker threads for blocking handlers, fed by a bounded channel.

use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use super::dispatch::{self, Route};
use crate::handlers::Ctx;
use crate::seccomp::notif::Notif;
use crate::state::lock;

/// Jobs waiting beyond this many make the poll thread wait (backpressure).
const QUEUE: usize = 256;

struct Job {
    notif: Notif,
    route: Route,
}

/// The worker threads; dropping the pool lets them finish their jobs and stop.
pub struct Pool {
    tx: Option<SyncSender<Job>>,
    threads: Vec<JoinHandle<()>>,
}

impl Pool {
    /// Starts `n` workers answering notifications through `ctx`.
    pub fn start(n: usize, ctx: &Arc<Ctx>) -> std::io::Result<Pool> {
        let (tx, rx) = sync_channel::<Job>(QUEUE);
        let rx = Arc::new(Mutex::new(rx));
        let mut threads = Vec::with_capacity(n);
        for i in 0..n {
            let (ctx, rx) = (Arc::clone(ctx), Arc::clone(&rx));
            let thread = std::thread::Builder::new()
                .name(format!("sandlet-worker-{i}"))
                .stack_size(64 * 1024)
                .spawn(move || work(&ctx, &rx))?;
            threads.push(thread);
        }
        Ok(Pool {
            tx: Some(tx),
            threads,
        })
    }

    /// Queues a notification for a worker.
    pub fn submit(&self, notif: Notif, route: Route) {
        if let Some(tx) = &self.tx {
            // Workers only stop when the pool is dropped, so the send cannot fail here.
            let _ = tx.send(Job { notif, route });
        }
    }
}

fn work(ctx: &Ctx, rx: &Mutex<Receiver<Job>>) {
    loop {
        let job = lock(rx).recv();
        let Ok(job) = job else { return };
        let handle = || {
            let decision = dispatch::decide(ctx, &job.route, &job.notif);
            dispatch::answer(ctx, &job.notif, decision);
        };
        match &ctx.gate {
            Some(gate) if !job.route.freezes() => gate.run(handle),
            _ => handle(),
        }
    }
}

/// How long the end of a run waits for workers to finish their jobs.
const GRACE: std::time::Duration = std::time::Duration::from_millis(100);

impl Drop for Pool {
    /// Lets the workers finish and stop, waiting for them at most [`GRACE`]: a worker
    /// held by the command (an on-behalf connect to a host that never answers) must
    /// not keep the run alive after the sandbox is gone. The ones still busy then are
    /// left to end on their own (they hold the context they answer through).
    fn drop(&mut self) {
        self.tx = None;
        let deadline = std::time::Instant::now() + GRACE;
        while self.threads.iter().any(|t| !t.is_finished()) && std::time::Instant::now() < deadline
        {
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        for t in self.threads.drain(..) {
            if t.is_finished() {
                let _ = t.join();
            }
        }
    }
}
