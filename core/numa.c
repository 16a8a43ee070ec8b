/* vNUMA topologies (hcsshim's numa.go): turning a NUMA configuration into the
 * HCS schema's Numa / NumaProcessors, and the checks made on the result. */
#include <inttypes.h>
#include <stdbool.h>
#include <string.h>

#include "json_member.h"
#include "vmutils.h"

static const char *const backing_type_names[] = {"", "Physical", "Virtual", "Hybrid"};

const char *vmu_memory_backing_type_name(vmu_memory_backing_type type)
{
    if ((unsigned)type < sizeof backing_type_names / sizeof backing_type_names[0])
        return backing_type_names[type];
    return "";
}

/* ---- JSON, as encoding/json writes the hcsschema structs ---- */

static void json_setting(vmu_buf *out, const vmu_numa_setting *s)
{
    bool first = true;
    vmu_buf_putc(out, '{');
    if (s->virtual_node_number) {
        vmu_json_member_key(out, &first, "VirtualNodeNumber");
        vmu_buf_printf(out, "%" PRIu32, s->virtual_node_number);
    }
    if (s->physical_node_number) {
        vmu_json_member_key(out, &first, "PhysicalNodeNumber");
        vmu_buf_printf(out, "%" PRIu32, s->physical_node_number);
    }
    if (s->virtual_socket_number) {
        vmu_json_member_key(out, &first, "VirtualSocketNumber");
        vmu_buf_printf(out, "%" PRIu32, s->virtual_socket_number);
    }
    if (s->count_of_processors) {
        vmu_json_member_key(out, &first, "CountOfProcessors");
        vmu_buf_printf(out, "%" PRIu32, s->count_of_processors);
    }
    if (s->count_of_memory_blocks) {
        vmu_json_member_key(out, &first, "CountOfMemoryBlocks");
        vmu_buf_printf(out, "%" PRIu64, s->count_of_memory_blocks);
    }
    const char *backing = vmu_memory_backing_type_name(s->memory_backing_type);
    if (*backing) {
        vmu_json_member_key(out, &first, "MemoryBackingType");
        vmu_buf_printf(out, "\"%s\"", backing);
    }
    vmu_buf_putc(out, '}');
}

int vmu_numa_format_json(const vmu_numa *numa, vmu_buf *out)
{
    if (!numa || !out)
        return -1;
    size_t start = out->len;
    bool first = true;
    vmu_buf_putc(out, '{');
    if (numa->virtual_node_count) {
        vmu_json_member_key(out, &first, "VirtualNodeCount");
        vmu_buf_printf(out, "%u", (unsigned)numa->virtual_node_count);
    }
    if (numa->preferred_physical_nodes_len && numa->preferred_physical_nodes) {
        vmu_json_member_key(out, &first, "PreferredPhysicalNodes");
        vmu_buf_putc(out, '[');
        for (size_t i = 0; i < numa->preferred_physical_nodes_len; i++)
            vmu_buf_printf(out, i ? ",%" PRId64 : "%" PRId64, numa->preferred_physical_nodes[i]);
        vmu_buf_putc(out, ']');
    }
    if (numa->settings_len && numa->settings) {
        vmu_json_member_key(out, &first, "Settings");
        vmu_buf_putc(out, '[');
        for (size_t i = 0; i < numa->settings_len && !out->failed; i++) {
            if (i)
                vmu_buf_putc(out, ',');
            json_setting(out, &numa->settings[i]);
        }
        vmu_buf_putc(out, ']');
    }
    if (numa->max_size_per_node) {
        vmu_json_member_key(out, &first, "MaxSizePerNode");
        vmu_buf_printf(out, "%" PRIu64, numa->max_size_per_node);
    }
    vmu_buf_putc(out, '}');
    if (out->failed) {
        out->len = start;
        return -1;
    }
    return 0;
}

