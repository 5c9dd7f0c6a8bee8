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
 * rows are kept on erasure, since they stop an old event, re-sent, from
 * bringing an erased entity back; but event ids often embed the entity's
 * id ("g-123-v2"), so the rows of erased events are rewritten as a keyed
 * digest of (source, event_id): '\0' 'h' + 32 bytes of BLAKE2b keyed with
 * a random per-store key (meta string "dedupe_key"). A plain key starts
 * with the source, never empty, so the two kinds cannot collide.
 */
#include "store_internal.h"

#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
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

#define S_DIGEST_KEY_LEN (2 + crypto_generichash_BYTES)
#define S_DIGEST_KEY_HEX (2 * crypto_generichash_KEYBYTES)

/* The per-store digest key into key: read it, or (create != 0, write txn)
 * make and store it. 0 with key set; 1 if there is none and create is 0;
 * or a STORE_E* code. */
static int s_digest_secret(store_txn_t *txn, int create, uint8_t key[crypto_generichash_KEYBYTES])
{
    char hex[S_DIGEST_KEY_HEX + 1];
    int rc = store_meta_get_str(txn, "dedupe_key", hex, sizeof hex);
    if (rc == STORE_ENOTFOUND && !create)
        return 1;
    if (rc == STORE_ENOTFOUND) {
        if (sodium_init() < 0) {
            store__log(STORE_LOG_ERROR, "store: %s: sodium_init failed", __func__);
            return STORE_EINTERNAL;
        }
        randombytes_buf(key, crypto_generichash_KEYBYTES);
        (void)sodium_bin2hex(hex, sizeof hex, key, crypto_generichash_KEYBYTES);
        return store_meta_put_str(txn, "dedupe_key", hex);
    }
    if (rc != 0)
        return rc;
    if (sodium_hex2bin(key, crypto_generichash_KEYBYTES, hex, strlen(hex), NULL, NULL, NULL) != 0)
        return STORE_ECORRUPT;
    return 0;
}

/* The digest form of a dedupe key into buf (S_DIGEST_KEY_LEN bytes). */
static void s_digest_key(const uint8_t secret[crypto_generichash_KEYBYTES], const MDB_val *plain,
                         uint8_t *buf, MDB_val *key)
{
    buf[0] = '\0';
    buf[1] = 'h';
    (void)crypto_generichash(buf + 2, crypto_generichash_BYTES, plain->mv_data, plain->mv_size,
                             secret, crypto_generichash_KEYBYTES); /* fails only on bad sizes */
    key->mv_size = S_DIGEST_KEY_LEN;
    key->mv_data = buf;
}

/* Look the pair up in its digest form. */
static int s_dedupe_get_digest(store_txn_t *txn, MDB_val *plain, MDB_val *val)
{
    uint8_t secret[crypto_generichash_KEYBYTES], buf[S_DIGEST_KEY_LEN];
    MDB_val key;
    int rc = s_digest_secret(txn, 0, secret);
    if (rc != 0)
        return rc == 1 ? MDB_NOTFOUND : rc;
    s_digest_key(secret, plain, buf, &key);
    return mdb_get(txn->txn, txn->store->dbi[S_DBI_DEDUPE], &key, val);
}

int store_dedupe_get(store_txn_t *txn, const char *source, const char *event_id, uint64_t *seq)
{
    uint8_t buf[STORE_DEDUPE_KEY_MAX];
    MDB_val key, val;
    if (txn == NULL || seq == NULL || s_dedupe_key(source, event_id, buf, &key) != 0)
        return STORE_EINVAL;
    int rc = mdb_get(txn->txn, txn->store->dbi[S_DBI_DEDUPE], &key, &val);
    if (rc == MDB_NOTFOUND)
        rc = s_dedupe_get_digest(txn, &key, &val);
    if (rc < 0 && rc >= STORE_EINTERNAL)
        return rc; /* a STORE_E* code from the digest key */
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
    int rc = store__put(txn, txn->store->dbi[S_DBI_EVENTS], &key, &val, MDB_RESERVE | MDB_APPEND);
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
    uint8_t secret[crypto_generichash_KEYBYTES], hbuf[S_DIGEST_KEY_LEN];
    MDB_val hkey;
    store_codec_put_u64(sbuf, seq);
    if (ev->entity_id[0] == '\0') {
        int src = s_digest_secret(txn, 1, secret);
        if (src != 0)
            return src;
        s_digest_key(secret, dkey, hbuf, &hkey);
        dkey = &hkey;
    }
    int rc = store__put(txn, txn->store->dbi[S_DBI_DEDUPE], dkey, &dval, MDB_NOOVERWRITE);
    if (rc != 0)
        return store__txn_fail(txn, rc, __func__, "mdb_put dedupe '%s'/'%s'", ev->source,
                               ev->event_id);
    if (ev->entity_id[0] == '\0')
        return 0; /* filed under nobody (an erasure leaves no id behind) */
    if (store__entity_key((char)ev->entity_kind, ev->entity_id, ebuf, &ekey) != 0)
        return STORE_EINVAL; /* cannot happen: the codec checked the id */
    rc = store__put(txn, txn->store->dbi[S_DBI_ENTITY_EVENTS], &ekey, &eval, 0);
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
    store_event_t anon;
    int anonymous = ev->entity_id[0] == '\0';
    if (anonymous) { /* the log entry keeps no event id; dedupe keeps its digest */
        anon = *ev;
        anon.event_id = "";
        if (store_codec_event_size(&anon, &len) != 0)
            return STORE_EINVAL;
    }
    if ((rc = store__meta_get(txn, STORE_META_LAST_SEQ, &last)) != 0 ||
        (rc = s_events_put(txn, anonymous ? &anon : ev, len, last + 1)) != 0 ||
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

/* Replace the plain dedupe row of log entry seq by its digest. */
static int s_dedupe_anonymise(store_txn_t *txn, uint64_t seq)
{
    store_event_t ev;
    uint8_t buf[STORE_DEDUPE_KEY_MAX], secret[crypto_generichash_KEYBYTES], hbuf[S_DIGEST_KEY_LEN];
    uint8_t sbuf[8];
    MDB_val key, hkey, val = {sizeof sbuf, sbuf};
    int rc = store_log_get(txn, seq, &ev);
    if (rc != 0)
        return rc == STORE_ENOTFOUND ? 0 : rc;
    if (ev.event_id[0] == '\0' || s_dedupe_key(ev.source, ev.event_id, buf, &key) != 0)
        return 0; /* already anonymous */
    if ((rc = s_digest_secret(txn, 1, secret)) != 0)
        return rc;
    s_digest_key(secret, &key, hbuf, &hkey);
    store_codec_put_u64(sbuf, seq);
    rc = store__put(txn, txn->store->dbi[S_DBI_DEDUPE], &hkey, &val, 0);
    if (rc == 0)
        rc = store__del(txn, txn->store->dbi[S_DBI_DEDUPE], &key, NULL);
    if (rc != 0 && rc != MDB_NOTFOUND)
        return store__txn_fail(txn, rc, __func__, "dedupe row of log entry %" PRIu64, seq);
    return 0;
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
        int arc = s_dedupe_anonymise(txn, seq);
        if (arc != 0) {
            mdb_cursor_close(cur);
            return arc;
        }
        rc = store__del(txn, txn->store->dbi[S_DBI_EVENTS], &skey, NULL);
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
    rc = store__del(txn, txn->store->dbi[S_DBI_ENTITY_EVENTS], &ekey, NULL);
    if (rc != 0)
        return store__txn_fail(txn, rc, __func__, "mdb_del entity_events %c '%s'", kind, id);
    return 0;
}
