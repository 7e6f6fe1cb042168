/* The MySQL/MariaDB store backend: one Connector/C connection per worker, every statement prepared. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <errmsg.h>
#include <mysql.h>
#include <mysqld_error.h>
#include <sodium.h>

#include "buf.h"
#include "log.h"
#include "mono.h"
#include "mem.h"
#include "store.h"

/*
 * All SQL of this backend, indexed by enum stmt. Each is prepared once per
 * connection (server-side, mysql_stmt_prepare); retry marks statements that
 * are safe to run again on a fresh connection when the old one turns out to
 * be dead, as in store_pg.c. Every operation starts with such a statement
 * or with START TRANSACTION (retried by tx_begin), so a connection the
 * server closed while it was idle (wait_timeout, 8 hours by default) costs
 * a reconnect, never a failed request.
 *
 * Times: every column is a UTC datetime(6). Each connection sets its
 * time_zone to '+00:00' (ST_SESSION), so NOW(6) and the columns' defaults
 * are UTC whatever the server's own zone.
 *
 * Locks: where PostgreSQL takes pg_advisory_xact_lock, this backend takes
 * named locks with GET_LOCK. They belong to the session, not to the
 * transaction, so tx_commit and tx_rollback release them (ST_UNLOCK,
 * RELEASE_ALL_LOCKS()) right after the COMMIT or ROLLBACK, on every path;
 * when the connection dies the server releases them itself. They are
 * released only after the COMMIT, so the next holder sees what this one
 * wrote. (A table of lock rows locked FOR UPDATE would end with the
 * transaction by itself, but needs a row per phone, address and image that
 * someone must insert and purge, and inserting it takes gap and insert
 * intention locks that deadlock under load.) Names are MD5(database, kind,
 * key): GET_LOCK names are server-wide and at most 64 characters.
 *
 * MariaDB 10.11 has no UPDATE ... RETURNING, so the PostgreSQL backend's
 * single-statement visit and ticket redemption are short transactions here
 * (a row locked FOR UPDATE, then the UPDATE).
 */
enum stmt {
	ST_SESSION,
	ST_ISOLATION,
	ST_BEGIN,
	ST_COMMIT,
	ST_ROLLBACK,
	ST_UNLOCK,
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
	ST_LOGIN_CHECK,
	ST_LOGIN_PURGE,
	ST_LOGIN_FAIL,
	ST_LOGIN_CLEAR,
	ST_USER_FIND,
	ST_PASSWORD_SET,
	ST_SESSION_INSERT,
	ST_SESSION_DELETE,
	ST_SESSION_USER,
	ST_SESSION_REVOKE,
	ST_TICKET_SPEND,
	ST_VISIT_READ,
	ST_VISIT_UPDATE,
	ST_IMAGE_LOCK,
	ST_IMAGE_USER,
	ST_IMAGE_INSERT,
	ST_IMAGE_LIST,
	ST__MAX
};

/* As store_pg.c formats them: whole seconds (truncated), a literal Z. */
#define ISO_UTC(col) "DATE_FORMAT(" col ", '%Y-%m-%dT%H:%i:%sZ')"

/* A lock name of kind for the key bound at the next ?. */
#define LOCK_NAME(kind) "MD5(CONCAT(DATABASE(), '/" kind "/', ?))"

/* Seconds from now until column col plus ? seconds, rounded up. */
#define SECS_UNTIL(col) "CEIL(TIMESTAMPDIFF(MICROSECOND, NOW(6), " col \
	" + INTERVAL ? SECOND) / 1000000)"

#define PROFILE_COLS(last_seen) "u.id, u.phone, " ISO_UTC("u.created_at") \
	", u.visits, " ISO_UTC(last_seen) ", u.image_count"

