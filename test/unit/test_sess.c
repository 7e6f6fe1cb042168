/* Unit tests for lib/sess.c: token shape and hashing, signed tickets, Bearer and Cookie header parsing. */
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

#define KEY_A	"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
#define KEY_B	"ff0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"

static void
test_ticket_round_trip(void **state)
{
	char		 a[SESS_TICKET_LEN + 1], b[SESS_TICKET_LEN + 1];
	unsigned char	 ha[SESS_HASH_LEN], hb[SESS_HASH_LEN];
	long long	 uid, exp;
	size_t		 i;

	(void)state;
	assert_true(sodium_init() >= 0);
	assert_int_equal(sess_init(KEY_A), 0);
	sess_ticket_new(9007199254740993LL, 1790000000LL, a);
	sess_ticket_new(9007199254740993LL, 1790000000LL, b);
	assert_int_equal(strlen(a), SESS_TICKET_LEN);
	/* URL-safe as it is, and unique even for the same user and second. */
	for (i = 0; i < SESS_TICKET_LEN; i++)
		assert_non_null(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklm"
		    "nopqrstuvwxyz0123456789-_", a[i]));
	assert_string_not_equal(a, b);
	assert_int_equal(sess_ticket_open(a, strlen(a), &uid, &exp, ha), 1);
	assert_true(uid == 9007199254740993LL);
	assert_true(exp == 1790000000LL);
	assert_int_equal(sess_ticket_open(b, strlen(b), &uid, &exp, hb), 1);
	assert_memory_not_equal(ha, hb, SESS_HASH_LEN);
	/* The same ticket always spends under the same hash. */
	assert_int_equal(sess_ticket_open(a, strlen(a), &uid, &exp, hb), 1);
	assert_memory_equal(ha, hb, SESS_HASH_LEN);
}

static void
test_ticket_forgeries(void **state)
{
	char		 t[SESS_TICKET_LEN + 1], m[SESS_TICKET_LEN + 2];
	unsigned char	 h[SESS_HASH_LEN];
	long long	 uid = -1, exp = -1;
	size_t		 i;
	char		 c;

	(void)state;
	assert_true(sodium_init() >= 0);
	assert_int_equal(sess_init(KEY_A), 0);
	sess_ticket_new(42, 1790000000LL, t);
	/* Any one character changed: the MAC fails, or the base64 does. */
	for (i = 0; i < SESS_TICKET_LEN; i++) {
		memcpy(m, t, sizeof(t));
		for (c = 'A'; c <= 'Z'; c++) {
			if (c == t[i])
				continue;
			m[i] = c;
			if (sess_ticket_open(m, SESS_TICKET_LEN, &uid, &exp,
			    h) != 0)
				fail_msg("accepted a change at %zu", i);
		}
	}
	/* Too short, too long, not base64url, padded. */
	assert_int_equal(sess_ticket_open(t, SESS_TICKET_LEN - 1, &uid, &exp,
	    h), 0);
	memcpy(m, t, sizeof(t));
	m[SESS_TICKET_LEN] = 'A';
	m[SESS_TICKET_LEN + 1] = '\0';
	assert_int_equal(sess_ticket_open(m, SESS_TICKET_LEN + 1, &uid, &exp,
	    h), 0);
	memcpy(m, t, sizeof(t));
	m[10] = '+';
	assert_int_equal(sess_ticket_open(m, SESS_TICKET_LEN, &uid, &exp,
	    h), 0);
	m[10] = '=';
	assert_int_equal(sess_ticket_open(m, SESS_TICKET_LEN, &uid, &exp,
	    h), 0);
	assert_int_equal(sess_ticket_open("", 0, &uid, &exp, h), 0);
	/* Another key (another deployment, or a rotated secret). */
	assert_int_equal(sess_init(KEY_B), 0);
	assert_int_equal(sess_ticket_open(t, SESS_TICKET_LEN, &uid, &exp, h),
	    0);
	/* A random key when none is configured; malformed keys refused. */
	assert_int_equal(sess_init(""), 0);
	assert_int_equal(sess_ticket_open(t, SESS_TICKET_LEN, &uid, &exp, h),
	    0);
	assert_int_equal(sess_init("00"), -1);
	assert_int_equal(sess_init(KEY_A "00"), -1);
	assert_int_equal(sess_init("zz0102030405060708090a0b0c0d0e0f"
	    "101112131415161718191a1b1c1d1e1f"), -1);
	/* Nothing was written through the outputs by a refusal. */
	assert_true(uid == -1 && exp == -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_new_tokens),
		cmocka_unit_test(test_malformed_tokens),
		cmocka_unit_test(test_ticket_round_trip),
		cmocka_unit_test(test_ticket_forgeries),
		cmocka_unit_test(test_bearer),
		cmocka_unit_test(test_cookie),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
