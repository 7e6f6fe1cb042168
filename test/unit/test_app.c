/* Unit tests for lib/app.c: the domain result table agrees with the slug/status table of API.md. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "app.h"

struct err_case {
	enum app_err	 e;
	int		 status;
	const char	*slug;
};

/* The table of ../shared/API.md, row for row, plus APP_OK. */
static const struct err_case contract[] = {
	{ APP_OK, 200, "ok" },
	{ APP_E_INVALID_JSON, 400, "invalid_json" },
	{ APP_E_MISSING_FIELD, 400, "missing_field" },
	{ APP_E_INVALID_PHONE, 400, "invalid_phone" },
	{ APP_E_INVALID_PASSWORD, 400, "invalid_password" },
	{ APP_E_INVALID_CODE, 400, "invalid_code" },
	{ APP_E_TOO_MANY_ATTEMPTS, 429, "too_many_attempts" },
	{ APP_E_RATE_LIMITED, 429, "rate_limited" },
	{ APP_E_CONFLICT, 409, "phone_taken" },
	{ APP_E_BAD_CREDENTIALS, 401, "bad_credentials" },
	{ APP_E_UNAUTHORIZED, 401, "unauthorized" },
	{ APP_E_FORBIDDEN, 403, "forbidden" },
	{ APP_E_NOT_FOUND, 404, "not_found" },
	{ APP_E_METHOD, 405, "method_not_allowed" },
	{ APP_E_TOO_LARGE, 413, "payload_too_large" },
	{ APP_E_MEDIA_TYPE, 415, "unsupported_media_type" },
	{ APP_E_INVALID_IMAGE, 422, "invalid_image" },
	{ APP_E_UNAVAILABLE, 503, "unavailable" },
	{ APP_E_INTERNAL, 500, "internal" },
};

#define NCONTRACT (sizeof(contract) / sizeof(contract[0]))

static void
test_every_value_has_row(void **state)
{
	const char	*slug, *msg;
	int		 i, status;

	(void)state;
	for (i = 0; i < APP__MAX; i++) {
		slug = app_err_slug((enum app_err)i);
		msg = app_err_msg((enum app_err)i);
		status = app_err_status((enum app_err)i);
		if (slug == NULL || *slug == '\0')
			fail_msg("app_err %d has no slug", i);
		if (msg == NULL || *msg == '\0')
			fail_msg("app_err %d has no message", i);
		if (status < 200 || status > 599)
			fail_msg("app_err %d has status %d", i, status);
	}
}

static void
test_contract_table(void **state)
{
	size_t	 i;

	(void)state;
	/* Every enum value is covered by the contract table above. */
	assert_int_equal(NCONTRACT, APP__MAX);
	for (i = 0; i < NCONTRACT; i++) {
		if (app_err_status(contract[i].e) != contract[i].status)
			fail_msg("%s: status %d, want %d", contract[i].slug,
			    app_err_status(contract[i].e), contract[i].status);
		assert_string_equal(app_err_slug(contract[i].e),
		    contract[i].slug);
	}
}

static void
test_out_of_range(void **state)
{
	static const unsigned int bad[] = { APP__MAX, APP__MAX + 1, 1000,
	    (unsigned int)-1 };
	size_t	 i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(app_err_status((enum app_err)bad[i]), 500);
		assert_string_equal(app_err_slug((enum app_err)bad[i]),
		    "internal");
		assert_string_equal(app_err_msg((enum app_err)bad[i]),
		    app_err_msg(APP_E_INTERNAL));
	}
}

static void
test_slugs_unique(void **state)
{
	int	 i, j;

	(void)state;
	for (i = 0; i < APP__MAX; i++)
		for (j = i + 1; j < APP__MAX; j++)
			if (strcmp(app_err_slug((enum app_err)i),
			    app_err_slug((enum app_err)j)) == 0)
				fail_msg("app_err %d and %d share slug %s", i,
				    j, app_err_slug((enum app_err)i));
}

static void
test_status_text(void **state)
{
	static const struct {
		int		 status;
		const char	*text;
	} cases[] = {
		{ 200, "OK" },
		{ 201, "Created" },
		{ 204, "No Content" },
		{ 301, "Moved Permanently" },
		{ 303, "See Other" },
		{ 304, "Not Modified" },
		{ 400, "Bad Request" },
		{ 401, "Unauthorized" },
		{ 403, "Forbidden" },
		{ 404, "Not Found" },
		{ 405, "Method Not Allowed" },
		{ 409, "Conflict" },
		{ 413, "Payload Too Large" },
		{ 415, "Unsupported Media Type" },
		{ 422, "Unprocessable Entity" },
		{ 429, "Too Many Requests" },
		{ 500, "Internal Server Error" },
		{ 502, "Bad Gateway" },
		{ 503, "Service Unavailable" },
		{ 504, "Gateway Timeout" },
		{ 0, "Unknown" },
		{ -1, "Unknown" },
		{ 299, "Unknown" },
		{ 999, "Unknown" },
	};
	size_t	 i;
	int	 e;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_string_equal(app_status_text(cases[i].status),
		    cases[i].text);
	/* Every status the table can produce has a real reason phrase. */
	for (e = 0; e < APP__MAX; e++)
		if (strcmp(app_status_text(app_err_status((enum app_err)e)),
		    "Unknown") == 0)
			fail_msg("status %d of app_err %d has no reason phrase",
			    app_err_status((enum app_err)e), e);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_value_has_row),
		cmocka_unit_test(test_contract_table),
		cmocka_unit_test(test_out_of_range),
		cmocka_unit_test(test_slugs_unique),
		cmocka_unit_test(test_status_text),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
