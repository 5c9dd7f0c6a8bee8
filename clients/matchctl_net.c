/* matchctl_net.c - the ZeroMQ transport of matchctl.
 *
 * One DEALER per connection, each with its own context, so that a
 * subcommand opens, uses and closes exactly what it needs. Every socket
 * gets explicit high-water marks, a short linger (exit never hangs on an
 * absent daemon) and a maximum message size. Waits go through zmq_poll()
 * with the time left recomputed after EINTR. This is the only file of
 * clients/ that includes zmq.h.
 */
#include "matchctl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

int matchctl_conn_new(matchctl_conn_t **self_p, const char *endpoint, int hwm)
{
    matchctl_conn_t *self = calloc(1, sizeof *self);
    int rc = MATCHCTL_NET_ESYS;

    *self_p = NULL;
    if (self == NULL || (self->endpoint = strdup(endpoint)) == NULL) {
        fprintf(stderr, "matchctl: out of memory\n");
        goto fail;
    }
    self->ctx = zmq_ctx_new();
    if (self->ctx == NULL) {
        fprintf(stderr, "matchctl: zmq_ctx_new: %s\n", zmq_strerror(errno));
        goto fail;
    }
    self->sock = zmq_socket(self->ctx, ZMQ_DEALER);
    if (self->sock == NULL) {
        fprintf(stderr, "matchctl: zmq_socket: %s\n", zmq_strerror(errno));
        goto fail;
    }
    if (s_configure(self->sock, hwm) != 0)
        goto fail;
    if (zmq_connect(self->sock, endpoint) != 0) {
        int e = errno;
        fprintf(stderr, "matchctl: connect to %s: %s\n", endpoint, zmq_strerror(e));
        if (e == EINVAL || e == EPROTONOSUPPORT || e == ENOCOMPATPROTO)
            rc = MATCHCTL_NET_EENDPOINT;
        goto fail;
    }
    *self_p = self;
    return MATCHCTL_NET_OK;
fail:
    matchctl_conn_destroy(&self);
    return rc;
}

void matchctl_conn_destroy(matchctl_conn_t **self_p)
{
    matchctl_conn_t *self;

    if (self_p == NULL || *self_p == NULL)
        return;
    self = *self_p;
    if (self->sock != NULL && zmq_close(self->sock) != 0)
        fprintf(stderr, "matchctl: zmq_close: %s\n", zmq_strerror(errno));
    while (self->ctx != NULL && zmq_ctx_term(self->ctx) != 0 && errno == EINTR)
        ; /* retry: the linger is short */
    free(self->endpoint);
    free(self);
    *self_p = NULL;
}

const char *matchctl_conn_endpoint(const matchctl_conn_t *self)
{
    return self->endpoint;
}

/* Poll the socket for events for at most timeout_ms, across EINTR.
 * Returns 1 when ready, 0 on timeout, -1 on error (printed). */
static int s_wait(matchctl_conn_t *self, short events, int timeout_ms)
{
    uint64_t deadline = matchctl_now_ms() + (uint64_t)timeout_ms;
    zmq_pollitem_t item = {self->sock, 0, events, 0};

    for (;;) {
        uint64_t now = matchctl_now_ms();
        long left = now >= deadline ? 0 : (long)(deadline - now);
        int rc = zmq_poll(&item, 1, left);
        if (rc >= 0)
            return rc > 0 ? 1 : 0;
        if (errno != EINTR) {
            fprintf(stderr, "matchctl: zmq_poll on %s: %s\n", self->endpoint, zmq_strerror(errno));
            return -1;
        }
    }
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
static void s_drain(matchctl_conn_t *self, zmq_msg_t *msg)
{
    int more = 1;
    size_t more_len = sizeof more;

    while (more) {
        if (zmq_msg_recv(msg, self->sock, 0) < 0)
            return;
        if (zmq_getsockopt(self->sock, ZMQ_RCVMORE, &more, &more_len) != 0)
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
        s_drain(self, &msg);
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
    case MATCHCTL_NET_EFRAMES: return "reply of more than one frame";
    default: return "unknown transport error";
    }
}
