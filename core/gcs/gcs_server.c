/* The GCS log service's event loop (see gcs_server.h).
 *
 * Listeners, connections and watched descriptors are all "nodes" in one
 * epoll set (level-triggered: a connection with more queued than one slice
 * is simply reported again next round, after the others). A node closed
 * during a round may still be named by a later event of the same round, so
 * closed nodes are only marked dead there and freed once the round ends. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <linux/vm_sockets.h>

#include "gcs_text.h"
#include "vmutils/gcs_server.h"

#define MAX_EVENTS 256
/* Connections accepted from one listener in one round: a burst of guests
 * must not hold off the reads of those already connected. */
#define ACCEPTS_PER_ROUND 64
/* How long a listener that could not accept (out of descriptors) rests at
 * most before it is tried again: it stays readable, and the loop must not
 * spin on it meanwhile. */
#define REST_MS 100

typedef enum node_kind { NODE_LISTENER, NODE_CONNECTION, NODE_WATCH } node_kind;

typedef struct node {
    node_kind kind;
    bool dead;
    struct node *next_dead;
} node;

typedef struct cid_entry {
    struct cid_entry *next;
    uint32_t cid;
    char *vm_id;
} cid_entry;

/* The connections a VM id has had: its second and later ones are
 * reconnects. Kept for the server's life, a few bytes per VM. */
typedef struct vm_count {
    struct vm_count *next;
    uint64_t connections;
    char vm_id[];
} vm_count;

typedef struct listener {
    node base;
    struct listener *next;
    int id;
    int fd;
    bool vsock;
    char *path; /* unix: the socket file, removed on close if still ours */
    dev_t dev;
    ino_t ino;
    char *vm_id; /* unix: the VM it serves */
    bool resting;  /* out of epoll until the next round */
    bool failing;  /* its last accept failed: logged once, until one succeeds */
    vmu_gcs_options gcs;
} listener;

typedef struct connection {
    node base;
    struct connection *prev, *next;
    int fd;
    bool failed; /* a read error was reported: read on to the end, as Go does */
    bool counted; /* logged as connected: at its first bytes, so that a probe
                     that connects and leaves (another server's liveness
                     check) is not taken for the VM's connection */
    vmu_gcs_decoder *decoder;
    char *name;
    char *vm_id;
} connection;

typedef struct watch {
    node base;
    struct watch *next;
    int fd;
    vmu_gcs_server_watch_fn fn;
    void *user;
} watch;

struct vmu_gcs_server {
    vmu_logger *logger;
    int epfd;
    size_t read_bytes;
    unsigned socket_mode;
    unsigned char *buf; /* one read buffer for every connection */
    listener *listeners;
    connection *connections;
    watch *watches;
    cid_entry *cids;
    vm_count *vms;
    bool resting; /* some listener rests */
    node *dead;
    int next_id;
    vmu_gcs_server_idle_fn idle;
    void *idle_user;
    vmu_gcs_server_stats stats;
};

static char *dup_str(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = vmu_malloc(n);
    if (p)
        memcpy(p, s, n);
    return p;
}

static void log_event(vmu_gcs_server *srv, vmu_log_level level, const char *msg,
                      const vmu_field *fields, size_t count)
{
    vmu_log(srv->logger, level, msg, strlen(msg), fields, count);
}

static int epoll_add(vmu_gcs_server *srv, int fd, node *n)
{
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = n};
    return epoll_ctl(srv->epfd, EPOLL_CTL_ADD, fd, &ev);
}

static void bury(vmu_gcs_server *srv, node *n)
{
    n->dead = true;
    n->next_dead = srv->dead;
    srv->dead = n;
}

/* ---- lifetime ---- */

