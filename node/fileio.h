/* Files of a node or CA directory: bounded reads and atomic, durable writes. */
#ifndef GM_FILEIO_H
#define GM_FILEIO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "crypto/common.h"

/*
 * Reads a whole file of at most max_len bytes into a new buffer (free() it;
 * one extra NUL byte follows the data). Errors: negative errno from open/read
 * (-ENOENT, -EACCES...), GM_ELIMIT when the file is larger than max_len.
 */
GM_MUST_CHECK int gm_file_read(const char *path, size_t max_len, uint8_t **out, size_t *out_len);

/*
 * Writes data to path atomically: a temporary file in the same directory
 * (random name, created with O_EXCL|O_NOFOLLOW, given the exact mode before
 * any data), fsync, rename over path, fsync of the directory. The temporary
 * file is removed on every failure. With exclusive set, GM_EEXIST if path
 * already exists. GM_ELIMIT if path is too long; negative errno otherwise.
 */
GM_MUST_CHECK int gm_file_write_atomic(const char *path, const uint8_t *data, size_t len,
                                       mode_t mode, int exclusive);

/* Creates a directory (mode 0700) unless it exists. Negative errno on failure. */
GM_MUST_CHECK int gm_dir_ensure(const char *path);

/* path = dir + "/" + name. GM_ELIMIT if it does not fit in cap. */
GM_MUST_CHECK int gm_path_join(char *out, size_t cap, const char *dir, const char *name);

#endif
