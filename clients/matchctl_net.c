/* matchctl_net.c - the ZeroMQ transport of matchctl.
 *
 * One DEALER per connection (and one SUB for the feed), each with its own
 * context, so that a subcommand opens, uses and closes exactly what it
 * needs. Every socket gets explicit high-water marks, a short linger (exit
 * never hangs on an absent daemon) and a maximum message size. Waits go
 * through zmq_poll() with the time left recomputed after EINTR; the SUB's
 * wait instead returns on EINTR, so that a subscriber stops on SIGINT.
 * This is the only file of clients/ that includes zmq.h.
 */
#include "matchctl.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <czmq.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#define S_LINGER_MS 100

struct matchctl_conn {
    void *ctx;
    void *sock;
    char *endpoint;
};

/* Set an int socket option; print the failure. Returns 0 or -1. */
static int s_setopt_int(void *sock, int option, int value, const char *name)
{
    if (zmq_setsockopt(sock, option, &value, sizeof value) != 0) {
        fprintf(stderr, "matchctl: zmq_setsockopt %s: %s\n", name, zmq_strerror(errno));
        return -1;
    }
    return 0;
}

static int s_configure(void *sock, int hwm)
{
    int64_t max = MATCHCTL_MAX_FRAME;

    if (s_setopt_int(sock, ZMQ_LINGER, S_LINGER_MS, "ZMQ_LINGER") != 0 ||
        s_setopt_int(sock, ZMQ_SNDHWM, hwm, "ZMQ_SNDHWM") != 0 ||
        s_setopt_int(sock, ZMQ_RCVHWM, hwm, "ZMQ_RCVHWM") != 0)
        return -1;
    if (zmq_setsockopt(sock, ZMQ_MAXMSGSIZE, &max, sizeof max) != 0) {
        fprintf(stderr, "matchctl: zmq_setsockopt ZMQ_MAXMSGSIZE: %s\n", zmq_strerror(errno));
        return -1;
    }
    return 0;
}

/* With both certificate variables set, make sock a CURVE client: its key
 * pair from the client certificate, the server's public key from the
 * server certificate. Returns 0 (also when security is not asked for) or
 * -1 with the reason on stderr. Secret keys are never printed. */
static int s_curve(void *sock)
{
    const char *mine = getenv(MATCHCTL_ENV_CLIENT_CERT);
    const char *theirs = getenv(MATCHCTL_ENV_SERVER_CERT);
    int has_mine = mine && *mine, has_theirs = theirs && *theirs;
    if (!has_mine && !has_theirs)
        return 0;
    if (!has_mine || !has_theirs) {
        fprintf(stderr,
                "matchctl: CurveZMQ needs both a client certificate (--client-cert or "
                "$%s) and the server's public certificate (--server-cert or $%s)\n",
                MATCHCTL_ENV_CLIENT_CERT, MATCHCTL_ENV_SERVER_CERT);
        return -1;
    }
    zcert_t *client = zcert_load(mine), *server = zcert_load(theirs);
    int rc = -1;
    if (!client || !server) {
        fprintf(stderr, "matchctl: cannot read the certificate %s\n", !client ? mine : theirs);
    } else if (zmq_setsockopt(sock, ZMQ_CURVE_SERVERKEY, zcert_public_key(server), 32) != 0 ||
               zmq_setsockopt(sock, ZMQ_CURVE_PUBLICKEY, zcert_public_key(client), 32) != 0 ||
               zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, zcert_secret_key(client), 32) != 0) {
        fprintf(stderr, "matchctl: CurveZMQ setup: %s\n", zmq_strerror(errno));
    } else {
        rc = 0;
    }
    zcert_destroy(&client);
    zcert_destroy(&server);
    return rc;
}

