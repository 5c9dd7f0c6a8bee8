/* store_backup.c - hot backups: a compacted copy of the environment,
 * written by a thread of its own while the owner goes on writing.
 *
 * mdb_env_copy2(MDB_CP_COMPACT) reads the environment in one read-only
 * transaction: the copy is the snapshot of the last commit before it
 * began, so every table in it agrees with every other. The environment is
 * opened with MDB_NOTLS, so a read transaction may live in a thread other
 * than the one that opened the env, alongside the owner's reused read txn
 * and its write transactions. The one thing that must not happen while the
 * copy's read txn is open is mdb_env_set_mapsize() ("no transactions
 * active in the process"): the map growth of store_write waits for the copy
 * to end (store__backup_wait), which stalls writes only if the map fills
 * during a backup.
 *
 * The copy is then synced, and opened read-only as a store (format check,
 * every table) to read its last sequence numbers: a backup that is
 * reported done is one that matcherd can start on.
 */
#define _GNU_SOURCE /* pipe2 */
#include "store_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct store_backup {
    store_t *store;
    char *dir;
    pthread_t thread;
    int pipe[2]; /* the thread writes one byte to [1] when done */
    pthread_mutex_t mu;
    pthread_cond_t cond;
    int copied; /* mdb_env_copy2 returned: the env's map may grow again */
    store_backup_result_t result;
};

