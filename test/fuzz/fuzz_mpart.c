/* libFuzzer harness for lib/mpart.c: a body fed in fuzzed chunks and whole must give one result. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mpart.h"

#define CT	"multipart/form-data; boundary=XyZ"
/*
 * max_file by the top two bits of the first byte: limits the fuzzer can
 * reach, below and above the 4 KiB the parser first allocates.
 */
static const size_t	 max_files[] = { 6000, 100, 1, 20000 };

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

struct outcome {
	int		 rc;
	enum app_err	 err;
	const char	*reason;
};

/*
 * Feed body in chunks of 1..limit bytes, sizes from a small LCG seeded by
 * seed; a limit of 0 feeds it whole. Every feed after a -1 must be -1.
 */
static struct mpart *
run(const char *body, size_t len, size_t max, unsigned seed, size_t limit,
    struct outcome *o)
{
	struct mpart	*mp;
	size_t		 off = 0, n;
	unsigned	 x = seed;
	int		 r, failed = 0;

	if ((mp = mpart_new(CT, max)) == NULL)
		abort();
	while (off < len) {
		x = x * 1103515245u + 12345u;
		n = limit == 0 ? len : 1 + (x >> 16) % limit;
		if (n > len - off)
			n = len - off;
		r = mpart_feed(mp, body + off, n);
		if ((failed && r != -1) || (r != 0 && r != -1))
			abort();
		failed |= r == -1;
		off += n;
	}
	o->rc = mpart_finish(mp);
	o->err = mpart_error(mp);
	o->reason = mpart_reason(mp);
	/* A refusal always says why; a success never does. */
	if ((o->rc == 0) != (o->err == APP_OK) ||
	    (o->rc == 0) != (*o->reason == '\0') || (failed && o->rc == 0))
		abort();
	return mp;
}

int
LLVMFuzzerTestOneInput(const uint8_t *bytes, size_t size)
{
	struct mpart		*a, *b;
	struct outcome		 oa, ob;
	const unsigned char	*fa, *fb;
	size_t			 la, lb, max;

	if (size == 0)
		return 0;
	/* Low bits: the largest chunk (1..64); all of it seeds the sizes. */
	max = max_files[bytes[0] >> 6];
	a = run((const char *)bytes + 1, size - 1, max, bytes[0],
	    1 + (bytes[0] & 0x3f), &oa);
	b = run((const char *)bytes + 1, size - 1, max, 0, 0, &ob);
	fa = mpart_file(a, &la);
	fb = mpart_file(b, &lb);
	if (oa.rc != ob.rc || oa.err != ob.err ||
	    strcmp(oa.reason, ob.reason) != 0 || la != lb ||
	    (la > 0 && memcmp(fa, fb, la) != 0) ||
	    strcmp(mpart_field(a), mpart_field(b)) != 0 ||
	    strcmp(mpart_filename(a), mpart_filename(b)) != 0)
		abort();
	if (oa.rc == 0 && (la == 0 || la > max || fa == NULL))
		abort();
	mpart_free(a);
	mpart_free(b);
	return 0;
}
