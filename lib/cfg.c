/* Configuration from environment variables: one table of keys, types, bounds and defaults. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cfg.h"
#include "mem.h"

enum cfg_type {
	CFG_STR,
	CFG_INT,
	CFG_OCTAL,
	CFG_BOOL,
	CFG__MAX
};

struct cfg_row {
	const char	*key;
	enum cfg_type	 type;
	long		 min;
	long		 max;
	const char	*def;
	size_t		 off;
	const char	*help;
};

#define OFF(f) offsetof(struct cfg, f)

/*
 * The configuration table: the only place defaults live. Strings with
 * min > 0 must not be empty. `appd --config-table` prints it for the README.
 */
static const struct cfg_row rows[] = {
	{ "APPD_SOCKET", CFG_STR, 1, 0, "var/run/appd.sock", OFF(socket),
	    "FastCGI listen address: a unix socket path, or host:port for TCP" },
	{ "APPD_SOCKET_MODE", CFG_OCTAL, 0, 0777, "0660", OFF(socket_mode),
	    "permission bits of the unix socket" },
	{ "APPD_SOCKET_USER", CFG_STR, 0, 0, "", OFF(socket_user),
	    "owner of the unix socket (empty: unchanged)" },
	{ "APPD_SOCKET_GROUP", CFG_STR, 0, 0, "", OFF(socket_group),
	    "group of the unix socket, e.g. www-data (empty: unchanged)" },
	{ "APPD_FRONT_ADDRS", CFG_STR, 0, 0, "", OFF(front_addrs),
	    "IP addresses (comma-separated) whose FastCGI connections are "
	    "served on a TCP socket; required when it listens beyond loopback" },
	{ "APPD_BACKLOG", CFG_INT, 1, 65535, "1024", OFF(backlog),
	    "listen(2) backlog of the FastCGI socket" },
	{ "APPD_WORKERS", CFG_INT, 0, 256, "0", OFF(workers),
	    "worker processes (0: two per online core)" },
	{ "APPD_BARE_WORKER", CFG_BOOL, 0, 1, "0", OFF(bare_worker),
	    "with a listening socket on fd 0, serve it as one worker with no "
	    "manager (supervisor's [fcgi-program])" },
	{ "APPD_STOP_TIMEOUT", CFG_INT, 1, 600, "8", OFF(stop_timeout),
	    "seconds in-flight requests get on SIGTERM before workers are killed" },
	{ "APPD_DATABASE_URL", CFG_STR, 1, 0, "postgresql:///app",
	    OFF(database_url), "database URL: postgresql://... (libpq URI) or "
	    "mysql://... (MariaDB); see docs/backends.md" },
	{ "APPD_DB_CONNECT_TIMEOUT", CFG_INT, 1, 60, "2",
	    OFF(db_connect_timeout), "seconds to wait for a database connection" },
	{ "APPD_DB_STATEMENT_TIMEOUT", CFG_INT, 0, 600000, "5000",
	    OFF(db_statement_timeout), "milliseconds a statement may run (0: no limit)" },
	{ "APPD_DB_RETRY_MS", CFG_INT, 0, 60000, "250", OFF(db_retry_ms),
	    "milliseconds between reconnect attempts while the database is down" },
	{ "APPD_JSON_MAX_BODY", CFG_INT, 64, 16777216, "65536",
	    OFF(json_max_body), "largest JSON or form body in bytes (413 above)" },
	{ "APPD_PUBLIC_URL", CFG_STR, 1, 0, "https://localhost:8443",
	    OFF(public_url), "public base URL that absolute links are built from" },
	{ "APPD_LOG_FILE", CFG_STR, 0, 0, "", OFF(log_file),
	    "log file, appended to (empty: standard error)" },
	{ "APPD_LOG_LEVEL", CFG_STR, 1, 0, "info", OFF(log_level),
	    "least severe level logged: debug, info, warn or error" },
	{ "APPD_SECRET_KEY", CFG_STR, 0, 0, "", OFF(secret_key),
	    "64 hex digits keying the stored code hashes and signing home-page "
	    "tickets; the same on every host (empty: random at each start, dev "
	    "only)" },
	{ "APPD_CODE_TTL", CFG_INT, 1, 86400, "300", OFF(code_ttl),
	    "seconds a verification code stays valid" },
	{ "APPD_CODE_RESEND", CFG_INT, 0, 3600, "60", OFF(code_resend),
	    "seconds before a new code for the same phone is issued" },
	{ "APPD_CODE_MAX_TRIES", CFG_INT, 1, 100, "5", OFF(code_max_tries),
	    "wrong codes accepted for one issued code before it is locked" },
	{ "APPD_CODE_ADDR_MAX", CFG_INT, 1, 10000000, "100",
	    OFF(code_addr_max),
	    "codes one client address may request per window" },
	{ "APPD_CODE_ADDR_WINDOW", CFG_INT, 1, 604800, "3600",
	    OFF(code_addr_window), "seconds of the per-address code window" },
	{ "APPD_SMS_OUTBOX", CFG_STR, 1, 0, "var/log/sms.jsonl",
	    OFF(sms_outbox),
	    "file the default sender appends one JSON line per code to" },
	{ "APPD_SMS_URL", CFG_STR, 0, 0, "", OFF(sms_url),
	    "SMS gateway URL: when set, codes are POSTed there as JSON "
	    "instead of written to the outbox" },
	{ "APPD_SMS_TIMEOUT_MS", CFG_INT, 100, 60000, "5000",
	    OFF(sms_timeout_ms), "milliseconds one gateway request may take" },
	{ "APPD_PWHASH_OPSLIMIT", CFG_INT, 1, 20, "2", OFF(pwhash_ops),
	    "argon2id passes (libsodium opslimit; 2 = interactive)" },
	{ "APPD_PWHASH_MEMLIMIT_KIB", CFG_INT, 8, 4194304, "65536",
	    OFF(pwhash_mem_kib),
	    "argon2id memory in KiB (65536 = 64 MiB = interactive)" },
	{ "APPD_TOKEN_TTL", CFG_INT, 1, 31536000, "604800", OFF(token_ttl),
	    "seconds a bearer token from POST /users/login stays valid" },
	{ "APPD_SESSION_TTL", CFG_INT, 1, 31536000, "604800",
	    OFF(session_ttl), "seconds an H5 session cookie stays valid" },
	{ "APPD_TICKET_TTL", CFG_INT, 1, 3600, "120", OFF(ticket_ttl),
	    "seconds the one-time ticket in home_url stays usable" },
	{ "APPD_LOGIN_WINDOW", CFG_INT, 1, 86400, "900", OFF(login_window),
	    "seconds over which failed logins are counted" },
	{ "APPD_LOGIN_PHONE_MAX", CFG_INT, 1, 1000, "5",
	    OFF(login_phone_max),
	    "failed logins that lock a phone for the rest of the window" },
	{ "APPD_LOGIN_ADDR_MAX", CFG_INT, 1, 10000000, "100",
	    OFF(login_addr_max),
	    "failed logins that lock a client address for the rest of the "
	    "window" },
	{ "APPD_SESSION_SYNC_COMMIT", CFG_INT, 0, 1, "0",
	    OFF(session_sync_commit),
	    "1: a login waits until its session is durable (on disk, and on a "
	    "synchronous standby); 0: PostgreSQL commits it asynchronously, so "
	    "a crash or failover can lose the last moments of sign-ins" },
	{ "APPD_TEMPLATE_DIR", CFG_STR, 1, 0, "templates", OFF(template_dir),
	    "directory of the H5 page templates (read once at start)" },
	{ "APPD_IMAGE_DIR", CFG_STR, 1, 0, "public/images", OFF(image_dir),
	    "directory uploaded images are stored in (Nginx serves it at "
	    "/images/)" },
	{ "APPD_UPLOAD_MAX_BODY", CFG_INT, 1024, 1073741824, "10485760",
	    OFF(upload_max_body),
	    "largest POST /upload body in bytes (413 above); keep Nginx's "
	    "client_max_body_size equal" },
	{ "APPD_IMAGE_MAX_PIXELS", CFG_INT, 1, 1000000000, "50000000",
	    OFF(image_max_pixels),
	    "largest width x height accepted (422 invalid_image above)" },
	{ "APPD_IMAGE_MEMORY_MIB", CFG_INT, 16, 65536, "256",
	    OFF(image_memory_mib),
	    "ImageMagick pixel-cache memory per worker in MiB (no disk cache)" },
	{ "APPD_THUMB_SIZE", CFG_INT, 16, 4096, "256", OFF(thumb_size),
	    "longest side of thumbnails in pixels" },
	{ "APPD_MAX_REQUESTS", CFG_INT, 0, 1000000000, "10000",
	    OFF(max_requests),
	    "requests a worker serves before it is replaced (0: never)" },
	{ "APPD_MAX_REQUESTS_JITTER", CFG_INT, 0, 1000000000, "1000",
	    OFF(max_requests_jitter),
	    "random extra requests per worker, so workers never recycle at "
	    "once" },
	{ "APPD_REQUEST_TIMEOUT", CFG_INT, 0, 86400, "60",
	    OFF(request_timeout),
	    "seconds a request may run before the manager kills its worker "
	    "(0: never)" },
	{ "APPD_SLOW_MS", CFG_INT, 0, 3600000, "1000", OFF(slow_ms),
	    "requests slower than this many milliseconds are logged as slow "
	    "(0: none)" },
	{ "APPD_QUEUE_DEADLINE_MS", CFG_INT, 0, 3600000, "10000",
	    OFF(queue_deadline_ms),
	    "a request that waited longer than this since Nginx received it "
	    "is answered 503 at once (0: never)" },
	{ "APPD_RELOAD_DRAIN", CFG_INT, 1, 3600, "30", OFF(reload_drain),
	    "seconds old workers get to finish their requests after SIGHUP" },
	{ "APPD_METRICS_SOCKET", CFG_STR, 0, 0, "", OFF(metrics_socket),
	    "unix socket of the metrics process, which answers /metrics even "
	    "when every worker is busy (empty: workers answer it)" },
	{ "APPD_USER", CFG_STR, 0, 0, "", OFF(user),
	    "user the workers run as when started as root (empty: unchanged)" },
	{ "APPD_GROUP", CFG_STR, 0, 0, "", OFF(group),
	    "group the workers run as when started as root (empty: the user's)" },
};

