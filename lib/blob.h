/* Content-addressed files on disk: written atomically, never overwritten, shared by identical uploads. */
#ifndef BLOB_H
#define BLOB_H

#include <stddef.h>

/*
 * Write n bytes to root/rel unless that file exists: into a temporary file
 * in the same folder, fsync'd, then linked into place (link(2) never
 * replaces an existing name) and the folder fsync'd. Missing folders of
 * rel are made. A mkdir or link that fails with EIO, ESTALE or ENOTCONN
 * (GlusterFS, two hosts creating one name at once) is made again, 3 tries
 * in all, which may block the call for up to 120 ms more per step.
 * root, rel and p are borrowed for the call only. Returns 1 when this
 * call created the file, 0 when it already existed (identical content, by
 * construction of the names; also when an earlier try of this call made
 * it but reported an error), -1 on error with errno set (that of the last
 * try) and no file left behind, save that on GlusterFS a link that
 * reported an error may have taken effect all the same (with these bytes).
 */
int	blob_put(const char *root, const char *rel, const void *p, size_t n);

/*
 * Remove root/rel; root and rel are borrowed for the call only. Returns 0,
 * or -1 with errno set.
 */
int	blob_remove(const char *root, const char *rel);

#endif
