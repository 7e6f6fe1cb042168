/* A streaming multipart/form-data parser that keeps only the uploaded file. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mem.h"
#include "mpart.h"

/* First allocation for the file; it doubles from there up to max_file. */
#define MPART_FILE_MIN	4096
/* "\r\n--" and the boundary. */
#define MPART_DELIM_MAX	(4 + MPART_BOUNDARY_MAX)

#define ALNUM	"0123456789abcdefghijklmnopqrstuvwxyz" \
		"ABCDEFGHIJKLMNOPQRSTUVWXYZ"
#define TCHARS	ALNUM "!#$%&'*+-.^_`|~"	/* RFC 7230 token */
#define BCHARS	ALNUM "'()+_,-./:=? "	/* RFC 2046 boundary */
#define OWS	" \t"
#define R_LINE	"unexpected bytes after a boundary"

enum mpart_state {
	ST_PREAMBLE,	/* discarding up to the first delimiter */
	ST_LINE,	/* just after a delimiter's boundary */
	ST_DASH,	/* after the boundary and one '-' */
	ST_PAD,		/* in transport padding */
	ST_CR,		/* the CR that ends a delimiter line */
	ST_HEADERS,	/* collecting a part's header block */
	ST_DATA,	/* a part's data, up to the next delimiter */
	ST_EPILOGUE,	/* after the closing delimiter: ignored */
	ST_DONE,	/* mpart_finish returned 0 */
	ST_ERROR	/* refused: see err */
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
	int		 nparts;
	int		 keep;		/* this part is the file */
	enum mpart_field field;		/* whose data file holds */
	char		 delim[MPART_DELIM_MAX];
	size_t		 dlen;
	/* Bytes held back: they may start a delimiter. */
	char		 hold[MPART_DELIM_MAX];
	size_t		 hlen;
	char		 hdr[2 + MPART_HDR_MAX]; /* CRLF, header block */
	size_t		 hdrlen;
	unsigned char	*file;
	size_t		 flen, fcap, max_file;
	char		*fname;
};

