/* The request model: what a worker knows about one request, and the body parsers that fill it. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <json-c/json.h>

#include "buf.h"
#include "mem.h"
#include "mpart.h"
#include "req.h"

/* Deepest JSON nesting accepted; request bodies are flat objects. */
#define REQ_JSON_DEPTH	8
/* Most fields a form body may carry. */
#define REQ_FORM_FIELDS	64

void
req_init(struct req *rq)
{
	memset(rq, 0, sizeof(*rq));
	rq->content_length = -1;
}

void
req_cleanup(struct req *rq)
{
	if (rq->body != NULL)
		json_object_put(rq->body);
	rq->body = NULL;
	mpart_free(rq->upload);
	rq->upload = NULL;
}

enum req_ctype
req_ctype(const char *ct)
{
	size_t	 n;

	if (ct == NULL || *ct == '\0')
		return REQ_CT_NONE;
	while (*ct == ' ' || *ct == '\t')
		ct++;
	n = strcspn(ct, "; \t");
	if (n == 16 && strncasecmp(ct, "application/json", n) == 0)
		return REQ_CT_JSON;
	if (n == 33 &&
	    strncasecmp(ct, "application/x-www-form-urlencoded", n) == 0)
		return REQ_CT_FORM;
	if (n == 19 && strncasecmp(ct, "multipart/form-data", n) == 0)
		return REQ_CT_MULTIPART;
	return REQ_CT_OTHER;
}

int
req_parse_length(const char *s, long long *out)
{
	long long	 v = 0;

	if (s == NULL || *s == '\0')
		return 0;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return 0;
		if (v > (0x7fffffffffffffffLL - 9) / 10)
			return 0;
		v = v * 10 + (*s - '0');
	}
	*out = v;
	return 1;
}

/*
 * Percent-decode s[0..n) into out (at least n bytes); '+' is a
 * space. Returns the decoded length, or -1 on a malformed escape.
 */
static long
pct_decode(const char *s, size_t n, char *out)
{
	size_t	 i, o = 0;
	int	 hi, lo;

	for (i = 0; i < n; i++) {
		if (s[i] == '+')
			out[o++] = ' ';
		else if (s[i] == '%') {
			if (i + 2 >= n)
				return -1;
			if ((hi = buf_hexval((unsigned char)s[i + 1])) < 0 ||
			    (lo = buf_hexval((unsigned char)s[i + 2])) < 0)
				return -1;
			out[o++] = (char)(hi << 4 | lo);
			i += 2;
		} else
			out[o++] = s[i];
	}
	return (long)o;
}

static int
utf8_valid(const char *s, size_t n)
{
	size_t	 i = 0, k;

	while (i < n) {
		if ((k = buf_utf8_len(s + i, n - i)) == 0)
			return 0;
		i += k;
	}
	return 1;
}

/*
 * json-c 0.16, even in strict mode, lets through what RFC 8259 forbids:
 * single-quoted names, raw control characters in strings, NaN and
 * Infinity, and UTF-8 that is only structurally valid (overlong forms,
 * surrogates). This scan refuses those before the tokenizer runs.
 */
static int
json_text_ok(const char *s, size_t n)
{
	size_t		 i = 0, k;
	unsigned char	 c;
	int		 in_str = 0;

	while (i < n) {
		c = (unsigned char)s[i];
		if (in_str) {
			if (c == '"')
				in_str = 0;
			else if (c == '\\') {
				i += 2;
				continue;
			} else if (c < 0x20)
				return 0;
			else if (c >= 0x80) {
				if ((k = buf_utf8_len(s + i, n - i)) == 0)
					return 0;
				i += k;
				continue;
			}
		} else if (c == '"')
			in_str = 1;
		else if (c >= 0x80 || c == '\'' ||
		    (isalpha(c) && strchr("truefalsnE", c) == NULL))
			return 0;
		i++;
	}
	return 1;
}

