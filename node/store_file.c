/*
 * The store's file: creating it, refusing anything that is not an intact
 * Guardmesh store, preparing the statements, closing.
 */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "node/store_internal.h"

#define STORE_APP_ID 1196249940 /* PRAGMA application_id: 0x474d5354, "GMST" */
#define STR_(x) #x
#define STR(x) STR_(x)
#define STORE_DEFAULT_TOTAL (64u << 20)
#define STORE_DEFAULT_PER_ORIGIN (16u << 20)

/* Tables, indexes and the triggers that keep per-origin totals. */
static const char schema_sql[] =
    "CREATE TABLE bundle ("
    " seq INTEGER PRIMARY KEY," /* arrival order here: lower is older */
    " id BLOB NOT NULL UNIQUE, src BLOB NOT NULL, dst_kind INTEGER NOT NULL,"
    " dst BLOB NOT NULL, prio INTEGER NOT NULL, created INTEGER NOT NULL,"
    " expires INTEGER NOT NULL, size INTEGER NOT NULL, data BLOB NOT NULL,"
    " via BLOB NOT NULL);" /* the neighbour that handed it over; zeros: this node */
    "CREATE INDEX bundle_order ON bundle(prio, seq);"
    "CREATE INDEX bundle_dst ON bundle(dst_kind, dst, prio, seq);"
    "CREATE INDEX bundle_src ON bundle(src, prio DESC, seq);"
    "CREATE INDEX bundle_expires ON bundle(expires);"
    "CREATE TABLE seen (id BLOB PRIMARY KEY, expires INTEGER NOT NULL,"
    " delivered INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE INDEX seen_expires ON seen(expires);"
    "CREATE TABLE origin (src BLOB PRIMARY KEY, bytes INTEGER NOT NULL,"
    " bundles INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE INDEX origin_bytes ON origin(bytes DESC, src);"
    "CREATE TABLE link (via BLOB PRIMARY KEY, bytes INTEGER NOT NULL,"
    " bundles INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE TRIGGER bundle_added AFTER INSERT ON bundle BEGIN"
    " INSERT INTO origin(src, bytes, bundles) VALUES (new.src, new.size, 1)"
    "  ON CONFLICT(src) DO UPDATE SET bytes = bytes + new.size, bundles = bundles + 1;"
    " INSERT INTO link(via, bytes, bundles) VALUES (new.via, new.size, 1)"
    "  ON CONFLICT(via) DO UPDATE SET bytes = bytes + new.size, bundles = bundles + 1;"
    " END;"
    "CREATE TRIGGER bundle_gone AFTER DELETE ON bundle BEGIN"
    " UPDATE origin SET bytes = bytes - old.size, bundles = bundles - 1 WHERE src = old.src;"
    " DELETE FROM origin WHERE src = old.src AND bundles = 0;"
    " UPDATE link SET bytes = bytes - old.size, bundles = bundles - 1 WHERE via = old.via;"
    " DELETE FROM link WHERE via = old.via AND bundles = 0;"
    " END;";

/* Written with the schema: what check_identity() reads back. */
/* clang-format off */
static const char identity_sql[] =
    "PRAGMA application_id = " STR(STORE_APP_ID) ";"
    "PRAGMA user_version = " STR(GM_STORE_SCHEMA_VERSION);
/* clang-format on */

