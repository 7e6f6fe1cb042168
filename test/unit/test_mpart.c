/* Unit tests for lib/mpart.c: bodies fed whole, in small chunks and cut anywhere; bad bodies; limits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "buf.h"
#include "mpart.h"

#define S(s)	s, sizeof(s) - 1
#define CT	"multipart/form-data; boundary=XyZ"
#define MAXF	((size_t)1 << 20)

/* A part with header lines h and data d, and the closing delimiter. */
#define P(h, d)		"--XyZ\r\n" h "\r\n\r\n" d "\r\n"
#define CLOSE		"--XyZ--\r\n"
#define CDN(n)		"Content-Disposition: form-data; name=\"" n "\""
#define CDF(n, f)	CDN(n) "; filename=\"" f "\""

/* File data that holds delimiter look-alikes which are not one. */
#define BIN	"\0\r\n--\r\n--X\r\n--Xy\rZ\n\r\r\n\0--XyZ\xff\n--XyZ--" \
		"\r\r\n-XyZ\0\r\n-"

/* 70 characters, the most RFC 2046 allows. */
#define B70	"0123456789abcdefghijABCDEFGHIJ0123456789" \
		"abcdefghijABCDEFGHIJ0123456789"

struct want {
	int		 at_finish;	/* by finish, not a feed */
	enum app_err	 err;
	const char	*field;		/* on success */
	const char	*filename;
	const char	*data;
	size_t		 dlen;
};

struct good_case {
	const char	*name;
	const char	*ct;
	const char	*body;
	size_t		 blen;
	const char	*field;
	const char	*filename;
	const char	*data;
	size_t		 dlen;
};

