/* harness.c - start, stop, kill and talk to the real matcherd in tests.
 *
 * See harness.h for the contract. The rules that shape this file: never
 * block without a deadline (zmq_poll with timeouts, LINGER 0, waitpid with
 * WNOHANG in a bounded loop), never leave a daemon or a temporary directory
 * behind, and when something goes wrong say what, on which endpoint, and
 * show the daemon's log.
 */
#define _GNU_SOURCE
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#include <setjmp.h>
#include <cmocka.h>
#include <lmdb.h>
#include <zmq.h>

#define S_MAX_EXTRA_ARGS 32
#define S_LOG_TAIL       (64 * 1024)
#define S_HWM            500000

/* Registry of open client sockets, so that teardown after a failed
 * assertion (cmocka longjmps out of the test) can still close them and
 * zmq_ctx_term cannot hang. */
typedef struct s_node {
    hclient_t *client;
    struct s_node *next;
} s_node_t;

typedef struct s_registry {
    pthread_mutex_t lock;
    s_node_t *head;
} s_registry_t;

static unsigned s_rand_state;

/* ------------------------------------------------------------------ */
/* Small helpers. */

int harness_setup_config(void **state, const char *text)
{
    harness_t *h = harness_new();
    char conf[400], args[500];
    FILE *f;
    int rc;

    if (h == NULL)
        return -1;
    if (text != NULL) {
        (void)snprintf(conf, sizeof conf, "%s/test.conf", h->root);
        f = fopen(conf, "w");
        if (f == NULL) {
            harness_destroy(&h);
            return -1;
        }
        fputs(text, f);
        fclose(f);
        (void)snprintf(args, sizeof args, "--config %s", conf);
        setenv("PASSERELLE_MATCHERD_ARGS", args, 1);
    }
    rc = harness_start(h);
    if (text != NULL)
        unsetenv("PASSERELLE_MATCHERD_ARGS");
    if (rc != 0) {
        h->passed = true; /* the log was printed already */
        harness_destroy(&h);
        return -1;
    }
    *state = h;
    return 0;
}

int harness_setup(void **state)
{
    return harness_setup_config(state, NULL);
}

int harness_setup_stopped(void **state)
{
    harness_t *h = harness_new();

    *state = h;
    return h == NULL ? -1 : 0;
}

int harness_teardown(void **state)
{
    harness_t *h = *state;

    harness_destroy(&h);
    *state = NULL;
    return 0;
}

int64_t harness_now_us(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
        return 0;
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void s_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
        ;
}

long harness_env_long(const char *name, long def)
{
    const char *s = getenv(name);
    char *end = NULL;
    long v;

    if (s == NULL || *s == '\0')
        return def;
    errno = 0;
    v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0')
        return def;
    return v;
}

void harness_cmocka_filter(void)
{
    const char *f = getenv("PASSERELLE_TEST_FILTER");
    if (f != NULL && *f != '\0')
        cmocka_set_test_filter(f);
}

int hbuf_resize(hbuf_t *buf, size_t len)
{
    if (len > buf->cap) {
        size_t cap = buf->cap ? buf->cap : 256;
        uint8_t *data;
        while (cap < len)
            cap *= 2;
        data = realloc(buf->data, cap);
        if (data == NULL)
            return -1;
        buf->data = data;
        buf->cap = cap;
    }
    buf->len = len;
    return 0;
}

void hbuf_free(hbuf_t *buf)
{
    free(buf->data);
    memset(buf, 0, sizeof *buf);
}

const char *harness_status_str(int status, char *buf, size_t size)
{
    if (WIFEXITED(status))
        snprintf(buf, size, "exited %d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        snprintf(buf, size, "killed by signal %d (%s)%s", WTERMSIG(status),
                 strsignal(WTERMSIG(status)), WCOREDUMP(status) ? ", core dumped" : "");
    else
        snprintf(buf, size, "wait status 0x%x", (unsigned)status);
    return buf;
}

const char *h_status_name(int status)
{
    const ProtobufCEnumValue *v =
        protobuf_c_enum_descriptor_get_value(&passerelle__v1__ack_status__descriptor, status);
    return v ? v->name : "ACK_STATUS_<unknown>";
}

const char *h_error_name(int code)
{
    const ProtobufCEnumValue *v =
        protobuf_c_enum_descriptor_get_value(&passerelle__v1__error_code__descriptor, code);
    return v ? v->name : "ERROR_CODE_<unknown>";
}

const char *h_ack_str(const Passerelle__V1__Ack *ack, char *buf, size_t size)
{
    if (ack == NULL) {
        snprintf(buf, size, "ack{NULL}");
        return buf;
    }
    snprintf(buf, size,
             "ack{event_id=\"%s\", %s, %s, seq=%" PRIu64
             ", superseded=%d, field=\"%s\", message=\"%s\"}",
             ack->event_id ? ack->event_id : "(null)", h_status_name(ack->status),
             h_error_name(ack->error), ack->sequence, ack->superseded ? 1 : 0,
             ack->field ? ack->field : "(null)", ack->message ? ack->message : "(null)");
    return buf;
}

/* ------------------------------------------------------------------ */
/* Temporary directory and log. */

static int s_rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    if (remove(path) != 0)
        fprintf(stderr, "harness: remove %s: %s\n", path, strerror(errno));
    return 0; /* carry on: remove as much as we can */
}

static void s_rm_rf(const char *path)
{
    if (nftw(path, s_rm_entry, 16, FTW_DEPTH | FTW_PHYS) != 0 && errno != ENOENT)
        fprintf(stderr, "harness: nftw %s: %s\n", path, strerror(errno));
}

void harness_dump_log(const harness_t *self, const char *why)
{
    char buf[4096];
    FILE *f;
    long size;

    fprintf(stderr, "----- matcherd log %s (%s) -----\n", self->log_path, why ? why : "");
    f = fopen(self->log_path, "r");
    if (f == NULL) {
        fprintf(stderr, "(cannot open: %s)\n", strerror(errno));
        goto end;
    }
    if (fseek(f, 0, SEEK_END) == 0 && (size = ftell(f)) > S_LOG_TAIL) {
        fprintf(stderr, "(... first %ld bytes skipped ...)\n", size - S_LOG_TAIL);
        if (fseek(f, size - S_LOG_TAIL, SEEK_SET) != 0)
            rewind(f);
    } else {
        rewind(f);
    }
    for (;;) {
        size_t n = fread(buf, 1, sizeof buf, f);
        if (n == 0)
            break;
        if (fwrite(buf, 1, n, stderr) != n)
            break;
    }
    fclose(f);
end:
    fprintf(stderr, "----- end of matcherd log -----\n");
    fflush(stderr);
}

void harness_pass(harness_t *self)
{
    self->passed = true;
}

/* Does the log, from byte offset on, contain needle? */
static bool s_log_contains(const harness_t *self, long offset, const char *needle)
{
    FILE *f = fopen(self->log_path, "r");
    char *text = NULL;
    size_t cap = 0;
    bool found = false;
    ssize_t n;

    if (f == NULL)
        return false;
    if (fseek(f, offset, SEEK_SET) != 0)
        rewind(f);
    while ((n = getline(&text, &cap, f)) > 0) {
        if (strstr(text, needle) != NULL) {
            found = true;
            break;
        }
    }
    free(text);
    fclose(f);
    return found;
}

