/* A worker: a blocking FCGX_Accept_r loop that turns each FastCGI request into one response. */
#include <sys/epoll.h>
#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <fcgiapp.h>
#include <json-c/json.h>

#include <sodium.h>

#include "appd.h"
#include "fcgihead.h"
#include "board.h"
#include "img.h"
#include "log.h"
#include "mono.h"
#include "mpart.h"
#include "sms.h"
#include "sock.h"
#include "store.h"
#include "user.h"

static volatile sig_atomic_t	 stopping, reopen;

static void
on_signal(int sig)
{
	if (sig == SIGUSR1)
		reopen = 1;
	else
		stopping = 1;
}

/*
 * Signals reach a worker only while it waits for a connection (see
 * worker_wait): libfcgi, once it has accepted one, gives up on it when a
 * read is interrupted, which would drop a request mid-reload. waitmask
 * gets the mask to wait with.
 */
void
worker_signals(void (*handler)(int), sigset_t *waitmask)
{
	static const int	 sigs[] = { SIGTERM, SIGINT, SIGQUIT, SIGUSR1 };
	struct sigaction	 sa;
	sigset_t		 block;
	size_t			 i;

	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sigemptyset(&block);
	sa.sa_handler = handler;
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		sigaction(sigs[i], &sa, NULL);
		sigaddset(&block, sigs[i]);
	}
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigprocmask(SIG_BLOCK, &block, waitmask);
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigdelset(waitmask, sigs[i]);
}

/*
 * The wait is an epoll set of its own per process with EPOLLEXCLUSIVE:
 * a new connection wakes one idle worker, not all of them (with ppoll
 * every idle worker woke and all but one found nothing to accept). It is
 * made on first use in the waiting process itself; the manager, which
 * forks, never waits here.
 */
int
worker_wait(int listen_fd, const sigset_t *waitmask)
{
	static int		 ep = -1, ep_fd = -1;
	struct epoll_event	 ev;
	int			 n;

	if (ep == -1 || ep_fd != listen_fd) {
		if (ep != -1)
			close(ep);
		if ((ep = epoll_create1(EPOLL_CLOEXEC)) == -1)
			return -1;
		memset(&ev, 0, sizeof(ev));
		ev.events = EPOLLIN | EPOLLEXCLUSIVE;
		ev.data.fd = listen_fd;
		if (epoll_ctl(ep, EPOLL_CTL_ADD, listen_fd, &ev) == -1) {
			close(ep);
			ep = -1;
			return -1;
		}
		ep_fd = listen_fd;
	}
	if ((n = epoll_pwait(ep, &ev, 1, -1, waitmask)) == -1)
		return errno == EINTR ? 0 : -1;
	if (n == 0)
		return 0;
	if (ev.events & EPOLLERR) {
		errno = EBADF;
		return -1;
	}
	return (ev.events & EPOLLIN) != 0;
}

/* The listening socket: worker_accept accepts from it, libfcgi never does. */
static int	 accept_fd = -1;

