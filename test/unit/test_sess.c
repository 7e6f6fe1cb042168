/* Unit tests for lib/sess.c: token shape and hashing, Bearer and Cookie header parsing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "sess.h"

static void
test_new_tokens(void **state)
{
	char		 a[SESS_TOKEN_LEN + 1], b[SESS_TOKEN_LEN + 1];
	unsigned char	 ha[SESS_HASH_LEN], hb[SESS_HASH_LEN];
	unsigned char	 again[SESS_HASH_LEN];

	(void)state;
	assert_true(sodium_init() >= 0);
	sess_new(a, ha);
	sess_new(b, hb);
	assert_int_equal(strlen(a), SESS_TOKEN_LEN);
	assert_string_not_equal(a, b);
	assert_memory_not_equal(ha, hb, SESS_HASH_LEN);
	/* The stored hash is the hash of the presented token. */
	assert_int_equal(sess_hash(a, strlen(a), again), 1);
	assert_memory_equal(ha, again, SESS_HASH_LEN);
}

static void
test_malformed_tokens(void **state)
{
	static const char *const bad[] = {
		"", "short", "zxEQUiJz_-3kMzoao9hq5tBUMqH8XXSQDqNfq2rLb2", /* 42 */
		"zxEQUiJz_-3kMzoao9hq5tBUMqH8XXSQDqNfq2rLb2IX", /* 44 */
		"zxEQUiJz_-3kMzoao9hq5tBUMqH8XXSQDqNfq2rLb2=",
		"zxEQUiJz_-3kMzoao9hq5tBUMqH8XXSQDqNfq2rLb+I",
		"zxEQUiJz_-3kMzoao9hq5tBUMqH8XXSQDqNfq2rLb/I",
		"zxEQUiJz_-3kMzoao9hq5tBUMqH8XXSQDqNfq2rL'--",
		"zxEQUiJz_-3kMzoao9hq5tBUMqH8XXSQDqNfq2rLb I",
	};
	unsigned char	 h[SESS_HASH_LEN];
	size_t		 i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (sess_hash(bad[i], strlen(bad[i]), h) != 0)
			fail_msg("accepted '%s'", bad[i]);
	assert_int_equal(sess_hash("zxEQUiJz_-3kMzoao9hq5tBUMqH8XXSQDqNfq2rLb2I",
	    43, h), 1);
}

static void
test_bearer(void **state)
{
	const char	*t;
	size_t		 n;

	(void)state;
	assert_int_equal(sess_bearer("Bearer abc", &t, &n), 1);
	assert_int_equal(n, 3);
	assert_memory_equal(t, "abc", 3);
	assert_int_equal(sess_bearer("bearer   abc", &t, &n), 1);
	assert_int_equal(n, 3);
	assert_int_equal(sess_bearer("Basic abc", &t, &n), 0);
	assert_int_equal(sess_bearer("Bearer", &t, &n), 0);
	assert_int_equal(sess_bearer("Bearer ", &t, &n), 0);
	assert_int_equal(sess_bearer("Bearer abc def", &t, &n), 0);
	assert_int_equal(sess_bearer("Bearerabc", &t, &n), 0);
	assert_int_equal(sess_bearer(NULL, &t, &n), 0);
}

static void
test_cookie(void **state)
{
	const char	*v;
	size_t		 n;

	(void)state;
	assert_int_equal(sess_cookie("__Host-sid=abc", "__Host-sid", &v, &n),
	    1);
	assert_int_equal(n, 3);
	assert_memory_equal(v, "abc", 3);
	assert_int_equal(sess_cookie("a=1; __Host-sid=xyz; b=2", "__Host-sid",
	    &v, &n), 1);
	assert_int_equal(n, 3);
	assert_memory_equal(v, "xyz", 3);
	/* The first of two wins; trailing blanks are not part of the value. */
	assert_int_equal(sess_cookie("__Host-sid=one ;__Host-sid=two",
	    "__Host-sid", &v, &n), 1);
	assert_int_equal(n, 3);
	assert_memory_equal(v, "one", 3);
	/* Names must match whole. */
	assert_int_equal(sess_cookie("x__Host-sid=abc; __Host-sidx=abc",
	    "__Host-sid", &v, &n), 0);
	assert_int_equal(sess_cookie("__Host-sid", "__Host-sid", &v, &n), 0);
	assert_int_equal(sess_cookie("", "__Host-sid", &v, &n), 0);
	assert_int_equal(sess_cookie(";;;", "__Host-sid", &v, &n), 0);
	assert_int_equal(sess_cookie(NULL, "__Host-sid", &v, &n), 0);
	assert_int_equal(sess_cookie("__Host-sid=", "__Host-sid", &v, &n), 1);
	assert_int_equal(n, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_new_tokens),
		cmocka_unit_test(test_malformed_tokens),
		cmocka_unit_test(test_bearer),
		cmocka_unit_test(test_cookie),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
