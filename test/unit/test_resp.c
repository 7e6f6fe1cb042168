/* Unit tests for lib/resp.c: the serialised CGI response, its envelope, headers and HEAD form. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "app.h"
#include "buf.h"
#include "resp.h"

#define JSON_CT	"application/json; charset=utf-8"

/* A serialised response cut at the blank line; points into the buffer. */
struct parsed {
	const char	*head;		/* status and header lines, CRLF each */
	size_t		 headlen;
	const char	*body;
	size_t		 bodylen;
	long		 clen;		/* the Content-Length value */
};

/* Number of header lines in p that are exactly line ("Name: value"). */
static int
count_line(const struct parsed *p, const char *line)
{
	const char	*s = p->head, *end = p->head + p->headlen, *eol;
	size_t		 n = strlen(line);
	int		 count = 0;

	for (; s < end; s = eol + 2) {
		eol = memmem(s, (size_t)(end - s), "\r\n", 2);
		assert_non_null(eol);
		if ((size_t)(eol - s) == n && memcmp(s, line, n) == 0)
			count++;
	}
	return count;
}

/* Whether any header line starts with prefix. */
static int
has_prefix(const struct parsed *p, const char *prefix)
{
	const char	*s = p->head, *end = p->head + p->headlen, *eol;
	size_t		 n = strlen(prefix);

	for (; s < end; s = eol + 2) {
		eol = memmem(s, (size_t)(end - s), "\r\n", 2);
		assert_non_null(eol);
		if ((size_t)(eol - s) >= n && memcmp(s, prefix, n) == 0)
			return 1;
	}
	return 0;
}

/*
 * Serialise rs into out and cut it up, checking what every response
 * must have: the status line first, CRLF-only line ends, one
 * Content-Length, and a body of that length (or none when head_only).
 */
static void
serialize(const struct resp *rs, struct buf *out, int head_only,
    struct parsed *p)
{
	const char	*sep, *cl, *s;
	char		 status[64];
	char		*end;
	size_t		 i;

	resp_serialize(rs, out, head_only);
	assert_non_null(out->data);
	assert_int_equal(out->data[out->len], '\0');
	sep = memmem(out->data, out->len, "\r\n\r\n", 4);
	assert_non_null(sep);
	p->head = out->data;
	p->headlen = (size_t)(sep - out->data) + 2;
	p->body = sep + 4;
	p->bodylen = out->len - (size_t)(p->body - out->data);

	snprintf(status, sizeof(status), "Status: %d %s\r\n", rs->status,
	    app_status_text(rs->status));
	assert_true(strncmp(p->head, status, strlen(status)) == 0);
	for (i = 0; i < p->headlen; i++)
		if (p->head[i] == '\n')
			assert_true(i > 0 && p->head[i - 1] == '\r');
		else if (p->head[i] == '\r')
			assert_true(p->head[i + 1] == '\n');

	cl = NULL;
	for (s = p->head; s < p->head + p->headlen; s = strstr(s, "\r\n") + 2)
		if (strncmp(s, "Content-Length: ", 16) == 0) {
			assert_null(cl);
			cl = s + 16;
		}
	assert_non_null(cl);
	p->clen = strtol(cl, &end, 10);
	assert_true(end != cl && strncmp(end, "\r\n", 2) == 0);
	if (head_only)
		assert_int_equal(p->bodylen, 0);
	else
		assert_int_equal(p->clen, p->bodylen);
}

/* Parse the body as one JSON object; new, json_object_put it. */
static struct json_object *
body_json(const struct parsed *p)
{
	struct json_tokener	*tok;
	struct json_object	*obj;

	tok = json_tokener_new();
	assert_non_null(tok);
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT |
	    JSON_TOKENER_VALIDATE_UTF8);
	obj = json_tokener_parse_ex(tok, p->body, (int)p->bodylen);
	assert_int_equal(json_tokener_get_error(tok), json_tokener_success);
	assert_int_equal(json_tokener_get_parse_end(tok), p->bodylen);
	json_tokener_free(tok);
	assert_non_null(obj);
	assert_true(json_object_is_type(obj, json_type_object));
	return obj;
}

