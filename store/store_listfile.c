/* store_listfile.c - the ranked lists' own file, lists.mdb.
 *
 * The ranked lists ("lists") and their membership index ("list_members")
 * are derived data: DESIGN.md lets them be rebuilt at start-up instead of
 * being stored in the durable transaction. They are four fifths of the
 * B-tree writes of an event, each on a page of its own, and a durable
 * commit costs about one write to the disk per page it dirtied. So they
 * live in a second LMDB environment, dir/lists.mdb, opened with
 * MDB_NOSYNC: its commits write no page to the disk, the kernel writes
 * the pages back when it likes (a page written by a hundred transactions
 * goes to the disk once), and data.mdb's durable commit only writes the
 * pages of the entities, indexes, logs and meta.
 *
 * Every write transaction writes both, data.mdb first (durable), then
 * lists.mdb with a state record naming data.mdb's commit it goes with
 * (meta "commit_no", counted by store.c). Whether lists.mdb can be
 * trusted at an open for writing:
 *   - its state names data.mdb's last commit (a process killed between the
 *     two commits leaves them one apart);
 *   - it was built whole ("built"; a rebuild in progress clears it);
 *   - and it was either closed cleanly (synced, then "clean" set and
 *     synced) or last opened in this boot of the machine: a process that
 *     dies leaves its written pages in the page cache, which the next
 *     process reads, but a machine that stops loses the pages not yet
 *     written back, in no particular order.
 * Otherwise the lists are emptied and store_lists_stale() says so: matcherd
 * rebuilds them from the entities before it serves. The open then marks
 * the file unclean with this boot's id and syncs it, before any other
 * write.
 *
 * Readers see both files through one read transaction each. A reader in
 * another thread may begin between the writer's two commits (data.mdb one
 * commit ahead), or the writer may make both between the reader's two
 * begins (lists.mdb ahead): it begins both again until they name the same
 * commit.
 */
#define _GNU_SOURCE /* sync_file_range */
#include "store_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define S_STATE_TABLE "state"
#define S_STATE_KEY   "lists"
#define S_BOOT_FILE   "/proc/sys/kernel/random/boot_id"
#define S_BIND_FILE   "lists.store"       /* in lists_dir: the store it serves */
#define S_MAP_MIN     ((size_t)256 << 10) /* doubled as it fills */
#define S_READ_TRIES  100000              /* a reader between the writer's two commits */

/* The state record: u64 LE commit_no, u8 built, u8 clean, u8 boot length,
 * boot id bytes. */
typedef struct {
    uint64_t commit_no;
    uint8_t built, clean;
    char boot[STORE_BOOT_ID_MAX + 1];
} s_state_t;

static const struct {
    int dbi;
    const char *name;
    unsigned flags;
} s_ltables[] = {
    {S_DBI_LISTS, "lists", 0},
    {S_DBI_LIST_MEMBERS, "list_members", MDB_DUPSORT},
};

/* ---- the state record -------------------------------------------------- */

static int s_state_get(MDB_txn *t, MDB_dbi dbi, s_state_t *st, int *found)
{
    MDB_val key = {sizeof S_STATE_KEY - 1, (void *)S_STATE_KEY}, val;
    memset(st, 0, sizeof *st);
    *found = 0;
    int rc = mdb_get(t, dbi, &key, &val);
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc != 0)
        return rc;
    const uint8_t *p = val.mv_data;
    if (val.mv_size < 11 || val.mv_size != 11u + p[10] || p[10] > STORE_BOOT_ID_MAX)
        return 0; /* not ours: untrusted, like no record */
    for (int i = 7; i >= 0; i--)
        st->commit_no = st->commit_no << 8 | p[i];
    st->built = p[8];
    st->clean = p[9];
    memcpy(st->boot, p + 11, p[10]);
    st->boot[p[10]] = '\0';
    *found = 1;
    return 0;
}

static int s_state_put(store_txn_t *txn, uint64_t commit_no, int clean)
{
    store_t *self = txn->store;
    uint8_t buf[11 + STORE_BOOT_ID_MAX];
    size_t blen = strlen(self->boot_id);
    for (int i = 0; i < 8; i++)
        buf[i] = (uint8_t)(commit_no >> (8 * i));
    buf[8] = (uint8_t)!self->lists_stale;
    buf[9] = (uint8_t)clean;
    buf[10] = (uint8_t)blen;
    memcpy(buf + 11, self->boot_id, blen);
    MDB_val key = {sizeof S_STATE_KEY - 1, (void *)S_STATE_KEY}, val = {11 + blen, buf};
    return mdb_put(txn->ltxn, self->lstate_dbi, &key, &val, 0);
}

