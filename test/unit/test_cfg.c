/* Unit tests for lib/cfg.c: defaults, every bad value refused by key name, good values taken. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "cfg.h"

/* Every key of the table in cfg.c; the table test checks none is missing. */
static const char *const keys[] = {
	"APPD_SOCKET", "APPD_SOCKET_MODE", "APPD_SOCKET_USER",
	"APPD_SOCKET_GROUP", "APPD_FRONT_ADDRS", "APPD_BACKLOG", "APPD_WORKERS",
	"APPD_BARE_WORKER", "APPD_STOP_TIMEOUT", "APPD_DATABASE_URL",
	"APPD_DB_CONNECT_TIMEOUT", "APPD_DB_STATEMENT_TIMEOUT",
	"APPD_DB_RETRY_MS", "APPD_JSON_MAX_BODY", "APPD_PUBLIC_URL",
	"APPD_LOG_FILE", "APPD_LOG_LEVEL", "APPD_SECRET_KEY", "APPD_CODE_TTL",
	"APPD_CODE_RESEND", "APPD_CODE_MAX_TRIES", "APPD_CODE_ADDR_MAX",
	"APPD_CODE_ADDR_WINDOW", "APPD_SMS_OUTBOX", "APPD_SMS_URL",
	"APPD_SMS_TIMEOUT_MS", "APPD_PWHASH_OPSLIMIT", "APPD_PWHASH_MEMLIMIT_KIB",
	"APPD_TOKEN_TTL", "APPD_SESSION_TTL", "APPD_TICKET_TTL",
	"APPD_LOGIN_WINDOW", "APPD_LOGIN_PHONE_MAX", "APPD_LOGIN_ADDR_MAX",
	"APPD_SESSION_SYNC_COMMIT",
	"APPD_TEMPLATE_DIR", "APPD_IMAGE_DIR", "APPD_UPLOAD_MAX_BODY",
	"APPD_IMAGE_MAX_PIXELS", "APPD_IMAGE_MEMORY_MIB",
	"APPD_THUMB_SIZE", "APPD_MAX_REQUESTS", "APPD_MAX_REQUESTS_JITTER",
	"APPD_REQUEST_TIMEOUT", "APPD_SLOW_MS", "APPD_QUEUE_DEADLINE_MS",
	"APPD_RELOAD_DRAIN", "APPD_METRICS_SOCKET", "APPD_USER", "APPD_GROUP",
};

#define NKEYS (sizeof(keys) / sizeof(keys[0]))

/* Remove every APPD_* variable, whatever the test runner inherited. */
static void
clear_env(void)
{
	char	**e, name[256];
	size_t	  n;
	int	  again = 1;

	while (again) {
		again = 0;
		for (e = environ; *e != NULL; e++) {
			if (strncmp(*e, "APPD_", 5) != 0)
				continue;
			n = strcspn(*e, "=");
			assert_true(n < sizeof(name));
			memcpy(name, *e, n);
			name[n] = '\0';
			assert_int_equal(unsetenv(name), 0);
			/* environ changed under us: start over. */
			again = 1;
			break;
		}
	}
}

static int
setup(void **state)
{
	(void)state;
	clear_env();
	return 0;
}

static void
test_defaults(void **state)
{
	struct cfg	 c;
	char		 err[256] = "";

	(void)state;
	/* Stray values from the environment must not leak in. */
	setenv("APPD_SOCKETX", "junk", 1);
	assert_int_equal(cfg_load(&c, err, sizeof(err)), 0);
	unsetenv("APPD_SOCKETX");
	assert_string_equal(c.socket, "var/run/appd.sock");
	assert_int_equal(c.socket_mode, 0660);
	assert_string_equal(c.socket_user, "");
	assert_string_equal(c.socket_group, "");
	assert_int_equal(c.backlog, 1024);
	assert_int_equal(c.workers, 0);
	assert_int_equal(c.bare_worker, 0);
	assert_int_equal(c.stop_timeout, 8);
	assert_string_equal(c.database_url, "postgresql:///app");
	assert_int_equal(c.db_connect_timeout, 2);
	assert_int_equal(c.db_statement_timeout, 5000);
	assert_int_equal(c.db_retry_ms, 250);
	assert_int_equal(c.json_max_body, 65536);
	assert_string_equal(c.public_url, "https://localhost:8443");
	assert_string_equal(c.log_file, "");
	assert_string_equal(c.log_level, "info");
	cfg_cleanup(&c);
	assert_null(c.socket);
	assert_null(c.log_level);
	/* A second cleanup is harmless. */
	cfg_cleanup(&c);
}

