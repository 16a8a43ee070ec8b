/* Switches for the tests, not part of the API: no installed header declares
 * them and the shared library does not export them. Tests, fuzz targets and
 * benches link the static library and include this header as
 * "../core/test_hooks.h". Each switch is process-wide. */
#ifndef VMUTILS_TEST_HOOKS_H
#define VMUTILS_TEST_HOOKS_H

#include <stdbool.h>

/* After `n` more successful allocations every vmu_malloc, vmu_realloc and
 * vmu_calloc fails; n < 0 turns failure injection off (the default). */
void vmu_alloc_fail_after(long n);

/* false makes vmu_parse_uvm_reference_info take the openat walk, as on a
 * kernel without openat2; true (the default) tries openat2 first. */
void vmu_refinfo_use_openat2(bool enabled);

#endif