static const char *
member_str(struct json_object *obj, const char *name)
{
	struct json_object	*v;

	assert_true(json_object_object_get_ex(obj, name, &v));
	assert_true(json_object_is_type(v, json_type_string));
	return json_object_get_string(v);
}

static int
member_int(struct json_object *obj, const char *name)
{
	struct json_object	*v;

	assert_true(json_object_object_get_ex(obj, name, &v));
	assert_true(json_object_is_type(v, json_type_int));
	return json_object_get_int(v);
}

static void
assert_body(const struct parsed *p, const char *want)
{
	if (p->bodylen != strlen(want) || memcmp(p->body, want,
	    p->bodylen) != 0)
		fail_msg("body '%.*s', want '%s'", (int)p->bodylen, p->body,
		    want);
}

static void
test_ok_with_data(void **state)
{
	struct json_object	*data, *obj, *d;
	struct parsed		 p;
	struct resp		 rs;
	struct buf		 out;

	(void)state;
	resp_init(&rs);
	buf_init(&out);
	data = json_object_new_object();
	json_object_object_add(data, "user_id", json_object_new_int(7));
	json_object_object_add(data, "phone",
	    json_object_new_string("188****8888"));
	json_object_object_add(data, "home_url",
	    json_object_new_string("https://localhost:8443/users/home"));
	json_object_object_add(data, "name",
	    json_object_new_string("\xe6\x89\x8b\xe6\x9c\xba \"q\""));
	resp_ok(&rs, 200, data);
	assert_int_equal(resp_status(&rs), 200);
	serialize(&rs, &out, 0, &p);

	assert_true(strncmp(out.data, "Status: 200 OK\r\n", 16) == 0);
	assert_int_equal(count_line(&p, "Content-Type: " JSON_CT), 1);
	assert_int_equal(count_line(&p, "Cache-Control: no-store"), 1);
	assert_body(&p, "{\"code\":0,\"msg\":\"ok\",\"data\":{\"user_id\":7,"
	    "\"phone\":\"188****8888\",\"home_url\":"
	    "\"https://localhost:8443/users/home\",\"name\":"
	    "\"\xe6\x89\x8b\xe6\x9c\xba \\\"q\\\"\"}}");

	obj = body_json(&p);
	assert_int_equal(member_int(obj, "code"), 0);
	assert_string_equal(member_str(obj, "msg"), "ok");
	assert_false(json_object_object_get_ex(obj, "error", NULL));
	assert_true(json_object_object_get_ex(obj, "data", &d));
	assert_int_equal(member_int(d, "user_id"), 7);
	assert_string_equal(member_str(d, "name"),
	    "\xe6\x89\x8b\xe6\x9c\xba \"q\"");
	json_object_put(obj);

	/* A second serialisation into the same buffer starts afresh. */
	serialize(&rs, &out, 0, &p);
	assert_true(strncmp(out.data, "Status: 200 OK\r\n", 16) == 0);
	assert_int_equal(count_line(&p, "Content-Type: " JSON_CT), 1);

	/* 201 from a handler, and data replaced (the old one freed). */
	data = json_object_new_object();
	json_object_object_add(data, "id", json_object_new_int(1));
	resp_ok(&rs, 201, data);
	serialize(&rs, &out, 0, &p);
	assert_true(strncmp(out.data, "Status: 201 Created\r\n", 21) == 0);
	assert_body(&p, "{\"code\":0,\"msg\":\"ok\",\"data\":{\"id\":1}}");

	resp_cleanup(&rs);
	buf_cleanup(&out);
}

static void
test_ok_null_data(void **state)
{
	struct parsed	 p;
	struct resp	 rs;
	struct buf	 out;

	(void)state;
	resp_init(&rs);
	buf_init(&out);
	resp_ok(&rs, 200, NULL);
	serialize(&rs, &out, 0, &p);
	assert_body(&p, "{\"code\":0,\"msg\":\"ok\",\"data\":{}}");
	json_object_put(body_json(&p));
	assert_int_equal(count_line(&p, "Content-Length: 31"), 1);
	resp_cleanup(&rs);
	buf_cleanup(&out);
}

