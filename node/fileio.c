#include "node/fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int gm_file_read(const char *path, size_t max_len, uint8_t **out, size_t *out_len)
{
    struct stat st;
    uint8_t *buf;
    size_t got = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    int err = 0;

    if (fd < 0) {
        return -errno;
    }
    if (fstat(fd, &st) != 0) {
        err = -errno;
    } else if (!S_ISREG(st.st_mode)) {
        err = -EISDIR;
    } else if ((uint64_t)st.st_size > max_len) {
        err = GM_ELIMIT;
    }
    buf = err == 0 ? malloc((size_t)st.st_size + 1) : NULL;
    if (err == 0 && buf == NULL) {
        err = GM_ENOMEM;
    }
    while (err == 0 && got < (size_t)st.st_size) {
        ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            err = n < 0 ? -errno : -EIO; /* the file shrank under us */
            break;
        }
        got += (size_t)n;
    }
    close(fd);
    if (err != 0) {
        free(buf);
        return err;
    }
    buf[got] = 0;
    *out = buf;
    *out_len = got;
    return 0;
}

static int write_all(int fd, const uint8_t *data, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, data, len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            return -errno;
        }
        data += n;
        len -= (size_t)n;
    }
    return 0;
}

static int fsync_parent(const char *path)
{
    char copy[4096];
    int fd, err = 0;

    if (snprintf(copy, sizeof copy, "%s", path) >= (int)sizeof copy) {
        return GM_ELIMIT;
    }
    fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        return -errno;
    }
    if (fsync(fd) != 0) {
        err = -errno;
    }
    close(fd);
    return err;
}

/*
 * Creates a temporary file beside path: "<path>.<32 random hex digits>.tmp".
 * The name cannot be guessed in advance, and O_EXCL|O_NOFOLLOW refuses any
 * file or symlink already there, so nobody can make us write through a link
 * they planted. The mode is fixed with fchmod before a byte is written, so
 * the umask neither widens nor narrows it.
 */
static int temp_create(const char *path, mode_t mode, char *tmp, size_t cap, int *fd)
{
    uint8_t rnd[16];
    char hex[2 * sizeof rnd + 1];
    int n;

    randombytes_buf(rnd, sizeof rnd);
    sodium_bin2hex(hex, sizeof hex, rnd, sizeof rnd);
    n = snprintf(tmp, cap, "%s.%s.tmp", path, hex);
    if (n < 0 || (size_t)n >= cap) {
        return GM_ELIMIT;
    }
    *fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (*fd < 0) {
        return -errno; /* not ours: never unlinked */
    }
    if (fchmod(*fd, mode) != 0) {
        int err = -errno;
        close(*fd);
        unlink(tmp);
        return err;
    }
    return 0;
}

int gm_file_write_atomic(const char *path, const uint8_t *data, size_t len, mode_t mode,
                         int exclusive)
{
    char tmp[4096];
    int fd, err;

    if (exclusive && access(path, F_OK) == 0) {
        return GM_EEXIST;
    }
    err = temp_create(path, mode, tmp, sizeof tmp, &fd);
    if (err != 0) {
        return err;
    }
    err = write_all(fd, data, len);
    if (err == 0 && fsync(fd) != 0) {
        err = -errno;
    }
    if (close(fd) != 0 && err == 0) {
        err = -errno;
    }
    /* link() refuses an existing target, so exclusive creation is race-free. */
    if (err == 0 && exclusive) {
        err = link(tmp, path) == 0 ? 0 : (errno == EEXIST ? GM_EEXIST : -errno);
        unlink(tmp);
    } else if (err == 0 && rename(tmp, path) != 0) {
        err = -errno;
    }
    if (err != 0) {
        unlink(tmp);
        return err;
    }
    return fsync_parent(path);
}

int gm_dir_ensure(const char *path)
{
    struct stat st;

    if (mkdir(path, 0700) == 0) {
        return 0;
    }
    if (errno != EEXIST) {
        return -errno;
    }
    if (stat(path, &st) != 0) {
        return -errno;
    }
    return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
}

int gm_path_join(char *out, size_t cap, const char *dir, const char *name)
{
    int n = snprintf(out, cap, "%s/%s", dir, name);

    return (n < 0 || (size_t)n >= cap) ? GM_ELIMIT : 0;
}
