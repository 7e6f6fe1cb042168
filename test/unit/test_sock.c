/* Unit tests for lib/sock.c: safe unix socket binding, TCP listening, and the listening-socket probe. */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "sock.h"
#include "scratch.h"

/* The per-test scratch directory (mkdtemp under /tmp). */
struct scratch {
	char	 dir[64];
	char	 path[256];	/* dir + "/appd.sock" */
};

static int
setup(void **state)
{
	struct scratch	*s;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return -1;
	if (scratch_make(s->dir, sizeof(s->dir), "sock") == -1) {
		free(s);
		return -1;
	}
	snprintf(s->path, sizeof(s->path), "%s/appd.sock", s->dir);
	*state = s;
	return 0;
}

static int
teardown(void **state)
{
	struct scratch	*s = *state;
	int		 rc;

	rc = scratch_remove(s->dir);
	free(s);
	return rc == 0 ? 0 : -1;
}

/* Whether a client can connect to the unix socket at path. */
static int
can_connect(const char *path)
{
	struct sockaddr_un	 sun;
	int			 fd, rc;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	rc = connect(fd, (struct sockaddr *)&sun, sizeof(sun));
	close(fd);
	return rc == 0;
}

static void
test_is_unix(void **state)
{
	static const struct {
		const char	*addr;
		int		 unix;
	} cases[] = {
		{ "/tmp/x.sock", 1 },
		{ "x.sock", 1 },
		{ "var/run/appd.sock", 1 },
		{ "./a:b.sock", 1 },
		{ "127.0.0.1:9000", 0 },
		{ "[::1]:9000", 0 },
		{ "localhost:9000", 0 },
		{ ":9000", 0 },
	};
	size_t	 i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (sock_is_unix(cases[i].addr) != cases[i].unix)
			fail_msg("sock_is_unix(\"%s\") != %d", cases[i].addr,
			    cases[i].unix);
}

static void
test_unix_modes(void **state)
{
	static const long modes[] = { 0660, 0600, 0666, 0700, 0 };
	struct scratch	*s = *state;
	struct stat	 st;
	char		 err[256];
	size_t		 i;
	int		 fd;

	for (i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		fd = sock_listen(s->path, modes[i], "", "", 16, err,
		    sizeof(err));
		if (fd < 0)
			fail_msg("sock_listen %s: %s", s->path, err);
		assert_int_equal(sock_is_listening(fd), 1);
		assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
		assert_int_equal(lstat(s->path, &st), 0);
		assert_true(S_ISSOCK(st.st_mode));
		if ((long)(st.st_mode & 0777) != modes[i])
			fail_msg("mode %04o, want %04lo",
			    (unsigned)(st.st_mode & 0777), modes[i]);
		if (modes[i] != 0 || geteuid() == 0)
			assert_true(can_connect(s->path));
		close(fd);
		/* What is left is a stale socket the next round replaces. */
	}
}

static void
test_unix_in_use_and_stale(void **state)
{
	struct scratch	*s = *state;
	struct stat	 st, st2;
	char		 err[256];
	int		 fd, fd2;

	fd = sock_listen(s->path, 0660, NULL, NULL, 16, err, sizeof(err));
	if (fd < 0)
		fail_msg("sock_listen %s: %s", s->path, err);
	assert_int_equal(lstat(s->path, &st), 0);

	/* A live server is never bound over. */
	err[0] = '\0';
	assert_int_equal(sock_listen(s->path, 0660, "", "", 16, err,
	    sizeof(err)), -1);
	if (strstr(err, "already in use") == NULL)
		fail_msg("message '%s'", err);
	assert_int_equal(lstat(s->path, &st2), 0);
	assert_int_equal(st.st_ino, st2.st_ino);
	assert_true(can_connect(s->path));
	assert_int_equal(sock_is_listening(fd), 1);

	/* Once it is gone the file is stale and is replaced. */
	close(fd);
	assert_int_equal(lstat(s->path, &st2), 0);
	assert_true(S_ISSOCK(st2.st_mode));
	assert_false(can_connect(s->path));
	fd2 = sock_listen(s->path, 0600, "", "", 16, err, sizeof(err));
	if (fd2 < 0)
		fail_msg("stale socket not replaced: %s", err);
	assert_int_equal(sock_is_listening(fd2), 1);
	assert_int_equal(lstat(s->path, &st2), 0);
	assert_int_equal(st2.st_mode & 0777, 0600);
	assert_true(can_connect(s->path));
	close(fd2);
}