static const struct {
	const char	*name;
	const char	*sql;
	unsigned int	 nparams;
	int		 retry;
} stmts[ST__MAX] = {
	/*
	 * Per connection: UTC, strict mode (an over-long value is an error,
	 * never silently cut), and the statement timeout (? in milliseconds;
	 * max_statement_time is in seconds, 0 = no limit, as ours).
	 */
	[ST_SESSION] = { "session",
	    "SET time_zone = '+00:00', sql_mode = 'TRADITIONAL', "
	    "max_statement_time = ? / 1000", 1, 0 },
	/* As PostgreSQL: each statement sees what was committed before it. */
	[ST_ISOLATION] = { "isolation",
	    "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED", 0, 0 },
	[ST_BEGIN] = { "begin", "START TRANSACTION", 0, 0 },
	[ST_COMMIT] = { "commit", "COMMIT", 0, 0 },
	[ST_ROLLBACK] = { "rollback", "ROLLBACK", 0, 0 },
	[ST_UNLOCK] = { "unlock", "SELECT RELEASE_ALL_LOCKS()", 0, 0 },
	[ST_PING] = { "ping", "SELECT 1", 0, 1 },
	/* Serialises code requests per phone and per client address. */
	[ST_CODE_LOCK] = { "code_lock",
	    "SELECT GET_LOCK(" LOCK_NAME("code-phone") ", ?), "
	    "GET_LOCK(" LOCK_NAME("code-addr") ", ?)", 4, 0 },
	[ST_CODE_RECENT] = { "code_recent",
	    "SELECT " SECS_UNTIL("created_at") " FROM sms_codes "
	    "WHERE phone = ? AND created_at > NOW(6) - INTERVAL ? SECOND "
	    "ORDER BY created_at DESC LIMIT 1", 3, 0 },
	[ST_CODE_ADDR] = { "code_addr",
	    "SELECT COUNT(*), " SECS_UNTIL("MIN(created_at)") " FROM sms_codes "
	    "WHERE client_addr = ? AND created_at > "
	    "NOW(6) - INTERVAL ? SECOND", 3, 0 },
	[ST_CODE_PURGE] = { "code_purge",
	    "DELETE FROM sms_codes WHERE phone = ? AND "
	    "created_at < NOW(6) - INTERVAL ? SECOND", 2, 0 },
	[ST_CODE_SUPERSEDE] = { "code_supersede",
	    "UPDATE sms_codes SET used_at = NOW(6) "
	    "WHERE phone = ? AND used_at IS NULL", 1, 0 },
	[ST_CODE_INSERT] = { "code_insert",
	    "INSERT INTO sms_codes (phone, code_hash, client_addr, expires_at) "
	    "VALUES (?, ?, ?, NOW(6) + INTERVAL ? SECOND)", 4, 0 },
	[ST_CODE_CURRENT] = { "code_current",
	    "SELECT id, code_hash, attempts FROM sms_codes "
	    "WHERE phone = ? AND used_at IS NULL AND expires_at > NOW(6) "
	    "ORDER BY created_at DESC, id DESC LIMIT 1 FOR UPDATE", 1, 0 },
	[ST_CODE_FAIL] = { "code_fail",
	    "UPDATE sms_codes SET attempts = attempts + 1 WHERE id = ?", 1, 0 },
	[ST_CODE_USE] = { "code_use",
	    "UPDATE sms_codes SET used_at = NOW(6) WHERE id = ? AND "
	    "used_at IS NULL AND expires_at > NOW(6)", 1, 0 },
	[ST_USER_INSERT] = { "user_insert",
	    "INSERT INTO users (phone, password_hash) VALUES (?, ?)", 2, 0 },
	[ST_LOGIN_CHECK] = { "login_check",
	    "SELECT p.n, p.r, a.n, a.r, CEIL(UNIX_TIMESTAMP(NOW(6)) * 1000) FROM "
	    "(SELECT COUNT(*) n, " SECS_UNTIL("MIN(at)") " r "
	    "FROM login_failures WHERE phone = ? AND "
	    "at > NOW(6) - INTERVAL ? SECOND) p, "
	    "(SELECT COUNT(*) n, " SECS_UNTIL("MIN(at)") " r "
	    "FROM login_failures WHERE client_addr = ? AND "
	    "at > NOW(6) - INTERVAL ? SECOND) a", 6, 1 },
	/* Deleting what is old twice is harmless: retried. */
	[ST_LOGIN_PURGE] = { "login_purge",
	    "DELETE FROM login_failures WHERE "
	    "at < NOW(6) - INTERVAL ? SECOND", 1, 1 },
	[ST_LOGIN_FAIL] = { "login_fail",
	    "INSERT INTO login_failures (phone, client_addr) VALUES (?, ?)",
	    2, 0 },
	[ST_LOGIN_CLEAR] = { "login_clear",
	    "DELETE FROM login_failures WHERE phone = ?", 1, 0 },
	[ST_USER_FIND] = { "user_find",
	    "SELECT id, password_hash FROM users WHERE phone = ?", 1, 1 },
	[ST_PASSWORD_SET] = { "password_set",
	    "UPDATE users SET password_hash = ? WHERE id = ?", 2, 1 },
	[ST_SESSION_INSERT] = { "session_insert",
	    "INSERT INTO sessions (user_id, token_hash, kind, expires_at) "
	    "VALUES (?, ?, ?, NOW(6) + INTERVAL ? SECOND)", 4, 0 },
	/* A failed login's optimistic session (login_begin). */
	[ST_SESSION_DELETE] = { "session_delete",
	    "DELETE FROM sessions WHERE token_hash = ?", 1, 1 },
	/* The check and the profile in one round trip (GET /users/me). */
	[ST_SESSION_USER] = { "session_user",
	    "SELECT " PROFILE_COLS("u.last_seen_at") " FROM sessions s "
	    "JOIN users u ON u.id = s.user_id WHERE s.token_hash = ? AND "
	    "s.revoked_at IS NULL AND s.expires_at > NOW(6)", 1, 1 },
	[ST_SESSION_REVOKE] = { "session_revoke",
	    "UPDATE sessions SET revoked_at = NOW(6) "
	    "WHERE token_hash = ? AND revoked_at IS NULL", 1, 1 },
	/*
	 * A ticket is spent by inserting its hash, if it has not expired (no
	 * row). Of concurrent spends one inserts; the others wait for it and
	 * then fail on the unique key.
	 */
	[ST_TICKET_SPEND] = { "ticket_spend",
	    "INSERT INTO tickets (user_id, ticket_hash, expires_at, used_at) "
	    "SELECT ?, ?, FROM_UNIXTIME(? / 1000), NOW(6) FROM DUAL "
	    "WHERE FROM_UNIXTIME(? / 1000) > NOW(6)", 4, 0 },
	/* The row stays locked until the UPDATE commits with it. */
	[ST_VISIT_READ] = { "visit_read",
	    "SELECT " PROFILE_COLS("u.last_seen_at") " FROM users u "
	    "WHERE u.id = ? FOR UPDATE", 1, 0 },
	[ST_VISIT_UPDATE] = { "visit_update",
	    "UPDATE users SET visits = visits + 1, last_seen_at = NOW(6) "
	    "WHERE id = ?", 1, 0 },
	/* Uploads of identical bytes queue here, on every host. */
	[ST_IMAGE_LOCK] = { "image_lock",
	    "SELECT GET_LOCK(" LOCK_NAME("image") ", ?)", 2, 0 },
	/*
	 * The owner's row, write-locked before the insert: its foreign key
	 * check takes a shared lock on that row and the image_count trigger
	 * then wants it exclusively, so two uploads of one user would each
	 * hold the shared lock and deadlock on the upgrade.
	 */
	[ST_IMAGE_USER] = { "image_user",
	    "SELECT id FROM users WHERE id = ? FOR UPDATE", 1, 0 },
	[ST_IMAGE_INSERT] = { "image_insert",
	    "INSERT INTO images (user_id, sha256, format, width, height, "
	    "bytes) VALUES (?, ?, ?, ?, ?, ?)", 6, 0 },
	[ST_IMAGE_LIST] = { "image_list",
	    "SELECT id, sha256, format, width, height, bytes FROM images "
	    "WHERE user_id = ? AND (? = 0 OR id < ?) "
	    "ORDER BY id DESC LIMIT ?", 4, 1 },
};

/* Where to connect, from the URL (see my_parse_url). */
struct myurl {
	char		*user;
	char		*pass;
	char		*host;		/* NULL: the unix socket */
	char		*db;
	char		*socket;	/* NULL: the library's default */
	unsigned int	 port;		/* 0: the default, 3306 */
};

struct my {
	MYSQL			*conn;
	MYSQL_STMT		*st[ST__MAX];
	int			 in_tx;
	int			 locked;	/* GET_LOCK taken in tx */
	struct myurl		 u;
	struct store_opts	 o;
	long long		 lock_wait;	/* GET_LOCK timeout, s */
	double			 next_try;	/* monotonic ms */
};

