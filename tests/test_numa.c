/* vNUMA: hcsshim's numa_test.go cases for validate, ValidateNumaForVM and
 * PrepareVNumaTopology, plus the warnings and debug records, the JSON of
 * the schema structs, Go's integer wrapping, large inputs, NULL arguments
 * and allocation failures. */
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

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define ROW_TEST(fn, row) {(row).name, fn, NULL, NULL, (void *)&(row)}
#define MAX_ROW_SETTINGS 4
#define PHYSICAL VMU_MEMORY_BACKING_PHYSICAL
#define WILDCARD VMU_NUMA_WILDCARD_PHYSICAL_NODE

/* Settings in the order virtual node, physical node, socket, processors,
 * memory blocks, backing. */
#define SETTING(v, p, s, cpus, mem, backing) {v, p, s, cpus, mem, backing}

typedef struct validate_case {
    const char *name;
    size_t count;
    vmu_numa_setting settings[MAX_ROW_SETTINGS];
    const char *error; /* NULL: valid */
} validate_case;

static const validate_case validate_cases[] = {
    /* hcsshim's TestValidate */
    {"validate: empty settings are valid", 0, {{0}}, NULL},
    {"validate: single node", 1, {SETTING(0, 0, 0, 4, 1024, PHYSICAL)}, NULL},
    {"validate: two nodes",
     2,
     {SETTING(0, 0, 0, 4, 1024, PHYSICAL), SETTING(1, 1, 1, 4, 1024, PHYSICAL)},
     NULL},
    {"validate: wildcard physical nodes",
     2,
     {SETTING(0, WILDCARD, 0, 4, 1024, PHYSICAL), SETTING(1, WILDCARD, 1, 4, 1024, PHYSICAL)},
     NULL},
    {"validate: virtual node number past the maximum",
     1,
     {SETTING(65, 0, 0, 4, 1024, PHYSICAL)},
     "vNUMA virtual node number 65 exceeds maximum allowed value 64"},
    {"validate: physical node number at the maximum",
     1,
     {SETTING(0, 64, 0, 4, 1024, PHYSICAL)},
     "vNUMA physical node number 64 exceeds maximum allowed value 64"},
    {"validate: wildcard mixed with a fixed node",
     2,
     {SETTING(0, WILDCARD, 0, 4, 1024, PHYSICAL), SETTING(1, 1, 1, 4, 1024, PHYSICAL)},
     "vNUMA has a mix of wildcard (255) and non-wildcard (1) physical node numbers"},
    {"validate: node without memory",
     1,
     {SETTING(0, 0, 0, 4, 0, PHYSICAL)},
     "vNUMA nodes with no memory are not allowed"},
    {"validate: duplicate virtual node",
     2,
     {SETTING(0, 0, 0, 4, 1024, PHYSICAL), SETTING(0, 1, 1, 4, 1024, PHYSICAL)},
     "vNUMA virtual node number 0 is duplicated"},
    {"validate: memory without processors",
     1,
     {SETTING(0, 0, 0, 0, 1024, PHYSICAL)},
     "partial resource allocation is not allowed"},
    {"validate: empty wildcard topology fails on memory first",
     2,
     {SETTING(0, WILDCARD, 0, 0, 0, PHYSICAL), SETTING(1, WILDCARD, 1, 0, 0, PHYSICAL)},
     "vNUMA nodes with no memory are not allowed"},
    {"validate: nodes may share a socket",
     2,
     {SETTING(0, 0, 0, 4, 1024, PHYSICAL), SETTING(1, 1, 0, 4, 1024, PHYSICAL)},
     NULL},
    {"validate: physical node 63 is the last fixed one",
     1,
     {SETTING(0, 63, 0, 4, 1024, PHYSICAL)},
     NULL},
    {"validate: virtual node 64 is allowed", 1, {SETTING(64, 0, 0, 4, 1024, PHYSICAL)}, NULL},
    /* beyond */
    {"validate: fixed node first, wildcard later (Go prints 255 twice)",
     2,
     {SETTING(0, 1, 0, 4, 1024, PHYSICAL), SETTING(1, WILDCARD, 1, 4, 1024, PHYSICAL)},
     "vNUMA has a mix of wildcard (255) and non-wildcard (255) physical node numbers"},
    {"validate: uint32 processor total wraps to 0 as in Go",
     2,
     {SETTING(0, 0, 0, 0x80000000u, 1024, PHYSICAL), SETTING(1, 1, 1, 0x80000000u, 1024, PHYSICAL)},
     "partial resource allocation is not allowed"},
    {"validate: physical node 254 is past the maximum",
     1,
     {SETTING(0, 254, 0, 4, 1024, PHYSICAL)},
     "vNUMA physical node number 254 exceeds maximum allowed value 64"},
    {"validate: largest virtual node number",
     1,
     {SETTING(UINT32_MAX, 0, 0, 4, 1024, PHYSICAL)},
     "vNUMA virtual node number 4294967295 exceeds maximum allowed value 64"},
    {"validate: the virtual node check comes before the physical one",
     1,
     {SETTING(65, 64, 0, 4, 0, PHYSICAL)},
     "vNUMA virtual node number 65 exceeds maximum allowed value 64"},
    {"validate: duplicate found after the memory check",
     2,
     {SETTING(3, 0, 0, 4, 1024, PHYSICAL), SETTING(3, 1, 1, 4, 0, PHYSICAL)},
     "vNUMA nodes with no memory are not allowed"},
};

