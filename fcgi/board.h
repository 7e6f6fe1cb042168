/* The scoreboard: per-worker state and counters in shared memory, and its Prometheus rendering. */
#ifndef BOARD_H
#define BOARD_H

#include <stdint.h>
#include <sys/types.h>

#include "appd.h"
#include "buf.h"

/* Statuses counted one by one; anything else counts as "other". */
#define BOARD_STATUSES	17
/* Latency histogram buckets (upper bounds in ms; the last is +Inf). */
#define BOARD_BUCKETS	12
/* Row of requests that matched no route. */
#define BOARD_UNROUTED	RT__MAX

enum board_state {
	BOARD_EMPTY,
	BOARD_IDLE,
	BOARD_BUSY,
	BOARD__MAX
};

/* Why a worker was replaced. */
enum board_cause {
	CAUSE_CRASH,
	CAUSE_RECYCLE,
	CAUSE_TIMEOUT,
	CAUSE__MAX
};

struct board_counters {
	uint64_t	 requests[RT__MAX + 1][BOARD_STATUSES];
	uint64_t	 latency[RT__MAX + 1][BOARD_BUCKETS];
	uint64_t	 latency_us[RT__MAX + 1];
};

/* One worker's row: written by that worker only, read by everyone. */
struct board_slot {
	pid_t			 pid;
	int			 state;		/* enum board_state */
	int			 route;		/* RT id, or -1 */
	double			 start_ms;	/* monotonic, current request */
	uint64_t		 served;
	struct board_counters	 c;
};

struct board {
	long			 nslots;
	long			 max_workers;
	uint64_t		 restarts[CAUSE__MAX];
	struct board_counters	 retired;	/* of workers that are gone */
	struct board_slot	 slots[];
};

/*
 * A scoreboard for n worker slots in anonymous shared memory, inherited by
 * every process forked afterwards. Returns it (free with board_free), or
 * NULL when mmap fails.
 */
struct board	*board_new(long n);
void		 board_free(struct board *b);

/*
 * Worker side: the request in hand starts, learns its route, ends; or
 * (board_idle) what was begun was not a request after all, and nothing
 * is counted.
 */
void		 board_begin(struct board_slot *s, double now_ms);
void		 board_idle(struct board_slot *s);
void		 board_route(struct board_slot *s, int route);
void		 board_end(struct board_slot *s, int route, int status,
		    double ms);

/*
 * Manager side: a slot's worker is gone; fold its counters into the
 * retired totals and clear the slot.
 */
void		 board_retire(struct board *b, struct board_slot *s);

/* Append the whole scoreboard in Prometheus text format to out. */
void		 board_render(const struct board *b, double now_ms,
		    struct buf *out);

#endif
