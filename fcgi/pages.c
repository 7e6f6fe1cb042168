/* The H5 pages: templates compiled once per process, rendered with a strict Content-Security-Policy. */
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "appd.h"
#include "sess.h"
#include "tmpl.h"

/* No inline script or style anywhere: everything comes from /static/. */
#define PAGE_CSP "default-src 'none'; style-src 'self'; img-src 'self'; " \
	"form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

static const char *const page_files[PAGE__MAX] = {
	[PAGE_HOME] = "home.html",
	[PAGE_LOGIN] = "login.html",
	[PAGE_UNAUTHORIZED] = "unauthorized.html",
};

static struct tmpl	*pages[PAGE__MAX];

int
pages_load(const char *dir, char *err, size_t errlen)
{
	char	 path[4096];
	int	 i;

	for (i = 1; i < PAGE__MAX; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, page_files[i]);
		if ((pages[i] = tmpl_load(path, err, errlen)) == NULL) {
			pages_free();
			return -1;
		}
	}
	return 0;
}

void
pages_free(void)
{
	int	 i;

	for (i = 0; i < PAGE__MAX; i++) {
		tmpl_free(pages[i]);
		pages[i] = NULL;
	}
}

void
page_answer(struct resp *rs, enum page p, int status,
    struct json_object *data)
{
	resp_page(rs, status, "text/html; charset=utf-8");
	resp_header(rs, "Content-Security-Policy", "%s", PAGE_CSP);
	if (data == NULL)
		data = json_object_new_object();
	if (p > PAGE_NONE && p < PAGE__MAX && pages[p] != NULL)
		tmpl_render(pages[p], data, &rs->body);
	json_object_put(data);
}

void
page_error(struct resp *rs, enum page p, enum app_err e, const char *msg)
{
	struct json_object	*data;

	if (msg == NULL || *msg == '\0')
		msg = app_err_msg(e);
	data = json_object_new_object();
	json_object_object_add(data, "error", json_object_new_string(msg));
	json_object_object_add(data, "message", json_object_new_string(msg));
	json_object_object_add(data, "status",
	    json_object_new_int(app_err_status(e)));
	page_answer(rs, p, app_err_status(e), data);
	/* The page replaces the envelope but keeps the error's identity. */
	rs->err = e;
}

int
req_wants_html(const struct req *rq)
{
	return rq->accept != NULL && strstr(rq->accept, "text/html") != NULL;
}

void
set_session_cookie(struct resp *rs, const char *value, long ttl)
{
	resp_header(rs, "Set-Cookie", "%s=%s; Path=/; Max-Age=%ld; HttpOnly; "
	    "Secure; SameSite=Lax", SESS_COOKIE, value, *value ? ttl : 0L);
}
