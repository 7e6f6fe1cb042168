/* A small mustache-subset template renderer whose every data value comes out HTML-escaped. */
#ifndef TMPL_H
#define TMPL_H

#include <stddef.h>

/*
 * Syntax: {{name}} (escaped value, looked up from the innermost section
 * context outward to the root), {{#name}}...{{/name}} (section),
 * {{^name}}...{{/name}} (inverted section), {{.}} (the current array
 * element) and {{! comment }}. There is deliberately no raw output
 * ({{{x}}}, {{&x}}), no partials and no delimiter change: a template can
 * only put data on a page escaped.
 */

struct tmpl;			/* compiled, immutable after parsing */
struct json_object;
struct buf;

/* Deepest section nesting a template may use. */
#define TMPL_MAX_DEPTH	16

/*
 * Compile text (len bytes, need not be NUL-terminated; the text is
 * copied). Returns new (free with tmpl_free), or NULL with a message
 * naming the line written to err (errlen bytes, NUL-terminated; err may be
 * NULL when errlen is 0).
 */
struct tmpl	*tmpl_parse(const char *text, size_t len, char *err,
		    size_t errlen);

/*
 * Read and compile the file at path. Returns new (free with tmpl_free),
 * or NULL with a message that names the file written to err.
 */
struct tmpl	*tmpl_load(const char *path, char *err, size_t errlen);

/* Release t and everything it owns. NULL is a no-op. */
void		 tmpl_free(struct tmpl *t);

/*
 * Append the rendering of t with data (a json-c object; borrowed, only
 * read) to out (the caller's). Any data shape is accepted: values of the
 * wrong kind render as nothing. Returns 0.
 */
int		 tmpl_render(const struct tmpl *t, struct json_object *data,
		    struct buf *out);

/*
 * Append s (n bytes, borrowed) to out with & < > " ' ` replaced by
 * character references; every other byte, UTF-8 included, is copied.
 * Safe for element text and quoted attribute values only.
 */
void		 tmpl_escape(struct buf *out, const char *s, size_t n);

#endif
