/* GET /healthz: whether this worker can reach the database. */
#include <json-c/json.h>

#include "appd.h"
#include "store.h"

/*
 * GET /healthz
 *   200 {"db": "ok"}
 *   503 unavailable  the database cannot be reached
 */
enum app_err
h_healthz(struct ctx *c, struct req *rq, struct resp *rs)
{
	struct json_object	*data;
	enum app_err		 e;

	(void)rq;
	if ((e = store_ping(c->store)) != APP_OK) {
		if (e == APP_E_UNAVAILABLE)
			resp_err(rs, e, "database unavailable");
		return e;
	}
	data = json_object_new_object();
	json_object_object_add(data, "db", json_object_new_string("ok"));
	resp_ok(rs, 200, data);
	return APP_OK;
}