struct bad_case {
	const char	*key;
	const char	*value;
};

static const struct bad_case bad_cases[] = {
	{ "APPD_WORKERS", "abc" },
	{ "APPD_SECRET_KEY", "abc" },
	{ "APPD_SECRET_KEY",
	    "zz0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f" },
	{ "APPD_SECRET_KEY",
	    "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f0" },
	{ "APPD_CODE_TTL", "0" },
	{ "APPD_CODE_MAX_TRIES", "0" },
	{ "APPD_SMS_TIMEOUT_MS", "99" },
	{ "APPD_SMS_OUTBOX", "" },
	{ "APPD_PWHASH_MEMLIMIT_KIB", "4" },
	{ "APPD_PWHASH_OPSLIMIT", "0" },
	{ "APPD_WORKERS", "" },
	{ "APPD_WORKERS", "12abc" },
	{ "APPD_WORKERS", "-1" },
	{ "APPD_WORKERS", "+4" },
	{ "APPD_WORKERS", " 4" },
	{ "APPD_WORKERS", "\t4" },
	{ "APPD_WORKERS", "4 " },
	{ "APPD_WORKERS", "0x10" },
	{ "APPD_WORKERS", "1.5" },
	{ "APPD_WORKERS", "257" },
	{ "APPD_WORKERS", "99999999999999999999" },
	{ "APPD_BACKLOG", "0" },
	{ "APPD_BACKLOG", "70000" },
	{ "APPD_BACKLOG", "65536" },
	{ "APPD_BACKLOG", "-5" },
	{ "APPD_STOP_TIMEOUT", "0" },
	{ "APPD_STOP_TIMEOUT", "601" },
	{ "APPD_DB_CONNECT_TIMEOUT", "61" },
	{ "APPD_DB_STATEMENT_TIMEOUT", "-1" },
	{ "APPD_DB_RETRY_MS", "60001" },
	{ "APPD_JSON_MAX_BODY", "63" },
	{ "APPD_JSON_MAX_BODY", "16777217" },
	{ "APPD_JSON_MAX_BODY", "64k" },
	{ "APPD_SOCKET_MODE", "0999" },
	{ "APPD_SOCKET_MODE", "1777" },
	{ "APPD_SOCKET_MODE", "8" },
	{ "APPD_SOCKET_MODE", "-0600" },
	{ "APPD_SOCKET_MODE", "0x1ff" },
	{ "APPD_SOCKET_MODE", "rw-rw----" },
	{ "APPD_SOCKET_MODE", "" },
	{ "APPD_BARE_WORKER", "maybe" },
	{ "APPD_BARE_WORKER", "2" },
	{ "APPD_BARE_WORKER", "on" },
	{ "APPD_SOCKET", "" },
	{ "APPD_DATABASE_URL", "" },
	{ "APPD_PUBLIC_URL", "" },
	{ "APPD_LOG_LEVEL", "" },
	{ "APPD_LOG_LEVEL", "verbose" },
	{ "APPD_LOG_LEVEL", "trace" },
	{ "APPD_LOG_LEVEL", "info " },
};

