/* Host topology discovery over the hwloc fixtures of tests/topology (and
 * this machine), and the NUMA placement: its choice on those hosts, the
 * reasons it gives, the best-effort warnings, and property tests on random
 * hosts of up to 8 nodes against an exhaustive search written here. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../core/test_hooks.h"
#include "log_capture.h"
#include "vmutils.h"

#define FIXTURES "tests/topology/"

static vmu_topology *load_xml(const char *name, const char *sysfs)
{
    vmu_topology_options opts = {.xml = name, .sysfs_root = sysfs};
    vmu_topology *t = NULL;
    vmu_err err;
    if (vmu_topology_discover(&opts, &t, &err) != 0)
        fail_msg("%s: %s", name, err.msg);
    return t;
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    static char text[4096];
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    char *nl = strchr(text, '\n');
    if (nl)
        *nl = '\0';
    return text;
}

static vmu_topology *load_synthetic(const char *file)
{
    vmu_topology_options opts = {.synthetic = slurp(file)};
    vmu_topology *t = NULL;
    vmu_err err;
    if (vmu_topology_discover(&opts, &t, &err) != 0)
        fail_msg("%s: %s", file, err.msg);
    return t;
}

/* ---- discovery ---- */

static void test_laptop(void **state)
{
    (void)state;
    vmu_topology *t = load_synthetic(FIXTURES "laptop.synthetic");
    assert_int_equal(t->nodes_len, 1);
    assert_int_equal(t->logical_processor_count, 8);
    assert_int_equal(t->cores, 4);
    assert_int_equal(t->packages, 1);
    const vmu_topology_node *n = &t->nodes[0];
    assert_int_equal(n->id, 0);
    assert_int_equal(n->processors, 8);
    for (uint32_t i = 0; i < 8; i++)
        assert_int_equal(n->cpus[i], i);
    assert_int_equal(n->memory_mb, 16384);
    assert_int_equal(n->free_mb, 16384); /* no sysfs for a synthetic host */
    assert_int_equal(n->distances[0], 10);
    assert_false(n->cpu_less);
    assert_false(n->memory_less);
    assert_true(n->allowed);
    vmu_topology_free(t);
}

static void test_two_socket_smt(void **state)
{
    (void)state;
    vmu_topology *t = load_xml(FIXTURES "two-socket-smt.xml", NULL);
    assert_int_equal(t->nodes_len, 2);
    assert_int_equal(t->logical_processor_count, 32);
    assert_int_equal(t->cores, 16);
    assert_int_equal(t->packages, 2);
    for (size_t i = 0; i < 2; i++) {
        const vmu_topology_node *n = &t->nodes[i];
        assert_int_equal(n->id, i);
        assert_int_equal(n->processors, 16);
        assert_int_equal(n->cores, 8);
        assert_int_equal(n->package, (int32_t)i);
        assert_int_equal(n->cpus[0], 16 * i);
        assert_int_equal(n->memory_mb, 65536);
        assert_int_equal(n->distances[i], 10);
        assert_int_equal(n->distances[1 - i], 21);
    }
    assert_int_equal(t->nodes[0].hugepages_len, 2);
    assert_int_equal(t->nodes[0].hugepages[0].size_kib, 2048);
    assert_int_equal(t->nodes[0].hugepages[0].total, 1024);
    assert_int_equal(t->nodes[0].hugepages[1].size_kib, 1048576);
    assert_int_equal(t->nodes[0].hugepages[1].total, 4);
    assert_int_equal(t->nodes[1].hugepages_len, 1);
    vmu_topology_free(t);
}

static void test_free_memory_from_sysfs(void **state)
{
    (void)state;
    vmu_topology *t = load_xml(FIXTURES "two-socket-smt.xml", FIXTURES "sysfs");
    assert_int_equal(t->nodes[0].free_mb, 40960);
    assert_int_equal(t->nodes[1].free_mb, 8192);
    assert_int_equal(t->nodes[0].hugepages[0].free, 1000);
    assert_int_equal(t->nodes[0].hugepages[1].free, 3);
    assert_int_equal(t->nodes[1].hugepages[0].free, 100);
    vmu_topology_free(t);
}

