/* The PostgreSQL store backend: one libpq connection per worker, every statement prepared. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>
#include <sodium.h>

#include "log.h"
#include "mono.h"
#include "mem.h"
#include "store.h"

/*
 * All SQL of this backend, indexed by enum stmt. Each is prepared once per
 * connection; retry marks statements that are safe to run again on a fresh
 * connection when the old one turns out to be dead (reads and statements
 * whose effect cannot have been committed twice).
 */
enum stmt {
	ST_PING,
	ST_CODE_LOCK,
	ST_CODE_RECENT,
	ST_CODE_ADDR,
	ST_CODE_PURGE,
	ST_CODE_SUPERSEDE,
	ST_CODE_INSERT,
	ST_CODE_CURRENT,
	ST_CODE_FAIL,
	ST_CODE_USE,
	ST_USER_INSERT,
	ST_LOGIN_BEGIN,
	ST_LOGIN_FAIL,
	ST_LOGIN_CLEAR,
	ST_PASSWORD_SET,
	ST_SESSION_USER,
	ST_SESSION_REVOKE,
	ST_TICKET_SPEND,
	ST_VISIT,
	ST_IMAGE_LOCK,
	ST_IMAGE_INSERT,
	ST_IMAGE_LIST,
	ST__MAX
};


/* Whole seconds until the failure at time t leaves the window ($3). */
#define SECS_LEFT(t)	"ceil(extract(epoch FROM " t " + make_interval(secs => " \
	"$3::float8) - now()))::bigint"
#define ISO_UTC(col) "to_char(" col " AT TIME ZONE 'UTC', " \
	"'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"


