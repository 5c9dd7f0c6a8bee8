/* apply.c - see apply.h.
 *
 * Order of checks for one event: dedupe first (a re-sent event is a
 * duplicate whatever the store holds now), then ownership (an id posted by
 * one school or employer cannot be touched by another), then version order
 * (an older change is recorded but changes nothing), then the change and
 * its log entry.
 */
#include "apply.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "enrich.h"
#include "log.h"
#include "passerelle/v1/ingest.pb-c.h"

#define E(name) PASSERELLE__V1__ERROR_CODE__ERROR_CODE_##name

/* Scratch records for the old versions: too large for the stack of a
 * callback that may be nested, and the daemon is single-threaded. */
static store_graduate_t s_old_grad;
static store_vacancy_t s_old_vac;

static int s_log(store_txn_t *txn, apply_batch_t *b, apply_item_t *it, uint8_t kind,
                 const char *entity_id, int with_payload)
{
    store_event_t rec = {
        .type = it->ev.type,
        .entity_kind = kind,
        .occurred_ms = it->ev.occurred_ms,
        .received_ms = b->now_ms,
        .source = it->ev.source,
        .event_id = it->ev.event_id,
        .entity_id = entity_id,
        .payload = with_payload ? it->payload : NULL,
        .payload_len = with_payload ? it->payload_len : 0,
    };
    int rc = store_log_append(txn, &rec, &it->seq);
    if (rc == 0)
        it->status = APPLY_ACCEPTED;
    return rc;
}

/* Refuse it: "<kind> <id> <why>". */
static void s_reject(apply_item_t *it, int code, const char *field, const char *kind,
                     const char *id, const char *why)
{
    it->status = APPLY_REJECTED;
    (void)validate_refuse(&it->verdict, code, field, "%s %s %s", kind, id, why);
}

/* A stored record that does not decode: refuse this event, keep the batch. */
static int s_corrupt(apply_item_t *it, const char *id, int rc)
{
    log_errorx("apply: stored record of %s does not decode (%s); event %s answered RETRY", id,
               store_strerror(rc), it->ev.event_id);
    it->status = APPLY_RETRY;
    (void)validate_refuse(&it->verdict, E(STORE_FAILED), "", "stored record of %s is unreadable",
                          id);
    return 0;
}

/* The largest mobility radius ever posted: how far the engine looks for the
 * graduates of a vacancy that sets no distance limit of its own. */
static int s_note_radius(store_txn_t *txn, int32_t radius_km)
{
    char buf[16];
    int rc = store_meta_get_str(txn, "graduate_radius_max", buf, sizeof buf);
    if (rc != 0 && rc != STORE_ENOTFOUND)
        return rc;
    if (rc == 0 && strtol(buf, NULL, 10) >= radius_km)
        return 0;
    (void)snprintf(buf, sizeof buf, "%d", (int)radius_km);
    return store_meta_put_str(txn, "graduate_radius_max", buf);
}

static int s_graduate_upsert(store_txn_t *txn, apply_batch_t *b, apply_item_t *it)
{
    const store_graduate_t *g = &it->ev.u.grad;
    int rc = store_graduate_get(txn, g->id, &s_old_grad);
    if (rc == STORE_ECORRUPT)
        return s_corrupt(it, g->id, rc);
    if (rc == 0 && strcmp(s_old_grad.school, g->school) != 0) {
        s_reject(it, E(OWNER_MISMATCH), "graduate_upsert.graduate.school_id", "graduate", g->id,
                 "belongs to another school");
        return 0;
    }
    if (rc != 0 && rc != STORE_ENOTFOUND)
        return rc;
    rc = store_graduate_put(txn, g);
    if (rc == STORE_ESTALE)
        it->superseded = 1;
    else if (rc != 0)
        return rc;
    else if ((rc = s_note_radius(txn, g->radius_km)) != 0)
        return rc;
    else if (b->engine && (rc = engine_graduate_changed(b->engine, txn, g->id, b->now_ms)) != 0)
        return rc;
    return s_log(txn, b, it, STORE_ENTITY_GRADUATE, g->id, 1);
}

