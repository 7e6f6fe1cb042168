/* The FastCGI listening socket: bound safely (never over a live server), or inherited on fd 0. */
#ifndef SOCK_H
#define SOCK_H

#include <stddef.h>

/*
 * Bind and listen on addr: a unix socket path (anything containing '/' or
 * no ':'), or host:port / [v6]:port for TCP. For a unix path, a live
 * server answering on it is refused ("already in use"); a stale socket
 * file is replaced; any other kind of file is left alone and refused.
 * The socket gets mode, and user/group when non-empty. Returns the
 * listening descriptor (owned by the caller), or -1 with a message in err.
 */
int	sock_listen(const char *addr, long mode, const char *user,
	    const char *group, int backlog, char *err, size_t errlen);

/* 1 when fd is a listening stream socket (SO_ACCEPTCONN), else 0. */
int	sock_is_listening(int fd);

/* 1 when addr names a unix socket path rather than host:port. */
int	sock_is_unix(const char *addr);

#endif
