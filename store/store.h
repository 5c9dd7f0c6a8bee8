/* store.h - Passerelle's durable state in one LMDB environment.
 *
 * One environment holds: the entities (graduates, vacancies), their inverted
 * indexes (skill, certification, ROME code, geographic cell -> entity ids),
 * the dedupe table ((source, event_id) -> sequence), the event log
 * (sequence -> event) and a per-entity list of its log entries, plus a meta
 * table (format version, counters). Everything a batch of events changes is
 * changed in ONE write transaction, committed with a single fsync, so the
 * tables can never disagree.
 *
 * Nothing outside store/ sees LMDB. Nothing in store/ knows ZeroMQ or
 * protobuf: event payloads are opaque bytes here.
 *
 * Threading: a store_t is used by one thread (a backup, store_backup_start,
 * reads it from a thread of its own, internally). Every function returns 0
 * (STORE_OK) or a negative STORE_E* code; store_strerror() names it.
 */
#ifndef STORE_H
#define STORE_H

#include <stddef.h>
#include <stdint.h>

#include "store_model.h"

#define STORE_WUR __attribute__((warn_unused_result))

/* On-disk layout version. Version 2 no longer has the per-code inverted
 * indexes of version 1 (skill, RNCP, ROME and 0.25-degree cell -> ids),
 * which nothing read: a version-1 store is upgraded in place when it is
 * opened for writing (store_new logs a warning naming both versions and
 * drops those tables in the same write transaction that writes the new
 * version, so the upgrade happens whole or not at all), and read as it is
 * when opened read-only. Version 3 indexes the match log for erasure by
 * blocks of STORE_MATCH_BLOCK_ROWS matches instead of one row per match: a
 * version-2 store opened for writing is upgraded the same way (the old
 * index dropped, the new one built from the log), and read as it is when
 * opened read-only. Version 4 keeps the ranked lists and their membership
 * index in a file of their own, lists.mdb, which is not synced at each
 * commit and is rebuilt when it cannot be trusted (store_lists_stale): a
 * version-3 store opened for writing has them moved there. Version 5 no
 * longer keeps the places index (ix_g_near, ix_v_near) on disk: the
 * posting lists live in memory only, built from the records at every open
 * for writing, so an event no longer writes some twenty B-tree entries on
 * pages of their own; a version-4 store opened for writing has both tables
 * dropped. A store of any other version is refused by store_new() with
 * STORE_EVERSION. */
#define STORE_FORMAT_VERSION 5

/* Matches per block of the match log's erasure index (on-disk format). */
#define STORE_MATCH_BLOCK_ROWS 16384

/* The oldest on-disk version store_new() upgrades. */
#define STORE_FORMAT_OLDEST 1

enum {
    STORE_OK = 0,
    STORE_ENOTFOUND = -1, /* no such key */
    STORE_EFULL = -2,     /* map full even after growing, or growth limit reached */
    STORE_EVERSION = -3,  /* on-disk format version not understood */
    STORE_ESTALE = -4,    /* an older version must not overwrite a newer one */
    STORE_ECORRUPT = -5,  /* a stored record does not decode, or not an LMDB store */
    STORE_EIO = -6,       /* I/O error from the OS (see the log) */
    STORE_EINVAL = -7,    /* bad argument (too-long key, NULL...) */
    STORE_ENOMEM = -8,    /* allocation failed */
    STORE_ENOSPC = -9,    /* the file system is full */
    STORE_EBUSY = -10,    /* the store is locked by another process */
    STORE_EINTERNAL = -11 /* unexpected LMDB error (see the log) */
};

typedef struct store store_t;
typedef struct store_txn store_txn_t;
typedef struct store_head store_head_t; /* below */

