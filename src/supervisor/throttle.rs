//! `-c PCT`: the sandbox gets PCT percent of one CPU. Every 100 ms period it runs for
//! PCT ms and is stopped (SIGSTOP to its process group) for the rest, then continued
//! (SIGCONT). The poll loop wakes at each switch; nothing runs in between. A process
//! that left the group (`setsid`) is not throttled.

use std::time::{Duration, Instant};

/// One duty cycle.
const PERIOD: Duration = Duration::from_millis(100);

/// What to do to the sandbox at a switch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Switch {
    Stop,
    Continue,
}

#[derive(Debug)]
pub struct Throttle {
    run: Duration,
    pause: Duration,
    stopped: bool,
    next: Instant,
}

impl Throttle {
    /// `None` for 100 % (nothing to throttle).
    pub fn new(percent: u8, now: Instant) -> Option<Throttle> {
        if percent >= 100 {
            return None;
        }
        let run = PERIOD * u32::from(percent) / 100;
        Some(Throttle {
            run,
            pause: PERIOD - run,
            stopped: false,
            next: now + run,
        })
    }

    /// When the next switch is due.
    pub fn next(&self) -> Instant {
        self.next
    }

    /// The switch due at `now`, if any, and the state after it.
    pub fn tick(&mut self, now: Instant) -> Option<Switch> {
        if now < self.next {
            return None;
        }
        self.stopped = !self.stopped;
        let (switch, length) = if self.stopped {
            (Switch::Stop, self.pause)
        } else {
            (Switch::Continue, self.run)
        };
        // Late wake-ups shorten the next phase rather than drifting the cycle, unless
        // we are more than a whole phase behind.
        self.next = (self.next + length).max(now);
        Some(switch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alternates_run_and_pause() {
        let t0 = Instant::now();
        assert!(Throttle::new(100, t0).is_none());
        let mut t = Throttle::new(25, t0).unwrap();
        assert_eq!(t.next(), t0 + Duration::from_millis(25));
        assert_eq!(t.tick(t0), None);
        assert_eq!(t.tick(t0 + Duration::from_millis(25)), Some(Switch::Stop));
        assert_eq!(t.next(), t0 + Duration::from_millis(100));
        assert_eq!(
            t.tick(t0 + Duration::from_millis(101)),
            Some(Switch::Continue)
        );
        assert_eq!(t.next(), t0 + Duration::from_millis(125));
        // Far behind: the next phase starts now.
        let late = t0 + Duration::from_secs(5);
        assert_eq!(t.tick(late), Some(Switch::Stop));
        assert_eq!(t.next(), late);
    }
}
