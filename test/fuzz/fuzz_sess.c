/* libFuzzer harness for lib/sess.c: Cookie and Authorization headers, and the token shape check. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sodium.h>

#include "sess.h"

/*
 * Input: one selector byte, then the client bytes. The selector picks the
 * cookie name looked for. The bytes are parsed as a Cookie header and an
 * Authorization header (C strings, up to the first NUL, as FastCGI hands
 * them over), and as a presented token of that many bytes; what the header
 * parsers return is then hashed, as user_authenticate does.
 */
static const char *const cnames[] = { SESS_COOKIE, "a", "__Host-sidx", "" };

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);
int	LLVMFuzzerInitialize(int *, char ***);

static int
b64url(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || c == '-' || c == '_';
}

/*
 * sess_hash accepts exactly SESS_TOKEN_LEN base64url characters and then
 * gives their SHA-256. The output buffer is exactly SESS_HASH_LEN bytes.
 */
static void
check_hash(const char *tok, size_t len)
{
	unsigned char	*h, want[SESS_HASH_LEN];
	size_t		 i;
	int		 ok = len == SESS_TOKEN_LEN;

	for (i = 0; i < len && ok; i++)
		ok = b64url(tok[i]);
	if ((h = malloc(SESS_HASH_LEN)) == NULL)
		abort();
	if (sess_hash(tok, len, h) != ok)
		abort();
	if (ok) {
		crypto_hash_sha256(want, (const unsigned char *)tok, len);
		if (memcmp(h, want, SESS_HASH_LEN) != 0)
			abort();
	}
	free(h);
}

/*
 * The Cookie rules, written out a second way: ';'-separated pairs, leading
 * spaces and tabs skipped, the first pair that is name '=' wins, and its
 * value ends before the ';' less trailing spaces and tabs.
 */
static void
check_cookie(const char *h, const char *name)
{
	const char	*val = NULL, *seg, *want = NULL;
	size_t		 len = 0, nlen = strlen(name), n, wlen = 0;
	int		 rc;

	for (seg = h; want == NULL; seg += n + 1) {
		n = strcspn(seg, ";");
		while (n > 0 && (*seg == ' ' || *seg == '\t')) {
			seg++;
			n--;
		}
		if (n > nlen && strncmp(seg, name, nlen) == 0 &&
		    seg[nlen] == '=') {
			want = seg + nlen + 1;
			wlen = n - nlen - 1;
			while (wlen > 0 && (want[wlen - 1] == ' ' ||
			    want[wlen - 1] == '\t'))
				wlen--;
		}
		if (seg[n] == '\0')
			break;
	}
	rc = sess_cookie(h, name, &val, &len);
	if (rc != (want != NULL) || (rc && (val != want || len != wlen)))
		abort();
	if (rc) {
		if (memchr(val, ';', len) != NULL)
			abort();
		check_hash(val, len);
	}
}

/*
 * "Bearer" (any case), one space, any more spaces, then a token that runs
 * to the end of the header and holds no space or tab.
 */
static void
check_bearer(const char *h)
{
	const char	*tok = NULL, *p, *want = NULL;
	size_t		 len = 0;
	int		 rc;

	if (strncasecmp(h, "bearer ", 7) == 0) {
		for (p = h + 7; *p == ' '; p++)
			continue;
		if (*p != '\0' && strpbrk(p, " \t") == NULL)
			want = p;
	}
	rc = sess_bearer(h, &tok, &len);
	if (rc != (want != NULL) ||
	    (rc && (tok != want || len != strlen(want))))
		abort();
	if (rc)
		check_hash(tok, len);
}

/* Fresh secrets always pass the checks the parsers apply to presented ones. */
int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char		 tok[SESS_TOKEN_LEN + 1], hdr[128];
	unsigned char	 hash[SESS_HASH_LEN], again[SESS_HASH_LEN];
	const char	*v;
	size_t		 n;

	(void)argc;
	(void)argv;
	if (sodium_init() < 0)
		abort();
	sess_new(tok, hash);
	if (strlen(tok) != SESS_TOKEN_LEN || !sess_hash(tok, strlen(tok),
	    again) || memcmp(hash, again, SESS_HASH_LEN) != 0)
		abort();
	snprintf(hdr, sizeof(hdr), "Bearer %s", tok);
	if (!sess_bearer(hdr, &v, &n) || n != SESS_TOKEN_LEN ||
	    memcmp(v, tok, n) != 0)
		abort();
	snprintf(hdr, sizeof(hdr), "a=1; %s=%s", SESS_COOKIE, tok);
	if (!sess_cookie(hdr, SESS_COOKIE, &v, &n) || n != SESS_TOKEN_LEN ||
	    memcmp(v, tok, n) != 0)
		abort();
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *bytes, size_t size)
{
	const char	*data = (const char *)bytes + 1;
	char		*h;
	size_t		 len;

	if (size == 0)
		return 0;
	len = size - 1;
	/* A token of len bytes straight from the fuzzer: no NUL after it. */
	check_hash(data, len);

	if ((h = malloc(len + 1)) == NULL)
		abort();
	memcpy(h, data, len);
	h[len] = '\0';
	check_cookie(h, cnames[bytes[0] & 3]);
	check_bearer(h);
	free(h);
	return 0;
}
