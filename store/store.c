/* store.c - the LMDB environment: open, lock, version check, transactions,
 * map growth, meta counters and strings, statistics and the module's
 * logging.
 *
 * One MDB_env with named tables (see store_internal.h for the layout). A
 * write goes through store_write(), which owns the MDB_MAP_FULL policy of
 * STYLE.md section 5: abort, double the map (up to map_max_bytes), run the
 * unit of work once more, never loop. Reads reuse one reset read txn
 * (MDB_NOTLS lets a reset txn keep its reader slot).
 *
 * A daemon owns its store: store_new() takes an exclusive flock() on
 * matcherd.lock before touching LMDB, so a second matcherd on the same
 * directory is refused (and LMDB's rule "never open an env twice in one
 * process" is kept for writers). Read-only opens take no lock: LMDB lets
 * readers in other processes run alongside the writer.
 */
#include "store_internal.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "store_codec.h"

#define S_MIB             (1024.0 * 1024.0)
#define S_MAP_DEFAULT     ((size_t)64 << 20)
#define S_MAP_MAX_DEFAULT ((size_t)1 << 40)
#define S_PAGE_BYTES      4096u /* LMDB page size on x86-64 and arm64 Linux (larger: counted high) */

/* Table names and flags. Indexes first, in store_index_t order. */
static const struct {
    const char *name;
    unsigned flags;
    unsigned since; /* the format version that added it, 0 for the first */
} s_tables[S_DBI_COUNT] = {
    [STORE_IX_V_EXPIRY] = {"ix_v_expiry", MDB_DUPSORT},
    [S_DBI_META] = {"meta", 0},
    [S_DBI_GRADUATES] = {"graduates", 0},
    [S_DBI_VACANCIES] = {"vacancies", 0},
    [S_DBI_DEDUPE] = {"dedupe", 0},
    [S_DBI_EVENTS] = {"events", MDB_INTEGERKEY},
    [S_DBI_ENTITY_EVENTS] = {"entity_events", MDB_DUPSORT | MDB_DUPFIXED | MDB_INTEGERDUP},
    [S_DBI_LISTS] = {"lists", 0},                         /* in lists.mdb since format 4 */
    [S_DBI_LIST_MEMBERS] = {"list_members", MDB_DUPSORT}, /* likewise */
    [S_DBI_MATCHES] = {"matches", MDB_INTEGERKEY},
    [S_DBI_MATCH_BLOCKS] = {"match_blocks", 0, 3},
};

/* Format 2's index of the match log, one row per match (graduate id ->
 * seq): s_upgrade_v2 drops it for match_blocks. */
#define S_V2_DROPPED "match_by_graduate"

/* The places index on disk, which formats 1 to 4 wrote with every put and
 * read only in stores that did not keep it in memory: s_upgrade_v4 drops
 * it (format 5 keeps it in memory only). */
static const char *const s_v4_dropped[] = {"ix_g_near", "ix_v_near"};
#define S_V4_DROPPED (sizeof s_v4_dropped / sizeof s_v4_dropped[0])

/* The tables of format 1 that format 2 no longer has: per-code and
 * 0.25-degree-cell inverted indexes that were written on every upsert and
 * read by nothing (the engine read the 1-degree places index, expiry the
 * ix_v_expiry one). s_upgrade_v1 drops them. */
static const char *const s_v1_dropped[] = {
    "ix_g_skill", "ix_g_cert", "ix_g_cell", "ix_g_rome",
    "ix_v_skill", "ix_v_cert", "ix_v_rome", "ix_v_cell",
};
#define S_V1_DROPPED     (sizeof s_v1_dropped / sizeof s_v1_dropped[0])
#define S_V1_DROPPED_STR "8"
_Static_assert(S_V1_DROPPED == 8, "S_V1_DROPPED_STR names the count");

/* Longest name and value of a meta string, and the prefix of its key that
 * keeps it apart from the counters. */
#define S_META_NAME_MAX  32
#define S_META_VALUE_MAX 256
#define S_META_STR       "s:"

const char *store__table_name(int dbi)
{
    return (dbi >= 0 && dbi < S_DBI_COUNT && s_tables[dbi].name != NULL) ? s_tables[dbi].name : "?";
}

/* ---- logging and errors ----------------------------------------------- */

static void s_log_stderr(int level, const char *msg)
{
    (void)level; /* the line says what happened; stderr has no levels */
    (void)fprintf(stderr, "matcherd: %s\n", msg); /* nowhere to report a failure */
}

static store_log_fn s_logger = s_log_stderr;

void store_set_logger(store_log_fn fn)
{
    s_logger = fn != NULL ? fn : s_log_stderr;
}

void store__log(int level, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(msg, sizeof msg, fmt, ap); /* a truncated line is fine */
    va_end(ap);
    s_logger(level, msg);
}

const char *store_strerror(int err)
{
    switch (err) {
    case STORE_OK: return "success";
    case STORE_ENOTFOUND: return "not found";
    case STORE_EFULL: return "store full (map cannot grow further)";
    case STORE_EVERSION: return "unsupported on-disk format version";
    case STORE_ESTALE: return "stale update (a newer version is stored)";
    case STORE_ECORRUPT: return "store or record corrupt";
    case STORE_EIO: return "I/O error";
    case STORE_EINVAL: return "invalid argument";
    case STORE_ENOMEM: return "out of memory";
    case STORE_ENOSPC: return "no space left on device";
    case STORE_EBUSY: return "store in use by another process";
    case STORE_EINTERNAL: return "internal LMDB error";
    default: return "unknown store error";
    }
}

int store__map_rc(int rc)
{
    switch (rc) {
    case 0: return 0;
    case MDB_NOTFOUND: return STORE_ENOTFOUND;
    case MDB_MAP_FULL: return STORE_EFULL;
    case MDB_INVALID:
    case MDB_VERSION_MISMATCH:
    case MDB_CORRUPTED:
    case MDB_PAGE_NOTFOUND:
    case MDB_INCOMPATIBLE: return STORE_ECORRUPT;
    case MDB_BAD_VALSIZE:
    case MDB_KEYEXIST: return STORE_EINVAL;
    case ENOMEM: return STORE_ENOMEM;
    case ENOSPC: return STORE_ENOSPC;
    default: return rc > 0 ? STORE_EIO : STORE_EINTERNAL;
    }
}

int store__txn_fail(store_txn_t *txn, int rc, const char *func, const char *fmt, ...)
{
    char what[512];
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(what, sizeof what, fmt, ap); /* a truncated line is fine */
    va_end(ap);
    int err = store__map_rc(rc);
    if (rc == MDB_MAP_FULL)
        txn->map_full = 1;
    if (txn->err == 0)
        txn->err = err;
    /* A full map is routine in a write: store_write grows it and retries. */
    store__log(rc == MDB_MAP_FULL ? STORE_LOG_INFO : STORE_LOG_ERROR, "store: %s: %s: %s", func,
               what, mdb_strerror(rc));
    return err;
}

int store__need_write(store_txn_t *txn, const char *func)
{
    if (txn == NULL || !txn->write) {
        store__log(STORE_LOG_ERROR, "store: %s: needs a write transaction", func);
        return STORE_EINVAL;
    }
    return txn->err; /* after a failure LMDB only allows an abort: say so again, quietly */
}

