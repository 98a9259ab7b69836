/*
 * Traffic: the scenario's messages, sent through each node's messenger as
 * `guardmesh send` would (gm_messenger_call), and followed to every
 * recipient's inbox through the messenger's arrival callback.
 *
 * An arrival counts once it is durable: the store group that added it to the
 * inbox has committed. A node that crashes before that loses the arrival (and
 * its previous hop, which still holds the bundle, offers it again), so the
 * arrival is forgotten here too. A second durable arrival of one message at
 * one node is a duplicate.
 */
#include <stdlib.h>
#include <string.h>

#include "proto/wire_messenger_control.h"
#include "tools/sim/sim_clock.h"
#include "tools/sim/world_internal.h"

typedef struct {
    uint64_t at_ms; /* since start */
    sim_class_t cls;
    uint32_t sender;
    uint32_t target; /* a node (text), a group index (group, position); unused for all */
    bool to_all;
} action_t;

typedef struct {
    uint8_t id[GM_ID_LEN];
    sim_class_t cls;
    uint64_t sent_ms;
    size_t first_slot, n_slots;
    bool to_all;
    uint32_t sender;
} msg_t;

typedef struct {
    uint32_t node;
    uint64_t at_ms; /* 0: not arrived (or forgotten in a crash) */
    uint64_t gen;   /* the store group that holds the arrival */
    uint32_t durable;
} slot_t;

typedef struct {
    uint32_t owner;
    uint32_t members[SIM_MAX_GROUP_SIZE];
    size_t n;
} group_t;

struct sim_traffic {
    const sim_scenario_t *sc;
    sim_world_t *w;
    sim_rng_t rng;
    action_t *actions;
    size_t n_actions, next;
    group_t groups[SIM_MAX_GROUPS];
    bool groups_made; /* tried, once: a refusal counts as a group message not sent */
    msg_t *msgs;
    size_t n_msgs, cap_msgs;
    uint32_t *index; /* open addressing: msg index + 1 by message id; 0 empty */
    size_t index_cap;
    slot_t *slots;
    size_t n_slots, cap_slots;
    size_t *unconfirmed; /* slots whose arrival is not known durable yet */
    uint64_t arrivals;
    size_t n_unconfirmed, cap_unconfirmed;
    sim_class_stats_t st[CLASS_COUNT];
};

const char *sim_class_name(sim_class_t c)
{
    static const char *names[CLASS_COUNT] = {"text", "group", "position", "alert"};

    return names[c];
}

static int grow(void **p, size_t *cap, size_t need, size_t size)
{
    if (need > *cap) {
        size_t cap2 = *cap ? *cap : 64;
        void *q;

        while (cap2 < need) {
            cap2 *= 2;
        }
        q = realloc(*p, cap2 * size);
        if (q == NULL) {
            return GM_ENOMEM;
        }
        *p = q;
        *cap = cap2;
    }
    return 0;
}

/* ---- the schedule ---- */

static int by_time(const void *a, const void *b)
{
    const action_t *x = a, *y = b;

    return (x->at_ms > y->at_ms) - (x->at_ms < y->at_ms);
}

static uint64_t uniform_ms(sim_traffic_t *t, uint64_t from_s, uint64_t to_s)
{
    return from_s * 1000 + (uint64_t)(sim_rng_unit(&t->rng) * (double)(to_s - from_s) * 1000);
}

static void pick_groups(sim_traffic_t *t)
{
    uint32_t n = (uint32_t)sim_world_count(t->w);

    for (uint32_t g = 0; g < t->sc->groups; g++) {
        group_t *gr = &t->groups[g];
        uint32_t size = t->sc->group_size < n ? t->sc->group_size : n;

        while (gr->n < size) {
            uint32_t m = sim_rng_below(&t->rng, n);
            bool dup = false;
            for (size_t k = 0; k < gr->n; k++) {
                dup = dup || gr->members[k] == m;
            }
            if (!dup) {
                gr->members[gr->n++] = m;
            }
        }
        gr->owner = gr->members[0];
    }
}

