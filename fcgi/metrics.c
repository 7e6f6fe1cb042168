/* GET /metrics: the scoreboard in Prometheus text format, from a worker or from the metrics process. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <time.h>

#include <fcgiapp.h>

#include "appd.h"
#include "board.h"
#include "log.h"

#define METRICS_CT	"text/plain; version=0.0.4; charset=utf-8"

static volatile sig_atomic_t	 stopping;

static double
mono_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}

/*
 * GET /metrics
 *   200 Prometheus text format (Nginx lets only loopback clients in)
 */
enum app_err
h_metrics(struct ctx *c, struct req *rq, struct resp *rs)
{
	(void)rq;
	resp_page(rs, 200, METRICS_CT);
	board_render(c->board, mono_ms(), &rs->body);
	return APP_OK;
}

static void
on_stop(int sig)
{
	if (sig != SIGUSR1)
		stopping = 1;
}

int
metrics_run(const struct cfg *cfg, int listen_fd, struct board *board)
{
	struct buf		 body, head;
	FCGX_Request		 fr;
	sigset_t		 waitmask;
	int			 n;

	(void)cfg;
	worker_signals(on_stop, &waitmask);
	(void)fcntl(listen_fd, F_SETFL, fcntl(listen_fd, F_GETFL) | O_NONBLOCK);
	if (FCGX_Init() != 0 || FCGX_InitRequest(&fr, listen_fd, 0) != 0)
		return 1;
	buf_init(&body);
	buf_init(&head);
	/* No database, no images: this process only reads shared memory. */
	while (!stopping) {
		if ((n = worker_wait(listen_fd, &waitmask)) <= 0) {
			if (n == 0)
				continue;
			log_msg(LOG_ERROR, "metrics wait failed: %s",
			    strerror(errno));
			break;
		}
		if (FCGX_Accept_r(&fr) < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK ||
			    errno == EINTR || errno == ECONNABORTED)
				continue;
			log_msg(LOG_ERROR, "metrics accept failed: %s",
			    strerror(errno));
			break;
		}
		buf_reset(&body);
		board_render(board, mono_ms(), &body);
		buf_reset(&head);
		buf_printf(&head, "Status: 200 OK\r\nContent-Type: %s\r\n"
		    "Cache-Control: no-store\r\nContent-Length: %zu\r\n\r\n",
		    METRICS_CT, body.len);
		FCGX_PutStr(head.data, (int)head.len, fr.out);
		FCGX_PutStr(body.data, (int)body.len, fr.out);
		FCGX_Finish_r(&fr);
	}
	FCGX_Free(&fr, 0);
	buf_cleanup(&body);
	buf_cleanup(&head);
	return 0;
}