/* ---- opening --------------------------------------------------------- */

/* This boot of the machine's id into self->boot_id (empty if unknown: the
 * file is then trusted only when closed cleanly). */
static void s_boot_id(store_t *self, const char *given)
{
    self->boot_id[0] = '\0';
    if (given != NULL) {
        (void)snprintf(self->boot_id, sizeof self->boot_id, "%s", given);
        return;
    }
    FILE *f = fopen(S_BOOT_FILE, "re");
    if (f == NULL)
        return;
    if (fgets(self->boot_id, sizeof self->boot_id, f) == NULL)
        self->boot_id[0] = '\0';
    (void)fclose(f);
    self->boot_id[strcspn(self->boot_id, "\n")] = '\0';
}

/* Reserve the blocks of lists.mdb up to its map's size, whether it is
 * written through a writable map (a write to a hole on a full disk would
 * fault) or with ordinary writes (its commit, after data.mdb's, must not
 * find the disk full). 0 or an errno value. */
static int s_reserve(store_t *self, size_t bytes)
{
    int fd = -1;
    int rc = mdb_env_get_fd(self->lenv, &fd);
    while (rc == 0 && (rc = posix_fallocate(fd, 0, (off_t)bytes)) == EINTR)
        ;
    self->lreserved = rc == 0;
    return rc;
}

/* Open lists.mdb (self->lists_path), through a writable map when
 * self->lwritemap, its blocks reserved (s_reserve) when it is writable
 * and the map must have them. 0, or an LMDB or errno code, the
 * environment closed. */
static int s_env_open(store_t *self)
{
    unsigned flags = MDB_NOSUBDIR | MDB_NOTLS | MDB_NORDAHEAD | MDB_NOSYNC;
    if (self->read_only)
        flags |= MDB_RDONLY;
    else if (self->lwritemap)
        flags |= MDB_WRITEMAP;
    int rc = mdb_env_create(&self->lenv);
    if (rc == 0)
        rc = mdb_env_set_mapsize(self->lenv, self->lmap_bytes);
    if (rc == 0)
        rc = mdb_env_set_maxdbs(self->lenv, 4);
    if (rc == 0)
        rc = mdb_env_open(self->lenv, self->lists_path, flags, 0600);
    if (rc == 0 && !self->read_only) {
        int why = s_reserve(self, self->lmap_bytes);
        if (self->lwritemap)
            rc = why; /* no writable map over holes */
        else if (why != 0)
            store__log(STORE_LOG_WARN,
                       "store %s: cannot reserve %g MiB for lists.mdb (%s): writes refused "
                       "until it can",
                       self->dir, self->lmap_bytes / 1048576.0, strerror(why));
    }
    if (rc != 0 && self->lenv != NULL) {
        mdb_env_close(self->lenv);
        self->lenv = NULL;
    }
    return rc;
}

void store__env_unlink(const char *path)
{
    char lock[PATH_MAX + 8];
    (void)unlink(path);
    if ((size_t)snprintf(lock, sizeof lock, "%s-lock", path) < sizeof lock)
        (void)unlink(lock);
}

/* Move the store's own lists.mdb (dir/lists.mdb) to to: renamed, or
 * copied when to is on another file system. 0, or -1 with errno set and
 * the original left in place. */
