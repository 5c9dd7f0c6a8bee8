/* auth.c - see auth.h.
 *
 * The ZAP handler is a REP socket in the daemon's own context, polled by
 * the daemon's one loop: libzmq holds each CURVE handshake until the
 * answer comes, so a connection is never served before its key is known.
 * Certificates are read with czmq (zcert, zcertstore); the roles file is
 * ours. A reload builds a complete new set first and swaps it in only when
 * every part loaded, so a bad file never leaves the daemon half-configured.
 */
#include "auth.h"

#include <czmq.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "clock.h"
#include "log.h"
#include "strmap.h"

#define S_ZAP_ENDPOINT "inproc://zeromq.zap.01"

/* What a reload replaces as a whole. */
typedef struct {
    zcertstore_t *certs;
    auth_client_t *clients;
    size_t n_clients;
    strmap_t *by_name; /* name -> index + 1 */
} s_set_t;

struct auth {
    void *zap;
    zcert_t *server;
    s_set_t set;
    char clients_dir[PATH_MAX];
    char roles_path[PATH_MAX];
    log_limit_t refusal_log; /* one "refused key" line a second */
    uint64_t refused;
};

static auth_t *s_current;

const char *auth_role_name(auth_role_t role)
{
    switch (role) {
    case AUTH_ROLE_SCHOOL: return "school";
    case AUTH_ROLE_FEDERATION: return "federation";
    case AUTH_ROLE_RECRUITER: return "recruiter";
    case AUTH_ROLE_OBSERVER: return "observer";
    case AUTH_ROLE_OPERATOR: return "operator";
    default: return "?";
    }
}

/* ---- the roles file ----------------------------------------------------- */

static int s_name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > AUTH_NAME_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
              (s[i] >= '0' && s[i] <= '9') || s[i] == '-' || s[i] == '_' || s[i] == '.'))
            return 0;
    return 1;
}

static int s_role_parse(const char *s, auth_role_t *out)
{
    static const auth_role_t roles[] = {AUTH_ROLE_SCHOOL, AUTH_ROLE_FEDERATION, AUTH_ROLE_RECRUITER,
                                        AUTH_ROLE_OBSERVER, AUTH_ROLE_OPERATOR};
    for (size_t i = 0; i < sizeof roles / sizeof roles[0]; i++)
        if (strcmp(s, auth_role_name(roles[i])) == 0) {
            *out = roles[i];
            return 0;
        }
    return -1;
}

/* Scopes: comma-separated, each a name-like token. */
static const char *s_scopes_parse(auth_client_t *c, char *list)
{
    char *save = NULL;
    for (char *tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (c->n_scopes == AUTH_SCOPES_MAX)
            return "too many scopes (at most 32)";
        if (!s_name_ok(tok) || strlen(tok) > AUTH_SCOPE_MAX)
            return "a scope is 1..64 letters, digits, '-', '_' or '.'";
        memcpy(c->scopes[c->n_scopes++], tok, strlen(tok) + 1);
    }
    if (c->role == AUTH_ROLE_OPERATOR && c->n_scopes != 0)
        return "operator takes no scope";
    if (c->role != AUTH_ROLE_OPERATOR && c->n_scopes == 0)
        return "this role needs a scope";
    if (c->role != AUTH_ROLE_RECRUITER && c->n_scopes > 1)
        return "only recruiter takes several scopes";
    return NULL;
}

/* One non-blank line: NAME ROLE [SCOPE[,SCOPE...]]. NULL or the reason. */
static const char *s_line_parse(char *line, auth_client_t *c)
{
    char *save = NULL, *name = strtok_r(line, " \t", &save);
    char *role = strtok_r(NULL, " \t", &save), *scopes = strtok_r(NULL, " \t", &save);
    memset(c, 0, sizeof *c);
    if (!role)
        return "expected NAME ROLE [SCOPE]";
    if (strtok_r(NULL, " \t", &save))
        return "too many fields (scopes are comma-separated, without spaces)";
    if (!s_name_ok(name))
        return "a name is 1..64 letters, digits, '-', '_' or '.'";
    memcpy(c->name, name, strlen(name) + 1);
    if (s_role_parse(role, &c->role) != 0)
        return "role is school, federation, recruiter, observer or operator";
    char none[1] = "";
    return s_scopes_parse(c, scopes ? scopes : none);
}

