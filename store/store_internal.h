/* store_internal.h - what the files of store/ share and nobody else sees.
 *
 * The definitions of struct store and struct store_txn, the table (DBI)
 * numbering, the meta keys, and the few helpers that more than one file of
 * the module needs: logging, LMDB error mapping, counters, key checks and
 * the entity-indexing functions of store_index.c. Functions here use the
 * store__ prefix (module-private, not static); file-local ones are s_*.
 *
 * On-disk layout (STORE_FORMAT_VERSION 5): data.mdb, durable, and
 * lists.mdb for the two tables of ranked lists (store_listfile.c):
 *   meta          "format" -> u32 LE; "graduates", "graduates_open",
 *                 "vacancies", "vacancies_open", "last_seq",
 *                 "vacancy_lists", "graduate_lists", "match_last",
 *                 "commit_no" (write transactions committed),
 *                 "topics_upto" (the match the saved topics cover) -> u64 LE;
 *                 "s:" + name -> string bytes (store_meta_put_str);
 *                 "t:" + feed topic -> u64 LE, its last match as saved
 *                 (store_topic_put)
 *   graduates     id bytes -> store_codec graduate record
 *   vacancies     id bytes -> store_codec vacancy record
 *   ix_v_expiry   (MDB_DUPSORT) store_day_key() -> vacancy id bytes
 *   dedupe        source '\0' event_id -> u64 LE sequence number
 *   events        (MDB_INTEGERKEY) u64 native seq -> store_codec log record
 *   entity_events (MDB_DUPSORT|MDB_DUPFIXED|MDB_INTEGERDUP)
 *                 kind byte ('g'/'v') + id bytes -> u64 native seq
 *   matches       (MDB_INTEGERKEY) u64 native seq -> store_codec match record
 *   match_blocks  u64 BE block + u32 BE hash of a graduate id -> u16 LE
 *                 offsets in the block of the matches naming such an id
 *                 (the match log's index for erasure, store_match.c)
 * Format 1 had eight more tables, per-code and 0.25-degree-cell indexes
 * that nothing read (ix_g_skill, ix_g_cert, ix_g_cell, ix_g_rome,
 * ix_v_skill, ix_v_cert, ix_v_rome, ix_v_cell); store.c drops them when it
 * upgrades a format-1 store. Formats 1 and 2 indexed the match log by
 * graduate, one row per match (match_by_graduate: graduate id -> u64
 * native seq, MDB_DUPSORT|MDB_DUPFIXED|MDB_INTEGERDUP); the upgrade to
 * format 3 drops it and builds match_blocks from the log. Formats 1 to 4
 * kept the places index on disk too (ix_g_near, ix_v_near, MDB_DUPSORT:
 * store_near_key() -> entity id bytes), written by every put and read by
 * nothing but walks of stores without it in memory; the upgrade to format
 * 5 drops both: the index lives in memory only (store_near.c).
 * lists.mdb (formats 1 to 3 had its two tables in data.mdb):
 *   lists         kind byte + owner id bytes -> store_codec list record
 *   list_members  (MDB_DUPSORT) owner-kind byte + member id bytes -> owner
 *                 id bytes: "whose lists of this kind hold this member"
 *   state         "lists" -> the data.mdb commit it goes with, built,
 *                 closed cleanly, boot id (store_listfile.c)
 */
#ifndef STORE_INTERNAL_H
#define STORE_INTERNAL_H

#include <lmdb.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"

/* Most keys of the places index one record has: a vacancy's required and desirable
 * skills, RNCP and ROME codes. */
#define STORE_NEAR_KEYS_MAX (2 * STORE_SKILLS_MAX + STORE_RNCPS_MAX + STORE_ROMES_MAX)

/* INTEGERKEY/INTEGERDUP values are size_t-sized: we store uint64_t. */
_Static_assert(sizeof(size_t) == sizeof(uint64_t), "store needs a 64-bit size_t");

/* Tables. The first STORE_IX_COUNT entries are the indexes, in the order of
 * store_index_t, so that an index number is also its table number. */
