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
