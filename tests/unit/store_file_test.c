/*
 * node/store's file: creation, kill -9 at any moment (custody and delivery
 * survive), and files that must be refused and left untouched.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "node/fileio.h"
#include "node/store.h"
#include "tests/support/bundles.h"
#include "tests/support/ident.h"

#define NOW GM_TEST_NOW
#define CRASH_ROUNDS 6
#define CRASH_BATCH 7 /* puts per commit in the crash child */

static char dir[GM_PATH_MAX], path[GM_PATH_MAX];

static void setup(void)
{
    gm_test_tmpdir(dir);
    gm_test_store_path(dir, path);
}

static void teardown(void)
{
    gm_test_rmdir(dir);
}

TestSuite(store_file, .init = setup, .fini = teardown, .timeout = 120);

static void fill(gm_store_t *s, uint32_t from, uint32_t count, size_t body_len)
{
    for (uint32_t n = from; n < from + count; n++) {
        gm_test_bundle_t t;
        uint64_t gen;

        gm_test_bundle(&t, n, (uint8_t)(1 + n % 5), (gm_prio_t)(n % GM_PRIO_COUNT), body_len);
        cr_assert_eq(gm_store_put(s, &t.b, t.enc, t.len, NOW, &gen), 0);
    }
}

static size_t count_held(gm_store_t *s)
{
    gm_store_stats_t st;

    gm_store_stats(s, &st);
    return (size_t)st.bundles;
}

static gm_store_state_t state_of(gm_store_t *s, uint32_t n)
{
    uint8_t id[GM_ID_LEN];
    gm_store_state_t st;

    gm_test_bundle_id(n, id);
    cr_assert_eq(gm_store_lookup(s, id, &st), 0);
    return st;
}

/* ---- creation ---- */

static size_t dir_entries(void)
{
    struct dirent *e;
    DIR *d = opendir(dir);
    size_t n = 0;

    cr_assert_not_null(d);
    while ((e = readdir(d)) != NULL) {
        n += e->d_name[0] != '.';
    }
    closedir(d);
    return n;
}

