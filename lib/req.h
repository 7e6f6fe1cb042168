/* The request model: what a worker knows about one request, and the body parsers that fill it. */
#ifndef REQ_H
#define REQ_H

#include <stddef.h>

#include "app.h"

struct json_object;
struct mpart;

/* What a Content-Type header names, as far as routing cares. */
enum req_ctype {
	REQ_CT_NONE,		/* no Content-Type */
	REQ_CT_JSON,		/* application/json */
	REQ_CT_FORM,		/* application/x-www-form-urlencoded */
	REQ_CT_MULTIPART,	/* multipart/form-data */
	REQ_CT_OTHER,
	REQ_CT__MAX
};

/*
 * One request. The string members are borrowed from the FastCGI
 * parameters and are valid until the request is finished; NULL when the
 * parameter was absent. body and the error message are owned by the
 * request and released by req_cleanup.
 */
struct req {
	const char		*method;
	const char		*path;		/* DOCUMENT_URI, no query */
	const char		*query;
	const char		*content_type;
	long long		 content_length; /* -1 when absent */
	const char		*rid;		/* Nginx's $request_id */
	const char		*remote_addr;
	const char		*cookie;
	const char		*authorization;
	const char		*origin;
	const char		*scheme;	/* "https" or "http" */
	const char		*accept;
	const char		*fetch_site;	/* Sec-Fetch-Site */
	double			 start_ms;	/* monotonic ms at accept */
	long long		 uid;		/* > 0 once authenticated */
	int			 via_cookie;	/* credential was the cookie */
	unsigned char		 cred_hash[32];	/* hash of that credential */
	struct json_object	*body;		/* owned; object of fields */
	struct mpart		*upload;	/* owned; a parsed multipart body */
};

/* Zero rq and mark content_length absent. */
void		req_init(struct req *rq);

/* Release what the request owns (the parsed body or upload). */
void		req_cleanup(struct req *rq);

/* Classify a Content-Type value (media type only, parameters ignored). */
enum req_ctype	req_ctype(const char *content_type);

/*
 * Parse an unsigned decimal CONTENT_LENGTH. Returns 1 and writes *out, or
 * 0 for an absent, empty, signed, non-numeric or overflowing value.
 */
int		req_parse_length(const char *s, long long *out);

/*
 * Parse a body of len bytes (not NUL-terminated) of the given kind into a
 * JSON object whose members are the request fields. JSON must be exactly
 * one object (UTF-8, depth limited); a form body becomes an object of
 * string members (the first of a repeated name wins). On APP_OK *out is
 * new (json_object_put it); on APP_E_INVALID_JSON *out is NULL.
 */
enum app_err	req_parse_body(const char *data, size_t len, enum req_ctype kind,
		    struct json_object **out);

/*
 * The string field name of the parsed body: returns 1 with *s and *len
 * borrowed from rq->body (valid until req_cleanup), or 0 when the field is
 * absent or not a string.
 */
int		req_field(const struct req *rq, const char *name,
		    const char **s, size_t *len);

/*
 * Copy the percent-decoded value of query parameter name from query into
 * out (size bytes, NUL-terminated). Returns 1 if found and it fits, else 0.
 */
int		req_query(const char *query, const char *name, char *out,
		    size_t size);

#endif
