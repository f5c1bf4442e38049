/*
 * exec_loop N THREADS PROCS: start PROCS-1 sleeping child processes and THREADS-1
 * sleeping threads, then N times fork a child that execs /bin/true and wait for it.
 * Prints the mean wall time of one fork+exec+wait in microseconds.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static void *sleeper(void *arg)
{
	(void)arg;
	for (;;)
		pause();
	return NULL;
}

int main(int argc, char **argv)
{
	long n, threads, procs, i;
	pid_t kids[256];
	struct timespec a, b;
	char *av[] = { "true", NULL };

	if (argc != 4)
		return 2;
	n = atol(argv[1]);
	threads = atol(argv[2]);
	procs = atol(argv[3]);
	if (procs > 256)
		return 2;
	for (i = 0; i + 1 < procs; i++) {
		kids[i] = fork();
		if (kids[i] == 0)
			for (;;)
				pause();
	}
	for (i = 0; i + 1 < threads; i++) {
		pthread_t t;
		pthread_create(&t, NULL, sleeper, NULL);
	}
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (i = 0; i < n; i++) {
		pid_t p = fork();
		if (p == 0) {
			execve("/bin/true", av, environ);
			_exit(127);
		}
		waitpid(p, NULL, 0);
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	printf("%.1f\n", ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / 1e3 / n);
	for (i = 0; i + 1 < procs; i++)
		kill(kids[i], SIGKILL);
	return 0;
}
