/* The route table: method, path, handler, body kind and auth in one place. */
#include <string.h>

#include "appd.h"
#include "user.h"

static const struct field code_fields[] = {
	{ "phone", user_valid_phone, APP_E_INVALID_PHONE },
	{ NULL, NULL, APP_OK },
};

static const struct field login_fields[] = {
	{ "phone", user_valid_phone, APP_E_INVALID_PHONE },
	{ "password", user_valid_login_password, APP_E_BAD_CREDENTIALS },
	{ NULL, NULL, APP_OK },
};

static const struct field regist_fields[] = {
	{ "phone", user_valid_phone, APP_E_INVALID_PHONE },
	{ "password", user_valid_password, APP_E_INVALID_PASSWORD },
	{ "code", user_valid_code, APP_E_INVALID_CODE },
	{ NULL, NULL, APP_OK },
};

const struct route routes[RT__MAX] = {
	[RT_HEALTHZ] = { "GET", "/healthz", h_healthz, BODY_NONE, AUTH_NONE,
	    NULL, PAGE_NONE },
	[RT_CODE] = { "POST", "/users/code", h_code, BODY_FIELDS, AUTH_NONE,
	    code_fields, PAGE_NONE },
	[RT_REGIST] = { "POST", "/users/regist", h_regist, BODY_FIELDS,
	    AUTH_NONE, regist_fields, PAGE_NONE },
	[RT_REGISTER] = { "POST", "/users/register", h_regist, BODY_FIELDS,
	    AUTH_NONE, regist_fields, PAGE_NONE },
	[RT_LOGIN] = { "POST", "/users/login", h_login, BODY_FIELDS,
	    AUTH_NONE, login_fields, PAGE_LOGIN },
	[RT_LOGIN_PAGE] = { "GET", "/users/login", h_login_page, BODY_NONE,
	    AUTH_NONE, NULL, PAGE_LOGIN },
	[RT_HOME] = { "GET", "/users/home", h_home, BODY_NONE, AUTH_OPTIONAL,
	    NULL, PAGE_UNAUTHORIZED },
	[RT_ME] = { "GET", "/users/me", h_me, BODY_NONE, AUTH_REQUIRED, NULL,
	    PAGE_NONE },
	[RT_LOGOUT] = { "POST", "/users/logout", h_logout, BODY_NONE,
	    AUTH_REQUIRED, NULL, PAGE_NONE },
	[RT_UPLOAD] = { "POST", "/upload", h_upload, BODY_UPLOAD,
	    AUTH_REQUIRED, NULL, PAGE_NONE },
	[RT_IMAGES] = { "GET", "/users/images", h_images, BODY_NONE,
	    AUTH_REQUIRED, NULL, PAGE_NONE },
	[RT_METRICS] = { "GET", "/metrics", h_metrics, BODY_NONE, AUTH_NONE,
	    NULL, PAGE_NONE },
#ifdef APPD_TESTING
	[RT_TEST_SLEEP] = { "GET", "/users/_test/sleep", h_test_sleep,
	    BODY_NONE, AUTH_NONE, NULL, PAGE_NONE },
	[RT_TEST_CRASH] = { "GET", "/users/_test/crash", h_test_crash,
	    BODY_NONE, AUTH_NONE, NULL, PAGE_NONE },
#endif
};

const struct route *
route_find(const char *method, const char *path, enum app_err *err,
    char *allow, size_t size)
{
	const struct route	*r;
	size_t			 i, used = 0;
	int			 found = 0, head;

	head = strcmp(method, "HEAD") == 0;
	for (i = 0; i < RT__MAX; i++) {
		r = &routes[i];
		if (strcmp(r->path, path) != 0)
			continue;
		if (strcmp(r->method, method) == 0 ||
		    (head && strcmp(r->method, "GET") == 0))
			return r;
		found = 1;
	}
	if (!found) {
		*err = APP_E_NOT_FOUND;
		return NULL;
	}
	/* The path exists: list every method it answers. */
	if (size > 0)
		allow[0] = '\0';
	for (i = 0; i < RT__MAX; i++) {
		r = &routes[i];
		if (strcmp(r->path, path) != 0)
			continue;
		used += (size_t)snprintf(allow + used, used < size ?
		    size - used : 0, "%s%s%s", used ? ", " : "", r->method,
		    strcmp(r->method, "GET") == 0 ? ", HEAD" : "");
		if (used >= size)
			break;
	}
	*err = APP_E_METHOD;
	return NULL;
}
