/* Unit tests for lib/tmpl.c: escaping, rendering, parse errors, loading and the real templates. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "buf.h"
#include "tmpl.h"

/* Tests run from the repository root (make does). */
#define TEMPLATE_DIR	"templates"

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

/* Parse json (NULL: no data at all); fail the test on bad JSON. */
static struct json_object *
json(const char *s)
{
	struct json_object	*obj;

	if (s == NULL)
		return NULL;
	if ((obj = json_tokener_parse(s)) == NULL)
		fail_msg("test data is not JSON: %s", s);
	return obj;
}

/* Render text with data; new, free with free(3). */
static char *
render(const char *name, const char *text, const char *data)
{
	struct tmpl		*t;
	struct json_object	*obj;
	struct buf		 b;
	char			 err[256];

	if ((t = tmpl_parse(text, strlen(text), err, sizeof(err))) == NULL)
		fail_msg("\"%s\": refused: %s", name, err);
	obj = json(data);
	buf_init(&b);
	assert_int_equal(tmpl_render(t, obj, &b), 0);
	buf_putc(&b, '\0');	/* data is NULL until the first append */
	json_object_put(obj);
	tmpl_free(t);
	return b.data;
}

struct render_case {
	const char	*name;
	const char	*text;
	const char	*data;
	const char	*want;
};

static void
run_render_cases(const struct render_case *c, size_t n)
{
	char	*got;
	size_t	 i;
	int	 same;

	for (i = 0; i < n; i++) {
		got = render(c[i].name, c[i].text, c[i].data);
		if (!(same = strcmp(got, c[i].want) == 0)) {
			fprintf(stderr, "\"%s\": got   [%s]\n", c[i].name, got);
			fprintf(stderr, "\"%s\": want  [%s]\n", c[i].name,
			    c[i].want);
		}
		free(got);
		if (!same)
			fail_msg("render \"%s\" differs", c[i].name);
	}
}

static void
test_escape(void **state)
{
	static const struct {
		const char	*in;
		const char	*out;
	} cases[] = {
		{ "", "" },
		{ "plain text 123", "plain text 123" },
		{ "&", "&amp;" },
		{ "<>\"'`", "&lt;&gt;&quot;&#39;&#96;" },
		{ "&amp;", "&amp;amp;" },
		{ "&lt;", "&amp;lt;" },
		{ "<script>alert(1)</script>",
		    "&lt;script&gt;alert(1)&lt;/script&gt;" },
		{ "\"><img src=x onerror=alert(1)>",
		    "&quot;&gt;&lt;img src=x onerror=alert(1)&gt;" },
		{ "' onmouseover='x", "&#39; onmouseover=&#39;x" },
		{ "`${x}`", "&#96;${x}&#96;" },
		{ "{{name}}", "{{name}}" },
		{ "\xe6\x89\x8b\xe6\x9c\xba \xf0\x9f\x98\x80 caf\xc3\xa9",
		    "\xe6\x89\x8b\xe6\x9c\xba \xf0\x9f\x98\x80 caf\xc3\xa9" },
		{ "a<b&c>d", "a&lt;b&amp;c&gt;d" },
	};
	struct buf	 b;
	size_t		 i;

	(void)state;
	buf_init(&b);
	for (i = 0; i < NELEM(cases); i++) {
		buf_reset(&b);
		tmpl_escape(&b, cases[i].in, strlen(cases[i].in));
		buf_putc(&b, '\0');
		if (strcmp(b.data, cases[i].out) != 0)
			fail_msg("escape [%s]: [%s], want [%s]", cases[i].in,
			    b.data, cases[i].out);
	}

	/* It appends, honours n (not NUL) and passes a NUL byte through. */
	buf_reset(&b);
	buf_puts(&b, "x");
	tmpl_escape(&b, "a\0<b", 4);
	tmpl_escape(&b, "<<<", 1);
	assert_int_equal(b.len, 12);
	assert_memory_equal(b.data, "xa\0&lt;b&lt;", 12);
	buf_cleanup(&b);
}