static const struct good_case good[] = {
	{ "single image", CT,
	    S(P(CDF("image", "a.png") "\r\nContent-Type: image/png",
	    "PNGDATA") CLOSE), "image", "a.png", S("PNGDATA") },
	{ "file part", CT, S(P(CDF("file", "b.jpg"), "JPG") CLOSE),
	    "file", "b.jpg", S("JPG") },
	{ "image then file", CT, S(P(CDF("image", "i"), "I1")
	    P(CDF("file", "f"), "F22") CLOSE), "image", "i", S("I1") },
	{ "file then image", CT, S(P(CDF("file", "f"), "F22")
	    P(CDF("image", "i"), "I1") CLOSE), "image", "i", S("I1") },
	{ "first image wins", CT, S(P(CDF("image", "1"), "first")
	    P(CDF("image", "2"), "second") CLOSE), "image", "1", S("first") },
	{ "first file wins", CT, S(P(CDF("file", "1"), "first")
	    P(CDF("file", "2"), "second") CLOSE), "file", "1", S("first") },
	{ "empty file replaced by image", CT, S(P(CDF("file", "f"), "")
	    P(CDN("image"), "I") CLOSE), "image", "", S("I") },
	{ "text fields around", CT, S(P(CDN("title"), "hello")
	    P(CDF("image", "x"), "IMG") P(CDN("desc"), "bye\r\n") CLOSE),
	    "image", "x", S("IMG") },
	{ "text field larger than the file", CT, S(P(CDN("t"),
	    "0123456789012345678901234567890123456789") P(CDN("file"), "f")
	    CLOSE), "file", "", S("f") },
	{ "quoted boundary", "multipart/form-data; boundary=\"XyZ\"",
	    S(P(CDN("image"), "I") CLOSE), "image", "", S("I") },
	{ "boundary with a space", "multipart/form-data; boundary=\"a b\"",
	    S("--a b\r\n" CDN("image") "\r\n\r\nI\r\n--a b--"), "image", "",
	    S("I") },
	{ "quoted punctuation boundary",
	    "multipart/form-data; boundary=\"'()+_,-./:=?\"",
	    S("--'()+_,-./:=?\r\n" CDN("image") "\r\n\r\nI\r\n"
	    "--'()+_,-./:=?--"), "image", "", S("I") },
	{ "unquoted punctuation boundary",
	    "multipart/form-data; boundary='()+_,-./:=?",
	    S("--'()+_,-./:=?\r\n" CDN("image") "\r\n\r\nI\r\n"
	    "--'()+_,-./:=?--"), "image", "", S("I") },
	{ "70-character boundary", "multipart/form-data; boundary=" B70,
	    S("--" B70 "\r\n" CDN("image") "\r\n\r\nI\r\n--" B70 "--"),
	    "image", "", S("I") },
	{ "browser boundary",
	    "multipart/form-data; boundary=----WebKitFormBoundary7MA4YWxk",
	    S("------WebKitFormBoundary7MA4YWxk\r\n" CDF("image", "c.gif")
	    "\r\nContent-Type: image/gif\r\n\r\nGIF89a\r\n"
	    "------WebKitFormBoundary7MA4YWxk--\r\n"), "image", "c.gif",
	    S("GIF89a") },
	{ "escaped quote in filename", CT,
	    S(P(CDF("image", "a\\\"b\\\\c.png"), "I") CLOSE), "image",
	    "a\"b\\c.png", S("I") },
	{ "filename with ; and =", CT, S(P(CDF("image", "x;y=z"), "I")
	    CLOSE), "image", "x;y=z", S("I") },
	{ "utf-8 filename", CT, S(P(CDF("image", "\xe5\x9b\xbe.png"), "I")
	    CLOSE), "image", "\xe5\x9b\xbe.png", S("I") },
	{ "binary data", CT, S(P(CDF("image", "b"), BIN) CLOSE), "image",
	    "b", S(BIN) },
	{ "data ends in CR", CT, S(P(CDN("image"), "I\r") CLOSE), "image",
	    "", S("I\r") },
	{ "data is CRLF", CT, S(P(CDN("image"), "\r\n") CLOSE), "image",
	    "", S("\r\n") },
	{ "preamble and epilogue", CT, S("A preamble --XyZ\r\n-- XyZ\r\n"
	    "-XyZ\r\n\r\n" P(CDN("image"), "I") CLOSE
	    "epilogue\r\n--XyZ\r\nmore --XyZ junk"), "image", "", S("I") },
	{ "body opens with CRLF", CT, S("\r\n" P(CDN("image"), "I")
	    CLOSE), "image", "", S("I") },
	{ "no CRLF after the close", CT, S(P(CDN("image"), "I")
	    "--XyZ--"), "image", "", S("I") },
	{ "transport padding", CT, S("--XyZ \t \r\n" CDN("t")
	    "\r\n\r\nx\r\n--XyZ\t\r\n" CDN("image") "\r\n\r\nI\r\n--XyZ--"),
	    "image", "", S("I") },
	{ "unquoted name", CT, S(P("Content-Disposition: form-data; "
	    "name=image; filename=a.png", "I") CLOSE), "image", "a.png",
	    S("I") },
	{ "case and spaces", CT, S(P("content-DISPOSITION:\tForm-Data ; "
	    "NAME = \"image\" ;\tFileName=\"p.gif\"  ", "I") CLOSE), "image",
	    "p.gif", S("I") },
	{ "trailing semicolon", CT, S(P(CDN("image") ";", "I") CLOSE),
	    "image", "", S("I") },
	{ "filename* ignored", CT, S(P(CDN("image") "; filename*=UTF-8''"
	    "x.png; filename=\"y.png\"", "I") CLOSE), "image", "y.png",
	    S("I") },
	{ "other parameters ignored", CT, S(P(CDN("image") "; size=3; "
	    "x=\"a\\\"b\"", "I") CLOSE), "image", "", S("I") },
	{ "empty filename", CT, S(P(CDF("image", ""), "I") CLOSE), "image",
	    "", S("I") },
	{ "other headers", CT, S(P("X-A: 1\r\nContent-Type: image/png\r\n"
	    "X-Nul: \0\r\n" CDF("file", "f") "\r\nX-B: Content-Disposition: "
	    "form-data; name=\"image\"", "F") CLOSE), "file", "f", S("F") },
	{ "only the first disposition counts", CT, S(P(CDN("file") "\r\n"
	    CDN("image"), "F") CLOSE), "file", "", S("F") },
	{ "part without disposition skipped", CT, S(P("Content-Type: "
	    "image/png", "zzz") P(CDN("file"), "F") CLOSE), "file", "",
	    S("F") },
	{ "part without headers skipped", CT, S("--XyZ\r\n\r\nzzz\r\n"
	    P(CDN("file"), "F") CLOSE), "file", "", S("F") },
	{ "attachment skipped", CT, S(P("Content-Disposition: attachment; "
	    "name=\"image\"", "A") P(CDN("file"), "F") CLOSE), "file", "",
	    S("F") },
	{ "form-data without name skipped", CT, S(P("Content-Disposition: "
	    "form-data; filename=\"x\"", "A") P(CDN("file"), "F") CLOSE),
	    "file", "", S("F") },
	{ "names are case-sensitive", CT, S(P(CDN("Image"), "A")
	    P(CDN("FILE"), "B") P(CDN("file"), "F") CLOSE), "file", "",
	    S("F") },
	{ "longer names are others", CT, S(P(CDN("images"), "A")
	    P(CDN("imag"), "B") P(CDN("file"), "F") CLOSE), "file", "",
	    S("F") },
	{ "escaped name", CT, S(P(CDN("im\\age"), "I") CLOSE), "image", "",
	    S("I") },
};