vmu_gcs_server *vmu_gcs_server_new(vmu_logger *logger, const vmu_gcs_server_options *opts,
                                   vmu_err *err)
{
    vmu_gcs_server *srv = vmu_calloc(1, sizeof *srv);
    if (!srv) {
        vmu_err_set(err, "out of memory");
        return NULL;
    }
    srv->logger = logger;
    srv->read_bytes = opts && opts->read_bytes ? opts->read_bytes : VMU_GCS_SERVER_DEFAULT_READ_BYTES;
    srv->socket_mode = opts && opts->socket_mode ? opts->socket_mode & 07777 : 0600;
    srv->next_id = 1;
    srv->buf = vmu_malloc(srv->read_bytes);
    if (!srv->buf) {
        vmu_free(srv);
        vmu_err_set(err, "out of memory");
        return NULL;
    }
    srv->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (srv->epfd < 0) {
        vmu_err_set(err, "epoll_create1: %s", strerror(errno));
        vmu_free(srv->buf);
        vmu_free(srv);
        return NULL;
    }
    return srv;
}

static void free_dead(vmu_gcs_server *srv)
{
    while (srv->dead) {
        node *n = srv->dead;
        srv->dead = n->next_dead;
        if (n->kind == NODE_LISTENER) {
            listener *l = (listener *)n;
            vmu_free(l->path);
            vmu_free(l->vm_id);
        } else if (n->kind == NODE_CONNECTION) {
            connection *c = (connection *)n;
            vmu_gcs_decoder_free(c->decoder);
            vmu_free(c->name);
            vmu_free(c->vm_id);
        }
        vmu_free(n);
    }
}

static void close_connection(vmu_gcs_server *srv, connection *c);

void vmu_gcs_server_free(vmu_gcs_server *srv)
{
    if (!srv)
        return;
    while (srv->listeners)
        vmu_gcs_server_close_listener(srv, srv->listeners->id);
    while (srv->connections)
        close_connection(srv, srv->connections);
    while (srv->watches)
        vmu_gcs_server_unwatch(srv, srv->watches->fd);
    free_dead(srv);
    while (srv->vms) {
        vm_count *v = srv->vms;
        srv->vms = v->next;
        vmu_free(v);
    }
    while (srv->cids) {
        cid_entry *e = srv->cids;
        srv->cids = e->next;
        vmu_free(e->vm_id);
        vmu_free(e);
    }
    close(srv->epfd);
    vmu_free(srv->buf);
    vmu_free(srv);
}

/* ---- the CID map ---- */

static cid_entry *find_cid(const vmu_gcs_server *srv, uint32_t cid)
{
    for (cid_entry *e = srv->cids; e; e = e->next)
        if (e->cid == cid)
            return e;
    return NULL;
}

int vmu_gcs_server_map_cid(vmu_gcs_server *srv, uint32_t cid, const char *vm_id)
{
    if (!srv || !vm_id || !*vm_id)
        return -1;
    char *copy = dup_str(vm_id);
    if (!copy)
        return -1;
    cid_entry *e = find_cid(srv, cid);
    if (e) {
        vmu_free(e->vm_id);
        e->vm_id = copy;
        return 0;
    }
    e = vmu_calloc(1, sizeof *e);
    if (!e) {
        vmu_free(copy);
        return -1;
    }
    e->cid = cid;
    e->vm_id = copy;
    e->next = srv->cids;
    srv->cids = e;
    return 0;
}

const char *vmu_gcs_server_cid_vm_id(const vmu_gcs_server *srv, uint32_t cid)
{
    const cid_entry *e = srv ? find_cid(srv, cid) : NULL;
    return e ? e->vm_id : NULL;
}

int vmu_gcs_parse_cid_map_entry(const char *text, uint32_t *cid, const char **vm_id)
{
    const char *eq = strchr(text, '=');
    if (!eq || eq == text || !eq[1])
        return -1;
    uint64_t v = 0;
    for (const char *p = text; p < eq; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        v = v * 10 + (uint64_t)(*p - '0');
        if (v > UINT32_MAX)
            return -1;
    }
    *cid = (uint32_t)v;
    *vm_id = eq + 1;
    return 0;
}

static bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\r'; }