static const struct render_case values[] = {
	{ "empty template", "", "{}", "" },
	{ "plain text", "hello, world\n", "{}", "hello, world\n" },
	{ "lone braces are text", "a { b } c {x} }} d", "{}",
	    "a { b } c {x} }} d" },
	{ "string", "Hi {{name}}!", "{\"name\":\"Ann\"}", "Hi Ann!" },
	{ "spaces in tag", "[{{ name }}|{{name }}|{{\tname\t}}]",
	    "{\"name\":\"x\"}", "[x|x|x]" },
	{ "value then brace", "{{a}}}", "{\"a\":\"v\"}", "v}" },
	{ "absent", "[{{x}}]", "{}", "[]" },
	{ "null", "[{{x}}]", "{\"x\":null}", "[]" },
	{ "empty string", "[{{x}}]", "{\"x\":\"\"}", "[]" },
	{ "integer", "{{n}}", "{\"n\":42}", "42" },
	{ "zero", "{{n}}", "{\"n\":0}", "0" },
	{ "negative", "{{n}}", "{\"n\":-7}", "-7" },
	{ "int64 max", "{{n}}", "{\"n\":9223372036854775807}",
	    "9223372036854775807" },
	{ "int64 min", "{{n}}", "{\"n\":-9223372036854775808}",
	    "-9223372036854775808" },
	{ "uint64", "{{n}}", "{\"n\":18446744073709551615}",
	    "18446744073709551615" },
	{ "double", "{{d}}", "{\"d\":1.5}", "1.5" },
	{ "double keeps its text", "{{d}}", "{\"d\":2.50}", "2.50" },
	{ "true", "{{b}}", "{\"b\":true}", "true" },
	{ "false", "{{b}}", "{\"b\":false}", "false" },
	{ "object prints nothing", "[{{o}}]", "{\"o\":{\"a\":1}}", "[]" },
	{ "array prints nothing", "[{{a}}]", "{\"a\":[1,2]}", "[]" },
	{ "dot at the root prints nothing", "[{{.}}]", "{\"a\":1}", "[]" },
	{ "comment", "a{{! note }}b", "{}", "ab" },
	{ "empty comment", "a{{!}}b", "{}", "ab" },
	{ "multi-line comment", "a{{! one\ntwo\n}}b", "{}", "ab" },
	{ "comment with braces", "a{{! { {{x }}b", "{}", "ab" },
	{ "name chars", "{{A_b9}}", "{\"A_b9\":\"ok\"}", "ok" },
	{ "case matters", "[{{Name}}]", "{\"name\":\"x\"}", "[]" },
	{ "not an object at the root", "[{{a}}{{#a}}x{{/a}}]", "[1]", "[]" },
	{ "no data", "[{{a}}{{^a}}none{{/a}}]", NULL, "[none]" },
	{ "utf-8 text and data", "\xe6\x89\x8b\xe6\x9c\xba {{p}}",
	    "{\"p\":\"\xe5\x8f\xb7\xe7\xa0\x81 \xf0\x9f\x98\x80\"}",
	    "\xe6\x89\x8b\xe6\x9c\xba \xe5\x8f\xb7\xe7\xa0\x81 "
	    "\xf0\x9f\x98\x80" },
};

static void
test_values(void **state)
{
	(void)state;
	run_render_cases(values, NELEM(values));
}

/* Hostile values stay inert: escaped, and never parsed as template. */
static const struct render_case hostile[] = {
	{ "script", "<p>{{v}}</p>",
	    "{\"v\":\"<script>alert(1)</script>\"}",
	    "<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>" },
	{ "attribute break-out", "<a title=\"{{v}}\">",
	    "{\"v\":\"\\\"><img src=x onerror=alert(1)>\"}",
	    "<a title=\"&quot;&gt;&lt;img src=x onerror=alert(1)&gt;\">" },
	{ "single-quote break-out", "<a title='{{v}}'>",
	    "{\"v\":\"' onmouseover='x\"}",
	    "<a title='&#39; onmouseover=&#39;x'>" },
	{ "backtick", "{{v}}", "{\"v\":\"`x`\"}", "&#96;x&#96;" },
	{ "tag in data", "{{v}}", "{\"v\":\"{{name}}\",\"name\":\"no\"}",
	    "{{name}}" },
	{ "section in data", "{{v}}",
	    "{\"v\":\"{{#a}}x{{/a}}\",\"a\":true}", "{{#a}}x{{/a}}" },
	{ "raw tag in data", "{{v}}", "{\"v\":\"{{{name}}}\"}",
	    "{{{name}}}" },
	{ "entity double-escaped", "{{v}}", "{\"v\":\"&amp;\"}",
	    "&amp;amp;" },
	{ "nul in data", "[{{v}}]", "{\"v\":\"a\\u0000<\"}", "[a\0&lt;]" },
	{ "hostile array element", "{{#a}}{{.}}{{/a}}",
	    "{\"a\":[\"<b>\",\"{{x}}\"]}", "&lt;b&gt;{{x}}" },
	{ "hostile in section object", "{{#u}}{{n}}{{/u}}",
	    "{\"u\":{\"n\":\"<i>\"}}", "&lt;i&gt;" },
};

