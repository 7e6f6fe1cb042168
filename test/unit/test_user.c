/* Unit tests for lib/user.c: the phone, password and code validators and phone masking. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "user.h"

struct vcase {
	const char	*s;
	size_t		 len;
	int		 want;
};

#define V(str, w) { str, sizeof(str) - 1, w }

static const struct vcase phones[] = {
	V("18866668888", 1), V("13000000000", 1), V("19999999999", 1),
	V("12866668888", 0), V("10866668888", 0), V("28866668888", 0),
	V("1886666888", 0), V("188666688889", 0), V("", 0),
	V("18866668888\n", 0), V(" 18866668888", 0), V("18866668888 ", 0),
	V("1886666888a", 0), V("+8618866668888", 0), V("1886666\x00" "8888", 0),
	V("１8866668888", 0), V("1886666888'", 0), V("188-6666-888", 0),
};

static const struct vcase codes[] = {
	V("123456", 1), V("000000", 1), V("12345", 0), V("1234567", 0),
	V("12345a", 0), V("", 0), V(" 12345", 0), V("12345\n", 0),
	V("12\x00" "456", 0), V("１23456", 0),
};

static void
run(const struct vcase *t, size_t n, int (*fn)(const char *, size_t))
{
	size_t	 i;

	for (i = 0; i < n; i++)
		if (fn(t[i].s, t[i].len) != t[i].want)
			fail_msg("row %zu (\"%s\"): want %d", i, t[i].s,
			    t[i].want);
}

static void
test_phones(void **state)
{
	(void)state;
	run(phones, sizeof(phones) / sizeof(phones[0]), user_valid_phone);
}

static void
test_codes(void **state)
{
	(void)state;
	run(codes, sizeof(codes) / sizeof(codes[0]), user_valid_code);
}

static void
test_passwords(void **state)
{
	char	 buf[600];

	(void)state;
	assert_int_equal(user_valid_password("demo1234", 8), 1);
	assert_int_equal(user_valid_password("demo123", 7), 0);
	assert_int_equal(user_valid_password("", 0), 0);
	memset(buf, 'a', 128);
	assert_int_equal(user_valid_password(buf, 128), 1);
	memset(buf, 'a', 129);
	assert_int_equal(user_valid_password(buf, 129), 0);
	/* Characters, not bytes: 8 three-byte characters are enough... */
	assert_int_equal(user_valid_password(
	    "密码密码密码密码", strlen("密码密码密码密码")), 1);
	/* ...and 7 are not, though they are 21 bytes. */
	assert_int_equal(user_valid_password(
	    "密码密码密码密", strlen("密码密码密码密")), 0);
	/* 128 four-byte characters (512 bytes) are still 128 characters. */
	for (int i = 0; i < 128; i++)
		memcpy(buf + 4 * i, "\xf0\x9f\x98\x80", 4);
	assert_int_equal(user_valid_password(buf, 512), 1);
	memcpy(buf + 512, "\xf0\x9f\x98\x80", 4);
	assert_int_equal(user_valid_password(buf, 516), 0);
	/* At login only the size is checked, so no huge input gets hashed. */
	assert_int_equal(user_valid_login_password("x", 1), 1);
	assert_int_equal(user_valid_login_password("", 0), 0);
	memset(buf, 'a', 600);
	assert_int_equal(user_valid_login_password(buf, 600), 1);
	/* An embedded NUL is a character like any other. */
	assert_int_equal(user_valid_password("abcd\0efgh", 9), 1);
}

static void
test_mask(void **state)
{
	char	 out[USER_MASKED_LEN];

	(void)state;
	user_mask_phone("18866668888", out);
	assert_string_equal(out, "188****8888");
	user_mask_phone("13912345678", out);
	assert_string_equal(out, "139****5678");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_phones),
		cmocka_unit_test(test_codes),
		cmocka_unit_test(test_passwords),
		cmocka_unit_test(test_mask),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
