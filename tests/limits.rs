//! The supervisor's limits: `-P/--max-processes` (live children, zombies, threads,
//! reaping, fork bombs), `-m/--max-memory` (mmap, mremap, brk, malloc, SysV shm,
//! Python, `--memory-kill`, the sum over processes, no drift, stress), what happens when
//! the command or sandlet dies in the middle, and the flags' input errors.
//!
//! Every limited run has a control: the same workload without the limit (or with a
//! higher one, or with `--no-supervisor`) behaves differently, so each test can fail.

mod util;

use std::fs;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use util::{
    alive_with, assert_one_error_line, bare, kill_if_alive, probe, probe_dir, run, sandboxed,
    sandboxed_output, system_flags, wait_gone, Mode, Output, PidGuard, Running, TempDir,
};

const MIB: u64 = 1024 * 1024;

fn bytes(n: u64) -> String {
    n.to_string()
}

// ---------------------------------------------------------------------------------------
// helpers

/// The `sandlet: N allocation(s) refused at the memory limit of SIZE` lines of `err`.
fn refusal_lines(err: &str) -> Vec<&str> {
    err.lines()
        .filter(|l| l.contains("allocation(s) refused"))
        .collect()
}

/// Asserts `out`'s stderr has exactly one refusal line, in the exact format, for the
/// limit `size`; returns its count (at least 1).
fn refusal_count(out: &Output, size: &str) -> u64 {
    let err = out.err();
    let lines = refusal_lines(&err);
    assert_eq!(
        lines.len(),
        1,
        "{}: expected one refusal line, stderr: {err:?}",
        out.what
    );
    let suffix = format!(" allocation(s) refused at the memory limit of {size}");
    let count = lines[0]
        .strip_prefix("sandlet: ")
        .and_then(|rest| rest.strip_suffix(&suffix))
        .and_then(|n| n.parse::<u64>().ok())
        .unwrap_or_else(|| {
            panic!(
                "{}: refusal line not in the format 'sandlet: N{suffix}': {:?}",
                out.what, lines[0]
            )
        });
    assert!(count >= 1, "{}: {:?}", out.what, lines[0]);
    count
}

/// Asserts `out` printed no refusal line.
fn no_refusal(out: &Output) {
    let err = out.err();
    assert!(
        refusal_lines(&err).is_empty(),
        "{}: unexpected refusal line: {err:?}",
        out.what
    );
}

/// `sandlet run FLAGS -- /usr/bin/python3 -c CODE` (the default policy covers /usr).
fn python(mode: Mode, flags: &[&str], code: &str) -> Output {
    let mut argv = vec!["run"];
    argv.extend_from_slice(flags);
    argv.extend_from_slice(&["--", "/usr/bin/python3", "-c", code]);
    run(mode.sandlet(&argv))
}

/// A string no other process on the machine has in its command line.
fn unique_marker(tag: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "sandlet-{tag}-{}-{}-{nanos}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    )
}

/// Live (not zombie) processes whose command line contains `marker`.
fn marked(marker: &str) -> Vec<i32> {
    let Ok(dir) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|&pid| alive_with(pid, marker))
        .collect()
}

/// A number of live processes carrying `marker` that were all alive at one instant:
/// those seen by a scan of /proc and still alive when checked again after it (each was
/// alive from its first look to its second, and every first look precedes every
/// second one).
fn alive_together(marker: &str) -> usize {
    let seen = marked(marker);
    seen.into_iter()
        .filter(|&pid| alive_with(pid, marker))
        .count()
}

/// Polls until no live process carries `marker` (at most `limit`); returns the
/// survivors, killed on the way out so a failing test leaves nothing behind.
fn survivors(marker: &str, limit: Duration) -> Vec<i32> {
    let start = Instant::now();
    loop {
        let left = marked(marker);
        if left.is_empty() {
            return left;
        }
        if start.elapsed() >= limit {
            for &pid in &left {
                kill_if_alive(pid, marker);
            }
            return left;
        }
        thread::sleep(Duration::from_millis(20));
    }
}

/// The pid of a `ready PID` (or `ok ready PID`) line.
fn ready_pid(line: &str) -> i32 {
    let line = line.strip_prefix("ok ").unwrap_or(line);
    line.strip_prefix("ready ")
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("not a ready line: {line:?}"))
}

