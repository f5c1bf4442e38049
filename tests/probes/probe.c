/*
 * probe.c - single-operation test helper for the sandbox test-suite.
 *
 * Usage: probe ACTION [ARGS...]
 *
 * Performs exactly one operation and prints exactly one line on stdout:
 *   "ok[ EXTRA...]"  on success, or
 *   "err ENAME"      on failure (symbolic errno name, "E<n>" if unknown),
 * then exits 0.  Unknown action / wrong argument count: "usage" on stderr,
 * exit status 2.
 *
 * "i386" calls getpid through int $0x80 (x86_64 only; ENOSYS elsewhere).
 *
 * Exceptions: "exit N" and "raise SIG" end with that status; "emit BYTES"
 * writes BYTES bytes of a pattern (byte i is i % 251) and no line; "ready
 * SECS" and "pidfile PATH SECS" print their line first (flushed), then sleep
 * SECS and exit 0 without printing anything more:
 *   ready SECS          prints "ok ready PID"
 *   pidfile PATH SECS   writes "PID\n" to PATH (atomically, via PATH.tmp and
 *                       rename), then prints "ok PID PGID SID"
 * "stress T N" prints "ready PID" (flushed) once its threads are looping,
 * then its result line.
 *
 * The process and memory limit actions (fork_hold, fork_burst, threads,
 * zombie_loop, fork_wait_loop, mmap, mremap_grow, shm_create, malloc_touch,
 * brk_grow, fork_alloc, mmap_loop, stress) describe their result lines
 * where they are defined.
 *
 * The "sys NAME" actions call a syscall with deliberately poisoned arguments
 * (bad pointers, invalid flags, fd -1, nonexistent pids/paths/keys) so that,
 * when no seccomp filter interferes, the kernel rejects the call with an
 * errno other than EPERM and nothing on the system is changed.  A seccomp
 * filter that answers EPERM therefore shows up as "err EPERM".
 *
 * Build: gcc -O1 -Wall -Wextra -o probe probe.c   (optionally -static)
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/msg.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/timerfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <linux/filter.h>
#include <linux/openat2.h>
#include <linux/seccomp.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

/* ------------------------------------------------------------------ */
/* output                                                              */
/* ------------------------------------------------------------------ */

static char obuf[16384];
static size_t olen;

static void outf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void outf(const char *fmt, ...)
{
	va_list ap;
	int n;

	if (olen >= sizeof(obuf) - 1)
		return;
	va_start(ap, fmt);
	n = vsnprintf(obuf + olen, sizeof(obuf) - olen, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	olen += (size_t)n;
	if (olen > sizeof(obuf) - 1)
		olen = sizeof(obuf) - 1;
}

static void flush_out(void)
{
	size_t off = 0;

	while (off < olen) {
		ssize_t w = write(1, obuf + off, olen - off);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		off += (size_t)w;
	}
	olen = 0;
}

/* Terminate the line, write it out and exit 0. */
static void finish(void) __attribute__((noreturn));
static void finish(void)
{
	outf("\n");
	flush_out();
	_exit(0);
}

static void usage(void) __attribute__((noreturn));
static void usage(void)
{
	static const char msg[] = "usage\n";
	ssize_t r = write(2, msg, sizeof(msg) - 1);
	(void)r;
	_exit(2);
}

/* ------------------------------------------------------------------ */
/* errno names                                                         */
/* ------------------------------------------------------------------ */

struct errname {
	int num;
	const char *name;
};

#define EN(x) { x, #x }
static const struct errname errnames[] = {
	EN(EPERM), EN(ENOENT), EN(ESRCH), EN(EINTR), EN(EIO), EN(ENXIO),
	EN(E2BIG), EN(ENOEXEC), EN(EBADF), EN(ECHILD), EN(EAGAIN),
	EN(ENOMEM), EN(EACCES), EN(EFAULT), EN(ENOTBLK), EN(EBUSY),
	EN(EEXIST), EN(EXDEV), EN(ENODEV), EN(ENOTDIR), EN(EISDIR),
	EN(EINVAL), EN(ENFILE), EN(EMFILE), EN(ENOTTY), EN(ETXTBSY),
	EN(EFBIG), EN(ENOSPC), EN(ESPIPE), EN(EROFS), EN(EMLINK),
	EN(EPIPE), EN(EDOM), EN(ERANGE), EN(EDEADLK), EN(ENAMETOOLONG),
	EN(ENOLCK), EN(ENOSYS), EN(ENOTEMPTY), EN(ELOOP), EN(ENOMSG),
	EN(EIDRM), EN(ENOSTR), EN(ENODATA), EN(ETIME), EN(ENOSR),
	EN(EREMOTE), EN(ENOLINK), EN(EPROTO), EN(EMULTIHOP), EN(EBADMSG),
	EN(EOVERFLOW), EN(EBADFD), EN(EILSEQ), EN(ERESTART), EN(EUSERS),
	EN(ENOTSOCK), EN(EDESTADDRREQ), EN(EMSGSIZE), EN(EPROTOTYPE),
	EN(ENOPROTOOPT), EN(EPROTONOSUPPORT), EN(ESOCKTNOSUPPORT),
	EN(EOPNOTSUPP), EN(EPFNOSUPPORT), EN(EAFNOSUPPORT), EN(EADDRINUSE),
	EN(EADDRNOTAVAIL), EN(ENETDOWN), EN(ENETUNREACH), EN(ENETRESET),
	EN(ECONNABORTED), EN(ECONNRESET), EN(ENOBUFS), EN(EISCONN),
	EN(ENOTCONN), EN(ESHUTDOWN), EN(ETOOMANYREFS), EN(ETIMEDOUT),
	EN(ECONNREFUSED), EN(EHOSTDOWN), EN(EHOSTUNREACH), EN(EALREADY),
	EN(EINPROGRESS), EN(ESTALE), EN(EDQUOT), EN(ENOMEDIUM),
	EN(EMEDIUMTYPE), EN(ECANCELED), EN(ENOKEY), EN(EKEYEXPIRED),
	EN(EKEYREVOKED), EN(EKEYREJECTED), EN(EOWNERDEAD),
	EN(ENOTRECOVERABLE), EN(ERFKILL), EN(EHWPOISON),
};
#undef EN

static void out_err(int e)
{
	size_t i;

	for (i = 0; i < sizeof(errnames) / sizeof(errnames[0]); i++) {
		if (errnames[i].num == e) {
			outf("err %s", errnames[i].name);
			return;
		}
	}
	outf("err E%d", e);
}

/* Report the result of a libc/syscall style call (-1 + errno on error). */
static void report(long r) __attribute__((noreturn));
static void report(long r)
{
	if (r < 0)
		out_err(errno);
	else
		outf("ok");
	finish();
}

static void report_errno(int e) __attribute__((noreturn));
static void report_errno(int e)
{
	if (e)
		out_err(e);
	else
		outf("ok");
	finish();
}

/* ------------------------------------------------------------------ */
/* small parsing helpers                                               */
/* ------------------------------------------------------------------ */

static int parse_long(const char *s, long *v)
{
	char *end;

	if (!s || !*s)
		return -1;
	errno = 0;
	*v = strtol(s, &end, 0);
	if (errno || *end)
		return -1;
	return 0;
}

static long need_long(const char *s)
{
	long v;

	if (parse_long(s, &v) < 0)
		usage();
	return v;
}

/* ------------------------------------------------------------------ */
/* file-system actions                                                 */
/* ------------------------------------------------------------------ */

static void act_read(const char *path)
{
	char c;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		report(-1);
	if (read(fd, &c, 1) < 0)
		report(-1);
	report(0);
}

static void act_write(const char *path)
{
	static const char data[] = "probe\n";
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	if (fd < 0)
		report(-1);
	if (write(fd, data, sizeof(data) - 1) < 0)
		report(-1);
	if (close(fd) < 0)
		report(-1);
	report(0);
}

static void act_listdir(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *de;

	if (!d)
		report(-1);
	errno = 0;
	de = readdir(d);
	if (!de && errno)
		report(-1);
	report(0);
}

static void act_exec(const char *path)
{
	char *argv[2];

	argv[0] = (char *)path;
	argv[1] = NULL;
	execve(path, argv, environ);
	report(-1);
}

/* ------------------------------------------------------------------ */
/* "sys NAME" probes                                                   */
/* ------------------------------------------------------------------ */

#define BADPTR   ((void *)1)
/* Above PID_MAX_LIMIT (4M on 64-bit): no such process can ever exist. */
#define NOPID    0x3fffffffL
/* A System V IPC key that nothing uses. */
#define NOKEY    0x7e57b0beL
static const char NOPATH[] = "/nonexistent-probe-dir/nonexistent";

#ifndef SYS_clone3
#define SYS_clone3 435
#endif
#ifndef SYS_io_uring_setup
#define SYS_io_uring_setup 425
#endif
#ifndef SYS_io_uring_enter
#define SYS_io_uring_enter 426
#endif
#ifndef SYS_io_uring_register
#define SYS_io_uring_register 427
#endif
#ifndef SYS_kexec_file_load
#define SYS_kexec_file_load 320
#endif

/* The namespace clone flags (value fallbacks for old headers). */
#ifndef CLONE_NEWCGROUP
#define CLONE_NEWCGROUP 0x02000000
#endif
#define ALL_NS_FLAGS (CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | \
		      CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET | \
		      CLONE_NEWCGROUP)

/*
 * Each function returns the raw syscall() result (-1 + errno on failure).
 * The comments give the kernel check that rejects the call (and the errno
 * expected when unfiltered).
 */

/* fstype is copied from user memory before anything else: EFAULT.
 * (Even if it were not, the target does not exist: ENOENT.) */
static long s_mount(void)
{
	return syscall(SYS_mount, NOPATH, NOPATH, BADPTR, 0UL, NULL);
}

/* Unknown umount flags are rejected before lookup / permission: EINVAL. */
static long s_umount2(void)
{
	return syscall(SYS_umount2, NOPATH, 0x80000000L);
}

/* may_mount() comes first (EPERM unprivileged); root: EFAULT on the path. */
static long s_pivot_root(void)
{
	return syscall(SYS_pivot_root, BADPTR, BADPTR);
}

/* Path lookup happens before the capability check: ENOENT. */
static long s_chroot(void)
{
	return syscall(SYS_chroot, NOPATH);
}

/* Invalid swap flags are rejected before the capability check: EINVAL. */
static long s_swapon(void)
{
	return syscall(SYS_swapon, NOPATH, 0x80000000L);
}

/* CAP_SYS_ADMIN checked first (EPERM unprivileged); root: ENOENT. */
static long s_swapoff(void)
{
	return syscall(SYS_swapoff, NOPATH);
}

/* CAP_SYS_BOOT first (EPERM unprivileged); root: wrong magic -> EINVAL.
 * The command is not a valid LINUX_REBOOT_CMD_* either. */
static long s_reboot(void)
{
	return syscall(SYS_reboot, 0x0bad0badL, 0x0bad0badL, 0x00badbadL, NULL);
}

/* Capability first (EPERM unprivileged); root: len < 0 -> EINVAL. */
static long s_sethostname(void)
{
	return syscall(SYS_sethostname, BADPTR, -1L);
}

static long s_setdomainname(void)
{
	return syscall(SYS_setdomainname, BADPTR, -1L);
}

/* Capability first; root: undefined flag bits -> EINVAL.
 * (ENOSYS on kernels built without CONFIG_KEXEC.) */
static long s_kexec_load(void)
{
	return syscall(SYS_kexec_load, 0UL, 0UL, NULL, 0xff00UL);
}

/* Capability first; root: undefined flags (and no UNLOAD bit) -> EINVAL. */
static long s_kexec_file_load(void)
{
	return syscall(SYS_kexec_file_load, -1L, -1L, 0UL, NULL, 0xff00UL);
}

/* Capability first; root: image shorter than an ELF header -> ENOEXEC. */
static long s_init_module(void)
{
	return syscall(SYS_init_module, BADPTR, 0UL, BADPTR);
}

/* Capability first; root: unknown flags -> EINVAL. */
static long s_finit_module(void)
{
	return syscall(SYS_finit_module, -1L, BADPTR, 0x7fffff00L);
}

/* Capability first; root: name pointer faults -> EFAULT. */
static long s_delete_module(void)
{
	return syscall(SYS_delete_module, BADPTR, 0L);
}

/* All namespace flags plus bit 0 (a CSIGNAL bit, never valid for unshare):
 * check_unshare_flags() rejects it before anything else: EINVAL.  Passing
 * the namespace bits too means an argument-inspecting filter sees them. */
static long s_unshare(void)
{
	return syscall(SYS_unshare, (long)(ALL_NS_FLAGS | 0x1));
}

static long s_setns(void)
{
	return syscall(SYS_setns, -1L, 0L);
}

/* attr is read before any permission check: EFAULT. */
static long s_perf_event_open(void)
{
	return syscall(SYS_perf_event_open, NULL, 0L, -1L, -1L, 0UL);
}

/* Unknown command: EINVAL. */
static long s_bpf(void)
{
	return syscall(SYS_bpf, -1L, NULL, 0UL);
}

/* UFFD_USER_MODE_ONLY is set (always permitted), other bits invalid: EINVAL */
static long s_userfaultfd(void)
{
	return syscall(SYS_userfaultfd, 0xffffffffL);
}

/* Unknown operation: EOPNOTSUPP. */
static long s_keyctl(void)
{
	return syscall(SYS_keyctl, -1L, 0L, 0L, 0L, 0L);
}

/* Key type string faults: EFAULT. */
static long s_add_key(void)
{
	return syscall(SYS_add_key, BADPTR, BADPTR, NULL, 0UL, 0L);
}

static long s_request_key(void)
{
	return syscall(SYS_request_key, BADPTR, BADPTR, NULL, 0L);
}