static int s_vacancy_upsert(store_txn_t *txn, apply_batch_t *b, apply_item_t *it)
{
    store_vacancy_t *v = &it->ev.u.vac;
    /* Posted after its expiry date: stored closed. The expiry sweep only
     * looks at days it has not swept yet. */
    v->state = v->expires_on && v->expires_on < (int32_t)(b->now_ms / 86400000)
                   ? STORE_STATE_EXPIRED
                   : STORE_STATE_OPEN;
    int rc = store_vacancy_get(txn, v->id, &s_old_vac);
    if (rc == STORE_ECORRUPT)
        return s_corrupt(it, v->id, rc);
    if (rc == 0 && strcmp(s_old_vac.employer, v->employer) != 0) {
        s_reject(it, E(OWNER_MISMATCH), "vacancy_upsert.vacancy.employer_id", "vacancy", v->id,
                 "belongs to another employer");
        return 0;
    }
    if (rc != 0 && rc != STORE_ENOTFOUND)
        return rc;
    rc = store_vacancy_put(txn, v);
    if (rc == STORE_ESTALE)
        it->superseded = 1;
    else if (rc != 0)
        return rc;
    else if (b->engine && (rc = engine_vacancy_changed(b->engine, txn, v->id, b->now_ms)) != 0)
        return rc;
    return s_log(txn, b, it, STORE_ENTITY_VACANCY, v->id, 1);
}

/* Fetch the graduate named by a withdrawal or erasure and check its owner.
 * Returns 1 if the item was decided (refused), 0 to go on, <0 to abort. */
static int s_graduate_ref(store_txn_t *txn, apply_item_t *it, const char *body)
{
    const matcher_ref_t *r = &it->ev.u.ref;
    char field[64];
    int rc = store_graduate_get(txn, r->id, &s_old_grad);
    if (rc == STORE_ENOTFOUND) {
        (void)snprintf(field, sizeof field, "%s.graduate_id", body);
        s_reject(it, E(UNKNOWN_ENTITY), field, "graduate", r->id,
                 "was never posted (or was erased)");
        return 1;
    }
    if (rc == STORE_ECORRUPT)
        return s_corrupt(it, r->id, rc) == 0 ? 1 : -1;
    if (rc != 0)
        return rc;
    if (strcmp(s_old_grad.school, r->owner) != 0) {
        (void)snprintf(field, sizeof field, "%s.school_id", body);
        s_reject(it, E(OWNER_MISMATCH), field, "graduate", r->id, "belongs to another school");
        return 1;
    }
    return 0;
}

static int s_graduate_withdrawn(store_txn_t *txn, apply_batch_t *b, apply_item_t *it)
{
    int rc = s_graduate_ref(txn, it, "graduate_withdrawn");
    if (rc != 0)
        return rc < 0 ? rc : 0;
    if (s_old_grad.version > it->ev.occurred_ms) {
        it->superseded = 1;
    } else {
        s_old_grad.state = it->ev.u.ref.state;
        s_old_grad.version = it->ev.occurred_ms;
        rc = store_graduate_put(txn, &s_old_grad);
        if (rc != 0)
            return rc;
        if (b->engine &&
            (rc = engine_graduate_changed(b->engine, txn, it->ev.u.ref.id, b->now_ms)) != 0)
            return rc;
    }
    return s_log(txn, b, it, STORE_ENTITY_GRADUATE, it->ev.u.ref.id, 1);
}

/* Erasure removes the graduate and every logged event filed under them.
 * The erasure itself is logged without payload and without the id, so
 * that no trace of the graduate remains; its dedupe entry stays so that a
 * re-sent erasure is a duplicate. */
static int s_graduate_erased(store_txn_t *txn, apply_batch_t *b, apply_item_t *it)
{
    int rc = s_graduate_ref(txn, it, "graduate_erased");
    if (rc != 0)
        return rc < 0 ? rc : 0;
    /* Out of the indexes first, so that refilled lists cannot take it back. */
    s_old_grad.state = STORE_STATE_LEFT;
    if (s_old_grad.version < it->ev.occurred_ms)
        s_old_grad.version = it->ev.occurred_ms;
    if ((rc = store_graduate_put(txn, &s_old_grad)) != 0)
        return rc;
    if (b->engine &&
        (rc = engine_graduate_erasing(b->engine, txn, it->ev.u.ref.id, b->now_ms)) != 0)
        return rc;
    rc = store_graduate_erase(txn, it->ev.u.ref.id);
    if (rc != 0)
        return rc;
    return s_log(txn, b, it, STORE_ENTITY_GRADUATE, "", 0);
}

static int s_vacancy_closed(store_txn_t *txn, apply_batch_t *b, apply_item_t *it)
{
    const matcher_ref_t *r = &it->ev.u.ref;
    int rc = store_vacancy_get(txn, r->id, &s_old_vac);
    if (rc == STORE_ENOTFOUND) {
        s_reject(it, E(UNKNOWN_ENTITY), "vacancy_closed.vacancy_id", "vacancy", r->id,
                 "was never posted");
        return 0;
    }
    if (rc == STORE_ECORRUPT)
        return s_corrupt(it, r->id, rc);
    if (rc != 0)
        return rc;
    if (strcmp(s_old_vac.employer, r->owner) != 0) {
        s_reject(it, E(OWNER_MISMATCH), "vacancy_closed.employer_id", "vacancy", r->id,
                 "belongs to another employer");
        return 0;
    }
    if (s_old_vac.version > it->ev.occurred_ms) {
        it->superseded = 1;
    } else {
        s_old_vac.state = r->state;
        s_old_vac.version = it->ev.occurred_ms;
        rc = store_vacancy_put(txn, &s_old_vac);
        if (rc != 0)
            return rc;
        if (b->engine && (rc = engine_vacancy_changed(b->engine, txn, r->id, b->now_ms)) != 0)
            return rc;
    }
    return s_log(txn, b, it, STORE_ENTITY_VACANCY, r->id, 1);
}

