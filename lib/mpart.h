/* A streaming multipart/form-data parser that keeps only the uploaded file. */
#ifndef MPART_H
#define MPART_H

#include <stddef.h>

#include "app.h"

/*
 * The body (RFC 7578 over RFC 2046) is fed in chunks of any size as it is
 * read; a boundary or header may be split anywhere. Rules:
 *
 * - The Content-Type must be multipart/form-data (case-insensitive) with
 *   exactly one boundary parameter, token or quoted-string, 1 to
 *   MPART_BOUNDARY_MAX characters from RFC 2046's bchars (letters, digits,
 *   space and '()+_,-./:=?), not ending in a space. An unquoted value is
 *   any run of visible ASCII other than ; " and backslash.
 * - Bytes before the first delimiter (preamble) and after the closing one
 *   (epilogue) are ignored. A delimiter is CRLF "--" boundary at the start
 *   of a line (the body's first line counts); it must be followed by
 *   spaces or tabs and CRLF (a part follows), or by "--" (the end). Any
 *   other byte after the boundary is refused, so data must never contain
 *   CRLF "--" boundary, as RFC 2046 requires. Lines end in CRLF only.
 * - At least one and at most MPART_PARTS_MAX parts. A part's header block
 *   (its header lines and the empty line that ends them) is at most
 *   MPART_HDR_MAX bytes. Header names are case-insensitive; only the first
 *   Content-Disposition is read, all other headers are ignored.
 * - Content-Disposition is type *( ";" name "=" value ), spaces and tabs
 *   allowed around ";" and "=", names case-insensitive, values a token or
 *   a quoted-string with backslash escapes and no control characters
 *   but tab. A malformed one, or a repeated name or filename parameter,
 *   refuses the body. filename* (RFC 5987) and other parameters are
 *   ignored. A part that is not "form-data" or has no name is skipped.
 * - The file is the first part named "image", or else the first named
 *   "file": an "image" part replaces a "file" part taken before it, even
 *   when the image is empty (then the body is refused). Only that part's
 *   bytes are kept; the bytes of other parts are discarded.
 * - The kept part may hold at most max_file bytes. Its buffer grows with
 *   the data (never allocated at max_file up front) and an allocation that
 *   fails refuses the body like an oversized one.
 */

#define MPART_BOUNDARY_MAX	70
#define MPART_HDR_MAX		8192
#define MPART_PARTS_MAX		32

struct mpart;

/*
 * A parser for a body sent with the Content-Type value content_type
 * (borrowed, only read during the call). max_file caps the kept file part
 * in bytes. Returns new (free with mpart_free), or NULL when content_type
 * is NULL, not multipart/form-data or has no usable boundary: then
 * mpart_error(NULL) is APP_E_MEDIA_TYPE.
 */
struct mpart	*mpart_new(const char *content_type, size_t max_file);

/* Release mp and everything it holds. NULL is a no-op. */
void		 mpart_free(struct mpart *mp);

/*
 * Feed the next n bytes of the body (borrowed, only read during the call).
 * Returns 0, or -1 once the body is malformed or over a limit (mpart_error
 * says which); every feed after a -1, or after mpart_finish, returns -1.
 */
int		 mpart_feed(struct mpart *mp, const char *p, size_t n);

/*
 * The body has ended. Returns 0 when the closing delimiter was seen and a
 * non-empty file part was kept, else -1 (mpart_error says why). Calling it
 * again returns the same.
 */
int		 mpart_finish(struct mpart *mp);

/*
 * Why the body was refused, APP_OK when it was not (yet):
 * APP_E_MEDIA_TYPE	mp is NULL (mpart_new refused the Content-Type);
 * APP_E_TOO_LARGE	the file part is over max_file or could not be
 *			stored;
 * APP_E_MISSING_FIELD	well-formed, but no "image" or "file" part, or the
 *			one kept is empty;
 * APP_E_INVALID_IMAGE	malformed multipart: no delimiter, bytes after a
 *			boundary, no part, a header block over the limit,
 *			a malformed Content-Disposition, too many parts, or
 *			a body that ends before its closing delimiter.
 */
enum app_err	 mpart_error(const struct mpart *mp);

/*
 * A short human-readable reason for the refusal; static, never holds
 * client bytes; "" when there is none. mp may be NULL as for mpart_error.
 */
const char	*mpart_reason(const struct mpart *mp);

/*
 * After mpart_finish returned 0: the file bytes, their count in *len;
 * borrowed, valid until mpart_free. NULL with *len 0 before that.
 */
const unsigned char *mpart_file(const struct mpart *mp, size_t *len);

/*
 * After mpart_finish returned 0: the kept part's filename parameter as sent
 * (unescaped, NUL-terminated, "" when there was none; no control bytes
 * but tab, and bytes from 0x80 up need not be UTF-8); borrowed, valid
 * until mpart_free. Client text: never use it as a path. "" before that.
 */
const char	*mpart_filename(const struct mpart *mp);

/* After mpart_finish returned 0: "image" or "file"; static. "" before. */
const char	*mpart_field(const struct mpart *mp);

#endif