struct bad_case {
	const char	*name;
	const char	*body;
	size_t		 blen;
	size_t		 max;
	enum app_err	 err;
	int		 at_finish;
};

static const struct bad_case bad[] = {
	{ "empty body", S(""), MAXF, APP_E_INVALID_IMAGE, 1 },
	{ "no boundary at all", S(CDN("image") "\r\n\r\nI\r\n"), MAXF,
	    APP_E_INVALID_IMAGE, 1 },
	{ "boundary not at a line start", S("x--XyZ\r\n" CDN("image")
	    "\r\n\r\nI\r\nx--XyZ--"), MAXF, APP_E_INVALID_IMAGE, 1 },
	{ "missing first boundary", S(CDN("image") "\r\n\r\nI\r\n" CLOSE),
	    MAXF, APP_E_INVALID_IMAGE, 0 },
	{ "only a closing boundary", S(CLOSE), MAXF, APP_E_INVALID_IMAGE,
	    0 },
	{ "truncated in data", S(P(CDN("image"), "I")), MAXF,
	    APP_E_INVALID_IMAGE, 1 },
	{ "truncated before the data", S("--XyZ\r\n" CDN("image")
	    "\r\n\r\n"), MAXF, APP_E_INVALID_IMAGE, 1 },
	{ "truncated in headers", S("--XyZ\r\n" CDN("image") "\r\n"), MAXF,
	    APP_E_INVALID_IMAGE, 1 },
	{ "truncated in a delimiter", S(P(CDN("image"), "I") "--Xy"), MAXF,
	    APP_E_INVALID_IMAGE, 1 },
	{ "truncated after a boundary", S(P(CDN("image"), "I") "--XyZ"),
	    MAXF, APP_E_INVALID_IMAGE, 1 },
	{ "truncated after one dash", S(P(CDN("image"), "I") "--XyZ-"),
	    MAXF, APP_E_INVALID_IMAGE, 1 },
	{ "truncated in a delimiter line", S(P(CDN("image"), "I")
	    "--XyZ \r"), MAXF, APP_E_INVALID_IMAGE, 1 },
	{ "ends with an open delimiter", S(P(CDN("image"), "I")
	    "--XyZ\r\n"), MAXF, APP_E_INVALID_IMAGE, 1 },
	{ "LF-only lines", S("--XyZ\n" CDN("image") "\n\nI\n--XyZ--\n"),
	    MAXF, APP_E_INVALID_IMAGE, 0 },
	{ "garbage after the first boundary", S("--XyZx\r\n" CDN("image")
	    "\r\n\r\nI\r\n" CLOSE), MAXF, APP_E_INVALID_IMAGE, 0 },
	{ "garbage after padding", S("--XyZ  x\r\n" CDN("image")
	    "\r\n\r\nI\r\n" CLOSE), MAXF, APP_E_INVALID_IMAGE, 0 },
	{ "dashes after padding", S(P(CDN("image"), "I") "--XyZ --"), MAXF,
	    APP_E_INVALID_IMAGE, 0 },
	{ "CR without LF", S("--XyZ\rx" CDN("image") "\r\n\r\nI\r\n" CLOSE),
	    MAXF, APP_E_INVALID_IMAGE, 0 },
	{ "longer boundary in data", S(P(CDN("image"), "I\r\n--XyZZ")
	    CLOSE), MAXF, APP_E_INVALID_IMAGE, 0 },
	{ "one dash after a boundary", S(P(CDN("image"), "I") "--XyZ-x"),
	    MAXF, APP_E_INVALID_IMAGE, 0 },
	{ "unterminated quote", S(P(CDN("image") "; filename=\"a", "I")
	    CLOSE), MAXF, APP_E_INVALID_IMAGE, 0 },
	{ "parameter without value", S(P("Content-Disposition: form-data; "
	    "name", "I") CLOSE), MAXF, APP_E_INVALID_IMAGE, 0 },
	{ "empty unquoted value", S(P("Content-Disposition: form-data; "
	    "name=; x=1", "I") CLOSE), MAXF, APP_E_INVALID_IMAGE, 0 },
	{ "no semicolon", S(P("Content-Disposition: form-data name=image",
	    "I") CLOSE), MAXF, APP_E_INVALID_IMAGE, 0 },
	{ "bytes after a quoted value", S(P(CDN("image") "x", "I") CLOSE),
	    MAXF, APP_E_INVALID_IMAGE, 0 },
	{ "space in an unquoted value", S(P("Content-Disposition: "
	    "form-data; name=image; filename=a b.png", "I") CLOSE), MAXF,
	    APP_E_INVALID_IMAGE, 0 },
	{ "control byte in a quoted value", S(P(CDF("image", "a\x01"), "I")
	    CLOSE), MAXF, APP_E_INVALID_IMAGE, 0 },
	{ "NUL in a quoted value", S(P(CDF("image", "a\0b"), "I") CLOSE),
	    MAXF, APP_E_INVALID_IMAGE, 0 },
	{ "backslash at the end", S(P(CDF("image", "a\\"), "I") CLOSE),
	    MAXF, APP_E_INVALID_IMAGE, 0 },
	{ "two names", S(P(CDN("file") "; name=\"image\"", "I") CLOSE),
	    MAXF, APP_E_INVALID_IMAGE, 0 },
	{ "two filenames", S(P(CDF("image", "a") "; filename=b", "I")
	    CLOSE), MAXF, APP_E_INVALID_IMAGE, 0 },
	{ "no image or file part", S(P(CDN("title"), "t") P(CDN("x"), "y")
	    CLOSE), MAXF, APP_E_MISSING_FIELD, 1 },
	{ "only skipped parts", S(P("Content-Disposition: attachment; "
	    "name=image", "A") P("X-A: b", "B") CLOSE), MAXF,
	    APP_E_MISSING_FIELD, 1 },
	{ "empty image part", S(P(CDF("image", "a.png"), "") CLOSE), MAXF,
	    APP_E_MISSING_FIELD, 1 },
	{ "empty image wins over a file", S(P(CDN("file"), "F")
	    P(CDN("image"), "") CLOSE), MAXF, APP_E_MISSING_FIELD, 1 },
	{ "file over max_file", S(P(CDN("file"), "12345") CLOSE), 4,
	    APP_E_TOO_LARGE, 0 },
	{ "image over max_file 0", S(P(CDN("image"), "1") CLOSE), 0,
	    APP_E_TOO_LARGE, 0 },
	{ "over max_file, then malformed", S(P(CDN("image"), "12345")
	    "--XyZx"), 4, APP_E_TOO_LARGE, 0 },
	{ "malformed, then over max_file", S(P(CDN("image"), "1234")
	    "--XyZx" "5"), 4, APP_E_INVALID_IMAGE, 0 },
};

