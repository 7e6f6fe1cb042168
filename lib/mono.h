/* Time in milliseconds as doubles: monotonic for durations, wall clock for Nginx's timestamps. */
#ifndef MONO_H
#define MONO_H

/* CLOCK_MONOTONIC in ms: the same clock in every process of the machine. */
double	mono_ms(void);

/* CLOCK_REALTIME in ms since the epoch (to compare with Nginx's $msec). */
double	mono_wall_ms(void);

#endif