static void
test_hostile(void **state)
{
	char	*got;
	size_t	 i;
	int	 same;

	(void)state;
	for (i = 0; i < NELEM(hostile); i++) {
		got = render(hostile[i].name, hostile[i].text, hostile[i].data);
		/* "nul in data" is compared by bytes: strcmp stops at NUL. */
		if (strcmp(hostile[i].name, "nul in data") == 0)
			same = memcmp(got, "[a\0&lt;]", 9) == 0;
		else
			same = strcmp(got, hostile[i].want) == 0;
		if (!same)
			fprintf(stderr, "got [%s]\n", got);
		free(got);
		if (!same)
			fail_msg("hostile \"%s\" differs", hostile[i].name);
	}
}

static const struct render_case sections[] = {
	{ "array of objects", "<ul>{{#items}}<li>{{n}}</li>{{/items}}</ul>",
	    "{\"items\":[{\"n\":1},{\"n\":\"two\"},{}]}",
	    "<ul><li>1</li><li>two</li><li></li></ul>" },
	{ "array of scalars", "{{#a}}[{{.}}]{{/a}}",
	    "{\"a\":[\"x\",2,true,null,1.5]}", "[x][2][true][][1.5]" },
	{ "scalar element keeps context", "{{#a}}{{t}}{{.}};{{/a}}",
	    "{\"t\":\"T\",\"a\":[1,2]}", "T1;T2;" },
	{ "outer-context lookup", "{{#items}}{{title}}:{{n}};{{/items}}",
	    "{\"title\":\"T\",\"items\":[{\"n\":1},{\"n\":2}]}", "T:1;T:2;" },
	{ "inner shadows outer", "{{#o}}{{n}}{{/o}}{{n}}",
	    "{\"n\":\"out\",\"o\":{\"n\":\"in\"}}", "inout" },
	{ "inner null shadows outer", "[{{#o}}{{n}}{{/o}}]",
	    "{\"n\":\"out\",\"o\":{\"n\":null}}", "[]" },
	{ "three levels", "{{#a}}{{#b}}{{#c}}{{x}}{{y}}{{z}}{{/c}}{{/b}}{{/a}}",
	    "{\"x\":1,\"a\":{\"y\":2,\"b\":[{\"c\":[{\"z\":3},{\"z\":4}]}]}}",
	    "123124" },
	{ "nested arrays", "{{#rows}}[{{#cells}}{{.}}{{/cells}}]{{/rows}}",
	    "{\"rows\":[{\"cells\":[1,2]},{\"cells\":[]},{\"cells\":[3]}]}",
	    "[12][][3]" },
	{ "array of arrays", "{{#a}}({{.}}){{/a}}", "{\"a\":[[1],[2]]}",
	    "()()" },
	{ "context restored after section", "{{#o}}{{n}}{{/o}}|{{n}}",
	    "{\"o\":{\"n\":1}}", "1|" },
	{ "same section twice", "{{#a}}{{.}}{{/a}}-{{#a}}{{.}}{{/a}}",
	    "{\"a\":[1,2]}", "12-12" },
	{ "object", "{{#u}}{{name}}/{{id}}{{/u}}",
	    "{\"u\":{\"name\":\"n\",\"id\":7}}", "n/7" },
	{ "empty object renders once", "[{{#o}}x{{/o}}]", "{\"o\":{}}",
	    "[x]" },
	{ "true", "[{{#b}}yes{{/b}}]", "{\"b\":true}", "[yes]" },
	{ "true keeps context", "[{{#b}}{{n}}{{/b}}]",
	    "{\"b\":true,\"n\":5}", "[5]" },
	{ "non-empty string", "[{{#s}}<{{s}}>{{/s}}]", "{\"s\":\"v\"}",
	    "[<v>]" },
	{ "non-zero number", "[{{#n}}{{n}}{{/n}}]", "{\"n\":-1}", "[-1]" },
	{ "non-zero double", "[{{#d}}x{{/d}}]", "{\"d\":0.5}", "[x]" },
	{ "false", "[{{#b}}x{{/b}}]", "{\"b\":false}", "[]" },
	{ "null", "[{{#b}}x{{/b}}]", "{\"b\":null}", "[]" },
	{ "absent", "[{{#b}}x{{/b}}]", "{}", "[]" },
	{ "empty array", "[{{#b}}x{{/b}}]", "{\"b\":[]}", "[]" },
	{ "empty string", "[{{#b}}x{{/b}}]", "{\"b\":\"\"}", "[]" },
	{ "zero", "[{{#b}}x{{/b}}]", "{\"b\":0}", "[]" },
	{ "zero double", "[{{#b}}x{{/b}}]", "{\"b\":0.0}", "[]" },
	{ "spaces in section tags", "[{{# a }}x{{/ a }}{{^ b }}y{{/ b }}]",
	    "{\"a\":true}", "[xy]" },
	{ "inverted: empty array", "[{{^a}}none{{/a}}]", "{\"a\":[]}",
	    "[none]" },
	{ "inverted: absent", "[{{^a}}none{{/a}}]", "{}", "[none]" },
	{ "inverted: false", "[{{^a}}none{{/a}}]", "{\"a\":false}",
	    "[none]" },
	{ "inverted: null", "[{{^a}}none{{/a}}]", "{\"a\":null}", "[none]" },
	{ "inverted: empty string", "[{{^a}}none{{/a}}]", "{\"a\":\"\"}",
	    "[none]" },
	{ "inverted: zero", "[{{^a}}none{{/a}}]", "{\"a\":0}", "[none]" },
	{ "inverted: non-empty array", "[{{^a}}none{{/a}}]", "{\"a\":[1]}",
	    "[]" },
	{ "inverted: true", "[{{^a}}none{{/a}}]", "{\"a\":true}", "[]" },
	{ "inverted: string", "[{{^a}}none{{/a}}]", "{\"a\":\"x\"}", "[]" },
	{ "inverted: object", "[{{^a}}none{{/a}}]", "{\"a\":{}}", "[]" },
	{ "inverted keeps context", "{{^a}}{{n}}{{/a}}", "{\"n\":3}", "3" },
	{ "section and inverted", "{{#a}}{{.}}{{/a}}{{^a}}-{{/a}}",
	    "{\"a\":[]}", "-" },
	{ "inverted inside section", "{{#a}}{{^x}}.{{/x}}{{x}}{{/a}}",
	    "{\"a\":[{\"x\":1},{},{\"x\":0}]}", "1..0" },
	{ "outer lookup from inverted in array",
	    "{{#a}}{{^x}}{{t}}{{/x}}{{/a}}",
	    "{\"t\":\"T\",\"a\":[{},{\"x\":true}]}", "T" },
	{ "multi-line", "a\n{{#l}}\n- {{.}}\n{{/l}}\nz\n",
	    "{\"l\":[1,2]}", "a\n\n- 1\n\n- 2\n\nz\n" },
};

