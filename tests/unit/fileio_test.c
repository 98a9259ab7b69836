#define _XOPEN_SOURCE 700 /* nftw */
/*
 * node/fileio: bounded reads and atomic writes. Each test runs in a fresh
 * directory; inotify shows what the writer did to its temporary file (name,
 * and whether the mode was set before the data went in).
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "node/fileio.h"
#include "tests/support/ident.h"

static char dir[64];

static void setup(void)
{
    cr_assert(sodium_init() >= 0);
    snprintf(dir, sizeof dir, "/tmp/gm_fileio.XXXXXX");
    cr_assert_not_null(mkdtemp(dir), "mkdtemp: %s", strerror(errno));
    cr_assert_eq(chdir(dir), 0); /* each test runs in its own process */
}

static void teardown(void)
{
    cr_expect_eq(chdir("/"), 0);
    cr_expect_eq(gm_test_rmdir(dir), 0, "cannot remove %s", dir);
}

TestSuite(fileio, .init = setup, .fini = teardown);

static const uint8_t data[] = "guardmesh fileio test data";

/* The names in the working directory, sorted and space-separated, in out. */
static void listing(char *out, size_t cap)
{
    struct dirent **names;
    int n = scandir(".", &names, NULL, alphasort);

    cr_assert_geq(n, 0);
    out[0] = 0;
    for (int i = 0; i < n; i++) {
        if (strcmp(names[i]->d_name, ".") != 0 && strcmp(names[i]->d_name, "..") != 0) {
            snprintf(out + strlen(out), cap - strlen(out), "%s%s", out[0] ? " " : "",
                     names[i]->d_name);
        }
        free(names[i]);
    }
    free(names);
}

static void expect_listing(const char *want)
{
    char got[1024];

    listing(got, sizeof got);
    cr_expect_str_eq(got, want, "directory holds '%s', expected '%s'", got, want);
}

static void expect_content(const char *path, const void *want, size_t want_len)
{
    uint8_t *buf;
    size_t len;

    cr_assert_eq(gm_file_read(path, 4096, &buf, &len), 0, "%s unreadable", path);
    cr_expect_eq(len, want_len, "%s: %zu bytes, expected %zu", path, len, want_len);
    cr_expect(len == want_len && memcmp(buf, want, len) == 0, "%s: wrong content", path);
    free(buf);
}

static void put_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");

    cr_assert_not_null(f);
    cr_assert_eq(fputs(text, f) >= 0, true);
    cr_assert_eq(fclose(f), 0);
}

Test(fileio, written_content_and_exact_mode_whatever_the_umask)
{
    struct stat st;

    umask(0);
    cr_assert_eq(gm_file_write_atomic("secret", data, sizeof data, 0600, 0), 0);
    umask(077);
    cr_assert_eq(gm_file_write_atomic("public", data, sizeof data, 0644, 0), 0);
    cr_assert_eq(stat("secret", &st), 0);
    cr_expect_eq(st.st_mode & 07777, 0600, "mode %o", (unsigned)(st.st_mode & 07777));
    cr_assert_eq(stat("public", &st), 0);
    cr_expect_eq(st.st_mode & 07777, 0644, "mode %o", (unsigned)(st.st_mode & 07777));
    expect_content("secret", data, sizeof data);
    expect_content("public", data, sizeof data);
    cr_assert_eq(gm_file_write_atomic("public", (const uint8_t *)"x", 1, 0644, 0), 0);
    expect_content("public", "x", 1); /* replaced whole, not overwritten in place */
    cr_assert_eq(gm_file_write_atomic("empty", NULL, 0, 0600, 0), 0);
    expect_content("empty", "", 0);
    expect_listing("empty public secret"); /* no temporary file left behind */
}

Test(fileio, exclusive_write_refuses_an_existing_file_or_link_and_leaves_no_temp)
{
    cr_assert_eq(gm_file_write_atomic("key", data, sizeof data, 0600, 1), 0);
    cr_assert_eq(gm_file_write_atomic("key", (const uint8_t *)"new", 3, 0600, 1), GM_EEXIST);
    expect_content("key", data, sizeof data);
    cr_assert_eq(symlink("elsewhere", "dangling"), 0);
    cr_assert_eq(gm_file_write_atomic("dangling", data, sizeof data, 0600, 1), GM_EEXIST);
    cr_expect_eq(access("elsewhere", F_OK), -1, "wrote through a dangling symlink");
    expect_listing("dangling key");
}

Test(fileio, failure_on_a_directory_in_the_way_leaves_no_temp_file)
{
    cr_assert_eq(mkdir("target", 0700), 0);
    cr_assert_eq(mkdir("target/inside", 0700), 0); /* rename() cannot replace it */
    cr_expect_neq(gm_file_write_atomic("target", data, sizeof data, 0600, 0), 0);
    expect_listing("target");
    cr_expect_neq(gm_file_write_atomic("missing/file", data, sizeof data, 0600, 0), 0);
    expect_listing("target");
}

Test(fileio, failure_while_writing_keeps_the_old_file_and_leaves_no_temp_file)
{
    struct rlimit old, small;
    uint8_t big[4096];
    int err;

    put_text("file", "old content");
    memset(big, 'x', sizeof big);
    cr_assert_eq(getrlimit(RLIMIT_FSIZE, &old), 0);
    small = old;
    small.rlim_cur = 100; /* write() fails with EFBIG past 100 bytes */
    signal(SIGXFSZ, SIG_IGN);
    cr_assert_eq(setrlimit(RLIMIT_FSIZE, &small), 0);
    err = gm_file_write_atomic("file", big, sizeof big, 0600, 0);
    cr_assert_eq(setrlimit(RLIMIT_FSIZE, &old), 0);
    cr_expect_eq(err, -EFBIG, "got %d", err);
    expect_content("file", "old content", strlen("old content"));
    expect_listing("file");
}

