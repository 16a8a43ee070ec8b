/* NUMA placement: which host nodes take a VM's processors and memory, and
 * how much each takes.
 *
 * Nova tries permutations of the host cells; here the search is over sets,
 * ordered by (node count, largest distance inside the set, memory left).
 * For a distance threshold d, every set whose members are pairwise within d
 * lies inside a maximal clique of the graph "distance <= d"; on a NUMA host
 * these cliques are the sockets or sub-NUMA clusters, so there are few of
 * them. Inside one clique, the best set of k nodes is a 0/1 knapsack with a
 * count: the most memory over sets of k nodes whose processors reach the
 * request, which a dynamic program over (nodes, count, processors) finds. */
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "vmutils.h"

#define MAX_NODES VMU_NUMA_TOPOLOGY_NODE_COUNT_MAX
#define DISTANCE_LOCAL 10u
#define DISTANCE_REMOTE 20u
/* Bron-Kerbosch stops past this many maximal cliques per threshold: only
 * distance tables built to defeat it have more (64 hierarchical nodes have
 * at most 64). The best set found so far is then returned. */
#define MAX_CLIQUES 4096

static const char *const policy_names[] = {"restricted", "single-numa-node", "best-effort"};

const char *vmu_numa_fit_policy_name(vmu_numa_fit_policy policy)
{
    if ((unsigned)policy < sizeof policy_names / sizeof policy_names[0])
        return policy_names[policy];
    return NULL;
}

int vmu_numa_fit_policy_parse(const char *name, vmu_numa_fit_policy *policy)
{
    for (unsigned i = 0; name && i < sizeof policy_names / sizeof policy_names[0]; i++)
        if (strcmp(name, policy_names[i]) == 0) {
            *policy = (vmu_numa_fit_policy)i;
            return 0;
        }
    return -1;
}

/* ---- what each node offers ---- */

typedef struct offer {
    const vmu_topology_node *node;
    size_t host_index;   /* in host->nodes */
    uint32_t processors; /* capacity, before capping at the request */
    uint64_t units;      /* memory capacity in units */
    const char *unusable; /* why the node takes nothing, or NULL */
} offer;

typedef struct request {
    uint32_t processors;
    uint64_t units;   /* memory in units */
    uint64_t unit_mb; /* 2 MiB, or the huge page size */
    const vmu_numa_fit_options *opts;
    double cpu_ratio, ram_ratio;
} request;

static uint64_t hugepages_free(const vmu_topology_node *node, uint64_t size_kib)
{
    for (size_t i = 0; node->hugepages && i < node->hugepages_len; i++)
        if (node->hugepages[i].size_kib == size_kib)
            return node->hugepages[i].free;
    return 0;
}

static void make_offer(const request *rq, const vmu_topology_node *node, offer *o)
{
    const vmu_numa_fit_options *opts = rq->opts;
    o->node = node;
    o->unusable = NULL;
    o->processors = 0;
    o->units = 0;
    if (node->processors > opts->reserved_processors) {
        /* converting a positive double truncates: the floor */
        double cap = (double)(node->processors - opts->reserved_processors) * rq->cpu_ratio;
        o->processors = cap >= (double)UINT32_MAX ? UINT32_MAX : (uint32_t)cap;
    }
    if (opts->page_size_kib > 4) {
        uint64_t pages = hugepages_free(node, opts->page_size_kib);
        uint64_t page_mb = opts->page_size_kib / 1024;
        o->units = pages > UINT64_MAX / page_mb ? UINT64_MAX / rq->unit_mb
                                                : pages * page_mb / rq->unit_mb;
    } else {
        /* total * ratio - used - reserved, where used = total - free */
        double used = node->memory_mb > node->free_mb ? (double)(node->memory_mb - node->free_mb) : 0;
        double mb = (double)node->memory_mb * rq->ram_ratio - used -
                    (double)opts->reserved_memory_mb;
        if (mb > 0)
            o->units = mb >= 1.8e19 ? UINT64_MAX / rq->unit_mb : (uint64_t)mb / rq->unit_mb;
    }
    /* sums over 64 nodes stay within the dynamic program's int64_t */
    if (o->units > (uint64_t)INT64_MAX / MAX_NODES)
        o->units = (uint64_t)INT64_MAX / MAX_NODES;
    if (!node->allowed)
        o->unusable = "outside the cpuset's memory nodes";
    else if (node->id >= MAX_NODES)
        o->unusable = "an id HCS cannot map (64 and up)";
    else if (o->units == 0)
        o->unusable = opts->page_size_kib > 4 ? "no free huge page of that size"
                                              : "no free memory";
}