/* No such pid: ESRCH. */
static long s_ptrace(void)
{
	long data = 0;

	return syscall(SYS_ptrace, (long)PTRACE_PEEKDATA, NOPID, NULL, &data);
}

/* Non-empty remote iovec (an empty one short-circuits to success),
 * nonexistent pid: ESRCH. */
static long s_pvm(long nr)
{
	char buf[1] = { 0 };
	struct iovec liov = { buf, 1 };
	struct iovec riov = { (void *)0x10000, 1 };

	return syscall(nr, NOPID, &liov, 1UL, &riov, 1UL, 0UL);
}

static long s_process_vm_readv(void)
{
	return s_pvm(SYS_process_vm_readv);
}

static long s_process_vm_writev(void)
{
	return s_pvm(SYS_process_vm_writev);
}

/* Bad mount fd and unreadable handle.  Linux 6.18 answers EFAULT for root
 * and unprivileged alike (the handle is read before the permission check);
 * older kernels check CAP_DAC_READ_SEARCH first (EPERM unprivileged). */
static long s_open_by_handle_at(void)
{
	return syscall(SYS_open_by_handle_at, -1L, BADPTR, (long)O_RDONLY);
}

static long s_name_to_handle_at(void)
{
	return syscall(SYS_name_to_handle_at, (long)AT_FDCWD, NOPATH, BADPTR,
		       BADPTR, 0L);
}

/* Range beyond the 64K port space, checked before capability: EINVAL.
 * (ENOSYS on kernels without CONFIG_X86_IOPL_IOPERM.) */
static long s_ioperm(void)
{
	return syscall(SYS_ioperm, 0UL, 0x10001UL, 1L);
}

/* Level > 3 checked before capability: EINVAL (or ENOSYS, see above). */
static long s_iopl(void)
{
	return syscall(SYS_iopl, 4L);
}

/* Quota type 0xff >= MAXQUOTAS, checked first: EINVAL. */
static long s_quotactl(void)
{
	return syscall(SYS_quotactl, 0x00ffL, NOPATH, 0L, NULL);
}

/* Capability first (EPERM unprivileged); root: name faults -> EFAULT. */
static long s_acct(void)
{
	return syscall(SYS_acct, BADPTR);
}

/* params NULL: EFAULT (EPERM only if io_uring_disabled forbids us). */
static long s_io_uring_setup(void)
{
	return syscall(SYS_io_uring_setup, 0L, NULL);
}

static long s_io_uring_enter(void)
{
	return syscall(SYS_io_uring_enter, -1L, 0L, 0L, 0L, NULL, 0L);
}

/* fd -1 selects "blind" registration on recent kernels, where opcode 0 is
 * not supported (EINVAL); older kernels give EBADF. */
static long s_io_uring_register(void)
{
	return syscall(SYS_io_uring_register, -1L, 0L, NULL, 0L);
}

/* A SET that never fails when unfiltered ("ok"); restored immediately. */
static long s_personality(void)
{
	long old = syscall(SYS_personality, 0xffffffffL);
	long r;

	if (old < 0)
		return old;
	r = syscall(SYS_personality, 0xdeadbeefL);
	if (r >= 0) {
		int e = errno;
		syscall(SYS_personality, old);
		errno = e;
	}
	return r;
}

/* Key does not exist and no IPC_CREAT: ENOENT (nothing is created). */
static long s_shmget(void)
{
	return syscall(SYS_shmget, NOKEY, 0UL, 0L);
}

/* Negative id: EINVAL. */
static long s_shmat(void)
{
	return syscall(SYS_shmat, -1L, NULL, 0L);
}

/* Unaligned address: EINVAL. */
static long s_shmdt(void)
{
	return syscall(SYS_shmdt, BADPTR);
}

static long s_shmctl(void)
{
	struct shmid_ds ds;

	return syscall(SYS_shmctl, -1L, (long)IPC_STAT, &ds);
}

static long s_msgget(void)
{
	return syscall(SYS_msgget, NOKEY, 0L);
}

struct probe_msg {
	long mtype;
	char mtext[8];
};

static long s_msgsnd(void)
{
	struct probe_msg m = { 1, "x" };

	return syscall(SYS_msgsnd, -1L, &m, 1UL, (long)IPC_NOWAIT);
}

static long s_msgrcv(void)
{
	struct probe_msg m = { 0, "" };

	return syscall(SYS_msgrcv, -1L, &m, sizeof(m.mtext), 0L,
		       (long)IPC_NOWAIT);
}

static long s_msgctl(void)
{
	struct msqid_ds ds;

	return syscall(SYS_msgctl, -1L, (long)IPC_STAT, &ds);
}

static long s_semget(void)
{
	return syscall(SYS_semget, NOKEY, 0L, 0L);
}

static long s_semop(void)
{
	struct sembuf sb = { 0, 0, IPC_NOWAIT };

	return syscall(SYS_semop, -1L, &sb, 1UL);
}

static long s_semctl(void)
{
	struct semid_ds ds;

	return syscall(SYS_semctl, -1L, 0L, (long)IPC_STAT, &ds);
}

static long s_semtimedop(void)
{
	struct sembuf sb = { 0, 0, IPC_NOWAIT };

	return syscall(SYS_semtimedop, -1L, &sb, 1UL, NULL);
}

/* Size smaller than CLONE_ARGS_SIZE_VER0: EINVAL. */
static long s_clone3(void)
{
	return syscall(SYS_clone3, NULL, 0UL);
}

struct sysprobe {
	const char *name;
	long (*fn)(void);
};

#define SP(x) { #x, s_##x }
static const struct sysprobe sysprobes[] = {
	SP(mount), SP(umount2), SP(pivot_root), SP(chroot), SP(swapon),
	SP(swapoff), SP(reboot), SP(sethostname), SP(setdomainname),
	SP(kexec_load), SP(kexec_file_load), SP(init_module),
	SP(finit_module), SP(delete_module), SP(unshare), SP(setns),
	SP(perf_event_open), SP(bpf), SP(userfaultfd), SP(keyctl),
	SP(add_key), SP(request_key), SP(ptrace), SP(process_vm_readv),
	SP(process_vm_writev), SP(open_by_handle_at), SP(name_to_handle_at),
	SP(ioperm), SP(iopl), SP(quotactl), SP(acct), SP(io_uring_setup),
	SP(io_uring_enter), SP(io_uring_register), SP(personality),
	SP(shmget), SP(shmat), SP(shmdt), SP(shmctl), SP(msgget),
	SP(msgsnd), SP(msgrcv), SP(msgctl), SP(semget), SP(semop),
	SP(semctl), SP(semtimedop), SP(clone3),
};
#undef SP

static void act_sys(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(sysprobes) / sizeof(sysprobes[0]); i++) {
		if (strcmp(sysprobes[i].name, name) == 0) {
			long r;

			errno = 0;
			r = sysprobes[i].fn();
			report(r);
		}
	}
	usage();
}

/* ------------------------------------------------------------------ */
/* processes, threads, namespaces                                      */
/* ------------------------------------------------------------------ */

/* Raw clone(flags|SIGCHLD) without a new stack: behaves like fork. */
static void clone_and_wait(unsigned long flags)
{
	long pid;
	int st;

	pid = syscall(SYS_clone, flags | SIGCHLD, 0UL, NULL, NULL, 0UL);
	if (pid < 0)
		report(-1);
	if (pid == 0)
		syscall(SYS_exit_group, 0L);
	for (;;) {
		if (waitpid((pid_t)pid, &st, 0) >= 0)
			break;
		if (errno != EINTR)
			report(-1);
	}
	report(0);
}

static void act_clone_ns(const char *name)
{
	static const struct {
		const char *name;
		unsigned long flag;
	} nsflags[] = {
		{ "newuser", CLONE_NEWUSER },
		{ "newns", CLONE_NEWNS },
		{ "newpid", CLONE_NEWPID },
		{ "newnet", CLONE_NEWNET },
		{ "newuts", CLONE_NEWUTS },
		{ "newipc", CLONE_NEWIPC },
		{ "newcgroup", CLONE_NEWCGROUP },
	};
	size_t i;

	for (i = 0; i < sizeof(nsflags) / sizeof(nsflags[0]); i++)
		if (strcmp(nsflags[i].name, name) == 0)
			clone_and_wait(nsflags[i].flag);
	usage();
}

static void *thread_fn(void *arg)
{
	return arg;
}

static void act_thread(void)
{
	pthread_t t;
	int e = pthread_create(&t, NULL, thread_fn, NULL);

	if (e)
		report_errno(e);
	e = pthread_join(t, NULL);
	report_errno(e);
}

/* ioctl on a pipe, never on a terminal: ENOTTY when unfiltered. */
static void act_ioctl(unsigned long req)
{
	int p[2];
	char c = 'x';

	if (pipe2(p, O_CLOEXEC) < 0)
		report(-1);
	report(syscall(SYS_ioctl, (long)p[0], req, &c));
}

/* ------------------------------------------------------------------ */
/* sockets                                                             */
/* ------------------------------------------------------------------ */

struct sym {
	const char *name;
	long val;
};

static int lookup_sym(const struct sym *t, size_t n, const char *s, long *v)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (strcmp(t[i].name, s) == 0) {
			*v = t[i].val;
			return 0;
		}
	}
	return -1;
}

static void act_socket(const char *dom, const char *type, const char *proto)
{
	static const struct sym doms[] = {
		{ "unix", AF_UNIX }, { "inet", AF_INET }, { "inet6", AF_INET6 },
		{ "netlink", AF_NETLINK }, { "packet", AF_PACKET },
		{ "bluetooth", AF_BLUETOOTH }, { "alg", AF_ALG },
		{ "vsock", AF_VSOCK }, { "key", 15 /* AF_KEY */ }, { "xdp", 44 /* AF_XDP */ },
		{ "can", 29 /* AF_CAN */ },
	};
	static const struct sym types[] = {
		{ "stream", SOCK_STREAM }, { "dgram", SOCK_DGRAM },
		{ "raw", SOCK_RAW }, { "seqpacket", SOCK_SEQPACKET },
	};
	static const struct sym protos[] = {
		{ "tcp", IPPROTO_TCP }, { "udp", IPPROTO_UDP },
		{ "icmp", IPPROTO_ICMP }, { "icmpv6", IPPROTO_ICMPV6 },
		{ "sctp", 132 }, { "mptcp", 262 },
		{ "route", 0 },   /* NETLINK_ROUTE */
		{ "audit", 9 },   /* NETLINK_AUDIT */
		{ "generic", 16 }, /* NETLINK_GENERIC */
		{ "xfrm", 6 },    /* NETLINK_XFRM */
		{ "sock_diag", 4 }, /* NETLINK_SOCK_DIAG */
		{ "pfkey", 2 },   /* PF_KEY_V2 */
		{ "uevent", 15 }, /* NETLINK_KOBJECT_UEVENT */
	};
	char tbuf[64];
	char *tok, *save = NULL;
	long d, t, p, mod = 0;

	if (lookup_sym(doms, sizeof(doms) / sizeof(doms[0]), dom, &d) < 0)
		usage();
	if (strlen(type) >= sizeof(tbuf))
		usage();
	strcpy(tbuf, type);
	tok = strtok_r(tbuf, "+", &save);
	if (!tok || lookup_sym(types, sizeof(types) / sizeof(types[0]), tok,
			       &t) < 0)
		usage();
	while ((tok = strtok_r(NULL, "+", &save)) != NULL) {
		if (strcmp(tok, "nonblock") == 0)
			mod |= SOCK_NONBLOCK;
		else if (strcmp(tok, "cloexec") == 0)
			mod |= SOCK_CLOEXEC;
		else
			usage();
	}
	if (lookup_sym(protos, sizeof(protos) / sizeof(protos[0]), proto,
		       &p) < 0 && parse_long(proto, &p) < 0)
		usage();
	report(syscall(SYS_socket, d, t | mod, p));
}

union anyaddr {
	struct sockaddr sa;
	struct sockaddr_in in4;
	struct sockaddr_in6 in6;
};

static socklen_t parse_addr(const char *ip, const char *port,
			    union anyaddr *a)
{
	long pn = need_long(port);

	if (pn < 0 || pn > 65535)
		usage();
	memset(a, 0, sizeof(*a));
	if (inet_pton(AF_INET, ip, &a->in4.sin_addr) == 1) {
		a->in4.sin_family = AF_INET;
		a->in4.sin_port = htons((unsigned short)pn);
		return sizeof(a->in4);
	}
	if (inet_pton(AF_INET6, ip, &a->in6.sin6_addr) == 1) {
		a->in6.sin6_family = AF_INET6;
		a->in6.sin6_port = htons((unsigned short)pn);
		return sizeof(a->in6);
	}
	usage();
}

static void act_inet(const char *ip, const char *port, int type, int what)
{
	union anyaddr a;
	socklen_t len = parse_addr(ip, port, &a);
	int fd = socket(a.sa.sa_family, type | SOCK_CLOEXEC, 0);

	if (fd < 0)
		report(-1);
	switch (what) {
	case 0: /* connect */
		for (;;) {
			if (connect(fd, &a.sa, len) == 0)
				report(0);
			if (errno != EINTR)
				report(-1);
		}
	case 1: /* bind */
		report(bind(fd, &a.sa, len));
	default: /* send */
		report(sendto(fd, "probe\n", 6, 0, &a.sa, len));
	}
}

/*
 * tcp_twin IP PORT: what a program sees of its TCP sockets after connects: a blocking
 * connect (then: peer port, FD_CLOEXEC kept, a second connect EISCONN, a write), a
 * non-blocking one (O_NONBLOCK kept, ends with SO_ERROR 0), a plain socket without
 * FD_CLOEXEC (stays without), and a socket bound before its connect ("bound" and the
 * result). Prints "ok bound RESULT" or "fail STEP ERRNO".
 */
