/* store_scrub.c - rewrite the store so that deleted data leaves no bytes
 * behind (see store_scrub in store.h).
 *
 * Why a record-by-record copy rather than mdb_env_copy2(MDB_CP_COMPACT),
 * which also drops the free pages: the compacting copy carries each live
 * page over as LMDB laid it out, and whether the unused middle of a page
 * (where a deleted record's bytes stay after mdb_del) reaches the copy
 * depends on LMDB internals. Writing every live record again into a new
 * environment makes the guarantee ours: each page of the copy starts
 * zeroed and receives only records that are still in the store.
 */
#include "store_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define S_CHUNK 65536 /* records per write transaction of the copy */

static int s_fsync_path(const char *path, int dir)
{
    int fd = open(path, (dir ? O_RDONLY | O_DIRECTORY : O_RDWR) | O_CLOEXEC);
    int rc = (fd >= 0 && fsync(fd) == 0) ? 0 : STORE_EIO;
    if (rc != 0)
        store__log(STORE_LOG_ERROR, "store: scrub: fsync %s: %s", path, strerror(errno));
    if (fd >= 0)
        (void)close(fd); /* synced above: nothing left to lose */
    return rc;
}

static uint64_t s_file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (uint64_t)st.st_size : 0;
}

/* Remove dir/scrub.tmp and what an interrupted scrub left in it, and
 * the copy of lists.mdb beside it (lfrom, and its lock file). */
static void s_rm_tmp(const char *tmp, const char *lfrom)
{
    char path[4096 + 16];
    static const char *files[] = {"data.mdb", "lock.mdb", "lists.mdb", "lists.mdb-lock"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        if ((size_t)snprintf(path, sizeof path, "%s/%s", tmp, files[i]) < sizeof path)
            (void)unlink(path); /* absent is fine; lists.mdb: older releases copied it here */
    }
    (void)rmdir(tmp); /* absent is fine */
    store__env_unlink(lfrom);
}

/* Copy table src (opened in rtxn) into the new environment, committing
 * every S_CHUNK records. *wtxn is the open write transaction. */
static int s_copy_table(MDB_env *dst, MDB_txn **wtxn, MDB_txn *rtxn, MDB_dbi src, const char *name,
                        size_t *since_commit)
{
    unsigned flags;
    MDB_dbi d;
    MDB_cursor *cur = NULL;
    MDB_val k, v;
    int rc = mdb_dbi_flags(rtxn, src, &flags);
    if (rc == 0)
        rc = mdb_dbi_open(*wtxn, name, (flags & ~(unsigned)MDB_CREATE) | MDB_CREATE, &d);
    if (rc == 0)
        rc = mdb_cursor_open(rtxn, src, &cur);
    for (int op = MDB_FIRST; rc == 0; op = MDB_NEXT) {
        rc = mdb_cursor_get(cur, &k, &v, (MDB_cursor_op)op);
        if (rc != 0)
            break;
        /* keys arrive in the table's order: append, except between dups */
        rc = mdb_put(*wtxn, d, &k, &v, (flags & MDB_DUPSORT) ? 0 : MDB_APPEND);
        if (rc == 0 && ++*since_commit >= S_CHUNK) {
            *since_commit = 0;
            rc = mdb_txn_commit(*wtxn);
            *wtxn = NULL;
            if (rc == 0)
                rc = mdb_txn_begin(dst, NULL, 0, wtxn);
        }
    }
    if (cur)
        mdb_cursor_close(cur);
    if (rc != MDB_NOTFOUND) {
        store__log(STORE_LOG_ERROR, "store: scrub: copying table %s: %s", name, mdb_strerror(rc));
        return store__map_rc(rc);
    }
    return 0;
}

/* The tables of one environment to copy: handles in src, names. */
typedef struct {
    MDB_dbi dbi[S_DBI_COUNT + 1];
    const char *name[S_DBI_COUNT + 1];
    size_t n;
} s_tables_t;

/* Write a copy of the tables t of src into path (a directory, or with
 * MDB_NOSUBDIR in flags a file) and sync it. */
