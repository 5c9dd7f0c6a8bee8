/* store_log.c - the event log, the dedupe table and per-entity log lists.
 *
 * Every accepted event gets the next sequence number. The last number ever
 * issued lives in meta "last_seq", not in the last key of "events": erasing
 * a graduate deletes its log entries, possibly the newest ones, and a
 * sequence number must never be handed out twice (subscribers and dedupe
 * rows refer to them).
 *
 * "entity_events" files each seq under its entity (kind byte + id) so that
 * erasure finds every entry of an entity without scanning the log. Dedupe
 * rows are kept on erasure: they hold no personal data, and they stop an
 * old event, re-sent, from bringing an erased entity back.
 */
#include "store_internal.h"

#include <inttypes.h>
#include <string.h>

#include "store_codec.h"

/* source '\0' event_id into buf. STORE_EINVAL if NULL or over 400 bytes. */
static int s_dedupe_key(const char *source, const char *event_id, uint8_t buf[STORE_DEDUPE_KEY_MAX],
                        MDB_val *key)
{
    if (source == NULL || event_id == NULL)
        return STORE_EINVAL;
    size_t ns = strnlen(source, STORE_DEDUPE_KEY_MAX);
    size_t ne = strnlen(event_id, STORE_DEDUPE_KEY_MAX);
    if (ns + 1 + ne > STORE_DEDUPE_KEY_MAX)
        return STORE_EINVAL;
    memcpy(buf, source, ns);
    buf[ns] = '\0';
    memcpy(buf + ns + 1, event_id, ne);
    key->mv_size = ns + 1 + ne;
    key->mv_data = buf;
    return 0;
}

int store_dedupe_get(store_txn_t *txn, const char *source, const char *event_id, uint64_t *seq)
{
    uint8_t buf[STORE_DEDUPE_KEY_MAX];
    MDB_val key, val;
    if (txn == NULL || seq == NULL || s_dedupe_key(source, event_id, buf, &key) != 0)
        return STORE_EINVAL;
    int rc = mdb_get(txn->txn, txn->store->dbi[S_DBI_DEDUPE], &key, &val);
    if (rc == MDB_NOTFOUND)
        return STORE_ENOTFOUND;
    if (rc != 0)
        return store__txn_fail(txn, rc, __func__, "mdb_get dedupe '%s'/'%s'", source, event_id);
    if (val.mv_size != 8) {
        store__log(STORE_LOG_ERROR, "store: %s: dedupe '%s'/'%s' holds %zu bytes, expected 8",
                   __func__, source, event_id, val.mv_size);
        return STORE_ECORRUPT;
    }
    *seq = store_codec_get_u64(val.mv_data);
    return 0;
}

/* Arguments of store_log_append that the codec does not check. */
static int s_append_ok(store_txn_t *txn, const store_event_t *ev, const uint64_t *seq)
{
    int rc = store__need_write(txn, "store_log_append");
    if (rc != 0)
        return rc;
    if (ev == NULL || seq == NULL || ev->type < STORE_EV_GRADUATE_UPSERT ||
        ev->type > STORE_EV_VACANCY_CLOSED ||
        (ev->entity_kind != STORE_ENTITY_GRADUATE && ev->entity_kind != STORE_ENTITY_VACANCY)) {
        store__log(STORE_LOG_ERROR, "store: store_log_append: bad event (type or kind)");
        return STORE_EINVAL;
    }
    return 0;
}

/* The log record itself, written in place (MDB_RESERVE) under seq. */
static int s_events_put(store_txn_t *txn, const store_event_t *ev, size_t len, uint64_t seq)
{
    MDB_val key = {sizeof seq, &seq}, val = {len, NULL};
    int rc = mdb_put(txn->txn, txn->store->dbi[S_DBI_EVENTS], &key, &val, MDB_RESERVE | MDB_APPEND);
    if (rc == MDB_KEYEXIST) {
        /* MDB_APPEND found a key >= seq: meta "last_seq" is behind the log */
        store__log(STORE_LOG_ERROR,
                   "store: %s: seq %" PRIu64 " is not above the last logged "
                   "event: meta last_seq disagrees with the log",
                   __func__, seq);
        txn->err = txn->err != 0 ? txn->err : STORE_ECORRUPT;
        return STORE_ECORRUPT;
    }
    if (rc != 0)
        return store__txn_fail(txn, rc, __func__, "mdb_put events %" PRIu64, seq);
    store_codec_event_encode(ev, val.mv_data, len);
    return 0;
}

/* The dedupe row and the entity's log list for seq. */
static int s_refs_put(store_txn_t *txn, const store_event_t *ev, MDB_val *dkey, uint64_t seq)
{
    uint8_t ebuf[STORE_ENTITY_KEY_MAX], sbuf[8];
    MDB_val ekey, dval = {sizeof sbuf, sbuf}, eval = {sizeof seq, &seq};
    store_codec_put_u64(sbuf, seq);
    int rc = mdb_put(txn->txn, txn->store->dbi[S_DBI_DEDUPE], dkey, &dval, MDB_NOOVERWRITE);
    if (rc != 0)
        return store__txn_fail(txn, rc, __func__, "mdb_put dedupe '%s'/'%s'", ev->source,
                               ev->event_id);
    if (ev->entity_id[0] == '\0')
        return 0; /* filed under nobody (an erasure leaves no id behind) */
    if (store__entity_key((char)ev->entity_kind, ev->entity_id, ebuf, &ekey) != 0)
        return STORE_EINVAL; /* cannot happen: the codec checked the id */
    rc = mdb_put(txn->txn, txn->store->dbi[S_DBI_ENTITY_EVENTS], &ekey, &eval, 0);
    if (rc != 0)
        return store__txn_fail(txn, rc, __func__, "mdb_put entity_events %c '%s'", ev->entity_kind,
                               ev->entity_id);
    return 0;
}