/// `sandlet run FLAGS -r <probe dir> -- probe stress THREADS ENDLESS`, started; waits
/// for the ready line (the threads are looping). Returns the run and the probe's pid.
fn endless_stress(mode: Mode, flags: &[&str]) -> (Running, PidGuard) {
    let mut argv = vec!["run"];
    argv.extend_from_slice(flags);
    // 10^9 pages per thread: never done within the test, even if every mmap failed
    // at once (so the command cannot end by itself and hide a missing kill).
    argv.extend_from_slice(&[
        "-r",
        probe_dir(),
        "--",
        probe(),
        "stress",
        "8",
        "1000000000",
    ]);
    let run = Running::start(mode.sandlet(&argv));
    let pid = ready_pid(&run.line());
    (
        run,
        PidGuard {
            pid,
            marker: "stress",
        },
    )
}

// ---------------------------------------------------------------------------------------
// process limit

#[test]
fn fork_limit_counts_live_children() {
    for mode in Mode::ALL {
        // The probe is one of the 5, so 4 children fit.
        assert_eq!(
            sandboxed(mode, &["-P", "5"], &["fork_hold", "10"]),
            "ok 4 EAGAIN",
            "{mode:?}"
        );
        assert_eq!(
            sandboxed(mode, &["--max-processes", "3"], &["fork_hold", "10"]),
            "ok 2 EAGAIN",
            "{mode:?}"
        );
        // Control: a higher limit lets all 10 live at once.
        assert_eq!(
            sandboxed(mode, &["-P", "50"], &["fork_hold", "10"]),
            "ok 10 none",
            "{mode:?}"
        );
    }
}

#[test]
fn simultaneous_forks_never_exceed_the_limit() {
    for mode in Mode::ALL {
        // 400 rounds of 16 threads forking at once: in no round may more than 4
        // children (plus the probe) be alive, i.e. forks admitted but not yet visible
        // in /proc must still count.
        assert_eq!(
            sandboxed(mode, &["-P", "5"], &["fork_burst", "16", "400"]),
            "ok 4 4",
            "{mode:?}: most and fewest children alive at once under -P 5"
        );
        // Control: with room for all, all 16 forks succeed every round.
        assert_eq!(
            sandboxed(mode, &["-P", "50"], &["fork_burst", "16", "20"]),
            "ok 16 16",
            "{mode:?}"
        );
    }
}

#[test]
fn default_limit_is_64_and_no_supervisor_has_none() {
    for mode in Mode::ALL {
        assert_eq!(
            sandboxed(mode, &[], &["fork_hold", "80"]),
            "ok 63 EAGAIN",
            "{mode:?}: default -P 64"
        );
        // Control: the trap is what limits.
        assert_eq!(
            sandboxed(mode, &["--no-supervisor"], &["fork_hold", "80"]),
            "ok 80 none",
            "{mode:?}: --no-supervisor"
        );
    }
}

#[test]
fn threads_do_not_count() {
    for mode in Mode::ALL {
        assert_eq!(
            sandboxed(mode, &["-P", "5"], &["threads", "50"]),
            "ok 50",
            "{mode:?}"
        );
        // Control: the same limit does stop processes.
        assert_eq!(
            sandboxed(mode, &["-P", "5"], &["fork_hold", "50"]),
            "ok 4 EAGAIN",
            "{mode:?}"
        );
    }
}

#[test]
fn zombies_count() {
    for mode in Mode::ALL {
        assert_eq!(
            sandboxed(mode, &["-P", "10"], &["zombie_loop", "20"]),
            "ok 9 EAGAIN",
            "{mode:?}"
        );
        // Control: below a higher limit every unreaped child is allowed.
        assert_eq!(
            sandboxed(mode, &["-P", "100"], &["zombie_loop", "20"]),
            "ok 20 none",
            "{mode:?}"
        );
    }
}

#[test]
fn reaped_children_free_their_slot() {
    for mode in Mode::ALL {
        assert_eq!(
            sandboxed(mode, &["-P", "3"], &["fork_wait_loop", "200"]),
            "ok 200 none",
            "{mode:?}"
        );
        // Control: under the same limit, children that are not reaped use it up.
        assert_eq!(
            sandboxed(mode, &["-P", "3"], &["zombie_loop", "200"]),
            "ok 2 EAGAIN",
            "{mode:?}"
        );
    }
}