static long s_log_size(const harness_t *self)
{
    struct stat st;
    return stat(self->log_path, &st) == 0 ? (long)st.st_size : 0;
}

/* ------------------------------------------------------------------ */
/* Ports. */

/* Is 127.0.0.1:port free to bind? */
static bool s_port_free(int port)
{
    struct sockaddr_in sa;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    bool ok;

    if (fd < 0)
        return false;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sa.sin_port = htons((uint16_t)port);
    ok = bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
    close(fd);
    return ok;
}

/* A port from bind(127.0.0.1:0): in the ephemeral range. */
static int s_port_from_kernel(int fd)
{
    struct sockaddr_in sa;
    socklen_t len = sizeof sa;

    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sa.sin_port = 0;
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0)
        return -1;
    if (getsockname(fd, (struct sockaddr *)&sa, &len) != 0)
        return -1;
    return ntohs(sa.sin_port);
}

/* Choose three distinct free ports. We prefer ports just below the
 * kernel's ephemeral range: a client that keeps reconnecting to a port of
 * the ephemeral range while the daemon is down can be given that very port
 * as its own and connect to itself, and the daemon then cannot bind it. We
 * fall back to bind(0) (the kernel's choice) when that does not work. */
static int s_pick_ports(harness_t *self)
{
    int ports[3] = {0, 0, 0};
    int low = 32768, high = 60999;
    FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r");

    if (f != NULL) {
        if (fscanf(f, "%d %d", &low, &high) != 2)
            low = 32768;
        fclose(f);
    }
    for (int i = 0; i < 3; i++) {
        for (int tries = 0; tries < 200 && ports[i] == 0 && low > 11024; tries++) {
            int p = low - 10000 + (int)(rand_r(&s_rand_state) % 9000u);
            if (p == ports[0] || p == ports[1])
                continue;
            if (s_port_free(p))
                ports[i] = p;
        }
        if (ports[i] == 0) {
            int fd = socket(AF_INET, SOCK_STREAM, 0);
            if (fd < 0)
                return -1;
            ports[i] = s_port_from_kernel(fd);
            close(fd); /* the next bind(0) will not return it right away */
            if (ports[i] <= 0)
                return -1;
        }
    }
    snprintf(self->ingest_ep, sizeof self->ingest_ep, "tcp://127.0.0.1:%d", ports[0]);
    snprintf(self->feed_ep, sizeof self->feed_ep, "tcp://127.0.0.1:%d", ports[1]);
    snprintf(self->query_ep, sizeof self->query_ep, "tcp://127.0.0.1:%d", ports[2]);
    return 0;
}

/* ------------------------------------------------------------------ */
/* Life cycle. */

static int s_find_matcherd(harness_t *self)
{
    const char *env = getenv("PASSERELLE_MATCHERD");
    char exe[900];
    ssize_t n;
    char *slash;

    if (env != NULL && *env != '\0') {
        snprintf(self->matcherd, sizeof self->matcherd, "%s", env);
        return 0;
    }
    /* Not under CTest: tests live in <build>/tests, the daemon in <build>. */
    n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        return -1;
    exe[n] = '\0';
    slash = strrchr(exe, '/');
    if (slash == NULL)
        return -1;
    *slash = '\0';
    snprintf(self->matcherd, sizeof self->matcherd, "%s/../matcherd", exe);
    return 0;
}

harness_t *harness_new(void)
{
    harness_t *self = calloc(1, sizeof *self);
    s_registry_t *reg = NULL;
    const char *tmp = getenv("TMPDIR");

    if (self == NULL)
        return NULL;
    if (s_rand_state == 0)
        s_rand_state = (unsigned)getpid() ^ (unsigned)harness_now_us();
    if (tmp == NULL || *tmp == '\0')
        tmp = "/tmp";
    snprintf(self->root, sizeof self->root, "%s/passerelle-it-XXXXXX", tmp);
    if (mkdtemp(self->root) == NULL) {
        fprintf(stderr, "harness: mkdtemp %s: %s\n", self->root, strerror(errno));
        self->root[0] = '\0';
        goto fail;
    }
    snprintf(self->data_dir, sizeof self->data_dir, "%s/data", self->root);
    snprintf(self->log_path, sizeof self->log_path, "%s/matcherd.log", self->root);
    if (mkdir(self->data_dir, 0700) != 0) {
        fprintf(stderr, "harness: mkdir %s: %s\n", self->data_dir, strerror(errno));
        goto fail;
    }
    if (s_find_matcherd(self) != 0) {
        fprintf(stderr, "harness: PASSERELLE_MATCHERD is not set and the daemon cannot be found\n");
        goto fail;
    }
    if (s_pick_ports(self) != 0) {
        fprintf(stderr, "harness: cannot find free loopback ports: %s\n", strerror(errno));
        goto fail;
    }
    reg = calloc(1, sizeof *reg);
    if (reg == NULL || pthread_mutex_init(&reg->lock, NULL) != 0) {
        free(reg);
        goto fail;
    }
    self->registry = reg;
    self->zctx = zmq_ctx_new();
    if (self->zctx == NULL) {
        fprintf(stderr, "harness: zmq_ctx_new: %s\n", zmq_strerror(errno));
        goto fail;
    }
    self->passed = false;
    return self;
fail:
    self->passed = true; /* nothing to show */
    harness_destroy(&self);
    return NULL;
}

/* Close every client still registered (tests that failed mid-way). */
static void s_close_registered(harness_t *self)
{
    s_registry_t *reg = self->registry;
    s_node_t *node;

    if (reg == NULL)
        return;
    pthread_mutex_lock(&reg->lock);
    node = reg->head;
    reg->head = NULL;
    pthread_mutex_unlock(&reg->lock);
    while (node != NULL) {
        s_node_t *next = node->next;
        if (node->client->sock != NULL)
            zmq_close(node->client->sock);
        free(node->client);
        free(node);
        node = next;
    }
}

void harness_destroy(harness_t **self_p)
{
    harness_t *self;

    if (self_p == NULL || *self_p == NULL)
        return;
    self = *self_p;
    if (self->pid > 0) {
        if (!self->passed)
            fprintf(stderr, "harness: daemon %d still running at teardown: killing it\n",
                    (int)self->pid);
        (void)harness_kill(self); /* best effort; reaped or reported */
    }
    s_close_registered(self);
    if (self->zctx != NULL)
        zmq_ctx_term(self->zctx);
    if (self->registry != NULL) {
        s_registry_t *reg = self->registry;
        pthread_mutex_destroy(&reg->lock);
        free(reg);
    }
    if (!self->passed && self->starts > 0)
        harness_dump_log(self, "test failed");
    if (self->root[0] != '\0') {
        const char *keep = getenv("PASSERELLE_KEEP_TMP");
        if (keep != NULL && strcmp(keep, "1") == 0)
            fprintf(stderr, "harness: keeping %s\n", self->root);
        else
            s_rm_rf(self->root);
    }
    free(self);
    *self_p = NULL;
}