Test(store_file, new_store_is_mode_0600_in_wal_mode_and_nothing_else_is_left)
{
    gm_store_t *s = gm_test_store(dir, NULL);
    uint8_t *buf;
    struct stat st;
    size_t len;

    fill(s, 1, 3, 50);
    cr_assert_eq(gm_store_commit(s), 3);
    gm_store_free(s);
    cr_assert_eq(stat(path, &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0600);
    cr_assert_eq(dir_entries(), 1, "no temporary, -wal or -shm file after a clean close");
    cr_assert_eq(gm_file_read(path, 1u << 20, &buf, &len), 0);
    cr_assert_gt(len, 100);
    cr_assert_eq(memcmp(buf, "SQLite format 3", 16), 0);
    cr_assert_eq(buf[18], 2, "WAL write version");
    cr_assert_eq(buf[19], 2, "WAL read version");
    free(buf);
    s = gm_test_store(dir, NULL);
    cr_assert_eq(count_held(s), 3);
    gm_store_free(s);
}

/* The write-ahead log goes back into the file every 128 pages and is cut back:
 * a long-lived node's log stays well under a megabyte (SQLite's default lets it
 * grow to about 4 MiB, which a thousand simulated nodes on tmpfs pay in memory). */
Test(store_file, write_ahead_log_stays_small_over_many_commits)
{
    gm_store_t *s = gm_test_store(dir, NULL);
    char wal[GM_PATH_MAX + 8];
    off_t largest = 0;
    struct stat st;

    snprintf(wal, sizeof wal, "%s-wal", path);
    for (uint32_t n = 1; n <= 800; n++) {
        uint8_t id[GM_ID_LEN];

        fill(s, n, 1, 2000);
        cr_assert_eq(gm_store_commit(s), 1);
        gm_test_bundle_id(n, id);
        cr_assert_eq(gm_store_remove(s, id), 0);
        cr_assert_geq(gm_store_commit(s), 0);
        cr_assert_eq(stat(wal, &st), 0);
        largest = st.st_size > largest ? st.st_size : largest;
    }
    cr_assert_lt(largest, 1 << 20, "the log reached %lld bytes", (long long)largest);
    cr_assert_gt(largest, 0);
    gm_store_free(s);
}

Test(store_file, limits_are_checked)
{
    gm_store_limits_t lim;
    gm_store_t *s = NULL;
    gm_why_t why;

    gm_store_limits_default(&lim);
    cr_assert_eq(lim.max_bundle, 65536);
    lim.max_per_origin = lim.max_bundle - 1;
    cr_assert_eq(gm_store_new(path, &lim, &s, &why), GM_EPROTO);
    cr_assert_null(s);
    cr_assert_not_null(strstr(why.msg, "max_bundle <= max_per_origin"), "%s", why.msg);
    cr_assert_eq(access(path, F_OK), -1, "nothing created");
}

Test(store_file, second_open_of_a_store_in_use_is_refused)
{
    gm_store_t *s = gm_test_store(dir, NULL), *t = NULL;
    gm_store_limits_t lim;
    gm_why_t why;

    gm_store_limits_default(&lim);
    fill(s, 1, 1, 10);
    cr_assert_eq(gm_store_commit(s), 1);
    cr_assert_neq(gm_store_new(path, &lim, &t, &why), 0);
    cr_assert_null(t);
    cr_assert_not_null(strstr(why.msg, "locked"), "%s", why.msg);
    gm_store_free(s);
}

/* ---- kill -9 ---- */

/* The child's side of a crash round: never returns; reports over fd. */
typedef void (*child_fn)(const char *dir, int fd);

static void child_write(int fd, uint32_t v)
{
    if (write(fd, &v, sizeof v) != sizeof v) {
        _exit(3);
    }
}

/* Puts bundles in groups of CRASH_BATCH, reporting how many are committed after each commit. */
static void child_puts(const char *d, int fd)
{
    gm_store_limits_t lim;
    gm_store_t *s;
    gm_why_t why;
    char p[GM_PATH_MAX];
    uint32_t n = 0;

    gm_store_limits_default(&lim);
    gm_test_store_path(d, p);
    if (gm_store_new(p, &lim, &s, &why) != 0) {
        _exit(2);
    }
    n = (uint32_t)count_held(s);
    for (;;) {
        for (int i = 0; i < CRASH_BATCH; i++, n++) {
            gm_test_bundle_t t;
            uint64_t gen;

            gm_test_bundle(&t, n, (uint8_t)(n % 3), (gm_prio_t)(n % GM_PRIO_COUNT), 300);
            if (gm_store_put(s, &t.b, t.enc, t.len, NOW, &gen) != 0) {
                _exit(4);
            }
        }
        if (gm_store_commit(s) != CRASH_BATCH) {
            _exit(5);
        }
        child_write(fd, n);
    }
}

/* Runs fn in a child, kills it with SIGKILL after a random delay; returns the last report. */
static uint32_t crash_round(child_fn fn, unsigned delay_us)
{
    uint32_t v, last = 0;
    int fds[2], status;
    pid_t pid;

    cr_assert_eq(pipe(fds), 0);
    pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        close(fds[0]);
        fn(dir, fds[1]);
        _exit(1);
    }
    close(fds[1]);
    cr_assert_eq(read(fds[0], &last, sizeof last), sizeof last, "the child reported");
    usleep(delay_us);
    cr_assert_eq(kill(pid, SIGKILL), 0);
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "child exited by itself: %d",
              WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    while (read(fds[0], &v, sizeof v) == sizeof v) {
        last = v; /* reports written before the kill */
    }
    close(fds[0]);
    return last;
}

Test(store_file, every_committed_bundle_survives_kill_9_at_any_moment)
{
    srand((unsigned)time(NULL));
    for (int round = 0; round < CRASH_ROUNDS; round++) {
        uint32_t committed = crash_round(child_puts, (unsigned)(rand() % 60000));
        gm_store_t *s = gm_test_store(dir, NULL); /* opens: intact, quick_check passed */
        size_t held = count_held(s);

        cr_assert_geq(held, committed, "round %d: %zu held, %u committed", round, held, committed);
        cr_assert_eq(held % CRASH_BATCH, 0, "round %d: whole groups only", round);
        cr_log_info("round %d: %u reported committed, %zu held", round, committed, held);
        for (uint32_t n = 0; n < held; n++) {
            cr_assert_eq(state_of(s, n), GM_STORE_HELD, "round %d: bundle %u", round, n);
        }
        cr_assert_eq(state_of(s, (uint32_t)held), GM_STORE_UNSEEN);
        gm_store_free(s);
    }
}

