//! Virtualization flags: `--random-seed`, `--num-cpus`, `--cpu-cores`, `-c`,
//! `--deterministic-dirs`. Each with a control showing the property is not there
//! without the flag.

mod util;

use std::time::Duration;

use util::{bare, run, sandboxed, Mode, Running, TempDir};

fn cpus_available() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

#[test]
fn a_seed_makes_randomness_reproducible() {
    for mode in Mode::ALL {
        for how in ["getrandom", "urandom"] {
            let seeded = |seed: &str, n: &str| sandboxed(mode, &["--random-seed", seed], &[how, n]);
            let a = seeded("42", "64");
            assert!(a.starts_with("ok "), "{mode:?} {how}: {a}");
            assert_eq!(
                a,
                seeded("42", "64"),
                "{mode:?} {how}: same seed, same bytes"
            );
            assert_ne!(a, seeded("43", "64"), "{mode:?} {how}: another seed");
            // 1 MiB in one go (the pipe or the syscall answers in pieces; the probe loops).
            let big = seeded("42", "1048576");
            assert_eq!(big, seeded("42", "1048576"), "{mode:?} {how}: 1 MiB");
            assert_eq!(
                big.split(' ').nth(1),
                a.split(' ').nth(1),
                "{mode:?} {how}: a prefix"
            );
            // Control: without a seed, two runs differ.
            let flags = ["-r", "/dev/urandom"];
            let plain = sandboxed(mode, &flags, &[how, "64"]);
            assert!(plain.starts_with("ok "), "{mode:?} {how}: {plain}");
            assert_ne!(
                plain,
                sandboxed(mode, &flags, &[how, "64"]),
                "{mode:?} {how}"
            );
        }
        // The file and the syscall are different streams of the seed.
        assert_ne!(
            sandboxed(mode, &["--random-seed", "42"], &["getrandom", "64"]),
            sandboxed(mode, &["--random-seed", "42"], &["urandom", "64"])
        );
    }
}

#[test]
fn num_cpus_shows_n_cpus() {
    let real = cpus_available();
    for mode in Mode::ALL {
        assert_eq!(
            sandboxed(mode, &["--num-cpus", "1"], &["cpus"]),
            "ok 1 1",
            "{mode:?}: affinity and sysconf(_SC_NPROCESSORS_ONLN)"
        );
        assert_eq!(
            bare(mode, &["cpus"]),
            format!("ok {real} {real}"),
            "control"
        );
        let nproc = run(mode.sandlet(&["run", "--num-cpus", "1", "--", "/usr/bin/nproc"]));
        assert_eq!(nproc.expect_code(0).out(), "1", "{mode:?}");
        // /proc/cpuinfo, when the policy lets the command read /proc.
        let mut args = vec!["run", "--num-cpus", "1", "-r", "/proc"];
        let system = util::system_flags();
        args.extend(system.iter().map(String::as_str));
        args.extend_from_slice(&["--", "/bin/grep", "-c", "^processor", "/proc/cpuinfo"]);
        assert_eq!(
            run(mode.sandlet(&args)).expect_code(0).out(),
            "1",
            "{mode:?}"
        );
    }
    for bad in ["0", "x", "1025", "-1"] {
        let out = run(Mode::Root.sandlet(&["run", "--num-cpus", bad, "--", "/bin/true"]));
        util::assert_one_error_line(&out, 2);
    }
    let too_many = (real + 1).to_string();
    let out = run(Mode::Root.sandlet(&["run", "--num-cpus", &too_many, "--", "/bin/true"]));
    util::assert_one_error_line(&out, 2);
}

