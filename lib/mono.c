/* Time in milliseconds as doubles: monotonic for durations, wall clock for Nginx's timestamps. */
#include <time.h>

#include "mono.h"

static double
ms_of(clockid_t id)
{
	struct timespec	 ts;

	clock_gettime(id, &ts);
	return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}

double
mono_ms(void)
{
	return ms_of(CLOCK_MONOTONIC);
}

double
mono_wall_ms(void)
{
	return ms_of(CLOCK_REALTIME);
}