int matchctl_net_keygen(const char *dir, const char *name)
{
    char pub[4096], sec[4096];
    struct stat st;
    if ((size_t)snprintf(pub, sizeof pub, "%s/%s", dir, name) >= sizeof pub ||
        (size_t)snprintf(sec, sizeof sec, "%s/%s_secret", dir, name) >= sizeof sec) {
        fprintf(stderr, "matchctl keygen: path too long\n");
        return -1;
    }
    if (stat(pub, &st) == 0 || stat(sec, &st) == 0) {
        fprintf(stderr, "matchctl keygen: %s or %s already exists; not overwriting it\n", pub, sec);
        return -1;
    }
    zcert_t *cert = zcert_new();
    if (!cert) {
        fprintf(stderr, "matchctl keygen: cannot make a key pair\n");
        return -1;
    }
    zcert_set_meta(cert, "name", "%s", name);
    mode_t old = umask(077); /* the secret file must be readable by its owner only */
    int rc = zcert_save(cert, pub);
    umask(old);
    if (rc == 0 && chmod(pub, 0644) != 0)
        rc = -1;
    if (rc != 0)
        fprintf(stderr, "matchctl keygen: cannot write %s: %s\n", pub, strerror(errno));
    else
        printf("%s\n%s\npublic key %s\n", pub, sec, zcert_public_txt(cert));
    zcert_destroy(&cert);
    return rc;
}

/* Make a context and a socket of type (configured, subscribed to topic if
 * not NULL) connected to endpoint, into *ctx / *sock / *copy. Returns
 * MATCHCTL_NET_OK, or an error code with the reason on stderr; on error the
 * caller releases what was made with s_close. */
static int s_open(void **ctx, void **sock, char **copy, const char *endpoint, int type, int hwm,
                  const char *topic)
{
    if ((*copy = strdup(endpoint)) == NULL) {
        fprintf(stderr, "matchctl: out of memory\n");
        return MATCHCTL_NET_ESYS;
    }
    if ((*ctx = zmq_ctx_new()) == NULL) {
        fprintf(stderr, "matchctl: zmq_ctx_new: %s\n", zmq_strerror(errno));
        return MATCHCTL_NET_ESYS;
    }
    if ((*sock = zmq_socket(*ctx, type)) == NULL) {
        fprintf(stderr, "matchctl: zmq_socket: %s\n", zmq_strerror(errno));
        return MATCHCTL_NET_ESYS;
    }
    if (s_configure(*sock, hwm) != 0 || s_curve(*sock) != 0)
        return MATCHCTL_NET_ESYS;
    if (topic != NULL && zmq_setsockopt(*sock, ZMQ_SUBSCRIBE, topic, strlen(topic)) != 0) {
        fprintf(stderr, "matchctl: subscribe to '%s': %s\n", topic, zmq_strerror(errno));
        return MATCHCTL_NET_ESYS;
    }
    if (zmq_connect(*sock, endpoint) != 0) {
        int e = errno;
        fprintf(stderr, "matchctl: connect to %s: %s\n", endpoint, zmq_strerror(e));
        if (e == EINVAL || e == EPROTONOSUPPORT || e == ENOCOMPATPROTO)
            return MATCHCTL_NET_EENDPOINT;
        return MATCHCTL_NET_ESYS;
    }
    return MATCHCTL_NET_OK;
}

static void s_close(void *ctx, void *sock, char *copy)
{
    if (sock != NULL && zmq_close(sock) != 0)
        fprintf(stderr, "matchctl: zmq_close: %s\n", zmq_strerror(errno));
    while (ctx != NULL && zmq_ctx_term(ctx) != 0 && errno == EINTR)
        ; /* retry: the linger is short */
    free(copy);
}

int matchctl_conn_new(matchctl_conn_t **self_p, const char *endpoint, int hwm)
{
    matchctl_conn_t *self = calloc(1, sizeof *self);
    int rc = MATCHCTL_NET_ESYS;

    *self_p = NULL;
    if (self == NULL) {
        fprintf(stderr, "matchctl: out of memory\n");
        return rc;
    }
    rc = s_open(&self->ctx, &self->sock, &self->endpoint, endpoint, ZMQ_DEALER, hwm, NULL);
    if (rc != MATCHCTL_NET_OK) {
        matchctl_conn_destroy(&self);
        return rc;
    }
    *self_p = self;
    return MATCHCTL_NET_OK;
}

void matchctl_conn_destroy(matchctl_conn_t **self_p)
{
    if (self_p == NULL || *self_p == NULL)
        return;
    s_close((*self_p)->ctx, (*self_p)->sock, (*self_p)->endpoint);
    free(*self_p);
    *self_p = NULL;
}

const char *matchctl_conn_endpoint(const matchctl_conn_t *self)
{
    return self->endpoint;
}