static void test_eight_nodes(void **state)
{
    (void)state;
    vmu_topology *t = load_xml(FIXTURES "eight-node.xml", NULL);
    assert_int_equal(t->nodes_len, 8);
    for (size_t a = 0; a < 8; a++) {
        assert_int_equal(t->nodes[a].processors, 8);
        assert_int_equal(t->nodes[a].package, (int32_t)(a / 4));
        for (size_t b = 0; b < 8; b++)
            assert_int_equal(t->nodes[a].distances[b], a == b ? 10 : a / 4 == b / 4 ? 12 : 32);
    }
    vmu_topology_free(t);
}

static void test_cpu_less_node(void **state)
{
    (void)state;
    vmu_topology *t = load_xml(FIXTURES "cxl.xml", NULL);
    assert_int_equal(t->nodes_len, 3);
    assert_false(t->nodes[0].cpu_less);
    assert_false(t->nodes[1].cpu_less);
    assert_true(t->nodes[2].cpu_less);
    assert_int_equal(t->nodes[2].processors, 0);
    assert_null(t->nodes[2].cpus);
    assert_int_equal(t->nodes[2].memory_mb, 131072);
    assert_int_equal(t->nodes[0].processors + t->nodes[1].processors, 8);
    assert_int_equal(t->nodes[2].distances[0], 40);
    vmu_topology_free(t);
}

static void test_memory_less_node(void **state)
{
    (void)state;
    vmu_topology *t = load_xml(FIXTURES "memoryless.xml", NULL);
    assert_int_equal(t->nodes_len, 2);
    assert_false(t->nodes[0].memory_less);
    assert_true(t->nodes[1].memory_less);
    assert_int_equal(t->nodes[1].memory_mb, 0);
    assert_int_equal(t->nodes[1].processors, 2);
    vmu_topology_free(t);
}

static void test_sparse_ids(void **state)
{
    (void)state;
    vmu_topology *t = load_synthetic(FIXTURES "sparse.synthetic");
    assert_int_equal(t->nodes_len, 4);
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(t->nodes[i].id, 2 * i);
    assert_non_null(vmu_topology_find(t, 4));
    assert_null(vmu_topology_find(t, 3));
    vmu_topology_free(t);
}

static void test_offline_processors(void **state)
{
    (void)state;
    vmu_topology *t = load_xml(FIXTURES "offline.xml", NULL);
    assert_int_equal(t->logical_processor_count, 8);
    assert_int_equal(t->existing_processors, 8);
    assert_int_equal(t->offline_processors, 2);
    vmu_topology_free(t);
}

static void test_cgroup_cpuset(void **state)
{
    (void)state;
    vmu_topology *t = load_xml(FIXTURES "cgroup.xml", NULL);
    assert_int_equal(t->logical_processor_count, 6);
    assert_int_equal(t->existing_processors, 16);
    assert_int_equal(t->nodes[0].processors, 4);
    assert_int_equal(t->nodes[0].existing_processors, 8);
    assert_int_equal(t->nodes[0].cores, 2);
    assert_int_equal(t->nodes[1].processors, 2);
    assert_int_equal(t->nodes[1].cpus[0], 8);
    assert_int_equal(t->nodes[1].cpus[1], 9);
    assert_true(t->nodes[0].allowed);
    assert_false(t->nodes[1].allowed);
    vmu_topology_free(t);
}

static void test_this_machine(void **state)
{
    (void)state;
    vmu_topology *t = NULL;
    vmu_err err;
    assert_int_equal(vmu_topology_discover(NULL, &t, &err), 0);
    assert_true(t->nodes_len >= 1);
    assert_true(t->logical_processor_count >= 1);
    uint32_t sum = 0;
    for (size_t i = 0; i < t->nodes_len; i++) {
        sum += t->nodes[i].processors;
        assert_true(t->nodes[i].free_mb <= t->nodes[i].memory_mb);
    }
    assert_int_equal(sum, t->logical_processor_count);
    vmu_topology_free(t);
}