#[test]
fn cpu_cores_pins_the_command() {
    let real = cpus_available();
    // The first number of the probe's line: CPUs in its affinity mask.
    let affinity = |line: String| line.split(' ').nth(1).map(str::to_owned);
    for mode in Mode::ALL {
        let last = (real - 1).to_string();
        let one = sandboxed(mode, &["--cpu-cores", &last], &["cpus"]);
        assert_eq!(affinity(one).as_deref(), Some("1"), "{mode:?}");
        if real > 1 {
            let two = sandboxed(mode, &["--cpu-cores", &format!("0,{last}")], &["cpus"]);
            assert_eq!(affinity(two).as_deref(), Some("2"), "{mode:?}");
            // Control: without the flag every CPU shows.
            let all = real.to_string();
            assert_eq!(
                affinity(bare(mode, &["cpus"])).as_deref(),
                Some(all.as_str())
            );
        }
    }
    for bad in ["", "1-0", "a", "1024", &real.to_string()] {
        let out = run(Mode::Root.sandlet(&["run", "--cpu-cores", bad, "--", "/bin/true"]));
        util::assert_one_error_line(&out, 2);
    }
}

/// CPU time (user + system, clock ticks) of `pid`.
fn cpu_ticks(pid: i32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = after.split(' ').collect();
    f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()
}

#[test]
fn cpu_percent_throttles_the_sandbox() {
    // Judged against an unthrottled spinner measured over the same seconds, so that
    // load elsewhere on the machine shifts both alike. A spinner that left the
    // sandbox's process group (setpgid into sandlet's group, setsid) is throttled too.
    for mode in Mode::ALL {
        let spin = |flags: &[&str], action: &[&str]| {
            let mut argv = vec!["run"];
            argv.extend_from_slice(flags);
            argv.extend_from_slice(&["-r", util::probe_dir(), "--", util::probe()]);
            argv.extend_from_slice(action);
            let spinner = Running::start(mode.sandlet(&argv));
            let line = spinner.line();
            let pid: i32 = line.rsplit(' ').next().unwrap().parse().unwrap();
            (spinner, pid)
        };
        for action in [
            &["spin_ready"][..],
            &["spin_escape", "setpgid"],
            &["spin_escape", "setsid"],
        ] {
            let (throttled, tp) = spin(&["-c", "25"], action);
            let (free, fp) = spin(&[], &["spin_ready"]);
            let (t0, f0) = (cpu_ticks(tp), cpu_ticks(fp));
            let began = std::time::Instant::now();
            std::thread::sleep(Duration::from_secs(2));
            let (t1, f1) = (cpu_ticks(tp), cpu_ticks(fp));
            // Clock ticks of one CPU over the same time (USER_HZ is 100).
            let wall = began.elapsed().as_secs_f64() * 100.0;
            for s in [&throttled, &free] {
                s.signal(libc::SIGTERM);
            }
            throttled.wait();
            free.wait();
            let (used, control) = ((t1 - t0) as f64, (f1 - f0) as f64);
            assert!(control > 0.0, "{mode:?}: the control spinner did not run");
            let ratio = used / control;
            // Throttled: at most 40% of the free spinner's time, or, when other tests
            // leave the free one little CPU, at most 40% of one CPU and still well
            // below the free one (a spinner that escaped the throttle gets about as
            // much as it: ratio near 1).
            let within = ratio <= 0.40 || (used / wall <= 0.40 && ratio <= 0.75);
            assert!(
                ratio >= 0.12 && within,
                "{mode:?} {action:?}: throttled/unthrottled CPU time {ratio:.2} \
                 ({used} / {control} ticks, {wall:.0} ticks of one CPU)"
            );
        }
    }
    for bad in ["0", "101", "x", "25%"] {
        let out = run(Mode::Root.sandlet(&["run", "-c", bad, "--", "/bin/true"]));
        util::assert_one_error_line(&out, 2);
    }
}