static const struct {
	const char	*name;
	const char	*sql;
	int		 nparams;
	int		 retry;
} stmts[ST__MAX] = {
	[ST_PING] = { "ping", "SELECT 1", 0, 1 },
	/* Serialises code requests per phone and per client address. */
	[ST_CODE_LOCK] = { "code_lock",
	    "SELECT pg_advisory_xact_lock(1, hashtext($1)), "
	    "pg_advisory_xact_lock(2, hashtext($2))", 2, 0 },
	[ST_CODE_RECENT] = { "code_recent",
	    "SELECT ceil($2::float8 - extract(epoch FROM now() - created_at))"
	    "::bigint FROM sms_codes WHERE phone = $1 AND created_at > "
	    "now() - make_interval(secs => $2::float8) "
	    "ORDER BY created_at DESC LIMIT 1", 2, 0 },
	[ST_CODE_ADDR] = { "code_addr",
	    "SELECT count(*), ceil(extract(epoch FROM min(created_at) + "
	    "make_interval(secs => $2::float8) - now()))::bigint "
	    "FROM sms_codes WHERE client_addr = $1 AND created_at > "
	    "now() - make_interval(secs => $2::float8)", 2, 0 },
	[ST_CODE_PURGE] = { "code_purge",
	    "DELETE FROM sms_codes WHERE phone = $1 AND created_at < "
	    "now() - make_interval(secs => $2::float8)", 2, 0 },
	[ST_CODE_SUPERSEDE] = { "code_supersede",
	    "UPDATE sms_codes SET used_at = now() "
	    "WHERE phone = $1 AND used_at IS NULL", 1, 0 },
	[ST_CODE_INSERT] = { "code_insert",
	    "INSERT INTO sms_codes (phone, code_hash, client_addr, expires_at) "
	    "VALUES ($1, decode($2, 'hex'), $3, "
	    "now() + make_interval(secs => $4::float8))", 4, 0 },
	[ST_CODE_CURRENT] = { "code_current",
	    "SELECT id, encode(code_hash, 'hex'), attempts FROM sms_codes "
	    "WHERE phone = $1 AND used_at IS NULL AND expires_at > now() "
	    "ORDER BY created_at DESC LIMIT 1 FOR UPDATE", 1, 0 },
	[ST_CODE_FAIL] = { "code_fail",
	    "UPDATE sms_codes SET attempts = attempts + 1 WHERE id = $1", 1, 0 },
	[ST_CODE_USE] = { "code_use",
	    "UPDATE sms_codes SET used_at = now() WHERE id = $1 AND "
	    "used_at IS NULL AND expires_at > now()", 1, 0 },
	[ST_USER_INSERT] = { "user_insert",
	    "INSERT INTO users (phone, password_hash) VALUES ($1, $2) "
	    "RETURNING id", 2, 0 },
	/*
	 * Failed logins of the phone and of the address within the window,
	 * the seconds until the oldest leaves it, the user and the time; unless
	 * that locks the login or there is no user, the session ($6-$8)
	 * opened: one round trip. It is retried on a fresh connection when the
	 * old one was found dead. If the first run had committed all the same
	 * (the connection died after the commit), the rerun's insert meets its
	 * own token_hash: 23505, which pg_login_begin answers as "try again".
	 * A plain INSERT, not ON CONFLICT DO NOTHING, whose speculative
	 * insertion cost every login 3-6 µs for that rare case.
	 * Unless sync_sessions is set ($9 empty), it commits without waiting
	 * for the WAL flush or a standby (set_config local to its own
	 * transaction, read at commit): a crash or a failover can lose the
	 * last fraction of a second of new sessions (those users sign in
	 * again), and a login pays no disk flush. Spent tickets, revocations,
	 * users, codes and images always keep the server's commit setting.
	 */
	[ST_LOGIN_BEGIN] = { "login_begin",
	    "WITH c AS (SELECT set_config('synchronous_commit', "
	    "coalesce(nullif($9, ''), current_setting('synchronous_commit')), "
	    "true)), "
	    "l AS (SELECT p.n pn, " SECS_LEFT("p.m") " ps, a.n an, "
	    SECS_LEFT("a.m") " as_, u.id, u.password_hash, "
	    "u.id IS NOT NULL AND p.n < $4 AND a.n < $5 go FROM "
	    "(SELECT count(*) n, min(at) m FROM login_failures WHERE "
	    "phone = $1 AND at > now() - make_interval(secs => $3::float8)) p, "
	    "(SELECT count(*) n, min(at) m FROM login_failures WHERE "
	    "client_addr = $2 AND at > now() - "
	    "make_interval(secs => $3::float8)) a "
	    "LEFT JOIN users u ON u.phone = $1), "
	    "s AS (INSERT INTO sessions (user_id, token_hash, kind, expires_at) "
	    "SELECT id, decode($7, 'hex'), $6, "
	    "now() + make_interval(secs => $8::float8) FROM l WHERE go) "
	    "SELECT pn, ps, an, as_, id, password_hash, "
	    "ceil(extract(epoch FROM now()) * 1000)::bigint FROM l, c", 9, 1 },
	/* The failure, and the session login_begin opened. */
	[ST_LOGIN_FAIL] = { "login_fail",
	    "WITH old AS (DELETE FROM login_failures WHERE at < now() - "
	    "make_interval(secs => $3::float8)), "
	    "s AS (DELETE FROM sessions WHERE token_hash = decode($4, 'hex')) "
	    "INSERT INTO login_failures (phone, client_addr) VALUES ($1, $2)",
	    4, 0 },
	[ST_LOGIN_CLEAR] = { "login_clear",
	    "DELETE FROM login_failures WHERE phone = $1", 1, 1 },
	[ST_PASSWORD_SET] = { "password_set",
	    "UPDATE users SET password_hash = $2 WHERE id = $1", 2, 1 },
	/* The check and the profile in one round trip (GET /users/me). */
	[ST_SESSION_USER] = { "session_user",
	    "SELECT u.id, u.phone, " ISO_UTC("u.created_at") ", u.visits, "
	    ISO_UTC("u.last_seen_at") ", u.image_count "
	    "FROM sessions s JOIN users u ON "
	    "u.id = s.user_id WHERE s.token_hash = decode($1, 'hex') "
	    "AND s.revoked_at IS NULL AND s.expires_at > now()", 1, 1 },
	[ST_SESSION_REVOKE] = { "session_revoke",
	    "UPDATE sessions SET revoked_at = now() WHERE "
	    "token_hash = decode($1, 'hex') AND revoked_at IS NULL", 1, 1 },
	/*
	 * A ticket is spent by inserting its hash: of concurrent spends one
	 * inserts, the others find the conflict. Not retried: a rerun after
	 * the first committed would say "spent".
	 */
	[ST_TICKET_SPEND] = { "ticket_spend",
	    "WITH k AS (INSERT INTO tickets (user_id, ticket_hash, expires_at, "
	    "used_at) SELECT $1, decode($2, 'hex'), to_timestamp($3::float8 / "
	    "1000), now() WHERE to_timestamp($3::float8 / 1000) > now() "
	    "ON CONFLICT (ticket_hash) DO NOTHING RETURNING user_id), "
	    "s AS (INSERT INTO sessions (user_id, token_hash, kind, expires_at) "
	    "SELECT user_id, decode($4, 'hex'), 'cookie', "
	    "now() + make_interval(secs => $5::float8) FROM k) "
	    "SELECT user_id FROM k", 5, 0 },
	/* One statement: the count and the time move together. */
	[ST_VISIT] = { "visit",
	    "UPDATE users u SET visits = u.visits + 1, last_seen_at = now() "
	    "FROM (SELECT id, last_seen_at FROM users WHERE id = $1 FOR UPDATE) "
	    "o WHERE u.id = o.id RETURNING u.id, u.phone, "
	    ISO_UTC("u.created_at") ", u.visits, " ISO_UTC("o.last_seen_at")
	    ", u.image_count", 1, 0 },
	/* Uploads of identical bytes queue here, on every host. */
	[ST_IMAGE_LOCK] = { "image_lock",
	    "SELECT pg_advisory_xact_lock(3, hashtext($1))", 1, 0 },
	[ST_IMAGE_INSERT] = { "image_insert",
	    "INSERT INTO images (user_id, sha256, format, width, height, bytes) "
	    "VALUES ($1, $2, $3, $4, $5, $6) RETURNING id", 6, 0 },
	[ST_IMAGE_LIST] = { "image_list",
	    "SELECT id, sha256, format, width, height, bytes FROM images "
	    "WHERE user_id = $1 AND ($2::bigint = 0 OR id < $2::bigint) "
	    "ORDER BY id DESC LIMIT $3", 3, 1 },
};

