//! Shared helpers of the black-box tests: the probe binary, temp dirs, running sandlet
//! (as root or as an unprivileged user) with a watchdog, and small assertions.
//!
//! Every test runs the real `sandlet` binary. The probe (`tests/probes/probe.c`) is
//! compiled once per test binary, statically, so `-r <probe dir>` is all a policy needs
//! to run it.

#![allow(dead_code)]

use std::ffi::OsStr;
use std::fs;
use std::io::{BufRead, BufReader, Read};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::OnceLock;
use std::thread;
use std::time::Duration;

/// The binary under test: the one cargo built, or `$SANDLET_TEST_BIN` when set (to run
/// the suite against another build, e.g. the static release binary).
///
/// The binary is copied into [`shared_dir`], because the checkout may sit under a
/// directory uid 65534 cannot traverse (a `mktemp -d` clone is 0700).
pub fn sandlet() -> &'static str {
    static BIN: OnceLock<String> = OnceLock::new();
    BIN.get_or_init(|| {
        let built = std::env::var("SANDLET_TEST_BIN")
            .unwrap_or_else(|_| env!("CARGO_BIN_EXE_sandlet").into());
        install(Path::new(&built), "sandlet")
    })
}

/// A root-owned, world-readable directory under the system temp dir, one per checkout,
/// holding the binaries every test user must be able to execute.
pub fn shared_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        env!("CARGO_MANIFEST_DIR").hash(&mut h);
        let dir = std::env::temp_dir().join(format!("sandlet-test-bin-{:016x}", h.finish()));
        fs::create_dir_all(&dir).expect("create shared test dir");
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).expect("chmod shared dir");
        dir
    })
}

/// Copies `src` to `shared_dir()/name` atomically (concurrent test binaries never see a
/// partial file); returns the new path.
fn install(src: &Path, name: &str) -> String {
    let tmp = shared_dir().join(format!("{name}.{}.tmp", std::process::id()));
    fs::copy(src, &tmp).unwrap_or_else(|e| panic!("copy {} for the tests: {e}", src.display()));
    fs::set_permissions(&tmp, fs::Permissions::from_mode(0o755)).expect("chmod binary");
    let path = shared_dir().join(name);
    fs::rename(&tmp, &path).expect("install test binary");
    path.to_str().expect("utf-8 path").to_owned()
}

/// How long any single command may take before the test fails (a hang is a failure).
pub const WATCHDOG: Duration = Duration::from_secs(30);

/// The unprivileged user and group.
pub const NOBODY: u32 = 65534;

/// Who runs the command: root, or uid/gid 65534 without groups or capabilities
/// (through `setpriv --reuid=65534 --regid=65534 --clear-groups`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Root,
    Nobody,
}

impl Mode {
    pub const ALL: [Mode; 2] = [Mode::Root, Mode::Nobody];

    /// A command running `argv` as this mode's user.
    pub fn command<S: AsRef<OsStr>>(self, argv: &[S]) -> Command {
        assert!(!argv.is_empty(), "empty argv");
        let mut cmd = match self {
            Mode::Root => Command::new(&argv[0]),
            Mode::Nobody => {
                let mut c = Command::new("setpriv");
                c.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"]);
                c.arg(&argv[0]);
                c
            }
        };
        cmd.args(&argv[1..]);
        cmd.stdin(Stdio::null());
        cmd
    }

    /// `sandlet ARGS...` as this mode's user.
    pub fn sandlet<S: AsRef<OsStr>>(self, args: &[S]) -> Command {
        let mut argv: Vec<&OsStr> = vec![OsStr::new(sandlet())];
        argv.extend(args.iter().map(AsRef::as_ref));
        self.command(&argv)
    }
}

/// Where [`skip`] records the checks that could not run here (`scripts/test.sh` prints
/// and counts them at the end).
pub const SKIP_LOG: &str = concat!(env!("CARGO_TARGET_TMPDIR"), "/skipped.log");

/// Records, visibly, that a check of the calling test cannot run on this machine:
/// `SKIP test_name: reason` on stderr and in [`SKIP_LOG`]. Never skip quietly.
pub fn skip(reason: &str) {
    use std::io::Write;
    let name = std::thread::current()
        .name()
        .unwrap_or("unnamed test")
        .to_owned();
    let line = format!("SKIP {name}: {reason}");
    eprintln!("{line}");
    if let Ok(mut f) = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(SKIP_LOG)
    {
        let _ = writeln!(f, "{line}");
    }
}

