/* Verification codes: six digits from the OS CSPRNG, stored only as a keyed hash. */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "code.h"

static unsigned char	 key[crypto_generichash_KEYBYTES];

int
code_init(const char *hexkey)
{
	size_t	 n = 0;

	if (sodium_init() < 0)
		return -1;
	if (*hexkey == '\0') {
		randombytes_buf(key, sizeof(key));
		return 0;
	}
	if (strlen(hexkey) != 2 * sizeof(key) ||
	    sodium_hex2bin(key, sizeof(key), hexkey, strlen(hexkey), NULL, &n,
	    NULL) != 0 || n != sizeof(key))
		return -1;
	return 0;
}

void
code_generate(char out[CODE_LEN + 1])
{
	snprintf(out, CODE_LEN + 1, "%06u",
	    (unsigned)randombytes_uniform(1000000));
}

void
code_hash(const char *phone, const char *code, size_t codelen,
    unsigned char out[CODE_HASH_LEN])
{
	crypto_generichash_state	 st;

	crypto_generichash_init(&st, key, sizeof(key), CODE_HASH_LEN);
	crypto_generichash_update(&st, (const unsigned char *)phone,
	    strlen(phone));
	crypto_generichash_update(&st, (const unsigned char *)":", 1);
	crypto_generichash_update(&st, (const unsigned char *)code, codelen);
	crypto_generichash_final(&st, out, CODE_HASH_LEN);
}