struct pg {
	PGconn			*conn;
	int			 in_tx;
	char			*url;
	struct store_opts	 o;
	double			 next_try;	/* monotonic ms */
};

static void
drop(struct pg *pg)
{
	if (pg->conn != NULL)
		PQfinish(pg->conn);
	pg->conn = NULL;
}

/* Make sure a connection with every statement prepared exists. */
static int
ensure(struct pg *pg)
{
	const char	*keys[5], *vals[5];
	char		 ct[24], opts[64];
	PGresult	*res;
	int		 i, ok;

	if (pg->conn != NULL && PQstatus(pg->conn) == CONNECTION_OK)
		return 0;
	drop(pg);
	if (mono_ms() < pg->next_try)
		return -1;
	snprintf(ct, sizeof(ct), "%ld", pg->o.connect_timeout);
	snprintf(opts, sizeof(opts), "-c statement_timeout=%ld",
	    pg->o.statement_timeout);
	keys[0] = "dbname";		vals[0] = pg->url;
	keys[1] = "connect_timeout";	vals[1] = ct;
	keys[2] = "options";		vals[2] = opts;
	keys[3] = "application_name";	vals[3] = "appd";
	keys[4] = NULL;			vals[4] = NULL;
	pg->conn = PQconnectdbParams(keys, vals, 1);
	if (PQstatus(pg->conn) != CONNECTION_OK) {
		log_msg(LOG_WARN, "database connect failed: %s",
		    PQerrorMessage(pg->conn));
		goto fail;
	}
	for (i = 0; i < ST__MAX; i++) {
		res = PQprepare(pg->conn, stmts[i].name, stmts[i].sql,
		    stmts[i].nparams, NULL);
		ok = PQresultStatus(res) == PGRES_COMMAND_OK;
		if (!ok)
			log_msg(LOG_ERROR, "prepare %s failed: %s",
			    stmts[i].name, PQresultErrorMessage(res));
		PQclear(res);
		if (!ok)
			goto fail;
	}
	log_msg(LOG_INFO, "database connected");
	return 0;
fail:
	drop(pg);
	pg->next_try = mono_ms() + (double)pg->o.retry_ms;
	return -1;
}

