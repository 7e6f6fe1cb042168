/* Users: input validators, phone masking, password hashing, and the registration flow. */
#ifndef USER_H
#define USER_H

#include <stddef.h>

#include "app.h"

struct cfg;
struct sms;
struct store;

/* Length of a masked phone ("188****8888") including its NUL. */
#define USER_MASKED_LEN	12

/* Validators: 1 when s (len bytes) is acceptable, else 0. */
int	user_valid_phone(const char *s, size_t len);	/* ^1[3-9][0-9]{9}$ */
int	user_valid_password(const char *s, size_t len);	/* 8..128 characters */
int	user_valid_code(const char *s, size_t len);	/* six digits */

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

#endif