static int s_move_own(const char *from, const char *to)
{
    char part[PATH_MAX + 8];
    if (rename(from, to) == 0)
        return 0;
    if (errno != EXDEV || (size_t)snprintf(part, sizeof part, "%s.part", to) >= sizeof part)
        return -1;
    struct stat st;
    int in = open(from, O_RDONLY | O_CLOEXEC), out = -1, rc = -1;
    if (in >= 0 && fstat(in, &st) == 0)
        out = open(part, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    off_t off = 0;
    while (out >= 0 && off < st.st_size) {
        ssize_t n = sendfile(out, in, &off, (size_t)(st.st_size - off));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
    }
    if (out >= 0 && off == st.st_size && fsync(out) == 0 && close(out) == 0) {
        out = -1;
        rc = rename(part, to);
    }
    int saved = errno;
    if (out >= 0)
        (void)close(out);
    if (in >= 0)
        (void)close(in);
    if (rc != 0)
        (void)unlink(part);
    else
        (void)unlink(from);
    errno = saved;
    return rc;
}

/* Bind self->lists_dir to this store (store_options_t.lists_dir): the
 * directory made if need be, lists_dir/lists.store naming the store's
 * directory (its real path) and flock()ed for as long as the store is
 * open. Bound to another store: STORE_EBUSY. Not bound yet: a lists.mdb
 * there is no store's (left by a store given another lists_dir since, or
 * a copy), so it is removed and the binding made. Read-only: 0 if the
 * binding names this store, 1 if not (the lists then read as empty), no
 * lock taken. */
static int s_bind(store_t *self)
{
    char who[PATH_MAX], was[PATH_MAX + 2], path[PATH_MAX + 16];
    if (self->lbind_fd >= 0)
        return 0; /* reopened (a scrub): bound since the first open */
    if (realpath(self->dir, who) == NULL) {
        store__log(STORE_LOG_ERROR, "store %s: realpath: %s", self->dir, strerror(errno));
        return STORE_EIO;
    }
    if ((size_t)snprintf(path, sizeof path, "%s/%s", self->lists_dir, S_BIND_FILE) >= sizeof path)
        return STORE_EINVAL;
    if (!self->read_only && mkdir(self->lists_dir, 0700) != 0 && errno != EEXIST) {
        store__log(STORE_LOG_ERROR, "store %s: lists_dir %s: mkdir: %s", self->dir, self->lists_dir,
                   strerror(errno));
        return STORE_EIO;
    }
    char lreal[PATH_MAX];
    if (realpath(self->lists_dir, lreal) != NULL && strcmp(lreal, who) == 0)
        return 0; /* the store's own directory: nothing to bind, nothing to move */
    int fd = open(path, (self->read_only ? O_RDONLY : O_RDWR | O_CREAT) | O_CLOEXEC, 0600);
    if (fd < 0 && self->read_only && errno == ENOENT)
        return 1;
    if (fd < 0) {
        store__log(STORE_LOG_ERROR, "store %s: open %s: %s", self->dir, path, strerror(errno));
        return STORE_EIO;
    }
    if (!self->read_only && flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int busy = errno == EWOULDBLOCK;
        store__log(STORE_LOG_ERROR, "store %s: lists_dir %s: %s%s", self->dir, self->lists_dir,
                   busy ? "in use by another process (" : "flock: ",
                   busy ? S_BIND_FILE " is locked); give each store a directory of its own"
                        : strerror(errno));
        (void)close(fd);
        return busy ? STORE_EBUSY : STORE_EIO;
    }
    ssize_t n = pread(fd, was, sizeof was - 1, 0);
    was[n > 0 ? n : 0] = '\0';
    was[strcspn(was, "\n")] = '\0';
    if (was[0] != '\0' && strcmp(was, who) != 0) {
        store__log(self->read_only ? STORE_LOG_WARN : STORE_LOG_ERROR,
                   "store %s: lists_dir %s holds the ranked lists of the store in %s%s", self->dir,
                   self->lists_dir, was,
                   self->read_only ? ": ranked lists read as empty"
                                   : "; give each store a directory of its own");
        (void)close(fd);
        return self->read_only ? 1 : STORE_EBUSY;
    }
    if (self->read_only) {
        (void)close(fd);
        return was[0] != '\0' ? 0 : 1;
    }
    if (was[0] == '\0') {
        size_t len = strlen(who);
        who[len++] = '\n';
        store__env_unlink(self->lists_path);
        if (pwrite(fd, who, len, 0) != (ssize_t)len || fsync(fd) != 0) {
            store__log(STORE_LOG_ERROR, "store %s: writing %s: %s", self->dir, path,
                       strerror(errno));
            (void)close(fd);
            return STORE_EIO;
        }
        store__log(STORE_LOG_INFO, "store %s: ranked lists in %s, a directory bound to this store",
                   self->dir, self->lists_path);
        /* the lists the store kept beside data.mdb until now: its own, moved
         * rather than rebuilt (trusted or not by their state, as ever) */
        char own[PATH_MAX + 16];
        struct stat ost;
        if ((size_t)snprintf(own, sizeof own, "%s/lists.mdb", self->dir) < sizeof own &&
            stat(own, &ost) == 0) {
            if (s_move_own(own, self->lists_path) == 0) {
                store__env_unlink(own); /* its lock file; the file itself moved */
                store__log(STORE_LOG_INFO, "store %s: lists.mdb moved from %s to %s", self->dir,
                           self->dir, self->lists_dir);
            } else {
                store__log(STORE_LOG_WARN,
                           "store %s: moving %s to %s: %s; the ranked lists will be rebuilt",
                           self->dir, own, self->lists_path, strerror(errno));
            }
        }
    }
    self->lbind_fd = fd;
    return 0;
}

int store__lists_open(store_t *self, const char *boot_id)
{
    struct stat st;
    const char *ldir = self->lists_dir != NULL ? self->lists_dir : self->dir;
    if (self->lists_path == NULL &&
        (self->lists_path = malloc(strlen(ldir) + sizeof "/lists.mdb")) == NULL)
        return STORE_ENOMEM;
    (void)sprintf(self->lists_path, "%s/lists.mdb", ldir);
    s_boot_id(self, boot_id);
    if (self->lists_dir != NULL) {
        int rc = s_bind(self);
        if (rc != 0)
            return rc > 0 ? 0 : rc; /* read-only, not this store's: lists read as empty */
    }
    int exists = stat(self->lists_path, &st) == 0;
    if (self->read_only && !exists)
        return 0; /* lists read as empty */
    self->lmap_bytes = S_MAP_MIN;
    if (exists && (size_t)st.st_size > self->lmap_bytes)
        self->lmap_bytes = (size_t)st.st_size;
    self->lwritemap = self->writemap;
    int rc = s_env_open(self);
    if (rc != 0 && self->lwritemap && (rc == ENOSPC || rc == EFBIG || rc == EDQUOT)) {
        store__log(STORE_LOG_WARN,
                   "store %s: cannot reserve %g MiB for lists.mdb's writable map (%s): "
                   "writing it through ordinary writes instead",
                   self->dir, self->lmap_bytes / 1048576.0, strerror(rc));
        self->lwritemap = 0;
        rc = s_env_open(self);
    }
    if (rc != 0) {
        store__log(STORE_LOG_ERROR, "store %s: opening lists.mdb: %s", self->dir, mdb_strerror(rc));
        return store__map_rc(rc);
    }
    MDB_envinfo info;
    if (mdb_env_info(self->lenv, &info) == 0)
        self->lmap_bytes = info.me_mapsize;
    return 0;
}

/* Empty both tables of lists.mdb. */
static int s_clear(store_txn_t *txn)
{
    int rc = 0;
    for (size_t i = 0; i < sizeof s_ltables / sizeof s_ltables[0] && rc == 0; i++)
        rc = mdb_drop(txn->ltxn, txn->store->dbi[s_ltables[i].dbi], 0);
    return rc;
}

/* Pages of table name of data.mdb (0 if it is missing). */
static size_t s_table_pages(store_txn_t *txn, const char *name, unsigned flags)
{
    MDB_dbi dbi;
    MDB_stat st;
    if (mdb_dbi_open(txn->txn, name, flags, &dbi) != 0 || mdb_stat(txn->txn, dbi, &st) != 0)
        return 0;
    return st.ms_branch_pages + st.ms_leaf_pages + st.ms_overflow_pages;
}

/* Copy table name of data.mdb (formats 1 to 3 kept the lists there) into
 * the same table of lists.mdb, in key order (appends), then drop it from
 * data.mdb. A missing table copies nothing. */
static int s_move_table(store_txn_t *txn, const char *name, unsigned flags, MDB_dbi to,
                        uint64_t *rows)
{
    MDB_dbi from;
    MDB_cursor *c = NULL, *w = NULL;
    MDB_val k, v;
    int64_t last_ms = 0;
    *rows = 0;
    int rc = mdb_dbi_open(txn->txn, name, flags, &from);
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc == 0)
        rc = mdb_cursor_open(txn->txn, from, &c);
    if (rc == 0)
        rc = mdb_cursor_open(txn->ltxn, to, &w);
    for (int op = MDB_FIRST; rc == 0; op = MDB_NEXT) {
        if ((rc = mdb_cursor_get(c, &k, &v, op)) != 0)
            break;
        rc = mdb_cursor_put(w, &k, &v, (flags & MDB_DUPSORT) ? MDB_APPENDDUP : MDB_APPEND);
        if (rc == 0 && ++*rows % 65536 == 0)
            store__progress(txn->store, &last_ms, 0,
                            "upgrading the store: %llu rows of %s moved to lists.mdb",
                            (unsigned long long)*rows, name);
    }
    if (c != NULL)
        mdb_cursor_close(c);
    if (w != NULL)
        mdb_cursor_close(w);
    if (rc == MDB_NOTFOUND)
        rc = mdb_drop(txn->txn, from, 1);
    return rc;
}