static void expect_result(int status, const vmu_err *err, const char *error)
{
    if (error) {
        assert_int_equal(status, -1);
        assert_string_equal(err->msg, error);
    } else {
        if (status != 0)
            fail_msg("unexpected error: %s", err->msg);
    }
}

static void test_validate(void **state)
{
    const validate_case *c = *state;
    vmu_numa numa = {0};
    numa.virtual_node_count = (uint8_t)c->count;
    numa.settings = (vmu_numa_setting *)c->settings;
    numa.settings_len = c->count;
    vmu_err err = {{0}};
    expect_result(vmu_validate_numa(&numa, &err), &err, c->error);
}

static void test_validate_nil_settings(void **state)
{
    (void)state;
    vmu_numa numa = {0}; /* Go's nil Settings */
    vmu_err err;
    assert_int_equal(vmu_validate_numa(&numa, &err), 0);
    assert_int_equal(vmu_validate_numa_for_vm(&numa, 8, 2048, &err), 0);
}

typedef struct for_vm_case {
    const char *name;
    size_t count;
    vmu_numa_setting settings[MAX_ROW_SETTINGS];
    uint32_t proc_count;
    uint64_t mem_in_mb;
    const char *error;
} for_vm_case;

static const for_vm_case for_vm_cases[] = {
    /* hcsshim's TestValidateNumaForVM ("nil settings" is test_validate_nil_settings) */
    {"for vm: empty settings always pass", 0, {{0}}, 8, 2048, NULL},
    {"for vm: totals match",
     2,
     {SETTING(0, 0, 0, 4, 1024, 0), SETTING(1, 1, 0, 4, 1024, 0)},
     8,
     2048,
     NULL},
    {"for vm: processor total differs",
     2,
     {SETTING(0, 0, 0, 4, 1024, 0), SETTING(1, 1, 0, 4, 1024, 0)},
     16,
     2048,
     "vNUMA total processor count 8 does not match UVM processor count 16"},
    {"for vm: memory total differs",
     2,
     {SETTING(0, 0, 0, 4, 1024, 0), SETTING(1, 1, 0, 4, 1024, 0)},
     8,
     4096,
     "vNUMA total memory 2048 does not match UVM memory 4096"},
    {"for vm: single node matches", 1, {SETTING(0, 0, 0, 16, 8192, 0)}, 16, 8192, NULL},
    {"for vm: zero processors skip the processor check", 1, {SETTING(0, 0, 0, 0, 1024, 0)}, 8,
     1024, NULL},
    {"for vm: zero memory skips the memory check", 1, {SETTING(0, 0, 0, 4, 0, 0)}, 4, 2048, NULL},
    {"for vm: uneven nodes",
     3,
     {SETTING(0, 0, 0, 2, 512, 0), SETTING(1, 1, 0, 4, 1024, 0), SETTING(2, 2, 0, 2, 512, 0)},
     8,
     2048,
     NULL},
    {"for vm: large values",
     4,
     {SETTING(0, 0, 0, 64, 65536, 0), SETTING(1, 0, 0, 64, 65536, 0),
      SETTING(2, 0, 0, 64, 65536, 0), SETTING(3, 0, 0, 64, 65536, 0)},
     256,
     262144,
     NULL},
    /* beyond: the sums wrap as Go's uint32 and uint64 do */
    {"for vm: processor total wraps to 0 and is skipped",
     2,
     {SETTING(0, 0, 0, 0x80000000u, 1024, 0), SETTING(1, 0, 0, 0x80000000u, 1024, 0)},
     7,
     2048,
     NULL},
    {"for vm: memory total wraps",
     2,
     {SETTING(0, 0, 0, 1, UINT64_MAX, 0), SETTING(1, 0, 0, 1, 3, 0)},
     2,
     5,
     "vNUMA total memory 2 does not match UVM memory 5"},
    {"for vm: the processor check comes first",
     1,
     {SETTING(0, 0, 0, 1, 1, 0)},
     2,
     2,
     "vNUMA total processor count 1 does not match UVM processor count 2"},
};

static void test_validate_for_vm(void **state)
{
    const for_vm_case *c = *state;
    vmu_numa numa = {0};
    numa.settings = (vmu_numa_setting *)c->settings;
    numa.settings_len = c->count;
    vmu_err err = {{0}};
    expect_result(vmu_validate_numa_for_vm(&numa, c->proc_count, c->mem_in_mb, &err), &err,
                  c->error);
}

