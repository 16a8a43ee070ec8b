/* vmutils: a GCS log service for many VMs in one event loop.
 *
 * The host side of the guest's log stream (hcsshim's listener on vsock port
 * 109, LinuxLogVsockPort): listeners on Unix sockets (how Firecracker and
 * Cloud Hypervisor expose a guest's vsock port: `<uds_path>_<port>`) and on
 * AF_VSOCK, every accepted connection read by its own vmu_gcs_decoder, all
 * records logged on one vmu_logger. One thread, one epoll set, no thread per
 * VM.
 *
 * Fairness: each round reads at most read_bytes from every connection that
 * is readable, so a VM that floods gets one slice a round like any other.
 * Back-pressure: records are logged from the loop's thread; when the
 * logger's output is slow (a vmu_log_async sink whose pool is full waits
 * for its worker), the loop waits with it and reads nothing, so the guests'
 * writes block in the kernel. Memory is then the sink's pool, one read
 * buffer, and each connection's decoder (bounded by max_entry_bytes).
 *
 * Connections end as Go's handler ends them (vmu_gcs_decoder_read_from):
 * at end of stream; at a reset (a disconnect, quiet); at another read error
 * ("gcs log read", then the rest of the stream as "gcs terminated"). The
 * decoder is finished then, so an entry cut by the drop is reported on its
 * own and never joined to the bytes of the VM's next connection.
 *
 * Records of the service itself (each with "uvm-id" where one is known):
 * - debug "gcs log connected": a VM's first connection (counted at its
 *   first bytes, so that a liveness probe that connects and leaves is not);
 * - info "gcs log reconnected", with "connection" (its number, 2 onwards):
 *   a later connection (guest restart, live migration, `vsockexec -r`);
 * - debug "gcs log disconnected", with "bytes" and "entries";
 * - error "gcs log connection refused", with "cid" and "error": a vsock
 *   peer whose CID has no VM id;
 * - error "gcs log accept failed", with "error": a listener out of
 *   descriptors (or memory), logged once until an accept succeeds; it rests
 *   out of the loop for a round (the wait then bounded at 100 ms), so the
 *   loop never spins on it.
 *
 * Not thread-safe: one thread runs the loop and makes every other call. */
#ifndef VMUTILS_GCS_SERVER_H
#define VMUTILS_GCS_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base.h"
#include "export.h"
#include "gcs.h"
#include "log.h"