Test(fileio, symlink_planted_at_the_target_is_replaced_not_followed)
{
    struct stat st;

    put_text("victim", "untouched");
    cr_assert_eq(symlink("victim", "file"), 0);
    cr_assert_eq(gm_file_write_atomic("file", data, sizeof data, 0600, 0), 0);
    cr_assert_eq(lstat("file", &st), 0);
    cr_expect(S_ISREG(st.st_mode), "file is still a symlink");
    expect_content("victim", "untouched", strlen("untouched"));
    expect_content("file", data, sizeof data);
}

Test(fileio, symlink_planted_at_a_guessable_temp_name_is_not_written_through)
{
    char planted[64];

    /* The name a pid-based writer would use: "<path>.tmp.<pid>". */
    put_text("victim", "untouched");
    snprintf(planted, sizeof planted, "file.tmp.%ld", (long)getpid());
    cr_assert_eq(symlink("victim", planted), 0);
    cr_assert_eq(gm_file_write_atomic("file", data, sizeof data, 0600, 0), 0);
    expect_content("victim", "untouched", strlen("untouched"));
    expect_content("file", data, sizeof data);
}

/* One inotify event: what happened to which name. */
struct event {
    uint32_t mask;
    char name[128];
};

/* Drains the inotify queue into ev (at most cap); returns the count. */
static size_t read_events(int fd, struct event *ev, size_t cap)
{
    _Alignas(struct inotify_event) char buf[8192];
    size_t n = 0;
    ssize_t got;

    while ((got = read(fd, buf, sizeof buf)) > 0) {
        for (char *p = buf; p < buf + got;) {
            const struct inotify_event *e = (const struct inotify_event *)p;
            if (n < cap) {
                ev[n].mask = e->mask;
                snprintf(ev[n].name, sizeof ev[n].name, "%s", e->len > 0 ? e->name : "");
                n++;
            }
            p += sizeof *e + e->len;
        }
    }
    return n;
}

/* The index of the first event with a bit of mask on name, or n. */
static size_t first(const struct event *ev, size_t n, const char *name, uint32_t mask)
{
    for (size_t i = 0; i < n; i++) {
        if ((ev[i].mask & mask) && strcmp(ev[i].name, name) == 0) {
            return i;
        }
    }
    return n;
}

/* Writes "file" and returns the name of the temporary file it went through. */
static void watched_write(int fd, mode_t mode, int exclusive, char tmp[128])
{
    struct event ev[64];
    size_t n, i, attrib, modify;

    cr_assert_eq(gm_file_write_atomic("file", data, sizeof data, mode, exclusive), 0);
    n = read_events(fd, ev, 64);
    for (i = 0; i < n && !((ev[i].mask & IN_CREATE) && strcmp(ev[i].name, "file") != 0); i++) {
        /* the first file created beside "file" */
    }
    cr_assert_lt(i, n, "no temporary file was created");
    snprintf(tmp, 128, "%s", ev[i].name);
    /* "file." + 32 hex digits + ".tmp", in the same directory */
    cr_expect_eq(strlen(tmp), 5 + 32 + 4, "temporary name %s", tmp);
    cr_expect(strncmp(tmp, "file.", 5) == 0 && strspn(tmp + 5, "0123456789abcdef") == 32 &&
                  strcmp(tmp + 37, ".tmp") == 0,
              "temporary name %s is not file.<random hex>.tmp", tmp);
    attrib = first(ev, n, tmp, IN_ATTRIB);
    modify = first(ev, n, tmp, IN_MODIFY);
    cr_expect_lt(modify, n, "no data written to %s", tmp);
    cr_expect_lt(attrib, modify, "%s got its mode after its data (attrib %zu, modify %zu)", tmp,
                 attrib, modify);
}

Test(fileio, temp_file_has_a_random_name_and_its_mode_before_any_data)
{
    char a[128], b[128], c[128];
    int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);

    cr_assert_geq(fd, 0);
    cr_assert_geq(inotify_add_watch(fd, ".", IN_CREATE | IN_ATTRIB | IN_MODIFY), 0);
    umask(022);
    watched_write(fd, 0644, 0, a);
    watched_write(fd, 0600, 0, b);
    cr_assert_eq(unlink("file"), 0);
    watched_write(fd, 0600, 1, c);
    cr_expect_str_neq(a, b, "the same temporary name twice: %s", a);
    cr_expect_str_neq(b, c, "the same temporary name twice: %s", b);
    close(fd);
    expect_listing("file");
}

Test(fileio, bounded_read_refuses_too_large_files_and_non_files)
{
    uint8_t big[101], *buf;
    size_t len;

    memset(big, 'b', sizeof big);
    cr_assert_eq(gm_file_write_atomic("big", big, sizeof big, 0600, 0), 0);
    cr_expect_eq(gm_file_read("big", 100, &buf, &len), GM_ELIMIT);
    cr_assert_eq(gm_file_read("big", 101, &buf, &len), 0);
    cr_expect_eq(len, 101);
    cr_expect_eq(buf[101], 0, "no NUL after the data");
    free(buf);
    cr_assert_eq(mkdir("sub", 0700), 0);
    cr_expect_eq(gm_file_read("sub", 100, &buf, &len), -EISDIR);
    cr_expect_eq(gm_file_read("absent", 100, &buf, &len), -ENOENT);
}
