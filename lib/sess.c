/* Bearer tokens, session cookies and tickets: random secrets that are only ever stored hashed. */
#include <string.h>
#include <strings.h>

#include <sodium.h>

#include "sess.h"

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
