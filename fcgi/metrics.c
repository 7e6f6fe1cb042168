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
#include "mono.h"

#define METRICS_CT	"text/plain; version=0.0.4; charset=utf-8"

static volatile sig_atomic_t	 stopping;

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
	struct resp		 rs;
	struct buf		 out;
	FCGX_Request		 fr;
	const char		*method;
	sigset_t		 waitmask;
	int			 n;

	worker_signals(on_stop, &waitmask);
	(void)fcntl(listen_fd, F_SETFL, fcntl(listen_fd, F_GETFL) | O_NONBLOCK);
	if (worker_fcgi_init(&fr, listen_fd) == -1)
		return 1;
	buf_init(&out);
	/* No database, no images: this process only reads shared memory. */
	while (!stopping) {
		if ((n = worker_wait(listen_fd, &waitmask)) <= 0) {
			if (n == 0)
				continue;
			log_msg(LOG_ERROR, "metrics wait failed: %s",
			    strerror(errno));
			break;
		}
		if ((n = worker_accept(cfg, &fr)) <= 0) {
			if (n == 0)
				continue;
			log_msg(LOG_ERROR, "metrics accept failed: %s",
			    strerror(errno));
			break;
		}
		method = FCGX_GetParam("REQUEST_METHOD", fr.envp);
		if (method == NULL)
			method = "";
		resp_init(&rs);
		if (strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0) {
			resp_page(&rs, 200, METRICS_CT);
			board_render(board, mono_ms(), &rs.body);
		} else {
			resp_err(&rs, APP_E_METHOD, NULL);
			resp_header(&rs, "Allow", "GET, HEAD");
		}
		resp_serialize(&rs, &out, strcmp(method, "HEAD") == 0);
		FCGX_PutStr(out.data, (int)out.len, fr.out);
		resp_cleanup(&rs);
		FCGX_Finish_r(&fr);
	}
	FCGX_Free(&fr, 0);
	buf_cleanup(&out);
	return 0;
}
