/* libFuzzer harness for lib/req.c: JSON and form bodies, query strings, Content-Type and Content-Length. */
#include <ctype.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "req.h"

/*
 * Input: one selector byte, then the client bytes. The selector's low six
 * bits are the size of req_query's output buffer (0..63, allocated at
 * exactly that size so a write past it is caught), the top two pick the
 * parameter name. The same bytes are then parsed as a JSON body, a form
 * body, a query string, a Content-Type and a Content-Length.
 */
static const char *const qnames[] = { "ticket", "limit", "before", "ms" };

/* Deepest nesting the contract allows (docs/api.md); the object is 1. */
#define JSON_DEPTH_MAX	8
/* Most fields a form body may carry (docs/api.md). */
#define FORM_FIELDS_MAX	64

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/*
 * UTF-8 as RFC 3629 defines it, from its table of well-formed byte
 * sequences, written apart from lib/buf.c so the two check each other.
 */
static int
utf8_ok(const unsigned char *s, size_t n)
{
	size_t		 i = 0, k, j;
	unsigned char	 lo, hi;

	while (i < n) {
		if (s[i] < 0x80) {
			i++;
			continue;
		}
		lo = 0x80;
		hi = 0xbf;
		if (s[i] >= 0xc2 && s[i] <= 0xdf)
			k = 1;
		else if (s[i] >= 0xe0 && s[i] <= 0xef) {
			k = 2;
			if (s[i] == 0xe0)
				lo = 0xa0;
			else if (s[i] == 0xed)
				hi = 0x9f;
		} else if (s[i] >= 0xf0 && s[i] <= 0xf4) {
			k = 3;
			if (s[i] == 0xf0)
				lo = 0x90;
			else if (s[i] == 0xf4)
				hi = 0x8f;
		} else
			return 0;
		if (n - i <= k)
			return 0;
		for (j = 1; j <= k; j++) {
			if (s[i + j] < lo || s[i + j] > hi)
				return 0;
			lo = 0x80;
			hi = 0xbf;
		}
		i += k + 1;
	}
	return 1;
}

/* Nesting depth of v (a scalar is 0) and whether every string is UTF-8. */
static int
walk(struct json_object *v, int *strings_ok)
{
	struct json_object_iterator	 it, end;
	const char			*k;
	size_t				 i, n;
	int				 d, m = 0;

	switch (json_object_get_type(v)) {
	case json_type_string:
		if (!utf8_ok((const unsigned char *)json_object_get_string(v),
		    (size_t)json_object_get_string_len(v)))
			*strings_ok = 0;
		return 0;
	case json_type_array:
		n = json_object_array_length(v);
		for (i = 0; i < n; i++)
			if ((d = walk(json_object_array_get_idx(v, i),
			    strings_ok)) > m)
				m = d;
		return m + 1;
	case json_type_object:
		it = json_object_iter_begin(v);
		end = json_object_iter_end(v);
		for (; !json_object_iter_equal(&it, &end);
		    json_object_iter_next(&it)) {
			k = json_object_iter_peek_name(&it);
			if (!utf8_ok((const unsigned char *)k, strlen(k)))
				*strings_ok = 0;
			if ((d = walk(json_object_iter_peek_value(&it),
			    strings_ok)) > m)
				m = d;
		}
		return m + 1;
	default:
		return 0;
	}
}

/*
 * A JSON body is one object of UTF-8 strings within the depth limit, and
 * what json-c prints back of it parses again to the same thing.
 */