typedef struct {
    size_t map_bytes;     /* initial map size; 0 = 64 MiB */
    size_t map_max_bytes; /* never grow beyond; 0 = 1 TiB */
    int read_only;        /* open for reading only (tools, tests) */
    int writemap;         /* write through a writable map (MDB_WRITEMAP): the
                           * pages a transaction dirties live in the file's
                           * page cache, not in the heap; the file is
                           * preallocated to the map's size so that a full
                           * disk refuses a growth instead of faulting a
                           * write. Falls back to ordinary writes, with a
                           * warning, when the space cannot be reserved. */
    uint64_t txn_writes;  /* B-tree writes after which a write transaction is
                           * full (store_txn_full); 0 = STORE_TXN_WRITES */
    /* lists.mdb is committed without a sync; its pages go to the disk
     * when the kernel writes them back, hundreds of MB at a time once the
     * file has been dirty for vm.dirty_expire_centisecs, and data.mdb's
     * syncs wait behind. Not 0: a thread of the store writes it back
     * itself, a 64th of the file at a time, the whole file every this
     * many ms (shorter waits, but pages written back more often fault
     * again at their next write). 0: left to the kernel. */
    unsigned lists_writeback_ms;
    /* The directory of lists.mdb, NULL or "" for the store's own. On a
     * memory file system (a tmpfs) the ranked lists are never written
     * back, and rebuilt after a stop of the machine as they would be on
     * a disk. The directory is bound to the store in a file "lists.store"
     * naming it, flock()ed while the store is open: another store is
     * refused there (STORE_EBUSY), and a lists.mdb found there with no
     * binding is removed; the store's own dir/lists.mdb is moved there
     * when it binds the directory. */
    const char *lists_dir;
    /* Long work at opening (an upgrade that reads the whole match log)
     * calls progress with a one-line account of where it is: when it
     * begins, every STORE_PROGRESS_MS while it lasts, and when it ends
     * (the daemon extends its start-up timeout with the service manager
     * each time). NULL: nobody to tell. */
    void (*progress)(const char *status, void *arg);
    void *progress_arg;
    /* This boot of the machine, for telling whether lists.mdb was left by
     * a process that stopped (its pages are in the page cache) or by a
     * machine that stopped (they may be lost). NULL: the kernel's
     * boot_id. Tests give one to act a restart of the machine. */
    const char *boot_id;
    /* Fills the skill table of a vacancy's head (store_head_t.skills_table
     * and the fields after it) from its record, with the weights its
     * matcher gives: called whenever the store makes a vacancy's head (at
     * open for every open vacancy, at every put). NULL: vacancies' heads
     * hold the signature of their skills, as graduates' do. */
    void (*vacancy_skills)(const store_vacancy_t *v, store_head_t *h, void *arg);
    void *vacancy_skills_arg;
} store_options_t;

/* Longest boot id kept (the kernel's is 36 characters). */
#define STORE_BOOT_ID_MAX 64

/* Milliseconds between two progress calls of a long opening. */
#define STORE_PROGRESS_MS 10000

/* Open or create the store in directory dir (created if missing, mode
 * 0700). opts may be NULL for defaults. On failure returns NULL and, if
 * err is not NULL, sets *err to a STORE_E* code; the reason is logged
 * (STORE_EVERSION names the found and the expected version). */
store_t *store_new(const char *dir, const store_options_t *opts, int *err) STORE_WUR;

/* Close the store and set *self_p to NULL. NULL or *NULL is a no-op.
 * Must not be called while a transaction is open. */
void store_destroy(store_t **self_p);

/* Where the store's diagnostics go. level is one of the STORE_LOG_*
 * values; msg is one line without newline. The default writes to stderr.
 * Set once, before store_new(); fn NULL restores the default. */
enum { STORE_LOG_ERROR = 0, STORE_LOG_WARN = 1, STORE_LOG_INFO = 2 };
typedef void (*store_log_fn)(int level, const char *msg);
void store_set_logger(store_log_fn fn);

/* The human-readable name of a STORE_E* code. Never NULL. */
const char *store_strerror(int err);

/* A unit of work run inside a transaction. Return 0 to commit (write) or a
 * negative STORE_E* code to abort. It may be run TWICE by store_write (after
 * the map grew), so it must derive everything from the store and its
 * arguments, and reset any output it produces on entry. */
typedef int (*store_txn_fn)(store_txn_t *txn, void *arg);

/* Run fn in one write transaction and commit it durably (fsync).
 * If the map fills (inside fn or at commit), the transaction is aborted,
 * the map doubled (up to map_max_bytes) and fn run once more; a second
 * failure returns STORE_EFULL. Returns fn's error if it failed, STORE_ENOSPC
 * or STORE_EIO if the commit could not be written, else 0. Nothing of a
 * failed call is stored. */
int store_write(store_t *self, store_txn_fn fn, void *arg) STORE_WUR;

/* Run fn in a read-only transaction (a snapshot). Returns fn's result. */
int store_read(store_t *self, store_txn_fn fn, void *arg) STORE_WUR;

/* store_read for work spread over threads: fn runs in a read transaction
 * of its own, which several threads may run at once, provided that no
 * write transaction (store_write) runs meanwhile in any thread, except a
 * writer of lists under store_lists_beside_readers: the caches and
 * in-memory posting lists it reads are only changed by writes (never by
 * these reads). fn may read entities, lists and the in-memory posting
 * lists (store_near_each with a seen of its own). Returns fn's result, or
 * a STORE_E* code if the transaction could not begin. */
int store_read_shared(store_t *self, store_txn_fn fn, void *arg) STORE_WUR;

/* Let store_read_shared readers run beside the store_write of one other
 * thread that writes ranked lists and nothing else (the list build of a
 * bulk load, which computes the next lists while it stores the last).
 * While on, reads and writes of lists leave the cache of lists' meta
 * alone (it forgets what it held when this turns on, and refills only as
 * the lists are read after it turns off), and a growth of the map waits
 * until no shared reader runs, holding new ones back meanwhile. Turn it
 * on and off while no transaction runs. */
