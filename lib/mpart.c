/* A streaming multipart/form-data parser that keeps only the uploaded file part. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mem.h"
#include "mpart.h"

/* First allocation for the file part; it doubles from there up to max_file. */
#define MPART_FILE_MIN	4096
/* "\r\n--" and the boundary. */
#define MPART_DELIM_MAX	(4 + MPART_BOUNDARY_MAX)

enum mpart_state {
	ST_PREAMBLE,	/* discarding up to the first delimiter */
	ST_LINE,	/* just after a delimiter's boundary */
	ST_DASH,	/* after the boundary and one '-' */
	ST_PAD,		/* in transport padding */
	ST_CR,		/* the CR that ends a delimiter line */
	ST_HEADERS,	/* collecting a part's header block */
	ST_DATA,	/* a part's body, up to the next delimiter */
	ST_EPILOGUE,	/* after the closing delimiter: ignored */
	ST_ERROR	/* refused; see err */
};

enum mpart_field {
	F_NONE,
	F_FILE,
	F_IMAGE
};

struct mpart {
	enum mpart_state state;
	enum app_err	 err;
	const char	*reason;
	int		 done;		/* mpart_finish returned 0 */
	int		 nparts;
	int		 keep;		/* this part's data goes to file */
	enum mpart_field field;		/* whose bytes file holds */
	char		 delim[MPART_DELIM_MAX];
	size_t		 dlen;
	char		 hold[MPART_DELIM_MAX];	/* may start a delimiter */
	size_t		 hlen;
	char		 hdr[2 + MPART_HDR_MAX]; /* CRLF, then the header block */
	size_t		 hdrlen;
	unsigned char	*file;
	size_t		 flen, fcap, max_file;
	char		*fname;
};

/* One `name=value` of a header value; spans point into the header. */
struct param {
	const char	*name, *val;	/* val is inside the quotes if quoted */
	size_t		 nlen, vlen;
	int		 quoted;
};

static int
fail(struct mpart *mp, enum app_err e, const char *reason)
{
	mp->state = ST_ERROR;
	mp->err = e;
	mp->reason = reason;
	return -1;
}

