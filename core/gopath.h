/* Internal: Go's path/filepath Join and Clean for '/'-separated paths, so
 * that the paths vmutils prints are the ones a Go host prints. */
#ifndef VMUTILS_GOPATH_H
#define VMUTILS_GOPATH_H

#include <stddef.h>

#include "vmutils/base.h"

/* Appends filepath.Clean(path): the shortest lexically equivalent path
 * ("." for an empty one). 0, or -1 when memory runs out. */
int vmu_go_path_clean(const char *path, size_t len, vmu_buf *out);

/* Appends filepath.Join(a, b): empty elements are ignored, the rest joined
 * with '/' and cleaned; nothing at all when both are empty. */
int vmu_go_path_join(const char *a, size_t a_len, const char *b, size_t b_len, vmu_buf *out);

#endif
