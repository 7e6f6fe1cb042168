/* Unit tests for lib/blob.c: storing, sharing and removing files, and retrying GlusterFS's transient errors. */
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "blob.h"
#include "scratch.h"

/*
 * Failures injected into link(2) and mkdir(2): this program alone is linked
 * with -Wl,--wrap=link,--wrap=mkdir (Makefile), so every call lib/blob.c
 * makes goes through __wrap_* below. Only calls on path (link's new name,
 * mkdir's folder) are counted and may fail: the next `fail` of them fail
 * with err, and when `done` is set the call takes effect first, as a
 * GlusterFS create can that still reports an error.
 */
struct inject {
	char	 path[PATH_MAX];
	int	 fail;
	int	 err;
	int	 done;
	int	 calls;
};

static struct inject	 inj_link, inj_mkdir;

int	__real_link(const char *, const char *);
int	__wrap_link(const char *, const char *);
int	__real_mkdir(const char *, mode_t);
int	__wrap_mkdir(const char *, mode_t);

/* Whether this call on path is to fail. */
static int
injected(struct inject *in, const char *path)
{
	if (strcmp(path, in->path) != 0)
		return 0;
	in->calls++;
	if (in->fail == 0)
		return 0;
	in->fail--;
	return 1;
}

int
__wrap_link(const char *from, const char *to)
{
	if (!injected(&inj_link, to))
		return __real_link(from, to);
	if (inj_link.done)
		(void)__real_link(from, to);
	errno = inj_link.err;
	return -1;
}

int
__wrap_mkdir(const char *path, mode_t mode)
{
	if (!injected(&inj_mkdir, path))
		return __real_mkdir(path, mode);
	if (inj_mkdir.done)
		(void)__real_mkdir(path, mode);
	errno = inj_mkdir.err;
	return -1;
}

/* The per-test scratch directory (mkdtemp under /tmp). */
struct scratch {
	char	 dir[64];
};

static int
setup(void **state)
{
	struct scratch	*s;

	memset(&inj_link, 0, sizeof(inj_link));
	memset(&inj_mkdir, 0, sizeof(inj_mkdir));
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return -1;
	if (scratch_make(s->dir, sizeof(s->dir), "blob") == -1) {
		free(s);
		return -1;
	}
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

static int	 ntmp;

static int
count_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	if (strncmp(path + ftw->base, ".tmp-", 5) == 0)
		ntmp++;
	return 0;
}

/* How many of blob_put's temporary files are left anywhere under dir. */
static int
count_tmp(const char *dir)
{
	ntmp = 0;
	assert_int_equal(nftw(dir, count_entry, 8, FTW_PHYS), 0);
	return ntmp;
}

