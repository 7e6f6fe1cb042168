/* The empty libfcgi responder: the ceiling any dynamic route behind this Nginx can reach. */
/*
 * Usage: empty_fcgi SOCKET NPROC
 *
 * Binds the unix socket SOCKET (mode 0666: it is a benchmark on loopback and
 * Nginx's workers run as www-data), forks NPROC workers that each answer every
 * request with the same small JSON envelope as /healthz, and waits. SIGTERM
 * or SIGINT to the parent stops the workers and removes the socket. Each
 * worker is the same blocking FCGX_Accept_r loop appd's workers run, with no
 * work in between: whatever appd adds on top is the price of its hot path.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fcgiapp.h>

#define MAX_PROCS	256

static const char	 reply[] =
    "Status: 200 OK\r\n"
    "Content-Type: application/json; charset=utf-8\r\n"
    "Cache-Control: no-store\r\n"
    "\r\n"
    "{\"code\":0,\"msg\":\"ok\",\"data\":{\"db\":\"ok\"}}";

static volatile sig_atomic_t	 stopping;

static void
on_stop(int sig)
{
	(void)sig;
	stopping = 1;
}

static void
serve(int fd)
{
	FCGX_Request	 rq;

	if (FCGX_InitRequest(&rq, fd, 0) != 0)
		_exit(1);
	while (FCGX_Accept_r(&rq) >= 0) {
		FCGX_PutStr(reply, (int)sizeof(reply) - 1, rq.out);
		FCGX_Finish_r(&rq);
	}
	_exit(0);
}

int
main(int argc, char *argv[])
{
	pid_t			 kids[MAX_PROCS];
	struct sigaction	 sa;
	sigset_t		 block, old;
	long			 n;
	int			 fd, i, st;
	char			*end;

	if (argc != 3) {
		fprintf(stderr, "usage: %s SOCKET NPROC\n", argv[0]);
		return 2;
	}
	errno = 0;
	n = strtol(argv[2], &end, 10);
	if (errno != 0 || *end != '\0' || n < 1 || n > MAX_PROCS) {
		fprintf(stderr, "empty_fcgi: NPROC must be 1..%d\n", MAX_PROCS);
		return 2;
	}
	if (FCGX_Init() != 0) {
		fprintf(stderr, "empty_fcgi: FCGX_Init failed\n");
		return 1;
	}
	/* FCGX_OpenSocket unlinks the path itself; it is our own path. */
	if ((fd = FCGX_OpenSocket(argv[1], 1024)) < 0) {
		fprintf(stderr, "empty_fcgi: cannot listen on %s\n", argv[1]);
		return 1;
	}
	if (chmod(argv[1], 0666) != 0) {
		perror("empty_fcgi: chmod");
		return 1;
	}

	for (i = 0; i < n; i++) {
		if ((kids[i] = fork()) == -1) {
			perror("empty_fcgi: fork");
			n = i;
			break;
		}
		if (kids[i] == 0)
			serve(fd);
	}

	/* Installed after the fork: the workers keep libfcgi's own handlers. */
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigprocmask(SIG_BLOCK, &block, &old);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	while (!stopping)
		sigsuspend(&old);

	for (i = 0; i < n; i++)
		kill(kids[i], SIGKILL);
	for (i = 0; i < n; i++)
		waitpid(kids[i], &st, 0);
	unlink(argv[1]);
	return 0;
}