/* ---- PrepareVNumaTopology ---- */

/* A config row: arrays of up to 4 items; has_* false is Go's nil slice. */
typedef struct config_row {
    uint32_t max_processors;
    uint64_t max_memory;
    bool has_preferred, has_mapped, has_processors, has_blocks;
    size_t preferred_len, mapped_len, processors_len, blocks_len;
    uint32_t preferred[4], mapped[4], processors[4];
    uint64_t blocks[4];
} config_row;

static vmu_numa_config config_of(const config_row *r)
{
    vmu_numa_config c = {0};
    c.max_processors_per_numa_node = r->max_processors;
    c.max_memory_size_per_numa_node = r->max_memory;
    c.preferred_physical_numa_nodes = r->has_preferred ? r->preferred : NULL;
    c.preferred_physical_numa_nodes_len = r->preferred_len;
    c.numa_mapped_physical_nodes = r->has_mapped ? r->mapped : NULL;
    c.numa_mapped_physical_nodes_len = r->mapped_len;
    c.numa_processor_counts = r->has_processors ? r->processors : NULL;
    c.numa_processor_counts_len = r->processors_len;
    c.numa_memory_blocks_counts = r->has_blocks ? r->blocks : NULL;
    c.numa_memory_blocks_counts_len = r->blocks_len;
    return c;
}

#define PREFERRED(n, ...) .has_preferred = true, .preferred_len = n, .preferred = {__VA_ARGS__}
#define MAPPED(n, ...) .has_mapped = true, .mapped_len = n, .mapped = {__VA_ARGS__}
#define PROCESSORS(n, ...) .has_processors = true, .processors_len = n, .processors = {__VA_ARGS__}
#define BLOCKS(n, ...) .has_blocks = true, .blocks_len = n, .blocks = {__VA_ARGS__}

typedef struct prepare_case {
    const char *name;
    config_row config;
    int32_t os_build;   /* -1: skip the build check */
    const char *error;  /* NULL: success */
    const char *numa_json;       /* NULL: no numa */
    const char *processors_json; /* NULL: no numa_processors */
    /* The warning expected, if any, and its fields as "key=value;..." */
    const char *warning;
    const char *warning_fields;
} prepare_case;

