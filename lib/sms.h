/* The pluggable SMS sender: a JSON-lines outbox file (dev, tests) or an HTTP gateway (libcurl). */
#ifndef SMS_H
#define SMS_H

struct sms;

/*
 * A sender. With url non-empty, codes are POSTed as JSON
 * {"phone","code"} to that http(s) URL, each send bounded by timeout_ms;
 * any 2xx answer is success. Otherwise each code is appended as one line
 * {"phone","code","ts"} to the file outbox. The strings are copied.
 * Returns new (free with sms_free); NULL if libcurl cannot start.
 */
struct sms	*sms_new(const char *outbox, const char *url, long timeout_ms);
void		 sms_free(struct sms *s);

/* Deliver code to phone. Returns 0, or -1 (logged, without the code). */
int		 sms_send(struct sms *s, const char *phone, const char *code);

#endif