static const char *ename(int e);

static void twin_fail(const char *step)
{
	outf("fail %s %s", step, ename(errno));
	finish();
}

static void act_tcp_twin(const char *ip, const char *port)
{
	union anyaddr a, peer, any;
	socklen_t len = parse_addr(ip, port, &a), plen = sizeof(peer);
	int fd = socket(a.sa.sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int nb, plain, bound, err = 0;
	struct pollfd p;

	if (fd < 0 || connect(fd, &a.sa, len))
		twin_fail("connect");
	if (getpeername(fd, &peer.sa, &plen))
		twin_fail("getpeername");
	if ((peer.sa.sa_family == AF_INET ? peer.in4.sin_port : peer.in6.sin6_port) !=
	    htons(atoi(port)))
		twin_fail("peer");
	if (!(fcntl(fd, F_GETFD) & FD_CLOEXEC))
		twin_fail("cloexec");
	if (connect(fd, &a.sa, len) == 0 || errno != EISCONN)
		twin_fail("reconnect");
	if (write(fd, "x", 1) != 1)
		twin_fail("write");
	nb = socket(a.sa.sa_family, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (nb < 0 || (connect(nb, &a.sa, len) && errno != EINPROGRESS))
		twin_fail("nonblocking");
	p.fd = nb;
	p.events = POLLOUT;
	plen = sizeof(err);
	if (poll(&p, 1, 5000) != 1 || getsockopt(nb, SOL_SOCKET, SO_ERROR, &err, &plen) ||
	    err)
		twin_fail("connected");
	if (!(fcntl(nb, F_GETFL) & O_NONBLOCK) || (fcntl(nb, F_GETFD) & FD_CLOEXEC))
		twin_fail("flags");
	plain = socket(a.sa.sa_family, SOCK_STREAM, 0);
	if (plain < 0 || connect(plain, &a.sa, len))
		twin_fail("plain");
	if (fcntl(plain, F_GETFD) & FD_CLOEXEC)
		twin_fail("plain cloexec");
	memcpy(&any, &a, sizeof(any));
	if (any.sa.sa_family == AF_INET)
		any.in4.sin_port = 0;
	else
		any.in6.sin6_port = 0;
	bound = socket(a.sa.sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (bound < 0 || bind(bound, &any.sa, len))
		twin_fail("bind");
	if (connect(bound, &a.sa, len) == 0)
		outf("ok bound ok");
	else
		outf("ok bound %s", ename(errno));
	finish();
}

/*
 * fs_storm DIR: every kind of change to DIR, which must hold files "a" (regular) and
 * "b" (regular), and a directory "sub": creat, openat2 with O_CREAT, renameat2
 * NOREPLACE onto an existing name (must fail EEXIST), renameat2 EXCHANGE of a and b,
 * absolute and relative symlinks, fchmod/fchown/futimens through a read-only fd,
 * fchmodat2, setxattr, utimes, an O_TMPFILE linked in with linkat, mkfifo, mkdir of
 * the existing "sub" (must fail EEXIST), unlink, rename into "sub". Prints "ok" when
 * every call did what the kernel does on a plain directory, else "fail CALL ERRNO".
 */
static const char *ename(int e);

static void storm_fail(const char *call)
{
	outf("fail %s %s", call, ename(errno));
	finish();
}

static void act_fs_storm(const char *dir)
{
	struct open_how how = { .flags = O_CREAT | O_WRONLY | O_CLOEXEC, .mode = 0600 };
	struct timeval tv[2] = { { 1000000, 0 }, { 1000000, 0 } };
	struct timespec ts[2] = { { 2000000, 0 }, { 2000000, 0 } };
	char path[4096];
	int d, fd;

	d = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (d < 0)
		storm_fail("open-dir");
	fd = openat(d, "created", O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, "new\n", 4) != 4)
		storm_fail("creat");
	close(fd);
	fd = syscall(SYS_openat2, d, "by-openat2", &how, sizeof(how));
	if (fd < 0)
		storm_fail("openat2");
	close(fd);
	if (syscall(SYS_renameat2, d, "created", d, "a", 1 /* RENAME_NOREPLACE */) == 0 ||
	    errno != EEXIST)
		storm_fail("renameat2-noreplace");
	if (syscall(SYS_renameat2, d, "a", d, "b", 2 /* RENAME_EXCHANGE */))
		storm_fail("renameat2-exchange");
	snprintf(path, sizeof(path), "%s/b", dir);
	if (symlinkat(path, d, "abs-link") || symlinkat("b", d, "rel-link"))
		storm_fail("symlink");
	fd = openat(d, "a", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		storm_fail("open-ro");
	if (fchmod(fd, 0600))
		storm_fail("fchmod");
	if (fchown(fd, getuid(), getgid()))
		storm_fail("fchown");
	if (futimens(fd, ts))
		storm_fail("futimens");
	close(fd);
	if (syscall(452 /* fchmodat2 */, d, "b", 0640, 0) && errno != ENOSYS)
		storm_fail("fchmodat2");
	snprintf(path, sizeof(path), "%s/b", dir);
	if (setxattr(path, "user.storm", "1", 1, 0) && errno != ENOTSUP)
		storm_fail("setxattr");
	if (utimes(path, tv))
		storm_fail("utimes");
	fd = openat(d, ".", O_TMPFILE | O_WRONLY | O_CLOEXEC, 0644);
	if (fd >= 0) {
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		if (linkat(AT_FDCWD, path, d, "from-tmpfile", AT_SYMLINK_FOLLOW))
			storm_fail("linkat-tmpfile");
		close(fd);
	} else if (errno != EOPNOTSUPP && errno != EISDIR) {
		storm_fail("o_tmpfile");
	}
	if (mkfifoat(d, "fifo", 0644))
		storm_fail("mkfifo");
	if (mkdirat(d, "sub", 0755) == 0 || errno != EEXIST)
		storm_fail("mkdir-existing");
	if (unlinkat(d, "by-openat2", 0))
		storm_fail("unlink");
	if (renameat(d, "created", d, "sub/moved"))
		storm_fail("rename-into-sub");
	outf("ok");
	finish();
}

/*
 * deny_race PATH N: two threads each try N times to read, write, truncate, unlink,
 * rename, hard-link and exec PATH (exec in a forked child, one try in 100) and to list
 * it as a directory. Prints "ok REACHED": how many of those calls succeeded.
 */
static const char *race_target;
static long race_tries;

static void *deny_race_thread(void *arg)
{
	char buf[64], other[4200];
	long i, *reached = arg;
	int fd;

	snprintf(other, sizeof(other), "%s.moved", race_target);
	for (i = 0; i < race_tries; i++) {
		fd = open(race_target, O_RDONLY | O_CLOEXEC);
		if (fd >= 0) {
			if (read(fd, buf, sizeof(buf)) > 0)
				(*reached)++;
			close(fd);
		}
		fd = open(race_target, O_WRONLY | O_CLOEXEC);
		if (fd >= 0) {
			(*reached)++;
			close(fd);
		}
		if (truncate(race_target, 0) == 0)
			(*reached)++;
		if (unlink(race_target) == 0 || rmdir(race_target) == 0)
			(*reached)++;
		if (rename(race_target, other) == 0)
			(*reached)++;
		if (link(race_target, other) == 0)
			(*reached)++;
		if (opendir(race_target) != NULL)
			(*reached)++;
		if (i % 100 == 0) {
			pid_t pid = fork();

			if (pid == 0) {
				execl(race_target, race_target, (char *)NULL);
				_exit(errno == EACCES || errno == ENOENT || errno == ENOEXEC ? 0 : 1);
			}
			if (pid > 0) {
				int st;

				waitpid(pid, &st, 0);
				if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
					(*reached)++;
			}
		}
	}
	return NULL;
}

static void act_deny_race(const char *path, long n)
{
	pthread_t t;
	long a = 0, b = 0;

	race_target = path;
	race_tries = n;
	if (pthread_create(&t, NULL, deny_race_thread, &a))
		report_errno(EAGAIN);
	deny_race_thread(&b);
	pthread_join(t, NULL);
	outf("ok %ld", a + b);
	finish();
}

/*
 * docker_profile PROGRAM ARGS...: what Docker's default seccomp profile does to a
 * container without CAP_SYS_PTRACE, for the calls sandlet needs: pidfd_getfd,
 * process_vm_readv, process_vm_writev and kcmp fail with EPERM; then exec PROGRAM.
 */
static void act_docker_profile(char **argv)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_pidfd_getfd, 4, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_process_vm_readv, 3, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_process_vm_writev, 2, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_kcmp, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
	};
	struct sock_fprog prog = { sizeof(f) / sizeof(f[0]), f };

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog))
		report(-1);
	execv(argv[0], argv);
	report(-1);
}

/*
 * stuck_connects N IP PORT: N threads each make a blocking TCP connect to IP:PORT (a
 * listener that drops SYNs, so they never finish); after 300 ms the main thread
 * grows its heap by 1 MiB with brk and touches it, then prints "ok" and exits at once
 * (the connecting threads with it).
 */
static union anyaddr stuck_addr;
static socklen_t stuck_len;

static void *stuck_connect(void *arg)
{
	int fd = socket(stuck_addr.sa.sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);

	(void)arg;
	if (fd >= 0)
		connect(fd, &stuck_addr.sa, stuck_len);
	return NULL;
}

static void act_stuck_connects(long n, const char *ip, const char *port)
{
	pthread_t t;
	char *p;
	long i;

	stuck_len = parse_addr(ip, port, &stuck_addr);
	for (i = 0; i < n; i++)
		if (pthread_create(&t, NULL, stuck_connect, NULL))
			report_errno(EAGAIN);
	usleep(300 * 1000);
	p = sbrk(1 << 20);
	if (p == (void *)-1)
		report(-1);
	memset(p, 1, 1 << 20);
	outf("ok");
	finish();
}

/*
 * tcp_remap PORT TOKEN: bind 127.0.0.1:PORT and listen; print "bound" (flushed) and
 * wait for a byte on stdin (so a test can hold several binders at once); then connect
 * to 127.0.0.1:PORT, send TOKEN, accept (5 s at most) and read it back. Prints
 * "ok NAMEPORT PEERPORT GOT TCPLINES": getsockname's port of the listener,
 * getpeername's port of the client, the token received, and the number of socket
 * lines in /proc/net/tcp (-1 when unreadable).
 */
static void act_tcp_remap(const char *port, const char *token)
{
	union anyaddr a, name, peer;
	socklen_t len = parse_addr("127.0.0.1", port, &a), nl = sizeof(name), pl = sizeof(peer);
	int one = 1, lfd, cfd, afd, lines = -1;
	char got[64] = "", c, line[512];
	struct pollfd pfd;
	FILE *f;
	ssize_t n;

	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0 || setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(lfd, &a.sa, len) || listen(lfd, 4))
		report(-1);
	printf("bound\n");
	fflush(stdout);
	if (read(0, &c, 1) < 0)
		report(-1);
	cfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (cfd < 0 || connect(cfd, &a.sa, len) ||
	    write(cfd, token, strlen(token)) != (ssize_t)strlen(token))
		report(-1);
	pfd.fd = lfd;
	pfd.events = POLLIN;
	if (poll(&pfd, 1, 5000) != 1)
		report_errno(ETIMEDOUT);
	afd = accept(lfd, NULL, NULL);
	if (afd < 0)
		report(-1);
	n = read(afd, got, sizeof(got) - 1);
	if (n < 0)
		report(-1);
	got[n] = 0;
	if (getsockname(lfd, &name.sa, &nl) || getpeername(cfd, &peer.sa, &pl))
		report(-1);
	f = fopen("/proc/net/tcp", "r");
	if (f) {
		lines = 0;
		while (fgets(line, sizeof(line), f))
			lines++;
		lines--; /* the header */
		fclose(f);
	}
	outf("ok %d %d %s %d", ntohs(name.in4.sin_port), ntohs(peer.in4.sin_port),
	     got[0] ? got : "-", lines);
	finish();
}

/* A stream socket connected to the abstract socket NAME, or -1 (errno set). */
static int abstract_socket(const char *name)
{
	struct sockaddr_un sun;
	size_t n = strlen(name);
	int fd;

	if (n + 1 > sizeof(sun.sun_path))
		usage();
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path + 1, name, n);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sun,
			      (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n)))
		return -1;
	return fd;
}

static void act_abstract_connect(const char *name)
{
	report(abstract_socket(name) < 0 ? -1 : 0);
}

/*
 * abstract_ask NAME LINE: connect to the abstract socket NAME, send LINE and a newline,
 * print "ok" and the first line of the answer ("ok" alone when there is none).
 */
static void act_abstract_ask(const char *name, const char *line)
{
	char buf[256];
	ssize_t got;
	char *nl;
	int fd = abstract_socket(name);

	if (fd < 0)
		report(-1);
	snprintf(buf, sizeof(buf), "%s\n", line);
	/* A server that refuses closes at once: that is "no answer", not a failure. */
	if (send(fd, buf, strlen(buf), MSG_NOSIGNAL) < 0 &&
	    errno != EPIPE && errno != ECONNRESET)
		report(-1);
	shutdown(fd, SHUT_WR);
	got = read(fd, buf, sizeof(buf) - 1);
	if (got <= 0) {
		outf("ok");
		finish();
	}
	buf[got] = 0;
	nl = strchr(buf, '\n');
	if (nl)
		*nl = 0;
	outf("ok %s", buf);
	finish();
}

