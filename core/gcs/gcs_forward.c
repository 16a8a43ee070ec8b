/* The forwarders: a stream read from a callback or a file descriptor, fed
 * to a vmu_gcs_decoder as it arrives (hcsshim's ParseGCSLogrus over a
 * connection). They use the decoder through its public API. */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include "gcs_stream.h"
#include "gcs_text.h"

int vmu_gcs_decoder_read_from(vmu_gcs_decoder *d, vmu_gcs_read_fn read, void *user,
                              const char *source_name)
{
    if (!d || !read || !gcs_decoder_open(d))
        return -1;
    uint8_t *buf = vmu_malloc(GCS_SLICE);
    if (!buf)
        return -1;
    int rc = 0;
    bool failed = false;
    while (rc == 0) {
        ptrdiff_t got = read(user, buf, GCS_SLICE);
        if (got > 0) {
            rc = vmu_gcs_decoder_feed(d, buf, (size_t)got);
            continue;
        }
        if (got == 0)
            break;
        int err = errno;
        if (err == EINTR)
            continue;
        /* After a failure Go reads on until the next error or EOF
         * (io.ReadAll), and ignores that error. */
        if (failed)
            break;
        failed = true;
        vmu_buf text;
        vmu_buf_init(&text);
        vmu_buf_printf(&text, "read %s: ", source_name ? source_name : "");
        gcs_errno_text(err, &text);
        rc = text.failed ? -1
                         : vmu_gcs_decoder_fail(d, text.data, text.len,
                                                err == ECONNRESET || err == ECONNABORTED);
        vmu_buf_free(&text);
    }
    vmu_free(buf);
    if (rc == 0)
        rc = vmu_gcs_decoder_finish(d);
    return rc;
}

int vmu_gcs_forward(const char *vm_id, vmu_gcs_read_fn read, void *user, const char *source_name,
                    const vmu_gcs_options *opts, vmu_logger *logger, vmu_gcs_stats *stats)
{
    vmu_gcs_decoder *d = vmu_gcs_decoder_new(vm_id, vm_id ? strlen(vm_id) : 0, opts, logger);
    if (!d)
        return -1;
    int rc = vmu_gcs_decoder_read_from(d, read, user, source_name);
    if (stats)
        vmu_gcs_decoder_stats(d, stats);
    vmu_gcs_decoder_free(d);
    return rc;
}

static ptrdiff_t read_fd(void *user, void *buf, size_t cap)
{
    int fd = *(const int *)user;
    for (;;) {
        ssize_t n = read(fd, buf, cap);
        if (n >= 0 || (errno != EAGAIN && errno != EWOULDBLOCK))
            return n;
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        if (poll(&pfd, 1, -1) < 0 && errno != EINTR)
            return -1;
    }
}

int vmu_gcs_forward_fd(const char *vm_id, int fd, const char *source_name,
                       const vmu_gcs_options *opts, vmu_logger *logger, vmu_gcs_stats *stats)
{
    return vmu_gcs_forward(vm_id, read_fd, &fd, source_name, opts, logger, stats);
}
