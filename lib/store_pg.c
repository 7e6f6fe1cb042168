/* The PostgreSQL store backend: one libpq connection per worker, every statement prepared. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>
#include <sodium.h>

#include "log.h"
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
	ST__MAX
};

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
};

struct pg {
	PGconn			*conn;
	int			 in_tx;
	char			*url;
	struct store_opts	 o;
	double			 next_try;	/* monotonic ms */
};

static double
now_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}

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
	if (now_ms() < pg->next_try)
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
	pg->next_try = now_ms() + (double)pg->o.retry_ms;
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
		if (PQstatus(pg->conn) == CONNECTION_BAD) {
			/* The server went away (restart, crash, network). */
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
	if (PQstatus(pg->conn) == CONNECTION_BAD) {
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
	if ((e = run(pg, ST_CODE_LOCK, p, &res)) != APP_OK)
		goto out;
	PQclear(res);

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
	if ((e = run(pg, ST_CODE_PURGE, p, &res)) != APP_OK)
		goto out;
	PQclear(res);
	if ((e = run(pg, ST_CODE_SUPERSEDE, p, &res)) != APP_OK)
		goto out;
	PQclear(res);

	sodium_bin2hex(hex, sizeof(hex), ci->hash, sizeof(ci->hash));
	snprintf(n1, sizeof(n1), "%ld", ci->ttl);
	p[0] = ci->phone;
	p[1] = hex;
	p[2] = ci->addr;
	p[3] = n1;
	if ((e = run(pg, ST_CODE_INSERT, p, &res)) != APP_OK)
		goto out;
	PQclear(res);

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
	if ((e = run(pg, ST_CODE_FAIL, p, &res)) != APP_OK)
		goto out;
	PQclear(res);
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
};