#[test]
fn namespace_clones_and_clone3_still_denied_under_the_supervisor() {
    for mode in Mode::ALL {
        for flags in [&["-P", "5"][..], &["-m", "64M"][..]] {
            assert_eq!(
                sandboxed(mode, flags, &["clone_ns", "newuser"]),
                "err EPERM",
                "{mode:?} {flags:?}"
            );
            assert_eq!(
                sandboxed(mode, flags, &["sys", "clone3"]),
                "err ENOSYS",
                "{mode:?} {flags:?}"
            );
            // A plain fork still works.
            assert_eq!(
                sandboxed(mode, flags, &["fork"]),
                "ok",
                "{mode:?} {flags:?}"
            );
        }
        // Control: without sandlet both calls get past the point of being denied.
        assert_ne!(
            bare(mode, &["clone_ns", "newuser"]),
            "err EPERM",
            "{mode:?}"
        );
        assert_eq!(bare(mode, &["sys", "clone3"]), "err EINVAL", "{mode:?}");
    }
}

#[test]
fn fork_bomb_is_cleaned_up_when_its_shell_exits() {
    // Control: bash (unlike dash) takes ':' as a function name, so the bomb really runs.
    let out = run(Mode::Root.command(&["bash", "-c", ":(){ echo defined; }; :"]));
    assert_eq!(out.probe_line(), "defined");
    for mode in Mode::ALL {
        let marker = unique_marker("bomb");
        let start = Instant::now();
        let out = run(mode.sandlet(&[
            "run",
            "-P",
            "20",
            "-t",
            "10",
            "--",
            "bash",
            "-c",
            ":(){ :|:& };:",
            &marker,
        ]));
        let elapsed = start.elapsed();
        assert_ne!(
            out.status.code(),
            Some(124),
            "{mode:?}: the bomb ran into the timeout; stderr: {}",
            out.err()
        );
        assert!(
            out.status.code().is_some(),
            "{mode:?}: sandlet died: {:?}",
            out.status
        );
        assert!(
            elapsed < Duration::from_secs(8),
            "{mode:?}: sandlet took {elapsed:?} (timeout 10s)"
        );
        let left = survivors(&marker, Duration::from_secs(3));
        assert!(
            left.is_empty(),
            "{mode:?}: bomb processes survived: {left:?}"
        );
    }
}

#[test]
fn fork_bomb_with_a_waiting_shell_stays_under_the_limit() {
    let mut flags: Vec<String> = system_flags();
    flags.extend(["-r".into(), probe_dir().into()]);
    // dash gives up a subshell whose fork failed (the bomb burns out); bash retries
    // with back-off (the bomb keeps the sandbox full). Each prints its own message
    // when a fork is refused.
    let shells = [
        ("sh", "Cannot fork"),
        ("bash", "Resource temporarily unavailable"),
    ];
    for mode in Mode::ALL {
        for (shell, refused) in shells {
            let marker = unique_marker("bomb");
            // The bomb runs in the background; the shell then becomes the probe (exec:
            // no fork needed, whatever the bomb left of the limit), sleeps 1s, exits 0.
            let script = format!("bomb(){{ bomb|bomb& }}; bomb; exec {} sleep 1", probe());
            let mut argv: Vec<&str> = vec!["run", "-P", "20", "-t", "10"];
            argv.extend(flags.iter().map(String::as_str));
            argv.extend(["--", shell, "-c", &script, &marker]);

            // Count the bomb's processes while it runs.
            let stop = Arc::new(AtomicBool::new(false));
            let sampler = {
                let (stop, marker) = (Arc::clone(&stop), marker.clone());
                thread::spawn(move || {
                    let mut max = 0;
                    while !stop.load(Ordering::SeqCst) {
                        max = max.max(alive_together(&marker));
                        thread::sleep(Duration::from_millis(10));
                    }
                    max
                })
            };
            let start = Instant::now();
            let out = run(mode.sandlet(&argv));
            let elapsed = start.elapsed();
            stop.store(true, Ordering::SeqCst);
            let max = sampler.join().expect("sampler thread");
            let left = survivors(&marker, Duration::from_secs(3));

            let what = format!("{mode:?} {shell}");
            out.expect_code(0);
            assert_eq!(out.out(), "ok", "{what}");
            assert!(
                out.err().contains(refused),
                "{what}: no fork was refused; stderr: {}",
                out.err()
            );
            assert!(
                elapsed >= Duration::from_millis(900) && elapsed < Duration::from_secs(8),
                "{what}: sandlet took {elapsed:?} (command sleeps 1s, timeout 10s)"
            );
            // At most 20 processes in the sandbox (the shell carries the marker until it
            // becomes the probe).
            assert!(
                max <= 20,
                "{what}: {max} bomb processes alive at once under -P 20"
            );
            if shell == "bash" {
                assert!(
                    max >= 10,
                    "{what}: the bomb never filled the sandbox (at most {max} seen)"
                );
            }
            assert!(left.is_empty(), "{what}: bomb processes survived: {left:?}");
        }
    }
}