/*
 * Feed body in chunks of step bytes, or when step is 0 in two pieces cut
 * at split. Returns -1 when a feed refused; every later feed must too.
 */
static int
feed(struct mpart *mp, const char *body, size_t len, size_t step,
    size_t split, const char *name, const char *how)
{
	size_t	 off, n;
	int	 rc = 0, r;

	if (step == 0) {
		rc = mpart_feed(mp, body, split);
		r = mpart_feed(mp, body + split, len - split);
		if (rc == -1 && r != -1)
			fail_msg("\"%s\" (%s): a feed after -1 returned %d",
			    name, how, r);
		return r;
	}
	for (off = 0; off < len; off += n) {
		n = len - off < step ? len - off : step;
		r = mpart_feed(mp, body + off, n);
		if (rc == -1 && r != -1)
			fail_msg("\"%s\" (%s): a feed after -1 returned %d",
			    name, how, r);
		rc = r;
	}
	return rc;
}

static void
check(const char *name, const char *ct, const char *body, size_t len,
    size_t max, size_t step, size_t split, const struct want *w)
{
	struct mpart		*mp;
	const unsigned char	*data;
	char			 how[64];
	size_t			 dlen;
	int			 frc, rc;

	if (step > 0)
		snprintf(how, sizeof(how), "%zu-byte chunks", step);
	else
		snprintf(how, sizeof(how), "split at %zu", split);
	if ((mp = mpart_new(ct, max)) == NULL)
		fail_msg("\"%s\": Content-Type refused", name);
	frc = feed(mp, body, len, step, split, name, how);
	rc = mpart_finish(mp);
	if (w->err == APP_OK) {
		data = mpart_file(mp, &dlen);
		if (frc != 0 || rc != 0)
			fail_msg("\"%s\" (%s): refused: %s", name, how,
			    mpart_reason(mp));
		if (mpart_error(mp) != APP_OK || *mpart_reason(mp) != '\0' ||
		    strcmp(mpart_field(mp), w->field) != 0 ||
		    strcmp(mpart_filename(mp), w->filename) != 0 ||
		    dlen != w->dlen || memcmp(data, w->data, dlen) != 0)
			fail_msg("\"%s\" (%s): got %s \"%s\", %zu bytes", name,
			    how, mpart_field(mp), mpart_filename(mp), dlen);
	} else {
		if (rc != -1 || frc != (w->at_finish ? 0 : -1) ||
		    mpart_error(mp) != w->err || *mpart_reason(mp) == '\0')
			fail_msg("\"%s\" (%s): feed %d, finish %d, error %d "
			    "(%s), want error %d %s", name, how, frc, rc,
			    mpart_error(mp), mpart_reason(mp), w->err,
			    w->at_finish ? "at finish" : "from a feed");
		data = mpart_file(mp, &dlen);
		assert_null(data);
		assert_int_equal(dlen, 0);
		assert_string_equal(mpart_field(mp), "");
		assert_string_equal(mpart_filename(mp), "");
	}
	mpart_free(mp);
}

