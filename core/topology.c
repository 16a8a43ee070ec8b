/* Host NUMA topology through hwloc: nodes by OS index with their allowed
 * processors, memory, huge pages and distances. hwloc knows the structure;
 * only what it does not report (free memory and free huge pages per node)
 * is read from the node's sysfs files. */
#include <hwloc.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmutils.h"

#define MIB (1024u * 1024u)
/* ACPI's SLIT values when the firmware gives no table. */
#define DISTANCE_LOCAL 10u
#define DISTANCE_REMOTE 20u

static const char out_of_memory[] = "host topology: out of memory";

/* ---- sysfs: free memory and free huge pages of a node ---- */

/* The number after `key` in a "Node N MemFree:   1234 kB" file, in kB. */
static int read_meminfo_kb(const char *path, const char *key, uint64_t *kb)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    char line[256];
    int found = -1;
    size_t key_len = strlen(key);
    while (fgets(line, sizeof line, f)) {
        char *at = strstr(line, key);
        if (!at || at[key_len] != ':')
            continue;
        char *end;
        unsigned long long v = strtoull(at + key_len + 1, &end, 10);
        if (end != at + key_len + 1) {
            *kb = v;
            found = 0;
        }
        break;
    }
    fclose(f);
    return found;
}

static int read_count(const char *path, uint64_t *value)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    unsigned long long v;
    int ok = fscanf(f, "%llu", &v) == 1;
    fclose(f);
    if (!ok)
        return -1;
    *value = v;
    return 0;
}

static void read_node_sysfs(const char *root, vmu_topology_node *node)
{
    char path[4096];
    uint64_t kb;
    snprintf(path, sizeof path, "%s/devices/system/node/node%" PRIu32 "/meminfo", root, node->id);
    if (read_meminfo_kb(path, "MemFree", &kb) == 0)
        node->free_mb = kb / 1024;
    for (size_t i = 0; i < node->hugepages_len; i++) {
        vmu_hugepages *h = &node->hugepages[i];
        uint64_t count;
        snprintf(path, sizeof path,
                 "%s/devices/system/node/node%" PRIu32 "/hugepages/hugepages-%" PRIu64
                 "kB/free_hugepages",
                 root, node->id, h->size_kib);
        if (read_count(path, &count) == 0)
            h->free = count < h->total ? count : h->total;
    }
}

/* ---- which processors belong to which node ---- */

/* hwloc attaches a NUMA node to the object whose processors are local to
 * it; a memory-only node (CXL, HBM) shares that object with the node the
 * processors really belong to. The object a node hangs from, past memory
 * side caches: */
static hwloc_obj_t attachment(hwloc_obj_t numa)
{
    hwloc_obj_t obj = numa->parent;
    while (obj && hwloc_obj_type_is_memory(obj->type))
        obj = obj->parent;
    return obj;
}

/* Among the nodes on one object, the processors go to a plain one (no
 * subtype such as "MCDRAM" or "HBM") with the lowest OS index. */
static bool ranks_before(hwloc_obj_t a, hwloc_obj_t b)
{
    bool a_plain = a->subtype == NULL, b_plain = b->subtype == NULL;
    if (a_plain != b_plain)
        return a_plain;
    return a->os_index < b->os_index;
}

/* The index (into numas) of the node a processor belongs to, or -1. */
static long owner_of(hwloc_obj_t pu, hwloc_obj_t *numas, hwloc_obj_t *attached, size_t n)
{
    for (hwloc_obj_t obj = pu->parent; obj; obj = obj->parent) {
        if (obj->memory_arity == 0)
            continue;
        long best = -1;
        for (size_t i = 0; i < n; i++)
            if (attached[i] == obj && (best < 0 || ranks_before(numas[i], numas[best])))
                best = (long)i;
        if (best >= 0)
            return best;
    }
    return -1;
}

/* ---- building the result ---- */

static int load(hwloc_topology_t topo, const vmu_topology_options *opts, vmu_err *err)
{
    hwloc_topology_set_flags(topo, HWLOC_TOPOLOGY_FLAG_INCLUDE_DISALLOWED);
    hwloc_topology_set_cache_types_filter(topo, HWLOC_TYPE_FILTER_KEEP_NONE);
    hwloc_topology_set_icache_types_filter(topo, HWLOC_TYPE_FILTER_KEEP_NONE);
    if (opts && opts->xml && opts->synthetic)
        return vmu_err_set(err, "host topology: give xml or synthetic, not both");
    if (opts && opts->xml) {
        const char *p = opts->xml;
        while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
            p++;
        int rc = *p == '<' ? hwloc_topology_set_xmlbuffer(topo, p, (int)strlen(p) + 1)
                           : hwloc_topology_set_xml(topo, opts->xml);
        if (rc != 0)
            return vmu_err_set(err, "host topology: cannot use the XML %s",
                               *p == '<' ? "text" : opts->xml);
    } else if (opts && opts->synthetic) {
        if (hwloc_topology_set_synthetic(topo, opts->synthetic) != 0)
            return vmu_err_set(err, "host topology: invalid synthetic description '%s'",
                               opts->synthetic);
    }
    if (hwloc_topology_load(topo) != 0)
        return vmu_err_set(err, "host topology: hwloc could not load the topology");
    return 0;
}