/* Why lists.mdb cannot be trusted, or NULL if it can. */
static const char *s_distrust(const store_t *self, const s_state_t *st, int found)
{
    if (!found)
        return "it holds no state (a new or foreign file)";
    if (!st->built)
        return "it was being rebuilt";
    if (st->commit_no != self->commit_no)
        return "it does not go with data.mdb's last commit (a stop between the two commits, or "
               "data.mdb replaced)";
    if (!st->clean && (self->boot_id[0] == '\0' || strcmp(st->boot, self->boot_id) != 0))
        return "the machine stopped since it was last written, before it was closed cleanly";
    return NULL;
}

int store__lists_init(store_txn_t *txn, int created, uint32_t version)
{
    store_t *self = txn->store;
    s_state_t st;
    int found = 0, rc = 0;
    if (self->lenv == NULL || !txn->write)
        return 0; /* read-only: store__lists_check_ro */
    for (size_t i = 0; i < sizeof s_ltables / sizeof s_ltables[0] && rc == 0; i++)
        rc = mdb_dbi_open(txn->ltxn, s_ltables[i].name, s_ltables[i].flags | MDB_CREATE,
                          &self->dbi[s_ltables[i].dbi]);
    if (rc == 0)
        rc = mdb_dbi_open(txn->ltxn, S_STATE_TABLE, MDB_CREATE, &self->lstate_dbi);
    if (rc == 0)
        rc = s_state_get(txn->ltxn, self->lstate_dbi, &st, &found);
    if (rc != 0)
        return store__txn_fail(txn, rc, __func__, "opening the tables of lists.mdb");
    self->lists_stale = 0;
    if (created)
        return s_clear(txn) == 0 ? 0 : STORE_EIO; /* empty lists are right for no entity */
    if (version <= 3) {
        uint64_t nl = 0, nm = 0;
        /* room for the copy first (appends fill their pages), and some:
         * growing a map means running the opening again */
        size_t pages =
            s_table_pages(txn, "lists", 0) + s_table_pages(txn, "list_members", MDB_DUPSORT);
        size_t psize = 4096;
        MDB_stat lst;
        if (mdb_env_stat(self->lenv, &lst) == 0)
            psize = lst.ms_psize;
        if ((pages + pages / 2 + 64) * psize > self->lmap_bytes) {
            txn->lmap_full = 1;
            self->lneed = (pages + pages / 2 + 64) * psize;
            return STORE_EFULL;
        }
        rc = s_clear(txn);
        if (rc == 0)
            rc = s_move_table(txn, "lists", 0, self->dbi[S_DBI_LISTS], &nl);
        if (rc == 0)
            rc = s_move_table(txn, "list_members", MDB_DUPSORT, self->dbi[S_DBI_LIST_MEMBERS], &nm);
        if (rc == MDB_MAP_FULL)
            txn->lmap_full = 1;
        if (rc != 0)
            return store__txn_fail(txn, rc, __func__, "moving the ranked lists to lists.mdb");
        store__log(STORE_LOG_INFO, "store %s: %llu lists and %llu membership rows moved to %s",
                   self->dir, (unsigned long long)nl, (unsigned long long)nm, self->lists_path);
        return 0;
    }
    const char *why = s_distrust(self, &st, found);
    if (why == NULL)
        return 0;
    store__log(STORE_LOG_WARN,
               "store %s: the ranked lists in lists.mdb cannot be used: %s; "
               "emptied, to be rebuilt from the entities",
               self->dir, why);
    if ((rc = s_clear(txn)) != 0)
        return store__txn_fail(txn, rc, __func__, "emptying lists.mdb");
    self->lists_stale = 1;
    return store__list_counters_reset(txn);
}