void store_lists_beside_readers(store_t *self, int on);

/* How many B-tree writes (puts and deletes) write transaction txn has made
 * so far; 0 for a read. Each dirties a few pages at most, often none that
 * an earlier one did not. Appends to the event and match logs count by the
 * pages they fill (a 4 KiB page takes several match records). */
uint64_t store_txn_writes(const store_txn_t *txn);

/* Whether write transaction txn made as many writes as the store's
 * txn_writes option allows. LMDB lists a transaction's dirty pages in an
 * array of 131,071 entries and, when that nears full, "spills" some of
 * them to the file; the liblmdb of Debian 12 (0.9.24) then allocates a
 * 1 MiB list that it never frees (RELIABILITY.md). A unit of work that
 * can grow long (a batch of events, a sweep) ends its transaction once
 * this is true, at a point where it can go on in another; nothing is
 * refused: a write past the limit still succeeds. Also true when the
 * transaction's writes to lists.mdb near what its map can take for sure
 * (store_listfile.c): the map is grown between transactions. */
int store_txn_full(const store_txn_t *txn);
#define STORE_TXN_WRITES 100000

/* ---- dedupe table ---------------------------------------------------- */

/* Look up (source, event_id). 0 and *seq set if present, else
 * STORE_ENOTFOUND. source + event_id must total at most 400 bytes.
 * The events of an erased graduate (and the erasure itself) stay in the
 * table as a keyed BLAKE2b digest of the pair, not as text: they are still
 * found here, so a re-sent old event stays a duplicate, but the table no
 * longer holds their ids. */
int store_dedupe_get(store_txn_t *txn, const char *source, const char *event_id,
                     uint64_t *seq) STORE_WUR;

/* ---- event log -------------------------------------------------------- */

typedef enum {
    STORE_EV_GRADUATE_UPSERT = 1,
    STORE_EV_GRADUATE_WITHDRAWN = 2,
    STORE_EV_GRADUATE_ERASED = 3,
    STORE_EV_VACANCY_UPSERT = 4,
    STORE_EV_VACANCY_CLOSED = 5
} store_event_type_t;

typedef enum { STORE_ENTITY_GRADUATE = 'g', STORE_ENTITY_VACANCY = 'v' } store_entity_kind_t;

/* An event as logged. In store_log_get() results, strings and payload point
 * into the map: valid until the transaction ends. */
typedef struct {
    uint64_t seq;
    uint8_t type;        /* store_event_type_t */
    uint8_t entity_kind; /* store_entity_kind_t */
    int64_t occurred_ms;
    int64_t received_ms;
    const char *source;
    const char *event_id;
    const char *entity_id;
    const void *payload; /* the event as received (opaque bytes) */
    size_t payload_len;
} store_event_t;

/* Append ev to the log under the next sequence number, record
 * (source, event_id) -> seq in the dedupe table and the seq under the
 * entity's own list (so that erasure can find it); an empty entity_id
 * files it under no entity (an erasure) and logs it anonymously: the log
 * entry keeps no event_id and the dedupe table only the keyed digest of
 * (source, event_id) (see store_dedupe_get). ev->seq is ignored;
 * the new number is stored in *seq. Fails with STORE_EINVAL if the pair is
 * already in the dedupe table (callers check first). */
int store_log_append(store_txn_t *txn, const store_event_t *ev, uint64_t *seq) STORE_WUR;

/* Read log entry seq into *ev (borrowed pointers). STORE_ENOTFOUND if
 * absent or erased. */
int store_log_get(store_txn_t *txn, uint64_t seq, store_event_t *ev) STORE_WUR;

/* Sequence number of the last appended event; 0 when empty. */
uint64_t store_log_last(store_txn_t *txn);

/* ---- entities --------------------------------------------------------- */

/* Fetch a graduate into *out (a copy). STORE_ENOTFOUND if absent,
 * STORE_ECORRUPT if the record does not decode. */
int store_graduate_get(store_txn_t *txn, const char *id, store_graduate_t *out) STORE_WUR;

/* Insert or replace g, keyed by g->id. If a stored record has a greater
 * version, nothing changes and STORE_ESTALE is returned (equal versions
 * replace). The old record's postings in the places index in memory are
 * removed and, when g->state is STORE_STATE_OPEN and g->home has a point,
 * the new ones added: its skills, RNCP codes and ROME codes (g->romes)
 * under the coarse cell of g->home (store_near_each). Counters follow.
 * STORE_ENOMEM if memory ran short for them (the transaction must then be
 * given up: it cannot commit). */
int store_graduate_put(store_txn_t *txn, const store_graduate_t *g) STORE_WUR;

/* Remove every trace of graduate id: the record, its index entries,
 * every event-log entry filed under it (their dedupe rows become digests,
 * see store_dedupe_get), its own ranked list, its entries in
 * the membership index and every stored match naming it (the caller takes
 * it out of other entities' ranked lists first). STORE_ENOTFOUND if
 * absent. */