const char *const gm__store_sql[Q_COUNT] = {
    [Q_BEGIN] = "BEGIN IMMEDIATE",
    [Q_COMMIT] = "COMMIT",
    [Q_ROLLBACK] = "ROLLBACK",
    [Q_SAVEPOINT] = "SAVEPOINT put",
    [Q_RELEASE] = "RELEASE put",
    [Q_ROLLBACK_TO] = "ROLLBACK TO put",
    [Q_SEEN_GET] = "SELECT delivered FROM seen WHERE id = ?1",
    [Q_SEEN_ADD] = "INSERT INTO seen(id, expires, delivered) VALUES (?1, ?2, 0)",
    [Q_SEEN_DELIVERED] = "UPDATE seen SET delivered = 1 WHERE id = ?1",
    [Q_SEEN_DEL] = "DELETE FROM seen WHERE id = ?1",
    [Q_SEEN_DEL_UNDELIVERED] = "DELETE FROM seen WHERE id = ?1 AND delivered = 0",
    [Q_SEEN_EXPIRE] = "DELETE FROM seen WHERE expires <= ?1",
    [Q_ADD] = "INSERT INTO bundle(id, src, dst_kind, dst, prio, created, expires, size, data, via)"
              " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    [Q_LINK_BYTES] = "SELECT bytes FROM link WHERE via = ?1",
    [Q_DEL] = "DELETE FROM bundle WHERE id = ?1",
    [Q_GET] = "SELECT data FROM bundle WHERE id = ?1",
    [Q_ORIGIN_BYTES] = "SELECT bytes FROM origin WHERE src = ?1",
    [Q_ORIGINS] = "SELECT src, bytes FROM origin ORDER BY bytes DESC, src",
    [Q_VICTIM] = "SELECT id, prio, size, data FROM bundle WHERE src = ?1"
                 " ORDER BY prio DESC, seq LIMIT 1",
    [Q_VICTIM_BELOW] = "SELECT id, prio, size, data FROM bundle WHERE prio > ?1"
                       " ORDER BY prio DESC, seq LIMIT 1",
    [Q_HAS_ROUTINE] = "SELECT 1 FROM bundle WHERE prio > 0 LIMIT 1",
    [Q_EACH_ALL] = "SELECT data FROM bundle ORDER BY prio, seq LIMIT ?1",
    [Q_EACH_DST] = "SELECT data FROM bundle WHERE dst_kind = ?1 AND dst = ?2"
                   " ORDER BY prio, seq LIMIT ?3",
    [Q_NEXT_EXPIRY] = "SELECT MIN(e) FROM (SELECT MIN(expires) AS e FROM bundle"
                       " UNION ALL SELECT MIN(expires) FROM seen)",
    [Q_EACH_KIND] = "SELECT data FROM bundle WHERE dst_kind = ?1 ORDER BY prio, seq LIMIT ?2",
    [Q_IDS] = "SELECT id FROM bundle WHERE id > ?1 ORDER BY id LIMIT ?2",
    [Q_EXPIRED] = "SELECT data FROM bundle WHERE expires <= ?1",
    [Q_EXPIRE] = "DELETE FROM bundle WHERE expires <= ?1",
    [Q_TOTALS] = "SELECT COALESCE(SUM(bundles), 0), COALESCE(SUM(bytes), 0) FROM origin",
};

void gm_store_limits_default(gm_store_limits_t *lim)
{
    lim->max_total = STORE_DEFAULT_TOTAL;
    lim->max_per_origin = STORE_DEFAULT_PER_ORIGIN;
    lim->max_per_link = 0;
    lim->max_bundle = GM_BUNDLE_MAX_LEN_DEFAULT;
}

const char *gm_store_strerror(int err)
{
    switch (err) {
    case GM_STORE_EDUPLICATE:
        return "bundle already seen";
    case GM_STORE_EEXPIRED:
        return "bundle lifetime is over";
    case GM_STORE_EFUTURE:
        return "bundle created in the future";
    case GM_STORE_EQUOTA:
        return "store quota reached";
    case GM_STORE_ETOOBIG:
        return "bundle too large";
    default:
        return gm_strerror(err);
    }
}

/* A one-line reason for an SQLite failure while checking path. */
static int refuse(gm_why_t *why, const char *path, sqlite3 *db, int rc)
{
    const char *msg = db != NULL ? sqlite3_errmsg(db) : sqlite3_errstr(rc);

    switch (rc & 0xff) {
    case SQLITE_NOTADB:
        gm_why_set(why, "%s: not a Guardmesh store (not an SQLite database): refusing to touch it",
                   path);
        break;
    case SQLITE_CORRUPT:
        gm_why_set(why, "%s: store is corrupt (%s): move it away to start an empty one", path, msg);
        break;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        gm_why_set(why, "%s: locked: another node is already running on this directory", path);
        break;
    default:
        gm_why_set(why, "%s: cannot read the store: %s", path, msg);
        break;
    }
    return (rc & 0xff) == SQLITE_NOMEM ? GM_ENOMEM : GM_EIO;
}