/* A statement parameter. */
struct arg {
	enum { ARG_STR, ARG_BIN, ARG_INT } type;
	const void	*p;
	unsigned long	 len;
	long long	 v;
};

static struct arg
a_str(const char *s)
{
	struct arg	 a = { ARG_STR, s, (unsigned long)strlen(s), 0 };

	return a;
}

static struct arg
a_bin(const unsigned char *p, size_t len)
{
	struct arg	 a = { ARG_BIN, p, (unsigned long)len, 0 };

	return a;
}

static struct arg
a_int(long long v)
{
	struct arg	 a = { ARG_INT, NULL, 0, v };

	return a;
}

#define NARGS(a)	(sizeof(a) / sizeof((a)[0]))

/*
 * A statement's result: every column of the current row as a string (a
 * BINARY column as its raw bytes, len of them). Columns are short here: the
 * longest is a password hash.
 */
#define RES_COLS	8
#define RES_COLSZ	256

struct res {
	MYSQL_STMT		*stmt;
	unsigned int		 ncol;
	unsigned long long	 affected;
	unsigned long long	 insert_id;
	char			 col[RES_COLS][RES_COLSZ];
	unsigned long		 len[RES_COLS];
	my_bool			 null[RES_COLS];
	MYSQL_BIND		 bind[RES_COLS];
};

static void
url_free(struct myurl *u)
{
	if (u->pass != NULL)
		sodium_memzero(u->pass, strlen(u->pass));
	free(u->user);
	free(u->pass);
	free(u->host);
	free(u->db);
	free(u->socket);
	memset(u, 0, sizeof(*u));
}

/* Percent-decode s[0..n) into a new string; NULL for a bad escape or NUL. */
static char *
unescape(const char *s, size_t n)
{
	char		*out, *o;
	size_t		 i;
	int		 hi, lo;

	o = out = mem_malloc(n + 1);
	for (i = 0; i < n; i++) {
		if (s[i] != '%') {
			*o++ = s[i];
			continue;
		}
		if (i + 2 >= n ||
		    (hi = buf_hexval((unsigned char)s[i + 1])) < 0 ||
		    (lo = buf_hexval((unsigned char)s[i + 2])) < 0 ||
		    hi + lo == 0)
			goto bad;
		*o++ = (char)(hi * 16 + lo);
		i += 2;
	}
	*o = '\0';
	return out;
bad:
	free(out);
	return NULL;
}

/*
 * mysql://[USER[:PASSWORD]@][HOST][:PORT]/DATABASE[?socket=PATH]
 * (mariadb:// is the same). USER, PASSWORD, DATABASE and PATH may carry
 * percent-escapes. No HOST, or localhost, means the unix socket: PATH, or
 * the client library's default; any other HOST (an IPv6 address in
 * brackets) means TCP to PORT, 3306 by default. scripts/migrate and
 * test/e2e/util.py read the same syntax.
 */
static int
my_parse_url(const char *url, struct myurl *u)
{
	const char	*p, *end, *at, *slash, *q, *hp, *hend, *colon, *kv;
	char		*port = NULL;
	long		 n;

	memset(u, 0, sizeof(*u));
	if (strncmp(url, "mysql://", 8) == 0)
		p = url + 8;
	else if (strncmp(url, "mariadb://", 10) == 0)
		p = url + 10;
	else
		return -1;
	if ((slash = strchr(p, '/')) == NULL) {
		log_msg(LOG_ERROR, "APPD_DATABASE_URL: no /database");
		return -1;
	}
	q = strchr(slash, '?');
	end = q != NULL ? q : slash + strlen(slash);

	/* USER[:PASSWORD]@: the last @ before the path ends it. */
	at = NULL;
	for (kv = p; kv < slash; kv++)
		if (*kv == '@')
			at = kv;
	hp = p;
	if (at != NULL) {
		colon = memchr(p, ':', (size_t)(at - p));
		if ((u->user = unescape(p, (size_t)((colon != NULL ? colon :
		    at) - p))) == NULL)
			goto bad;
		if (colon != NULL && (u->pass = unescape(colon + 1,
		    (size_t)(at - colon - 1))) == NULL)
			goto bad;
		hp = at + 1;
	}

	/* HOST[:PORT], HOST possibly [v6]. */
	colon = NULL;
	if (*hp == '[') {
		if ((hend = memchr(hp, ']', (size_t)(slash - hp))) == NULL)
			goto bad;
		if (hend + 1 < slash) {
			if (hend[1] != ':')
				goto bad;
			colon = hend + 1;
		}
		u->host = mem_strndup(hp + 1, (size_t)(hend - hp - 1));
	} else {
		colon = memchr(hp, ':', (size_t)(slash - hp));
		hend = colon != NULL ? colon : slash;
		if (hend > hp)
			u->host = mem_strndup(hp, (size_t)(hend - hp));
	}
	if (colon != NULL) {
		port = mem_strndup(colon + 1, (size_t)(slash - colon - 1));
		n = *port != '\0' && strspn(port, "0123456789") ==
		    strlen(port) ? strtol(port, NULL, 10) : -1;
		free(port);
		if (n < 1 || n > 65535)
			goto bad;
		u->port = (unsigned int)n;
	}
	if (u->host != NULL && strcmp(u->host, "localhost") == 0) {
		free(u->host);
		u->host = NULL;
	}

	if ((u->db = unescape(slash + 1, (size_t)(end - slash - 1))) == NULL ||
	    *u->db == '\0')
		goto bad;

	/* Parameters: socket= only, so that a typo is not ignored. */
	for (kv = q != NULL ? q + 1 : NULL; kv != NULL && *kv != '\0'; ) {
		const char	*amp = strchr(kv, '&');
		size_t		 len = amp != NULL ? (size_t)(amp - kv) :
				    strlen(kv);

		if (len > 7 && strncmp(kv, "socket=", 7) == 0 &&
		    u->socket == NULL) {
			if ((u->socket = unescape(kv + 7, len - 7)) == NULL)
				goto bad;
		} else if (len > 0) {
			log_msg(LOG_ERROR, "APPD_DATABASE_URL: unknown "
			    "parameter (mysql:// knows socket= only)");
			goto bad;
		}
		kv = amp != NULL ? amp + 1 : NULL;
	}
	return 0;
bad:
	log_msg(LOG_ERROR, "APPD_DATABASE_URL: not mysql://[user[:password]@]"
	    "[host][:port]/database[?socket=path]");
	url_free(u);
	return -1;
}