int auth_roles_parse(const char *path, auth_client_t **out, size_t *n, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    char line[4096];
    size_t cap = 0, lineno = 0;
    *out = NULL;
    *n = 0;
    if (!f) {
        (void)snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    while (fgets(line, sizeof line, f)) {
        lineno++;
        char *p = line + strspn(line, " \t");
        p[strcspn(p, "#\r\n")] = '\0';
        if (*p == '\0')
            continue;
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            auth_client_t *grown = realloc(*out, cap * sizeof **out);
            if (!grown) {
                (void)snprintf(err, errlen, "%s: out of memory", path);
                goto fail;
            }
            *out = grown;
        }
        const char *why = s_line_parse(p, &(*out)[*n]);
        for (size_t i = 0; !why && i < *n; i++)
            if (strcmp((*out)[i].name, (*out)[*n].name) == 0)
                why = "this name is already given a role";
        if (why) {
            (void)snprintf(err, errlen, "%s:%zu: %s", path, lineno, why);
            goto fail;
        }
        (*n)++;
    }
    (void)fclose(f);
    return 0;
fail:
    (void)fclose(f);
    free(*out);
    *out = NULL;
    *n = 0;
    return -1;
}

/* ---- scopes -------------------------------------------------------------- */

int auth_has_scope(const auth_client_t *c, const char *scope)
{
    for (size_t i = 0; scope && i < c->n_scopes; i++)
        if (strcmp(c->scopes[i], scope) == 0)
            return 1;
    return 0;
}

/* p starts with head + scope, followed by the end or by '/'. */
static int s_under(const char *p, const char *head, const char *scope, int need_slash)
{
    size_t nh = strlen(head), ns = strlen(scope);
    if (strncmp(p, head, nh) != 0 || strncmp(p + nh, scope, ns) != 0)
        return 0;
    char next = p[nh + ns];
    return need_slash ? next == '/' : (next == '\0' || next == '/');
}

int auth_topic_allowed(const auth_client_t *c, const char *p)
{
    if (c->role == AUTH_ROLE_OPERATOR)
        return 1;
    for (size_t i = 0; i < c->n_scopes; i++) {
        switch (c->role) {
        case AUTH_ROLE_RECRUITER:
            if (s_under(p, "employer/", c->scopes[i], 0))
                return 1;
            break;
        case AUTH_ROLE_SCHOOL:
            if (s_under(p, "school/", c->scopes[i], 0))
                return 1;
            break;
        case AUTH_ROLE_OBSERVER:
            /* "region/76" alone would also match region/760..: need the '/' */
            if (s_under(p, "region/", c->scopes[i], 1))
                return 1;
            break;
        default: break;
        }
    }
    return 0;
}

/* ---- loading ------------------------------------------------------------- */

static void s_set_free(s_set_t *s)
{
    zcertstore_destroy(&s->certs);
    strmap_destroy(&s->by_name);
    free(s->clients);
    memset(s, 0, sizeof *s);
}