static void test_discovery_errors(void **state)
{
    (void)state;
    vmu_topology *t = (vmu_topology *)1;
    vmu_err err;
    vmu_topology_options missing = {.xml = FIXTURES "no-such-file.xml"};
    assert_int_equal(vmu_topology_discover(&missing, &t, &err), -1);
    assert_null(t);
    assert_non_null(strstr(err.msg, "no-such-file.xml"));
    vmu_topology_options bad = {.synthetic = "pack:two"};
    assert_int_equal(vmu_topology_discover(&bad, &t, &err), -1);
    assert_string_equal(err.msg, "host topology: invalid synthetic description 'pack:two'");
    vmu_topology_options text = {.xml = "<topology>"};
    assert_int_equal(vmu_topology_discover(&text, &t, &err), -1);
    vmu_topology_options both = {.xml = "x", .synthetic = "pu:1"};
    assert_int_equal(vmu_topology_discover(&both, &t, &err), -1);
    assert_int_equal(vmu_topology_discover(NULL, NULL, &err), -1);
    vmu_topology_free(NULL);
}

static void test_discovery_out_of_memory(void **state)
{
    (void)state;
    vmu_topology_options opts = {.xml = FIXTURES "eight-node.xml"};
    long n = 0;
    for (;; n++) {
        vmu_topology *t = NULL;
        vmu_err err;
        vmu_alloc_fail_after(n);
        int rc = vmu_topology_discover(&opts, &t, &err);
        vmu_alloc_fail_after(-1);
        if (rc == 0) {
            assert_int_equal(t->nodes_len, 8);
            vmu_topology_free(t);
            break;
        }
        assert_null(t);
        assert_string_equal(err.msg, "host topology: out of memory");
        assert_true(n < 1000);
    }
    assert_true(n > 0);
}

/* ---- placement on the fixtures ---- */

static void check_valid(const vmu_numa_placement *fit, uint32_t processors, uint64_t memory_mb)
{
    vmu_numa_config config;
    vmu_numa_fit_config(fit, &config);
    vmu_numa *numa = NULL;
    vmu_numa_processors *procs = NULL;
    vmu_err err;
    vmu_logger *quiet = vmu_logger_new();
    vmu_logger_set_level(quiet, VMU_LEVEL_PANIC);
    int rc = vmu_prepare_vnuma_topology(quiet, &config, VMU_NUMA_MIN_OS_BUILD, &numa, &procs, &err);
    vmu_logger_free(quiet);
    if (rc != 0)
        fail_msg("prepare_vnuma_topology: %s", err.msg);
    assert_non_null(numa);
    assert_null(procs);
    if (vmu_validate_numa_for_vm(numa, processors, memory_mb, &err) != 0)
        fail_msg("validate_numa_for_vm: %s", err.msg);
    vmu_numa_free(numa);
}

static void test_fit_prefers_one_socket(void **state)
{
    (void)state;
    vmu_topology *t = load_xml(FIXTURES "eight-node.xml", NULL);
    t->nodes[0].free_mb = 4096;
    t->nodes[5].free_mb = 20000;
    vmu_numa_placement fit;
    vmu_err err;
    /* 16 processors need two nodes of 8: two of one socket (distance 12),
     * the pair with the most free memory, the lowest ids among equals */
    assert_int_equal(vmu_numa_fit(NULL, t, 16, 32768, NULL, &fit, &err), 0);
    assert_int_equal(fit.nodes_len, 2);
    assert_int_equal(fit.physical_nodes[0], 1);
    assert_int_equal(fit.physical_nodes[1], 2);
    assert_int_equal(fit.processors[0], 8);
    assert_int_equal(fit.processors[1], 8);
    assert_int_equal(fit.memory_mb[0], 16384);
    assert_int_equal(fit.worst_distance, 12);
    assert_int_equal(fit.free_mb_left, 2 * 32768 - 32768);
    check_valid(&fit, 16, 32768);
    /* 40 processors: five nodes, so across the sockets */
    assert_int_equal(vmu_numa_fit(NULL, t, 40, 65536, NULL, &fit, &err), 0);
    assert_int_equal(fit.nodes_len, 5);
    assert_int_equal(fit.worst_distance, 32);
    check_valid(&fit, 40, 65536);
    vmu_topology_free(t);
}