int store__key_ok(const store_txn_t *txn, size_t len)
{
    return (len >= 1 && len <= txn->store->maxkey) ? 0 : STORE_EINVAL;
}

int store__entity_key(char kind, const char *id, uint8_t buf[STORE_ENTITY_KEY_MAX], MDB_val *key)
{
    size_t n = id != NULL ? strnlen(id, STORE_ID_MAX + 1) : 0;
    if (n == 0 || n > STORE_ID_MAX)
        return STORE_EINVAL;
    buf[0] = (uint8_t)kind;
    memcpy(buf + 1, id, n);
    key->mv_size = 1 + n;
    key->mv_data = buf;
    return 0;
}

/* ---- meta counters ----------------------------------------------------- */

int store__meta_get(store_txn_t *txn, const char *name, uint64_t *value)
{
    MDB_val key = {strlen(name), (void *)name}, val;
    int rc = mdb_get(txn->txn, txn->store->dbi[S_DBI_META], &key, &val);
    *value = 0;
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc != 0)
        return store__txn_fail(txn, rc, __func__, "mdb_get meta '%s'", name);
    if (val.mv_size != 8) {
        store__log(STORE_LOG_ERROR, "store: %s: meta '%s' is %zu bytes, expected 8", __func__, name,
                   val.mv_size);
        return STORE_ECORRUPT;
    }
    *value = store_codec_get_u64(val.mv_data);
    return 0;
}

int store__meta_put(store_txn_t *txn, const char *name, uint64_t value)
{
    uint8_t buf[8];
    store_codec_put_u64(buf, value);
    MDB_val key = {strlen(name), (void *)name}, val = {sizeof buf, buf};
    int rc = store__put(txn, txn->store->dbi[S_DBI_META], &key, &val, 0);
    if (rc != 0)
        return store__txn_fail(txn, rc, __func__, "mdb_put meta '%s'", name);
    return 0;
}

int store__meta_add(store_txn_t *txn, const char *name, int64_t delta)
{
    uint64_t value;
    int rc = store__meta_get(txn, name, &value);
    if (rc != 0)
        return rc;
    if (delta < 0 && value < (uint64_t)-delta) {
        store__log(STORE_LOG_WARN, "store: %s: counter '%s' would go below 0; kept at 0", __func__,
                   name);
        value = 0;
    } else {
        value += (uint64_t)delta;
    }
    return store__meta_put(txn, name, value);
}

/* ---- meta strings ------------------------------------------------------ */

int store__meta_key(const char *prefix, const char *name, size_t max, char *buf, MDB_val *key)
{
    size_t p = strlen(prefix), n = name != NULL ? strnlen(name, max + 1) : 0;
    if (n == 0 || n > max)
        return STORE_EINVAL;
    memcpy(buf, prefix, p);
    memcpy(buf + p, name, n);
    key->mv_size = p + n;
    key->mv_data = buf;
    return 0;
}

/* "s:" + name into buf. STORE_EINVAL unless name has 1..32 bytes. */
static int s_meta_str_key(const char *name, char buf[sizeof S_META_STR + S_META_NAME_MAX],
                          MDB_val *key)
{
    return store__meta_key(S_META_STR, name, S_META_NAME_MAX, buf, key);
}

int store_meta_get_str(store_txn_t *txn, const char *name, char *out, size_t size)
{
    char kbuf[sizeof S_META_STR + S_META_NAME_MAX];
    MDB_val key, val;
    if (txn == NULL || out == NULL || size == 0 || s_meta_str_key(name, kbuf, &key) != 0)
        return STORE_EINVAL;
    out[0] = '\0';
    int rc = mdb_get(txn->txn, txn->store->dbi[S_DBI_META], &key, &val);
    if (rc == MDB_NOTFOUND)
        return STORE_ENOTFOUND;
    if (rc != 0)
        return store__txn_fail(txn, rc, __func__, "mdb_get meta string '%s'", name);
    /* put never writes a NUL or more than the limit: either means damage */
    if (val.mv_size > S_META_VALUE_MAX || memchr(val.mv_data, 0, val.mv_size) != NULL) {
        store__log(STORE_LOG_ERROR, "store: %s: meta string '%s' (%zu bytes) is damaged", __func__,
                   name, val.mv_size);
        return STORE_ECORRUPT;
    }
    size_t n = val.mv_size < size - 1 ? val.mv_size : size - 1; /* documented truncation */
    memcpy(out, val.mv_data, n);
    out[n] = '\0';
    return 0;
}

int store_meta_put_str(store_txn_t *txn, const char *name, const char *value)
{
    char kbuf[sizeof S_META_STR + S_META_NAME_MAX];
    MDB_val key;
    int rc = store__need_write(txn, __func__);
    if (rc != 0)
        return rc;
    size_t n = value != NULL ? strnlen(value, S_META_VALUE_MAX + 1) : 0;
    if (value == NULL || n > S_META_VALUE_MAX || s_meta_str_key(name, kbuf, &key) != 0) {
        store__log(STORE_LOG_ERROR, "store: %s: name must be 1..%d bytes, value at most %d bytes",
                   __func__, S_META_NAME_MAX, S_META_VALUE_MAX);
        return STORE_EINVAL;
    }
    MDB_val val = {n, (void *)value};
    rc = store__put(txn, txn->store->dbi[S_DBI_META], &key, &val, 0);
    if (rc != 0)
        return store__txn_fail(txn, rc, __func__, "mdb_put meta string '%s'", name);
    return 0;
}

/* ---- opening ------------------------------------------------------------ */

static char *s_path_join(const char *dir, const char *name)
{
    size_t len = strlen(dir) + 1 + strlen(name) + 1;
    char *path = malloc(len);
    if (path != NULL)
        (void)snprintf(path, len, "%s/%s", dir, name); /* len fits exactly */
    return path;
}

/* Create dir (0700) if missing; only its last component. */
static int s_mkdir(const char *dir)
{
    struct stat st;
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        store__log(STORE_LOG_ERROR, "store %s: mkdir: %s", dir, strerror(errno));
        return STORE_EIO;
    }
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        store__log(STORE_LOG_ERROR, "store %s: not a directory", dir);
        return STORE_EINVAL;
    }
    return 0;
}

