/* Content-addressed files on disk: written atomically, never overwritten, shared by identical uploads. */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "blob.h"

/*
 * On a GlusterFS replica-3 mount, two hosts creating the same name at the
 * same moment (a new fan-out folder, the same blob) now and then get EIO,
 * ESTALE or ENOTCONN from a call that succeeds when made again a moment
 * later (docs/research/cluster-lab/FINDINGS.md: 1 in 3600 racing stores
 * with favorite-child-policy majority). Such a call gets 3 tries in all,
 * after pauses of 20 and then 100 ms: the first lets the other host's
 * create settle, the second gives a slower one more time. No more than
 * that, because the caller holds a database transaction and the image's
 * lock meanwhile, and a lasting failure (a dead FUSE client answers
 * ENOTCONN to everything) should reach the client as an error rather than
 * hold a worker; a storage host going away shows as a stall of up to
 * network.ping-timeout, not as these errors, so it needs no retry here.
 */
static const long	 retry_ms[] = { 20, 100 };

/*
 * After a failed call: pause and return 1 if errno is one of the errors
 * above and *tries (counting from 0) leaves another try, else return 0.
 * errno is kept either way.
 */
static int
retry(size_t *tries)
{
	struct timespec	 ts;
	int		 e = errno;

	if ((e != EIO && e != ESTALE && e != ENOTCONN) ||
	    *tries >= sizeof(retry_ms) / sizeof(retry_ms[0]))
		return 0;
	ts.tv_sec = 0;
	ts.tv_nsec = retry_ms[(*tries)++] * 1000000;
	(void)nanosleep(&ts, NULL);
	errno = e;
	return 1;
}

/*
 * Make every missing folder of path (up to its last '/'). EEXIST, also
 * after a retry (an earlier try or another host made it), is success.
 */
static int
make_dirs(char *path)
{
	char	*s;
	size_t	 tries;

	for (s = strchr(path + 1, '/'); s != NULL; s = strchr(s + 1, '/')) {
		*s = '\0';
		tries = 0;
		while (mkdir(path, 0755) == -1 && errno != EEXIST) {
			if (!retry(&tries)) {
				*s = '/';
				return -1;
			}
		}
		*s = '/';
	}
	return 0;
}

static int
sync_dir(const char *file)
{
	char	 dir[PATH_MAX], *slash;
	int	 fd, rc;

	snprintf(dir, sizeof(dir), "%s", file);
	if ((slash = strrchr(dir, '/')) == NULL)
		return 0;
	*slash = '\0';
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

int
blob_put(const char *root, const char *rel, const void *p, size_t n)
{
	char		 path[PATH_MAX], tmp[PATH_MAX], *slash;
	const char	*c = p;
	ssize_t		 w;
	size_t		 tries;
	int		 fd, saved, rc = -1;

	if (snprintf(path, sizeof(path), "%s/%s", root, rel) >=
	    (int)sizeof(path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if (access(path, F_OK) == 0)
		return 0;
	if (make_dirs(path) == -1)
		return -1;
	snprintf(tmp, sizeof(tmp), "%s", path);
	slash = strrchr(tmp, '/');
	snprintf(slash + 1, sizeof(tmp) - (size_t)(slash + 1 - tmp),
	    ".tmp-XXXXXX");
	if ((fd = mkostemp(tmp, O_CLOEXEC)) == -1)
		return -1;
	while (n > 0) {
		w = write(fd, c, n);
		if (w == -1 && errno == EINTR)
			continue;
		if (w <= 0) {
			if (w == 0)
				errno = ENOSPC;
			goto fail;
		}
		c += w;
		n -= (size_t)w;
	}
	if (fchmod(fd, 0644) == -1 || fsync(fd) == -1)
		goto fail;
	if (close(fd) == -1) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	/*
	 * EEXIST means someone stored it meanwhile or, after a retry, maybe
	 * our own earlier try, which took effect though it reported an error.
	 * Either way the file holds these bytes; reporting 0 at worst leaves
	 * it unreferenced after a rollback, never removes another upload's.
	 */
	tries = 0;
	while ((rc = link(tmp, path)) == -1 && errno != EEXIST) {
		if (!retry(&tries))
			goto fail;
	}
	rc = rc == 0;		/* 1: made by this call, 0: EEXIST */
	unlink(tmp);
	if (rc == 1 && sync_dir(path) == -1) {
		saved = errno;
		unlink(path);
		errno = saved;
		return -1;
	}
	return rc;
fail:
	saved = errno;
	if (fd != -1)
		close(fd);
	unlink(tmp);
	errno = saved;
	return -1;
}

int
blob_remove(const char *root, const char *rel)
{
	char	 path[PATH_MAX];

	if (snprintf(path, sizeof(path), "%s/%s", root, rel) >=
	    (int)sizeof(path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return unlink(path);
}