/* A response nobody filled in is a complete internal-error envelope. */
static void
test_untouched_is_internal(void **state)
{
	struct parsed	 p;
	struct resp	 rs;
	struct buf	 out;

	(void)state;
	resp_init(&rs);
	buf_init(&out);
	serialize(&rs, &out, 0, &p);
	assert_body(&p, "{\"code\":500,\"msg\":\"internal error\","
	    "\"error\":\"internal\"}");
	json_object_put(body_json(&p));
	resp_cleanup(&rs);
	buf_cleanup(&out);
}

static void
test_err_not_found(void **state)
{
	struct parsed	 p;
	struct resp	 rs;
	struct buf	 out;

	(void)state;
	resp_init(&rs);
	buf_init(&out);
	resp_err(&rs, APP_E_NOT_FOUND, NULL);
	assert_int_equal(resp_status(&rs), 404);
	serialize(&rs, &out, 0, &p);
	assert_true(strncmp(out.data, "Status: 404 Not Found\r\n", 23) == 0);
	assert_int_equal(count_line(&p, "Content-Type: " JSON_CT), 1);
	assert_body(&p, "{\"code\":404,\"msg\":\"not found\","
	    "\"error\":\"not_found\"}");
	json_object_put(body_json(&p));
	resp_cleanup(&rs);
	buf_cleanup(&out);
}

static void
test_err_table(void **state)
{
	struct json_object	*obj;
	struct parsed		 p;
	struct resp		 rs;
	struct buf		 out;
	int			 e;

	(void)state;
	buf_init(&out);
	for (e = 1; e < APP__MAX; e++) {
		resp_init(&rs);
		resp_err(&rs, (enum app_err)e, NULL);
		serialize(&rs, &out, 0, &p);
		assert_int_equal(resp_status(&rs),
		    app_err_status((enum app_err)e));
		obj = body_json(&p);
		assert_int_equal(member_int(obj, "code"),
		    app_err_status((enum app_err)e));
		assert_string_equal(member_str(obj, "msg"),
		    app_err_msg((enum app_err)e));
		assert_string_equal(member_str(obj, "error"),
		    app_err_slug((enum app_err)e));
		assert_false(json_object_object_get_ex(obj, "data", NULL));
		assert_int_equal(json_object_object_length(obj), 3);
		json_object_put(obj);
		resp_cleanup(&rs);
	}
	buf_cleanup(&out);
}

static void
test_err_custom_msg(void **state)
{
	static const struct {
		const char	*msg;
		const char	*want;		/* as it appears in the body */
	} cases[] = {
		{ "say \"hi\"\nbye", "say \\\"hi\\\"\\nbye" },
		{ "back\\slash\r\ttab", "back\\\\slash\\r\\ttab" },
		{ "bell\x07", "bell\\u0007" },
		{ "bad \xff byte", "bad \\ufffd byte" },
		{ "\xe6\x89\x8b\xe6\x9c\xba", "\xe6\x89\x8b\xe6\x9c\xba" },
		{ "", "" },
	};
	struct json_object	*obj;
	struct parsed		 p;
	struct resp		 rs;
	struct buf		 out, want;
	size_t			 i;

	(void)state;
	buf_init(&out);
	buf_init(&want);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		resp_init(&rs);
		resp_err(&rs, APP_E_INVALID_JSON, cases[i].msg);
		serialize(&rs, &out, 0, &p);
		buf_reset(&want);
		buf_printf(&want, "{\"code\":400,\"msg\":\"%s\","
		    "\"error\":\"invalid_json\"}", cases[i].want);
		assert_body(&p, want.data);
		obj = body_json(&p);
		if (strchr(cases[i].msg, '\xff') == NULL)
			assert_string_equal(member_str(obj, "msg"),
			    cases[i].msg);
		json_object_put(obj);
		resp_cleanup(&rs);
	}
	buf_cleanup(&want);
	buf_cleanup(&out);
}

static void
test_err_long_msg(void **state)
{
	struct json_object	*obj;
	struct parsed		 p;
	struct resp		 rs;
	struct buf		 out, msg;
	int			 i;

	(void)state;
	buf_init(&out);
	buf_init(&msg);
	/* 3-byte characters: truncation lands inside one. */
	for (i = 0; i < 100; i++)
		buf_puts(&msg, "\xe6\x89\x8b");
	resp_init(&rs);
	resp_err(&rs, APP_E_INVALID_PHONE, msg.data);
	serialize(&rs, &out, 0, &p);
	obj = body_json(&p);
	assert_true(strlen(member_str(obj, "msg")) < msg.len);
	assert_string_equal(member_str(obj, "error"), "invalid_phone");
	json_object_put(obj);
	resp_cleanup(&rs);
	buf_cleanup(&msg);
	buf_cleanup(&out);
}