/* ---- write-back by the store (store_options_t.lists_writeback_ms) ---- */

#define S_LWB_SLICES 64

/* Wait until deadline or a stop; 1 when stopped (lwb_mu held). */
static int s_lwb_wait(store_t *self, const struct timespec *deadline)
{
    while (!self->lwb_stop &&
           pthread_cond_timedwait(&self->lwb_cv, &self->lwb_mu, deadline) != ETIMEDOUT)
        ;
    return self->lwb_stop;
}

/* The thread: start the write-back of a 64th of lists.mdb (the pages
 * not already under write-back), wait, the next 64th, and so on around
 * the file, its size read again at each turn (the map grows). Nothing
 * waits for the writes; an error is logged once and the sweep goes on:
 * the kernel writes the pages back in any case. */
static void *s_lwb_run(void *arg)
{
    store_t *self = arg;
    struct timespec next;
    int logged = 0;
    (void)clock_gettime(CLOCK_MONOTONIC, &next);
    (void)pthread_mutex_lock(&self->lwb_mu);
    for (unsigned i = 0;; i = (i + 1) % S_LWB_SLICES) {
        (void)pthread_mutex_unlock(&self->lwb_mu);
        struct stat st;
        off_t size = fstat(self->lwb_fd, &st) == 0 ? st.st_size : 0;
        off_t from = size / S_LWB_SLICES * i;
        off_t len = i + 1 < S_LWB_SLICES ? size / S_LWB_SLICES : size - from;
        if (len > 0 && sync_file_range(self->lwb_fd, from, len, SYNC_FILE_RANGE_WRITE) != 0 &&
            !logged++)
            store__log(STORE_LOG_WARN, "store %s: writing lists.mdb back: %s", self->dir,
                       strerror(errno));
        uint64_t step = (uint64_t)self->lwb_ms * 1000000u / S_LWB_SLICES;
        next.tv_sec += (time_t)(((uint64_t)next.tv_nsec + step) / 1000000000);
        next.tv_nsec = (long)(((uint64_t)next.tv_nsec + step) % 1000000000);
        struct timespec now;
        (void)clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec > next.tv_sec || (now.tv_sec == next.tv_sec && now.tv_nsec > next.tv_nsec))
            next = now; /* a slow write-back: on from here, not in a burst to catch up */
        (void)pthread_mutex_lock(&self->lwb_mu);
        self->lwb_sweeps += i + 1 == S_LWB_SLICES;
        if (s_lwb_wait(self, &next))
            break;
    }
    (void)pthread_mutex_unlock(&self->lwb_mu);
    return NULL;
}