static int schedule(sim_traffic_t *t)
{
    const sim_scenario_t *sc = t->sc;
    double minutes = (sc->traffic_stop_s - sc->traffic_start_s) / 60.0;
    uint64_t begin = sc->traffic_start_s, group_begin = begin + sc->group_delay_s;
    size_t texts = (size_t)(sc->texts_per_min * minutes + 0.5);
    size_t gmsgs = sc->groups ? (size_t)(sc->group_msgs_per_min * minutes + 0.5) : 0;
    size_t pos_each = sc->position_nodes ? (sc->traffic_stop_s - group_begin) / sc->position_every_s : 0;
    size_t total = texts + gmsgs + sc->alerts + sc->position_nodes * pos_each;
    uint32_t n = (uint32_t)sim_world_count(t->w);
    size_t k = 0;

    t->actions = calloc(total ? total : 1, sizeof *t->actions);
    if (t->actions == NULL) {
        return GM_ENOMEM;
    }
    for (size_t i = 0; i < texts; i++) {
        uint32_t a = sim_rng_below(&t->rng, n), b = sim_rng_below(&t->rng, n - 1);
        t->actions[k++] = (action_t){uniform_ms(t, begin, sc->traffic_stop_s), CLASS_TEXT, a,
                                     b >= a ? b + 1 : b, false};
    }
    for (size_t i = 0; i < gmsgs; i++) {
        uint32_t g = sim_rng_below(&t->rng, sc->groups);
        uint32_t m = t->groups[g].members[sim_rng_below(&t->rng, (uint32_t)t->groups[g].n)];
        t->actions[k++] = (action_t){uniform_ms(t, group_begin, sc->traffic_stop_s), CLASS_GROUP,
                                     m, g, false};
    }
    for (uint32_t i = 0; i < sc->position_nodes; i++) {
        uint32_t g = sc->groups ? i % sc->groups : 0;
        uint32_t who = sc->positions_to_all || sc->groups == 0
                           ? sim_rng_below(&t->rng, n)
                           : t->groups[g].members[i / sc->groups % t->groups[g].n];
        uint64_t phase = sim_rng_below(&t->rng, sc->position_every_s * 1000);
        for (size_t j = 0; j < pos_each; j++) {
            t->actions[k++] = (action_t){group_begin * 1000 + phase + j * sc->position_every_s * 1000,
                                         CLASS_POSITION, who, g,
                                         sc->positions_to_all || sc->groups == 0};
        }
    }
    for (uint32_t i = 0; i < sc->alerts; i++) {
        t->actions[k++] = (action_t){uniform_ms(t, begin, sc->traffic_stop_s), CLASS_ALERT,
                                     sim_rng_below(&t->rng, n), 0, true};
    }
    t->n_actions = k;
    qsort(t->actions, k, sizeof *t->actions, by_time);
    return 0;
}

int sim_traffic_new(const sim_scenario_t *sc, sim_world_t *w, sim_traffic_t **out)
{
    sim_traffic_t *t = calloc(1, sizeof *t);

    if (t == NULL) {
        return GM_ENOMEM;
    }
    t->sc = sc;
    t->w = w;
    t->rng.s = sc->seed * 0x2545f4914f6cdd1dull + 7;
    t->index_cap = 1024;
    t->index = calloc(t->index_cap, sizeof *t->index);
    if (t->index == NULL) {
        free(t);
        return GM_ENOMEM;
    }
    pick_groups(t);
    if (schedule(t) != 0) {
        sim_traffic_free(t);
        return GM_ENOMEM;
    }
    *out = t;
    return 0;
}

void sim_traffic_free(sim_traffic_t *t)
{
    if (t == NULL) {
        return;
    }
    for (int c = 0; c < CLASS_COUNT; c++) {
        free(t->st[c].latency_ms);
    }
    free(t->actions);
    free(t->msgs);
    free(t->index);
    free(t->slots);
    free(t->unconfirmed);
    free(t);
}

/* ---- message ids ---- */

static size_t hash_id(const uint8_t id[GM_ID_LEN], size_t cap)
{
    uint64_t h;

    memcpy(&h, id, sizeof h); /* random bytes */
    return (size_t)(h & (cap - 1));
}

