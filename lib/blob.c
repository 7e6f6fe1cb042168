/* Content-addressed files on disk: written atomically, never overwritten, shared by identical uploads. */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "blob.h"

/* Make every missing folder of path (up to its last '/'). */
static int
make_dirs(char *path)
{
	char	*s;

	for (s = strchr(path + 1, '/'); s != NULL; s = strchr(s + 1, '/')) {
		*s = '\0';
		if (mkdir(path, 0755) == -1 && errno != EEXIST) {
			*s = '/';
			return -1;
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
	if (link(tmp, path) == -1) {
		if (errno != EEXIST)
			goto fail;
		rc = 0;			/* someone stored it meanwhile */
	} else
		rc = 1;
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
