/* Helpers shared by the ratchet suite's files: a session pair, messages, state snapshots. */
#ifndef GM_TEST_RATCHET_H
#define GM_TEST_RATCHET_H

#include <criterion/criterion.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/ratchet.h"

#define RT_PT_MAX 32

typedef struct {
    gm_dr_state_t alice, bob;
    uint64_t now;
    uint64_t ctr; /* deterministic seeds for ratchet steps */
} rt_pair_t;

typedef struct {
    gm_dr_header_t h;
    uint8_t ct[RT_PT_MAX + GM_DR_TAG_LEN];
    size_t ct_len;
    uint8_t pt[RT_PT_MAX];
    size_t pt_len;
} rt_msg_t;

typedef struct {
    uint8_t *data;
    size_t len;
} rt_snap_t;

/* 32 deterministic bytes from a counter. */
void rt_seed(uint64_t *ctr, uint8_t out[GM_DR_KEY_LEN]);

/* Alice and Bob after X3DH with keys derived from seed_base; the clock at 2026-01-01. */
void rt_pair_init(rt_pair_t *p, uint64_t seed_base);
void rt_pair_wipe(rt_pair_t *p);

/* Encrypts a plaintext that names tag; asserts success. */
void rt_send(gm_dr_state_t *from, rt_msg_t *m, uint32_t tag);

/* Decrypts at p->now with a fresh seed; on success asserts the plaintext. Returns the error. */
int rt_recv(rt_pair_t *p, gm_dr_state_t *to, const rt_msg_t *m);

/* The serialized state, to compare before and after a refusal. */
rt_snap_t rt_snap(const gm_dr_state_t *s);
bool rt_snap_same(const gm_dr_state_t *s, const rt_snap_t *before);
void rt_snap_free(rt_snap_t *snap);

#endif
