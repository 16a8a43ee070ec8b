/* Fuzz target: vmu_prepare_vnuma_topology on fuzzer-built configurations,
 * then vmu_validate_numa / vmu_validate_numa_for_vm on fuzzer-built
 * settings.
 *
 * Input layout (fuzz_input.h: reads past the end give zeros): a level and
 * host-build selector, the implicit fields, a node count and one length
 * perturbation per array, the array items; then a second, independent
 * settings list for the validators.
 *
 * Properties:
 *  - the outcome follows numa.go's decision tree: nothing configured gives
 *    no result and exactly the "potentially incomplete" warnings due; an old
 *    host build, a missing max size, mismatched lengths fail with Go's
 *    message; an implicit topology copies the config; an explicit one has
 *    one physically backed setting per node, numbered 0..n-1;
 *  - the explicit outcome, and vmu_validate_numa on any settings, agree
 *    with an independent reference of Go's validate() (same verdict, same
 *    message), and so do the totals checks of ValidateNumaForVM;
 *  - a result validates again, matches the VM it describes, and its JSON
 *    (vmu_numa_format_json) is what the debug record carries and is valid
 *    JSON; failures leave both outputs NULL and a message. */
#include <inttypes.h>
#include <stdbool.h>

#include <yajl/yajl_tree.h>

#include "fuzz_input.h"
#include "vmutils.h"

#define MAX_NODES 80 /* past the 64/65-node limits, so they are reached */

/* ---- what the logger received -------------------------------------------- */

typedef struct seen_record {
    vmu_log_level level;
    char msg[64];
    char numa_json[4096]; /* the "numa" field of a debug record, if any */
    size_t numa_json_len;
    bool numa_json_truncated;
} seen_record;

static seen_record seen[4];
static size_t seen_count;

static void remember(void *user, const vmu_log_record *r)
{
    (void)user;
    FUZZ_REQUIRE(seen_count < sizeof seen / sizeof seen[0], "too many records");
    seen_record *s = &seen[seen_count++];
    memset(s, 0, sizeof *s);
    s->level = r->level;
    snprintf(s->msg, sizeof s->msg, "%.*s", (int)r->msg_len, r->msg);
    for (size_t i = 0; i < r->field_count; i++) {
        const vmu_field *f = &r->fields[i];
        if (f->key_len == 4 && memcmp(f->key, "numa", 4) == 0 &&
            f->value.kind == VMU_VALUE_STRING) {
            size_t n = f->value.as.str.len;
            s->numa_json_truncated = n > sizeof s->numa_json;
            s->numa_json_len = s->numa_json_truncated ? sizeof s->numa_json : n;
            memcpy(s->numa_json, f->value.as.str.ptr, s->numa_json_len);
        }
    }
}

static size_t count_msg(const char *msg)
{
    size_t n = 0;
    for (size_t i = 0; i < seen_count; i++)
        n += strcmp(seen[i].msg, msg) == 0;
    return n;
}

/* ---- Go's validate(), written from numa.go's rules --------------------- */

static int reference_validate(const vmu_numa_setting *s, size_t n, char *msg, size_t cap)
{
    if (n == 0)
        return 0;
    bool wildcard0 = s[0].physical_node_number == 0xFF;
    uint32_t vps = 0;
    uint64_t mem = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i].virtual_node_number > 64) {
            snprintf(msg, cap, "vNUMA virtual node number %" PRIu32 " exceeds maximum allowed value 64",
                     s[i].virtual_node_number);
            return -1;
        }
        bool wildcard = s[i].physical_node_number == 0xFF;
        if (!wildcard && s[i].physical_node_number >= 64) {
            snprintf(msg, cap, "vNUMA physical node number %" PRIu32 " exceeds maximum allowed value 64",
                     s[i].physical_node_number);
            return -1;
        }
        if (wildcard != wildcard0) {
            snprintf(msg, cap,
                     "vNUMA has a mix of wildcard (255) and non-wildcard (%" PRIu32
                     ") physical node numbers",
                     s[i].physical_node_number);
            return -1;
        }
        if (s[i].count_of_memory_blocks == 0) {
            snprintf(msg, cap, "vNUMA nodes with no memory are not allowed");
            return -1;
        }
        vps += s[i].count_of_processors;
        mem += s[i].count_of_memory_blocks;
        for (size_t j = 0; j < i; j++) {
            if (s[j].virtual_node_number == s[i].virtual_node_number) {
                snprintf(msg, cap, "vNUMA virtual node number %" PRIu32 " is duplicated",
                         s[i].virtual_node_number);
                return -1;
            }
        }
    }
    if ((mem == 0) != (vps == 0)) {
        snprintf(msg, cap, "partial resource allocation is not allowed");
        return -1;
    }
    if (mem == 0 && wildcard0) {
        snprintf(msg, cap, "completely empty topology is not allowed");
        return -1;
    }
    return 0;
}