int vmu_gcs_server_load_cid_map(vmu_gcs_server *srv, const char *text, size_t len, vmu_err *err)
{
    size_t line_no = 0;
    char *line = NULL;
    for (size_t at = 0; at < len;) {
        const char *nl = memchr(text + at, '\n', len - at);
        size_t end = nl ? (size_t)(nl - text) : len;
        line_no++;
        size_t s = at, e = end;
        at = end + 1;
        while (s < e && is_blank(text[s]))
            s++;
        while (e > s && is_blank(text[e - 1]))
            e--;
        if (s == e || text[s] == '#')
            continue;
        /* Blanks around '=' are allowed: the entry is rebuilt without them. */
        const char *eq = memchr(text + s, '=', e - s);
        size_t ls = s, le = eq ? (size_t)(eq - text) : e, rs = le + 1, re = e;
        while (le > ls && is_blank(text[le - 1]))
            le--;
        while (rs < re && is_blank(text[rs]))
            rs++;
        vmu_free(line);
        line = vmu_malloc(e - s + 2);
        if (!line)
            return vmu_err_set(err, "out of memory");
        memcpy(line, text + ls, le - ls);
        size_t n = le - ls;
        if (eq) {
            line[n++] = '=';
            memcpy(line + n, text + rs, re > rs ? re - rs : 0);
            n += re > rs ? re - rs : 0;
        }
        line[n] = '\0';
        uint32_t cid;
        const char *vm_id;
        if (vmu_gcs_parse_cid_map_entry(line, &cid, &vm_id) != 0) {
            vmu_free(line);
            return vmu_err_set(err, "line %zu: expected CID=VMID", line_no);
        }
        if (vmu_gcs_server_map_cid(srv, cid, vm_id) != 0) {
            vmu_free(line);
            return vmu_err_set(err, "out of memory");
        }
    }
    vmu_free(line);
    return 0;
}

/* ---- listeners ---- */

static listener *new_listener(vmu_gcs_server *srv, int fd, const vmu_gcs_options *gcs)
{
    listener *l = vmu_calloc(1, sizeof *l);
    if (!l)
        return NULL;
    l->base.kind = NODE_LISTENER;
    l->fd = fd;
    if (gcs)
        l->gcs = *gcs;
    else
        vmu_gcs_options_init(&l->gcs);
    l->id = srv->next_id++;
    return l;
}

static int add_listener(vmu_gcs_server *srv, listener *l, vmu_err *err)
{
    if (epoll_add(srv, l->fd, &l->base) != 0) {
        int e = errno;
        vmu_err_set(err, "epoll_ctl: %s", strerror(e));
        return -1;
    }
    l->next = srv->listeners;
    srv->listeners = l;
    srv->stats.listeners++;
    return l->id;
}

/* Whether someone accepts on the socket at addr. */
static bool socket_is_live(const struct sockaddr_un *addr)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return true; /* cannot tell: do not remove it */
    int rc = connect(fd, (const struct sockaddr *)addr, sizeof *addr);
    int e = errno;
    close(fd);
    return rc == 0 || (e != ECONNREFUSED && e != ENOENT);
}

static int bind_unix(vmu_gcs_server *srv, int fd, const struct sockaddr_un *addr, vmu_err *err)
{
    const char *path = addr->sun_path;
    /* The file is made with the final mode: no moment where it is wider. */
    mode_t old = umask((mode_t)(~srv->socket_mode & 0777));
    int rc = bind(fd, (const struct sockaddr *)addr, sizeof *addr);
    int e = errno;
    if (rc != 0 && e == EADDRINUSE) {
        struct stat st;
        if (lstat(path, &st) == 0 && !S_ISSOCK(st.st_mode)) {
            umask(old);
            return vmu_err_set(err, "listen unix %s: the path exists and is not a socket", path);
        }
        if (socket_is_live(addr)) {
            umask(old);
            return vmu_err_set(err,
                               "listen unix %s: another process is listening on this socket",
                               path);
        }
        /* A stale file left by a process that is gone. */
        unlink(path);
        rc = bind(fd, (const struct sockaddr *)addr, sizeof *addr);
        e = errno;
    }
    umask(old);
    if (rc != 0)
        return vmu_err_set(err, "listen unix %s: bind: %s", path, strerror(e));
    /* umask can only narrow: set the mode exactly (group bits asked for). */
    if (chmod(path, srv->socket_mode) != 0) {
        e = errno;
        unlink(path);
        return vmu_err_set(err, "listen unix %s: chmod: %s", path, strerror(e));
    }
    return 0;
}