/* RFC 7230 tchar. */
static int
tchar(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
	    (c >= 'A' && c <= 'Z') ||
	    (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static const char *
ows(const char *s, const char *end)
{
	while (s < end && (*s == ' ' || *s == '\t'))
		s++;
	return s;
}

/*
 * Parse one `; name=value` from *sp up to end. Returns 1 with *pm filled
 * and *sp moved past it, 0 at the end of the value (a trailing ';' is
 * allowed), or -1 when malformed.
 */
static int
param_next(const char **sp, const char *end, struct param *pm)
{
	const char	*s = ows(*sp, end);
	unsigned char	 c;

	if (s == end)
		return 0;
	if (*s++ != ';')
		return -1;
	if ((s = ows(s, end)) == end) {
		*sp = s;
		return 0;
	}
	for (pm->name = s; s < end && tchar((unsigned char)*s); s++)
		continue;
	if ((pm->nlen = (size_t)(s - pm->name)) == 0)
		return -1;
	s = ows(s, end);
	if (s == end || *s++ != '=')
		return -1;
	s = ows(s, end);
	if ((pm->quoted = s < end && *s == '"')) {
		/* qdtext and quoted-pair: tab, space, VCHAR and obs-text. */
		for (pm->val = ++s; s < end && *s != '"'; s++) {
			if (*s == '\\' && ++s == end)
				return -1;
			c = (unsigned char)*s;
			if ((c < 0x20 && c != '\t') || c == 0x7f)
				return -1;
		}
		if (s == end)
			return -1;
		pm->vlen = (size_t)(s++ - pm->val);
	} else {
		for (pm->val = s; s < end && *s > 0x20 && *s < 0x7f &&
		    *s != ';' && *s != '"' && *s != '\\'; s++)
			continue;
		if ((pm->vlen = (size_t)(s - pm->val)) == 0)
			return -1;
	}
	*sp = s;
	return 1;
}

/*
 * Unescape pm's value into dst (cap > 0 bytes, NUL-terminated, cut to
 * fit). Returns the whole unescaped length.
 */
static size_t
unquote(const struct param *pm, char *dst, size_t cap)
{
	size_t	 i, o;

	for (i = o = 0; i < pm->vlen; i++, o++) {
		/* param_next saw to it that an escape has its byte. */
		if (pm->quoted && pm->val[i] == '\\')
			i++;
		if (o + 1 < cap)
			dst[o] = pm->val[i];
	}
	dst[o < cap ? o : cap - 1] = '\0';
	return o;
}

static int
param_is(const struct param *pm, const char *name)
{
	return pm->nlen == strlen(name) &&
	    strncasecmp(pm->name, name, pm->nlen) == 0;
}

/* RFC 2046: 1..70 of bchars, not ending in a space. */
static int
boundary_ok(const char *b, size_t n)
{
	size_t	 i;

	if (n == 0 || n > MPART_BOUNDARY_MAX || b[n - 1] == ' ')
		return 0;
	for (i = 0; i < n; i++)
		if (!((b[i] >= '0' && b[i] <= '9') ||
		    (b[i] >= 'a' && b[i] <= 'z') ||
		    (b[i] >= 'A' && b[i] <= 'Z') ||
		    (b[i] != '\0' && strchr("'()+_,-./:=? ", b[i]) != NULL)))
			return 0;
	return 1;
}

struct mpart *
mpart_new(const char *ct, size_t max_file)
{
	struct mpart	*mp;
	struct param	 pm;
	const char	*s, *end;
	char		 b[MPART_BOUNDARY_MAX + 1];
	size_t		 n, blen = 0;
	int		 r, seen = 0;

	if (ct == NULL)
		return NULL;
	end = ct + strlen(ct);
	s = ows(ct, end);
	n = strcspn(s, "; \t");
	if (n != 19 || strncasecmp(s, "multipart/form-data", n) != 0)
		return NULL;
	s += n;
	while ((r = param_next(&s, end, &pm)) == 1)
		if (param_is(&pm, "boundary")) {
			blen = unquote(&pm, b, sizeof(b));
			seen++;
		}
	/* Two boundaries are ambiguous: a proxy may have chosen the other. */
	if (r < 0 || seen != 1 || !boundary_ok(b, blen))
		return NULL;

	mp = mem_calloc(1, sizeof(*mp));
	mp->max_file = max_file;
	memcpy(mp->delim, "\r\n--", 4);
	memcpy(mp->delim + 4, b, blen);
	mp->dlen = 4 + blen;
	/* The first delimiter may open the body: act as if a CRLF came first. */
	memcpy(mp->hold, "\r\n", 2);
	mp->hlen = 2;
	mp->state = ST_PREAMBLE;
	return mp;
}

void
mpart_free(struct mpart *mp)
{
	if (mp == NULL)
		return;
	free(mp->file);
	free(mp->fname);
	free(mp);
}

/* Keep n data bytes if this part is the file; refuse past max_file. */
static int
emit(struct mpart *mp, const char *p, size_t n)
{
	unsigned char	*nf;
	size_t		 cap;

	if (!mp->keep || n == 0)
		return 0;
	if (n > mp->max_file - mp->flen)
		return fail(mp, APP_E_TOO_LARGE, "file part over the size limit");
	if (n > mp->fcap - mp->flen) {
		cap = mp->fcap > 0 ? mp->fcap : MPART_FILE_MIN;
		while (cap < mp->flen + n)
			cap = cap <= mp->max_file / 2 ? cap * 2 : mp->max_file;
		if (cap > mp->max_file)
			cap = mp->max_file;
		if ((nf = mem_trymalloc(cap)) == NULL)
			return fail(mp, APP_E_TOO_LARGE,
			    "file part could not be stored");
		if (mp->flen > 0)
			memcpy(nf, mp->file, mp->flen);
		free(mp->file);
		mp->file = nf;
		mp->fcap = cap;
	}
	memcpy(mp->file + mp->flen, p, n);
	mp->flen += n;
	return 0;
}

/*
 * First occurrence of the nlen > 0 bytes needle in s[0..n), or NULL. Each
 * candidate costs at most nlen compares, and nlen is at most
 * MPART_DELIM_MAX; memmem(3) would need _GNU_SOURCE.
 */
static const char *
find(const char *s, size_t n, const char *needle, size_t nlen)
{
	const char	*q, *end = s + n;

	for (; (size_t)(end - s) >= nlen &&
	    (q = memchr(s, needle[0], (size_t)(end - s) - nlen + 1)) != NULL;
	    s = q + 1)
		if (memcmp(q, needle, nlen) == 0)
			return q;
	return NULL;
}

/* Where the shortest tail of s[0..n) that could start a delimiter begins. */
static size_t
partial(const struct mpart *mp, const char *s, size_t n)
{
	const char	*q;
	size_t		 j;

	j = n >= mp->dlen ? n - mp->dlen + 1 : 0;
	for (; (q = memchr(s + j, '\r', n - j)) != NULL; j++) {
		j = (size_t)(q - s);
		if (memcmp(s + j, mp->delim, n - j) == 0)
			return j;
	}
	return n;
}

/*
 * Data state: pass bytes that cannot be part of a delimiter to emit in
 * runs, hold a tail that might start one, and on a whole delimiter go on
 * to its line. Sets *used to the bytes of p consumed.
 */
static int
scan(struct mpart *mp, const char *p, size_t n, size_t *used)
{
	char		 win[2 * MPART_DELIM_MAX];
	const char	*q;
	size_t		 k = mp->hlen, m, w, i;

	if (k > 0) {
		/* A delimiter starting in hold ends within dlen more bytes. */
		m = n < mp->dlen ? n : mp->dlen;
		memcpy(win, mp->hold, k);
		memcpy(win + k, p, m);
		w = k + m;
		mp->hlen = 0;
		if ((q = find(win, w, mp->delim, mp->dlen)) != NULL) {
			i = (size_t)(q - win);
			*used = i + mp->dlen - k;
			mp->state = ST_LINE;
			return emit(mp, win, i);
		}
		if (m == n) {
			i = partial(mp, win, w);
			memcpy(mp->hold, win + i, w - i);
			mp->hlen = w - i;
			*used = n;
			return emit(mp, win, i);
		}
		if (emit(mp, win, k) == -1)
			return -1;
	}
	if ((q = find(p, n, mp->delim, mp->dlen)) != NULL) {
		i = (size_t)(q - p);
		*used = i + mp->dlen;
		mp->state = ST_LINE;
		return emit(mp, p, i);
	}
	i = partial(mp, p, n);
	memcpy(mp->hold, p + i, n - i);
	mp->hlen = n - i;
	*used = n;
	return emit(mp, p, i);
}

/* The rest of a delimiter line, a byte at a time: it is short. */
static int
line(struct mpart *mp, const char *p, size_t n, size_t *used)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		switch (mp->state) {
		case ST_LINE:
		case ST_PAD:
			if (p[i] == '-' && mp->state == ST_LINE)
				mp->state = ST_DASH;
			else if (p[i] == ' ' || p[i] == '\t')
				mp->state = ST_PAD;
			else if (p[i] == '\r')
				mp->state = ST_CR;
			else
				return fail(mp, APP_E_INVALID_IMAGE,
				    "unexpected bytes after a boundary");
			break;
		case ST_DASH:
			if (p[i] != '-')
				return fail(mp, APP_E_INVALID_IMAGE,
				    "unexpected bytes after a boundary");
			if (mp->nparts == 0)
				return fail(mp, APP_E_INVALID_IMAGE,
				    "closing boundary before any part");
			mp->state = ST_EPILOGUE;
			*used = i + 1;
			return 0;
		default:	/* ST_CR */
			if (p[i] != '\n')
				return fail(mp, APP_E_INVALID_IMAGE,
				    "unexpected bytes after a boundary");
			if (++mp->nparts > MPART_PARTS_MAX)
				return fail(mp, APP_E_INVALID_IMAGE,
				    "too many parts");
			memcpy(mp->hdr, "\r\n", 2);
			mp->hdrlen = 2;
			mp->state = ST_HEADERS;
			*used = i + 1;
			return 0;
		}
	*used = n;
	return 0;
}

/*
 * The header lines of a part, each ending in CRLF, are s[0..end): read its
 * Content-Disposition and decide whether its data is the file.
 */
static int
part_begin(struct mpart *mp, const char *s, const char *end)
{
	struct param	 pm, name, fname;
	const char	*e, *colon, *v = NULL, *vend = NULL;
	char		 nm[8];
	size_t		 nlen;
	int		 r, nname = 0, nfname = 0;

	mp->keep = 0;
	for (; s < end && (e = find(s, (size_t)(end - s), "\r\n", 2)) != NULL;
	    s = e + 2) {
		colon = memchr(s, ':', (size_t)(e - s));
		if (colon != NULL && colon - s == 19 &&
		    strncasecmp(s, "Content-Disposition", 19) == 0) {
			v = ows(colon + 1, e);
			vend = e;
			break;
		}
	}
	if (v == NULL)
		return 0;
	for (e = v; e < vend && tchar((unsigned char)*e); e++)
		continue;
	if (e - v != 9 || strncasecmp(v, "form-data", 9) != 0)
		return 0;
	while ((r = param_next(&e, vend, &pm)) == 1)
		if (param_is(&pm, "name")) {
			name = pm;
			nname++;
		} else if (param_is(&pm, "filename")) {
			fname = pm;
			nfname++;
		}
	if (r < 0 || nname > 1 || nfname > 1)
		return fail(mp, APP_E_INVALID_IMAGE,
		    "malformed Content-Disposition header");
	if (nname == 0)
		return 0;
	nlen = unquote(&name, nm, sizeof(nm));
	if (nlen == 5 && memcmp(nm, "image", 5) == 0 && mp->field != F_IMAGE)
		mp->field = F_IMAGE;
	else if (nlen == 4 && memcmp(nm, "file", 4) == 0 &&
	    mp->field == F_NONE)
		mp->field = F_FILE;
	else
		return 0;
	/* An image replaces a file taken before it. */
	mp->keep = 1;
	mp->flen = 0;
	free(mp->fname);
	mp->fname = NULL;
	if (nfname > 0) {
		/* At most MPART_HDR_MAX: the header block bounds it. */
		mp->fname = mem_malloc(fname.vlen + 1);
		unquote(&fname, mp->fname, fname.vlen + 1);
	}
	return 0;
}

/* Collect the header block into hdr until CRLFCRLF, within the limit. */
static int
headers(struct mpart *mp, const char *p, size_t n, size_t *used)
{
	const char	*q;
	size_t		 from, m, end;

	m = sizeof(mp->hdr) - mp->hdrlen;
	if (m > n)
		m = n;
	memcpy(mp->hdr + mp->hdrlen, p, m);
	from = mp->hdrlen - (mp->hdrlen >= 3 ? 3 : mp->hdrlen);
	q = find(mp->hdr + from, mp->hdrlen + m - from, "\r\n\r\n", 4);
	if (q == NULL) {
		mp->hdrlen += m;
		*used = m;
		if (mp->hdrlen == sizeof(mp->hdr))
			return fail(mp, APP_E_INVALID_IMAGE,
			    "part header block too large");
		return 0;
	}
	end = (size_t)(q - mp->hdr) + 4;
	*used = end - mp->hdrlen;
	mp->hdrlen = end;
	mp->state = ST_DATA;
	return part_begin(mp, mp->hdr + 2, q + 2);
}

int
mpart_feed(struct mpart *mp, const char *p, size_t n)
{
	size_t	 used;
	int	 rc;

	if (mp->state == ST_ERROR || mp->done)
		return -1;
	while (n > 0) {
		switch (mp->state) {
		case ST_PREAMBLE:
		case ST_DATA:
			rc = scan(mp, p, n, &used);
			break;
		case ST_HEADERS:
			rc = headers(mp, p, n, &used);
			break;
		case ST_EPILOGUE:
			rc = 0;
			used = n;
			break;
		default:
			rc = line(mp, p, n, &used);
			break;
		}
		if (rc == -1)
			return -1;
		p += used;
		n -= used;
	}
	return 0;
}

int
mpart_finish(struct mpart *mp)
{
	if (mp->done)
		return 0;
	if (mp->state == ST_ERROR)
		return -1;
	if (mp->state == ST_PREAMBLE)
		return fail(mp, APP_E_INVALID_IMAGE, "no boundary in the body");
	if (mp->state != ST_EPILOGUE)
		return fail(mp, APP_E_INVALID_IMAGE,
		    "body ends before the closing boundary");
	if (mp->field == F_NONE)
		return fail(mp, APP_E_MISSING_FIELD, "no image or file part");
	if (mp->flen == 0)
		return fail(mp, APP_E_MISSING_FIELD, "the file part is empty");
	mp->done = 1;
	return 0;
}

enum app_err
mpart_error(const struct mpart *mp)
{
	return mp == NULL ? APP_E_MEDIA_TYPE : mp->err;
}

const char *
mpart_reason(const struct mpart *mp)
{
	if (mp == NULL)
		return "not multipart/form-data with a usable boundary";
	return mp->reason != NULL ? mp->reason : "";
}

const unsigned char *
mpart_file(const struct mpart *mp, size_t *len)
{
	*len = mp->done ? mp->flen : 0;
	return mp->done ? mp->file : NULL;
}

const char *
mpart_filename(const struct mpart *mp)
{
	return mp->done && mp->fname != NULL ? mp->fname : "";
}

const char *
mpart_field(const struct mpart *mp)
{
	if (!mp->done)
		return "";
	return mp->field == F_IMAGE ? "image" : "file";
}