static void totals(const vmu_numa_setting *s, size_t n, uint32_t *vps, uint64_t *mem)
{
    *vps = 0;
    *mem = 0;
    for (size_t i = 0; i < n; i++) {
        *vps += s[i].count_of_processors;
        *mem += s[i].count_of_memory_blocks;
    }
}

static bool same_setting(const vmu_numa_setting *a, const vmu_numa_setting *b)
{
    return a->virtual_node_number == b->virtual_node_number &&
           a->physical_node_number == b->physical_node_number &&
           a->virtual_socket_number == b->virtual_socket_number &&
           a->count_of_processors == b->count_of_processors &&
           a->count_of_memory_blocks == b->count_of_memory_blocks &&
           a->memory_backing_type == b->memory_backing_type;
}

static void require_same_verdict(int got, const vmu_err *err, int want, const char *want_msg,
                                 const char *what)
{
    FUZZ_REQUIRE((got == 0) == (want == 0), "%s: got %d (%s), reference %d (%s)", what, got,
                 got ? err->msg : "", want, want ? want_msg : "");
    if (want)
        FUZZ_REQUIRE(strcmp(err->msg, want_msg) == 0, "%s: message '%s', reference '%s'", what,
                     err->msg, want_msg);
}

static void require_valid_json(const char *text, size_t len, const char *what)
{
    char *copy = malloc(len + 1);
    FUZZ_REQUIRE(copy, "malloc");
    memcpy(copy, text, len);
    copy[len] = '\0';
    char why[256];
    yajl_val tree = yajl_tree_parse(copy, why, sizeof why);
    FUZZ_REQUIRE(tree && YAJL_IS_OBJECT(tree), "%s is not a JSON object: %s", what, copy);
    yajl_tree_free(tree);
    free(copy);
}

/* ---- the config ----------------------------------------------------------- */

static uint32_t physical_node(fuzz_input *in)
{
    uint8_t b = fuzz_u8(in);
    if (b < 0x50)
        return b;        /* around the 64 limit */
    if (b < 0xF0)
        return 0xFF;     /* the wildcard, often */
    return fuzz_u32(in); /* anything */
}

static uint64_t memory_blocks(fuzz_input *in)
{
    uint8_t b = fuzz_u8(in);
    if (b < 0xF0)
        return b;
    return fuzz_u64(in); /* sums that wrap */
}

/* One byte decides whether an array is nil, and whether its length is the
 * node count or another. */
static size_t array_len(fuzz_input *in, size_t nodes, bool *is_nil)
{
    uint8_t b = fuzz_u8(in);
    *is_nil = (b & 0xC0) == 0xC0;
    if (*is_nil)
        return 0;
    return (b & 0x80) ? (size_t)(b & 0x3F) : nodes;
}