int
worker_fcgi_init(FCGX_Request *fr, int listen_fd)
{
	int	 dummy;

	/*
	 * libfcgi gets a descriptor it cannot accept from: every connection
	 * it reads comes from worker_accept, checked first. (When libfcgi
	 * gives up on a connection it would otherwise accept the next one
	 * itself, unchecked.)
	 */
	if ((dummy = open("/dev/null", O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	accept_fd = listen_fd;
	if (FCGX_Init() != 0 || FCGX_InitRequest(fr, dummy, 0) != 0) {
		close(dummy);
		return -1;
	}
	return 0;
}

/*
 * Wait until fd's first bytes hold a whole, sane FastCGI request head
 * (lib/fcgihead), looking without reading: libfcgi then reads it all at
 * once. 1 when it is there; 0 when the peer is gone, sent something
 * malformed, or was too slow (limit_ms).
 */
static int
head_ready(int fd, long limit_ms)
{
	static unsigned char	 head[FCGIHEAD_MAX];
	struct pollfd		 p;
	struct timespec		 ts;
	double			 deadline = mono_ms() + (double)limit_ms;
	double			 left;
	ssize_t			 n;
	long			 nap_us = 500;

	for (;;) {
		n = recv(fd, head, sizeof(head), MSG_PEEK | MSG_DONTWAIT);
		if (n == 0)
			return 0;
		if (n > 0) {
			switch (fcgihead_check(head, (size_t)n)) {
			case FCGIHEAD_OK:
				return 1;
			case FCGIHEAD_BAD:
				log_msg(LOG_WARN, "refused a FastCGI "
				    "connection: malformed request head");
				return 0;
			default:
				break;
			}
		} else if (errno != EAGAIN && errno != EWOULDBLOCK &&
		    errno != EINTR)
			return 0;
		if ((left = deadline - mono_ms()) <= 0) {
			log_msg(LOG_WARN, "refused a FastCGI connection: "
			    "request head incomplete after %ld ms", limit_ms);
			return 0;
		}
		if (n < 0) {
			/* Nothing queued: poll can wait for the first byte. */
			p.fd = fd;
			p.events = POLLIN;
			(void)poll(&p, 1, (int)left + 1);
			continue;
		}
		/*
		 * Part of it is queued. A peer that has shut down its side
		 * sends no more, and a peek never sees that end behind queued
		 * bytes: ask poll, without waiting.
		 */
		p.fd = fd;
		p.events = POLLRDHUP;
		if (poll(&p, 1, 0) == 1 &&
		    (p.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0) {
			log_msg(LOG_WARN, "refused a FastCGI connection: "
			    "closed by the peer within the request head");
			return 0;
		}
		/*
		 * poll for POLLIN would return at once: nap, longer each
		 * time (Nginx writes a head in one go; only a broken or
		 * hostile peer ends up here).
		 */
		ts.tv_sec = 0;
		ts.tv_nsec = nap_us * 1000;
		(void)nanosleep(&ts, NULL);
		if (nap_us < 50000)
			nap_us *= 2;
	}
}

int
worker_accept(const struct cfg *cfg, FCGX_Request *fr)
{
	char	 peer[64];
	long	 limit_ms;
	int	 fd;

	if ((fd = accept(accept_fd, NULL, NULL)) == -1)
		return errno == EAGAIN || errno == EWOULDBLOCK ||
		    errno == EINTR || errno == ECONNABORTED ? 0 : -1;
	if (!sock_peer_allowed(fd, cfg->front_addrs, peer, sizeof(peer))) {
		/* Not a byte read, no answer at all. */
		log_msg(LOG_WARN, "refused a FastCGI connection from %s: not "
		    "in APPD_FRONT_ADDRS", peer[0] != '\0' ? peer :
		    "an unknown peer");
		close(fd);
		return 0;
	}
	/* Within the request timeout, so the manager need not step in. */
	limit_ms = 5000;
	if (cfg->request_timeout > 0 && cfg->request_timeout * 500 < limit_ms)
		limit_ms = cfg->request_timeout * 500;
	if (!head_ready(fd, limit_ms)) {
		close(fd);
		return 0;
	}
	/*
	 * libfcgi reads a connection already in fr->ipcFd instead of
	 * accepting one. keepConnection stops the FCGX_Finish_r at the top
	 * of FCGX_Accept_r from closing it as the end of the previous
	 * request; the BEGIN_REQUEST record sets it again.
	 */
	if (fr->ipcFd >= 0) {
		/*
		 * The last peer asked to keep its connection (FCGI_KEEP_CONN;
		 * Nginx never does here): connections are not kept, and
		 * overwriting the descriptor would leak it.
		 */
		close(fr->ipcFd);
	}
	fr->ipcFd = fd;
	fr->keepConnection = 1;
	if (FCGX_Accept_r(fr) < 0) {
		/* libfcgi closed fd, then found nothing it could accept. */
		fr->ipcFd = -1;
		return 0;
	}
	return 1;
}

/*
 * Milliseconds since Nginx received the request (REQUEST_START is its
 * $msec: seconds with a millisecond fraction), or -1 when unknown.
 */
static double
queued_ms(const char *start)
{
	char	*end;
	double	 t;

	if (start == NULL || *start == '\0')
		return -1;
	t = strtod(start, &end);
	if (*end != '\0' || t <= 0)
		return -1;
	return mono_wall_ms() - t * 1000;
}

/*
 * Read exactly rq->content_length bytes into c->in. A short read means the
 * client or Nginx gave up mid-body: the request is refused, never handled.
 */
static enum app_err
read_body(struct ctx *c, FCGX_Stream *in, const struct req *rq,
    struct resp *rs)
{
	size_t	 want = (size_t)rq->content_length;
	int	 n;

	buf_reset(&c->in);
	while (c->in.len < want) {
		char	 chunk[8192];
		size_t	 ask = want - c->in.len;

		if (ask > sizeof(chunk))
			ask = sizeof(chunk);
		n = FCGX_GetStr(chunk, (int)ask, in);
		if (n <= 0)
			break;
		buf_append(&c->in, chunk, (size_t)n);
	}
	if (c->in.len < want) {
		log_msg(LOG_WARN, "request body incomplete: %zu of %zu bytes",
		    c->in.len, want);
		resp_err(rs, APP_E_INVALID_JSON, "request body incomplete");
		return APP_E_INVALID_JSON;
	}
	return APP_OK;
}

/*
 * Stream a multipart body through the parser, chunk by chunk as libfcgi
 * hands it over; only the file part is kept.
 */
static enum app_err
read_upload(struct ctx *c, FCGX_Stream *in, struct req *rq,
    struct resp *rs)
{
	char		 chunk[65536];
	long long	 left = rq->content_length;
	enum app_err	 e;
	int		 n;

	rq->upload = mpart_new(rq->content_type, (size_t)c->cfg->upload_max_body);
	if (rq->upload == NULL) {
		resp_err(rs, APP_E_MEDIA_TYPE, "multipart/form-data needs a "
		    "boundary parameter");
		return APP_E_MEDIA_TYPE;
	}
	while (left > 0) {
		n = FCGX_GetStr(chunk, left > (long long)sizeof(chunk) ?
		    (int)sizeof(chunk) : (int)left, in);
		if (n <= 0) {
			log_msg(LOG_WARN, "upload body incomplete: %lld of "
			    "%lld bytes", rq->content_length - left,
			    rq->content_length);
			resp_err(rs, APP_E_INVALID_IMAGE, "upload incomplete");
			return APP_E_INVALID_IMAGE;
		}
		left -= n;
		if (mpart_feed(rq->upload, chunk, (size_t)n) == -1)
			break;
	}
	if (mpart_error(rq->upload) == APP_OK &&
	    mpart_finish(rq->upload) == 0)
		return APP_OK;
	e = mpart_error(rq->upload);
	if (e == APP_E_MISSING_FIELD)
		resp_err(rs, e, "a file in field 'image' (or 'file') is "
		    "required");
	else
		resp_err(rs, e, mpart_reason(rq->upload));
	return e;
}

/* Check each declared field: presence first, then its validator. */
static enum app_err
check_fields(const struct route *r, const struct req *rq, struct resp *rs)
{
	const struct field	*f;
	const char		*s;
	size_t			 len;
	char			 msg[96];

	if (r->fields == NULL)
		return APP_OK;
	for (f = r->fields; f->name != NULL; f++)
		if (!req_field(rq, f->name, &s, &len)) {
			snprintf(msg, sizeof(msg), "field '%s' is required "
			    "and must be a string", f->name);
			resp_err(rs, APP_E_MISSING_FIELD, msg);
			return APP_E_MISSING_FIELD;
		}
	for (f = r->fields; f->name != NULL; f++) {
		(void)req_field(rq, f->name, &s, &len);
		if (f->valid != NULL && !f->valid(s, len))
			return f->bad;
	}
	return APP_OK;
}

/*
 * A state-changing request that authenticates with the cookie must come
 * from our own pages: an Origin other than the public URL's, or a
 * browser's Sec-Fetch-Site naming another site, is refused.
 */
static int
same_origin(const struct ctx *c, const struct req *rq)
{
	const char	*pub = c->cfg->public_url, *slash;
	size_t		 n;

	if (rq->fetch_site != NULL && strcmp(rq->fetch_site, "same-origin") &&
	    strcmp(rq->fetch_site, "none"))
		return 0;
	if (rq->origin == NULL)
		return 1;
	/* The origin of the public URL: scheme://host[:port], no path. */
	slash = strstr(pub, "://");
	slash = slash != NULL ? strchr(slash + 3, '/') : NULL;
	n = slash != NULL ? (size_t)(slash - pub) : strlen(pub);
	return strlen(rq->origin) == n && strncmp(rq->origin, pub, n) == 0;
}

/*
 * The front line, in this fixed order before any handler runs:
 * route (404), method (405 + Allow), auth (401), content type (415),
 * size (413), body read and decode (400), declared fields (400).
 */
static enum app_err
dispatch(struct ctx *c, FCGX_Request *fr, struct req *rq, struct resp *rs,
    const struct route **rp)
{
	const struct route	*r;
	enum app_err		 e;
	enum req_ctype		 ct;
	char			 allow[128];

	if ((*rp = r = route_find(rq->method, rq->path, &e, allow,
	    sizeof(allow))) == NULL) {
		if (e == APP_E_METHOD)
			resp_header(rs, "Allow", "%s", allow);
		return e;
	}
	board_route(c->slot, (int)(r - routes));
	if (r->auth != AUTH_NONE) {
		e = user_authenticate(c->store, rq->authorization, rq->cookie,
		    &c->user, rq->cred_hash, &rq->via_cookie);
		if (e != APP_OK && e != APP_E_UNAUTHORIZED)
			return e;
		rq->uid = e == APP_OK ? c->user.id : 0;
		if (rq->uid <= 0 && r->auth == AUTH_REQUIRED)
			return APP_E_UNAUTHORIZED;
		if (rq->uid > 0 && rq->via_cookie &&
		    strcmp(rq->method, "GET") != 0 &&
		    strcmp(rq->method, "HEAD") != 0 && !same_origin(c, rq))
			return APP_E_FORBIDDEN;
	}
	if (r->body == BODY_FIELDS) {
		ct = req_ctype(rq->content_type);
		if (ct != REQ_CT_JSON && ct != REQ_CT_FORM) {
			resp_err(rs, APP_E_MEDIA_TYPE, "Content-Type must be "
			    "application/json or "
			    "application/x-www-form-urlencoded");
			return APP_E_MEDIA_TYPE;
		}
		if (rq->content_length < 0)
			rq->content_length = 0;
		if (rq->content_length > c->cfg->json_max_body)
			return APP_E_TOO_LARGE;
		if ((e = read_body(c, fr->in, rq, rs)) != APP_OK)
			return e;
		e = req_parse_body(c->in.data == NULL ? "" : c->in.data,
		    c->in.len, ct, &rq->body);
		if (e != APP_OK)
			return e;
		if ((e = check_fields(r, rq, rs)) != APP_OK)
			return e;
	} else if (r->body == BODY_UPLOAD) {
		if (req_ctype(rq->content_type) != REQ_CT_MULTIPART) {
			resp_err(rs, APP_E_MEDIA_TYPE, "Content-Type must be "
			    "multipart/form-data");
			return APP_E_MEDIA_TYPE;
		}
		if (rq->content_length < 0)
			rq->content_length = 0;
		if (rq->content_length > c->cfg->upload_max_body)
			return APP_E_TOO_LARGE;
		if ((e = read_upload(c, fr->in, rq, rs)) != APP_OK)
			return e;
	}
	return r->handler(c, rq, rs);
}

/* The FastCGI params appd reads: found in one pass over the list. */
struct params {
	const char	*method, *uri, *script, *query, *ctype, *length;
	const char	*rid, *addr, *scheme, *start;
	const char	*cookie, *auth, *origin, *accept, *fetch_site;
};

#define P(name, field)	{ name, sizeof(name) - 1, offsetof(struct params, field) }
static const struct {
	const char	*name;
	size_t		 len;
	size_t		 off;
} wanted[] = {
	P("REQUEST_METHOD", method), P("DOCUMENT_URI", uri),
	P("SCRIPT_NAME", script), P("QUERY_STRING", query),
	P("CONTENT_TYPE", ctype), P("CONTENT_LENGTH", length),
	P("REQUEST_ID", rid), P("REMOTE_ADDR", addr),
	P("REQUEST_SCHEME", scheme), P("REQUEST_START", start),
	P("HTTP_COOKIE", cookie), P("HTTP_AUTHORIZATION", auth),
	P("HTTP_ORIGIN", origin), P("HTTP_ACCEPT", accept),
	P("HTTP_SEC_FETCH_SITE", fetch_site),
};
#undef P

/*
 * Fill p from envp ("NAME=value" strings, as libfcgi keeps them); the
 * first of repeated names wins, as with FCGX_GetParam. Absent ones stay
 * NULL.
 */
static void
read_params(char **envp, struct params *p)
{
	const char	**slot;
	const char	 *eq;
	size_t		  i, n;

	memset(p, 0, sizeof(*p));
	for (; envp != NULL && *envp != NULL; envp++) {
		if ((eq = strchr(*envp, '=')) == NULL)
			continue;
		n = (size_t)(eq - *envp);
		for (i = 0; i < sizeof(wanted) / sizeof(wanted[0]); i++) {
			if (wanted[i].len != n ||
			    memcmp(wanted[i].name, *envp, n) != 0)
				continue;
			slot = (const char **)(void *)((char *)p +
			    wanted[i].off);
			if (*slot == NULL)
				*slot = eq + 1;
			break;
		}
	}
}

/*
 * Everything about one request happens here, and it ends here. Returns 1
 * when the request was read to its end (the connection can be closed
 * plainly), else 0.
 */
static int
serve(struct ctx *c, FCGX_Request *fr)
{
	const struct route	*r = NULL;
	struct req	 rq;
	struct resp	 rs;
	enum app_err	 e;
	struct params	 pa;
	double		 ms, waited;
	int		 head, whole;

	req_init(&rq);
	resp_init(&rs);
	rq.start_ms = mono_ms();
	board_begin(c->slot, rq.start_ms);
	read_params(fr->envp, &pa);
	rq.method = pa.method != NULL ? pa.method : "";
	/* Not behind our Nginx config: fall back to the raw URI. */
	rq.path = pa.uri != NULL ? pa.uri : pa.script != NULL ? pa.script : "";
	rq.query = pa.query;
	rq.content_type = pa.ctype;
	rq.rid = pa.rid;
	rq.remote_addr = pa.addr;
	rq.cookie = pa.cookie;
	rq.authorization = pa.auth;
	rq.origin = pa.origin;
	rq.scheme = pa.scheme;
	rq.accept = pa.accept;
	rq.fetch_site = pa.fetch_site;
	log_set_rid(rq.rid);
	head = strcmp(rq.method, "HEAD") == 0;

	waited = queued_ms(pa.start);
	if (c->cfg->queue_deadline_ms > 0 &&
	    waited > (double)c->cfg->queue_deadline_ms) {
		/* The client has likely given up: do not work for nobody. */
		log_msg(LOG_WARN, "request waited %.0f ms in the queue: "
		    "refused", waited);
		resp_err(&rs, APP_E_UNAVAILABLE, "server busy, try again");
		e = APP_E_UNAVAILABLE;
	} else if (pa.length != NULL && *pa.length != '\0' &&
	    !req_parse_length(pa.length, &rq.content_length)) {
		resp_err(&rs, APP_E_INVALID_JSON, "bad Content-Length");
		e = APP_E_INVALID_JSON;
	} else
		e = dispatch(c, fr, &rq, &rs, &r);
	if (e != APP_OK && (rs.err != e || resp_status(&rs) !=
	    app_err_status(e)))
		resp_err(&rs, e, NULL);
	/* Browsers get the route's page instead of the envelope. */
	if (e != APP_OK && r != NULL && r->errpage != PAGE_NONE &&
	    rs.ctype == NULL && (strcmp(r->method, "GET") == 0 ||
	    (req_ctype(rq.content_type) == REQ_CT_FORM &&
	    req_wants_html(&rq))))
		page_error(&rs, r->errpage, e, rs.msg);
	if (e == APP_E_INTERNAL)
		log_msg(LOG_ERROR, "internal error on %s %s", rq.method,
		    rq.path);

	resp_serialize(&rs, &c->out, head);
	FCGX_PutStr(c->out.data, (int)c->out.len, fr->out);
	/*
	 * Still busy on the scoreboard, so a peer that never ends its
	 * input is cut off by the request timeout. A request whose body was
	 * refused unread is not read to its end here: libfcgi's lingering
	 * close drains it instead.
	 */
	whole = FCGX_GetChar(fr->in) == EOF;
	ms = mono_ms() - rq.start_ms;
	log_request(rq.method, rq.path, resp_status(&rs), ms, rq.uid);
	if (c->cfg->slow_ms > 0 && ms > (double)c->cfg->slow_ms)
		log_msg(LOG_WARN, "slow request: %s %s took %.0f ms",
		    rq.method, rq.path, ms);
	board_end(c->slot, r != NULL ? (int)(r - routes) : -1,
	    resp_status(&rs), ms);
	log_set_rid(NULL);
	req_cleanup(&rq);
	resp_cleanup(&rs);
	return whole;
}

int
worker_run(const struct cfg *cfg, int listen_fd, struct board *board,
    struct board_slot *slot)
{
	struct store_opts	 so;
	sigset_t		 waitmask;
	struct img_limits	 limits;
	struct ctx		 c;
	FCGX_Request		 fr;
	unsigned long long	 served = 0, quota = 0;
	int			 rc = 0, n;

	/* Our handlers go in before FCGX_Init, so libfcgi installs none. */
	worker_signals(on_signal, &waitmask);
	/*
	 * Every worker waits (worker_wait) and then accepts without blocking:
	 * one that loses the race to a connection gets EAGAIN.
	 */
	(void)fcntl(listen_fd, F_SETFL, fcntl(listen_fd, F_GETFL) | O_NONBLOCK);

	memset(&c, 0, sizeof(c));
	c.cfg = cfg;
	c.board = board;
	c.slot = slot;
	slot->pid = getpid();
	slot->state = BOARD_IDLE;
	/* Each worker's share differs, so they never all recycle at once. */
	if (cfg->max_requests > 0)
		quota = (unsigned long long)cfg->max_requests +
		    (cfg->max_requests_jitter > 0 ? randombytes_uniform(
		    (uint32_t)cfg->max_requests_jitter + 1) : 0);
	buf_init(&c.in);
	buf_init(&c.out);
	so.connect_timeout = cfg->db_connect_timeout;
	so.statement_timeout = cfg->db_statement_timeout;
	so.retry_ms = cfg->db_retry_ms;
	so.sync_sessions = (int)cfg->session_sync_commit;
	if ((c.store = store_new(cfg->database_url, &so)) == NULL) {
		log_msg(LOG_ERROR, "APPD_DATABASE_URL: unsupported scheme or "
		    "malformed URL");
		return 2;
	}
	if ((c.sms = sms_new(cfg->sms_outbox, cfg->sms_url,
	    cfg->sms_timeout_ms)) == NULL) {
		log_msg(LOG_ERROR, "SMS sender cannot start");
		store_free(c.store);
		return 1;
	}
	limits.max_pixels = cfg->image_max_pixels;
	limits.memory_mib = cfg->image_memory_mib;
	limits.thumb = cfg->thumb_size;
	if (img_init(&limits) == -1) {
		sms_free(c.sms);
		store_free(c.store);
		return 1;
	}
	if (worker_fcgi_init(&fr, listen_fd) == -1) {
		log_msg(LOG_ERROR, "FastCGI initialisation failed");
		img_cleanup();
		sms_free(c.sms);
		store_free(c.store);
		return 1;
	}
	log_msg(LOG_DEBUG, "worker ready");
	while (!stopping) {
		if (reopen) {
			reopen = 0;
			(void)log_reopen();
		}
		if ((n = worker_wait(listen_fd, &waitmask)) <= 0) {
			if (n == 0)
				continue;
			log_msg(LOG_ERROR, "waiting for a connection: %s",
			    strerror(errno));
			rc = 1;
			break;
		}
		/*
		 * Busy from here: FCGX_Accept_r reads the whole params
		 * stream of the connection it accepts, and a client that
		 * sends half a record and goes silent would hold this worker
		 * forever; the manager's request timeout now covers it.
		 */
		board_begin(c.slot, mono_ms());
		if ((n = worker_accept(cfg, &fr)) <= 0) {
			board_idle(c.slot);
			if (n == 0)
				continue;
			log_msg(LOG_ERROR, "accept failed: %s",
			    strerror(errno));
			rc = 1;
			break;
		}
		/*
		 * A request read to its end is closed plainly: nothing is
		 * left unread to reset the peer, and libfcgi's lingering
		 * close (shutdown, then up to 2 s of poll for the peer to
		 * hang up, then read) would cost three system calls and a
		 * wake-up per request for nothing.
		 */
		if (serve(&c, &fr))
			(void)FCGX_Detach(&fr);
		FCGX_Finish_r(&fr);
		if (quota > 0 && ++served >= quota) {
			log_msg(LOG_INFO, "worker recycling after %llu requests",
			    served);
			rc = WORKER_RECYCLED;
			break;
		}
	}
	FCGX_Free(&fr, 0);
	img_cleanup();
	sms_free(c.sms);
	store_free(c.store);
	buf_cleanup(&c.in);
	buf_cleanup(&c.out);
	log_msg(LOG_DEBUG, "worker exiting");
	return rc;
}
