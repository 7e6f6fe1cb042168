/* Allocation wrappers: internal allocations abort on failure, client-sized ones can fail cleanly. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mem.h"

static _Noreturn void
oom(size_t n)
{
	char	 buf[96];
	int	 len;

	len = snprintf(buf, sizeof(buf),
	    "{\"level\":\"error\",\"msg\":\"out of memory allocating %zu "
	    "bytes\"}\n", n);
	if (len > 0)
		(void)!write(STDERR_FILENO, buf, (size_t)len);
	abort();
}

void *
mem_malloc(size_t n)
{
	void	*p;

	if ((p = malloc(n == 0 ? 1 : n)) == NULL)
		oom(n);
	return p;
}

void *
mem_calloc(size_t nmemb, size_t size)
{
	void	*p;

	if ((p = calloc(nmemb == 0 ? 1 : nmemb, size == 0 ? 1 : size)) == NULL)
		oom(nmemb * size);
	return p;
}

void *
mem_realloc(void *p, size_t n)
{
	void	*q;

	if ((q = realloc(p, n == 0 ? 1 : n)) == NULL)
		oom(n);
	return q;
}

char *
mem_strdup(const char *s)
{
	return mem_strndup(s, strlen(s));
}

char *
mem_strndup(const char *s, size_t n)
{
	char	*p;

	p = mem_malloc(n + 1);
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

void *
mem_trymalloc(size_t n)
{
	return malloc(n == 0 ? 1 : n);
}