/* Map a failed result to the domain enum by its SQLSTATE. */
static enum app_err
classify(struct pg *pg, const PGresult *res, const char *what)
{
	const char	*state;

	state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	if (state == NULL)
		state = "";
	if (strcmp(state, "23505") == 0)
		return APP_E_CONFLICT;
	/*
	 * Connection exceptions (08), shutdown and crash (57P0x), statement
	 * timeout (57014) and exhausted resources (53) mean "try again".
	 */
	if (strncmp(state, "08", 2) == 0 || strncmp(state, "57P", 3) == 0 ||
	    strncmp(state, "53", 2) == 0) {
		drop(pg);
		return APP_E_UNAVAILABLE;
	}
	if (strcmp(state, "57014") == 0) {
		log_msg(LOG_WARN, "%s: statement timeout", what);
		return APP_E_UNAVAILABLE;
	}
	log_msg(LOG_ERROR, "%s failed (SQLSTATE %s): %s", what, state,
	    PQresultErrorMessage(res));
	return APP_E_INTERNAL;
}

/*
 * Run prepared statement st. On APP_OK *out is a new result (PQclear it);
 * otherwise *out is NULL.
 */
static enum app_err
run(struct pg *pg, enum stmt st, const char *const *params,
    PGresult **out)
{
	PGresult	*res;
	ExecStatusType	 es;
	enum app_err	 rc;
	int		 attempt;

	*out = NULL;
	for (attempt = 0; attempt < 2; attempt++) {
		/* A transaction never continues on a new connection. */
		if (pg->in_tx && pg->conn == NULL)
			return APP_E_UNAVAILABLE;
		if (ensure(pg) != 0)
			return APP_E_UNAVAILABLE;
		res = PQexecPrepared(pg->conn, stmts[st].name,
		    stmts[st].nparams, params, NULL, NULL, 0);
		es = PQresultStatus(res);
		if (es == PGRES_TUPLES_OK || es == PGRES_COMMAND_OK) {
			*out = res;
			return APP_OK;
		}
		/*
		 * The server went away (restart, crash, network). libpq
		 * does not always mark the connection bad at once; an error
		 * without a SQLSTATE came from the client side all the same.
		 */
		if (PQstatus(pg->conn) == CONNECTION_BAD ||
		    PQresultErrorField(res, PG_DIAG_SQLSTATE) == NULL) {
			log_msg(LOG_WARN, "database connection lost: %s",
			    PQerrorMessage(pg->conn));
			PQclear(res);
			drop(pg);
			if (stmts[st].retry && !pg->in_tx && attempt == 0)
				continue;
			return APP_E_UNAVAILABLE;
		}
		rc = classify(pg, res, stmts[st].name);
		PQclear(res);
		return rc;
	}
	return APP_E_UNAVAILABLE;
}

/* Run st for its effect only. */
static enum app_err
exec_stmt(struct pg *pg, enum stmt st, const char *const *params)
{
	PGresult	*res;
	enum app_err	 e;

	if ((e = run(pg, st, params, &res)) == APP_OK)
		PQclear(res);
	return e;
}

/*
 * Transactions. BEGIN is retried once on a fresh connection when the old
 * one turns out to be dead (nothing has happened yet); inside a
 * transaction nothing is retried.
 */
static enum app_err
tx_control(struct pg *pg, const char *sql)
{
	PGresult	*res;
	enum app_err	 rc;

	res = PQexec(pg->conn, sql);
	if (PQresultStatus(res) == PGRES_COMMAND_OK) {
		PQclear(res);
		return APP_OK;
	}
	if (PQstatus(pg->conn) == CONNECTION_BAD ||
	    PQresultErrorField(res, PG_DIAG_SQLSTATE) == NULL) {
		log_msg(LOG_WARN, "database connection lost at %s", sql);
		PQclear(res);
		drop(pg);
		return APP_E_UNAVAILABLE;
	}
	rc = classify(pg, res, sql);
	PQclear(res);
	return rc;
}

static enum app_err
tx_begin(struct pg *pg)
{
	enum app_err	 rc = APP_E_UNAVAILABLE;
	int		 attempt;

	for (attempt = 0; attempt < 2; attempt++) {
		if (ensure(pg) != 0)
			return APP_E_UNAVAILABLE;
		if ((rc = tx_control(pg, "BEGIN")) == APP_OK) {
			pg->in_tx = 1;
			return APP_OK;
		}
		if (pg->conn != NULL)
			return rc;
	}
	return rc;
}

static enum app_err
tx_commit(struct pg *pg)
{
	pg->in_tx = 0;
	if (pg->conn == NULL)
		return APP_E_UNAVAILABLE;
	return tx_control(pg, "COMMIT");
}

