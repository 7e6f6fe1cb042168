/* A worker: a blocking FCGX_Accept_r loop that turns each FastCGI request into one response. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <fcgiapp.h>
#include <json-c/json.h>

#include <sodium.h>

#include "appd.h"
#include "board.h"
#include "img.h"
#include "log.h"
#include "mono.h"
#include "mpart.h"
#include "sms.h"
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

int
worker_wait(int listen_fd, const sigset_t *waitmask)
{
	struct pollfd	 p;

	p.fd = listen_fd;
	p.events = POLLIN;
	p.revents = 0;
	if (ppoll(&p, 1, NULL, waitmask) == -1)
		return errno == EINTR ? 0 : -1;
	if (p.revents & (POLLERR | POLLNVAL)) {
		errno = EBADF;
		return -1;
	}
	return (p.revents & POLLIN) != 0;
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
		    &rq->uid, rq->cred_hash, &rq->via_cookie);
		if (e != APP_OK && e != APP_E_UNAUTHORIZED)
			return e;
		if (e != APP_OK)
			rq->uid = 0;
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

static const char *
param(FCGX_Request *fr, const char *name)
{
	return FCGX_GetParam(name, fr->envp);
}

/* Everything about one request happens here, and it ends here. */
static void
serve(struct ctx *c, FCGX_Request *fr)
{
	const struct route	*r = NULL;
	struct req	 rq;
	struct resp	 rs;
	enum app_err	 e;
	const char	*uri;
	double		 ms, waited;
	int		 head;

	req_init(&rq);
	resp_init(&rs);
	rq.start_ms = mono_ms();
	board_begin(c->slot, rq.start_ms);
	rq.method = param(fr, "REQUEST_METHOD");
	rq.path = param(fr, "DOCUMENT_URI");
	rq.query = param(fr, "QUERY_STRING");
	rq.content_type = param(fr, "CONTENT_TYPE");
	rq.rid = param(fr, "REQUEST_ID");
	rq.remote_addr = param(fr, "REMOTE_ADDR");
	rq.cookie = param(fr, "HTTP_COOKIE");
	rq.authorization = param(fr, "HTTP_AUTHORIZATION");
	rq.origin = param(fr, "HTTP_ORIGIN");
	rq.scheme = param(fr, "REQUEST_SCHEME");
	rq.accept = param(fr, "HTTP_ACCEPT");
	rq.fetch_site = param(fr, "HTTP_SEC_FETCH_SITE");
	log_set_rid(rq.rid);
	if (rq.method == NULL)
		rq.method = "";
	if (rq.path == NULL) {
		/* Not behind our Nginx config: fall back to the raw URI. */
		uri = param(fr, "SCRIPT_NAME");
		rq.path = uri != NULL ? uri : "";
	}
	head = strcmp(rq.method, "HEAD") == 0;

	waited = queued_ms(param(fr, "REQUEST_START"));
	if (c->cfg->queue_deadline_ms > 0 &&
	    waited > (double)c->cfg->queue_deadline_ms) {
		/* The client has likely given up: do not work for nobody. */
		log_msg(LOG_WARN, "request waited %.0f ms in the queue: "
		    "refused", waited);
		resp_err(&rs, APP_E_UNAVAILABLE, "server busy, try again");
		e = APP_E_UNAVAILABLE;
	} else if (param(fr, "CONTENT_LENGTH") != NULL &&
	    *param(fr, "CONTENT_LENGTH") != '\0' &&
	    !req_parse_length(param(fr, "CONTENT_LENGTH"),
	    &rq.content_length)) {
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
	 * Every worker waits in ppoll and then accepts without blocking:
	 * the one that loses the race to a connection gets EAGAIN.
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
	if ((c.store = store_new(cfg->database_url, &so)) == NULL) {
		log_msg(LOG_ERROR, "APPD_DATABASE_URL: unsupported scheme");
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
	if (FCGX_Init() != 0 ||
	    FCGX_InitRequest(&fr, listen_fd, 0) != 0) {
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
		if (FCGX_Accept_r(&fr) < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK ||
			    errno == EINTR || errno == ECONNABORTED)
				continue;
			log_msg(LOG_ERROR, "accept failed: %s",
			    strerror(errno));
			rc = 1;
			break;
		}
		serve(&c, &fr);
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