#define NROWS (sizeof(rows) / sizeof(rows[0]))

static int
parse_long(const char *s, int base, long *out)
{
	char	*end;
	long	 v;

	/* strtol would skip any leading white space and take a sign. */
	if (*s < '0' || *s > '9')
		return 0;
	errno = 0;
	v = strtol(s, &end, base);
	if (errno != 0 || *end != '\0')
		return 0;
	*out = v;
	return 1;
}

int
cfg_load(struct cfg *c, char *err, size_t errlen)
{
	const struct cfg_row	*r;
	const char		*v;
	char			*base = (char *)c;
	long			 n;
	size_t			 i;

	memset(c, 0, sizeof(*c));
	for (i = 0; i < NROWS; i++) {
		r = &rows[i];
		v = getenv(r->key);
		if (v == NULL)
			v = r->def;
		switch (r->type) {
		case CFG_STR:
			if (r->min > 0 && *v == '\0') {
				snprintf(err, errlen, "%s: must not be empty",
				    r->key);
				goto fail;
			}
			*(char **)(base + r->off) = mem_strdup(v);
			break;
		case CFG_BOOL:
			if (strcmp(v, "1") == 0 || strcmp(v, "true") == 0 ||
			    strcmp(v, "yes") == 0)
				n = 1;
			else if (strcmp(v, "0") == 0 ||
			    strcmp(v, "false") == 0 || strcmp(v, "no") == 0 ||
			    *v == '\0')
				n = 0;
			else {
				snprintf(err, errlen, "%s: '%s' is not a "
				    "boolean (1/0, true/false, yes/no)",
				    r->key, v);
				goto fail;
			}
			*(int *)(base + r->off) = (int)n;
			break;
		case CFG_INT:
		case CFG_OCTAL:
			if (!parse_long(v, r->type == CFG_OCTAL ? 8 : 10, &n)) {
				snprintf(err, errlen, "%s: '%s' is not %s "
				    "number", r->key, v, r->type == CFG_OCTAL ?
				    "an octal" : "a whole");
				goto fail;
			}
			if (n < r->min || n > r->max) {
				snprintf(err, errlen, r->type == CFG_OCTAL ?
				    "%s: %s is out of range %lo..%lo" :
				    "%s: %s is out of range %ld..%ld",
				    r->key, v, r->min, r->max);
				goto fail;
			}
			*(long *)(base + r->off) = n;
			break;
		default:
			abort();
		}
	}
	if (strcmp(c->log_level, "debug") && strcmp(c->log_level, "info") &&
	    strcmp(c->log_level, "warn") && strcmp(c->log_level, "error")) {
		snprintf(err, errlen, "APPD_LOG_LEVEL: '%s' is not one of "
		    "debug, info, warn, error", c->log_level);
		goto fail;
	}
	if (*c->secret_key != '\0' && (strlen(c->secret_key) != 64 ||
	    strspn(c->secret_key, "0123456789abcdefABCDEF") != 64)) {
		snprintf(err, errlen, "APPD_SECRET_KEY: must be 64 hex digits");
		goto fail;
	}
	return 0;
fail:
	cfg_cleanup(c);
	return -1;
}

