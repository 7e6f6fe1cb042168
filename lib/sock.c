/* The FastCGI listening socket: bound safely (never over a live server), or inherited on fd 0. */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <grp.h>
#include <netdb.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sock.h"

int
sock_is_unix(const char *addr)
{
	return strchr(addr, '/') != NULL || strchr(addr, ':') == NULL;
}

int
sock_is_listening(int fd)
{
	int		 v = 0, type = 0;
	socklen_t	 len = sizeof(v);

	if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &v, &len) == -1)
		return 0;
	len = sizeof(type);
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == -1)
		return 0;
	return v != 0 && type == SOCK_STREAM;
}

static int
set_owner(const char *path, const char *user, const char *group, char *err,
    size_t errlen)
{
	struct passwd	*pw;
	struct group	*gr;
	uid_t		 uid = (uid_t)-1;
	gid_t		 gid = (gid_t)-1;

	if (user != NULL && *user != '\0') {
		if ((pw = getpwnam(user)) == NULL) {
			snprintf(err, errlen, "socket user '%s' does not exist",
			    user);
			return -1;
		}
		uid = pw->pw_uid;
	}
	if (group != NULL && *group != '\0') {
		if ((gr = getgrnam(group)) == NULL) {
			snprintf(err, errlen,
			    "socket group '%s' does not exist", group);
			return -1;
		}
		gid = gr->gr_gid;
	}
	if ((uid != (uid_t)-1 || gid != (gid_t)-1) &&
	    chown(path, uid, gid) == -1) {
		snprintf(err, errlen, "chown %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

static int
listen_unix(const char *path, long mode, const char *user, const char *group,
    int backlog, char *err, size_t errlen)
{
	struct sockaddr_un	 sun;
	struct stat		 st;
	char			 tmp[sizeof(sun.sun_path) + 32];
	int			 fd, probe;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		snprintf(err, errlen, "socket path too long (max %zu): %s",
		    sizeof(sun.sun_path) - 1, path);
		return -1;
	}
	memcpy(sun.sun_path, path, strlen(path) + 1);

	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			snprintf(err, errlen, "%s exists and is not a socket; "
			    "refusing to replace it", path);
			return -1;
		}
		/* Like spawn-fcgi: a socket someone answers on is in use. */
		probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (probe != -1 && connect(probe, (struct sockaddr *)&sun,
		    sizeof(sun)) == 0) {
			close(probe);
			snprintf(err, errlen, "%s is already in use by a "
			    "running server", path);
			return -1;
		}
		if (probe != -1)
			close(probe);
		if (unlink(path) == -1 && errno != ENOENT) {
			snprintf(err, errlen, "remove stale socket %s: %s",
			    path, strerror(errno));
			return -1;
		}
	}
	/*
	 * Bound and listening under a temporary name first, then renamed
	 * into place: whoever sees the path can connect at once. A path too
	 * long for the temporary suffix is bound directly.
	 */
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.%ld.tmp", path,
	    (long)getpid()) >= sizeof(sun.sun_path))
		snprintf(tmp, sizeof(tmp), "%s", path);
	memcpy(sun.sun_path, tmp, strlen(tmp) + 1);
	if (strcmp(tmp, path) != 0)
		(void)unlink(tmp);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		snprintf(err, errlen, "bind %s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	if (chmod(tmp, (mode_t)mode) == -1) {
		snprintf(err, errlen, "chmod %s: %s", path, strerror(errno));
		goto fail;
	}
	if (set_owner(tmp, user, group, err, errlen) == -1)
		goto fail;
	if (listen(fd, backlog) == -1) {
		snprintf(err, errlen, "listen %s: %s", path, strerror(errno));
		goto fail;
	}
	if (strcmp(tmp, path) != 0 && rename(tmp, path) == -1) {
		snprintf(err, errlen, "rename to %s: %s", path,
		    strerror(errno));
		goto fail;
	}
	return fd;
fail:
	close(fd);
	unlink(tmp);
	return -1;
}

static int
listen_tcp(const char *addr, int backlog, char *err, size_t errlen)
{
	struct addrinfo	 hints, *res = NULL, *ai;
	char		 host[256];
	const char	*port, *colon;
	size_t		 hlen;
	int		 fd = -1, on = 1, rc;

	if ((colon = strrchr(addr, ':')) == NULL || colon[1] == '\0') {
		snprintf(err, errlen, "'%s' is not host:port", addr);
		return -1;
	}
	port = colon + 1;
	if (addr[0] == '[') {
		if (colon == addr || colon[-1] != ']') {
			snprintf(err, errlen, "'%s' is not [v6addr]:port",
			    addr);
			return -1;
		}
		addr++;
		hlen = (size_t)(colon - 1 - addr);
	} else
		hlen = (size_t)(colon - addr);
	if (hlen >= sizeof(host)) {
		snprintf(err, errlen, "host name too long in '%s'", addr);
		return -1;
	}
	memcpy(host, addr, hlen);
	host[hlen] = '\0';

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	if ((rc = getaddrinfo(hlen ? host : NULL, port, &hints, &res)) != 0) {
		snprintf(err, errlen, "resolve '%s': %s", addr,
		    gai_strerror(rc));
		return -1;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
		    ai->ai_protocol);
		if (fd == -1)
			continue;
		(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on,
		    sizeof(on));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 &&
		    listen(fd, backlog) == 0)
			break;
		snprintf(err, errlen, "bind/listen %s: %s", addr,
		    strerror(errno));
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	return fd;
}

int
sock_listen(const char *addr, long mode, const char *user, const char *group,
    int backlog, char *err, size_t errlen)
{
	snprintf(err, errlen, "no usable address");
	if (sock_is_unix(addr))
		return listen_unix(addr, mode, user, group, backlog, err,
		    errlen);
	return listen_tcp(addr, backlog, err, errlen);
}
