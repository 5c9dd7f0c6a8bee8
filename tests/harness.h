/* harness.h - run the real matcherd for integration tests.
 *
 * A harness owns one temporary directory (store, daemon log), three free
 * loopback ports (ingest, feed, query), one ZeroMQ context and at most one
 * matcherd child process at a time. It starts the daemon with fork/exec,
 * waits until the query socket says it is ready, stops it with SIGTERM or
 * kills it with SIGKILL, and restarts it on the same store and ports.
 *
 * Everything here is bounded in time: every receive goes through zmq_poll
 * with a timeout, every socket has LINGER 0, every waitpid has a deadline.
 * A test that fails never hangs the suite and never leaves a daemon behind
 * (the child also gets PR_SET_PDEATHSIG, so it dies with the test).
 *
 * The harness also builds protobuf-c events (hev_t), drives pipelined
 * producers on DEALER sockets (hpipe_t) and queries stats and health.
 *
 * Environment:
 *   PASSERELLE_MATCHERD        path of the daemon (set by CTest); falls back
 *                              to ../matcherd next to the test executable
 *   PASSERELLE_MATCHERD_ARGS   extra arguments, separated by spaces
 *   PASSERELLE_START_TIMEOUT_MS  how long to wait for readiness (15000)
 *   PASSERELLE_ACK_TIMEOUT_MS  pipelines fail after that long without an ack
 *                              (default HARNESS_ACK_TIMEOUT_MS)
 *   PASSERELLE_KEEP_TMP=1      keep the temporary directory at teardown
 *   PASSERELLE_TEST_FILTER     cmocka test-name filter (tests' main())
 *
 * Threads: a harness is used from one thread, except that hclient_new() and
 * hclient_destroy() may be called from any thread (the registry of open
 * sockets is locked); each client is then used by its creating thread only.
 */
#ifndef PASSERELLE_TESTS_HARNESS_H
#define PASSERELLE_TESTS_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "passerelle/v1/entities.pb-c.h"
#include "passerelle/v1/feed.pb-c.h"
#include "passerelle/v1/ingest.pb-c.h"
#include "passerelle/v1/query.pb-c.h"

/* Short names for the generated enums the tests use the most. */
#define H_ACCEPTED  PASSERELLE__V1__ACK_STATUS__ACK_STATUS_ACCEPTED
#define H_DUPLICATE PASSERELLE__V1__ACK_STATUS__ACK_STATUS_DUPLICATE
#define H_REJECTED  PASSERELLE__V1__ACK_STATUS__ACK_STATUS_REJECTED
#define H_RETRY     PASSERELLE__V1__ACK_STATUS__ACK_STATUS_RETRY
#define H_ERR(name) PASSERELLE__V1__ERROR_CODE__ERROR_CODE_##name

/* Default timeouts, milliseconds. */
#define HARNESS_ACK_TIMEOUT_MS   10000
#define HARNESS_QUERY_TIMEOUT_MS 5000
#define HARNESS_STOP_TIMEOUT_MS  15000

/* A date well inside the valid range: 2026-01-01T00:00:00Z. */
#define HARNESS_T0_MS 1767225600000LL

/* ------------------------------------------------------------------ */
/* Growable byte buffer. */

typedef struct hbuf {
    uint8_t *data;
    size_t len;
    size_t cap;
} hbuf_t;

/* Make room for len bytes and set buf->len = len. Returns 0, or -1 when out
 * of memory (buf unchanged). */
int hbuf_resize(hbuf_t *buf, size_t len);

/* Free the data and zero the struct. Accepts a zeroed struct. */
void hbuf_free(hbuf_t *buf);

/* ------------------------------------------------------------------ */
/* The daemon. */

typedef struct hclient hclient_t;