static void
test_err_ok_is_internal(void **state)
{
	struct json_object	*obj;
	struct parsed		 p;
	struct resp		 rs;
	struct buf		 out;

	(void)state;
	buf_init(&out);
	resp_init(&rs);
	resp_err(&rs, APP_OK, NULL);
	assert_int_equal(resp_status(&rs), 500);
	serialize(&rs, &out, 0, &p);
	assert_true(strncmp(out.data, "Status: 500 Internal Server Error\r\n",
	    35) == 0);
	obj = body_json(&p);
	assert_int_equal(member_int(obj, "code"), 500);
	assert_string_equal(member_str(obj, "error"), "internal");
	json_object_put(obj);
	resp_cleanup(&rs);

	/* A response nobody filled in is an internal error too. */
	resp_init(&rs);
	serialize(&rs, &out, 0, &p);
	assert_int_equal(resp_status(&rs), 500);
	obj = body_json(&p);
	assert_string_equal(member_str(obj, "error"), "internal");
	json_object_put(obj);
	resp_cleanup(&rs);
	buf_cleanup(&out);
}

static void
test_header(void **state)
{
	struct parsed	 p;
	struct resp	 rs;
	struct buf	 out;

	(void)state;
	buf_init(&out);
	resp_init(&rs);
	resp_err(&rs, APP_E_METHOD, NULL);
	resp_header(&rs, "Allow", "%s", "GET, HEAD");
	resp_header(&rs, "Retry-After", "%d", 60);
	resp_header(&rs, "X-Split", "a\r\nSet-Cookie: evil=1\nX: y\rZ");
	resp_header(&rs, "X-Name\r\nSet-Cookie: n=1", "v");
	serialize(&rs, &out, 0, &p);
	assert_int_equal(count_line(&p, "Allow: GET, HEAD"), 1);
	assert_int_equal(count_line(&p, "Retry-After: 60"), 1);
	assert_int_equal(count_line(&p,
	    "X-Split: a  Set-Cookie: evil=1 X: y Z"), 1);
	assert_int_equal(count_line(&p, "X-Name  Set-Cookie: n=1: v"), 1);
	assert_false(has_prefix(&p, "Set-Cookie"));
	assert_false(has_prefix(&p, "X: "));
	assert_false(has_prefix(&p, "Z"));
	/* The injected text stays out of the body too. */
	assert_body(&p, "{\"code\":405,\"msg\":\"method not allowed\","
	    "\"error\":\"method_not_allowed\"}");
	resp_cleanup(&rs);
	buf_cleanup(&out);
}

static void
test_head_only(void **state)
{
	struct json_object	*data;
	struct parsed		 full, head;
	struct resp		 rs;
	struct buf		 out, out2;

	(void)state;
	buf_init(&out);
	buf_init(&out2);
	resp_init(&rs);
	data = json_object_new_object();
	json_object_object_add(data, "db", json_object_new_string("ok"));
	resp_ok(&rs, 200, data);
	resp_header(&rs, "X-Extra", "1");
	serialize(&rs, &out, 0, &full);
	serialize(&rs, &out2, 1, &head);
	/* Same header block, Content-Length of the full body, no body. */
	assert_int_equal(head.clen, full.bodylen);
	assert_int_equal(head.bodylen, 0);
	assert_int_equal(head.headlen, full.headlen);
	assert_memory_equal(head.head, full.head, full.headlen);
	assert_int_equal(out2.len, full.headlen + 2);
	assert_string_equal(out2.data + out2.len - 4, "\r\n\r\n");
	resp_cleanup(&rs);

	/* HEAD of an error and of a page. */
	resp_init(&rs);
	resp_err(&rs, APP_E_NOT_FOUND, NULL);
	serialize(&rs, &out, 0, &full);
	serialize(&rs, &out2, 1, &head);
	assert_int_equal(head.clen, full.bodylen);
	assert_int_equal(head.bodylen, 0);
	resp_page(&rs, 200, "text/html; charset=utf-8");
	buf_puts(&rs.body, "<p>hello</p>");
	serialize(&rs, &out2, 1, &head);
	assert_int_equal(head.clen, 12);
	assert_int_equal(head.bodylen, 0);
	resp_cleanup(&rs);
	buf_cleanup(&out);
	buf_cleanup(&out2);
}

