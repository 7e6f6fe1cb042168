/* The pluggable SMS sender: a JSON-lines outbox file (dev, tests) or an HTTP gateway (libcurl). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "buf.h"
#include "log.h"
#include "mem.h"
#include "sms.h"

struct sms {
	char		*outbox;
	char		*url;		/* NULL: outbox sender */
	long		 timeout_ms;
	CURL		*curl;		/* kept for connection reuse */
	struct buf	 line;
};

struct sms *
sms_new(const char *outbox, const char *url, long timeout_ms)
{
	struct sms	*s;

	s = mem_calloc(1, sizeof(*s));
	s->outbox = mem_strdup(outbox);
	s->timeout_ms = timeout_ms;
	buf_init(&s->line);
	if (url != NULL && *url != '\0') {
		s->url = mem_strdup(url);
		if ((s->curl = curl_easy_init()) == NULL) {
			sms_free(s);
			return NULL;
		}
	}
	return s;
}

void
sms_free(struct sms *s)
{
	if (s == NULL)
		return;
	if (s->curl != NULL)
		curl_easy_cleanup(s->curl);
	buf_cleanup(&s->line);
	free(s->outbox);
	free(s->url);
	free(s);
}

static int
send_outbox(struct sms *s)
{
	int	 fd, rc = -1;

	fd = open(s->outbox, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (fd == -1) {
		log_msg(LOG_ERROR, "sms outbox %s: %s", s->outbox,
		    strerror(errno));
		return -1;
	}
	/* One line per write on O_APPEND: workers never interleave lines. */
	if (buf_write(&s->line, fd) == 0 && fdatasync(fd) == 0)
		rc = 0;
	else
		log_msg(LOG_ERROR, "sms outbox %s: write failed: %s",
		    s->outbox, strerror(errno));
	close(fd);
	return rc;
}

static size_t
discard(char *ptr, size_t size, size_t nmemb, void *arg)
{
	(void)ptr;
	(void)arg;
	return size * nmemb;
}

static int
send_http(struct sms *s)
{
	struct curl_slist	*hdr = NULL;
	CURLcode		 cc;
	long			 status = 0;
	int			 rc = -1;

	hdr = curl_slist_append(hdr, "Content-Type: application/json");
	curl_easy_reset(s->curl);
	curl_easy_setopt(s->curl, CURLOPT_URL, s->url);
	curl_easy_setopt(s->curl, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(s->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(s->curl, CURLOPT_TIMEOUT_MS, s->timeout_ms);
	curl_easy_setopt(s->curl, CURLOPT_CONNECTTIMEOUT_MS, s->timeout_ms);
	curl_easy_setopt(s->curl, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(s->curl, CURLOPT_POSTFIELDS, s->line.data);
	curl_easy_setopt(s->curl, CURLOPT_POSTFIELDSIZE, (long)s->line.len);
	curl_easy_setopt(s->curl, CURLOPT_WRITEFUNCTION, discard);
	cc = curl_easy_perform(s->curl);
	if (cc == CURLE_OK)
		curl_easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, &status);
	if (cc != CURLE_OK)
		log_msg(LOG_ERROR, "sms gateway: %s", curl_easy_strerror(cc));
	else if (status < 200 || status > 299)
		log_msg(LOG_ERROR, "sms gateway answered %ld", status);
	else
		rc = 0;
	curl_slist_free_all(hdr);
	return rc;
}

int
sms_send(struct sms *s, const char *phone, const char *code)
{
	buf_reset(&s->line);
	buf_puts(&s->line, "{\"phone\":\"");
	buf_json_str(&s->line, phone, strlen(phone));
	buf_puts(&s->line, "\",\"code\":\"");
	buf_json_str(&s->line, code, strlen(code));
	if (s->url != NULL) {
		buf_puts(&s->line, "\"}");
		return send_http(s);
	}
	buf_printf(&s->line, "\",\"ts\":%lld}\n", (long long)time(NULL));
	return send_outbox(s);
}