static void
tx_rollback(struct pg *pg)
{
	if (!pg->in_tx)
		return;
	pg->in_tx = 0;
	if (pg->conn != NULL)
		(void)tx_control(pg, "ROLLBACK");
}

/* Parse column 0.. of row 0 as a long long; 0 when NULL. */
static long long
cell_ll(const PGresult *res, int col)
{
	if (PQgetisnull(res, 0, col))
		return 0;
	return strtoll(PQgetvalue(res, 0, col), NULL, 10);
}

static enum app_err
pg_code_issue(void *be, const struct store_code_issue *ci,
    long *retry_after)
{
	struct pg	*pg = be;
	PGresult	*res = NULL;
	const char	*p[4];
	char		 hex[2 * sizeof(ci->hash) + 1], n1[24], n2[24];
	long long	 v;
	enum app_err	 e;

	if ((e = tx_begin(pg)) != APP_OK)
		return e;
	p[0] = ci->phone;
	p[1] = ci->addr;
	if ((e = exec_stmt(pg, ST_CODE_LOCK, p)) != APP_OK)
		goto out;

	snprintf(n1, sizeof(n1), "%ld", ci->resend);
	p[1] = n1;
	if ((e = run(pg, ST_CODE_RECENT, p, &res)) != APP_OK)
		goto out;
	if (PQntuples(res) > 0) {
		v = cell_ll(res, 0);
		*retry_after = v < 1 ? 1 : (long)v;
		PQclear(res);
		e = APP_E_RATE_LIMITED;
		goto out;
	}
	PQclear(res);

	snprintf(n2, sizeof(n2), "%ld", ci->addr_window);
	p[0] = ci->addr;
	p[1] = n2;
	if ((e = run(pg, ST_CODE_ADDR, p, &res)) != APP_OK)
		goto out;
	if (cell_ll(res, 0) >= ci->addr_max) {
		v = cell_ll(res, 1);
		*retry_after = v < 1 ? 1 : (long)v;
		PQclear(res);
		e = APP_E_RATE_LIMITED;
		goto out;
	}
	PQclear(res);

	/* Old rows of this phone go once no window can count them. */
	snprintf(n2, sizeof(n2), "%ld", ci->addr_window > 86400 ?
	    ci->addr_window : 86400);
	p[0] = ci->phone;
	p[1] = n2;
	if ((e = exec_stmt(pg, ST_CODE_PURGE, p)) != APP_OK)
		goto out;
	if ((e = exec_stmt(pg, ST_CODE_SUPERSEDE, p)) != APP_OK)
		goto out;

	sodium_bin2hex(hex, sizeof(hex), ci->hash, sizeof(ci->hash));
	snprintf(n1, sizeof(n1), "%ld", ci->ttl);
	p[0] = ci->phone;
	p[1] = hex;
	p[2] = ci->addr;
	p[3] = n1;
	if ((e = exec_stmt(pg, ST_CODE_INSERT, p)) != APP_OK)
		goto out;

	/* Delivered before commit: a failed send leaves nothing behind. */
	if (ci->deliver(ci->arg) != 0) {
		e = APP_E_UNAVAILABLE;
		goto out;
	}
	e = tx_commit(pg);
out:
	tx_rollback(pg);
	return e;
}

static enum app_err
pg_code_check(void *be, const char *phone, const unsigned char hash[32],
    long max_tries, long long *code_id)
{
	struct pg	*pg = be;
	PGresult	*res = NULL;
	const char	*p[1];
	char		 hex[65], idbuf[24];
	long long	 id;
	enum app_err	 e;
	int		 same;

	if ((e = tx_begin(pg)) != APP_OK)
		return e;
	p[0] = phone;
	if ((e = run(pg, ST_CODE_CURRENT, p, &res)) != APP_OK)
		goto out;
	if (PQntuples(res) == 0) {
		PQclear(res);
		e = APP_E_INVALID_CODE;
		goto out;
	}
	id = cell_ll(res, 0);
	if (cell_ll(res, 2) >= max_tries) {
		PQclear(res);
		e = APP_E_TOO_MANY_ATTEMPTS;
		goto out;
	}
	sodium_bin2hex(hex, sizeof(hex), hash, 32);
	same = PQgetlength(res, 0, 1) == 64 &&
	    sodium_memcmp(hex, PQgetvalue(res, 0, 1), 64) == 0;
	PQclear(res);
	if (same) {
		*code_id = id;
		e = tx_commit(pg);
		goto out;
	}
	snprintf(idbuf, sizeof(idbuf), "%lld", id);
	p[0] = idbuf;
	if ((e = exec_stmt(pg, ST_CODE_FAIL, p)) != APP_OK)
		goto out;
	if ((e = tx_commit(pg)) == APP_OK)
		e = APP_E_INVALID_CODE;
out:
	tx_rollback(pg);
	return e;
}

