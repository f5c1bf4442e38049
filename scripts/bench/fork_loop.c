/* fork_loop [N]: N (default 2000) times fork() + waitpid(); the child _exit(0)s at once.
 * Under sandlet every fork (glibc: clone without CLONE_THREAD) is trapped by the
 * supervisor for the process limit.
 *
 * Prints one line: "fork_loop n=N ns=WALL_NS". Exits 1 on any failure. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long long now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int main(int argc, char **argv)
{
    long n = 2000;
    if (argc > 1) {
        char *end;
        n = strtol(argv[1], &end, 10);
        if (*end || n < 1) {
            fprintf(stderr, "usage: fork_loop [N]\n");
            return 2;
        }
    }
    long long start = now_ns();
    for (long i = 0; i < n; i++) {
        pid_t pid = fork();
        if (pid < 0) {
            fprintf(stderr, "fork_loop: fork #%ld: %s\n", i, strerror(errno));
            return 1;
        }
        if (pid == 0)
            _exit(0);
        int status;
        if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status)) {
            fprintf(stderr, "fork_loop: child #%ld did not exit cleanly\n", i);
            return 1;
        }
    }
    long long elapsed = now_ns() - start;
    printf("fork_loop n=%ld ns=%lld\n", n, elapsed);
    return 0;
}