enum {
    S_DBI_META = STORE_IX_COUNT,
    S_DBI_GRADUATES,
    S_DBI_VACANCIES,
    S_DBI_DEDUPE,
    S_DBI_EVENTS,
    S_DBI_ENTITY_EVENTS,
    S_DBI_LISTS,
    S_DBI_LIST_MEMBERS,
    S_DBI_MATCHES,
    S_DBI_MATCH_BLOCKS,
    S_DBI_COUNT
};

/* Longest dedupe key: source + '\0' + event_id. */
#define STORE_DEDUPE_KEY_MAX 401

/* Longest kind byte + id key (entity_events, lists, list_members). */
#define STORE_ENTITY_KEY_MAX (1 + STORE_ID_MAX)

/* Meta keys (stored without their NUL). */
#define STORE_META_FORMAT         "format"
#define STORE_META_GRADUATES      "graduates"
#define STORE_META_GRADUATES_OPEN "graduates_open"
#define STORE_META_VACANCIES      "vacancies"
#define STORE_META_VACANCIES_OPEN "vacancies_open"
#define STORE_META_LAST_SEQ       "last_seq"
#define STORE_META_VACANCY_LISTS  "vacancy_lists"
#define STORE_META_GRADUATE_LISTS "graduate_lists"
#define STORE_META_MATCH_LAST     "match_last"
#define STORE_META_COMMIT_NO      "commit_no"
#define STORE_META_TOPICS_UPTO    "topics_upto"
#define STORE_META_TOPIC          "t:" /* + topic: its last sequence (store_topic_put) */

/* A meta row's key: prefix + name into buf (room for both), STORE_EINVAL
 * unless name has 1..max bytes. */
int store__meta_key(const char *prefix, const char *name, size_t max, char *buf, MDB_val *key);

/* What a cached head says of its entity (store__hent_t.head_state). */
enum { STORE__HEAD_UNKNOWN = 0, STORE__HEAD_PRESENT = 1, STORE__HEAD_ABSENT = 2 };

/* One cached head (store_entity.c): an entity's leading fields, or the
 * fact that it does not exist, as the last committed state (plus the
 * writes of the running transaction) says. */
typedef struct {
    uint32_t hash;
    uint32_t logged; /* number of the write transaction that logged it (store__heads_t.txn_no) */
    uint32_t id_off; /* into store__heads_t.ids */
    uint8_t id_len;
    uint8_t kind;
    uint8_t head_state; /* S_HEAD_*: unknown, present, absent (no such record) */
    uint8_t list_known; /* list is the meta of its stored ranked list */
    store_list_meta_t list;
    store_head_t head;
} store__hent_t;

/* The old value of an entry whose head the running write transaction
 * changed (once per entry and transaction). */
typedef struct {
    uint32_t idx;
    store__hent_t old;
} store__hundo_t;

/* The old list meta of an entry whose ranked list the running write
 * transaction changed: a transaction at 1M x 200k changes the lists of
 * some 150,000 entities and the heads of about 1,000, so a list change
 * keeps 16 bytes instead of a whole entry. Kept at every change (an entry
 * may appear more than once; the oldest, replayed last, wins). */
typedef struct {
    uint32_t idx;
    uint8_t list_known;
    store_list_meta_t list;
} store__lundo_t;

/* The in-memory cache of heads: an open-addressing table of entry indexes
 * over a dense array of entries, ids packed in one arena. Filled on read
 * and on every write. A write transaction logs the entries it changes and
 * where the arrays ended when it began (store__heads_begin): when it does
 * not commit, store__heads_rollback puts them back, so the cache never
 * holds what the store does not. Never persisted. An entry's index is its
 * entity number: entries stay where they are until the cache is reset
 * (store__reopen, store_destroy), which the in-memory posting lists
 * (store_near.c) rely on. */
