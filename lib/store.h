/* The store: domain operations on persistent state, behind one interface with swappable backends. */
#ifndef STORE_H
#define STORE_H

#include "app.h"

/* Connection settings every backend honours. */
struct store_opts {
	long	 connect_timeout;	/* seconds */
	long	 statement_timeout;	/* milliseconds, 0 = none */
	long	 retry_ms;		/* pause between reconnect attempts */
};

struct store;

/*
 * A store for url; the backend is chosen by the URL scheme
 * (postgresql:// or postgres://). Nothing is connected yet: each backend
 * connects on first use and again after the connection is lost, so a
 * store can be made before the database is up. Returns new (free with
 * store_free), or NULL for an unknown scheme.
 */
struct store	*store_new(const char *url, const struct store_opts *o);
void		 store_free(struct store *s);

/*
 * Every operation returns APP_OK, APP_E_UNAVAILABLE while the database
 * cannot be reached (fast, never a hang beyond the connect timeout), or
 * the domain error named in its comment; anything unexpected is logged
 * and returned as APP_E_INTERNAL.
 */

/* A trivial round trip to the database (GET /healthz). */
enum app_err	 store_ping(struct store *s);

/* What store_code_issue needs; all pointers borrowed for the call. */
struct store_code_issue {
	const char	*phone;
	unsigned char	 hash[32];	/* code_hash() of the new code */
	const char	*addr;		/* client address */
	long		 ttl;		/* seconds the code is valid */
	long		 resend;	/* seconds before the phone's next code */
	long		 addr_max;	/* codes per address per window */
	long		 addr_window;	/* seconds */
	int		(*deliver)(void *arg);	/* 0 = delivered */
	void		*arg;
};

/*
 * Issue a code, atomically: refuse with APP_E_RATE_LIMITED (and
 * *retry_after seconds, >= 1) when the phone had a code within resend
 * seconds or the address reached its cap; otherwise supersede the phone's
 * earlier codes, record the new one, and call deliver before committing.
 * A failed delivery rolls everything back (APP_E_UNAVAILABLE): no usable
 * code and no throttle are left behind.
 */
enum app_err	 store_code_issue(struct store *s,
		    const struct store_code_issue *ci, long *retry_after);

/*
 * Compare hash with the phone's current code (the newest one, unused and
 * unexpired), in constant time. APP_OK with *code_id; APP_E_INVALID_CODE
 * (none, or wrong: the try is counted); APP_E_TOO_MANY_ATTEMPTS once
 * max_tries wrong tries were counted. Nothing is consumed.
 */
enum app_err	 store_code_check(struct store *s, const char *phone,
		    const unsigned char hash[32], long max_tries,
		    long long *code_id);

/*
 * Consume code code_id and insert the user in one transaction. APP_OK
 * with *uid; APP_E_INVALID_CODE when the code was used or expired
 * meanwhile; APP_E_CONFLICT when the phone is taken (the code is not
 * consumed).
 */
enum app_err	 store_user_create(struct store *s, const char *phone,
		    const char *pwhash, long long code_id, long long *uid);

/*
 * The backend interface. A backend fills one of these; be is its private
 * state, made by open and released by close.
 */
struct store_ops {
	const char	*name;
	void		*(*open)(const char *url, const struct store_opts *o);
	void		 (*close)(void *be);
	enum app_err	 (*ping)(void *be);
	enum app_err	 (*code_issue)(void *be,
			    const struct store_code_issue *ci,
			    long *retry_after);
	enum app_err	 (*code_check)(void *be, const char *phone,
			    const unsigned char hash[32], long max_tries,
			    long long *code_id);
	enum app_err	 (*user_create)(void *be, const char *phone,
			    const char *pwhash, long long code_id,
			    long long *uid);
};

extern const struct store_ops store_pg_ops;

#endif
