/* The prefork manager: forks the workers and the metrics process, supervises them, reloads in place; never opens the database. */
#include <sys/prctl.h>
#include <sys/select.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "appd.h"
#include "board.h"
#include "log.h"
#include "mono.h"
#include "mem.h"

/* A worker that dies younger than this counts as a crash for backoff. */
#define MGR_YOUNG_MS		2000
/* Longest pause before respawning a crashing slot. */
#define MGR_MAX_BACKOFF_MS	16000
/* The emergency brake: this many crashes within the window... */
#define MGR_BRAKE_CRASHES(n)	((n) * 2 + 2 > 60 ? 60 : (n) * 2 + 2)
#define MGR_BRAKE_WINDOW_MS	10000
/* ...and every respawn waits at least this long until it clears. */
#define MGR_BRAKE_PAUSE_MS	5000
/* Old workers of a reload, kept as "pid,pid,..." across exec. */
#define MGR_ENV_OLD		"APPD_REEXEC_OLD"

struct proc {
	pid_t	 pid;		/* 0: empty */
	double	 started;	/* monotonic ms */
	double	 respawn_at;	/* when empty: earliest restart */
	long	 backoff;	/* ms, doubles on each young death */
	int	 timed_out;	/* killed by us for the request timeout */
};

/* A process of an earlier image, finishing its request after a reload. */
struct old {
	pid_t	 pid;
	double	 deadline;	/* monotonic ms: killed after it */
};

struct mgr {
	const struct cfg	*cfg;
	int			 listen_fd;
	int			 metrics_fd;
	long			 n;
	struct proc		*procs;		/* n workers */
	struct proc		 metrics;
	struct board		*board;
	struct old		*old;		/* draining after a reload */
	long			 nold;
	double			 crash_times[64];
	int			 ncrash;
	double			 brake_until;
	sigset_t		 mask;		/* the signals we act on */
};

static volatile sig_atomic_t	 got_chld, got_stop, got_hup, got_usr1;

static void
on_signal(int sig)
{
	switch (sig) {
	case SIGCHLD:
		got_chld = 1;
		break;
	case SIGHUP:
		got_hup = 1;
		break;
	case SIGUSR1:
		got_usr1 = 1;
		break;
	default:
		got_stop = sig;
		break;
	}
}

/* The signals the manager acts on, all given handler h. */
static void
handle_signals(void (*h)(int))
{
	static const int	 sigs[] = {
		SIGCHLD, SIGTERM, SIGINT, SIGQUIT, SIGHUP, SIGUSR1,
	};
	struct sigaction	 sa;
	size_t			 i;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = h;
	sigemptyset(&sa.sa_mask);
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaction(sigs[i], &sa, NULL);
}

/* In a child: become the configured user before any request is seen. */
static int
drop_privileges(const struct cfg *cfg)
{
	struct passwd	*pw;
	struct group	*gr;
	gid_t		 gid;

	if (geteuid() != 0 || cfg->user[0] == '\0')
		return 0;
	if ((pw = getpwnam(cfg->user)) == NULL) {
		log_msg(LOG_ERROR, "APPD_USER: no user '%s'", cfg->user);
		return -1;
	}
	gid = pw->pw_gid;
	if (cfg->group[0] != '\0') {
		if ((gr = getgrnam(cfg->group)) == NULL) {
			log_msg(LOG_ERROR, "APPD_GROUP: no group '%s'",
			    cfg->group);
			return -1;
		}
		gid = gr->gr_gid;
	}
	if (setgroups(0, NULL) == -1 || setgid(gid) == -1 ||
	    setuid(pw->pw_uid) == -1 || setuid(0) != -1) {
		log_msg(LOG_ERROR, "cannot become %s: %s", cfg->user,
		    strerror(errno));
		return -1;
	}
	return 0;
}