static void check_prepare(fuzz_input *in, vmu_logger *logger, vmu_log_level level)
{
    uint8_t build_choice = fuzz_u8(in);
    int32_t host_build = build_choice < 0x40   ? -1
                         : build_choice < 0x80 ? VMU_NUMA_MIN_OS_BUILD
                         : build_choice < 0xC0 ? VMU_OSVERSION_V21H2_SERVER
                                               : (int32_t)fuzz_u32(in);

    uint32_t preferred[MAX_NODES] = {0}, mapped[MAX_NODES] = {0}, processors[MAX_NODES] = {0};
    uint64_t blocks[MAX_NODES] = {0};
    vmu_numa_config c;
    memset(&c, 0, sizeof c);
    c.max_processors_per_numa_node = (fuzz_u8(in) & 1) ? fuzz_small_or_wide_u32(in) : 0;
    c.max_memory_size_per_numa_node = (fuzz_u8(in) & 1) ? memory_blocks(in) : 0;
    size_t nodes = fuzz_u8(in) % MAX_NODES;
    bool nil[4];
    size_t lens[4];
    for (int a = 0; a < 4; a++)
        lens[a] = array_len(in, nodes, &nil[a]);
    for (size_t i = 0; i < lens[0]; i++)
        preferred[i] = physical_node(in);
    for (size_t i = 0; i < lens[1]; i++)
        mapped[i] = physical_node(in);
    for (size_t i = 0; i < lens[2]; i++)
        processors[i] = fuzz_small_or_wide_u32(in);
    for (size_t i = 0; i < lens[3]; i++)
        blocks[i] = memory_blocks(in);
    c.preferred_physical_numa_nodes = nil[0] ? NULL : preferred;
    c.preferred_physical_numa_nodes_len = lens[0];
    c.numa_mapped_physical_nodes = nil[1] ? NULL : mapped;
    c.numa_mapped_physical_nodes_len = lens[1];
    c.numa_processor_counts = nil[2] ? NULL : processors;
    c.numa_processor_counts_len = lens[2];
    c.numa_memory_blocks_counts = nil[3] ? NULL : blocks;
    c.numa_memory_blocks_counts_len = lens[3];

    seen_count = 0;
    vmu_numa *numa = (vmu_numa *)1;
    vmu_numa_processors *procs = (vmu_numa_processors *)1;
    vmu_err err = {{0}};
    int rc = vmu_prepare_vnuma_topology(logger, &c, host_build, &numa, &procs, &err);
    FUZZ_REQUIRE(rc == 0 || rc == -1, "status %d", rc);
    if (rc != 0)
        FUZZ_REQUIRE(!numa && !procs && err.msg[0], "a failure left results or no message");

    bool warn_on = level >= VMU_LEVEL_WARN, debug_on = level >= VMU_LEVEL_DEBUG;
    char want_msg[256];

    if (c.max_processors_per_numa_node == 0 && c.numa_mapped_physical_nodes_len == 0) {
        FUZZ_REQUIRE(rc == 0 && !numa && !procs, "an empty config gave a topology or an error");
        size_t want_implicit = warn_on && (c.max_memory_size_per_numa_node > 0 || lens[0] > 0);
        size_t want_explicit = warn_on && (lens[2] > 0 || lens[3] > 0);
        FUZZ_REQUIRE(count_msg("potentially incomplete implicit vNUMA topology") == want_implicit &&
                         count_msg("potentially incomplete explicit vNUMA topology") == want_explicit &&
                         seen_count == want_implicit + want_explicit,
                     "warnings: %zu records", seen_count);
        return;
    }
    if (host_build >= 0 && host_build < VMU_NUMA_MIN_OS_BUILD) {
        snprintf(want_msg, sizeof want_msg, "vNUMA topology is not supported on %" PRId32 " version of Windows",
                 host_build);
        FUZZ_REQUIRE(rc == -1 && strcmp(err.msg, want_msg) == 0 && seen_count == 0,
                     "old build: %s", err.msg);
        return;
    }
    if (c.max_processors_per_numa_node > 0) {
        if (c.max_memory_size_per_numa_node == 0) {
            FUZZ_REQUIRE(rc == -1 && strcmp(err.msg, "max size per node must be set when max "
                                                      "processors per numa node is set") == 0,
                         "implicit without size: %s", err.msg);
            return;
        }
        FUZZ_REQUIRE(rc == 0 && numa && procs, "implicit topology failed: %s", err.msg);
        FUZZ_REQUIRE(procs->count_per_node.max == c.max_processors_per_numa_node &&
                         numa->max_size_per_node == c.max_memory_size_per_numa_node &&
                         numa->settings_len == 0 && numa->virtual_node_count == 0,
                     "implicit topology does not copy the config");
    } else {
        size_t n = c.numa_mapped_physical_nodes_len;
        if (n != lens[2] || n != lens[3]) {
            FUZZ_REQUIRE(rc == -1 && strstr(err.msg, "mismatch in number of physical numa nodes"),
                         "mismatched lengths: %s", err.msg);
            FUZZ_REQUIRE(seen_count == 0, "records before the mismatch error");
            return;
        }
        vmu_numa_setting expected[MAX_NODES] = {{0}};
        for (size_t i = 0; i < n; i++) {
            vmu_numa_setting s = {(uint32_t)i, mapped[i], (uint32_t)i, processors[i], blocks[i],
                                  VMU_MEMORY_BACKING_PHYSICAL};
            expected[i] = s;
        }
        char ref_msg[256];
        int want = reference_validate(expected, n, ref_msg, sizeof ref_msg);
        require_same_verdict(rc, &err, want, ref_msg, "explicit topology");
        /* Go logs the topology before validating it. */
        FUZZ_REQUIRE(count_msg("created explicit NUMA topology") == (size_t)debug_on,
                     "debug record missing or extra");
        if (rc != 0)
            return;
        FUZZ_REQUIRE(!procs && numa->settings_len == n && numa->virtual_node_count == (uint8_t)n,
                     "explicit topology shape");
        for (size_t i = 0; i < n; i++)
            FUZZ_REQUIRE(same_setting(&numa->settings[i], &expected[i]),
                         "setting %zu differs from the config", i);
        uint32_t vps;
        uint64_t mem;
        totals(numa->settings, n, &vps, &mem);
        FUZZ_REQUIRE(vmu_validate_numa(numa, &err) == 0, "result does not validate: %s", err.msg);
        FUZZ_REQUIRE(vmu_validate_numa_for_vm(numa, vps, mem, &err) == 0,
                     "result does not fit its own totals: %s", err.msg);
    }

    /* Shared by both shapes: preferred nodes copied, nil stays nil. */
    FUZZ_REQUIRE(numa->preferred_physical_nodes_len == lens[0] &&
                     (lens[0] == 0) == (numa->preferred_physical_nodes == NULL),
                 "preferred nodes");
    for (size_t i = 0; i < lens[0]; i++)
        FUZZ_REQUIRE(numa->preferred_physical_nodes[i] == (int64_t)preferred[i], "preferred %zu", i);

    vmu_buf json;
    vmu_buf_init(&json);
    FUZZ_REQUIRE(vmu_numa_format_json(numa, &json) == 0, "format_json failed");
    require_valid_json(json.data, json.len, "numa JSON");
    if (debug_on) {
        const char *want_debug = procs ? "created implicit NUMA topology" : "created explicit NUMA topology";
        FUZZ_REQUIRE(seen_count == 1 && strcmp(seen[0].msg, want_debug) == 0, "debug record");
        if (!seen[0].numa_json_truncated)
            FUZZ_REQUIRE(seen[0].numa_json_len == json.len &&
                             memcmp(seen[0].numa_json, json.data, json.len) == 0,
                         "the debug record's numa is not the result's JSON");
    } else {
        FUZZ_REQUIRE(seen_count == 0, "records below the level");
    }
    if (procs) {
        vmu_buf_reset(&json);
        FUZZ_REQUIRE(vmu_numa_processors_format_json(procs, &json) == 0, "processors JSON");
        require_valid_json(json.data, json.len, "numa processors JSON");
    }
    vmu_buf_free(&json);
    vmu_numa_free(numa);
    vmu_numa_processors_free(procs);
}