static enum app_err
pg_user_create(void *be, const char *phone, const char *pwhash,
    long long code_id, long long *uid)
{
	struct pg	*pg = be;
	PGresult	*res = NULL;
	const char	*p[2];
	char		 idbuf[24];
	long long	 id;
	enum app_err	 e;

	if ((e = tx_begin(pg)) != APP_OK)
		return e;
	snprintf(idbuf, sizeof(idbuf), "%lld", code_id);
	p[0] = idbuf;
	if ((e = run(pg, ST_CODE_USE, p, &res)) != APP_OK)
		goto out;
	if (strcmp(PQcmdTuples(res), "1") != 0) {
		PQclear(res);
		e = APP_E_INVALID_CODE;
		goto out;
	}
	PQclear(res);
	p[0] = phone;
	p[1] = pwhash;
	if ((e = run(pg, ST_USER_INSERT, p, &res)) != APP_OK)
		goto out;
	id = cell_ll(res, 0);
	PQclear(res);
	if ((e = tx_commit(pg)) == APP_OK)
		*uid = id;
out:
	tx_rollback(pg);
	return e;
}

static void
hex32(char out[65], const unsigned char h[32])
{
	sodium_bin2hex(out, 65, h, 32);
}

static enum app_err
pg_login_begin(void *be, const char *phone, const char *addr,
    const struct store_login_limits *lim, const struct store_session_new *sn,
    struct store_login *l)
{
	struct pg	*pg = be;
	PGresult	*res;
	const char	*p[9];
	char		 w[24], pm[24], am[24], t[24], hex[65];
	long long	 v = 0;
	enum app_err	 e;

	snprintf(w, sizeof(w), "%ld", lim->window);
	snprintf(pm, sizeof(pm), "%ld", lim->phone_max);
	snprintf(am, sizeof(am), "%ld", lim->addr_max);
	hex32(hex, sn->token_hash);
	snprintf(t, sizeof(t), "%ld", sn->ttl);
	p[0] = phone;
	p[1] = addr;
	p[2] = w;
	p[3] = pm;
	p[4] = am;
	p[5] = sn->kind;
	p[6] = hex;
	p[7] = t;
	p[8] = pg->o.sync_sessions ? "" : "off";
	/* The random hash collides only with a committed first run. */
	if ((e = run(pg, ST_LOGIN_BEGIN, p, &res)) == APP_E_CONFLICT) {
		log_msg(LOG_WARN, "login_begin: the session was stored by a "
		    "run whose answer was lost; the client must try again");
		return APP_E_UNAVAILABLE;
	}
	if (e != APP_OK)
		return e;
	l->phone_failures = (long)cell_ll(res, 0);
	l->now_ms = cell_ll(res, 6);
	if (cell_ll(res, 0) >= lim->phone_max)
		v = cell_ll(res, 1);
	if (cell_ll(res, 2) >= lim->addr_max && cell_ll(res, 3) > v)
		v = cell_ll(res, 3);
	if (cell_ll(res, 0) >= lim->phone_max ||
	    cell_ll(res, 2) >= lim->addr_max) {
		l->retry_after = v < 1 ? 1 : (long)v;
		e = APP_E_TOO_MANY_ATTEMPTS;
	} else if (PQgetisnull(res, 0, 4))
		e = APP_E_NOT_FOUND;
	else if ((size_t)PQgetlength(res, 0, 5) >= sizeof(l->hash)) {
		log_msg(LOG_ERROR, "stored password hash too long");
		e = APP_E_INTERNAL;
	} else {
		l->uid = cell_ll(res, 4);
		memcpy(l->hash, PQgetvalue(res, 0, 5),
		    (size_t)PQgetlength(res, 0, 5) + 1);
	}
	PQclear(res);
	return e;
}