/* Poll sock for events for at most timeout_ms. After EINTR the wait goes
 * on with the time left, unless stop_on_eintr. Returns 1 when ready, 0 on
 * timeout, -2 on EINTR with stop_on_eintr, -1 on error (printed). */
static int s_poll(void *sock, const char *endpoint, short events, int timeout_ms,
                  bool stop_on_eintr)
{
    uint64_t deadline = matchctl_now_ms() + (uint64_t)timeout_ms;
    zmq_pollitem_t item = {sock, 0, events, 0};

    for (;;) {
        uint64_t now = matchctl_now_ms();
        long left = now >= deadline ? 0 : (long)(deadline - now);
        int rc = zmq_poll(&item, 1, left);
        if (rc >= 0)
            return rc > 0 ? 1 : 0;
        if (errno != EINTR) {
            fprintf(stderr, "matchctl: zmq_poll on %s: %s\n", endpoint, zmq_strerror(errno));
            return -1;
        }
        if (stop_on_eintr)
            return -2;
    }
}

/* Poll the DEALER for events for at most timeout_ms, across EINTR.
 * Returns 1 when ready, 0 on timeout, -1 on error (printed). */
static int s_wait(matchctl_conn_t *self, short events, int timeout_ms)
{
    return s_poll(self->sock, self->endpoint, events, timeout_ms, false);
}

int matchctl_conn_send(matchctl_conn_t *self, const void *data, size_t len, int timeout_ms)
{
    for (;;) {
        int rc;
        if (zmq_send(self->sock, data, len, ZMQ_DONTWAIT) >= 0)
            return MATCHCTL_NET_OK;
        if (errno != EAGAIN && errno != EINTR) {
            fprintf(stderr, "matchctl: send to %s: %s\n", self->endpoint, zmq_strerror(errno));
            return MATCHCTL_NET_ESYS;
        }
        rc = s_wait(self, ZMQ_POLLOUT, timeout_ms);
        if (rc < 0)
            return MATCHCTL_NET_ESYS;
        if (rc == 0)
            return MATCHCTL_NET_ETIMEOUT;
    }
}

/* Read and drop the remaining frames of a multi-frame message. */
static void s_drain(void *sock, zmq_msg_t *msg)
{
    int more = 1;
    size_t more_len = sizeof more;

    while (more) {
        if (zmq_msg_recv(msg, sock, 0) < 0)
            return;
        if (zmq_getsockopt(sock, ZMQ_RCVMORE, &more, &more_len) != 0)
            return;
    }
}

int matchctl_conn_recv(matchctl_conn_t *self, int timeout_ms, uint8_t **data, size_t *len)
{
    int more = 0, rc;
    size_t more_len = sizeof more;
    zmq_msg_t msg;

    *data = NULL;
    *len = 0;
    rc = s_wait(self, ZMQ_POLLIN, timeout_ms);
    if (rc <= 0)
        return rc < 0 ? MATCHCTL_NET_ESYS : MATCHCTL_NET_ETIMEOUT;
    if (zmq_msg_init(&msg) != 0 || zmq_msg_recv(&msg, self->sock, ZMQ_DONTWAIT) < 0) {
        fprintf(stderr, "matchctl: receive from %s: %s\n", self->endpoint, zmq_strerror(errno));
        return MATCHCTL_NET_ESYS;
    }
    if (zmq_getsockopt(self->sock, ZMQ_RCVMORE, &more, &more_len) != 0 || more) {
        s_drain(self->sock, &msg);
        rc = MATCHCTL_NET_EFRAMES;
        goto done;
    }
    *len = zmq_msg_size(&msg);
    *data = malloc(*len + 1);
    if (*data == NULL) {
        fprintf(stderr, "matchctl: out of memory\n");
        rc = MATCHCTL_NET_ESYS;
        goto done;
    }
    memcpy(*data, zmq_msg_data(&msg), *len);
    rc = MATCHCTL_NET_OK;
done:
    if (zmq_msg_close(&msg) != 0)
        fprintf(stderr, "matchctl: zmq_msg_close: %s\n", zmq_strerror(errno));
    return rc;
}

const char *matchctl_net_strerror(int rc)
{
    switch (rc) {
    case MATCHCTL_NET_OK: return "success";
    case MATCHCTL_NET_EENDPOINT: return "invalid endpoint";
    case MATCHCTL_NET_ESYS: return "transport failure";
    case MATCHCTL_NET_ETIMEOUT: return "timed out";
    case MATCHCTL_NET_EFRAMES: return "message of an unexpected frame count";
    case MATCHCTL_NET_EINTR: return "interrupted by a signal";
    default: return "unknown transport error";
    }
}