static const prepare_case prepare_cases[] = {
    /* hcsshim's TestPrepareVNumaTopology */
    {"prepare: nothing set gives no topology", {0}, -1, NULL, NULL, NULL, NULL, NULL},
    {"prepare: implicit topology",
     {.max_processors = 4, .max_memory = 1024, PREFERRED(2, 0, 1)},
     -1,
     NULL,
     "{\"PreferredPhysicalNodes\":[0,1],\"MaxSizePerNode\":1024}",
     "{\"count_per_node\":{\"max\":4}}",
     NULL,
     NULL},
    {"prepare: implicit topology needs a memory size",
     {.max_processors = 4},
     -1,
     "max size per node must be set when max processors per numa node is set",
     NULL,
     NULL,
     NULL,
     NULL},
    {"prepare: explicit topology",
     {MAPPED(2, 0, 1), PROCESSORS(2, 4, 4), BLOCKS(2, 1024, 1024)},
     -1,
     NULL,
     "{\"VirtualNodeCount\":2,\"Settings\":[{\"CountOfProcessors\":4,\"CountOfMemoryBlocks\":1024,"
     "\"MemoryBackingType\":\"Physical\"},{\"VirtualNodeNumber\":1,\"PhysicalNodeNumber\":1,"
     "\"VirtualSocketNumber\":1,\"CountOfProcessors\":4,\"CountOfMemoryBlocks\":1024,"
     "\"MemoryBackingType\":\"Physical\"}]}",
     NULL,
     NULL,
     NULL},
    {"prepare: explicit arrays of different lengths",
     {MAPPED(3, 0, 1, 2), PROCESSORS(2, 4, 4), BLOCKS(2, 1024, 1024)},
     -1,
     "mismatch in number of physical numa nodes and the corresponding processor and memory "
     "blocks count",
     NULL,
     NULL,
     NULL,
     NULL},
    {"prepare: explicit node without memory",
     {MAPPED(1, 0), PROCESSORS(1, 4), BLOCKS(1, 0)},
     -1,
     "vNUMA nodes with no memory are not allowed",
     NULL,
     NULL,
     NULL,
     NULL},
    {"prepare: explicit wildcard nodes",
     {MAPPED(2, 0xFF, 0xFF), PROCESSORS(2, 4, 4), BLOCKS(2, 1024, 1024)},
     -1,
     NULL,
     "{\"VirtualNodeCount\":2,\"Settings\":[{\"PhysicalNodeNumber\":255,\"CountOfProcessors\":4,"
     "\"CountOfMemoryBlocks\":1024,\"MemoryBackingType\":\"Physical\"},{\"VirtualNodeNumber\":1,"
     "\"PhysicalNodeNumber\":255,\"VirtualSocketNumber\":1,\"CountOfProcessors\":4,"
     "\"CountOfMemoryBlocks\":1024,\"MemoryBackingType\":\"Physical\"}]}",
     NULL,
     NULL,
     NULL},
    {"prepare: partial implicit config warns",
     {.max_memory = 1024, PREFERRED(1, 0)},
     -1,
     NULL,
     NULL,
     NULL,
     "potentially incomplete implicit vNUMA topology",
     "max-memory-size-per-numa-node=1024;max-processors-per-numa-node=0;"
     "preferred-physical-numa-nodes=[0]"},
    {"prepare: partial explicit config warns",
     {PROCESSORS(1, 4), BLOCKS(1, 1024)},
     -1,
     NULL,
     NULL,
     NULL,
     "potentially incomplete explicit vNUMA topology",
     "numa-mapped-physical-nodes=null;numa-processor-counts=[4];numa-memory-block-counts=[1024]"},
    {"prepare: explicit topology keeps preferred nodes",
     {MAPPED(2, 0, 1), PROCESSORS(2, 4, 4), BLOCKS(2, 1024, 1024), PREFERRED(2, 2, 3)},
     -1,
     NULL,
     "{\"VirtualNodeCount\":2,\"PreferredPhysicalNodes\":[2,3],\"Settings\":[{\"CountOfProcessors\":"
     "4,\"CountOfMemoryBlocks\":1024,\"MemoryBackingType\":\"Physical\"},{\"VirtualNodeNumber\":1,"
     "\"PhysicalNodeNumber\":1,\"VirtualSocketNumber\":1,\"CountOfProcessors\":4,"
     "\"CountOfMemoryBlocks\":1024,\"MemoryBackingType\":\"Physical\"}]}",
     NULL,
     NULL,
     NULL},
    {"prepare: implicit topology without preferred nodes",
     {.max_processors = 8, .max_memory = 2048},
     -1,
     NULL,
     "{\"MaxSizePerNode\":2048}",
     "{\"count_per_node\":{\"max\":8}}",
     NULL,
     NULL},
    {"prepare: single explicit node",
     {MAPPED(1, 0), PROCESSORS(1, 16), BLOCKS(1, 8192)},
     -1,
     NULL,
     "{\"VirtualNodeCount\":1,\"Settings\":[{\"CountOfProcessors\":16,\"CountOfMemoryBlocks\":8192,"
     "\"MemoryBackingType\":\"Physical\"}]}",
     NULL,
     NULL,
     NULL},
    {"prepare: explicit sockets follow the node numbers",
     {MAPPED(3, 0, 1, 2), PROCESSORS(3, 2, 2, 2), BLOCKS(3, 512, 512, 512)},
     -1,
     NULL,
     "{\"VirtualNodeCount\":3,\"Settings\":[{\"CountOfProcessors\":2,\"CountOfMemoryBlocks\":512,"
     "\"MemoryBackingType\":\"Physical\"},{\"VirtualNodeNumber\":1,\"PhysicalNodeNumber\":1,"
     "\"VirtualSocketNumber\":1,\"CountOfProcessors\":2,\"CountOfMemoryBlocks\":512,"
     "\"MemoryBackingType\":\"Physical\"},{\"VirtualNodeNumber\":2,\"PhysicalNodeNumber\":2,"
     "\"VirtualSocketNumber\":2,\"CountOfProcessors\":2,\"CountOfMemoryBlocks\":512,"
     "\"MemoryBackingType\":\"Physical\"}]}",
     NULL,
     NULL,
     NULL},
    /* hcsshim's TestPrepareVNumaTopology_OldWindowsVersion */
    {"prepare: older Windows builds are refused",
     {.max_processors = 4, .max_memory = 1024},
     VMU_OSVERSION_V21H2_SERVER,
     "vNUMA topology is not supported on 20348 version of Windows",
     NULL,
     NULL,
     NULL,
     NULL},
    /* beyond */
    {"prepare: build 26099 is refused",
     {MAPPED(1, 0), PROCESSORS(1, 16), BLOCKS(1, 8192)},
     26099,
     "vNUMA topology is not supported on 26099 version of Windows",
     NULL,
     NULL,
     NULL,
     NULL},
    {"prepare: build 26100 is accepted",
     {.max_processors = 4, .max_memory = 1024},
     VMU_OSVERSION_V25H1_SERVER,
     NULL,
     "{\"MaxSizePerNode\":1024}",
     "{\"count_per_node\":{\"max\":4}}",
     NULL,
     NULL},
    {"prepare: build 0 is refused",
     {.max_processors = 4, .max_memory = 1024},
     0,
     "vNUMA topology is not supported on 0 version of Windows",
     NULL,
     NULL,
     NULL,
     NULL},
    {"prepare: no topology needs no build check",
     {0},
     17763,
     NULL,
     NULL,
     NULL,
     NULL,
     NULL},
    {"prepare: the build is checked before the memory size",
     {.max_processors = 4},
     17763,
     "vNUMA topology is not supported on 17763 version of Windows",
     NULL,
     NULL,
     NULL,
     NULL},
    {"prepare: implicit wins over explicit",
     {.max_processors = 2, .max_memory = 512, MAPPED(1, 0), PROCESSORS(1, 4), BLOCKS(1, 1024)},
     -1,
     NULL,
     "{\"MaxSizePerNode\":512}",
     "{\"count_per_node\":{\"max\":2}}",
     NULL,
     NULL},
    {"prepare: empty preferred list is no preferred list",
     {.max_processors = 2, .max_memory = 512, PREFERRED(0, 0)},
     -1,
     NULL,
     "{\"MaxSizePerNode\":512}",
     "{\"count_per_node\":{\"max\":2}}",
     NULL,
     NULL},
    {"prepare: partial implicit warning prints an empty list as []",
     {.max_memory = 64, PREFERRED(0, 0)},
     -1,
     NULL,
     NULL,
     NULL,
     "potentially incomplete implicit vNUMA topology",
     "max-memory-size-per-numa-node=64;max-processors-per-numa-node=0;"
     "preferred-physical-numa-nodes=[]"},
    {"prepare: partial implicit warning prints no list as null",
     {.max_memory = 64},
     -1,
     NULL,
     NULL,
     NULL,
     "potentially incomplete implicit vNUMA topology",
     "max-memory-size-per-numa-node=64;max-processors-per-numa-node=0;"
     "preferred-physical-numa-nodes=null"},
    {"prepare: partial explicit warning with an empty mapping",
     {MAPPED(0, 0), BLOCKS(2, 1, 18446744073709551615u)},
     -1,
     NULL,
     NULL,
     NULL,
     "potentially incomplete explicit vNUMA topology",
     "numa-mapped-physical-nodes=[];numa-processor-counts=null;"
     "numa-memory-block-counts=[1,18446744073709551615]"},
    {"prepare: preferred nodes alone warn",
     {PREFERRED(2, 4294967295u, 7)},
     -1,
     NULL,
     NULL,
     NULL,
     "potentially incomplete implicit vNUMA topology",
     "max-memory-size-per-numa-node=0;max-processors-per-numa-node=0;"
     "preferred-physical-numa-nodes=[4294967295,7]"},
    {"prepare: large preferred node numbers stay unsigned",
     {.max_processors = 1, .max_memory = 1, PREFERRED(1, 4294967295u)},
     -1,
     NULL,
     "{\"PreferredPhysicalNodes\":[4294967295],\"MaxSizePerNode\":1}",
     "{\"count_per_node\":{\"max\":1}}",
     NULL,
     NULL},
    {"prepare: explicit fixed and wildcard nodes mixed",
     {MAPPED(2, 0, 0xFF), PROCESSORS(2, 1, 1), BLOCKS(2, 1, 1)},
     -1,
     "vNUMA has a mix of wildcard (255) and non-wildcard (255) physical node numbers",
     NULL,
     NULL,
     NULL,
     NULL},
    {"prepare: explicit physical node out of range",
     {MAPPED(1, 64), PROCESSORS(1, 1), BLOCKS(1, 1)},
     -1,
     "vNUMA physical node number 64 exceeds maximum allowed value 64",
     NULL,
     NULL,
     NULL,
     NULL},
    {"prepare: explicit memory without processors",
     {MAPPED(2, 0, 1), PROCESSORS(2, 0, 0), BLOCKS(2, 1, 1)},
     -1,
     "partial resource allocation is not allowed",
     NULL,
     NULL,
     NULL,
     NULL},
};

