/* vmutils: placing a VM's processors and memory on the host's NUMA nodes.
 * The result is the explicit vNUMA configuration vmu_prepare_vnuma_topology
 * takes (mapped physical nodes, processors and memory per node). Included
 * through <vmutils.h>. */
#ifndef VMUTILS_NUMA_FIT_H
#define VMUTILS_NUMA_FIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base.h"
#include "log.h"
#include "numa.h"
#include "topology.h"
#include "export.h"

#ifdef __cplusplus
extern "C" {
#endif

VMU_API_BEGIN

/* The largest processor count a fit accepts (Hyper-V's per-VM maximum). */
#define VMU_NUMA_FIT_MAX_PROCESSORS 2048u
/* Memory per node is a multiple of this (MiB), as normalize_memory_size. */
#define VMU_NUMA_FIT_MEMORY_ALIGN_MB 2u

typedef enum vmu_numa_fit_policy {
    /* The fewest nodes that fit, at most max_nodes. */
    VMU_NUMA_FIT_RESTRICTED = 0,
    /* One node or nothing. */
    VMU_NUMA_FIT_SINGLE_NUMA_NODE,
    /* As restricted; when nothing fits, the fewest nodes without the
     * max_nodes limit, and when even that fails no vNUMA topology at all
     * (the platform places the VM), each time with a warning record. */
    VMU_NUMA_FIT_BEST_EFFORT
} vmu_numa_fit_policy;

/* "single-numa-node", "restricted", "best-effort" (NULL for other values). */
const char *vmu_numa_fit_policy_name(vmu_numa_fit_policy policy);
/* 0 and the policy for a name above, else -1. */
int vmu_numa_fit_policy_parse(const char *name, vmu_numa_fit_policy *policy);

typedef struct vmu_numa_fit_options {
    vmu_numa_fit_policy policy;
    uint32_t max_nodes; /* 0: no limit besides the host's nodes */
    /* A node offers (processors - reserved) * cpu ratio processors and, with
     * regular pages, total * ram ratio - used - reserved MiB (used = total -
     * free). 0 means 1.0; otherwise a finite ratio > 0. */
    double cpu_allocation_ratio;
    double ram_allocation_ratio;
    uint32_t reserved_processors; /* kept on every node */
    uint64_t reserved_memory_mb;  /* kept on every node (regular pages) */
    /* 0 or 4: regular pages. A huge page size in KiB (2048, 1048576): the
     * memory comes from the node's free huge pages of that size (no ratio,
     * no reserve) and each node's share is a multiple of the page. */
    uint64_t page_size_kib;
    /* false: processors and memory split as evenly as the nodes allow;
     * true: nodes filled in turn, by ascending id. */
    bool fill;
} vmu_numa_fit_options;

typedef struct vmu_numa_placement {
    /* Virtual node i is placed on physical node physical_nodes[i] (ascending)
     * with processors[i] processors and memory_mb[i] MiB. nodes_len 0 (only
     * after a best-effort fallback): no vNUMA topology. */
    size_t nodes_len;
    uint32_t physical_nodes[VMU_NUMA_TOPOLOGY_NODE_COUNT_MAX];
    uint32_t processors[VMU_NUMA_TOPOLOGY_NODE_COUNT_MAX];
    uint64_t memory_mb[VMU_NUMA_TOPOLOGY_NODE_COUNT_MAX];
    uint32_t worst_distance; /* largest distance between two chosen nodes */
    uint64_t free_mb_left;   /* memory the chosen nodes still offer after it */
    bool fallback;           /* best-effort went past the restricted rule */
} vmu_numa_placement;

/* Places `processors` (1..VMU_NUMA_FIT_MAX_PROCESSORS) and `memory_mb` (a
 * multiple of 2 MiB and of the page size) on `host` (nodes sorted by id;
 * distances NULL means 10 local and 20 remote). `opts` NULL: restricted, no
 * node limit, ratios 1, nothing reserved, regular pages, even split.
 *
 * The choice: the fewest nodes that fit; among those the smallest largest
 * distance between two of them; then the most memory left on them; then
 * the lowest ids. Nodes outside the cpuset's memory nodes, with ids HCS
 * cannot map (64 and up) or without a page of free memory are not used.
 * Runs a search over the maximal groups of nodes within each distance
 * (cliques of the distance graph; one group per socket or cluster on
 * hierarchical hosts) with a dynamic program over the node count and the
 * processors in each, so the cost is polynomial in the node count on such
 * hosts.
 *
 * 0 and *out filled; -1 with a message in `err` for bad arguments or when
 * nothing fits: the message then says, node by node, why each could not
 * take its share of the VM. Best-effort fallbacks log a warning through
 * `logger` (NULL: the default logger) and return 0. */
int vmu_numa_fit(vmu_logger *logger, const vmu_topology *host, uint32_t processors,
                 uint64_t memory_mb, const vmu_numa_fit_options *opts, vmu_numa_placement *out,
                 vmu_err *err);

/* The vmu_numa_config that describes `fit` (arrays pointing into it). */
void vmu_numa_fit_config(const vmu_numa_placement *fit, vmu_numa_config *config);

VMU_API_END

#ifdef __cplusplus
}
#endif
#endif
