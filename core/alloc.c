/* The core's allocator, with a failure-injection switch so that tests can
 * walk every allocation point and prove each one fails cleanly. */
#include <stdatomic.h>
#include <stdlib.h>

#include "test_hooks.h"
#include "vmutils.h"

/* Remaining allocations before failures start; negative means "never fail".
 * Atomic because concurrent forwarders allocate from several threads. */
static atomic_long allocs_until_failure = -1;

void vmu_alloc_fail_after(long n) { atomic_store(&allocs_until_failure, n); }

static int allocation_allowed(void)
{
    long left = atomic_load(&allocs_until_failure);
    while (left >= 0) {
        if (left == 0)
            return 0;
        if (atomic_compare_exchange_weak(&allocs_until_failure, &left, left - 1))
            return 1;
    }
    return 1;
}

void *vmu_malloc(size_t size)
{
    return allocation_allowed() ? malloc(size ? size : 1) : NULL;
}

void *vmu_calloc(size_t count, size_t size)
{
    return allocation_allowed() ? calloc(count ? count : 1, size ? size : 1) : NULL;
}

void *vmu_realloc(void *ptr, size_t size)
{
    return allocation_allowed() ? realloc(ptr, size ? size : 1) : NULL;
}

void vmu_free(void *ptr) { free(ptr); }