/* Exclusive flock() on dir/matcherd.lock, held until store_destroy. */
static int s_lock(store_t *self)
{
    int rc = STORE_ENOMEM;
    char *path = s_path_join(self->dir, "matcherd.lock");
    if (path == NULL)
        goto done;
    rc = STORE_EIO;
    self->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (self->lock_fd < 0) {
        store__log(STORE_LOG_ERROR, "store %s: open %s: %s", self->dir, path, strerror(errno));
        goto done;
    }
    if (flock(self->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        if (errno == EWOULDBLOCK) {
            store__log(STORE_LOG_ERROR,
                       "store %s: another process uses the store (%s is "
                       "locked); refusing to open it",
                       self->dir, path);
            rc = STORE_EBUSY;
        } else {
            store__log(STORE_LOG_ERROR, "store %s: flock %s: %s", self->dir, path, strerror(errno));
        }
        goto done;
    }
    rc = 0;
done:
    free(path);
    return rc;
}

static void s_refresh_mapsize(store_t *self)
{
    MDB_envinfo info;
    if (mdb_env_info(self->env, &info) == 0) /* cannot fail on an open env */
        self->map_bytes = info.me_mapsize;
}

/* Log why mdb_env_open failed and return the STORE_E* code. */
static int s_open_error(const store_t *self, int rc)
{
    if (rc == MDB_INVALID)
        store__log(STORE_LOG_ERROR,
                   "store %s: data.mdb is not an LMDB environment "
                   "(another file, or damaged); refusing to open it",
                   self->dir);
    else if (rc == MDB_VERSION_MISMATCH)
        store__log(STORE_LOG_ERROR,
                   "store %s: data.mdb was written by an incompatible "
                   "LMDB version; refusing to open it",
                   self->dir);
    else if (rc == ENOENT && self->read_only)
        store__log(STORE_LOG_ERROR, "store %s: no store here (read-only open)", self->dir);
    else
        store__log(STORE_LOG_ERROR, "store %s: mdb_env_open: %s", self->dir, mdb_strerror(rc));
    if (rc == ENOENT && self->read_only)
        return STORE_ENOTFOUND;
    return store__map_rc(rc);
}

/* Reserve the blocks of the data file up to bytes (posix_fallocate), so
 * that every page of a writable map is backed by the disk: a write to a
 * hole of a sparse file on a full disk would fault (SIGBUS) instead of
 * failing. 0 or an errno value. */
static int s_reserve(int fd, size_t bytes)
{
    int rc;
    do
        rc = posix_fallocate(fd, 0, (off_t)bytes);
    while (rc == EINTR);
    return rc;
}

/* Before a writable map is opened: a map smaller than the data file
 * would make LMDB truncate the file to the map, so the map starts at
 * least as large as the file. */
static void s_writemap_size(store_t *self)
{
    struct stat st;
    if (stat(self->data_path, &st) != 0 || (size_t)st.st_size <= self->map_bytes)
        return;
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    self->map_bytes = ((size_t)st.st_size + page - 1) / page * page;
    if (self->map_max_bytes < self->map_bytes)
        self->map_max_bytes = self->map_bytes;
}

/* A writable map is open: reserve the file's blocks up to the map's size.
 * 0, or the errno value of the failure. */
static int s_writemap_reserve(store_t *self)
{
    int fd = -1;
    int rc = mdb_env_get_fd(self->env, &fd);
    return rc != 0 ? rc : s_reserve(fd, self->map_bytes);
}

/* The writable map cannot be had (why: an errno value): close the
 * environment, to be opened again the ordinary way. */
static void s_writemap_give_up(store_t *self, int why)
{
    store__log(STORE_LOG_WARN,
               "store %s: cannot reserve %g MiB for a writable map (%s): "
               "writing through ordinary writes instead",
               self->dir, self->map_bytes / S_MIB, strerror(why));
    mdb_env_close(self->env);
    self->env = NULL;
    self->writemap = 0;
}

static int s_env_open(store_t *self)
{
    /* MDB_NORDAHEAD: LMDB advises the map MADV_RANDOM, so a page fault
     * reads one page, not a window around it. Besides the useless reads,
     * the readahead of a kernel with large folios in the page cache builds
     * folios of up to 2 MB over the data file; a write through the
     * writable map dirties its whole folio (ext4's page_mkwrite marks every
     * block of it), and the next sync writes all of it back: measured at
     * 1.2 million entities, up to 4 GB written per commit of 500 lists. */
    unsigned flags = MDB_NOTLS | MDB_NORDAHEAD | (self->read_only ? MDB_RDONLY : 0);
    int dead = 0;
    if (self->writemap) {
        s_writemap_size(self);
        flags |= MDB_WRITEMAP;
    }
    int rc = mdb_env_create(&self->env);
    if (rc == 0)
        rc = mdb_env_set_mapsize(self->env, self->map_bytes);
    if (rc == 0)
        rc = mdb_env_set_maxdbs(self->env, S_DBI_COUNT + S_V1_DROPPED + 1); /* room to upgrade */
    if (rc != 0) {
        store__log(STORE_LOG_ERROR, "store %s: mdb_env setup: %s", self->dir, mdb_strerror(rc));
        return store__map_rc(rc);
    }
    rc = mdb_env_open(self->env, self->dir, flags, 0600);
    if (rc != 0 && self->writemap && (rc == EFBIG || rc == ENOSPC || rc == EDQUOT)) {
        s_writemap_give_up(self, rc); /* LMDB could not extend the file to the map */
        return s_env_open(self);
    }
    if (rc != 0)
        return s_open_error(self, rc);
    if (self->writemap) {
        s_refresh_mapsize(self);
        if ((rc = s_writemap_reserve(self)) != 0) {
            s_writemap_give_up(self, rc);
            return s_env_open(self);
        }
    }
    rc = mdb_reader_check(self->env, &dead);
    if (rc != 0) {
        store__log(STORE_LOG_ERROR, "store %s: mdb_reader_check: %s", self->dir, mdb_strerror(rc));
        return store__map_rc(rc);
    }
    if (dead > 0)
        store__log(STORE_LOG_INFO, "store %s: cleared %d stale reader slot(s)", self->dir, dead);
    self->maxkey = (unsigned)mdb_env_get_maxkeysize(self->env);
    s_refresh_mapsize(self);
    return 0;
}

/* The meta table exists: read its format version into *version, which
 * must be ours or one store_new() can upgrade (STORE_FORMAT_OLDEST..). */
static int s_check_format(store_txn_t *txn, uint32_t *version)
{
    const store_t *self = txn->store;
    MDB_val key = {strlen(STORE_META_FORMAT), STORE_META_FORMAT}, val;
    int rc = mdb_get(txn->txn, self->dbi[S_DBI_META], &key, &val);
    if (rc == MDB_NOTFOUND || (rc == 0 && val.mv_size != 4)) {
        store__log(STORE_LOG_ERROR,
                   "store %s: meta table has no valid format version; "
                   "refusing to open it",
                   self->dir);
        return STORE_ECORRUPT;
    }
    if (rc != 0)
        return store__txn_fail(txn, rc, __func__, "mdb_get meta 'format'");
    *version = store_codec_get_u32(val.mv_data);
    if (*version < STORE_FORMAT_OLDEST || *version > STORE_FORMAT_VERSION) {
        store__log(STORE_LOG_ERROR,
                   "store %s: on-disk format version %u, this matcherd "
                   "understands version %d%s; refusing to open it",
                   self->dir, *version, STORE_FORMAT_VERSION,
                   *version > STORE_FORMAT_VERSION ? " (the store was written by a newer matcherd)"
                                                   : "");
        return STORE_EVERSION;
    }
    return 0;
}

/* No meta table: the environment must be empty (a new store), not some
 * other application's LMDB file. */
static int s_check_empty(store_txn_t *txn)
{
    MDB_dbi main_dbi;
    MDB_stat st;
    int rc = mdb_dbi_open(txn->txn, NULL, 0, &main_dbi);
    if (rc == 0)
        rc = mdb_stat(txn->txn, main_dbi, &st);
    if (rc != 0)
        return store__txn_fail(txn, rc, __func__, "mdb_stat main table");
    if (st.ms_entries > 0) {
        store__log(STORE_LOG_ERROR,
                   "store %s: an LMDB environment but not a Passerelle "
                   "store (no meta table); refusing to open it",
                   txn->store->dir);
        return STORE_ECORRUPT;
    }
    if (txn->store->read_only) {
        store__log(STORE_LOG_ERROR, "store %s: empty store (read-only open)", txn->store->dir);
        return STORE_ENOTFOUND;
    }
    return 0;
}

/* Open (and on a new store create) every table. */
static int s_tables_open(store_txn_t *txn, int create, uint32_t version)
{
    store_t *self = txn->store;
    for (int i = 0; i < S_DBI_COUNT; i++) {
        /* a table without a name would open LMDB's main table instead */
        assert(s_tables[i].name != NULL);
        int added = s_tables[i].since > version; /* by a format later than the store's */
        if (added && !txn->write)
            continue; /* read as it is: no reader looks at such a table */
        if (store__dbi_in_lists(i) && (txn->write || version >= 4))
            continue; /* in lists.mdb (moved there by store__lists_init) */
        unsigned flags = s_tables[i].flags | (create || added ? MDB_CREATE : 0);
        int rc = mdb_dbi_open(txn->txn, s_tables[i].name, flags, &self->dbi[i]);
        if (rc == MDB_NOTFOUND || rc == MDB_INCOMPATIBLE) {
            store__log(STORE_LOG_ERROR, "store %s: table '%s' %s; refusing to open it", self->dir,
                       s_tables[i].name, rc == MDB_NOTFOUND ? "is missing" : "has the wrong flags");
            return STORE_ECORRUPT;
        }
        if (rc != 0)
            return store__txn_fail(txn, rc, __func__, "mdb_dbi_open '%s'", s_tables[i].name);
    }
    return 0;
}

/* Write STORE_FORMAT_VERSION: flags MDB_NOOVERWRITE on a new store, 0 to
 * replace an older version. */
static int s_format_put(store_txn_t *txn, unsigned flags)
{
    uint8_t buf[4];
    store_codec_put_u32(buf, STORE_FORMAT_VERSION);
    MDB_val key = {strlen(STORE_META_FORMAT), STORE_META_FORMAT}, val = {sizeof buf, buf};
    int rc = store__put(txn, txn->store->dbi[S_DBI_META], &key, &val, flags);
    if (rc != 0)
        return store__txn_fail(txn, rc, __func__, "mdb_put meta 'format'");
    return 0;
}

/* Drop (delete and close) the n tables names inside the write transaction
 * of s_init, as an upgrade does. Everything an upgrade does happens in that
 * one transaction: if the process dies before it commits, the store on
 * disk is still a whole store of the old format (LMDB never shows a
 * partial transaction) and the next start upgrades it again; after the
 * commit it is a whole store of the current format.
 * The freed pages go to LMDB's free list and are reused by later writes
 * (the file does not shrink; a scrub or a backup compacts it). */
static int s_drop_tables(store_txn_t *txn, const char *const *names, size_t n)
{
    const char *dir = txn->store->dir;
    for (size_t i = 0; i < n; i++) {
        MDB_dbi dbi;
        MDB_stat st = {0};
        int rc = mdb_dbi_open(txn->txn, names[i], 0, &dbi);
        if (rc == MDB_NOTFOUND)
            continue; /* never created, or already gone: nothing to drop */
        if (rc == 0)
            rc = mdb_stat(txn->txn, dbi, &st);
        if (rc == 0)
            rc = mdb_drop(txn->txn, dbi, 1); /* 1: delete the table and close its handle */
        if (rc != 0)
            return store__txn_fail(txn, rc, __func__, "dropping table '%s'", names[i]);
        store__log(STORE_LOG_INFO, "store %s: upgrade: dropped table %s (%zu entries)", dir,
                   names[i], (size_t)st.ms_entries);
    }
    return 0;
}

/* Upgrade a format-1 store to format 2: drop the tables format 2 no
 * longer has; s_upgrade_v2 then takes it to format 3. */
static int s_upgrade_v1(store_txn_t *txn)
{
    return s_drop_tables(txn, s_v1_dropped, S_V1_DROPPED); /* s_upgrade_v2 follows */
}

void store__progress(store_t *self, int64_t *last_ms, int force, const char *fmt, ...)
{
    struct timespec ts;
    char status[256];
    va_list ap;
    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    int64_t now = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    if (!force && *last_ms != 0 && now - *last_ms < STORE_PROGRESS_MS)
        return;
    *last_ms = now != 0 ? now : 1;
    va_start(ap, fmt);
    (void)vsnprintf(status, sizeof status, fmt, ap);
    va_end(ap);
    store__log(STORE_LOG_INFO, "store %s: %s", self->dir, status);
    if (self->progress != NULL)
        self->progress(status, self->progress_arg);
}

/* Upgrade a format-2 store (or a format-1 one after s_upgrade_v1) to
 * format 3 inside the write transaction of s_init: drop the match log's
 * index by graduate, index the log by blocks into match_blocks (created
 * empty by s_tables_open); s_upgrade_v4 writes the version. Whole or not
 * at all, as s_upgrade_v1. */
static int s_upgrade_v2(store_txn_t *txn)
{
    const char *dir = txn->store->dir;
    MDB_dbi dbi;
    MDB_stat st = {0};
    uint64_t blocks = 0;
    size_t rows = 0;
    int rc = mdb_dbi_open(txn->txn, S_V2_DROPPED, 0, &dbi);
    if (rc == 0)
        rc = mdb_stat(txn->txn, dbi, &st);
    if (rc == 0)
        rc = mdb_drop(txn->txn, dbi, 1);
    if (rc != 0 && rc != MDB_NOTFOUND)
        return store__txn_fail(txn, rc, __func__, "dropping table '%s'", S_V2_DROPPED);
    if (rc == 0)
        store__log(STORE_LOG_INFO, "store %s: upgrade: dropped table %s (%zu entries)", dir,
                   S_V2_DROPPED, (size_t)st.ms_entries);
    if ((rc = store__match_blocks_build(txn, &blocks, &rows)) != 0)
        return rc;
    store__log(STORE_LOG_INFO,
               "store %s: upgrade: match_blocks built (%" PRIu64 " blocks of %d, %zu matches)", dir,
               blocks, STORE_MATCH_BLOCK_ROWS, rows);
    return 0; /* s_upgrade_v4 follows, and writes the version */
}

/* The warning an upgrade from format from begins with. */
static void s_upgrade_warn(const store_t *self, uint32_t from)
{
    static const char *const what[] = {
        "",
        "dropping " S_V1_DROPPED_STR " unused index tables; the match log's index for erasure "
        "is rebuilt by blocks; the ranked lists move to lists.mdb; the places index is kept "
        "in memory only",
        "the match log's index for erasure is rebuilt by blocks; the ranked lists move to "
        "lists.mdb; the places index is kept in memory only",
        "the ranked lists move to lists.mdb; the places index is kept in memory only",
        "the places index is kept in memory only: its tables ix_g_near and ix_v_near are "
        "dropped",
    };
    store__log(STORE_LOG_WARN,
               "store %s: on-disk format version %u, this matcherd writes version %d: "
               "upgrading the store to version %d (%s)",
               self->dir, from, STORE_FORMAT_VERSION, STORE_FORMAT_VERSION, what[from]);
}

/* The last step of every upgrade: the ranked lists moved to lists.mdb
 * (store__lists_init, before the steps of the older formats), drop the
 * places index's tables, write the new version. */
static int s_upgrade_v4(store_txn_t *txn)
{
    const char *dir = txn->store->dir;
    int rc = s_drop_tables(txn, s_v4_dropped, S_V4_DROPPED);
    if (rc == 0)
        rc = s_format_put(txn, 0);
    if (rc == 0)
        store__log(STORE_LOG_INFO, "store %s: upgrade: format version %d written", dir,
                   STORE_FORMAT_VERSION);
    return rc;
}

/* Unit of work of store_new: check the version, open the tables and, on a
 * new store, write the format version; upgrade an older store opened for
 * writing (a read-only open reads an older store as it is: nothing that a
 * reader looks at differs). *arg (int) is set to 1 if new. */
static int s_init(store_txn_t *txn, void *arg)
{
    int *created = arg;
    uint32_t version = STORE_FORMAT_VERSION;
    *created = 0;
    int rc = mdb_dbi_open(txn->txn, s_tables[S_DBI_META].name, 0, &txn->store->dbi[S_DBI_META]);
    if (rc == MDB_NOTFOUND) {
        rc = s_check_empty(txn);
        *created = rc == 0;
    } else if (rc != 0) {
        rc = store__txn_fail(txn, rc, __func__, "mdb_dbi_open 'meta'");
    } else {
        rc = s_check_format(txn, &version);
    }
    if (rc == 0)
        rc = s_tables_open(txn, *created, version);
    if (rc == 0 && *created)
        rc = s_format_put(txn, MDB_NOOVERWRITE);
    txn->store->version = version;
    if (rc == 0)
        rc = store__meta_get(txn, STORE_META_COMMIT_NO, &txn->store->commit_no);
    if (rc == 0 && version < STORE_FORMAT_VERSION && txn->write && !txn->store->upgrade_warned) {
        s_upgrade_warn(txn->store, version);
        txn->store->upgrade_warned = 1; /* once, if the opening runs again after a growth */
    }
    /* first: it may need lists.mdb's map grown, and the opening run again */
    if (rc == 0)
        rc = store__lists_init(txn, *created, version);
    if (rc == 0 && version == 1 && txn->write)
        rc = s_upgrade_v1(txn);
    if (rc == 0 && version <= 2 && txn->write)
        rc = s_upgrade_v2(txn);
    if (rc == 0 && version <= 4 && txn->write)
        rc = s_upgrade_v4(txn);
    if (rc == 0)
        rc = store__list_entries_init(txn);
    return rc;
}

/* A new store's files must survive a crash too: sync the directory. */
static int s_sync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int rc = (fd >= 0 && fsync(fd) == 0) ? 0 : STORE_EIO;
    if (rc != 0)
        store__log(STORE_LOG_ERROR, "store %s: fsync directory: %s", dir, strerror(errno));
    if (fd >= 0)
        (void)close(fd); /* read-only descriptor: nothing to lose */
    return rc;
}