int vmu_numa_processors_format_json(const vmu_numa_processors *processors, vmu_buf *out)
{
    if (!processors || !out)
        return -1;
    size_t start = out->len;
    /* count_per_node is a struct, which omitempty never omits. */
    vmu_buf_puts(out, "{\"count_per_node\":{");
    if (processors->count_per_node.max)
        vmu_buf_printf(out, "\"max\":%" PRIu32, processors->count_per_node.max);
    vmu_buf_putc(out, '}');
    if (processors->node_per_socket)
        vmu_buf_printf(out, ",\"node_per_socket\":%" PRIu32, processors->node_per_socket);
    vmu_buf_putc(out, '}');
    if (out->failed) {
        out->len = start;
        return -1;
    }
    return 0;
}

/* A Go slice as log.Format prints it: "null" for nil, else a JSON array.
 * Exactly one of u32 / u64 is used. */
static void json_slice(vmu_buf *out, const uint32_t *u32, const uint64_t *u64, size_t len)
{
    if (!u32 && !u64) {
        vmu_buf_puts(out, "null");
        return;
    }
    vmu_buf_putc(out, '[');
    for (size_t i = 0; i < len && !out->failed; i++) {
        if (i)
            vmu_buf_putc(out, ',');
        if (u32)
            vmu_buf_printf(out, "%" PRIu32, u32[i]);
        else
            vmu_buf_printf(out, "%" PRIu64, u64[i]);
    }
    vmu_buf_putc(out, ']');
}

/* ---- logging ---- */

/* log.Format's texts are built in one buffer; these are their spans. Go
 * logs "" for a value it could not format, which is what a failed
 * allocation gives here too. */
typedef struct json_span {
    size_t start, len;
} json_span;

static json_span span_end(vmu_buf *buf, size_t start)
{
    json_span span = {start, buf->failed ? 0 : buf->len - start};
    return span;
}

static vmu_field span_field(const char *key, const vmu_buf *buf, json_span span)
{
    if (buf->failed || span.len == 0)
        return vmu_field_strn(key, "", 0);
    return vmu_field_strn(key, buf->data + span.start, span.len);
}

static void log_msg(vmu_logger *logger, vmu_log_level level, const char *msg,
                    const vmu_field *fields, size_t count)
{
    vmu_log(logger, level, msg, strlen(msg), fields, count);
}

static void warn_incomplete(vmu_logger *logger, const vmu_numa_config *c)
{
    if (!vmu_logger_enabled(logger, VMU_LEVEL_WARN))
        return;
    vmu_buf text;
    vmu_buf_init(&text);
    if (c->max_memory_size_per_numa_node > 0 || c->preferred_physical_numa_nodes_len > 0) {
        size_t start = text.len;
        json_slice(&text, c->preferred_physical_numa_nodes, NULL,
                   c->preferred_physical_numa_nodes_len);
        json_span preferred = span_end(&text, start);
        vmu_field fields[] = {
            vmu_field_uint("max-memory-size-per-numa-node", c->max_memory_size_per_numa_node),
            vmu_field_uint("max-processors-per-numa-node", c->max_processors_per_numa_node),
            span_field("preferred-physical-numa-nodes", &text, preferred),
        };
        log_msg(logger, VMU_LEVEL_WARN, "potentially incomplete implicit vNUMA topology", fields,
                sizeof fields / sizeof fields[0]);
    }
    if (c->numa_processor_counts_len > 0 || c->numa_memory_blocks_counts_len > 0) {
        vmu_buf_reset(&text);
        size_t start = text.len;
        json_slice(&text, c->numa_mapped_physical_nodes, NULL, c->numa_mapped_physical_nodes_len);
        json_span mapped = span_end(&text, start);
        start = text.len;
        json_slice(&text, c->numa_processor_counts, NULL, c->numa_processor_counts_len);
        json_span processors = span_end(&text, start);
        start = text.len;
        json_slice(&text, NULL, c->numa_memory_blocks_counts, c->numa_memory_blocks_counts_len);
        json_span blocks = span_end(&text, start);
        vmu_field fields[] = {
            span_field("numa-mapped-physical-nodes", &text, mapped),
            span_field("numa-processor-counts", &text, processors),
            span_field("numa-memory-block-counts", &text, blocks),
        };
        log_msg(logger, VMU_LEVEL_WARN, "potentially incomplete explicit vNUMA topology", fields,
                sizeof fields / sizeof fields[0]);
    }
    vmu_buf_free(&text);
}

