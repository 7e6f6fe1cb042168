/* One JSON object per line: level, pid, request id and the event; never a secret. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "log.h"
#include "mem.h"

static int		 log_fd = STDERR_FILENO;
static char		*log_path;
static enum log_level	 log_min = LOG_INFO;
static char		 log_rid[65];
static struct buf	 log_line;

static const char *const level_names[LOG__MAX] = {
	[LOG_DEBUG] = "debug", [LOG_INFO] = "info",
	[LOG_WARN] = "warn", [LOG_ERROR] = "error",
};

int
log_open(const char *path, const char *level)
{
	int	 i, fd;

	for (i = 0; i < LOG__MAX; i++)
		if (level != NULL && strcmp(level, level_names[i]) == 0)
			log_min = (enum log_level)i;
	if (path == NULL || *path == '\0')
		return 0;
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (fd == -1)
		return -1;
	log_close();
	log_fd = fd;
	log_path = mem_strdup(path);
	return 0;
}

int
log_reopen(void)
{
	int	 fd;

	if (log_path == NULL)
		return 0;
	fd = open(log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (fd == -1)
		return -1;
	(void)dup2(fd, log_fd);
	close(fd);
	return 0;
}

void
log_close(void)
{
	if (log_fd != STDERR_FILENO)
		close(log_fd);
	log_fd = STDERR_FILENO;
	free(log_path);
	log_path = NULL;
}

void
log_set_rid(const char *rid)
{
	if (rid == NULL) {
		log_rid[0] = '\0';
		return;
	}
	snprintf(log_rid, sizeof(log_rid), "%s", rid);
}

int
log_enabled(enum log_level level)
{
	return level >= log_min;
}

static void
begin(enum log_level level)
{
	struct timespec	 ts;
	struct tm	 tm;
	char		 tbuf[32];

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(tbuf, sizeof(tbuf), "%Y-%m-%dT%H:%M:%S", &tm);
	buf_reset(&log_line);
	buf_printf(&log_line, "{\"ts\":\"%s.%03ldZ\",\"level\":\"%s\","
	    "\"pid\":%ld,\"rid\":", tbuf, ts.tv_nsec / 1000000,
	    level_names[level], (long)getpid());
	if (log_rid[0] == '\0')
		buf_puts(&log_line, "null");
	else {
		buf_putc(&log_line, '"');
		buf_json_str(&log_line, log_rid, strlen(log_rid));
		buf_putc(&log_line, '"');
	}
}

static void
finish(void)
{
	buf_puts(&log_line, "}\n");
	(void)buf_write(&log_line, log_fd);
}

void
log_msg(enum log_level level, const char *fmt, ...)
{
	struct buf	 msg;
	va_list		 ap;

	if (!log_enabled(level))
		return;
	buf_init(&msg);
	va_start(ap, fmt);
	buf_vprintf(&msg, fmt, ap);
	va_end(ap);
	begin(level);
	buf_puts(&log_line, ",\"msg\":\"");
	buf_json_str(&log_line, msg.data == NULL ? "" : msg.data, msg.len);
	buf_putc(&log_line, '"');
	finish();
	buf_cleanup(&msg);
}

void
log_request(const char *method, const char *path, int status, double ms,
    long long uid)
{
	if (!log_enabled(LOG_INFO))
		return;
	begin(LOG_INFO);
	buf_puts(&log_line, ",\"event\":\"request\",\"method\":\"");
	buf_json_str(&log_line, method, strlen(method));
	buf_puts(&log_line, "\",\"path\":\"");
	buf_json_str(&log_line, path, strlen(path));
	buf_printf(&log_line, "\",\"status\":%d,\"ms\":%.3f,\"uid\":", status,
	    ms);
	if (uid > 0)
		buf_printf(&log_line, "%lld", uid);
	else
		buf_puts(&log_line, "null");
	finish();
}
