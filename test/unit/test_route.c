/* Unit tests for fcgi/routes.c: the route table and route_find's 404/405 answers with Allow. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "appd.h"

static void
test_table_sane(void **state)
{
	static const char *const methods[] = { "GET", "POST", "PUT",
	    "PATCH", "DELETE" };
	const struct route	*r;
	const struct field	*f;
	size_t			 i, j;
	int			 known;

	(void)state;
	for (i = 0; i < RT__MAX; i++) {
		r = &routes[i];
		if (r->method == NULL || r->path == NULL || r->handler == NULL)
			fail_msg("route %zu is incomplete", i);
		assert_int_equal(r->path[0], '/');
		known = 0;
		for (j = 0; j < sizeof(methods) / sizeof(methods[0]); j++)
			known |= strcmp(r->method, methods[j]) == 0;
		if (!known)
			fail_msg("route %zu: method %s", i, r->method);
		assert_in_range(r->body, 0, BODY__MAX - 1);
		assert_in_range(r->auth, 0, AUTH__MAX - 1);
		/* A route that reads fields must take a body. */
		if (r->fields != NULL) {
			assert_int_equal(r->body, BODY_FIELDS);
			for (f = r->fields; f->name != NULL; f++)
				assert_true(f->bad > APP_OK &&
				    f->bad < APP__MAX);
		}
		for (j = i + 1; j < RT__MAX; j++)
			if (strcmp(r->path, routes[j].path) == 0 &&
			    strcmp(r->method, routes[j].method) == 0)
				fail_msg("routes %zu and %zu are both %s %s",
				    i, j, r->method, r->path);
	}
}

static void
test_every_route_found(void **state)
{
	const struct route	*r;
	enum app_err		 e;
	char			 allow[128];
	size_t			 i;

	(void)state;
	for (i = 0; i < RT__MAX; i++) {
		e = APP_E_INTERNAL;
		r = route_find(routes[i].method, routes[i].path, &e, allow,
		    sizeof(allow));
		if (r != &routes[i])
			fail_msg("%s %s not found", routes[i].method,
			    routes[i].path);
		/* GET routes answer HEAD too. */
		if (strcmp(routes[i].method, "GET") == 0)
			assert_ptr_equal(route_find("HEAD", routes[i].path,
			    &e, allow, sizeof(allow)), &routes[i]);
	}
}

static void
test_healthz(void **state)
{
	const struct route	*r;
	enum app_err		 e;
	char			 allow[128];

	(void)state;
	r = route_find("GET", "/healthz", &e, allow, sizeof(allow));
	assert_ptr_equal(r, &routes[RT_HEALTHZ]);
	assert_true(r->handler == h_healthz);
	assert_int_equal(r->auth, AUTH_NONE);
	assert_ptr_equal(route_find("HEAD", "/healthz", &e, allow,
	    sizeof(allow)), &routes[RT_HEALTHZ]);
}

static void
test_method_not_allowed(void **state)
{
	static const char *const methods[] = { "POST", "PUT", "DELETE",
	    "PATCH", "OPTIONS", "get", "head", "", "GET ", "BREW" };
	enum app_err	 e;
	char		 allow[128];
	size_t		 i;

	(void)state;
	for (i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
		e = APP_OK;
		memset(allow, '#', sizeof(allow));
		if (route_find(methods[i], "/healthz", &e, allow,
		    sizeof(allow)) != NULL)
			fail_msg("'%s /healthz' was routed", methods[i]);
		assert_int_equal(e, APP_E_METHOD);
		assert_string_equal(allow, "GET, HEAD");
	}
}

static void
test_allow_every_path(void **state)
{
	enum app_err	 e;
	char		 allow[128];
	size_t		 i;

	(void)state;
	/* Whatever the table holds, Allow names each method of the path. */
	for (i = 0; i < RT__MAX; i++) {
		e = APP_OK;
		assert_null(route_find("BREW", routes[i].path, &e, allow,
		    sizeof(allow)));
		assert_int_equal(e, APP_E_METHOD);
		if (strstr(allow, routes[i].method) == NULL)
			fail_msg("Allow '%s' for %s lacks %s", allow,
			    routes[i].path, routes[i].method);
		if (strcmp(routes[i].method, "GET") == 0)
			assert_non_null(strstr(allow, "HEAD"));
	}
}

static void
test_not_found(void **state)
{
	static const char *const paths[] = { "/nope", "", "/", "/healthz/",
	    "/HEALTHZ", "/healthz?x=1", "healthz", "//healthz",
	    "/healthzz", "/health", "/healthz/..", "/healthz%00" };
	static const char *const methods[] = { "GET", "HEAD", "POST" };
	enum app_err	 e;
	char		 allow[16];
	size_t		 i, j;

	(void)state;
	for (i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
		for (j = 0; j < sizeof(methods) / sizeof(methods[0]); j++) {
			e = APP_OK;
			memset(allow, '#', sizeof(allow));
			if (route_find(methods[j], paths[i], &e, allow,
			    sizeof(allow)) != NULL)
				fail_msg("'%s %s' was routed", methods[j],
				    paths[i]);
			assert_int_equal(e, APP_E_NOT_FOUND);
			/* Allow is only for 405. */
			assert_int_equal(allow[0], '#');
		}
}

static void
test_small_allow(void **state)
{
	static const size_t sizes[] = { 4, 1, 0, 9, 10 };
	static const char *const want[] = { "GET", "", NULL, "GET, HEA",
	    "GET, HEAD" };
	enum app_err	 e;
	char		 allow[64];
	size_t		 i, k;

	(void)state;
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		e = APP_OK;
		memset(allow, '#', sizeof(allow));
		assert_null(route_find("POST", "/healthz", &e, allow,
		    sizes[i]));
		assert_int_equal(e, APP_E_METHOD);
		/* Truncated and terminated inside the buffer; nothing past. */
		for (k = sizes[i]; k < sizeof(allow); k++)
			if (allow[k] != '#')
				fail_msg("size %zu: byte %zu written", sizes[i],
				    k);
		if (want[i] != NULL)
			assert_string_equal(allow, want[i]);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table_sane),
		cmocka_unit_test(test_every_route_found),
		cmocka_unit_test(test_healthz),
		cmocka_unit_test(test_method_not_allowed),
		cmocka_unit_test(test_allow_every_path),
		cmocka_unit_test(test_not_found),
		cmocka_unit_test(test_small_allow),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