/* Compares the record's fields with "key=value;key=value". */
static void expect_fields(const captured_record *r, const char *expected)
{
    char actual[1024] = "";
    for (size_t i = 0; i < r->field_count; i++) {
        size_t used = strlen(actual);
        snprintf(actual + used, sizeof actual - used, "%s%s=%s", i ? ";" : "", r->fields[i].key,
                 r->fields[i].text);
    }
    assert_string_equal(actual, expected);
}

static void expect_json(const char *expected, const void *object, bool is_numa)
{
    if (!expected) {
        assert_null(object);
        return;
    }
    assert_non_null(object);
    vmu_buf json;
    vmu_buf_init(&json);
    int status = is_numa ? vmu_numa_format_json(object, &json)
                         : vmu_numa_processors_format_json(object, &json);
    assert_int_equal(status, 0);
    assert_int_equal(json.len, strlen(expected));
    assert_memory_equal(json.data, expected, json.len);
    vmu_buf_free(&json);
}

/* Whether the row gets as far as building an explicit topology, which Go
 * logs before validating it (so failing rows log it too). */
static bool builds_explicit_topology(const prepare_case *c)
{
    const config_row *r = &c->config;
    return !r->max_processors && r->mapped_len > 0 &&
           (c->os_build < 0 || c->os_build >= VMU_NUMA_MIN_OS_BUILD) &&
           r->mapped_len == r->processors_len && r->mapped_len == r->blocks_len;
}

