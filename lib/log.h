/* One JSON object per line: level, pid, request id and the event; never a secret. */
#ifndef LOG_H
#define LOG_H

enum log_level {
	LOG_DEBUG,
	LOG_INFO,
	LOG_WARN,
	LOG_ERROR,
	LOG__MAX
};

/*
 * Open path for appending (NULL or "" means standard error) and log at
 * level name ("debug", "info", "warn", "error") and above. Returns 0 or -1
 * with errno set. Lines are written with one write(2) on an O_APPEND
 * descriptor, so processes sharing the file never interleave a line.
 */
int	log_open(const char *path, const char *level);

/* Reopen the file named at log_open (after rotation). Returns 0 or -1. */
int	log_reopen(void);

/* Close the log file; later lines go to standard error. */
void	log_close(void);

/*
 * The request id (Nginx's $request_id) stamped on following lines; the
 * string is copied (truncated to 64 bytes). NULL clears it.
 */
void	log_set_rid(const char *rid);

/* Whether a line at level would be written. */
int	log_enabled(enum log_level level);

/*
 * One line {"ts","level","pid","rid","msg"}. The message is JSON-escaped;
 * callers must never pass passwords, codes, tokens or raw bodies.
 */
void	log_msg(enum log_level level, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));

/*
 * The per-request line: {"ts","level":"info","pid","rid","event":"request",
 * "method","path","status","ms","uid"}. path must not carry the query
 * string; uid <= 0 is written as null.
 */
void	log_request(const char *method, const char *path, int status,
	    double ms, long long uid);

#endif