/* Read-only stores open their tables in a read txn; committing it makes
 * the handles usable by later transactions. */
static int s_tables_open_ro(store_t *self)
{
    store_txn_t txn = {.store = self, .txn = NULL, .write = 0};
    int created = 0;
    int rc = mdb_txn_begin(self->env, NULL, MDB_RDONLY, &txn.txn);
    if (rc != 0) {
        store__log(STORE_LOG_ERROR, "store %s: mdb_txn_begin: %s", self->dir, mdb_strerror(rc));
        return store__map_rc(rc);
    }
    rc = s_init(&txn, &created);
    if (rc == 0 && self->version <= 3)
        self->lists_in_data = 1;
    else if (rc == 0)
        rc = store__lists_check_ro(self, txn.txn);
    if (rc != 0) {
        mdb_txn_abort(txn.txn);
        return rc;
    }
    rc = mdb_txn_commit(txn.txn);
    if (rc != 0)
        store__log(STORE_LOG_ERROR, "store %s: mdb_txn_commit: %s", self->dir, mdb_strerror(rc));
    return store__map_rc(rc);
}

static int s_configure(store_t *self, const char *dir, const store_options_t *opts)
{
    self->lock_fd = self->lbind_fd = -1;
    self->map_bytes = (opts != NULL && opts->map_bytes > 0) ? opts->map_bytes : S_MAP_DEFAULT;
    self->map_max_bytes =
        (opts != NULL && opts->map_max_bytes > 0) ? opts->map_max_bytes : S_MAP_MAX_DEFAULT;
    if (self->map_max_bytes < self->map_bytes)
        self->map_max_bytes = self->map_bytes;
    self->read_only = opts != NULL && opts->read_only;
    self->writemap = opts != NULL && opts->writemap && !self->read_only;
    self->txn_writes = opts != NULL && opts->txn_writes > 0 ? opts->txn_writes : STORE_TXN_WRITES;
    self->lwb_ms = opts != NULL ? opts->lists_writeback_ms : 0;
    if (opts != NULL && opts->lists_dir != NULL && opts->lists_dir[0] != '\0' &&
        (self->lists_dir = strdup(opts->lists_dir)) == NULL)
        return STORE_ENOMEM;
    self->progress = opts != NULL ? opts->progress : NULL;
    self->progress_arg = opts != NULL ? opts->progress_arg : NULL;
    self->boot_opt = opts != NULL ? opts->boot_id : NULL;
    self->vacancy_skills = opts != NULL ? opts->vacancy_skills : NULL;
    self->vacancy_skills_arg = opts != NULL ? opts->vacancy_skills_arg : NULL;
    self->dir = strdup(dir);
    self->data_path = self->dir != NULL ? s_path_join(dir, "data.mdb") : NULL;
    return self->data_path != NULL ? 0 : STORE_ENOMEM;
}

