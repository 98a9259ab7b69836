#include "tools/noise_vectors.h"

#include <cjson/cJSON.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/noise.h"
#include "tools/util.h"

enum { VEC_PASS, VEC_FAIL, VEC_SKIP };

/* One side of a vector: the prefix is "init_" or "resp_". */
static int setup_side(gm_noise_handshake_t *hs, const gm_noise_protocol_t *proto,
                      const cJSON *v, const char *prefix, char *why, size_t why_len)
{
    char key[64];
    gm_bytes_t b = {0};
    int ok = 0;
    bool initiator = prefix[0] == 'i';

    snprintf(key, sizeof key, "%sprologue", prefix);
    if (gm_json_hex(v, key, &b) != 0) {
        snprintf(why, why_len, "missing %s", key);
        return -1;
    }
    gm_noise_handshake_init(hs, proto, initiator, b.data, b.len, NULL, NULL);
    gm_bytes_free(&b);

    snprintf(key, sizeof key, "%sstatic", prefix);
    if (gm_json_hex(v, key, &b) == 0) {
        ok |= (b.len != 32) || gm_noise_handshake_set_static(hs, b.data) != 0;
        gm_bytes_free(&b);
    }
    snprintf(key, sizeof key, "%sephemeral", prefix);
    if (gm_json_hex(v, key, &b) == 0) {
        ok |= (b.len != 32) || gm_noise_handshake_set_ephemeral(hs, b.data) != 0;
        gm_bytes_free(&b);
    }
    snprintf(key, sizeof key, "%sremote_static", prefix);
    if (gm_json_hex(v, key, &b) == 0) {
        ok |= (b.len != 32);
        if (b.len == 32) {
            gm_noise_handshake_set_remote_static(hs, b.data);
        }
        gm_bytes_free(&b);
    }
    snprintf(key, sizeof key, "%spsks", prefix);
    const cJSON *psks = cJSON_GetObjectItemCaseSensitive(v, key);
    if (proto->n_psks > 0) {
        uint8_t keys[GM_NOISE_MAX_PSKS][GM_NOISE_PSK_LEN];
        int n = cJSON_GetArraySize(psks);
        for (int i = 0; i < n && i < (int)GM_NOISE_MAX_PSKS; i++) {
            const cJSON *item = cJSON_GetArrayItem(psks, i);
            ok |= !cJSON_IsString(item) ||
                  gm_hex_decode(item->valuestring, keys[i], sizeof keys[i]) != 0;
        }
        ok |= n < 0 || gm_noise_handshake_set_psks(hs, (const uint8_t(*)[32])keys, (size_t)n);
        sodium_memzero(keys, sizeof keys);
    }
    if (ok != 0 || gm_noise_handshake_start(hs) != 0) {
        snprintf(why, why_len, "bad or missing %s keys", prefix);
        return -1;
    }
    return 0;
}

/* Sends one message from tx to rx and compares it with the vector's. */
static int check_message(gm_noise_handshake_t *tx_hs, gm_noise_handshake_t *rx_hs,
                         gm_noise_cipher_t *tx, gm_noise_cipher_t *rx, const cJSON *m,
                         size_t index, char *why, size_t why_len)
{
    gm_bytes_t pt = {0}, ct = {0};
    uint8_t *out = malloc(GM_NOISE_MAX_MSG_LEN), *back = malloc(GM_NOISE_MAX_MSG_LEN);
    size_t out_len = 0, back_len = 0;
    int err = -1;

    if (out == NULL || back == NULL || gm_json_hex(m, "payload", &pt) != 0 ||
        gm_json_hex(m, "ciphertext", &ct) != 0) {
        snprintf(why, why_len, "message %zu: missing payload or ciphertext", index);
        goto out;
    }
    if (tx_hs != NULL) {
        err = gm_noise_handshake_write(tx_hs, pt.data, pt.len, out, GM_NOISE_MAX_MSG_LEN,
                                       &out_len);
    } else {
        err = gm_noise_encrypt(tx, NULL, 0, pt.data, pt.len, out, GM_NOISE_MAX_MSG_LEN,
                               &out_len);
    }
    if (err != 0 || out_len != ct.len || memcmp(out, ct.data, ct.len) != 0) {
        snprintf(why, why_len, "message %zu: ciphertext differs (%s)", index, gm_strerror(err));
        err = -1;
        goto out;
    }
    if (rx_hs != NULL) {
        err = gm_noise_handshake_read(rx_hs, ct.data, ct.len, back, GM_NOISE_MAX_MSG_LEN,
                                      &back_len);
    } else {
        err = gm_noise_decrypt(rx, NULL, 0, ct.data, ct.len, back, GM_NOISE_MAX_MSG_LEN,
                               &back_len);
    }
    if (err != 0 || back_len != pt.len || memcmp(back, pt.data, pt.len) != 0) {
        snprintf(why, why_len, "message %zu: decryption differs (%s)", index, gm_strerror(err));
        err = -1;
    }
out:
    gm_bytes_free(&pt);
    gm_bytes_free(&ct);
    free(out);
    free(back);
    return err;
}