typedef struct harness {
    char root[256];      /* temporary directory, removed at teardown */
    char data_dir[300];  /* root/data: the store */
    char log_path[300];  /* root/matcherd.log: the daemon's stderr */
    char matcherd[1024]; /* path of the executable */
    char ingest_ep[64];
    char feed_ep[64];
    char query_ep[64];
    void *zctx;      /* ZeroMQ context for every client socket */
    pid_t pid;       /* running daemon, or 0 */
    int last_status; /* waitpid status of the last daemon to exit */
    int starts;      /* how many times the daemon was started */
    bool passed;     /* set by harness_pass(); else teardown dumps the log */
    /* CurveZMQ: when curve is set, every client socket made afterwards
     * (hclient_new, harness_query) is a CURVE client with these keys. */
    bool curve;
    uint8_t curve_server[32]; /* the daemon's public key */
    uint8_t curve_public[32]; /* the client's key pair */
    uint8_t curve_secret[32];
    /* > 0: the daemon's RLIMIT_FSIZE in bytes, with SIGXFSZ ignored, so that
     * writes past it fail (a disk that fills); set before a start */
    long long fsize_limit;
    /* private */
    void *registry; /* open sockets, closed at destroy */
} harness_t;

/* Create the temporary directory and the ZeroMQ context and choose three
 * free loopback ports. Does not start the daemon. Returns NULL (reason on
 * stderr) on failure. */
harness_t *harness_new(void);

/* Kill the daemon if it is still running, close every client socket left
 * open, terminate the context, print the daemon log unless harness_pass()
 * was called, remove the temporary directory, free and NULL *self_p.
 * NULL or *self_p == NULL is a no-op. */
void harness_destroy(harness_t **self_p);

/* Start the daemon on data_dir and wait until Health says ready (or the
 * start timeout). If it dies before being ready, new ports are chosen and
 * the start is retried (twice), for the case a port was taken meanwhile.
 * Returns 0 when ready; -1 otherwise, with the daemon killed and its log
 * printed. Fails if a daemon is already running. */
int harness_start(harness_t *self);

/* SIGTERM the daemon and wait at most timeout_ms for it to exit; on timeout
 * it is SIGKILLed. Returns 0 and sets *status (waitpid status; may be NULL)
 * when it exited on its own, -1 on timeout or when no daemon runs. */
int harness_stop(harness_t *self, int timeout_ms, int *status);

/* Stop the daemon and require a clean exit (exit status 0). Returns 0, or -1
 * with the reason and the log printed. */
int harness_stop_clean(harness_t *self);

/* SIGKILL the daemon and reap it. Returns 0, or -1 if no daemon runs. */
int harness_kill(harness_t *self);

/* Send a signal to the running daemon without waiting. Returns 0 or -1. */
int harness_signal(harness_t *self, int sig);

/* Non-blocking: has the daemon exited? Returns true (status in *status and
 * self->last_status, pid cleared) if it has or if none runs. */
bool harness_exited(harness_t *self, int *status);

/* Stop the daemon if it runs (SIGTERM) and start it again on the same store
 * and ports. Returns as harness_start(). */
int harness_restart(harness_t *self);

/* Describe a waitpid status ("exited 0", "killed by signal 9") in buf. */
const char *harness_status_str(int status, char *buf, size_t size);

/* Print the daemon log (its last 64 KiB) on stderr, framed by a title. */
void harness_dump_log(const harness_t *self, const char *why);

/* Mark the current test as passed: teardown will not dump the log. */
void harness_pass(harness_t *self);

/* cmocka fixtures. harness_setup: a harness with its daemon started (the
 * setup fails, the log printed, when it does not start). harness_setup_config:
 * the same, the daemon started with --config on a file holding text.
 * harness_setup_stopped: a harness whose daemon is not started.
 * harness_teardown: destroys the harness of any of them. */
int harness_setup(void **state);
int harness_setup_config(void **state, const char *text);
int harness_setup_stopped(void **state);
int harness_teardown(void **state);

/* Microseconds on the monotonic clock. */
int64_t harness_now_us(void);

/* ------------------------------------------------------------------ */
/* Clients on the ingest socket. */

struct hclient {
    void *sock;
    harness_t *harness;
    char err[256]; /* reason of the last failure */
};