static int index_add(sim_traffic_t *t, size_t m)
{
    if (2 * (t->n_msgs + 1) > t->index_cap) {
        size_t cap = 2 * t->index_cap;
        uint32_t *p = calloc(cap, sizeof *p);

        if (p == NULL) {
            return GM_ENOMEM;
        }
        for (size_t i = 0; i < t->index_cap; i++) {
            if (t->index[i] != 0) {
                size_t h = hash_id(t->msgs[t->index[i] - 1].id, cap);
                while (p[h] != 0) {
                    h = (h + 1) & (cap - 1);
                }
                p[h] = t->index[i];
            }
        }
        free(t->index);
        t->index = p;
        t->index_cap = cap;
    }
    size_t h = hash_id(t->msgs[m].id, t->index_cap);
    while (t->index[h] != 0) {
        h = (h + 1) & (t->index_cap - 1);
    }
    t->index[h] = (uint32_t)(m + 1);
    return 0;
}

static msg_t *find_msg(sim_traffic_t *t, const uint8_t id[GM_ID_LEN])
{
    for (size_t h = hash_id(id, t->index_cap); t->index[h] != 0; h = (h + 1) & (t->index_cap - 1)) {
        msg_t *m = &t->msgs[t->index[h] - 1];
        if (memcmp(m->id, id, GM_ID_LEN) == 0) {
            return m;
        }
    }
    return NULL;
}

static void settle(sim_traffic_t *t, const sim_node_t *crashed);

/* ---- sending ---- */

/* Asks sender's messenger; on a refusal the reason goes to the class's first_refusal. */
static int call(sim_node_t *from, const gm_messenger_request_t *req, sim_class_stats_t *st,
                uint8_t msg_id[GM_ID_LEN])
{
    uint8_t buf[4096], *ans = NULL;
    size_t len, ans_len;
    gm_messenger_response_t r;
    int err = gm_wire_messenger_request_encode(req, buf, sizeof buf, &len);

    err = err == 0 ? gm_messenger_call(from->msgr, buf, len, &ans, &ans_len) : err;
    err = err == 0 ? gm_wire_messenger_response_decode(ans, ans_len, &r) : err;
    free(ans);
    if (err != 0) {
        return err;
    }
    err = r.error;
    if (err != 0 && st != NULL && st->first_refusal[0] == '\0') {
        snprintf(st->first_refusal, sizeof st->first_refusal, "%s: %s", from->name,
                 r.message != NULL ? r.message : "refused");
    }
    if (err == 0 && msg_id != NULL) {
        memcpy(msg_id, r.msg_id, GM_ID_LEN);
    }
    gm_messenger_response_free(&r);
    return err;
}

static void create_groups(sim_traffic_t *t)
{
    for (uint32_t g = 0; g < t->sc->groups; g++) {
        group_t *gr = &t->groups[g];
        sim_node_t *owner = sim_world_node(t->w, gr->owner);
        const char *members[SIM_MAX_GROUP_SIZE];
        char name[16];

        snprintf(name, sizeof name, "g%u", g);
        for (size_t k = 1; k < gr->n; k++) {
            members[k - 1] = sim_world_node(t->w, gr->members[k])->address;
        }
        gm_messenger_request_t req = {.op = GM_MESSENGER_OP_GROUP_CREATE, .group = name,
                                      .members = members, .n_members = gr->n - 1};
        if (!owner->up || call(owner, &req, &t->st[CLASS_GROUP], NULL) != 0) {
            t->st[CLASS_GROUP].refused++;
        }
    }
}

static int add_slot(sim_traffic_t *t, uint32_t node)
{
    if (grow((void **)&t->slots, &t->cap_slots, t->n_slots + 1, sizeof *t->slots) != 0) {
        return GM_ENOMEM;
    }
    t->slots[t->n_slots++] = (slot_t){node, 0, 0, 0};
    return 0;
}

/* Remembers a sent message and who should get it. */
static int track(sim_traffic_t *t, const action_t *a, const uint8_t id[GM_ID_LEN], uint64_t now)
{
    uint32_t n = (uint32_t)sim_world_count(t->w);
    msg_t *m;
    int err = grow((void **)&t->msgs, &t->cap_msgs, t->n_msgs + 1, sizeof *t->msgs);

    if (err != 0) {
        return err;
    }
    m = &t->msgs[t->n_msgs];
    *m = (msg_t){.cls = a->cls, .sent_ms = now, .first_slot = t->n_slots, .to_all = a->to_all,
                 .sender = a->sender};
    memcpy(m->id, id, GM_ID_LEN);
    if (a->to_all) {
        for (uint32_t i = 0; err == 0 && i < n; i++) {
            err = i != a->sender ? add_slot(t, i) : 0;
        }
    } else if (a->cls == CLASS_TEXT) {
        err = add_slot(t, a->target);
    } else {
        const group_t *g = &t->groups[a->target];
        for (size_t k = 0; err == 0 && k < g->n; k++) {
            err = g->members[k] != a->sender ? add_slot(t, g->members[k]) : 0;
        }
    }
    m->n_slots = t->n_slots - m->first_slot;
    if (err == 0) {
        t->n_msgs++;
        t->st[a->cls].messages++;
        t->st[a->cls].expected += m->n_slots;
        err = index_add(t, t->n_msgs - 1);
    }
    return err;
}

