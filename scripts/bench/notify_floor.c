/* notify_floor [sync|nosync] [N] [epoll]: the cost floor of one seccomp user
 * notification, without sandlet.
 *
 * A child installs a filter (no_new_privs first) that sends getppid to a listener
 * (SECCOMP_FILTER_FLAG_NEW_LISTENER) and passes the listener to the parent with
 * SCM_RIGHTS over a socketpair. In "sync" mode (the default) the parent sets
 * SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP with SECCOMP_IOCTL_NOTIF_SET_FLAGS (the flag is
 * passed by value, not through a pointer); "nosync" leaves it unset. The parent then
 * answers every notification with SECCOMP_USER_NOTIF_FLAG_CONTINUE in a blocking
 * NOTIF_RECV loop. With "epoll" the parent instead waits in epoll_wait for the listener
 * to be readable before each RECV, the way an event-loop supervisor does (diagnostic).
 *
 * The child times N (default 100000) getppid calls before the filter (bare) and after
 * it (trapped), and prints one line:
 *   "notify_floor mode=sync wait=recv n=N bare_ns=B trapped_ns=T us_per_call=U"
 * where U = T / N / 1000. Exit status 3: the kernel lacks SYNC_WAKE_UP (Linux 6.6). */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Linux 6.6 uapi; older headers lack them. */
#ifndef SECCOMP_IOCTL_NOTIF_SET_FLAGS
#define SECCOMP_IOCTL_NOTIF_SET_FLAGS SECCOMP_IOW(4, __u64)
#endif
#ifndef SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP
#define SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP 1UL
#endif

/* getppid ignores its arguments; this one in the first tells the parent to stop. */
#define LAST_CALL 0x5eedUL

static void die(const char *what)
{
    fprintf(stderr, "notify_floor: %s: %s\n", what, strerror(errno));
    exit(1);
}

static long long now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static long long time_getppid(long n)
{
    long long start = now_ns();
    for (long i = 0; i < n; i++)
        syscall(SYS_getppid);
    return now_ns() - start;
}

static void send_fd(int sock, int fd)
{
    char byte = 'L';
    struct iovec iov = {.iov_base = &byte, .iov_len = 1};
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } u;
    memset(&u, 0, sizeof(u));
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
                         .msg_controllen = sizeof(u.buf)};
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &fd, sizeof(int));
    if (sendmsg(sock, &msg, 0) != 1)
        die("sendmsg(listener)");
}

static int recv_fd(int sock)
{
    char byte;
    struct iovec iov = {.iov_base = &byte, .iov_len = 1};
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } u;
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
                         .msg_controllen = sizeof(u.buf)};
    if (recvmsg(sock, &msg, MSG_CMSG_CLOEXEC) != 1)
        die("recvmsg(listener)");
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    if (!c || c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) {
        fprintf(stderr, "notify_floor: no listener fd received\n");
        exit(1);
    }
    int fd;
    memcpy(&fd, CMSG_DATA(c), sizeof(int));
    return fd;
}

static int child(int sock, long n, const char *mode, const char *wait)
{
    time_getppid(1000); /* warm up */
    long long bare = time_getppid(n);

    /* A benchmark filter, not a security one: getppid -> USER_NOTIF, all else ALLOW. */
    struct sock_filter insns[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_getppid, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {.len = sizeof(insns) / sizeof(insns[0]), .filter = insns};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
        die("prctl(PR_SET_NO_NEW_PRIVS)");
    int listener = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER,
                           SECCOMP_FILTER_FLAG_NEW_LISTENER, &prog);
    if (listener < 0)
        die("seccomp(NEW_LISTENER)");
    send_fd(sock, listener);
    close(listener);

    char ack;
    if (read(sock, &ack, 1) != 1 || ack != 'G')
        _exit(3); /* the parent refused (no SYNC_WAKE_UP) or died */

    time_getppid(1000); /* warm up the notification path */
    long long trapped = time_getppid(n);
    syscall(SYS_getppid, LAST_CALL);
    printf("notify_floor mode=%s wait=%s n=%ld bare_ns=%lld trapped_ns=%lld us_per_call=%.3f\n",
           mode, wait, n, bare, trapped, trapped / (double)n / 1000.0);
    fflush(stdout);
    return 0;
}

static void supervise(int listener, int use_epoll)
{
    int ep = -1;
    if (use_epoll) {
        ep = epoll_create1(EPOLL_CLOEXEC);
        struct epoll_event ev = {.events = EPOLLIN};
        if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, listener, &ev) != 0)
            die("epoll");
    }
    for (;;) {
        if (use_epoll) {
            struct epoll_event ev;
            int r = epoll_wait(ep, &ev, 1, -1);
            if (r < 0 && errno == EINTR)
                continue;
            if (r < 0)
                die("epoll_wait");
            if (ev.events & EPOLLHUP)
                return;
        }
        struct seccomp_notif req;
        memset(&req, 0, sizeof(req));
        if (ioctl(listener, SECCOMP_IOCTL_NOTIF_RECV, &req) != 0) {
            if (errno == EINTR || errno == ENOENT)
                continue;
            die("SECCOMP_IOCTL_NOTIF_RECV");
        }
        struct seccomp_notif_resp resp = {
            .id = req.id, .val = 0, .error = 0, .flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE};
        if (ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, &resp) != 0 && errno != ENOENT)
            die("SECCOMP_IOCTL_NOTIF_SEND");
        if (req.data.args[0] == LAST_CALL)
            return;
    }
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "sync";
    long n = 100000;
    if (argc > 2) {
        char *end;
        n = strtol(argv[2], &end, 10);
        if (*end || n < 1)
            n = -1;
    }
    int use_epoll = argc > 3 && strcmp(argv[3], "epoll") == 0;
    int sync_wake = strcmp(mode, "sync") == 0;
    if ((!sync_wake && strcmp(mode, "nosync") != 0) || n < 1 || argc > 4 ||
        (argc > 3 && !use_epoll)) {
        fprintf(stderr, "usage: notify_floor [sync|nosync] [N] [epoll]\n");
        return 2;
    }

    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
        die("socketpair");
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0)
        die("fork");
    if (pid == 0) {
        close(sv[0]);
        _exit(child(sv[1], n, mode, use_epoll ? "epoll" : "recv"));
    }
    close(sv[1]);
    alarm(300); /* never hang a benchmark run */

    int listener = recv_fd(sv[0]);
    int ok = 1;
    /* SET_FLAGS takes the flags by value: the ioctl argument is the integer itself. */
    if (sync_wake &&
        ioctl(listener, SECCOMP_IOCTL_NOTIF_SET_FLAGS, SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP) != 0) {
        fprintf(stderr, "notify_floor: SECCOMP_IOCTL_NOTIF_SET_FLAGS(SYNC_WAKE_UP): %s\n",
                strerror(errno));
        ok = 0;
    }
    if (write(sv[0], ok ? "G" : "N", 1) != 1)
        die("write(ack)");
    if (ok)
        supervise(listener, use_epoll);

    int status;
    if (waitpid(pid, &status, 0) != pid)
        die("waitpid");
    if (!ok)
        return 3;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}