static void
check_json(const char *data, size_t len)
{
	struct json_object	*obj, *again;
	struct req		 rq;
	const char		*text, *s;
	size_t			 n;
	enum app_err		 e;
	int			 strings_ok = 1;

	e = req_parse_body(data, len, REQ_CT_JSON, &obj);
	if (e == APP_E_INVALID_JSON) {
		if (obj != NULL)
			abort();
		return;
	}
	if (e != APP_OK || !json_object_is_type(obj, json_type_object))
		abort();
	if (walk(obj, &strings_ok) > JSON_DEPTH_MAX || !strings_ok)
		abort();
	text = json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN);
	if (req_parse_body(text, strlen(text), REQ_CT_JSON, &again) !=
	    APP_OK || !json_object_equal(obj, again))
		abort();
	json_object_put(again);

	/* The handlers' view of it: a string field or nothing. */
	req_init(&rq);
	rq.body = obj;
	if (req_field(&rq, "phone", &s, &n) &&
	    (s == NULL || s[n] != '\0' || !utf8_ok((const unsigned char *)s,
	    n)))
		abort();
	req_cleanup(&rq);
	if (rq.body != NULL)
		abort();
}

/* Strict percent-decoding as docs/api.md states it; -1 when malformed. */
static long
ref_decode(const char *s, size_t n, char *out)
{
	size_t	 i, o = 0;
	char	 hex[3] = { 0 };

	for (i = 0; i < n; i++) {
		if (s[i] == '+')
			out[o++] = ' ';
		else if (s[i] != '%')
			out[o++] = s[i];
		else if (n - i < 3 || !isxdigit((unsigned char)s[i + 1]) ||
		    !isxdigit((unsigned char)s[i + 2]))
			return -1;
		else {
			hex[0] = s[i + 1];
			hex[1] = s[i + 2];
			out[o++] = (char)strtol(hex, NULL, 16);
			i += 2;
		}
	}
	return (long)o;
}

/*
 * The form rules of docs/api.md, written out a second way: '&'-separated
 * pairs (empty ones skipped, at most 64), name up to the first '=', both
 * sides percent-decoded and UTF-8, the first of a name wins, a name that
 * is empty or holds a NUL is dropped. Returns the object or NULL.
 */
static struct json_object *
ref_form(const char *data, size_t len)
{
	struct json_object	*obj;
	char			*seg, *key, *val;
	size_t			 start = 0, i, eq;
	long			 kn, vn;
	int			 fields = 0, ok = 1;

	obj = json_object_new_object();
	key = malloc(len + 1);
	val = malloc(len + 1);
	seg = malloc(len + 1);
	if (key == NULL || val == NULL || seg == NULL)
		abort();
	for (i = 0; i <= len && ok; i++) {
		if (i < len && data[i] != '&')
			continue;
		if (i == start) {
			start = i + 1;
			continue;
		}
		memcpy(seg, data + start, i - start);
		for (eq = 0; eq < i - start && seg[eq] != '='; eq++)
			continue;
		kn = ref_decode(seg, eq, key);
		vn = 0;
		if (eq < i - start)
			vn = ref_decode(seg + eq + 1, i - start - eq - 1, val);
		if (++fields > FORM_FIELDS_MAX || kn < 0 || vn < 0 ||
		    !utf8_ok((unsigned char *)key, (size_t)kn) ||
		    !utf8_ok((unsigned char *)val, (size_t)vn))
			ok = 0;
		else if (kn > 0 && memchr(key, '\0', (size_t)kn) == NULL) {
			key[kn] = '\0';
			if (!json_object_object_get_ex(obj, key, NULL))
				json_object_object_add(obj, key,
				    json_object_new_string_len(val, (int)vn));
		}
		start = i + 1;
	}
	free(seg);
	free(key);
	free(val);
	if (!ok) {
		json_object_put(obj);
		obj = NULL;
	}
	return obj;
}

static void
check_form(const char *data, size_t len)
{
	struct json_object	*obj, *want;
	enum app_err		 e;

	e = req_parse_body(data, len, REQ_CT_FORM, &obj);
	want = ref_form(data, len);
	if (want == NULL) {
		if (e != APP_E_INVALID_JSON || obj != NULL)
			abort();
		return;
	}
	if (e != APP_OK || obj == NULL || !json_object_equal(obj, want))
		abort();
	json_object_put(obj);
	json_object_put(want);
}