static void
test_bad_values(void **state)
{
	const struct bad_case	*b;
	struct cfg		 c;
	char			 err[256];
	size_t			 i;

	(void)state;
	for (i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		b = &bad_cases[i];
		clear_env();
		assert_int_equal(setenv(b->key, b->value, 1), 0);
		strcpy(err, "");
		if (cfg_load(&c, err, sizeof(err)) != -1) {
			cfg_cleanup(&c);
			fail_msg("%s='%s' was accepted", b->key, b->value);
		}
		if (strstr(err, b->key) == NULL)
			fail_msg("%s='%s': message '%s' does not name the key",
			    b->key, b->value, err);
		/* On failure nothing is left to release. */
		assert_null(c.socket);
		assert_null(c.log_level);
	}
	clear_env();
}

static void
test_bad_value_short_err(void **state)
{
	struct cfg	 c;
	char		 err[8];

	(void)state;
	memset(err, 'x', sizeof(err));
	setenv("APPD_BACKLOG", "0", 1);
	assert_int_equal(cfg_load(&c, err, sizeof(err)), -1);
	/* Truncated, terminated, and within the buffer. */
	assert_string_equal(err, "APPD_BA");
	unsetenv("APPD_BACKLOG");
}

enum field {
	F_STR,
	F_LONG,
	F_INT,
};

struct good_case {
	const char	*key;
	const char	*value;
	enum field	 type;
	size_t		 off;
	long		 n;		/* F_LONG, F_INT */
	const char	*s;		/* F_STR */
};

#define L(k, v, f, n)	{ k, v, F_LONG, offsetof(struct cfg, f), n, NULL }
#define I(k, v, f, n)	{ k, v, F_INT, offsetof(struct cfg, f), n, NULL }
#define T(k, v, f, s)	{ k, v, F_STR, offsetof(struct cfg, f), 0, s }

static const struct good_case good_cases[] = {
	L("APPD_SOCKET_MODE", "0600", socket_mode, 0600),
	L("APPD_SOCKET_MODE", "0600", socket_mode, 384),
	L("APPD_SOCKET_MODE", "600", socket_mode, 0600),
	L("APPD_SOCKET_MODE", "0777", socket_mode, 0777),
	L("APPD_SOCKET_MODE", "0", socket_mode, 0),
	I("APPD_BARE_WORKER", "true", bare_worker, 1),
	I("APPD_BARE_WORKER", "yes", bare_worker, 1),
	I("APPD_BARE_WORKER", "1", bare_worker, 1),
	I("APPD_BARE_WORKER", "false", bare_worker, 0),
	I("APPD_BARE_WORKER", "no", bare_worker, 0),
	I("APPD_BARE_WORKER", "0", bare_worker, 0),
	I("APPD_BARE_WORKER", "", bare_worker, 0),
	L("APPD_WORKERS", "4", workers, 4),
	L("APPD_WORKERS", "007", workers, 7),
	L("APPD_WORKERS", "0", workers, 0),
	L("APPD_WORKERS", "256", workers, 256),
	L("APPD_BACKLOG", "1", backlog, 1),
	L("APPD_BACKLOG", "65535", backlog, 65535),
	L("APPD_STOP_TIMEOUT", "600", stop_timeout, 600),
	L("APPD_DB_STATEMENT_TIMEOUT", "0", db_statement_timeout, 0),
	L("APPD_DB_RETRY_MS", "60000", db_retry_ms, 60000),
	L("APPD_JSON_MAX_BODY", "64", json_max_body, 64),
	L("APPD_JSON_MAX_BODY", "16777216", json_max_body, 16777216),
	T("APPD_SOCKET", "127.0.0.1:9000", socket, "127.0.0.1:9000"),
	T("APPD_SOCKET", "/run/appd/appd.sock", socket,
	    "/run/appd/appd.sock"),
	T("APPD_SOCKET_USER", "nobody", socket_user, "nobody"),
	T("APPD_SOCKET_GROUP", "www-data", socket_group, "www-data"),
	T("APPD_DATABASE_URL", "postgresql://u@db:5432/app", database_url,
	    "postgresql://u@db:5432/app"),
	T("APPD_PUBLIC_URL", "https://app.example.com", public_url,
	    "https://app.example.com"),
	T("APPD_LOG_FILE", "var/log/appd.log", log_file, "var/log/appd.log"),
	T("APPD_LOG_LEVEL", "debug", log_level, "debug"),
	T("APPD_LOG_LEVEL", "warn", log_level, "warn"),
	T("APPD_LOG_LEVEL", "error", log_level, "error"),
};

