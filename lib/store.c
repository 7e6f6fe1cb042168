/* The store: picks a backend by URL scheme and forwards each domain operation to it. */
#include <stdlib.h>
#include <string.h>

#include "mem.h"
#include "store.h"

struct store {
	const struct store_ops	*ops;
	void			*be;
};

static const struct {
	const char		*prefix;
	const struct store_ops	*ops;
} backends[] = {
	{ "postgresql://", &store_pg_ops },
	{ "postgres://", &store_pg_ops },
	{ "mysql://", &store_my_ops },
	{ "mariadb://", &store_my_ops },
};

struct store *
store_new(const char *url, const struct store_opts *o)
{
	struct store	*s;
	size_t		 i;

	for (i = 0; i < sizeof(backends) / sizeof(backends[0]); i++) {
		if (strncmp(url, backends[i].prefix,
		    strlen(backends[i].prefix)) != 0)
			continue;
		s = mem_malloc(sizeof(*s));
		s->ops = backends[i].ops;
		if ((s->be = s->ops->open(url, o)) == NULL) {
			free(s);
			return NULL;
		}
		return s;
	}
	return NULL;
}

void
store_free(struct store *s)
{
	if (s == NULL)
		return;
	s->ops->close(s->be);
	free(s);
}

enum app_err
store_ping(struct store *s)
{
	return s->ops->ping(s->be);
}

enum app_err
store_code_issue(struct store *s, const struct store_code_issue *ci,
    long *retry_after)
{
	*retry_after = 0;
	return s->ops->code_issue(s->be, ci, retry_after);
}

enum app_err
store_code_check(struct store *s, const char *phone,
    const unsigned char hash[32], long max_tries, long long *code_id)
{
	return s->ops->code_check(s->be, phone, hash, max_tries, code_id);
}

enum app_err
store_user_create(struct store *s, const char *phone, const char *pwhash,
    long long code_id, long long *uid)
{
	return s->ops->user_create(s->be, phone, pwhash, code_id, uid);
}

enum app_err
store_login_begin(struct store *s, const char *phone, const char *addr,
    const struct store_login_limits *lim, const struct store_session_new *sn,
    struct store_login *l)
{
	memset(l, 0, sizeof(*l));
	return s->ops->login_begin(s->be, phone, addr, lim, sn, l);
}

enum app_err
store_login_failed(struct store *s, const char *phone, const char *addr,
    long window, const struct store_session_new *sn)
{
	return s->ops->login_failed(s->be, phone, addr, window, sn);
}

enum app_err
store_login_clear(struct store *s, const char *phone)
{
	return s->ops->login_clear(s->be, phone);
}

enum app_err
store_password_set(struct store *s, long long uid, const char *hash)
{
	return s->ops->password_set(s->be, uid, hash);
}

enum app_err
store_session_user(struct store *s, const unsigned char token_hash[32],
    struct store_profile *p)
{
	return s->ops->session_user(s->be, token_hash, p);
}

enum app_err
store_session_revoke(struct store *s, const unsigned char token_hash[32])
{
	return s->ops->session_revoke(s->be, token_hash);
}

enum app_err
store_ticket_redeem(struct store *s, const unsigned char ticket_hash[32],
    long long uid, long long expires_ms, const unsigned char session_hash[32],
    long ttl)
{
	return s->ops->ticket_redeem(s->be, ticket_hash, uid, expires_ms,
	    session_hash, ttl);
}

enum app_err
store_visit(struct store *s, long long uid, struct store_profile *p)
{
	return s->ops->visit(s->be, uid, p);
}

enum app_err
store_image_add(struct store *s, long long uid, const struct store_image *img,
    int (*files)(void *arg), void (*undo)(void *arg), void *arg,
    long long *id)
{
	return s->ops->image_add(s->be, uid, img, files, undo, arg, id);
}

enum app_err
store_image_list(struct store *s, long long uid, long long before,
    struct store_image *out, int max, int *n)
{
	*n = 0;
	return s->ops->image_list(s->be, uid, before, out, max, n);
}