static void test_fit_single_numa_node_reason(void **state)
{
    (void)state;
    vmu_topology *t = load_xml(FIXTURES "eight-node.xml", NULL);
    t->nodes[0].free_mb = 4096;
    vmu_numa_fit_options opts = {.policy = VMU_NUMA_FIT_SINGLE_NUMA_NODE};
    vmu_numa_placement fit;
    vmu_err err;
    assert_int_equal(vmu_numa_fit(NULL, t, 12, 8192, &opts, &fit, &err), -1);
    assert_string_equal(err.msg, "no NUMA placement of 12 processors and 8192 MiB on 1 node "
                                 "(policy single-numa-node); node 0: 8 processors for a share "
                                 "of 12, 4096 MiB for a share of 8192 MiB; nodes 1-7 (7): 8 "
                                 "processors for a share of 12");
    assert_int_equal(vmu_numa_fit(NULL, t, 8, 8192, &opts, &fit, &err), 0);
    assert_int_equal(fit.nodes_len, 1);
    assert_int_equal(fit.physical_nodes[0], 1);
    vmu_topology_free(t);
}

static void test_fit_uses_cpu_less_memory(void **state)
{
    (void)state;
    vmu_topology *t = load_xml(FIXTURES "cxl.xml", NULL);
    vmu_numa_placement fit;
    vmu_err err;
    assert_int_equal(vmu_numa_fit(NULL, t, 4, 100000, NULL, &fit, &err), 0);
    assert_int_equal(fit.nodes_len, 2);
    assert_int_equal(fit.physical_nodes[0], 0);
    assert_int_equal(fit.physical_nodes[1], 2);
    assert_int_equal(fit.processors[0], 4);
    assert_int_equal(fit.processors[1], 0);
    assert_int_equal(fit.memory_mb[0] + fit.memory_mb[1], 100000);
    check_valid(&fit, 4, 100000);
    vmu_topology_free(t);
}

static void test_fit_skips_memoryless_and_disallowed(void **state)
{
    (void)state;
    vmu_numa_fit_options opts = {.policy = VMU_NUMA_FIT_SINGLE_NUMA_NODE};
    vmu_numa_placement fit;
    vmu_err err;
    vmu_topology *t = load_xml(FIXTURES "memoryless.xml", NULL);
    assert_int_equal(vmu_numa_fit(NULL, t, 2, 1024, &opts, &fit, &err), 0);
    assert_int_equal(fit.physical_nodes[0], 0);
    assert_int_equal(vmu_numa_fit(NULL, t, 3, 1024, &opts, &fit, &err), -1);
    assert_non_null(strstr(err.msg, "node 1: no free memory"));
    vmu_topology_free(t);

    t = load_xml(FIXTURES "cgroup.xml", NULL);
    assert_int_equal(vmu_numa_fit(NULL, t, 2, 1024, NULL, &fit, &err), 0);
    assert_int_equal(fit.physical_nodes[0], 0);
    assert_int_equal(vmu_numa_fit(NULL, t, 6, 1024, NULL, &fit, &err), -1);
    assert_non_null(strstr(err.msg, "node 1: outside the cpuset's memory nodes"));
    vmu_topology_free(t);
}

static void test_fit_huge_pages(void **state)
{
    (void)state;
    vmu_topology *t = load_xml(FIXTURES "two-socket-smt.xml", FIXTURES "sysfs");
    vmu_numa_fit_options opts = {.page_size_kib = 2048};
    vmu_numa_placement fit;
    vmu_err err;
    /* node 0 has 1000 free 2M pages, node 1 100 */
    assert_int_equal(vmu_numa_fit(NULL, t, 8, 2000, &opts, &fit, &err), 0);
    assert_int_equal(fit.nodes_len, 1);
    assert_int_equal(vmu_numa_fit(NULL, t, 8, 2048, &opts, &fit, &err), 0);
    assert_int_equal(fit.nodes_len, 2);
    assert_int_equal(fit.memory_mb[1], 200);
    assert_int_equal(fit.memory_mb[0], 1848);
    check_valid(&fit, 8, 2048);
    opts.page_size_kib = 1048576; /* three free 1G pages on node 0 */
    assert_int_equal(vmu_numa_fit(NULL, t, 8, 3072, &opts, &fit, &err), 0);
    assert_int_equal(fit.physical_nodes[0], 0);
    assert_int_equal(vmu_numa_fit(NULL, t, 8, 4096, &opts, &fit, &err), -1);
    assert_non_null(strstr(err.msg, "node 1: no free huge page of that size"));
    assert_int_equal(vmu_numa_fit(NULL, t, 8, 3000, &opts, &fit, &err), -1);
    assert_string_equal(err.msg, "memory_mb 3000 is not a positive multiple of 1024 MiB");
    opts.page_size_kib = 64;
    assert_int_equal(vmu_numa_fit(NULL, t, 8, 2048, &opts, &fit, &err), -1);
    vmu_topology_free(t);
}

