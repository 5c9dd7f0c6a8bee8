/* auth.h - CurveZMQ security for matcherd: the server's key pair, the
 * allowed client certificates, the roles file, and the ZAP handler
 * (ZeroMQ RFC 27) that authenticates every connection.
 *
 * With [security] mode = curve, daemon_run() calls auth_new() before it
 * creates any socket. auth_new() makes the new auth the process's current
 * one: ingest, feed and query call auth_server_socket() on their sockets
 * before binding them and auth_client() to learn the role of the key that
 * sent a message (its ZAP User-Id, the client's name). With mode = none no
 * auth exists, auth_enabled() is 0 and every check is skipped.
 *
 * Names and the roles file. Each client key is a czmq certificate whose
 * metadata "name" is the client's name (matchctl keygen NAME writes it).
 * The roles file gives each name one role and its scope, one per line:
 *
 *     NAME school SCHOOL_ID
 *     NAME federation REGION_CODE
 *     NAME recruiter SIRET[,SIRET...]
 *     NAME observer REGION_CODE
 *     NAME operator
 *
 * A key is served when its public certificate is in the allowed directory
 * AND its name is in the roles file. The ZAP handler answers 200 with
 * User-Id = the name, otherwise 400. Secret keys are never logged.
 */
#ifndef MATCHER_AUTH_H
#define MATCHER_AUTH_H

#include <stddef.h>

#include "config.h"

#define AUTH_NAME_MAX   64
#define AUTH_SCOPES_MAX 32
#define AUTH_SCOPE_MAX  64
#define AUTH_ZAP_DOMAIN "passerelle"

typedef enum {
    AUTH_ROLE_SCHOOL = 1,
    AUTH_ROLE_FEDERATION,
    AUTH_ROLE_RECRUITER,
    AUTH_ROLE_OBSERVER,
    AUTH_ROLE_OPERATOR
} auth_role_t;

/* One client of the roles file. */
typedef struct {
    char name[AUTH_NAME_MAX + 1];
    auth_role_t role;
    size_t n_scopes; /* 1 for school, federation, observer; 1.. for recruiter; 0 operator */
    char scopes[AUTH_SCOPES_MAX][AUTH_SCOPE_MAX + 1];
} auth_client_t;

typedef struct auth auth_t;

/* Load cfg's server certificate, allowed-certificates directory and roles
 * file, bind the ZAP handler (a REP socket on inproc://zeromq.zap.01) in
 * zctx, and make the result the process's current auth. NULL (reason
 * logged) on failure. */
auth_t *auth_new(void *zctx, const config_t *cfg);

/* Close the ZAP socket, free everything, clear the current auth. */
void auth_destroy(auth_t **self_p);

/* The ZAP socket, for the daemon's poll loop. */
void *auth_socket(auth_t *self);

/* Answer every waiting ZAP request, without blocking. */
void auth_handle(auth_t *self);

/* Read the roles file and the allowed directory again. On any error the
 * old set stays in force and the reason is logged. Returns 0 or -1.
 * Connections already made stay up; every message is checked against the
 * roles in force when it arrives. */
int auth_reload(auth_t *self);

/* 1 when a current auth exists (mode = curve). */
int auth_enabled(void);

/* Make sock a CURVE server with the current auth's secret key and the
 * ZAP domain "passerelle". A no-op returning 0 when !auth_enabled().
 * Call before zmq_bind. Returns 0 or -1 (logged). */
int auth_server_socket(void *sock);

/* The client named user_id (a message's "User-Id" property) in the roles
 * in force; NULL when unknown (revoked since it connected) or user_id is
 * NULL. Valid until the next auth_reload. */
const auth_client_t *auth_client(const char *user_id);

/* Parse a roles file into *out (n entries, caller frees *out). Returns 0,
 * or -1 with "FILE:LINE: reason" in err. */
int auth_roles_parse(const char *path, auth_client_t **out, size_t *n, char *err, size_t errlen);

/* Scope checks, pure functions of the client and the request. */
int auth_has_scope(const auth_client_t *c, const char *scope);

/* May c subscribe to (or replay) topic prefix p? Operators anything; a
 * recruiter prefixes starting with "employer/<one of its SIRETs>"; a
 * school "school/<its id>"; an observer "region/<its region>/". The empty
 * prefix only for operators. */
int auth_topic_allowed(const auth_client_t *c, const char *p);

/* Name of a role ("school", ...). */
const char *auth_role_name(auth_role_t role);

#endif
