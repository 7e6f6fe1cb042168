/* What the pieces of the appd binary (manager, worker, router, handlers) share. */
#ifndef APPD_H
#define APPD_H

#include <signal.h>
#include <stddef.h>

#include <fcgiapp.h>

#include "app.h"
#include "buf.h"
#include "cfg.h"
#include "req.h"
#include "resp.h"
#include "store.h"

struct board;
struct board_slot;
struct sms;

/* Per-worker state handed to every handler; lives as long as the worker. */
struct ctx {
	const struct cfg	*cfg;
	struct store		*store;
	struct sms		*sms;
	struct board		*board;	/* the scoreboard, shared */
	struct board_slot	*slot;	/* this worker's row */
	struct buf		 in;	/* request body, reused */
	struct buf		 out;	/* serialised response, reused */
	struct store_profile	 user;	/* this request's user if rq->uid > 0 */
};

/* What a route's request body must be. */
enum body_kind {
	BODY_NONE,		/* any body is ignored */
	BODY_FIELDS,		/* JSON object or form-encoded fields */
	BODY_UPLOAD,		/* multipart/form-data with a file part */
	BODY__MAX
};

/* Whether a route needs a signed-in user. */
enum auth_kind {
	AUTH_NONE,
	AUTH_OPTIONAL,		/* looked up; the handler decides */
	AUTH_REQUIRED,		/* 401 before the handler without one */
	AUTH__MAX
};

/* The H5 pages (pages.c), compiled once from APPD_TEMPLATE_DIR. */
enum page {
	PAGE_NONE,
	PAGE_HOME,
	PAGE_LOGIN,
	PAGE_UNAUTHORIZED,
	PAGE__MAX
};

/* A declared input field: validated in declaration order before the handler runs. */
struct field {
	const char	*name;
	int		 (*valid)(const char *s, size_t len);	/* 1 = good */
	enum app_err	 bad;		/* answer when valid says 0 */
};

typedef enum app_err (*handler_fn)(struct ctx *, struct req *, struct resp *);

/* The route table's rows (routes.c). RT__MAX sizes it. */
enum route_id {
	RT_HEALTHZ,
	RT_CODE,
	RT_REGIST,
	RT_REGISTER,
	RT_LOGIN,
	RT_LOGIN_PAGE,
	RT_HOME,
	RT_ME,
	RT_LOGOUT,
	RT_UPLOAD,
	RT_IMAGES,
	RT_METRICS,
#ifdef APPD_TESTING
	RT_TEST_SLEEP,		/* test builds only: a slow request */
	RT_TEST_CRASH,		/* test builds only: a crashing request */
#endif
	RT__MAX
};

struct route {
	const char		*method;	/* GET routes answer HEAD too */
	const char		*path;
	handler_fn		 handler;
	enum body_kind		 body;
	enum auth_kind		 auth;
	const struct field	*fields;	/* NULL-name terminated, or NULL */
	/*
	 * Errors answered as this page instead of the JSON envelope: always
	 * for a GET, for a form POST when the client accepts text/html.
	 */
	enum page		 errpage;
};

extern const struct route routes[RT__MAX];

/*
 * Find the route for method and path. Returns it, or NULL with *err set to
 * APP_E_NOT_FOUND, or to APP_E_METHOD with the allowed methods written to
 * allow (", "-separated, size bytes).
 */
const struct route *route_find(const char *method, const char *path,
		    enum app_err *err, char *allow, size_t size);

/* Handlers (h_*.c). Each comment lists the statuses/slugs it can produce. */
enum app_err	h_healthz(struct ctx *, struct req *, struct resp *);
enum app_err	h_code(struct ctx *, struct req *, struct resp *);
enum app_err	h_regist(struct ctx *, struct req *, struct resp *);
enum app_err	h_login(struct ctx *, struct req *, struct resp *);
enum app_err	h_login_page(struct ctx *, struct req *, struct resp *);
enum app_err	h_home(struct ctx *, struct req *, struct resp *);
enum app_err	h_me(struct ctx *, struct req *, struct resp *);
enum app_err	h_logout(struct ctx *, struct req *, struct resp *);
enum app_err	h_upload(struct ctx *, struct req *, struct resp *);
enum app_err	h_images(struct ctx *, struct req *, struct resp *);
enum app_err	h_metrics(struct ctx *, struct req *, struct resp *);
#ifdef APPD_TESTING
enum app_err	h_test_sleep(struct ctx *, struct req *, struct resp *);
enum app_err	h_test_crash(struct ctx *, struct req *, struct resp *);
#endif

/*
 * pages.c: load every page template from dir (once, before the workers
 * fork). Returns 0, or -1 with a message naming the file in err.
 */
int		pages_load(const char *dir, char *err, size_t errlen);
void		pages_free(void);

/*
 * Render page p with data (consumed: json_object_put) as an HTML answer
 * with status and the pages' Content-Security-Policy.
 */
void		page_answer(struct resp *rs, enum page p, int status,
		    struct json_object *data);

/* Answer page p carrying the message of error e (and its status). */
void		page_error(struct resp *rs, enum page p, enum app_err e,
		    const char *msg);

/* Whether the client prefers an HTML answer (Accept names text/html). */
int		req_wants_html(const struct req *rq);

/* The Set-Cookie value for a session cookie (value "" clears it). */
void		set_session_cookie(struct resp *rs, const char *value, long ttl);

/* main.c: the absolute path of this binary, as started (re-exec'd on SIGHUP). */
const char	*appd_exe_path(void);

/* main.c: whether this process made the unix socket file (and removes it). */
int		appd_owns_socket(void);

/* Exit status of a worker that retired after max_requests. */
#define WORKER_RECYCLED	3

/*
 * worker.c: serve requests on listen_fd until told to stop (exit status
 * 0), or until it has served its share (WORKER_RECYCLED). board and slot
 * are the scoreboard and this worker's row in it.
 */
int		worker_run(const struct cfg *cfg, int listen_fd,
		    struct board *board, struct board_slot *slot);

/*
 * worker.c: install handler for SIGTERM, SIGINT, SIGQUIT and SIGUSR1 and
 * keep those blocked; *waitmask is the mask that lets them in, used only
 * while waiting for a connection.
 */
void		worker_signals(void (*handler)(int), sigset_t *waitmask);

/*
 * worker.c: wait until listen_fd has a connection to accept (1), or a
 * signal came in (0); -1 with errno on error.
 */
int		worker_wait(int listen_fd, const sigset_t *waitmask);

/*
 * worker.c: libfcgi set up for connections from listen_fd (0, or -1),
 * and one connection accepted into fr: 1 with a request read from an
 * allowed peer (APPD_FRONT_ADDRS) whose request head was complete and
 * well formed (lib/fcgihead); 0 when there was nothing to accept after
 * all, or the connection was refused and closed unanswered (logged);
 * -1 with errno.
 */
int		worker_fcgi_init(FCGX_Request *fr, int listen_fd);
int		worker_accept(const struct cfg *cfg, FCGX_Request *fr);

/*
 * metrics.c: the metrics process: answer every request on listen_fd with
 * the scoreboard in Prometheus text format, until told to stop.
 */
int		metrics_run(const struct cfg *cfg, int listen_fd,
		    struct board *board);

/*
 * manager.c: run n workers on listen_fd (and the metrics process on
 * metrics_fd unless it is -1) until SIGTERM/SIGINT/SIGQUIT; SIGHUP
 * re-executes the binary in place, keeping the sockets. Exit status.
 */
int		manager_run(const struct cfg *cfg, int listen_fd, int metrics_fd,
		    long n);

#endif
