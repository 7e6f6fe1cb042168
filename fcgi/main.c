/* appd's entry point: load the configuration, get the FastCGI socket, run the manager or a bare worker. */
#include <sys/stat.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#include "appd.h"
#include "cfg.h"
#include "code.h"
#include "log.h"
#include "sock.h"
#include "user.h"

static void
usage(FILE *f)
{
	fputs("usage: appd [--config-table | --check-config | --help]\n"
	    "Configured by APPD_* environment variables; see README.md or "
	    "`appd --config-table`.\n", f);
}

int
main(int argc, char *argv[])
{
	struct cfg	 cfg;
	struct stat	 st, now;
	char		 err[256];
	int		 fd, rc, own_socket = 0;

	if (argc > 1) {
		if (strcmp(argv[1], "--config-table") == 0) {
			cfg_print_table(stdout);
			return 0;
		}
		if (strcmp(argv[1], "--help") == 0) {
			usage(stdout);
			return 0;
		}
		if (strcmp(argv[1], "--check-config") != 0) {
			usage(stderr);
			return 2;
		}
	}
	if (cfg_load(&cfg, err, sizeof(err)) == -1) {
		fprintf(stderr, "appd: configuration: %s\n", err);
		return 2;
	}
	if (argc > 1) {
		puts("appd: configuration ok");
		cfg_cleanup(&cfg);
		return 0;
	}
	if (log_open(cfg.log_file, cfg.log_level) == -1) {
		fprintf(stderr, "appd: APPD_LOG_FILE %s: cannot open\n",
		    cfg.log_file);
		cfg_cleanup(&cfg);
		return 2;
	}

	/* Process-wide set-up, done once before any worker forks. */
	if (code_init(cfg.secret_key) == -1 ||
	    user_init(cfg.pwhash_ops, cfg.pwhash_mem_kib) == -1 ||
	    curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		log_msg(LOG_ERROR, "libsodium or libcurl failed to start");
		rc = 1;
		goto out;
	}
	if (pages_load(cfg.template_dir, err, sizeof(err)) == -1) {
		log_msg(LOG_ERROR, "APPD_TEMPLATE_DIR: %s", err);
		if (cfg.log_file[0] != '\0')
			fprintf(stderr, "appd: APPD_TEMPLATE_DIR: %s\n", err);
		rc = 2;
		goto out;
	}
	if (cfg.secret_key[0] == '\0')
		log_msg(LOG_WARN, "APPD_SECRET_KEY is not set: a random key is "
		    "used, so codes do not survive a restart");

	if (sock_is_listening(STDIN_FILENO)) {
		/* spawn-fcgi or supervisor handed us the socket on fd 0. */
		fd = STDIN_FILENO;
		if (cfg.bare_worker) {
			log_msg(LOG_INFO, "bare worker on inherited socket");
			rc = worker_run(&cfg, fd);
			goto out;
		}
		log_msg(LOG_INFO, "managing workers on inherited socket");
	} else {
		if (cfg.bare_worker) {
			log_msg(LOG_ERROR, "APPD_BARE_WORKER is set but fd 0 "
			    "is not a listening socket");
			rc = 2;
			goto out;
		}
		fd = sock_listen(cfg.socket, cfg.socket_mode, cfg.socket_user,
		    cfg.socket_group, (int)cfg.backlog, err, sizeof(err));
		if (fd == -1) {
			log_msg(LOG_ERROR, "APPD_SOCKET: %s", err);
			if (cfg.log_file[0] != '\0')
				fprintf(stderr, "appd: APPD_SOCKET: %s\n", err);
			rc = 1;
			goto out;
		}
		own_socket = sock_is_unix(cfg.socket) &&
		    fstat(fd, &st) == 0 && stat(cfg.socket, &st) == 0;
		log_msg(LOG_INFO, "listening on %s", cfg.socket);
	}
	rc = manager_run(&cfg, fd, cfg_workers(&cfg));
	/* Remove the socket file only if it is still the one we made. */
	if (own_socket && stat(cfg.socket, &now) == 0 &&
	    now.st_ino == st.st_ino && now.st_dev == st.st_dev)
		unlink(cfg.socket);
	if (fd != STDIN_FILENO)
		close(fd);
out:
	pages_free();
	log_close();
	cfg_cleanup(&cfg);
	return rc;
}