static void test_prepare(void **state)
{
    const prepare_case *c = *state;
    vmu_numa_config config = config_of(&c->config);
    log_capture cap;
    capture_start(&cap, VMU_LEVEL_DEBUG);
    vmu_numa *numa = (vmu_numa *)1;
    vmu_numa_processors *processors = (vmu_numa_processors *)1;
    vmu_err err = {{0}};
    int status =
        vmu_prepare_vnuma_topology(cap.logger, &config, c->os_build, &numa, &processors, &err);
    if (c->error) {
        assert_int_equal(status, -1);
        assert_string_equal(err.msg, c->error);
        assert_null(numa);
        assert_null(processors);
    } else {
        if (status != 0)
            fail_msg("unexpected error: %s", err.msg);
        expect_json(c->numa_json, numa, true);
        expect_json(c->processors_json, processors, false);
        if (numa && numa->settings_len) {
            expect_result(vmu_validate_numa(numa, &err), &err, NULL);
            for (size_t i = 0; i < numa->settings_len; i++) {
                assert_int_equal(numa->settings[i].virtual_node_number, i);
                assert_int_equal(numa->settings[i].virtual_socket_number, i);
                assert_int_equal(numa->settings[i].memory_backing_type, PHYSICAL);
            }
        }
        if (numa && !c->config.preferred_len)
            assert_null(numa->preferred_physical_nodes);
    }
    /* Records: the warning, or the debug record of a created topology. */
    if (c->warning) {
        assert_int_equal(cap.count, 1);
        assert_int_equal(cap.records[0].level, VMU_LEVEL_WARN);
        assert_string_equal(cap.records[0].msg, c->warning);
        expect_fields(&cap.records[0], c->warning_fields);
    } else if (c->numa_json || builds_explicit_topology(c)) {
        assert_int_equal(cap.count, 1);
        assert_int_equal(cap.records[0].level, VMU_LEVEL_DEBUG);
        if (c->processors_json) {
            assert_string_equal(cap.records[0].msg, "created implicit NUMA topology");
            char fields[1024];
            snprintf(fields, sizeof fields, "numa=%s;numa-processors=%s", c->numa_json,
                     c->processors_json);
            expect_fields(&cap.records[0], fields);
        } else {
            assert_string_equal(cap.records[0].msg, "created explicit NUMA topology");
            assert_int_equal(cap.records[0].field_count, 1);
            assert_string_equal(cap.records[0].fields[0].key, "numa");
            if (c->numa_json)
                assert_string_equal(cap.records[0].fields[0].text, c->numa_json);
        }
    } else {
        assert_int_equal(cap.count, 0);
    }
    vmu_numa_free(numa);
    vmu_numa_processors_free(processors);
    capture_stop(&cap);
}

/* The debug records cost nothing, and are absent, below debug level. */
static void test_prepare_debug_needs_debug_level(void **state)
{
    (void)state;
    log_capture cap;
    capture_start(&cap, VMU_LEVEL_INFO);
    config_row row = {.max_processors = 2, .max_memory = 512};
    vmu_numa_config config = config_of(&row);
    vmu_numa *numa;
    vmu_numa_processors *processors;
    vmu_err err;
    assert_int_equal(
        vmu_prepare_vnuma_topology(cap.logger, &config, -1, &numa, &processors, &err), 0);
    assert_int_equal(cap.count, 0);
    vmu_numa_free(numa);
    vmu_numa_processors_free(processors);
    capture_stop(&cap);
}

/* Node counts whose uint8 wraps: validation rejects them at node 65, but
 * the debug record shows Go's wrapped count first (0 is omitted). */