typedef struct {
    store__hent_t *e;
    size_t n, cap;
    uint32_t *slots; /* entry index + 1, 0 = empty */
    size_t n_slots;  /* power of two */
    char *ids;
    size_t ids_len, ids_cap;
    uint64_t hits, misses;
    int logging;                   /* a write transaction is running: log changes */
    uint32_t txn_no;               /* number of the last write transaction begun */
    size_t n0, ids_len0, n_slots0; /* n, ids_len, n_slots when it began */
    store__hundo_t *undo;
    size_t n_undo, cap_undo;
    store__lundo_t *lundo;
    size_t n_lundo, cap_lundo;
    int undo_lost; /* an undo record could not be kept: a rollback must reset */
} store__heads_t;

/* One in-memory posting list: the entity numbers (store__heads_t.e
 * indexes) of the open entities under one key of the places index, in no
 * order. */
#define STORE__PLIST_INLINE 2 /* postings kept in the list itself, without an allocation */

typedef struct {
    union {
        uint32_t *v;                       /* cap > STORE__PLIST_INLINE */
        uint32_t inl[STORE__PLIST_INLINE]; /* cap == STORE__PLIST_INLINE */
    } u;
    uint32_t n, cap;
    uint32_t key_off; /* into store__near_side_t.keys */
    uint32_t hash;
    uint8_t key_len;
} store__plist_t;

/* The posting lists of one kind of entity: a table of list indexes by key
 * over a dense array of lists, keys packed in one arena. */
typedef struct {
    store__plist_t *l;
    size_t n, cap;
    uint32_t *slots; /* list index + 1, 0 = empty */
    size_t n_slots;  /* power of two */
    uint8_t *keys;
    size_t keys_len, keys_cap;
    uint64_t postings;
} store__near_side_t;

/* One posting added or removed by the running write transaction. A
 * removal moved the list's last entry to pos. */
typedef struct {
    uint8_t add;
    uint8_t side;
    uint32_t list, pos, num;
} store__nundo_t;

/* Where an entity of the in-memory lists lies, and the hard filters a
 * walk can apply beside it, for a walk to skip it without reading its
 * head, in 16 bytes (four to a cache line): its point, the cosine of its
 * latitude, its own distance limit in km (STORE__NGEO_NO_LIMIT: none, or
 * one too large to keep), its contract types folded to 8 bits
 * (store__ngeo_contracts) and its licence (a graduate holds one, a
 * vacancy requires one). */
typedef struct {
    float lat, lon, coslat;
    uint16_t limit_km;
    uint8_t contracts;
    uint8_t licence;
} store__ngeo_t;

#define STORE__NGEO_NO_LIMIT 0xffff

/* A set of contract types c (store_near_from_t.contracts) in 8 bits: its first eight bits, or all
 * eight if it has any beyond them. Two sets that meet still meet so
 * folded: a walk never leaves out an entity that the engine would take. */
static inline uint8_t store__ngeo_contracts(uint32_t c)
{
    return (c >> 8) ? 0xff : (uint8_t)c;
}

/* The place of an entity number before the running write transaction
 * changed it. */
typedef struct {
    uint32_t num;
    store__ngeo_t old;
} store__ngundo_t;

/* The places index (store_near.c), in memory only: complete for the open
 * entities, exact inside a write transaction and back to the committed
 * state when it does not commit. ready is 0 when it is not kept: a
 * read-only store, which walks nothing, or a writable one whose lists
 * were lost for want of memory (wanted then says to build them again
 * before the next write transaction). */
typedef struct {
    int ready;
    int wanted;                 /* a writable store that has opened: must be ready to write */
    store__near_side_t side[2]; /* 0: graduates, 1: vacancies */
    store_near_seen_t seen;     /* of walks given none */
    store__ngeo_t *geo;         /* per entity number with postings */
    size_t geo_cap;
    int logging;
    store__nundo_t *undo;
    size_t n_undo, cap_undo;
    store__ngundo_t *gundo;
    size_t n_gundo, cap_gundo;
    uint32_t olds[STORE_NEAR_KEYS_MAX], news[STORE_NEAR_KEYS_MAX]; /* scratch: list indexes */
} store__near_t;

