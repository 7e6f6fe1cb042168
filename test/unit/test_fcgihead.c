/* Unit tests for lib/fcgihead.c: what a FastCGI request head must look like before libfcgi reads it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "fcgihead.h"

static unsigned char	 buf[FCGIHEAD_MAX + 4096];
static size_t		 len;
static char		 filler[1024];

static void
rec(int type, int rid, const void *content, size_t clen, int pad)
{
	unsigned char	*p = buf + len;

	p[0] = 1;
	p[1] = (unsigned char)type;
	p[2] = (unsigned char)(rid >> 8);
	p[3] = (unsigned char)rid;
	p[4] = (unsigned char)(clen >> 8);
	p[5] = (unsigned char)clen;
	p[6] = (unsigned char)pad;
	p[7] = 0;
	if (clen > 0)
		memcpy(p + 8, content, clen);
	memset(p + 8 + clen, 0, (size_t)pad);
	len += 8 + clen + (size_t)pad;
}

static void
begin(int rid)
{
	static const unsigned char	 body[8] = { 0, 1, 0, 0, 0, 0, 0, 0 };

	rec(1, rid, body, sizeof(body), 0);
}

/* One name-value pair (1- or 4-byte lengths as needed) into out. */
static size_t
pair(unsigned char *out, const char *k, size_t klen, const char *v, size_t vlen)
{
	size_t	 n = 0, l[2] = { klen, vlen };
	int	 i;

	for (i = 0; i < 2; i++) {
		if (l[i] < 128)
			out[n++] = (unsigned char)l[i];
		else {
			out[n++] = (unsigned char)(0x80 | l[i] >> 24);
			out[n++] = (unsigned char)(l[i] >> 16);
			out[n++] = (unsigned char)(l[i] >> 8);
			out[n++] = (unsigned char)l[i];
		}
	}
	memcpy(out + n, k, klen);
	memcpy(out + n + klen, v, vlen);
	return n + klen + vlen;
}

static void
test_nginx_like_head_and_every_prefix(void **state)
{
	unsigned char	 p[512];
	size_t		 n = 0, i, whole;

	(void)state;
	len = 0;
	begin(1);
	n += pair(p + n, "REQUEST_METHOD", 14, "GET", 3);
	n += pair(p + n, "DOCUMENT_URI", 12, "/healthz", 8);
	memset(filler, 'u', sizeof(filler));
	n += pair(p + n, "HTTP_USER_AGENT", 15, filler, 200);
	rec(4, 1, p, n, 5);
	rec(4, 1, NULL, 0, 0);
	whole = len;
	rec(5, 1, "{}", 2, 0);
	for (i = 0; i < whole; i++)
		assert_int_equal(fcgihead_check(buf, i), FCGIHEAD_MORE);
	assert_int_equal(fcgihead_check(buf, whole), FCGIHEAD_OK);
	/* What follows the head is not its business. */
	assert_int_equal(fcgihead_check(buf, len), FCGIHEAD_OK);
	buf[whole] = 9;
	assert_int_equal(fcgihead_check(buf, len), FCGIHEAD_OK);
}

static void
test_pairs_may_span_records(void **state)
{
	unsigned char	 p[1024];
	size_t		 n, cut[] = { 1, 2, 3, 5, 17, 300 }, i;

	(void)state;
	memset(filler, 'c', sizeof(filler));
	n = pair(p, "HTTP_COOKIE", 11, filler, 600);
	for (i = 0; i < sizeof(cut) / sizeof(cut[0]); i++) {
		len = 0;
		begin(7);
		rec(4, 7, p, cut[i], 1);
		rec(4, 7, p + cut[i], n - cut[i], 0);
		rec(4, 7, NULL, 0, 0);
		assert_int_equal(fcgihead_check(buf, len), FCGIHEAD_OK);
	}
	/* The stream ends in the middle of the pair. */
	len = 0;
	begin(7);
	rec(4, 7, p, n - 1, 0);
	rec(4, 7, NULL, 0, 0);
	assert_int_equal(fcgihead_check(buf, len), FCGIHEAD_BAD);
	/* Or in the middle of a 4-byte length. */
	len = 0;
	begin(7);
	rec(4, 7, p, 2, 0);
	rec(4, 7, NULL, 0, 0);
	assert_int_equal(fcgihead_check(buf, len), FCGIHEAD_BAD);
}