int store_graduate_erase(store_txn_t *txn, const char *id) STORE_WUR;

/* The same for vacancies. Indexed when open: the expiry day (when set,
 * STORE_IX_V_EXPIRY) and, when v->site has a point, in memory, required and
 * desirable skills, required RNCP codes and ROME codes under its coarse
 * cell. */
int store_vacancy_get(store_txn_t *txn, const char *id, store_vacancy_t *out) STORE_WUR;
int store_vacancy_put(store_txn_t *txn, const store_vacancy_t *v) STORE_WUR;
int store_vacancy_erase(store_txn_t *txn, const char *id) STORE_WUR;

/* Words of the skill signature of a head. */
#define STORE_SIG_SKILL_WORDS 4

/* Entries of a vacancy's skill table (store_head_t.table). */
#define STORE_HEAD_TABLE 16

/* The leading fields of an entity and signatures of its codes: what the
 * engine's hard filters and score bounds look at first. */
struct store_head {
    uint8_t state;    /* store_state_t */
    uint8_t licence;  /* graduate: holds one; vacancy: requires one */
    uint8_t contract; /* vacancy: its contract type (0 for graduates) */
    uint8_t has_point;
    /* What bounds a pair's score before the whole record is decoded: */
    uint8_t level; /* graduate: best certification level; vacancy: minimum, 0 = none */
    /* 0: sig_skills holds the signature of the skills (graduates, and
     * vacancies when the store has no store_options_t.vacancy_skills).
     * 1: a vacancy's skill table in its place, which
     * store_options_t.vacancy_skills filled: n_table entries, each a
     * signature bit (store_sig_bit(code, 1)) of its skills and at least
     * 255 times the share of their total weight that its skills of that
     * bit hold, heaviest first; table_rest at least 255 times the share of
     * the skills beyond the table (their bits not kept). */
    uint8_t skills_table;
    uint8_t n_table;
    uint8_t table_rest;
    uint32_t contracts;  /* graduate: wanted, bit per type, 0 = any (0 for vacancies) */
    int32_t distance_km; /* graduate: mobility radius; vacancy: max distance, 0 = none */
    int32_t start_day;   /* graduate: available_from; vacancy: start_date */
    double lat, lon;
    union {
        uint64_t sig_skills[STORE_SIG_SKILL_WORDS]; /* bit store_sig_bit(code, 1) per skill */
        struct {
            uint8_t bit[STORE_HEAD_TABLE];
            uint8_t share[STORE_HEAD_TABLE];
        } table;
    };
    uint64_t sig_rncps; /* graduate: certifications; vacancy: required RNCP codes */
    uint64_t sig_romes; /* ROME codes */
};

/* The signature bit of a code: in [0, 64 * STORE_SIG_SKILL_WORDS) for
 * skills (wide = 1), in [0, 64) for RNCP and ROME codes (wide = 0). Two
 * codes with different bits differ; the same bit says "maybe". */
unsigned store_sig_bit(const char *code, int wide);

/* Read the head of entity (kind, id), from memory when the store has seen
 * it since it opened (every put and erase keeps that copy exact).
 * STORE_ENOTFOUND if absent, STORE_ECORRUPT if it does not decode. */
int store_entity_head(store_txn_t *txn, store_entity_kind_t kind, const char *id,
                      store_head_t *out) STORE_WUR;

/* ---- inverted indexes ------------------------------------------------- */

typedef enum {
    STORE_IX_V_EXPIRY = 0, /* expiry day (store_day_key) -> vacancy ids */
    STORE_IX_COUNT
} store_index_t;

/* The places index: coarse cell + skill, RNCP or ROME code -> the open
 * graduates, and the open vacancies, filed under that key. It lives in
 * memory only (store_near_each); store_near_key makes its keys. */

/* Degrees of latitude and longitude of the coarse cells that prefix the
 * keys of the places index. */
#define STORE_NEAR_DEG 1.0

/* The kinds of code in the places index's keys. */
enum { STORE_NEAR_SKILL = 's', STORE_NEAR_RNCP = 'c', STORE_NEAR_ROME = 'r' };

/* Longest key of the places index: cell, kind, code. */
#define STORE_NEAR_KEY_MAX (4 + 1 + STORE_SKILL_MAX)

/* A key of the places index: the coarse cell (row, column) given as
 * integers (floor(lat / STORE_NEAR_DEG), floor(lon / STORE_NEAR_DEG)), the
 * kind of code and the code, into buf (STORE_NEAR_KEY_MAX bytes). Returns
 * the key's length. These indexes find the entities that share a code AND
 * live near a point: the posting lists of a neighbourhood, not of France. */
size_t store_near_key(int row, int col, char kind, const char *code, uint8_t *buf);

/* The coarse cell (row, column) of a point. */
void store_near_cell(double lat, double lon, int *row, int *col);