static void debug_created(vmu_logger *logger, const vmu_numa *numa,
                          const vmu_numa_processors *processors)
{
    if (!vmu_logger_enabled(logger, VMU_LEVEL_DEBUG))
        return;
    vmu_buf text;
    vmu_buf_init(&text);
    vmu_numa_format_json(numa, &text);
    json_span numa_json = span_end(&text, 0);
    if (processors) {
        size_t start = text.len;
        vmu_numa_processors_format_json(processors, &text);
        vmu_field fields[] = {
            span_field("numa", &text, numa_json),
            span_field("numa-processors", &text, span_end(&text, start)),
        };
        log_msg(logger, VMU_LEVEL_DEBUG, "created implicit NUMA topology", fields, 2);
    } else {
        vmu_field field = span_field("numa", &text, numa_json);
        log_msg(logger, VMU_LEVEL_DEBUG, "created explicit NUMA topology", &field, 1);
    }
    vmu_buf_free(&text);
}

/* ---- PrepareVNumaTopology ---- */

static const char out_of_memory[] = "out of memory";

/* A length without its array would be read through NULL. */
static int check_array(const void *items, size_t len, const char *name, vmu_err *err)
{
    if (!items && len)
        return vmu_err_set(err, "vmu_prepare_vnuma_topology: %s is NULL but has length %zu", name,
                           len);
    return 0;
}

static int check_config(const vmu_numa_config *c, vmu_err *err)
{
    if (check_array(c->preferred_physical_numa_nodes, c->preferred_physical_numa_nodes_len,
                    "preferred_physical_numa_nodes", err) ||
        check_array(c->numa_mapped_physical_nodes, c->numa_mapped_physical_nodes_len,
                    "numa_mapped_physical_nodes", err) ||
        check_array(c->numa_processor_counts, c->numa_processor_counts_len,
                    "numa_processor_counts", err) ||
        check_array(c->numa_memory_blocks_counts, c->numa_memory_blocks_counts_len,
                    "numa_memory_blocks_counts", err))
        return -1;
    return 0;
}

static vmu_numa *numa_new(const vmu_numa_config *c)
{
    vmu_numa *numa = vmu_calloc(1, sizeof *numa);
    if (!numa)
        return NULL;
    size_t n = c->preferred_physical_numa_nodes_len;
    /* Go builds this slice by appending, so no preferred nodes stays nil. */
    if (n) {
        if (n > SIZE_MAX / sizeof *numa->preferred_physical_nodes)
            goto fail;
        numa->preferred_physical_nodes = vmu_malloc(n * sizeof *numa->preferred_physical_nodes);
        if (!numa->preferred_physical_nodes)
            goto fail;
        for (size_t i = 0; i < n; i++)
            numa->preferred_physical_nodes[i] = (int64_t)c->preferred_physical_numa_nodes[i];
        numa->preferred_physical_nodes_len = n;
    }
    return numa;
fail:
    vmu_numa_free(numa);
    return NULL;
}

static int prepare_implicit(vmu_logger *logger, const vmu_numa_config *c, vmu_numa **numa_out,
                            vmu_numa_processors **processors_out, vmu_err *err)
{
    if (c->max_memory_size_per_numa_node == 0)
        return vmu_err_set(
            err, "max size per node must be set when max processors per numa node is set");
    vmu_numa *numa = numa_new(c);
    vmu_numa_processors *processors = vmu_calloc(1, sizeof *processors);
    if (!numa || !processors) {
        vmu_numa_free(numa);
        vmu_numa_processors_free(processors);
        return vmu_err_set(err, "%s", out_of_memory);
    }
    numa->max_size_per_node = c->max_memory_size_per_numa_node;
    processors->count_per_node.max = c->max_processors_per_numa_node;
    debug_created(logger, numa, processors);
    *numa_out = numa;
    *processors_out = processors;
    return 0;
}