/// Asserts the test runs as root (the suite switches users itself).
pub fn require_root() {
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc::geteuid() };
    assert_eq!(
        euid, 0,
        "the sandlet integration tests must run as root (they test both root and uid 65534)"
    );
}

// ---------------------------------------------------------------------------------------
// the probe

/// Path of the static probe binary (compiled on first use in this test binary).
pub fn probe() -> &'static str {
    static PROBE: OnceLock<String> = OnceLock::new();
    PROBE.get_or_init(build_probe)
}

/// The directory holding only the probe: `-r probe_dir()` lets a sandbox run it.
pub fn probe_dir() -> &'static str {
    static DIR: OnceLock<String> = OnceLock::new();
    DIR.get_or_init(|| {
        Path::new(probe())
            .parent()
            .expect("probe has a parent dir")
            .to_str()
            .expect("utf-8 path")
            .to_owned()
    })
}

fn build_probe() -> String {
    require_root();
    let src = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/probes/probe.c");
    // Built in the target dir, then installed where everyone (uid 65534 included) can
    // reach and execute it; `-r probe_dir()` must grant exactly the probe.
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"));
    fs::create_dir_all(dir).expect("create target tmp dir");
    let tmp = dir.join(format!("probe.{}.tmp", std::process::id()));
    let out = match Command::new("gcc")
        .args(["-O1", "-static", "-Wall", "-Wextra", "-o"])
        .arg(&tmp)
        .arg(src)
        .output()
    {
        Ok(out) => out,
        Err(e) => panic!(
            "gcc is required to build {src} (a static C probe the tests run): cannot run gcc: {e}"
        ),
    };
    assert!(
        out.status.success(),
        "gcc -static failed to build {src} (is the static libc installed?):\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let probe_dir = shared_dir().join("probe");
    fs::create_dir_all(&probe_dir).expect("create probe dir");
    fs::set_permissions(&probe_dir, fs::Permissions::from_mode(0o755)).expect("chmod dir");
    let installed = install(&tmp, "probe/probe");
    let _ = fs::remove_file(&tmp);
    installed
}

// ---------------------------------------------------------------------------------------
// temp dirs

/// A directory under the system temp dir, usable by uid 65534 (mode 0777), removed on
/// drop.
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let path =
            std::env::temp_dir().join(format!("sandlet-test-{}-{n}-{tag}", std::process::id()));
        let _ = fs::remove_dir_all(&path);
        fs::create_dir(&path).expect("create temp dir");
        fs::set_permissions(&path, fs::Permissions::from_mode(0o777)).expect("chmod temp dir");
        TempDir { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `self/name` as a string.
    pub fn join(&self, name: &str) -> String {
        self.path
            .join(name)
            .to_str()
            .expect("utf-8 path")
            .to_owned()
    }

    /// Creates the subdirectory `name` with mode 0777.
    pub fn subdir(&self, name: &str) -> String {
        let p = self.path.join(name);
        fs::create_dir(&p).expect("create subdir");
        fs::set_permissions(&p, fs::Permissions::from_mode(0o777)).expect("chmod subdir");
        p.to_str().expect("utf-8 path").to_owned()
    }

    /// Creates the file `name` with `content` and mode 0666 (everyone may read, write
    /// and hard-link it, so only the sandbox can make an operation on it fail).
    pub fn file(&self, name: &str, content: &str) -> String {
        let p = self.path.join(name);
        fs::write(&p, content).expect("write file");
        fs::set_permissions(&p, fs::Permissions::from_mode(0o666)).expect("chmod file");
        p.to_str().expect("utf-8 path").to_owned()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.path);
    }
}

/// Path as &str.
pub fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

// ---------------------------------------------------------------------------------------
// running commands

/// How a command ended and what it printed.
#[derive(Debug)]
pub struct Output {
    pub what: String,
    pub status: ExitStatus,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

impl Output {
    /// The exit code; panics when the process was killed by a signal.
    pub fn code(&self) -> i32 {
        match self.status.code() {
            Some(c) => c,
            None => panic!("{}: killed by signal {:?}", self.what, self.status.signal()),
        }
    }

