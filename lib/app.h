/* The domain result codes every lib/ module returns where a caller must choose an HTTP answer. */
#ifndef APP_H
#define APP_H

/*
 * One value per outcome of the contract (../shared/API.md). Handlers never
 * spell a status or a slug: they return one of these and the response layer
 * looks both up in the table in app.c. APP__MAX sizes that table.
 */
enum app_err {
	APP_OK = 0,
	APP_E_INVALID_JSON,
	APP_E_MISSING_FIELD,
	APP_E_INVALID_PHONE,
	APP_E_INVALID_PASSWORD,
	APP_E_INVALID_CODE,
	APP_E_TOO_MANY_ATTEMPTS,
	APP_E_RATE_LIMITED,
	APP_E_CONFLICT,		/* phone_taken */
	APP_E_BAD_CREDENTIALS,
	APP_E_UNAUTHORIZED,
	APP_E_FORBIDDEN,
	APP_E_NOT_FOUND,
	APP_E_METHOD,		/* method_not_allowed */
	APP_E_TOO_LARGE,
	APP_E_MEDIA_TYPE,
	APP_E_INVALID_IMAGE,
	APP_E_UNAVAILABLE,
	APP_E_INTERNAL,
	APP__MAX
};

/* HTTP status for e (500 for an out-of-range value). */
int app_err_status(enum app_err e);

/* Stable machine slug for e; static storage. */
const char *app_err_slug(enum app_err e);

/* Default human-readable reason for e; static storage. */
const char *app_err_msg(enum app_err e);

/* Reason phrase for an HTTP status ("OK", "Not Found" ...); static storage. */
const char *app_status_text(int status);

#endif