static void
test_sections(void **state)
{
	(void)state;
	run_render_cases(sections, NELEM(sections));
}

/* TMPL_MAX_DEPTH nested sections parse and render; one more is refused. */
static void
test_depth(void **state)
{
	struct json_object	*data;
	struct tmpl		*t;
	struct buf		 b, text;
	char			 err[256];
	int			 i;

	(void)state;
	buf_init(&b);
	buf_init(&text);
	for (i = 0; i < TMPL_MAX_DEPTH; i++)
		buf_printf(&text, "{{#s%d}}\n", i);
	buf_puts(&text, "{{x}}");
	for (i = TMPL_MAX_DEPTH - 1; i >= 0; i--)
		buf_printf(&text, "{{/s%d}}", i);
	data = json_object_new_object();
	for (i = 0; i < TMPL_MAX_DEPTH; i++) {
		char	 key[16];

		snprintf(key, sizeof(key), "s%d", i);
		json_object_object_add(data, key,
		    json_object_new_array());
		json_object_array_add(json_object_object_get(data, key),
		    json_object_new_object());
	}
	json_object_object_add(data, "x", json_object_new_string("deep"));
	t = tmpl_parse(text.data, text.len, err, sizeof(err));
	if (t == NULL)
		fail_msg("depth %d refused: %s", TMPL_MAX_DEPTH, err);
	tmpl_render(t, data, &b);
	assert_int_equal(b.len, TMPL_MAX_DEPTH + 4);
	assert_memory_equal(b.data + TMPL_MAX_DEPTH, "deep", 4);
	tmpl_free(t);
	json_object_put(data);

	buf_reset(&text);
	for (i = 0; i <= TMPL_MAX_DEPTH; i++)
		buf_printf(&text, "{{^s%d}}\n", i);
	for (i = TMPL_MAX_DEPTH; i >= 0; i--)
		buf_printf(&text, "{{/s%d}}", i);
	assert_null(tmpl_parse(text.data, text.len, err, sizeof(err)));
	if (strstr(err, "line 17") == NULL || strstr(err, "16") == NULL)
		fail_msg("too deep: message [%s]", err);
	buf_cleanup(&text);
	buf_cleanup(&b);
}