/* Whole, in 1, 2, 3 and 7-byte chunks, and cut in two at every byte. */
static void
check_splits(const char *name, const char *ct, const char *body,
    size_t len, size_t max, const struct want *w)
{
	static const size_t	 steps[] = { 1, 2, 3, 7 };
	size_t			 i;

	check(name, ct, body, len, max, len > 0 ? len : 1, 0, w);
	for (i = 0; i < sizeof(steps) / sizeof(steps[0]); i++)
		check(name, ct, body, len, max, steps[i], 0, w);
	for (i = 0; i <= len; i++)
		check(name, ct, body, len, max, 0, i, w);
}

static void
test_good(void **state)
{
	const struct good_case	*c;
	struct want		 w;
	size_t			 i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		c = &good[i];
		memset(&w, 0, sizeof(w));
		w.err = APP_OK;
		w.field = c->field;
		w.filename = c->filename;
		w.data = c->data;
		w.dlen = c->dlen;
		check_splits(c->name, c->ct, c->body, c->blen, MAXF, &w);
	}
}

static void
test_bad(void **state)
{
	const struct bad_case	*c;
	struct want		 w;
	size_t			 i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		c = &bad[i];
		memset(&w, 0, sizeof(w));
		w.err = c->err;
		w.at_finish = c->at_finish;
		check_splits(c->name, CT, c->body, c->blen, c->max, &w);
	}
}