static void
test_page(void **state)
{
	struct json_object	*data;
	struct parsed		 p;
	struct resp		 rs;
	struct buf		 out;

	(void)state;
	buf_init(&out);
	resp_init(&rs);
	/* A page replaces data set before it (and frees it). */
	data = json_object_new_object();
	resp_ok(&rs, 200, data);
	resp_page(&rs, 200, "text/html; charset=utf-8");
	buf_puts(&rs.body, "<!doctype html><p>\xe6\x89\x8b</p>\n");
	serialize(&rs, &out, 0, &p);
	assert_true(strncmp(out.data, "Status: 200 OK\r\n", 16) == 0);
	assert_int_equal(count_line(&p,
	    "Content-Type: text/html; charset=utf-8"), 1);
	assert_false(has_prefix(&p, "Content-Type: application/json"));
	assert_body(&p, "<!doctype html><p>\xe6\x89\x8b</p>\n");
	assert_int_equal(p.clen, 26);

	/* An empty page has a zero length. */
	resp_page(&rs, 401, "text/html; charset=utf-8");
	serialize(&rs, &out, 0, &p);
	assert_true(strncmp(out.data, "Status: 401 Unauthorized\r\n",
	    26) == 0);
	assert_int_equal(p.clen, 0);
	assert_int_equal(count_line(&p, "Content-Length: 0"), 1);

	/* A redirect page keeps its headers. */
	resp_page(&rs, 303, "text/plain; charset=utf-8");
	resp_header(&rs, "Location", "%s", "/users/home");
	serialize(&rs, &out, 0, &p);
	assert_true(strncmp(out.data, "Status: 303 See Other\r\n", 23) == 0);
	assert_int_equal(count_line(&p, "Location: /users/home"), 1);

	/* An error after a page is the JSON envelope again. */
	buf_puts(&rs.body, "stale page text");
	resp_err(&rs, APP_E_UNAUTHORIZED, NULL);
	serialize(&rs, &out, 0, &p);
	assert_int_equal(count_line(&p, "Content-Type: " JSON_CT), 1);
	assert_body(&p, "{\"code\":401,\"msg\":\"authentication required\","
	    "\"error\":\"unauthorized\"}");
	resp_cleanup(&rs);
	resp_cleanup(&rs);
	buf_cleanup(&out);
}

static void
test_ok_after_err(void **state)
{
	struct parsed	 p;
	struct resp	 rs;
	struct buf	 out;

	(void)state;
	buf_init(&out);
	resp_init(&rs);
	resp_err(&rs, APP_E_UNAVAILABLE, "database unavailable");
	serialize(&rs, &out, 0, &p);
	assert_true(strncmp(out.data, "Status: 503 Service Unavailable\r\n",
	    33) == 0);
	assert_body(&p, "{\"code\":503,\"msg\":\"database unavailable\","
	    "\"error\":\"unavailable\"}");
	resp_ok(&rs, 200, NULL);
	serialize(&rs, &out, 0, &p);
	assert_body(&p, "{\"code\":0,\"msg\":\"ok\",\"data\":{}}");
	resp_cleanup(&rs);
	buf_cleanup(&out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ok_with_data),
		cmocka_unit_test(test_ok_null_data),
		cmocka_unit_test(test_untouched_is_internal),
		cmocka_unit_test(test_err_not_found),
		cmocka_unit_test(test_err_table),
		cmocka_unit_test(test_err_custom_msg),
		cmocka_unit_test(test_err_long_msg),
		cmocka_unit_test(test_err_ok_is_internal),
		cmocka_unit_test(test_header),
		cmocka_unit_test(test_head_only),
		cmocka_unit_test(test_page),
		cmocka_unit_test(test_ok_after_err),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
