/* libFuzzer harness for fcgi/routes.c: route_find over any method and path, and its Allow list. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "appd.h"

/*
 * Input: one selector byte, then REQUEST_METHOD, a NUL, DOCUMENT_URI (a
 * missing NUL leaves the path empty). The selector is the size of the
 * Allow buffer (0..255), allocated at exactly that size so a write past
 * it is caught; worker.c passes 128.
 *
 * appd does not normalise paths: Nginx hands over $document_uri already
 * decoded and with "//", "/./" and "/../" resolved, and route_find matches
 * it exactly. So the table's paths must be canonical (checked once at
 * start), and any other spelling of them — case, a trailing slash, a
 * doubled slash, a dot segment, an escape — must be 404.
 */

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);
int	LLVMFuzzerInitialize(int *, char ***);

static int
canonical(const char *path)
{
	size_t	 n = strlen(path);

	return path[0] == '/' && (n == 1 || path[n - 1] != '/') &&
	    strstr(path, "//") == NULL && strstr(path, "/./") == NULL &&
	    strstr(path, "/../") == NULL && strpbrk(path, "?#%\\ ") == NULL &&
	    (n < 2 || strcmp(path + n - 2, "/.") != 0) &&
	    (n < 3 || strcmp(path + n - 3, "/..") != 0);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	size_t	 i;

	(void)argc;
	(void)argv;
	for (i = 0; i < RT__MAX; i++)
		if (routes[i].method == NULL || routes[i].path == NULL ||
		    !canonical(routes[i].path)) {
			fprintf(stderr, "route %zu: path not canonical\n", i);
			abort();
		}
	return 0;
}

/*
 * The answer route_find must give, from the table directly: the first row
 * with this path that takes the method (GET rows take HEAD too); else 405
 * with every method of the path's rows, GET followed by HEAD, in table
 * order; else 404.
 */
static const struct route *
expect(const char *method, const char *path, enum app_err *err, char *allow,
    size_t size)
{
	size_t	 i;
	int	 found = 0;

	allow[0] = '\0';
	for (i = 0; i < RT__MAX; i++) {
		if (strcmp(routes[i].path, path) != 0)
			continue;
		if (strcmp(routes[i].method, method) == 0 ||
		    (strcmp(method, "HEAD") == 0 &&
		    strcmp(routes[i].method, "GET") == 0))
			return &routes[i];
		if (found++)
			strncat(allow, ", ", size - strlen(allow) - 1);
		strncat(allow, routes[i].method, size - strlen(allow) - 1);
		if (strcmp(routes[i].method, "GET") == 0)
			strncat(allow, ", HEAD", size - strlen(allow) - 1);
	}
	*err = found ? APP_E_METHOD : APP_E_NOT_FOUND;
	return NULL;
}

int
LLVMFuzzerTestOneInput(const uint8_t *bytes, size_t size)
{
	const struct route	*r, *want;
	const char		*nul;
	char			*method, *path, *allow, full[1024];
	size_t			 asize, mlen, plen;
	enum app_err		 e = APP_OK, we = APP_OK;

	if (size == 0)
		return 0;
	asize = bytes[0];
	bytes++;
	size--;
	nul = memchr(bytes, '\0', size);
	mlen = nul != NULL ? (size_t)(nul - (const char *)bytes) : size;
	plen = nul != NULL ? size - mlen - 1 : 0;
	/* C strings, as FastCGI parameters are: up to their first NUL. */
	if ((method = malloc(mlen + 1)) == NULL ||
	    (path = malloc(plen + 1)) == NULL ||
	    (allow = malloc(asize)) == NULL)
		abort();
	memcpy(method, bytes, mlen);
	method[mlen] = '\0';
	if (plen > 0)
		memcpy(path, nul + 1, plen);
	path[plen] = '\0';

	r = route_find(method, path, &e, allow, asize);
	want = expect(method, path, &we, full, sizeof(full));
	if (r != want)
		abort();
	if (r == NULL) {
		if (e != we)
			abort();
		/* The Allow value, cut to the buffer but always terminated. */
		if (e == APP_E_METHOD && asize > 0 &&
		    (strlen(allow) >= asize ||
		    strncmp(allow, full, strlen(allow)) != 0 ||
		    (strlen(full) < asize && strcmp(allow, full) != 0)))
			abort();
	} else if (strcmp(r->path, path) != 0 || !canonical(path))
		abort();
	free(method);
	free(path);
	free(allow);
	return 0;
}