static int check_hash(const gm_noise_handshake_t *a, const gm_noise_handshake_t *b,
                      const cJSON *v, char *why, size_t why_len)
{
    gm_bytes_t want = {0};
    size_t la, lb;
    const uint8_t *ha = gm_noise_handshake_hash(a, &la), *hb = gm_noise_handshake_hash(b, &lb);
    int err = 0;

    if (la != lb || memcmp(ha, hb, la) != 0) {
        snprintf(why, why_len, "handshake hashes of the two sides differ");
        return -1;
    }
    if (gm_json_hex(v, "handshake_hash", &want) == 0) {
        if (want.len != la || memcmp(want.data, ha, la) != 0) {
            snprintf(why, why_len, "handshake hash differs from the vector's");
            err = -1;
        }
        gm_bytes_free(&want);
    }
    return err;
}

static int run_messages(gm_noise_handshake_t hs[2], const cJSON *v, char *why, size_t why_len)
{
    gm_noise_cipher_t cs[2][2]; /* cs[side][0] sends, cs[side][1] receives */
    const cJSON *msgs = cJSON_GetObjectItemCaseSensitive(v, "messages");
    int n = cJSON_GetArraySize(msgs), err = 0;
    bool split = false;

    memset(cs, 0, sizeof cs);
    for (int i = 0; err == 0 && i < n; i++) {
        int tx = i % 2, rx = 1 - tx;
        if (!split) {
            err = check_message(&hs[tx], &hs[rx], NULL, NULL, cJSON_GetArrayItem(msgs, i),
                                (size_t)i, why, why_len);
            if (err == 0 && gm_noise_handshake_is_done(&hs[0]) &&
                gm_noise_handshake_is_done(&hs[1])) {
                err = check_hash(&hs[0], &hs[1], v, why, why_len);
                err = err ? err : gm_noise_handshake_split(&hs[0], &cs[0][0], &cs[0][1]);
                err = err ? err : gm_noise_handshake_split(&hs[1], &cs[1][0], &cs[1][1]);
                split = true;
            }
        } else {
            err = check_message(NULL, NULL, &cs[tx][0], &cs[rx][1], cJSON_GetArrayItem(msgs, i),
                                (size_t)i, why, why_len);
        }
    }
    if (err == 0 && !split) {
        snprintf(why, why_len, "the vector ends before the handshake does");
        err = -1;
    }
    for (int s = 0; s < 2; s++) {
        gm_noise_cipher_close(&cs[s][0]);
        gm_noise_cipher_close(&cs[s][1]);
    }
    return err;
}

static int run_vector(const cJSON *v, const char **name, char *why, size_t why_len)
{
    gm_noise_protocol_t proto;
    gm_noise_handshake_t hs[2];
    int rc = VEC_FAIL;

    *name = gm_json_str(v, "protocol_name");
    if (*name == NULL) {
        *name = gm_json_str(v, "name");
    }
    if (*name == NULL) {
        *name = "(unnamed)";
        snprintf(why, why_len, "no protocol_name or name");
        return VEC_FAIL;
    }
    if (gm_noise_protocol_parse(*name, &proto) != 0) {
        snprintf(why, why_len, "protocol not implemented");
        return VEC_SKIP;
    }
    memset(hs, 0, sizeof hs);
    if (setup_side(&hs[0], &proto, v, "init_", why, why_len) == 0 &&
        setup_side(&hs[1], &proto, v, "resp_", why, why_len) == 0 &&
        run_messages(hs, v, why, why_len) == 0) {
        rc = VEC_PASS;
    }
    gm_noise_handshake_close(&hs[0]);
    gm_noise_handshake_close(&hs[1]);
    return rc;
}

int gm_noise_vectors_run_file(const char *path, FILE *report, int verbose,
                              gm_vector_counts_t *counts)
{
    cJSON *root = gm_json_load(path, report);
    const cJSON *vectors, *v;

    if (root == NULL) {
        return -1;
    }
    vectors = cJSON_GetObjectItemCaseSensitive(root, "vectors");
    if (!cJSON_IsArray(vectors)) {
        fprintf(report, "%s: not a Noise vector file (no \"vectors\" list)\n", path);
        cJSON_Delete(root);
        return -1;
    }
    cJSON_ArrayForEach(v, vectors)
    {
        char why[160] = "";
        const char *name;
        int rc = run_vector(v, &name, why, sizeof why);

        if (rc == VEC_PASS) {
            counts->passed++;
        } else if (rc == VEC_SKIP) {
            counts->skipped++;
            if (verbose) {
                fprintf(report, "skipped %s: %s\n", name, why);
            }
        } else {
            counts->failed++;
            fprintf(report, "FAILED %s: %s\n", name, why);
        }
    }
    cJSON_Delete(root);
    return 0;
}
