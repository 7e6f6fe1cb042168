/* Unit tests for lib/log.c: every line is one JSON object with exact fields, across a fork too. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "log.h"

static char	 path[] = "/tmp/appd-test-log-XXXXXX";

/* The last line of the log file, parsed; the caller puts it. */
static struct json_object *
last_line(void)
{
	static char	 text[65536];
	FILE		*f;
	size_t		 n;
	char		*end, *start;

	assert_non_null(f = fopen(path, "r"));
	n = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[n] = '\0';
	assert_true(n > 0 && text[n - 1] == '\n');
	text[n - 1] = '\0';
	end = strrchr(text, '\n');
	start = end == NULL ? text : end + 1;
	return json_tokener_parse(start);
}

static const char *
str(struct json_object *o, const char *key)
{
	struct json_object	*v;

	assert_true(json_object_object_get_ex(o, key, &v));
	return json_object_get_string(v);
}

static int
setup(void **state)
{
	int	 fd;

	(void)state;
	assert_true((fd = mkstemp(path)) != -1);
	close(fd);
	assert_int_equal(log_open(path, "info"), 0);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	log_close();
	unlink(path);
	return 0;
}

static void
test_request_line_fields(void **state)
{
	struct json_object	*o, *v;
	char			 pid[24];
	const char		*ts;

	(void)state;
	log_set_rid("r\"1");
	log_request("GET", "/users/me", 200, 1.2346, 42);
	assert_non_null(o = last_line());
	snprintf(pid, sizeof(pid), "%ld", (long)getpid());
	assert_string_equal(str(o, "pid"), pid);
	assert_string_equal(str(o, "rid"), "r\"1");
	assert_string_equal(str(o, "level"), "info");
	assert_string_equal(str(o, "event"), "request");
	assert_string_equal(str(o, "path"), "/users/me");
	assert_string_equal(str(o, "status"), "200");
	assert_string_equal(str(o, "ms"), "1.235");
	assert_string_equal(str(o, "uid"), "42");
	ts = str(o, "ts");
	/* 2026-11-30T16:30:19.872Z */
	assert_int_equal(strlen(ts), 24);
	assert_int_equal(ts[10], 'T');
	assert_int_equal(ts[19], '.');
	assert_int_equal(ts[23], 'Z');
	json_object_put(o);

	log_set_rid(NULL);
	log_request("POST", "/upload", 503, 0.0004, 0);
	assert_non_null(o = last_line());
	assert_true(json_object_object_get_ex(o, "rid", &v));
	assert_null(v);
	assert_true(json_object_object_get_ex(o, "uid", &v));
	assert_null(v);
	assert_string_equal(str(o, "ms"), "0.000");
	json_object_put(o);

	log_request("GET", "/healthz", 200, 12345.0625, 9007199254740993LL);
	assert_non_null(o = last_line());
	assert_string_equal(str(o, "ms"), "12345.063");
	assert_string_equal(str(o, "uid"), "9007199254740993");
	json_object_put(o);
}

static void
test_message_is_escaped(void **state)
{
	struct json_object	*o;

	(void)state;
	log_msg(LOG_WARN, "a \"quoted\"\nline %d", 7);
	assert_non_null(o = last_line());
	assert_string_equal(str(o, "msg"), "a \"quoted\"\nline 7");
	assert_string_equal(str(o, "level"), "warn");
	json_object_put(o);
	log_msg(LOG_DEBUG, "below the level");
	assert_non_null(o = last_line());
	assert_string_equal(str(o, "msg"), "a \"quoted\"\nline 7");
	json_object_put(o);
}

/* A child's lines carry the child's pid, though the parent logged first. */
static void
test_pid_follows_fork(void **state)
{
	struct json_object	*o;
	char			 pid[24];
	pid_t			 child;
	int			 status;

	(void)state;
	log_msg(LOG_INFO, "parent");
	if ((child = fork()) == 0) {
		log_msg(LOG_INFO, "child");
		_exit(0);
	}
	assert_true(child > 0);
	assert_int_equal(waitpid(child, &status, 0), child);
	assert_non_null(o = last_line());
	assert_string_equal(str(o, "msg"), "child");
	snprintf(pid, sizeof(pid), "%ld", (long)child);
	assert_string_equal(str(o, "pid"), pid);
	json_object_put(o);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_request_line_fields),
		cmocka_unit_test(test_message_is_escaped),
		cmocka_unit_test(test_pid_follows_fork),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
