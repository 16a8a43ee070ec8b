/* Reading a whole input with a size cap: policies and requests are read
 * before any Lua limit applies, so the cap is what bounds the memory they
 * take (a request of /dev/zero would otherwise grow without end). */
#ifndef VMUTILS_POLICY_READ_H
#define VMUTILS_POLICY_READ_H

#include <stddef.h>

#include "vmutils.h"

typedef enum vmu_read_status {
    VMU_READ_OK = 0,
    VMU_READ_OPEN_FAILED, /* *error holds the errno */
    VMU_READ_FAILED,      /* *error holds the errno */
    VMU_READ_TOO_LARGE,   /* more than `cap` bytes: reading stopped at cap + 1 */
    VMU_READ_NO_MEMORY
} vmu_read_status;

/* Appends the bytes of the descriptor, up to end of input, to `out`. */
vmu_read_status vmu_read_fd_capped(int fd, size_t cap, vmu_buf *out, int *error);
/* The same for a file opened by name (read-only, close-on-exec). */
vmu_read_status vmu_read_file_capped(const char *path, size_t cap, vmu_buf *out, int *error);

#endif
