/* The scoreboard: per-worker state and counters in shared memory, and its Prometheus rendering. */
#include <sys/mman.h>

#include <string.h>

#include "board.h"

static const int statuses[BOARD_STATUSES - 1] = {
	200, 201, 303, 400, 401, 403, 404, 405, 409, 413, 415, 422, 429, 500,
	502, 503,
};

static const double bounds_ms[BOARD_BUCKETS - 1] = {
	1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500,
};

static const char *const state_names[BOARD__MAX] = {
	[BOARD_EMPTY] = "empty", [BOARD_IDLE] = "idle", [BOARD_BUSY] = "busy",
};

static const char *const cause_names[CAUSE__MAX] = {
	[CAUSE_CRASH] = "crash", [CAUSE_RECYCLE] = "recycle",
	[CAUSE_TIMEOUT] = "timeout",
};

static size_t
board_size(long n)
{
	return sizeof(struct board) + (size_t)n * sizeof(struct board_slot);
}

struct board *
board_new(long n)
{
	struct board	*b;

	b = mmap(NULL, board_size(n), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (b == MAP_FAILED)
		return NULL;
	memset(b, 0, board_size(n));
	b->nslots = n;
	return b;
}

void
board_free(struct board *b)
{
	if (b != NULL)
		munmap(b, board_size(b->nslots));
}

static void
add(uint64_t *p, uint64_t v)
{
	__atomic_fetch_add(p, v, __ATOMIC_RELAXED);
}

void
board_begin(struct board_slot *s, double now_ms)
{
	s->route = -1;
	s->start_ms = now_ms;
	__atomic_store_n(&s->state, BOARD_BUSY, __ATOMIC_RELEASE);
}

void
board_idle(struct board_slot *s)
{
	__atomic_store_n(&s->state, BOARD_IDLE, __ATOMIC_RELEASE);
}

void
board_route(struct board_slot *s, int route)
{
	s->route = route;
}

void
board_end(struct board_slot *s, int route, int status, double ms)
{
	int	 row = route < 0 || route >= RT__MAX ? BOARD_UNROUTED : route;
	int	 i, col = BOARD_STATUSES - 1;

	for (i = 0; i < BOARD_STATUSES - 1; i++)
		if (statuses[i] == status)
			col = i;
	add(&s->c.requests[row][col], 1);
	for (i = 0; i < BOARD_BUCKETS - 1 && ms > bounds_ms[i]; i++)
		continue;
	add(&s->c.latency[row][i], 1);
	add(&s->c.latency_us[row], (uint64_t)(ms * 1000));
	add(&s->served, 1);
	__atomic_store_n(&s->state, BOARD_IDLE, __ATOMIC_RELEASE);
}

void
board_retire(struct board *b, struct board_slot *s)
{
	int	 r, i;

	for (r = 0; r <= RT__MAX; r++) {
		for (i = 0; i < BOARD_STATUSES; i++)
			add(&b->retired.requests[r][i], s->c.requests[r][i]);
		for (i = 0; i < BOARD_BUCKETS; i++)
			add(&b->retired.latency[r][i], s->c.latency[r][i]);
		add(&b->retired.latency_us[r], s->c.latency_us[r]);
	}
	memset(s, 0, sizeof(*s));
}

/* Totals of every live slot plus the retired counters. */
static void
sum(const struct board *b, struct board_counters *t)
{
	const struct board_counters	*c;
	long				 k;
	int				 r, i;

	*t = b->retired;
	for (k = 0; k < b->nslots; k++) {
		c = &b->slots[k].c;
		for (r = 0; r <= RT__MAX; r++) {
			for (i = 0; i < BOARD_STATUSES; i++)
				t->requests[r][i] += c->requests[r][i];
			for (i = 0; i < BOARD_BUCKETS; i++)
				t->latency[r][i] += c->latency[r][i];
			t->latency_us[r] += c->latency_us[r];
		}
	}
}

static void
labels(struct buf *out, int r)
{
	if (r == BOARD_UNROUTED)
		buf_puts(out, "method=\"\",path=\"unmatched\"");
	else
		buf_printf(out, "method=\"%s\",path=\"%s\"", routes[r].method,
		    routes[r].path);
}

void
board_render(const struct board *b, double now_ms, struct buf *out)
{
	struct board_counters	 t;
	const struct board_slot	*s;
	uint64_t		 cum, count, n[BOARD__MAX] = { 0 };
	long			 k;
	int			 r, i;

	sum(b, &t);
	buf_puts(out, "# HELP appd_requests_total Requests answered, by route "
	    "and status.\n# TYPE appd_requests_total counter\n");
	for (r = 0; r <= RT__MAX; r++)
		for (i = 0; i < BOARD_STATUSES; i++) {
			if (t.requests[r][i] == 0)
				continue;
			buf_puts(out, "appd_requests_total{");
			labels(out, r);
			if (i < BOARD_STATUSES - 1)
				buf_printf(out, ",status=\"%d\"", statuses[i]);
			else
				buf_puts(out, ",status=\"other\"");
			buf_printf(out, "} %llu\n",
			    (unsigned long long)t.requests[r][i]);
		}
	buf_puts(out, "# HELP appd_request_duration_seconds Time from accept "
	    "to the response, by route.\n"
	    "# TYPE appd_request_duration_seconds histogram\n");
	for (r = 0; r <= RT__MAX; r++) {
		for (count = 0, i = 0; i < BOARD_BUCKETS; i++)
			count += t.latency[r][i];
		if (count == 0)
			continue;
		for (cum = 0, i = 0; i < BOARD_BUCKETS; i++) {
			cum += t.latency[r][i];
			buf_puts(out, "appd_request_duration_seconds_bucket{");
			labels(out, r);
			if (i < BOARD_BUCKETS - 1)
				buf_printf(out, ",le=\"%g\"} %llu\n",
				    bounds_ms[i] / 1000, (unsigned long long)cum);
			else
				buf_printf(out, ",le=\"+Inf\"} %llu\n",
				    (unsigned long long)cum);
		}
		buf_puts(out, "appd_request_duration_seconds_sum{");
		labels(out, r);
		buf_printf(out, "} %.6f\n", (double)t.latency_us[r] / 1e6);
		buf_puts(out, "appd_request_duration_seconds_count{");
		labels(out, r);
		buf_printf(out, "} %llu\n", (unsigned long long)count);
	}
	for (k = 0; k < b->nslots; k++)
		if (b->slots[k].pid > 0)
			n[b->slots[k].state == BOARD_BUSY ? BOARD_BUSY :
			    BOARD_IDLE]++;
	buf_printf(out, "# HELP appd_workers Worker processes by state.\n"
	    "# TYPE appd_workers gauge\n"
	    "appd_workers{state=\"busy\"} %llu\n"
	    "appd_workers{state=\"idle\"} %llu\n"
	    "# HELP appd_workers_max Configured number of workers.\n"
	    "# TYPE appd_workers_max gauge\nappd_workers_max %ld\n",
	    (unsigned long long)n[BOARD_BUSY],
	    (unsigned long long)n[BOARD_IDLE], b->max_workers);
	buf_puts(out, "# HELP appd_worker_restarts_total Workers replaced, "
	    "by cause.\n# TYPE appd_worker_restarts_total counter\n");
	for (i = 0; i < CAUSE__MAX; i++)
		buf_printf(out, "appd_worker_restarts_total{cause=\"%s\"} "
		    "%llu\n", cause_names[i],
		    (unsigned long long)b->restarts[i]);
	buf_printf(out, "# HELP appd_worker_recycles_total Workers retired "
	    "after max_requests.\n# TYPE appd_worker_recycles_total counter\n"
	    "appd_worker_recycles_total %llu\n"
	    "# HELP appd_request_timeouts_total Workers killed for a request "
	    "over the timeout.\n# TYPE appd_request_timeouts_total counter\n"
	    "appd_request_timeouts_total %llu\n",
	    (unsigned long long)b->restarts[CAUSE_RECYCLE],
	    (unsigned long long)b->restarts[CAUSE_TIMEOUT]);
	buf_puts(out, "# HELP appd_worker_state Each worker slot: 1 for its "
	    "current state.\n# TYPE appd_worker_state gauge\n");
	for (k = 0; k < b->nslots; k++) {
		s = &b->slots[k];
		if (s->pid <= 0)
			continue;
		buf_printf(out, "appd_worker_state{slot=\"%ld\",pid=\"%ld\","
		    "state=\"%s\"} 1\n", k, (long)s->pid,
		    state_names[s->state == BOARD_BUSY ? BOARD_BUSY :
		    BOARD_IDLE]);
	}
	buf_puts(out, "# HELP appd_worker_requests_total Requests served by "
	    "each worker slot's current process.\n"
	    "# TYPE appd_worker_requests_total counter\n");
	for (k = 0; k < b->nslots; k++) {
		s = &b->slots[k];
		if (s->pid > 0)
			buf_printf(out, "appd_worker_requests_total{slot=\"%ld\","
			    "pid=\"%ld\"} %llu\n", k, (long)s->pid,
			    (unsigned long long)s->served);
	}
	buf_puts(out, "# HELP appd_worker_busy_seconds How long each busy "
	    "worker has been on its request.\n"
	    "# TYPE appd_worker_busy_seconds gauge\n");
	for (k = 0; k < b->nslots; k++) {
		s = &b->slots[k];
		if (s->pid <= 0 || s->state != BOARD_BUSY)
			continue;
		buf_printf(out, "appd_worker_busy_seconds{slot=\"%ld\",pid="
		    "\"%ld\",path=\"%s\"} %.3f\n", k, (long)s->pid,
		    s->route >= 0 && s->route < RT__MAX ?
		    routes[s->route].path : "", (now_ms - s->start_ms) / 1000);
	}
}