#[test]
fn deterministic_dirs_lists_in_name_order() {
    let dir = TempDir::new("dirs");
    let names: Vec<String> = (0..24)
        .rev()
        .map(|i| format!("f{:02}", (i * 7) % 24))
        .collect();
    for n in &names {
        dir.file(n, "");
    }
    let mut sorted = names.clone();
    sorted.sort();
    let want = format!("ok {}", sorted.join(" "));
    let path = util::s(dir.path());
    for mode in Mode::ALL {
        let flags = ["--deterministic-dirs", "-r", path];
        assert_eq!(sandboxed(mode, &flags, &["names", path]), want, "{mode:?}");
        // Control: the file system's own order is not the sorted one.
        assert_ne!(
            sandboxed(mode, &["-r", path], &["names", path]),
            want,
            "{mode:?}"
        );
    }
    let mut args = vec!["run", "--deterministic-dirs", "-r", path];
    let system = util::system_flags();
    args.extend(system.iter().map(String::as_str));
    args.extend_from_slice(&["--", "/bin/ls", "-f", path]);
    let ls = run(Mode::Root.sandlet(&args));
    let listed: Vec<String> = ls.expect_code(0).out().lines().map(str::to_owned).collect();
    let mut want_ls = vec![".".to_owned(), "..".to_owned()];
    want_ls.extend(sorted);
    assert_eq!(listed, want_ls);
}

#[test]
fn time_start_moves_the_wall_clock_everywhere() {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    for mode in Mode::ALL {
        let line = sandboxed(mode, &["--time-start", "2000-01-01T00:00:00Z"], &["clocks"]);
        let f: Vec<i64> = line
            .split(' ')
            .skip(1)
            .map(|v| v.parse().unwrap())
            .collect();
        // Raw syscall, libc (vDSO), time() and gettimeofday() all read 2000 (time() is
        // read after the two 1 s waits).
        for (what, secs) in ["raw", "vdso", "time", "gettimeofday"].iter().zip(&f[..4]) {
            assert!(
                (946_684_800..946_684_800 + 10).contains(secs),
                "{mode:?} {what}: {line}"
            );
        }
        // Absolute waits end on time (~1 s), not at once (their deadline is in 2000).
        for (what, ms) in ["clock_nanosleep", "timerfd"].iter().zip(&f[4..]) {
            assert!((800..3000).contains(ms), "{mode:?} {what}: {line}");
        }
        // An absolute wall-clock POSIX timer fires on time too (its deadline is moved
        // while the call runs, and the caller's struct is given its bytes back).
        let flags = ["--time-start", "2000-01-01T00:00:00Z"];
        for clock in ["realtime", "monotonic"] {
            let line = sandboxed(mode, &flags, &["posix_timer", clock]);
            let f: Vec<&str> = line.split(' ').collect();
            let ms: i64 = f[1].parse().unwrap();
            assert!((800..3000).contains(&ms), "{mode:?} {clock}: {line}");
            assert_eq!(f[2], "same", "{mode:?} {clock}: {line}");
        }
        // Control: without the flag the real time shows.
        let plain = sandboxed(mode, &[], &["clocks"]);
        let raw: i64 = plain.split(' ').nth(1).unwrap().parse().unwrap();
        assert!((now - 60..now + 600).contains(&raw), "{mode:?}: {plain}");
        // A dynamically linked program (vDSO found by ld.so), and `date`.
        let mut args = vec!["run", "--time-start", "946684800"];
        let system = util::system_flags();
        args.extend(system.iter().map(String::as_str));
        args.extend_from_slice(&["--", "/bin/date", "+%Y"]);
        assert_eq!(
            run(mode.sandlet(&args)).expect_code(0).out(),
            "2000",
            "{mode:?}"
        );
    }
    // A negative absolute deadline is invalid, as bare.
    for mode in Mode::ALL {
        let flags = ["--time-start", "2000-01-01T00:00:00Z"];
        assert_eq!(
            bare(mode, &["sleep_until_negative"]),
            "err EINVAL",
            "control"
        );
        assert_eq!(
            sandboxed(mode, &flags, &["sleep_until_negative"]),
            "err EINVAL",
            "{mode:?}"
        );
    }
    // Instants the clock could not run on from for a century (i64 ns end in 2262).
    for bad in [
        "",
        "2000-01-01",
        "yesterday",
        "-5",
        "2000-02-30T00:00:00Z",
        "9223372035",
        "2200-01-01T00:00:00Z",
    ] {
        let out = run(Mode::Root.sandlet(&["run", "--time-start", bad, "--", "/bin/true"]));
        util::assert_one_error_line(&out, 2);
    }
}