static void send_one(sim_traffic_t *t, const action_t *a, uint64_t now)
{
    sim_node_t *from = sim_world_node(t->w, a->sender);
    sim_class_stats_t *st = &t->st[a->cls];
    char text[64], group[16];
    uint8_t id[GM_ID_LEN];
    gm_messenger_request_t req = {.op = GM_MESSENGER_OP_SEND, .to = "", .group = ""};

    if (!from->up) {
        st->sender_down++;
        return;
    }
    snprintf(text, sizeof text, "sim %s %zu from %s", sim_class_name(a->cls), t->next, from->name);
    snprintf(group, sizeof group, "g%u", a->target);
    req.kind = a->cls == CLASS_POSITION ? GM_MESSAGE_POSITION
               : a->cls == CLASS_ALERT  ? GM_MESSAGE_ALERT
                                        : GM_MESSAGE_TEXT;
    req.text = a->cls == CLASS_POSITION ? "" : text;
    if (a->cls == CLASS_TEXT) {
        req.to = sim_world_node(t->w, a->target)->address;
    } else if (!a->to_all) {
        req.group = group;
    }
    if (a->cls == CLASS_POSITION) {
        req.has_position = true;
        req.lat = 51.5 + from->y / 100;
        req.lon = -0.1 + from->x / 100;
        req.accuracy = 5;
    }
    if (call(from, &req, st, id) != 0) {
        st->refused++;
    } else if (track(t, a, id, now) != 0) {
        st->refused++; /* out of memory: not followed */
    }
}

void sim_traffic_step(sim_traffic_t *t, uint64_t now_ms)
{
    uint64_t since = now_ms - sim_world_start_ms(t->w);

    if (!t->groups_made && t->sc->groups > 0 &&
        since >= (uint64_t)t->sc->traffic_start_s * 1000) {
        create_groups(t);
        t->groups_made = true;
    }
    if (t->n_unconfirmed > 4096) {
        settle(t, NULL);
    }
    while (t->next < t->n_actions && t->actions[t->next].at_ms <= since) {
        send_one(t, &t->actions[t->next], now_ms);
        t->next++;
    }
}

uint64_t sim_traffic_next_ms(const sim_traffic_t *t)
{
    uint64_t start = sim_world_start_ms(t->w);

    if (t->sc->groups > 0 && !t->groups_made) {
        return start + (uint64_t)t->sc->traffic_start_s * 1000;
    }
    return t->next < t->n_actions ? start + t->actions[t->next].at_ms : UINT64_MAX;
}

/* ---- arrivals ---- */

static slot_t *find_slot(sim_traffic_t *t, const msg_t *m, uint32_t node)
{
    if (m->to_all) {
        size_t k = node < m->sender ? node : node - 1;
        return node != m->sender && k < m->n_slots ? &t->slots[m->first_slot + k] : NULL;
    }
    for (size_t k = 0; k < m->n_slots; k++) {
        if (t->slots[m->first_slot + k].node == node) {
            return &t->slots[m->first_slot + k];
        }
    }
    return NULL;
}