static void
test_good_values(void **state)
{
	const struct good_case	*g;
	struct cfg		 c;
	const char		*base;
	char			 err[256];
	size_t			 i;
	long			 n;

	(void)state;
	for (i = 0; i < sizeof(good_cases) / sizeof(good_cases[0]); i++) {
		g = &good_cases[i];
		clear_env();
		assert_int_equal(setenv(g->key, g->value, 1), 0);
		if (cfg_load(&c, err, sizeof(err)) != 0)
			fail_msg("%s='%s' refused: %s", g->key, g->value, err);
		base = (const char *)&c;
		switch (g->type) {
		case F_STR:
			assert_string_equal(*(char *const *)(base + g->off),
			    g->s);
			break;
		case F_LONG:
			n = *(const long *)(base + g->off);
			if (n != g->n)
				fail_msg("%s='%s' gave %ld, want %ld", g->key,
				    g->value, n, g->n);
			break;
		case F_INT:
			n = *(const int *)(base + g->off);
			if (n != g->n)
				fail_msg("%s='%s' gave %ld, want %ld", g->key,
				    g->value, n, g->n);
			break;
		}
		cfg_cleanup(&c);
	}
	clear_env();
}

static void
test_workers(void **state)
{
	struct cfg	 c;
	long		 cores, want;

	(void)state;
	memset(&c, 0, sizeof(c));
	c.workers = 3;
	assert_int_equal(cfg_workers(&c), 3);
	c.workers = 256;
	assert_int_equal(cfg_workers(&c), 256);
	c.workers = 0;
	cores = sysconf(_SC_NPROCESSORS_ONLN);
	if (cores < 1)
		cores = 1;
	want = cores * 2 > 64 ? 64 : cores * 2;
	assert_int_equal(cfg_workers(&c), want);
	assert_in_range(cfg_workers(&c), 2, 64);
}

static void
test_print_table(void **state)
{
	static const char *const spot[] = {
		"| `APPD_SOCKET` | string |  | `var/run/appd.sock` | ",
		"| `APPD_SOCKET_MODE` | octal | 0000..0777 | `0660` | ",
		"| `APPD_BACKLOG` | integer | 1..65535 | `1024` | ",
		"| `APPD_BARE_WORKER` | boolean |  | `0` | ",
		"| `APPD_LOG_LEVEL` | string |  | `info` | ",
	};
	char		*text = NULL, *line, *save = NULL, key[64];
	size_t		 size = 0, i, nlines = 0;
	FILE		*f;

	(void)state;
	f = open_memstream(&text, &size);
	assert_non_null(f);
	cfg_print_table(f);
	assert_int_equal(fclose(f), 0);
	assert_non_null(text);

	assert_true(strncmp(text, "| key | type | range | default | meaning |\n"
	    "|---|---|---|---|---|\n", 64) == 0);
	for (i = 0; i < NKEYS; i++) {
		snprintf(key, sizeof(key), "\n| `%s` | ", keys[i]);
		if (strstr(text, key) == NULL)
			fail_msg("no table line for %s", keys[i]);
	}
	for (i = 0; i < sizeof(spot) / sizeof(spot[0]); i++)
		if (strstr(text, spot[i]) == NULL)
			fail_msg("table lacks '%s'", spot[i]);
	/* One header, one rule, one line per key, each a full row. */
	for (line = strtok_r(text, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		assert_int_equal(line[0], '|');
		assert_int_equal(line[strlen(line) - 1], '|');
		nlines++;
	}
	assert_int_equal(nlines, 2 + NKEYS);
	free(text);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_defaults, setup),
		cmocka_unit_test_setup(test_bad_values, setup),
		cmocka_unit_test_setup(test_bad_value_short_err, setup),
		cmocka_unit_test_setup(test_good_values, setup),
		cmocka_unit_test(test_workers),
		cmocka_unit_test(test_print_table),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
