/* Users: input validators, phone masking, password hashing, and the registration flow. */
#ifndef USER_H
#define USER_H

#include <stddef.h>

#include "app.h"
#include "sess.h"

struct cfg;
struct sms;
struct store;
struct store_profile;

/* Length of a masked phone ("188****8888") including its NUL. */
#define USER_MASKED_LEN	12

/* Validators: 1 when s (len bytes) is acceptable, else 0. */
int	user_valid_phone(const char *s, size_t len);	/* ^1[3-9][0-9]{9}$ */
int	user_valid_password(const char *s, size_t len);	/* 8..128 characters */
int	user_valid_code(const char *s, size_t len);	/* six digits */
/* A password worth checking at login: 1..1024 bytes (no hash runs else). */
int	user_valid_login_password(const char *s, size_t len);

/* Write the masked form of an 11-digit phone into out. */
void	user_mask_phone(const char *phone, char out[USER_MASKED_LEN]);

/*
 * Set the argon2id cost (libsodium opslimit and memory in KiB) used for
 * new password hashes. Returns 0, or -1 when libsodium cannot start.
 */
int	user_init(long opslimit, long memlimit_kib);

/*
 * POST /users/code: issue a code for a valid phone, deliver it through
 * sms, and keep only its hash. APP_OK; APP_E_RATE_LIMITED with
 * *retry_after seconds (same phone too soon, or the address cap);
 * APP_E_UNAVAILABLE (database or SMS delivery failed; no usable code is
 * left behind).
 */
enum app_err	user_request_code(struct store *st, struct sms *sms,
		    const struct cfg *cfg, const char *phone, const char *addr,
		    long *retry_after);

/*
 * POST /users/regist: check and consume the code, store the user with an
 * argon2id hash of password (len bytes). APP_OK with *uid;
 * APP_E_INVALID_CODE; APP_E_TOO_MANY_ATTEMPTS; APP_E_CONFLICT (phone
 * taken; the code stays usable); APP_E_UNAVAILABLE; APP_E_INTERNAL.
 */
enum app_err	user_register(struct store *st, const struct cfg *cfg,
		    const char *phone, const char *password, size_t pwlen,
		    const char *code, long long *uid);

/* What a successful login hands back; tokens go to the client only. */
struct user_login {
	long long	 uid;
	char		 phone[USER_MASKED_LEN];	/* masked */
	char		 token[SESS_TOKEN_LEN + 1];	/* bearer or cookie */
	char		 ticket[SESS_TICKET_LEN + 1];	/* "" for a cookie login */
};

/*
 * POST /users/login: check the throttles, verify the password (against a
 * dummy hash for an unknown phone, so both cost the same), rehash when
 * the configured cost changed, and open a session: a bearer token plus a
 * home-page ticket, or (cookie) an H5 session cookie. APP_OK with *out;
 * APP_E_BAD_CREDENTIALS; APP_E_TOO_MANY_ATTEMPTS with *retry_after;
 * APP_E_UNAVAILABLE; APP_E_INTERNAL.
 */
enum app_err	user_login(struct store *st, const struct cfg *cfg,
		    const char *phone, const char *password, size_t pwlen,
		    const char *addr, int cookie, struct user_login *out,
		    long *retry_after);

/*
 * Who presented the request: a Bearer token in authorization, else the
 * session cookie in the Cookie header. APP_OK with the user's profile in
 * *p (p->id is the user id), the credential's hash (for logout) and
 * *via_cookie; APP_E_UNAUTHORIZED when none is
 * presented or it is malformed, unknown, expired or revoked;
 * APP_E_UNAVAILABLE.
 */
enum app_err	user_authenticate(struct store *st, const char *authorization,
		    const char *cookie_header, struct store_profile *p,
		    unsigned char hash[SESS_HASH_LEN], int *via_cookie);

/*
 * Spend a home-page ticket (len bytes) and open a cookie session: APP_OK
 * with *uid and the new cookie value in cookie; APP_E_UNAUTHORIZED.
 */
enum app_err	user_redeem_ticket(struct store *st, const struct cfg *cfg,
		    const char *ticket, size_t len, long long *uid,
		    char cookie[SESS_TOKEN_LEN + 1]);

#endif