/* Fork and exec the daemon with stderr and stdout going to the log. */
static int s_spawn(harness_t *self)
{
    char *argv[10 + S_MAX_EXTRA_ARGS + 1];
    char *extra = NULL;
    int argc = 0;
    int logfd = -1, nullfd = -1;
    pid_t parent = getpid();
    pid_t pid;
    char marker[512];
    int n;

    argv[argc++] = self->matcherd;
    argv[argc++] = "--data";
    argv[argc++] = self->data_dir;
    argv[argc++] = "--ingest";
    argv[argc++] = self->ingest_ep;
    argv[argc++] = "--feed";
    argv[argc++] = self->feed_ep;
    argv[argc++] = "--query";
    argv[argc++] = self->query_ep;
    if (getenv("PASSERELLE_MATCHERD_ARGS") != NULL) {
        char *save = NULL, *tok;
        extra = strdup(getenv("PASSERELLE_MATCHERD_ARGS"));
        if (extra == NULL)
            goto fail;
        for (tok = strtok_r(extra, " ", &save); tok != NULL && argc < 9 + S_MAX_EXTRA_ARGS;
             tok = strtok_r(NULL, " ", &save))
            argv[argc++] = tok;
    }
    argv[argc] = NULL;

    logfd = open(self->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (logfd < 0) {
        fprintf(stderr, "harness: open %s: %s\n", self->log_path, strerror(errno));
        goto fail;
    }
    nullfd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (nullfd < 0)
        goto fail;
    n = snprintf(marker, sizeof marker,
                 "=== harness: start #%d: %s --data %s --ingest %s --feed %s --query %s ===\n",
                 self->starts + 1, self->matcherd, self->data_dir, self->ingest_ep, self->feed_ep,
                 self->query_ep);
    if (n > 0 &&
        write(logfd, marker, (size_t)n < sizeof marker ? (size_t)n : sizeof marker - 1) < 0)
        fprintf(stderr, "harness: write %s: %s\n", self->log_path, strerror(errno));

    pid = fork();
    if (pid < 0) {
        fprintf(stderr, "harness: fork: %s\n", strerror(errno));
        goto fail;
    }
    if (pid == 0) {
        /* Child: only async-signal-safe calls until exec. Die with the test
         * process so that a crashed test never leaves a daemon behind. */
        static const char msg[] = "harness: exec failed\n";
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
            _exit(126);
        if (dup2(nullfd, 0) < 0 || dup2(logfd, 1) < 0 || dup2(logfd, 2) < 0)
            _exit(126);
        if (self->fsize_limit > 0) {
            struct rlimit rl = {(rlim_t)self->fsize_limit, (rlim_t)self->fsize_limit};
            if (signal(SIGXFSZ, SIG_IGN) == SIG_ERR || setrlimit(RLIMIT_FSIZE, &rl) != 0)
                _exit(126);
        }
        execv(argv[0], argv);
        if (write(2, msg, sizeof msg - 1) < 0)
            _exit(127);
        _exit(127);
    }
    self->pid = pid;
    self->starts++;
    close(logfd);
    close(nullfd);
    free(extra);
    return 0;
fail:
    if (logfd >= 0)
        close(logfd);
    if (nullfd >= 0)
        close(nullfd);
    free(extra);
    return -1;
}

bool harness_exited(harness_t *self, int *status)
{
    int st = 0;
    pid_t r;

    if (self->pid <= 0) {
        if (status)
            *status = self->last_status;
        return true;
    }
    r = waitpid(self->pid, &st, WNOHANG);
    if (r == self->pid || (r < 0 && errno == ECHILD)) {
        self->last_status = r == self->pid ? st : 0;
        self->pid = 0;
        if (status)
            *status = self->last_status;
        return true;
    }
    return false;
}

/* Wait until Health says ready. Returns 0, -1 on timeout, -2 if the daemon
 * exited first. */
static int s_wait_ready(harness_t *self, int timeout_ms)
{
    int64_t deadline = harness_now_us() + (int64_t)timeout_ms * 1000;

    while (harness_now_us() < deadline) {
        bool live = false, ready = false;
        if (harness_exited(self, NULL))
            return -2;
        if (harness_health(self, 250, &live, &ready) == 0) {
            if (ready)
                return 0;
            s_sleep_ms(50);
        }
    }
    return -1;
}

int harness_start(harness_t *self)
{
    int timeout_ms = (int)harness_env_long("PASSERELLE_START_TIMEOUT_MS", 15000);
    char sbuf[128];

    if (self->pid > 0) {
        fprintf(stderr, "harness: start: daemon %d is already running\n", (int)self->pid);
        return -1;
    }
    for (int attempt = 0; attempt < 3; attempt++) {
        long log_offset = s_log_size(self);
        int rc;

        if (s_spawn(self) != 0)
            return -1;
        rc = s_wait_ready(self, timeout_ms);
        if (rc == 0)
            return 0;
        if (rc == -1) {
            fprintf(stderr, "harness: matcherd (pid %d) not ready after %d ms\n", (int)self->pid,
                    timeout_ms);
            (void)harness_kill(self);
            harness_dump_log(self, "daemon never became ready");
            return -1;
        }
        fprintf(stderr, "harness: matcherd exited before being ready: %s\n",
                harness_status_str(self->last_status, sbuf, sizeof sbuf));
        if (!s_log_contains(self, log_offset, "in use"))
            break;
        fprintf(stderr, "harness: a port was taken; retrying on new ports\n");
        if (s_pick_ports(self) != 0)
            break;
    }
    harness_dump_log(self, "daemon failed to start");
    return -1;
}

int harness_signal(harness_t *self, int sig)
{
    if (self->pid <= 0)
        return -1;
    return kill(self->pid, sig) == 0 ? 0 : -1;
}

/* Reap the daemon within timeout_ms. Returns 0 or -1 on timeout. */
static int s_reap(harness_t *self, int timeout_ms)
{
    int64_t deadline = harness_now_us() + (int64_t)timeout_ms * 1000;

    for (;;) {
        if (harness_exited(self, NULL))
            return 0;
        if (harness_now_us() >= deadline)
            return -1;
        s_sleep_ms(5);
    }
}

int harness_kill(harness_t *self)
{
    if (self->pid <= 0)
        return -1;
    if (kill(self->pid, SIGKILL) != 0 && errno != ESRCH)
        fprintf(stderr, "harness: kill %d: %s\n", (int)self->pid, strerror(errno));
    if (s_reap(self, 10000) != 0) {
        fprintf(stderr, "harness: daemon %d did not die after SIGKILL\n", (int)self->pid);
        return -1;
    }
    return 0;
}

int harness_stop(harness_t *self, int timeout_ms, int *status)
{
    if (self->pid <= 0)
        return -1;
    if (kill(self->pid, SIGTERM) != 0 && errno != ESRCH) {
        fprintf(stderr, "harness: SIGTERM %d: %s\n", (int)self->pid, strerror(errno));
        return -1;
    }
    if (s_reap(self, timeout_ms) != 0) {
        fprintf(stderr, "harness: daemon %d still running %d ms after SIGTERM: SIGKILL\n",
                (int)self->pid, timeout_ms);
        (void)harness_kill(self);
        return -1;
    }
    if (status)
        *status = self->last_status;
    return 0;
}

int harness_stop_clean(harness_t *self)
{
    int status = 0;
    char sbuf[128];

    if (harness_stop(self, HARNESS_STOP_TIMEOUT_MS, &status) != 0) {
        harness_dump_log(self, "daemon did not stop on SIGTERM");
        return -1;
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "harness: daemon did not exit cleanly on SIGTERM: %s\n",
                harness_status_str(status, sbuf, sizeof sbuf));
        harness_dump_log(self, "unclean exit");
        return -1;
    }
    return 0;
}