/* The 4-byte key of a day (days since 1970-01-01, >= 0) for the
 * STORE_IX_V_EXPIRY index: big-endian, so that keys sort by date. */
void store_day_key(int32_t day, uint8_t key[4]);

/* Called once per entity id under a key; return non-zero to stop. The id is
 * borrowed (valid until the transaction ends) and not NUL-terminated. */
typedef int (*store_id_fn)(const char *id, size_t len, void *arg);

/* Call fn for each id under key (len bytes: a store_day_key), in byte
 * order of the ids. Returns 0, or the first non-zero value fn returned
 * (positive), or a STORE_E* code. */
int store_index_each(store_txn_t *txn, store_index_t ix, const void *key, size_t len,
                     store_id_fn fn, void *arg) STORE_WUR;

/* ---- the places index, in memory (store_near.c) ------------------------- */

/* A writable store keeps the places index in memory, and only there:
 * posting lists of entity numbers over the heads of the open entities,
 * built from the records when the store opens (logged: entities,
 * postings, time, bytes; a store whose lists cannot be built for want of
 * memory does not open) and kept exact by every put and erase, inside the
 * write transaction too (what the transaction wrote is seen; a
 * transaction that does not commit leaves them as they were). A put that
 * finds no memory for them fails with STORE_ENOMEM, and its transaction
 * with it. */

/* Build the cache of heads and the in-memory posting lists again from the
 * records, as at open, where entities are numbered in the order of their
 * places (walks then read neighbours' heads nearly in sequence): for a
 * store just filled in bulk, whose entities got their numbers in the
 * order they came. Logged as at open. Not while a transaction runs
 * (STORE_EINVAL). 0, or why they could not be built (STORE_ENOMEM...):
 * the next write tries again. */
int store_near_rebuild(store_t *self) STORE_WUR;

typedef struct store_list_meta store_list_meta_t;

/* Called once per open entity of a store_near_each walk: its id (len
 * bytes, not NUL-terminated), its head, and the meta of its own ranked
 * list when the store knows it without reading (store_list_meta; NULL
 * when it would have to read it), all borrowed until fn returns. fn must
 * not call the store. Non-zero stops the walk. */
typedef int (*store_near_fn)(const char *id, size_t len, const store_head_t *head,
                             const store_list_meta_t *list, void *arg);

/* Where a walk looks from: the walker's point and its own distance limit
 * (a graduate's mobility radius, a vacancy's maximum distance;
 * HUGE_VAL if it has none). Each listed entity has its own limit too (the
 * same fields of its record: radius, or maximum distance if not 0).
 * And the walker's hard filters that a walk applies before reading heads
 * (store_near_from sets them from the walker's record):
 * contracts: the walker's contract types (a graduate's wanted ones, every
 * bit if any; a vacancy's own type's bit); an entity none of whose types
 * is among them is left out; 0: no such test.
 * licence: STORE_NEAR_LICENCE_HELD leaves out the entities that require a
 * licence (a graduate without one walks vacancies),
 * STORE_NEAR_LICENCE_REQUIRED those that hold none (a vacancy requiring
 * one walks graduates); 0: no such test. */
typedef struct {
    double lat, lon;
    double max_km;
    uint32_t contracts;
    uint8_t licence;
} store_near_from_t;

enum { STORE_NEAR_LICENCE_HELD = 1, STORE_NEAR_LICENCE_REQUIRED = 2 };

/* Set all of from to walk the partners of rec, a graduate's record (kind
 * STORE_ENTITY_GRADUATE) or a vacancy's: its point, its own distance
 * limit, its contract and licence filters. */
void store_near_from(store_near_from_t *from, store_entity_kind_t kind, const void *rec);

/* What a walker has seen: an epoch stamp per entity number. Zero it
 * before the first walk, free it with store_near_seen_free. Each walk
 * needs one of its own (a walk writes to it); the store keeps one for
 * walks given none. */
typedef struct {
    uint32_t *stamp;
    size_t cap;
    uint32_t epoch;
} store_near_seen_t;

void store_near_seen_free(store_near_seen_t *seen);

/* Call fn once for each open entity of kind (graduates or vacancies)
 * filed under at least one of the n keys (store_near_key; end to end in
 * keys, lengths in lens) of the places index: each once, in no defined
 * order, with their heads, without reading the tables. With from, the entities
 * certainly farther from its point than the smaller of both limits are
 * left out without their heads being read (the test is conservative: a
 * margin of 2 % and 1 km over the great-circle distance of
 * score_distance_km; fn still checks what it receives), and so are
 * those that fail from's contract or licence test. seen is the
 * walker's (NULL: the store's). Returns 0, the first non-zero value of
 * fn, STORE_ENOMEM, or STORE_EINVAL (bad argument, or a store opened
 * read-only, which keeps no index).
 * While no write transaction runs, walks of read transactions may run in
 * several threads at once, each with its own seen. */
