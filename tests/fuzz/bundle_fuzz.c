/*
 * Fuzzes the bundle codec (proto/wire_bundle.h), the first parser every
 * bundle from a peer meets. Whatever decodes must:
 *  - say where its body is: inside the input, ending where the input ends;
 *  - encode into exactly gm_wire_bundle_size() bytes (one byte less: GM_ELIMIT);
 *  - decode again to the same header and body, and encode again to the same
 *    bytes (the encoding is canonical);
 *  - be refused (GM_ELIMIT) under any max_len smaller than its length.
 * Input: the bytes of one encoded bundle.
 */
#include "tests/fuzz/fuzz.h"
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/wire_bundle.h"



static bool bundle_equal(const gm_bundle_t *a, const gm_bundle_t *b)
{
    return memcmp(a->id, b->id, GM_ID_LEN) == 0 && memcmp(a->src, b->src, GM_ID_LEN) == 0 &&
           a->dst.kind == b->dst.kind && memcmp(a->dst.id, b->dst.id, GM_ID_LEN) == 0 &&
           a->created == b->created && a->lifetime == b->lifetime && a->hop_limit == b->hop_limit &&
           a->hops == b->hops && a->priority == b->priority &&
           same_bytes(a->body, a->body_len, b->body, b->body_len);
}

/* Checks what the decoder promises about one decoded bundle of the input [in, in + len). */
static void check_decoded(const gm_bundle_t *b, const uint8_t *in, size_t len)
{
    FUZZ_CHECK(b->dst.kind >= GM_DST_NODE && b->dst.kind <= GM_DST_ALL);
    FUZZ_CHECK(b->priority <= GM_PRIO_BULK);
    FUZZ_CHECK(b->hop_limit >= 1 && b->hops <= b->hop_limit);
    FUZZ_CHECK(b->lifetime >= 1 && b->lifetime <= GM_BUNDLE_LIFETIME_MAX);
    if (b->dst.kind == GM_DST_ALL) {
        static const uint8_t zero[GM_ID_LEN];
        FUZZ_CHECK(memcmp(b->dst.id, zero, GM_ID_LEN) == 0);
    }
    if (b->body_len == 0) {
        FUZZ_CHECK(b->body == NULL);
    } else {
        FUZZ_CHECK(b->body > in && b->body + b->body_len == in + len); /* in place, last */
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    gm_bundle_t b1, b2;
    size_t need, e1_len, e2_len;
    uint8_t *e1, *e2;

    if (gm_wire_bundle_decode(data, size, GM_BUNDLE_MAX_LEN_DEFAULT, &b1) != 0) {
        return 0;
    }
    check_decoded(&b1, data, size);
    FUZZ_CHECK(size == 0 || gm_wire_bundle_decode(data, size, size - 1, &b2) == GM_ELIMIT);
    need = gm_wire_bundle_size(&b1);
    FUZZ_CHECK(need > 0 && need <= size); /* canonical is never longer than what decoded */
    e1 = malloc(need);                    /* exactly the size announced, so ASan sees an overrun */
    e2 = malloc(need);
    FUZZ_CHECK(e1 != NULL && e2 != NULL);
    FUZZ_CHECK(gm_wire_bundle_encode(&b1, e1, need - 1, &e1_len) == GM_ELIMIT);
    FUZZ_CHECK(gm_wire_bundle_encode(&b1, e1, need, &e1_len) == 0 && e1_len == need);
    FUZZ_CHECK(gm_wire_bundle_decode(e1, e1_len, e1_len, &b2) == 0);
    check_decoded(&b2, e1, e1_len);
    FUZZ_CHECK(bundle_equal(&b1, &b2));
    FUZZ_CHECK(gm_wire_bundle_encode(&b2, e2, need, &e2_len) == 0);
    FUZZ_CHECK(same_bytes(e1, e1_len, e2, e2_len));
    free(e1);
    free(e2);
    return 0;
}