/* Symmetric, with the diagonal as the node's own distance. */
static uint32_t distance(const vmu_topology *host, size_t a, size_t b)
{
    const uint32_t *da = host->nodes[a].distances, *db = host->nodes[b].distances;
    uint32_t x = da ? da[b] : (a == b ? DISTANCE_LOCAL : DISTANCE_REMOTE);
    uint32_t y = db ? db[a] : (a == b ? DISTANCE_LOCAL : DISTANCE_REMOTE);
    return x > y ? x : y;
}

/* ---- the dynamic program inside one group of nodes ---- */

typedef struct cell {
    int64_t units; /* memory of the set, -1: no set */
    uint64_t mask; /* the set, as bits of usable-node indexes */
} cell;

typedef struct search {
    const request *rq;
    const offer *usable; /* nodes that can take something, by id */
    size_t usable_len;
    uint32_t dist[MAX_NODES][MAX_NODES];
    cell *table; /* (max_k + 1) x (processors + 1) */
    size_t max_k;
    /* the best set so far */
    size_t best_k;
    uint32_t best_distance;
    int64_t best_units;
    uint64_t best_mask;
    size_t cliques;
} search;

static bool better(int64_t units, uint64_t mask, int64_t best_units, uint64_t best_mask)
{
    /* more memory; then the lowest ids: the lower set bit decides */
    if (units != best_units)
        return units > best_units;
    uint64_t diff = mask ^ best_mask;
    return diff && (mask & diff & (~diff + 1));
}

/* The best set of exactly k nodes of `group` (k <= s->max_k) that reaches the
 * request, in s->table[k][processors]. Returns the smallest k that does, or
 * 0 when none up to `k_limit`. */
static size_t knapsack(search *s, uint64_t group, size_t k_limit)
{
    const uint32_t want = s->rq->processors;
    const size_t width = (size_t)want + 1;
    for (size_t j = 0; j <= k_limit; j++)
        for (size_t c = 0; c < width; c++)
            s->table[j * width + c].units = -1;
    s->table[0].units = 0;
    s->table[0].mask = 0;
    size_t seen = 0;
    for (uint64_t rest = group; rest; rest &= rest - 1) {
        size_t i = (size_t)__builtin_ctzll(rest);
        const offer *o = &s->usable[i];
        uint32_t give = o->processors < want ? o->processors : want;
        int64_t units = (int64_t)o->units;
        seen++;
        size_t top = seen < k_limit ? seen : k_limit;
        for (size_t j = top; j-- > 0;) {
            cell *from = &s->table[j * width], *to = &s->table[(j + 1) * width];
            for (size_t c = width; c-- > 0;) {
                if (from[c].units < 0)
                    continue;
                size_t nc = c + give < want ? c + give : want;
                int64_t u = from[c].units + units;
                uint64_t m = from[c].mask | (uint64_t)1 << i;
                if (better(u, m, to[nc].units, to[nc].mask)) {
                    to[nc].units = u;
                    to[nc].mask = m;
                }
            }
        }
    }
    for (size_t j = 1; j <= k_limit; j++)
        if (s->table[j * width + want].units >= (int64_t)s->rq->units)
            return j;
    return 0;
}

/* Offers a group's best set of best_k nodes within distance `d`. */
static void consider(search *s, uint64_t group, uint32_t d)
{
    size_t members = (size_t)__builtin_popcountll(group);
    if (members < s->best_k)
        return;
    uint64_t cpus = 0, units = 0;
    for (uint64_t rest = group; rest; rest &= rest - 1) {
        const offer *o = &s->usable[__builtin_ctzll(rest)];
        cpus += o->processors;
        units += o->units;
    }
    if (cpus < s->rq->processors || units < s->rq->units)
        return;
    cell found = {(int64_t)units, group}; /* a group of best_k nodes is the set */
    if (members > s->best_k) {
        if (knapsack(s, group, s->best_k) != s->best_k)
            return;
        found = s->table[s->best_k * ((size_t)s->rq->processors + 1) + s->rq->processors];
    }
    if (s->best_units < 0 || better(found.units, found.mask, s->best_units, s->best_mask)) {
        s->best_units = found.units;
        s->best_mask = found.mask;
        s->best_distance = d;
    }
}

