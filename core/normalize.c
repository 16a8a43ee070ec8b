/* UVM sizing rules (hcsshim's normalize.go): the default processor count and
 * the adjustments made to a requested memory size and processor count. */
#include <errno.h>
#include <sched.h>
#include <string.h>

#include "vmutils.h"

/* Past this many CPUs the affinity query gives up (and the answer is 2 anyway
 * once more than one CPU has been seen, so no real machine reaches it). */
#define AFFINITY_MAX_CPUS (1 << 20)

/* The number of CPUs in the affinity mask, or -1 when it cannot be read.
 * The mask is grown until the kernel's fits: glibc's fixed cpu_set_t holds
 * 1024 CPUs and sched_getaffinity fails with EINVAL on bigger machines. */
static int affinity_cpu_count(void)
{
    for (int cpus = CPU_SETSIZE; cpus <= AFFINITY_MAX_CPUS; cpus *= 2) {
        cpu_set_t *set = CPU_ALLOC((size_t)cpus);
        if (!set)
            return -1;
        size_t size = CPU_ALLOC_SIZE((size_t)cpus);
        CPU_ZERO_S(size, set);
        if (sched_getaffinity(0, size, set) == 0) {
            int count = CPU_COUNT_S(size, set);
            CPU_FREE(set);
            return count;
        }
        int error = errno;
        CPU_FREE(set);
        if (error != EINVAL)
            return -1;
    }
    return -1;
}

int32_t vmu_default_processor_count_for_uvm(void)
{
    int count = affinity_cpu_count();
    /* Go's NumCPU reports 1 when it cannot read the mask. */
    if (count <= 1)
        return 1;
    return 2;
}

static vmu_field uvm_id_field(const char *uvm_id, size_t uvm_id_len)
{
    return vmu_field_strn("uvm-id", uvm_id ? uvm_id : "", uvm_id ? uvm_id_len : 0);
}

uint64_t vmu_normalize_memory_size(vmu_logger *logger, const char *uvm_id, size_t uvm_id_len,
                                   uint64_t requested_mb)
{
    /* Unsigned arithmetic wraps as Go's does: UINT64_MAX becomes 0. */
    uint64_t assigned = (requested_mb + 1) & ~(uint64_t)1;
    if (assigned != requested_mb) {
        static const char msg[] = "Changing user requested MemorySizeInMB to align to 2MB";
        vmu_field fields[] = {
            uvm_id_field(uvm_id, uvm_id_len),
            vmu_field_uint("requested", requested_mb),
            vmu_field_uint("assigned", assigned),
        };
        vmu_log(logger, VMU_LEVEL_WARN, msg, sizeof msg - 1, fields,
                sizeof fields / sizeof fields[0]);
    }
    return assigned;
}

/* Go's int32(u) for a uint32: the same bits read as two's complement,
 * spelled out because C leaves the out-of-range conversion to the compiler. */
static int32_t int32_from_uint32_bits(uint32_t value)
{
    if (value <= (uint32_t)INT32_MAX)
        return (int32_t)value;
    return (int32_t)(value - (uint32_t)INT32_MAX - 1u) + INT32_MIN;
}

int32_t vmu_normalize_processor_count(vmu_logger *logger, const char *uvm_id, size_t uvm_id_len,
                                      int32_t requested, uint32_t host_logical_processor_count)
{
    int32_t host_count = int32_from_uint32_bits(host_logical_processor_count);
    if (requested <= host_count)
        return requested;
    static const char msg[] = "Changing user requested CPUCount to current number of processors";
    vmu_field fields[] = {
        uvm_id_field(uvm_id, uvm_id_len),
        vmu_field_int("requested", requested),
        vmu_field_int("assigned", host_count),
    };
    vmu_log(logger, VMU_LEVEL_WARN, msg, sizeof msg - 1, fields, sizeof fields / sizeof fields[0]);
    return host_count;
}
