/* Scratch directories for unit tests: made under /tmp, removed with everything in them. */
#ifndef SCRATCH_H
#define SCRATCH_H

#include <stddef.h>

/*
 * Make a fresh directory /tmp/appd-test-NAME-XXXXXX and write its path
 * into dir (size bytes, the caller's). Returns 0, or -1 with errno set.
 */
int	 scratch_make(char *dir, size_t size, const char *name);

/*
 * Remove dir and everything in it, depth first, never following a
 * symlink out of it. Returns 0, or -1 with errno set.
 */
int	 scratch_remove(const char *dir);

#endif