int harness_restart(harness_t *self)
{
    if (self->pid > 0 && harness_stop_clean(self) != 0)
        return -1;
    return harness_start(self);
}

/* ------------------------------------------------------------------ */
/* Clients. */

static int s_set_common_opts(void *sock)
{
    int linger = 0, hwm = S_HWM;

    if (zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof linger) != 0)
        return -1;
    if (zmq_setsockopt(sock, ZMQ_SNDHWM, &hwm, sizeof hwm) != 0)
        return -1;
    if (zmq_setsockopt(sock, ZMQ_RCVHWM, &hwm, sizeof hwm) != 0)
        return -1;
    return 0;
}

/* Make sock a CURVE client with h's keys when h->curve is set. */
static int s_set_curve(const harness_t *h, void *sock)
{
    if (!h->curve)
        return 0;
    if (zmq_setsockopt(sock, ZMQ_CURVE_SERVERKEY, h->curve_server, 32) != 0 ||
        zmq_setsockopt(sock, ZMQ_CURVE_PUBLICKEY, h->curve_public, 32) != 0 ||
        zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, h->curve_secret, 32) != 0)
        return -1;
    return 0;
}

hclient_t *hclient_new(harness_t *h, int zmq_type, const char *endpoint)
{
    s_registry_t *reg = h->registry;
    hclient_t *self = calloc(1, sizeof *self);
    s_node_t *node = calloc(1, sizeof *node);

    if (self == NULL || node == NULL)
        goto fail;
    if (endpoint == NULL)
        endpoint = h->ingest_ep;
    self->harness = h;
    self->sock = zmq_socket(h->zctx, zmq_type);
    if (self->sock == NULL) {
        fprintf(stderr, "harness: zmq_socket: %s\n", zmq_strerror(errno));
        goto fail;
    }
    if (s_set_common_opts(self->sock) != 0 || s_set_curve(h, self->sock) != 0) {
        fprintf(stderr, "harness: setsockopt: %s\n", zmq_strerror(errno));
        goto fail;
    }
    if (zmq_connect(self->sock, endpoint) != 0) {
        fprintf(stderr, "harness: connect %s: %s\n", endpoint, zmq_strerror(errno));
        goto fail;
    }
    node->client = self;
    pthread_mutex_lock(&reg->lock);
    node->next = reg->head;
    reg->head = node;
    pthread_mutex_unlock(&reg->lock);
    return self;
fail:
    if (self != NULL && self->sock != NULL)
        zmq_close(self->sock);
    free(self);
    free(node);
    return NULL;
}

void hclient_destroy(hclient_t **self_p)
{
    hclient_t *self;
    s_registry_t *reg;
    s_node_t **pp;

    if (self_p == NULL || *self_p == NULL)
        return;
    self = *self_p;
    reg = self->harness->registry;
    pthread_mutex_lock(&reg->lock);
    for (pp = &reg->head; *pp != NULL; pp = &(*pp)->next) {
        if ((*pp)->client == self) {
            s_node_t *node = *pp;
            *pp = node->next;
            free(node);
            break;
        }
    }
    pthread_mutex_unlock(&reg->lock);
    if (self->sock != NULL)
        zmq_close(self->sock);
    free(self);
    *self_p = NULL;
}

int hclient_send(hclient_t *self, const void *data, size_t len, int flags)
{
    int64_t deadline = harness_now_us() + 5000 * 1000;

    for (;;) {
        zmq_pollitem_t item = {self->sock, 0, ZMQ_POLLOUT, 0};
        if (zmq_send(self->sock, data, len, flags | ZMQ_DONTWAIT) >= 0)
            return 0;
        if (errno != EAGAIN && errno != EINTR) {
            snprintf(self->err, sizeof self->err, "zmq_send: %s", zmq_strerror(errno));
            return -1;
        }
        if (harness_now_us() >= deadline) {
            snprintf(self->err, sizeof self->err, "zmq_send: no room for 5 s (no peer?)");
            return -1;
        }
        if (zmq_poll(&item, 1, 100) < 0 && errno != EINTR) {
            snprintf(self->err, sizeof self->err, "zmq_poll: %s", zmq_strerror(errno));
            return -1;
        }
    }
}

/* Receive one whole message without waiting. Returns 1 with the single
 * frame in *msg (initialized; caller closes), 0 when nothing is there, -1
 * on error or a message of several frames (all parts consumed). */
static int s_recv_one(void *sock, zmq_msg_t *msg, char *err, size_t errsize)
{
    int parts = 1;

    if (zmq_msg_init(msg) != 0)
        return -1;
    if (zmq_msg_recv(msg, sock, ZMQ_DONTWAIT) < 0) {
        int e = errno;
        zmq_msg_close(msg);
        if (e == EAGAIN || e == EINTR)
            return 0;
        snprintf(err, errsize, "zmq_msg_recv: %s", zmq_strerror(e));
        return -1;
    }
    while (zmq_msg_more(msg)) {
        /* Read every part so that the next receive starts clean. */
        zmq_msg_close(msg);
        if (zmq_msg_init(msg) != 0 || zmq_msg_recv(msg, sock, 0) < 0) {
            zmq_msg_close(msg);
            snprintf(err, errsize, "zmq_msg_recv (more): %s", zmq_strerror(errno));
            return -1;
        }
        parts++;
    }
    if (parts != 1) {
        zmq_msg_close(msg);
        snprintf(err, errsize, "reply of %d frames, expected 1", parts);
        return -1;
    }
    return 1;
}

Passerelle__V1__Ack *hclient_recv_ack(hclient_t *self, int timeout_ms)
{
    int64_t deadline = harness_now_us() + (int64_t)timeout_ms * 1000;
    zmq_msg_t msg;
    Passerelle__V1__Ack *ack;

    for (;;) {
        zmq_pollitem_t item = {self->sock, 0, ZMQ_POLLIN, 0};
        int64_t left_ms = (deadline - harness_now_us()) / 1000;
        int rc = s_recv_one(self->sock, &msg, self->err, sizeof self->err);
        if (rc < 0)
            return NULL;
        if (rc == 1)
            break;
        if (left_ms <= 0) {
            snprintf(self->err, sizeof self->err, "no ack within %d ms", timeout_ms);
            return NULL;
        }
        if (zmq_poll(&item, 1, left_ms > 100 ? 100 : (long)left_ms) < 0 && errno != EINTR) {
            snprintf(self->err, sizeof self->err, "zmq_poll: %s", zmq_strerror(errno));
            return NULL;
        }
    }
    ack = passerelle__v1__ack__unpack(NULL, zmq_msg_size(&msg), zmq_msg_data(&msg));
    if (ack == NULL)
        snprintf(self->err, sizeof self->err, "reply of %zu bytes is not an Ack",
                 zmq_msg_size(&msg));
    zmq_msg_close(&msg);
    return ack;
}