void
cfg_cleanup(struct cfg *c)
{
	char	*base = (char *)c;
	size_t	 i;

	for (i = 0; i < NROWS; i++)
		if (rows[i].type == CFG_STR) {
			free(*(char **)(base + rows[i].off));
			*(char **)(base + rows[i].off) = NULL;
		}
}

long
cfg_workers(const struct cfg *c)
{
	long	 n;

	if (c->workers > 0)
		return c->workers;
	n = sysconf(_SC_NPROCESSORS_ONLN);
	if (n < 1)
		n = 1;
	return n * 2 > 64 ? 64 : n * 2;
}

void
cfg_print_table(FILE *f)
{
	static const char *const tname[CFG__MAX] = {
		[CFG_STR] = "string", [CFG_INT] = "integer",
		[CFG_OCTAL] = "octal", [CFG_BOOL] = "boolean",
	};
	const struct cfg_row	*r;
	size_t			 i;

	fputs("| key | type | range | default | meaning |\n", f);
	fputs("|---|---|---|---|---|\n", f);
	for (i = 0; i < NROWS; i++) {
		r = &rows[i];
		fprintf(f, "| `%s` | %s | ", r->key, tname[r->type]);
		if (r->type == CFG_INT)
			fprintf(f, "%ld..%ld", r->min, r->max);
		else if (r->type == CFG_OCTAL)
			fprintf(f, "%04lo..%04lo", r->min, r->max);
		else
			fputs("", f);
		fprintf(f, " | `%s` | %s |\n", r->def, r->help);
	}
}
