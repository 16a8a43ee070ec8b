/* NUMA placements per second: vmu_numa_fit on a 64-node host (8 sockets of
 * 8 nodes, distances 10 / 12 / 32) for VMs that take 1, 3 and 13 nodes, and
 * on an 8-node host beside an exhaustive search of every node set (what a
 * search without the clique and knapsack structure has to do).
 *
 *   numa_fit_bench [SECONDS]
 *
 * Prints one line per case: "case NAME fits N seconds S per_second R". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vmutils.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

#define MAX_NODES 64

typedef struct host {
    vmu_topology topology;
    vmu_topology_node nodes[MAX_NODES];
    uint32_t distances[MAX_NODES][MAX_NODES];
} host;

/* `sockets` x `per_socket` nodes of 16 processors and 64 GiB, some of it in
 * use (a fixed pattern, so that the choice has something to decide). */
static void make_host(host *h, size_t sockets, size_t per_socket)
{
    size_t n = sockets * per_socket;
    memset(h, 0, sizeof *h);
    for (size_t i = 0; i < n; i++) {
        vmu_topology_node *node = &h->nodes[i];
        node->id = (uint32_t)i;
        node->processors = 16;
        node->memory_mb = 65536;
        node->free_mb = 65536 - 1024 * ((i * 7) % 13);
        node->allowed = true;
        node->distances = h->distances[i];
        for (size_t j = 0; j < n; j++)
            h->distances[i][j] = i == j ? 10 : i / per_socket == j / per_socket ? 12 : 32;
    }
    h->topology.nodes = h->nodes;
    h->topology.nodes_len = n;
}

/* The exhaustive search: every set of nodes, ordered by (count, largest
 * distance, -free memory). Returns the set as a bit mask, 0 for none. */
static uint64_t exhaustive(const host *h, uint32_t cpus, uint64_t mb)
{
    size_t n = h->topology.nodes_len;
    uint64_t best = 0;
    size_t best_count = 0;
    uint32_t best_worst = 0;
    uint64_t best_mb = 0;
    for (uint64_t set = 1; set < ((uint64_t)1 << n); set++) {
        uint64_t c = 0, m = 0;
        uint32_t worst = 0;
        size_t count = 0;
        for (size_t a = 0; a < n; a++) {
            if (!(set >> a & 1))
                continue;
            count++;
            c += h->nodes[a].processors;
            m += h->nodes[a].free_mb / 2 * 2;
            for (size_t b = a; b < n; b++)
                if ((set >> b & 1) && h->distances[a][b] > worst)
                    worst = h->distances[a][b];
        }
        if (c < cpus || m < mb)
            continue;
        if (!best || count < best_count || (count == best_count && worst < best_worst) ||
            (count == best_count && worst == best_worst && m > best_mb)) {
            best = set;
            best_count = count;
            best_worst = worst;
            best_mb = m;
        }
    }
    return best;
}

typedef struct bench_case {
    const char *name;
    size_t sockets, per_socket;
    uint32_t cpus;
    uint64_t mb;
    int exhaustive;
} bench_case;

static void run(const bench_case *c, double seconds)
{
    static host h;
    make_host(&h, c->sockets, c->per_socket);
    vmu_numa_placement fit;
    vmu_err err;
    if (!c->exhaustive && vmu_numa_fit(NULL, &h.topology, c->cpus, c->mb, NULL, &fit, &err) != 0) {
        fprintf(stderr, "numa_fit_bench: %s: %s\n", c->name, err.msg);
        exit(1);
    }
    long fits = 0;
    volatile uint64_t sink = 0;
    double start = now(), elapsed;
    do {
        for (int i = 0; i < 64; i++) {
            if (c->exhaustive) {
                sink += exhaustive(&h, c->cpus, c->mb);
            } else {
                vmu_numa_fit(NULL, &h.topology, c->cpus, c->mb, NULL, &fit, &err);
                sink += fit.nodes_len;
            }
        }
        fits += 64;
        elapsed = now() - start;
    } while (elapsed < seconds);
    printf("case %s fits %ld seconds %.2f per_second %.0f\n", c->name, fits, elapsed,
           (double)fits / elapsed);
}

int main(int argc, char **argv)
{
    double seconds = argc > 1 ? atof(argv[1]) : 2.0;
    if (!(seconds > 0))
        seconds = 2.0;
    static const bench_case cases[] = {
        {"64-nodes-1-node-vm", 8, 8, 16, 32768, 0},
        {"64-nodes-3-node-vm", 8, 8, 48, 98304, 0},
        {"64-nodes-13-node-vm", 8, 8, 200, 409600, 0},
        {"8-nodes-3-node-vm", 2, 4, 48, 98304, 0},
        {"8-nodes-3-node-vm-exhaustive", 2, 4, 48, 98304, 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        run(&cases[i], seconds);
    return 0;
}
