/* A small mustache-subset template renderer whose every data value comes out HTML-escaped. */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "buf.h"
#include "mem.h"
#include "tmpl.h"

/* Largest template file tmpl_load reads; templates are ours and small. */
#define TMPL_MAX_FILE	(1024 * 1024)

enum tmpl_op {
	TMPL_TEXT,		/* copy s[0..len) */
	TMPL_VAR,		/* escaped value of member s */
	TMPL_DOT,		/* escaped current element */
	TMPL_SECTION,		/* body is nodes (this, end) */
	TMPL_INVERTED,		/* body is nodes (this, end) */
	TMPL__MAX
};

struct tmpl_node {
	enum tmpl_op	 op;
	const char	*s;	/* text span, or NUL-terminated name */
	size_t		 len;	/* TMPL_TEXT: bytes in s */
	size_t		 end;	/* sections: index of the node after the body */
};

/*
 * src is a private copy of the template text. Text nodes point into it;
 * tag names do too, NUL-terminated in place: a name is always followed by
 * a byte of its own tag (space or '}'), never by text a node copies.
 */
struct tmpl {
	char			*src;
	struct tmpl_node	*nodes;
	size_t			 nnodes;
	size_t			 cap;
};

struct parser {
	const char	*file;	/* prefix for messages, or NULL */
	char		*err;
	size_t		 errlen;
};

static void	perr(struct parser *, unsigned long, const char *, ...)
		    __attribute__((format(printf, 3, 4)));

static void
perr(struct parser *p, unsigned long line, const char *fmt, ...)
{
	va_list	 ap;
	int	 n;

	if (p->err == NULL || p->errlen == 0)
		return;
	n = snprintf(p->err, p->errlen, "%s%sline %lu: ",
	    p->file != NULL ? p->file : "", p->file != NULL ? ": " : "",
	    line);
	if (n < 0 || (size_t)n >= p->errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(p->err + n, p->errlen - (size_t)n, fmt, ap);
	va_end(ap);
}

static unsigned long
count_lines(const char *s, size_t n)
{
	const char	*nl, *end = s + n;
	unsigned long	 lines = 0;

	while (s < end && (nl = memchr(s, '\n', (size_t)(end - s))) != NULL) {
		lines++;
		s = nl + 1;
	}
	return lines;
}

/* Offset of the first "xx" (x being c) in s[from..n), or n. */
static size_t
find_pair(const char *s, size_t from, size_t n, char c)
{
	const char	*q;

	while (from + 1 < n &&
	    (q = memchr(s + from, c, n - from - 1)) != NULL) {
		from = (size_t)(q - s);
		if (s[from + 1] == c)
			return from;
		from++;
	}
	return n;
}

static struct tmpl_node *
add_node(struct tmpl *t, enum tmpl_op op, const char *s, size_t len)
{
	struct tmpl_node	*n;

	if (t->nnodes == t->cap) {
		t->cap = t->cap == 0 ? 16 : t->cap * 2;
		t->nodes = mem_realloc(t->nodes, t->cap * sizeof(*t->nodes));
	}
	n = &t->nodes[t->nnodes++];
	n->op = op;
	n->s = s;
	n->len = len;
	n->end = 0;
	return n;
}

static int
name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '_';
}

/*
 * Check that s[0..n) is a name (or "." when dot) between optional spaces,
 * NUL-terminate it in place and return it; NULL after reporting why not.
 * s[n] is the tag's first closing '}', so the NUL always lands in the tag.
 */
static char *
tag_name(struct parser *p, unsigned long line, char *s, size_t n, int dot)
{
	size_t	 b = 0, e, k;

	while (b < n && (s[b] == ' ' || s[b] == '\t'))
		b++;
	if (b == n) {
		perr(p, line, "empty tag");
		return NULL;
	}
	e = b;
	if (dot && s[e] == '.')
		e++;
	else
		while (e < n && name_char(s[e]))
			e++;
	for (k = e; k < n && (s[k] == ' ' || s[k] == '\t'); k++)
		continue;
	if (e == b || k < n) {
		perr(p, line, "bad name in tag (want [A-Za-z0-9_]+)");
		return NULL;
	}
	s[e] = '\0';
	return s + b;
}