/* ------------------------------------------------------------------ */
/* Events. */

static void s_hev_base(hev_t *e, const char *source, const char *event_id, int64_t at_ms)
{
    memset(e, 0, sizeof *e);
    e->event = (Passerelle__V1__Event)PASSERELLE__V1__EVENT__INIT;
    snprintf(e->event_id, sizeof e->event_id, "%s", event_id);
    snprintf(e->source, sizeof e->source, "%s", source);
    e->event.event_id = e->event_id;
    e->event.source = e->source;
    e->event.occurred_at_ms = at_ms;
}

/* Tarbes, as a point. */
static void s_hev_location(hev_t *e)
{
    e->point = (Passerelle__V1__GeoPoint)PASSERELLE__V1__GEO_POINT__INIT;
    e->point.latitude = 43.2328;
    e->point.longitude = 0.0781;
    e->location = (Passerelle__V1__Location)PASSERELLE__V1__LOCATION__INIT;
    e->location.place_case = PASSERELLE__V1__LOCATION__PLACE_POINT;
    e->location.point = &e->point;
}

void hev_graduate(hev_t *e, const char *source, const char *event_id, int64_t at_ms,
                  const char *graduate_id)
{
    s_hev_base(e, source, event_id, at_ms);
    s_hev_location(e);
    snprintf(e->entity_id, sizeof e->entity_id, "%s", graduate_id);
    snprintf(e->owner_id, sizeof e->owner_id, "0650043X");
    e->graduate = (Passerelle__V1__Graduate)PASSERELLE__V1__GRADUATE__INIT;
    e->graduate.graduate_id = e->entity_id;
    e->graduate.school_id = e->owner_id;
    e->graduate.certifications = e->cert_ptrs;
    e->graduate.skills = e->skills;
    hev_graduate_certs(e, 1);
    hev_graduate_skills(e, 1);
    e->graduate.home = &e->location;
    e->graduate.mobility_radius_km = 50;
    e->graduate_upsert = (Passerelle__V1__GraduateUpsert)PASSERELLE__V1__GRADUATE_UPSERT__INIT;
    e->graduate_upsert.graduate = &e->graduate;
    e->event.body_case = PASSERELLE__V1__EVENT__BODY_GRADUATE_UPSERT;
    e->event.graduate_upsert = &e->graduate_upsert;
}

void hev_graduate_certs(hev_t *e, size_t n)
{
    if (n > HEV_MAX_CERTS)
        n = HEV_MAX_CERTS;
    for (size_t i = 0; i < n; i++) {
        Passerelle__V1__Certification *c = &e->certs[i];
        *c = (Passerelle__V1__Certification)PASSERELLE__V1__CERTIFICATION__INIT;
        /* The first is the spec's CAP RNCP27470; the others distinct codes. */
        snprintf(e->cert_rncp[i], sizeof e->cert_rncp[i], "RNCP%zu", 27470 + i * 7);
        c->kind = PASSERELLE__V1__CERTIFICATION_KIND__CERTIFICATION_KIND_CAP;
        c->rncp_code = e->cert_rncp[i];
        c->level = 3;
        e->cert_ptrs[i] = c;
    }
    e->graduate.n_certifications = n;
}

void hev_graduate_skills(hev_t *e, size_t n)
{
    if (n > HEV_MAX_SKILLS)
        n = HEV_MAX_SKILLS;
    for (size_t i = 0; i < n; i++) {
        if (i == 0)
            snprintf(e->skill_buf[i], sizeof e->skill_buf[i], "486590");
        else
            snprintf(e->skill_buf[i], sizeof e->skill_buf[i], "soudage-%02zu", i);
        e->skills[i] = e->skill_buf[i];
    }
    e->graduate.n_skills = n;
}

void hev_vacancy(hev_t *e, const char *source, const char *event_id, int64_t at_ms,
                 const char *vacancy_id)
{
    s_hev_base(e, source, event_id, at_ms);
    s_hev_location(e);
    snprintf(e->entity_id, sizeof e->entity_id, "%s", vacancy_id);
    snprintf(e->owner_id, sizeof e->owner_id, "12345678900012");
    e->vacancy = (Passerelle__V1__Vacancy)PASSERELLE__V1__VACANCY__INIT;
    e->vacancy.vacancy_id = e->entity_id;
    e->vacancy.employer_id = e->owner_id;
    e->vacancy.sector = PASSERELLE__V1__SECTOR__SECTOR_METALWORKING;
    e->rome_codes[0] = (char *)"H2913";
    e->vacancy.n_rome_codes = 1;
    e->vacancy.rome_codes = e->rome_codes;
    e->vacancy.site = &e->location;
    e->vacancy.contract_type = PASSERELLE__V1__CONTRACT_TYPE__CONTRACT_TYPE_CDI;
    e->vacancy.positions = 1;
    e->rncp_codes[0] = (char *)"RNCP27470";
    e->vacancy.n_required_rncp = 1;
    e->vacancy.required_rncp = e->rncp_codes;
    e->vacancy_upsert = (Passerelle__V1__VacancyUpsert)PASSERELLE__V1__VACANCY_UPSERT__INIT;
    e->vacancy_upsert.vacancy = &e->vacancy;
    e->event.body_case = PASSERELLE__V1__EVENT__BODY_VACANCY_UPSERT;
    e->event.vacancy_upsert = &e->vacancy_upsert;
}

void hev_withdraw(hev_t *e, const char *source, const char *event_id, int64_t at_ms,
                  const char *graduate_id, const char *school_id)
{
    s_hev_base(e, source, event_id, at_ms);
    snprintf(e->entity_id, sizeof e->entity_id, "%s", graduate_id);
    snprintf(e->owner_id, sizeof e->owner_id, "%s", school_id);
    e->graduate_withdrawn =
        (Passerelle__V1__GraduateWithdrawn)PASSERELLE__V1__GRADUATE_WITHDRAWN__INIT;
    e->graduate_withdrawn.graduate_id = e->entity_id;
    e->graduate_withdrawn.school_id = e->owner_id;
    e->graduate_withdrawn.reason = PASSERELLE__V1__WITHDRAWAL_REASON__WITHDRAWAL_REASON_HIRED;
    e->event.body_case = PASSERELLE__V1__EVENT__BODY_GRADUATE_WITHDRAWN;
    e->event.graduate_withdrawn = &e->graduate_withdrawn;
}

void hev_erase(hev_t *e, const char *source, const char *event_id, int64_t at_ms,
               const char *graduate_id, const char *school_id)
{
    s_hev_base(e, source, event_id, at_ms);
    snprintf(e->entity_id, sizeof e->entity_id, "%s", graduate_id);
    snprintf(e->owner_id, sizeof e->owner_id, "%s", school_id);
    e->graduate_erased = (Passerelle__V1__GraduateErased)PASSERELLE__V1__GRADUATE_ERASED__INIT;
    e->graduate_erased.graduate_id = e->entity_id;
    e->graduate_erased.school_id = e->owner_id;
    e->event.body_case = PASSERELLE__V1__EVENT__BODY_GRADUATE_ERASED;
    e->event.graduate_erased = &e->graduate_erased;
}

