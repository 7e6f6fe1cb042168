/* Users: input validators, phone masking, password hashing, and the registration flow. */
#include <string.h>

#include <sodium.h>

#include "cfg.h"
#include "code.h"
#include "log.h"
#include "sms.h"
#include "store.h"
#include "user.h"

static unsigned long long	 pw_ops = crypto_pwhash_OPSLIMIT_INTERACTIVE;
static size_t			 pw_mem = crypto_pwhash_MEMLIMIT_INTERACTIVE;

int
user_valid_phone(const char *s, size_t len)
{
	size_t	 i;

	if (len != 11 || s[0] != '1' || s[1] < '3' || s[1] > '9')
		return 0;
	for (i = 2; i < 11; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return 1;
}

int
user_valid_password(const char *s, size_t len)
{
	size_t	 i, chars = 0;

	/* Characters, not bytes: count every byte that starts one. */
	for (i = 0; i < len; i++)
		if (((unsigned char)s[i] & 0xc0) != 0x80)
			chars++;
	return chars >= 8 && chars <= 128;
}

int
user_valid_code(const char *s, size_t len)
{
	size_t	 i;

	if (len != CODE_LEN)
		return 0;
	for (i = 0; i < len; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return 1;
}

void
user_mask_phone(const char *phone, char out[USER_MASKED_LEN])
{
	memcpy(out, phone, 3);
	memcpy(out + 3, "****", 4);
	memcpy(out + 7, phone + 7, 4);
	out[11] = '\0';
}

int
user_init(long opslimit, long memlimit_kib)
{
	if (sodium_init() < 0)
		return -1;
	pw_ops = (unsigned long long)opslimit;
	pw_mem = (size_t)memlimit_kib * 1024;
	return 0;
}

struct delivery {
	struct sms	*sms;
	const char	*phone;
	const char	*code;
};

static int
deliver(void *arg)
{
	struct delivery	*d = arg;

	return sms_send(d->sms, d->phone, d->code);
}

enum app_err
user_request_code(struct store *st, struct sms *sms, const struct cfg *cfg,
    const char *phone, const char *addr, long *retry_after)
{
	struct store_code_issue	 ci;
	struct delivery		 d;
	char			 code[CODE_LEN + 1];
	enum app_err		 e;

	code_generate(code);
	memset(&ci, 0, sizeof(ci));
	code_hash(phone, code, CODE_LEN, ci.hash);
	ci.phone = phone;
	ci.addr = addr != NULL ? addr : "";
	ci.ttl = cfg->code_ttl;
	ci.resend = cfg->code_resend;
	ci.addr_max = cfg->code_addr_max;
	ci.addr_window = cfg->code_addr_window;
	d.sms = sms;
	d.phone = phone;
	d.code = code;
	ci.deliver = deliver;
	ci.arg = &d;
	e = store_code_issue(st, &ci, retry_after);
	sodium_memzero(code, sizeof(code));
	return e;
}

enum app_err
user_register(struct store *st, const struct cfg *cfg, const char *phone,
    const char *password, size_t pwlen, const char *code, long long *uid)
{
	unsigned char	 hash[CODE_HASH_LEN];
	char		 pwhash[crypto_pwhash_STRBYTES];
	long long	 code_id;
	enum app_err	 e;

	code_hash(phone, code, strlen(code), hash);
	e = store_code_check(st, phone, hash, cfg->code_max_tries, &code_id);
	if (e != APP_OK)
		return e;
	/* The expensive hash runs outside any transaction. */
	if (crypto_pwhash_str(pwhash, password, pwlen, pw_ops, pw_mem) != 0) {
		log_msg(LOG_ERROR, "password hashing failed (out of memory?)");
		return APP_E_INTERNAL;
	}
	e = store_user_create(st, phone, pwhash, code_id, uid);
	sodium_memzero(pwhash, sizeof(pwhash));
	return e;
}