static void
test_lengths_that_overflow_libfcgi(void **state)
{
	static const unsigned char	 evil[][8] = {
		{ 0xff, 0xff, 0xff, 0xf0, 0x8f, 0xff, 0xff, 0xf0 },
		{ 0xc0, 0, 0, 0, 0xc0, 0, 0, 0 },
		{ 0x80, 0x02, 0, 1, 0x01, 'x', 'y', 'z' },
	};
	size_t	 i;

	(void)state;
	for (i = 0; i < sizeof(evil) / sizeof(evil[0]); i++) {
		len = 0;
		begin(1);
		rec(4, 1, evil[i], sizeof(evil[i]), 0);
		assert_int_equal(fcgihead_check(buf, len), FCGIHEAD_BAD);
	}
}

static void
test_records_out_of_place(void **state)
{
	static const unsigned char	 body[8] = { 0, 1, 0, 0, 0, 0, 0, 0 };

	(void)state;
	/* Not version 1. */
	len = 0;
	begin(1);
	buf[0] = 2;
	assert_int_equal(fcgihead_check(buf, len), FCGIHEAD_BAD);
	/* PARAMS, STDIN or a management record first. */
	len = 0;
	rec(4, 1, NULL, 0, 0);
	assert_int_equal(fcgihead_check(buf, len), FCGIHEAD_BAD);
	len = 0;
	rec(9, 0, NULL, 0, 0);
	assert_int_equal(fcgihead_check(buf, len), FCGIHEAD_BAD);
	/* Request id 0, or a BEGIN_REQUEST body of the wrong size. */
	len = 0;
	begin(0);
	assert_int_equal(fcgihead_check(buf, len), FCGIHEAD_BAD);
	len = 0;
	rec(1, 1, body, 7, 0);
	assert_int_equal(fcgihead_check(buf, len), FCGIHEAD_BAD);
	/* STDIN before PARAMS ended; PARAMS of another request; two BEGINs. */
	len = 0;
	begin(1);
	rec(5, 1, "x", 1, 0);
	assert_int_equal(fcgihead_check(buf, len), FCGIHEAD_BAD);
	len = 0;
	begin(1);
	rec(4, 2, NULL, 0, 0);
	assert_int_equal(fcgihead_check(buf, len), FCGIHEAD_BAD);
	len = 0;
	begin(1);
	begin(1);
	assert_int_equal(fcgihead_check(buf, len), FCGIHEAD_BAD);
}

static void
test_size_limit(void **state)
{
	static unsigned char	 big[65535];
	size_t			 i;

	(void)state;
	memset(big, 'a', sizeof(big));
	len = 0;
	begin(1);
	/* Valid bytes, but the stream never ends within the limit. */
	big[0] = 0x80;		/* a 126976-byte name, an empty value */
	big[1] = 0x01;
	big[2] = 0xf0;
	big[3] = 0x00;
	big[4] = 0;
	for (i = 0; len + 8 + sizeof(big) <= FCGIHEAD_MAX; i++)
		rec(4, 1, big, sizeof(big), 0);
	assert_int_equal(fcgihead_check(buf, len), FCGIHEAD_MORE);
	rec(4, 1, big, sizeof(big), 0);
	assert_int_equal(fcgihead_check(buf, len), FCGIHEAD_BAD);
	assert_int_equal(fcgihead_check(buf, FCGIHEAD_MAX), FCGIHEAD_BAD);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nginx_like_head_and_every_prefix),
		cmocka_unit_test(test_pairs_may_span_records),
		cmocka_unit_test(test_lengths_that_overflow_libfcgi),
		cmocka_unit_test(test_records_out_of_place),
		cmocka_unit_test(test_size_limit),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
