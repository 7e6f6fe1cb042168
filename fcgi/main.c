/* appd's entry point: load the configuration, get the FastCGI socket, run the manager or a bare worker. */
#include <sys/socket.h>
#include <sys/stat.h>

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#include "appd.h"
#include "board.h"
#include "cfg.h"
#include "code.h"
#include "log.h"
#include "sess.h"
#include "sock.h"
#include "user.h"

static char	 exe_path[PATH_MAX];
static int	 owns_socket;
static struct stat sock_st;	/* the socket file we made */

const char *
appd_exe_path(void)
{
	return exe_path;
}

int
appd_owns_socket(void)
{
	return owns_socket;
}

static void
usage(FILE *f)
{
	fputs("usage: appd [--config-table | --check-config | --help]\n"
	    "Configured by APPD_* environment variables; see README.md or "
	    "`appd --config-table`.\n", f);
}

/* A descriptor number handed over by the previous image on SIGHUP. */
static int
env_fd(const char *name)
{
	const char	*v = getenv(name);
	char		*end;
	long		 fd;

	if (v == NULL || *v == '\0')
		return -1;
	fd = strtol(v, &end, 10);
	if (*end != '\0' || fd < 0 || fd > INT_MAX || !sock_is_listening((int)fd))
		return -1;
	(void)fcntl((int)fd, F_SETFD, FD_CLOEXEC);
	return (int)fd;
}

/*
 * 0 when fd may serve: a TCP socket reachable from other hosts needs the
 * list of front addresses, or anyone who can reach it could speak
 * FastCGI to the app. -1 (said on both channels) otherwise.
 */
static int
check_exposure(const struct cfg *cfg, int fd)
{
	static const char	 msg[] = "the FastCGI socket listens beyond "
				    "loopback: set APPD_FRONT_ADDRS to the web "
				    "servers' addresses";

	if (cfg->front_addrs[0] != '\0' || !sock_open_to_network(fd))
		return 0;
	log_msg(LOG_ERROR, "%s", msg);
	if (cfg->log_file[0] != '\0')
		fprintf(stderr, "appd: %s\n", msg);
	return -1;
}

/* Bind a socket from the configuration, or say why not on both channels. */
static int
bind_socket(const struct cfg *cfg, const char *key, const char *addr)
{
	char	 err[256];
	int	 fd;

	fd = sock_listen(addr, cfg->socket_mode, cfg->socket_user,
	    cfg->socket_group, (int)cfg->backlog, err, sizeof(err));
	if (fd == -1) {
		log_msg(LOG_ERROR, "%s: %s", key, err);
		if (cfg->log_file[0] != '\0')
			fprintf(stderr, "appd: %s: %s\n", key, err);
		return -1;
	}
	log_msg(LOG_INFO, "listening on %s", addr);
	return fd;
}

int
main(int argc, char *argv[])
{
	struct cfg	 cfg;
	struct board	*board;
	struct stat	 st;
	const char	*owns;
	char		 err[256];
	ssize_t		 n;
	int		 fd = -1, mfd = -1, rc, reexec;

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
	if (sock_allow_check(cfg.front_addrs, err, sizeof(err)) == -1) {
		fprintf(stderr, "appd: configuration: APPD_FRONT_ADDRS: %s\n",
		    err);
		cfg_cleanup(&cfg);
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
	/* The path SIGHUP re-executes: new code installed there is picked up. */
	if ((n = readlink("/proc/self/exe", exe_path, sizeof(exe_path) - 1)) < 0)
		n = 0;
	exe_path[n] = '\0';

	/* Process-wide set-up, done once before any worker forks. */
	if (code_init(cfg.secret_key) == -1 ||
	    sess_init(cfg.secret_key) == -1 ||
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
		    "used, so codes and home-page tickets do not survive a restart");

	reexec = (fd = env_fd("APPD_REEXEC_FD")) != -1;
	if (reexec) {
		/* SIGHUP: the previous image of this process handed over. */
		mfd = env_fd("APPD_REEXEC_METRICS_FD");
		owns = getenv("APPD_REEXEC_OWNS");
		owns_socket = owns != NULL && strcmp(owns, "1") == 0;
		unsetenv("APPD_REEXEC_OWNS");
		if (owns_socket && stat(cfg.socket, &sock_st) == -1)
			owns_socket = 0;
		log_msg(LOG_INFO, "reloaded: new code serving");
	} else if (sock_is_listening(STDIN_FILENO)) {
		/* spawn-fcgi or supervisor handed us the socket on fd 0. */
		fd = STDIN_FILENO;
		if (check_exposure(&cfg, fd) == -1) {
			rc = 2;
			goto out;
		}
		if (cfg.bare_worker) {
			log_msg(LOG_INFO, "bare worker on inherited socket");
			if ((board = board_new(1)) == NULL) {
				rc = 1;
				goto out;
			}
			board->max_workers = 1;
			rc = worker_run(&cfg, fd, board, &board->slots[0]);
			board_free(board);
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
		if ((fd = bind_socket(&cfg, "APPD_SOCKET", cfg.socket)) == -1) {
			rc = 1;
			goto out;
		}
		if (check_exposure(&cfg, fd) == -1) {
			close(fd);
			rc = 2;
			goto out;
		}
		owns_socket = sock_is_unix(cfg.socket) &&
		    stat(cfg.socket, &sock_st) == 0;
	}
	if (!reexec && cfg.metrics_socket[0] != '\0' &&
	    (mfd = bind_socket(&cfg, "APPD_METRICS_SOCKET",
	    cfg.metrics_socket)) == -1) {
		rc = 1;
		goto out;
	}
	if (mfd != -1 && check_exposure(&cfg, mfd) == -1) {
		rc = 2;
		goto out;
	}
	rc = manager_run(&cfg, fd, mfd, cfg_workers(&cfg));
	/* Remove the socket file only if it is still the one we made. */
	if (owns_socket && stat(cfg.socket, &st) == 0 &&
	    st.st_ino == sock_st.st_ino && st.st_dev == sock_st.st_dev)
		unlink(cfg.socket);
	if (mfd != -1 && sock_is_unix(cfg.metrics_socket))
		unlink(cfg.metrics_socket);
	if (fd != STDIN_FILENO)
		close(fd);
	if (mfd != -1)
		close(mfd);
out:
	pages_free();
	log_close();
	cfg_cleanup(&cfg);
	return rc;
}