/* unix_connect PATH: connect an AF_UNIX stream socket to a pathname socket. */
static void act_unix_connect(const char *path)
{
	struct sockaddr_un sun;
	size_t n = strlen(path);
	int fd;

	if (n + 1 > sizeof(sun.sun_path))
		usage();
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, n);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		report(-1);
	report(connect(fd, (struct sockaddr *)&sun, (socklen_t)sizeof(sun)));
}

/*
 * udp_msg MODE IP PORT: one UDP datagram "probe\n" to IP:PORT, sent with MODE:
 * "sendmsg" (address in the msghdr), "sendmmsg" (one message; checks msg_len == 6),
 * or "connect" (connect, then send without an address).
 */
static void act_udp_msg(const char *mode, const char *ip, const char *port)
{
	union anyaddr a;
	socklen_t len = parse_addr(ip, port, &a);
	int fd = socket(a.sa.sa_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	char data[] = "probe\n";
	struct iovec iov = { data, 6 };
	struct msghdr msg;

	if (fd < 0)
		report(-1);
	memset(&msg, 0, sizeof(msg));
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	if (!strcmp(mode, "connect")) {
		if (connect(fd, &a.sa, len) < 0)
			report(-1);
		report(send(fd, data, 6, 0) == 6 ? 0 : -1);
	}
	msg.msg_name = &a;
	msg.msg_namelen = len;
	if (!strcmp(mode, "sendmsg"))
		report(sendmsg(fd, &msg, 0) == 6 ? 0 : -1);
	if (!strcmp(mode, "sendmmsg")) {
		struct mmsghdr mm;
		int n;

		memset(&mm, 0, sizeof(mm));
		mm.msg_hdr = msg;
		n = sendmmsg(fd, &mm, 1, 0);
		if (n < 0)
			report(-1);
		if (n != 1 || mm.msg_len != 6) {
			outf("err short %d %u", n, mm.msg_len);
			finish();
		}
		report(0);
	}
	usage();
}

/*
 * tcp_sendmsg IP PORT BYTES: connect, then send BYTES bytes of 'x' with sendmsg (two
 * iovecs per call, looping over short sends). "ok" once all are sent.
 */
static void act_tcp_sendmsg(const char *ip, const char *port, long bytes)
{
	static char buf[1 << 16];
	union anyaddr a;
	socklen_t len = parse_addr(ip, port, &a);
	int fd = socket(a.sa.sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	long left = bytes;

	if (fd < 0 || connect(fd, &a.sa, len) < 0)
		report(-1);
	memset(buf, 'x', sizeof(buf));
	while (left > 0) {
		size_t chunk = left < (long)sizeof(buf) ? (size_t)left : sizeof(buf);
		struct iovec iov[2] = { { buf, chunk / 2 }, { buf, chunk - chunk / 2 } };
		struct msghdr msg;
		ssize_t n;

		memset(&msg, 0, sizeof(msg));
		msg.msg_iov = iov;
		msg.msg_iovlen = 2;
		n = sendmsg(fd, &msg, 0);
		if (n <= 0)
			report(-1);
		left -= n;
	}
	report(0);
}

/*
 * ping IPV4: one ICMP echo through a kernel ping socket (SOCK_DGRAM, IPPROTO_ICMP) and
 * its reply (2 s timeout). "ok", or the errno of socket/sendto/recv.
 */
static void act_ping(const char *ip)
{
	struct sockaddr_in a;
	unsigned char pkt[16], reply[64];
	struct timeval tv = { 2, 0 };
	int fd;

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	if (inet_pton(AF_INET, ip, &a.sin_addr) != 1)
		usage();
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, IPPROTO_ICMP);
	if (fd < 0)
		report(-1);
	memset(pkt, 0, sizeof(pkt));
	pkt[0] = 8; /* echo request; the kernel sets the id and the checksum */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0)
		report(-1);
	if (sendto(fd, pkt, sizeof(pkt), 0, (struct sockaddr *)&a, sizeof(a)) < 0)
		report(-1);
	report(recv(fd, reply, sizeof(reply), 0) > 0 ? 0 : -1);
}

struct race {
	struct sockaddr_in *sa;
	unsigned short good, bad;
	volatile int stop;
};

static void *race_flipper(void *arg)
{
	struct race *r = arg;

	while (!r->stop) {
		((volatile struct sockaddr_in *)r->sa)->sin_port = r->bad;
		((volatile struct sockaddr_in *)r->sa)->sin_port = r->good;
	}
	return NULL;
}

/*
 * connect_race IPV4 GOOD BAD N: N times, connect a new TCP socket to IPV4:GOOD while
 * another thread keeps rewriting the port in the same sockaddr to BAD and back.
 * "ok CONNECTED" (how many connects succeeded, to whichever port).
 */
static void act_connect_race(const char *ip, const char *good, const char *bad,
			     long n)
{
	static struct sockaddr_in sa;
	struct race r;
	pthread_t t;
	long i, connected = 0;

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	if (inet_pton(AF_INET, ip, &sa.sin_addr) != 1)
		usage();
	r.sa = &sa;
	r.good = htons((unsigned short)need_long(good));
	r.bad = htons((unsigned short)need_long(bad));
	r.stop = 0;
	sa.sin_port = r.good;
	if (pthread_create(&t, NULL, race_flipper, &r))
		usage();
	for (i = 0; i < n; i++) {
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

		if (fd < 0)
			report(-1);
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
			connected++;
		close(fd);
	}
	r.stop = 1;
	pthread_join(t, NULL);
	outf("ok %ld", connected);
	finish();
}

struct swap {
	int fd, udp, unx;
	volatile int stop;
	volatile long *swaps; /* shared with a swapping process too */
};

/* A short busy wait, so each socket stays in place for a while (also when the
 * swapper is preempted). */
static void dwell(void)
{
	volatile int i;

	for (i = 0; i < 300; i++)
		;
}

/* One round: UDP in place, then the unix socket again (raw syscalls: also run in
 * a process made by the raw clone syscall). */
static void swap_once(struct swap *w)
{
	syscall(SYS_dup2, w->udp, w->fd);
	dwell();
	syscall(SYS_dup2, w->unx, w->fd);
	dwell();
	(*w->swaps)++;
}

static void *swapper(void *arg)
{
	struct swap *w = arg;

	while (!w->stop)
		swap_once(w);
	return NULL;
}

/* Waits (at most about a second) until the swapper has made a round since `seen`;
 * the new count. Keeps the two interleaved on a loaded machine. */
static long swapped_since(struct swap *w, long seen)
{
	int i;

	for (i = 0; i < 100000 && *w->swaps == seen; i++)
		if (i > 100)
			usleep(10);
	return *w->swaps;
}

/*
 * fd_swap_race thread|process IP PORT N: N times, sendto "probe\n" to IP:PORT on a
 * descriptor that another thread (or a process sharing the descriptor table:
 * clone(CLONE_FILES)) keeps switching (dup2) between a unix datagram socket and a
 * UDP socket; every 16 sends wait for the swapper to have made a round.  On the unix
 * socket the send fails (EINVAL: not a unix address).
 * "ok SENT REFUSED": how many sends succeeded and how many failed with EACCES.
 */
static void act_fd_swap_race(const char *how, const char *ip, const char *port,
			     long n)
{
	union anyaddr a;
	socklen_t len = parse_addr(ip, port, &a);
	int pair[2];
	struct swap w;
	pthread_t t;
	long i, sent = 0, refused = 0, child = 0, seen = 0;

	if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, pair))
		report(-1);
	w.udp = socket(a.sa.sa_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (w.udp < 0)
		report(-1);
	w.unx = pair[0];
	w.fd = dup(pair[0]);
	w.stop = 0;
	w.swaps = mmap(NULL, sizeof(long), PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (w.fd < 0 || w.swaps == MAP_FAILED)
		report(-1);
	*w.swaps = 0;
	if (!strcmp(how, "process")) {
		child = syscall(SYS_clone, (long)(CLONE_FILES | SIGCHLD), 0L, 0L, 0L, 0L);
		if (child < 0)
			report(-1);
		if (child == 0)
			for (;;)
				swap_once(&w);
	} else if (!strcmp(how, "thread")) {
		if (pthread_create(&t, NULL, swapper, &w))
			report(-1);
	} else {
		usage();
	}
	for (i = 0; i < n; i++) {
		if (i % 16 == 0)
			seen = swapped_since(&w, seen);
		if (sendto(w.fd, "probe\n", 6, 0, &a.sa, len) == 6)
			sent++;
		else if (errno == EACCES)
			refused++;
	}
	if (child > 0) {
		kill(child, SIGKILL);
		waitpid(child, NULL, 0);
	} else {
		w.stop = 1;
		pthread_join(t, NULL);
	}
	outf("ok %ld %ld", sent, refused);
	finish();
}

struct drain {
	int fd;
	long want, got;
};

static void *drainer(void *arg)
{
	struct drain *d = arg;
	char buf[65536];

	while (d->got < d->want) {
		ssize_t r = read(d->fd, buf, sizeof(buf));

		if (r <= 0)
			break;
		d->got += r;
	}
	return NULL;
}

/*
 * unix_threads BYTES: send BYTES bytes with sendmsg over a unix stream socketpair
 * whose other end a second thread of this process reads (so the sender blocks on a
 * full buffer until its sibling drains it).  "ok GOT" once the reader has them all.
 */
static void act_unix_threads(long bytes)
{
	char chunk[16384];
	int pair[2];
	struct drain d;
	pthread_t t;
	long left = bytes;

	memset(chunk, 'x', sizeof(chunk));
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair))
		report(-1);
	d.fd = pair[1];
	d.want = bytes;
	d.got = 0;
	if (pthread_create(&t, NULL, drainer, &d))
		report(-1);
	while (left > 0) {
		struct iovec iov = { chunk, left < (long)sizeof(chunk) ?
					    (size_t)left : sizeof(chunk) };
		struct msghdr m = { 0 };
		ssize_t r;

		m.msg_iov = &iov;
		m.msg_iovlen = 1;
		r = sendmsg(pair[0], &m, 0);
		if (r < 0 && errno != EINTR)
			report(-1);
		if (r > 0)
			left -= r;
	}
	pthread_join(t, NULL);
	outf("ok %ld", d.got);
	finish();
}

/* ------------------------------------------------------------------ */
/* introspection                                                       */
/* ------------------------------------------------------------------ */

/* Copy the value of "Key:" from /proc/self/status into val. */
static int status_field(const char *key, char *val, size_t vlen)
{
	static char buf[8192];
	static ssize_t blen = -1;
	size_t klen = strlen(key);
	char *p;

	if (blen < 0) {
		int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
		ssize_t r;

		if (fd < 0)
			return -1;
		blen = 0;
		while ((size_t)blen < sizeof(buf) - 1) {
			r = read(fd, buf + blen, sizeof(buf) - 1 - (size_t)blen);
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0)
				break;
			blen += r;
		}
		buf[blen] = 0;
		close(fd);
	}
	for (p = buf; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		if (strncmp(p, key, klen) == 0 && p[klen] == ':') {
			size_t i = 0;

			p += klen + 1;
			while (*p == ' ' || *p == '\t')
				p++;
			while (p[i] && p[i] != '\n' && i + 1 < vlen) {
				val[i] = p[i];
				i++;
			}
			val[i] = 0;
			return 0;
		}
	}
	errno = ENOENT;
	return -1;
}

static void act_status_fields(const char *const *keys, size_t n)
{
	char vals[8][64];
	size_t i;

	for (i = 0; i < n; i++)
		if (status_field(keys[i], vals[i], sizeof(vals[i])) < 0)
			report(-1);
	outf("ok");
	for (i = 0; i < n; i++)
		outf(" %s", vals[i]);
	finish();
}

static void act_rlimit(int res)
{
	struct rlimit rl;

	if (getrlimit(res, &rl) < 0)
		report(-1);
	outf("ok %llu %llu", (unsigned long long)rl.rlim_cur,
	     (unsigned long long)rl.rlim_max);
	finish();
}

static void act_prctl_get(int opt)
{
	long r = syscall(SYS_prctl, (long)opt, 0L, 0L, 0L, 0L);

	if (r < 0)
		report(-1);
	outf("ok %ld", r);
	finish();
}

static void act_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	int self;

	if (!d)
		report(-1);
	self = dirfd(d);
	outf("ok");
	errno = 0;
	while ((de = readdir(d)) != NULL) {
		long fd;

		if (de->d_name[0] == '.')
			continue;
		if (parse_long(de->d_name, &fd) < 0 || fd == self)
			continue;
		outf(" %ld", fd);
	}
	finish();
}

static void act_sleep(const char *s)
{
	char *end;
	double secs;
	struct timespec ts;

	errno = 0;
	secs = strtod(s, &end);
	if (errno || *end || secs < 0)
		usage();
	ts.tv_sec = (time_t)secs;
	ts.tv_nsec = (long)((secs - (double)ts.tv_sec) * 1e9);
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
	report(0);
}