/* Fork a worker into slot k (k < 0: the metrics process). */
static pid_t
spawn(struct mgr *m, long k)
{
	struct proc		*p = k < 0 ? &m->metrics : &m->procs[k];
	sigset_t		 none;
	pid_t			 pid, parent = getpid();
	int			 rc;

	if ((pid = fork()) == -1) {
		log_msg(LOG_ERROR, "fork: %s", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		/* The child starts from default dispositions, nothing blocked. */
		handle_signals(SIG_DFL);
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		/* A worker never outlives its manager. */
		if (prctl(PR_SET_PDEATHSIG, SIGTERM) == -1 ||
		    getppid() != parent)
			_exit(1);
		if (drop_privileges(m->cfg) == -1)
			_exit(1);
		if (k < 0) {
			close(m->listen_fd);
			rc = metrics_run(m->cfg, m->metrics_fd, m->board);
		} else {
			if (m->metrics_fd != -1)
				close(m->metrics_fd);
			rc = worker_run(m->cfg, m->listen_fd, m->board,
			    &m->board->slots[k]);
		}
		_exit(rc);
	}
	p->pid = pid;
	p->started = mono_ms();
	p->timed_out = 0;
	if (k >= 0)
		m->board->slots[k].pid = pid;
	return pid;
}

/* Count a crash; returns the extra pause the emergency brake imposes. */
static double
brake(struct mgr *m, double now)
{
	int	 i, j, recent = 0;

	for (i = 0, j = 0; i < m->ncrash; i++)
		if (now - m->crash_times[i] < MGR_BRAKE_WINDOW_MS)
			m->crash_times[j++] = m->crash_times[i];
	m->ncrash = j;
	if (m->ncrash < (int)(sizeof(m->crash_times) /
	    sizeof(m->crash_times[0])))
		m->crash_times[m->ncrash++] = now;
	recent = m->ncrash;
	if (recent >= MGR_BRAKE_CRASHES(m->n)) {
		if (now >= m->brake_until)
			log_msg(LOG_ERROR, "emergency brake: %d worker crashes "
			    "in %d s; respawning slowly", recent,
			    MGR_BRAKE_WINDOW_MS / 1000);
		m->brake_until = now + MGR_BRAKE_PAUSE_MS;
	}
	return m->brake_until > now ? m->brake_until - now : 0;
}

static void
reaped(struct mgr *m, struct proc *p, long k, int status, int stopping)
{
	double		 now = mono_ms(), age = now - p->started, pause;
	enum board_cause cause = CAUSE_CRASH;
	const char	*what;
	int		 route = -1;

	if (k >= 0) {
		route = m->board->slots[k].route;
		if (m->board->slots[k].state != BOARD_BUSY)
			route = -1;
	}
	if (p->timed_out)
		cause = CAUSE_TIMEOUT;
	else if (WIFEXITED(status) && WEXITSTATUS(status) == WORKER_RECYCLED)
		cause = CAUSE_RECYCLE;
	what = k < 0 ? "metrics process" : "worker";
	if (stopping)
		log_msg(LOG_DEBUG, "%s %ld exited", what, (long)p->pid);
	else if (cause == CAUSE_CRASH && WIFSIGNALED(status))
		log_msg(LOG_ERROR, "%s %ld killed by signal %d after %.0f ms%s%s",
		    what, (long)p->pid, WTERMSIG(status), age,
		    route >= 0 ? " while serving " : "",
		    route >= 0 ? routes[route].path : "");
	else if (cause == CAUSE_CRASH)
		log_msg(LOG_ERROR, "%s %ld exited with status %d after %.0f ms",
		    what, (long)p->pid, WEXITSTATUS(status), age);
	if (k >= 0) {
		if (!stopping)
			m->board->restarts[cause]++;
		board_retire(m->board, &m->board->slots[k]);
	}
	p->pid = 0;
	if (stopping)
		return;
	/* Young crashes back off exponentially: no fork storm. */
	if (cause == CAUSE_CRASH && age < MGR_YOUNG_MS) {
		p->backoff = p->backoff == 0 ? 250 : p->backoff * 2;
		if (p->backoff > MGR_MAX_BACKOFF_MS)
			p->backoff = MGR_MAX_BACKOFF_MS;
	} else
		p->backoff = 0;
	pause = cause == CAUSE_CRASH ? brake(m, now) : 0;
	p->respawn_at = now + (pause > (double)p->backoff ? pause :
	    (double)p->backoff);
}

static void
reap(struct mgr *m, int stopping)
{
	pid_t	 pid;
	long	 k, i;
	int	 status;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (k = 0; k < m->n; k++)
			if (m->procs[k].pid == pid) {
				reaped(m, &m->procs[k], k, status, stopping);
				break;
			}
		if (k < m->n)
			continue;
		if (m->metrics.pid == pid) {
			reaped(m, &m->metrics, -1, status, stopping);
			continue;
		}
		for (i = 0; i < m->nold; i++)
			if (m->old[i].pid == pid) {
				m->old[i] = m->old[--m->nold];
				log_msg(LOG_DEBUG, "old worker %ld drained",
				    (long)pid);
				break;
			}
	}
}

