/* mmap_loop [N [THREADS]]: each of THREADS threads (default 1) does N (default 100000)
 * pairs of mmap(4096, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS) + munmap.
 * Under `sandlet run -m SIZE` every such mmap is trapped by the supervisor; munmap is
 * not. The pages are never touched, so the loop measures the syscalls alone.
 *
 * Prints one line: "mmap_loop n=N threads=T ns=WALL_NS" (wall time of the loops, from
 * before the threads start to after they all finish). Exits 1 on any failure. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

static long iterations = 100000;

static long long now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void *loop(void *arg)
{
    (void)arg;
    for (long i = 0; i < iterations; i++) {
        void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) {
            fprintf(stderr, "mmap_loop: mmap #%ld: %s\n", i, strerror(errno));
            exit(1);
        }
        if (munmap(p, 4096) != 0) {
            fprintf(stderr, "mmap_loop: munmap #%ld: %s\n", i, strerror(errno));
            exit(1);
        }
    }
    return NULL;
}

static long parse(const char *s, const char *what)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || v < 1) {
        fprintf(stderr, "mmap_loop: bad %s: %s\n", what, s);
        exit(2);
    }
    return v;
}

int main(int argc, char **argv)
{
    long threads = 1;
    if (argc > 1)
        iterations = parse(argv[1], "N");
    if (argc > 2)
        threads = parse(argv[2], "THREADS");
    if (argc > 3 || threads > 1024) {
        fprintf(stderr, "usage: mmap_loop [N [THREADS (1..1024)]]\n");
        return 2;
    }

    pthread_t tids[1024];
    long long start = now_ns();
    if (threads == 1) {
        loop(NULL);
    } else {
        for (long t = 0; t < threads; t++) {
            int err = pthread_create(&tids[t], NULL, loop, NULL);
            if (err) {
                fprintf(stderr, "mmap_loop: pthread_create: %s\n", strerror(err));
                return 1;
            }
        }
        for (long t = 0; t < threads; t++)
            pthread_join(tids[t], NULL);
    }
    long long elapsed = now_ns() - start;
    printf("mmap_loop n=%ld threads=%ld ns=%lld\n", iterations, threads, elapsed);
    return 0;
}