static void
test_bad(void **state)
{
	static const struct {
		const char	*name;
		const char	*text;
		int		 line;
	} cases[] = {
		{ "unclosed tag", "a\n{{b", 2 },
		{ "unclosed tag at end", "abc{{", 1 },
		{ "unclosed tag, one brace", "{{a}", 1 },
		{ "unclosed tag before a later one", "{{a\n\n{{b}}", 1 },
		{ "unclosed comment", "x\ny\n{{! no end", 3 },
		{ "unclosed section", "x\n{{#a}}\nbody\n", 2 },
		{ "unclosed inverted", "{{^a}}", 1 },
		{ "unclosed outer section", "{{#a}}\n{{#b}}{{/b}}\n", 1 },
		{ "wrong close", "{{#a}}\n{{/b}}", 2 },
		{ "close out of order", "{{#a}}{{#b}}\n\n{{/a}}{{/b}}", 3 },
		{ "stray close", "a\n\n{{/a}}", 3 },
		{ "close after closed section", "{{#a}}{{/a}}{{/a}}", 1 },
		{ "empty tag", "x {{}}", 1 },
		{ "blank tag", "\n{{  }}", 2 },
		{ "empty section name", "{{#}}{{/}}", 1 },
		{ "empty inverted name", "{{^ }}{{/ }}", 1 },
		{ "empty close name", "{{#a}}{{/}}", 1 },
		{ "dotted name", "{{a.b}}", 1 },
		{ "dash", "{{a-b}}", 1 },
		{ "two names", "{{a b}}", 1 },
		{ "newline in tag", "{{a\nb}}", 1 },
		{ "dot section", "{{#.}}{{/.}}", 1 },
		{ "dot then name", "{{.a}}", 1 },
		{ "two dots", "{{..}}", 1 },
		{ "non-ascii name", "{{caf\xc3\xa9}}", 1 },
		{ "quote in name", "{{a\"}}", 1 },
		{ "angle in name", "\n\n\n{{<a>}}", 4 },
		{ "triple mustache", "a\n{{{name}}}", 2 },
		{ "ampersand", "{{&name}}", 1 },
		{ "ampersand with space", "{{& name}}", 1 },
		{ "partial", "{{>part}}", 1 },
		{ "delimiter change", "{{=<% %>=}}", 1 },
		{ "bad name in section", "{{#a b}}{{/a}}", 1 },
		{ "bad name in close", "{{#a}}{{/a!}}", 1 },
		{ "error after many lines",
		    "1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\n{{#x}}", 12 },
	};
	struct tmpl	*t;
	char		 err[256], want[32];
	size_t		 i;

	(void)state;
	for (i = 0; i < NELEM(cases); i++) {
		memset(err, 0, sizeof(err));
		t = tmpl_parse(cases[i].text, strlen(cases[i].text), err,
		    sizeof(err));
		if (t != NULL) {
			tmpl_free(t);
			fail_msg("bad \"%s\" was accepted", cases[i].name);
		}
		snprintf(want, sizeof(want), "line %d:", cases[i].line);
		if (strstr(err, want) == NULL)
			fail_msg("bad \"%s\": message [%s] lacks [%s]",
			    cases[i].name, err, want);
	}
}

