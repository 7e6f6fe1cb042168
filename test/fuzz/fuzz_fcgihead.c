/* libFuzzer harness for lib/fcgihead.c: the first bytes of a FastCGI connection, checked before libfcgi reads them. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "fcgihead.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/*
 * Besides not crashing: the verdict only moves forward as bytes arrive.
 * Every prefix of a head that is OK or BAD is MORE, OK or BAD, and once a
 * prefix is OK or BAD every longer one says the same (what follows the
 * head is not looked at; what is bad stays bad).
 */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	enum fcgihead_result	 r, first = FCGIHEAD_MORE;
	size_t			 i, step;

	r = fcgihead_check(data, size);
	if (r >= FCGIHEAD__MAX)
		abort();
	step = size / 64 + 1;
	for (i = 0; i <= size; i += step) {
		r = fcgihead_check(data, i);
		if (first == FCGIHEAD_MORE)
			first = r;
		else if (r != first)
			abort();
	}
	if (first != FCGIHEAD_MORE && fcgihead_check(data, size) != first)
		abort();
	return 0;
}