#[test]
fn time_start_holds_for_clock_ids_with_high_bits() {
    // The kernel reads a clock id as 32 bits: garbage above them names the same clock,
    // so it must read (and sleep on) the moved clock too.
    // (A coarse clock may read a tick before the start instant.)
    let y2000 = 946_684_800 - 5..946_684_800 + 60;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    for mode in Mode::ALL {
        let line = sandboxed(
            mode,
            &["--time-start", "2000-01-01T00:00:00Z"],
            &["clocks_hi"],
        );
        let f: Vec<i64> = line
            .split(' ')
            .skip(1)
            .map(|v| v.parse().unwrap())
            .collect();
        for (what, secs) in ["realtime", "coarse", "tai"].iter().zip(&f[..3]) {
            assert!(y2000.contains(secs), "{mode:?} {what}: {line}");
        }
        assert!((800..3000).contains(&f[3]), "{mode:?} sleep: {line}");
        // Control: the same probe without the flag reads today and sleeps 1 s.
        let plain = sandboxed(mode, &[], &["clocks_hi"]);
        let f: Vec<i64> = plain
            .split(' ')
            .skip(1)
            .map(|v| v.parse().unwrap())
            .collect();
        assert!((now - 60..now + 600).contains(&f[0]), "{mode:?}: {plain}");
        assert!((800..3000).contains(&f[3]), "{mode:?} sleep: {plain}");
    }
}

#[test]
fn time_start_reaches_python() {
    let python = "/usr/bin/python3";
    if !std::path::Path::new(python).exists() {
        util::skip(&format!("no {python}"));
        return;
    }
    let out = run(Mode::Root.sandlet(&[
        "run",
        "-r",
        "/",
        "--time-start",
        "2000-01-01T00:00:00Z",
        "--",
        python,
        "-c",
        "import time; print(time.gmtime(time.time()).tm_year)",
    ]));
    assert_eq!(out.expect_code(0).out(), "2000");
}

/// FNV-1a, as the probe's `read_at` prints it.
fn fnv(bytes: &[u8]) -> String {
    let mut h: u64 = 1469598103934665603;
    for &b in bytes {
        h = (h ^ u64::from(b)).wrapping_mul(1099511628211);
    }
    format!("{h:016x}")
}

#[test]
fn served_files_are_found_by_any_spelling() {
    // A served file is recognized by the file the caller's open would reach, not by
    // how the path is written (hazard 15).
    let real = cpus_available();
    for mode in Mode::ALL {
        let dir = TempDir::new("spelling");
        let link = dir.join("rnd");
        std::os::unix::fs::symlink("/dev/urandom", &link).unwrap();
        let seeded = |how: &str, path: &str| {
            sandboxed(mode, &["--random-seed", "7"], &["read_at", how, path, "64"])
        };
        let canonical = seeded("path", "/dev/urandom");
        assert!(canonical.ends_with(" 64"), "{mode:?}: {canonical}");
        for (how, path) in [
            ("path", "/dev/./urandom"),
            ("path", "/dev//urandom"),
            ("path", "/dev/../dev/urandom"),
            ("path", link.as_str()),
            ("path", "/dev//random"),
            ("chdir", "/dev/urandom"),
            ("dirfd", "/dev/urandom"),
            ("openat2", "/dev/urandom"),
            ("openat2", "/dev/./random"),
        ] {
            assert_eq!(seeded(how, path), canonical, "{mode:?} {how} {path}");
            // Control: bare, the same spelling reads the real device.
            let a = bare(mode, &["read_at", how, path, "64"]);
            assert!(a.ends_with(" 64"), "{mode:?} control {how} {path}: {a}");
            assert_ne!(a, bare(mode, &["read_at", how, path, "64"]), "control");
        }
        // --num-cpus: the CPU files by other spellings, and sysconf's configured count.
        let one = |how: &str, path: &str| {
            sandboxed(mode, &["--num-cpus", "1"], &["read_at", how, path, "100"])
        };
        let want = format!("ok {} 2", fnv(b"0\n"));
        let online = "/sys/devices/system/cpu/online";
        for (how, path) in [
            ("path", online),
            ("path", "/sys/devices/system/cpu//online"),
            ("path", "/sys/devices/system/./cpu/online"),
            ("chdir", online),
            ("dirfd", online),
            ("openat2", online),
            ("path", "/sys/devices/system/cpu/possible"),
            ("path", "/sys/devices/system/cpu/present"),
        ] {
            assert_eq!(one(how, path), want, "{mode:?} {how} {path}");
        }
        assert_eq!(
            sandboxed(mode, &["--num-cpus", "1"], &["cpus_conf"]),
            "ok 1"
        );
        if real > 1 {
            let host = bare(
                mode,
                &["read_at", "path", "/sys/devices/system/cpu//online", "100"],
            );
            assert_ne!(host, want, "control");
            assert_eq!(bare(mode, &["cpus_conf"]), format!("ok {real}"), "control");
        }
    }
}

