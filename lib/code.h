/* Verification codes: six digits from the OS CSPRNG, stored only as a keyed hash. */
#ifndef CODE_H
#define CODE_H

#include <stddef.h>

#define CODE_LEN	6
#define CODE_HASH_LEN	32

/*
 * Set the server key that code hashes are keyed with: 64 hex digits, or
 * "" for a random key (codes then do not survive a restart and hosts do
 * not agree: fine for a single dev machine only). Call once, before the
 * workers fork. Returns 0, or -1 for a malformed key.
 */
int	code_init(const char *hexkey);

/* Write a new code (CODE_LEN digits and a NUL) into out. */
void	code_generate(char out[CODE_LEN + 1]);

/*
 * The keyed BLAKE2b hash of phone and code, as stored in the database: a
 * leaked table does not give the codes away (10^6 guesses would, unkeyed).
 */
void	code_hash(const char *phone, const char *code, size_t codelen,
	    unsigned char out[CODE_HASH_LEN]);

#endif