#[test]
fn a_fork_bomb_never_has_more_processes_than_the_limit() {
    // The bomb counts its own members alive at once (in shared memory, from each
    // member's first act to its last), so a short overshoot cannot be missed.
    let peak_of = |line: &str| -> (u64, u64) {
        let f: Vec<u64> = line
            .split(' ')
            .skip(1)
            .map(|v| v.parse().unwrap())
            .collect();
        (f[0], f[1])
    };
    for mode in Mode::ALL {
        // Control: unconfined, it grows past 20 (to its own cap).
        let (peak, _) = peak_of(&bare(mode, &["bomb_peak", "500"]));
        assert!(peak > 20, "{mode:?} control: peak {peak}");
        let line = sandboxed(mode, &["-P", "20"], &["bomb_peak", "1500"]);
        let (peak, refused) = peak_of(&line);
        assert!(peak <= 20, "{mode:?}: {peak} processes at once under -P 20");
        assert!(
            peak >= 10,
            "{mode:?}: the bomb never filled the sandbox: {line}"
        );
        assert!(refused > 0, "{mode:?}: no fork was refused: {line}");
    }
}

// ---------------------------------------------------------------------------------------
// memory limit

#[test]
fn memory_limit_holds_when_processes_and_threads_allocate_at_once() {
    // 8 children (or threads), released together, each map and touch 15 MiB under
    // -m 64M: at most 4 fit, whatever the interleaving. Repeated to catch the race.
    for mode in Mode::ALL {
        for how in ["procs", "threads"] {
            let burst = |flags: &[&str]| -> u64 {
                let line = sandboxed(mode, flags, &["mmap_burst", how, "8", "15"]);
                line.strip_prefix("ok ").unwrap().parse().unwrap()
            };
            // Control: under a large limit all 8 get their memory.
            assert_eq!(burst(&["-m", "1G"]), 8, "{mode:?} {how} control");
            for round in 0..8 {
                let granted = burst(&["-m", "64M"]);
                assert!(
                    (1..=4).contains(&granted),
                    "{mode:?} {how} round {round}: {granted} of 8 got 15 MiB under -m 64M"
                );
            }
        }
    }
}

#[test]
fn private_mappings_of_dev_zero_and_memfds_count() {
    // A private writable mapping of /dev/zero or of a memfd is private memory: it
    // counts as an anonymous one does (and --memory-kill fires on it).
    for mode in Mode::ALL {
        for kind in ["zero", "memfd"] {
            let args = ["priv_map", kind, "64"];
            let w = ["-w", "/dev/zero"];
            assert_eq!(bare(mode, &args), "ok", "{mode:?} {kind} control");
            let big = [&w[..], &["-m", "1G"]].concat();
            assert_eq!(sandboxed(mode, &big, &args), "ok", "{mode:?} {kind}");
            let small = [&w[..], &["-m", "32M"]].concat();
            let out = sandboxed_output(mode, &small, &args);
            assert_eq!(out.probe_line(), "err ENOMEM", "{mode:?} {kind}");
            let kill = [&w[..], &["-m", "32M", "--memory-kill"]].concat();
            let out = sandboxed_output(mode, &kill, &args);
            assert_eq!(out.code(), 137, "{mode:?} {kind}: {}", out.err());
        }
    }
}

