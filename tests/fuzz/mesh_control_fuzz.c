/*
 * Fuzzes the mesh control codec (proto/wire_mesh_control.h): the MeshRequest
 * a node decodes from its control socket and the MeshResponse the CLI decodes
 * from the node. The same input is tried as both. Whatever decodes must stay
 * within the documented limits, encode into exactly the announced size (for a
 * request; one byte less is GM_ELIMIT), decode again to the same value, and
 * encode again to the same bytes.
 * Input: the bytes of one encoded MeshRequest or MeshResponse.
 */
#include "tests/fuzz/fuzz.h"
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/wire_mesh_control.h"



static bool request_equal(const gm_mesh_request_t *a, const gm_mesh_request_t *b)
{
    return a->op == b->op && a->has_to == b->has_to &&
           (!a->has_to || memcmp(a->to, b->to, GM_ID_LEN) == 0) && a->size == b->size &&
           a->count == b->count && a->priority == b->priority && a->dest_kind == b->dest_kind &&
           a->lifetime == b->lifetime && same_bytes(a->crl, a->crl_len, b->crl, b->crl_len);
}

static void fuzz_request(const uint8_t *data, size_t size)
{
    gm_mesh_request_t q1, q2;
    uint8_t *e1, *e2;
    size_t need, e1_len, e2_len;

    if (gm_wire_mesh_request_decode(data, size, &q1) != 0) {
        return;
    }
    FUZZ_CHECK(q1.op >= GM_MESH_OP_STATUS && q1.op <= GM_MESH_OP_CRL_ADD);
    FUZZ_CHECK(q1.crl_len <= GM_MESH_CTL_CRL_MAX && (q1.crl_len == 0) == (q1.crl == NULL));
    need = gm_wire_mesh_request_size(&q1);
    e1 = malloc(need + 1);
    e2 = malloc(need + 1);
    FUZZ_CHECK(e1 != NULL && e2 != NULL);
    FUZZ_CHECK(need == 0 || gm_wire_mesh_request_encode(&q1, e1, need - 1, &e1_len) == GM_ELIMIT);
    FUZZ_CHECK(gm_wire_mesh_request_encode(&q1, e1, need, &e1_len) == 0 && e1_len == need);
    FUZZ_CHECK(gm_wire_mesh_request_decode(e1, e1_len, &q2) == 0);
    FUZZ_CHECK(request_equal(&q1, &q2));
    FUZZ_CHECK(gm_wire_mesh_request_encode(&q2, e2, need, &e2_len) == 0);
    FUZZ_CHECK(same_bytes(e1, e1_len, e2, e2_len));
    free(e1);
    free(e2);
    gm_mesh_request_free(&q1);
    gm_mesh_request_free(&q2);
}

static bool route_equal(const gm_mesh_route_line_t *a, const gm_mesh_route_line_t *b)
{
    return memcmp(a->dest, b->dest, GM_ID_LEN) == 0 && strcmp(a->callsign, b->callsign) == 0 &&
           a->reachable == b->reachable && memcmp(a->next_hop, b->next_hop, GM_ID_LEN) == 0 &&
           a->metric == b->metric && a->seq == b->seq && a->age_ms == b->age_ms;
}

static bool response_equal(const gm_mesh_response_t *a, const gm_mesh_response_t *b)
{
    bool same = a->error == b->error && strcmp(a->message, b->message) == 0 &&
                a->n_counters == b->n_counters && a->directory == b->directory &&
                a->n_routes == b->n_routes && a->n_ids == b->n_ids &&
                (a->n_ids == 0 || memcmp(a->ids, b->ids, a->n_ids * GM_ID_LEN) == 0);

    for (size_t i = 0; same && i < a->n_counters; i++) {
        same = strcmp(a->counters[i].name, b->counters[i].name) == 0 &&
               a->counters[i].value == b->counters[i].value;
    }
    for (size_t i = 0; same && i < a->n_routes; i++) {
        same = route_equal(&a->routes[i], &b->routes[i]);
    }
    return same;
}

static void fuzz_response(const uint8_t *data, size_t size)
{
    static gm_mesh_response_t r1, r2;
    uint8_t *e1, *e2;
    size_t e1_len, e2_len;

    if (gm_wire_mesh_response_decode(data, size, &r1) != 0) {
        return;
    }
    FUZZ_CHECK(r1.n_counters <= GM_MESH_CTL_MAX_COUNTERS && r1.n_routes <= GM_MESH_CTL_MAX_ROUTES &&
               r1.n_ids <= GM_MESH_CTL_MAX_IDS);
    FUZZ_CHECK(gm_wire_mesh_response_encode(&r1, &e1, &e1_len) == 0);
    FUZZ_CHECK(gm_wire_mesh_response_decode(e1, e1_len, &r2) == 0);
    FUZZ_CHECK(response_equal(&r1, &r2));
    FUZZ_CHECK(gm_wire_mesh_response_encode(&r2, &e2, &e2_len) == 0);
    FUZZ_CHECK(same_bytes(e1, e1_len, e2, e2_len));
    free(e1);
    free(e2);
    gm_mesh_response_free(&r1);
    gm_mesh_response_free(&r2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_request(data, size);
    fuzz_response(data, size);
    return 0;
}