static int compare_nodes(const void *a, const void *b)
{
    const vmu_topology_node *x = a, *y = b;
    return (x->id > y->id) - (x->id < y->id);
}

static int fill_node(hwloc_topology_t topo, hwloc_obj_t numa, hwloc_const_bitmap_t pus,
                     hwloc_const_bitmap_t allowed_cpus, hwloc_const_nodeset_t allowed_nodes,
                     vmu_topology_node *node)
{
    node->id = numa->os_index;
    node->allowed = hwloc_bitmap_isset(allowed_nodes, numa->os_index);
    node->memory_mb = numa->attr->numanode.local_memory / MIB;
    node->free_mb = node->memory_mb;
    node->memory_less = numa->attr->numanode.local_memory == 0;
    node->existing_processors = (uint32_t)hwloc_bitmap_weight(pus);
    node->cpu_less = node->existing_processors == 0;
    node->package = -1;

    hwloc_bitmap_t mine = hwloc_bitmap_alloc();
    if (!mine)
        return -1;
    hwloc_bitmap_and(mine, pus, allowed_cpus);
    int weight = hwloc_bitmap_weight(mine);
    node->processors = weight > 0 ? (uint32_t)weight : 0;
    if (node->processors) {
        node->cpus = vmu_malloc(node->processors * sizeof *node->cpus);
        if (!node->cpus) {
            hwloc_bitmap_free(mine);
            return -1;
        }
        size_t k = 0;
        int cpu;
        hwloc_bitmap_foreach_begin(cpu, mine) node->cpus[k++] = (uint32_t)cpu;
        hwloc_bitmap_foreach_end();
        hwloc_obj_t first = hwloc_get_pu_obj_by_os_index(topo, node->cpus[0]);
        hwloc_obj_t package = first ? hwloc_get_ancestor_obj_by_type(topo, HWLOC_OBJ_PACKAGE, first)
                                    : NULL;
        if (package)
            node->package = (int32_t)package->os_index;
        for (hwloc_obj_t core = hwloc_get_next_obj_by_type(topo, HWLOC_OBJ_CORE, NULL); core;
             core = hwloc_get_next_obj_by_type(topo, HWLOC_OBJ_CORE, core))
            if (hwloc_bitmap_intersects(core->cpuset, mine))
                node->cores++;
    }
    hwloc_bitmap_free(mine);

    const struct hwloc_memory_page_type_s *types = numa->attr->numanode.page_types;
    unsigned types_len = numa->attr->numanode.page_types_len;
    size_t huge = 0;
    for (unsigned i = 0; i < types_len; i++)
        if (types[i].size > 4096)
            huge++;
    if (huge) {
        node->hugepages = vmu_calloc(huge, sizeof *node->hugepages);
        if (!node->hugepages)
            return -1;
        for (unsigned i = 0; i < types_len; i++) {
            if (types[i].size <= 4096)
                continue;
            vmu_hugepages *h = &node->hugepages[node->hugepages_len++];
            h->size_kib = types[i].size / 1024;
            h->total = types[i].count;
            h->free = types[i].count;
        }
    }
    return 0;
}

/* The firmware's distances between nodes, or ACPI's defaults. */
static int fill_distances(hwloc_topology_t topo, vmu_topology *t)
{
    size_t n = t->nodes_len;
    for (size_t i = 0; i < n; i++) {
        t->nodes[i].distances = vmu_malloc(n * sizeof *t->nodes[i].distances);
        if (!t->nodes[i].distances)
            return -1;
        for (size_t j = 0; j < n; j++)
            t->nodes[i].distances[j] = i == j ? DISTANCE_LOCAL : DISTANCE_REMOTE;
    }
    unsigned nr = 1;
    struct hwloc_distances_s *d = NULL;
    if (hwloc_distances_get_by_type(topo, HWLOC_OBJ_NUMANODE, &nr, &d, 0, 0) != 0 || nr == 0)
        return 0;
    for (unsigned a = 0; a < d->nbobjs; a++) {
        vmu_topology_node *from = (vmu_topology_node *)vmu_topology_find(t, d->objs[a]->os_index);
        for (unsigned b = 0; from && b < d->nbobjs; b++) {
            const vmu_topology_node *to = vmu_topology_find(t, d->objs[b]->os_index);
            uint64_t v = d->values[a * d->nbobjs + b];
            if (to && v > 0 && v <= UINT32_MAX)
                from->distances[to - t->nodes] = (uint32_t)v;
        }
    }
    hwloc_distances_release(topo, d);
    return 0;
}

