/* The one table that maps each domain result to its HTTP status, slug and default message. */
#include "app.h"

struct app_err_row {
	int		 status;
	const char	*slug;
	const char	*msg;
};

static const struct app_err_row rows[APP__MAX] = {
	[APP_OK] = { 200, "ok", "ok" },
	[APP_E_INVALID_JSON] = { 400, "invalid_json",
	    "request body is not a JSON object" },
	[APP_E_MISSING_FIELD] = { 400, "missing_field",
	    "a required field is missing or not a string" },
	[APP_E_INVALID_PHONE] = { 400, "invalid_phone",
	    "phone must be an 11-digit mainland mobile number" },
	[APP_E_INVALID_PASSWORD] = { 400, "invalid_password",
	    "password must be 8 to 128 characters" },
	[APP_E_INVALID_CODE] = { 400, "invalid_code",
	    "verification code is wrong, expired or already used" },
	[APP_E_TOO_MANY_ATTEMPTS] = { 429, "too_many_attempts",
	    "too many attempts, try again later" },
	[APP_E_RATE_LIMITED] = { 429, "rate_limited",
	    "requested again too soon" },
	[APP_E_CONFLICT] = { 409, "phone_taken",
	    "a user with this phone already exists" },
	[APP_E_BAD_CREDENTIALS] = { 401, "bad_credentials",
	    "phone or password is wrong" },
	[APP_E_UNAUTHORIZED] = { 401, "unauthorized",
	    "authentication required" },
	[APP_E_FORBIDDEN] = { 403, "forbidden", "forbidden" },
	[APP_E_NOT_FOUND] = { 404, "not_found", "not found" },
	[APP_E_METHOD] = { 405, "method_not_allowed",
	    "method not allowed" },
	[APP_E_TOO_LARGE] = { 413, "payload_too_large",
	    "request body too large" },
	[APP_E_MEDIA_TYPE] = { 415, "unsupported_media_type",
	    "unsupported media type" },
	[APP_E_INVALID_IMAGE] = { 422, "invalid_image",
	    "image cannot be decoded or is too large" },
	[APP_E_UNAVAILABLE] = { 503, "unavailable",
	    "service unavailable, try again later" },
	[APP_E_INTERNAL] = { 500, "internal", "internal error" },
};

int
app_err_status(enum app_err e)
{
	if ((unsigned)e >= APP__MAX)
		return 500;
	return rows[e].status;
}

const char *
app_err_slug(enum app_err e)
{
	if ((unsigned)e >= APP__MAX)
		return rows[APP_E_INTERNAL].slug;
	return rows[e].slug;
}

const char *
app_err_msg(enum app_err e)
{
	if ((unsigned)e >= APP__MAX)
		return rows[APP_E_INTERNAL].msg;
	return rows[e].msg;
}

const char *
app_status_text(int status)
{
	switch (status) {
	case 200: return "OK";
	case 201: return "Created";
	case 204: return "No Content";
	case 301: return "Moved Permanently";
	case 302: return "Found";
	case 303: return "See Other";
	case 304: return "Not Modified";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 413: return "Payload Too Large";
	case 415: return "Unsupported Media Type";
	case 422: return "Unprocessable Entity";
	case 429: return "Too Many Requests";
	case 500: return "Internal Server Error";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	default: return "Unknown";
	}
}