static struct tmpl *
compile(const char *text, size_t len, const char *file, char *err,
    size_t errlen)
{
	struct parser		 p;
	struct tmpl		*t, *ret = NULL;
	struct tmpl_node	*n;
	char			*src, *name;
	size_t			 i = 0, tag, tend, opened[TMPL_MAX_DEPTH];
	unsigned long		 line = 1, tline, oline[TMPL_MAX_DEPTH];
	int			 depth = 0;

	t = mem_calloc(1, sizeof(*t));
	t->src = src = mem_malloc(len + 1);
	if (len > 0)
		memcpy(src, text, len);
	src[len] = '\0';
	p.file = file;
	p.err = err;
	p.errlen = errlen;
	if (err != NULL && errlen > 0)
		err[0] = '\0';

	while (i < len) {
		tag = find_pair(src, i, len, '{');
		if (tag > i) {
			add_node(t, TMPL_TEXT, src + i, tag - i);
			line += count_lines(src + i, tag - i);
		}
		if (tag == len)
			break;
		tline = line;
		if ((tend = find_pair(src, tag + 2, len, '}')) == len) {
			perr(&p, tline, "unclosed {{");
			goto out;
		}
		line += count_lines(src + tag, tend - tag);
		i = tend + 2;
		tag += 2;
		switch (tag < tend ? src[tag] : '\0') {
		case '!':
			break;
		case '{':
		case '&':
			perr(&p, tline, "raw output ({{{ }}} or {{& }}) "
			    "is not supported");
			goto out;
		case '>':
		case '=':
			perr(&p, tline, "partials and delimiter changes "
			    "are not supported");
			goto out;
		case '#':
		case '^':
			if (depth == TMPL_MAX_DEPTH) {
				perr(&p, tline, "sections nested deeper "
				    "than %d", TMPL_MAX_DEPTH);
				goto out;
			}
			if ((name = tag_name(&p, tline, src + tag + 1,
			    tend - tag - 1, 0)) == NULL)
				goto out;
			opened[depth] = t->nnodes;
			oline[depth++] = tline;
			add_node(t, src[tag] == '#' ? TMPL_SECTION :
			    TMPL_INVERTED, name, 0);
			break;
		case '/':
			if ((name = tag_name(&p, tline, src + tag + 1,
			    tend - tag - 1, 0)) == NULL)
				goto out;
			if (depth == 0) {
				perr(&p, tline, "{{/%s}} without an open "
				    "section", name);
				goto out;
			}
			n = &t->nodes[opened[depth - 1]];
			if (strcmp(name, n->s) != 0) {
				perr(&p, tline, "{{/%s}} does not close "
				    "section \"%s\" opened on line %lu", name,
				    n->s, oline[depth - 1]);
				goto out;
			}
			n->end = t->nnodes;
			depth--;
			break;
		default:
			if ((name = tag_name(&p, tline, src + tag,
			    tend - tag, 1)) == NULL)
				goto out;
			if (strcmp(name, ".") == 0)
				add_node(t, TMPL_DOT, NULL, 0);
			else
				add_node(t, TMPL_VAR, name, 0);
			break;
		}
	}
	if (depth > 0) {
		perr(&p, oline[depth - 1], "section \"%s\" is never closed",
		    t->nodes[opened[depth - 1]].s);
		goto out;
	}
	ret = t;
	t = NULL;
out:
	tmpl_free(t);
	return ret;
}

struct tmpl *
tmpl_parse(const char *text, size_t len, char *err, size_t errlen)
{
	return compile(text, len, NULL, err, errlen);
}