static void
drop(struct my *my)
{
	int	 i;

	/*
	 * mysql_close first: it detaches the statements, which are then
	 * freed without another round trip to a server that may be gone.
	 */
	if (my->conn != NULL)
		mysql_close(my->conn);
	for (i = 0; i < ST__MAX; i++) {
		if (my->st[i] != NULL)
			mysql_stmt_close(my->st[i]);
		my->st[i] = NULL;
	}
	my->conn = NULL;
	my->locked = 0;
}

static enum app_err	exec_stmt(struct my *, enum stmt, const struct arg *,
			    size_t, unsigned long long *);

/* Make sure a connection with every statement prepared exists. */
static int
ensure(struct my *my)
{
	struct arg	 a[1];
	unsigned int	 ct, rw, zero = 0;
	my_bool		 off = 0;
	int		 i;

	if (my->conn != NULL)
		return 0;
	if (mono_ms() < my->next_try)
		return -1;
	if ((my->conn = mysql_init(NULL)) == NULL) {
		log_msg(LOG_ERROR, "mysql_init failed (out of memory?)");
		goto fail;
	}
	/*
	 * A dead server must not hang a worker: the connect timeout, and
	 * read/write timeouts a little past the statement timeout (the
	 * server itself stops a statement at max_statement_time).
	 */
	ct = (unsigned int)my->o.connect_timeout;
	rw = my->o.statement_timeout > 0 ? (unsigned int)
	    ((my->o.statement_timeout + 999) / 1000 + my->o.connect_timeout) :
	    0;
	mysql_options(my->conn, MYSQL_OPT_CONNECT_TIMEOUT, &ct);
	if (rw > 0) {
		mysql_options(my->conn, MYSQL_OPT_READ_TIMEOUT, &rw);
		mysql_options(my->conn, MYSQL_OPT_WRITE_TIMEOUT, &rw);
	}
	/* A silent reconnect would lose the statements and the session. */
	mysql_options(my->conn, MYSQL_OPT_RECONNECT, &off);
	mysql_options(my->conn, MYSQL_OPT_LOCAL_INFILE, &zero);
	mysql_options(my->conn, MYSQL_SET_CHARSET_NAME, "utf8mb4");
	if (mysql_real_connect(my->conn, my->u.host != NULL ? my->u.host :
	    "localhost", my->u.user, my->u.pass, my->u.db, my->u.port,
	    my->u.host == NULL ? my->u.socket : NULL, 0) == NULL) {
		log_msg(LOG_WARN, "database connect failed: %s",
		    mysql_error(my->conn));
		goto fail;
	}
	for (i = 0; i < ST__MAX; i++) {
		if ((my->st[i] = mysql_stmt_init(my->conn)) == NULL ||
		    mysql_stmt_prepare(my->st[i], stmts[i].sql,
		    (unsigned long)strlen(stmts[i].sql)) != 0) {
			log_msg(LOG_ERROR, "prepare %s failed: %s",
			    stmts[i].name,
			    my->st[i] != NULL ? mysql_stmt_error(my->st[i]) :
			    mysql_error(my->conn));
			goto fail;
		}
		if (mysql_stmt_param_count(my->st[i]) != stmts[i].nparams) {
			log_msg(LOG_ERROR, "prepare %s: %lu parameters, not %u",
			    stmts[i].name, mysql_stmt_param_count(my->st[i]),
			    stmts[i].nparams);
			goto fail;
		}
	}
	a[0] = a_int(my->o.statement_timeout);
	if (exec_stmt(my, ST_SESSION, a, 1, NULL) != APP_OK ||
	    exec_stmt(my, ST_ISOLATION, NULL, 0, NULL) != APP_OK)
		goto fail;
	log_msg(LOG_INFO, "database connected");
	return 0;
fail:
	drop(my);
	my->next_try = mono_ms() + (double)my->o.retry_ms;
	return -1;
}

/*
 * Map a failed statement to the domain enum. *lost is set when the
 * connection cannot be used any more (it is then dropped by the caller).
 */
static enum app_err
classify(struct my *my, unsigned int err, const char *msg, enum stmt st,
    int *lost)
{
	*lost = 0;
	if (err == ER_DUP_ENTRY)
		return APP_E_CONFLICT;
	/* Client-side errors: the server went away, or never answered. */
	if ((err >= CR_MIN_ERROR && err <= CR_MAX_ERROR) ||
	    (err >= CER_MIN_ERROR && err <= CER_MAX_ERROR)) {
		log_msg(LOG_WARN, "database connection lost: %s", msg);
		*lost = 1;
		return APP_E_UNAVAILABLE;
	}
	switch (err) {
	case ER_CON_COUNT_ERROR:
	case ER_OUT_OF_RESOURCES:
	case ER_SERVER_SHUTDOWN:
	case ER_ABORTING_CONNECTION:
	case ER_CONNECTION_KILLED:
	case ER_UNKNOWN_STMT_HANDLER:
	case ER_NEED_REPREPARE:
		log_msg(LOG_WARN, "database connection unusable: %s", msg);
		*lost = 1;
		return APP_E_UNAVAILABLE;
	case ER_STATEMENT_TIMEOUT:
	case ER_QUERY_INTERRUPTED:
		log_msg(LOG_WARN, "%s: statement timeout", stmts[st].name);
		return APP_E_UNAVAILABLE;
	case ER_LOCK_WAIT_TIMEOUT:
	case ER_LOCK_DEADLOCK:
	case ER_USER_LOCK_DEADLOCK:
		log_msg(LOG_WARN, "%s: %s", stmts[st].name, msg);
		return APP_E_UNAVAILABLE;
	default:
		break;
	}
	(void)my;
	log_msg(LOG_ERROR, "%s failed (error %u): %s", stmts[st].name, err,
	    msg);
	return APP_E_INTERNAL;
}