static int s_copy(store_t *self, MDB_env *src, const s_tables_t *t, const char *path,
                  unsigned flags)
{
    MDB_env *dst = NULL;
    MDB_txn *rtxn = NULL, *wtxn = NULL;
    size_t since = 0;
    int rc = mdb_env_create(&dst);
    if (rc == 0)
        rc = mdb_env_set_mapsize(dst, self->map_bytes > self->lmap_bytes ? self->map_bytes
                                                                         : self->lmap_bytes);
    if (rc == 0)
        rc = mdb_env_set_maxdbs(dst, S_DBI_COUNT + 1);
    if (rc == 0)
        rc = mdb_env_open(dst, path, MDB_NOTLS | MDB_NOSYNC | flags, 0600);
    if (rc == 0)
        rc = mdb_txn_begin(src, NULL, MDB_RDONLY, &rtxn);
    if (rc == 0)
        rc = mdb_txn_begin(dst, NULL, 0, &wtxn);
    if (rc != 0) {
        store__log(STORE_LOG_ERROR, "store: scrub: opening the copy in %s: %s", path,
                   mdb_strerror(rc));
        rc = store__map_rc(rc);
        goto done;
    }
    for (size_t i = 0; i < t->n && rc == 0; i++)
        rc = s_copy_table(dst, &wtxn, rtxn, t->dbi[i], t->name[i], &since);
    if (rc == 0) {
        int crc = mdb_txn_commit(wtxn);
        wtxn = NULL;
        if (crc == 0)
            crc = mdb_env_sync(dst, 1);
        if (crc != 0) {
            store__log(STORE_LOG_ERROR, "store: scrub: writing the copy: %s", mdb_strerror(crc));
            rc = store__map_rc(crc);
        }
    }
done:
    if (wtxn)
        mdb_txn_abort(wtxn);
    if (rtxn)
        mdb_txn_abort(rtxn);
    if (dst)
        mdb_env_close(dst);
    return rc;
}

/* Copy data.mdb into tmp/data.mdb and, when there is one, lists.mdb into
 * lists_to, beside it in its own directory, which may be on another file
 * system (its state record too: the copies go together as the originals
 * did). */
static int s_copy_all(store_t *self, const char *tmp, const char *lists_to)
{
    s_tables_t data = {.n = 0}, lists = {.n = 0};
    for (int i = 0; i < S_DBI_COUNT; i++) {
        s_tables_t *t = store__dbi_in_lists(i) ? &lists : &data;
        t->dbi[t->n] = self->dbi[i];
        t->name[t->n++] = store__table_name(i);
    }
    int rc = s_copy(self, self->env, &data, tmp, 0);
    if (rc != 0 || self->lenv == NULL)
        return rc;
    lists.dbi[lists.n] = self->lstate_dbi;
    lists.name[lists.n++] = "state";
    return s_copy(self, self->lenv, &lists, lists_to, MDB_NOSUBDIR);
}

int store_is_open(const store_t *self)
{
    return self != NULL && self->env != NULL;
}

int store_scrub(store_t *self, uint64_t *bytes_before, uint64_t *bytes_after)
{
    char tmp[4096], from[4096], lfrom[4096];
    if (self == NULL || self->env == NULL || self->in_txn || self->read_only)
        return STORE_EINVAL;
    if ((size_t)snprintf(tmp, sizeof tmp, "%s/scrub.tmp", self->dir) >= sizeof tmp ||
        (size_t)snprintf(from, sizeof from, "%s/data.mdb", tmp) >= sizeof from ||
        (size_t)snprintf(lfrom, sizeof lfrom, "%s.scrub", self->lists_path) >= sizeof lfrom)
        return STORE_EINVAL;
    uint64_t before = s_file_size(self->data_path);
    s_rm_tmp(tmp, lfrom);
    if (mkdir(tmp, 0700) != 0) {
        store__log(STORE_LOG_ERROR, "store: scrub: mkdir %s: %s", tmp, strerror(errno));
        return STORE_EIO;
    }
    int rc = s_copy_all(self, tmp, lfrom);
    if (rc == 0)
        rc = s_fsync_path(from, 0);
    if (rc == 0 && self->lenv != NULL)
        rc = s_fsync_path(lfrom, 0);
    if (rc != 0) {
        s_rm_tmp(tmp, lfrom);
        return rc;
    }
    if (self->rtxn != NULL)
        mdb_txn_abort(self->rtxn);
    self->rtxn = NULL;
    mdb_env_close(self->env); /* nothing is open: the loop is between calls */
    self->env = NULL;
    int lists = self->lenv != NULL;
    store__lists_close(self);
    if (rename(from, self->data_path) != 0) {
        store__log(STORE_LOG_ERROR, "store: scrub: rename %s: %s; keeping the old file", from,
                   strerror(errno));
        rc = STORE_EIO;
    } else if (lists && rename(lfrom, self->lists_path) != 0) {
        /* the old lists.mdb goes with the new data.mdb all the same: the
         * copy of data.mdb names the same last commit */
        store__log(STORE_LOG_ERROR, "store: scrub: rename %s: %s; keeping the old lists.mdb", lfrom,
                   strerror(errno));
        rc = STORE_EIO;
    }
    s_rm_tmp(tmp, lfrom);
    if (rc == 0)
        rc = s_fsync_path(self->dir, 1);
    int orc = store__reopen(self);
    if (orc != 0) {
        store__log(STORE_LOG_ERROR, "store: scrub: cannot reopen the store: %s",
                   store_strerror(orc));
        return STORE_EIO;
    }
    if (bytes_before)
        *bytes_before = before;
    if (bytes_after)
        *bytes_after = s_file_size(self->data_path);
    return rc;
}
