/*
 * open_loop N PATH: N times open PATH read-only and close it, timed with
 * CLOCK_MONOTONIC around the loop. Prints one line: "open_loop n=N ns=WALL_NS".
 * The cost of a run's open path: nothing trapped by default, a notification per
 * open when a flag serves files.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct timespec a, b;
	long n, i;

	if (argc != 3 || (n = atol(argv[1])) < 1) {
		fprintf(stderr, "usage: open_loop N PATH\n");
		return 2;
	}
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (i = 0; i < n; i++) {
		int fd = open(argv[2], O_RDONLY | O_CLOEXEC);

		if (fd < 0) {
			fprintf(stderr, "open_loop: open #%ld: %s\n", i, strerror(errno));
			return 1;
		}
		close(fd);
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	printf("open_loop n=%ld ns=%lld\n", n,
	       (long long)(b.tv_sec - a.tv_sec) * 1000000000LL + (b.tv_nsec - a.tv_nsec));
	return 0;
}
