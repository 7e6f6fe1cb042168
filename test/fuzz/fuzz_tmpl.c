/* libFuzzer harness for lib/tmpl.c: template text, a NUL, then JSON data; parse, render, free. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "buf.h"
#include "mem.h"
#include "tmpl.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* Longest array anywhere in v. */
static size_t
max_array(struct json_object *v, int depth)
{
	struct json_object_iterator	 it, end;
	size_t				 m = 0, n, i, len;

	if (depth > 64)
		return 0;
	if (json_object_is_type(v, json_type_array)) {
		m = len = json_object_array_length(v);
		for (i = 0; i < len; i++)
			if ((n = max_array(json_object_array_get_idx(v, i),
			    depth + 1)) > m)
				m = n;
	} else if (json_object_is_type(v, json_type_object)) {
		it = json_object_iter_begin(v);
		end = json_object_iter_end(v);
		for (; !json_object_iter_equal(&it, &end);
		    json_object_iter_next(&it))
			if ((n = max_array(json_object_iter_peek_value(&it),
			    depth + 1)) > m)
				m = n;
	}
	return m;
}

/*
 * Nested sections over arrays multiply by design ({{#a}}{{#a}}... with a
 * long a renders len^depth times), which is slow, not wrong. Skip the
 * render when (longest array)^(section tags) could pass 2^20 bodies.
 */
static int
bounded(const char *text, size_t len, struct json_object *data)
{
	size_t	 i, sections = 0, m, work = 1;

	for (i = 0; i + 2 < len; i++)
		if (text[i] == '{' && text[i + 1] == '{' && text[i + 2] == '#')
			sections++;
	if ((m = max_array(data, 0)) < 2)
		return 1;
	for (i = 0; i < sections; i++)
		if ((work *= m) > (1 << 20))
			return 0;
	return 1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *bytes, size_t size)
{
	const char		*in = (const char *)bytes, *nul;
	struct json_object	*data = NULL;
	struct tmpl		*t;
	struct buf		 out;
	char			 err[256], *js;
	size_t			 tlen;

	nul = memchr(in, '\0', size);
	tlen = nul != NULL ? (size_t)(nul - in) : size;
	if (nul != NULL) {
		js = mem_strndup(nul + 1, size - tlen - 1);
		data = json_tokener_parse(js);
		free(js);
	}
	if (!json_object_is_type(data, json_type_object)) {
		json_object_put(data);
		data = json_object_new_object();
	}

	err[0] = 'x';
	if ((t = tmpl_parse(in, tlen, err, sizeof(err))) == NULL) {
		/* A refusal always says where. */
		if (strstr(err, "line ") == NULL)
			abort();
	} else {
		if (err[0] != '\0')
			abort();
		if (bounded(in, tlen, data)) {
			buf_init(&out);
			tmpl_render(t, data, &out);
			/* Rendering is repeatable: templates are immutable. */
			tmpl_render(t, data, &out);
			if (out.len % 2 != 0 || (out.len > 0 &&
			    memcmp(out.data, out.data + out.len / 2,
			    out.len / 2) != 0))
				abort();
			buf_cleanup(&out);
		}
		tmpl_free(t);
	}
	json_object_put(data);
	return 0;
}
