/* One JSON object per line: level, pid, request id and the event; never a secret. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
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

/* The pid, asked once per process (a fork forgets it). */
static pid_t	 log_pid;

static void
forget_pid(void)
{
	log_pid = 0;
}

static long long
pid(void)
{
	static int	 hooked;

	if (!hooked) {
		(void)pthread_atfork(NULL, NULL, forget_pid);
		hooked = 1;
	}
	if (log_pid == 0)
		log_pid = getpid();
	return (long long)log_pid;
}

/* Append v in decimal, at least width digits (zero-padded). */
static void
put_num(struct buf *b, long long v, int width)
{
	char			 d[24];
	unsigned long long	 u = v < 0 ? 0ULL - (unsigned long long)v :
				    (unsigned long long)v;
	int			 n = 0;

	do {
		d[n++] = (char)('0' + u % 10);
		u /= 10;
	} while (u != 0 || n < width);
	if (v < 0)
		buf_putc(b, '-');
	while (n > 0)
		buf_putc(b, d[--n]);
}

/*
 * Start a line. The formatted second is kept until the clock moves on:
 * a worker logs every request, and strftime at that rate showed in
 * profiles.
 */
static void
begin(enum log_level level)
{
	static time_t	 sec = (time_t)-1;
	static char	 tbuf[32];
	struct timespec	 ts;
	struct tm	 tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	if (ts.tv_sec != sec) {
		gmtime_r(&ts.tv_sec, &tm);
		strftime(tbuf, sizeof(tbuf), "%Y-%m-%dT%H:%M:%S", &tm);
		sec = ts.tv_sec;
	}
	buf_reset(&log_line);
	buf_puts(&log_line, "{\"ts\":\"");
	buf_puts(&log_line, tbuf);
	buf_putc(&log_line, '.');
	put_num(&log_line, ts.tv_nsec / 1000000, 3);
	buf_puts(&log_line, "Z\",\"level\":\"");
	buf_puts(&log_line, level_names[level]);
	buf_puts(&log_line, "\",\"pid\":");
	put_num(&log_line, pid(), 1);
	buf_puts(&log_line, ",\"rid\":");
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
	long long	 us;

	if (!log_enabled(LOG_INFO))
		return;
	begin(LOG_INFO);
	buf_puts(&log_line, ",\"event\":\"request\",\"method\":\"");
	buf_json_str(&log_line, method, strlen(method));
	buf_puts(&log_line, "\",\"path\":\"");
	buf_json_str(&log_line, path, strlen(path));
	buf_puts(&log_line, "\",\"status\":");
	put_num(&log_line, status, 1);
	/* ms with three decimals, as %.3f would print it. */
	us = (long long)(ms * 1000 + 0.5);
	buf_puts(&log_line, ",\"ms\":");
	put_num(&log_line, us / 1000, 1);
	buf_putc(&log_line, '.');
	put_num(&log_line, us % 1000, 3);
	buf_puts(&log_line, ",\"uid\":");
	if (uid > 0)
		put_num(&log_line, uid, 1);
	else
		buf_puts(&log_line, "null");
	finish();
}
