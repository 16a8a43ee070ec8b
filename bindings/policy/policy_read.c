/* Capped whole-input reads for the runtime and its command. */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "policy_read.h"

#define READ_CHUNK 65536

vmu_read_status vmu_read_fd_capped(int fd, size_t cap, vmu_buf *out, int *error)
{
    size_t start = out->len;
    for (;;) {
        /* Ask for at most one byte past the cap: enough to tell that the
         * input is too large without holding more of it. */
        size_t taken = out->len - start;
        size_t want = cap - taken < READ_CHUNK ? cap - taken + 1 : READ_CHUNK;
        if (vmu_buf_reserve(out, want) < 0)
            return VMU_READ_NO_MEMORY;
        ssize_t n = read(fd, out->data + out->len, want);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            *error = errno;
            return VMU_READ_FAILED;
        }
        if (n == 0)
            return VMU_READ_OK;
        out->len += (size_t)n;
        if (out->len - start > cap)
            return VMU_READ_TOO_LARGE;
    }
}

vmu_read_status vmu_read_file_capped(const char *path, size_t cap, vmu_buf *out, int *error)
{
    int fd;
    do
        fd = open(path, O_RDONLY | O_CLOEXEC);
    while (fd < 0 && errno == EINTR);
    if (fd < 0) {
        *error = errno;
        return VMU_READ_OPEN_FAILED;
    }
    vmu_read_status status = vmu_read_fd_capped(fd, cap, out, error);
    close(fd);
    return status;
}