/* Bind the result columns of r->stmt to r's buffers. */
static int
bind_result(struct res *r)
{
	unsigned int	 i;

	r->ncol = mysql_stmt_field_count(r->stmt);
	if (r->ncol == 0)
		return 0;
	if (r->ncol > RES_COLS) {
		log_msg(LOG_ERROR, "result of %u columns, at most %d",
		    r->ncol, RES_COLS);
		return -1;
	}
	memset(r->bind, 0, sizeof(r->bind));
	for (i = 0; i < r->ncol; i++) {
		r->bind[i].buffer_type = MYSQL_TYPE_STRING;
		r->bind[i].buffer = r->col[i];
		r->bind[i].buffer_length = RES_COLSZ;
		r->bind[i].length = &r->len[i];
		r->bind[i].is_null = &r->null[i];
	}
	return mysql_stmt_bind_result(r->stmt, r->bind) == 0 ? 0 : -1;
}

/*
 * Run prepared statement st with args. On APP_OK the result is buffered in
 * *r (fetch rows with next_row, then res_done); otherwise nothing is held.
 */
static enum app_err
run(struct my *my, enum stmt st, const struct arg *args, size_t nargs,
    struct res *r)
{
	MYSQL_BIND	 b[8];
	union {
		const void	*c;
		void		*p;
	}		 unconst;
	long long	 ints[8];
	unsigned int	 err;
	enum app_err	 rc;
	size_t		 i;
	int		 attempt, lost;

	memset(r, 0, sizeof(*r));
	if (nargs > 8 || nargs != stmts[st].nparams) {
		log_msg(LOG_ERROR, "%s: %zu arguments", stmts[st].name,
		    nargs);
		return APP_E_INTERNAL;
	}
	memset(b, 0, sizeof(b));
	for (i = 0; i < nargs; i++) {
		switch (args[i].type) {
		case ARG_INT:
			ints[i] = args[i].v;
			b[i].buffer_type = MYSQL_TYPE_LONGLONG;
			b[i].buffer = &ints[i];
			break;
		case ARG_BIN:
		case ARG_STR:
			b[i].buffer_type = args[i].type == ARG_BIN ?
			    MYSQL_TYPE_BLOB : MYSQL_TYPE_STRING;
			/*
			 * MYSQL_BIND has no const buffer; the library only
			 * reads a parameter's.
			 */
			unconst.c = args[i].p;
			b[i].buffer = unconst.p;
			b[i].buffer_length = args[i].len;
			break;
		}
	}
	for (attempt = 0; attempt < 2; attempt++) {
		/* A transaction never continues on a new connection. */
		if (my->in_tx && my->conn == NULL)
			return APP_E_UNAVAILABLE;
		if (ensure(my) != 0)
			return APP_E_UNAVAILABLE;
		r->stmt = my->st[st];
		if ((nargs == 0 || mysql_stmt_bind_param(r->stmt, b) == 0) &&
		    mysql_stmt_execute(r->stmt) == 0 &&
		    mysql_stmt_store_result(r->stmt) == 0) {
			r->affected = mysql_stmt_affected_rows(r->stmt);
			r->insert_id = mysql_stmt_insert_id(r->stmt);
			if (bind_result(r) != 0) {
				mysql_stmt_free_result(r->stmt);
				return APP_E_INTERNAL;
			}
			return APP_OK;
		}
		err = mysql_stmt_errno(r->stmt);
		rc = classify(my, err, mysql_stmt_error(r->stmt), st, &lost);
		if (!lost)
			return rc;
		drop(my);
		if (stmts[st].retry && !my->in_tx && attempt == 0)
			continue;
		return APP_E_UNAVAILABLE;
	}
	return APP_E_UNAVAILABLE;
}

/* The next row into r's columns: 1, or 0 when there is none left. */
static int
next_row(struct res *r)
{
	unsigned int	 i;
	int		 rc;

	if (r->ncol == 0)
		return 0;
	rc = mysql_stmt_fetch(r->stmt);
	if (rc == MYSQL_NO_DATA)
		return 0;
	if (rc != 0) {
		/* MYSQL_DATA_TRUNCATED: a column longer than RES_COLSZ. */
		log_msg(LOG_ERROR, "fetch failed (%d): %s", rc,
		    mysql_stmt_error(r->stmt));
		return 0;
	}
	for (i = 0; i < r->ncol; i++) {
		if (r->null[i])
			r->len[i] = 0;
		r->col[i][r->len[i] < RES_COLSZ ? r->len[i] : RES_COLSZ - 1] =
		    '\0';
	}
	return 1;
}

static void
res_done(struct res *r)
{
	if (r->stmt != NULL && r->ncol > 0)
		mysql_stmt_free_result(r->stmt);
	r->stmt = NULL;
}

/* Column col of the current row as a number; 0 when NULL. */
static long long
cell_ll(const struct res *r, unsigned int col)
{
	if (r->null[col])
		return 0;
	return strtoll(r->col[col], NULL, 10);
}

/* Run st for its effect only; *affected (if not NULL) the rows changed. */
static enum app_err
exec_stmt(struct my *my, enum stmt st, const struct arg *args, size_t nargs,
    unsigned long long *affected)
{
	struct res	 r;
	enum app_err	 e;

	if ((e = run(my, st, args, nargs, &r)) != APP_OK)
		return e;
	if (affected != NULL)
		*affected = r.affected;
	res_done(&r);
	return APP_OK;
}

/*
 * Transactions, as in store_pg.c: START TRANSACTION is retried once on a
 * fresh connection when the old one turns out to be dead (nothing has
 * happened yet); inside a transaction nothing is retried. The named locks
 * of the transaction are released after its COMMIT or ROLLBACK.
 */
static enum app_err
tx_begin(struct my *my)
{
	enum app_err	 rc = APP_E_UNAVAILABLE;
	int		 attempt;

	for (attempt = 0; attempt < 2; attempt++) {
		if ((rc = exec_stmt(my, ST_BEGIN, NULL, 0, NULL)) == APP_OK) {
			my->in_tx = 1;
			return APP_OK;
		}
		if (my->conn != NULL)
			return rc;
	}
	return rc;
}

static void
unlock(struct my *my)
{
	if (!my->locked)
		return;
	my->locked = 0;
	if (my->conn != NULL)
		(void)exec_stmt(my, ST_UNLOCK, NULL, 0, NULL);
}

static enum app_err
tx_commit(struct my *my)
{
	enum app_err	 e;

	my->in_tx = 0;
	if (my->conn == NULL)
		return APP_E_UNAVAILABLE;
	e = exec_stmt(my, ST_COMMIT, NULL, 0, NULL);
	unlock(my);
	return e;
}