static void
test_err_buffer(void **state)
{
	char	 err[8];

	(void)state;
	/* No buffer at all, and a tiny one that truncates. */
	assert_null(tmpl_parse("{{#a}}", 6, NULL, 0));
	memset(err, 'x', sizeof(err));
	assert_null(tmpl_parse("{{#a}}", 6, err, sizeof(err)));
	assert_int_equal(strlen(err), sizeof(err) - 1);
	assert_null(tmpl_load("/nonexistent/x.html", NULL, 0));
	/* A success leaves an empty message. */
	memset(err, 'x', sizeof(err));
	tmpl_free(tmpl_parse("ok", 2, err, sizeof(err)));
	assert_string_equal(err, "");
	tmpl_free(NULL);
}

/* Lengths are honoured: NUL bytes in text, no NUL at the end. */
static void
test_lengths(void **state)
{
	static const char	 text[] = "a\0b{{x}}c{{y}}";
	struct json_object	*data;
	struct tmpl		*t;
	struct buf		 b;
	char			 err[128];

	(void)state;
	buf_init(&b);
	data = json("{\"x\":\"X\",\"y\":\"Y\"}");
	/* Cut before "{{y}}": only "c" of the tail is text. */
	t = tmpl_parse(text, 9, err, sizeof(err));
	assert_non_null(t);
	tmpl_render(t, data, &b);
	assert_int_equal(b.len, 5);
	assert_memory_equal(b.data, "a\0bXc", 5);
	tmpl_free(t);
	/* Cut inside "{{y}}": an unclosed tag. */
	assert_null(tmpl_parse(text, 12, err, sizeof(err)));
	assert_non_null(strstr(err, "line 1"));
	/* Empty and NULL-but-empty text. */
	t = tmpl_parse(NULL, 0, err, sizeof(err));
	assert_non_null(t);
	buf_reset(&b);
	tmpl_render(t, data, &b);
	assert_int_equal(b.len, 0);
	tmpl_free(t);
	json_object_put(data);
	buf_cleanup(&b);
}

/* A compiled template renders the same each time and appends to out. */
static void
test_reuse(void **state)
{
	struct json_object	*a, *c;
	struct tmpl		*t;
	struct buf		 b;
	char			 err[128];

	(void)state;
	t = tmpl_parse("<{{#l}}{{.}}{{/l}}>", 19, err, sizeof(err));
	assert_non_null(t);
	a = json("{\"l\":[1,2]}");
	c = json("{\"l\":[\"&\"]}");
	buf_init(&b);
	buf_puts(&b, "pre");
	tmpl_render(t, a, &b);
	tmpl_render(t, c, &b);
	tmpl_render(t, a, &b);
	assert_string_equal(b.data, "pre<12><&amp;><12>");
	buf_cleanup(&b);
	json_object_put(a);
	json_object_put(c);
	tmpl_free(t);
}

