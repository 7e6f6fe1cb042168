/* The response under construction and its one serialisation: the contract's JSON envelope or a page. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "resp.h"

#define JSON_CT	"application/json; charset=utf-8"

void
resp_init(struct resp *rs)
{
	rs->status = 500;
	rs->err = APP_E_INTERNAL;
	snprintf(rs->msg, sizeof(rs->msg), "%s", app_err_msg(APP_E_INTERNAL));
	rs->data = NULL;
	rs->ctype = NULL;
	buf_init(&rs->body);
	buf_init(&rs->headers);
}

void
resp_cleanup(struct resp *rs)
{
	json_object_put(rs->data);
	rs->data = NULL;
	buf_cleanup(&rs->body);
	buf_cleanup(&rs->headers);
}

void
resp_ok(struct resp *rs, int status, struct json_object *data)
{
	json_object_put(rs->data);
	rs->status = status;
	rs->err = APP_OK;
	rs->data = data;
	rs->ctype = NULL;
}

void
resp_err(struct resp *rs, enum app_err e, const char *msg)
{
	if (e == APP_OK)
		e = APP_E_INTERNAL;
	json_object_put(rs->data);
	rs->data = NULL;
	rs->ctype = NULL;
	buf_reset(&rs->body);
	rs->err = e;
	rs->status = app_err_status(e);
	snprintf(rs->msg, sizeof(rs->msg), "%s",
	    msg != NULL ? msg : app_err_msg(e));
}

void
resp_page(struct resp *rs, int status, const char *ctype)
{
	json_object_put(rs->data);
	rs->data = NULL;
	rs->err = APP_OK;
	rs->status = status;
	rs->ctype = ctype;
	buf_reset(&rs->body);
}

void
resp_header(struct resp *rs, const char *name, const char *fmt, ...)
{
	va_list	 ap;
	size_t	 start = rs->headers.len, i;

	buf_puts(&rs->headers, name);
	buf_puts(&rs->headers, ": ");
	va_start(ap, fmt);
	buf_vprintf(&rs->headers, fmt, ap);
	va_end(ap);
	/* A header value can never split the response. */
	for (i = start; i < rs->headers.len; i++)
		if (rs->headers.data[i] == '\r' || rs->headers.data[i] == '\n')
			rs->headers.data[i] = ' ';
	buf_puts(&rs->headers, "\r\n");
}

int
resp_status(const struct resp *rs)
{
	return rs->status;
}

void
resp_serialize(const struct resp *rs, struct buf *out, int head_only)
{
	const char	*js;
	size_t		 bodystart, n, ll, blen;
	char		 len[32];

	buf_reset(out);
	buf_printf(out, "Status: %d %s\r\n", rs->status,
	    app_status_text(rs->status));
	buf_printf(out, "Content-Type: %s\r\n",
	    rs->ctype != NULL ? rs->ctype : JSON_CT);
	buf_puts(out, "Cache-Control: no-store\r\n");
	if (rs->headers.len > 0)
		buf_append(out, rs->headers.data, rs->headers.len);
	/*
	 * The body is built after the header block and the Content-Length
	 * line is inserted in front of it once the length is known.
	 */
	bodystart = out->len;
	if (rs->ctype != NULL) {
		if (rs->body.len > 0)
			buf_append(out, rs->body.data, rs->body.len);
	} else if (rs->err != APP_OK) {
		buf_printf(out, "{\"code\":%d,\"msg\":\"", rs->status);
		buf_json_str(out, rs->msg, strlen(rs->msg));
		buf_printf(out, "\",\"error\":\"%s\"}", app_err_slug(rs->err));
	} else {
		buf_puts(out, "{\"code\":0,\"msg\":\"ok\",\"data\":");
		if (rs->data == NULL)
			buf_puts(out, "{}");
		else {
			js = json_object_to_json_string_ext(rs->data,
			    JSON_C_TO_STRING_PLAIN |
			    JSON_C_TO_STRING_NOSLASHESCAPE);
			buf_puts(out, js);
		}
		buf_putc(out, '}');
	}
	n = out->len - bodystart;
	ll = (size_t)snprintf(len, sizeof(len), "Content-Length: %zu\r\n\r\n",
	    n);
	if (head_only)
		out->len = bodystart;
	blen = out->len - bodystart;
	/* Grow by the length line, then shift the body behind it. */
	buf_append(out, len, ll);
	memmove(out->data + bodystart + ll, out->data + bodystart, blen);
	memcpy(out->data + bodystart, len, ll);
}
