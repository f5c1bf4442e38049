//! `Sandbox::run` (the CLI's path: subreaper, signal forwarding) used twice from one
//! process. Its own test binary, because it makes this process a subreaper that kills
//! its leftover children.

use sandlet::supervisor::Outcome;
use sandlet::Sandbox;

#[test]
fn run_twice_in_one_process() {
    for code in [3, 4] {
        let script = format!("exit {code}");
        let sandbox = Sandbox::builder()
            .command(["/bin/sh", "-c", script.as_str()])
            .build()
            .unwrap();
        // The second run would abort (closing fds the first run's signal handlers
        // still owned) or misbehave if the first left its handlers behind.
        assert_eq!(sandbox.run().unwrap().outcome, Outcome::Exited(code));
    }
}
