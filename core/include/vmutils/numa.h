/* vmutils: vNUMA topologies (hcsshim's numa.go) and the HCS schema structs
 * they produce (hcsschema.Numa, NumaSetting, NumaProcessors). Included
 * through <vmutils.h>. */
#ifndef VMUTILS_NUMA_H
#define VMUTILS_NUMA_H

#include <stddef.h>
#include <stdint.h>

#include "base.h"
#include "log.h"
#include "export.h"

#ifdef __cplusplus
extern "C" {
#endif

VMU_API_BEGIN

/* A physical node number that lets the platform pick the node. */
#define VMU_NUMA_WILDCARD_PHYSICAL_NODE 0xFFu
/* Physical node numbers (other than the wildcard) must be below this. */
#define VMU_NUMA_TOPOLOGY_NODE_COUNT_MAX 64u
/* Virtual node numbers may not exceed this (64 itself is allowed, as in Go). */
#define VMU_NUMA_CHILD_NODE_COUNT_MAX 64u
/* The first Windows build with vNUMA support (osversion.V25H1Server). */
#define VMU_NUMA_MIN_OS_BUILD VMU_OSVERSION_V25H1_SERVER

/* [NumaConfig] Every array is a pointer and a length. A NULL pointer is Go's
 * nil slice and a non-NULL pointer with length 0 an empty one: the two only
 * differ in the warnings, which print them as "null" and "[]". */
typedef struct vmu_numa_config {
    uint32_t max_processors_per_numa_node;
    uint64_t max_memory_size_per_numa_node; /* MiB */
    const uint32_t *preferred_physical_numa_nodes;
    size_t preferred_physical_numa_nodes_len;
    /* Explicit topology: item i of each array describes virtual node i. */
    const uint32_t *numa_mapped_physical_nodes;
    size_t numa_mapped_physical_nodes_len;
    const uint32_t *numa_processor_counts;
    size_t numa_processor_counts_len;
    const uint64_t *numa_memory_blocks_counts; /* MiB */
    size_t numa_memory_blocks_counts_len;
} vmu_numa_config;

/* [MemoryBackingType] NONE is Go's empty string (omitted from JSON). */
typedef enum vmu_memory_backing_type {
    VMU_MEMORY_BACKING_NONE = 0,
    VMU_MEMORY_BACKING_PHYSICAL,
    VMU_MEMORY_BACKING_VIRTUAL,
    VMU_MEMORY_BACKING_HYBRID
} vmu_memory_backing_type;

/* "Physical", "Virtual", "Hybrid", or "" for NONE and unknown values. */
const char *vmu_memory_backing_type_name(vmu_memory_backing_type type);

/* [NumaSetting] */
typedef struct vmu_numa_setting {
    uint32_t virtual_node_number;
    uint32_t physical_node_number;
    uint32_t virtual_socket_number;
    uint32_t count_of_processors;
    uint64_t count_of_memory_blocks;
    vmu_memory_backing_type memory_backing_type;
} vmu_numa_setting;

/* [Numa] preferred_physical_nodes is NULL when none were given. */
typedef struct vmu_numa {
    uint8_t virtual_node_count;
    int64_t *preferred_physical_nodes;
    size_t preferred_physical_nodes_len;
    vmu_numa_setting *settings;
    size_t settings_len;
    uint64_t max_size_per_node;
} vmu_numa;

/* [NumaProcessors] */
typedef struct vmu_numa_processors {
    struct {
        uint32_t max;
    } count_per_node;
    uint32_t node_per_socket;
} vmu_numa_processors;

/* [PrepareVNumaTopology] Builds the vNUMA part of an HCS document.
 * On success returns 0 and sets *numa_out and *processors_out, each a new
 * object or NULL:
 *  - neither max_processors_per_numa_node nor numa_mapped_physical_nodes set:
 *    both NULL (after Go's "potentially incomplete ..." warnings when the
 *    config is only partly filled in);
 *  - implicit topology (max_processors_per_numa_node > 0): a numa with
 *    max_size_per_node and preferred_physical_nodes, and processors;
 *  - explicit topology: a numa with one setting per virtual node (backed by
 *    physical memory), checked by vmu_validate_numa; processors NULL.
 * On failure returns -1 with Go's message in `err`, both outputs NULL.
 * `host_os_build` is the Windows build of the host; below
 * VMU_NUMA_MIN_OS_BUILD it fails with "vNUMA topology is not supported on N
 * version of Windows"; a negative value skips the check (hosts that are not
 * Windows). Records go to `logger` (NULL: the default logger); the debug
 * records carry the result as JSON, formatted only when debug is enabled.
 * NULL `config`, `numa_out` or `processors_out` is an error. */
int vmu_prepare_vnuma_topology(vmu_logger *logger, const vmu_numa_config *config,
                               int32_t host_os_build, vmu_numa **numa_out,
                               vmu_numa_processors **processors_out, vmu_err *err);

/* [validate] Checks the settings of `numa` on their own: node number limits,
 * no mix of wildcard and fixed physical nodes, memory on every node, no
 * duplicate virtual node, processors and memory both present or both
 * absent. 0, or -1 with Go's message. Runs in time linear in the settings. */
int vmu_validate_numa(const vmu_numa *numa, vmu_err *err);

/* [ValidateNumaForVM] The settings' processor and memory totals (uint32 and
 * uint64 sums that wrap as in Go) must match the VM's, where non-zero.
 * 0, or -1 with Go's message. */
int vmu_validate_numa_for_vm(const vmu_numa *numa, uint32_t proc_count, uint64_t mem_in_mb,
                             vmu_err *err);

/* Both accept NULL. */
void vmu_numa_free(vmu_numa *numa);
void vmu_numa_processors_free(vmu_numa_processors *processors);

/* Append the object as Go's encoding/json writes the hcsschema struct
 * (field order, omitempty), which is what hcsshim's log.Format prints.
 * 0, or -1 when memory runs out or an argument is NULL. */
int vmu_numa_format_json(const vmu_numa *numa, vmu_buf *out);
int vmu_numa_processors_format_json(const vmu_numa_processors *processors, vmu_buf *out);

VMU_API_END

#ifdef __cplusplus
}
#endif
#endif