#[test]
fn random_streams_are_bounded() {
    // Each open /dev/urandom under --random-seed is a pipe of sandlet's, fed by one
    // thread for all of them: past 32 at once an open fails with EMFILE, as past a
    // descriptor limit, and sandlet's threads and descriptors stay few while they are
    // held.
    for mode in Mode::ALL {
        let hold = ["hold_opens", "/dev/urandom", "200"];
        let control = sandboxed(mode, &["-r", "/dev/urandom"], &hold);
        assert_eq!(control, "ok 200 none", "{mode:?} control: the real device");
        let seeded = sandboxed(mode, &["--random-seed", "1"], &hold);
        assert_eq!(seeded, "ok 32 EMFILE", "{mode:?}");
        // Closed streams do not count: opening and closing many in a row never fails.
        let churn = ["open_loop", "/dev/urandom", "500"];
        assert_eq!(
            sandboxed(mode, &["--random-seed", "1"], &churn),
            "ok",
            "{mode:?}"
        );
        let argv = [
            "run",
            "--random-seed",
            "1",
            "-r",
            util::probe_dir(),
            "--",
            util::probe(),
            "hold_opens",
            "/dev/urandom",
            "200",
            "wait",
        ];
        let r = Running::start(mode.sandlet(&argv));
        let line = r.line();
        let threads = count_threads(r.pid);
        let fds = std::fs::read_dir(format!("/proc/{}/fd", r.pid))
            .unwrap()
            .count();
        r.signal(libc::SIGTERM);
        r.wait();
        assert_eq!(line, "ok ready 32 EMFILE", "{mode:?}");
        // The poll thread, two workers, the feeder.
        assert!(threads <= 4, "{mode:?}: sandlet has {threads} threads");
        // Issue 19's bound: 64 plus the sandbox's live processes (one here).
        assert!(fds <= 64 + 1, "{mode:?}: sandlet has {fds} descriptors");
    }
}

/// Threads of process `pid`.
fn count_threads(pid: i32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .unwrap()
        .count()
}

/// Resident memory of process `pid`, in KiB.
fn rss_kib(pid: i32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok())
        .unwrap()
}

#[test]
fn abandoned_sorted_listings_are_not_kept() {
    // 200 descriptors of a 20,000-entry directory, each read for one batch and closed:
    // sandlet keeps a bounded number of listings, not one per abandoned descriptor.
    let dir = TempDir::new("many");
    for i in 0..20_000 {
        std::fs::File::create(dir.path().join(format!("entry-with-a-longish-name-{i:05}")))
            .unwrap();
    }
    let d = dir.path().to_str().unwrap().to_owned();
    for mode in Mode::ALL {
        let argv = [
            "run",
            "--deterministic-dirs",
            "-r",
            d.as_str(),
            "-r",
            util::probe_dir(),
            "--",
            util::probe(),
            "abandon_listings",
            d.as_str(),
            "200",
        ];
        let r = Running::start(mode.sandlet(&argv));
        let line = r.line();
        assert!(line.starts_with("ok ready"), "{mode:?}: {line}");
        let rss = rss_kib(r.pid);
        r.signal(libc::SIGTERM);
        r.wait();
        assert!(
            rss < 96 * 1024,
            "{mode:?}: sandlet holds {rss} KiB after the listings"
        );
    }
}