struct store {
    MDB_env *env;
    MDB_dbi dbi[S_DBI_COUNT]; /* lists and list_members: handles of lenv */
    MDB_env *lenv;            /* lists.mdb (store_listfile.c), NULL if none */
    MDB_dbi lstate_dbi;       /* its state table */
    char *lists_path;
    char *lists_dir; /* store_options_t.lists_dir, NULL: dir */
    int lbind_fd;    /* flock()ed lists_dir/lists.store, -1 if none */
    size_t lmap_bytes;
    int lwritemap; /* lists.mdb through a writable map (as writemap, unless no room) */
    int lreserved; /* its blocks are reserved up to lmap_bytes */
    /* Its write-back by the store (store_options_t.lists_writeback_ms):
     * a thread with a descriptor of its own, stopped under lwb_mu. */
    unsigned lwb_ms;
    int lwb_running, lwb_stop, lwb_fd;
    uint64_t lwb_sweeps;
    pthread_t lwb_thread;
    pthread_mutex_t lwb_mu;
    pthread_cond_t lwb_cv;
    size_t lneed;         /* the map a transaction found lists.mdb short of */
    int lists_stale;      /* lists.mdb was emptied, to be rebuilt (store_lists_stale) */
    int lists_broken;     /* its commit failed after data.mdb's: no more writes */
    int lists_usable;     /* read-only: lists.mdb goes with data.mdb */
    int lists_ready;      /* the opening transaction wrote its state (store__lists_opened) */
    int lists_in_data;    /* read-only, format 3 or older: the lists are in data.mdb */
    uint32_t version;     /* the format version the store was opened at */
    int upgrade_warned;   /* the upgrade's warning was logged */
    const char *boot_opt; /* store_options_t.boot_id (the caller's) */
    uint64_t commit_no;   /* data.mdb's meta "commit_no" as last committed */
    char boot_id[STORE_BOOT_ID_MAX + 1];
    char *dir;
    char *data_path; /* dir/data.mdb, for stat() */
    int lock_fd;     /* flock()ed matcherd.lock, -1 if none */
    int read_only;
    int writemap;         /* opened with MDB_WRITEMAP: growth preallocates */
    int in_txn;           /* a store_read/store_write is running */
    size_t map_bytes;     /* current map size */
    size_t map_max_bytes; /* growth limit */
    uint64_t txn_writes;  /* store_txn_full past this many writes */
    void (*progress)(const char *status, void *arg); /* store_options_t's */
    void *progress_arg;
    void (*vacancy_skills)(const store_vacancy_t *v, store_head_t *h, void *arg); /* options' */
    void *vacancy_skills_arg;
    unsigned maxkey; /* mdb_env_get_maxkeysize() */
    MDB_txn *rtxn;   /* reusable read txn, reset between uses */
    /* Scratch space for the old record in put/erase: a store_t is used by
     * one thread and its functions do not nest, so one of each suffices
     * and saves 10-20 KB of stack or a malloc per event. */
    store_graduate_t old_g;
    store_vacancy_t old_v;
    store_list_t old_l;      /* the stored list in store_list_put / erasure */
    store_list_t meta_l;     /* a list read for its meta (store_list_meta) */
    store_graduate_t head_g; /* a record decoded to fill the cache of heads */
    store_vacancy_t head_v;
    store__heads_t heads; /* cache of entity heads (store_entity.c) */
    store__near_t near;   /* the places index, in memory (store_near.c) */
    uint8_t near_kbuf[STORE_NEAR_KEYS_MAX * STORE_NEAR_KEY_MAX]; /* a record's keys */
    uint8_t near_klens[STORE_NEAR_KEYS_MAX];
    struct store_backup *backup; /* the backup running, or NULL (store_backup.c) */
    /* store_read_shared readers, counted so that a growth of the map can
     * wait for them to end (store_lists_beside_readers) */
    pthread_mutex_t gate_mu;
    pthread_cond_t gate_cv;
    unsigned shared_readers;
    int growing;
    int lists_beside; /* store_lists_beside_readers: the list meta cache is left alone */
};