/* Bron-Kerbosch with a pivot over the graph "distance <= d", as bitmasks. */
static void cliques(search *s, const uint64_t *adj, uint64_t r, uint64_t p, uint64_t x,
                    uint32_t d)
{
    if (s->cliques >= MAX_CLIQUES) {
        return;
    }
    if (!p && !x) {
        s->cliques++;
        consider(s, r, d);
        return;
    }
    uint64_t px = p | x;
    int pivot = __builtin_ctzll(px);
    uint64_t candidates = p & ~adj[pivot];
    while (candidates) {
        int v = __builtin_ctzll(candidates);
        uint64_t bit = (uint64_t)1 << v;
        candidates &= ~bit;
        cliques(s, adj, r | bit, p & adj[v], x & adj[v], d);
        p &= ~bit;
        x |= bit;
    }
}

/* The fewest nodes whose largest capacities reach `want`, or 0. */
static size_t fewest(uint64_t *caps, size_t n, uint64_t want)
{
    for (size_t i = 1; i < n; i++) { /* insertion sort, descending: n <= 64 */
        uint64_t v = caps[i];
        size_t j = i;
        for (; j > 0 && caps[j - 1] < v; j--)
            caps[j] = caps[j - 1];
        caps[j] = v;
    }
    uint64_t sum = 0;
    for (size_t i = 0; i < n; i++) {
        sum += caps[i];
        if (sum >= want)
            return i + 1;
    }
    return 0;
}

/* Adds d to the ascending set values[0..*n). */
static void add_value(uint32_t *values, size_t *n, uint32_t d)
{
    size_t i = *n;
    for (; i > 0 && values[i - 1] >= d; i--)
        if (values[i - 1] == d)
            return;
    memmove(values + i + 1, values + i, (*n - i) * sizeof *values);
    values[i] = d;
    (*n)++;
}

/* The best set among those of exactly s->best_k nodes: the thresholds in
 * ascending order, each with its maximal cliques. 0 when one fits. */
static int search_thresholds(search *s, const uint32_t *values, size_t nvalues)
{
    for (size_t v = 0; v < nvalues; v++) {
        uint32_t d = values[v];
        uint64_t adj[MAX_NODES], present = 0;
        for (size_t a = 0; a < s->usable_len; a++) {
            adj[a] = 0;
            if (s->dist[a][a] <= d)
                present |= (uint64_t)1 << a;
            for (size_t b = 0; b < s->usable_len; b++)
                if (b != a && s->dist[a][b] <= d)
                    adj[a] |= (uint64_t)1 << b;
        }
        for (size_t a = 0; a < s->usable_len; a++)
            adj[a] &= present;
        s->cliques = 0;
        cliques(s, adj, 0, present, 0, d);
        if (s->best_units >= 0)
            return 0;
    }
    return -1;
}

/* The best set of at most k_limit nodes: 0 and s->best_*, or -1. Node
 * counts are tried from what the largest processor and memory capacities
 * alone need upwards; the first that fits in some clique is the fewest, as
 * at the largest distance all usable nodes form one clique. */
static int find_best(search *s, size_t k_limit)
{
    uint64_t cpus[MAX_NODES], units[MAX_NODES];
    for (size_t i = 0; i < s->usable_len; i++) {
        cpus[i] = s->usable[i].processors;
        units[i] = s->usable[i].units;
    }
    size_t kc = fewest(cpus, s->usable_len, s->rq->processors);
    size_t km = fewest(units, s->usable_len, s->rq->units);
    if (!kc || !km)
        return -1;
    /* The distinct distances, ascending: the first threshold with a
     * fitting set gives the smallest worst-case distance. */
    uint32_t values[MAX_NODES * MAX_NODES];
    size_t nvalues = 0;
    for (size_t a = 0; a < s->usable_len; a++)
        for (size_t b = a; b < s->usable_len; b++)
            add_value(values, &nvalues, s->dist[a][b]);
    for (size_t k = kc > km ? kc : km; k <= k_limit; k++) {
        s->best_k = k;
        s->best_units = -1;
        if (search_thresholds(s, values, nvalues) == 0)
            return 0;
    }
    return -1;
}

/* ---- splitting the request over the chosen nodes ---- */

