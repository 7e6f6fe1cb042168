/* Unit tests for lib/code.c: code shape, key handling and the keyed hash. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "code.h"

#define KEY_A "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
#define KEY_B "ff0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"

static void
test_bad_keys(void **state)
{
	static const char *const bad[] = {
		"00", KEY_A "00", "zz0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
		"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1",
	};
	size_t	 i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(code_init(bad[i]), -1);
	assert_int_equal(code_init(""), 0);
	assert_int_equal(code_init(KEY_A), 0);
}

static void
test_generate_shape_and_spread(void **state)
{
	char	 code[CODE_LEN + 1];
	int	 seen[10] = { 0 }, i, j, distinct = 0;
	char	 first[CODE_LEN + 1];

	(void)state;
	code_generate(first);
	for (i = 0; i < 2000; i++) {
		code_generate(code);
		assert_int_equal(strlen(code), CODE_LEN);
		for (j = 0; j < CODE_LEN; j++) {
			assert_true(code[j] >= '0' && code[j] <= '9');
			seen[code[j] - '0']++;
		}
		if (strcmp(code, first) != 0)
			distinct++;
	}
	/* Every digit turns up, and codes are not all the same. */
	for (j = 0; j < 10; j++)
		assert_true(seen[j] > 0);
	assert_true(distinct > 1900);
}

static void
test_hash_is_keyed_and_bound_to_phone(void **state)
{
	unsigned char	 a[CODE_HASH_LEN], b[CODE_HASH_LEN], c[CODE_HASH_LEN];
	unsigned char	 d[CODE_HASH_LEN], e[CODE_HASH_LEN];

	(void)state;
	assert_int_equal(code_init(KEY_A), 0);
	code_hash("18866668888", "123456", 6, a);
	code_hash("18866668888", "123456", 6, b);
	assert_memory_equal(a, b, CODE_HASH_LEN);
	code_hash("18866668889", "123456", 6, c);
	assert_memory_not_equal(a, c, CODE_HASH_LEN);
	code_hash("18866668888", "123457", 6, d);
	assert_memory_not_equal(a, d, CODE_HASH_LEN);
	assert_int_equal(code_init(KEY_B), 0);
	code_hash("18866668888", "123456", 6, e);
	assert_memory_not_equal(a, e, CODE_HASH_LEN);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad_keys),
		cmocka_unit_test(test_generate_shape_and_spread),
		cmocka_unit_test(test_hash_is_keyed_and_bound_to_phone),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