static void test_fit_spread_and_fill(void **state)
{
    (void)state;
    vmu_topology *t = load_xml(FIXTURES "two-socket-smt.xml", NULL);
    vmu_numa_fit_options opts = {.max_nodes = 2,
                                 .reserved_processors = 2,
                                 .reserved_memory_mb = 1024};
    vmu_numa_placement fit;
    vmu_err err;
    /* each node offers 14 processors and 64512 MiB */
    assert_int_equal(vmu_numa_fit(NULL, t, 20, 80000, &opts, &fit, &err), 0);
    assert_int_equal(fit.processors[0], 10);
    assert_int_equal(fit.processors[1], 10);
    assert_int_equal(fit.memory_mb[0], 40000);
    opts.fill = true;
    assert_int_equal(vmu_numa_fit(NULL, t, 20, 80000, &opts, &fit, &err), 0);
    assert_int_equal(fit.processors[0], 14);
    assert_int_equal(fit.processors[1], 6);
    assert_int_equal(fit.memory_mb[0], 64512);
    assert_int_equal(fit.memory_mb[1], 80000 - 64512);
    check_valid(&fit, 20, 80000);
    /* ratios: 16 * 1.5 = 24 processors a node */
    opts = (vmu_numa_fit_options){.cpu_allocation_ratio = 1.5, .max_nodes = 1};
    assert_int_equal(vmu_numa_fit(NULL, t, 24, 1024, &opts, &fit, &err), 0);
    assert_int_equal(vmu_numa_fit(NULL, t, 25, 1024, &opts, &fit, &err), -1);
    opts.ram_allocation_ratio = 2.0;
    assert_int_equal(vmu_numa_fit(NULL, t, 24, 131072, &opts, &fit, &err), 0);
    assert_int_equal(vmu_numa_fit(NULL, t, 24, 131074, &opts, &fit, &err), -1);
    vmu_topology_free(t);
}

static void test_fit_best_effort_warns(void **state)
{
    (void)state;
    vmu_topology *t = load_xml(FIXTURES "eight-node.xml", NULL);
    log_capture cap;
    capture_start(&cap, VMU_LEVEL_DEBUG);
    vmu_numa_fit_options opts = {.policy = VMU_NUMA_FIT_BEST_EFFORT, .max_nodes = 2};
    vmu_numa_placement fit;
    vmu_err err;
    assert_int_equal(vmu_numa_fit(cap.logger, t, 24, 1024, &opts, &fit, &err), 0);
    assert_int_equal(fit.nodes_len, 3);
    assert_true(fit.fallback);
    assert_int_equal(cap.count, 1);
    assert_int_equal(cap.records[0].level, VMU_LEVEL_WARN);
    assert_string_equal(cap.records[0].msg,
                        "best-effort NUMA placement uses more nodes than the limit");
    assert_string_equal(capture_field(&cap.records[0], "max-nodes")->text, "2");
    assert_string_equal(capture_field(&cap.records[0], "nodes")->text, "3");
    check_valid(&fit, 24, 1024);
    capture_clear(&cap);
    /* more than the whole host: no vNUMA topology at all */
    assert_int_equal(vmu_numa_fit(cap.logger, t, 65, 1024, &opts, &fit, &err), 0);
    assert_int_equal(fit.nodes_len, 0);
    assert_true(fit.fallback);
    assert_int_equal(cap.count, 1);
    assert_string_equal(cap.records[0].msg,
                        "best-effort NUMA placement found no fit; the VM gets no vNUMA topology");
    capture_stop(&cap);
    vmu_topology_free(t);
}

