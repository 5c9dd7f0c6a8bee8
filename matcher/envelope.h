/* envelope.h - ROUTER message envelopes shared by the ingest and query
 * sockets.
 *
 * A ROUTER receives [routing id] then what the peer sent: a DEALER sends
 * [body], a REQ socket [""][body]. Replies mirror the envelope. Every frame
 * of a message is read before it is judged, so the next receive starts
 * clean whatever the peer sent.
 */
#ifndef MATCHER_ENVELOPE_H
#define MATCHER_ENVELOPE_H

#include <stddef.h>
#include <stdint.h>
#include <zmq.h>

#define ENVELOPE_RID_MAX 256

typedef struct {
    uint8_t rid[ENVELOPE_RID_MAX];
    size_t rid_len;
    int req;        /* REQ-style: reply with an empty delimiter */
    zmq_msg_t body; /* the first frame after the envelope, zero-copy */
    int has_body;
    int frames; /* frames after the routing id and delimiter */
} envelope_t;

/* Receive one whole message without waiting. Returns 1 if one was read
 * (close env->body with envelope_close), 0 if none was waiting, -1 if the
 * socket failed (errno set; ETERM when the context is closing). */
int envelope_recv(void *sock, envelope_t *env);

/* Release the body of a received message. */
void envelope_close(envelope_t *env);

/* Send len bytes as the reply to env, never blocking. Returns 0, or -1
 * when the peer is gone or its queue is full (the reply is dropped). */
int envelope_reply(void *sock, const envelope_t *env, const void *buf, size_t len);

#endif
