/* The store: domain operations on persistent state, behind one interface with swappable backends. */
#ifndef STORE_H
#define STORE_H

#include <stddef.h>

#include "app.h"

/* Connection settings every backend honours. */
struct store_opts {
	long	 connect_timeout;	/* seconds */
	long	 statement_timeout;	/* milliseconds, 0 = none */
	long	 retry_ms;		/* pause between reconnect attempts */
	/*
	 * 1: the session store_login_begin opens commits as durably as the
	 * server is set to
	 * (on disk, and on a synchronous standby where there is one); 0: it
	 * may commit asynchronously where the backend can (PostgreSQL), so a
	 * crash or a failover can lose the last moments of new sessions.
	 */
	int	 sync_sessions;
};

struct store;

/*
 * A store for url; the backend is chosen by the URL scheme
 * (postgresql:// or postgres://: store_pg.c; mysql:// or mariadb://:
 * store_my.c; see docs/backends.md). Nothing is connected yet: each backend
 * connects on first use and again after the connection is lost, so a
 * store can be made before the database is up. Returns new (free with
 * store_free), or NULL for an unknown scheme or a URL the backend rejects.
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

/* A user's profile as /users/me and the H5 home page show it. */
struct store_profile {
	long long	 id;
	char		 phone[16];
	char		 created_at[32];	/* ISO 8601 UTC */
	long long	 visits;
	char		 last_seen_at[32];	/* ISO 8601 UTC; "" if never */
	long long	 image_count;
};

/* The limits on failed logins (the APPD_LOGIN_* settings). */
struct store_login_limits {
	long	 window;	/* seconds over which failures count */
	long	 phone_max;	/* failures that lock a phone */
	long	 addr_max;	/* failures that lock a client address */
};

/* A session to open at login; its token only as a SHA-256 hash. */
struct store_session_new {
	const char		*kind;		/* "bearer" or "cookie" */
	const unsigned char	*token_hash;	/* 32 bytes */
	long			 ttl;		/* seconds */
};

/* Longest stored password hash + 1 (libsodium's crypto_pwhash_STRBYTES). */
#define STORE_PWHASH_SIZE	128

/* What store_login_begin found. */
struct store_login {
	long long	 uid;
	long		 phone_failures; /* the phone's failed logins in the window */
	long		 retry_after;	/* APP_E_TOO_MANY_ATTEMPTS: seconds, >= 1 */
	long long	 now_ms;	/* the database's clock, Unix ms (rounded up) */
	char		 hash[STORE_PWHASH_SIZE]; /* the stored password hash */
};

/*
 * A login's first step, before the password is checked, in one round trip
 * where the backend can (*l is zeroed first):
 * - APP_E_TOO_MANY_ATTEMPTS with l->retry_after when failed logins lock
 *   phone or addr (phone_max or addr_max failures within window seconds);
 * - APP_E_NOT_FOUND when no user has phone;
 * - else APP_OK with l->uid, l->hash, l->phone_failures and l->now_ms, and the session
 *   sn already open, optimistically: the password is usually right, and
 *   opening it now saves the round trip after the check. The session is
 *   live, but its token is known only to the caller, who ends the login
 *   with store_login_failed(..., sn) when the password is wrong (the
 *   session is deleted again) and, when it is right and
 *   l->phone_failures > 0, store_login_clear.
 * Nothing is written for the first two. Another error, or a caller that
 * dies before the end, may leave the session open: nobody holds its token,
 * and it expires with its ttl.
 */
enum app_err	 store_login_begin(struct store *s, const char *phone,
		    const char *addr, const struct store_login_limits *lim,
		    const struct store_session_new *sn, struct store_login *l);

/*
 * Record a failed login (old records past window are purged) and delete
 * the session of sn (NULL: none), in one transaction.
 */
enum app_err	 store_login_failed(struct store *s, const char *phone,
		    const char *addr, long window,
		    const struct store_session_new *sn);