int store_near_each(store_txn_t *txn, store_entity_kind_t kind, const uint8_t *keys,
                    const size_t *lens, size_t n, const store_near_from_t *from,
                    store_near_seen_t *seen, store_near_fn fn, void *arg) STORE_WUR;

/* Number of open entities of kind filed under key (len bytes) in the
 * places index, 0 if none or the store keeps no index (read-only). */
size_t store_near_count(store_txn_t *txn, store_entity_kind_t kind, const void *key, size_t len);

/* Check the places index against the records: each open record that
 * decodes is filed under every key it derives (store_near_key), once,
 * where its head says it lies, and under nothing else; no posting names
 * anything but such a record. 0, STORE_ECORRUPT (the first difference
 * logged), STORE_ENOMEM or STORE_EINVAL (read-only). *postings (may be
 * NULL) counts the postings. For tests and diagnostics: it reads every
 * open record. */
int store_near_verify(store_txn_t *txn, uint64_t *postings) STORE_WUR;

/* Call fn for the ids of kind (graduates or vacancies, any state) that sort
 * strictly after `after` ("" or NULL: from the first), in byte order, at
 * most max of them (0: all). Returns 0, the first non-zero value fn
 * returned, or a STORE_E* code. For walking the whole population in
 * chunks of short transactions. */
int store_entity_ids(store_txn_t *txn, store_entity_kind_t kind, const char *after, size_t max,
                     store_id_fn fn, void *arg) STORE_WUR;

/* ---- ranked lists ------------------------------------------------------ */

/* The ranked lists live in lists.mdb, beside data.mdb, written with every
 * write transaction but synced only when the store closes: they are
 * derived from the entities and rebuilt when lists.mdb cannot be trusted
 * at an open for writing (the machine stopped before it was written back,
 * the process stopped between the two commits, data.mdb was restored
 * from a backup). store_lists_stale() is then 1 and the lists are empty:
 * the owner rebuilds them from scratch (matcherd does before it serves),
 * then calls store_lists_rebuilt(), which marks lists.mdb whole and syncs
 * it. Until then a restart empties them again. A store opened read-only
 * reads them as they are when lists.mdb goes with data.mdb's last commit,
 * else as empty, and store_lists_stale() is 1. */
int store_lists_stale(const store_t *self);
int store_lists_rebuilt(store_t *self) STORE_WUR;

/* Longest ranked list the store keeps (the configured K is at most this). */
#define STORE_LIST_MAX 100

/* One entry of a ranked list: the other entity and the score in
 * millionths. Entries are kept in rank order (the caller's order). */
typedef struct {
    char id[STORE_ID_MAX + 1];
    uint32_t micro;
} store_rank_t;

/* The stored head of a ranking: the true top n of the owner's eligible
 * partners (the engine keeps more than it shows, so that a departure seldom
 * forces a recomputation). exhaustive: these are all of them. */
typedef struct {
    uint16_t n;
    uint8_t exhaustive;
    store_rank_t e[STORE_LIST_MAX];
} store_list_t;

/* Read the ranked list of entity (kind, id): a vacancy's list of graduates
 * (kind STORE_ENTITY_VACANCY) or a graduate's list of vacancies. An absent
 * list reads as empty (out->n = 0) and returns 0. */
int store_list_get(store_txn_t *txn, store_entity_kind_t kind, const char *id,
                   store_list_t *out) STORE_WUR;

/* Replace the ranked list of (kind, id) with l (n = 0 deletes it), and keep
 * the membership index in step: after the call, store_list_owners(kind, m)
 * yields id exactly when m is in l. STORE_EINVAL if l->n > STORE_LIST_MAX. */
int store_list_put(store_txn_t *txn, store_entity_kind_t kind, const char *id,
                   const store_list_t *l) STORE_WUR;

/* What decides whether a newcomer may enter a ranked list without reading
 * it: its length, exhaustive flag and its lowest entry's score (0 if
 * empty). */
struct store_list_meta {
    uint16_t n;
    uint8_t exhaustive;
    uint32_t last_micro;
};

/* The meta of the ranked list of (kind, id), from memory when the store
 * has read or written that list since it opened, else read from the
 * store. 0, or a STORE_E* code (STORE_ECORRUPT: the list does not
 * decode). */
int store_list_meta(store_txn_t *txn, store_entity_kind_t kind, const char *id,
                    store_list_meta_t *out) STORE_WUR;

/* store_list_put() for a caller that holds the stored list: *was must be
 * what store_list_get() returned for (kind, id) in this transaction, with
 * no write of that list since (it spares reading the list again). */
int store_list_replace(store_txn_t *txn, store_entity_kind_t kind, const char *id,
                       const store_list_t *was, const store_list_t *l) STORE_WUR;

/* Call fn for each owner id of kind whose ranked list holds member: with
 * kind STORE_ENTITY_VACANCY, every vacancy whose list holds graduate
 * member. Ids in byte order; fn returns non-zero to stop (returned as is). */