static void
test_load(void **state)
{
	struct tmpl	*t;
	char		 err[512], path[] = "/tmp/test_tmpl.XXXXXX";
	char		 big[8192];
	size_t		 i;
	int		 fd;

	(void)state;
	assert_null(tmpl_load("/nonexistent/dir/missing.html", err,
	    sizeof(err)));
	assert_non_null(strstr(err, "/nonexistent/dir/missing.html"));

	assert_null(tmpl_load("/tmp", err, sizeof(err)));
	assert_non_null(strstr(err, "/tmp"));

	/* A parse error in a file names the file and the line. */
	if ((fd = mkstemp(path)) == -1)
		fail_msg("mkstemp failed");
	assert_int_equal(write(fd, "ok\n{{name}}\n{{/x}}\n", 19), 19);
	close(fd);
	assert_null(tmpl_load(path, err, sizeof(err)));
	assert_non_null(strstr(err, path));
	assert_non_null(strstr(err, "line 3"));

	/* And a good one loads. */
	if ((fd = open(path, O_WRONLY | O_TRUNC)) == -1)
		fail_msg("reopen failed");
	assert_int_equal(write(fd, "ok {{name}}\n", 12), 12);
	close(fd);
	t = tmpl_load(path, err, sizeof(err));
	if (t == NULL)
		fail_msg("load: %s", err);
	tmpl_free(t);

	/* Past the size limit (1 MiB): refused, naming the file. */
	if ((fd = open(path, O_WRONLY | O_TRUNC)) == -1)
		fail_msg("reopen failed");
	memset(big, 'a', sizeof(big));
	for (i = 0; i < 2 * 1024 * 1024 / sizeof(big); i++)
		assert_int_equal(write(fd, big, sizeof(big)), sizeof(big));
	close(fd);
	assert_null(tmpl_load(path, err, sizeof(err)));
	unlink(path);
	assert_non_null(strstr(err, path));
	assert_non_null(strstr(err, "larger"));
}

/* Render a real template; new, free with free(3). */
static char *
render_file(const char *name, const char *data)
{
	struct json_object	*obj;
	struct tmpl		*t;
	struct buf		 b;
	char			 path[256], err[512];

	snprintf(path, sizeof(path), "%s/%s", TEMPLATE_DIR, name);
	if ((t = tmpl_load(path, err, sizeof(err))) == NULL)
		fail_msg("%s", err);
	obj = json(data);
	buf_init(&b);
	tmpl_render(t, obj, &b);
	buf_putc(&b, '\0');
	json_object_put(obj);
	tmpl_free(t);
	return b.data;
}

static void
must_have(const char *page, const char *name, const char *s)
{
	if (strstr(page, s) == NULL)
		fail_msg("%s lacks [%s]", name, s);
}

static void
must_lack(const char *page, const char *name, const char *s)
{
	if (strstr(page, s) != NULL)
		fail_msg("%s has [%s]", name, s);
}

/* Whether page has an event-handler attribute (" on" letters "="). */
static int
has_handler(const char *page)
{
	const char	*p;

	for (p = page; (p = strstr(p, " on")) != NULL; p++) {
		p += 3;
		while ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z'))
			p++;
		if (*p == '=')
			return 1;
		p--;
	}
	return 0;
}

/*
 * Every real template loads, and its source keeps to what the pages'
 * Content-Security-Policy allows: no script, no inline style, nothing
 * from elsewhere.
 */
static void
test_real_templates(void **state)
{
	static const char *const names[] = {
		"home.html", "login.html", "unauthorized.html",
	};
	static const char *const banned[] = {
		"<script", "<style", "style=", "://", "javascript:",
	};
	char	*page;
	size_t	 i, k;

	(void)state;
	for (i = 0; i < NELEM(names); i++) {
		page = render_file(names[i], "{}");
		must_have(page, names[i], "<!doctype html>");
		must_have(page, names[i], "<html lang=\"zh-CN\">");
		must_have(page, names[i], "<meta charset=\"utf-8\">");
		must_have(page, names[i], "<meta name=\"viewport\" "
		    "content=\"width=device-width, initial-scale=1\">");
		must_have(page, names[i], "<link rel=\"stylesheet\" "
		    "href=\"/static/app.css\">");
		must_have(page, names[i], "</html>");
		must_lack(page, names[i], "{{");
		for (k = 0; k < NELEM(banned); k++)
			must_lack(page, names[i], banned[k]);
		if (has_handler(page))
			fail_msg("%s has an event handler attribute", names[i]);
		free(page);
	}
}

static const char hostile_home[] =
    "{\"phone\":\"<script>alert(1)</script>\","
    "\"visits\":3,"
    "\"last_visit\":\"\\\"><img src=x onerror=alert(1)>\","
    "\"image_count\":2,"
    "\"images\":["
    "{\"url\":\"/images/a.jpg\",\"thumb_url\":\"/images/a.t.jpg\","
    "\"width\":640,\"height\":480},"
    "{\"url\":\"' onmouseover='x\",\"thumb_url\":\"{{phone}}`\","
    "\"width\":1,\"height\":1}]}";