#define DELIVERY_BUNDLES 2000

/* Holds DELIVERY_BUNDLES bundles, then delivers them one by one, committing and reporting each. */
static void child_delivers(const char *d, int fd)
{
    gm_store_limits_t lim;
    gm_store_t *s;
    gm_why_t why;
    char p[GM_PATH_MAX];

    gm_store_limits_default(&lim);
    gm_test_store_path(d, p);
    if (gm_store_new(p, &lim, &s, &why) != 0) {
        _exit(2);
    }
    child_write(fd, UINT32_MAX); /* ready */
    for (uint32_t n = 0; n < DELIVERY_BUNDLES; n++) {
        uint8_t id[GM_ID_LEN];
        uint64_t gen;
        int err;

        gm_test_bundle_id(n, id);
        err = gm_store_mark_delivered(s, id, &gen);
        if (err == GM_ENOENT) {
            continue; /* delivered in an earlier round */
        }
        if (err != 0 || gm_store_commit(s) < 0 || gm_store_durable_gen(s) < gen) {
            _exit(4);
        }
        child_write(fd, n); /* here the application would get bundle n */
    }
    for (;;) {
        pause();
    }
}

Test(store_file, no_bundle_is_delivered_twice_across_kill_9)
{
    gm_store_t *s = gm_test_store(dir, NULL);
    uint32_t delivered[CRASH_ROUNDS];

    fill(s, 0, DELIVERY_BUNDLES, 20);
    cr_assert_eq(gm_store_commit(s), DELIVERY_BUNDLES);
    gm_store_free(s);
    srand((unsigned)time(NULL));
    for (int round = 0; round < CRASH_ROUNDS; round++) {
        delivered[round] = crash_round(child_delivers, (unsigned)(rand() % 100000));
        cr_log_info("round %d: delivered up to %d", round, (int)delivered[round]);
        s = gm_test_store(dir, NULL);
        for (uint32_t n = 0; n < DELIVERY_BUNDLES; n++) {
            gm_store_state_t st = state_of(s, n);
            bool reported = delivered[round] != UINT32_MAX && n <= delivered[round];

            /* Exactly one of held or delivered: the pair is atomic. */
            cr_assert(st == GM_STORE_HELD || st == GM_STORE_DELIVERED, "bundle %u: %d", n, st);
            cr_assert(!reported || st == GM_STORE_DELIVERED, "round %d: bundle %u", round, n);
        }
        gm_store_free(s);
    }
    s = gm_test_store(dir, NULL);
    for (uint32_t n = 0; n < DELIVERY_BUNDLES; n++) {
        gm_test_bundle_t t;
        uint64_t gen;

        gm_test_bundle(&t, n, 1, GM_PRIO_NORMAL, 20);
        if (state_of(s, n) == GM_STORE_DELIVERED) {
            cr_assert_eq(gm_store_put(s, &t.b, t.enc, t.len, NOW, &gen), GM_STORE_EDUPLICATE);
        }
    }
    gm_store_free(s);
}

/* ---- a failing disk ---- */

/* Puts bundles from..to-1 (2000-byte bodies) in the open group; 1 on a refusal, 2 on GM_EIO. */
static int put_range(gm_store_t *s, uint32_t from, uint32_t to)
{
    for (uint32_t n = from; n < to; n++) {
        gm_test_bundle_t t;
        uint64_t gen;
        int err;

        gm_test_bundle(&t, n, 1, GM_PRIO_NORMAL, 2000);
        err = gm_store_put(s, &t.b, t.enc, t.len, NOW, &gen);
        if (err != 0) {
            return err == GM_EIO ? 2 : 1;
        }
    }
    return 0;
}

static int set_file_limit(rlim_t cur)
{
    struct rlimit rl = {.rlim_cur = cur, .rlim_max = RLIM_INFINITY};

    return setrlimit(RLIMIT_FSIZE, &rl);
}

