/* fuzz_ingest.c - libFuzzer target over the ingest path: the bytes of one
 * ingest frame go through the same pieces as matcher/ingest.c (size limit,
 * protobuf-c unpack, validate.c, enrich.c, then apply.c in a write
 * transaction of a real LMDB store in a temporary directory, with the
 * matching engine and the feed on), one event per input.
 *
 * The store persists across inputs of a run, so that upserts, withdrawals
 * and closures meet entities that earlier inputs stored, as in the daemon.
 * After each applied event the batch's result must be coherent: an
 * accepted event carries a sequence, a refused one a verdict.
 *
 * Built with clang -fsanitize=fuzzer,address,undefined when
 * PASSERELLE_FUZZ is on (tests/fuzz/CMakeLists.txt); replay_main.c turns
 * it into a plain program that replays committed inputs in every build.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "apply.h"
#include "config.h"
#include "counters.h"
#include "engine.h"
#include "enrich.h"
#include "feed.h"
#include "fuzz_common.h"
#include "log.h"
#include "passerelle/v1/ingest.pb-c.h"
#include "reference.h"
#include "score.h"
#include "store.h"
#include "validate.h"

static struct {
    char dir[64];
    config_t cfg;
    store_t *store;
    reference_t *ref;
    void *zctx;
    feed_t *feed;
    engine_t *engine;
    counters_t counters;
    uint64_t received;
} s;

static void s_quiet(int level, const char *msg)
{
    (void)level;
    (void)msg; /* full-store and stale-update lines would drown the output */
}

static void s_cleanup(void)
{
    engine_destroy(&s.engine);
    feed_destroy(&s.feed);
    if (s.zctx)
        (void)zmq_ctx_term(s.zctx);
    store_destroy(&s.store);
    reference_destroy(&s.ref);
    fuzz_rm_rf(s.dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char err[256];
    score_weights_t w;
    int e = 0;
    (void)argc;
    (void)argv;
    log_init("fuzz_ingest", LOG_LEVEL_ERROR, 0);
    store_set_logger(s_quiet);
    config_defaults(&s.cfg);
    s.ref = reference_load(fuzz_reference_dir(s.cfg.reference_dir), err, sizeof err);
    if (!s.ref) {
        fprintf(stderr, "fuzz_ingest: reference: %s\n", err);
        exit(1);
    }
    snprintf(s.dir, sizeof s.dir, "/tmp/fuzz_ingest.XXXXXX");
    if (!mkdtemp(s.dir) || !(s.store = store_new(s.dir, NULL, &e))) {
        fprintf(stderr, "fuzz_ingest: store in %s: %s\n", s.dir, store_strerror(e));
        exit(1);
    }
    snprintf(s.cfg.feed, sizeof s.cfg.feed, "inproc://fuzz-feed-%d", getpid());
    w = (score_weights_t){s.cfg.w_skills, s.cfg.w_certification,   s.cfg.w_distance,
                          s.cfg.w_start,  s.cfg.distance_scale_km, s.cfg.start_window_days};
    if (score_weights_normalise(&w) != 0 || !(s.zctx = zmq_ctx_new()) ||
        !(s.feed = feed_new(s.zctx, &s.cfg, s.ref, &s.counters)) ||
        !(s.engine = engine_new(s.ref, &w, (unsigned)s.cfg.k, s.feed))) {
        fprintf(stderr, "fuzz_ingest: cannot build the engine\n");
        exit(1);
    }
    atexit(s_cleanup);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static apply_item_t it; /* large: keep it off the stack */
    if (size > s.cfg.max_event_bytes)
        return 0; /* refused as TOO_LARGE before decoding */
    Passerelle__V1__Event *msg = passerelle__v1__event__unpack(NULL, size, data);
    if (!msg)
        return 0; /* UNDECODABLE */
    memset(&it, 0, sizeof it);
    if (validate_event(msg, &it.ev, &it.verdict) == 0 &&
        enrich_event(s.ref, &it.ev, &it.verdict) == 0) {
        it.valid = 1;
        it.payload = data;
        it.payload_len = size;
    } else {
        it.status = APPLY_REJECTED;
        if (it.verdict.code == 0 || it.verdict.message[0] == '\0')
            abort(); /* a refusal must say why */
    }
    passerelle__v1__event__free_unpacked(msg, NULL);
    if (!it.valid)
        return 0;
    apply_batch_t batch = {.items = &it,
                           .n = 1,
                           .now_ms = 1800000000000LL + (int64_t)s.received++,
                           .engine = s.engine,
                           .feed = s.feed};
    int rc = store_write(s.store, apply_batch, &batch);
    if (rc == 0) {
        feed_publish(s.feed, s.store);
        if (it.status == APPLY_ACCEPTED && it.seq == 0)
            abort(); /* accepted without a sequence */
        if (it.status != APPLY_ACCEPTED && it.status != APPLY_DUPLICATE &&
            it.status != APPLY_REJECTED && it.status != APPLY_RETRY)
            abort();
    } else {
        feed_reset(s.feed);
        if (rc != STORE_EFULL && rc != STORE_ENOSPC) {
            fprintf(stderr, "fuzz_ingest: store_write: %s\n", store_strerror(rc));
            abort(); /* bad input must never break the store */
        }
    }
    return 0;
}