int vmu_gcs_server_listen_unix(vmu_gcs_server *srv, const char *path, const char *vm_id,
                               const vmu_gcs_options *gcs, vmu_err *err)
{
    if (!srv || !path || !vm_id)
        return vmu_err_set(err, "listen unix: missing argument");
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    size_t len = strlen(path);
    if (len == 0 || len >= sizeof addr.sun_path)
        return vmu_err_set(err, "listen unix %s: path must be 1..%zu bytes", path,
                           sizeof addr.sun_path - 1);
    memcpy(addr.sun_path, path, len + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return vmu_err_set(err, "listen unix %s: socket: %s", path, strerror(errno));
    if (bind_unix(srv, fd, &addr, err) != 0) {
        close(fd);
        return -1;
    }
    struct stat st;
    if (listen(fd, SOMAXCONN) != 0 || stat(path, &st) != 0) {
        vmu_err_set(err, "listen unix %s: %s", path, strerror(errno));
        unlink(path);
        close(fd);
        return -1;
    }
    listener *l = new_listener(srv, fd, gcs);
    if (l) {
        l->path = dup_str(path);
        l->vm_id = dup_str(vm_id);
        l->dev = st.st_dev;
        l->ino = st.st_ino;
    }
    if (!l || !l->path || !l->vm_id) {
        if (l) {
            vmu_free(l->path);
            vmu_free(l->vm_id);
            vmu_free(l);
        }
        unlink(path);
        close(fd);
        return vmu_err_set(err, "out of memory");
    }
    int id = add_listener(srv, l, err);
    if (id < 0) {
        unlink(path);
        close(fd);
        vmu_free(l->path);
        vmu_free(l->vm_id);
        vmu_free(l);
    }
    return id;
}

int vmu_gcs_server_listen_vsock(vmu_gcs_server *srv, uint32_t port, const vmu_gcs_options *gcs,
                                vmu_err *err)
{
    if (!srv)
        return vmu_err_set(err, "listen vsock: missing argument");
    int fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return vmu_err_set(err, "listen vsock:%u: socket: %s", port, strerror(errno));
    struct sockaddr_vm addr = {.svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_ANY, .svm_port = port};
    if (bind(fd, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(fd, SOMAXCONN) != 0) {
        vmu_err_set(err, "listen vsock:%u: %s", port, strerror(errno));
        close(fd);
        return -1;
    }
    listener *l = new_listener(srv, fd, gcs);
    if (!l) {
        close(fd);
        return vmu_err_set(err, "out of memory");
    }
    l->vsock = true;
    int id = add_listener(srv, l, err);
    if (id < 0) {
        close(fd);
        vmu_free(l);
    }
    return id;
}

int vmu_gcs_server_close_listener(vmu_gcs_server *srv, int id)
{
    if (!srv)
        return -1;
    for (listener **p = &srv->listeners; *p; p = &(*p)->next) {
        listener *l = *p;
        if (l->id != id)
            continue;
        *p = l->next;
        struct stat st;
        /* Another process may have replaced the file since: leave it. */
        if (l->path && stat(l->path, &st) == 0 && st.st_dev == l->dev && st.st_ino == l->ino)
            unlink(l->path);
        close(l->fd);
        srv->stats.listeners--;
        bury(srv, &l->base);
        return 0;
    }
    return -1;
}

/* ---- connections ---- */

static void close_connection(vmu_gcs_server *srv, connection *c)
{
    if (c->base.dead)
        return;
    vmu_gcs_decoder_finish(c->decoder);
    vmu_gcs_stats st;
    vmu_gcs_decoder_stats(c->decoder, &st);
    srv->stats.entries += st.entries;
    if (c->counted) {
        vmu_field fields[] = {
            vmu_field_str("uvm-id", c->vm_id),
            vmu_field_uint("bytes", st.bytes),
            vmu_field_uint("entries", st.entries),
        };
        log_event(srv, VMU_LEVEL_DEBUG, "gcs log disconnected", fields, 3);
    }
    close(c->fd);
    if (c->prev)
        c->prev->next = c->next;
    else
        srv->connections = c->next;
    if (c->next)
        c->next->prev = c->prev;
    srv->stats.open--;
    bury(srv, &c->base);
}

int vmu_gcs_server_add_connection(vmu_gcs_server *srv, int fd, const char *vm_id,
                                  const char *name, const vmu_gcs_options *gcs)
{
    if (!srv || fd < 0 || !vm_id) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0) {
        close(fd);
        return -1;
    }
    connection *c = vmu_calloc(1, sizeof *c);
    if (c) {
        c->base.kind = NODE_CONNECTION;
        c->fd = fd;
        c->name = dup_str(name ? name : "");
        c->vm_id = dup_str(vm_id);
        c->decoder = vmu_gcs_decoder_new(vm_id, strlen(vm_id), gcs, srv->logger);
    }
    if (!c || !c->name || !c->vm_id || !c->decoder || epoll_add(srv, fd, &c->base) != 0) {
        if (c) {
            vmu_gcs_decoder_free(c->decoder);
            vmu_free(c->name);
            vmu_free(c->vm_id);
            vmu_free(c);
        }
        close(fd);
        return -1;
    }
    c->next = srv->connections;
    if (c->next)
        c->next->prev = c;
    srv->connections = c;
    srv->stats.open++;
    srv->stats.accepted++;
    return 0;
}

/* Logs a connection that sent its first bytes: a reconnect at info. */
static void count_connection(vmu_gcs_server *srv, connection *c)
{
    c->counted = true;
    vm_count *v = srv->vms;
    while (v && strcmp(v->vm_id, c->vm_id) != 0)
        v = v->next;
    if (!v) {
        size_t len = strlen(c->vm_id) + 1;
        v = vmu_malloc(sizeof *v + len);
        if (v) {
            v->connections = 0;
            memcpy(v->vm_id, c->vm_id, len);
            v->next = srv->vms;
            srv->vms = v;
        }
    }
    /* Without memory for the count, the connection is taken for a first. */
    uint64_t n = v ? ++v->connections : 1;
    if (n > 1) {
        srv->stats.reconnects++;
        vmu_field fields[] = {vmu_field_str("uvm-id", c->vm_id), vmu_field_uint("connection", n)};
        log_event(srv, VMU_LEVEL_INFO, "gcs log reconnected", fields, 2);
    } else {
        vmu_field fields[] = {vmu_field_str("uvm-id", c->vm_id)};
        log_event(srv, VMU_LEVEL_DEBUG, "gcs log connected", fields, 1);
    }
}

static void serve(vmu_gcs_server *srv, int fd, const char *vm_id, const char *name,
                  const vmu_gcs_options *gcs)
{
    if (vmu_gcs_server_add_connection(srv, fd, vm_id, name, gcs) != 0) {
        vmu_field fields[] = {vmu_field_str("uvm-id", vm_id),
                              vmu_field_str("error", "out of memory")};
        log_event(srv, VMU_LEVEL_ERROR, "gcs log connection refused", fields, 2);
    }
}

/* A listener that cannot accept (EMFILE, ENFILE, ENOMEM...) leaves the
 * epoll set for a round; the failure is logged when it starts. */
static void rest_listener(vmu_gcs_server *srv, listener *l, int err)
{
    if (!l->failing) {
        l->failing = true;
        /* A vsock listener serves many VMs: no uvm-id then. */
        vmu_field fields[] = {vmu_field_str("error", strerror(err)),
                              vmu_field_str("uvm-id", l->vm_id ? l->vm_id : "")};
        log_event(srv, VMU_LEVEL_ERROR, "gcs log accept failed", fields, l->vm_id ? 2 : 1);
    }
    struct epoll_event ev = {.events = 0, .data.ptr = &l->base};
    if (epoll_ctl(srv->epfd, EPOLL_CTL_MOD, l->fd, &ev) == 0) {
        l->resting = true;
        srv->resting = true;
    }
}

static void wake_listeners(vmu_gcs_server *srv)
{
    for (listener *l = srv->listeners; l; l = l->next) {
        if (!l->resting)
            continue;
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &l->base};
        epoll_ctl(srv->epfd, EPOLL_CTL_MOD, l->fd, &ev);
        l->resting = false;
    }
    srv->resting = false;
}