/* Runs a query (a PRAGMA) that returns one integer. */
static int query_int(sqlite3 *db, const char *sql, int64_t *out)
{
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);

    if (rc == SQLITE_OK) {
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            *out = sqlite3_column_int64(st, 0);
            rc = SQLITE_OK;
        }
    }
    sqlite3_finalize(st);
    return rc;
}

/* Runs a PRAGMA that returns one text row; "ok" and "wal" are what we expect. */
static int pragma_text(sqlite3 *db, const char *sql, char *out, size_t cap)
{
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);

    if (rc == SQLITE_OK) {
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            const unsigned char *t = sqlite3_column_text(st, 0);
            snprintf(out, cap, "%s", t != NULL ? (const char *)t : "");
            rc = SQLITE_OK;
        }
    }
    sqlite3_finalize(st);
    return rc;
}

/* The application id and schema version say whether this is a store we can read. */
static int check_identity(sqlite3 *db, const char *path, gm_why_t *why)
{
    int64_t app = 0, version = 0, objects = 0;
    int rc = query_int(db, "PRAGMA application_id", &app);

    if (rc == SQLITE_OK) {
        rc = query_int(db, "PRAGMA user_version", &version);
    }
    if (rc == SQLITE_OK) {
        rc = query_int(db, "SELECT count(*) FROM sqlite_schema", &objects);
    }
    if (rc != SQLITE_OK) {
        return refuse(why, path, db, rc);
    }
    if (app != STORE_APP_ID) {
        gm_why_set(why, "%s: not a Guardmesh store (%s): refusing to touch it", path,
                   app == 0 && version == 0 && objects == 0 ? "an empty database"
                                                            : "another application's database");
        return GM_EPROTO;
    }
    if (version != GM_STORE_SCHEMA_VERSION) {
        gm_why_set(why, "%s: store schema version %lld, this build reads version %d", path,
                   (long long)version, GM_STORE_SCHEMA_VERSION);
        return GM_EPROTO;
    }
    return 0;
}

/* Structure checks, then the settings every session needs. */
static int check_intact(sqlite3 *db, const char *path, bool in_memory, gm_why_t *why)
{
    const char *journal = in_memory ? "memory" : "wal"; /* memdb has no write-ahead log */
    char result[128];
    int rc = pragma_text(db, "PRAGMA quick_check(1)", result, sizeof result);

    if (rc != SQLITE_OK) {
        return refuse(why, path, db, rc);
    }
    if (strcmp(result, "ok") != 0) {
        for (char *c = result; *c != 0; c++) {
            *c = *c == '\n' ? ' ' : *c; /* the reason stays on one line */
        }
        gm_why_set(why,
                   "%s: store is corrupt (quick_check: %s): move it away to start an empty one",
                   path, result);
        return GM_EIO;
    }
    rc = pragma_text(db, in_memory ? "PRAGMA journal_mode = MEMORY" : "PRAGMA journal_mode = WAL",
                     result, sizeof result);
    if (rc == SQLITE_OK && strcmp(result, journal) != 0) {
        gm_why_set(why, "%s: cannot put the store in %s journal mode (journal mode %s)", path,
                   journal, result);
        return GM_EIO;
    }
    if (rc == SQLITE_OK) {
        rc = sqlite3_exec(db,
                          "PRAGMA synchronous = FULL; PRAGMA cell_size_check = ON;"
                          "PRAGMA trusted_schema = OFF;"
                          /* the log goes back into the file every 128 pages and is cut to
                           * 512 KiB: it stays small on a handheld's flash */
                          "PRAGMA wal_autocheckpoint = 128;"
                          "PRAGMA journal_size_limit = 524288;"
                          /* every put runs in a savepoint: its sub-journal stays in memory
                           * instead of costing writes to a temporary file */
                          "PRAGMA temp_store = MEMORY",
                          NULL, NULL, NULL);
    }
    if (rc == SQLITE_OK && sqlite3_db_readonly(db, "main") != 0) {
        gm_why_set(why, "%s: store is read-only: the node must be able to write it", path);
        return GM_EIO;
    }
    return rc == SQLITE_OK ? 0 : refuse(why, path, db, rc);
}

