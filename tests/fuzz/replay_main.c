/*
 * Corpus replay for builds without libFuzzer (gcc, GM_FUZZ=OFF): runs
 * LLVMFuzzerTestOneInput once on every input named on the command line, so
 * ctest checks each committed corpus under the ordinary compiler and
 * sanitizers. A directory means every regular file in it, in sorted order.
 *
 * Exit status: 0 when every input ran (a failure is the harness crashing or
 * a sanitizer report), 2 when a path cannot be read or holds no input, so an
 * empty or misnamed corpus cannot pass silently.
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define REPLAY_MAX_LEN (1u << 20) /* longer files are cut, as libFuzzer's -max_len would */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
/* Optional, as in libFuzzer. */
__attribute__((weak)) int LLVMFuzzerInitialize(int *argc, char ***argv);

/*
 * Runs the harness on the first REPLAY_MAX_LEN bytes of path, from a buffer of
 * exactly that size (malloc(0) for an empty file) so that AddressSanitizer
 * sees any read past the end.
 */
static int replay_file(const char *path)
{
    static const uint8_t empty[1];
    struct stat st;
    uint8_t *buf = NULL;
    size_t len = 0;
    FILE *f;
    int err = -1;

    errno = 0;
    f = fopen(path, "rb");
    if (f != NULL && fstat(fileno(f), &st) == 0) {
        len = (size_t)st.st_size < REPLAY_MAX_LEN ? (size_t)st.st_size : REPLAY_MAX_LEN;
        buf = malloc(len);
        err = (len > 0 && (buf == NULL || fread(buf, 1, len, f) != len)) ? -1 : 0;
    }
    if (err != 0) {
        fprintf(stderr, "replay: %s: cannot read it (%s)\n", path,
                errno != 0 ? strerror(errno) : "short read");
    } else {
        if ((size_t)st.st_size > len) {
            fprintf(stderr, "replay: %s: only its first %zu bytes are used\n", path, len);
        }
        fprintf(stderr, "Running: %s\n", path); /* names the input if it crashes */
        LLVMFuzzerTestOneInput(buf != NULL ? buf : empty, len);
    }
    free(buf);
    if (f != NULL) {
        fclose(f);
    }
    return err;
}

static int is_regular(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* Replays every regular file in dir in name order; *count gets how many. */
static int replay_dir(const char *dir, size_t *count)
{
    struct dirent **names;
    int n = scandir(dir, &names, NULL, alphasort);
    int err = 0;

    if (n < 0) {
        fprintf(stderr, "replay: %s: %s\n", dir, strerror(errno));
        return -1;
    }
    for (int i = 0; i < n; i++) {
        size_t len = strlen(dir) + strlen(names[i]->d_name) + 2;
        char *path = malloc(len);

        if (path == NULL) {
            err = -1;
        } else {
            snprintf(path, len, "%s/%s", dir, names[i]->d_name);
            if (err == 0 && is_regular(path)) {
                err = replay_file(path);
                *count += err == 0 ? 1 : 0;
            }
            free(path);
        }
        free(names[i]);
    }
    free(names);
    return err;
}

int main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fprintf(argc < 2 ? stderr : stdout,
                "usage: %s CORPUS_DIR_OR_FILE...\n"
                "Runs the fuzz harness once on every input; exits 2 if a path cannot\n"
                "be read or holds no input.\n",
                argv[0]);
        return argc < 2 ? 2 : 0;
    }
    if (LLVMFuzzerInitialize != NULL) {
        LLVMFuzzerInitialize(&argc, &argv);
    }
    for (int i = 1; i < argc; i++) {
        struct stat st;
        size_t count = 0;
        int err;

        if (stat(argv[i], &st) != 0) {
            fprintf(stderr, "replay: %s: %s\n", argv[i], strerror(errno));
            return 2;
        }
        if (S_ISDIR(st.st_mode)) {
            err = replay_dir(argv[i], &count);
        } else {
            err = replay_file(argv[i]);
            count = err == 0 ? 1 : 0;
        }
        if (err != 0) {
            return 2;
        }
        printf("replayed %zu inputs from %s\n", count, argv[i]);
        if (count == 0) {
            fprintf(stderr, "replay: %s: no input found\n", argv[i]);
            return 2;
        }
    }
    return 0;
}