/* Gives `total` over n nodes with capacities cap[], at least `floor_each`
 * to each: evenly (smallest capacity first, each taking at most an equal
 * share of what is left) or filling in order. */
static void split(uint64_t total, const uint64_t *cap, size_t n, bool fill, uint64_t floor_each,
                  uint64_t *out)
{
    if (fill) {
        uint64_t left = total - floor_each * n;
        for (size_t i = 0; i < n; i++) {
            uint64_t room = cap[i] - floor_each;
            uint64_t take = room < left ? room : left;
            out[i] = floor_each + take;
            left -= take;
        }
        return;
    }
    size_t order[MAX_NODES];
    for (size_t i = 0; i < n; i++)
        order[i] = i;
    /* insertion sort by capacity, then position: n <= 64 */
    for (size_t i = 1; i < n; i++) {
        size_t v = order[i], j = i;
        while (j > 0 && cap[order[j - 1]] > cap[v]) {
            order[j] = order[j - 1];
            j--;
        }
        order[j] = v;
    }
    uint64_t left = total;
    for (size_t k = 0; k < n; k++) {
        size_t i = order[k];
        uint64_t share = left / (n - k);
        /* the remainder goes to the last nodes, which have the most room */
        uint64_t take = cap[i] < share ? cap[i] : share;
        out[i] = take;
        left -= take;
    }
    /* Rounding leaves at most n - 1 behind; the roomiest nodes take it. */
    for (size_t k = n; left && k-- > 0;) {
        size_t i = order[k];
        uint64_t room = cap[i] - out[i];
        uint64_t take = room < left ? room : left;
        out[i] += take;
        left -= take;
    }
}

static void place(const search *s, uint64_t mask, uint32_t worst, vmu_numa_placement *out)
{
    const request *rq = s->rq;
    uint64_t cpu_cap[MAX_NODES], mem_cap[MAX_NODES], cpus[MAX_NODES], units[MAX_NODES];
    size_t n = 0;
    uint64_t offered = 0;
    for (size_t i = 0; i < s->usable_len; i++)
        if (mask >> i & 1) {
            out->physical_nodes[n] = s->usable[i].node->id;
            cpu_cap[n] = s->usable[i].processors;
            mem_cap[n] = s->usable[i].units;
            offered += s->usable[i].units;
            n++;
        }
    split(rq->processors, cpu_cap, n, rq->opts->fill, 0, cpus);
    split(rq->units, mem_cap, n, rq->opts->fill, 1, units);
    out->nodes_len = n;
    for (size_t i = 0; i < n; i++) {
        out->processors[i] = (uint32_t)cpus[i];
        out->memory_mb[i] = units[i] * rq->unit_mb;
    }
    out->worst_distance = worst;
    out->free_mb_left = (offered - rq->units) * rq->unit_mb;
}

/* ---- why nothing fits ---- */

static void describe_node(vmu_buf *b, const request *rq, const offer *o, uint64_t share_cpus,
                          uint64_t share_units)
{
    if (o->unusable) {
        vmu_buf_puts(b, o->unusable);
        return;
    }
    bool cpus_short = o->processors < share_cpus, mem_short = o->units < share_units;
    if (cpus_short)
        vmu_buf_printf(b, "%" PRIu32 " processors for a share of %" PRIu64, o->processors,
                       share_cpus);
    if (mem_short)
        vmu_buf_printf(b, "%s%" PRIu64 " MiB for a share of %" PRIu64 " MiB",
                       cpus_short ? ", " : "", o->units * rq->unit_mb, share_units * rq->unit_mb);
    if (!cpus_short && !mem_short)
        vmu_buf_puts(b, "could take its share");
}

/* "node 0: ...; nodes 1-7 (4): ..." with runs of nodes (ids from-to, and
 * how many) that have the same text written once. Cut to the size of an error message. */