store_t *store_new(const char *dir, const store_options_t *opts, int *err)
{
    store_t *self = NULL;
    int created = 0;
    int rc = STORE_EINVAL;
    if (dir == NULL || *dir == '\0') {
        store__log(STORE_LOG_ERROR, "store: %s: no directory given", __func__);
        goto fail;
    }
    self = calloc(1, sizeof *self);
    if (self != NULL) {
        (void)pthread_mutex_init(&self->gate_mu, NULL); /* defaults: cannot fail on Linux */
        (void)pthread_cond_init(&self->gate_cv, NULL);
        pthread_condattr_t ca; /* the write-back's waits: on the monotonic clock */
        (void)pthread_mutex_init(&self->lwb_mu, NULL);
        (void)pthread_condattr_init(&ca);
        (void)pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        (void)pthread_cond_init(&self->lwb_cv, &ca);
        (void)pthread_condattr_destroy(&ca);
    }
    rc = self != NULL ? s_configure(self, dir, opts) : STORE_ENOMEM;
    if (rc != 0)
        goto fail;
    if (!self->read_only && ((rc = s_mkdir(dir)) != 0 || (rc = s_lock(self)) != 0))
        goto fail;
    if ((rc = s_env_open(self)) != 0 || (rc = store__lists_open(self, self->boot_opt)) != 0)
        goto fail;
    rc = self->read_only ? s_tables_open_ro(self) : store_write(self, s_init, &created);
    if (rc == 0)
        rc = store__lists_opened(self);
    if (rc == 0 && created)
        rc = s_sync_dir(dir);
    if (rc != 0)
        goto fail;
    if ((rc = store__near_build(self)) != 0) /* logs what it took, or why it failed */
        goto fail;
    if (err != NULL)
        *err = 0;
    return self;
fail:
    if (rc == STORE_ENOMEM)
        store__log(STORE_LOG_ERROR, "store %s: out of memory", dir != NULL ? dir : "?");
    store_destroy(&self);
    if (err != NULL)
        *err = rc;
    return NULL;
}