static int prepare_all(gm_store_t *s, const char *path, gm_why_t *why)
{
    for (int i = 0; i < Q_COUNT; i++) {
        int rc = sqlite3_prepare_v3(s->db, gm__store_sql[i], -1, SQLITE_PREPARE_PERSISTENT,
                                    &s->q[i], NULL);
        if (rc != SQLITE_OK) {
            gm_why_set(why, "%s: store schema is damaged (%s): move it away to start an empty one",
                       path, sqlite3_errmsg(s->db));
            return GM_EIO;
        }
    }
    return 0;
}

int gm__store_load_totals(gm_store_t *s)
{
    sqlite3_stmt *q = s->q[Q_TOTALS];
    int rc = sqlite3_step(q);

    if (rc == SQLITE_ROW) {
        s->st.bundles = (uint64_t)sqlite3_column_int64(q, 0);
        s->st.bytes = (uint64_t)sqlite3_column_int64(q, 1);
    }
    sqlite3_reset(q);
    return rc == SQLITE_ROW ? 0 : GM_EIO;
}

static int write_schema_if_empty(sqlite3 *db);

/*
 * Opens an existing file (or, with a uri, a memory store, made empty if new)
 * and checks it before anything is written: no checkpoint on close until it
 * passed, so a refused file keeps its bytes.
 * The exclusive lock, taken at the first read, keeps a second node out.
 */
static int open_existing(gm_store_t *s, const char *path, const char *uri, gm_why_t *why)
{
    /* one store per node, used from its loop thread only (node/store.h): no mutexes */
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;
    int rc = sqlite3_open_v2(uri ? uri : path, &s->db,
                             uri ? flags | SQLITE_OPEN_CREATE | SQLITE_OPEN_URI : flags, NULL);
    int err;

    if (rc != SQLITE_OK) {
        return refuse(why, path, s->db, rc);
    }
    if (uri != NULL && (rc = write_schema_if_empty(s->db)) != SQLITE_OK) {
        return refuse(why, path, s->db, rc);
    }
    sqlite3_extended_result_codes(s->db, 1);
    sqlite3_db_config(s->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL);
    sqlite3_db_config(s->db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
    rc = sqlite3_exec(s->db, "PRAGMA locking_mode = EXCLUSIVE", NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        return refuse(why, path, s->db, rc);
    }
    err = check_identity(s->db, path, why);
    if (err == 0) {
        err = check_intact(s->db, path, uri != NULL, why);
    }
    /* memdb without a log takes its exclusive lock only with a write: take it now, so that
     * a second node on the same store is refused here, as with a file */
    if (err == 0 && uri != NULL &&
        (rc = sqlite3_exec(s->db, "BEGIN EXCLUSIVE; COMMIT", NULL, NULL, NULL)) != SQLITE_OK) {
        err = refuse(why, path, s->db, rc);
    }
    if (err == 0) {
        err = prepare_all(s, path, why);
    }
    if (err == 0 && gm__store_load_totals(s) != 0) {
        err = refuse(why, path, s->db, sqlite3_errcode(s->db));
    }
    if (err == 0) {
        sqlite3_db_config(s->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 0, NULL);
    }
    return err;
}

static int fsync_dir_of(const char *path)
{
    char dir[GM_PATH_MAX];
    char *slash;
    int fd, err = 0;

    snprintf(dir, sizeof dir, "%s", path);
    slash = strrchr(dir, '/');
    if (slash == NULL) {
        snprintf(dir, sizeof dir, ".");
    } else {
        slash[slash == dir ? 1 : 0] = 0;
    }
    fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        return -errno;
    }
    if (fsync(fd) != 0) {
        err = -errno;
    }
    close(fd);
    return err;
}

/* Removes what a crash during an earlier creation left at tmp. */
static void remove_leftovers(const char *tmp)
{
    static const char *const suffixes[] = {"", "-wal", "-shm", "-journal"};
    char p[GM_PATH_MAX + 16];

    for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
        snprintf(p, sizeof p, "%s%s", tmp, suffixes[i]);
        unlink(p);
    }
}