static void
test_unix_not_a_socket(void **state)
{
	struct scratch	*s = *state;
	struct stat	 st;
	char		 err[256], target[300], got[32];
	FILE		*f;
	ssize_t		 n;
	int		 fd;

	/* A regular file. */
	f = fopen(s->path, "w");
	assert_non_null(f);
	fputs("keep me\n", f);
	assert_int_equal(fclose(f), 0);
	err[0] = '\0';
	assert_int_equal(sock_listen(s->path, 0660, "", "", 16, err,
	    sizeof(err)), -1);
	if (strstr(err, "not a socket") == NULL)
		fail_msg("message '%s'", err);
	assert_int_equal(lstat(s->path, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_size, 8);
	fd = open(s->path, O_RDONLY);
	assert_true(fd >= 0);
	n = read(fd, got, sizeof(got));
	close(fd);
	assert_int_equal(n, 8);
	assert_memory_equal(got, "keep me\n", 8);
	assert_int_equal(unlink(s->path), 0);

	/* A directory. */
	assert_int_equal(mkdir(s->path, 0700), 0);
	err[0] = '\0';
	assert_int_equal(sock_listen(s->path, 0660, "", "", 16, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "not a socket"));
	assert_int_equal(lstat(s->path, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(rmdir(s->path), 0);

	/* A symlink, even to a stale socket, is not followed or removed. */
	snprintf(target, sizeof(target), "%s/target", s->dir);
	fd = sock_listen(target, 0660, "", "", 16, err, sizeof(err));
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(symlink(target, s->path), 0);
	err[0] = '\0';
	assert_int_equal(sock_listen(s->path, 0660, "", "", 16, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "not a socket"));
	assert_int_equal(lstat(s->path, &st), 0);
	assert_true(S_ISLNK(st.st_mode));
	assert_int_equal(lstat(target, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
}

static void
test_unix_path_length(void **state)
{
	struct scratch		*s = *state;
	struct sockaddr_un	 sun;
	struct stat		 st;
	char			 path[sizeof(sun.sun_path) + 16], err[512];
	size_t			 len, dlen = strlen(s->dir);
	int			 fd;

	/* The longest path that fits sun_path with its NUL is taken. */
	len = sizeof(sun.sun_path) - 1;
	assert_true(dlen + 2 < len);
	memset(path, 'a', len);
	memcpy(path, s->dir, dlen);
	path[dlen] = '/';
	path[len] = '\0';
	fd = sock_listen(path, 0660, "", "", 16, err, sizeof(err));
	if (fd < 0)
		fail_msg("%zu-byte path refused: %s", len, err);
	assert_int_equal(sock_is_listening(fd), 1);
	close(fd);
	assert_int_equal(unlink(path), 0);

	/* One more byte does not fit, and nothing is created. */
	len = sizeof(sun.sun_path);
	memset(path, 'b', len);
	memcpy(path, s->dir, dlen);
	path[dlen] = '/';
	path[len] = '\0';
	err[0] = '\0';
	assert_int_equal(sock_listen(path, 0660, "", "", 16, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "too long"));
	assert_int_equal(lstat(path, &st), -1);
	assert_int_equal(errno, ENOENT);
	/* Nor can any prefix of it have been bound. */
	path[sizeof(sun.sun_path) - 1] = '\0';
	assert_int_equal(lstat(path, &st), -1);
}

static void
test_unix_owner(void **state)
{
	struct scratch	*s = *state;
	struct group	*gr;
	struct stat	 st;
	char		 err[256], grname[64];
	int		 fd;

	/* An unknown group or user fails and leaves no socket file. */
	err[0] = '\0';
	assert_int_equal(sock_listen(s->path, 0660, "",
	    "appd-no-such-group", 16, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "appd-no-such-group"));
	assert_int_equal(lstat(s->path, &st), -1);
	err[0] = '\0';
	assert_int_equal(sock_listen(s->path, 0660, "appd-no-such-user", "",
	    16, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "appd-no-such-user"));
	assert_int_equal(lstat(s->path, &st), -1);

	/* Also when it replaced a stale socket first. */
	fd = sock_listen(s->path, 0660, "", "", 16, err, sizeof(err));
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(sock_listen(s->path, 0660, "",
	    "appd-no-such-group", 16, err, sizeof(err)), -1);
	assert_int_equal(lstat(s->path, &st), -1);

	/* Our own group is always allowed. */
	gr = getgrgid(getegid());
	if (gr == NULL) {
		skip();
		return;
	}
	snprintf(grname, sizeof(grname), "%s", gr->gr_name);
	fd = sock_listen(s->path, 0640, "", grname, 16, err, sizeof(err));
	if (fd < 0)
		fail_msg("group %s: %s", grname, err);
	assert_int_equal(lstat(s->path, &st), 0);
	assert_int_equal(st.st_gid, getegid());
	assert_int_equal(st.st_mode & 0777, 0640);
	close(fd);
}

/* Whether ::1 can be bound here (IPv6 may be disabled). */
static int
have_ipv6(void)
{
	struct sockaddr_in6	 sin6;
	int			 fd, ok;

	if ((fd = socket(AF_INET6, SOCK_STREAM, 0)) == -1)
		return 0;
	memset(&sin6, 0, sizeof(sin6));
	sin6.sin6_family = AF_INET6;
	sin6.sin6_addr = in6addr_loopback;
	ok = bind(fd, (struct sockaddr *)&sin6, sizeof(sin6)) == 0;
	close(fd);
	return ok;
}

static void
test_tcp(void **state)
{
	static const struct {
		const char	*addr;
		int		 family;
	} good[] = {
		{ "127.0.0.1:0", AF_INET },
		{ "0.0.0.0:0", AF_INET },
		{ "localhost:0", AF_UNSPEC },
		{ ":0", AF_UNSPEC },
	};
	struct sockaddr_storage	 ss;
	socklen_t		 len;
	char			 err[256];
	size_t			 i;
	int			 fd;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		fd = sock_listen(good[i].addr, 0660, "", "", 16, err,
		    sizeof(err));
		if (fd < 0)
			fail_msg("sock_listen(\"%s\"): %s", good[i].addr, err);
		assert_int_equal(sock_is_listening(fd), 1);
		len = sizeof(ss);
		assert_int_equal(getsockname(fd, (struct sockaddr *)&ss,
		    &len), 0);
		if (good[i].family != AF_UNSPEC)
			assert_int_equal(ss.ss_family, good[i].family);
		close(fd);
	}
}

static void
test_tcp_ipv6(void **state)
{
	struct sockaddr_storage	 ss;
	socklen_t		 len = sizeof(ss);
	char			 err[256];
	int			 fd;

	(void)state;
	if (!have_ipv6()) {
		skip();
		return;
	}
	fd = sock_listen("[::1]:0", 0660, "", "", 16, err, sizeof(err));
	if (fd < 0)
		fail_msg("sock_listen(\"[::1]:0\"): %s", err);
	assert_int_equal(sock_is_listening(fd), 1);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&ss, &len), 0);
	assert_int_equal(ss.ss_family, AF_INET6);
	close(fd);
}

/* Connect to listening fd and accept: the accepted end, or -1. */
static int
connect_pair(int lfd, int *cfd)
{
	struct sockaddr_storage	 ss;
	socklen_t		 len = sizeof(ss);

	if (getsockname(lfd, (struct sockaddr *)&ss, &len) == -1)
		return -1;
	if ((*cfd = socket(ss.ss_family, SOCK_STREAM, 0)) == -1)
		return -1;
	if (connect(*cfd, (struct sockaddr *)&ss, len) == -1)
		return -1;
	return accept(lfd, NULL, NULL);
}

static void
test_allow_list_syntax(void **state)
{
	static const char *const good[] = {
		"", "10.77.0.2", "10.77.0.2,10.77.0.3", " 10.77.0.2 , ::1 ",
		"2001:db8::1,,127.0.0.1",
	};
	static const char *const bad[] = {
		"front", "10.77.0.0/24", "10.77.0.256", "10.77.0.2;10.77.0.3",
		"10.77.0.2,*", "::1,[::1]",
	};
	char	 err[128];
	size_t	 i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		if (sock_allow_check(good[i], err, sizeof(err)) != 0)
			fail_msg("\"%s\" refused: %s", good[i], err);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		if (sock_allow_check(bad[i], err, sizeof(err)) != -1)
			fail_msg("\"%s\" accepted", bad[i]);
		assert_non_null(strstr(err, "not an IP address"));
	}
}

static void
test_allow_list_peers(void **state)
{
	char	 err[256], peer[64];
	int	 lfd, afd, cfd = -1;

	(void)state;
	lfd = sock_listen("127.0.0.1:0", 0660, "", "", 16, err, sizeof(err));
	assert_true(lfd >= 0);
	assert_int_equal(sock_open_to_network(lfd), 0);
	assert_true((afd = connect_pair(lfd, &cfd)) >= 0);
	assert_int_equal(sock_peer_allowed(afd, "", peer, sizeof(peer)), 1);
	assert_int_equal(sock_peer_allowed(afd, "10.0.0.1, 127.0.0.1", peer,
	    sizeof(peer)), 1);
	assert_int_equal(sock_peer_allowed(afd, "127.0.0.2,::1", peer,
	    sizeof(peer)), 0);
	assert_string_equal(peer, "127.0.0.1");
	close(afd);
	close(cfd);
	close(lfd);

	lfd = sock_listen("0.0.0.0:0", 0660, "", "", 16, err, sizeof(err));
	assert_true(lfd >= 0);
	assert_int_equal(sock_open_to_network(lfd), 1);
	close(lfd);

	/* Unix sockets are the file system's business, not the list's. */
	lfd = sock_listen("/tmp/appd-test-allow.sock", 0600, "", "", 16, err,
	    sizeof(err));
	assert_true(lfd >= 0);
	assert_int_equal(sock_open_to_network(lfd), 0);
	{
		struct sockaddr_un	 sun;

		memset(&sun, 0, sizeof(sun));
		sun.sun_family = AF_UNIX;
		strcpy(sun.sun_path, "/tmp/appd-test-allow.sock");
		assert_true((cfd = socket(AF_UNIX, SOCK_STREAM, 0)) >= 0);
		assert_int_equal(connect(cfd, (struct sockaddr *)&sun,
		    sizeof(sun)), 0);
		assert_true((afd = accept(lfd, NULL, NULL)) >= 0);
		assert_int_equal(sock_peer_allowed(afd, "10.0.0.1", peer,
		    sizeof(peer)), 1);
		close(afd);
		close(cfd);
	}
	close(lfd);
	unlink("/tmp/appd-test-allow.sock");

	if (!have_ipv6())
		return;
	lfd = sock_listen("[::1]:0", 0660, "", "", 16, err, sizeof(err));
	assert_true(lfd >= 0);
	assert_int_equal(sock_open_to_network(lfd), 0);
	assert_true((afd = connect_pair(lfd, &cfd)) >= 0);
	assert_int_equal(sock_peer_allowed(afd, "::1", peer, sizeof(peer)),
	    1);
	assert_int_equal(sock_peer_allowed(afd, "127.0.0.1", peer,
	    sizeof(peer)), 0);
	assert_string_equal(peer, "::1");
	close(afd);
	close(cfd);
	close(lfd);
	/* An IPv4 peer on a dual-stack socket matches its IPv4 entry. */
	lfd = sock_listen("[::]:0", 0660, "", "", 16, err, sizeof(err));
	assert_true(lfd >= 0);
	assert_int_equal(sock_open_to_network(lfd), 1);
	{
		struct sockaddr_in6	 s6;
		struct sockaddr_in	 s4;
		socklen_t		 len = sizeof(s6);

		assert_int_equal(getsockname(lfd, (struct sockaddr *)&s6,
		    &len), 0);
		memset(&s4, 0, sizeof(s4));
		s4.sin_family = AF_INET;
		s4.sin_port = s6.sin6_port;
		s4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		assert_true((cfd = socket(AF_INET, SOCK_STREAM, 0)) >= 0);
		if (connect(cfd, (struct sockaddr *)&s4, sizeof(s4)) == 0) {
			assert_true((afd = accept(lfd, NULL, NULL)) >= 0);
			assert_int_equal(sock_peer_allowed(afd, "127.0.0.1",
			    peer, sizeof(peer)), 1);
			close(afd);
		}
		close(cfd);
	}
	close(lfd);
}

static void
test_tcp_bad(void **state)
{
	static const char *const bad[] = {
		"127.0.0.1:", "localhost:", "[::1]:", "[::1:0", "::1]:0",
		"127.0.0.1:http", "127.0.0.1:-1", "999.1.1.1:0",
		"127.0.0.1:0:0",
	};
	char	 err[256];
	size_t	 i;
	int	 fd;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		if ((fd = sock_listen(bad[i], 0660, "", "", 16, err,
		    sizeof(err))) != -1) {
			close(fd);
			fail_msg("sock_listen(\"%s\") succeeded", bad[i]);
		}
		if (err[0] == '\0')
			fail_msg("sock_listen(\"%s\"): no message", bad[i]);
	}
}

