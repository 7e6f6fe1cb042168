/* Routes compiled only into test builds (APPD_TESTING): a slow request and a crashing one. */
#ifdef APPD_TESTING
#include <stdlib.h>
#include <time.h>

#include "appd.h"

/*
 * GET /users/_test/sleep?ms=N (N up to 600000, default 1000)
 *   200 {} after about N milliseconds
 */
enum app_err
h_test_sleep(struct ctx *c, struct req *rq, struct resp *rs)
{
	struct timespec	 ts;
	char		 v[16];
	long		 ms = 1000;

	(void)c;
	if (req_query(rq->query, "ms", v, sizeof(v)))
		ms = strtol(v, NULL, 10);
	if (ms < 0 || ms > 600000)
		ms = 1000;
	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (ms % 1000) * 1000000;
	while (nanosleep(&ts, &ts) == -1)
		continue;
	resp_ok(rs, 200, NULL);
	return APP_OK;
}

/*
 * GET /users/_test/crash
 *   the worker aborts mid-request
 */
enum app_err
h_test_crash(struct ctx *c, struct req *rq, struct resp *rs)
{
	(void)c;
	(void)rq;
	(void)rs;
	abort();
}
#else
/* ISO C wants a translation unit to declare something. */
typedef int appd_no_test_routes;
#endif
