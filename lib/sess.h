/* Bearer tokens, session cookies and tickets: random secrets that are only ever stored hashed. */
#ifndef SESS_H
#define SESS_H

#include <stddef.h>

/* 32 random bytes as unpadded base64url. */
#define SESS_TOKEN_LEN	43
#define SESS_HASH_LEN	32
/* The session cookie; __Host- makes browsers insist on Secure, Path=/, no Domain. */
#define SESS_COOKIE	"__Host-sid"

/*
 * A new secret from the OS CSPRNG into tok (NUL-terminated) and its
 * SHA-256 into hash: the secret goes to the client, the hash to the store.
 */
void	sess_new(char tok[SESS_TOKEN_LEN + 1], unsigned char hash[SESS_HASH_LEN]);

/*
 * The SHA-256 of a presented secret. Returns 1, or 0 when tok (len bytes)
 * is not SESS_TOKEN_LEN base64url characters, so malformed secrets never
 * reach the database.
 */
int	sess_hash(const char *tok, size_t len, unsigned char hash[SESS_HASH_LEN]);

/*
 * The token of an "Authorization: Bearer <token>" value (scheme
 * case-insensitive). Returns 1 with *tok and *len borrowed from authorization,
 * else 0.
 */
int	sess_bearer(const char *authorization, const char **tok, size_t *len);

/*
 * The value of cookie name in a Cookie header ("a=1; b=2"). Returns 1 with
 * *val and *len borrowed from header (the first cookie of that name), else 0.
 */
int	sess_cookie(const char *header, const char *name, const char **val,
	    size_t *len);

#endif