static enum app_err
pg_login_failed(void *be, const char *phone, const char *addr, long window,
    const struct store_session_new *sn)
{
	const char	*p[4];
	char		 w[24], hex[65] = "";

	snprintf(w, sizeof(w), "%ld", window);
	if (sn != NULL)
		hex32(hex, sn->token_hash);
	p[0] = phone;
	p[1] = addr;
	p[2] = w;
	p[3] = hex;
	return exec_stmt(be, ST_LOGIN_FAIL, p);
}

static enum app_err
pg_login_clear(void *be, const char *phone)
{
	const char	*p[1];

	p[0] = phone;
	return exec_stmt(be, ST_LOGIN_CLEAR, p);
}

static enum app_err
pg_password_set(void *be, long long uid, const char *hash)
{
	const char	*p[2];
	char		 id[24];

	snprintf(id, sizeof(id), "%lld", uid);
	p[0] = id;
	p[1] = hash;
	return exec_stmt(be, ST_PASSWORD_SET, p);
}

static enum app_err	profile_row(PGresult *, struct store_profile *);

static enum app_err
pg_session_user(void *be, const unsigned char token_hash[32],
    struct store_profile *p)
{
	PGresult	*res;
	const char	*params[1];
	char		 hex[65];
	enum app_err	 e;

	hex32(hex, token_hash);
	params[0] = hex;
	if ((e = run(be, ST_SESSION_USER, params, &res)) != APP_OK)
		return e;
	return profile_row(res, p);
}

static enum app_err
pg_session_revoke(void *be, const unsigned char token_hash[32])
{
	PGresult	*res;
	const char	*p[1];
	char		 hex[65];
	enum app_err	 e;

	hex32(hex, token_hash);
	p[0] = hex;
	if ((e = run(be, ST_SESSION_REVOKE, p, &res)) != APP_OK)
		return e;
	if (strcmp(PQcmdTuples(res), "1") != 0)
		e = APP_E_UNAUTHORIZED;
	PQclear(res);
	return e;
}

static enum app_err
pg_ticket_redeem(void *be, const unsigned char ticket_hash[32],
    long long uid, long long expires_ms, const unsigned char session_hash[32],
    long ttl)
{
	PGresult	*res;
	const char	*p[5];
	char		 id[24], exp[24], khex[65], shex[65], t[24];
	enum app_err	 e;

	snprintf(id, sizeof(id), "%lld", uid);
	hex32(khex, ticket_hash);
	snprintf(exp, sizeof(exp), "%lld", expires_ms);
	hex32(shex, session_hash);
	snprintf(t, sizeof(t), "%ld", ttl);
	p[0] = id;
	p[1] = khex;
	p[2] = exp;
	p[3] = shex;
	p[4] = t;
	if ((e = run(be, ST_TICKET_SPEND, p, &res)) != APP_OK)
		return e;
	e = PQntuples(res) == 1 ? APP_OK : APP_E_UNAUTHORIZED;
	PQclear(res);
	return e;
}

static void
copy_cell(char *dst, size_t size, const PGresult *res, int col)
{
	snprintf(dst, size, "%s", PQgetisnull(res, 0, col) ? "" :
	    PQgetvalue(res, 0, col));
}

/* Fill p from a row of (id, phone, created, visits, last seen, images). */
static enum app_err
profile_row(PGresult *res, struct store_profile *p)
{
	if (PQntuples(res) == 0) {
		PQclear(res);
		return APP_E_UNAUTHORIZED;
	}
	p->id = cell_ll(res, 0);
	copy_cell(p->phone, sizeof(p->phone), res, 1);
	copy_cell(p->created_at, sizeof(p->created_at), res, 2);
	p->visits = cell_ll(res, 3);
	copy_cell(p->last_seen_at, sizeof(p->last_seen_at), res, 4);
	p->image_count = cell_ll(res, 5);
	PQclear(res);
	return APP_OK;
}

static enum app_err
pg_visit(void *be, long long uid, struct store_profile *p)
{
	PGresult	*res;
	const char	*params[1];
	char		 id[24];
	enum app_err	 e;

	snprintf(id, sizeof(id), "%lld", uid);
	params[0] = id;
	if ((e = run(be, ST_VISIT, params, &res)) != APP_OK)
		return e;
	return profile_row(res, p);
}

