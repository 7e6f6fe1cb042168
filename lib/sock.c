/* The FastCGI listening socket: bound safely (never over a live server), or inherited on fd 0. */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <ctype.h>
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

/* One address of an allow-list: family and bytes, 16 for either. */
struct addr {
	int		 family;
	unsigned char	 b[16];
};

/*
 * Parse the next entry of list at *p into a; 1 with *p moved past it, 0
 * at the end, -1 for an entry that is not an IP address literal.
 */
static int
next_addr(const char **p, struct addr *a)
{
	char		 s[INET6_ADDRSTRLEN];
	const char	*q;
	size_t		 n;

	while (**p == ',' || isspace((unsigned char)**p))
		(*p)++;
	if (**p == '\0')
		return 0;
	for (q = *p; *q != '\0' && *q != ',' && !isspace((unsigned char)*q);
	    q++)
		continue;
	n = (size_t)(q - *p);
	if (n >= sizeof(s))
		return -1;
	memcpy(s, *p, n);
	s[n] = '\0';
	*p = q;
	memset(a, 0, sizeof(*a));
	if (inet_pton(AF_INET, s, a->b) == 1)
		a->family = AF_INET;
	else if (inet_pton(AF_INET6, s, a->b) == 1)
		a->family = AF_INET6;
	else
		return -1;
	return 1;
}

int
sock_allow_check(const char *list, char *err, size_t errlen)
{
	struct addr	 a;
	const char	*p = list, *start;
	int		 rc;

	for (;;) {
		while (*p == ',' || isspace((unsigned char)*p))
			p++;
		start = p;
		if ((rc = next_addr(&p, &a)) == 0)
			return 0;
		if (rc == -1) {
			snprintf(err, errlen, "not an IP address: '%.*s'",
			    (int)strcspn(start, ", \t"), start);
			return -1;
		}
	}
}

/* sa as an addr; an IPv4-mapped IPv6 address becomes plain IPv4. */
static int
sockaddr_addr(const struct sockaddr_storage *ss, struct addr *a)
{
	static const unsigned char	 mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0,
					    0, 0, 0xff, 0xff };
	const struct sockaddr_in	*in = (const void *)ss;
	const struct sockaddr_in6	*in6 = (const void *)ss;

	memset(a, 0, sizeof(*a));
	if (ss->ss_family == AF_INET) {
		a->family = AF_INET;
		memcpy(a->b, &in->sin_addr, 4);
	} else if (ss->ss_family == AF_INET6) {
		if (memcmp(in6->sin6_addr.s6_addr, mapped, 12) == 0) {
			a->family = AF_INET;
			memcpy(a->b, in6->sin6_addr.s6_addr + 12, 4);
		} else {
			a->family = AF_INET6;
			memcpy(a->b, in6->sin6_addr.s6_addr, 16);
		}
	} else
		return -1;
	return 0;
}

int
sock_open_to_network(int fd)
{
	struct sockaddr_storage	 ss;
	socklen_t		 len = sizeof(ss);
	struct addr		 a;

	memset(&ss, 0, sizeof(ss));
	if (getsockname(fd, (struct sockaddr *)&ss, &len) == -1 ||
	    sockaddr_addr(&ss, &a) == -1)
		return 0;
	if (a.family == AF_INET)
		return a.b[0] != 127;
	return !IN6_IS_ADDR_LOOPBACK((const struct in6_addr *)a.b);
}

int
sock_peer_allowed(int fd, const char *list, char *peer, size_t peerlen)
{
	struct sockaddr_storage	 ss;
	socklen_t		 len = sizeof(ss);
	struct addr		 a, e;
	const char		*p = list;

	memset(&ss, 0, sizeof(ss));
	if (peerlen > 0)
		peer[0] = '\0';
	if (*list == '\0' ||
	    getpeername(fd, (struct sockaddr *)&ss, &len) == -1)
		return *list == '\0';
	if (ss.ss_family == AF_UNIX)
		return 1;
	if (sockaddr_addr(&ss, &a) == -1)
		return 0;
	while (next_addr(&p, &e) == 1)
		if (e.family == a.family &&
		    memcmp(e.b, a.b, a.family == AF_INET ? 4 : 16) == 0)
			return 1;
	if (peerlen > 0 && inet_ntop(a.family, a.b, peer,
	    (socklen_t)peerlen) == NULL)
		peer[0] = '\0';
	return 0;
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
