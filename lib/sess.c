/* Bearer tokens and session cookies (random secrets only ever stored hashed), and signed one-time tickets. */
#include <string.h>
#include <strings.h>

#include <sodium.h>

#include "sess.h"

/* A ticket: version, uid and expiry (big-endian), nonce, then the MAC of all that. */
#define TICKET_VERSION	1
#define TICKET_BODY	(1 + 8 + 8 + 16)
#define TICKET_RAW	(TICKET_BODY + crypto_auth_BYTES)

static unsigned char	 ticket_key[crypto_auth_KEYBYTES];

_Static_assert(SESS_TICKET_LEN == (TICKET_RAW * 4 + 2) / 3,
    "SESS_TICKET_LEN is the unpadded base64 length of a ticket");
_Static_assert(crypto_auth_KEYBYTES >= crypto_kdf_BYTES_MIN &&
    crypto_auth_KEYBYTES <= crypto_kdf_BYTES_MAX, "ticket key from the KDF");

void
sess_new(char tok[SESS_TOKEN_LEN + 1], unsigned char hash[SESS_HASH_LEN])
{
	unsigned char	 raw[32];

	randombytes_buf(raw, sizeof(raw));
	sodium_bin2base64(tok, SESS_TOKEN_LEN + 1, raw, sizeof(raw),
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	sodium_memzero(raw, sizeof(raw));
	crypto_hash_sha256(hash, (const unsigned char *)tok, SESS_TOKEN_LEN);
}

int
sess_hash(const char *tok, size_t len, unsigned char hash[SESS_HASH_LEN])
{
	size_t	 i;
	char	 c;

	if (len != SESS_TOKEN_LEN)
		return 0;
	for (i = 0; i < len; i++) {
		c = tok[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '_'))
			return 0;
	}
	crypto_hash_sha256(hash, (const unsigned char *)tok, len);
	return 1;
}

int
sess_bearer(const char *authorization, const char **tok, size_t *len)
{
	const char	*p;

	if (authorization == NULL || strncasecmp(authorization, "Bearer ", 7))
		return 0;
	for (p = authorization + 7; *p == ' '; p++)
		continue;
	*tok = p;
	*len = strcspn(p, " \t");
	return *len > 0 && p[*len] == '\0';
}

int
sess_cookie(const char *header, const char *name, const char **val,
    size_t *len)
{
	const char	*p, *end;
	size_t		 nlen = strlen(name), n;

	if (header == NULL)
		return 0;
	for (p = header; *p != '\0'; p = *end == ';' ? end + 1 : end) {
		while (*p == ' ' || *p == '\t')
			p++;
		end = p + strcspn(p, ";");
		n = (size_t)(end - p);
		if (n > nlen && p[nlen] == '=' && memcmp(p, name, nlen) == 0) {
			*val = p + nlen + 1;
			*len = n - nlen - 1;
			/* Trailing spaces before ';' are not part of the value. */
			while (*len > 0 && ((*val)[*len - 1] == ' ' ||
			    (*val)[*len - 1] == '\t'))
				(*len)--;
			return 1;
		}
	}
	return 0;
}

int
sess_init(const char *hexkey)
{
	unsigned char	 master[crypto_kdf_KEYBYTES];
	size_t		 n = 0;
	int		 rc;

	if (*hexkey == '\0') {
		crypto_auth_keygen(ticket_key);
		return 0;
	}
	if (strlen(hexkey) != 2 * sizeof(master) ||
	    sodium_hex2bin(master, sizeof(master), hexkey, strlen(hexkey),
	    NULL, &n, NULL) != 0 || n != sizeof(master))
		return -1;
	/* A subkey of its own: the SMS codes use the master key. */
	rc = crypto_kdf_derive_from_key(ticket_key, sizeof(ticket_key), 1,
	    "tickets_", master);
	sodium_memzero(master, sizeof(master));
	return rc == 0 ? 0 : -1;
}

static void
put_be64(unsigned char *p, unsigned long long v)
{
	int	 i;

	for (i = 7; i >= 0; i--, v >>= 8)
		p[i] = (unsigned char)(v & 0xff);
}

static unsigned long long
get_be64(const unsigned char *p)
{
	unsigned long long	 v = 0;
	int			 i;

	for (i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

void
sess_ticket_new(long long uid, long long expires_ms,
    char tok[SESS_TICKET_LEN + 1])
{
	unsigned char	 raw[TICKET_RAW];

	raw[0] = TICKET_VERSION;
	put_be64(raw + 1, (unsigned long long)uid);
	put_be64(raw + 9, (unsigned long long)expires_ms);
	randombytes_buf(raw + 17, 16);
	crypto_auth(raw + TICKET_BODY, raw, TICKET_BODY, ticket_key);
	sodium_bin2base64(tok, SESS_TICKET_LEN + 1, raw, sizeof(raw),
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

int
sess_ticket_open(const char *tok, size_t len, long long *uid,
    long long *expires_ms, unsigned char hash[SESS_HASH_LEN])
{
	unsigned char	 raw[TICKET_RAW];
	size_t		 n = 0;
	const char	*end = NULL;

	if (len != SESS_TICKET_LEN ||
	    sodium_base642bin(raw, sizeof(raw), tok, len, NULL, &n, &end,
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
	    n != sizeof(raw) || end != tok + len || raw[0] != TICKET_VERSION ||
	    crypto_auth_verify(raw + TICKET_BODY, raw, TICKET_BODY,
	    ticket_key) != 0)
		return 0;
	*uid = (long long)get_be64(raw + 1);
	*expires_ms = (long long)get_be64(raw + 9);
	/* Of the bytes, not the text: one ticket, one hash, however written. */
	crypto_hash_sha256(hash, raw, sizeof(raw));
	return 1;
}
