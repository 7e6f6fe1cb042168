/* Bearer tokens and session cookies (random secrets only ever stored hashed), and signed one-time tickets. */
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

/*
 * Home-page tickets: the user id and the expiry, a random nonce and an
 * HMAC (libsodium crypto_auth) under a key derived from APPD_SECRET_KEY,
 * as unpadded base64url. Nothing is stored when one is made; the store
 * records a ticket's hash only when it is spent, which keeps it one-time.
 */
#define SESS_TICKET_LEN	87

/*
 * Derive the ticket key from hexkey (APPD_SECRET_KEY, 64 hex digits), or
 * pick a random one for "" (tickets then die with the process). Call once
 * after sodium_init(), before workers fork. Returns 0, or -1 for a
 * malformed key.
 */
int	sess_init(const char *hexkey);

/* A new ticket for uid that expires at expires_ms (Unix milliseconds). */
void	sess_ticket_new(long long uid, long long expires_ms,
	    char tok[SESS_TICKET_LEN + 1]);

/*
 * Check a presented ticket (len bytes): returns 1 with the user, the
 * expiry and the SHA-256 of its bytes (the key it is spent under), or 0
 * when it is malformed or its HMAC does not verify (compared in constant
 * time). Expiry is the caller's to check, on the database's clock.
 */
int	sess_ticket_open(const char *tok, size_t len, long long *uid,
	    long long *expires_ms, unsigned char hash[SESS_HASH_LEN]);

#endif