/* Wait for a signal or until timeout_ms passes, signals unblocked meanwhile. */
static void
wait_signal(double timeout_ms)
{
	struct timespec	 ts;
	sigset_t	 none;

	if (timeout_ms < 0)
		timeout_ms = 0;
	ts.tv_sec = (time_t)(timeout_ms / 1000);
	ts.tv_nsec = (long)((timeout_ms - (double)ts.tv_sec * 1000) * 1e6);
	sigemptyset(&none);
	(void)pselect(0, NULL, NULL, NULL, &ts, &none);
}

static long
alive(const struct mgr *m)
{
	long	 k, a = m->metrics.pid > 0 ? 1 + m->nold : m->nold;

	for (k = 0; k < m->n; k++)
		if (m->procs[k].pid > 0)
			a++;
	return a;
}

static void
signal_all(const struct mgr *m, int sig)
{
	long	 k;

	for (k = 0; k < m->n; k++)
		if (m->procs[k].pid > 0)
			kill(m->procs[k].pid, sig);
	if (m->metrics.pid > 0)
		kill(m->metrics.pid, sig);
	for (k = 0; k < m->nold; k++)
		kill(m->old[k].pid, sig);
}

/* Kill workers whose request has run past the timeout. */
static void
enforce_timeout(struct mgr *m, double now)
{
	const struct board_slot	*s;
	double			 limit;
	long			 k;

	if (m->cfg->request_timeout <= 0)
		return;
	limit = (double)m->cfg->request_timeout * 1000;
	for (k = 0; k < m->n; k++) {
		s = &m->board->slots[k];
		if (m->procs[k].pid <= 0 || m->procs[k].timed_out ||
		    s->state != BOARD_BUSY || now - s->start_ms <= limit)
			continue;
		log_msg(LOG_ERROR, "request timeout: killing worker %ld, "
		    "%s ran for %.0f ms", (long)m->procs[k].pid,
		    s->route >= 0 && s->route < RT__MAX ?
		    routes[s->route].path : "(unrouted)", now - s->start_ms);
		m->procs[k].timed_out = 1;
		kill(m->procs[k].pid, SIGKILL);
	}
}

/*
 * SIGHUP: exec the binary again in this very process (same pid, so
 * supervisors and Nginx see nothing), handing over the sockets and the
 * list of current workers. The new image starts its own workers first and
 * only then asks the old ones to finish their request and exit.
 */