static enum app_err
pg_image_add(void *be, long long uid, const struct store_image *img,
    int (*files)(void *arg), void (*undo)(void *arg), void *arg,
    long long *id)
{
	struct pg	*pg = be;
	PGresult	*res;
	const char	*p[6];
	char		 u[24], w[24], h[24], b[24];
	enum app_err	 e;
	int		 written = 0;

	if ((e = tx_begin(pg)) != APP_OK)
		return e;
	p[0] = img->sha256;
	if ((e = exec_stmt(pg, ST_IMAGE_LOCK, p)) != APP_OK)
		goto out;
	if (files(arg) != 0) {
		e = APP_E_UNAVAILABLE;
		goto out;
	}
	written = 1;
	snprintf(u, sizeof(u), "%lld", uid);
	snprintf(w, sizeof(w), "%ld", img->width);
	snprintf(h, sizeof(h), "%ld", img->height);
	snprintf(b, sizeof(b), "%lld", img->bytes);
	p[0] = u;
	p[1] = img->sha256;
	p[2] = img->format;
	p[3] = w;
	p[4] = h;
	p[5] = b;
	if ((e = run(pg, ST_IMAGE_INSERT, p, &res)) != APP_OK)
		goto out;
	*id = cell_ll(res, 0);
	PQclear(res);
	e = tx_commit(pg);
out:
	/*
	 * Files go before the lock is released, so a concurrent upload of
	 * the same bytes never finds files that are about to vanish.
	 * XXX When the connection itself died the lock is already gone; a
	 * simultaneous identical upload could then lose its files.
	 */
	if (e != APP_OK && written)
		undo(arg);
	tx_rollback(pg);
	return e;
}

static enum app_err
pg_image_list(void *be, long long uid, long long before,
    struct store_image *out, int max, int *n)
{
	PGresult	*res;
	const char	*p[3];
	char		 u[24], b[24], m[24];
	enum app_err	 e;
	int		 i, rows;

	snprintf(u, sizeof(u), "%lld", uid);
	snprintf(b, sizeof(b), "%lld", before);
	snprintf(m, sizeof(m), "%d", max);
	p[0] = u;
	p[1] = b;
	p[2] = m;
	if ((e = run(be, ST_IMAGE_LIST, p, &res)) != APP_OK)
		return e;
	rows = PQntuples(res);
	for (i = 0; i < rows && i < max; i++) {
		out[i].id = strtoll(PQgetvalue(res, i, 0), NULL, 10);
		snprintf(out[i].sha256, sizeof(out[i].sha256), "%s",
		    PQgetvalue(res, i, 1));
		snprintf(out[i].format, sizeof(out[i].format), "%s",
		    PQgetvalue(res, i, 2));
		out[i].width = strtol(PQgetvalue(res, i, 3), NULL, 10);
		out[i].height = strtol(PQgetvalue(res, i, 4), NULL, 10);
		out[i].bytes = strtoll(PQgetvalue(res, i, 5), NULL, 10);
	}
	*n = i;
	PQclear(res);
	return APP_OK;
}

static void *
pg_open(const char *url, const struct store_opts *o)
{
	struct pg	*pg;

	pg = mem_calloc(1, sizeof(*pg));
	pg->url = mem_strdup(url);
	pg->o = *o;
	return pg;
}

static void
pg_close(void *be)
{
	struct pg	*pg = be;

	if (pg == NULL)
		return;
	drop(pg);
	free(pg->url);
	free(pg);
}

static enum app_err
pg_ping(void *be)
{
	PGresult	*res;
	enum app_err	 rc;

	if ((rc = run(be, ST_PING, NULL, &res)) != APP_OK)
		return rc;
	PQclear(res);
	return APP_OK;
}

const struct store_ops store_pg_ops = {
	.name = "postgresql",
	.open = pg_open,
	.close = pg_close,
	.ping = pg_ping,
	.code_issue = pg_code_issue,
	.code_check = pg_code_check,
	.user_create = pg_user_create,
	.login_begin = pg_login_begin,
	.login_failed = pg_login_failed,
	.login_clear = pg_login_clear,
	.password_set = pg_password_set,
	.session_user = pg_session_user,
	.session_revoke = pg_session_revoke,
	.ticket_redeem = pg_ticket_redeem,
	.visit = pg_visit,
	.image_add = pg_image_add,
	.image_list = pg_image_list,
};
