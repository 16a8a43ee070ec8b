/* vmutils: version, constants, the growable byte buffer and the error holder
 * shared by every part of the core. Included through <vmutils.h>. */
#ifndef VMUTILS_BASE_H
#define VMUTILS_BASE_H

#include <stddef.h>
#include <stdint.h>

#include "export.h"

#ifdef __cplusplus
extern "C" {
#endif

VMU_API_BEGIN

#define VMU_VERSION_MAJOR 0
#define VMU_VERSION_MINOR 1
#define VMU_VERSION_PATCH 0
#define VMU_VERSION_STRING "0.1.0"

/* The values of hcsshim's internal/vm/vmutils constants.go. */
#define VMU_MAX_VPMEM_COUNT 128
#define VMU_DEFAULT_VPMEM_COUNT 64
#define VMU_DEFAULT_VPMEM_SIZE_BYTES 4294967296ULL
#define VMU_DEFAULT_DM_VERITY_ROOTFS_VHD "rootfs.vhd"
#define VMU_DEFAULT_GUEST_STATE_FILE "kernel.vmgs"
#define VMU_DEFAULT_UVM_REFERENCE_INFO_FILE "reference_info.cose"
#define VMU_DEFAULT_UVM_HASH_ENVELOPE_REFERENCE_INFO_FILE "reference_info_hash_envelope.cose"
#define VMU_INITRD_FILE "initrd.img"
#define VMU_VHD_FILE "rootfs.vhd"
#define VMU_KERNEL_FILE "kernel"
#define VMU_UNCOMPRESSED_KERNEL_FILE "vmlinux"
#define VMU_LINUX_ENTROPY_VSOCK_PORT 1
#define VMU_LINUX_LOG_VSOCK_PORT 109
#define VMU_LINUX_ENTROPY_BYTES 512
#define VMU_PLAN9_PORT 564

/* Windows builds the policies compare against (hcsshim's osversion). */
#define VMU_OSVERSION_RS5 17763
#define VMU_OSVERSION_V19H1 18362
#define VMU_OSVERSION_V21H1 19043
#define VMU_OSVERSION_V21H2_SERVER 20348
#define VMU_OSVERSION_V25H1_SERVER 26100

#define VMU_ERR_CPU_GROUP_CREATE_NOT_SUPPORTED \
    "cpu group assignment on create requires a build of 19043 or higher"

/* The library's version as "X.Y.Z"; lets a program check the .so it loaded. */
const char *vmu_version(void);

/* Failures carry Go's message text. Functions that can fail take a
 * vmu_err * (which may be NULL when the caller does not want the text) and
 * return -1 (or NULL) after filling it; 0 (or a result) on success. */
typedef struct vmu_err {
    char msg[512];
} vmu_err;

/* printf-style setter; tolerates err == NULL. Always returns -1 so that
 * callers can write `return vmu_err_set(err, ...)`. */
int vmu_err_set(vmu_err *err, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* A growable byte buffer. Formatters append to it; its memory is reused
 * between records, which keeps hot paths free of per-record allocation. */
typedef struct vmu_buf {
    char *data;
    size_t len;
    size_t cap;
    int failed; /* set once an allocation failed; later appends do nothing */
} vmu_buf;

void vmu_buf_init(vmu_buf *b);
void vmu_buf_free(vmu_buf *b);
static inline void vmu_buf_reset(vmu_buf *b) { b->len = 0; b->failed = 0; }
/* Makes room for `extra` more bytes; 0 on success, -1 (and b->failed) on OOM. */
int vmu_buf_reserve(vmu_buf *b, size_t extra);
int vmu_buf_append(vmu_buf *b, const void *data, size_t len);
int vmu_buf_putc(vmu_buf *b, char c);
int vmu_buf_puts(vmu_buf *b, const char *s);
int vmu_buf_printf(vmu_buf *b, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* The core allocates through these so that tests can make the Nth
 * allocation fail. */
void *vmu_malloc(size_t size);
void *vmu_realloc(void *ptr, size_t size);
void *vmu_calloc(size_t count, size_t size);
void vmu_free(void *ptr);

VMU_API_END

#ifdef __cplusplus
}
#endif
#endif
