/* connect_loop [N]: a listener on 127.0.0.1 (ephemeral port, accepted by a thread)
 * and N (default 10000) connect+close from the main thread.
 * Under `sandlet run --net-allow-bind '*' --net-allow 127.0.0.1` every connect is
 * trapped and made by the supervisor on the caller's behalf.
 * Prints "connect_loop n=N ns=WALL_NS" for the connect loop alone; exits 1 on error. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int listener;

static long long now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void *acceptor(void *arg)
{
    (void)arg;
    for (;;) {
        int c = accept(listener, NULL, NULL);
        if (c < 0)
            return NULL;
        close(c);
    }
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 10000;
    struct sockaddr_in a;
    socklen_t len = sizeof(a);
    pthread_t t;

    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    listener = socket(AF_INET, SOCK_STREAM, 0);
    if (listener < 0 || bind(listener, (struct sockaddr *)&a, sizeof(a)) < 0 ||
        listen(listener, 4096) < 0 || getsockname(listener, (struct sockaddr *)&a, &len) < 0) {
        perror("listen");
        return 1;
    }
    if (pthread_create(&t, NULL, acceptor, NULL))
        return 1;
    long long start = now_ns();
    for (long i = 0; i < n; i++) {
        int s = socket(AF_INET, SOCK_STREAM, 0);
        if (s < 0 || connect(s, (struct sockaddr *)&a, sizeof(a)) < 0) {
            perror("connect");
            return 1;
        }
        close(s);
    }
    printf("connect_loop n=%ld ns=%lld\n", n, now_ns() - start);
    return 0;
}