/* Accepts up to ACCEPTS_PER_ROUND connections; returns how many it tried. */
static int accept_on(vmu_gcs_server *srv, listener *l)
{
    int i;
    for (i = 0; i < ACCEPTS_PER_ROUND; i++) {
        struct sockaddr_vm peer;
        socklen_t plen = sizeof peer;
        int fd = accept4(l->fd, (struct sockaddr *)&peer, &plen, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            int e = errno;
            if (e == EINTR || e == ECONNABORTED)
                continue;
            if (e != EAGAIN && e != EWOULDBLOCK)
                rest_listener(srv, l, e);
            return i;
        }
        l->failing = false;
        if (!l->vsock) {
            char name[sizeof(((struct sockaddr_un *)0)->sun_path) + 8];
            snprintf(name, sizeof name, "unix %s", l->path);
            serve(srv, fd, l->vm_id, name, &l->gcs);
            continue;
        }
        cid_entry *e = find_cid(srv, peer.svm_cid);
        if (!e) {
            srv->stats.refused++;
            close(fd);
            vmu_field fields[] = {vmu_field_uint("cid", peer.svm_cid),
                                  vmu_field_str("error", "unknown vsock CID: no --vm-map entry")};
            log_event(srv, VMU_LEVEL_ERROR, "gcs log connection refused", fields, 2);
            continue;
        }
        char name[64];
        snprintf(name, sizeof name, "vsock %u:%u", peer.svm_cid, peer.svm_port);
        serve(srv, fd, e->vm_id, name, &l->gcs);
    }
    return i;
}