static void test_prepare_many_nodes(void **state)
{
    (void)state;
    const size_t counts[] = {64, 65, 66, 256, 257, 100000};
    for (size_t k = 0; k < ARRAY_LEN(counts); k++) {
        size_t n = counts[k];
        uint32_t *mapped = calloc(n, sizeof *mapped);
        uint32_t *cpus = calloc(n, sizeof *cpus);
        uint64_t *blocks = calloc(n, sizeof *blocks);
        assert_non_null(mapped);
        assert_non_null(cpus);
        assert_non_null(blocks);
        for (size_t i = 0; i < n; i++) {
            mapped[i] = WILDCARD;
            cpus[i] = 1;
            blocks[i] = 2;
        }
        vmu_numa_config config = {0};
        config.numa_mapped_physical_nodes = mapped;
        config.numa_mapped_physical_nodes_len = n;
        config.numa_processor_counts = cpus;
        config.numa_processor_counts_len = n;
        config.numa_memory_blocks_counts = blocks;
        config.numa_memory_blocks_counts_len = n;
        log_capture cap;
        capture_start(&cap, n <= 257 ? VMU_LEVEL_DEBUG : VMU_LEVEL_INFO);
        vmu_numa *numa;
        vmu_numa_processors *processors;
        vmu_err err;
        int status = vmu_prepare_vnuma_topology(cap.logger, &config, -1, &numa, &processors, &err);
        if (n <= 65) {
            assert_int_equal(status, 0);
            assert_int_equal(numa->virtual_node_count, n);
            assert_int_equal(numa->settings_len, n);
        } else {
            assert_int_equal(status, -1);
            assert_string_equal(err.msg,
                                "vNUMA virtual node number 65 exceeds maximum allowed value 64");
            assert_null(numa);
        }
        if (n <= 257) {
            assert_int_equal(cap.count, 1);
            const char *json = cap.records[0].fields[0].text;
            char head[64];
            snprintf(head, sizeof head, "{\"VirtualNodeCount\":%u,", (unsigned)(uint8_t)n);
            if ((uint8_t)n)
                assert_true(strncmp(json, head, strlen(head)) == 0);
            else
                assert_true(strncmp(json, "{\"Settings\":[", 13) == 0);
        }
        vmu_numa_free(numa);
        capture_stop(&cap);
        free(mapped);
        free(cpus);
        free(blocks);
    }
}

/* 100000 settings that repeat virtual nodes 0..64: the duplicate shows up
 * at the 66th, found without comparing pairs. */
static void test_validate_many_settings(void **state)
{
    (void)state;
    size_t n = 100000;
    vmu_numa_setting *settings = calloc(n, sizeof *settings);
    assert_non_null(settings);
    for (size_t i = 0; i < n; i++) {
        settings[i].virtual_node_number = (uint32_t)(i % 65);
        settings[i].count_of_processors = 1;
        settings[i].count_of_memory_blocks = 1;
    }
    vmu_numa numa = {0};
    numa.settings = settings;
    numa.settings_len = n;
    vmu_err err;
    assert_int_equal(vmu_validate_numa(&numa, &err), -1);
    assert_string_equal(err.msg, "vNUMA virtual node number 0 is duplicated");
    assert_int_equal(vmu_validate_numa_for_vm(&numa, 100000, 100000, &err), 0);
    assert_int_equal(vmu_validate_numa_for_vm(&numa, 1, 100000, &err), -1);
    assert_string_equal(err.msg,
                        "vNUMA total processor count 100000 does not match UVM processor count 1");
    free(settings);
}

static void test_null_arguments(void **state)
{
    (void)state;
    vmu_numa_config config = {0};
    vmu_numa *numa = (vmu_numa *)1;
    vmu_numa_processors *processors = (vmu_numa_processors *)1;
    vmu_err err;
    assert_int_equal(vmu_prepare_vnuma_topology(NULL, NULL, -1, &numa, &processors, &err), -1);
    assert_string_equal(err.msg, "vmu_prepare_vnuma_topology: config, numa_out and "
                                 "processors_out must not be NULL");
    assert_null(numa);
    assert_null(processors);
    assert_int_equal(vmu_prepare_vnuma_topology(NULL, &config, -1, NULL, &processors, &err), -1);
    assert_int_equal(vmu_prepare_vnuma_topology(NULL, &config, -1, &numa, NULL, &err), -1);
    assert_int_equal(vmu_prepare_vnuma_topology(NULL, &config, -1, &numa, &processors, NULL), 0);

    config.numa_processor_counts_len = 3;
    assert_int_equal(vmu_prepare_vnuma_topology(NULL, &config, -1, &numa, &processors, &err), -1);
    assert_string_equal(err.msg,
                        "vmu_prepare_vnuma_topology: numa_processor_counts is NULL but has length 3");

    assert_int_equal(vmu_validate_numa(NULL, &err), -1);
    assert_string_equal(err.msg, "vmu_validate_numa: numa must not be NULL");
    assert_int_equal(vmu_validate_numa_for_vm(NULL, 1, 1, &err), -1);
    assert_string_equal(err.msg, "vmu_validate_numa_for_vm: numa must not be NULL");
    vmu_numa broken = {0};
    broken.settings_len = 2;
    assert_int_equal(vmu_validate_numa(&broken, &err), -1);
    assert_string_equal(err.msg, "vmu_validate_numa: settings is NULL but has length 2");
    assert_int_equal(vmu_validate_numa_for_vm(&broken, 1, 1, NULL), -1);

    vmu_buf json;
    vmu_buf_init(&json);
    assert_int_equal(vmu_numa_format_json(NULL, &json), -1);
    assert_int_equal(vmu_numa_processors_format_json(NULL, &json), -1);
    assert_int_equal(vmu_numa_format_json(&broken, NULL), -1);
    assert_int_equal(json.len, 0);
    vmu_numa_free(NULL);
    vmu_numa_processors_free(NULL);
}