static void test_fit_bad_arguments(void **state)
{
    (void)state;
    vmu_topology *t = load_xml(FIXTURES "two-socket-smt.xml", NULL);
    vmu_numa_placement fit;
    vmu_err err;
    assert_int_equal(vmu_numa_fit(NULL, t, 0, 1024, NULL, &fit, &err), -1);
    assert_string_equal(err.msg, "processors must be in [1, 2048], got 0");
    assert_int_equal(vmu_numa_fit(NULL, t, 2049, 1024, NULL, &fit, &err), -1);
    assert_int_equal(vmu_numa_fit(NULL, t, 2, 1023, NULL, &fit, &err), -1);
    assert_string_equal(err.msg, "memory_mb 1023 is not a positive multiple of 2 MiB");
    assert_int_equal(vmu_numa_fit(NULL, t, 2, 0, NULL, &fit, &err), -1);
    assert_int_equal(vmu_numa_fit(NULL, NULL, 2, 1024, NULL, &fit, &err), -1);
    assert_int_equal(vmu_numa_fit(NULL, t, 2, 1024, NULL, NULL, &err), -1);
    vmu_numa_fit_options opts = {.cpu_allocation_ratio = -1};
    assert_int_equal(vmu_numa_fit(NULL, t, 2, 1024, &opts, &fit, &err), -1);
    opts = (vmu_numa_fit_options){.policy = (vmu_numa_fit_policy)7};
    assert_int_equal(vmu_numa_fit(NULL, t, 2, 1024, &opts, &fit, &err), -1);
    t->nodes[1].id = 0; /* two nodes with one id */
    assert_int_equal(vmu_numa_fit(NULL, t, 2, 1024, NULL, &fit, &err), -1);
    assert_string_equal(err.msg, "host nodes must have distinct ids in ascending order");
    vmu_topology_free(t);
    /* no node at all */
    vmu_topology empty = {0};
    assert_int_equal(vmu_numa_fit(NULL, &empty, 2, 1024, NULL, &fit, &err), -1);
    assert_non_null(strstr(err.msg, "0 usable nodes"));
    vmu_numa_fit_policy p;
    assert_int_equal(vmu_numa_fit_policy_parse("best-effort", &p), 0);
    assert_int_equal(p, VMU_NUMA_FIT_BEST_EFFORT);
    assert_int_equal(vmu_numa_fit_policy_parse("any", &p), -1);
}

static void test_fit_out_of_memory(void **state)
{
    (void)state;
    vmu_topology *t = load_xml(FIXTURES "eight-node.xml", NULL);
    vmu_numa_fit_options opts = {.policy = VMU_NUMA_FIT_SINGLE_NUMA_NODE};
    for (long n = 0; n < 3; n++) {
        vmu_numa_placement fit;
        vmu_err err;
        vmu_alloc_fail_after(n);
        int ok = vmu_numa_fit(NULL, t, 8, 1024, NULL, &fit, &err);
        int fails = vmu_numa_fit(NULL, t, 12, 1024, &opts, &fit, &err);
        vmu_alloc_fail_after(-1);
        if (ok != 0)
            assert_string_equal(err.msg, "vmu_numa_fit: out of memory");
        assert_int_equal(fails, -1);
    }
    vmu_topology_free(t);
}

/* ---- properties on random hosts, against an exhaustive search ---- */

static uint64_t rng_state = 0x9e3779b97f4a7c15u;

static uint32_t rnd(uint32_t n)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state % n);
}

#define MAX_RANDOM_NODES 8

typedef struct random_host {
    vmu_topology topology;
    vmu_topology_node nodes[MAX_RANDOM_NODES];
    uint32_t distances[MAX_RANDOM_NODES][MAX_RANDOM_NODES];
} random_host;

