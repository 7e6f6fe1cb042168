/* Unit tests for lib/buf.c: growth, reuse, and JSON string escaping that always yields valid JSON. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "buf.h"

/* U+FFFD as UTF-8, what json-c decodes "\ufffd" into. */
#define FFFD	"\xef\xbf\xbd"

/* The buffer invariant: data NUL-terminated after len, room counted in cap. */
static void
check_invariant(const struct buf *b)
{
	assert_non_null(b->data);
	assert_true(b->len + 1 <= b->cap);
	assert_int_equal(b->data[b->len], '\0');
}

static void
test_append_growth(void **state)
{
	struct buf	 b;
	char		 want[16];
	size_t		 i, off;

	(void)state;
	buf_init(&b);
	assert_null(b.data);
	assert_int_equal(b.len, 0);
	for (i = 0; i < 10000; i++) {
		buf_append(&b, "abc", 3);
		buf_putc(&b, (char)('0' + i % 10));
		check_invariant(&b);
	}
	assert_int_equal(b.len, 40000);
	for (i = 0; i < 10000; i++) {
		snprintf(want, sizeof(want), "abc%c", (char)('0' + i % 10));
		assert_memory_equal(b.data + 4 * i, want, 4);
	}
	/* An empty append still leaves a terminated buffer. */
	buf_append(&b, "", 0);
	check_invariant(&b);
	assert_int_equal(b.len, 40000);

	buf_reset(&b);
	buf_puts(&b, "x");
	off = b.len;
	for (i = 0; i < 5000; i++) {
		buf_printf(&b, "%zu,", i);
		check_invariant(&b);
	}
	/* Read it back number by number. */
	for (i = 0; i < 5000; i++) {
		snprintf(want, sizeof(want), "%zu,", i);
		assert_memory_equal(b.data + off, want, strlen(want));
		off += strlen(want);
	}
	assert_int_equal(off, b.len);
	buf_cleanup(&b);
	assert_null(b.data);
	assert_int_equal(b.len, 0);
	assert_int_equal(b.cap, 0);
}

static void
test_printf_large(void **state)
{
	struct buf	 b;
	char		*big;
	size_t		 n = 100000;

	(void)state;
	big = malloc(n + 1);
	assert_non_null(big);
	memset(big, 'z', n);
	big[n] = '\0';
	buf_init(&b);
	buf_puts(&b, "<");
	buf_printf(&b, "%s>%d", big, 42);
	check_invariant(&b);
	assert_int_equal(b.len, n + 4);
	assert_int_equal(b.data[0], '<');
	assert_memory_equal(b.data + 1, big, n);
	assert_string_equal(b.data + 1 + n, ">42");
	/* An empty format on a fresh buffer still terminates it. */
	buf_cleanup(&b);
	buf_printf(&b, "%s", "");
	check_invariant(&b);
	assert_int_equal(b.len, 0);
	buf_cleanup(&b);
	free(big);
}

static void
test_reset_reuse(void **state)
{
	struct buf	 b;
	char		*data;
	size_t		 cap;
	int		 round;

	(void)state;
	buf_init(&b);
	/* Reset of a buffer that never allocated is harmless. */
	buf_reset(&b);
	assert_int_equal(b.len, 0);
	for (round = 0; round < 3; round++) {
		buf_printf(&b, "round %d: %s", round, "hello");
		check_invariant(&b);
		if (round == 0)
			assert_string_equal(b.data, "round 0: hello");
		data = b.data;
		cap = b.cap;
		buf_reset(&b);
		/* The allocation is kept for reuse. */
		assert_ptr_equal(b.data, data);
		assert_int_equal(b.cap, cap);
		assert_int_equal(b.len, 0);
		assert_string_equal(b.data, "");
	}
	buf_puts(&b, "again");
	assert_string_equal(b.data, "again");
	assert_int_equal(b.len, 5);
	buf_cleanup(&b);
	/* Cleanup leaves an empty buffer that can be used again. */
	buf_puts(&b, "after");
	assert_string_equal(b.data, "after");
	buf_cleanup(&b);
	buf_cleanup(&b);
}