static int prepare_explicit(vmu_logger *logger, const vmu_numa_config *c, vmu_numa **numa_out,
                            vmu_err *err)
{
    size_t count = c->numa_mapped_physical_nodes_len;
    if (count != c->numa_processor_counts_len || count != c->numa_memory_blocks_counts_len)
        return vmu_err_set(err, "mismatch in number of physical numa nodes and the corresponding "
                                "processor and memory blocks count");
    vmu_numa *numa = numa_new(c);
    if (!numa || count > SIZE_MAX / sizeof *numa->settings)
        goto out_of_memory;
    numa->settings = vmu_malloc(count * sizeof *numa->settings);
    if (!numa->settings)
        goto out_of_memory;
    numa->settings_len = count;
    /* Go's uint8(len): wraps at 256, but validate rejects any topology
     * with more than 65 nodes (virtual node number 65) anyway. */
    numa->virtual_node_count = (uint8_t)count;
    for (size_t i = 0; i < count; i++) {
        vmu_numa_setting *s = &numa->settings[i];
        s->virtual_node_number = (uint32_t)i;
        s->physical_node_number = c->numa_mapped_physical_nodes[i];
        s->virtual_socket_number = (uint32_t)i;
        s->count_of_processors = c->numa_processor_counts[i];
        s->count_of_memory_blocks = c->numa_memory_blocks_counts[i];
        s->memory_backing_type = VMU_MEMORY_BACKING_PHYSICAL;
    }
    /* Go logs the topology before validating it. */
    debug_created(logger, numa, NULL);
    if (vmu_validate_numa(numa, err) != 0) {
        vmu_numa_free(numa);
        return -1;
    }
    *numa_out = numa;
    return 0;
out_of_memory:
    vmu_numa_free(numa);
    return vmu_err_set(err, "%s", out_of_memory);
}

int vmu_prepare_vnuma_topology(vmu_logger *logger, const vmu_numa_config *config,
                               int32_t host_os_build, vmu_numa **numa_out,
                               vmu_numa_processors **processors_out, vmu_err *err)
{
    if (numa_out)
        *numa_out = NULL;
    if (processors_out)
        *processors_out = NULL;
    if (!config || !numa_out || !processors_out)
        return vmu_err_set(err, "vmu_prepare_vnuma_topology: config, numa_out and "
                                "processors_out must not be NULL");
    if (check_config(config, err) != 0)
        return -1;

    if (config->max_processors_per_numa_node == 0 && config->numa_mapped_physical_nodes_len == 0) {
        /* A half-filled configuration is probably a client mistake. */
        warn_incomplete(logger, config);
        return 0;
    }
    if (host_os_build >= 0 && host_os_build < VMU_NUMA_MIN_OS_BUILD)
        return vmu_err_set(err, "vNUMA topology is not supported on %" PRId32 " version of Windows",
                           host_os_build);
    if (config->max_processors_per_numa_node > 0)
        return prepare_implicit(logger, config, numa_out, processors_out, err);
    return prepare_explicit(logger, config, numa_out, err);
}

/* ---- validate / ValidateNumaForVM ---- */

