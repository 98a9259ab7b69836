/*
 * Arrays of secret entries (skipped message keys, skipped sender-key seeds)
 * shared by ratchet.c and senderkey.c. No byte of a key is freed unwiped:
 * blocks are grown by hand, since realloc would free a copy of the keys.
 * Entries past the count in use are always zero; an empty array is NULL.
 * Functions that may replace the block return it: assign it back.
 */
#ifndef GM_KEYLIST_INTERNAL_H
#define GM_KEYLIST_INTERNAL_H

#include <stddef.h>

/*
 * A new block with room for n + extra entries (extra > 0): the n entries of
 * items copied, the rest zero; items is then wiped and freed. NULL if out of
 * memory (or the size overflows), items untouched.
 */
void *gm__keylist_grow(void *items, size_t n, size_t extra, size_t size);

/* A copy of n entries; NULL when n is 0 or memory runs out. */
void *gm__keylist_dup(const void *items, size_t n, size_t size);

/* Keeps the first keep of *n entries and wipes the rest; NULL when keep is 0 (freed). */
void *gm__keylist_truncate(void *items, size_t *n, size_t keep, size_t size);

/* Removes count entries from index i, keeping the others' order; NULL when none are left. */
void *gm__keylist_remove(void *items, size_t *n, size_t i, size_t count, size_t size);

/* Wipes n entries and frees the block. NULL is a no-op. */
void gm__keylist_free(void *items, size_t n, size_t size);

#endif
