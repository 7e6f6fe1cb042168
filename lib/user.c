/* Users: input validators, phone masking, password hashing, and the registration flow. */
#include <string.h>

#include <sodium.h>

#include "cfg.h"
#include "code.h"
#include "log.h"
#include "sess.h"
#include "sms.h"
#include "store.h"
#include "user.h"

static unsigned long long	 pw_ops = crypto_pwhash_OPSLIMIT_INTERACTIVE;
static size_t			 pw_mem = crypto_pwhash_MEMLIMIT_INTERACTIVE;
/* Verified against for unknown phones, so they cost what a real user does. */
static char			 dummy_hash[crypto_pwhash_STRBYTES];
_Static_assert(STORE_PWHASH_SIZE >= crypto_pwhash_STRBYTES,
    "struct store_login holds a libsodium password hash");

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
user_valid_login_password(const char *s, size_t len)
{
	(void)s;
	return len >= 1 && len <= 1024;
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
	unsigned char	 pw[16];

	if (sodium_init() < 0)
		return -1;
	pw_ops = (unsigned long long)opslimit;
	pw_mem = (size_t)memlimit_kib * 1024;
	randombytes_buf(pw, sizeof(pw));
	if (crypto_pwhash_str(dummy_hash, (const char *)pw, sizeof(pw), pw_ops,
	    pw_mem) != 0)
		return -1;
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

enum app_err
user_login(struct store *st, const struct cfg *cfg, const char *phone,
    const char *password, size_t pwlen, const char *addr, int cookie,
    struct user_login *out, long *retry_after)
{
	unsigned char	 th[SESS_HASH_LEN];
	char		 fresh[crypto_pwhash_STRBYTES];
	struct store_login_limits lim;
	struct store_session_new sn;
	struct store_login l;
	const char	*hash;
	enum app_err	 e;
	int		 ok;

	memset(out, 0, sizeof(*out));
	if (addr == NULL)
		addr = "";
	lim.window = cfg->login_window;
	lim.phone_max = cfg->login_phone_max;
	lim.addr_max = cfg->login_addr_max;
	/* Opened before the password is checked: see store_login_begin. */
	sess_new(out->token, th);
	sn.kind = cookie ? "cookie" : "bearer";
	sn.token_hash = th;
	sn.ttl = cookie ? cfg->session_ttl : cfg->token_ttl;
	e = store_login_begin(st, phone, addr, &lim, &sn, &l);
	*retry_after = l.retry_after;
	if (e != APP_OK && e != APP_E_NOT_FOUND) {
		sodium_memzero(out, sizeof(*out));
		return e;
	}
	/* An unknown phone costs a verification all the same. */
	hash = e == APP_OK ? l.hash : dummy_hash;
	ok = crypto_pwhash_str_verify(hash, password, pwlen) == 0 &&
	    e == APP_OK;
	if (!ok) {
		sodium_memzero(out, sizeof(*out));
		sodium_memzero(&l, sizeof(l));
		e = store_login_failed(st, phone, addr, cfg->login_window,
		    e == APP_OK ? &sn : NULL);
		return e == APP_OK ? APP_E_BAD_CREDENTIALS : e;
	}
	/* The configured cost changed since this hash was made. */
	if (crypto_pwhash_str_needs_rehash(l.hash, pw_ops, pw_mem) != 0) {
		if (crypto_pwhash_str(fresh, password, pwlen, pw_ops,
		    pw_mem) == 0 && store_password_set(st, l.uid, fresh) ==
		    APP_OK)
			log_msg(LOG_INFO, "password rehashed at the new cost");
		sodium_memzero(fresh, sizeof(fresh));
	}
	sodium_memzero(l.hash, sizeof(l.hash));
	/*
	 * The login is done and durable; failures that stay only age out of
	 * the window sooner or later.
	 */
	if (l.phone_failures > 0 && store_login_clear(st, phone) != APP_OK)
		log_msg(LOG_WARN, "failed logins not cleared after a login");
	/* Signed, not stored: the database's clock sets its expiry. */
	if (!cookie)
		sess_ticket_new(l.uid, l.now_ms + cfg->ticket_ttl * 1000LL,
		    out->ticket);
	out->uid = l.uid;
	user_mask_phone(phone, out->phone);
	return APP_OK;
}

enum app_err
user_authenticate(struct store *st, const char *authorization,
    const char *cookie_header, struct store_profile *p,
    unsigned char hash[SESS_HASH_LEN], int *via_cookie)
{
	const char	*tok;
	size_t		 len;

	*via_cookie = 0;
	if (authorization != NULL && *authorization != '\0') {
		if (!sess_bearer(authorization, &tok, &len))
			return APP_E_UNAUTHORIZED;
	} else if (sess_cookie(cookie_header, SESS_COOKIE, &tok, &len))
		*via_cookie = 1;
	else
		return APP_E_UNAUTHORIZED;
	if (!sess_hash(tok, len, hash))
		return APP_E_UNAUTHORIZED;
	return store_session_user(st, hash, p);
}

enum app_err
user_redeem_ticket(struct store *st, const struct cfg *cfg,
    const char *ticket, size_t len, long long *uid,
    char cookie[SESS_TOKEN_LEN + 1])
{
	unsigned char	 kh[SESS_HASH_LEN], sh[SESS_HASH_LEN];
	long long	 id, expires_ms;
	enum app_err	 e;

	/* Forged and malformed tickets never reach the database. */
	if (!sess_ticket_open(ticket, len, &id, &expires_ms, kh))
		return APP_E_UNAUTHORIZED;
	sess_new(cookie, sh);
	e = store_ticket_redeem(st, kh, id, expires_ms, sh, cfg->session_ttl);
	if (e != APP_OK)
		sodium_memzero(cookie, SESS_TOKEN_LEN + 1);
	else
		*uid = id;
	return e;
}