static void
reexec(struct mgr *m)
{
	struct buf	 olds;
	char		 fd[16], mfd[16];
	double		 deadline;
	long		 k;

	/* "pid:deadline,...": a drain deadline holds across reloads. */
	buf_init(&olds);
	deadline = mono_ms() + (double)m->cfg->reload_drain * 1000;
	for (k = 0; k < m->n; k++)
		if (m->procs[k].pid > 0)
			buf_printf(&olds, "%s%ld:%.0f", olds.len ? "," : "",
			    (long)m->procs[k].pid, deadline);
	if (m->metrics.pid > 0)
		buf_printf(&olds, "%s%ld:%.0f", olds.len ? "," : "",
		    (long)m->metrics.pid, deadline);
	for (k = 0; k < m->nold; k++)
		buf_printf(&olds, "%s%ld:%.0f", olds.len ? "," : "",
		    (long)m->old[k].pid, m->old[k].deadline);
	snprintf(fd, sizeof(fd), "%d", m->listen_fd);
	snprintf(mfd, sizeof(mfd), "%d", m->metrics_fd);
	if (fcntl(m->listen_fd, F_SETFD, 0) == -1 || (m->metrics_fd != -1 &&
	    fcntl(m->metrics_fd, F_SETFD, 0) == -1) ||
	    setenv("APPD_REEXEC_FD", fd, 1) == -1 ||
	    setenv("APPD_REEXEC_METRICS_FD", mfd, 1) == -1 ||
	    setenv(MGR_ENV_OLD, olds.len ? olds.data : "", 1) == -1 ||
	    setenv("APPD_REEXEC_OWNS", appd_owns_socket() ? "1" : "0", 1) ==
	    -1) {
		log_msg(LOG_ERROR, "reload failed: %s", strerror(errno));
		goto fail;
	}
	log_msg(LOG_INFO, "reload: re-executing %s", appd_exe_path());
	/*
	 * The signals stay blocked across exec: one that comes while the
	 * new image starts up waits for its handlers instead of killing it.
	 */
	execl(appd_exe_path(), appd_exe_path(), (char *)NULL);
	log_msg(LOG_ERROR, "reload failed: exec %s: %s", appd_exe_path(),
	    strerror(errno));
fail:
	unsetenv("APPD_REEXEC_FD");
	unsetenv("APPD_REEXEC_METRICS_FD");
	unsetenv(MGR_ENV_OLD);
	unsetenv("APPD_REEXEC_OWNS");
	(void)fcntl(m->listen_fd, F_SETFD, FD_CLOEXEC);
	if (m->metrics_fd != -1)
		(void)fcntl(m->metrics_fd, F_SETFD, FD_CLOEXEC);
	buf_cleanup(&olds);
}

/* After a reload: adopt the previous image's processes, to be drained. */
static void
adopt_old(struct mgr *m)
{
	const char	*s = getenv(MGR_ENV_OLD);
	char		*end;
	long		 pid;
	double		 deadline;

	if (s == NULL)
		return;
	m->old = mem_calloc(strlen(s) / 2 + 2, sizeof(*m->old));
	while (*s != '\0') {
		pid = strtol(s, &end, 10);
		if (end == s || *end != ':')
			break;
		s = end + 1;
		deadline = strtod(s, &end);
		if (end == s)
			break;
		if (pid > 0) {
			m->old[m->nold].pid = (pid_t)pid;
			m->old[m->nold++].deadline = deadline;
		}
		s = *end == ',' ? end + 1 : end;
	}
	unsetenv(MGR_ENV_OLD);
}

/* Kill old processes past their drain deadline; the next deadline. */
static double
drain_old(struct mgr *m, double now)
{
	double	 next = now + 60000;
	long	 k;

	for (k = 0; k < m->nold; k++) {
		if (m->old[k].deadline <= now) {
			log_msg(LOG_WARN, "reload: old process %ld still busy "
			    "after the drain time: killed", (long)m->old[k].pid);
			kill(m->old[k].pid, SIGKILL);
			m->old[k].deadline = now + 60000;
		}
		if (m->old[k].deadline < next)
			next = m->old[k].deadline;
	}
	return next;
}