/* Forget phone's failed logins (after a successful one). */
enum app_err	 store_login_clear(struct store *s, const char *phone);

/* Replace a user's password hash (rehash at a new cost). */
enum app_err	 store_password_set(struct store *s, long long uid,
		    const char *hash);

/*
 * The user of a live session, read in the same round trip as the check:
 * APP_OK with the user's profile in *p (p->id is the user id), or
 * APP_E_UNAUTHORIZED (unknown, expired or revoked).
 */
enum app_err	 store_session_user(struct store *s,
		    const unsigned char token_hash[32],
		    struct store_profile *p);

/* Revoke a live session: APP_OK, or APP_E_UNAUTHORIZED if none. */
enum app_err	 store_session_revoke(struct store *s,
		    const unsigned char token_hash[32]);

/*
 * Spend the ticket hashed ticket_hash, made for uid and valid until
 * expires_ms (Unix milliseconds, on the database's clock), and open a
 * cookie session for uid, atomically: APP_OK, or APP_E_UNAUTHORIZED when
 * it was spent before or has expired. Of concurrent spends one succeeds.
 */
enum app_err	 store_ticket_redeem(struct store *s,
		    const unsigned char ticket_hash[32], long long uid,
		    long long expires_ms, const unsigned char session_hash[32],
		    long ttl);

/*
 * Record a home-page visit (visits + 1, last seen now) in one statement
 * and return the profile with last_seen_at the visit before this one.
 */
enum app_err	 store_visit(struct store *s, long long uid,
		    struct store_profile *p);

/* An image row as the store keeps it. */
struct store_image {
	long long	 id;
	char		 sha256[65];	/* hex of the stored bytes */
	char		 format[8];	/* "jpeg", "png", "gif", "webp" */
	long		 width;
	long		 height;
	long long	 bytes;
};

/*
 * Record an uploaded image for uid with its files, as one unit: under a
 * lock on img->sha256 (uploads of identical bytes queue), files(arg)
 * writes the files, then the row is inserted and committed. When files
 * fails nothing is inserted (APP_E_UNAVAILABLE); when the insert or the
 * commit fails, undo(arg) removes what files created. APP_OK with *id.
 */
enum app_err	 store_image_add(struct store *s, long long uid,
		    const struct store_image *img, int (*files)(void *arg),
		    void (*undo)(void *arg), void *arg, long long *id);

/*
 * uid's images, newest first, with id < before (0: from the newest): at
 * most max rows into out, *n of them.
 */
enum app_err	 store_image_list(struct store *s, long long uid,
		    long long before, struct store_image *out, int max,
		    int *n);

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
	enum app_err	 (*login_begin)(void *be, const char *phone,
			    const char *addr,
			    const struct store_login_limits *lim,
			    const struct store_session_new *sn,
			    struct store_login *l);
	enum app_err	 (*login_failed)(void *be, const char *phone,
			    const char *addr, long window,
			    const struct store_session_new *sn);
	enum app_err	 (*login_clear)(void *be, const char *phone);
	enum app_err	 (*password_set)(void *be, long long uid,
			    const char *hash);
	enum app_err	 (*session_user)(void *be,
			    const unsigned char token_hash[32],
			    struct store_profile *p);
	enum app_err	 (*session_revoke)(void *be,
			    const unsigned char token_hash[32]);
	enum app_err	 (*ticket_redeem)(void *be,
			    const unsigned char ticket_hash[32], long long uid,
			    long long expires_ms,
			    const unsigned char session_hash[32], long ttl);
	enum app_err	 (*visit)(void *be, long long uid,
			    struct store_profile *p);
	enum app_err	 (*image_add)(void *be, long long uid,
			    const struct store_image *img,
			    int (*files)(void *arg), void (*undo)(void *arg),
			    void *arg, long long *id);
	enum app_err	 (*image_list)(void *be, long long uid,
			    long long before, struct store_image *out,
			    int max, int *n);
};

extern const struct store_ops store_pg_ops;
extern const struct store_ops store_my_ops;

#endif
