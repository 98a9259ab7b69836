/* The simulator's clock and seeded randomness (tools/sim/clock.c). */
#ifndef GM_SIM_CLOCK_H
#define GM_SIM_CLOCK_H

#include <stdint.h>

/* The simulated monotonic time, ms; what libuv's loop reads. */
uint64_t sim_clock_ms(void);
/* Moves the simulated time forward (never back). */
void sim_clock_set_ms(uint64_t ms);
/* Real elapsed and CPU seconds, for the progress line and the report. */
double sim_clock_real_s(void);
double sim_clock_cpu_s(void);
/* Seeds libsodium's and SQLite's randomness. Call before sodium_init. GM_ESTATE. */
int sim_clock_seed(uint64_t seed);

#endif