static void random_host_make(random_host *h)
{
    size_t n = 1 + rnd(MAX_RANDOM_NODES);
    memset(h, 0, sizeof *h);
    uint32_t id = rnd(3);
    for (size_t i = 0; i < n; i++) {
        vmu_topology_node *node = &h->nodes[i];
        node->id = id;
        id += 1 + (rnd(4) == 0 ? rnd(50) : 0); /* sparse ids, some past 63 */
        node->processors = rnd(5) == 0 ? 0 : 1 + rnd(16);
        node->memory_mb = rnd(8) == 0 ? 0 : 1024 * (1 + rnd(32));
        node->free_mb = node->memory_mb ? rnd((uint32_t)node->memory_mb + 1) : 0;
        node->allowed = rnd(10) != 0;
        node->distances = h->distances[i];
    }
    /* any symmetric table, not only hierarchical ones */
    for (size_t a = 0; a < n; a++) {
        h->distances[a][a] = 10;
        for (size_t b = a + 1; b < n; b++)
            h->distances[a][b] = h->distances[b][a] = 11 + rnd(30);
    }
    h->topology.nodes = h->nodes;
    h->topology.nodes_len = n;
}

/* What a node offers, from the documented rules (regular pages). */
static void capacity(const vmu_topology_node *node, const vmu_numa_fit_options *o, uint64_t *cpus,
                     uint64_t *mb)
{
    double cr = o->cpu_allocation_ratio > 0 ? o->cpu_allocation_ratio : 1;
    double rr = o->ram_allocation_ratio > 0 ? o->ram_allocation_ratio : 1;
    *cpus = node->processors > o->reserved_processors
                ? (uint64_t)((node->processors - o->reserved_processors) * cr)
                : 0;
    double m = (double)node->memory_mb * rr - (double)(node->memory_mb - node->free_mb) -
               (double)o->reserved_memory_mb;
    *mb = m > 0 ? ((uint64_t)m / 2) * 2 : 0;
    if (!node->allowed || node->id >= 64)
        *cpus = *mb = 0;
}

typedef struct best_set {
    int found;
    size_t count;
    uint32_t worst;
    uint64_t mb; /* offered by the set */
} best_set;

/* Every subset, ordered by (count, worst distance, -memory offered). */
static best_set exhaustive(const random_host *h, uint32_t cpus, uint64_t mb, size_t limit,
                           const vmu_numa_fit_options *o)
{
    best_set best = {0};
    size_t n = h->topology.nodes_len;
    for (uint32_t set = 1; set < (1u << n); set++) {
        size_t count = (size_t)__builtin_popcount(set);
        if (count > limit || count > mb / 2)
            continue;
        uint64_t c = 0, m = 0;
        uint32_t worst = 0;
        int usable = 1;
        for (size_t a = 0; a < n; a++) {
            if (!(set >> a & 1))
                continue;
            uint64_t nc, nm;
            capacity(&h->nodes[a], o, &nc, &nm);
            if (nm == 0 || !h->nodes[a].allowed || h->nodes[a].id >= 64)
                usable = 0;
            c += nc;
            m += nm;
            for (size_t b = 0; b < n; b++)
                if ((set >> b & 1) && h->distances[a][b] > worst)
                    worst = h->distances[a][b];
        }
        if (!usable || c < cpus || m < mb)
            continue;
        if (!best.found || count < best.count || (count == best.count && worst < best.worst) ||
            (count == best.count && worst == best.worst && m > best.mb)) {
            best.found = 1;
            best.count = count;
            best.worst = worst;
            best.mb = m;
        }
    }
    return best;
}

static void check_not_oversubscribed(const random_host *h, const vmu_numa_placement *fit,
                                     const vmu_numa_fit_options *o, uint32_t cpus, uint64_t mb)
{
    uint64_t sum_cpus = 0, sum_mb = 0;
    for (size_t i = 0; i < fit->nodes_len; i++) {
        const vmu_topology_node *node = vmu_topology_find(&h->topology, fit->physical_nodes[i]);
        assert_non_null(node);
        uint64_t nc, nm;
        capacity(node, o, &nc, &nm);
        assert_true(fit->processors[i] <= nc);
        assert_true(fit->memory_mb[i] <= nm);
        assert_true(fit->memory_mb[i] > 0);
        assert_int_equal(fit->memory_mb[i] % 2, 0);
        if (i)
            assert_true(fit->physical_nodes[i] > fit->physical_nodes[i - 1]);
        sum_cpus += fit->processors[i];
        sum_mb += fit->memory_mb[i];
    }
    assert_int_equal(sum_cpus, cpus);
    assert_int_equal(sum_mb, mb);
}

