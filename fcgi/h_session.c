/* Sign-in handlers: login (JSON and H5 form), the H5 home page, /users/me and logout. */
#include <string.h>

#include <json-c/json.h>

#include "appd.h"
#include "gallery.h"
#include "store.h"
#include "user.h"

/*
 * POST /users/login {"phone", "password"} (JSON or form)
 *   200 {"token", "token_type", "expires_in", "user", "home_url"} (JSON)
 *   303 to /users/home with the session cookie (form)
 *   400 invalid_json, missing_field, invalid_phone (front line)
 *   401 bad_credentials
 *   429 too_many_attempts + Retry-After
 *   503 unavailable
 * A failed form login from a browser is the login page with the error.
 */
enum app_err
h_login(struct ctx *c, struct req *rq, struct resp *rs)
{
	struct json_object	*data, *user;
	struct user_login	 lg;
	const char		*phone, *password;
	size_t			 len, pwlen;
	long			 retry = 0;
	enum app_err		 e;
	int			 form;

	(void)req_field(rq, "phone", &phone, &len);
	(void)req_field(rq, "password", &password, &pwlen);
	form = req_ctype(rq->content_type) == REQ_CT_FORM;
	e = user_login(c->store, c->cfg, phone, password, pwlen,
	    rq->remote_addr, form, &lg, &retry);
	if (e == APP_E_TOO_MANY_ATTEMPTS)
		resp_header(rs, "Retry-After", "%ld", retry);
	if (e != APP_OK)
		return e;
	rq->uid = lg.uid;
	if (form) {
		resp_page(rs, 303, "text/plain; charset=utf-8");
		resp_header(rs, "Location", "/users/home");
		set_session_cookie(rs, lg.token, c->cfg->session_ttl);
		return APP_OK;
	}
	user = json_object_new_object();
	json_object_object_add(user, "id", json_object_new_int64(lg.uid));
	json_object_object_add(user, "phone", json_object_new_string(lg.phone));
	data = json_object_new_object();
	json_object_object_add(data, "token", json_object_new_string(lg.token));
	json_object_object_add(data, "token_type",
	    json_object_new_string("Bearer"));
	json_object_object_add(data, "expires_in",
	    json_object_new_int64(c->cfg->token_ttl));
	json_object_object_add(data, "user", user);
	buf_reset(&c->in);
	buf_printf(&c->in, "%s/users/home?ticket=%s", c->cfg->public_url,
	    lg.ticket);
	json_object_object_add(data, "home_url",
	    json_object_new_string(c->in.data));
	resp_ok(rs, 200, data);
	return APP_OK;
}

/*
 * GET /users/login
 *   200 the H5 login form
 */
enum app_err
h_login_page(struct ctx *c, struct req *rq, struct resp *rs)
{
	(void)c;
	(void)rq;
	page_answer(rs, PAGE_LOGIN, 200, NULL);
	return APP_OK;
}

/* Newest images shown in the home page's gallery. */
#define HOME_IMAGES	24

/*
 * GET /users/home
 *   303 to /users/home with the session cookie (a valid ?ticket=)
 *   200 the home page (cookie or Bearer; the visit is recorded)
 *   401 the unauthorized page (used or stale ticket, no valid credential)
 *   503 unavailable
 */
enum app_err
h_home(struct ctx *c, struct req *rq, struct resp *rs)
{
	struct store_profile	 p;
	struct gallery_item	 items[HOME_IMAGES];
	struct json_object	*data, *list;
	char			 ticket[128], cookie[SESS_TOKEN_LEN + 1];
	char			 masked[USER_MASKED_LEN];
	long long		 uid, next;
	enum app_err		 e;
	int			 i, n;

	if (req_query(rq->query, "ticket", ticket, sizeof(ticket))) {
		e = user_redeem_ticket(c->store, c->cfg, ticket, strlen(ticket),
		    &uid, cookie);
		if (e == APP_E_UNAUTHORIZED) {
			page_error(rs, PAGE_UNAUTHORIZED, e, "This sign-in "
			    "link has expired or was already used.");
			return e;
		}
		if (e != APP_OK)
			return e;
		rq->uid = uid;
		resp_page(rs, 303, "text/plain; charset=utf-8");
		resp_header(rs, "Location", "/users/home");
		set_session_cookie(rs, cookie, c->cfg->session_ttl);
		return APP_OK;
	}
	if (rq->uid <= 0) {
		page_error(rs, PAGE_UNAUTHORIZED, APP_E_UNAUTHORIZED,
		    "Please sign in.");
		return APP_E_UNAUTHORIZED;
	}
	if ((e = store_visit(c->store, rq->uid, &p)) != APP_OK)
		return e;
	if ((e = gallery_list(c->store, rq->uid, HOME_IMAGES, 0, items, &n,
	    &next)) != APP_OK)
		return e;
	list = json_object_new_array();
	for (i = 0; i < n; i++)
		json_object_array_add(list,
		    gallery_item_json(&items[i], c->cfg->public_url));
	user_mask_phone(p.phone, masked);
	data = json_object_new_object();
	json_object_object_add(data, "phone", json_object_new_string(masked));
	json_object_object_add(data, "visits", json_object_new_int64(p.visits));
	if (p.last_seen_at[0] != '\0')
		json_object_object_add(data, "last_visit",
		    json_object_new_string(p.last_seen_at));
	json_object_object_add(data, "image_count",
	    json_object_new_int64(p.image_count));
	json_object_object_add(data, "images", list);
	page_answer(rs, PAGE_HOME, 200, data);
	return APP_OK;
}

/*
 * GET /users/me
 *   200 {"id", "phone", "created_at", "visits", "last_seen_at",
 *        "image_count"}
 *   401 unauthorized (front line)
 *   503 unavailable
 */
enum app_err
h_me(struct ctx *c, struct req *rq, struct resp *rs)
{
	const struct store_profile	*p = &c->user;	/* read with the token */
	struct json_object		*data;
	char				 masked[USER_MASKED_LEN];

	(void)rq;
	user_mask_phone(p->phone, masked);
	data = json_object_new_object();
	json_object_object_add(data, "id", json_object_new_int64(p->id));
	json_object_object_add(data, "phone", json_object_new_string(masked));
	json_object_object_add(data, "created_at",
	    json_object_new_string(p->created_at));
	json_object_object_add(data, "visits", json_object_new_int64(p->visits));
	json_object_object_add(data, "last_seen_at", p->last_seen_at[0] ?
	    json_object_new_string(p->last_seen_at) : NULL);
	json_object_object_add(data, "image_count",
	    json_object_new_int64(p->image_count));
	resp_ok(rs, 200, data);
	return APP_OK;
}

/*
 * POST /users/logout
 *   200 {} (the presented token or session is revoked)
 *   303 to /users/login (a browser signing out with its cookie)
 *   401 unauthorized (front line, or revoked meanwhile)
 *   403 forbidden (cookie from another origin; front line)
 *   503 unavailable
 */
enum app_err
h_logout(struct ctx *c, struct req *rq, struct resp *rs)
{
	enum app_err	 e;

	if ((e = store_session_revoke(c->store, rq->cred_hash)) != APP_OK)
		return e;
	if (rq->via_cookie) {
		set_session_cookie(rs, "", 0);
		if (req_wants_html(rq)) {
			resp_page(rs, 303, "text/plain; charset=utf-8");
			resp_header(rs, "Location", "/users/login");
			return APP_OK;
		}
	}
	resp_ok(rs, 200, NULL);
	return APP_OK;
}