    /// stdout as text, trailing whitespace removed.
    pub fn out(&self) -> String {
        String::from_utf8_lossy(&self.stdout).trim_end().to_owned()
    }

    /// stderr as text, trailing whitespace removed.
    pub fn err(&self) -> String {
        String::from_utf8_lossy(&self.stderr).trim_end().to_owned()
    }

    /// Asserts the exit code, with the whole output in the message.
    pub fn expect_code(&self, code: i32) -> &Self {
        assert_eq!(
            self.status.code(),
            Some(code),
            "{}: expected exit code {code}, got {:?}\nstdout: {}\nstderr: {}",
            self.what,
            self.status,
            self.out(),
            self.err()
        );
        self
    }

    /// Asserts exit 0 and returns the probe's result line.
    pub fn probe_line(&self) -> String {
        self.expect_code(0);
        self.out()
    }
}

fn describe(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for a in cmd.get_args() {
        s.push(' ');
        s.push_str(&a.to_string_lossy());
    }
    s
}

/// Runs `cmd` to completion (stdout and stderr captured), failing the test after
/// [`WATCHDOG`].
pub fn run(mut cmd: Command) -> Output {
    let what = describe(&cmd);
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("{what}: cannot start: {e}"));
    let pid = child.id() as i32;
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(WATCHDOG) {
        Ok(Ok(out)) => Output {
            what,
            status: out.status,
            stdout: out.stdout,
            stderr: out.stderr,
        },
        Ok(Err(e)) => panic!("{what}: wait failed: {e}"),
        Err(_) => {
            // SAFETY: kill has no memory-safety preconditions; the child is not reaped
            // yet (the waiting thread still holds it), so the pid is still ours.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            panic!("{what}: still running (or its output still open) after {WATCHDOG:?}");
        }
    }
}

/// `probe ARGS...` run without sandlet as `mode`'s user; its result line.
pub fn bare(mode: Mode, args: &[&str]) -> String {
    let mut argv = vec![probe()];
    argv.extend_from_slice(args);
    run(mode.command(&argv)).probe_line()
}

/// `sandlet run FLAGS -r <probe dir> -- probe ARGS...` as `mode`'s user; the output.
pub fn sandboxed_output(mode: Mode, flags: &[&str], args: &[&str]) -> Output {
    let mut argv = vec!["run"];
    argv.extend_from_slice(flags);
    argv.extend_from_slice(&["-r", probe_dir(), "--", probe()]);
    argv.extend_from_slice(args);
    run(mode.sandlet(&argv))
}

/// Like [`sandboxed_output`], asserting exit 0; the probe's result line.
pub fn sandboxed(mode: Mode, flags: &[&str], args: &[&str]) -> String {
    sandboxed_output(mode, flags, args).probe_line()
}

/// Read-execute flags for the system dirs a shell or coreutils need, plus /dev/null
/// read-write (the built-in default minus /dev/zero, /dev/full, /dev/tty).
pub fn system_flags() -> Vec<String> {
    let mut v = Vec::new();
    for d in ["/usr", "/lib", "/lib64", "/bin", "/sbin", "/etc"] {
        if Path::new(d).exists() {
            v.push("-r".to_owned());
            v.push(d.to_owned());
        }
    }
    v.push("-w".to_owned());
    v.push("/dev/null".to_owned());
    v
}

/// A running process with its stdout delivered line by line.
pub struct Running {
    pub what: String,
    pub pid: i32,
    lines: mpsc::Receiver<String>,
    status: mpsc::Receiver<std::io::Result<ExitStatus>>,
    stderr: mpsc::Receiver<String>,
    reaped: std::cell::Cell<bool>,
}

