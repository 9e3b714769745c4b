/*
 * orphanstorm: makes N orphans for the reaping benchmark and lets them all
 * end at once, so that the init they were re-parented to must reap N
 * zombies as fast as it can.
 *
 *	bench-orphanstorm N READYFILE
 *
 * A middle process forks N children that block reading a pipe, then exits:
 * the children become orphans, re-parented to the init (PID 1 of the
 * namespace). Once the middle process is gone, orphanstorm creates
 * READYFILE. On SIGUSR1 it closes the pipe's write end: every orphan reads
 * EOF and exits at once. orphanstorm itself stays, so that the init keeps
 * running, until it is killed.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static void usage(void)
{
	fprintf(stderr, "usage: bench-orphanstorm N READYFILE\n");
	exit(2);
}

/* makeOrphans forks the middle process, which forks n children blocked on
 * the pipe and exits; it returns once the middle process is reaped. */
static void makeOrphans(long n, int pipefd[2])
{
	pid_t middle = fork();
	if (middle < 0) {
		perror("bench-orphanstorm: fork");
		exit(1);
	}
	if (middle == 0) {
		for (long i = 0; i < n; i++) {
			pid_t pid = fork();
			if (pid < 0) {
				perror("bench-orphanstorm: fork");
				_exit(1);
			}
			if (pid == 0) {
				char c;
				close(pipefd[1]);
				while (read(pipefd[0], &c, 1) > 0)
					;
				_exit(0);
			}
		}
		_exit(0);
	}
	int status;
	if (waitpid(middle, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "bench-orphanstorm: the middle process failed\n");
		exit(1);
	}
}

int main(int argc, char **argv)
{
	if (argc != 3)
		usage();
	long n = strtol(argv[1], NULL, 10);
	if (n <= 0)
		usage();

	/* SIGUSR1 is waited for with sigwait: block it before anything can
	 * send it. */
	sigset_t usr1;
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	sigprocmask(SIG_BLOCK, &usr1, NULL);

	int pipefd[2];
	if (pipe(pipefd) < 0) {
		perror("bench-orphanstorm: pipe");
		return 1;
	}
	makeOrphans(n, pipefd);
	close(pipefd[0]);

	int fd = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0) {
		perror(argv[2]);
		return 1;
	}
	close(fd);

	int sig;
	sigwait(&usr1, &sig);
	close(pipefd[1]); /* every orphan reads EOF and exits */
	for (;;)
		pause();
}