static int build(hwloc_topology_t topo, const vmu_topology_options *opts, vmu_topology *t,
                 vmu_err *err)
{
    hwloc_obj_t root = hwloc_get_root_obj(topo);
    hwloc_bitmap_t allowed_cpus = hwloc_bitmap_alloc();
    if (!allowed_cpus)
        return vmu_err_set(err, "%s", out_of_memory);
    hwloc_bitmap_and(allowed_cpus, root->cpuset, hwloc_topology_get_allowed_cpuset(topo));
    hwloc_const_nodeset_t allowed_nodes = hwloc_topology_get_allowed_nodeset(topo);
    t->logical_processor_count = (uint32_t)hwloc_bitmap_weight(allowed_cpus);
    t->existing_processors = (uint32_t)hwloc_bitmap_weight(root->cpuset);
    int complete = hwloc_bitmap_weight(root->complete_cpuset);
    if (complete > (int)t->existing_processors)
        t->offline_processors = (uint32_t)complete - t->existing_processors;
    int packages = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_PACKAGE);
    t->packages = packages > 0 ? (uint32_t)packages : 0;
    for (hwloc_obj_t core = hwloc_get_next_obj_by_type(topo, HWLOC_OBJ_CORE, NULL); core;
         core = hwloc_get_next_obj_by_type(topo, HWLOC_OBJ_CORE, core))
        if (hwloc_bitmap_intersects(core->cpuset, allowed_cpus))
            t->cores++;

    int count = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_NUMANODE);
    if (count <= 0) {
        hwloc_bitmap_free(allowed_cpus);
        return vmu_err_set(err, "host topology: no NUMA node");
    }
    size_t n = (size_t)count;
    int rc = -1;
    hwloc_obj_t *numas = vmu_calloc(n, sizeof *numas);
    hwloc_obj_t *attached = vmu_calloc(n, sizeof *attached);
    hwloc_bitmap_t *pus = vmu_calloc(n, sizeof *pus);
    t->nodes = vmu_calloc(n, sizeof *t->nodes);
    if (!numas || !attached || !pus || !t->nodes)
        goto out;
    t->nodes_len = n;
    for (size_t i = 0; i < n; i++) {
        numas[i] = hwloc_get_obj_by_type(topo, HWLOC_OBJ_NUMANODE, (unsigned)i);
        attached[i] = attachment(numas[i]);
        if (!(pus[i] = hwloc_bitmap_alloc()))
            goto out;
    }
    for (hwloc_obj_t pu = hwloc_get_next_obj_by_type(topo, HWLOC_OBJ_PU, NULL); pu;
         pu = hwloc_get_next_obj_by_type(topo, HWLOC_OBJ_PU, pu)) {
        long owner = owner_of(pu, numas, attached, n);
        if (owner >= 0)
            hwloc_bitmap_set(pus[owner], pu->os_index);
    }
    for (size_t i = 0; i < n; i++)
        if (fill_node(topo, numas[i], pus[i], allowed_cpus, allowed_nodes, &t->nodes[i]) != 0)
            goto out;
    qsort(t->nodes, n, sizeof *t->nodes, compare_nodes);
    if (fill_distances(topo, t) != 0)
        goto out;
    const char *sysfs = opts ? opts->sysfs_root : NULL;
    if (!sysfs && (!opts || (!opts->xml && !opts->synthetic)))
        sysfs = "/sys";
    if (sysfs)
        for (size_t i = 0; i < n; i++)
            read_node_sysfs(sysfs, &t->nodes[i]);
    rc = 0;
out:
    if (pus)
        for (size_t i = 0; i < n; i++)
            hwloc_bitmap_free(pus[i]);
    vmu_free(pus);
    vmu_free(attached);
    vmu_free(numas);
    hwloc_bitmap_free(allowed_cpus);
    if (rc != 0)
        vmu_err_set(err, "%s", out_of_memory);
    return rc;
}

int vmu_topology_discover(const vmu_topology_options *opts, vmu_topology **out, vmu_err *err)
{
    if (!out)
        return vmu_err_set(err, "vmu_topology_discover: out must not be NULL");
    *out = NULL;
    hwloc_topology_t topo;
    if (hwloc_topology_init(&topo) != 0)
        return vmu_err_set(err, "%s", out_of_memory);
    vmu_topology *t = NULL;
    int rc = load(topo, opts, err);
    if (rc == 0) {
        t = vmu_calloc(1, sizeof *t);
        rc = t ? build(topo, opts, t, err) : vmu_err_set(err, "%s", out_of_memory);
    }
    hwloc_topology_destroy(topo);
    if (rc != 0) {
        vmu_topology_free(t);
        return -1;
    }
    *out = t;
    return 0;
}

void vmu_topology_free(vmu_topology *topology)
{
    if (!topology)
        return;
    for (size_t i = 0; topology->nodes && i < topology->nodes_len; i++) {
        vmu_free(topology->nodes[i].cpus);
        vmu_free(topology->nodes[i].hugepages);
        vmu_free(topology->nodes[i].distances);
    }
    vmu_free(topology->nodes);
    vmu_free(topology);
}

const vmu_topology_node *vmu_topology_find(const vmu_topology *topology, uint32_t id)
{
    if (!topology || !topology->nodes)
        return NULL;
    size_t lo = 0, hi = topology->nodes_len;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (topology->nodes[mid].id == id)
            return &topology->nodes[mid];
        if (topology->nodes[mid].id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}
