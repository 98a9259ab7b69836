/*
 * The simulated clock and the seeded randomness.
 *
 * Clock. libuv reads the monotonic clock with clock_gettime() for its loop
 * time and its timers. The simulator defines clock_gettime() itself, so the
 * dynamic linker binds libuv's calls to this one: CLOCK_MONOTONIC (and
 * _COARSE) read the simulated time, which moves only when the simulator
 * moves it (between loop turns, to the next timer or event). Every other
 * clock is the real one. Node code is unchanged: it already takes its time
 * from the loop (uv_now) and its wall clock from the node's environment.
 * This is process state by nature, so it lives here, in the tool, alone.
 *
 * Randomness. libsodium's generator is replaced (randombytes_set_
 * implementation) by a ChaCha20 stream keyed from the seed, so keys, nonces
 * and bundle ids repeat from run to run; SQLite's random() is seeded too.
 * Never use this outside the simulator: the keys it makes are predictable.
 */
#define _GNU_SOURCE /* CLOCK_BOOTTIME, syscall */
#include <sodium.h>
#include <sqlite3.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "tools/sim/sim.h"
#include "tools/sim/sim_clock.h"

static uint64_t sim_ns = 1000000000ull; /* starts at 1 s: loop arithmetic stays positive */

int clock_gettime(clockid_t id, struct timespec *ts)
{
    if (id == CLOCK_MONOTONIC || id == CLOCK_MONOTONIC_COARSE) {
        ts->tv_sec = (time_t)(sim_ns / 1000000000ull);
        ts->tv_nsec = (long)(sim_ns % 1000000000ull);
        return 0;
    }
    return (int)syscall(SYS_clock_gettime, id, ts);
}

uint64_t sim_clock_ms(void)
{
    return sim_ns / 1000000ull;
}

void sim_clock_set_ms(uint64_t ms)
{
    if (ms * 1000000ull > sim_ns) {
        sim_ns = ms * 1000000ull;
    }
}

double sim_clock_real_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_BOOTTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double sim_clock_cpu_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- seeded randomness ---- */

static uint8_t rng_key[crypto_stream_chacha20_KEYBYTES];
static uint64_t rng_counter;

static void seeded_buf(void *buf, size_t size)
{
    uint8_t nonce[crypto_stream_chacha20_NONCEBYTES];

    memcpy(nonce, &rng_counter, sizeof nonce);
    rng_counter++;
    crypto_stream_chacha20(buf, size, nonce, rng_key);
}

static uint32_t seeded_random(void)
{
    uint32_t x;

    seeded_buf(&x, sizeof x);
    return x;
}

static const char *seeded_name(void)
{
    return "gm-sim seeded chacha20";
}

static struct randombytes_implementation seeded = {
    .implementation_name = seeded_name,
    .random = seeded_random,
    .buf = seeded_buf,
};

int sim_clock_seed(uint64_t seed)
{
    uint8_t in[24] = "gm-sim/seed/1"; /* 16 bytes of label, then the seed */

    memcpy(in + 16, &seed, sizeof seed);
    crypto_generichash(rng_key, sizeof rng_key, in, sizeof in, NULL, 0);
    if (randombytes_set_implementation(&seeded) != 0 || sodium_init() < 0) {
        return GM_ESTATE;
    }
    sqlite3_test_control(SQLITE_TESTCTRL_PRNG_SEED, (int)(seed & 0x7fffffff), NULL);
    return 0;
}