static void test_memory_backing_type_names(void **state)
{
    (void)state;
    assert_string_equal(vmu_memory_backing_type_name(VMU_MEMORY_BACKING_NONE), "");
    assert_string_equal(vmu_memory_backing_type_name(VMU_MEMORY_BACKING_PHYSICAL), "Physical");
    assert_string_equal(vmu_memory_backing_type_name(VMU_MEMORY_BACKING_VIRTUAL), "Virtual");
    assert_string_equal(vmu_memory_backing_type_name(VMU_MEMORY_BACKING_HYBRID), "Hybrid");
    assert_string_equal(vmu_memory_backing_type_name((vmu_memory_backing_type)99), "");
}

static void test_json_omits_empty_fields(void **state)
{
    (void)state;
    vmu_buf json;
    vmu_buf_init(&json);
    vmu_numa empty = {0};
    assert_int_equal(vmu_numa_format_json(&empty, &json), 0);
    assert_int_equal(json.len, 2);
    assert_memory_equal(json.data, "{}", 2);
    vmu_buf_reset(&json);
    vmu_numa_processors processors = {{0}, 3};
    assert_int_equal(vmu_numa_processors_format_json(&processors, &json), 0);
    const char *expected = "{\"count_per_node\":{},\"node_per_socket\":3}";
    assert_int_equal(json.len, strlen(expected));
    assert_memory_equal(json.data, expected, json.len);
    vmu_buf_reset(&json);
    int64_t negative[] = {-1, 9223372036854775807};
    vmu_numa numa = {0};
    numa.preferred_physical_nodes = negative;
    numa.preferred_physical_nodes_len = 2;
    assert_int_equal(vmu_numa_format_json(&numa, &json), 0);
    expected = "{\"PreferredPhysicalNodes\":[-1,9223372036854775807]}";
    assert_int_equal(json.len, strlen(expected));
    assert_memory_equal(json.data, expected, json.len);
    vmu_buf_free(&json);
}

/* Every allocation in turn fails: each call either succeeds whole or says
 * "out of memory", and nothing leaks (valgrind and ASan check that). */
static void test_prepare_without_memory(void **state)
{
    (void)state;
    static const struct {
        config_row config;
        bool can_fail; /* a warning-only row succeeds even without memory */
    } rows[] = {
        {{.max_processors = 4, .max_memory = 1024, PREFERRED(2, 0, 1)}, true},
        {{MAPPED(2, 0, 1), PROCESSORS(2, 4, 4), BLOCKS(2, 1024, 1024), PREFERRED(1, 5)}, true},
        {{.max_memory = 1024, PREFERRED(1, 0)}, false},
    };
    for (size_t r = 0; r < ARRAY_LEN(rows); r++) {
        vmu_numa_config config = config_of(&rows[r].config);
        log_capture cap;
        capture_start(&cap, VMU_LEVEL_DEBUG);
        bool succeeded = false;
        size_t failures = 0;
        for (long n = 0; n < 64 && !succeeded; n++) {
            vmu_numa *numa;
            vmu_numa_processors *processors;
            vmu_err err;
            vmu_alloc_fail_after(n);
            int status =
                vmu_prepare_vnuma_topology(cap.logger, &config, -1, &numa, &processors, &err);
            vmu_alloc_fail_after(-1);
            if (status != 0) {
                failures++;
                assert_string_equal(err.msg, "out of memory");
                assert_null(numa);
                assert_null(processors);
            } else {
                succeeded = n > 8; /* past every allocation point */
            }
            vmu_numa_free(numa);
            vmu_numa_processors_free(processors);
            capture_clear(&cap);
        }
        assert_true(succeeded);
        assert_true(rows[r].can_fail ? failures > 0 : failures == 0);
        capture_stop(&cap);
    }
}

int main(void)
{
    static struct CMUnitTest tests[ARRAY_LEN(validate_cases) + ARRAY_LEN(for_vm_cases) +
                                   ARRAY_LEN(prepare_cases) + 8];
    size_t n = 0;
    for (size_t i = 0; i < ARRAY_LEN(validate_cases); i++)
        tests[n++] = (struct CMUnitTest)ROW_TEST(test_validate, validate_cases[i]);
    for (size_t i = 0; i < ARRAY_LEN(for_vm_cases); i++)
        tests[n++] = (struct CMUnitTest)ROW_TEST(test_validate_for_vm, for_vm_cases[i]);
    for (size_t i = 0; i < ARRAY_LEN(prepare_cases); i++)
        tests[n++] = (struct CMUnitTest)ROW_TEST(test_prepare, prepare_cases[i]);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_validate_nil_settings);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_prepare_debug_needs_debug_level);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_prepare_many_nodes);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_validate_many_settings);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_null_arguments);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_memory_backing_type_names);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_json_omits_empty_fields);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_prepare_without_memory);
    if (n != ARRAY_LEN(tests)) {
        fprintf(stderr, "test table holds %zu tests, filled %zu\n", ARRAY_LEN(tests), n);
        return 1;
    }
    return cmocka_run_group_tests_name("numa", tests, NULL, NULL);
}