/*
 * The group after the first commit cannot be written: the commit (or a put,
 * if the cache spilled into the file first) fails with GM_EIO, the group is
 * lost whole, and once the disk works again the store goes on.
 */
static uint64_t lost_gen;
static unsigned lost_calls;

static void on_lost(void *ctx, uint64_t gen)
{
    (void)ctx;
    lost_gen = gen;
    lost_calls++;
}

static int failing_disk_steps(gm_store_t *s)
{
    char wal[GM_PATH_MAX + 8];
    gm_store_stats_t st;
    struct stat sb;
    uint64_t durable;
    int lost, c;

    if (put_range(s, 0, 5) != 0 || gm_store_commit(s) != 5) {
        return 2;
    }
    durable = gm_store_durable_gen(s);
    snprintf(wal, sizeof wal, "%s-wal", path);
    if (set_file_limit((stat(wal, &sb) == 0 ? (rlim_t)sb.st_size : 0) + 8192) != 0) {
        return 3;
    }
    lost = put_range(s, 5, 100);
    c = gm_store_commit(s);
    if (lost == 1 || (lost == 2 ? c != 0 : c != GM_EIO)) {
        return 4;
    }
    gm_store_stats(s, &st);
    if (gm_store_durable_gen(s) != durable || st.bundles != 5 || gm_store_errmsg(s)[0] == 0) {
        return 5;
    }
    /* the lost group is named, once: the mesh drops the acks that waited for it */
    if (lost_calls != 1 || lost_gen != durable + 1) {
        return 7;
    }
    if (set_file_limit(RLIM_INFINITY) != 0 || put_range(s, 200, 201) != 0 ||
        gm_store_commit(s) != 1 || gm_store_durable_gen(s) <= durable) {
        return 6;
    }
    return 0;
}

/* In a child, so the file size limit stays there. Exit status: 0 or the failed step. */
static int failing_disk_child(void)
{
    gm_store_limits_t lim;
    gm_store_t *s;
    gm_why_t why;
    int step;

    gm_store_limits_default(&lim);
    signal(SIGXFSZ, SIG_IGN); /* writes past the limit fail with EFBIG instead */
    if (gm_store_new(path, &lim, &s, &why) != 0) {
        return 1;
    }
    gm_store_set_on_lost(s, on_lost, NULL);
    step = failing_disk_steps(s);
    gm_store_free(s);
    return step;
}

Test(store_file, failed_commit_loses_the_group_whole_and_the_store_goes_on)
{
    gm_store_t *s = gm_test_store(dir, NULL);
    int status;
    pid_t pid;

    gm_store_free(s);
    pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        _exit(failing_disk_child());
    }
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status), "child killed by signal %d", WTERMSIG(status));
    cr_assert_eq(WEXITSTATUS(status), 0, "failed at step %d", WEXITSTATUS(status));
    s = gm_test_store(dir, NULL);
    cr_assert_eq(count_held(s), 6, "5 from the first group, 1 from the last");
    cr_assert_eq(state_of(s, 4), GM_STORE_HELD);
    cr_assert_eq(state_of(s, 5), GM_STORE_UNSEEN);
    cr_assert_eq(state_of(s, 200), GM_STORE_HELD);
    gm_store_free(s);
}

/* ---- files that are refused, and left as they were ---- */

static uint8_t *read_all(size_t *len)
{
    uint8_t *buf;

    cr_assert_eq(gm_file_read(path, 64u << 20, &buf, len), 0);
    return buf;
}

/* Opening fails, the reason names the file and contains expect, and the bytes are unchanged. */
static void assert_refused(const char *expect)
{
    size_t before_len, after_len;
    uint8_t *before = read_all(&before_len), *after;
    gm_store_limits_t lim;
    gm_store_t *s = NULL;
    gm_why_t why;

    gm_store_limits_default(&lim);
    cr_assert_neq(gm_store_new(path, &lim, &s, &why), 0);
    cr_assert_null(s);
    cr_assert_not_null(strstr(why.msg, path), "%s", why.msg);
    cr_assert_not_null(strstr(why.msg, expect), "%s", why.msg);
    cr_assert_null(strchr(why.msg, '\n'), "one line");
    after = read_all(&after_len);
    cr_assert_eq(after_len, before_len, "%s: file size changed", expect);
    cr_assert_arr_eq(after, before, before_len, "%s: file bytes changed", expect);
    cr_assert_eq(dir_entries(), 1, "%s: nothing created beside the file", expect);
    free(before);
    free(after);
}