/* Sleep without printing anything (EINTR restarts the remaining time). */
static void sleep_secs(const char *s)
{
	char *end;
	double secs;
	struct timespec ts;

	errno = 0;
	secs = strtod(s, &end);
	if (errno || *end || secs < 0)
		usage();
	ts.tv_sec = (time_t)secs;
	ts.tv_nsec = (long)((secs - (double)ts.tv_sec) * 1e9);
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static void act_ready(const char *secs)
{
	outf("ok ready %ld\n", (long)getpid());
	flush_out();
	sleep_secs(secs);
	_exit(0);
}

static void act_pidfile(const char *path, const char *secs)
{
	char tmp[4096];
	char line[32];
	int fd, n;

	n = snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if (n < 0 || (size_t)n >= sizeof(tmp))
		usage();
	n = snprintf(line, sizeof(line), "%ld\n", (long)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		report(-1);
	if (write(fd, line, (size_t)n) != n)
		report(-1);
	if (close(fd) < 0 || rename(tmp, path) < 0)
		report(-1);
	outf("ok %ld %ld %ld\n", (long)getpid(), (long)getpgid(0),
	     (long)getsid(0));
	flush_out();
	sleep_secs(secs);
	_exit(0);
}

static void act_emit(long total)
{
	static unsigned char buf[251 * 64];
	long done = 0;
	size_t i;

	if (total < 0)
		usage();
	for (i = 0; i < sizeof(buf); i++)
		buf[i] = (unsigned char)(i % 251);
	/* buf[j] == j % 251, so starting at offset done % 251 continues the
	 * pattern after a short write. */
	while (done < total) {
		size_t off = (size_t)(done % 251);
		size_t want = sizeof(buf) - off;
		ssize_t w;

		if ((long)want > total - done)
			want = (size_t)(total - done);
		w = write(1, buf + off, want);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			_exit(1);
		}
		done += w;
	}
	_exit(0);
}

static void act_spin(void)
{
	volatile unsigned long n = 0;

	for (;;)
		n++;
}

/*
 * open_race A B N: one thread flips a path buffer between A and B (same length,
 * padded with '/' if needed) in a tight loop while the main thread opens the buffer
 * N times.  Prints "ok ESCAPED OPENED": opens that succeeded on something other than
 * A (by device and inode), and opens that succeeded at all.
 */
static char race_path[4096];
static const char *race_a, *race_b;
static volatile int race_stop;

static void *race_flip(void *arg)
{
	(void)arg;
	while (!race_stop) {
		memcpy(race_path, race_b, strlen(race_b) + 1);
		memcpy(race_path, race_a, strlen(race_a) + 1);
	}
	return NULL;
}

static void act_open_race(const char *a, const char *b, long n)
{
	struct stat sa, so;
	pthread_t t;
	long i, escaped = 0, opened = 0;

	if (strlen(a) >= sizeof(race_path) || strlen(b) >= sizeof(race_path))
		usage();
	if (stat(a, &sa))
		report(-1);
	race_a = a;
	race_b = b;
	memcpy(race_path, a, strlen(a) + 1);
	if (pthread_create(&t, NULL, race_flip, NULL))
		report_errno(EAGAIN);
	for (i = 0; i < n; i++) {
		int fd = open(race_path, O_RDONLY | O_CLOEXEC);

		if (fd < 0)
			continue;
		opened++;
		if (fstat(fd, &so) == 0 && (so.st_dev != sa.st_dev || so.st_ino != sa.st_ino))
			escaped++;
		close(fd);
	}
	race_stop = 1;
	pthread_join(t, NULL);
	outf("ok %ld %ld", escaped, opened);
	finish();
}

/*
 * clocks: "ok RAW LIBC TIME TOD SLEEP_MS TIMERFD_MS": wall-clock seconds from the raw
 * clock_gettime syscall, from libc's clock_gettime (the vDSO), time() and
 * gettimeofday(); then how long (monotonic ms) an absolute CLOCK_REALTIME sleep to
 * "now + 1 s" and an absolute CLOCK_REALTIME timerfd to "now + 1 s" took.
 */
static long ms_since(const struct timespec *a)
{
	struct timespec b;

	clock_gettime(CLOCK_MONOTONIC, &b);
	return (b.tv_sec - a->tv_sec) * 1000 + (b.tv_nsec - a->tv_nsec) / 1000000;
}

static void act_clocks(void)
{
	struct timespec raw, lib, m, until;
	struct timeval tv;
	struct itimerspec its;
	unsigned long long ticks;
	long slept, fired;
	int fd;

	if (syscall(SYS_clock_gettime, CLOCK_REALTIME, &raw) || clock_gettime(CLOCK_REALTIME, &lib) ||
	    gettimeofday(&tv, NULL))
		report(-1);
	until = lib;
	until.tv_sec += 1;
	clock_gettime(CLOCK_MONOTONIC, &m);
	while (clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME, &until, NULL) == EINTR)
		;
	slept = ms_since(&m);
	fd = timerfd_create(CLOCK_REALTIME, TFD_CLOEXEC);
	if (fd < 0)
		report(-1);
	memset(&its, 0, sizeof(its));
	clock_gettime(CLOCK_REALTIME, &its.it_value);
	its.it_value.tv_sec += 1;
	clock_gettime(CLOCK_MONOTONIC, &m);
	if (timerfd_settime(fd, TFD_TIMER_ABSTIME, &its, NULL) ||
	    read(fd, &ticks, sizeof(ticks)) != (ssize_t)sizeof(ticks))
		report(-1);
	fired = ms_since(&m);
	outf("ok %ld %ld %ld %ld %ld %ld", (long)raw.tv_sec, (long)lib.tv_sec, (long)time(NULL),
	     (long)tv.tv_sec, slept, fired);
	finish();
}

/*
 * clocks_hi: the wall clocks read with garbage in the high half of the clock id (the
 * kernel reads a clockid_t, 32 bits): REALTIME | 1<<32, REALTIME_COARSE | 0xdead<<32,
 * TAI | 0xffffffff<<32, and an absolute REALTIME | 1<<40 clock_nanosleep to now + 1 s.
 * Prints "ok S1 S2 S3 MS": the seconds each read and the milliseconds the sleep took.
 */
static void act_clocks_hi(void)
{
	struct timespec t[3], now, until, m;
	const long ids[3] = { (long)CLOCK_REALTIME | (1L << 32),
			      (long)CLOCK_REALTIME_COARSE | (0xdeadL << 32),
			      (long)CLOCK_TAI | (long)0xffffffff00000000UL };
	long r;
	int i;

	for (i = 0; i < 3; i++)
		if (syscall(SYS_clock_gettime, ids[i], &t[i]))
			report(-1);
	if (syscall(SYS_clock_gettime, ids[0], &now))
		report(-1);
	until = now;
	until.tv_sec += 1;
	clock_gettime(CLOCK_MONOTONIC, &m);
	do
		r = syscall(SYS_clock_nanosleep, (long)CLOCK_REALTIME | (1L << 40), TIMER_ABSTIME,
			    &until, NULL);
	while (r == -1 && errno == EINTR);
	if (r)
		report(-1);
	outf("ok %ld %ld %ld %ld", (long)t[0].tv_sec, (long)t[1].tv_sec, (long)t[2].tv_sec,
	     ms_since(&m));
	finish();
}

/*
 * posix_timer realtime|monotonic: arm a POSIX timer of that clock at "now + 1 s" with
 * TIMER_ABSTIME, signalling SIGALRM (blocked), and wait for it (5 s at most). Prints
 * "ok MS SAME": the monotonic milliseconds until it fired and whether the itimerspec
 * passed in still holds what the probe put there ("same" or "changed").
 */
static void act_posix_timer(const char *clock)
{
	clockid_t id = strcmp(clock, "realtime") == 0 ? CLOCK_REALTIME : CLOCK_MONOTONIC;
	struct sigevent ev;
	struct itimerspec its, copy;
	struct timespec m, limit = { 5, 0 };
	sigset_t set;
	timer_t t;

	sigemptyset(&set);
	sigaddset(&set, SIGALRM);
	sigprocmask(SIG_BLOCK, &set, NULL);
	memset(&ev, 0, sizeof(ev));
	memset(&its, 0, sizeof(its));
	ev.sigev_notify = SIGEV_SIGNAL;
	ev.sigev_signo = SIGALRM;
	if (timer_create(id, &ev, &t))
		report(-1);
	clock_gettime(id, &its.it_value);
	its.it_value.tv_sec += 1;
	copy = its;
	clock_gettime(CLOCK_MONOTONIC, &m);
	if (timer_settime(t, TIMER_ABSTIME, &its, NULL))
		report(-1);
	if (sigtimedwait(&set, NULL, &limit) != SIGALRM)
		report(-1);
	outf("ok %ld %s", ms_since(&m), memcmp(&its, &copy, sizeof(its)) ? "changed" : "same");
	finish();
}

/*
 * argv_race N: N times, fork a child in which one thread keeps rewriting argv[1] of an
 * execve("/bin/echo", ["echo", "safe"]) between "safe" and "evil" while the main
 * thread makes the call; the parent waits for each child.  The children's echo output
 * goes to stdout; the probe itself prints nothing more (its exit status is 0).
 */
static char race_arg[8] = "safe";
static volatile int race_go;

static void *race_argv(void *arg)
{
	volatile char *a = race_arg;

	(void)arg;
	race_go = 1;
	for (;;) {
		a[0] = 'e'; a[1] = 'v'; a[2] = 'i'; a[3] = 'l';
		a[0] = 's'; a[1] = 'a'; a[2] = 'f'; a[3] = 'e';
	}
	return NULL;
}

static void act_argv_race(long n)
{
	long i;

	fflush(stdout);
	for (i = 0; i < n; i++) {
		pid_t pid = fork();

		if (pid < 0)
			report(-1);
		if (pid == 0) {
			char *argv[] = { "echo", race_arg, NULL };
			pthread_t t;

			if (pthread_create(&t, NULL, race_argv, NULL))
				_exit(3);
			while (!race_go)
				;
			execve("/bin/echo", argv, environ);
			_exit(4);
		}
		waitpid(pid, NULL, 0);
	}
	exit(0);
}

/*
 * fork_marker PATH N: N times, remove PATH, then fork with the raw syscall; the child's
 * first act is to create PATH and PATH.PID (PID its own, left in place), then it exits 0.  Prints "ok EXITED KILLED": how many
 * children exited normally and how many were killed by a signal.
 */
static void act_fork_marker(const char *path, long n)
{
	long i, exited = 0, killed = 0;

	for (i = 0; i < n; i++) {
		int status;
		long pid;

		unlink(path);
#ifdef SYS_fork
		pid = syscall(SYS_fork);
#else
		pid = syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);
#endif
		if (pid < 0)
			report(-1);
		if (pid == 0) {
			char own[4096];
			int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);

			snprintf(own, sizeof(own), "%s.%d", path, (int)getpid());
			if (fd >= 0)
				fd = open(own, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
			_exit(fd < 0 ? 1 : 0);
		}
		if (waitpid((pid_t)pid, &status, 0) < 0)
			report(-1);
		if (WIFSIGNALED(status))
			killed++;
		else
			exited++;
	}
	outf("ok %ld %ld", exited, killed);
	finish();
}

/*
 * bomb_peak MS: a fork bomb that counts itself. Every member forks (raw syscall) in a
 * loop for MS milliseconds, reaping what exited, and waits for its children before it
 * leaves; members alive at once are counted in shared memory from their first act to
 * their last, the peak kept (at most 60 besides the first, to bound a bare run). Prints
 * "ok PEAK REFUSED": the most members alive at once and how many forks failed.
 */
struct bomb {
	long alive, peak, refused, slots;
};

static long now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static void bomb_member(struct bomb *b, long deadline, int root)
{
	long n = __atomic_add_fetch(&b->alive, 1, __ATOMIC_SEQ_CST);
	long peak = __atomic_load_n(&b->peak, __ATOMIC_SEQ_CST);

	while (n > peak &&
	       !__atomic_compare_exchange_n(&b->peak, &peak, n, 0, __ATOMIC_SEQ_CST,
					   __ATOMIC_SEQ_CST))
		;
	while (now_ms() < deadline) {
		long pid;

		while (waitpid(-1, NULL, WNOHANG) > 0)
			;
		/* A slot per member, taken before its fork: at most 60 exist. */
		if (__atomic_add_fetch(&b->slots, 1, __ATOMIC_SEQ_CST) > 60) {
			__atomic_sub_fetch(&b->slots, 1, __ATOMIC_SEQ_CST);
			usleep(1000);
			continue;
		}
#ifdef SYS_fork
		pid = syscall(SYS_fork);
#else
		pid = syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);
#endif
		if (pid == 0)
			bomb_member(b, deadline, 0);
		if (pid < 0) {
			__atomic_sub_fetch(&b->slots, 1, __ATOMIC_SEQ_CST);
			__atomic_add_fetch(&b->refused, 1, __ATOMIC_SEQ_CST);
			usleep(500);
		}
	}
	while (waitpid(-1, NULL, 0) > 0)
		;
	__atomic_sub_fetch(&b->alive, 1, __ATOMIC_SEQ_CST);
	if (!root) {
		__atomic_sub_fetch(&b->slots, 1, __ATOMIC_SEQ_CST);
		_exit(0);
	}
}