static void
tx_rollback(struct my *my)
{
	if (!my->in_tx)
		return;
	my->in_tx = 0;
	if (my->conn != NULL)
		(void)exec_stmt(my, ST_ROLLBACK, NULL, 0, NULL);
	unlock(my);
}

/*
 * Take the named locks st names for args (inside a transaction): APP_OK
 * once every GET_LOCK returned 1; a timeout is APP_E_UNAVAILABLE.
 */
static enum app_err
take_locks(struct my *my, enum stmt st, const struct arg *args, size_t nargs)
{
	struct res	 r;
	enum app_err	 e;
	unsigned int	 i;
	int		 ok;

	/* Set first: a lock taken before a failure is released as well. */
	my->locked = 1;
	if ((e = run(my, st, args, nargs, &r)) != APP_OK)
		return e;
	ok = next_row(&r);
	for (i = 0; ok && i < r.ncol; i++)
		ok = !r.null[i] && strcmp(r.col[i], "1") == 0;
	res_done(&r);
	if (!ok) {
		log_msg(LOG_WARN, "%s: lock wait timed out", stmts[st].name);
		return APP_E_UNAVAILABLE;
	}
	return APP_OK;
}

static enum app_err
my_code_issue(void *be, const struct store_code_issue *ci,
    long *retry_after)
{
	struct my	*my = be;
	struct res	 r;
	struct arg	 a[4];
	long long	 v;
	enum app_err	 e;

	if ((e = tx_begin(my)) != APP_OK)
		return e;
	a[0] = a_str(ci->phone);
	a[1] = a_int(my->lock_wait);
	a[2] = a_str(ci->addr);
	a[3] = a_int(my->lock_wait);
	if ((e = take_locks(my, ST_CODE_LOCK, a, 4)) != APP_OK)
		goto out;

	a[0] = a_int(ci->resend);
	a[1] = a_str(ci->phone);
	a[2] = a_int(ci->resend);
	if ((e = run(my, ST_CODE_RECENT, a, 3, &r)) != APP_OK)
		goto out;
	if (next_row(&r)) {
		v = cell_ll(&r, 0);
		*retry_after = v < 1 ? 1 : (long)v;
		res_done(&r);
		e = APP_E_RATE_LIMITED;
		goto out;
	}
	res_done(&r);

	a[0] = a_int(ci->addr_window);
	a[1] = a_str(ci->addr);
	a[2] = a_int(ci->addr_window);
	if ((e = run(my, ST_CODE_ADDR, a, 3, &r)) != APP_OK)
		goto out;
	if (next_row(&r) && cell_ll(&r, 0) >= ci->addr_max) {
		v = cell_ll(&r, 1);
		*retry_after = v < 1 ? 1 : (long)v;
		res_done(&r);
		e = APP_E_RATE_LIMITED;
		goto out;
	}
	res_done(&r);

	/* Old rows of this phone go once no window can count them. */
	a[0] = a_str(ci->phone);
	a[1] = a_int(ci->addr_window > 86400 ? ci->addr_window : 86400);
	if ((e = exec_stmt(my, ST_CODE_PURGE, a, 2, NULL)) != APP_OK)
		goto out;
	if ((e = exec_stmt(my, ST_CODE_SUPERSEDE, a, 1, NULL)) != APP_OK)
		goto out;

	a[0] = a_str(ci->phone);
	a[1] = a_bin(ci->hash, sizeof(ci->hash));
	a[2] = a_str(ci->addr);
	a[3] = a_int(ci->ttl);
	if ((e = exec_stmt(my, ST_CODE_INSERT, a, 4, NULL)) != APP_OK)
		goto out;

	/* Delivered before commit: a failed send leaves nothing behind. */
	if (ci->deliver(ci->arg) != 0) {
		e = APP_E_UNAVAILABLE;
		goto out;
	}
	e = tx_commit(my);
out:
	tx_rollback(my);
	return e;
}

static enum app_err
my_code_check(void *be, const char *phone, const unsigned char hash[32],
    long max_tries, long long *code_id)
{
	struct my	*my = be;
	struct res	 r;
	struct arg	 a[1];
	long long	 id;
	enum app_err	 e;
	int		 same;

	if ((e = tx_begin(my)) != APP_OK)
		return e;
	a[0] = a_str(phone);
	if ((e = run(my, ST_CODE_CURRENT, a, 1, &r)) != APP_OK)
		goto out;
	if (!next_row(&r)) {
		res_done(&r);
		e = APP_E_INVALID_CODE;
		goto out;
	}
	id = cell_ll(&r, 0);
	if (cell_ll(&r, 2) >= max_tries) {
		res_done(&r);
		e = APP_E_TOO_MANY_ATTEMPTS;
		goto out;
	}
	same = r.len[1] == 32 && sodium_memcmp(hash, r.col[1], 32) == 0;
	res_done(&r);
	if (same) {
		*code_id = id;
		e = tx_commit(my);
		goto out;
	}
	a[0] = a_int(id);
	if ((e = exec_stmt(my, ST_CODE_FAIL, a, 1, NULL)) != APP_OK)
		goto out;
	if ((e = tx_commit(my)) == APP_OK)
		e = APP_E_INVALID_CODE;
out:
	tx_rollback(my);
	return e;
}

static enum app_err
my_user_create(void *be, const char *phone, const char *pwhash,
    long long code_id, long long *uid)
{
	struct my		*my = be;
	struct res		 r;
	struct arg		 a[2];
	unsigned long long	 n;
	long long		 id;
	enum app_err		 e;

	if ((e = tx_begin(my)) != APP_OK)
		return e;
	a[0] = a_int(code_id);
	if ((e = exec_stmt(my, ST_CODE_USE, a, 1, &n)) != APP_OK)
		goto out;
	if (n != 1) {
		e = APP_E_INVALID_CODE;
		goto out;
	}
	a[0] = a_str(phone);
	a[1] = a_str(pwhash);
	if ((e = run(my, ST_USER_INSERT, a, 2, &r)) != APP_OK)
		goto out;
	id = (long long)r.insert_id;
	res_done(&r);
	if ((e = tx_commit(my)) == APP_OK)
		*uid = id;
out:
	tx_rollback(my);
	return e;
}