int store__reopen(store_t *self)
{
    int created = 0;
    store__near_free(self);   /* entity numbers go with the heads */
    self->near.wanted = 0;    /* built again once the tables are open */
    store__heads_reset(self); /* refilled from the reopened files */
    if (self->rtxn != NULL)
        mdb_txn_abort(self->rtxn);
    self->rtxn = NULL;
    if (self->env != NULL)
        mdb_env_close(self->env);
    self->env = NULL;
    store__lists_close(self);
    int rc = s_env_open(self);
    if (rc == 0)
        rc = store__lists_open(self, self->boot_opt);
    if (rc == 0)
        rc = self->read_only ? s_tables_open_ro(self) : store_write(self, s_init, &created);
    if (rc == 0)
        rc = store__lists_opened(self);
    if (rc != 0 && self->env != NULL) {
        mdb_env_close(self->env);
        self->env = NULL;
    }
    if (rc == 0)
        rc = store__near_build(self);
    return rc;
}

int store_near_rebuild(store_t *self)
{
    if (self == NULL || self->in_txn)
        return STORE_EINVAL;
    store__near_free(self);   /* entity numbers go with the heads */
    store__heads_reset(self); /* numbered again, by place */
    return store__near_build(self);
}

void store_destroy(store_t **self_p)
{
    if (self_p == NULL || *self_p == NULL)
        return;
    store_t *self = *self_p;
    if (self->backup != NULL) {
        store__log(STORE_LOG_ERROR, "store %s: closed with a backup unfinished", self->dir);
        store__backup_wait(self); /* never close the env under the copy */
    }
    if (self->rtxn != NULL)
        mdb_txn_abort(self->rtxn);
    store__lists_close(self); /* synced and marked clean: trusted at the next open */
    if (self->env != NULL)
        mdb_env_close(self->env);
    if (self->lock_fd >= 0)
        (void)close(self->lock_fd); /* releases the flock; nothing written */
    if (self->lbind_fd >= 0)
        (void)close(self->lbind_fd); /* the same, for lists_dir's binding */
    store__near_free(self);
    store__heads_reset(self);
    (void)pthread_cond_destroy(&self->gate_cv);
    (void)pthread_mutex_destroy(&self->gate_mu);
    (void)pthread_cond_destroy(&self->lwb_cv);
    (void)pthread_mutex_destroy(&self->lwb_mu);
    free(self->data_path);
    free(self->lists_path);
    free(self->lists_dir);
    free(self->dir);
    free(self);
    *self_p = NULL;
}

/* ---- transactions ------------------------------------------------------ */

/* Another process grew the map: adopt its size (no txn may be active). */
static int s_adopt_mapsize(store_t *self)
{
    int rc = mdb_env_set_mapsize(self->env, 0);
    if (rc != 0)
        store__log(STORE_LOG_ERROR, "store %s: mdb_env_set_mapsize: %s", self->dir,
                   mdb_strerror(rc));
    s_refresh_mapsize(self);
    return rc;
}

/* mdb_txn_begin, retried once after MDB_MAP_RESIZED. STORE_E* code. */
static int s_txn_begin(store_t *self, unsigned flags, MDB_txn **txn)
{
    int rc = mdb_txn_begin(self->env, NULL, flags, txn);
    if (rc == MDB_MAP_RESIZED && s_adopt_mapsize(self) == 0)
        rc = mdb_txn_begin(self->env, NULL, flags, txn);
    if (rc != 0) {
        *txn = NULL;
        store__log(STORE_LOG_ERROR, "store %s: mdb_txn_begin: %s", self->dir, mdb_strerror(rc));
    }
    return store__map_rc(rc);
}

/* Which map a transaction found full (s_write_once's *map_full). */
#define S_FULL_DATA  1
#define S_FULL_LISTS 2

/* No reader may be in the store while a map changes size: wait for the
 * shared readers to leave, and keep new ones out until s_gate_open. */
static void s_gate_close(store_t *self)
{
    (void)pthread_mutex_lock(&self->gate_mu);
    self->growing = 1;
    while (self->shared_readers > 0)
        (void)pthread_cond_wait(&self->gate_cv, &self->gate_mu);
    (void)pthread_mutex_unlock(&self->gate_mu);
}

static void s_gate_open(store_t *self)
{
    (void)pthread_mutex_lock(&self->gate_mu);
    self->growing = 0;
    (void)pthread_cond_broadcast(&self->gate_cv);
    (void)pthread_mutex_unlock(&self->gate_mu);
}

/* Grow lists.mdb's map to need bytes (between transactions). */
static int s_grow_lists(store_t *self, size_t need)
{
    s_gate_close(self);
    int rc = store__lists_grow(self, need);
    s_gate_open(self);
    return rc;
}

/* Double the map, capped at map_max_bytes. STORE_EFULL at the cap. */
static int s_grow(store_t *self)
{
    size_t old = self->map_bytes;
    if (old >= self->map_max_bytes) {
        store__log(STORE_LOG_ERROR,
                   "store %s: map full at %g MiB and map_max_bytes reached; "
                   "write refused",
                   self->dir, old / S_MIB);
        return STORE_EFULL;
    }
    size_t want = old > self->map_max_bytes / 2 ? self->map_max_bytes : old * 2;
    if (self->writemap) {
        /* before LMDB extends the file: a writable map must not reach past
         * the blocks the disk has given (the file may stay longer than the
         * map if this fails half-way; LMDB ignores the excess) */
        int fd = -1;
        int rc = mdb_env_get_fd(self->env, &fd);
        if (rc == 0)
            rc = s_reserve(fd, want);
        if (rc != 0) {
            store__log(STORE_LOG_ERROR, "store %s: cannot grow the map from %g to %g MiB: %s",
                       self->dir, old / S_MIB, want / S_MIB, strerror(rc));
            return rc == ENOSPC || rc == EFBIG || rc == EDQUOT ? STORE_ENOSPC : STORE_EIO;
        }
    }
    store__backup_wait(self); /* its read txn must end before the map changes */
    s_gate_close(self);       /* and so must shared readers' */
    int rc = mdb_env_set_mapsize(self->env, want);
    s_gate_open(self);
    if (rc != 0) {
        store__log(STORE_LOG_ERROR, "store %s: mdb_env_set_mapsize %zu: %s", self->dir, want,
                   mdb_strerror(rc));
        return rc == ENOMEM ? STORE_EFULL : store__map_rc(rc);
    }
    s_refresh_mapsize(self);
    store__log(STORE_LOG_INFO, "store: map grown from %g to %g MiB", old / S_MIB,
               self->map_bytes / S_MIB);
    return 0;
}

/* Room the file system must have left, and the file below its size limit,
 * for an I/O error of a commit not to be taken for a full disk. */
#define S_FULL_MARGIN ((uint64_t)1 << 20)

/* LMDB reports a short write as EIO ("filesystem full?"): a disk that
 * filled mid-write, or a file at its size limit (RLIMIT_FSIZE), usually
 * shows as one. 1 when the file system or the file-size limit has less
 * than S_FULL_MARGIN left, so that the caller can say "full, retry later"
 * instead of "I/O error". */