/* Start the thread if asked for; a failure to is logged, and the kernel
 * writes the file back as it does without. */
static void s_lwb_start(store_t *self)
{
    if (self->lwb_ms == 0 || self->lwb_running)
        return;
    int rc = 0;
    if ((self->lwb_fd = open(self->lists_path, O_RDWR | O_CLOEXEC)) < 0)
        rc = errno;
    self->lwb_stop = 0;
    if (rc == 0 && (rc = pthread_create(&self->lwb_thread, NULL, s_lwb_run, self)) != 0)
        (void)close(self->lwb_fd);
    if (rc != 0) {
        store__log(STORE_LOG_WARN,
                   "store %s: cannot write lists.mdb back every %u ms (%s): left to the kernel",
                   self->dir, self->lwb_ms, strerror(rc));
        return;
    }
    self->lwb_running = 1;
    store__log(STORE_LOG_INFO,
               "store %s: lists.mdb written back by matcherd, all of it every %u ms", self->dir,
               self->lwb_ms);
}

static void s_lwb_end(store_t *self)
{
    if (!self->lwb_running)
        return;
    (void)pthread_mutex_lock(&self->lwb_mu);
    self->lwb_stop = 1;
    (void)pthread_cond_signal(&self->lwb_cv);
    (void)pthread_mutex_unlock(&self->lwb_mu);
    (void)pthread_join(self->lwb_thread, NULL);
    (void)close(self->lwb_fd);
    self->lwb_fd = -1;
    self->lwb_running = 0;
}

int store__lists_opened(store_t *self)
{
    if (self->lenv == NULL || self->read_only)
        return 0;
    self->lists_ready = 1; /* its tables open, its state written */
    s_lwb_start(self);
    int rc = mdb_env_sync(self->lenv, 1); /* "not clean" on disk before any other write */
    if (rc != 0)
        store__log(STORE_LOG_ERROR, "store %s: syncing lists.mdb: %s", self->dir, mdb_strerror(rc));
    return store__map_rc(rc);
}

/* ---- writing ---------------------------------------------------------- */

int store__lists_commit(store_txn_t *txn, uint64_t commit_no)
{
    store_t *self = txn->store;
    int rc = s_state_put(txn, commit_no, 0);
    if (rc == 0) {
        rc = mdb_txn_commit(txn->ltxn);
    } else {
        mdb_txn_abort(txn->ltxn);
    }
    txn->ltxn = NULL;
    if (rc != 0) {
        self->lists_broken = 1;
        store__log(STORE_LOG_ERROR,
                   "store %s: committing lists.mdb after data.mdb: %s; the ranked lists no "
                   "longer go with the store: writes refused until a restart rebuilds them",
                   self->dir, mdb_strerror(rc));
        return STORE_EIO;
    }
    return 0;
}