/* An empty file with mode 0600 whatever the umask; SQLite then keeps that mode. */
static int create_empty(const char *tmp)
{
    int fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    int err = 0;

    if (fd < 0) {
        return -errno;
    }
    if (fchmod(fd, 0600) != 0) {
        err = -errno;
    }
    close(fd);
    return err;
}

/* The tables and the store's identity, in one transaction. */
static int add_schema(sqlite3 *db)
{
    int rc = sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);

    if (rc == SQLITE_OK) {
        rc = sqlite3_exec(db, schema_sql, NULL, NULL, NULL);
    }
    if (rc == SQLITE_OK) {
        rc = sqlite3_exec(db, identity_sql, NULL, NULL, NULL);
    }
    if (rc == SQLITE_OK) {
        rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    } else {
        (void)sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    }
    return rc;
}

/* Writes the schema into tmp and closes it, which checkpoints the WAL into the file. */
static int write_schema(const char *tmp)
{
    sqlite3 *db = NULL;
    int rc = sqlite3_open_v2(tmp, &db, SQLITE_OPEN_READWRITE, NULL);

    if (rc == SQLITE_OK) {
        rc = sqlite3_exec(db, "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL", NULL, NULL,
                          NULL);
    }
    if (rc == SQLITE_OK) {
        rc = add_schema(db);
    }
    if (sqlite3_close(db) != SQLITE_OK && rc == SQLITE_OK) {
        rc = SQLITE_IOERR;
    }
    return rc;
}

/* A memory store no connection held yet is empty: it gets the schema (a file is made whole
 * under another name instead, create_store). Anything else is judged as a file would be. */
static int write_schema_if_empty(sqlite3 *db)
{
    int64_t objects = 0;
    int rc = query_int(db, "SELECT count(*) FROM sqlite_schema", &objects);

    return rc == SQLITE_OK && objects == 0 ? add_schema(db) : rc;
}

/* Builds the store under a temporary name, then renames it: it appears whole or not at all. */
static int create_store(const char *path, gm_why_t *why)
{
    char tmp[GM_PATH_MAX];
    int err, rc;

    if (snprintf(tmp, sizeof tmp, "%s.new", path) >= (int)sizeof tmp) {
        gm_why_set(why, "%s: path too long", path);
        return GM_ELIMIT;
    }
    remove_leftovers(tmp);
    err = create_empty(tmp);
    if (err != 0) {
        gm_why_set(why, "%s: cannot create the store: %s", tmp, gm_strerror(err));
        return err;
    }
    rc = write_schema(tmp);
    err = rc != SQLITE_OK ? GM_EIO : (rename(tmp, path) != 0 ? -errno : fsync_dir_of(path));
    if (rc != SQLITE_OK) {
        gm_why_set(why, "%s: cannot create the store: %s", tmp, sqlite3_errstr(rc));
    } else if (err != 0) {
        gm_why_set(why, "%s: cannot create the store: %s", path, gm_strerror(err));
    }
    if (err != 0) {
        remove_leftovers(tmp);
    }
    return err;
}

static int check_limits(const gm_store_limits_t *lim, const char *path, gm_why_t *why)
{
    if (lim->max_bundle == 0 || lim->max_bundle > lim->max_per_origin ||
        lim->max_per_origin > lim->max_total || lim->max_total > INT64_MAX) {
        gm_why_set(why,
                   "%s: store limits must satisfy 0 < max_bundle <= max_per_origin <= "
                   "max_total",
                   path);
        return GM_EPROTO;
    }
    return 0;
}

/* Creates the file if absent; an existing one is only ever opened. */
static int ensure_file(const char *path, gm_why_t *why)
{
    struct stat st;

    if (lstat(path, &st) != 0) {
        if (errno == ENOENT) {
            return create_store(path, why);
        }
        gm_why_set(why, "%s: cannot read the store: %s", path, strerror(errno));
        return -errno;
    }
    if (!S_ISREG(st.st_mode)) {
        gm_why_set(why, "%s: not a regular file: refusing to use it as the store", path);
        return GM_EPROTO;
    }
    return 0;
}