static void act_bomb_peak(long ms)
{
	struct bomb *b = mmap(NULL, sizeof(*b), PROT_READ | PROT_WRITE,
			      MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	if (b == MAP_FAILED)
		report(-1);
	memset(b, 0, sizeof(*b));
	bomb_member(b, now_ms() + ms, 1);
	outf("ok %ld %ld", b->peak, b->refused);
	finish();
}

/* Prints "ok ready PID" (flushed): the harness may act on the probe now. */
static void say_ready(void)
{
	printf("ok ready %d\n", (int)getpid());
	fflush(stdout);
}

/* Blocks SIGUSR1, so that one sent early waits for usr1_wait(). */
static void usr1_block(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigprocmask(SIG_BLOCK, &set, NULL);
}

/* Waits for SIGUSR1 (blocked by usr1_block). */
static void usr1_wait(void)
{
	sigset_t set;
	int sig;

	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigwait(&set, &sig);
}

/* Says ready, then waits to be killed. */
static void ready_then_pause(void) __attribute__((noreturn));
static void ready_then_pause(void)
{
	say_ready();
	for (;;)
		pause();
}

/*
 * spin_escape setpgid|setsid: leave the sandbox's process group (join the parent's
 * group, or start a new session in a forked child), then as spin_ready: "ok ready PID"
 * with the spinning process's pid, and burn CPU until killed.
 */
static void act_spin_escape(const char *how)
{
	if (strcmp(how, "setpgid") == 0) {
		if (setpgid(0, getpgid(getppid())))
			report(-1);
	} else if (strcmp(how, "setsid") == 0) {
		pid_t pid = fork();

		if (pid < 0)
			report(-1);
		if (pid > 0) {
			for (;;)
				pause();
		}
		if (setsid() < 0)
			report(-1);
	} else {
		usage();
	}
	say_ready();
	act_spin();
}

/* Maps and touches MB MiB of anonymous memory; 0 when it got it. */
static int take_mib(long mb)
{
	size_t len = (size_t)mb << 20, i;
	char *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (m == MAP_FAILED)
		return -1;
	for (i = 0; i < len; i += 4096)
		m[i] = 1;
	return 0;
}

/*
 * mmap_burst procs|threads K MB: K children (or threads) released at once by a
 * barrier each map and touch MB MiB, then hold it until all are done. Prints
 * "ok GRANTED": how many got their memory.
 */
static pthread_barrier_t burst_go, burst_done;
static long burst_mb;
static long burst_granted;

static void *mburst_thread(void *arg)
{
	(void)arg;
	pthread_barrier_wait(&burst_go);
	if (take_mib(burst_mb) == 0)
		__atomic_add_fetch(&burst_granted, 1, __ATOMIC_SEQ_CST);
	pthread_barrier_wait(&burst_done);
	return NULL;
}

static void act_mmap_burst(const char *how, long k, long mb)
{
	long i;

	if (k < 1 || k > 64 || mb < 1)
		usage();
	burst_mb = mb;
	if (strcmp(how, "threads") == 0) {
		pthread_t t[64];

		pthread_barrier_init(&burst_go, NULL, (unsigned)k);
		pthread_barrier_init(&burst_done, NULL, (unsigned)k);
		for (i = 0; i < k; i++)
			if (pthread_create(&t[i], NULL, mburst_thread, NULL))
				report_errno(EAGAIN);
		for (i = 0; i < k; i++)
			pthread_join(t[i], NULL);
	} else if (strcmp(how, "procs") == 0) {
		int go[2], done[2];
		char c;

		if (pipe(go) || pipe(done))
			report(-1);
		for (i = 0; i < k; i++) {
			pid_t pid = fork();

			if (pid < 0)
				report(-1);
			if (pid == 0) {
				close(go[1]);
				close(done[1]);
				if (read(go[0], &c, 1) < 0)
					_exit(2);
				i = take_mib(mb);
				/* Hold the memory until the parent says all are done. */
				if (read(done[0], &c, 1) < 0)
					_exit(2);
				_exit(i == 0 ? 0 : 1);
			}
		}
		close(go[0]);
		close(done[0]);
		close(go[1]); /* every child reads EOF at once */
		usleep(300000); /* let them all map (or fail) */
		close(done[1]);
		for (i = 0; i < k; i++) {
			int st;

			if (wait(&st) > 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0)
				burst_granted++;
		}
	} else {
		usage();
	}
	outf("ok %ld", burst_granted);
	finish();
}

/*
 * priv_map zero|memfd MB: maps MB MiB of /dev/zero (or of a memfd of that size) private
 * and writable, and touches every page: "ok", or the mmap's error.
 */
static void act_priv_map(const char *kind, long mb)
{
	size_t len = (size_t)mb << 20, i;
	int fd;
	char *m;

	if (strcmp(kind, "zero") == 0) {
		fd = open("/dev/zero", O_RDWR | O_CLOEXEC);
	} else if (strcmp(kind, "memfd") == 0) {
		fd = (int)syscall(SYS_memfd_create, "m", 0);
		if (fd >= 0 && ftruncate(fd, (off_t)len))
			report(-1);
	} else {
		usage();
	}
	if (fd < 0)
		report(-1);
	m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	if (m == MAP_FAILED)
		report(-1);
	for (i = 0; i < len; i += 4096)
		m[i] = 1;
	report(0);
}

/* reuse_tid's thread: one trapped allocation, then its tid down the pipe. */
static void *reuse_thread(void *arg)
{
	long t = (long)syscall(SYS_gettid);

	if (mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) ==
	    MAP_FAILED)
		return NULL;
	if (write(*(int *)arg, &t, sizeof(t)) < 0)
		return NULL;
	return NULL;
}

/* spin_ready: print "ok ready PID" (flushed), then burn CPU until killed. */
static void act_spin_ready(void)
{
	say_ready();
	act_spin();
}

/*
 * getrandom N / urandom N: read N bytes (at most 1 MiB) with the raw getrandom
 * syscall, or from /dev/urandom, looping over short reads.  Prints "ok HEX16 FNV":
 * the first (up to) 16 bytes in hex and the FNV-1a 64 hash of all N.
 */
static void act_random(const char *how, long n)
{
	static const long max = 1 << 20;
	unsigned char *buf;
	unsigned long long h = 1469598103934665603ULL;
	char hex[33] = "";
	long got = 0, i;
	int fd = -1;

	if (n < 1 || n > max)
		usage();
	/* Allocated here, not static: the memory-limit tests count the probe's data. */
	buf = malloc((size_t)n);
	if (!buf)
		report(-1);
	if (strcmp(how, "urandom") == 0) {
		fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			report(-1);
	}
	while (got < n) {
		long r = fd < 0 ? syscall(SYS_getrandom, buf + got, n - got, 0)
				: read(fd, buf + got, n - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			report(-1);
		got += r;
	}
	for (i = 0; i < n; i++)
		h = (h ^ buf[i]) * 1099511628211ULL;
	for (i = 0; i < n && i < 16; i++)
		sprintf(hex + 2 * i, "%02x", buf[i]);
	outf("ok %s %016llx", hex, h);
	finish();
}

/*
 * read_at HOW PATH N: reads up to N bytes of PATH, opened one way: "path" (open),
 * "chdir" (chdir to its directory, open the last component), "dirfd" (openat from an
 * O_PATH descriptor of its directory) or "openat2" (openat2 with RESOLVE_NO_MAGICLINKS).
 * Prints "ok HASH LEN" (FNV-1a of the bytes read, until N or end of file).
 */
static void act_read_at(const char *how, const char *path, long n)
{
	unsigned char buf[4096];
	char dir[4096];
	const char *base = strrchr(path, '/');
	unsigned long long h = 1469598103934665603ULL;
	long got = 0, i;
	int fd = -1;

	if (!base || n < 1 || (size_t)(base - path) >= sizeof(dir))
		usage();
	memcpy(dir, path, (size_t)(base - path));
	dir[base - path] = 0;
	if (!dir[0])
		strcpy(dir, "/");
	base++;
	if (strcmp(how, "path") == 0) {
		fd = open(path, O_RDONLY | O_CLOEXEC);
	} else if (strcmp(how, "chdir") == 0) {
		if (chdir(dir))
			report(-1);
		fd = open(base, O_RDONLY | O_CLOEXEC);
	} else if (strcmp(how, "dirfd") == 0) {
		int d = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);

		if (d < 0)
			report(-1);
		fd = openat(d, base, O_RDONLY | O_CLOEXEC);
	} else if (strcmp(how, "openat2") == 0) {
		struct { unsigned long long flags, mode, resolve; } o = { O_RDONLY | O_CLOEXEC, 0, 0x02 };

		fd = (int)syscall(SYS_openat2, AT_FDCWD, path, &o, sizeof(o));
	} else {
		usage();
	}
	if (fd < 0)
		report(-1);
	while (got < n) {
		long r = read(fd, buf, (size_t)(n - got) < sizeof(buf) ? (size_t)(n - got) : sizeof(buf));

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			report(-1);
		if (r == 0)
			break;
		for (i = 0; i < r; i++)
			h = (h ^ buf[i]) * 1099511628211ULL;
		got += r;
	}
	outf("ok %016llx %ld", h, got);
	finish();
}

/* names DIR: "ok NAME..." in readdir order, without "." and "..". */
static void act_names(const char *path)
{
	static char line[4096];
	size_t at = 0;
	DIR *d = opendir(path);
	struct dirent *de;

	if (!d)
		report(-1);
	at += snprintf(line, sizeof(line), "ok");
	while ((de = readdir(d)) != NULL) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (at + strlen(de->d_name) + 2 >= sizeof(line))
			usage();
		at += snprintf(line + at, sizeof(line) - at, " %s", de->d_name);
	}
	outf("%s", line);
	finish();
}

/* cpus: "ok AFFINITY ONLINE": CPUs in sched_getaffinity, sysconf(_SC_NPROCESSORS_ONLN). */
static void act_cpus(void)
{
	cpu_set_t set;

	if (sched_getaffinity(0, sizeof(set), &set))
		report(-1);
	outf("ok %d %ld", CPU_COUNT(&set), sysconf(_SC_NPROCESSORS_ONLN));
	finish();
}

/* cpus_conf: "ok N", sysconf(_SC_NPROCESSORS_CONF). */
static void act_cpus_conf(void)
{
	outf("ok %ld", sysconf(_SC_NPROCESSORS_CONF));
	finish();
}

static void act_raise(int sig)
{
	sigset_t set;

	signal(sig, SIG_DFL);
	sigemptyset(&set);
	sigaddset(&set, sig);
	sigprocmask(SIG_UNBLOCK, &set, NULL);
	/* Only reached if the signal's default action is to ignore it. */
	report(raise(sig) == 0 ? 0 : -1);
}

/* getpid through the 32-bit entry point (int $0x80, i386 number 20): a
 * filter that only checks the x86_64 arch would let any i386 syscall by. */
static long i386_getpid(void)
{
#if defined(__x86_64__)
	long r;

	__asm__ volatile("int $0x80"
			 : "=a"(r)
			 : "a"(20L)
			 : "memory", "r8", "r9", "r10", "r11");
	if (r < 0 && r > -4096) {
		errno = (int)-r;
		return -1;
	}
	return r;
#else
	errno = ENOSYS;
	return -1;
#endif
}

/* ------------------------------------------------------------------ */
/* process and memory limits                                           */
/* ------------------------------------------------------------------ */

/* Name of errno e, or "none" for 0 (for "ok COUNT ENAME" lines). */
static const char *ename(int e)
{
	static char unknown[16];
	size_t i;

	if (e == 0)
		return "none";
	for (i = 0; i < sizeof(errnames) / sizeof(errnames[0]); i++)
		if (errnames[i].num == e)
			return errnames[i].name;
	snprintf(unknown, sizeof(unknown), "E%d", e);
	return unknown;
}

static long need_count(const char *s)
{
	long v = need_long(s);

	if (v < 0)
		usage();
	return v;
}

/* Children must stay zombies (or be waited for explicitly), whatever
 * disposition of SIGCHLD the probe inherited. */
static void sigchld_default(void)
{
	signal(SIGCHLD, SIG_DFL);
}

static void reap_all(void)
{
	for (;;) {
		if (waitpid(-1, NULL, 0) >= 0)
			continue;
		if (errno == EINTR)
			continue;
		break;
	}
}

/* Block until the write end of the pipe is closed by everyone. */
static void wait_eof(int fd)
{
	char c;

	for (;;) {
		ssize_t r = read(fd, &c, 1);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return;
	}
}

/*
 * fork_hold N: fork up to N children, all alive at once (each blocks on a
 * pipe until the parent is done), stopping at the first failure.
 * "ok COUNT ENAME" (ENAME of the failing fork, or "none").
 */
static void act_fork_hold(long n)
{
	int p[2];
	long i, count = 0;
	int e = 0;

	sigchld_default();
	if (pipe2(p, O_CLOEXEC) < 0)
		report(-1);
	for (i = 0; i < n; i++) {
		pid_t pid = fork();

		if (pid < 0) {
			e = errno;
			break;
		}
		if (pid == 0) {
			close(p[1]);
			wait_eof(p[0]);
			_exit(0);
		}
		count++;
	}
	close(p[1]);
	reap_all();
	outf("ok %ld %s", count, ename(e));
	finish();
}

struct burst_arg {
	pthread_barrier_t *b;
	int rfd, wfd;
	int ok;
};

static void *burst_thread(void *arg)
{
	struct burst_arg *a = arg;
	pid_t pid;

	pthread_barrier_wait(a->b);
	pid = fork();
	if (pid == 0) {
		close(a->wfd);
		wait_eof(a->rfd);
		_exit(0);
	}
	a->ok = pid > 0;
	return NULL;
}

/* One burst: T threads fork together; returns how many forks succeeded
 * once all children are alive, then releases and reaps them. */
static long fork_burst_round(long t)
{
	static pthread_t tids[256];
	static struct burst_arg args[256];
	pthread_barrier_t b;
	int p[2];
	long i, count = 0;

	if (pipe2(p, O_CLOEXEC) < 0)
		report(-1);
	if (pthread_barrier_init(&b, NULL, (unsigned)t))
		usage();
	for (i = 0; i < t; i++) {
		int e;

		args[i].b = &b;
		args[i].rfd = p[0];
		args[i].wfd = p[1];
		args[i].ok = 0;
		e = pthread_create(&tids[i], NULL, burst_thread, &args[i]);
		if (e)
			report_errno(e);
	}
	for (i = 0; i < t; i++) {
		pthread_join(tids[i], NULL);
		count += args[i].ok;
	}
	close(p[1]);
	reap_all();
	close(p[0]);
	pthread_barrier_destroy(&b);
	return count;
}

/*
 * fork_burst T ROUNDS: ROUNDS times, T threads released together each fork
 * one child that blocks until the round is over (so all children of a
 * round are alive at once).  "ok MAX MIN": the most and fewest forks that
 * succeeded in a round.
 */
static void act_fork_burst(long t, long rounds)
{
	long r, max = 0, min = -1;

	if (t < 1 || t > 256 || rounds < 1)
		usage();
	sigchld_default();
	for (r = 0; r < rounds; r++) {
		long n = fork_burst_round(t);

		if (n > max)
			max = n;
		if (min < 0 || n < min)
			min = n;
	}
	outf("ok %ld %ld", max, min);
	finish();
}