int store_log_append(store_txn_t *txn, const store_event_t *ev, uint64_t *seq)
{
    uint8_t dbuf[STORE_DEDUPE_KEY_MAX];
    MDB_val dkey;
    size_t len;
    uint64_t last = 0, old = 0;
    int rc = s_append_ok(txn, ev, seq);
    if (rc != 0)
        return rc;
    if (store_codec_event_size(ev, &len) != 0 ||
        s_dedupe_key(ev->source, ev->event_id, dbuf, &dkey) != 0) {
        store__log(STORE_LOG_ERROR, "store: %s: event has a missing or oversized field", __func__);
        return STORE_EINVAL;
    }
    rc = store_dedupe_get(txn, ev->source, ev->event_id, &old);
    if (rc == 0) {
        store__log(STORE_LOG_ERROR, "store: %s: '%s'/'%s' already logged as seq %" PRIu64, __func__,
                   ev->source, ev->event_id, old);
        return STORE_EINVAL;
    }
    if (rc != STORE_ENOTFOUND)
        return rc;
    if ((rc = store__meta_get(txn, STORE_META_LAST_SEQ, &last)) != 0 ||
        (rc = s_events_put(txn, ev, len, last + 1)) != 0 ||
        (rc = s_refs_put(txn, ev, &dkey, last + 1)) != 0 ||
        (rc = store__meta_put(txn, STORE_META_LAST_SEQ, last + 1)) != 0)
        return rc;
    *seq = last + 1;
    return 0;
}

int store_log_get(store_txn_t *txn, uint64_t seq, store_event_t *ev)
{
    MDB_val key = {sizeof seq, &seq}, val;
    if (txn == NULL || ev == NULL)
        return STORE_EINVAL;
    memset(ev, 0, sizeof *ev);
    int rc = mdb_get(txn->txn, txn->store->dbi[S_DBI_EVENTS], &key, &val);
    if (rc == MDB_NOTFOUND)
        return STORE_ENOTFOUND;
    if (rc != 0)
        return store__txn_fail(txn, rc, __func__, "mdb_get events %" PRIu64, seq);
    if (store_codec_event_decode(val.mv_data, val.mv_size, ev) != 0) {
        store__log(STORE_LOG_ERROR,
                   "store: %s: log entry %" PRIu64 " (%zu bytes) does not "
                   "decode",
                   __func__, seq, val.mv_size);
        return STORE_ECORRUPT;
    }
    ev->seq = seq;
    return 0;
}

uint64_t store_log_last(store_txn_t *txn)
{
    uint64_t last = 0;
    if (txn == NULL || store__meta_get(txn, STORE_META_LAST_SEQ, &last) != 0)
        return 0; /* logged by store__meta_get */
    return last;
}

/* Delete the log entries listed under ekey (the list itself stays). */
static int s_events_del(store_txn_t *txn, MDB_val *ekey, int *found)
{
    MDB_cursor *cur = NULL;
    MDB_val val;
    int rc = mdb_cursor_open(txn->txn, txn->store->dbi[S_DBI_ENTITY_EVENTS], &cur);
    if (rc != 0)
        return store__txn_fail(txn, rc, __func__, "mdb_cursor_open entity_events");
    rc = mdb_cursor_get(cur, ekey, &val, MDB_SET_KEY);
    while (rc == 0 && val.mv_size == sizeof(uint64_t)) {
        uint64_t seq;
        memcpy(&seq, val.mv_data, sizeof seq);
        MDB_val skey = {sizeof seq, &seq};
        *found = 1;
        rc = mdb_del(txn->txn, txn->store->dbi[S_DBI_EVENTS], &skey, NULL);
        if (rc == 0 || rc == MDB_NOTFOUND)
            rc = mdb_cursor_get(cur, ekey, &val, MDB_NEXT_DUP);
    }
    mdb_cursor_close(cur);
    if (rc == 0) {
        store__log(STORE_LOG_ERROR, "store: %s: entity_events value of %zu bytes", __func__,
                   val.mv_size);
        return STORE_ECORRUPT;
    }
    if (rc != MDB_NOTFOUND)
        return store__txn_fail(txn, rc, __func__, "erase log entries");
    return 0;
}

int store__log_erase_entity(store_txn_t *txn, char kind, const char *id, int *found)
{
    uint8_t ebuf[STORE_ENTITY_KEY_MAX];
    MDB_val ekey;
    *found = 0;
    if (store__entity_key(kind, id, ebuf, &ekey) != 0)
        return STORE_EINVAL;
    int rc = s_events_del(txn, &ekey, found);
    if (rc != 0 || !*found)
        return rc;
    if (store__entity_key(kind, id, ebuf, &ekey) != 0) /* the cursor moved ekey into the map */
        return STORE_EINVAL;
    rc = mdb_del(txn->txn, txn->store->dbi[S_DBI_ENTITY_EVENTS], &ekey, NULL);
    if (rc != 0)
        return store__txn_fail(txn, rc, __func__, "mdb_del entity_events %c '%s'", kind, id);
    return 0;
}