/// `sandlet run FLAGS -r PROBE_DIR -- probe ARGS` as `mode`, left running: the handle
/// and the probe's first line.
fn start_probe(mode: Mode, flags: &[&str], args: &[&str]) -> (util::Running, String) {
    let mut argv = vec!["run"];
    argv.extend_from_slice(flags);
    argv.extend_from_slice(&["-r", probe_dir(), "--", probe()]);
    argv.extend_from_slice(args);
    let r = util::Running::start(mode.sandlet(&argv));
    let line = r.line();
    (r, line)
}

#[test]
fn short_lived_processes_leave_nothing_open_in_sandlet() {
    // 2,000 children that each make one trapped allocation and exit: sandlet keeps no
    // descriptor per process (it held one statm per process before).
    for mode in Mode::ALL {
        let (churn, line) = start_probe(mode, &["-m", "4G"], &["mmap_churn", "2000"]);
        ready_pid(&line);
        // Running's pid is sandlet's (setpriv execs it for uid 65534).
        let fds = std::fs::read_dir(format!("/proc/{}/fd", churn.pid))
            .unwrap()
            .count();
        churn.signal(libc::SIGTERM);
        churn.wait();
        assert!(fds < 64, "{mode:?}: sandlet has {fds} descriptors open");
    }
}

/// Lowers the descriptor limit of running process `pid` (sandlet) to 3, below what it
/// has open: every open it makes from now on fails with EMFILE.
fn out_of_descriptors(pid: i32) {
    let limited = std::process::Command::new("prlimit")
        .arg(format!("--pid={pid}"))
        .arg("--nofile=3")
        .status()
        .expect("prlimit");
    assert!(limited.success(), "prlimit --pid={pid}");
}

#[test]
fn accounting_that_cannot_be_done_refuses() {
    // sandlet out of descriptors (its limit lowered under it) cannot read /proc for a
    // caller: the allocation is refused, never admitted unaccounted.
    let start = |mb: &str| {
        let (r, line) = start_probe(Mode::Root, &["-m", "512M"], &["alloc_on_usr1", mb]);
        (r, ready_pid(&line))
    };
    let go = |probe: i32| {
        // SAFETY: kill has no memory-safety preconditions.
        unsafe { libc::kill(probe, libc::SIGUSR1) };
    };
    // Control: with descriptors to spare, 64 MiB under -m 512M is granted.
    let (r, probe) = start("64");
    go(probe);
    assert_eq!(r.line(), "ok", "control");
    r.wait();
    let (r, probe) = start("1024");
    out_of_descriptors(r.pid);
    go(probe);
    assert_eq!(
        r.line(),
        "err ENOMEM",
        "an unaccounted allocation was admitted"
    );
    r.wait();
}

#[test]
fn a_reused_thread_id_does_not_inherit_a_ledger() {
    // A thread makes a trapped allocation and dies with its process; a new process
    // gets that id (the next pid set through ns_last_pid) and asks for 1 GiB in 16 MiB
    // steps under -m 128M: it is judged as itself, not as the dead process.
    let last_pid = "/proc/sys/kernel/ns_last_pid";
    for mode in Mode::ALL {
        let (r, line) = start_probe(mode, &["-m", "128M"], &["reuse_tid", "1024"]);
        let ids: Vec<i32> = line
            .strip_prefix("ok tid ")
            .unwrap()
            .split(' ')
            .map(|v| v.parse().unwrap())
            .collect();
        let (tid, probe) = (ids[0], ids[1]);
        std::fs::write(last_pid, (tid - 1).to_string()).unwrap();
        // SAFETY: kill has no memory-safety preconditions.
        unsafe { libc::kill(probe, libc::SIGUSR1) };
        let result = r.line();
        r.wait();
        let f: Vec<i32> = result
            .split(' ')
            .skip(1)
            .map(|v| v.parse().unwrap())
            .collect();
        if f[1] != tid {
            util::skip(&format!(
                "{mode:?}: pid {tid} was taken by another process first"
            ));
            continue;
        }
        assert!(
            f[0] <= 128,
            "{mode:?}: the new process got {} MiB under -m 128M",
            f[0]
        );
        assert!(f[0] >= 16, "{mode:?}: {result}");
    }
}