#ifdef __cplusplus
extern "C" {
#endif

VMU_API_BEGIN

/* The guest's log port (hcsshim's LinuxLogVsockPort). */
#define VMU_GCS_LOG_PORT 109
#define VMU_GCS_SERVER_DEFAULT_READ_BYTES ((size_t)64 * 1024)

typedef struct vmu_gcs_server_options {
    /* Bytes read from one connection in one round. 0: the default. */
    size_t read_bytes;
    /* Mode of the Unix socket files created. 0: 0600. */
    unsigned socket_mode;
} vmu_gcs_server_options;

typedef struct vmu_gcs_server_stats {
    uint64_t accepted;    /* connections accepted and served */
    uint64_t refused;     /* vsock connections from an unknown CID */
    uint64_t reconnects;  /* connections logged as "gcs log reconnected" */
    uint64_t open;        /* connections open now */
    uint64_t listeners;   /* listeners open now */
    uint64_t bytes;       /* read from every connection */
    uint64_t entries;     /* entries decoded, of connections that ended */
} vmu_gcs_server_stats;

typedef struct vmu_gcs_server vmu_gcs_server;

/* logger NULL: the default logger. opts NULL: the defaults. NULL on OOM or
 * when epoll cannot be had (err says which). */
vmu_gcs_server *vmu_gcs_server_new(vmu_logger *logger, const vmu_gcs_server_options *opts,
                                   vmu_err *err);
/* Closes everything without reading more: connections are finished (their
 * partial entries reported), listeners closed and their socket files
 * removed. NULL is a no-op. */
void vmu_gcs_server_free(vmu_gcs_server *srv);

/* Listens on a Unix stream socket at path, serving VM vm_id (copied). A
 * stale socket file (nobody accepts on it) is replaced; a live one, or a
 * path that is not a socket, is an error. gcs NULL: the defaults. Returns
 * the listener's id (> 0), or -1 with err set. */
int vmu_gcs_server_listen_unix(vmu_gcs_server *srv, const char *path, const char *vm_id,
                               const vmu_gcs_options *gcs, vmu_err *err);
/* Listens on AF_VSOCK (any CID) at port; each connection's VM id comes
 * from the CID map. Returns the listener's id, or -1 with err set. */
int vmu_gcs_server_listen_vsock(vmu_gcs_server *srv, uint32_t port, const vmu_gcs_options *gcs,
                                vmu_err *err);
/* Closes a listener and removes its socket file if it is still the one it
 * created; open connections go on. 0, or -1 for an unknown id. */
int vmu_gcs_server_close_listener(vmu_gcs_server *srv, int id);

/* Maps a guest CID to a VM id (a later map of the CID replaces it). 0, or
 * -1 on OOM or an empty vm_id. */
int vmu_gcs_server_map_cid(vmu_gcs_server *srv, uint32_t cid, const char *vm_id);
/* The VM id of a CID, or NULL: connections from it are refused. */
const char *vmu_gcs_server_cid_vm_id(const vmu_gcs_server *srv, uint32_t cid);
/* Loads "CID=VMID" lines (blank lines and lines starting with '#' skipped,
 * spaces around either side trimmed). 0, or -1 with err naming the line. */
int vmu_gcs_server_load_cid_map(vmu_gcs_server *srv, const char *text, size_t len, vmu_err *err);
/* Parses one "CID=VMID" (the CID decimal, up to 2^32-1); *vm_id points
 * into text. 0 or -1. */
int vmu_gcs_parse_cid_map_entry(const char *text, uint32_t *cid, const char **vm_id);

/* Serves a connected stream socket (made non-blocking) as VM vm_id; the
 * server owns fd from here, even on failure. name is the source in read
 * error texts ("read <name>: ..."). 0, or -1 on OOM. */
int vmu_gcs_server_add_connection(vmu_gcs_server *srv, int fd, const char *vm_id,
                                  const char *name, const vmu_gcs_options *gcs);

/* Another descriptor in the loop (a signalfd, an inotify fd): fn runs when
 * it is readable. The caller keeps ownership. 0, or -1 with errno. */
typedef void (*vmu_gcs_server_watch_fn)(void *user, int fd);
int vmu_gcs_server_watch(vmu_gcs_server *srv, int fd, vmu_gcs_server_watch_fn fn, void *user);
void vmu_gcs_server_unwatch(vmu_gcs_server *srv, int fd);

/* Called when a round found nothing to do, before the loop sleeps: flush
 * buffered output there (vmu_log_async_flush) so a quiet stream's records
 * are not held back. */
typedef void (*vmu_gcs_server_idle_fn)(void *user);
void vmu_gcs_server_set_idle(vmu_gcs_server *srv, vmu_gcs_server_idle_fn fn, void *user);

/* One round: waits up to timeout_ms (-1: no limit; at most 100 ms while a
 * listener rests) for events, then
 * accepts pending connections, reads one slice from each readable
 * connection and runs the watchers. Returns the events handled (0 on
 * timeout), or -1 with errno (EINTR is returned as 0). */
int vmu_gcs_server_poll(vmu_gcs_server *srv, int timeout_ms);

/* The end of service: closes the listeners (socket files removed), reads
 * what each connection has queued at this moment, and finishes every
 * decoder. The server stays usable for stats and free. */
void vmu_gcs_server_shutdown(vmu_gcs_server *srv);

void vmu_gcs_server_get_stats(const vmu_gcs_server *srv, vmu_gcs_server_stats *out);

VMU_API_END

#ifdef __cplusplus
}
#endif
#endif
