/* Go's lexical path cleaning (path/filepath.Clean on Unix), written out
 * because the messages and log fields must show the same path Go shows. */
#include <stdbool.h>
#include <string.h>

#include "gopath.h"
#include "vmutils.h"

static bool is_element_end(const char *path, size_t len, size_t at)
{
    return at == len || path[at] == '/';
}

int vmu_go_path_clean(const char *path, size_t len, vmu_buf *out)
{
    if (len == 0)
        return vmu_buf_putc(out, '.');
    /* The cleaned path is never longer than the input. */
    if (vmu_buf_reserve(out, len) != 0)
        return -1;
    char *dst = out->data + out->len;
    bool rooted = path[0] == '/';
    size_t r = 0, w = 0;
    size_t backtrack_floor = 0; /* a ".." may not remove what is before this */
    if (rooted) {
        dst[w++] = '/';
        r = 1;
        backtrack_floor = 1;
    }
    while (r < len) {
        if (path[r] == '/') {
            r++;
        } else if (path[r] == '.' && is_element_end(path, len, r + 1)) {
            r++;
        } else if (path[r] == '.' && r + 1 < len && path[r + 1] == '.' &&
                   is_element_end(path, len, r + 2)) {
            r += 2;
            if (w > backtrack_floor) {
                w--;
                while (w > backtrack_floor && dst[w] != '/')
                    w--;
            } else if (!rooted) {
                /* A leading ".." of a relative path stays. */
                if (w > 0)
                    dst[w++] = '/';
                dst[w++] = '.';
                dst[w++] = '.';
                backtrack_floor = w;
            }
        } else {
            if ((rooted && w != 1) || (!rooted && w != 0))
                dst[w++] = '/';
            while (r < len && path[r] != '/')
                dst[w++] = path[r++];
        }
    }
    if (w == 0)
        dst[w++] = '.';
    out->len += w;
    return 0;
}

int vmu_go_path_join(const char *a, size_t a_len, const char *b, size_t b_len, vmu_buf *out)
{
    if (a_len == 0 && b_len == 0)
        return out->failed ? -1 : 0;
    if (a_len == 0)
        return vmu_go_path_clean(b, b_len, out);
    if (b_len == 0)
        return vmu_go_path_clean(a, a_len, out);
    vmu_buf joined;
    vmu_buf_init(&joined);
    int status = -1;
    if (vmu_buf_append(&joined, a, a_len) == 0 && vmu_buf_putc(&joined, '/') == 0 &&
        vmu_buf_append(&joined, b, b_len) == 0)
        status = vmu_go_path_clean(joined.data, joined.len, out);
    else
        out->failed = 1;
    vmu_buf_free(&joined);
    return status;
}