impl Running {
    /// Starts `cmd` with stdout and stderr piped.
    pub fn start(mut cmd: Command) -> Running {
        let what = describe(&cmd);
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child: Child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("{what}: cannot start: {e}"));
        let pid = child.id() as i32;
        let stdout = child.stdout.take().expect("piped stdout");
        let mut stderr = child.stderr.take().expect("piped stderr");
        let (ltx, lines) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                match line {
                    Ok(l) => {
                        if ltx.send(l).is_err() {
                            break;
                        }
                    }
                    Err(_) => break,
                }
            }
        });
        let (etx, stderr_rx) = mpsc::channel();
        thread::spawn(move || {
            let mut s = String::new();
            let _ = stderr.read_to_string(&mut s);
            let _ = etx.send(s);
        });
        let (stx, status) = mpsc::channel();
        thread::spawn(move || {
            let _ = stx.send(child.wait());
        });
        Running {
            what,
            pid,
            lines,
            status,
            stderr: stderr_rx,
            reaped: std::cell::Cell::new(false),
        }
    }

    /// The next stdout line (fails the test after [`WATCHDOG`] or at EOF).
    pub fn line(&self) -> String {
        match self.lines.recv_timeout(WATCHDOG) {
            Ok(l) => l,
            Err(e) => {
                self.kill();
                panic!("{}: no stdout line ({e:?})", self.what)
            }
        }
    }

    /// Sends `sig` to the process itself.
    pub fn signal(&self, sig: i32) {
        // SAFETY: kill has no memory-safety preconditions; the process is not reaped
        // until `wait` returns, so the pid still names it.
        let r = unsafe { libc::kill(self.pid, sig) };
        assert_eq!(r, 0, "{}: kill({}, {sig}) failed", self.what, self.pid);
    }

    fn kill(&self) {
        if !self.reaped.get() {
            // SAFETY: as in `signal`.
            unsafe { libc::kill(self.pid, libc::SIGKILL) };
        }
    }

    /// Waits for the exit (fails the test after `limit`); returns the status and stderr.
    pub fn wait_for(&self, limit: Duration) -> (ExitStatus, String) {
        match self.status.recv_timeout(limit) {
            Ok(Ok(st)) => {
                self.reaped.set(true);
                let err = self
                    .stderr
                    .recv_timeout(Duration::from_secs(5))
                    .unwrap_or_default();
                (st, err)
            }
            Ok(Err(e)) => panic!("{}: wait failed: {e}", self.what),
            Err(_) => {
                self.kill();
                panic!("{}: still running after {limit:?}", self.what)
            }
        }
    }

    /// Waits for the exit (fails the test after [`WATCHDOG`]).
    pub fn wait(&self) -> (ExitStatus, String) {
        self.wait_for(WATCHDOG)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A long-running process outside any sandbox (`sleep 1000` as `mode`'s user), a target
/// for signals; killed and reaped on drop.
pub struct Target {
    child: Child,
}

impl Target {
    pub fn start(mode: Mode) -> Target {
        let mut cmd = Command::new("sleep");
        cmd.arg("1000");
        if mode == Mode::Nobody {
            // Set before exec (spawn returns once exec succeeded), so the pid is a
            // process of uid 65534 from the start; std also clears the groups.
            cmd.uid(NOBODY).gid(NOBODY);
        }
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let child = cmd.spawn().expect("start target process");
        Target { child }
    }

    /// Its pid.
    pub fn pid(&self) -> String {
        self.child.id().to_string()
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------------------------------
// processes

/// Whether `pid` is a live (not zombie) process whose command line contains `marker`.
pub fn alive_with(pid: i32, marker: &str) -> bool {
    let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    // The state follows the last ')' (the command name may contain one).
    let state = stat
        .rsplit_once(')')
        .and_then(|(_, rest)| rest.split_whitespace().next())
        .unwrap_or("?");
    if state == "Z" || state == "X" {
        return false;
    }
    let cmdline = fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
    cmdline.contains(marker)
}

/// Kills `pid` if it is still the process described by `marker` (test clean-up).
pub fn kill_if_alive(pid: i32, marker: &str) {
    if alive_with(pid, marker) {
        // SAFETY: kill has no memory-safety preconditions.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
}

/// Kills `pid` on drop if it is still the process described by `marker`, so a failing
/// test leaves nothing behind.
pub struct PidGuard {
    pub pid: i32,
    pub marker: &'static str,
}

impl Drop for PidGuard {
    fn drop(&mut self) {
        kill_if_alive(self.pid, self.marker);
    }
}

/// Reads a pid written by `probe pidfile`.
pub fn read_pid(path: &str) -> i32 {
    let text =
        fs::read_to_string(path).unwrap_or_else(|e| panic!("pid file {path} was not written: {e}"));
    text.trim()
        .parse()
        .unwrap_or_else(|e| panic!("pid file {path}: {text:?}: {e}"))
}

/// Sets up `cmd` to start with the `ignored` signals ignored and the `blocked` ones
/// blocked (both survive execve). Raw syscalls, so the signals glibc reserves for itself
/// (32 and 33), which `signal()` and `sigprocmask()` refuse or filter, work too.
pub fn with_signals_ignored_and_blocked(cmd: &mut Command, ignored: &[i32], blocked: &[i32]) {
    /// The kernel's `struct sigaction` on x86_64.
    #[repr(C)]
    struct KernelSigaction {
        handler: usize,
        flags: u64,
        restorer: usize,
        mask: u64,
    }
    let ignored = ignored.to_vec();
    let mask = blocked.iter().fold(0u64, |m, &s| m | 1 << (s - 1));
    // SAFETY: the closure runs between fork and exec and only makes raw syscalls on
    // stack memory (async-signal-safe).
    unsafe {
        cmd.pre_exec(move || {
            for &sig in &ignored {
                let act = KernelSigaction {
                    handler: libc::SIG_IGN,
                    flags: 0,
                    restorer: 0,
                    mask: 0,
                };
                let r = libc::syscall(
                    libc::SYS_rt_sigaction,
                    sig,
                    &act as *const KernelSigaction,
                    std::ptr::null_mut::<KernelSigaction>(),
                    8usize,
                );
                if r != 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            let r = libc::syscall(
                libc::SYS_rt_sigprocmask,
                libc::SIG_BLOCK,
                &mask as *const u64,
                std::ptr::null_mut::<u64>(),
                8usize,
            );
            if r != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// Sets RLIMIT_CORE of `cmd` to `n` soft and hard before it starts.
pub fn with_core_limit(cmd: &mut Command, n: u64) {
    // SAFETY: the closure runs between fork and exec and only calls setrlimit, which is
    // async-signal-safe, on stack memory.
    unsafe {
        cmd.pre_exec(move || {
            let rl = libc::rlimit {
                rlim_cur: n,
                rlim_max: n,
            };
            if libc::setrlimit(libc::RLIMIT_CORE, &rl) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// Asserts sandlet refused to start: exit `code` and exactly one stderr line starting
/// with `sandlet: error:`. Returns that line.
pub fn assert_one_error_line(out: &Output, code: i32) -> String {
    out.expect_code(code);
    let err = out.err();
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(
        lines.len(),
        1,
        "{}: expected exactly one stderr line, got {lines:?}",
        out.what
    );
    assert!(
        lines[0].starts_with("sandlet: error: "),
        "{}: stderr line does not start with 'sandlet: error: ': {:?}",
        out.what,
        lines[0]
    );
    lines[0].to_owned()
}

/// Waits (on a pidfd, no polling) until `pid` has exited; false if still running after
/// `limit`. A pid that no longer exists counts as exited.
pub fn wait_gone(pid: i32, limit: Duration) -> bool {
    // SAFETY: pidfd_open takes two integers and returns a new fd or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH);
    }
    let fd = fd as i32;
    let mut pfd = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    let ms = limit.as_millis().min(i32::MAX as u128) as i32;
    // SAFETY: pfd is a valid pollfd for the duration of the call.
    let r = unsafe { libc::poll(&mut pfd, 1, ms) };
    // SAFETY: fd was returned by pidfd_open above and is closed once.
    unsafe { libc::close(fd) };
    r == 1
}

/// A loopback listener drained by a thread that counts the connections it accepts.
pub struct Counted {
    pub port: String,
    count: std::sync::Arc<AtomicUsize>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Counted {
    pub fn new() -> Counted {
        let l = std::net::TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, 0)).unwrap();
        l.set_nonblocking(true).unwrap();
        let port = l.local_addr().unwrap().port().to_string();
        let count = std::sync::Arc::new(AtomicUsize::new(0));
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (c, s) = (std::sync::Arc::clone(&count), std::sync::Arc::clone(&stop));
        let thread = std::thread::spawn(move || loop {
            match l.accept() {
                Ok(_) => {
                    c.fetch_add(1, Ordering::SeqCst);
                }
                Err(_) if s.load(Ordering::SeqCst) => break,
                Err(_) => std::thread::sleep(Duration::from_millis(1)),
            }
        });
        Counted {
            port,
            count,
            stop,
            thread: Some(thread),
        }
    }

    /// Connections accepted so far, after the backlog is drained.
    pub fn taken(&self) -> usize {
        std::thread::sleep(Duration::from_millis(50));
        self.count.swap(0, Ordering::SeqCst)
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