int vmu_validate_numa(const vmu_numa *numa, vmu_err *err)
{
    if (!numa)
        return vmu_err_set(err, "vmu_validate_numa: numa must not be NULL");
    if (numa->settings_len == 0)
        return 0;
    if (!numa->settings)
        return vmu_err_set(err, "vmu_validate_numa: settings is NULL but has length %zu",
                           numa->settings_len);

    /* Virtual node numbers past the maximum fail before the duplicate
     * check, so a fixed set covers every number that reaches it. */
    bool seen_virtual_node[VMU_NUMA_CHILD_NODE_COUNT_MAX + 1] = {false};
    uint32_t total_processors = 0;
    uint64_t total_memory_mb = 0;
    bool has_wildcard = numa->settings[0].physical_node_number == VMU_NUMA_WILDCARD_PHYSICAL_NODE;

    for (size_t i = 0; i < numa->settings_len; i++) {
        const vmu_numa_setting *s = &numa->settings[i];
        if (s->virtual_node_number > VMU_NUMA_CHILD_NODE_COUNT_MAX)
            return vmu_err_set(err,
                               "vNUMA virtual node number %" PRIu32
                               " exceeds maximum allowed value %u",
                               s->virtual_node_number, VMU_NUMA_CHILD_NODE_COUNT_MAX);
        bool wildcard = s->physical_node_number == VMU_NUMA_WILDCARD_PHYSICAL_NODE;
        if (!wildcard && s->physical_node_number >= VMU_NUMA_TOPOLOGY_NODE_COUNT_MAX)
            return vmu_err_set(err,
                               "vNUMA physical node number %" PRIu32
                               " exceeds maximum allowed value %u",
                               s->physical_node_number, VMU_NUMA_TOPOLOGY_NODE_COUNT_MAX);
        if (has_wildcard != wildcard)
            /* Go prints this node's number as the "non-wildcard" one even
             * when it is the wildcard; kept for identical messages. */
            return vmu_err_set(err,
                               "vNUMA has a mix of wildcard (%u) and non-wildcard (%" PRIu32
                               ") physical node numbers",
                               VMU_NUMA_WILDCARD_PHYSICAL_NODE, s->physical_node_number);
        if (s->count_of_memory_blocks == 0)
            return vmu_err_set(err, "vNUMA nodes with no memory are not allowed");
        total_processors += s->count_of_processors;
        total_memory_mb += s->count_of_memory_blocks;
        if (seen_virtual_node[s->virtual_node_number])
            return vmu_err_set(err, "vNUMA virtual node number %" PRIu32 " is duplicated",
                               s->virtual_node_number);
        seen_virtual_node[s->virtual_node_number] = true;
    }

    if ((total_memory_mb == 0) != (total_processors == 0))
        return vmu_err_set(err, "partial resource allocation is not allowed");
    if (total_memory_mb == 0 && has_wildcard)
        return vmu_err_set(err, "completely empty topology is not allowed");
    return 0;
}

int vmu_validate_numa_for_vm(const vmu_numa *numa, uint32_t proc_count, uint64_t mem_in_mb,
                             vmu_err *err)
{
    if (!numa)
        return vmu_err_set(err, "vmu_validate_numa_for_vm: numa must not be NULL");
    if (numa->settings_len && !numa->settings)
        return vmu_err_set(err, "vmu_validate_numa_for_vm: settings is NULL but has length %zu",
                           numa->settings_len);
    uint32_t total_processors = 0;
    uint64_t total_memory_mb = 0;
    for (size_t i = 0; i < numa->settings_len; i++) {
        total_processors += numa->settings[i].count_of_processors;
        total_memory_mb += numa->settings[i].count_of_memory_blocks;
    }
    if (total_processors != 0 && total_processors != proc_count)
        return vmu_err_set(err,
                           "vNUMA total processor count %" PRIu32
                           " does not match UVM processor count %" PRIu32,
                           total_processors, proc_count);
    if (total_memory_mb != 0 && total_memory_mb != mem_in_mb)
        return vmu_err_set(err,
                           "vNUMA total memory %" PRIu64 " does not match UVM memory %" PRIu64,
                           total_memory_mb, mem_in_mb);
    return 0;
}

void vmu_numa_free(vmu_numa *numa)
{
    if (!numa)
        return;
    vmu_free(numa->preferred_physical_nodes);
    vmu_free(numa->settings);
    vmu_free(numa);
}

void vmu_numa_processors_free(vmu_numa_processors *processors) { vmu_free(processors); }