/* ------------------------------------------------------------- SUB */

struct matchctl_sub {
    void *ctx;
    void *sock;
    char *endpoint;
};

int matchctl_sub_new(matchctl_sub_t **self_p, const char *endpoint, const char *topic, int hwm)
{
    matchctl_sub_t *self = calloc(1, sizeof *self);
    int rc = MATCHCTL_NET_ESYS;

    *self_p = NULL;
    if (self == NULL) {
        fprintf(stderr, "matchctl: out of memory\n");
        return rc;
    }
    rc = s_open(&self->ctx, &self->sock, &self->endpoint, endpoint, ZMQ_SUB, hwm, topic);
    if (rc != MATCHCTL_NET_OK) {
        matchctl_sub_destroy(&self);
        return rc;
    }
    *self_p = self;
    return MATCHCTL_NET_OK;
}

void matchctl_sub_destroy(matchctl_sub_t **self_p)
{
    if (self_p == NULL || *self_p == NULL)
        return;
    s_close((*self_p)->ctx, (*self_p)->sock, (*self_p)->endpoint);
    free(*self_p);
    *self_p = NULL;
}

/* Copy the frame in msg into a new buffer with a NUL after it.
 * Returns it, or NULL when out of memory (printed). */
static uint8_t *s_copy_frame(zmq_msg_t *msg, size_t *len)
{
    uint8_t *copy;

    *len = zmq_msg_size(msg);
    copy = malloc(*len + 1);
    if (copy == NULL) {
        fprintf(stderr, "matchctl: out of memory\n");
        return NULL;
    }
    memcpy(copy, zmq_msg_data(msg), *len);
    copy[*len] = '\0';
    return copy;
}

/* Receive the next frame of the message being read into msg (its previous
 * content is released). Returns 0, or -1 (printed). */
static int s_recv_frame(matchctl_sub_t *self, zmq_msg_t *msg, int flags)
{
    int rc;

    while ((rc = zmq_msg_recv(msg, self->sock, flags)) < 0 && errno == EINTR)
        ; /* the rest of a message is already here: finish reading it */
    if (rc < 0) {
        fprintf(stderr, "matchctl: receive from %s: %s\n", self->endpoint, zmq_strerror(errno));
        return -1;
    }
    return 0;
}

int matchctl_sub_recv(matchctl_sub_t *self, int timeout_ms, char **topic, uint8_t **data,
                      size_t *len)
{
    size_t topic_len;
    zmq_msg_t msg;
    int rc;

    *topic = NULL;
    *data = NULL;
    *len = 0;
    rc = s_poll(self->sock, self->endpoint, ZMQ_POLLIN, timeout_ms, true);
    if (rc <= 0)
        return rc == 0 ? MATCHCTL_NET_ETIMEOUT : rc == -2 ? MATCHCTL_NET_EINTR : MATCHCTL_NET_ESYS;
    if (zmq_msg_init(&msg) != 0 || s_recv_frame(self, &msg, ZMQ_DONTWAIT) != 0)
        return MATCHCTL_NET_ESYS;
    if (!zmq_msg_more(&msg)) {
        rc = MATCHCTL_NET_EFRAMES; /* a lone frame: not [topic][update] */
        goto done;
    }
    *topic = (char *)s_copy_frame(&msg, &topic_len);
    if (*topic == NULL || s_recv_frame(self, &msg, 0) != 0) {
        rc = MATCHCTL_NET_ESYS;
        goto done;
    }
    if (zmq_msg_more(&msg)) {
        s_drain(self->sock, &msg);
        rc = MATCHCTL_NET_EFRAMES;
        goto done;
    }
    *data = s_copy_frame(&msg, len);
    rc = *data != NULL ? MATCHCTL_NET_OK : MATCHCTL_NET_ESYS;
done:
    if (zmq_msg_close(&msg) != 0)
        fprintf(stderr, "matchctl: zmq_msg_close: %s\n", zmq_strerror(errno));
    if (rc != MATCHCTL_NET_OK) {
        free(*topic);
        *topic = NULL;
        *len = 0;
    }
    return rc;
}