/* Whether path-wal exists; when it does not, SQLite creates an empty one as it opens the file. */
static bool has_wal(const char *path, char wal[GM_PATH_MAX + 8])
{
    snprintf(wal, GM_PATH_MAX + 8, "%s-wal", path);
    return access(wal, F_OK) == 0;
}

/* Removes the empty -wal file that a refused open created, so a refused store stays as found. */
static void remove_new_wal(const char *wal)
{
    struct stat st;

    if (lstat(wal, &st) == 0 && S_ISREG(st.st_mode) && st.st_size == 0) {
        unlink(wal);
    }
}

/* A store handle opened on path (a file) or uri (a memory store); freed again on failure. */
static int open_store(const char *path, const char *uri, const gm_store_limits_t *lim,
                      gm_store_t **out, gm_why_t *why)
{
    gm_store_t *s = calloc(1, sizeof *s);
    int err;

    if (s == NULL) {
        gm_why_set(why, "%s: out of memory", path);
        return GM_ENOMEM;
    }
    s->lim = *lim;
    err = open_existing(s, path, uri, why);
    if (err != 0) {
        gm_store_free(s);
        return err;
    }
    *out = s;
    return 0;
}

int gm_store_new(const char *path, const gm_store_limits_t *lim, gm_store_t **out, gm_why_t *why)
{
    char wal[GM_PATH_MAX + 8];
    bool had_wal;
    int err = check_limits(lim, path, why);

    if (err == 0) {
        err = ensure_file(path, why);
    }
    if (err != 0) {
        return err;
    }
    had_wal = has_wal(path, wal);
    err = open_store(path, NULL, lim, out, why);
    if (err != 0 && !had_wal) {
        remove_new_wal(wal);
    }
    return err;
}

/* SQLite's memdb grows to 1 GiB at most: room for the bundles, their indexes and the rest */
#define MEMORY_STORE_MAX (512ull << 20)

/* "file:/NAME?vfs=memdb": memdb shares a name that begins with a slash between connections. */
static int memory_uri(const char *name, char *uri, size_t cap)
{
    if (strpbrk(name, "?#%") != NULL) {
        return GM_EPROTO;
    }
    if (snprintf(uri, cap, "file:%s%s?vfs=memdb", name[0] == '/' ? "" : "/", name) >= (int)cap) {
        return GM_ELIMIT;
    }
    return 0;
}

int gm_store_new_memory(const char *name, const gm_store_limits_t *lim, gm_store_t **out,
                        gm_why_t *why)
{
    char uri[GM_PATH_MAX + 32];
    int err = check_limits(lim, name, why);

    if (err == 0 && (err = memory_uri(name, uri, sizeof uri)) != 0) {
        gm_why_set(why, "%s: not usable as a memory store's name", name);
    }
    if (err == 0 && lim->max_total > MEMORY_STORE_MAX) {
        gm_why_set(why, "%s: a memory store holds at most %llu MiB of bundles (memdb's cap)",
                   name, (unsigned long long)(MEMORY_STORE_MAX >> 20));
        err = GM_EPROTO;
    }
    return err != 0 ? err : open_store(name, uri, lim, out, why);
}

int gm_store_memory_hold(const char *name, void **hold)
{
    char uri[GM_PATH_MAX + 32];
    sqlite3 *db = NULL;
    int err = memory_uri(name, uri, sizeof uri);

    if (err == 0 && sqlite3_open_v2(uri, &db,
                                    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_URI |
                                        SQLITE_OPEN_NOMUTEX,
                                    NULL) != SQLITE_OK) {
        sqlite3_close(db);
        db = NULL;
        err = GM_EIO;
    }
    *hold = db;
    return err;
}

void gm_store_memory_release(void *hold)
{
    sqlite3_close(hold); /* NULL is a no-op */
}

void gm_store_free(gm_store_t *s)
{
    if (s == NULL) {
        return;
    }
    assert(!s->in_cb);
    for (int i = 0; i < Q_COUNT; i++) {
        sqlite3_finalize(s->q[i]); /* NULL is a no-op */
    }
    /* Closing with a transaction open rolls it back: uncommitted changes are lost. */
    sqlite3_close(s->db);
    free(s->drops);
    free(s);
}