static void
test_content_type(void **state)
{
	static const struct {
		const char	*ct;
		const char	*boundary;
	} ok[] = {
		{ "multipart/form-data; boundary=XyZ", "XyZ" },
		{ "multipart/form-data;boundary=XyZ", "XyZ" },
		{ "Multipart/Form-Data; BOUNDARY=XyZ", "XyZ" },
		{ " multipart/form-data ;\tboundary = XyZ ; ", "XyZ" },
		{ "multipart/form-data; charset=utf-8; boundary=\"XyZ\"",
		    "XyZ" },
		{ "multipart/form-data; boundary=\"X\\yZ\"; a=\"b;c\"", "XyZ" },
		{ "multipart/form-data; boundary=1", "1" },
		{ "multipart/form-data; boundary=\"a b\"", "a b" },
		{ "multipart/form-data; boundary=\"" B70 "\"", B70 },
	};
	static const char *const refused[] = {
		"", "text/plain", "text/plain; boundary=XyZ",
		"application/json", "multipart/mixed; boundary=XyZ",
		"multipart/form-dataX; boundary=XyZ", "multipart/form-data",
		"multipart/form-data;", "multipart/form-data; charset=utf-8",
		"multipart/form-data; boundary=", "multipart/form-data; "
		"boundary=\"\"", "multipart/form-data; boundary=\"XyZ",
		"multipart/form-data; boundary=" B70 "x",
		"multipart/form-data; boundary=\"" B70 "x\"",
		"multipart/form-data; boundary=\"a \"",
		"multipart/form-data; boundary=\"a\tb\"",
		"multipart/form-data; boundary=<a>",
		"multipart/form-data; boundary=a*b",
		"multipart/form-data; boundary=\"a\x01\"",
		"multipart/form-data; boundary=a b",
		"multipart/form-data; boundary=a; boundary=a",
		"multipart/form-data; xboundary=a",
		"multipart/form-data; boundary=a;;",
		"multipart/form-data boundary=a",
		"; multipart/form-data; boundary=a",
	};
	struct want	 w;
	struct buf	 b;
	size_t		 i;

	(void)state;
	memset(&w, 0, sizeof(w));
	w.field = "image";
	w.filename = "";
	w.data = "I";
	w.dlen = 1;
	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		buf_init(&b);
		buf_printf(&b, "--%s\r\n" CDN("image") "\r\n\r\nI\r\n--%s--",
		    ok[i].boundary, ok[i].boundary);
		check(ok[i].ct, ok[i].ct, b.data, b.len, MAXF, b.len, 0, &w);
		buf_cleanup(&b);
	}
	for (i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
		if (mpart_new(refused[i], MAXF) != NULL)
			fail_msg("Content-Type \"%s\" accepted", refused[i]);
	assert_null(mpart_new(NULL, MAXF));
	assert_int_equal(mpart_error(NULL), APP_E_MEDIA_TYPE);
	assert_true(*mpart_reason(NULL) != '\0');
}

/* A body with one part whose header block is hlen bytes, then an image. */
static void
header_body(struct buf *b, size_t hlen)
{
	static const char	 cd[] = CDN("image") "\r\nX-Pad: ";
	size_t			 pad = hlen - (sizeof(cd) - 1) - 4;

	buf_puts(b, "--XyZ\r\n");
	buf_puts(b, cd);
	while (pad-- > 0)
		buf_putc(b, 'a');
	buf_puts(b, "\r\n\r\nI\r\n" CLOSE);
}

/* A body of n parts: text fields, then the image last. */
static void
parts_body(struct buf *b, int n)
{
	int	 i;

	for (i = 1; i < n; i++)
		buf_printf(b, P(CDN("f%d"), "v%d"), i, i);
	buf_puts(b, P(CDN("image"), "I") CLOSE);
}

static void
test_limits(void **state)
{
	struct want	 ok, w;
	struct buf	 b;
	char		 data[100];

	(void)state;
	memset(&ok, 0, sizeof(ok));
	ok.field = "image";
	ok.filename = "";
	ok.data = "I";
	ok.dlen = 1;
	memset(&w, 0, sizeof(w));
	w.err = APP_E_INVALID_IMAGE;

	buf_init(&b);
	header_body(&b, MPART_HDR_MAX);
	check_splits("header block at the limit", CT, b.data, b.len, MAXF,
	    &ok);
	buf_reset(&b);
	header_body(&b, MPART_HDR_MAX + 1);
	check_splits("header block over the limit", CT, b.data, b.len, MAXF,
	    &w);
	buf_reset(&b);
	header_body(&b, 100000);
	check("header block far over the limit", CT, b.data, b.len, MAXF,
	    b.len, 0, &w);

	buf_reset(&b);
	parts_body(&b, MPART_PARTS_MAX);
	check_splits("parts at the limit", CT, b.data, b.len, MAXF, &ok);
	buf_reset(&b);
	parts_body(&b, MPART_PARTS_MAX + 1);
	check_splits("parts over the limit", CT, b.data, b.len, MAXF, &w);

	/* Exactly max_file is kept; one more is too large. */
	memset(data, 'd', sizeof(data));
	buf_reset(&b);
	buf_puts(&b, "--XyZ\r\n" CDN("file") "\r\n\r\n");
	buf_append(&b, data, sizeof(data));
	buf_puts(&b, "\r\n" CLOSE);
	ok.field = "file";
	ok.data = data;
	ok.dlen = sizeof(data);
	check_splits("file at max_file", CT, b.data, b.len, sizeof(data), &ok);
	w.err = APP_E_TOO_LARGE;
	check_splits("file over max_file", CT, b.data, b.len,
	    sizeof(data) - 1, &w);
	/* No allocation of max_file up front: it could never succeed. */
	check_splits("max_file SIZE_MAX", CT, b.data, b.len, SIZE_MAX, &ok);
	buf_cleanup(&b);
}