/*
 * req_query against the same rules for one name: the first pair whose raw
 * name matches and has an '=' decides; it must fit in size bytes with the
 * NUL and decode, else 0.
 */
static void
check_query(const char *q, const char *name, size_t size)
{
	char		*out, *want;
	const char	*p, *amp, *eq;
	size_t		 nlen = strlen(name), vlen;
	long		 n = -1;
	int		 found = 0, rc;

	if ((out = malloc(size)) == NULL || (want = malloc(strlen(q) + 1)) ==
	    NULL)
		abort();
	for (p = q; !found; p = amp + 1) {
		amp = strchr(p, '&');
		if (amp == NULL)
			amp = p + strlen(p);
		eq = memchr(p, '=', (size_t)(amp - p));
		if (eq != NULL && (size_t)(eq - p) == nlen &&
		    strncmp(p, name, nlen) == 0) {
			found = 1;
			vlen = (size_t)(amp - eq - 1);
			if (vlen < size)
				n = ref_decode(eq + 1, vlen, want);
		}
		if (*amp == '\0')
			break;
	}
	rc = req_query(q, name, out, size);
	if (rc != (n >= 0))
		abort();
	if (rc && (out[n] != '\0' || memcmp(out, want, (size_t)n) != 0))
		abort();
	free(out);
	free(want);
}

/* Content-Length: digits only, no sign, no overflow. */
static void
check_length(const char *s)
{
	long long		 v = -1;
	unsigned long long	 want = 0;
	size_t			 i, n = strlen(s);
	int			 digits = n > 0, big = 0;

	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			digits = 0;
		else if (!big && want > (~0ULL - 9) / 10)
			big = 1;
		else if (!big)
			want = want * 10 + (unsigned long long)(s[i] - '0');
	}
	if (req_parse_length(s, &v)) {
		if (!digits || big || (unsigned long long)v != want)
			abort();
	} else if (digits && !big && want < 0x7fffffffffffff00ULL)
		/* Refusing within a few of LLONG_MAX is allowed. */
		abort();
}

/* Content-Type: a known kind, not case-sensitive. */
static void
check_ctype(const char *s)
{
	enum req_ctype	 k;
	char		*low;
	size_t		 i, n = strlen(s);

	k = req_ctype(s);
	if (k < REQ_CT_NONE || k >= REQ_CT__MAX)
		abort();
	if ((low = strdup(s)) == NULL)
		abort();
	for (i = 0; i < n; i++)
		low[i] = (char)tolower((unsigned char)low[i]);
	if (req_ctype(low) != k || (k == REQ_CT_NONE && n > 0))
		abort();
	free(low);
}

int
LLVMFuzzerTestOneInput(const uint8_t *bytes, size_t size)
{
	struct json_object	*obj;
	const char		*data = (const char *)bytes + 1;
	char			*str;
	size_t			 len;
	static const enum req_ctype other[] = { REQ_CT_NONE,
	    REQ_CT_MULTIPART, REQ_CT_OTHER };
	size_t			 i;

	if (size == 0)
		return 0;
	len = size - 1;

	/* Bodies are not NUL-terminated: parse the fuzzer's own bytes. */
	check_json(data, len);
	check_form(data, len);
	for (i = 0; i < sizeof(other) / sizeof(other[0]); i++)
		if (req_parse_body(data, len, other[i], &obj) !=
		    APP_E_MEDIA_TYPE || obj != NULL)
			abort();

	/* FastCGI parameters are C strings: up to the first NUL. */
	if ((str = malloc(len + 1)) == NULL)
		abort();
	memcpy(str, data, len);
	str[len] = '\0';
	check_query(str, qnames[bytes[0] >> 6], bytes[0] & 0x3f);
	check_length(str);
	check_ctype(str);
	free(str);
	return 0;
}
