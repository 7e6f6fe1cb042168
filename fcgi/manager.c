/* The prefork manager: forks the workers, respawns the dead, stops them gracefully; never opens the database. */
#include <sys/prctl.h>
#include <sys/select.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "appd.h"
#include "log.h"
#include "mem.h"

/* A worker that dies younger than this counts as a crash for backoff. */
#define MGR_YOUNG_MS	2000
/* Longest pause before respawning a crashing slot. */
#define MGR_MAX_BACKOFF_MS 16000

struct slot {
	pid_t	 pid;		/* 0: empty */
	double	 started;	/* monotonic ms */
	double	 respawn_at;	/* when empty: earliest restart */
	long	 backoff;	/* ms, doubles on each young death */
};

static volatile sig_atomic_t	 got_chld, got_stop;

static void
on_signal(int sig)
{
	if (sig == SIGCHLD)
		got_chld = 1;
	else
		got_stop = sig;
}

static double
mono_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}

static pid_t
spawn(const struct cfg *cfg, int listen_fd, struct slot *s,
    const sigset_t *orig)
{
	struct sigaction	 sa;
	pid_t			 pid, parent = getpid();

	if ((pid = fork()) == -1) {
		log_msg(LOG_ERROR, "fork: %s", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		/* The child starts from default dispositions and mask. */
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = SIG_DFL;
		sigemptyset(&sa.sa_mask);
		sigaction(SIGCHLD, &sa, NULL);
		sigaction(SIGTERM, &sa, NULL);
		sigaction(SIGINT, &sa, NULL);
		sigaction(SIGQUIT, &sa, NULL);
		sigprocmask(SIG_SETMASK, orig, NULL);
		/* A worker never outlives its manager. */
		if (prctl(PR_SET_PDEATHSIG, SIGTERM) == -1 ||
		    getppid() != parent)
			_exit(1);
		_exit(worker_run(cfg, listen_fd));
	}
	s->pid = pid;
	s->started = mono_ms();
	return pid;
}

static void
reap(struct slot *slots, long n, int stopping)
{
	struct slot	*s;
	pid_t		 pid;
	double		 now = mono_ms(), age;
	int		 status;
	long		 i;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (s = NULL, i = 0; i < n; i++)
			if (slots[i].pid == pid)
				s = &slots[i];
		if (s == NULL)
			continue;
		age = now - s->started;
		s->pid = 0;
		if (WIFSIGNALED(status))
			log_msg(stopping ? LOG_INFO : LOG_ERROR,
			    "worker %ld killed by signal %d after %.0f ms",
			    (long)pid, WTERMSIG(status), age);
		else if (WEXITSTATUS(status) != 0 || !stopping)
			log_msg(stopping ? LOG_INFO : LOG_WARN,
			    "worker %ld exited with status %d after %.0f ms",
			    (long)pid, WEXITSTATUS(status), age);
		if (stopping)
			continue;
		/* Young deaths back off exponentially: no fork storm. */
		if (age < MGR_YOUNG_MS) {
			s->backoff = s->backoff == 0 ? 250 : s->backoff * 2;
			if (s->backoff > MGR_MAX_BACKOFF_MS)
				s->backoff = MGR_MAX_BACKOFF_MS;
		} else
			s->backoff = 0;
		s->respawn_at = now + (double)s->backoff;
	}
}

/* Wait for a signal or until timeout_ms passes, signals unblocked meanwhile. */
static void
wait_signal(const sigset_t *orig, double timeout_ms)
{
	struct timespec	 ts;

	if (timeout_ms < 0)
		timeout_ms = 0;
	ts.tv_sec = (time_t)(timeout_ms / 1000);
	ts.tv_nsec = (long)((timeout_ms - (double)ts.tv_sec * 1000) * 1e6);
	(void)pselect(0, NULL, NULL, NULL, &ts, orig);
}

static long
alive(const struct slot *slots, long n)
{
	long	 i, k = 0;

	for (i = 0; i < n; i++)
		if (slots[i].pid > 0)
			k++;
	return k;
}

static void
signal_all(const struct slot *slots, long n, int sig)
{
	long	 i;

	for (i = 0; i < n; i++)
		if (slots[i].pid > 0)
			kill(slots[i].pid, sig);
}

int
manager_run(const struct cfg *cfg, int listen_fd, long n)
{
	struct sigaction	 sa;
	struct slot		*slots;
	sigset_t		 mask, orig;
	double			 now, next, deadline, resend;
	long			 i;
	int			 sig;

	slots = mem_calloc((size_t)n, sizeof(*slots));
	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGQUIT);
	sigprocmask(SIG_BLOCK, &mask, &orig);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGCHLD, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGQUIT, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);

	log_msg(LOG_INFO, "manager %ld starting %ld workers",
	    (long)getpid(), n);
	for (i = 0; i < n; i++)
		spawn(cfg, listen_fd, &slots[i], &orig);

	while (!got_stop) {
		if (got_chld) {
			got_chld = 0;
			reap(slots, n, 0);
		}
		now = mono_ms();
		next = now + 60000;
		for (i = 0; i < n; i++) {
			if (slots[i].pid > 0)
				continue;
			if (slots[i].respawn_at <= now) {
				if (spawn(cfg, listen_fd, &slots[i], &orig) > 0)
					log_msg(LOG_INFO, "respawned worker %ld",
					    (long)slots[i].pid);
				else
					slots[i].respawn_at = now + 1000;
			}
			if (slots[i].pid == 0 && slots[i].respawn_at < next)
				next = slots[i].respawn_at;
		}
		if (got_chld || got_stop)
			continue;
		wait_signal(&orig, next - mono_ms());
	}

	/*
	 * Graceful stop: workers finish the request in hand and exit. The
	 * signal is repeated each second because one that lands just before
	 * a worker blocks in accept would otherwise be missed.
	 */
	sig = got_stop;
	log_msg(LOG_INFO, "manager stopping (signal %d)", sig);
	signal_all(slots, n, sig == SIGQUIT ? SIGKILL : SIGTERM);
	deadline = mono_ms() + (double)cfg->stop_timeout * 1000;
	resend = mono_ms() + 1000;
	for (;;) {
		got_chld = 0;
		reap(slots, n, 1);
		if (alive(slots, n) == 0)
			break;
		now = mono_ms();
		if (now >= deadline) {
			log_msg(LOG_WARN, "stop deadline passed: killing %ld "
			    "workers", alive(slots, n));
			signal_all(slots, n, SIGKILL);
			deadline = now + 60000;
		} else if (now >= resend) {
			signal_all(slots, n, SIGTERM);
			resend = now + 1000;
		}
		if (!got_chld)
			wait_signal(&orig, 100);
	}
	free(slots);
	log_msg(LOG_INFO, "manager stopped");
	return 0;
}
