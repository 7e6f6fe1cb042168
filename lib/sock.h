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

/*
 * Peer allow-lists for TCP: list is IP address literals (IPv4 or IPv6)
 * separated by commas, spaces allowed around them.
 *
 * sock_allow_check: 0 when list is well formed (an empty list is), else -1
 * with a message in err.
 * sock_open_to_network: 1 when the listening socket fd is TCP bound to an
 * address other than loopback (so a peer from another host can connect),
 * else 0.
 * sock_peer_allowed: 1 when connected socket fd may be served: a unix
 * socket, an empty list, or a TCP peer whose address is in list (an IPv4
 * peer reaching an IPv6 socket as ::ffff:a.b.c.d matches a.b.c.d); else 0,
 * with the peer's address written to peer (peerlen bytes) for the log.
 */
int	sock_allow_check(const char *list, char *err, size_t errlen);
int	sock_open_to_network(int fd);
int	sock_peer_allowed(int fd, const char *list, char *peer,
	    size_t peerlen);

#endif
