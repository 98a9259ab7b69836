#include "crypto/keylist_internal.h"

#include <assert.h>
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

void *gm__keylist_grow(void *items, size_t n, size_t extra, size_t size)
{
    uint8_t *block;

    assert(extra > 0 && size > 0);
    if (n > SIZE_MAX - extra || n + extra > SIZE_MAX / size) {
        return NULL;
    }
    block = calloc(n + extra, size);
    if (block == NULL) {
        return NULL;
    }
    if (n > 0) {
        memcpy(block, items, n * size);
    }
    gm__keylist_free(items, n, size);
    return block;
}

void *gm__keylist_dup(const void *items, size_t n, size_t size)
{
    uint8_t *copy;

    if (n == 0) {
        return NULL;
    }
    copy = gm__keylist_grow(NULL, 0, n, size);
    if (copy != NULL) {
        memcpy(copy, items, n * size);
    }
    return copy;
}

void *gm__keylist_truncate(void *items, size_t *n, size_t keep, size_t size)
{
    assert(keep <= *n);
    if (keep == 0) {
        gm__keylist_free(items, *n, size);
        items = NULL;
    } else if (keep < *n) {
        sodium_memzero((uint8_t *)items + keep * size, (*n - keep) * size);
    }
    *n = keep;
    return items;
}

void *gm__keylist_remove(void *items, size_t *n, size_t i, size_t count, size_t size)
{
    uint8_t *base = items;
    size_t after;

    assert(i <= *n && count <= *n - i);
    after = *n - i - count;
    if (count > 0 && after > 0) {
        memmove(base + i * size, base + (i + count) * size, after * size);
    }
    return gm__keylist_truncate(items, n, *n - count, size);
}

void gm__keylist_free(void *items, size_t n, size_t size)
{
    if (items != NULL) {
        sodium_memzero(items, n * size);
        free(items);
    }
}