static void on_arrival(void *ctx, const gm_messenger_arrival_t *a)
{
    sim_node_t *n = ctx;
    sim_traffic_t *t = n->traffic;
    msg_t *m = find_msg(t, a->msg_id);
    slot_t *s = m != NULL ? find_slot(t, m, n->index) : NULL;
    uint64_t gen = 0;

    if (s == NULL) {
        t->st[m != NULL ? m->cls : CLASS_TEXT].unexpected++;
        return;
    }
    if (s->at_ms != 0) {
        t->st[m->cls].duplicates++;
        return;
    }
    if (gm_mesh_begin(n->mesh, &gen) != 0) {
        return; /* the store failed: this arrival's group is lost, the bundle comes again */
    }
    s->at_ms = sim_clock_ms();
    s->gen = gen;
    t->arrivals++;
    if (grow((void **)&t->unconfirmed, &t->cap_unconfirmed, t->n_unconfirmed + 1,
             sizeof *t->unconfirmed) == 0) {
        t->unconfirmed[t->n_unconfirmed++] = (size_t)(s - t->slots);
    }
}

void sim_traffic_attach(sim_traffic_t *t, sim_node_t *n)
{
    n->traffic = t;
    gm_messenger_set_arrival_cb(n->msgr, on_arrival, n);
}

/*
 * Settles the arrivals not known durable: those whose group has committed
 * become durable (gen 0); at node crashed, the others are rolled back.
 * Group numbers start again when a node restarts, so none outlives a life.
 */
static void settle(sim_traffic_t *t, const sim_node_t *crashed)
{
    size_t k = 0;

    for (size_t i = 0; i < t->n_unconfirmed; i++) {
        slot_t *s = &t->slots[t->unconfirmed[i]];
        const sim_node_t *n = sim_world_node(t->w, s->node);

        if (n->up && gm_mesh_durable_gen(n->mesh) >= s->gen) {
            s->gen = 0;
        } else if (n == crashed) {
            s->at_ms = 0;
            s->gen = 0;
            t->arrivals--;
        } else {
            t->unconfirmed[k++] = t->unconfirmed[i];
        }
    }
    t->n_unconfirmed = k;
}

void sim_traffic_crashed(sim_traffic_t *t, sim_node_t *n)
{
    settle(t, n);
}

void sim_traffic_progress(const sim_traffic_t *t, uint64_t *sent, uint64_t *arrived)
{
    *sent = t->n_msgs;
    *arrived = t->arrivals;
}

/* ---- the end ---- */

void sim_traffic_list_missing(sim_traffic_t *t, FILE *f, size_t max)
{
    size_t listed = 0;

    for (size_t i = 0; i < t->n_msgs && listed < max; i++) {
        const msg_t *m = &t->msgs[i];

        for (size_t k = 0; k < m->n_slots && listed < max; k++) {
            const slot_t *s = &t->slots[m->first_slot + k];
            const sim_node_t *n = sim_world_node(t->w, s->node);

            if (n->up && (s->at_ms == 0 || gm_mesh_durable_gen(n->mesh) < s->gen)) {
                fprintf(f, "  missing: %s from n%u to %s, sent at %.1f s%s\n",
                        sim_class_name(m->cls), m->sender, n->name,
                        (double)(m->sent_ms - sim_world_start_ms(t->w)) / 1000.0,
                        s->at_ms != 0 ? " (arrived, not yet durable)" : "");
                listed++;
            }
        }
    }
}

static int add_latency(sim_class_stats_t *st, size_t *cap, uint64_t ms)
{
    if (grow((void **)&st->latency_ms, cap, st->n_latency + 1, sizeof *st->latency_ms) != 0) {
        return GM_ENOMEM;
    }
    st->latency_ms[st->n_latency++] = ms;
    return 0;
}

void sim_traffic_stats(sim_traffic_t *t, sim_class_stats_t out[CLASS_COUNT])
{
    size_t cap[CLASS_COUNT] = {0};

    for (size_t i = 0; i < t->n_msgs; i++) {
        const msg_t *m = &t->msgs[i];
        sim_class_stats_t *st = &t->st[m->cls];

        for (size_t k = 0; k < m->n_slots; k++) {
            const slot_t *s = &t->slots[m->first_slot + k];
            const sim_node_t *n = sim_world_node(t->w, s->node);
            bool durable = s->at_ms != 0 && n->up && gm_mesh_durable_gen(n->mesh) >= s->gen;

            if (!n->up) {
                st->to_down_nodes++;
            } else if (durable) {
                st->delivered++;
                if (add_latency(st, &cap[m->cls], s->at_ms - m->sent_ms) != 0) {
                    st->delivered--;
                }
            }
        }
    }
    memcpy(out, t->st, sizeof t->st);
    memset(t->st, 0, sizeof t->st); /* the latencies now belong to out */
}