#[test]
fn a_process_count_that_cannot_be_made_refuses() {
    // sandlet out of descriptors cannot recount the sandbox in /proc: at the limit,
    // forks are refused, never admitted on a count of zero.
    let start = || {
        let (r, line) = start_probe(Mode::Root, &["-P", "20"], &["forks_on_usr1", "60"]);
        (r, ready_pid(&line))
    };
    let forked = |r: &util::Running, probe: i32| -> u32 {
        // SAFETY: kill has no memory-safety preconditions.
        unsafe { libc::kill(probe, libc::SIGUSR1) };
        let line = r.line();
        r.wait();
        line.strip_prefix("ok ").unwrap().parse().unwrap()
    };
    // Control: with descriptors, -P 20 holds at 19 children (the probe is the 20th).
    let (r, probe) = start();
    assert_eq!(forked(&r, probe), 19, "control");
    let (r, probe) = start();
    out_of_descriptors(r.pid);
    let n = forked(&r, probe);
    assert!(
        n <= 19,
        "{n} children at once under -P 20 with /proc unreadable"
    );
}

#[test]
fn mmap_over_the_limit_is_enomem() {
    for mode in Mode::ALL {
        let big = bytes(256 * MIB);
        let out = sandboxed_output(mode, &["-m", "64M"], &["mmap", &big]);
        assert_eq!(out.probe_line(), "err ENOMEM", "{mode:?}");
        assert_eq!(refusal_count(&out, "64M"), 1, "{mode:?}");

        let out = sandboxed_output(mode, &["-m", "64M"], &["mmap", &bytes(32 * MIB)]);
        assert_eq!(out.probe_line(), "ok", "{mode:?}");
        no_refusal(&out);

        // Control: without -m (the supervisor still runs) the big mapping works.
        let out = sandboxed_output(mode, &[], &["mmap", &big]);
        assert_eq!(out.probe_line(), "ok", "{mode:?}");
        no_refusal(&out);
    }
}

#[test]
fn mremap_growth_over_the_limit_is_enomem() {
    for mode in Mode::ALL {
        let one = bytes(MIB);
        let out = sandboxed_output(
            mode,
            &["-m", "64M"],
            &["mremap_grow", &one, &bytes(256 * MIB)],
        );
        assert_eq!(out.probe_line(), "err ENOMEM", "{mode:?}");
        assert_eq!(refusal_count(&out, "64M"), 1, "{mode:?}");
        assert_eq!(
            sandboxed(
                mode,
                &["-m", "64M"],
                &["mremap_grow", &one, &bytes(32 * MIB)]
            ),
            "ok",
            "{mode:?}"
        );
        // Control.
        assert_eq!(
            sandboxed(mode, &[], &["mremap_grow", &one, &bytes(256 * MIB)]),
            "ok",
            "{mode:?}"
        );
    }
}

#[test]
fn malloc_over_the_limit_returns_null() {
    for mode in Mode::ALL {
        let out = sandboxed_output(mode, &["-m", "64M"], &["malloc_touch", "256"]);
        assert_eq!(out.probe_line(), "err ENOMEM", "{mode:?}");
        refusal_count(&out, "64M");
        let out = sandboxed_output(mode, &["-m", "64M"], &["malloc_touch", "16"]);
        assert_eq!(out.probe_line(), "ok", "{mode:?}");
        no_refusal(&out);
        // Control.
        assert_eq!(
            sandboxed(mode, &[], &["malloc_touch", "256"]),
            "ok",
            "{mode:?}"
        );
    }
}

#[test]
fn brk_over_the_limit_keeps_the_break() {
    for mode in Mode::ALL {
        let out = sandboxed_output(mode, &["-m", "16M"], &["brk_grow", &bytes(64 * MIB)]);
        assert_eq!(out.probe_line(), "err ENOMEM same", "{mode:?}");
        assert_eq!(refusal_count(&out, "16M"), 1, "{mode:?}");
        assert_eq!(
            sandboxed(mode, &["-m", "16M"], &["brk_grow", &bytes(MIB)]),
            "ok",
            "{mode:?}"
        );
        // Control.
        assert_eq!(
            sandboxed(mode, &[], &["brk_grow", &bytes(64 * MIB)]),
            "ok",
            "{mode:?}"
        );
    }
}

