/* Configuration from environment variables: one table of keys, types, bounds and defaults. */
#ifndef CFG_H
#define CFG_H

#include <stddef.h>
#include <stdio.h>

/*
 * The loaded configuration. Strings point into storage owned by the
 * struct (filled by cfg_load, released by cfg_cleanup). Every default lives
 * in the table in cfg.c and nowhere else.
 */
struct cfg {
	char		*socket;		/* unix path or host:port */
	long		 socket_mode;
	char		*socket_user;
	char		*socket_group;
	char		*front_addrs;		/* TCP peers allowed; "" = any */
	long		 backlog;
	long		 workers;		/* 0 = derived from cores */
	int		 bare_worker;
	long		 stop_timeout;		/* seconds */
	char		*database_url;
	long		 db_connect_timeout;	/* seconds */
	long		 db_statement_timeout;	/* milliseconds */
	long		 db_retry_ms;
	long		 json_max_body;
	char		*public_url;
	char		*log_file;
	char		*log_level;
	char		*secret_key;		/* hex; "" = random per start */
	long		 code_ttl;		/* seconds */
	long		 code_resend;		/* seconds */
	long		 code_max_tries;
	long		 code_addr_max;		/* codes per address per window */
	long		 code_addr_window;	/* seconds */
	char		*sms_outbox;
	char		*sms_url;
	long		 sms_timeout_ms;
	long		 pwhash_ops;
	long		 pwhash_mem_kib;
	long		 token_ttl;		/* seconds */
	long		 session_ttl;		/* seconds */
	long		 ticket_ttl;		/* seconds */
	long		 login_window;		/* seconds */
	long		 login_phone_max;
	long		 login_addr_max;
	long		 session_sync_commit;	/* 0 or 1 */
	char		*template_dir;
	char		*image_dir;
	long		 upload_max_body;
	long		 image_max_pixels;
	long		 image_memory_mib;
	long		 thumb_size;
	long		 max_requests;
	long		 max_requests_jitter;
	long		 request_timeout;	/* seconds, 0 = none */
	long		 slow_ms;		/* 0 = no slow log */
	long		 queue_deadline_ms;	/* 0 = none */
	long		 reload_drain;		/* seconds */
	char		*metrics_socket;
	char		*user;
	char		*group;
};

/*
 * Fill c from the environment (getenv). Returns 0, or -1 with a message
 * naming the offending key written to err (errlen bytes). On failure
 * nothing needs releasing; on success release with cfg_cleanup.
 */
int	cfg_load(struct cfg *c, char *err, size_t errlen);

/* Release what cfg_load allocated; c may be partially filled or zeroed. */
void	cfg_cleanup(struct cfg *c);

/* Number of worker processes to run: workers, or 2 per online core. */
long	cfg_workers(const struct cfg *c);

/* Print the configuration table as Markdown (the README's table). */
void	cfg_print_table(FILE *f);

#endif