static void explain(vmu_err *err, const request *rq, const offer *offers, size_t n, size_t k,
                    size_t usable)
{
    vmu_buf b, line;
    vmu_buf_init(&b);
    vmu_buf_init(&line);
    const char *policy = vmu_numa_fit_policy_name(rq->opts->policy);
    vmu_buf_printf(&b, "no NUMA placement of %" PRIu32 " processors and %" PRIu64
                       " MiB on %s%zu node%s (policy %s)",
                   rq->processors, rq->units * rq->unit_mb, k == 1 ? "" : "at most ", k,
                   k == 1 ? "" : "s", policy ? policy : "?");
    if (usable < k)
        vmu_buf_printf(&b, ", %zu usable node%s", usable, usable == 1 ? "" : "s");
    uint64_t share_cpus = (rq->processors + k - 1) / k, share_units = (rq->units + k - 1) / k;
    for (size_t i = 0; i < n;) {
        vmu_buf_reset(&line);
        describe_node(&line, rq, &offers[i], share_cpus, share_units);
        size_t j = i + 1;
        for (; j < n; j++) {
            vmu_buf next;
            vmu_buf_init(&next);
            describe_node(&next, rq, &offers[j], share_cpus, share_units);
            bool same = !next.failed && !line.failed && next.len == line.len &&
                        memcmp(next.data, line.data, line.len) == 0;
            vmu_buf_free(&next);
            if (!same)
                break;
        }
        if (j - i == 1)
            vmu_buf_printf(&b, "; node %" PRIu32 ": ", offers[i].node->id);
        else
            vmu_buf_printf(&b, "; nodes %" PRIu32 "-%" PRIu32 " (%zu): ", offers[i].node->id,
                           offers[j - 1].node->id, j - i);
        if (!line.failed)
            vmu_buf_append(&b, line.data, line.len);
        i = j;
    }
    if (b.failed)
        vmu_err_set(err, "no NUMA placement fits (out of memory describing why)");
    else if (err) {
        size_t max = sizeof err->msg - 1;
        if (b.len > max)
            memcpy(b.data + max - 3, "...", 3);
        vmu_err_set(err, "%.*s", (int)(b.len > max ? max : b.len), b.data);
    }
    vmu_buf_free(&line);
    vmu_buf_free(&b);
}

/* ---- the entry point ---- */

static int check_arguments(const vmu_topology *host, uint32_t processors, uint64_t memory_mb,
                           const vmu_numa_fit_options *opts, request *rq, vmu_err *err)
{
    if (!host || (host->nodes_len && !host->nodes))
        return vmu_err_set(err, "vmu_numa_fit: host must not be NULL");
    for (size_t i = 1; i < host->nodes_len; i++)
        if (host->nodes[i].id <= host->nodes[i - 1].id)
            return vmu_err_set(err, "host nodes must have distinct ids in ascending order");
    if (processors == 0 || processors > VMU_NUMA_FIT_MAX_PROCESSORS)
        return vmu_err_set(err, "processors must be in [1, %u], got %" PRIu32,
                           VMU_NUMA_FIT_MAX_PROCESSORS, processors);
    if (!vmu_numa_fit_policy_name(opts->policy))
        return vmu_err_set(err, "unknown NUMA fit policy %d", (int)opts->policy);
    double ratios[2] = {opts->cpu_allocation_ratio, opts->ram_allocation_ratio};
    for (int i = 0; i < 2; i++)
        if (!isfinite(ratios[i]) || ratios[i] < 0)
            return vmu_err_set(err, "%s_allocation_ratio must be a finite number > 0",
                               i ? "ram" : "cpu");
    rq->cpu_ratio = ratios[0] > 0 ? ratios[0] : 1.0;
    rq->ram_ratio = ratios[1] > 0 ? ratios[1] : 1.0;
    rq->unit_mb = VMU_NUMA_FIT_MEMORY_ALIGN_MB;
    if (opts->page_size_kib > 4) {
        if (opts->page_size_kib % (VMU_NUMA_FIT_MEMORY_ALIGN_MB * 1024) != 0)
            return vmu_err_set(err, "page size %" PRIu64 " KiB is not a huge page size",
                               opts->page_size_kib);
        rq->unit_mb = opts->page_size_kib / 1024;
    } else if (opts->page_size_kib != 0 && opts->page_size_kib != 4) {
        return vmu_err_set(err, "page size %" PRIu64 " KiB is not a page size",
                           opts->page_size_kib);
    }
    if (memory_mb == 0 || memory_mb % rq->unit_mb != 0)
        return vmu_err_set(err, "memory_mb %" PRIu64 " is not a positive multiple of %" PRIu64
                                " MiB",
                           memory_mb, rq->unit_mb);
    rq->processors = processors;
    rq->units = memory_mb / rq->unit_mb;
    rq->opts = opts;
    return 0;
}