static enum app_err
my_login_check(void *be, const char *phone, const char *addr,
    const struct store_login_limits *lim, struct store_login *l)
{
	struct res	 r;
	struct arg	 a[6];
	long long	 v = 0;
	enum app_err	 e;

	a[0] = a_int(lim->window);
	a[1] = a_str(phone);
	a[2] = a_int(lim->window);
	a[3] = a_int(lim->window);
	a[4] = a_str(addr);
	a[5] = a_int(lim->window);
	if ((e = run(be, ST_LOGIN_CHECK, a, 6, &r)) != APP_OK)
		return e;
	if (!next_row(&r)) {
		res_done(&r);
		return APP_E_INTERNAL;
	}
	if (cell_ll(&r, 0) >= lim->phone_max)
		v = cell_ll(&r, 1);
	if (cell_ll(&r, 2) >= lim->addr_max && cell_ll(&r, 3) > v)
		v = cell_ll(&r, 3);
	if (cell_ll(&r, 0) >= lim->phone_max ||
	    cell_ll(&r, 2) >= lim->addr_max) {
		l->retry_after = v < 1 ? 1 : (long)v;
		e = APP_E_TOO_MANY_ATTEMPTS;
	}
	l->phone_failures = (long)cell_ll(&r, 0);
	l->now_ms = cell_ll(&r, 4);
	res_done(&r);
	return e;
}

/*
 * The purge commits alone (housekeeping); the failure and the deletion of
 * the optimistic session commit together.
 */
static enum app_err
my_login_failed(void *be, const char *phone, const char *addr, long window,
    const struct store_session_new *sn)
{
	struct my	*my = be;
	struct arg	 a[2];
	enum app_err	 e;

	a[0] = a_int(window);
	if ((e = exec_stmt(my, ST_LOGIN_PURGE, a, 1, NULL)) != APP_OK)
		return e;
	if ((e = tx_begin(my)) != APP_OK)
		return e;
	if (sn != NULL) {
		a[0] = a_bin(sn->token_hash, 32);
		if ((e = exec_stmt(my, ST_SESSION_DELETE, a, 1, NULL)) !=
		    APP_OK)
			goto out;
	}
	a[0] = a_str(phone);
	a[1] = a_str(addr);
	if ((e = exec_stmt(my, ST_LOGIN_FAIL, a, 2, NULL)) != APP_OK)
		goto out;
	e = tx_commit(my);
out:
	tx_rollback(my);
	return e;
}

static enum app_err
my_login_clear(void *be, const char *phone)
{
	struct arg	 a[1];

	a[0] = a_str(phone);
	return exec_stmt(be, ST_LOGIN_CLEAR, a, 1, NULL);
}

static enum app_err
my_user_find(void *be, const char *phone, long long *uid, char *hash,
    size_t size)
{
	struct res	 r;
	struct arg	 a[1];
	enum app_err	 e;

	a[0] = a_str(phone);
	if ((e = run(be, ST_USER_FIND, a, 1, &r)) != APP_OK)
		return e;
	if (!next_row(&r))
		e = APP_E_NOT_FOUND;
	else if (r.len[1] >= size || r.len[1] >= RES_COLSZ) {
		log_msg(LOG_ERROR, "stored password hash too long");
		e = APP_E_INTERNAL;
	} else {
		*uid = cell_ll(&r, 0);
		memcpy(hash, r.col[1], r.len[1] + 1);
	}
	res_done(&r);
	return e;
}

/* Insert a session row (alone, or inside the caller's transaction). */
static enum app_err
session_insert(struct my *my, long long uid, const char *kind,
    const unsigned char token_hash[32], long ttl)
{
	struct arg	 a[4];

	a[0] = a_int(uid);
	a[1] = a_bin(token_hash, 32);
	a[2] = a_str(kind);
	a[3] = a_int(ttl);
	return exec_stmt(my, ST_SESSION_INSERT, a, 4, NULL);
}

/* Here the lock check, the user and the session are three round trips. */
static enum app_err
my_login_begin(void *be, const char *phone, const char *addr,
    const struct store_login_limits *lim, const struct store_session_new *sn,
    struct store_login *l)
{
	struct my	*my = be;
	enum app_err	 e;

	if ((e = my_login_check(my, phone, addr, lim, l)) != APP_OK)
		return e;
	if ((e = my_user_find(my, phone, &l->uid, l->hash,
	    sizeof(l->hash))) != APP_OK)
		return e;
	return session_insert(my, l->uid, sn->kind, sn->token_hash, sn->ttl);
}

static enum app_err
my_password_set(void *be, long long uid, const char *hash)
{
	struct arg	 a[2];

	a[0] = a_str(hash);
	a[1] = a_int(uid);
	return exec_stmt(be, ST_PASSWORD_SET, a, 2, NULL);
}

/* Column col of the current row into dst, cut to size - 1; "" when NULL. */
static void
copy_col(char *dst, size_t size, const struct res *r, unsigned int col)
{
	size_t	 n;

	n = r->null[col] ? 0 : r->len[col];
	if (n >= size)
		n = size - 1;
	memcpy(dst, r->col[col], n);
	dst[n] = '\0';
}

/*
 * Fill p from the current row of (id, phone, created, visits, last seen,
 * images); APP_E_UNAUTHORIZED when there is no row. Frees r.
 */
static enum app_err
profile_row(struct res *r, struct store_profile *p)
{
	if (!next_row(r)) {
		res_done(r);
		return APP_E_UNAUTHORIZED;
	}
	p->id = cell_ll(r, 0);
	copy_col(p->phone, sizeof(p->phone), r, 1);
	copy_col(p->created_at, sizeof(p->created_at), r, 2);
	p->visits = cell_ll(r, 3);
	copy_col(p->last_seen_at, sizeof(p->last_seen_at), r, 4);
	p->image_count = cell_ll(r, 5);
	res_done(r);
	return APP_OK;
}

static enum app_err
my_session_user(void *be, const unsigned char token_hash[32],
    struct store_profile *p)
{
	struct res	 r;
	struct arg	 a[1];
	enum app_err	 e;

	a[0] = a_bin(token_hash, 32);
	if ((e = run(be, ST_SESSION_USER, a, 1, &r)) != APP_OK)
		return e;
	return profile_row(&r, p);
}

static enum app_err
my_session_revoke(void *be, const unsigned char token_hash[32])
{
	struct arg		 a[1];
	unsigned long long	 n;
	enum app_err		 e;

	a[0] = a_bin(token_hash, 32);
	if ((e = exec_stmt(be, ST_SESSION_REVOKE, a, 1, &n)) != APP_OK)
		return e;
	return n == 1 ? APP_OK : APP_E_UNAUTHORIZED;
}