/* One slice from c, as vmu_gcs_decoder_read_from would read it. */
static void read_connection(vmu_gcs_server *srv, connection *c, size_t cap)
{
    ssize_t n = read(c->fd, srv->buf, cap);
    if (n > 0) {
        srv->stats.bytes += (uint64_t)n;
        if (!c->counted)
            count_connection(srv, c);
        if (vmu_gcs_decoder_feed(c->decoder, srv->buf, (size_t)n) != 0)
            close_connection(srv, c); /* out of memory: the decoder stopped */
        return;
    }
    if (n == 0) {
        close_connection(srv, c);
        return;
    }
    int err = errno;
    if (err == EINTR || err == EAGAIN || err == EWOULDBLOCK)
        return;
    /* After one failure Go reads on to the next error or the end, quietly. */
    if (c->failed) {
        close_connection(srv, c);
        return;
    }
    c->failed = true;
    vmu_buf text;
    vmu_buf_init(&text);
    vmu_buf_printf(&text, "read %s: ", c->name);
    gcs_errno_text(err, &text);
    int rc = text.failed ? -1
                         : vmu_gcs_decoder_fail(c->decoder, text.data, text.len,
                                                err == ECONNRESET || err == ECONNABORTED);
    vmu_buf_free(&text);
    if (rc != 0)
        close_connection(srv, c);
}

/* ---- watchers ---- */