#[test]
fn sysv_shm_counts_against_the_limit() {
    let ipc = ["--extra-allow-syscall", "sysv_ipc"];
    for mode in Mode::ALL {
        let big = bytes(256 * MIB);
        let out = sandboxed_output(
            mode,
            &[&ipc[..], &["-m", "64M"]].concat(),
            &["shm_create", &big],
        );
        assert_eq!(out.probe_line(), "err ENOMEM", "{mode:?}");
        assert_eq!(refusal_count(&out, "64M"), 1, "{mode:?}");
        assert_eq!(
            sandboxed(
                mode,
                &[&ipc[..], &["-m", "64M"]].concat(),
                &["shm_create", &bytes(16 * MIB)]
            ),
            "ok",
            "{mode:?}"
        );
        // Control.
        assert_eq!(
            sandboxed(mode, &ipc, &["shm_create", &big]),
            "ok",
            "{mode:?}"
        );
    }
}

#[test]
fn python_memory_error_and_refusal_line() {
    let four_times = "bytearray(4*64*1024*1024)";
    for mode in Mode::ALL {
        let out = python(mode, &["-m", "64M"], four_times);
        assert_ne!(out.code(), 0, "{mode:?}: python succeeded under -m 64M");
        assert!(
            out.err().contains("MemoryError"),
            "{mode:?}: no MemoryError: {}",
            out.err()
        );
        refusal_count(&out, "64M");

        // Well under the limit (python itself needs about 10 MiB): no refusal.
        let out = python(mode, &["-m", "128M"], "bytearray(48*1024*1024)");
        out.expect_code(0);
        assert_eq!(out.err(), "", "{mode:?}");

        // Control: without a limit the big allocation works.
        let out = python(mode, &[], four_times);
        out.expect_code(0);
        no_refusal(&out);
    }
}

#[test]
fn memory_kill_kills_the_sandbox() {
    let four_times = "bytearray(4*64*1024*1024)";
    for mode in Mode::ALL {
        let out = python(mode, &["-m", "64M", "--memory-kill"], four_times);
        out.expect_code(137);
        let err = out.err();
        assert!(
            err.lines()
                .any(|l| l == "sandlet: memory limit of 64M exceeded, killed"),
            "{mode:?}: no kill line: {err:?}"
        );
        assert!(!err.contains("MemoryError"), "{mode:?}: {err:?}");
        assert!(refusal_lines(&err).is_empty(), "{mode:?}: {err:?}");

        // Control: under the limit --memory-kill does nothing.
        let out = python(
            mode,
            &["-m", "128M", "--memory-kill"],
            "bytearray(48*1024*1024)",
        );
        out.expect_code(0);
        assert_eq!(out.err(), "", "{mode:?}");
    }
}

#[test]
fn memory_limit_is_the_sum_over_processes() {
    for mode in Mode::ALL {
        // Four children, one after the other, each holding 30 MiB: at most two fit in
        // 64M (the probe itself and the children's other memory count too).
        let line = sandboxed(mode, &["-m", "64M"], &["fork_alloc", "4", "30"]);
        let ok: u32 = line
            .strip_prefix("ok ")
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("{mode:?}: unexpected line {line:?}"));
        assert!(
            (1..=2).contains(&ok),
            "{mode:?}: {ok} of 4 children got 30 MiB each under -m 64M"
        );
        // Control.
        assert_eq!(
            sandboxed(mode, &["-m", "512M"], &["fork_alloc", "4", "30"]),
            "ok 4",
            "{mode:?}"
        );
    }
}

#[test]
fn no_drift_after_many_map_unmap_pairs() {
    let (n, one) = ("100000", bytes(MIB));
    for mode in Mode::ALL {
        // Unmapped memory is given back: 40 MiB still fit afterwards ...
        assert_eq!(
            sandboxed(
                mode,
                &["-m", "64M"],
                &["mmap_loop", n, &one, &bytes(40 * MIB)]
            ),
            "ok looped=100000 final=ok",
            "{mode:?}"
        );
        // ... and nothing leaks downward: 100 MiB still do not.
        let out = sandboxed_output(
            mode,
            &["-m", "64M"],
            &["mmap_loop", n, &one, &bytes(100 * MIB)],
        );
        assert_eq!(
            out.probe_line(),
            "ok looped=100000 final=ENOMEM",
            "{mode:?}"
        );
        assert_eq!(refusal_count(&out, "64M"), 1, "{mode:?}");
    }
}

