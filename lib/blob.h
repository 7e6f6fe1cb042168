/* Content-addressed files on disk: written atomically, never overwritten, shared by identical uploads. */
#ifndef BLOB_H
#define BLOB_H

#include <stddef.h>

/*
 * Write n bytes to root/rel unless that file exists: into a temporary file
 * in the same folder, fsync'd, then linked into place (link(2) never
 * replaces an existing name) and the folder fsync'd. Missing folders of
 * rel are made. Returns 1 when the file was created, 0 when it already
 * existed (identical content, by construction of the names), -1 on error
 * with errno set and no file left behind.
 */
int	blob_put(const char *root, const char *rel, const void *p, size_t n);

/* Remove root/rel. Returns 0, or -1 with errno set. */
int	blob_remove(const char *root, const char *rel);

#endif