struct barrier_arg {
	pthread_barrier_t *b;
};

static void *barrier_thread(void *arg)
{
	pthread_barrier_wait(((struct barrier_arg *)arg)->b);
	return NULL;
}

/*
 * threads N: N threads, all alive together (they meet at a barrier with
 * the main thread), then joined.  "ok N", or "err ENAME at I" when thread I
 * could not be created.
 */
static void act_threads(long n)
{
	static pthread_t tids[4096];
	pthread_barrier_t b;
	struct barrier_arg a = { &b };
	long i;
	int e;

	if (n < 1 || n > (long)(sizeof(tids) / sizeof(tids[0])))
		usage();
	if (pthread_barrier_init(&b, NULL, (unsigned)n + 1))
		usage();
	for (i = 0; i < n; i++) {
		e = pthread_create(&tids[i], NULL, barrier_thread, &a);
		if (e) {
			/* The created threads stay blocked; exiting ends them. */
			outf("err %s at %ld", ename(e), i);
			finish();
		}
	}
	pthread_barrier_wait(&b);
	for (i = 0; i < n; i++) {
		e = pthread_join(tids[i], NULL);
		if (e)
			report_errno(e);
	}
	outf("ok %ld", n);
	finish();
}

/*
 * zombie_loop N: fork up to N children that exit at once and are never
 * waited for, stopping at the first failure.  "ok COUNT ENAME".
 */
static void act_zombie_loop(long n)
{
	long i, count = 0;
	int e = 0;

	sigchld_default();
	for (i = 0; i < n; i++) {
		pid_t pid = fork();

		if (pid < 0) {
			e = errno;
			break;
		}
		if (pid == 0)
			_exit(0);
		count++;
	}
	outf("ok %ld %s\n", count, ename(e));
	flush_out();
	reap_all();
	_exit(0);
}

/*
 * fork_wait_loop N: N times fork a child that exits at once and wait for
 * it, stopping at the first failure.  "ok COUNT ENAME".
 */
static void act_fork_wait_loop(long n)
{
	long i, count = 0;
	int e = 0;

	sigchld_default();
	for (i = 0; i < n; i++) {
		pid_t pid = fork();

		if (pid < 0) {
			e = errno;
			break;
		}
		if (pid == 0)
			_exit(0);
		while (waitpid(pid, NULL, 0) < 0) {
			if (errno != EINTR) {
				e = errno;
				break;
			}
		}
		if (e)
			break;
		count++;
	}
	outf("ok %ld %s", count, ename(e));
	finish();
}

/* One private anonymous read-write mapping of `len` bytes (MAP_FAILED on
 * error), never touched. */