struct esc_case {
	const char	*name;
	const char	*in;
	size_t		 inlen;
	const char	*out;		/* exact escaped text */
	const char	*dec;		/* what a JSON parser decodes it to */
	size_t		 declen;
};

#define S(s)	s, sizeof(s) - 1

static const struct esc_case esc_cases[] = {
	{ "empty", S(""), "", S("") },
	{ "plain ascii", S("hello, world / ~"), "hello, world / ~",
	    S("hello, world / ~") },
	{ "quote", S("say \"hi\""), "say \\\"hi\\\"", S("say \"hi\"") },
	{ "backslash", S("a\\b"), "a\\\\b", S("a\\b") },
	{ "newline cr tab", S("a\nb\rc\td"), "a\\nb\\rc\\td",
	    S("a\nb\rc\td") },
	{ "control 0x01", S("\x01"), "\\u0001", S("\x01") },
	{ "control 0x1f", S("x\x1fy"), "x\\u001fy", S("x\x1fy") },
	{ "backspace formfeed", S("\b\f"), "\\u0008\\u000c", S("\b\f") },
	{ "del passes", S("\x7f"), "\x7f", S("\x7f") },
	{ "embedded nul", S("a\0b"), "a\\u0000b", S("a\0b") },
	{ "two-byte utf-8", S("caf\xc3\xa9"), "caf\xc3\xa9",
	    S("caf\xc3\xa9") },
	{ "three-byte utf-8", S("\xe6\x89\x8b\xe6\x9c\xba"),
	    "\xe6\x89\x8b\xe6\x9c\xba", S("\xe6\x89\x8b\xe6\x9c\xba") },
	{ "four-byte emoji", S("\xf0\x9f\x98\x80!"), "\xf0\x9f\x98\x80!",
	    S("\xf0\x9f\x98\x80!") },
	{ "max code point", S("\xf4\x8f\xbf\xbf"), "\xf4\x8f\xbf\xbf",
	    S("\xf4\x8f\xbf\xbf") },
	{ "lone 0xff", S("a\xff" "b"), "a\\ufffdb", S("a" FFFD "b") },
	{ "lone continuation", S("\x80"), "\\ufffd", S(FFFD) },
	{ "truncated at end", S("\xe6\x89"), "\\ufffd\\ufffd",
	    S(FFFD FFFD) },
	{ "truncated before ascii", S("\xe6\x89x"), "\\ufffd\\ufffdx",
	    S(FFFD FFFD "x") },
	{ "truncated emoji", S("\xf0\x9f\x98"), "\\ufffd\\ufffd\\ufffd",
	    S(FFFD FFFD FFFD) },
	{ "overlong slash", S("\xc0\xaf"), "\\ufffd\\ufffd", S(FFFD FFFD) },
	{ "overlong nul", S("\xc0\x80"), "\\ufffd\\ufffd", S(FFFD FFFD) },
	{ "overlong three-byte", S("\xe0\x80\xaf"),
	    "\\ufffd\\ufffd\\ufffd", S(FFFD FFFD FFFD) },
	{ "surrogate", S("\xed\xa0\x80"), "\\ufffd\\ufffd\\ufffd",
	    S(FFFD FFFD FFFD) },
	{ "past U+10FFFF", S("\xf4\x90\x80\x80"),
	    "\\ufffd\\ufffd\\ufffd\\ufffd", S(FFFD FFFD FFFD FFFD) },
	{ "0xf8 lead", S("\xf8\x88\x80\x80\x80"),
	    "\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd",
	    S(FFFD FFFD FFFD FFFD FFFD) },
	{ "mixed", S("\"\xe6\x89\x8b\xff\n\\"),
	    "\\\"\xe6\x89\x8b\\ufffd\\n\\\\", S("\"\xe6\x89\x8b" FFFD "\n\\") },
};