static enum app_err
my_ticket_redeem(void *be, const unsigned char ticket_hash[32],
    long long uid, long long expires_ms, const unsigned char session_hash[32],
    long ttl)
{
	struct my		*my = be;
	struct arg		 a[4];
	unsigned long long	 n;
	enum app_err		 e;

	if ((e = tx_begin(my)) != APP_OK)
		return e;
	a[0] = a_int(uid);
	a[1] = a_bin(ticket_hash, 32);
	a[2] = a_int(expires_ms);
	a[3] = a_int(expires_ms);
	if ((e = exec_stmt(my, ST_TICKET_SPEND, a, 4, &n)) != APP_OK) {
		if (e == APP_E_CONFLICT)
			e = APP_E_UNAUTHORIZED;
		goto out;
	}
	if (n != 1) {
		e = APP_E_UNAUTHORIZED;
		goto out;
	}
	if ((e = session_insert(my, uid, "cookie", session_hash, ttl)) != APP_OK)
		goto out;
	e = tx_commit(my);
out:
	tx_rollback(my);
	return e;
}

/*
 * The row is read FOR UPDATE and updated in one transaction: the count
 * and the previous visit returned are those this visit replaced.
 */
static enum app_err
my_visit(void *be, long long uid, struct store_profile *p)
{
	struct my		*my = be;
	struct res		 r;
	struct arg		 a[1];
	struct store_profile	 q;
	unsigned long long	 n;
	enum app_err		 e;

	if ((e = tx_begin(my)) != APP_OK)
		return e;
	a[0] = a_int(uid);
	if ((e = run(my, ST_VISIT_READ, a, 1, &r)) != APP_OK)
		goto out;
	if ((e = profile_row(&r, &q)) != APP_OK)
		goto out;
	if ((e = exec_stmt(my, ST_VISIT_UPDATE, a, 1, &n)) != APP_OK)
		goto out;
	if (n != 1) {
		e = APP_E_INTERNAL;
		goto out;
	}
	if ((e = tx_commit(my)) == APP_OK) {
		q.visits++;
		*p = q;
	}
out:
	tx_rollback(my);
	return e;
}

static enum app_err
my_image_add(void *be, long long uid, const struct store_image *img,
    int (*files)(void *arg), void (*undo)(void *arg), void *arg,
    long long *id)
{
	struct my	*my = be;
	struct res	 r;
	struct arg	 a[6];
	enum app_err	 e;
	int		 written = 0;

	if ((e = tx_begin(my)) != APP_OK)
		return e;
	a[0] = a_str(img->sha256);
	a[1] = a_int(my->lock_wait);
	if ((e = take_locks(my, ST_IMAGE_LOCK, a, 2)) != APP_OK)
		goto out;
	if (files(arg) != 0) {
		e = APP_E_UNAVAILABLE;
		goto out;
	}
	written = 1;
	a[0] = a_int(uid);
	if ((e = run(my, ST_IMAGE_USER, a, 1, &r)) != APP_OK)
		goto out;
	res_done(&r);
	a[1] = a_str(img->sha256);
	a[2] = a_str(img->format);
	a[3] = a_int(img->width);
	a[4] = a_int(img->height);
	a[5] = a_int(img->bytes);
	if ((e = run(my, ST_IMAGE_INSERT, a, 6, &r)) != APP_OK)
		goto out;
	*id = (long long)r.insert_id;
	res_done(&r);
	e = tx_commit(my);
out:
	/*
	 * Files go before the lock is released (tx_rollback releases it),
	 * so a concurrent upload of the same bytes never finds files that
	 * are about to vanish.
	 * XXX When the connection itself died the lock is already gone; a
	 * simultaneous identical upload could then lose its files.
	 */
	if (e != APP_OK && written)
		undo(arg);
	tx_rollback(my);
	return e;
}

static enum app_err
my_image_list(void *be, long long uid, long long before,
    struct store_image *out, int max, int *n)
{
	struct res	 r;
	struct arg	 a[4];
	enum app_err	 e;
	int		 i;

	a[0] = a_int(uid);
	a[1] = a_int(before);
	a[2] = a_int(before);
	a[3] = a_int(max);
	if ((e = run(be, ST_IMAGE_LIST, a, 4, &r)) != APP_OK)
		return e;
	for (i = 0; i < max && next_row(&r); i++) {
		out[i].id = cell_ll(&r, 0);
		copy_col(out[i].sha256, sizeof(out[i].sha256), &r, 1);
		copy_col(out[i].format, sizeof(out[i].format), &r, 2);
		out[i].width = (long)cell_ll(&r, 3);
		out[i].height = (long)cell_ll(&r, 4);
		out[i].bytes = cell_ll(&r, 5);
	}
	*n = i;
	res_done(&r);
	return APP_OK;
}

static void *
my_open(const char *url, const struct store_opts *o)
{
	struct my	*my;

	my = mem_calloc(1, sizeof(*my));
	if (my_parse_url(url, &my->u) != 0) {
		free(my);
		return NULL;
	}
	my->o = *o;
	/* GET_LOCK waits as long as a statement may run; < 0 is forever. */
	my->lock_wait = o->statement_timeout > 0 ?
	    (o->statement_timeout + 999) / 1000 : -1;
	return my;
}

static void
my_close(void *be)
{
	struct my	*my = be;

	if (my == NULL)
		return;
	drop(my);
	url_free(&my->u);
	free(my);
}

static enum app_err
my_ping(void *be)
{
	return exec_stmt(be, ST_PING, NULL, 0, NULL);
}

const struct store_ops store_my_ops = {
	.name = "mysql",
	.open = my_open,
	.close = my_close,
	.ping = my_ping,
	.code_issue = my_code_issue,
	.code_check = my_code_check,
	.user_create = my_user_create,
	.login_begin = my_login_begin,
	.login_failed = my_login_failed,
	.login_clear = my_login_clear,
	.password_set = my_password_set,
	.session_user = my_session_user,
	.session_revoke = my_session_revoke,
	.ticket_redeem = my_ticket_redeem,
	.visit = my_visit,
	.image_add = my_image_add,
	.image_list = my_image_list,
};