int store_list_owners(store_txn_t *txn, store_entity_kind_t kind, const char *member,
                      store_id_fn fn, void *arg) STORE_WUR;

/* Number of stored non-empty lists of kind. */
uint64_t store_list_count(store_txn_t *txn, store_entity_kind_t kind);

/* Number of entries in the stored lists of kind, all lists together (the
 * margin kept beyond K included). Kept in meta: O(1). */
uint64_t store_list_entries(store_txn_t *txn, store_entity_kind_t kind);

/* Call fn(id, list, arg) for every stored list of kind, in id order (for
 * tests and start-up checks). fn returns non-zero to stop. */
typedef int (*store_list_fn)(const char *id, const store_list_t *l, void *arg);
int store_list_each(store_txn_t *txn, store_entity_kind_t kind, store_list_fn fn,
                    void *arg) STORE_WUR;

/* ---- match log --------------------------------------------------------- */

#define STORE_TOPICS_MAX 4
#define STORE_TOPIC_MAX  160

/* A stored feed message: its sequence number, the topics it is published
 * under, the graduate it names (for erasure), the time it was written and
 * the message itself (opaque bytes: a packed MatchUpdate). In results of
 * store_match_each, pointers are borrowed until the transaction ends. */
typedef struct {
    uint64_t seq;
    int64_t at_ms;
    const char *graduate_id;
    const char *topics[STORE_TOPICS_MAX];
    uint8_t n_topics;
    const void *payload;
    size_t payload_len;
} store_match_t;

/* Sequence number of the last match ever appended (0 if none): the next
 * append must use this + 1. Kept in meta, so erasure or purge of the newest
 * entries never makes a number reusable. */
uint64_t store_match_last(store_txn_t *txn);

/* Sequence number of the oldest match still stored, 0 if none. */
uint64_t store_match_first(store_txn_t *txn);

/* Append m under m->seq, which must equal store_match_last() + 1
 * (STORE_EINVAL otherwise). Appending the last match of a block of
 * STORE_MATCH_BLOCK_ROWS indexes the block's matches by the graduate they
 * name, for erasure (an empty graduate_id names nobody). Topics are
 * 1..STORE_TOPIC_MAX bytes, 1..STORE_TOPICS_MAX of them. */
int store_match_append(store_txn_t *txn, const store_match_t *m) STORE_WUR;

/* Call fn for each stored match with seq > after, in sequence order, until
 * fn returns non-zero (returned as is). */
typedef int (*store_match_fn)(const store_match_t *m, void *arg);
int store_match_each(store_txn_t *txn, uint64_t after, store_match_fn fn, void *arg) STORE_WUR;

/* Delete every stored match that names graduate id. *removed (may be NULL)
 * counts them. */
int store_match_erase_graduate(store_txn_t *txn, const char *id, size_t *removed) STORE_WUR;

/* Delete the oldest matches: every one with seq <= upto, and every one
 * written before before_ms (0: no age limit), at most max of them per call
 * (to keep write transactions short). *removed counts them. */
int store_match_purge(store_txn_t *txn, uint64_t upto, int64_t before_ms, size_t max,
                      size_t *removed) STORE_WUR;

/* ---- the feed's topics, saved ----------------------------------------- */

/* The feed keeps in memory the last sequence number published under each
 * topic (MatchUpdate.previous_sequence). A start could learn it by reading
 * the whole match log, which grows with the retention; instead the feed
 * saves it here from time to time, with the highest sequence number the
 * saved values cover: a start reads the saved values, then only the
 * matches after that number.
 * put: the last sequence of topic (1..STORE_TOPIC_MAX bytes).
 * upto_put / upto: the match sequence the saved values cover (0: none,
 * read the whole log). each: every saved topic, in byte order, until fn
 * returns non-zero (returned as is); STORE_ECORRUPT at a row that does not
 * decode. */
int store_topic_put(store_txn_t *txn, const char *topic, uint64_t seq) STORE_WUR;
int store_topics_upto_put(store_txn_t *txn, uint64_t upto) STORE_WUR;
uint64_t store_topics_upto(store_txn_t *txn);
typedef int (*store_topic_fn)(const char *topic, uint64_t seq, void *arg);
int store_topics_each(store_txn_t *txn, store_topic_fn fn, void *arg) STORE_WUR;
/* Delete every saved topic, damaged ones too, and the cover (upto 0). */
int store_topics_clear(store_txn_t *txn) STORE_WUR;

/* ---- meta strings ------------------------------------------------------ */

/* Read / write a short named string in meta (e.g. the reference data
 * version). get: STORE_ENOTFOUND if absent; out gets at most size-1 bytes
 * and a NUL. put: name 1..32 bytes, value at most 256 bytes. */