static void check_validators(fuzz_input *in)
{
    vmu_numa_setting settings[MAX_NODES] = {{0}};
    size_t n = fuzz_u8(in) % MAX_NODES;
    for (size_t i = 0; i < n; i++) {
        uint8_t v = fuzz_u8(in);
        settings[i].virtual_node_number = v < 0xF0 ? (uint32_t)(v % 70) : fuzz_u32(in);
        settings[i].physical_node_number = physical_node(in);
        settings[i].virtual_socket_number = fuzz_small_or_wide_u32(in);
        settings[i].count_of_processors = fuzz_small_or_wide_u32(in);
        settings[i].count_of_memory_blocks = memory_blocks(in);
        settings[i].memory_backing_type = (vmu_memory_backing_type)(fuzz_u8(in) % 4);
    }
    vmu_numa numa;
    memset(&numa, 0, sizeof numa);
    numa.settings = n ? settings : NULL;
    numa.settings_len = n;

    char ref_msg[256];
    vmu_err err = {{0}};
    int want = reference_validate(settings, n, ref_msg, sizeof ref_msg);
    require_same_verdict(vmu_validate_numa(&numa, &err), &err, want, ref_msg, "validate_numa");

    uint32_t vps;
    uint64_t mem;
    totals(settings, n, &vps, &mem);
    uint32_t proc_count = (fuzz_u8(in) & 1) ? vps : fuzz_small_or_wide_u32(in);
    uint64_t mem_in_mb = (fuzz_u8(in) & 1) ? mem : memory_blocks(in);
    if (vps != 0 && vps != proc_count)
        snprintf(ref_msg, sizeof ref_msg,
                 "vNUMA total processor count %" PRIu32 " does not match UVM processor count %" PRIu32,
                 vps, proc_count);
    else if (mem != 0 && mem != mem_in_mb)
        snprintf(ref_msg, sizeof ref_msg, "vNUMA total memory %" PRIu64 " does not match UVM memory %" PRIu64,
                 mem, mem_in_mb);
    else
        ref_msg[0] = '\0';
    require_same_verdict(vmu_validate_numa_for_vm(&numa, proc_count, mem_in_mb, &err), &err,
                         ref_msg[0] ? -1 : 0, ref_msg, "validate_numa_for_vm");
}

static vmu_logger *logger;

/* Released at exit, so that a replay under valgrind shows no leak. */
static void release(void) { vmu_logger_free(logger); }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!logger) {
        logger = vmu_logger_new();
        FUZZ_REQUIRE(logger, "no logger");
        atexit(release);
        vmu_logger_set_sink(logger, remember, NULL);
    }
    fuzz_input in = fuzz_input_of(data, size);
    vmu_log_level level = (vmu_log_level)(fuzz_u8(&in) % 7);
    vmu_logger_set_level(logger, level);
    check_prepare(&in, logger, level);
    check_validators(&in);
    return 0;
}
