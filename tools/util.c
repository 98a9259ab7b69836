#include "tools/util.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "node/fileio.h"

#define JSON_MAX_FILE (64u << 20)

void gm_bytes_free(gm_bytes_t *b)
{
    free(b->data);
    b->data = NULL;
    b->len = 0;
}

int gm_hex_decode(const char *hex, uint8_t *out, size_t out_len)
{
    size_t got = 0;
    const char *end = NULL;

    if (strlen(hex) != 2 * out_len) {
        return -1;
    }
    if (sodium_hex2bin(out, out_len, hex, 2 * out_len, NULL, &got, &end) != 0 ||
        got != out_len) {
        return -1;
    }
    return 0;
}

int gm_hex_decode_alloc(const char *hex, gm_bytes_t *b)
{
    size_t len = strlen(hex);

    if (len % 2 != 0) {
        return -1;
    }
    b->data = malloc(len / 2 + 1);
    b->len = len / 2;
    if (b->data == NULL || gm_hex_decode(hex, b->data, b->len) != 0) {
        gm_bytes_free(b);
        return -1;
    }
    return 0;
}

void gm_hex_encode(char *out, const uint8_t *in, size_t len)
{
    sodium_bin2hex(out, 2 * len + 1, in, len);
}

cJSON *gm_json_load(const char *path, FILE *err)
{
    uint8_t *text;
    size_t len;
    cJSON *root;
    int rc = gm_file_read(path, JSON_MAX_FILE, &text, &len);

    if (rc != 0) {
        fprintf(err, "%s: cannot read: %s\n", path, gm_strerror(rc));
        return NULL;
    }
    root = cJSON_ParseWithLength((const char *)text, len);
    free(text);
    if (root == NULL) {
        fprintf(err, "%s: not valid JSON\n", path);
    }
    return root;
}

const char *gm_json_str(const cJSON *obj, const char *key)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);

    return cJSON_IsString(item) ? item->valuestring : NULL;
}

int gm_json_hex(const cJSON *obj, const char *key, gm_bytes_t *b)
{
    const char *s = gm_json_str(obj, key);

    return s == NULL ? -1 : gm_hex_decode_alloc(s, b);
}