struct tmpl *
tmpl_load(const char *path, char *err, size_t errlen)
{
	struct tmpl	*t = NULL;
	struct stat	 st;
	struct buf	 b;
	char		 chunk[4096];
	ssize_t		 n;
	int		 fd;

	buf_init(&b);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1 ||
	    fstat(fd, &st) == -1) {
		if (errlen > 0)
			snprintf(err, errlen, "%s: %s", path,
			    strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		if (errlen > 0)
			snprintf(err, errlen, "%s: not a regular file", path);
		goto out;
	}
	for (;;) {
		if ((n = read(fd, chunk, sizeof(chunk))) == -1) {
			if (errno == EINTR)
				continue;
			if (errlen > 0)
				snprintf(err, errlen, "%s: %s", path,
				    strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		if (b.len + (size_t)n > TMPL_MAX_FILE) {
			if (errlen > 0)
				snprintf(err, errlen, "%s: larger than %d "
				    "bytes", path, TMPL_MAX_FILE);
			goto out;
		}
		buf_append(&b, chunk, (size_t)n);
	}
	t = compile(b.data, b.len, path, err, errlen);
out:
	if (fd != -1)
		close(fd);
	buf_cleanup(&b);
	return t;
}

void
tmpl_free(struct tmpl *t)
{
	if (t == NULL)
		return;
	free(t->nodes);
	free(t->src);
	free(t);
}

/* Replacement for each byte the escape changes; NULL copies the byte. */
static const char *const tmpl_entity[256] = {
	['&'] = "&amp;",
	['<'] = "&lt;",
	['>'] = "&gt;",
	['"'] = "&quot;",
	['\''] = "&#39;",
	['`'] = "&#96;",
};

void
tmpl_escape(struct buf *out, const char *s, size_t n)
{
	size_t	 i = 0, run;

	while (i < n) {
		run = i;
		while (run < n && tmpl_entity[(unsigned char)s[run]] == NULL)
			run++;
		if (run > i)
			buf_append(out, s + i, run - i);
		if (run == n)
			break;
		buf_puts(out, tmpl_entity[(unsigned char)s[run]]);
		i = run + 1;
	}
}

/* Print a scalar escaped; objects, arrays and null print nothing. */
static void
put_value(struct buf *out, struct json_object *v)
{
	char		 num[32];
	const char	*s;
	size_t		 n;
	int64_t		 i;

	switch (json_object_get_type(v)) {
	case json_type_string:
		tmpl_escape(out, json_object_get_string(v),
		    (size_t)json_object_get_string_len(v));
		break;
	case json_type_int:
		/* get_int64 saturates; only then may the value be unsigned. */
		if ((i = json_object_get_int64(v)) == INT64_MAX)
			snprintf(num, sizeof(num), "%" PRIu64,
			    json_object_get_uint64(v));
		else
			snprintf(num, sizeof(num), "%" PRId64, i);
		buf_puts(out, num);
		break;
	case json_type_double:
		/*
		 * json-c keeps a parsed double's original text and otherwise
		 * formats it its own way; it caches that in the object.
		 */
		s = json_object_to_json_string_length(v,
		    JSON_C_TO_STRING_PLAIN, &n);
		if (s != NULL)
			tmpl_escape(out, s, n);
		break;
	case json_type_boolean:
		buf_puts(out, json_object_get_boolean(v) ? "true" : "false");
		break;
	default:
		break;
	}
}

/* The member name of the innermost object context that has it, or NULL. */
static struct json_object *
lookup(struct json_object *const *stack, size_t depth, const char *name)
{
	struct json_object	*v;

	while (depth-- > 0)
		if (json_object_is_type(stack[depth], json_type_object) &&
		    json_object_object_get_ex(stack[depth], name, &v))
			return v;
	return NULL;
}

/* Whether a section over v renders (at least once). */
static int
truthy(struct json_object *v)
{
	switch (json_object_get_type(v)) {
	case json_type_boolean:
		return json_object_get_boolean(v);
	case json_type_int:
		return json_object_get_int64(v) != 0;
	case json_type_double:
		/* NaN is not zero, so it counts as true. */
		return json_object_get_double(v) != 0;
	case json_type_string:
		return json_object_get_string_len(v) > 0;
	case json_type_array:
		return json_object_array_length(v) > 0;
	case json_type_object:
		return 1;
	default:
		return 0;
	}
}

/*
 * Render nodes [i, end) with contexts stack[0..depth). Each section adds
 * at most one context, so depth never passes TMPL_MAX_DEPTH + 1.
 */
static void
render(const struct tmpl *t, size_t i, size_t end,
    struct json_object **stack, size_t depth, struct buf *out)
{
	const struct tmpl_node	*n;
	struct json_object	*v;
	size_t			 k, len;

	while (i < end) {
		n = &t->nodes[i];
		switch (n->op) {
		case TMPL_TEXT:
			buf_append(out, n->s, n->len);
			break;
		case TMPL_VAR:
			put_value(out, lookup(stack, depth, n->s));
			break;
		case TMPL_DOT:
			put_value(out, stack[depth - 1]);
			break;
		case TMPL_SECTION:
			v = lookup(stack, depth, n->s);
			if (json_object_is_type(v, json_type_array)) {
				len = json_object_array_length(v);
				for (k = 0; k < len; k++) {
					stack[depth] =
					    json_object_array_get_idx(v, k);
					render(t, i + 1, n->end, stack,
					    depth + 1, out);
				}
			} else if (json_object_is_type(v, json_type_object)) {
				stack[depth] = v;
				render(t, i + 1, n->end, stack, depth + 1, out);
			} else if (truthy(v))
				render(t, i + 1, n->end, stack, depth, out);
			i = n->end;
			continue;
		case TMPL_INVERTED:
			if (!truthy(lookup(stack, depth, n->s)))
				render(t, i + 1, n->end, stack, depth, out);
			i = n->end;
			continue;
		default:
			break;
		}
		i++;
	}
}

int
tmpl_render(const struct tmpl *t, struct json_object *data, struct buf *out)
{
	struct json_object	*stack[TMPL_MAX_DEPTH + 1];

	stack[0] = data;
	render(t, 0, t->nnodes, stack, 1, out);
	return 0;
}