/* Pages of lists.mdb in use at the last commit, and its page size. */
static int s_used(store_t *self, size_t *pages, size_t *psize)
{
    MDB_envinfo info;
    MDB_stat st;
    if (mdb_env_info(self->lenv, &info) != 0 || mdb_env_stat(self->lenv, &st) != 0)
        return -1;
    *pages = info.me_last_pgno + 1;
    *psize = st.ms_psize;
    return 0;
}

size_t store__lists_need(store_t *self, uint64_t lwrites)
{
    size_t used, psize;
    if (self->lenv == NULL || self->read_only || s_used(self, &used, &psize) != 0)
        return 0;
    if (lwrites == 0) /* before a transaction: room for one of a quarter of it */
        return (2 * used + used / 2 + 64) * psize;
    /* A transaction takes a new page for each page it changes (each at
     * most once: at most every page in use, at most a path of four and a
     * list's overflow pages per write), one for each split (a split takes
     * half a page of new rows; a write adds at most a list, under 2 KiB
     * unless K is large), and the pages of the free-page list it saves at
     * commit (8 bytes per page freed). */
    size_t changed = 6 * (size_t)lwrites < used ? 6 * (size_t)lwrites : used;
    return (used + changed + (size_t)lwrites / 2 + changed / 256 + 16) * psize;
}

int store__lists_grow(store_t *self, size_t need)
{
    /* by a quarter at least, to 64 KiB: the blocks are reserved */
    size_t want = self->lmap_bytes + self->lmap_bytes / 4;
    if (want < need)
        want = need;
    want = (want + ((size_t)1 << 16) - 1) & ~(((size_t)1 << 16) - 1);
    if (!self->lreserved)
        want = self->lmap_bytes > need ? self->lmap_bytes : want;
    int rc = s_reserve(self, want);
    if (rc != 0) {
        store__log(STORE_LOG_ERROR, "store %s: cannot reserve %g MiB for lists.mdb: %s", self->dir,
                   want / 1048576.0, strerror(rc));
        return rc == ENOSPC || rc == EFBIG || rc == EDQUOT ? STORE_ENOSPC : STORE_EIO;
    }
    if (want == self->lmap_bytes)
        return 0;
    rc = mdb_env_set_mapsize(self->lenv, want);
    if (rc != 0) {
        store__log(STORE_LOG_ERROR, "store %s: lists.mdb: mdb_env_set_mapsize %zu: %s", self->dir,
                   want, mdb_strerror(rc));
        return store__map_rc(rc);
    }
    store__log(STORE_LOG_INFO, "store: lists.mdb's map grown from %g to %g MiB",
               self->lmap_bytes / 1048576.0, want / 1048576.0);
    self->lmap_bytes = want;
    return 0;
}

/* ---- reading ---------------------------------------------------------- */

/* data.mdb's commit number as read transaction t sees it. */
static int s_commit_no(store_t *self, MDB_txn *t, uint64_t *out)
{
    store_txn_t txn = {.store = self, .txn = t};
    return store__meta_get(&txn, STORE_META_COMMIT_NO, out);
}

int store__lists_read_begin(store_txn_t *txn, int retry)
{
    store_t *self = txn->store;
    txn->ltxn = NULL;
    if (self->lists_in_data) {
        txn->ltxn = txn->txn; /* a store of format 3 or older, read as it is */
        return 0;
    }
    if (self->lenv == NULL || (self->read_only && !self->lists_usable))
        return 0; /* lists read as empty */
    if (self->lists_broken)
        return STORE_EIO;
    for (long tries = 0;; tries++) {
        s_state_t st;
        uint64_t want = 0;
        int found = 0;
        int rc = mdb_txn_begin(self->lenv, NULL, MDB_RDONLY, &txn->ltxn);
        if (rc == 0)
            rc = s_state_get(txn->ltxn, self->lstate_dbi, &st, &found);
        if (rc == 0)
            rc = s_commit_no(self, txn->txn, &want);
        if (rc != 0) {
            if (txn->ltxn != NULL)
                mdb_txn_abort(txn->ltxn);
            txn->ltxn = NULL;
            store__log(STORE_LOG_ERROR, "store %s: reading lists.mdb: %s", self->dir,
                       mdb_strerror(rc));
            return store__map_rc(rc);
        }
        if (!found || st.commit_no == want || !retry || tries >= S_READ_TRIES)
            return 0;
        /* data.mdb a commit ahead: the writer is between its commits; or
         * lists.mdb ahead: both committed between the two begins */
        mdb_txn_abort(txn->ltxn);
        txn->ltxn = NULL;
        (void)sched_yield();
        mdb_txn_reset(txn->txn);
        if ((rc = mdb_txn_renew(txn->txn)) != 0)
            return store__map_rc(rc);
    }
}

