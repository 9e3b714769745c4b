/*
 * spawnloop: the kernel's own limit for the spawn benchmark. It starts N
 * copies of a program with posix_spawn, one after the other, as fast as it
 * can, with nothing a supervisor does around it (no pipes, no state, no
 * bookkeeping), then waits, reaping whatever ends, until it is killed.
 *
 *	bench-spawnloop N PROGRAM [ARG...]
 */
#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: bench-spawnloop N PROGRAM [ARG...]\n");
		return 2;
	}
	long n = strtol(argv[1], NULL, 10);
	for (long i = 0; i < n; i++) {
		pid_t pid;
		int err = posix_spawn(&pid, argv[2], NULL, NULL, argv + 2, environ);
		if (err != 0) {
			fprintf(stderr, "bench-spawnloop: %s: %s\n", argv[2], strerror(err));
			return 1;
		}
	}
	for (;;) {
		if (wait(NULL) < 0 && errno == ECHILD)
			pause();
	}
}
