/* The response under construction and its one serialisation: the contract's JSON envelope or a page. */
#ifndef RESP_H
#define RESP_H

#include "app.h"
#include "buf.h"

struct json_object;

/*
 * One response. Storage is the caller's (resp_init / resp_cleanup); data,
 * the page body and the extra headers are owned by the response.
 * Exactly one of: an error (err != APP_OK), JSON data, or a page body.
 */
struct resp {
	int			 status;
	enum app_err		 err;
	char			 msg[160];	/* error reason override */
	struct json_object	*data;		/* owned success data */
	const char		*ctype;		/* page Content-Type (static) */
	struct buf		 body;		/* page body */
	struct buf		 headers;	/* extra "Name: value\r\n" lines */
};

void	resp_init(struct resp *rs);
void	resp_cleanup(struct resp *rs);

/* Success envelope with status; takes ownership of data (NULL: {}). */
void	resp_ok(struct resp *rs, int status, struct json_object *data);

/*
 * Error envelope for e; msg overrides the table's reason (copied,
 * truncated; NULL keeps the default). Never pass a secret in msg.
 */
void	resp_err(struct resp *rs, enum app_err e, const char *msg);

/* A non-JSON answer: status, static Content-Type; fill rs->body after. */
void	resp_page(struct resp *rs, int status, const char *ctype);

/* Add a header line. name and the formatted value must not contain CR/LF. */
void	resp_header(struct resp *rs, const char *name, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));

/* The HTTP status the response will carry. */
int	resp_status(const struct resp *rs);

/*
 * Write the whole CGI response (Status, headers, blank line, body) into
 * out, which is reset first. When head_only the body is left out.
 */
void	resp_serialize(const struct resp *rs, struct buf *out, int head_only);

#endif