static uint64_t s_mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static int s_fail(store_backup_result_t *r, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int s_fail(store_backup_result_t *r, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(r->why, sizeof r->why, fmt, ap);
    va_end(ap);
    r->rc = rc;
    return rc;
}

/* fsync path (a file or a directory). */
static int s_sync(const char *path, int dir)
{
    int fd = open(path, (dir ? O_RDONLY | O_DIRECTORY : O_RDWR) | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    int saved = errno;
    (void)close(fd); /* read-only or already synced: nothing to lose */
    errno = saved;
    return rc;
}

static int s_stats_fn(store_txn_t *txn, void *arg)
{
    return store_stats(txn, arg);
}

/* Open the copy read-only and read its counters into r. */
static int s_verify(const char *dir, store_backup_result_t *r)
{
    store_options_t ro = {.read_only = 1};
    store_stats_t st;
    int err = 0;
    store_t *copy = store_new(dir, &ro, &err);
    if (copy == NULL)
        return s_fail(r, err ? err : STORE_ECORRUPT, "the copy in %s does not open as a store: %s",
                      dir, store_strerror(err));
    int rc = store_read(copy, s_stats_fn, &st);
    store_destroy(&copy);
    if (rc != 0)
        return s_fail(r, rc, "reading the copy in %s: %s", dir, store_strerror(rc));
    r->bytes = st.file_bytes;
    r->events = st.events;
    r->matches = st.matches;
    return 0;
}

static void *s_run(void *arg)
{
    store_backup_t *b = arg;
    store_backup_result_t *r = &b->result;
    char path[4096];
    uint64_t t0 = s_mono_us();
    int rc = mdb_env_copy2(b->store->env, b->dir, MDB_CP_COMPACT);
    (void)pthread_mutex_lock(&b->mu);
    b->copied = 1;
    (void)pthread_cond_broadcast(&b->cond);
    (void)pthread_mutex_unlock(&b->mu);
    if (rc != 0) {
        (void)s_fail(r, rc == ENOSPC ? STORE_ENOSPC : STORE_EIO, "mdb_env_copy2 %s: %s", b->dir,
                     mdb_strerror(rc));
    } else {
        (void)snprintf(path, sizeof path, "%s/data.mdb", b->dir);
        if (s_sync(path, 0) != 0 || s_sync(b->dir, 1) != 0)
            (void)s_fail(r, errno == ENOSPC ? STORE_ENOSPC : STORE_EIO, "fsync %s: %s", path,
                         strerror(errno));
        else
            (void)s_verify(b->dir, r);
    }
    r->duration_us = s_mono_us() - t0;
    char one = 1;
    while (write(b->pipe[1], &one, 1) < 0 && errno == EINTR)
        ;
    return NULL;
}

/* mkdir -p path, mode 0700 for what it creates. */
static int s_mkdirs(const char *path)
{
    char buf[4096];
    size_t len = strlen(path);
    if (len >= sizeof buf)
        return -1;
    memcpy(buf, path, len + 1);
    for (size_t i = 1; i <= len; i++) {
        if (buf[i] != '/' && buf[i] != '\0')
            continue;
        char c = buf[i];
        buf[i] = '\0';
        if (mkdir(buf, 0700) != 0 && errno != EEXIST)
            return -1;
        buf[i] = c;
    }
    struct stat st;
    if (stat(path, &st) != 0)
        return -1;
    if (!S_ISDIR(st.st_mode)) {
        errno = ENOTDIR;
        return -1;
    }
    return 0;
}

/* The checks made before the thread starts: an absolute directory that
 * exists or can be made, and holds no store. */
static int s_check_dir(const char *dir, char *why, size_t why_len)
{
    char path[4096];
    if (dir == NULL || dir[0] != '/') {
        (void)snprintf(why, why_len, "the backup directory must be an absolute path, not '%s'",
                       dir ? dir : "");
        return STORE_EINVAL;
    }
    if (strlen(dir) > 3000) {
        (void)snprintf(why, why_len, "the backup directory's path is too long");
        return STORE_EINVAL;
    }
    if (s_mkdirs(dir) != 0) {
        (void)snprintf(why, why_len, "cannot create %s: %s", dir, strerror(errno));
        return errno == ENOSPC ? STORE_ENOSPC : STORE_EIO;
    }
    static const char *const held[] = {"data.mdb", "lock.mdb", "matcherd.lock"};
    for (size_t i = 0; i < sizeof held / sizeof held[0]; i++) {
        (void)snprintf(path, sizeof path, "%s/%s", dir, held[i]);
        if (access(path, F_OK) == 0) {
            (void)snprintf(why, why_len, "%s already holds a store (%s); choose an empty directory",
                           dir, held[i]);
            return STORE_EINVAL;
        }
    }
    return 0;
}

store_backup_t *store_backup_start(store_t *self, const char *dir, char *why, size_t why_len,
                                   int *err)
{
    int rc = STORE_EINVAL;
    store_backup_t *b = NULL;
    why[0] = '\0';
    if (self == NULL || self->read_only) {
        (void)snprintf(why, why_len, "no writable store to back up");
        goto fail;
    }
    if (self->backup != NULL) {
        (void)snprintf(why, why_len, "a backup is already running (to %s)", self->backup->dir);
        rc = STORE_EBUSY;
        goto fail;
    }
    if ((rc = s_check_dir(dir, why, why_len)) != 0)
        goto fail;
    rc = STORE_ENOMEM;
    if ((b = calloc(1, sizeof *b)) == NULL || (b->dir = strdup(dir)) == NULL) {
        (void)snprintf(why, why_len, "out of memory");
        goto fail_free;
    }
    b->store = self;
    b->pipe[0] = b->pipe[1] = -1;
    if (pipe2(b->pipe, O_CLOEXEC | O_NONBLOCK) != 0) {
        (void)snprintf(why, why_len, "pipe: %s", strerror(errno));
        rc = STORE_EIO;
        goto fail_free;
    }
    (void)pthread_mutex_init(&b->mu, NULL);
    (void)pthread_cond_init(&b->cond, NULL);
    int prc = pthread_create(&b->thread, NULL, s_run, b);
    if (prc != 0) {
        (void)snprintf(why, why_len, "pthread_create: %s", strerror(prc));
        (void)pthread_cond_destroy(&b->cond);
        (void)pthread_mutex_destroy(&b->mu);
        rc = STORE_EIO;
        goto fail_free;
    }
    self->backup = b;
    if (err != NULL)
        *err = 0;
    return b;
fail_free:
    if (b != NULL) {
        if (b->pipe[0] >= 0)
            (void)close(b->pipe[0]);
        if (b->pipe[1] >= 0)
            (void)close(b->pipe[1]);
        free(b->dir);
        free(b);
    }
fail:
    store__log(STORE_LOG_WARN, "store: backup refused: %s", why);
    if (err != NULL)
        *err = rc;
    return NULL;
}

int store_backup_fd(const store_backup_t *b)
{
    return b != NULL ? b->pipe[0] : -1;
}

const char *store_backup_dir(const store_backup_t *b)
{
    return b != NULL ? b->dir : "";
}

int store_backup_finish(store_backup_t **b_p, store_backup_result_t *out)
{
    if (b_p == NULL || *b_p == NULL)
        return STORE_EINVAL;
    store_backup_t *b = *b_p;
    (void)pthread_join(b->thread, NULL); /* joinable, joined once: cannot fail */
    if (out != NULL)
        *out = b->result;
    int rc = b->result.rc;
    b->store->backup = NULL;
    (void)close(b->pipe[0]);
    (void)close(b->pipe[1]);
    (void)pthread_cond_destroy(&b->cond);
    (void)pthread_mutex_destroy(&b->mu);
    free(b->dir);
    free(b);
    *b_p = NULL;
    return rc;
}

void store__backup_wait(store_t *self)
{
    store_backup_t *b = self->backup;
    if (b == NULL)
        return;
    (void)pthread_mutex_lock(&b->mu);
    if (!b->copied)
        store__log(STORE_LOG_WARN,
                   "store: the map must grow while a backup to %s is being copied; writes wait "
                   "for the copy to end",
                   b->dir);
    while (!b->copied)
        (void)pthread_cond_wait(&b->cond, &b->mu);
    (void)pthread_mutex_unlock(&b->mu);
}