#[test]
fn stress_many_threads_mapping_pages() {
    for mode in Mode::ALL {
        let out = sandboxed_output(mode, &["-m", "1G"], &["stress", "8", "10000"]);
        out.expect_code(0);
        let text = out.out();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2, "{mode:?}: {text:?}");
        ready_pid(lines[0]);
        assert_eq!(lines[1], "ok", "{mode:?}");
        no_refusal(&out);
    }
}

// ---------------------------------------------------------------------------------------
// failure modes

#[test]
fn command_killed_mid_notification() {
    for mode in Mode::ALL {
        for _ in 0..2 {
            let (run, guard) = endless_stress(mode, &["-m", "1G"]);
            // Control: the command is running.
            assert!(
                alive_with(guard.pid, "stress"),
                "{mode:?}: probe not running"
            );
            // SAFETY: kill has no memory-safety preconditions; the pid is the probe's
            // (checked just above, and only sandlet could reap it).
            let r = unsafe { libc::kill(guard.pid, libc::SIGKILL) };
            assert_eq!(r, 0, "{mode:?}: kill probe");
            let (status, stderr) = run.wait();
            assert_eq!(status.code(), Some(137), "{mode:?}: {status:?} {stderr}");
        }
    }
}

#[test]
fn command_dies_with_sandlet_mid_notification() {
    for mode in Mode::ALL {
        let (run, guard) = endless_stress(mode, &["-m", "1G"]);
        let pid = guard.pid;
        assert!(alive_with(pid, "stress"), "{mode:?}: probe not running");
        run.signal(libc::SIGKILL);
        let (status, _) = run.wait();
        assert_eq!(status.code(), None, "{mode:?}: sandlet was not killed");
        let gone = wait_gone(pid, Duration::from_secs(5)) && !alive_with(pid, "stress");
        kill_if_alive(pid, "stress");
        assert!(gone, "{mode:?}: the command survived a SIGKILLed sandlet");
    }
}

// ---------------------------------------------------------------------------------------
// input errors

#[test]
fn bad_limit_flags_exit_2_and_run_nothing() {
    let bad: &[&[&str]] = &[
        &["-m", "0"],
        &["-m", "1"],
        &["-m", "63K"],
        &["-m", "12Q"],
        &["-m", ""],
        &["--max-memory", "-5M"],
        &["-P", "0"],
        &["-P", "-1"],
        &["--workers", "0"],
        &["--memory-kill"],
        &["--no-supervisor", "-m", "1G"],
        &["--no-supervisor", "-P", "5"],
        &["--no-supervisor", "--workers", "2"],
    ];
    // Controls: the same command with valid limits runs.
    let good: &[&[&str]] = &[
        &[],
        &["-m", "1G"],
        &["-m", "1.5G"],
        &["-m", "512K"],
        &["-P", "5"],
        &["--workers", "1"],
        &["--workers", "8"],
        &["-m", "64M", "--memory-kill"],
        &["--no-supervisor"],
    ];
    for mode in Mode::ALL {
        let t = TempDir::new("badlimits");
        let file = t.join("ran");
        let start = |flags: &[&str]| {
            let mut argv = vec!["run"];
            argv.extend_from_slice(flags);
            argv.extend_from_slice(&["-r", probe_dir(), "-w", util::s(t.path()), "--"]);
            argv.extend_from_slice(&[probe(), "write", &file]);
            run(mode.sandlet(&argv))
        };
        for flags in bad {
            let out = start(flags);
            assert_one_error_line(&out, 2);
            assert_eq!(out.out(), "", "{mode:?} {flags:?}");
            assert!(
                !Path::new(&file).exists(),
                "{mode:?} {flags:?}: the command ran"
            );
        }
        for flags in good {
            let out = start(flags);
            assert_eq!(out.probe_line(), "ok", "{mode:?} {flags:?}");
            assert!(Path::new(&file).exists(), "{mode:?} {flags:?}: not written");
            fs::remove_file(&file).expect("remove marker file");
        }
    }
}