static void warn(vmu_logger *logger, const char *msg, const vmu_field *fields, size_t count)
{
    vmu_log(logger, VMU_LEVEL_WARN, msg, strlen(msg), fields, count);
}

int vmu_numa_fit(vmu_logger *logger, const vmu_topology *host, uint32_t processors,
                 uint64_t memory_mb, const vmu_numa_fit_options *opts, vmu_numa_placement *out,
                 vmu_err *err)
{
    static const vmu_numa_fit_options defaults = {0};
    if (!out)
        return vmu_err_set(err, "vmu_numa_fit: out must not be NULL");
    memset(out, 0, sizeof *out);
    if (!opts)
        opts = &defaults;
    request rq;
    if (check_arguments(host, processors, memory_mb, opts, &rq, err) != 0)
        return -1;

    size_t n = host->nodes_len;
    offer *offers = vmu_calloc(n ? n : 1, sizeof *offers);
    search *s = vmu_malloc(sizeof *s); /* every field is set below */
    if (!offers || !s) {
        vmu_free(offers);
        vmu_free(s);
        return vmu_err_set(err, "vmu_numa_fit: out of memory");
    }
    offer usable[MAX_NODES];
    size_t usable_len = 0;
    for (size_t i = 0; i < n; i++) {
        make_offer(&rq, &host->nodes[i], &offers[i]);
        offers[i].host_index = i;
        if (!offers[i].unusable)
            usable[usable_len++] = offers[i];
    }
    s->rq = &rq;
    s->usable = usable;
    s->usable_len = usable_len;
    for (size_t a = 0; a < usable_len; a++)
        for (size_t b = 0; b < usable_len; b++)
            s->dist[a][b] = distance(host, usable[a].host_index, usable[b].host_index);

    size_t limit = usable_len;
    if (opts->policy == VMU_NUMA_FIT_SINGLE_NUMA_NODE)
        limit = 1;
    else if (opts->max_nodes && opts->max_nodes < limit)
        limit = opts->max_nodes;
    /* every node takes at least one unit */
    size_t table_k = usable_len < rq.units ? usable_len : (size_t)rq.units;
    if (limit > table_k)
        limit = table_k;
    s->max_k = table_k;
    int rc = 0;
    s->table = vmu_malloc((table_k + 1) * ((size_t)rq.processors + 1) * sizeof *s->table);
    if (!s->table) {
        rc = vmu_err_set(err, "vmu_numa_fit: out of memory");
        goto out;
    }
    if (limit && find_best(s, limit) == 0) {
        place(s, s->best_mask, s->best_distance, out);
        goto out;
    }
    if (opts->policy != VMU_NUMA_FIT_BEST_EFFORT) {
        size_t k = n ? n : 1;
        if (opts->policy == VMU_NUMA_FIT_SINGLE_NUMA_NODE)
            k = 1;
        else if (opts->max_nodes && opts->max_nodes < k)
            k = opts->max_nodes;
        explain(err, &rq, offers, n, k, usable_len);
        rc = -1;
        goto out;
    }
    out->fallback = true;
    if (table_k > limit && find_best(s, table_k) == 0) {
        place(s, s->best_mask, s->best_distance, out);
        vmu_field fields[] = {
            vmu_field_uint("max-nodes", limit),
            vmu_field_uint("nodes", out->nodes_len),
        };
        warn(logger, "best-effort NUMA placement uses more nodes than the limit", fields, 2);
        goto out;
    }
    vmu_field fields[] = {
        vmu_field_uint("processors", processors),
        vmu_field_uint("memory-mb", memory_mb),
    };
    warn(logger, "best-effort NUMA placement found no fit; the VM gets no vNUMA topology",
         fields, 2);
out:
    vmu_free(s->table);
    vmu_free(s);
    vmu_free(offers);
    return rc;
}

void vmu_numa_fit_config(const vmu_numa_placement *fit, vmu_numa_config *config)
{
    memset(config, 0, sizeof *config);
    if (!fit)
        return;
    config->numa_mapped_physical_nodes = fit->physical_nodes;
    config->numa_mapped_physical_nodes_len = fit->nodes_len;
    config->numa_processor_counts = fit->processors;
    config->numa_processor_counts_len = fit->nodes_len;
    config->numa_memory_blocks_counts = fit->memory_mb;
    config->numa_memory_blocks_counts_len = fit->nodes_len;
}