/* Open a socket of zmq_type (ZMQ_DEALER or ZMQ_REQ) connected to endpoint
 * (NULL: the harness's ingest endpoint), with LINGER 0 and large HWMs.
 * Returns NULL on failure. The harness closes it at destroy if the test
 * does not. */
hclient_t *hclient_new(harness_t *h, int zmq_type, const char *endpoint);

/* Close the socket and free. NULL or *self_p == NULL is a no-op. */
void hclient_destroy(hclient_t **self_p);

/* Send one frame (flags: 0 or ZMQ_SNDMORE), waiting at most 5 s for room.
 * Returns 0 or -1 (reason in self->err). */
int hclient_send(hclient_t *self, const void *data, size_t len, int flags);

/* Receive one Ack within timeout_ms. Returns the unpacked Ack (free with
 * passerelle__v1__ack__free_unpacked(ack, NULL)), or NULL on timeout, on a
 * reply of more than one frame or on undecodable bytes (reason in err). */
Passerelle__V1__Ack *hclient_recv_ack(hclient_t *self, int timeout_ms);

/* ------------------------------------------------------------------ */
/* Events. An hev_t holds one Event and every sub-message it may point to;
 * the builders wire the pointers into the struct itself, so an hev_t must
 * not be copied or moved after a builder ran. Tests may then change any
 * field, including pointing strings at their own (long-lived) buffers. */

#define HEV_MAX_CERTS  20
#define HEV_MAX_SKILLS 70
#define HEV_MAX_CODES  40
#define HEV_ID_MAX     160

typedef struct hev {
    Passerelle__V1__Event event;
    Passerelle__V1__GraduateUpsert graduate_upsert;
    Passerelle__V1__GraduateWithdrawn graduate_withdrawn;
    Passerelle__V1__GraduateErased graduate_erased;
    Passerelle__V1__VacancyUpsert vacancy_upsert;
    Passerelle__V1__VacancyClosed vacancy_closed;
    Passerelle__V1__Graduate graduate;
    Passerelle__V1__Vacancy vacancy;
    Passerelle__V1__Location location;
    Passerelle__V1__GeoPoint point;
    Passerelle__V1__Certification certs[HEV_MAX_CERTS];
    Passerelle__V1__Certification *cert_ptrs[HEV_MAX_CERTS];
    char cert_rncp[HEV_MAX_CERTS][32];
    char *skills[HEV_MAX_SKILLS];
    char skill_buf[HEV_MAX_SKILLS][32];
    char *rome_codes[HEV_MAX_CODES];
    char *rncp_codes[HEV_MAX_CODES];
    char event_id[HEV_ID_MAX];
    char source[HEV_ID_MAX];
    char entity_id[HEV_ID_MAX];
    char owner_id[HEV_ID_MAX];
} hev_t;

/* The valid graduate of the spec: school "0650043X", one CAP RNCP27470
 * level 3, skill "486590", home Tarbes {43.2328, 0.0781}, radius 50 km. */
void hev_graduate(hev_t *e, const char *source, const char *event_id, int64_t at_ms,
                  const char *graduate_id);

/* Give the graduate n (<= HEV_MAX_CERTS) distinct valid certifications. */
void hev_graduate_certs(hev_t *e, size_t n);

/* Give the graduate n (<= HEV_MAX_SKILLS) distinct skills. */
void hev_graduate_skills(hev_t *e, size_t n);

/* The valid vacancy of the spec: employer "12345678900012", metalworking,
 * ROME H2913, site Tarbes, CDI, 1 position, required RNCP27470. */
void hev_vacancy(hev_t *e, const char *source, const char *event_id, int64_t at_ms,
                 const char *vacancy_id);

/* Graduate withdrawn (hired) by school_id. */
void hev_withdraw(hev_t *e, const char *source, const char *event_id, int64_t at_ms,
                  const char *graduate_id, const char *school_id);

/* Graduate erased by school_id. */
void hev_erase(hev_t *e, const char *source, const char *event_id, int64_t at_ms,
               const char *graduate_id, const char *school_id);