static void
test_home(void **state)
{
	char	*page;

	(void)state;
	page = render_file("home.html", hostile_home);
	must_have(page, "home", "id=\"phone\">&lt;script&gt;alert(1)"
	    "&lt;/script&gt;</dd>");
	must_have(page, "home", "id=\"visits\">3</dd>");
	must_have(page, "home", "id=\"last-visit\">&quot;&gt;&lt;img src=x "
	    "onerror=alert(1)&gt;</dd>");
	must_have(page, "home", "id=\"image-count\" class=\"count\">2<");
	must_have(page, "home", "<a href=\"/images/a.jpg\"><img "
	    "src=\"/images/a.t.jpg\" alt=\"\" loading=\"lazy\"></a>");
	must_have(page, "home", "<a href=\"&#39; onmouseover=&#39;x\"><img "
	    "src=\"{{phone}}&#96;\"");
	must_have(page, "home", "id=\"gallery\"");
	must_have(page, "home", "<form id=\"logout-form\" method=\"post\" "
	    "action=\"/users/logout\">");
	must_have(page, "home", "id=\"logout\" type=\"submit\"");
	must_lack(page, "home", "<script");
	must_lack(page, "home", "<img src=x");
	must_lack(page, "home", "No images yet");
	must_lack(page, "home", "First visit");
	free(page);

	/* First visit, no images. */
	page = render_file("home.html", "{\"phone\":\"188****8888\","
	    "\"visits\":1,\"images\":[],\"image_count\":0}");
	must_have(page, "home", "id=\"phone\">188****8888</dd>");
	must_have(page, "home", "id=\"visits\">1</dd>");
	must_have(page, "home", "id=\"last-visit\">First visit");
	must_have(page, "home", "No images yet");
	must_have(page, "home", "id=\"gallery\"");
	must_lack(page, "home", "<img");
	free(page);
}

static void
test_login(void **state)
{
	char	*page;

	(void)state;
	page = render_file("login.html", "{}");
	must_have(page, "login", "<form id=\"login-form\"");
	must_have(page, "login", "method=\"post\" action=\"/users/login\">");
	must_have(page, "login", "name=\"phone\"");
	must_have(page, "login", "name=\"password\"");
	must_have(page, "login", "type=\"tel\" inputmode=\"numeric\" "
	    "autocomplete=\"username\" maxlength=\"11\"");
	must_have(page, "login", "type=\"password\" "
	    "autocomplete=\"current-password\"");
	must_have(page, "login", "id=\"submit\"");
	must_have(page, "login", "value=\"\"");
	must_lack(page, "login", "id=\"error\"");
	free(page);

	page = render_file("login.html", "{\"error\":\"<b>wrong</b> & "
	    "\\u9519\",\"phone\":\"\\\" autofocus onfocus=\\\"x\"}");
	must_have(page, "login", "id=\"error\" class=\"error\" "
	    "role=\"alert\">&lt;b&gt;wrong&lt;/b&gt; &amp; \xe9\x94\x99</p>");
	must_have(page, "login", "value=\"&quot; autofocus "
	    "onfocus=&quot;x\"");
	must_lack(page, "login", "<b>");
	free(page);
}

static void
test_unauthorized(void **state)
{
	char	*page;

	(void)state;
	page = render_file("unauthorized.html", "{}");
	must_have(page, "unauthorized", "id=\"login-link\"");
	must_have(page, "unauthorized", "href=\"/users/login\"");
	must_lack(page, "unauthorized", "id=\"message\"");
	free(page);

	page = render_file("unauthorized.html",
	    "{\"message\":\"<svg onload=alert(1)>\"}");
	must_have(page, "unauthorized", "id=\"message\">&lt;svg "
	    "onload=alert(1)&gt;</p>");
	must_lack(page, "unauthorized", "<svg");
	free(page);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_escape),
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_hostile),
		cmocka_unit_test(test_sections),
		cmocka_unit_test(test_depth),
		cmocka_unit_test(test_bad),
		cmocka_unit_test(test_err_buffer),
		cmocka_unit_test(test_lengths),
		cmocka_unit_test(test_reuse),
		cmocka_unit_test(test_load),
		cmocka_unit_test(test_real_templates),
		cmocka_unit_test(test_home),
		cmocka_unit_test(test_login),
		cmocka_unit_test(test_unauthorized),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
