/* The head of a FastCGI connection (BEGIN_REQUEST and the PARAMS stream), checked before libfcgi reads it. */
#ifndef FCGIHEAD_H
#define FCGIHEAD_H

#include <stddef.h>

/* The most bytes a request head may take; Nginx's are a few KiB. */
#define FCGIHEAD_MAX	(128 * 1024)

enum fcgihead_result {
	FCGIHEAD_OK,		/* complete and well formed */
	FCGIHEAD_MORE,		/* well formed so far; more bytes needed */
	FCGIHEAD_BAD,		/* malformed, or larger than FCGIHEAD_MAX */
	FCGIHEAD__MAX
};

/*
 * Check buf (len bytes, borrowed), the first bytes received on a FastCGI
 * connection: version-1 records, a BEGIN_REQUEST for a non-zero request
 * id first, then PARAMS records of that id up to the empty one that ends
 * the stream; every name-value pair's lengths within the stream (libfcgi
 * adds them in an int and aborts when the sum overflows). Any other
 * record before the end of PARAMS is refused: Nginx sends none. What
 * follows the head (STDIN) is not looked at. Pure: no state, no I/O.
 */
enum fcgihead_result	fcgihead_check(const unsigned char *buf, size_t len);

#endif