/* Vacancy closed (filled) by employer_id. */
void hev_close(hev_t *e, const char *source, const char *event_id, int64_t at_ms,
               const char *vacancy_id, const char *employer_id);

/* Move the graduate's home or the vacancy's site to a point of mainland
 * France derived from i (deterministic, spread over ~700 x 600 km), and
 * limit a vacancy's reach to 50 km, so that bulk tests do not pile every
 * entity on one spot where everything matches everything (the builders'
 * entities all share RNCP27470). */
void hev_spread(hev_t *e, size_t i);

/* Serialize into out (resized). Returns 0, or -1 when out of memory. */
int hev_pack(const hev_t *e, hbuf_t *out);

/* Pack and send as one frame; returns 0 or -1 (reason in c->err). */
int hclient_send_event(hclient_t *c, const hev_t *e);

/* Send and wait for the Ack: NULL on timeout (see hclient_recv_ack). */
Passerelle__V1__Ack *hclient_call(hclient_t *c, const hev_t *e, int timeout_ms);

/* Receive one feed message ([topic][MatchUpdate]) on the SUB socket sub
 * within timeout_ms: the update, to free with
 * passerelle__v1__match_update__free_unpacked; NULL when none came. A
 * message of another shape fails the test. */
Passerelle__V1__MatchUpdate *hclient_recv_update(hclient_t *sub, int timeout_ms);

/* Names of enum values, for messages ("ACK_STATUS_ACCEPTED"); never NULL. */
const char *h_status_name(int status);
const char *h_error_name(int code);

/* Describe an ack in buf: "ack{id=..., ACCEPTED, NONE, seq=3, ...}". */
const char *h_ack_str(const Passerelle__V1__Ack *ack, char *buf, size_t size);

/* ------------------------------------------------------------------ */
/* Pipelined producers: send events with at most `window` unacknowledged,
 * match each ack with the oldest unacknowledged message (acks come back in
 * order) and hand it to on_ack. Several pipes run together in one poll
 * loop (hpipe_run_many), each on its own client. */

typedef struct hpipe hpipe_t;

/* Pack message i into out and put its event id into id (size HEV_ID_MAX),
 * or "" when the ack's event id is not to be checked (garbage). Returns 0,
 * 1 when there is nothing more to send, -1 on failure. */
typedef int (*hpipe_make_fn)(hpipe_t *p, size_t i, hbuf_t *out, char *id);

/* An ack for message i arrived. Return 0 to go on, -1 to fail the run (set
 * p->err). The ack is freed after the call. */
typedef int (*hpipe_ack_fn)(hpipe_t *p, size_t i, const Passerelle__V1__Ack *ack);

/* Called on every turn of the loop. Return HPIPE_GO, HPIPE_DRAIN (send no
 * more; wait for acks until none came for drain_ms, then end without
 * error: used when the daemon is being stopped or killed) or HPIPE_FAIL. */
typedef int (*hpipe_tick_fn)(void *ctx);
enum { HPIPE_GO = 0, HPIPE_DRAIN = 1, HPIPE_FAIL = -1 };

struct hpipe {
    hclient_t *client;
    size_t n;            /* messages to send (SIZE_MAX: until make says 1) */
    size_t window;       /* max unacknowledged messages */
    int idle_timeout_ms; /* fail when no ack came for that long (0: default) */
    int drain_ms;        /* in drain mode, end after this much silence (500) */
    hpipe_make_fn make;
    hpipe_ack_fn on_ack;
    void *ctx; /* for the callbacks */
    /* results */
    size_t sent;
    size_t acked;
    bool failed;
    char err[512];
    /* private */
    size_t head;             /* index of the oldest unacknowledged message */
    char (*ids)[HEV_ID_MAX]; /* ring of expected event ids, window long */
    bool done_making;
    int64_t last_ack_us;
    hbuf_t buf;
    bool pending; /* buf holds message `sent`, not yet sent */
    char pending_id[HEV_ID_MAX];
};