/* Parse "out" as the inside of a JSON string; returns the new object. */
static struct json_object *
parse_inside(const char *out, size_t len)
{
	struct json_tokener	*tok;
	struct json_object	*obj;
	char			*doc;

	doc = malloc(len + 3);
	assert_non_null(doc);
	doc[0] = '"';
	memcpy(doc + 1, out, len);
	doc[len + 1] = '"';
	doc[len + 2] = '\0';
	tok = json_tokener_new();
	assert_non_null(tok);
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT |
	    JSON_TOKENER_VALIDATE_UTF8);
	obj = json_tokener_parse_ex(tok, doc, (int)(len + 2));
	if (json_tokener_get_error(tok) != json_tokener_success) {
		json_object_put(obj);
		obj = NULL;
	}
	json_tokener_free(tok);
	free(doc);
	return obj;
}

static void
test_json_str_table(void **state)
{
	const struct esc_case	*c;
	struct json_object	*obj;
	struct buf		 b;
	size_t			 i;

	(void)state;
	buf_init(&b);
	for (i = 0; i < sizeof(esc_cases) / sizeof(esc_cases[0]); i++) {
		c = &esc_cases[i];
		buf_reset(&b);
		buf_json_str(&b, c->in, c->inlen);
		if (b.len != strlen(c->out) || memcmp(b.data, c->out,
		    b.len) != 0)
			fail_msg("%s: escaped to '%.*s', want '%s'", c->name,
			    (int)b.len, b.data, c->out);
		assert_int_equal(b.data[b.len], '\0');

		/* The same json-c the server uses must accept and decode it. */
		if ((obj = parse_inside(b.data, b.len)) == NULL)
			fail_msg("%s: json-c rejects \"%s\"", c->name, b.data);
		if (!json_object_is_type(obj, json_type_string) ||
		    (size_t)json_object_get_string_len(obj) != c->declen ||
		    memcmp(json_object_get_string(obj), c->dec,
		    c->declen) != 0) {
			json_object_put(obj);
			fail_msg("%s: decodes to something else", c->name);
		}
		json_object_put(obj);
	}
	buf_cleanup(&b);
}

static void
test_json_str_appends(void **state)
{
	struct buf	 b;

	(void)state;
	buf_init(&b);
	buf_puts(&b, "{\"k\":\"");
	buf_json_str(&b, "v\"", 2);
	buf_puts(&b, "\"}");
	assert_string_equal(b.data, "{\"k\":\"v\\\"\"}");
	buf_cleanup(&b);

	/* Even an empty string on a fresh buffer leaves it terminated. */
	buf_init(&b);
	buf_json_str(&b, "", 0);
	assert_int_equal(b.len, 0);
	if (b.data != NULL)
		assert_int_equal(b.data[0], '\0');
	buf_cleanup(&b);
}

static void
test_json_str_every_byte(void **state)
{
	struct json_object	*obj;
	struct buf		 b;
	char			 in[1];
	int			 c;

	(void)state;
	buf_init(&b);
	/* Any single byte, and any byte inside text, escapes to valid JSON. */
	for (c = 0; c < 256; c++) {
		in[0] = (char)c;
		buf_reset(&b);
		buf_json_str(&b, in, 1);
		if ((obj = parse_inside(b.data, b.len)) == NULL)
			fail_msg("byte 0x%02x: json-c rejects \"%s\"", c,
			    b.data);
		json_object_put(obj);
	}
	buf_cleanup(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_append_growth),
		cmocka_unit_test(test_printf_large),
		cmocka_unit_test(test_reset_reuse),
		cmocka_unit_test(test_json_str_table),
		cmocka_unit_test(test_json_str_appends),
		cmocka_unit_test(test_json_str_every_byte),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