void hev_close(hev_t *e, const char *source, const char *event_id, int64_t at_ms,
               const char *vacancy_id, const char *employer_id)
{
    s_hev_base(e, source, event_id, at_ms);
    snprintf(e->entity_id, sizeof e->entity_id, "%s", vacancy_id);
    snprintf(e->owner_id, sizeof e->owner_id, "%s", employer_id);
    e->vacancy_closed = (Passerelle__V1__VacancyClosed)PASSERELLE__V1__VACANCY_CLOSED__INIT;
    e->vacancy_closed.vacancy_id = e->entity_id;
    e->vacancy_closed.employer_id = e->owner_id;
    e->vacancy_closed.reason = PASSERELLE__V1__CLOSURE_REASON__CLOSURE_REASON_FILLED;
    e->event.body_case = PASSERELLE__V1__EVENT__BODY_VACANCY_CLOSED;
    e->event.vacancy_closed = &e->vacancy_closed;
}

void hev_spread(hev_t *e, size_t i)
{
    uint64_t a = (uint64_t)i * 2654435761u;
    uint64_t b = (uint64_t)i * 40503u + 12345u;

    e->point.latitude = 43.0 + (double)(a % 7000u) / 1000.0;
    e->point.longitude = -1.0 + (double)(b % 8000u) / 1000.0;
    if (e->event.body_case == PASSERELLE__V1__EVENT__BODY_VACANCY_UPSERT)
        e->vacancy.max_distance_km = 50;
}

int hev_pack(const hev_t *e, hbuf_t *out)
{
    size_t size = passerelle__v1__event__get_packed_size(&e->event);
    size_t written;

    if (hbuf_resize(out, size) != 0)
        return -1;
    written = passerelle__v1__event__pack(&e->event, out->data);
    if (written != size) {
        fprintf(stderr, "harness: packed %zu bytes, expected %zu\n", written, size);
        return -1;
    }
    return 0;
}

int hclient_send_event(hclient_t *c, const hev_t *e)
{
    hbuf_t buf = {0};
    int rc;

    if (hev_pack(e, &buf) != 0) {
        snprintf(c->err, sizeof c->err, "cannot pack event %s", e->event.event_id);
        return -1;
    }
    rc = hclient_send(c, buf.data, buf.len, 0);
    hbuf_free(&buf);
    return rc;
}

Passerelle__V1__Ack *hclient_call(hclient_t *c, const hev_t *e, int timeout_ms)
{
    if (hclient_send_event(c, e) != 0)
        return NULL;
    return hclient_recv_ack(c, timeout_ms);
}

void harness_raw_put(const char *dir, const char *table, const void *key, size_t klen,
                     const void *val, size_t vlen)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    MDB_val k = {klen, (void *)key}, v = {vlen, (void *)val};
    assert_int_equal(mdb_env_create(&env), 0);
    assert_int_equal(mdb_env_set_maxdbs(env, 64), 0);
    assert_int_equal(mdb_env_open(env, dir, 0, 0600), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, table, 0, &dbi), 0);
    assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
}

Passerelle__V1__MatchUpdate *hclient_recv_update(hclient_t *sub, int timeout_ms)
{
    zmq_pollitem_t pi = {sub->sock, 0, ZMQ_POLLIN, 0};
    if (zmq_poll(&pi, 1, timeout_ms) != 1)
        return NULL;
    zmq_msg_t topic, body;
    zmq_msg_init(&topic);
    zmq_msg_init(&body);
    assert_true(zmq_msg_recv(&topic, sub->sock, 0) >= 0);
    assert_true(zmq_msg_more(&topic));
    assert_true(zmq_msg_recv(&body, sub->sock, 0) >= 0);
    assert_false(zmq_msg_more(&body));
    Passerelle__V1__MatchUpdate *u =
        passerelle__v1__match_update__unpack(NULL, zmq_msg_size(&body), zmq_msg_data(&body));
    zmq_msg_close(&topic);
    zmq_msg_close(&body);
    assert_non_null(u);
    return u;
}

/* ------------------------------------------------------------------ */
/* Pipelines. */

