/* Helpers shared by the command-line tools and the tests: hex, JSON, byte buffers. */
#ifndef GM_TOOLS_UTIL_H
#define GM_TOOLS_UTIL_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct {
    uint8_t *data;
    size_t len;
} gm_bytes_t;

void gm_bytes_free(gm_bytes_t *b);

/* Decodes exactly out_len bytes of hex. 0 or -1. */
int gm_hex_decode(const char *hex, uint8_t *out, size_t out_len);

/* Decodes hex of any even length into a new buffer (b->data is never NULL on success). */
int gm_hex_decode_alloc(const char *hex, gm_bytes_t *b);

/* Writes 2*len+1 characters of lowercase hex to out. */
void gm_hex_encode(char *out, const uint8_t *in, size_t len);

/* Parses a JSON file (at most 64 MiB). On error prints "path: reason" to err and returns NULL. */
cJSON *gm_json_load(const char *path, FILE *err);

/* obj[key] as a string, or NULL. */
const char *gm_json_str(const cJSON *obj, const char *key);

/* obj[key], a hex string, decoded into b. 0, or -1 if absent or not hex. */
int gm_json_hex(const cJSON *obj, const char *key, gm_bytes_t *b);

#endif
