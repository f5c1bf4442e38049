/* peak_rss CMD [ARGS...]: runs CMD and prints the peak resident set size of CMD's own
 * process (not of its descendants) on stderr as "peak_rss KIB", then exits with CMD's
 * status.
 *
 * Why not `/usr/bin/time -f %M`: wait4's rusage is the getrusage(RUSAGE_BOTH) of the
 * reaped process, so its ru_maxrss is the max over the process and every descendant it
 * reaped itself. sandlet reaps the command, so %M reports the command's peak whenever it
 * is larger than sandlet's.
 *
 * Instead CMD is traced (PTRACE_TRACEME; its children and threads are not) with
 * PTRACE_O_TRACEEXIT, and VmHWM is read from /proc/PID/status at the exit stop, while
 * its memory is still mapped. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <unistd.h>

static long vm_hwm_kib(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    long kib = -1;
    while (fgets(line, sizeof(line), f))
        if (sscanf(line, "VmHWM: %ld kB", &kib) == 1)
            break;
    fclose(f);
    return kib;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: peak_rss CMD [ARGS...]\n");
        return 2;
    }
    pid_t pid = fork();
    if (pid < 0) {
        perror("peak_rss: fork");
        return 1;
    }
    if (pid == 0) {
        if (ptrace(PTRACE_TRACEME, 0, NULL, NULL) != 0) {
            perror("peak_rss: PTRACE_TRACEME");
            _exit(1);
        }
        execvp(argv[1], argv + 1);
        fprintf(stderr, "peak_rss: exec %s: %s\n", argv[1], strerror(errno));
        _exit(127);
    }

    long peak = -1;
    int status, first = 1;
    for (;;) {
        if (waitpid(pid, &status, 0) != pid) {
            if (errno == EINTR)
                continue;
            perror("peak_rss: waitpid");
            return 1;
        }
        if (WIFEXITED(status) || WIFSIGNALED(status))
            break;
        if (!WIFSTOPPED(status))
            continue;
        int sig = WSTOPSIG(status), inject = 0;
        if (first && sig == SIGTRAP) {
            first = 0; /* the stop after execve */
            if (ptrace(PTRACE_SETOPTIONS, pid, NULL,
                       (void *)(long)(PTRACE_O_TRACEEXIT | PTRACE_O_EXITKILL)) != 0) {
                perror("peak_rss: PTRACE_SETOPTIONS");
                kill(pid, SIGKILL);
                return 1;
            }
        } else if (sig == SIGTRAP && (status >> 16) == PTRACE_EVENT_EXIT) {
            peak = vm_hwm_kib(pid);
        } else {
            inject = sig; /* a signal for CMD: deliver it */
        }
        ptrace(PTRACE_CONT, pid, NULL, (void *)(long)inject);
    }
    if (peak < 0) {
        fprintf(stderr, "peak_rss: no exit stop seen\n");
        return 1;
    }
    fprintf(stderr, "peak_rss %ld\n", peak);
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return WEXITSTATUS(status);
}