static void s_pipe_fail(hpipe_t *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void s_pipe_fail(hpipe_t *p, const char *fmt, ...)
{
    va_list ap;

    if (p->failed)
        return; /* keep the first reason */
    p->failed = true;
    va_start(ap, fmt);
    vsnprintf(p->err, sizeof p->err, fmt, ap);
    va_end(ap);
}

static int s_pipe_init(hpipe_t *p)
{
    if (p->window == 0)
        p->window = 1;
    if (p->idle_timeout_ms <= 0)
        p->idle_timeout_ms =
            (int)harness_env_long("PASSERELLE_ACK_TIMEOUT_MS", HARNESS_ACK_TIMEOUT_MS);
    if (p->drain_ms <= 0)
        p->drain_ms = 500;
    p->sent = p->acked = p->head = 0;
    p->failed = false;
    p->err[0] = '\0';
    p->done_making = p->n == 0;
    p->pending = false;
    p->last_ack_us = harness_now_us();
    p->ids = calloc(p->window, sizeof *p->ids);
    if (p->ids == NULL) {
        s_pipe_fail(p, "out of memory");
        return -1;
    }
    return 0;
}

/* Send as much as the window and the socket allow. */
static void s_pipe_send(hpipe_t *p)
{
    while (!p->failed && !p->done_making && p->sent < p->n && p->sent - p->acked < p->window) {
        if (!p->pending) {
            int rc = p->make(p, p->sent, &p->buf, p->pending_id);
            if (rc == 1) {
                p->done_making = true;
                return;
            }
            if (rc != 0) {
                s_pipe_fail(p, "cannot make message %zu", p->sent);
                return;
            }
            p->pending = true;
        }
        if (zmq_send(p->client->sock, p->buf.data, p->buf.len, ZMQ_DONTWAIT) < 0) {
            if (errno != EAGAIN && errno != EINTR)
                s_pipe_fail(p, "zmq_send message %zu: %s", p->sent, zmq_strerror(errno));
            return; /* no room: wait for POLLOUT */
        }
        if (p->sent == p->acked)
            p->last_ack_us = harness_now_us(); /* the silence starts now */
        memcpy(p->ids[p->sent % p->window], p->pending_id, HEV_ID_MAX);
        p->sent++;
        p->pending = false;
    }
}

/* Take every ack waiting on the socket. */
static void s_pipe_recv(hpipe_t *p)
{
    while (!p->failed) {
        zmq_msg_t msg;
        Passerelle__V1__Ack *ack;
        const char *expected;
        char abuf[1024];
        int rc = s_recv_one(p->client->sock, &msg, p->err, sizeof p->err);

        if (rc == 0)
            return;
        if (rc < 0) {
            char why[sizeof p->err];
            memcpy(why, p->err, sizeof why);
            s_pipe_fail(p, "after %zu acks: %s", p->acked, why);
            return;
        }
        ack = passerelle__v1__ack__unpack(NULL, zmq_msg_size(&msg), zmq_msg_data(&msg));
        zmq_msg_close(&msg);
        if (ack == NULL) {
            s_pipe_fail(p, "reply %zu is not an Ack", p->acked);
            return;
        }
        if (p->acked >= p->sent) {
            s_pipe_fail(p, "ack with nothing in flight: %s", h_ack_str(ack, abuf, sizeof abuf));
        } else {
            expected = p->ids[p->acked % p->window];
            if (expected[0] != '\0' && strcmp(expected, ack->event_id) != 0)
                s_pipe_fail(p, "ack %zu out of order: expected event_id \"%s\", got %s", p->acked,
                            expected, h_ack_str(ack, abuf, sizeof abuf));
            else if (p->on_ack != NULL && p->on_ack(p, p->acked, ack) != 0)
                s_pipe_fail(p, "on_ack %zu refused %s", p->acked,
                            h_ack_str(ack, abuf, sizeof abuf));
        }
        passerelle__v1__ack__free_unpacked(ack, NULL);
        p->acked++;
        p->last_ack_us = harness_now_us();
    }
}

/* Is this pipe finished? In drain mode, silence for drain_ms ends it. */
static bool s_pipe_done(hpipe_t *p, bool draining, int64_t now)
{
    if (p->failed)
        return true;
    if (p->acked < p->sent) {
        if (draining && now - p->last_ack_us > (int64_t)p->drain_ms * 1000)
            return true;
        if (!draining && now - p->last_ack_us > (int64_t)p->idle_timeout_ms * 1000) {
            s_pipe_fail(p, "no ack for %d ms (sent %zu, acked %zu)", p->idle_timeout_ms, p->sent,
                        p->acked);
            return true;
        }
        return false;
    }
    return draining || p->done_making || p->sent >= p->n;
}

int hpipe_run_many(hpipe_t **pipes, size_t count, hpipe_tick_fn tick, void *tick_ctx)
{
    zmq_pollitem_t *items = calloc(count ? count : 1, sizeof *items);
    bool draining = false;
    int rc = 0;

    if (items == NULL)
        return -1;
    for (size_t i = 0; i < count; i++)
        (void)s_pipe_init(pipes[i]); /* failure is recorded in the pipe */
    for (;;) {
        int64_t now;
        bool all_done = true;

        for (size_t i = 0; i < count && !draining; i++)
            s_pipe_send(pipes[i]);
        now = harness_now_us();
        for (size_t i = 0; i < count; i++)
            if (!s_pipe_done(pipes[i], draining, now))
                all_done = false;
        if (all_done)
            break;
        for (size_t i = 0; i < count; i++) {
            hpipe_t *p = pipes[i];
            items[i].socket = p->client->sock;
            items[i].fd = 0;
            items[i].events = 0;
            items[i].revents = 0;
            if (p->failed)
                continue;
            if (p->acked < p->sent)
                items[i].events |= ZMQ_POLLIN;
            if (p->pending && !draining)
                items[i].events |= ZMQ_POLLOUT;
        }
        if (zmq_poll(items, (int)count, 20) < 0 && errno != EINTR) {
            for (size_t i = 0; i < count; i++)
                s_pipe_fail(pipes[i], "zmq_poll: %s", zmq_strerror(errno));
            break;
        }
        for (size_t i = 0; i < count; i++)
            if (items[i].revents & ZMQ_POLLIN)
                s_pipe_recv(pipes[i]);
        if (tick != NULL) {
            int t = tick(tick_ctx);
            if (t == HPIPE_FAIL) {
                for (size_t i = 0; i < count; i++)
                    s_pipe_fail(pipes[i], "stopped by tick");
                break;
            }
            if (t == HPIPE_DRAIN && !draining) {
                draining = true;
                now = harness_now_us();
                for (size_t i = 0; i < count; i++)
                    if (pipes[i]->last_ack_us < now)
                        pipes[i]->last_ack_us = now;
            }
        }
    }
    for (size_t i = 0; i < count; i++) {
        if (pipes[i]->failed)
            rc = -1;
        free(pipes[i]->ids);
        pipes[i]->ids = NULL;
        hbuf_free(&pipes[i]->buf);
    }
    free(items);
    return rc;
}

int hpipe_copy(hbuf_t *out, char *id, const void *bytes, size_t len, const char *event_id)
{
    if (hbuf_resize(out, len) != 0)
        return -1;
    memcpy(out->data, bytes, len);
    snprintf(id, HEV_ID_MAX, "%s", event_id);
    return 0;
}

int hpipe_run(hpipe_t *p, hpipe_tick_fn tick, void *tick_ctx)
{
    return hpipe_run_many(&p, 1, tick, tick_ctx);
}

/* ------------------------------------------------------------------ */
/* Query socket. */

int harness_top_ids(harness_t *h, bool graduate, const char *id, char *out, size_t size)
{
    Passerelle__V1__Request req = PASSERELLE__V1__REQUEST__INIT;
    Passerelle__V1__TopMatchesRequest tm = PASSERELLE__V1__TOP_MATCHES_REQUEST__INIT;
    if (graduate) {
        tm.entity_case = PASSERELLE__V1__TOP_MATCHES_REQUEST__ENTITY_GRADUATE_ID;
        tm.graduate_id = (char *)id;
    } else {
        tm.entity_case = PASSERELLE__V1__TOP_MATCHES_REQUEST__ENTITY_VACANCY_ID;
        tm.vacancy_id = (char *)id;
    }
    req.request_id = "t-top";
    req.query_case = PASSERELLE__V1__REQUEST__QUERY_TOP_MATCHES;
    req.top_matches = &tm;
    out[0] = '\0';
    Passerelle__V1__Response *resp = harness_query(h, &req, HARNESS_QUERY_TIMEOUT_MS, true);
    if (resp == NULL)
        return -1;
    int rc = resp->error == H_ERR(NONE) && resp->top_matches != NULL ? 0 : -1;
    if (rc != 0)
        fprintf(stderr, "harness: TopMatches for '%s' answered error %d: %s\n", id,
                (int)resp->error, resp->message ? resp->message : "");
    for (size_t i = 0; rc == 0 && i < resp->top_matches->n_matches; i++) {
        const Passerelle__V1__RankedMatch *m = resp->top_matches->matches[i];
        size_t len = strlen(out);
        (void)snprintf(out + len, size - len, "%s%s", i ? "," : "",
                       graduate ? m->vacancy_id : m->graduate_id);
    }
    passerelle__v1__response__free_unpacked(resp, NULL);
    return rc;
}

Passerelle__V1__Response *harness_query(harness_t *h, Passerelle__V1__Request *req, int timeout_ms,
                                        bool verbose)
{
    void *sock = NULL;
    hbuf_t buf = {0};
    zmq_msg_t msg;
    Passerelle__V1__Response *resp = NULL;
    char err[256] = "";
    int64_t deadline = harness_now_us() + (int64_t)timeout_ms * 1000;
    int rc = 0;

    sock = zmq_socket(h->zctx, ZMQ_DEALER);
    if (sock == NULL) {
        snprintf(err, sizeof err, "zmq_socket: %s", zmq_strerror(errno));
        goto fail;
    }
    if (s_set_common_opts(sock) != 0 || s_set_curve(h, sock) != 0 ||
        zmq_connect(sock, h->query_ep) != 0) {
        snprintf(err, sizeof err, "connect %s: %s", h->query_ep, zmq_strerror(errno));
        goto fail;
    }
    if (hbuf_resize(&buf, passerelle__v1__request__get_packed_size(req)) != 0)
        goto fail;
    if (passerelle__v1__request__pack(req, buf.data) != buf.len) {
        snprintf(err, sizeof err, "pack request: size mismatch");
        goto fail;
    }
    if (zmq_send(sock, buf.data, buf.len, ZMQ_DONTWAIT) < 0) {
        snprintf(err, sizeof err, "send: %s", zmq_strerror(errno));
        goto fail;
    }
    for (;;) {
        zmq_pollitem_t item = {sock, 0, ZMQ_POLLIN, 0};
        int64_t left_ms = (deadline - harness_now_us()) / 1000;
        rc = s_recv_one(sock, &msg, err, sizeof err);
        if (rc != 0)
            break;
        if (left_ms <= 0) {
            snprintf(err, sizeof err, "no response within %d ms", timeout_ms);
            goto fail;
        }
        if (zmq_poll(&item, 1, left_ms > 50 ? 50 : (long)left_ms) < 0 && errno != EINTR) {
            snprintf(err, sizeof err, "zmq_poll: %s", zmq_strerror(errno));
            goto fail;
        }
    }
    if (rc < 0)
        goto fail;
    resp = passerelle__v1__response__unpack(NULL, zmq_msg_size(&msg), zmq_msg_data(&msg));
    zmq_msg_close(&msg);
    if (resp == NULL) {
        snprintf(err, sizeof err, "reply is not a Response");
        goto fail;
    }
    if (strcmp(resp->request_id, req->request_id) != 0) {
        snprintf(err, sizeof err, "response request_id \"%s\", expected \"%s\"", resp->request_id,
                 req->request_id);
        passerelle__v1__response__free_unpacked(resp, NULL);
        resp = NULL;
        verbose = true; /* a daemon bug, always worth saying */
        goto fail;
    }
    zmq_close(sock);
    hbuf_free(&buf);
    return resp;
fail:
    if (verbose)
        fprintf(stderr, "harness: query %s: %s\n", h->query_ep, err);
    if (sock != NULL)
        zmq_close(sock);
    hbuf_free(&buf);
    return NULL;
}

Passerelle__V1__Response *harness_replay(harness_t *h, const char *prefix, uint64_t after,
                                         uint32_t limit)
{
    Passerelle__V1__Request req = PASSERELLE__V1__REQUEST__INIT;
    Passerelle__V1__ReplayRequest rr = PASSERELLE__V1__REPLAY_REQUEST__INIT;
    rr.topic_prefix = (char *)(prefix ? prefix : "");
    rr.after_sequence = after;
    rr.limit = limit;
    req.request_id = "t-replay";
    req.query_case = PASSERELLE__V1__REQUEST__QUERY_REPLAY;
    req.replay = &rr;
    Passerelle__V1__Response *resp = harness_query(h, &req, HARNESS_QUERY_TIMEOUT_MS, true);
    assert_non_null(resp);
    return resp;
}

uint64_t harness_replay_each(harness_t *h, const char *prefix, uint64_t after, uint32_t limit,
                             harness_replay_fn fn, void *arg)
{
    bool more = true;
    while (more) {
        Passerelle__V1__Response *resp = harness_replay(h, prefix, after, limit);
        assert_int_equal(resp->error, H_ERR(NONE));
        assert_int_equal(resp->result_case, PASSERELLE__V1__RESPONSE__RESULT_REPLAY);
        for (size_t i = 0; i < resp->replay->n_updates; i++)
            fn(resp->replay->updates[i], arg);
        more = resp->replay->more;
        assert_true(!more || resp->replay->last_sequence > after);
        after = resp->replay->last_sequence;
        passerelle__v1__response__free_unpacked(resp, NULL);
    }
    return after;
}

int harness_stats(harness_t *h, hstats_t *out)
{
    return harness_stats_wait(h, out, HARNESS_QUERY_TIMEOUT_MS);
}

int harness_stats_wait(harness_t *h, hstats_t *out, int timeout_ms)
{
    static unsigned counter;
    Passerelle__V1__Request req = PASSERELLE__V1__REQUEST__INIT;
    Passerelle__V1__StatsRequest sreq = PASSERELLE__V1__STATS_REQUEST__INIT;
    Passerelle__V1__Response *resp;
    const Passerelle__V1__Stats *s;
    char id[32];

    snprintf(id, sizeof id, "stats-%u", ++counter);
    req.request_id = id;
    req.query_case = PASSERELLE__V1__REQUEST__QUERY_STATS;
    req.stats = &sreq;
    resp = harness_query(h, &req, timeout_ms, true);
    if (resp == NULL)
        return -1;
    if (resp->result_case != PASSERELLE__V1__RESPONSE__RESULT_STATS || resp->stats == NULL) {
        fprintf(stderr, "harness: stats: response without stats (error %s: %s)\n",
                h_error_name(resp->error), resp->message);
        passerelle__v1__response__free_unpacked(resp, NULL);
        return -1;
    }
    s = resp->stats;
    memset(out, 0, sizeof *out);
    out->graduates = s->graduates;
    out->graduates_available = s->graduates_available;
    out->vacancies = s->vacancies;
    out->vacancies_open = s->vacancies_open;
    out->events = s->events;
    out->events_accepted = s->events_accepted;
    out->events_duplicate = s->events_duplicate;
    out->events_rejected = s->events_rejected;
    out->events_retry = s->events_retry;
    out->batches = s->batches;
    out->batch_max = s->batch_max;
    out->txns_full = s->ingest_transactions_full;
    out->store_bytes = s->store_bytes;
    out->store_map_bytes = s->store_map_bytes;
    out->store_used_bytes = s->store_used_bytes;
    out->match_sequence = s->match_sequence;
    out->feed_dropped = s->feed_dropped;
    out->commit_us_last = s->commit_us_last;
    passerelle__v1__response__free_unpacked(resp, NULL);
    return 0;
}

int harness_health(harness_t *h, int timeout_ms, bool *live, bool *ready)
{
    static unsigned counter;
    Passerelle__V1__Request req = PASSERELLE__V1__REQUEST__INIT;
    Passerelle__V1__HealthRequest hreq = PASSERELLE__V1__HEALTH_REQUEST__INIT;
    Passerelle__V1__Response *resp;
    char id[32];
    int rc = -1;

    snprintf(id, sizeof id, "health-%u", ++counter);
    req.request_id = id;
    req.query_case = PASSERELLE__V1__REQUEST__QUERY_HEALTH;
    req.health = &hreq;
    resp = harness_query(h, &req, timeout_ms, false);
    if (resp == NULL)
        return -1;
    if (resp->result_case == PASSERELLE__V1__RESPONSE__RESULT_HEALTH && resp->health != NULL) {
        *live = resp->health->live;
        *ready = resp->health->ready;
        rc = 0;
    }
    passerelle__v1__response__free_unpacked(resp, NULL);
    return rc;
}