static void test_property_matches_exhaustive_search(void **state)
{
    (void)state;
    static const double ratios[] = {0, 1.0, 1.5, 2.0, 4.0};
    int fits = 0, refusals = 0;
    for (int round = 0; round < 3000; round++) {
        random_host h;
        random_host_make(&h);
        vmu_numa_fit_options o = {
            .policy = rnd(4) == 0 ? VMU_NUMA_FIT_SINGLE_NUMA_NODE : VMU_NUMA_FIT_RESTRICTED,
            .max_nodes = rnd(3) == 0 ? 1 + rnd(8) : 0,
            .cpu_allocation_ratio = ratios[rnd(5)],
            .ram_allocation_ratio = ratios[rnd(5)],
            .reserved_processors = rnd(3) == 0 ? rnd(3) : 0,
            .reserved_memory_mb = rnd(3) == 0 ? 512 * rnd(4) : 0,
            .fill = rnd(2) == 0,
        };
        uint32_t cpus = 1 + rnd(48);
        uint64_t mb = 2 * (1 + rnd(40000));
        size_t limit = o.policy == VMU_NUMA_FIT_SINGLE_NUMA_NODE ? 1
                       : o.max_nodes                            ? o.max_nodes
                                                                : MAX_RANDOM_NODES;
        best_set want = exhaustive(&h, cpus, mb, limit, &o);
        vmu_numa_placement fit;
        vmu_err err;
        int rc = vmu_numa_fit(NULL, &h.topology, cpus, mb, &o, &fit, &err);
        if (!want.found) {
            if (rc != -1)
                fail_msg("round %d: a fit where the exhaustive search finds none", round);
            assert_non_null(strstr(err.msg, "no NUMA placement of"));
            refusals++;
            continue;
        }
        if (rc != 0)
            fail_msg("round %d: %s (the exhaustive search fits %zu nodes)", round, err.msg,
                     want.count);
        assert_int_equal(fit.nodes_len, want.count);
        assert_int_equal(fit.worst_distance, want.worst);
        assert_int_equal(fit.free_mb_left, want.mb - mb);
        check_not_oversubscribed(&h, &fit, &o, cpus, mb);
        check_valid(&fit, cpus, mb);
        fits++;
    }
    /* both outcomes were exercised */
    assert_true(fits > 300);
    assert_true(refusals > 300);
}

static void test_property_deterministic(void **state)
{
    (void)state;
    for (int round = 0; round < 200; round++) {
        random_host h;
        random_host_make(&h);
        vmu_numa_placement a, b;
        vmu_err err;
        int ra = vmu_numa_fit(NULL, &h.topology, 4, 4096, NULL, &a, &err);
        int rb = vmu_numa_fit(NULL, &h.topology, 4, 4096, NULL, &b, &err);
        assert_int_equal(ra, rb);
        if (ra == 0)
            assert_memory_equal(&a, &b, sizeof a);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_laptop),
        cmocka_unit_test(test_two_socket_smt),
        cmocka_unit_test(test_free_memory_from_sysfs),
        cmocka_unit_test(test_eight_nodes),
        cmocka_unit_test(test_cpu_less_node),
        cmocka_unit_test(test_memory_less_node),
        cmocka_unit_test(test_sparse_ids),
        cmocka_unit_test(test_offline_processors),
        cmocka_unit_test(test_cgroup_cpuset),
        cmocka_unit_test(test_this_machine),
        cmocka_unit_test(test_discovery_errors),
        cmocka_unit_test(test_discovery_out_of_memory),
        cmocka_unit_test(test_fit_prefers_one_socket),
        cmocka_unit_test(test_fit_single_numa_node_reason),
        cmocka_unit_test(test_fit_uses_cpu_less_memory),
        cmocka_unit_test(test_fit_skips_memoryless_and_disallowed),
        cmocka_unit_test(test_fit_huge_pages),
        cmocka_unit_test(test_fit_spread_and_fill),
        cmocka_unit_test(test_fit_best_effort_warns),
        cmocka_unit_test(test_fit_bad_arguments),
        cmocka_unit_test(test_fit_out_of_memory),
        cmocka_unit_test(test_property_matches_exhaustive_search),
        cmocka_unit_test(test_property_deterministic),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
