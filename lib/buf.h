/* A growable byte buffer for building responses and log lines without per-piece allocations. */
#ifndef BUF_H
#define BUF_H

#include <stdarg.h>
#include <stddef.h>

/*
 * data is owned by the buffer and always NUL-terminated after any append
 * (the NUL is not counted in len). Storage is provided by the caller:
 * buf_init / buf_cleanup. buf_reset keeps the allocation for reuse.
 */
struct buf {
	char	*data;
	size_t	 len;
	size_t	 cap;
};

void	buf_init(struct buf *b);
void	buf_cleanup(struct buf *b);
void	buf_reset(struct buf *b);
void	buf_append(struct buf *b, const void *p, size_t n);
void	buf_puts(struct buf *b, const char *s);
void	buf_putc(struct buf *b, char c);
void	buf_printf(struct buf *b, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
void	buf_vprintf(struct buf *b, const char *fmt, va_list ap)
	    __attribute__((format(printf, 2, 0)));

/*
 * Append s (n bytes) as the inside of a JSON string: quotes, backslashes
 * and control characters escaped; bytes that are not valid UTF-8 become
 * U+FFFD so the output is always valid JSON.
 */
void	buf_json_str(struct buf *b, const char *s, size_t n);

/*
 * Write all of b to fd (retrying after EINTR and short writes). Returns 0,
 * or -1 with errno set (ENOSPC for a write that wrote nothing).
 */
int	buf_write(const struct buf *b, int fd);

/*
 * Length of the valid UTF-8 sequence that starts at s (at most n bytes
 * available): 1 to 4, or 0 when it is not valid UTF-8 (stray continuation
 * byte, truncated, overlong, surrogate, or past U+10FFFF).
 */
size_t	buf_utf8_len(const char *s, size_t n);

/* The value of hex digit c (either case), or -1. */
int	buf_hexval(int c);

#endif