int store_meta_get_str(store_txn_t *txn, const char *name, char *out, size_t size) STORE_WUR;
int store_meta_put_str(store_txn_t *txn, const char *name, const char *value) STORE_WUR;

/* ---- statistics ------------------------------------------------------- */

typedef struct {
    uint64_t graduates; /* records, any state */
    uint64_t graduates_open;
    uint64_t vacancies;
    uint64_t vacancies_open;
    uint64_t events;                 /* last event sequence number */
    uint64_t file_bytes;             /* size of data.mdb */
    uint64_t map_bytes;              /* current map size */
    uint64_t used_bytes;             /* pages in use * page size */
    int writemap;                    /* writing through a writable map */
    uint64_t lists_file_bytes;       /* size of lists.mdb (its reserved map), 0 if none */
    uint64_t lists_used_bytes;       /* its pages in use * page size */
    uint64_t vacancy_lists;          /* non-empty ranked lists of vacancies */
    uint64_t graduate_lists;         /* non-empty ranked lists of graduates */
    uint64_t matches;                /* last match sequence number */
    uint64_t matches_first;          /* oldest match still stored, 0 if none */
    uint64_t vacancy_list_entries;   /* entries in the vacancies' lists (margin included) */
    uint64_t graduate_list_entries;  /* entries in the graduates' lists */
    uint64_t memory_bytes;           /* heap held by the heads and in-memory posting lists */
    uint64_t near_postings;          /* postings in the in-memory lists, 0 if not kept */
    uint64_t lists_writeback_sweeps; /* lists.mdb written back whole (lists_writeback_ms) */
} store_stats_t;

int store_stats(store_txn_t *txn, store_stats_t *out) STORE_WUR;

/* ---- scrub (store_scrub.c) ---------------------------------------------- */

/* Rewrite the store so that no byte of deleted data is left in its files.
 * LMDB never clears freed pages, nor the space a deleted record leaves in
 * a page, so an erased id stays readable in data.mdb long after the
 * erasure (until the page happens to be overwritten). This copies every
 * live record,
 * one by one, into a new environment in dir/scrub.tmp/ (fresh pages hold
 * only what was written to them), syncs it, closes the store, renames the
 * copy over data.mdb, syncs the directory and reopens the store.
 * Cost: reads and writes the whole live store (one pass, in write
 * transactions of 64k records on the copy) while no other store call can
 * run; needs free disk space for one more copy. Must be called with no
 * transaction open. *bytes_before / *bytes_after (may be NULL) receive
 * the file sizes. On a failure before the rename the old file stays in
 * use; if the store cannot be reopened, store_is_open() turns 0 and only
 * store_destroy() may be called. */
int store_scrub(store_t *self, uint64_t *bytes_before, uint64_t *bytes_after) STORE_WUR;

/* 1 while the store is usable (always, except after a failed reopen in
 * store_scrub). */
int store_is_open(const store_t *self);
/* ---- hot backup (store_backup.c) --------------------------------------- */

/* A backup running in a thread of its own. */
typedef struct store_backup store_backup_t;

typedef struct {
    int rc;               /* 0 or a STORE_E* code */
    char why[512];        /* what failed, when rc != 0 */
    uint64_t bytes;       /* size of the copy's data file */
    uint64_t duration_us; /* copy, sync and check */
    uint64_t events;      /* last event sequence number in the copy */
    uint64_t matches;     /* last match sequence number in the copy */
} store_backup_result_t;

/* Start a consistent, compacted copy of the store (the snapshot of its last
 * commit) into dir, in a new thread, while the caller goes on using the
 * store. dir must be absolute; it is created (mode 0700, parents too) if
 * missing and must not already hold a store (data.mdb, lock.mdb or
 * matcherd.lock). The copy is a store directory as it stands: matcherd
 * can be started on it. Only one backup runs at a time per store; while it
 * copies, a map growth in store_write waits for the copy to end.
 * Returns the running backup, or NULL with *err (STORE_EINVAL: bad or
 * occupied dir; STORE_EBUSY: a backup is running; STORE_EIO, STORE_ENOSPC,
 * STORE_ENOMEM) and the reason in why (why_len bytes). */
store_backup_t *store_backup_start(store_t *self, const char *dir, char *why, size_t why_len,
                                   int *err) STORE_WUR;

/* A descriptor that becomes readable when the backup has ended (for
 * poll()); -1 for NULL. Owned by the backup. */
int store_backup_fd(const store_backup_t *b);

/* The directory being written. Borrowed. */
const char *store_backup_dir(const store_backup_t *b);

/* Wait for the backup to end (at once if its descriptor is readable), fill
 * *out (may be NULL), free it and set *b_p to NULL. Returns out->rc: 0 when
 * the copy is on disk and opened as a store, else a STORE_E* code with the
 * reason in out->why. Must be called before store_destroy() of its store,
 * from the thread that owns the store. */
int store_backup_finish(store_backup_t **b_p, store_backup_result_t *out);

#endif