static int s_looks_full(const store_t *self)
{
    struct statvfs vfs;
    struct rlimit rl;
    struct stat st;
    if (statvfs(self->dir, &vfs) == 0 && (uint64_t)vfs.f_bavail * vfs.f_frsize < S_FULL_MARGIN)
        return 1;
    if (getrlimit(RLIMIT_FSIZE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
        stat(self->data_path, &st) == 0 && (uint64_t)st.st_size + S_FULL_MARGIN >= rl.rlim_cur)
        return 1;
    return 0;
}

static int s_commit(store_txn_t *txn, int *map_full)
{
    int rc = mdb_txn_commit(txn->txn); /* frees the handle either way */
    txn->txn = NULL;
    if (rc == 0)
        return 0;
    if (rc == MDB_MAP_FULL) {
        *map_full = 1;
        store__log(STORE_LOG_INFO, "store: store_write: mdb_txn_commit: %s", mdb_strerror(rc));
        return STORE_EFULL;
    }
    store__log(STORE_LOG_ERROR, "store %s: store_write: mdb_txn_commit: %s", txn->store->dir,
               mdb_strerror(rc));
    /* EFBIG: the file may not grow (a file-size limit): the disk is full
     * for us, and a retry can succeed once room is made */
    if (rc == ENOSPC || rc == EFBIG || rc == EDQUOT || (rc == EIO && s_looks_full(txn->store)))
        return STORE_ENOSPC;
    return rc > 0 ? STORE_EIO : store__map_rc(rc);
}

/* A write transaction committed: what it changed in memory stays. */
static void s_mem_commit(store_t *self)
{
    store__near_commit(self);
    store__heads_commit(self);
}

/* A write transaction did not commit: the heads and posting lists go back
 * to the committed state, the lists first (they name heads by number). */
static void s_mem_rollback(store_t *self)
{
    store__near_rollback(self);
    if (store__heads_rollback(self) && self->near.ready) {
        store__near_free(self); /* the numbers changed with the reset */
        store__log(STORE_LOG_WARN, "store: out of memory undoing a transaction in the cache of "
                                   "heads; in-memory posting lists dropped, built again before "
                                   "the next write");
    }
}

uint64_t store_txn_writes(const store_txn_t *txn)
{
    /* the appends' pages, rounded up */
    return txn->writes + (txn->append_bytes + S_PAGE_BYTES - 1) / S_PAGE_BYTES;
}

int store_txn_full(const store_txn_t *txn)
{
    if (!txn->write)
        return 0;
    if (store_txn_writes(txn) >= txn->store->txn_writes)
        return 1;
    /* or near what lists.mdb's map can commit (store__lists_need), with
     * room for a quarter more: the next unit of work stays in it */
    uint64_t lw = txn->lwrites + txn->lwrites / 4 + 16;
    return txn->ltxn != NULL && store__lists_need(txn->store, lw) > txn->store->lmap_bytes;
}

/* One attempt of store_write. *map_full tells whether growing may help. */
static int s_write_once(store_t *self, store_txn_fn fn, void *arg, int *map_full)
{
    store_txn_t txn = {.store = self, .txn = NULL, .write = 1};
    uint64_t commit_no = self->commit_no + 1;
    *map_full = 0;
    self->lneed = 0;
    if (self->lists_broken) {
        store__log(STORE_LOG_ERROR,
                   "store %s: write refused: lists.mdb no longer goes with "
                   "data.mdb (see above); restart to rebuild the ranked lists",
                   self->dir);
        return STORE_EIO;
    }
    int rc = s_txn_begin(self, 0, &txn.txn);
    if (rc != 0)
        return rc;
    if (self->lenv != NULL && (rc = mdb_txn_begin(self->lenv, NULL, 0, &txn.ltxn)) != 0) {
        store__log(STORE_LOG_ERROR, "store %s: lists.mdb: mdb_txn_begin: %s", self->dir,
                   mdb_strerror(rc));
        mdb_txn_abort(txn.txn);
        return store__map_rc(rc);
    }
    store__heads_begin(self);
    store__near_begin(self);
    rc = fn(&txn, arg);
    if (rc == 0 && txn.err == 0)
        rc = store__list_entries_flush(&txn);
    if (rc == 0 && txn.err == 0)
        rc = store__match_last_flush(&txn);
    if (txn.lwrites == 0)
        commit_no = self->commit_no; /* the lists as they were go with data.mdb as it is */
    else if (rc == 0 && txn.err == 0 && self->lenv != NULL) /* the commit lists.mdb names */
        rc = store__meta_put(&txn, STORE_META_COMMIT_NO, commit_no);
    if (rc == 0 && txn.err != 0) {
        store__log(STORE_LOG_ERROR,
                   "store: store_write: the unit of work went on after a "
                   "failed operation (%s); aborted",
                   store_strerror(txn.err));
        rc = txn.err;
    }
    if (rc == 0 && txn.lwrites > 0 &&
        (self->lneed = store__lists_need(self, txn.lwrites)) > self->lmap_bytes) {
        txn.lmap_full = 1; /* lists.mdb's commit could find its map full: grow first */
        rc = STORE_EFULL;
    }
    if (txn.lmap_full)
        self->lneed = self->lneed > 2 * self->lmap_bytes ? self->lneed : 2 * self->lmap_bytes;
    if (rc != 0) {
        mdb_txn_abort(txn.txn);
        if (txn.ltxn != NULL)
            mdb_txn_abort(txn.ltxn);
        s_mem_rollback(self); /* they hold writes that are now undone */
        *map_full = txn.lmap_full ? S_FULL_LISTS : txn.map_full ? S_FULL_DATA : 0;
        return rc;
    }
    if ((rc = s_commit(&txn, map_full)) != 0) {
        if (txn.ltxn != NULL)
            mdb_txn_abort(txn.ltxn);
        s_mem_rollback(self);
        return rc;
    }
    s_mem_commit(self);
    if (txn.ltxn == NULL)
        return 0;
    self->commit_no = commit_no; /* data.mdb's, whatever becomes of lists.mdb's */
    return store__lists_commit(&txn, commit_no);
}

int store_write(store_t *self, store_txn_fn fn, void *arg)
{
    int map_full = 0;
    if (self == NULL || fn == NULL || self->read_only || self->in_txn) {
        store__log(STORE_LOG_ERROR, "store: %s: %s", __func__,
                   self == NULL || fn == NULL ? "NULL argument"
                   : self->read_only          ? "store opened read-only"
                                              : "called inside another transaction");
        return STORE_EINVAL;
    }
    /* a writable store walks its places index in every write: lost for
     * want of memory (s_mem_rollback), it is built again first */
    int rc = 0;
    if (self->near.wanted && !self->near.ready && (rc = store__near_build(self)) != 0)
        return rc;
    self->in_txn = 1;
    /* lists.mdb is committed after data.mdb and must not fail then: room
     * first, or no write (a full disk answers as one) */
    size_t need = store__lists_need(self, 0);
    if ((need > self->lmap_bytes || (need > 0 && !self->lreserved)) &&
        (rc = s_grow_lists(self, need)) != 0) {
        self->in_txn = 0;
        return rc;
    }
    rc = s_write_once(self, fn, arg, &map_full);
    /* data.mdb's map doubles once (up to map_max_bytes); lists.mdb's, which
     * has no limit but the disk's, as many times as the transaction needs */
    for (int grown = 0, lists = 0; map_full && rc != 0; lists += map_full == S_FULL_LISTS) {
        if (map_full == S_FULL_DATA && grown++ > 0) {
            store__log(STORE_LOG_ERROR,
                       "store %s: map still full at %g MiB after growing; "
                       "write refused",
                       self->dir, self->map_bytes / S_MIB);
            rc = STORE_EFULL;
            break;
        }
        if (lists >= 40) /* 2^40 times 256 KiB: not a map that fills */
            break;
        /* logs why not */
        rc = map_full == S_FULL_LISTS ? s_grow_lists(self, self->lneed) : s_grow(self);
        if (rc != 0)
            break;
        rc = s_write_once(self, fn, arg, &map_full);
    }
    self->in_txn = 0;
    return rc;
}

/* Make self->rtxn an active read txn: renew the reset one, or begin. */
static int s_read_begin(store_t *self)
{
    if (self->rtxn != NULL) {
        if (mdb_txn_renew(self->rtxn) == 0)
            return 0;
        /* e.g. MDB_MAP_RESIZED: start afresh, which adopts the new size */
        mdb_txn_abort(self->rtxn);
        self->rtxn = NULL;
    }
    return s_txn_begin(self, MDB_RDONLY, &self->rtxn);
}

int store_read(store_t *self, store_txn_fn fn, void *arg)
{
    if (self == NULL || fn == NULL || self->in_txn) {
        store__log(STORE_LOG_ERROR, "store: %s: %s", __func__,
                   self == NULL || fn == NULL ? "NULL argument"
                                              : "called inside another transaction");
        return STORE_EINVAL;
    }
    int rc = s_read_begin(self);
    if (rc != 0)
        return rc;
    store_txn_t txn = {.store = self, .txn = self->rtxn, .write = 0};
    /* the writer is this thread: no commit of it runs now */
    if ((rc = store__lists_read_begin(&txn, 0)) != 0) {
        mdb_txn_reset(self->rtxn);
        return rc;
    }
    self->in_txn = 1;
    rc = fn(&txn, arg);
    self->in_txn = 0;
    store__lists_read_end(&txn);
    mdb_txn_reset(self->rtxn);
    return rc;
}

int store_read_shared(store_t *self, store_txn_fn fn, void *arg)
{
    MDB_txn *t = NULL;
    if (self == NULL || fn == NULL)
        return STORE_EINVAL;
    (void)pthread_mutex_lock(&self->gate_mu);
    while (self->growing)
        (void)pthread_cond_wait(&self->gate_cv, &self->gate_mu);
    self->shared_readers++;
    (void)pthread_mutex_unlock(&self->gate_mu);
    int rc = mdb_txn_begin(self->env, NULL, MDB_RDONLY, &t);
    if (rc != 0) { /* MDB_MAP_RESIZED included: adopting a size is a write's business */
        store__log(STORE_LOG_ERROR, "store %s: mdb_txn_begin: %s", self->dir, mdb_strerror(rc));
        rc = store__map_rc(rc);
    } else {
        store_txn_t txn = {.store = self, .txn = t, .write = 0, .shared = 1};
        if ((rc = store__lists_read_begin(&txn, 1)) == 0) {
            rc = fn(&txn, arg);
            store__lists_read_end(&txn);
        }
        mdb_txn_abort(t);
    }
    (void)pthread_mutex_lock(&self->gate_mu);
    if (--self->shared_readers == 0)
        (void)pthread_cond_broadcast(&self->gate_cv);
    (void)pthread_mutex_unlock(&self->gate_mu);
    return rc;
}

void store_lists_beside_readers(store_t *self, int on)
{
    if (self == NULL || self->in_txn)
        return;
    if (on && !self->lists_beside)
        store__heads_lists_forget(self);
    self->lists_beside = on != 0;
}

/* ---- statistics -------------------------------------------------------- */

/* The fields of store_stats that come from the tables, not the file. */
static int s_stats_counters(store_txn_t *txn, store_stats_t *out)
{
    int rc = store__meta_get(txn, STORE_META_GRADUATES, &out->graduates);
    if (rc == 0)
        rc = store__meta_get(txn, STORE_META_GRADUATES_OPEN, &out->graduates_open);
    if (rc == 0)
        rc = store__meta_get(txn, STORE_META_VACANCIES, &out->vacancies);
    if (rc == 0)
        rc = store__meta_get(txn, STORE_META_VACANCIES_OPEN, &out->vacancies_open);
    if (rc == 0)
        rc = store__meta_get(txn, STORE_META_LAST_SEQ, &out->events);
    if (rc == 0)
        rc = store__meta_get(txn, STORE_META_VACANCY_LISTS, &out->vacancy_lists);
    if (rc == 0)
        rc = store__meta_get(txn, STORE_META_GRADUATE_LISTS, &out->graduate_lists);
    if (rc == 0)
        rc = store__match_last_get(txn, &out->matches);
    if (rc == 0)
        rc = store__match_first(txn, &out->matches_first);
    out->vacancy_list_entries = store_list_entries(txn, STORE_ENTITY_VACANCY);
    out->graduate_list_entries = store_list_entries(txn, STORE_ENTITY_GRADUATE);
    return rc;
}

int store_stats(store_txn_t *txn, store_stats_t *out)
{
    MDB_envinfo info;
    MDB_stat st;
    struct stat fst;
    if (txn == NULL || out == NULL)
        return STORE_EINVAL;
    memset(out, 0, sizeof *out);
    int rc = s_stats_counters(txn, out);
    if (rc != 0)
        return rc;
    if ((rc = mdb_env_info(txn->store->env, &info)) != 0 ||
        (rc = mdb_env_stat(txn->store->env, &st)) != 0)
        return store__txn_fail(txn, rc, __func__, "mdb_env_info/stat");
    out->map_bytes = info.me_mapsize;
    out->used_bytes = (uint64_t)(info.me_last_pgno + 1) * st.ms_psize;
    out->writemap = txn->store->writemap;
    if (stat(txn->store->data_path, &fst) != 0) {
        store__log(STORE_LOG_ERROR, "store: %s: stat %s: %s", __func__, txn->store->data_path,
                   strerror(errno));
        return STORE_EIO;
    }
    out->file_bytes = (uint64_t)fst.st_size;
    out->lists_file_bytes = out->lists_used_bytes = 0;
    if (txn->store->lenv != NULL && mdb_env_info(txn->store->lenv, &info) == 0 &&
        mdb_env_stat(txn->store->lenv, &st) == 0) {
        out->lists_used_bytes = (uint64_t)(info.me_last_pgno + 1) * st.ms_psize;
        if (stat(txn->store->lists_path, &fst) == 0)
            out->lists_file_bytes = (uint64_t)fst.st_size;
    }
    out->memory_bytes = store__mem_bytes(txn->store);
    out->near_postings = txn->store->near.ready
                             ? txn->store->near.side[0].postings + txn->store->near.side[1].postings
                             : 0;
    (void)pthread_mutex_lock(&txn->store->lwb_mu);
    out->lists_writeback_sweeps = txn->store->lwb_sweeps;
    (void)pthread_mutex_unlock(&txn->store->lwb_mu);
    return 0;
}