/* Run the pipes until each has sent everything and received every ack,
 * or tick asked to drain and the acks stopped coming. tick and tick_ctx
 * may be NULL. Returns 0, or -1 when any pipe failed (see its err). */
int hpipe_run_many(hpipe_t **pipes, size_t count, hpipe_tick_fn tick, void *tick_ctx);

/* For an hpipe_make_fn that sends prepared messages: copy bytes (len) into
 * out and event_id into id. Returns 0, or -1 when out of memory. */
int hpipe_copy(hbuf_t *out, char *id, const void *bytes, size_t len, const char *event_id);

/* One pipe. */
int hpipe_run(hpipe_t *p, hpipe_tick_fn tick, void *tick_ctx);

/* ------------------------------------------------------------------ */
/* Query socket. */

/* Send req on a fresh DEALER to the query endpoint and wait timeout_ms for
 * the response. Returns it (free with passerelle__v1__response__free_unpacked
 * (r, NULL)) or NULL on timeout or bad reply (reason on stderr when
 * verbose). */
Passerelle__V1__Response *harness_query(harness_t *h, Passerelle__V1__Request *req, int timeout_ms,
                                        bool verbose);

/* One page of the feed's replay: the updates under the topics that begin
 * with prefix ("" or NULL: all) after sequence after, at most limit. The
 * response as harness_query returns it, asserted to have come. */
/* Every stored update under prefix after sequence after, page after page
 * of at most limit, to fn in sequence order (with arg); each page asserted
 * to have come without error, and to move on while it says there is more.
 * Returns the last sequence the pages covered. */
typedef void (*harness_replay_fn)(const Passerelle__V1__Topical *t, void *arg);
uint64_t harness_replay_each(harness_t *h, const char *prefix, uint64_t after, uint32_t limit,
                             harness_replay_fn fn, void *arg);

Passerelle__V1__Response *harness_replay(harness_t *h, const char *prefix, uint64_t after,
                                         uint32_t limit);

/* The daemon's TopMatches answer for a vacancy's list (graduate false:
 * vacancy_id names a vacancy, the graduate ids are listed) or a graduate's
 * (graduate true: the vacancy ids), in rank order, as "id,id,..." into
 * out. 0, or -1 when no answer came or it was an error (said on stderr). */
int harness_top_ids(harness_t *h, bool graduate, const char *id, char *out, size_t size);

/* A copy of the numbers of Stats. */
typedef struct hstats {
    uint64_t graduates;
    uint64_t graduates_available;
    uint64_t vacancies;
    uint64_t vacancies_open;
    uint64_t events;
    uint64_t events_accepted;
    uint64_t events_duplicate;
    uint64_t events_rejected;
    uint64_t events_retry;
    uint64_t batches;
    uint64_t batch_max;
    uint64_t txns_full; /* ingest transactions ended at [store] txn_max_writes */
    uint64_t store_bytes;
    uint64_t store_map_bytes;
    uint64_t store_used_bytes;
    uint64_t match_sequence;
    uint64_t feed_dropped;
    uint64_t commit_us_last;
} hstats_t;

/* Fetch stats. Returns 0, or -1 (reason on stderr). */
int harness_stats(harness_t *h, hstats_t *out);

/* The same, waiting at most timeout_ms for the answer. */
int harness_stats_wait(harness_t *h, hstats_t *out, int timeout_ms);

/* Fetch health with one attempt of timeout_ms. Returns 0 with *live and
 * *ready set, or -1 on timeout or bad reply. */
int harness_health(harness_t *h, int timeout_ms, bool *live, bool *ready);

/* Apply PASSERELLE_TEST_FILTER to cmocka, if set. */
void harness_cmocka_filter(void);

/* Put (key, val) into table of the stopped daemon's data.mdb in dir with
 * LMDB itself, to damage a store on purpose; fails the test on error. */
void harness_raw_put(const char *dir, const char *table, const void *key, size_t klen,
                     const void *val, size_t vlen);

/* Integer from the environment, or def when unset or not a number. */
long harness_env_long(const char *name, long def);

#endif