static void *anon_map(size_t len)
{
	return mmap(NULL, len, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
}

/* mmap BYTES: "ok" or "err ENAME". */
static void act_mmap(long len)
{
	void *p = anon_map((size_t)len);

	report(p == MAP_FAILED ? -1 : 0);
}

/* mremap_grow FROM TO: map FROM bytes, then grow the mapping to TO bytes
 * (it may move).  "ok" or "err ENAME" (of the mremap; "err ENAME" of the
 * first mmap is reported the same way). */
static void act_mremap_grow(long from, long to)
{
	void *p = anon_map((size_t)from);

	if (p == MAP_FAILED)
		report(-1);
	p = mremap(p, (size_t)from, (size_t)to, MREMAP_MAYMOVE);
	report(p == MAP_FAILED ? -1 : 0);
}

/* shm_create BYTES: create a private System V segment of BYTES bytes and
 * remove it again.  "ok" or "err ENAME" (of shmget). */
static void act_shm_create(long len)
{
	int id = shmget(IPC_PRIVATE, (size_t)len, IPC_CREAT | 0600);

	if (id < 0)
		report(-1);
	shmctl(id, IPC_RMID, NULL);
	report(0);
}

/* malloc_touch MB: malloc MB MiB and write every byte.  "ok", or
 * "err ENOMEM" when malloc returns NULL. */
static void act_malloc_touch(long mb)
{
	size_t len = (size_t)mb << 20;
	char *p = malloc(len);

	if (!p)
		report_errno(ENOMEM);
	memset(p, 0x5a, len);
	report(0);
}

/*
 * brk_grow BYTES: move the break up by BYTES with the raw syscall.  "ok"
 * when the new break is at least the one asked for; otherwise "err ENOMEM
 * same" when the call returned the old break (the kernel's way of saying
 * no), "err ENOMEM moved" when it returned anything else.
 */
static void act_brk_grow(long n)
{
	unsigned long cur = (unsigned long)syscall(SYS_brk, 0UL);
	unsigned long want = cur + (unsigned long)n;
	unsigned long got = (unsigned long)syscall(SYS_brk, want);

	if (got >= want)
		report(0);
	outf("err ENOMEM %s", got == cur ? "same" : "moved");
	finish();
}

/* Read one result byte ('y' or 'n') from fd; -1 at EOF or error. */
static int read_result(int fd)
{
	char c;

	for (;;) {
		ssize_t r = read(fd, &c, 1);

		if (r < 0 && errno == EINTR)
			continue;
		return r == 1 ? c : -1;
	}
}

/*
 * fork_alloc N MB: fork N children, one after the other; each mallocs and
 * touches MB MiB, reports whether that worked, then stays alive (holding
 * the memory) until all N have tried.  The next child starts only after
 * the previous one has reported, so every child sees the memory of all
 * earlier ones.  "ok SUCCEEDED", or "err ENAME" if a fork failed.
 */
static void act_fork_alloc(long n, long mb)
{
	int res[2], go[2];
	long i, ok = 0;

	sigchld_default();
	if (pipe2(res, O_CLOEXEC) < 0 || pipe2(go, O_CLOEXEC) < 0)
		report(-1);
	for (i = 0; i < n; i++) {
		pid_t pid = fork();
		int c;

		if (pid < 0) {
			int e = errno;

			close(go[1]);
			reap_all();
			report_errno(e);
		}
		if (pid == 0) {
			size_t len = (size_t)mb << 20;
			char *p = malloc(len);
			char r = p ? 'y' : 'n';

			close(go[1]);
			close(res[0]);
			if (p)
				memset(p, 0x5a, len);
			if (write(res[1], &r, 1) != 1)
				_exit(1);
			wait_eof(go[0]);
			_exit(0);
		}
		c = read_result(res[0]);
		if (c < 0) {
			close(go[1]);
			reap_all();
			report_errno(EPIPE);
		}
		if (c == 'y')
			ok++;
	}
	close(go[1]);
	reap_all();
	outf("ok %ld", ok);
	finish();
}

/*
 * mmap_loop N BYTES FINAL: N times map BYTES and unmap them again, then
 * map FINAL bytes once.  "ok looped=N final=ok" or "final=ENAME"; "err ENAME
 * at I" when the I-th loop mapping failed.
 */
static void act_mmap_loop(long n, long len, long final)
{
	long i;
	void *p;

	for (i = 0; i < n; i++) {
		p = anon_map((size_t)len);
		if (p == MAP_FAILED) {
			outf("err %s at %ld", ename(errno), i);
			finish();
		}
		if (munmap(p, (size_t)len) < 0)
			report(-1);
	}
	p = anon_map((size_t)final);
	outf("ok looped=%ld final=%s", n,
	     p == MAP_FAILED ? ename(errno) : "ok");
	finish();
}

struct stress_arg {
	pthread_barrier_t *b;
	long n;
	long failed;
};

static void *stress_thread(void *arg)
{
	struct stress_arg *a = arg;
	long i;

	pthread_barrier_wait(a->b);
	for (i = 0; i < a->n; i++) {
		void *p = anon_map(4096);

		if (p == MAP_FAILED) {
			a->failed++;
			continue;
		}
		*(volatile char *)p = 1;
		munmap(p, 4096);
	}
	return NULL;
}

/*
 * stress T N: T threads each map, touch and unmap a page N times.  Prints
 * "ready PID" (flushed) once all threads have started their loops, then
 * "ok" at the end, or "err FAILED" with the number of mappings that
 * failed.
 */
static void act_stress(long t, long n)
{
	static pthread_t tids[64];
	static struct stress_arg args[64];
	pthread_barrier_t b;
	long i, failed = 0;
	int e;

	if (t < 1 || t > 64)
		usage();
	if (pthread_barrier_init(&b, NULL, (unsigned)t + 1))
		usage();
	for (i = 0; i < t; i++) {
		args[i].b = &b;
		args[i].n = n;
		args[i].failed = 0;
		e = pthread_create(&tids[i], NULL, stress_thread, &args[i]);
		if (e)
			report_errno(e);
	}
	pthread_barrier_wait(&b);
	outf("ready %ld\n", (long)getpid());
	flush_out();
	for (i = 0; i < t; i++) {
		pthread_join(tids[i], NULL);
		failed += args[i].failed;
	}
	if (failed)
		outf("err %ld", failed);
	else
		outf("ok");
	finish();
}

/* ------------------------------------------------------------------ */
/* dispatch                                                            */
/* ------------------------------------------------------------------ */

#define IS(s) (strcmp(act, (s)) == 0)
#define NARGS(n) do { if (argc != (n) + 2) usage(); } while (0)

int main(int argc, char **argv)
{
	const char *act;

	if (argc < 2)
		usage();
	act = argv[1];

	/* file system */
	if (IS("read")) { NARGS(1); act_read(argv[2]); }
	if (IS("open")) {
		/* open PATH: open it read-only (non-blocking), close, "ok". */
		int fd;

		NARGS(1);
		fd = open(argv[2], O_RDONLY | O_NONBLOCK | O_CLOEXEC);
		if (fd < 0)
			report(-1);
		close(fd);
		report(0);
	}
	if (IS("write")) { NARGS(1); act_write(argv[2]); }
	if (IS("mkdir")) { NARGS(1); report(mkdir(argv[2], 0755)); }
	if (IS("unlink")) { NARGS(1); report(unlink(argv[2])); }
	if (IS("rename")) { NARGS(2); report(rename(argv[2], argv[3])); }
	if (IS("link")) { NARGS(2); report(link(argv[2], argv[3])); }
	if (IS("symlink")) { NARGS(2); report(symlink(argv[2], argv[3])); }
	if (IS("truncate")) { NARGS(1); report(truncate(argv[2], 0)); }
	if (IS("listdir")) { NARGS(1); act_listdir(argv[2]); }
	if (IS("exec")) { NARGS(1); act_exec(argv[2]); }
	if (IS("mknod")) {
		NARGS(1);
		report(mknod(argv[2], S_IFIFO | 0644, 0));
	}

	/* syscall probes */
	if (IS("sys")) { NARGS(1); act_sys(argv[2]); }

	/* processes / namespaces */
	if (IS("clone_ns")) { NARGS(1); act_clone_ns(argv[2]); }
	if (IS("fork")) { NARGS(0); clone_and_wait(0); }
	if (IS("thread")) { NARGS(0); act_thread(); }
	if (IS("ioctl_tiocsti")) { NARGS(0); act_ioctl(TIOCSTI); }
	if (IS("ioctl_tioclinux")) { NARGS(0); act_ioctl(TIOCLINUX); }

	/* process and memory limits */
	if (IS("fork_hold")) { NARGS(1); act_fork_hold(need_count(argv[2])); }
	if (IS("fork_burst")) {
		NARGS(2);
		act_fork_burst(need_count(argv[2]), need_count(argv[3]));
	}
	if (IS("threads")) { NARGS(1); act_threads(need_count(argv[2])); }
	if (IS("zombie_loop")) {
		NARGS(1);
		act_zombie_loop(need_count(argv[2]));
	}
	if (IS("fork_wait_loop")) {
		NARGS(1);
		act_fork_wait_loop(need_count(argv[2]));
	}
	if (IS("mmap")) { NARGS(1); act_mmap(need_count(argv[2])); }
	if (IS("mremap_grow")) {
		NARGS(2);
		act_mremap_grow(need_count(argv[2]), need_count(argv[3]));
	}
	if (IS("shm_create")) { NARGS(1); act_shm_create(need_count(argv[2])); }
	if (IS("malloc_touch")) {
		NARGS(1);
		act_malloc_touch(need_count(argv[2]));
	}
	if (IS("brk_grow")) { NARGS(1); act_brk_grow(need_count(argv[2])); }
	if (IS("fork_alloc")) {
		NARGS(2);
		act_fork_alloc(need_count(argv[2]), need_count(argv[3]));
	}
	if (IS("mmap_loop")) {
		NARGS(3);
		act_mmap_loop(need_count(argv[2]), need_count(argv[3]),
			      need_count(argv[4]));
	}
	if (IS("stress")) {
		NARGS(2);
		act_stress(need_count(argv[2]), need_count(argv[3]));
	}

	/* network */
	if (IS("socket")) { NARGS(3); act_socket(argv[2], argv[3], argv[4]); }
	if (IS("tcp_connect")) {
		NARGS(2);
		act_inet(argv[2], argv[3], SOCK_STREAM, 0);
	}
	if (IS("fs_storm")) { NARGS(1); act_fs_storm(argv[2]); }
	if (IS("tcp_twin")) { NARGS(2); act_tcp_twin(argv[2], argv[3]); }
	if (IS("docker_profile") && argc > 2) act_docker_profile(argv + 2);
	if (IS("deny_race")) { NARGS(2); act_deny_race(argv[2], need_long(argv[3])); }
	if (IS("stuck_connects")) {
		NARGS(3);
		act_stuck_connects(need_long(argv[2]), argv[3], argv[4]);
	}
	if (IS("tcp_remap")) {
		NARGS(2);
		act_tcp_remap(argv[2], argv[3]);
	}
	if (IS("tcp_bind")) {
		NARGS(2);
		act_inet(argv[2], argv[3], SOCK_STREAM, 1);
	}
	if (IS("udp_send")) {
		NARGS(2);
		act_inet(argv[2], argv[3], SOCK_DGRAM, 2);
	}
	if (IS("abstract_ask")) {
		NARGS(2);
		act_abstract_ask(argv[2], argv[3]);
	}
	if (IS("abstract_connect")) {
		NARGS(1);
		act_abstract_connect(argv[2]);
	}
	if (IS("udp_msg")) {
		NARGS(3);
		act_udp_msg(argv[2], argv[3], argv[4]);
	}
	if (IS("ping")) {
		NARGS(1);
		act_ping(argv[2]);
	}
	if (IS("tcp_sendmsg")) {
		NARGS(3);
		act_tcp_sendmsg(argv[2], argv[3], need_count(argv[4]));
	}
	if (IS("unix_connect")) {
		NARGS(1);
		act_unix_connect(argv[2]);
	}
	if (IS("udp_bind")) {
		NARGS(2);
		act_inet(argv[2], argv[3], SOCK_DGRAM, 1);
	}
	if (IS("fd_swap_race")) {
		NARGS(4);
		act_fd_swap_race(argv[2], argv[3], argv[4], need_count(argv[5]));
	}
	if (IS("unix_threads")) {
		NARGS(1);
		act_unix_threads(need_count(argv[2]));
	}
	if (IS("connect_race")) {
		NARGS(4);
		act_connect_race(argv[2], argv[3], argv[4], need_count(argv[5]));
	}

	/* signals / prctl / personality */
	if (IS("kill")) {
		NARGS(2);
		report(syscall(SYS_kill, need_long(argv[2]), need_long(argv[3])));
	}
	if (IS("prctl_set_dumpable")) {
		NARGS(0);
		report(syscall(SYS_prctl, (long)PR_SET_DUMPABLE, 1L, 0L, 0L, 0L));
	}
	if (IS("prctl_set_securebits")) {
		long cur;

		NARGS(0);
		cur = syscall(SYS_prctl, (long)PR_GET_SECUREBITS, 0L, 0L, 0L, 0L);
		if (cur < 0)
			report(-1);
		report(syscall(SYS_prctl, (long)PR_SET_SECUREBITS, cur, 0L, 0L,
			       0L));
	}
	if (IS("prctl_set_ptracer")) {
		NARGS(0);
		report(syscall(SYS_prctl, (long)PR_SET_PTRACER, 0L, 0L, 0L, 0L));
	}
	if (IS("personality_query")) {
		NARGS(0);
		report(syscall(SYS_personality, 0xffffffffL));
	}
	if (IS("i386")) { NARGS(0); report(i386_getpid()); }
	if (IS("x32")) {
		NARGS(0);
		report(syscall(0x40000000L | SYS_getpid));
	}

	/* introspection */
	if (IS("getppid")) {
		long r;

		NARGS(0);
		r = syscall(SYS_getppid);
		if (r < 0)
			report(-1);
		outf("ok %ld", r);
		finish();
	}
	if (IS("nofile")) { NARGS(0); act_rlimit(RLIMIT_NOFILE); }
	if (IS("core")) { NARGS(0); act_rlimit(RLIMIT_CORE); }
	if (IS("thp")) { NARGS(0); act_prctl_get(PR_GET_THP_DISABLE); }
	if (IS("nnp")) { NARGS(0); act_prctl_get(PR_GET_NO_NEW_PRIVS); }
	if (IS("persona")) {
		long r;

		NARGS(0);
		r = syscall(SYS_personality, 0xffffffffL);
		if (r < 0)
			report(-1);
		outf("ok 0x%lx", (unsigned long)r);
		finish();
	}
	if (IS("caps")) {
		static const char *const k[] = {
			"CapEff", "CapPrm", "CapInh", "CapBnd", "CapAmb"
		};
		NARGS(0);
		act_status_fields(k, 5);
	}
	if (IS("getppid")) { NARGS(0); report(syscall(SYS_getppid) > 0 ? 0 : -1); }
	if (IS("seccomp_status")) {
		static const char *const k[] = { "Seccomp", "Seccomp_filters" };
		NARGS(0);
		act_status_fields(k, 2);
	}
	if (IS("sigs")) {
		static const char *const k[] = { "SigBlk", "SigIgn" };
		NARGS(0);
		act_status_fields(k, 2);
	}
	if (IS("fds")) { NARGS(0); act_fds(); }
	if (IS("pgid")) {
		NARGS(0);
		outf("ok %ld %ld", (long)getpgid(0), (long)getpid());
		finish();
	}
	if (IS("cwd")) {
		static char cwd[4096];

		NARGS(0);
		if (!getcwd(cwd, sizeof(cwd)))
			report(-1);
		outf("ok %s", cwd);
		finish();
	}

	/* misc */
	if (IS("sleep")) { NARGS(1); act_sleep(argv[2]); }
	if (IS("spin")) { NARGS(0); act_spin(); }
	if (IS("spin_ready")) { NARGS(0); act_spin_ready(); }
	if (IS("clocks")) { NARGS(0); act_clocks(); }
	if (IS("clocks_hi")) { NARGS(0); act_clocks_hi(); }
	if (IS("alloc_on_usr1")) {
		/* alloc_on_usr1 MB: "ok ready PID", wait for SIGUSR1, then a new child maps
		 * and touches MB MiB: "ok", or "err ENOMEM" when it could not. */
		NARGS(1);
		usr1_block();
		say_ready();
		usr1_wait();
		/* A new process makes the allocation: one the supervisor has not seen yet. */
		{
			pid_t pid = fork();
			int st;

			if (pid < 0)
				report(-1);
			if (pid == 0)
				_exit(take_mib(need_long(argv[2])) == 0 ? 0 : 1);
			if (waitpid(pid, &st, 0) < 0)
				report(-1);
			if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
				report(0);
			report_errno(ENOMEM);
		}
	}
	if (IS("reuse_tid")) {
		/*
		 * reuse_tid MB: a child process's thread makes one trapped allocation and
		 * exits with its process; "ok tid T PID" is printed (PID: the probe's); after SIGUSR1 (meant to
		 * come once the next pid is set to T), a new child maps and touches MB MiB
		 * in 16 MiB steps: "ok GOT_MB PID" with its pid.
		 */
		int st, fds[2];
		pid_t a, b;
		long t = 0, got;

		NARGS(1);
		usr1_block();
		if (pipe(fds))
			report(-1);
		a = fork();
		if (a < 0)
			report(-1);
		if (a == 0) {
			pthread_t th;

			if (pthread_create(&th, NULL, reuse_thread, &fds[1]))
				_exit(1);
			pthread_join(th, NULL);
			_exit(0);
		}
		if (read(fds[0], &t, sizeof(t)) != (ssize_t)sizeof(t))
			report(-1);
		waitpid(a, &st, 0);
		printf("ok tid %ld %d\n", t, (int)getpid());
		fflush(stdout);
		usr1_wait();
		if (pipe(fds))
			report(-1);
		b = fork();
		if (b < 0)
			report(-1);
		if (b == 0) {
			long mb, want = need_long(argv[2]);

			for (mb = 0; mb < want; mb += 16)
				if (take_mib(16))
					break;
			if (write(fds[1], &mb, sizeof(mb)) < 0)
				_exit(1);
			_exit(0);
		}
		if (read(fds[0], &got, sizeof(got)) != (ssize_t)sizeof(got))
			report(-1);
		waitpid(b, &st, 0);
		outf("ok %ld %d", got, (int)b);
		finish();
	}
	if (IS("abandon_listings")) {
		/* abandon_listings DIR N: open DIR N times, read one small batch of entries
		 * from each, close them all; then "ok ready PID" and wait to be killed. */
		static char buf[512];
		static int fds[1024];
		long i, n;

		NARGS(2);
		n = need_long(argv[3]);
		if (n < 1 || n > 1024)
			usage();
		for (i = 0; i < n; i++) {
			fds[i] = open(argv[2], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			if (fds[i] < 0 || syscall(SYS_getdents64, fds[i], buf, sizeof(buf)) < 0)
				report(-1);
		}
		for (i = 0; i < n; i++)
			close(fds[i]);
		ready_then_pause();
	}
	if (IS("hold_opens")) {
		/* hold_opens PATH N [wait]: open PATH read-only N times, keeping each open;
		 * "ok OPENED ERRNO-NAME-OF-THE-FIRST-FAILURE|none". With "wait": the line is
		 * "ok ready OPENED ERRNO-NAME", then wait to be killed, holding them. */
		long i, n, opened = 0;
		int err = 0, hold = argc == 5 && strcmp(argv[4], "wait") == 0;

		if (!hold)
			NARGS(2);
		n = need_long(argv[3]);
		for (i = 0; i < n; i++) {
			if (open(argv[2], O_RDONLY | O_CLOEXEC) < 0) {
				err = errno;
				break;
			}
			opened++;
		}
		if (err) {
			size_t k;
			const char *name = "other";

			for (k = 0; k < sizeof(errnames) / sizeof(errnames[0]); k++)
				if (errnames[k].num == err)
					name = errnames[k].name;
			outf("ok %s%ld %s", hold ? "ready " : "", opened, name);
		} else {
			outf("ok %s%ld none", hold ? "ready " : "", opened);
		}
		if (hold) {
			outf("\n");
			flush_out();
			for (;;)
				pause();
		}
		finish();
	}
	if (IS("forks_on_usr1")) {
		/* forks_on_usr1 N: "ok ready PID", wait for SIGUSR1, then fork N children
		 * that each wait (all alive at once): "ok FORKED". */
		long i, n, forked = 0;
		pid_t kids[256];

		NARGS(1);
		n = need_long(argv[2]);
		if (n < 1 || n > 256)
			usage();
		usr1_block();
		say_ready();
		usr1_wait();
		for (i = 0; i < n; i++) {
			pid_t pid = fork();

			if (pid == 0) {
				for (;;)
					pause();
			}
			if (pid > 0)
				kids[forked++] = pid;
		}
		for (i = 0; i < forked; i++) {
			kill(kids[i], SIGKILL);
			waitpid(kids[i], NULL, 0);
		}
		outf("ok %ld", forked);
		finish();
	}
	if (IS("mmap_churn")) {
		/* mmap_churn N: N short-lived children, each maps one writable anonymous
		 * page and exits; then "ok ready PID" and wait to be killed. */
		long i, n;

		NARGS(1);
		n = need_long(argv[2]);
		for (i = 0; i < n; i++) {
			pid_t pid = fork();

			if (pid < 0)
				report(-1);
			if (pid == 0)
				_exit(mmap(NULL, 4096, PROT_READ | PROT_WRITE,
					   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) == MAP_FAILED);
			waitpid(pid, NULL, 0);
		}
		ready_then_pause();
	}
	if (IS("sleep_until_negative")) {
		/* An absolute CLOCK_REALTIME sleep to -1 s: the kernel says EINVAL. */
		struct timespec t = { -1, 0 };

		NARGS(0);
		report(syscall(SYS_clock_nanosleep, CLOCK_REALTIME, TIMER_ABSTIME, &t, NULL) ? -1 : 0);
	}
	if (IS("argv_race")) { NARGS(1); act_argv_race(need_long(argv[2])); }
	if (IS("fork_marker")) { NARGS(2); act_fork_marker(argv[2], need_long(argv[3])); }
	if (IS("posix_timer")) { NARGS(1); act_posix_timer(argv[2]); }
	if (IS("open_race")) { NARGS(3); act_open_race(argv[2], argv[3], need_long(argv[4])); }
	if (IS("stat")) {
		struct stat st;

		NARGS(1);
		report(stat(argv[2], &st));
	}
	if (IS("readlink")) {
		char buf[256];

		NARGS(1);
		report(readlink(argv[2], buf, sizeof(buf)));
	}
	if (IS("chdir")) { NARGS(1); report(chdir(argv[2])); }
	if (IS("getrandom") || IS("urandom")) { NARGS(1); act_random(act, need_long(argv[2])); }
	if (IS("names")) { NARGS(1); act_names(argv[2]); }
	if (IS("cpus")) { NARGS(0); act_cpus(); }
	if (IS("cpus_conf")) { NARGS(0); act_cpus_conf(); }
	if (IS("priv_map")) { NARGS(2); act_priv_map(argv[2], need_long(argv[3])); }
	if (IS("mmap_burst")) { NARGS(3); act_mmap_burst(argv[2], need_long(argv[3]), need_long(argv[4])); }
	if (IS("spin_escape")) { NARGS(1); act_spin_escape(argv[2]); }
	if (IS("open_loop")) {
		/* open_loop PATH N: N times open PATH read-only and close it. */
		long i, n;

		NARGS(2);
		n = need_long(argv[3]);
		for (i = 0; i < n; i++) {
			int fd = open(argv[2], O_RDONLY | O_CLOEXEC);

			if (fd < 0)
				report(-1);
			close(fd);
		}
		report(0);
	}
	if (IS("bomb_peak")) { NARGS(1); act_bomb_peak(need_long(argv[2])); }
	if (IS("read_at")) { NARGS(3); act_read_at(argv[2], argv[3], need_long(argv[4])); }
	if (IS("ready")) { NARGS(1); act_ready(argv[2]); }
	if (IS("pidfile")) { NARGS(2); act_pidfile(argv[2], argv[3]); }
	if (IS("emit")) { NARGS(1); act_emit(need_long(argv[2])); }
	if (IS("exit")) { NARGS(1); exit((int)need_long(argv[2])); }
	if (IS("raise")) { NARGS(1); act_raise((int)need_long(argv[2])); }

	usage();
}