#if defined(__SANITIZE_ADDRESS__)
#define HAVE_ALLOCATED_BYTES 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HAVE_ALLOCATED_BYTES 1
#endif
#endif
#ifdef HAVE_ALLOCATED_BYTES
size_t	__sanitizer_get_current_allocated_bytes(void);
#endif

/*
 * A file part far over max_file is refused on the feed that crosses the
 * limit, and feeding on holds no more memory.
 */
static void
test_too_large_stops(void **state)
{
	static const char	 head[] = "--XyZ\r\n" CDN("image") "\r\n\r\n";
	const size_t		 max = 64 * 1024;
	struct mpart		*mp;
	char			*chunk;
	size_t			 i, fed = 0;
	int			 rc;
#ifdef HAVE_ALLOCATED_BYTES
	size_t			 before;

	before = __sanitizer_get_current_allocated_bytes();
#endif
	(void)state;
	assert_non_null(chunk = malloc(4096));
	memset(chunk, 'A', 4096);
	assert_non_null(mp = mpart_new(CT, max));
	assert_int_equal(mpart_feed(mp, S(head)), 0);
	for (i = 0; i < 4096; i++) {
		rc = mpart_feed(mp, chunk, 4096);
		fed += 4096;
		/* No CR in the data: no byte waits as a possible delimiter. */
		if (fed <= max)
			assert_int_equal(rc, 0);
		else
			assert_int_equal(rc, -1);
	}
	assert_int_equal(mpart_error(mp), APP_E_TOO_LARGE);
	assert_int_equal(mpart_finish(mp), -1);
	assert_int_equal(mpart_error(mp), APP_E_TOO_LARGE);
#ifdef HAVE_ALLOCATED_BYTES
	if (__sanitizer_get_current_allocated_bytes() - before >
	    max + 64 * 1024)
		fail_msg("16 MiB fed past a 64 KiB limit holds %zu bytes",
		    __sanitizer_get_current_allocated_bytes() - before);
#endif
	mpart_free(mp);
	free(chunk);
}

static void
test_api(void **state)
{
	static const char	 body[] = P(CDF("image", "a.png"), "IMG")
				    CLOSE;
	struct mpart		*mp;
	size_t			 len = 99;

	(void)state;
	mpart_free(NULL);
	assert_non_null(mp = mpart_new(CT, MAXF));
	assert_int_equal(mpart_error(mp), APP_OK);
	assert_string_equal(mpart_reason(mp), "");
	assert_int_equal(mpart_feed(mp, body, 0), 0);
	assert_int_equal(mpart_feed(mp, S(body)), 0);
	/* Nothing is handed out before finish. */
	assert_null(mpart_file(mp, &len));
	assert_int_equal(len, 0);
	assert_string_equal(mpart_field(mp), "");
	assert_string_equal(mpart_filename(mp), "");
	assert_int_equal(mpart_finish(mp), 0);
	assert_int_equal(mpart_finish(mp), 0);
	assert_memory_equal(mpart_file(mp, &len), "IMG", 3);
	assert_int_equal(len, 3);
	/* Feeding after finish is refused and changes nothing. */
	assert_int_equal(mpart_feed(mp, S("x")), -1);
	assert_int_equal(mpart_error(mp), APP_OK);
	assert_string_equal(mpart_field(mp), "image");
	assert_string_equal(mpart_filename(mp), "a.png");
	mpart_free(mp);

	/* A refusal sticks: later feeds and finish say the same. */
	assert_non_null(mp = mpart_new(CT, MAXF));
	assert_int_equal(mpart_feed(mp, S("--XyZ?")), -1);
	assert_int_equal(mpart_error(mp), APP_E_INVALID_IMAGE);
	assert_int_equal(mpart_feed(mp, S(body)), -1);
	assert_int_equal(mpart_finish(mp), -1);
	assert_int_equal(mpart_error(mp), APP_E_INVALID_IMAGE);
	assert_string_equal(mpart_reason(mp),
	    "unexpected bytes after a boundary");
	mpart_free(mp);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_bad),
		cmocka_unit_test(test_content_type),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_too_large_stops),
		cmocka_unit_test(test_api),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