static int s_set_load(auth_t *self, s_set_t *s)
{
    char err[512];
    struct stat st;
    memset(s, 0, sizeof *s);
    if (stat(self->clients_dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        log_errorx("auth: security.clients_dir %s is not a readable directory", self->clients_dir);
        return -1;
    }
    if (auth_roles_parse(self->roles_path, &s->clients, &s->n_clients, err, sizeof err) != 0) {
        log_errorx("auth: roles: %s", err);
        return -1;
    }
    if (!(s->by_name = strmap_new()) || !(s->certs = zcertstore_new(self->clients_dir)))
        goto fail;
    for (size_t i = 0; i < s->n_clients; i++)
        if (strmap_put(s->by_name, s->clients[i].name, (void *)(uintptr_t)(i + 1)) != 0)
            goto fail;
    return 0;
fail:
    log_errorx("auth: out of memory loading %s", self->clients_dir);
    s_set_free(s);
    return -1;
}

auth_t *auth_new(void *zctx, const config_t *cfg)
{
    auth_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    (void)snprintf(self->clients_dir, sizeof self->clients_dir, "%s", cfg->clients_dir);
    (void)snprintf(self->roles_path, sizeof self->roles_path, "%s", cfg->roles_file);
    self->server = zcert_load(cfg->server_cert);
    if (!self->server) {
        log_errorx("auth: cannot read the server certificate %s (a czmq certificate with its "
                   "secret key: matchctl keygen writes NAME_secret)",
                   cfg->server_cert);
        goto fail;
    }
    static const uint8_t zero[32];
    if (memcmp(zcert_secret_key(self->server), zero, sizeof zero) == 0) {
        log_errorx("auth: %s holds no secret key: give the NAME_secret file", cfg->server_cert);
        goto fail;
    }
    if (s_set_load(self, &self->set) != 0)
        goto fail;
    self->zap = zmq_socket(zctx, ZMQ_REP);
    int linger = 0;
    if (!self->zap || zmq_setsockopt(self->zap, ZMQ_LINGER, &linger, sizeof linger) != 0 ||
        zmq_bind(self->zap, S_ZAP_ENDPOINT) != 0) {
        log_errorx("auth: ZAP handler on %s: %s", S_ZAP_ENDPOINT, zmq_strerror(errno));
        goto fail;
    }
    s_current = self;
    log_info("auth: CurveZMQ on, server key %s, %zu clients in %s", zcert_public_txt(self->server),
             self->set.n_clients, self->roles_path);
    return self;
fail:
    auth_destroy(&self);
    return NULL;
}

void auth_destroy(auth_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    auth_t *self = *self_p;
    if (s_current == self)
        s_current = NULL;
    if (self->zap)
        (void)zmq_close(self->zap); /* fails only on a bad handle */
    s_set_free(&self->set);
    zcert_destroy(&self->server);
    free(self);
    *self_p = NULL;
}

void *auth_socket(auth_t *self)
{
    return self->zap;
}

int auth_reload(auth_t *self)
{
    s_set_t fresh;
    if (s_set_load(self, &fresh) != 0) {
        log_warnx("auth: reload failed; the previous keys and roles stay in force");
        return -1;
    }
    s_set_free(&self->set);
    self->set = fresh;
    log_info("auth: reloaded %zu clients from %s", self->set.n_clients, self->roles_path);
    return 0;
}

int auth_enabled(void)
{
    return s_current != NULL;
}

int auth_server_socket(void *sock)
{
    if (!s_current)
        return 0;
    int on = 1;
    if (zmq_setsockopt(sock, ZMQ_CURVE_SERVER, &on, sizeof on) != 0 ||
        zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, zcert_secret_key(s_current->server), 32) != 0 ||
        zmq_setsockopt(sock, ZMQ_ZAP_DOMAIN, AUTH_ZAP_DOMAIN, strlen(AUTH_ZAP_DOMAIN)) != 0) {
        log_errorx("auth: cannot make a socket a CURVE server: %s", zmq_strerror(errno));
        return -1;
    }
    return 0;
}

static const auth_client_t *s_lookup(const auth_t *self, const char *name)
{
    void *v = name ? strmap_get(self->set.by_name, name) : NULL;
    return v ? &self->set.clients[(uintptr_t)v - 1] : NULL;
}

const auth_client_t *auth_client(const char *user_id)
{
    return s_current ? s_lookup(s_current, user_id) : NULL;
}

/* ---- ZAP (RFC 27) ---------------------------------------------------------- */