struct store_txn {
    store_t *store;
    MDB_txn *txn;
    MDB_txn *ltxn;           /* lists.mdb's transaction beside txn, NULL if none */
    int lmap_full;           /* an operation hit MDB_MAP_FULL in lists.mdb */
    uint64_t lwrites;        /* of the writes, those to lists.mdb */
    int write;               /* a write transaction */
    int shared;              /* a store_read_shared transaction: caches are left alone */
    int map_full;            /* an operation hit MDB_MAP_FULL */
    int err;                 /* first failure that poisoned txn, else 0 */
    int64_t list_entries[2]; /* change of the lists' entry counts (vacancy, graduate), written
                              * to meta once, before commit (store__list_entries_flush) */
    uint64_t match_last;     /* meta "match_last" as this txn sees it, when match_last_known */
    int match_last_known;    /* match_last read (or written) in this txn */
    int match_last_dirty;    /* match_last to be written to meta before commit */
    uint64_t writes;         /* B-tree puts and deletes so far, but appends */
    uint64_t append_bytes;   /* bytes appended to the logs (MDB_APPEND) so far */
};

/* mdb_put and mdb_del in txn, counted in txn->writes, or for an append in
 * txn->append_bytes: appends fill the last page of a log one after the
 * other, so that a page holds several of them. Every write of a write
 * transaction goes through these (or counts itself, as a cursor delete
 * does), so that store_txn_writes bounds the pages it dirtied. */
static inline int store__put(store_txn_t *txn, MDB_dbi dbi, MDB_val *key, MDB_val *val,
                             unsigned flags)
{
    if (flags & MDB_APPEND)
        txn->append_bytes += key->mv_size + val->mv_size + 8; /* 8: LMDB's node header */
    else
        txn->writes++;
    return mdb_put(txn->txn, dbi, key, val, flags);
}

/* store__put and store__del on a table of lists.mdb (S_DBI_LISTS,
 * S_DBI_LIST_MEMBERS), through txn->ltxn. Counted like the others: they
 * bound the transaction's dirty pages in the map all the same. */
static inline int store__lput(store_txn_t *txn, MDB_dbi dbi, MDB_val *key, MDB_val *val,
                              unsigned flags)
{
    txn->writes++;
    txn->lwrites++;
    int rc = mdb_put(txn->ltxn, dbi, key, val, flags);
    txn->lmap_full |= rc == MDB_MAP_FULL;
    return rc;
}

static inline int store__ldel(store_txn_t *txn, MDB_dbi dbi, MDB_val *key, MDB_val *val)
{
    txn->writes++;
    txn->lwrites++;
    return mdb_del(txn->ltxn, dbi, key, val);
}

/* Whether table dbi (an S_DBI_* value) is in lists.mdb (since format 4). */
static inline int store__dbi_in_lists(int dbi)
{
    return dbi == S_DBI_LISTS || dbi == S_DBI_LIST_MEMBERS;
}

/* The LMDB transaction that holds table dbi (an S_DBI_* value). */
static inline MDB_txn *store__txn_of(const store_txn_t *txn, int dbi)
{
    return store__dbi_in_lists(dbi) ? txn->ltxn : txn->txn;
}

static inline int store__del(store_txn_t *txn, MDB_dbi dbi, MDB_val *key, MDB_val *val)
{
    txn->writes++;
    return mdb_del(txn->txn, dbi, key, val);
}

/* An undo log v of *cap records of size bytes, n in use, with room for one
 * more: v itself, or v doubled (*cap updated). NULL if memory is short (v
 * is left as it was). */
void *store__log_room(void *v, size_t *cap, size_t n, size_t size);

/* Meta "match_last" as txn sees it (cached in the txn after the first
 * read), and the write of a new value, deferred to
 * store__match_last_flush() before commit: one meta read and one write
 * per transaction instead of one each per appended match. */
int store__match_last_get(store_txn_t *txn, uint64_t *last);
int store__match_last_flush(store_txn_t *txn);

/* Log one line through the configured logger. */
void store__log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Map an LMDB or errno code to a STORE_E* code (0 stays 0). */
int store__map_rc(int rc);