static int s_apply_one(store_txn_t *txn, apply_batch_t *b, apply_item_t *it)
{
    uint64_t seq;
    int rc = store_dedupe_get(txn, it->ev.source, it->ev.event_id, &seq);
    if (rc == 0) {
        it->status = APPLY_DUPLICATE;
        it->seq = seq;
        return 0;
    }
    if (rc != STORE_ENOTFOUND)
        return rc;
    switch (it->ev.type) {
    case STORE_EV_GRADUATE_UPSERT: return s_graduate_upsert(txn, b, it);
    case STORE_EV_GRADUATE_WITHDRAWN: return s_graduate_withdrawn(txn, b, it);
    case STORE_EV_GRADUATE_ERASED: return s_graduate_erased(txn, b, it);
    case STORE_EV_VACANCY_UPSERT: return s_vacancy_upsert(txn, b, it);
    case STORE_EV_VACANCY_CLOSED: return s_vacancy_closed(txn, b, it);
    default: fatalx("%s: event %s has unknown type %d", __func__, it->ev.event_id, it->ev.type);
    }
}

/* Whether the batch b, begun at t0, spent its time or filled its
 * transaction (b->full set). */
static int s_out_of_budget(store_txn_t *txn, apply_batch_t *b, uint64_t t0)
{
    if (b->bounded && store_txn_full(txn)) {
        b->full = 1;
        return 1;
    }
    return b->budget_us && clock_mono_us() - t0 >= b->budget_us;
}

int apply_batch(store_txn_t *txn, void *arg)
{
    apply_batch_t *b = arg;
    uint64_t t0 = clock_mono_us();
    b->decided = 0;
    b->full = 0;
    if (b->feed)
        feed_reset(b->feed);
    for (size_t i = 0; i < b->n; i++) {
        apply_item_t *it = &b->items[i];
        if (!it->valid)
            continue;
        it->status = 0;
        it->seq = 0;
        it->superseded = 0;
        memset(&it->verdict, 0, sizeof it->verdict);
    }
    int rc = 0;
    size_t i = 0;
    while (i < b->n && rc == 0) {
        apply_item_t *it = &b->items[i++];
        if (!it->valid)
            continue;
        rc = s_apply_one(txn, b, it);
        if (rc == 0 && i < b->n && s_out_of_budget(txn, b, t0))
            break;
    }
    b->decided = rc == 0 ? i : 0;
    b->spent_us = clock_mono_us() - t0;
    b->writes = store_txn_writes(txn);
    return rc;
}

void apply_item_reset(apply_item_t *it)
{
    memset(&it->verdict, 0, sizeof it->verdict);
    it->ev.event_id[0] = '\0';
    it->ev.type = 0; /* unknown until validation reads the body */
    it->ev.source[0] = '\0';
    it->seq = 0;
    it->superseded = 0;
    it->status = 0;
    it->valid = 0;
    it->payload = NULL;
    it->payload_len = 0;
}

void apply_judge(apply_item_t *it, const void *data, size_t len, size_t max_bytes,
                 const reference_t *ref)
{
    apply_item_reset(it);
    it->payload = data;
    it->payload_len = len;
    if (len > max_bytes) {
        it->status = APPLY_REJECTED;
        (void)validate_refuse(&it->verdict, E(TOO_LARGE), "",
                              "event of %zu bytes; the limit is %zu", len, max_bytes);
        return;
    }
    Passerelle__V1__Event *msg = passerelle__v1__event__unpack(NULL, len, data);
    if (!msg) {
        it->status = APPLY_REJECTED;
        (void)validate_refuse(&it->verdict, E(UNDECODABLE), "",
                              "%zu bytes that are not a passerelle.v1.Event", len);
        return;
    }
    if (validate_event(msg, &it->ev, &it->verdict) == 0 &&
        (!ref || enrich_event(ref, &it->ev, &it->verdict) == 0))
        it->valid = 1;
    else
        it->status = APPLY_REJECTED;
    passerelle__v1__event__free_unpacked(msg, NULL);
}