static void write_file(const uint8_t *data, size_t len)
{
    cr_assert_eq(gm_file_write_atomic(path, data, len, 0600, 0), 0);
}

/* A real store of about 1 MiB, committed and closed. */
static void make_real_store(void)
{
    gm_store_t *s = gm_test_store(dir, NULL);

    fill(s, 0, 500, 2000);
    cr_assert_eq(gm_store_commit(s), 500);
    gm_store_free(s);
}

Test(store_file, garbage_file_is_refused_untouched)
{
    static uint8_t junk[8192];

    for (size_t i = 0; i < sizeof junk; i++) {
        junk[i] = (uint8_t)(i * 7 + 3);
    }
    write_file(junk, sizeof junk);
    assert_refused("not a Guardmesh store");
}

Test(store_file, truncated_store_is_refused_untouched)
{
    struct stat st;

    make_real_store();
    cr_assert_eq(stat(path, &st), 0);
    cr_assert_gt(st.st_size, 1 << 20);
    cr_assert_eq(truncate(path, st.st_size / 2), 0);
    assert_refused("corrupt");
    cr_assert_eq(truncate(path, 100), 0); /* the header alone: page 1 is cut short */
    assert_refused("corrupt");
    cr_assert_eq(truncate(path, 0), 0);
    assert_refused("not a Guardmesh store (an empty database)");
}

Test(store_file, damaged_page_is_refused_untouched)
{
    size_t len;
    uint8_t *buf;

    make_real_store();
    buf = read_all(&len);
    for (size_t i = (len / 2) & ~(size_t)4095; i < ((len / 2) & ~(size_t)4095) + 4096; i++) {
        buf[i] = (uint8_t)(i * 13);
    }
    write_file(buf, len);
    free(buf);
    assert_refused("corrupt");
}

static void sqlite_exec(const char *sql)
{
    sqlite3 *db;

    cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
    cr_assert_eq(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK, "%s", sqlite3_errmsg(db));
    cr_assert_eq(sqlite3_close(db), SQLITE_OK);
}

Test(store_file, another_applications_database_is_refused_untouched)
{
    sqlite_exec("CREATE TABLE notes (text TEXT); INSERT INTO notes VALUES ('mine')");
    assert_refused("another application's");
}

Test(store_file, other_schema_version_is_refused_untouched)
{
    make_real_store();
    sqlite_exec("PRAGMA user_version = 99");
    assert_refused("schema version 99, this build reads version 2");
}

Test(store_file, unreadable_store_is_refused_untouched)
{
    make_real_store();
    if (geteuid() == 0) {
        cr_skip_test("root reads a mode 000 file anyway");
    }
    size_t before_len, after_len;
    uint8_t *before = read_all(&before_len), *after;
    gm_store_limits_t lim;
    gm_store_t *s = NULL;
    gm_why_t why;

    gm_store_limits_default(&lim);
    cr_assert_eq(chmod(path, 0), 0);
    cr_assert_neq(gm_store_new(path, &lim, &s, &why), 0);
    cr_assert_not_null(strstr(why.msg, "cannot read the store"), "%s", why.msg);
    cr_assert_eq(chmod(path, 0600), 0);
    after = read_all(&after_len);
    cr_assert_eq(after_len, before_len);
    cr_assert_arr_eq(after, before, before_len);
    free(before);
    free(after);
}

Test(store_file, directory_in_place_of_the_store_is_refused)
{
    gm_store_limits_t lim;
    gm_store_t *s = NULL;
    gm_why_t why;

    gm_store_limits_default(&lim);
    cr_assert_eq(mkdir(path, 0700), 0);
    cr_assert_eq(gm_store_new(path, &lim, &s, &why), GM_EPROTO);
    cr_assert_not_null(strstr(why.msg, "not a regular file"), "%s", why.msg);
}