static enum app_err
parse_json(const char *data, size_t len, struct json_object **out)
{
	struct json_tokener	*tok;
	struct json_object	*obj;
	size_t			 end;

	if (len > 0x7fffffff || !json_text_ok(data, len))
		return APP_E_INVALID_JSON;
	if ((tok = json_tokener_new_ex(REQ_JSON_DEPTH)) == NULL)
		return APP_E_INTERNAL;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT |
	    JSON_TOKENER_VALIDATE_UTF8);
	obj = json_tokener_parse_ex(tok, data, (int)len);
	if (obj == NULL || json_tokener_get_error(tok) != json_tokener_success ||
	    !json_object_is_type(obj, json_type_object)) {
		json_object_put(obj);
		json_tokener_free(tok);
		return APP_E_INVALID_JSON;
	}
	/* Only whitespace may follow the object. */
	for (end = json_tokener_get_parse_end(tok); end < len; end++)
		if (!isspace((unsigned char)data[end])) {
			json_object_put(obj);
			json_tokener_free(tok);
			return APP_E_INVALID_JSON;
		}
	json_tokener_free(tok);
	*out = obj;
	return APP_OK;
}

static enum app_err
parse_form(const char *data, size_t len, struct json_object **out)
{
	struct json_object	*obj;
	const char		*p = data, *end = data + len, *amp, *eq;
	char			*key = NULL, *val = NULL;
	long			 kn, vn;
	int			 nfields = 0;
	enum app_err		 rc = APP_E_INVALID_JSON;

	obj = json_object_new_object();
	if ((key = mem_trymalloc(len + 1)) == NULL ||
	    (val = mem_trymalloc(len + 1)) == NULL) {
		rc = APP_E_INTERNAL;
		goto out;
	}
	while (p < end) {
		if ((amp = memchr(p, '&', (size_t)(end - p))) == NULL)
			amp = end;
		if (amp == p) {
			p++;
			continue;
		}
		if (++nfields > REQ_FORM_FIELDS)
			goto out;
		if ((eq = memchr(p, '=', (size_t)(amp - p))) == NULL)
			eq = amp;
		if ((kn = pct_decode(p, (size_t)(eq - p), key)) < 0)
			goto out;
		vn = 0;
		if (eq < amp &&
		    (vn = pct_decode(eq + 1, (size_t)(amp - eq - 1), val)) < 0)
			goto out;
		key[kn] = '\0';
		if (!utf8_valid(key, (size_t)kn) || !utf8_valid(val, (size_t)vn))
			goto out;
		/* A name with an embedded NUL cannot be a declared field. */
		if (strlen(key) == (size_t)kn && kn > 0 &&
		    !json_object_object_get_ex(obj, key, NULL))
			json_object_object_add(obj, key,
			    json_object_new_string_len(val, (int)vn));
		p = amp + 1;
	}
	*out = obj;
	obj = NULL;
	rc = APP_OK;
out:
	free(key);
	free(val);
	json_object_put(obj);
	return rc;
}

enum app_err
req_parse_body(const char *data, size_t len, enum req_ctype kind,
    struct json_object **out)
{
	*out = NULL;
	switch (kind) {
	case REQ_CT_JSON:
		return parse_json(data, len, out);
	case REQ_CT_FORM:
		return parse_form(data, len, out);
	default:
		return APP_E_MEDIA_TYPE;
	}
}

int
req_field(const struct req *rq, const char *name, const char **s,
    size_t *len)
{
	struct json_object	*v;

	if (rq->body == NULL ||
	    !json_object_object_get_ex(rq->body, name, &v) ||
	    !json_object_is_type(v, json_type_string))
		return 0;
	*s = json_object_get_string(v);
	*len = (size_t)json_object_get_string_len(v);
	return 1;
}

int
req_query(const char *query, const char *name, char *out, size_t size)
{
	const char	*p, *amp, *eq;
	size_t		 nlen = strlen(name);
	long		 n;

	if (query == NULL)
		return 0;
	for (p = query; *p != '\0'; p = *amp == '\0' ? amp : amp + 1) {
		amp = p + strcspn(p, "&");
		eq = memchr(p, '=', (size_t)(amp - p));
		if (eq == NULL || (size_t)(eq - p) != nlen ||
		    memcmp(p, name, nlen) != 0)
			continue;
		if ((size_t)(amp - eq - 1) >= size)
			return 0;
		if ((n = pct_decode(eq + 1, (size_t)(amp - eq - 1), out)) < 0)
			return 0;
		out[n] = '\0';
		return 1;
	}
	return 0;
}
