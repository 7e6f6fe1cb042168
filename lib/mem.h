/* Allocation wrappers: internal allocations abort on failure, client-sized ones can fail cleanly. */
#ifndef MEM_H
#define MEM_H

#include <stddef.h>

/*
 * mem_malloc, mem_calloc, mem_realloc and mem_strdup never return NULL:
 * running out of memory for internal bookkeeping ends the process (the
 * manager starts a fresh worker). Results are new; free with free(3).
 */
void	*mem_malloc(size_t n);
void	*mem_calloc(size_t nmemb, size_t size);
void	*mem_realloc(void *p, size_t n);
char	*mem_strdup(const char *s);
char	*mem_strndup(const char *s, size_t n);

/*
 * For sizes that come from a client (already checked against a configured
 * limit): returns NULL on failure instead of aborting. New; free with free(3).
 */
void	*mem_trymalloc(size_t n);

#endif