/* One `name=value` of a header value; the spans point into the header. */
struct param {
	const char	*name, *val;	/* val is inside any quotes */
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

static int
bad(struct mpart *mp, const char *reason)
{
	return fail(mp, APP_E_INVALID_IMAGE, reason);
}

/* Past the bytes at the start of s[0..end) that are in set. */
static const char *
skip(const char *s, const char *end, const char *set)
{
	while (s < end && *s != '\0' && strchr(set, *s) != NULL)
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
	const char	*s = skip(*sp, end, OWS);
	unsigned char	 c;

	if (s == end)
		return 0;
	if (*s++ != ';')
		return -1;
	if ((*sp = s = skip(s, end, OWS)) == end)
		return 0;
	s = skip(pm->name = s, end, TCHARS);
	pm->nlen = (size_t)(s - pm->name);
	s = skip(s, end, OWS);
	if (pm->nlen == 0 || s == end || *s++ != '=')
		return -1;
	s = skip(s, end, OWS);
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
	s = skip(ct, end, OWS);
	n = strcspn(s, "; \t");
	if (n != 19 || strncasecmp(s, "multipart/form-data", n) != 0)
		return NULL;
	for (s += n; (r = param_next(&s, end, &pm)) == 1; )
		if (param_is(&pm, "boundary")) {
			blen = unquote(&pm, b, sizeof(b));
			seen++;
		}
	/*
	 * Two boundaries are ambiguous: a proxy may have used the other.
	 * RFC 2046: 1 to 70 bchars, the last not a space.
	 */
	if (r < 0 || seen != 1 || blen == 0 || blen > MPART_BOUNDARY_MAX ||
	    b[blen - 1] == ' ' || skip(b, b + blen, BCHARS) != b + blen)
		return NULL;

	mp = mem_calloc(1, sizeof(*mp));
	mp->max_file = max_file;
	memcpy(mp->delim, "\r\n--", 4);
	memcpy(mp->delim + 4, b, blen);
	mp->dlen = 4 + blen;
	/* The body may open with the first delimiter: as if after a CRLF. */
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
		return fail(mp, APP_E_TOO_LARGE, "file part over the limit");
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
 * First occurrence of the nlen > 0 bytes needle in s[0..n), or NULL. A
 * candidate costs at most nlen compares and nlen is at most
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

/* Where the longest tail of s[0..n) that could start a delimiter begins. */
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
 * Preamble and data: pass the bytes that cannot belong to a delimiter to
 * emit in runs, hold a tail that might start one, and at a whole one go on
 * to its line. Sets *used to the bytes of p consumed.
 */
static int
scan(struct mpart *mp, const char *p, size_t n, size_t *used)
{
	char		 win[2 * MPART_DELIM_MAX];
	const char	*s = p, *q;
	size_t		 k = mp->hlen, w, i;

	if (k > 0) {
		/* A delimiter that starts in hold ends within dlen bytes. */
		if (n > mp->dlen)
			n = mp->dlen;
		memcpy(win, mp->hold, k);
		memcpy(win + k, p, n);
		s = win;
	}
	w = k + n;
	if ((q = find(s, w, mp->delim, mp->dlen)) != NULL) {
		i = (size_t)(q - s);
		*used = i + mp->dlen - k;
		mp->hlen = 0;
		mp->state = ST_LINE;
		return emit(mp, s, i);
	}
	i = partial(mp, s, w);
	memcpy(mp->hold, s + i, w - i);
	mp->hlen = w - i;
	*used = n;
	return emit(mp, s, i);
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
				return bad(mp, R_LINE);
			break;
		case ST_DASH:
			if (p[i] != '-')
				return bad(mp, R_LINE);
			if (mp->nparts == 0)
				return bad(mp,
				    "no part before the closing boundary");
			mp->state = ST_EPILOGUE;
			*used = i + 1;
			return 0;
		default:	/* ST_CR */
			if (p[i] != '\n')
				return bad(mp, R_LINE);
			if (++mp->nparts > MPART_PARTS_MAX)
				return bad(mp, "too many parts");
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
 * s[0..end) are a part's header lines, each ending in CRLF: read the
 * Content-Disposition and decide whether the part's data is the file.
 */
static int
part_begin(struct mpart *mp, const char *s, const char *end)
{
	struct param	 pm, name, fname;
	const char	*e, *colon, *v = NULL;
	char		 nm[8];
	size_t		 nlen;
	int		 r, nname = 0, nfname = 0;

	mp->keep = 0;
	for (; v == NULL && s < end; s = e + 2) {
		e = find(s, (size_t)(end - s), "\r\n", 2);
		colon = memchr(s, ':', (size_t)(e - s));
		if (colon != NULL && colon - s == 19 &&
		    strncasecmp(s, "Content-Disposition", 19) == 0)
			v = skip(colon + 1, e, OWS);
	}
	if (v == NULL)
		return 0;
	end = s - 2;
	s = skip(v, end, TCHARS);
	if (s - v != 9 || strncasecmp(v, "form-data", 9) != 0)
		return 0;
	while ((r = param_next(&s, end, &pm)) == 1)
		if (param_is(&pm, "name") && nname++ == 0)
			name = pm;
		else if (param_is(&pm, "filename") && nfname++ == 0)
			fname = pm;
	if (r < 0 || nname > 1 || nfname > 1)
		return bad(mp, "malformed Content-Disposition header");
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

/* Collect the header block into hdr up to CRLFCRLF, within the limit. */
static int
headers(struct mpart *mp, const char *p, size_t n, size_t *used)
{
	const char	*q;
	size_t		 from, m;

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
			return bad(mp, "part header block too large");
		return 0;
	}
	*used = (size_t)(q - mp->hdr) + 4 - mp->hdrlen;
	mp->state = ST_DATA;
	return part_begin(mp, mp->hdr + 2, q + 2);
}

int
mpart_feed(struct mpart *mp, const char *p, size_t n)
{
	size_t	 used;
	int	 rc;

	if (mp->state == ST_ERROR || mp->state == ST_DONE)
		return -1;
	while (n > 0 && mp->state != ST_EPILOGUE) {
		if (mp->state == ST_PREAMBLE || mp->state == ST_DATA)
			rc = scan(mp, p, n, &used);
		else if (mp->state == ST_HEADERS)
			rc = headers(mp, p, n, &used);
		else
			rc = line(mp, p, n, &used);
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
	if (mp->state == ST_DONE || mp->state == ST_ERROR)
		return mp->state == ST_DONE ? 0 : -1;
	if (mp->state == ST_PREAMBLE)
		return bad(mp, "no boundary in the body");
	if (mp->state != ST_EPILOGUE)
		return bad(mp, "body ends before the closing boundary");
	if (mp->field == F_NONE)
		return fail(mp, APP_E_MISSING_FIELD, "no image or file part");
	if (mp->flen == 0)
		return fail(mp, APP_E_MISSING_FIELD, "the file part is empty");
	mp->state = ST_DONE;
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
	*len = mp->state == ST_DONE ? mp->flen : 0;
	return mp->state == ST_DONE ? mp->file : NULL;
}

const char *
mpart_filename(const struct mpart *mp)
{
	return mp->state == ST_DONE && mp->fname != NULL ? mp->fname : "";
}

const char *
mpart_field(const struct mpart *mp)
{
	if (mp->state != ST_DONE)
		return "";
	return mp->field == F_IMAGE ? "image" : "file";
}