int vmu_gcs_server_watch(vmu_gcs_server *srv, int fd, vmu_gcs_server_watch_fn fn, void *user)
{
    watch *w = vmu_calloc(1, sizeof *w);
    if (!w) {
        errno = ENOMEM;
        return -1;
    }
    w->base.kind = NODE_WATCH;
    w->fd = fd;
    w->fn = fn;
    w->user = user;
    if (epoll_add(srv, fd, &w->base) != 0) {
        vmu_free(w);
        return -1;
    }
    w->next = srv->watches;
    srv->watches = w;
    return 0;
}

void vmu_gcs_server_unwatch(vmu_gcs_server *srv, int fd)
{
    for (watch **p = &srv->watches; *p; p = &(*p)->next) {
        watch *w = *p;
        if (w->fd != fd)
            continue;
        *p = w->next;
        epoll_ctl(srv->epfd, EPOLL_CTL_DEL, fd, NULL);
        bury(srv, &w->base);
        return;
    }
}

void vmu_gcs_server_set_idle(vmu_gcs_server *srv, vmu_gcs_server_idle_fn fn, void *user)
{
    srv->idle = fn;
    srv->idle_user = user;
}

/* ---- the loop ---- */

int vmu_gcs_server_poll(vmu_gcs_server *srv, int timeout_ms)
{
    struct epoll_event events[MAX_EVENTS];
    /* Listeners rested in an earlier round are tried again after this one;
     * meanwhile the wait is bounded so that they are not forgotten. */
    bool wake = srv->resting;
    if (wake && (timeout_ms < 0 || timeout_ms > REST_MS))
        timeout_ms = REST_MS;
    int n = epoll_wait(srv->epfd, events, MAX_EVENTS, 0);
    if (n == 0 && timeout_ms != 0) {
        if (srv->idle)
            srv->idle(srv->idle_user);
        n = epoll_wait(srv->epfd, events, MAX_EVENTS, timeout_ms);
    }
    if (n < 0) {
        int e = errno;
        if (wake)
            wake_listeners(srv);
        errno = e;
        return e == EINTR ? 0 : -1;
    }
    for (int i = 0; i < n; i++) {
        node *nd = events[i].data.ptr;
        if (nd->dead)
            continue;
        switch (nd->kind) {
        case NODE_LISTENER:
            accept_on(srv, (listener *)nd);
            break;
        case NODE_CONNECTION:
            read_connection(srv, (connection *)nd, srv->read_bytes);
            break;
        case NODE_WATCH: {
            watch *w = (watch *)nd;
            w->fn(w->user, w->fd);
            break;
        }
        }
    }
    free_dead(srv);
    if (wake)
        wake_listeners(srv);
    return n;
}

void vmu_gcs_server_shutdown(vmu_gcs_server *srv)
{
    if (!srv)
        return;
    /* Guests whose connections are in a listener's backlog have connected
     * before the end: they are served like the others. */
    for (listener *l = srv->listeners; l; l = l->next)
        while (accept_on(srv, l) == ACCEPTS_PER_ROUND)
            ;
    while (srv->listeners)
        vmu_gcs_server_close_listener(srv, srv->listeners->id);
    /* What is queued now was sent before the end of service; a guest that
     * goes on writing does not hold the exit off. */
    for (connection *c = srv->connections; c; c = c->next) {
        int queued = 0;
        if (ioctl(c->fd, FIONREAD, &queued) != 0 || queued < 0)
            queued = 0;
        size_t left = (size_t)queued;
        while (left > 0 && !c->base.dead) {
            uint64_t before = srv->stats.bytes;
            read_connection(srv, c, left < srv->read_bytes ? left : srv->read_bytes);
            uint64_t got = srv->stats.bytes - before;
            if (got == 0)
                break;
            left -= got < left ? (size_t)got : left;
        }
    }
    while (srv->connections)
        close_connection(srv, srv->connections);
    free_dead(srv);
}

void vmu_gcs_server_get_stats(const vmu_gcs_server *srv, vmu_gcs_server_stats *out)
{
    memset(out, 0, sizeof *out);
    if (srv)
        *out = srv->stats;
}