/* Assert that root/rel holds exactly the n bytes at p, mode 0644. */
static void
assert_file(const char *root, const char *rel, const char *p, size_t n)
{
	char		 path[PATH_MAX], got[256];
	struct stat	 st;
	ssize_t		 r;
	int		 fd;

	assert_true(n < sizeof(got));
	snprintf(path, sizeof(path), "%s/%s", root, rel);
	assert_int_equal(stat(path, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0644);
	assert_int_equal(st.st_nlink, 1);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	r = read(fd, got, sizeof(got));
	close(fd);
	assert_int_equal(r, n);
	assert_memory_equal(got, p, n);
}

static int
exists(const char *root, const char *rel)
{
	char		 path[PATH_MAX];
	struct stat	 st;

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	return lstat(path, &st) == 0;
}

static double
now_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

static void
test_store(void **state)
{
	struct scratch	*s = *state;
	struct stat	 st;
	char		 path[PATH_MAX];

	assert_int_equal(blob_put(s->dir, "ab/cd/abcd.png", "hello", 5), 1);
	assert_file(s->dir, "ab/cd/abcd.png", "hello", 5);
	/* The fan-out folders were made. */
	snprintf(path, sizeof(path), "%s/ab/cd", s->dir);
	assert_int_equal(stat(path, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	/* A second name in an existing folder, and an empty file. */
	assert_int_equal(blob_put(s->dir, "ab/cd/abce.png", "", 0), 1);
	assert_file(s->dir, "ab/cd/abce.png", "", 0);
	assert_int_equal(blob_put(s->dir, "top.png", "x", 1), 1);
	assert_file(s->dir, "top.png", "x", 1);
	assert_int_equal(count_tmp(s->dir), 0);
}

static void
test_dedup(void **state)
{
	struct scratch	*s = *state;

	assert_int_equal(blob_put(s->dir, "ab/cd/same", "first", 5), 1);
	/* Found before writing: 0, and the file is never overwritten. */
	assert_int_equal(blob_put(s->dir, "ab/cd/same", "other", 5), 0);
	assert_file(s->dir, "ab/cd/same", "first", 5);

	/*
	 * Another host links the same name between the check and our link:
	 * link says EEXIST, not retried, and counts as already there.
	 */
	snprintf(inj_link.path, sizeof(inj_link.path), "%s/ab/cd/race", s->dir);
	inj_link.fail = 1;
	inj_link.err = EEXIST;
	inj_link.done = 1;
	assert_int_equal(blob_put(s->dir, "ab/cd/race", "bytes", 5), 0);
	assert_int_equal(inj_link.calls, 1);
	assert_file(s->dir, "ab/cd/race", "bytes", 5);
	assert_int_equal(count_tmp(s->dir), 0);
}

static void
test_remove(void **state)
{
	struct scratch	*s = *state;
	char		 rel[PATH_MAX + 8];

	assert_int_equal(blob_put(s->dir, "ab/cd/gone", "x", 1), 1);
	assert_int_equal(blob_remove(s->dir, "ab/cd/gone"), 0);
	assert_false(exists(s->dir, "ab/cd/gone"));
	errno = 0;
	assert_int_equal(blob_remove(s->dir, "ab/cd/gone"), -1);
	assert_int_equal(errno, ENOENT);
	/* Stored again after removal: created anew. */
	assert_int_equal(blob_put(s->dir, "ab/cd/gone", "y", 1), 1);
	assert_file(s->dir, "ab/cd/gone", "y", 1);

	memset(rel, 'a', sizeof(rel) - 1);
	rel[sizeof(rel) - 1] = '\0';
	errno = 0;
	assert_int_equal(blob_remove(s->dir, rel), -1);
	assert_int_equal(errno, ENAMETOOLONG);
}

static void
test_name_too_long(void **state)
{
	struct scratch	*s = *state;
	char		 rel[PATH_MAX + 8], name[NAME_MAX + 8];

	/* root/rel longer than PATH_MAX: refused before touching anything. */
	memset(rel, 'a', sizeof(rel) - 1);
	rel[sizeof(rel) - 1] = '\0';
	errno = 0;
	assert_int_equal(blob_put(s->dir, rel, "x", 1), -1);
	assert_int_equal(errno, ENAMETOOLONG);
	assert_int_equal(inj_link.calls + inj_mkdir.calls, 0);

	/*
	 * A file name longer than NAME_MAX: the temporary file (short name)
	 * is written, link fails, and the temporary file goes.
	 */
	memset(name, 'b', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	snprintf(rel, sizeof(rel), "ab/cd/%s", name);
	errno = 0;
	assert_int_equal(blob_put(s->dir, rel, "x", 1), -1);
	assert_int_equal(errno, ENAMETOOLONG);
	assert_true(exists(s->dir, "ab/cd"));
	assert_int_equal(count_tmp(s->dir), 0);

	/* A folder name longer than NAME_MAX: mkdir fails, nothing written. */
	snprintf(rel, sizeof(rel), "ab/%s/x", name);
	errno = 0;
	assert_int_equal(blob_put(s->dir, rel, "x", 1), -1);
	assert_int_equal(errno, ENAMETOOLONG);
	assert_int_equal(count_tmp(s->dir), 0);
}

static void
test_fail_no_temp(void **state)
{
	struct scratch	*s = *state;
	char		 ro[128];
	int		 rc[2], err[2];

	/* A file where a folder belongs: the temporary file cannot be made. */
	assert_int_equal(blob_put(s->dir, "ab", "file", 4), 1);
	errno = 0;
	assert_int_equal(blob_put(s->dir, "ab/cd/x", "x", 1), -1);
	assert_int_equal(errno, ENOTDIR);
	assert_int_equal(count_tmp(s->dir), 0);

	/*
	 * A read-only folder: neither a sub-folder (EACCES from mkdir, not
	 * retried) nor a temporary file can be made in it. Root may write
	 * anyway, so this part is for other users.
	 */
	if (geteuid() == 0)
		return;
	assert_int_equal(blob_put(s->dir, "ro/x", "x", 1), 1);
	snprintf(ro, sizeof(ro), "%s/ro", s->dir);
	snprintf(inj_mkdir.path, sizeof(inj_mkdir.path), "%s/cd", ro);
	assert_int_equal(chmod(ro, 0555), 0);
	rc[0] = blob_put(s->dir, "ro/cd/x", "x", 1);
	err[0] = errno;
	rc[1] = blob_put(s->dir, "ro/y", "y", 1);
	err[1] = errno;
	/* Writable again before any assertion, so teardown can remove it. */
	assert_int_equal(chmod(ro, 0755), 0);
	assert_int_equal(rc[0], -1);
	assert_int_equal(err[0], EACCES);
	assert_int_equal(inj_mkdir.calls, 1);
	assert_int_equal(rc[1], -1);
	assert_int_equal(err[1], EACCES);
	assert_false(exists(s->dir, "ro/cd"));
	assert_false(exists(s->dir, "ro/y"));
	assert_int_equal(count_tmp(s->dir), 0);
}

/*
 * One row of the retry tables: link or mkdir fails `fail` times with err
 * (taking effect first when done); blob_put then returns rc with errno
 * want_errno, having called it `calls` times.
 */
struct retry_case {
	int	 err;
	int	 fail;
	int	 done;
	int	 rc;
	int	 want_errno;
	int	 calls;
};

#define ALWAYS	1000

static const struct retry_case	 retry_cases[] = {
	/* Transient: retried, and the second or third try works. */
	{ ESTALE, 1, 0, 1, 0, 2 },
	{ EIO, 2, 0, 1, 0, 3 },
	{ ENOTCONN, 1, 0, 1, 0, 2 },
	/* The failing try took effect: EEXIST on the retry is success. */
	{ ESTALE, 1, 1, 0, 0, 2 },
	{ EIO, 2, 1, 0, 0, 3 },
	/* Transient every time: 3 tries, then its error. */
	{ EIO, ALWAYS, 0, -1, EIO, 3 },
	{ ESTALE, ALWAYS, 0, -1, ESTALE, 3 },
	{ ENOTCONN, ALWAYS, 0, -1, ENOTCONN, 3 },
	/* Anything else: not retried. */
	{ EACCES, 1, 0, -1, EACCES, 1 },
	{ ENOSPC, 1, 0, -1, ENOSPC, 1 },
	{ EROFS, 1, 0, -1, EROFS, 1 },
	{ EPERM, 1, 0, -1, EPERM, 1 },
};

static void
test_link_retry(void **state)
{
	struct scratch		*s = *state;
	const struct retry_case	*c;
	char			 root[128];
	double			 t0;
	size_t			 i;

	for (i = 0; i < sizeof(retry_cases) / sizeof(retry_cases[0]); i++) {
		c = &retry_cases[i];
		snprintf(root, sizeof(root), "%s/%zu", s->dir, i);
		memset(&inj_link, 0, sizeof(inj_link));
		snprintf(inj_link.path, sizeof(inj_link.path), "%s/ab/cd/blob",
		    root);
		inj_link.fail = c->fail;
		inj_link.err = c->err;
		inj_link.done = c->done;
		t0 = now_ms();
		errno = 0;
		assert_int_equal(blob_put(root, "ab/cd/blob", "bytes", 5),
		    c->rc);
		if (c->rc == -1)
			assert_int_equal(errno, c->want_errno);
		assert_int_equal(inj_link.calls, c->calls);
		/* The pauses: 20 ms before the second try, 100 ms more. */
		if (c->calls == 3)
			assert_true(now_ms() - t0 >= 120.0);
		if (c->rc == -1)
			assert_false(exists(root, "ab/cd/blob"));
		else
			assert_file(root, "ab/cd/blob", "bytes", 5);
		assert_int_equal(count_tmp(root), 0);
	}
}

static void
test_mkdir_retry(void **state)
{
	struct scratch		*s = *state;
	const struct retry_case	*c;
	char			 root[128];
	const char		*dir;
	size_t			 i;

	for (i = 0; i < 2 * sizeof(retry_cases) / sizeof(retry_cases[0]);
	    i++) {
		c = &retry_cases[i / 2];
		/* Each case on the first fan-out level, then on the second. */
		dir = i % 2 == 0 ? "ab" : "ab/cd";
		snprintf(root, sizeof(root), "%s/%zu", s->dir, i);
		memset(&inj_mkdir, 0, sizeof(inj_mkdir));
		snprintf(inj_mkdir.path, sizeof(inj_mkdir.path), "%s/%s", root,
		    dir);
		inj_mkdir.fail = c->fail;
		inj_mkdir.err = c->err;
		inj_mkdir.done = c->done;
		errno = 0;
		/* A folder made here or found is the same to blob_put: 1. */
		assert_int_equal(blob_put(root, "ab/cd/blob", "bytes", 5),
		    c->rc == -1 ? -1 : 1);
		if (c->rc == -1)
			assert_int_equal(errno, c->want_errno);
		assert_int_equal(inj_mkdir.calls, c->calls);
		if (c->rc == -1) {
			assert_false(exists(root, dir));
			assert_false(exists(root, "ab/cd/blob"));
		} else
			assert_file(root, "ab/cd/blob", "bytes", 5);
		assert_int_equal(count_tmp(root), 0);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_store, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dedup, setup, teardown),
		cmocka_unit_test_setup_teardown(test_remove, setup, teardown),
		cmocka_unit_test_setup_teardown(test_name_too_long, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_fail_no_temp, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_link_retry, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_mkdir_retry, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