/* An LMDB call failed inside txn: log "store: <func>: <what>: <reason>",
 * remember that txn can now only be aborted (and whether the map was full,
 * so that store_write grows it) and return the STORE_E* code. Never call it
 * for MDB_NOTFOUND / MDB_KEYEXIST results the caller expects. */
int store__txn_fail(store_txn_t *txn, int rc, const char *func, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* STORE_EINVAL (logged) unless txn is a write transaction; the first
 * error of txn (not logged again) if an operation in it already failed. */
int store__need_write(store_txn_t *txn, const char *func) STORE_WUR;

/* 0 if key is a usable LMDB key (1..maxkey bytes), else STORE_EINVAL. */
int store__key_ok(const store_txn_t *txn, size_t len);

/* kind byte + id into buf, *key pointing at it. STORE_EINVAL unless id has
 * 1..STORE_ID_MAX bytes (kind is not checked). */
int store__entity_key(char kind, const char *id, uint8_t buf[STORE_ENTITY_KEY_MAX], MDB_val *key);

/* Empty the cache of entity heads and free its memory (store__reopen,
 * store_destroy, a rollback that lost its undo records). Entity numbers
 * change: the caller frees the in-memory posting lists too. */
void store__heads_reset(store_t *self);

/* A write transaction begins: log what it changes in the cache. */
void store__heads_begin(store_t *self);

/* It committed: forget the log. */
void store__heads_commit(store_t *self);

/* It aborted or failed to commit: put the cache back as it was when it
 * began. Returns 1 if that could only be done by resetting it (an undo
 * record was lost to a failed allocation), 0 otherwise. */
int store__heads_rollback(store_t *self);

/* The entity number (cache entry index) of (kind, id), -1 if it has none. */
long store__heads_num(store_t *self, char kind, const char *id, size_t len);

/* Room for n entries in the cache of heads, so that filling it with a
 * known number of entities does not leave a grown array's slack. */
void store__heads_reserve(store_t *self, size_t n);

/* Cache the head of every open entity of kind (a scan of its records),
 * *n_open counting them. For building the in-memory posting lists. */
int store__heads_fill_open(store_txn_t *txn, char kind, size_t *n_open) STORE_WUR;

/* The cached meta of the ranked list of (kind, id): 1 and *out if known,
 * else 0. */
int store__heads_list_get(store_t *self, char kind, const char *id, store_list_meta_t *out);

/* The meta of list l. */
static inline void store__list_meta_of(const store_list_t *l, store_list_meta_t *out)
{
    out->n = l->n;
    out->exhaustive = l->exhaustive;
    out->last_micro = l->n > 0 ? l->e[l->n - 1].micro : 0;
}

/* Cache the meta of l, now the stored ranked list of (kind, id). */
void store__heads_list_set(store_t *self, char kind, const char *id, const store_list_t *l);

/* Forget the list meta of every entry (no transaction running). */
void store__heads_lists_forget(store_t *self);

/* Cache the list meta of every entity in the cache of heads from the
 * stored lists (a scan of them; no row: an empty list), so that walks hand
 * it over from the start instead of once each list has been read. Outside
 * write transactions (at open), with no change logged. */
int store__heads_lists_fill(store_txn_t *txn) STORE_WUR;

/* Name of table dbi (an S_DBI_* or store_index_t value), for log lines. */
const char *store__table_name(int dbi);

/* Read meta counter name into *value (0 if absent). */
int store__meta_get(store_txn_t *txn, const char *name, uint64_t *value) STORE_WUR;

/* Store value under meta counter name. */
int store__meta_put(store_txn_t *txn, const char *name, uint64_t value) STORE_WUR;

/* Add delta to meta counter name; a result below zero is logged (the
 * counters disagree with the tables) and clamped to 0. */
int store__meta_add(store_txn_t *txn, const char *name, int64_t delta) STORE_WUR;

/* Close the environment (no transaction may be open) and open it again
 * from the files in the store's directory, tables and all. For
 * store_scrub, after it replaced data.mdb. Returns 0 or a STORE_E* code;
 * on failure self->env is NULL. */
int store__reopen(store_t *self) STORE_WUR;

/* ---- store_listfile.c: lists.mdb ------------------------------------- */

/* Open (or create) dir/lists.mdb beside the open data.mdb; a read-only
 * store without one reads the lists as empty. boot_id: store_options_t's. */
int store__lists_open(store_t *self, const char *boot_id) STORE_WUR;

/* Remove path and path-lock, an LMDB environment opened MDB_NOSUBDIR (as
 * lists.mdb and its copies are); absent is fine. */
void store__env_unlink(const char *path);

/* In the opening write transaction, after data.mdb's tables: open those
 * of lists.mdb; on a store of version 3 or older, move the lists there;
 * else decide whether lists.mdb can be trusted, and if not, empty it and
 * set self->lists_stale (the lists' counters in meta reset). */
int store__lists_init(store_txn_t *txn, int created, uint32_t version) STORE_WUR;

/* After the opening transaction committed: sync lists.mdb, marked as not
 * closed cleanly, before any other write. */
int store__lists_opened(store_t *self) STORE_WUR;

/* data.mdb committed as commit commit_no: write lists.mdb's state record
 * naming it, and commit txn->ltxn. A failure leaves the two files apart:
 * self->lists_broken is set and every later write refused. */
int store__lists_commit(store_txn_t *txn, uint64_t commit_no) STORE_WUR;

/* The map lists.mdb must have: before a transaction (lwrites 0), twice
 * what it uses; before data.mdb's commit, room for what a transaction of
 * lwrites writes to lists.mdb can take, so that lists.mdb's commit, which
 * follows data.mdb's, never finds its map full. 0 if nothing is needed. */
size_t store__lists_need(store_t *self, uint64_t lwrites);

/* Grow lists.mdb's map (doubling) to at least need bytes, its blocks
 * reserved; between transactions, with no reader in it. Also reserves an
 * unreserved map (self->lreserved). */
int store__lists_grow(store_t *self, size_t need) STORE_WUR;

/* Begin txn->ltxn beside the read transaction txn->txn (NULL when the
 * lists read as empty). retry: a reader of another thread than the
 * writer's, which may begin between the writer's two commits, begins
 * both again until they go together. */
int store__lists_read_begin(store_txn_t *txn, int retry) STORE_WUR;
void store__lists_read_end(store_txn_t *txn);

/* Read-only store: open lists.mdb's tables and tell whether it goes with
 * data.mdb as read transaction t sees it (self->lists_usable). */
int store__lists_check_ro(store_t *self, MDB_txn *t) STORE_WUR;

/* Sync lists.mdb, mark it closed cleanly, sync again, close it. */
void store__lists_close(store_t *self);

/* ---- store_list.c ------------------------------------------------------ */

/* Set the lists' counters in meta to zero (lists.mdb emptied). */
int store__list_counters_reset(store_txn_t *txn) STORE_WUR;

/* ---- store_index.c: entity index entries ------------------------------ */

/* Move a vacancy's expiry entry from its record was (NULL: it had none,
 * not open or new) to its record is (NULL: it will have none), if its day
 * changed. Deleting an entry that is not there is not an error. */
int store__vacancy_expiry(store_txn_t *txn, const store_vacancy_t *was,
                          const store_vacancy_t *is) STORE_WUR;

/* Remove id from every key of the n indexes ixs[] by scanning them whole.
 * Only for erasing an entity whose record no longer decodes, so that its
 * id leaves no trace; *removed counts the entries deleted. */
int store__index_sweep(store_txn_t *txn, const store_index_t *ixs, size_t n, const char *id,
                       size_t *removed) STORE_WUR;

/* Delete the duplicate id under every key of DUPSORT table dbi that starts
 * with the plen bytes of prefix (plen 0: every key), by scanning those
 * keys. For records that no longer decode only; *removed counts. */
int store__dup_sweep(store_txn_t *txn, int dbi, const void *prefix, size_t plen, const char *id,
                     size_t *removed) STORE_WUR;

/* The keys of a record in the places index (none if it has no point), end to end in
 * buf (STORE_NEAR_KEYS_MAX * STORE_NEAR_KEY_MAX bytes), their lengths in
 * lens; returns their number. A code listed twice gives its key twice. */
size_t store__near_keys_graduate(const store_graduate_t *g, uint8_t *buf, uint8_t *lens);
size_t store__near_keys_vacancy(const store_vacancy_t *v, uint8_t *buf, uint8_t *lens);

/* ---- store_near.c: the places index, in memory ---------------------------- */

/* Build it from the open records (their heads, and their keys as the puts
 * derive them), no transaction open; log what it took. A read-only store
 * keeps none (returns 0). On failure (memory, or the store's own error)
 * it is not kept, the reason is logged and returned: a writable store
 * cannot write without it. */
int store__near_build(store_t *self) STORE_WUR;

/* Free them; ready turns 0. */
void store__near_free(store_t *self);

/* Write transaction begins / commits / does not commit (see the heads). */
void store__near_begin(store_t *self);
void store__near_commit(store_t *self);
void store__near_rollback(store_t *self);

/* Entity num of kind (its cache entry; -1 if it has none) changed from
 * old to new record (a store_graduate_t or store_vacancy_t; NULL: not
 * open, no postings): only the postings of keys that differ move. 0, or
 * STORE_ENOMEM if memory ran short: the transaction must not commit (its
 * rollback puts every list back as it was). */
int store__near_put(store_txn_t *txn, char kind, long num, const void *old,
                    const void *new) STORE_WUR;

/* Entity num of kind leaves every list (a damaged record being erased:
 * its keys are unknown), by scanning them all; *removed counts the
 * postings it had. 0 or STORE_ENOMEM, as store__near_put. */
int store__near_forget(store_txn_t *txn, char kind, long num, size_t *removed) STORE_WUR;

/* Bytes of memory the heads and the in-memory lists hold. */
size_t store__mem_bytes(const store_t *self);

/* ---- store_log.c ------------------------------------------------------ */

/* Delete every log entry filed under (kind, id) and the entity_events rows.
 * *found is set to 1 if there was at least one. */
int store__log_erase_entity(store_txn_t *txn, char kind, const char *id, int *found) STORE_WUR;

/* ---- store_list.c ----------------------------------------------------- */

/* Erase entity (kind, id) from the ranked lists: its own list and the
 * membership rows that list created, and the membership rows naming it as
 * a member of the other kind's lists (the caller has normally removed it
 * from those lists already; leftover rows are deleted and logged, but the
 * lists' values are not rewritten). *found is set to 1 if any row went. */
int store__list_erase_entity(store_txn_t *txn, char kind, const char *id, int *found) STORE_WUR;

/* Wait until the running backup, if any, has finished reading the env, so
 * that mdb_env_set_mapsize() may be called. */
void store__backup_wait(store_t *self);

/* Add txn's pending changes of the lists' entry counts to their meta
 * counters (one write per transaction instead of one per list). */
int store__list_entries_flush(store_txn_t *txn) STORE_WUR;

/* Count the entries of every stored list into the entry counters once, on
 * a store written before they existed (a no-op afterwards). Write txn. */
int store__list_entries_init(store_txn_t *txn) STORE_WUR;

/* ---- store_match.c ---------------------------------------------------- */

/* The oldest stored match sequence number in *seq, 0 if none. */
int store__match_first(store_txn_t *txn, uint64_t *seq) STORE_WUR;

/* Index every complete block of the match log (format 3's match_blocks)
 * into the empty match_blocks table: the upgrade from format 2. *blocks
 * counts the blocks walked, *rows the matches indexed. Tells the store's
 * progress callback, and the log, how far it got (store__progress). */
int store__match_blocks_build(store_txn_t *txn, uint64_t *blocks, size_t *rows) STORE_WUR;

/* Long work at opening: log status (info) and hand it to the store's
 * progress callback if the last call was STORE_PROGRESS_MS ago or more, or
 * always if force. *last_ms is the caller's clock (monotonic ms) of the
 * last call, 0 before the first. */
void store__progress(store_t *self, int64_t *last_ms, int force, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