#define S_ZAP_FRAMES 8

/* The client's name for a CURVE public key, or NULL (refused, why set). */
static const char *s_judge(auth_t *self, zmq_msg_t *f, int n, const char **why)
{
    char key_txt[41];
    if (n < 7 || zmq_msg_size(&f[0]) != 3 || memcmp(zmq_msg_data(&f[0]), "1.0", 3) != 0) {
        *why = "malformed ZAP request";
        return NULL;
    }
    if (zmq_msg_size(&f[5]) != 5 || memcmp(zmq_msg_data(&f[5]), "CURVE", 5) != 0 ||
        zmq_msg_size(&f[6]) != 32) {
        *why = "not a CURVE client";
        return NULL;
    }
    if (!zmq_z85_encode(key_txt, zmq_msg_data(&f[6]), 32)) {
        *why = "bad key";
        return NULL;
    }
    zcert_t *cert = zcertstore_lookup(self->set.certs, key_txt);
    const char *name = cert ? zcert_meta(cert, "name") : NULL;
    if (!cert)
        *why = "public key not in the allowed certificates";
    else if (!name || !s_lookup(self, name))
        *why = "certificate name not in the roles file";
    else
        return name;
    /* a public key is no secret: naming it tells the operator which one */
    int64_t now = clock_now_ms();
    self->refused++;
    if (log_limit(&self->refusal_log, 1, now, 1000))
        log_warnx("auth: refused key %s (%s); %llu refusals so far", key_txt, *why,
                  (unsigned long long)self->refused);
    return NULL;
}

static void s_reply(void *zap, const zmq_msg_t *request_id, const char *status, const char *text,
                    const char *user)
{
    const void *rid = zmq_msg_data((zmq_msg_t *)request_id);
    size_t rid_len = zmq_msg_size((zmq_msg_t *)request_id);
    if (zmq_send(zap, "1.0", 3, ZMQ_SNDMORE) == -1 ||
        zmq_send(zap, rid, rid_len, ZMQ_SNDMORE) == -1 ||
        zmq_send(zap, status, strlen(status), ZMQ_SNDMORE) == -1 ||
        zmq_send(zap, text, strlen(text), ZMQ_SNDMORE) == -1 ||
        zmq_send(zap, user, strlen(user), ZMQ_SNDMORE) == -1 || zmq_send(zap, "", 0, 0) == -1)
        log_warnx("auth: ZAP reply: %s", zmq_strerror(errno));
}

/* Read one request; 1 if one was answered, 0 if none waited, -1 on error. */
static int s_handle_one(auth_t *self)
{
    zmq_msg_t f[S_ZAP_FRAMES], extra;
    int n = 0, more = 1, rc = 0;
    while (more) {
        zmq_msg_t *m = n < S_ZAP_FRAMES ? &f[n] : &extra;
        zmq_msg_init(m);
        if (zmq_msg_recv(m, self->zap, n == 0 ? ZMQ_DONTWAIT : 0) == -1) {
            rc = errno == EAGAIN ? 0 : -1;
            zmq_msg_close(m);
            goto done;
        }
        more = zmq_msg_more(m);
        if (n >= S_ZAP_FRAMES)
            zmq_msg_close(&extra);
        else
            n++;
    }
    const char *why = "", *name = s_judge(self, f, n, &why);
    if (n >= 2)
        s_reply(self->zap, &f[1], name ? "200" : "400", name ? "OK" : why, name ? name : "");
    else
        s_reply(self->zap, &f[0], "400", "malformed ZAP request", "");
    rc = 1;
done:
    for (int i = 0; i < n; i++)
        zmq_msg_close(&f[i]);
    return rc;
}

void auth_handle(auth_t *self)
{
    int rc;
    while ((rc = s_handle_one(self)) == 1)
        ;
    if (rc < 0 && errno != ETERM)
        log_warnx("auth: ZAP receive: %s", zmq_strerror(errno));
}
