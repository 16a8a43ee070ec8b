/* vmutils: the host's NUMA topology, discovered with hwloc (this machine, an
 * hwloc XML export or an hwloc synthetic description), in the shape the
 * placement function (numa_fit.h) and the Lua table vmutils.host_topology
 * share. Included through <vmutils.h>. */
#ifndef VMUTILS_TOPOLOGY_H
#define VMUTILS_TOPOLOGY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base.h"
#include "export.h"

#ifdef __cplusplus
extern "C" {
#endif

VMU_API_BEGIN

/* Huge pages of one size on one node. */
typedef struct vmu_hugepages {
    uint64_t size_kib;
    uint64_t total;
    uint64_t free;
} vmu_hugepages;

/* One NUMA node, by its OS index. */
typedef struct vmu_topology_node {
    uint32_t id;
    /* The logical processors (PU OS indexes) of this node that the process
     * may use, ascending; `processors` is their count. */
    uint32_t processors;
    uint32_t *cpus;
    /* Online processors of the node whether the cpuset allows them or not. */
    uint32_t existing_processors;
    /* Cores with at least one allowed processor; the package's OS index
     * (-1 when the node has no processors or no package). */
    uint32_t cores;
    int32_t package;
    uint64_t memory_mb; /* total, MiB */
    uint64_t free_mb;   /* free, MiB (the total when unknown) */
    vmu_hugepages *hugepages;
    size_t hugepages_len;
    /* distances[j]: relative distance to nodes[j] (10 is local); NULL when
     * the host reports none. */
    uint32_t *distances;
    bool cpu_less;    /* memory only (CXL, HBM): no processors of its own */
    bool memory_less; /* processors without local memory */
    bool allowed;     /* the cpuset's memory nodes include it */
} vmu_topology_node;

typedef struct vmu_topology {
    /* Allowed online processors: what HCS would report as the host's
     * LogicalProcessorCount. */
    uint32_t logical_processor_count;
    uint32_t existing_processors; /* online, allowed or not */
    uint32_t offline_processors;  /* present but offline */
    uint32_t packages;
    uint32_t cores; /* cores with an allowed processor */
    vmu_topology_node *nodes; /* ascending id */
    size_t nodes_len;
} vmu_topology;

typedef struct vmu_topology_options {
    /* At most one of xml and synthetic. xml: a path to an hwloc XML export,
     * or the XML itself when it starts with '<'. synthetic: an hwloc
     * synthetic description ("pack:2 numa:1 core:8 pu:2"). */
    const char *xml;
    const char *synthetic;
    /* Where the node meminfo and huge page counts are read from
     * (<sysfs_root>/devices/system/node/nodeN/...). NULL: "/sys" for this
     * machine, and nothing for an XML or synthetic host, whose memory is
     * then all free. */
    const char *sysfs_root;
} vmu_topology_options;

/* Discovers the topology (opts NULL: this machine). 0 and a new *out, or -1
 * with a message (hwloc could not load the description, no NUMA node, out
 * of memory). A machine without NUMA nodes in hwloc's view is one node 0. */
int vmu_topology_discover(const vmu_topology_options *opts, vmu_topology **out, vmu_err *err);

/* Accepts NULL. Frees a topology built by vmu_topology_discover, or one
 * built by hand whose arrays come from vmu_malloc. */
void vmu_topology_free(vmu_topology *topology);

/* The node with this id, or NULL. */
const vmu_topology_node *vmu_topology_find(const vmu_topology *topology, uint32_t id);

VMU_API_END

#ifdef __cplusplus
}
#endif
#endif
