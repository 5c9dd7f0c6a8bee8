/* envelope.c - see envelope.h. */
#include "envelope.h"

#include <errno.h>
#include <string.h>

int envelope_recv(void *sock, envelope_t *env)
{
    zmq_msg_t part;
    int more, n = 0, rc;
    env->rid_len = 0;
    env->req = 0;
    env->has_body = 0;
    env->frames = 0;
    zmq_msg_init(&part);
    if (zmq_msg_recv(&part, sock, ZMQ_DONTWAIT) == -1) {
        zmq_msg_close(&part);
        return errno == EAGAIN || errno == EINTR ? 0 : -1;
    }
    env->rid_len = zmq_msg_size(&part) <= ENVELOPE_RID_MAX ? zmq_msg_size(&part) : 0;
    memcpy(env->rid, zmq_msg_data(&part), env->rid_len);
    more = zmq_msg_more(&part);
    zmq_msg_close(&part);
    while (more) {
        zmq_msg_init(&part);
        /* the rest of a multipart message is already here: only a signal
         * can interrupt reading it */
        while ((rc = zmq_msg_recv(&part, sock, 0)) == -1 && errno == EINTR)
            ;
        if (rc == -1) {
            zmq_msg_close(&part);
            envelope_close(env);
            return -1;
        }
        more = zmq_msg_more(&part);
        if (++n == 1 && more && zmq_msg_size(&part) == 0) {
            env->req = 1;
        } else if (!env->has_body) {
            zmq_msg_init(&env->body);
            zmq_msg_move(&env->body, &part);
            env->has_body = 1;
        }
        zmq_msg_close(&part);
    }
    env->frames = n - env->req;
    return 1;
}

void envelope_close(envelope_t *env)
{
    if (env->has_body)
        zmq_msg_close(&env->body);
    env->has_body = 0;
}

int envelope_reply(void *sock, const envelope_t *env, const void *buf, size_t len)
{
    if (zmq_send(sock, env->rid, env->rid_len, ZMQ_SNDMORE | ZMQ_DONTWAIT) == -1)
        return -1;
    /* once the first frame is queued the rest of the message goes too */
    if (env->req)
        (void)zmq_send(sock, "", 0, ZMQ_SNDMORE | ZMQ_DONTWAIT);
    return zmq_send(sock, buf, len, ZMQ_DONTWAIT) == -1 ? -1 : 0;
}