static void
test_tcp_in_use(void **state)
{
	struct sockaddr_in	 sin;
	socklen_t		 len = sizeof(sin);
	char			 addr[64], err[256];
	int			 fd;

	(void)state;
	fd = sock_listen("127.0.0.1:0", 0660, "", "", 16, err, sizeof(err));
	assert_true(fd >= 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	snprintf(addr, sizeof(addr), "127.0.0.1:%u", ntohs(sin.sin_port));
	err[0] = '\0';
	assert_int_equal(sock_listen(addr, 0660, "", "", 16, err,
	    sizeof(err)), -1);
	assert_true(err[0] != '\0');
	close(fd);
}

static void
test_is_listening(void **state)
{
	struct scratch	*s = *state;
	char		 err[256];
	int		 p[2], sv[2], fd;

	/* A pipe, unbound, connected and datagram sockets are not. */
	assert_int_equal(pipe(p), 0);
	assert_int_equal(sock_is_listening(p[0]), 0);
	assert_int_equal(sock_is_listening(p[1]), 0);
	close(p[0]);
	close(p[1]);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	assert_int_equal(sock_is_listening(fd), 0);
	close(fd);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	assert_int_equal(sock_is_listening(fd), 0);
	close(fd);
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	assert_true(fd >= 0);
	assert_int_equal(sock_is_listening(fd), 0);
	close(fd);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(sock_is_listening(sv[0]), 0);
	close(sv[0]);
	close(sv[1]);
	fd = open("/dev/null", O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(sock_is_listening(fd), 0);
	close(fd);
	assert_int_equal(sock_is_listening(-1), 0);

	/* A listening one is, on the very descriptor sock_listen gave. */
	fd = sock_listen(s->path, 0660, "", "", 16, err, sizeof(err));
	assert_true(fd >= 0);
	assert_int_equal(sock_is_listening(fd), 1);
	close(fd);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_is_unix),
		cmocka_unit_test_setup_teardown(test_unix_modes, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_unix_in_use_and_stale,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_unix_not_a_socket, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_unix_path_length, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_unix_owner, setup,
		    teardown),
		cmocka_unit_test(test_tcp),
		cmocka_unit_test(test_allow_list_syntax),
		cmocka_unit_test(test_allow_list_peers),
		cmocka_unit_test(test_tcp_ipv6),
		cmocka_unit_test(test_tcp_bad),
		cmocka_unit_test(test_tcp_in_use),
		cmocka_unit_test_setup_teardown(test_is_listening, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