int
manager_run(const struct cfg *cfg, int listen_fd, int metrics_fd, long n)
{
	struct sigaction	 sa;
	struct mgr		 m;
	double			 now, next, deadline, resend;
	long			 k;
	int			 sig;

	memset(&m, 0, sizeof(m));
	m.cfg = cfg;
	m.listen_fd = listen_fd;
	m.metrics_fd = metrics_fd;
	m.n = n;
	m.procs = mem_calloc((size_t)n, sizeof(*m.procs));
	if ((m.board = board_new(n)) == NULL) {
		log_msg(LOG_ERROR, "scoreboard: %s", strerror(errno));
		free(m.procs);
		return 1;
	}
	m.board->max_workers = n;
	adopt_old(&m);

	sigemptyset(&m.mask);
	sigaddset(&m.mask, SIGCHLD);
	sigaddset(&m.mask, SIGTERM);
	sigaddset(&m.mask, SIGINT);
	sigaddset(&m.mask, SIGQUIT);
	sigaddset(&m.mask, SIGHUP);
	sigaddset(&m.mask, SIGUSR1);
	sigprocmask(SIG_BLOCK, &m.mask, NULL);
	handle_signals(on_signal);
	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);

	log_msg(LOG_INFO, "manager %ld starting %ld workers%s",
	    (long)getpid(), n, m.nold ? " (reload)" : "");
	for (k = 0; k < n; k++)
		spawn(&m, k);
	if (metrics_fd != -1)
		spawn(&m, -1);
	if (m.nold > 0) {
		/* The new workers are accepting: the old ones may go now. */
		for (k = 0; k < m.nold; k++)
			kill(m.old[k].pid, SIGTERM);
		log_msg(LOG_INFO, "reload: draining %ld old processes",
		    m.nold);
	}

	while (!got_stop) {
		if (got_chld) {
			got_chld = 0;
			reap(&m, 0);
		}
		if (got_usr1) {
			got_usr1 = 0;
			(void)log_reopen();
			signal_all(&m, SIGUSR1);
		}
		if (got_hup) {
			got_hup = 0;
			reexec(&m);
		}
		now = mono_ms();
		next = drain_old(&m, now);
		enforce_timeout(&m, now);
		for (k = -1; k < n; k++) {
			struct proc *p = k < 0 ? &m.metrics : &m.procs[k];

			if (k < 0 && metrics_fd == -1)
				continue;
			if (p->pid > 0)
				continue;
			if (p->respawn_at <= now) {
				if (spawn(&m, k) > 0)
					log_msg(LOG_INFO, "respawned %s %ld",
					    k < 0 ? "metrics process" :
					    "worker", (long)p->pid);
				else
					p->respawn_at = now + 1000;
			}
			if (p->pid == 0 && p->respawn_at < next)
				next = p->respawn_at;
		}
		/* Busy workers are watched for the request timeout. */
		if (cfg->request_timeout > 0 && next > now + 250)
			next = now + 250;
		if (got_chld || got_stop || got_hup || got_usr1)
			continue;
		wait_signal(next - mono_ms());
	}

	/*
	 * Stop: SIGTERM/SIGINT let workers finish the request in hand, and
	 * are repeated each second (one that lands just before a worker
	 * blocks in accept would be missed); SIGQUIT kills at once.
	 */
	sig = got_stop;
	log_msg(LOG_INFO, "manager stopping (signal %d)", sig);
	signal_all(&m, sig == SIGQUIT ? SIGKILL : SIGTERM);
	deadline = mono_ms() + (double)cfg->stop_timeout * 1000;
	resend = mono_ms() + 1000;
	for (;;) {
		got_chld = 0;
		reap(&m, 1);
		if (alive(&m) == 0)
			break;
		now = mono_ms();
		if (now >= deadline) {
			log_msg(LOG_WARN, "stop deadline passed: killing %ld "
			    "processes", alive(&m));
			signal_all(&m, SIGKILL);
			deadline = now + 60000;
		} else if (now >= resend) {
			signal_all(&m, SIGTERM);
			resend = now + 1000;
		}
		if (!got_chld)
			wait_signal(100);
	}
	board_free(m.board);
	free(m.procs);
	free(m.old);
	log_msg(LOG_INFO, "manager stopped");
	return 0;
}
