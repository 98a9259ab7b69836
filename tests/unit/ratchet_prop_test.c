/*
 * The ratchet suite, continued: a property test. Random schedules of sends
 * (either side), in-order and late deliveries, losses and replays between
 * Alice and Bob, driven by a fixed-seed xorshift so every run is the same.
 * Within the bounds (few messages, no expiry) every first delivery must
 * decrypt to what was sent, and every replay must be refused with the
 * receiver's state exactly as before.
 */
#include <string.h>

#include "tests/unit/ratchet_test.h"

#define PROP_RUNS 300
#define PROP_STEPS 80
#define PROP_MAX_MSGS 48

typedef struct {
    rt_msg_t m;
    bool to_bob, delivered, dropped;
} flight_t;

typedef struct {
    unsigned sent, delivered, late, dropped, replayed, steps_alice;
} stats_t;

typedef struct {
    rt_pair_t p;
    flight_t msgs[PROP_MAX_MSGS];
    size_t n_msgs;
    uint64_t rng;
    int run;
    stats_t *stats;
} world_t;

static uint64_t xorshift(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

static size_t pick(world_t *w, size_t n)
{
    return (size_t)(xorshift(&w->rng) % n);
}

static gm_dr_state_t *receiver(world_t *w, const flight_t *f)
{
    return f->to_bob ? &w->p.bob : &w->p.alice;
}

static void op_send(world_t *w)
{
    bool from_alice = pick(w, 2) == 0;
    gm_dr_state_t *from = from_alice ? &w->p.alice : &w->p.bob;
    flight_t *f;

    if (!from->has_cks || w->n_msgs == PROP_MAX_MSGS) {
        return; /* Bob cannot speak before Alice's first message arrives */
    }
    f = &w->msgs[w->n_msgs];
    f->to_bob = from_alice;
    rt_send(from, &f->m, (uint32_t)w->run << 16 | (uint32_t)w->n_msgs);
    w->n_msgs++;
    w->stats->sent++;
}

/* A message in flight: the oldest, or any. NULL if none. */
static flight_t *pick_pending(world_t *w, bool oldest)
{
    size_t idx[PROP_MAX_MSGS], n = 0;

    for (size_t i = 0; i < w->n_msgs; i++) {
        if (!w->msgs[i].delivered && !w->msgs[i].dropped) {
            idx[n++] = i;
        }
    }
    if (n == 0) {
        return NULL;
    }
    return &w->msgs[oldest ? idx[0] : idx[pick(w, n)]];
}

static void deliver(world_t *w, flight_t *f)
{
    size_t skipped;
    int err;

    if (f == NULL) {
        return;
    }
    skipped = receiver(w, f)->n_skipped;
    err = rt_recv(&w->p, receiver(w, f), &f->m);
    cr_assert_eq(err, 0, "run %d: first delivery of message %zu refused: %s", w->run,
                 (size_t)(f - w->msgs), gm_strerror(err));
    f->delivered = true;
    w->stats->delivered++;
    if (receiver(w, f)->n_skipped < skipped) {
        w->stats->late++; /* it used a stored skipped key */
    }
}

static void replay(world_t *w, flight_t *f)
{
    gm_dr_state_t *to = receiver(w, f);
    rt_snap_t before = rt_snap(to);
    int err = rt_recv(&w->p, to, &f->m);

    cr_assert(err == GM_EREPLAY || err == GM_EAUTH, "run %d: replay of message %zu gave %d (%s)",
              w->run, (size_t)(f - w->msgs), err, gm_strerror(err));
    cr_assert(rt_snap_same(to, &before), "run %d: a refused replay changed the state", w->run);
    rt_snap_free(&before);
    w->stats->replayed++;
}

static void op_replay(world_t *w)
{
    size_t idx[PROP_MAX_MSGS], n = 0;

    for (size_t i = 0; i < w->n_msgs; i++) {
        if (w->msgs[i].delivered) {
            idx[n++] = i;
        }
    }
    if (n > 0) {
        replay(w, &w->msgs[idx[pick(w, n)]]);
    }
}

static void op_drop(world_t *w)
{
    flight_t *f = pick_pending(w, false);

    if (f != NULL) {
        f->dropped = true;
        w->stats->dropped++;
    }
}

static void step(world_t *w)
{
    size_t op = pick(w, 20);

    if (op < 7) {
        op_send(w);
    } else if (op < 11) {
        deliver(w, pick_pending(w, true));
    } else if (op < 14) {
        deliver(w, pick_pending(w, false));
    } else if (op < 16) {
        op_drop(w);
    } else {
        op_replay(w);
    }
    w->p.now++;
}

static void run_schedule(int run, stats_t *stats)
{
    static world_t w; /* large: keep it off the stack */
    flight_t *f;

    memset(&w, 0, sizeof w);
    w.run = run;
    w.stats = stats;
    w.rng = 0x9e3779b97f4a7c15ull ^ (uint64_t)(run + 1) * 0x2545f4914f6cdd1dull;
    rt_pair_init(&w.p, 1000 + (uint64_t)run);
    for (int i = 0; i < PROP_STEPS; i++) {
        step(&w);
    }
    /* Whatever is still on its way arrives, in any order; then everything is replayed. */
    while ((f = pick_pending(&w, false)) != NULL) {
        deliver(&w, f);
    }
    for (size_t i = 0; i < w.n_msgs; i++) {
        if (w.msgs[i].delivered) {
            replay(&w, &w.msgs[i]);
        }
    }
    stats->steps_alice += (unsigned)w.p.alice.n_prev_dhr;
    rt_pair_wipe(&w.p);
}

Test(ratchet, random_schedules_deliver_once_and_refuse_replays, .timeout = 120)
{
    stats_t stats = {0};

    for (int run = 0; run < PROP_RUNS; run++) {
        run_schedule(run, &stats);
    }
    /* The schedules must have exercised what they claim to. */
    cr_assert_gt(stats.delivered, 1000u);
    cr_assert_gt(stats.late, 100u, "few out-of-order deliveries: %u", stats.late);
    cr_assert_gt(stats.dropped, 100u);
    cr_assert_gt(stats.replayed, 1000u);
    cr_assert_gt(stats.steps_alice, 100u, "few DH ratchet steps");
    cr_log_info("%u sent, %u delivered (%u late), %u dropped, %u replays refused", stats.sent,
                stats.delivered, stats.late, stats.dropped, stats.replayed);
}
