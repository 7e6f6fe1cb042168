/* The head of a FastCGI connection (BEGIN_REQUEST and the PARAMS stream), checked before libfcgi reads it. */
#include <stdint.h>

#include "fcgihead.h"

/* FastCGI 1.0: record header and the record types met here. */
#define HDR_LEN		8
#define VERSION_1	1
#define BEGIN_REQUEST	1
#define PARAMS		4
#define BEGIN_BODY_LEN	8

/*
 * The PARAMS stream is walked pair by pair as its records arrive; a pair
 * (or its length bytes) may span records. state says what is being read.
 */
struct walk {
	int		 state;		/* 0: name length, 1: value length, 2: data */
	int		 nlen_bytes;	/* length bytes read of the current length */
	int		 wide;		/* the current length takes 4 bytes */
	uint32_t	 len;		/* the length being read */
	uint64_t	 skip;		/* data bytes of the pair still to come */
	uint32_t	 name;		/* name length of the pair */
};

/* Feed n content bytes of a PARAMS record; 0, or -1 if malformed. */
static int
walk_feed(struct walk *w, const unsigned char *p, size_t n)
{
	size_t	 take;

	while (n > 0) {
		if (w->state == 2) {
			take = w->skip < n ? (size_t)w->skip : n;
			w->skip -= take;
			p += take;
			n -= take;
			if (w->skip == 0)
				w->state = 0;
			continue;
		}
		if (w->nlen_bytes == 0) {
			w->wide = (*p & 0x80) != 0;
			w->len = *p & 0x7f;
		} else
			w->len = (w->len << 8) | *p;
		w->nlen_bytes++;
		p++;
		n--;
		if (w->wide && w->nlen_bytes < 4)
			continue;
		/* A complete length. */
		w->nlen_bytes = 0;
		if (w->state == 0) {
			w->name = w->len;
			w->state = 1;
			continue;
		}
		/*
		 * Both lengths: the pair cannot be larger than a head may be,
		 * which also keeps their sum far from overflowing an int.
		 */
		if ((uint64_t)w->name + w->len > FCGIHEAD_MAX)
			return -1;
		w->skip = (uint64_t)w->name + w->len;
		w->state = w->skip > 0 ? 2 : 0;
	}
	return 0;
}

enum fcgihead_result
fcgihead_check(const unsigned char *buf, size_t len)
{
	struct walk	 w = { 0, 0, 0, 0, 0, 0 };
	size_t		 off = 0, clen, plen;
	unsigned int	 id = 0, rid;
	int		 begun = 0;

	for (;;) {
		if (off >= FCGIHEAD_MAX)
			return FCGIHEAD_BAD;
		if (len - off < HDR_LEN)
			return len >= FCGIHEAD_MAX ? FCGIHEAD_BAD : FCGIHEAD_MORE;
		if (buf[off] != VERSION_1)
			return FCGIHEAD_BAD;
		rid = (unsigned int)buf[off + 2] << 8 | buf[off + 3];
		clen = (size_t)buf[off + 4] << 8 | buf[off + 5];
		plen = buf[off + 6];
		if (!begun) {
			if (buf[off + 1] != BEGIN_REQUEST || rid == 0 ||
			    clen != BEGIN_BODY_LEN)
				return FCGIHEAD_BAD;
			id = rid;
		} else if (buf[off + 1] != PARAMS || rid != id)
			return FCGIHEAD_BAD;
		if (off + HDR_LEN + clen + plen > FCGIHEAD_MAX)
			return FCGIHEAD_BAD;
		if (len - off - HDR_LEN < clen + plen)
			return FCGIHEAD_MORE;
		if (!begun) {
			begun = 1;
		} else if (clen == 0) {
			/* The end of PARAMS: every pair must be whole. */
			return w.state == 0 && w.nlen_bytes == 0 ?
			    FCGIHEAD_OK : FCGIHEAD_BAD;
		} else if (walk_feed(&w, buf + off + HDR_LEN, clen) == -1)
			return FCGIHEAD_BAD;
		off += HDR_LEN + clen + plen;
	}
}