void store__lists_read_end(store_txn_t *txn)
{
    if (txn->ltxn != NULL && txn->ltxn != txn->txn)
        mdb_txn_abort(txn->ltxn);
    txn->ltxn = NULL;
}

int store__lists_check_ro(store_t *self, MDB_txn *t)
{
    s_state_t st;
    int found = 0;
    MDB_txn *lt = NULL;
    self->lists_usable = 0;
    if (self->lenv == NULL)
        return 0;
    int rc = mdb_txn_begin(self->lenv, NULL, MDB_RDONLY, &lt);
    if (rc == 0) {
        for (size_t i = 0; i < sizeof s_ltables / sizeof s_ltables[0] && rc == 0; i++)
            rc = mdb_dbi_open(lt, s_ltables[i].name, s_ltables[i].flags,
                              &self->dbi[s_ltables[i].dbi]);
        if (rc == 0)
            rc = mdb_dbi_open(lt, S_STATE_TABLE, 0, &self->lstate_dbi);
        if (rc == 0)
            rc = s_state_get(lt, self->lstate_dbi, &st, &found);
        if (rc == 0)
            rc = s_commit_no(self, t, &self->commit_no);
        if (rc == 0)
            rc = mdb_txn_commit(lt); /* the table handles outlive it only so */
        else
            mdb_txn_abort(lt);
    }
    if (rc == MDB_NOTFOUND)
        rc = 0, found = 0;
    if (rc != 0)
        return store__map_rc(rc);
    /* read-only: another process may write it, in this boot; trust what
     * goes with data.mdb and was built whole */
    self->lists_usable = found && st.built && st.commit_no == self->commit_no;
    if (!self->lists_usable)
        store__log(STORE_LOG_INFO,
                   "store %s: lists.mdb is missing or does not go with data.mdb: ranked "
                   "lists read as empty (matcherd rebuilds them at its next start)",
                   self->dir);
    return 0;
}

/* ---- closing ---------------------------------------------------------- */

void store__lists_close(store_t *self)
{
    if (self->lenv == NULL)
        return;
    s_lwb_end(self);
    if (!self->read_only && !self->lists_broken && self->lists_ready) {
        store_txn_t txn = {.store = self};
        int rc = mdb_txn_begin(self->lenv, NULL, 0, &txn.ltxn);
        if (rc == 0)
            rc = mdb_env_sync(self->lenv, 1); /* every page written back first... */
        if (rc == 0 && (rc = s_state_put(&txn, self->commit_no, 1)) == 0)
            rc = mdb_txn_commit(txn.ltxn); /* ...then "clean" */
        else if (txn.ltxn != NULL)
            mdb_txn_abort(txn.ltxn);
        if (rc == 0)
            rc = mdb_env_sync(self->lenv, 1);
        if (rc != 0)
            store__log(STORE_LOG_WARN, "store %s: closing lists.mdb cleanly: %s", self->dir,
                       mdb_strerror(rc));
    }
    mdb_env_close(self->lenv);
    self->lenv = NULL;
    self->lstate_dbi = 0; /* the handles went with it */
    self->lists_ready = 0;
}

/* ---- public ----------------------------------------------------------- */

int store_lists_stale(const store_t *self)
{
    if (self == NULL)
        return 0;
    if (self->read_only) /* lists.mdb missing or not going with data.mdb */
        return !self->lists_in_data && !self->lists_usable;
    return self->lists_stale;
}

static int s_nothing(store_txn_t *txn, void *arg)
{
    (void)txn;
    (void)arg;
    return 0;
}

int store_lists_rebuilt(store_t *self)
{
    if (self == NULL || self->read_only)
        return STORE_EINVAL;
    if (!self->lists_stale)
        return 0;
    self->lists_stale = 0;
    int rc = store_write(self, s_nothing, NULL); /* a state record with "built" */
    if (rc == 0 && self->lenv != NULL && (rc = mdb_env_sync(self->lenv, 1)) != 0)
        rc = store__map_rc(rc);
    if (rc != 0)
        self->lists_stale = 1;
    return rc;
}
