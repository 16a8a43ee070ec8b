/* UnmarshalRuntimeOptions (hcsshim's utils.go): the google.protobuf.Any that
 * carries containerd.runhcs.v1.Options, decoded with protobuf-c under the
 * rules Go's protobuf applies; plus the inverse and the JSON rendering the
 * debug record carries. */
#include <stdlib.h>
#include <string.h>

#include <protobuf-c/protobuf-c.h>

#include "any.pb-c.h"
#include "field_scan.pb-c.h"
#include "runhcs_options.pb-c.h"
#include "json_member.h"
#include "log/gofmt.h"
#include "vmutils.h"

typedef Containerd__Runhcs__V1__Options pb_options;
typedef Containerd__Runhcs__V1__Options__DefaultContainerAnnotationsEntry pb_annotation;
typedef Containerd__Runhcs__V1__ProcessDetails pb_process_details;

#define OPTIONS_FULL_NAME "containerd.runhcs.v1.Options"
#define PROCESS_DETAILS_FULL_NAME "containerd.runhcs.v1.ProcessDetails"
#define UNMARSHAL_PREFIX "failed to unmarshal options: "
/* Go's protobuf texts ("proto: " is Go's prefix; it sometimes spells it with
 * non-breaking spaces to deter string matching: we use plain ones). */
#define ERR_INVALID_WIRE "proto: cannot parse invalid wire-format data"
#define ERR_INVALID_UTF8 "string field contains invalid UTF-8"
/* protowire.MaxValidNumber */
#define MAX_FIELD_NUMBER 536870911u

/* ---- the field table ---------------------------------------------------- */

#define FIELD(name, number, kind, member) \
    { name, number, kind, offsetof(vmu_runtime_options, member) }
const vmu_option_field vmu_option_fields[] = {
    FIELD("debug", 1, VMU_OPTION_BOOL, debug),
    FIELD("debug_type", 2, VMU_OPTION_DEBUG_TYPE, debug_type),
    FIELD("registry_root", 3, VMU_OPTION_STRING, registry_root),
    FIELD("sandbox_image", 4, VMU_OPTION_STRING, sandbox_image),
    FIELD("sandbox_platform", 5, VMU_OPTION_STRING, sandbox_platform),
    FIELD("sandbox_isolation", 6, VMU_OPTION_SANDBOX_ISOLATION, sandbox_isolation),
    FIELD("boot_files_root_path", 7, VMU_OPTION_STRING, boot_files_root_path),
    FIELD("vm_processor_count", 8, VMU_OPTION_INT32, vm_processor_count),
    FIELD("vm_memory_size_in_mb", 9, VMU_OPTION_INT32, vm_memory_size_in_mb),
    FIELD("GPUVHDPath", 10, VMU_OPTION_STRING, gpu_vhd_path),
    FIELD("scale_cpu_limits_to_sandbox", 11, VMU_OPTION_BOOL, scale_cpu_limits_to_sandbox),
    FIELD("default_container_scratch_size_in_gb", 12, VMU_OPTION_INT32,
          default_container_scratch_size_in_gb),
    FIELD("default_vm_scratch_size_in_gb", 13, VMU_OPTION_INT32, default_vm_scratch_size_in_gb),
    FIELD("share_scratch", 14, VMU_OPTION_BOOL, share_scratch),
    FIELD("NCProxyAddr", 15, VMU_OPTION_STRING, nc_proxy_addr),
    FIELD("log_level", 16, VMU_OPTION_STRING, log_level),
    FIELD("io_retry_timeout_in_sec", 17, VMU_OPTION_INT32, io_retry_timeout_in_sec),
    FIELD("default_container_annotations", 18, VMU_OPTION_ANNOTATIONS, annotations),
    FIELD("no_inherit_host_timezone", 19, VMU_OPTION_BOOL, no_inherit_host_timezone),
    FIELD("scrub_logs", 20, VMU_OPTION_OPTIONAL_BOOL, has_scrub_logs),
};
#undef FIELD
const size_t vmu_option_field_count = sizeof vmu_option_fields / sizeof vmu_option_fields[0];

static const ProtobufCEnumDescriptor *enum_descriptor(vmu_option_kind kind)
{
    switch (kind) {
    case VMU_OPTION_DEBUG_TYPE:
        return &containerd__runhcs__v1__options__debug_type__descriptor;
    case VMU_OPTION_SANDBOX_ISOLATION:
        return &containerd__runhcs__v1__options__sandbox_isolation__descriptor;
    default:
        return NULL;
    }
}

const char *vmu_option_enum_name(vmu_option_kind kind, int32_t value)
{
    const ProtobufCEnumDescriptor *desc = enum_descriptor(kind);
    const ProtobufCEnumValue *v = desc ? protobuf_c_enum_descriptor_get_value(desc, value) : NULL;
    return v ? v->name : NULL;
}

int vmu_option_enum_value(vmu_option_kind kind, const char *name, size_t len, int32_t *value)
{
    const ProtobufCEnumDescriptor *desc = enum_descriptor(kind);
    if (!desc || !name)
        return -1;
    for (unsigned i = 0; i < desc->n_values; i++) {
        const ProtobufCEnumValue *v = &desc->values[i];
        if (strlen(v->name) == len && memcmp(v->name, name, len) == 0) {
            *value = v->value;
            return 0;
        }
    }
    return -1;
}

void vmu_runtime_options_init(vmu_runtime_options *options)
{
    memset(options, 0, sizeof *options);
}

/* ---- decoding under a memory budget ------------------------------------ */

/* A protobuf-c allocator over vmu_malloc that refuses to hand out more than
 * `limit` bytes in total, so hostile input (millions of empty map entries)
 * costs bounded memory. Frees are not credited back: a decoding pass frees
 * nothing it will need again before it ends. */
typedef struct budget_allocator {
    ProtobufCAllocator base;
    size_t limit;
    size_t used;
    bool over_budget;
    bool out_of_memory;
} budget_allocator;

static void *budget_alloc(void *data, size_t size)
{
    budget_allocator *b = data;
    if (size > b->limit - b->used) {
        b->over_budget = true;
        return NULL;
    }
    void *p = vmu_malloc(size);
    if (!p) {
        b->out_of_memory = true;
        return NULL;
    }
    b->used += size;
    return p;
}

static void plain_free(void *data, void *p)
{
    (void)data;
    vmu_free(p);
}

static void *plain_alloc(void *data, size_t size)
{
    (void)data;
    return vmu_malloc(size);
}

/* Frees what any budget allocator handed out. */
static ProtobufCAllocator plain_allocator = {plain_alloc, plain_free, NULL};

static void budget_init(budget_allocator *b, size_t limit)
{
    memset(b, 0, sizeof *b);
    b->base.alloc = budget_alloc;
    b->base.free = plain_free;
    b->base.allocator_data = b;
    b->limit = limit;
}

static int budget_failure(const budget_allocator *b, vmu_err *err)
{
    if (b->over_budget)
        return vmu_err_set(err, "decoding needs more than the %zu bytes of memory allowed",
                           b->limit);
    if (b->out_of_memory)
        return vmu_err_set(err, "out of memory");
    return vmu_err_set(err, ERR_INVALID_WIRE);
}

static bool wire_type_fits(const ProtobufCFieldDescriptor *field, uint8_t wire_type)
{
    uint8_t expected;
    switch (field->type) {
    case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_FIXED32:
    case PROTOBUF_C_TYPE_FLOAT:
        expected = PROTOBUF_C_WIRE_TYPE_32BIT;
        break;
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_FIXED64:
    case PROTOBUF_C_TYPE_DOUBLE:
        expected = PROTOBUF_C_WIRE_TYPE_64BIT;
        break;
    case PROTOBUF_C_TYPE_STRING:
    case PROTOBUF_C_TYPE_BYTES:
    case PROTOBUF_C_TYPE_MESSAGE:
        return wire_type == PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED;
    default:
        expected = PROTOBUF_C_WIRE_TYPE_VARINT;
        break;
    }
    /* A repeated scalar may also come packed. */
    return wire_type == expected || (field->label == PROTOBUF_C_LABEL_REPEATED &&
                                     wire_type == PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED);
}

/* A varint protobuf-c framed (at most 10 bytes) that does not fit 64 bits:
 * protobuf-c takes it, Go's protowire refuses it. */
static bool varint_overflows(const ProtobufCMessageUnknownField *f)
{
    return f->wire_type == PROTOBUF_C_WIRE_TYPE_VARINT && f->len == 10 && f->data[9] > 1;
}

/* Unpacks `desc` from the bytes as Go's protobuf would. protobuf-c alone
 * differs in three places, all found by a first pass that reads the input
 * into vmutils.wire.FieldScan (every field unknown, so protobuf-c reports
 * each field's number and wire type): field numbers past 2^29-1 and varints
 * past 64 bits are errors in Go; a known field number with another wire type
 * is an unknown field in Go but an error (or, for bools, a misread) in
 * protobuf-c, so such fields are dropped and the rest re-packed. */
static ProtobufCMessage *unpack_like_go(const ProtobufCMessageDescriptor *desc,
                                        const uint8_t *data, size_t len, size_t budget,
                                        vmu_err *err)
{
    if (len > budget) {
        vmu_err_set(err, "decoding needs more than the %zu bytes of memory allowed", budget);
        return NULL;
    }
    budget_allocator scan_budget;
    budget_init(&scan_budget, budget);
    Vmutils__Wire__FieldScan *scan = vmutils__wire__field_scan__unpack(&scan_budget.base, len, data);
    if (!scan) {
        budget_failure(&scan_budget, err);
        return NULL;
    }

    size_t kept = 0;
    for (size_t i = 0; i < scan->base.n_unknown_fields; i++) {
        ProtobufCMessageUnknownField *f = &scan->base.unknown_fields[i];
        if (f->tag > MAX_FIELD_NUMBER || varint_overflows(f)) {
            /* Entries [kept, i) were moved down or freed already: only the
             * kept ones and those not yet looked at still own their data. */
            for (size_t rest = i; rest < scan->base.n_unknown_fields; rest++)
                scan->base.unknown_fields[kept++] = scan->base.unknown_fields[rest];
            scan->base.n_unknown_fields = kept;
            vmutils__wire__field_scan__free_unpacked(scan, &plain_allocator);
            vmu_err_set(err, ERR_INVALID_WIRE);
            return NULL;
        }
        const ProtobufCFieldDescriptor *field = protobuf_c_message_descriptor_get_field(desc, f->tag);
        if (field && !wire_type_fits(field, f->wire_type)) {
            vmu_free(f->data);
            continue;
        }
        scan->base.unknown_fields[kept++] = *f;
    }

    const uint8_t *input = data;
    size_t input_len = len;
    uint8_t *repacked = NULL;
    if (kept != scan->base.n_unknown_fields) {
        scan->base.n_unknown_fields = kept;
        input_len = protobuf_c_message_get_packed_size(&scan->base);
        repacked = budget_alloc(&scan_budget, input_len ? input_len : 1);
        if (!repacked) {
            vmutils__wire__field_scan__free_unpacked(scan, &plain_allocator);
            budget_failure(&scan_budget, err);
            return NULL;
        }
        protobuf_c_message_pack(&scan->base, repacked);
        input = repacked;
    }
    vmutils__wire__field_scan__free_unpacked(scan, &plain_allocator);

    budget_allocator message_budget;
    budget_init(&message_budget, budget);
    ProtobufCMessage *message = protobuf_c_message_unpack(desc, &message_budget.base, input_len, input);
    vmu_free(repacked);
    if (!message)
        budget_failure(&message_budget, err);
    return message;
}

static bool binary_utf8_valid(const ProtobufCBinaryData *b)
{
    return b->len == 0 || vmu_go_utf8_valid(b->data, b->len);
}

static vmu_options_string string_of(const ProtobufCBinaryData *b)
{
    vmu_options_string s = {b->len ? (const char *)b->data : NULL, b->len};
    return s;
}

/* ---- annotations: sorted by key, each key once, last value wins -------- */

typedef struct ordered_annotation {
    vmu_annotation pair;
    size_t order;
} ordered_annotation;

static int compare_keys(const vmu_options_string *a, const vmu_options_string *b)
{
    size_t n = a->len < b->len ? a->len : b->len;
    int c = n ? memcmp(a->data, b->data, n) : 0;
    if (c != 0)
        return c;
    return (a->len > b->len) - (a->len < b->len);
}

static int compare_ordered(const void *pa, const void *pb)
{
    const ordered_annotation *a = pa, *b = pb;
    int c = compare_keys(&a->pair.key, &b->pair.key);
    if (c != 0)
        return c;
    return (a->order > b->order) - (a->order < b->order);
}

static bool strictly_sorted(const vmu_annotation *pairs, size_t count)
{
    for (size_t i = 1; i < count; i++)
        if (compare_keys(&pairs[i - 1].key, &pairs[i].key) >= 0)
            return false;
    return true;
}

/* A new array of the pairs in Go map form (sorted, unique keys, the last of
 * a repeated key kept); *out_count is its length. NULL when out of memory. */
static vmu_annotation *map_form(const vmu_annotation *pairs, size_t count, size_t *out_count)
{
    *out_count = 0;
    if (count > SIZE_MAX / sizeof(ordered_annotation))
        return NULL;
    ordered_annotation *ordered = vmu_malloc(count * sizeof *ordered);
    vmu_annotation *result = vmu_malloc(count * sizeof *result);
    if (!ordered || !result) {
        vmu_free(ordered);
        vmu_free(result);
        return NULL;
    }
    for (size_t i = 0; i < count; i++) {
        ordered[i].pair = pairs[i];
        ordered[i].order = i;
    }
    qsort(ordered, count, sizeof *ordered, compare_ordered);
    size_t n = 0;
    for (size_t i = 0; i < count; i++) {
        bool superseded =
            i + 1 < count && compare_keys(&ordered[i].pair.key, &ordered[i + 1].pair.key) == 0;
        if (!superseded)
            result[n++] = ordered[i].pair;
    }
    vmu_free(ordered);
    *out_count = n;
    return result;
}

/* ---- decoded options ----------------------------------------------------- */

typedef struct options_storage {
    vmu_runtime_options view;
    pb_options *message;
    vmu_annotation *annotations;
} options_storage;

static options_storage *storage_new(vmu_err *err)
{
    options_storage *s = vmu_calloc(1, sizeof *s);
    if (!s) {
        vmu_err_set(err, "out of memory");
        return NULL;
    }
    vmu_runtime_options_init(&s->view);
    s->view.storage_ = s;
    return s;
}

void vmu_runtime_options_free(vmu_runtime_options *options)
{
    if (!options || !options->storage_)
        return;
    options_storage *s = options->storage_;
    if (s->message)
        protobuf_c_message_free_unpacked(&s->message->base, &plain_allocator);
    vmu_free(s->annotations);
    vmu_free(s);
}

static bool strings_valid(const pb_options *m)
{
    const ProtobufCBinaryData *strings[] = {
        &m->registry_root, &m->sandbox_image, &m->sandbox_platform, &m->boot_files_root_path,
        &m->gpuvhdpath,    &m->ncproxyaddr,   &m->log_level,
    };
    for (size_t i = 0; i < sizeof strings / sizeof strings[0]; i++)
        if (!binary_utf8_valid(strings[i]))
            return false;
    for (size_t i = 0; i < m->n_default_container_annotations; i++) {
        const pb_annotation *a = m->default_container_annotations[i];
        if (!binary_utf8_valid(&a->key) || !binary_utf8_valid(&a->value))
            return false;
    }
    return true;
}

/* Points the view at the message's data; the storage then owns the message. */
static int fill_view(options_storage *s, pb_options *m, vmu_err *err)
{
    vmu_runtime_options *o = &s->view;
    s->message = m;
    o->debug = m->debug;
    o->debug_type = (int32_t)m->debug_type;
    o->registry_root = string_of(&m->registry_root);
    o->sandbox_image = string_of(&m->sandbox_image);
    o->sandbox_platform = string_of(&m->sandbox_platform);
    o->sandbox_isolation = (int32_t)m->sandbox_isolation;
    o->boot_files_root_path = string_of(&m->boot_files_root_path);
    o->vm_processor_count = m->vm_processor_count;
    o->vm_memory_size_in_mb = m->vm_memory_size_in_mb;
    o->gpu_vhd_path = string_of(&m->gpuvhdpath);
    o->scale_cpu_limits_to_sandbox = m->scale_cpu_limits_to_sandbox;
    o->default_container_scratch_size_in_gb = m->default_container_scratch_size_in_gb;
    o->default_vm_scratch_size_in_gb = m->default_vm_scratch_size_in_gb;
    o->share_scratch = m->share_scratch;
    o->nc_proxy_addr = string_of(&m->ncproxyaddr);
    o->log_level = string_of(&m->log_level);
    o->io_retry_timeout_in_sec = m->io_retry_timeout_in_sec;
    o->no_inherit_host_timezone = m->no_inherit_host_timezone;
    o->has_scrub_logs =
        m->_scrub_logs_case == CONTAINERD__RUNHCS__V1__OPTIONS___SCRUB_LOGS_SCRUB_LOGS;
    o->scrub_logs = o->has_scrub_logs && m->scrub_logs;

    size_t count = m->n_default_container_annotations;
    if (count == 0)
        return 0;
    vmu_annotation *wire_order = vmu_malloc(count * sizeof *wire_order);
    if (!wire_order)
        return vmu_err_set(err, "out of memory");
    for (size_t i = 0; i < count; i++) {
        wire_order[i].key = string_of(&m->default_container_annotations[i]->key);
        wire_order[i].value = string_of(&m->default_container_annotations[i]->value);
    }
    s->annotations = map_form(wire_order, count, &o->annotation_count);
    vmu_free(wire_order);
    if (!s->annotations)
        return vmu_err_set(err, "out of memory");
    o->annotations = s->annotations;
    return 0;
}

vmu_runtime_options *vmu_runtime_options_decode_budget(const uint8_t *data, size_t len,
                                                       size_t budget, vmu_err *err)
{
    static const uint8_t empty[1];
    pb_options *m = (pb_options *)unpack_like_go(&containerd__runhcs__v1__options__descriptor,
                                                 data ? data : empty, data ? len : 0, budget, err);
    if (!m)
        return NULL;
    if (!strings_valid(m)) {
        protobuf_c_message_free_unpacked(&m->base, &plain_allocator);
        vmu_err_set(err, ERR_INVALID_UTF8);
        return NULL;
    }
    options_storage *s = storage_new(err);
    if (!s) {
        protobuf_c_message_free_unpacked(&m->base, &plain_allocator);
        return NULL;
    }
    if (fill_view(s, m, err) != 0) {
        vmu_runtime_options_free(&s->view);
        return NULL;
    }
    return &s->view;
}

vmu_runtime_options *vmu_runtime_options_decode(const uint8_t *data, size_t len, vmu_err *err)
{
    return vmu_runtime_options_decode_budget(data, len, VMU_OPTIONS_DECODE_BUDGET, err);
}

/* ---- UnmarshalRuntimeOptions -------------------------------------------- */

static void log_parsed(vmu_logger *logger, const vmu_runtime_options *options)
{
    if (!vmu_logger_enabled(logger ? logger : vmu_default_logger(), VMU_LEVEL_DEBUG))
        return;
    vmu_buf json;
    vmu_buf_init(&json);
    /* log.Format yields "" when it cannot render; so do we, out of memory. */
    if (vmu_runtime_options_format_json(options, &json) != 0)
        vmu_buf_reset(&json);
    vmu_field field = vmu_field_strn("options", json.data ? json.data : "", json.len);
    static const char msg[] = "parsed runtime options";
    vmu_log(logger, VMU_LEVEL_DEBUG, msg, sizeof msg - 1, &field, 1);
    vmu_buf_free(&json);
}

static bool names_message(const char *type_url, size_t len, const char *full_name)
{
    /* protoregistry's FindMessageByURL: the name after the last '/'. */
    const char *name = type_url;
    for (size_t i = len; i > 0; i--) {
        if (type_url[i - 1] == '/') {
            name = type_url + i;
            break;
        }
    }
    size_t name_len = len - (size_t)(name - type_url);
    return name_len == strlen(full_name) && memcmp(name, full_name, name_len) == 0;
}

static vmu_runtime_options *refuse_process_details(const vmu_any *any, size_t budget,
                                                   vmu_err *err)
{
    vmu_err why;
    pb_process_details *d = (pb_process_details *)unpack_like_go(
        &containerd__runhcs__v1__process_details__descriptor, any->value_len ? any->value : NULL,
        any->value_len, budget, &why);
    if (!d) {
        vmu_err_set(err, UNMARSHAL_PREFIX "%s", why.msg);
        return NULL;
    }
    bool valid = binary_utf8_valid(&d->image_name) && binary_utf8_valid(&d->exec_id);
    protobuf_c_message_free_unpacked(&d->base, &plain_allocator);
    if (!valid)
        vmu_err_set(err, UNMARSHAL_PREFIX ERR_INVALID_UTF8);
    else
        vmu_err_set(err, "failed to unmarshal runtime options: expected *runhcsoptions.Options, "
                         "got *options.ProcessDetails");
    return NULL;
}

/* typeurl's error for a type URL nothing is registered under, the URL
 * printed whole as Go does. Only one too long for the message buffer is
 * shortened, at a character boundary and marked with "...", so that the
 * reason stays. */
static void type_not_found(const char *url, size_t url_len, vmu_err *err)
{
    static const char head[] = UNMARSHAL_PREFIX "type with url ";
    static const char tail[] = ": not found";
    const size_t room = sizeof err->msg - 1 - (sizeof head - 1) - (sizeof tail - 1);
    const char *more = "";
    if (url_len > room) {
        url_len = room - 3;
        while (url_len > 0 && ((unsigned char)url[url_len] & 0xc0) == 0x80)
            url_len--;
        more = "...";
    }
    vmu_err_set(err, "%s%.*s%s%s", head, (int)url_len, url, more, tail);
}

vmu_runtime_options *vmu_unmarshal_runtime_options(vmu_logger *logger, const vmu_any *any,
                                                   vmu_err *err)
{
    return vmu_unmarshal_runtime_options_budget(logger, any, VMU_OPTIONS_DECODE_BUDGET, err);
}

vmu_runtime_options *vmu_unmarshal_runtime_options_budget(vmu_logger *logger, const vmu_any *any,
                                                          size_t budget, vmu_err *err)
{
    if (!any) {
        options_storage *s = storage_new(err);
        return s ? &s->view : NULL;
    }
    vmu_any given = *any;
    if (!given.value)
        given.value_len = 0;
    any = &given;
    const char *url = any->type_url ? any->type_url : "";
    size_t url_len = any->type_url ? any->type_url_len : 0;
    if (names_message(url, url_len, PROCESS_DETAILS_FULL_NAME))
        return refuse_process_details(any, budget, err);
    if (!names_message(url, url_len, OPTIONS_FULL_NAME)) {
        type_not_found(url, url_len, err);
        return NULL;
    }
    vmu_err why;
    vmu_runtime_options *options =
        vmu_runtime_options_decode_budget(any->value, any->value_len, budget, &why);
    if (!options) {
        vmu_err_set(err, UNMARSHAL_PREFIX "%s", why.msg);
        return NULL;
    }
    log_parsed(logger, options);
    return options;
}

vmu_runtime_options *vmu_unmarshal_runtime_options_bytes(vmu_logger *logger, const uint8_t *data,
                                                         size_t len, vmu_err *err)
{
    return vmu_unmarshal_runtime_options_bytes_budget(logger, data, len, VMU_OPTIONS_DECODE_BUDGET,
                                                      err);
}

vmu_runtime_options *vmu_unmarshal_runtime_options_bytes_budget(vmu_logger *logger,
                                                                const uint8_t *data, size_t len,
                                                                size_t budget, vmu_err *err)
{
    vmu_err why;
    Vmutils__Wire__Any *wire = (Vmutils__Wire__Any *)unpack_like_go(
        &vmutils__wire__any__descriptor, data, data ? len : 0, budget, &why);
    if (!wire) {
        vmu_err_set(err, UNMARSHAL_PREFIX "%s", why.msg);
        return NULL;
    }
    if (!binary_utf8_valid(&wire->type_url)) {
        protobuf_c_message_free_unpacked(&wire->base, &plain_allocator);
        vmu_err_set(err, UNMARSHAL_PREFIX ERR_INVALID_UTF8);
        return NULL;
    }
    vmu_any any = {(const char *)wire->type_url.data, wire->type_url.len, wire->value.data,
                   wire->value.len};
    vmu_runtime_options *options = vmu_unmarshal_runtime_options(logger, &any, err);
    protobuf_c_message_free_unpacked(&wire->base, &plain_allocator);
    return options;
}

/* ---- encoding ------------------------------------------------------------ */

static ProtobufCBinaryData binary_of(vmu_options_string s)
{
    ProtobufCBinaryData b = {s.len, (uint8_t *)(uintptr_t)s.data};
    return b;
}

static bool string_valid(vmu_options_string s)
{
    return s.len == 0 || (s.data && vmu_go_utf8_valid((const unsigned char *)s.data, s.len));
}

static int append_packed(const ProtobufCMessage *m, vmu_buf *out, vmu_err *err)
{
    size_t size = protobuf_c_message_get_packed_size(m);
    if (vmu_buf_reserve(out, size) != 0)
        return vmu_err_set(err, "out of memory");
    /* An empty message packs to nothing, and an empty buffer has no data
     * pointer to offset (NULL + 0 is undefined in C). */
    if (size == 0)
        return 0;
    out->len += protobuf_c_message_pack(m, (uint8_t *)out->data + out->len);
    return 0;
}

int vmu_runtime_options_encode(const vmu_runtime_options *o, vmu_buf *out, vmu_err *err)
{
    if (!o || !out)
        return vmu_err_set(err, "no options to encode");
    const vmu_options_string strings[] = {o->registry_root,        o->sandbox_image,
                                          o->sandbox_platform,     o->boot_files_root_path,
                                          o->gpu_vhd_path,         o->nc_proxy_addr,
                                          o->log_level};
    for (size_t i = 0; i < sizeof strings / sizeof strings[0]; i++)
        if (!string_valid(strings[i]))
            return vmu_err_set(err, ERR_INVALID_UTF8);
    size_t count = o->annotations ? o->annotation_count : 0;
    for (size_t i = 0; i < count; i++)
        if (!string_valid(o->annotations[i].key) || !string_valid(o->annotations[i].value))
            return vmu_err_set(err, ERR_INVALID_UTF8);

    pb_options m = CONTAINERD__RUNHCS__V1__OPTIONS__INIT;
    m.debug = o->debug;
    m.debug_type = (Containerd__Runhcs__V1__Options__DebugType)o->debug_type;
    m.registry_root = binary_of(o->registry_root);
    m.sandbox_image = binary_of(o->sandbox_image);
    m.sandbox_platform = binary_of(o->sandbox_platform);
    m.sandbox_isolation = (Containerd__Runhcs__V1__Options__SandboxIsolation)o->sandbox_isolation;
    m.boot_files_root_path = binary_of(o->boot_files_root_path);
    m.vm_processor_count = o->vm_processor_count;
    m.vm_memory_size_in_mb = o->vm_memory_size_in_mb;
    m.gpuvhdpath = binary_of(o->gpu_vhd_path);
    m.scale_cpu_limits_to_sandbox = o->scale_cpu_limits_to_sandbox;
    m.default_container_scratch_size_in_gb = o->default_container_scratch_size_in_gb;
    m.default_vm_scratch_size_in_gb = o->default_vm_scratch_size_in_gb;
    m.share_scratch = o->share_scratch;
    m.ncproxyaddr = binary_of(o->nc_proxy_addr);
    m.log_level = binary_of(o->log_level);
    m.io_retry_timeout_in_sec = o->io_retry_timeout_in_sec;
    m.no_inherit_host_timezone = o->no_inherit_host_timezone;
    if (o->has_scrub_logs) {
        m._scrub_logs_case = CONTAINERD__RUNHCS__V1__OPTIONS___SCRUB_LOGS_SCRUB_LOGS;
        m.scrub_logs = o->scrub_logs;
    }

    /* Deterministic bytes: entries by key, as Go's deterministic marshalling
     * orders a map. */
    vmu_annotation *sorted = NULL;
    pb_annotation *entries = NULL;
    pb_annotation **entry_ptrs = NULL;
    size_t n = 0;
    if (count) {
        sorted = map_form(o->annotations, count, &n);
        entries = sorted ? vmu_malloc(n * sizeof *entries) : NULL;
        entry_ptrs = entries ? vmu_malloc(n * sizeof *entry_ptrs) : NULL;
        if (!entry_ptrs) {
            vmu_free(sorted);
            vmu_free(entries);
            return vmu_err_set(err, "out of memory");
        }
        for (size_t i = 0; i < n; i++) {
            pb_annotation e = CONTAINERD__RUNHCS__V1__OPTIONS__DEFAULT_CONTAINER_ANNOTATIONS_ENTRY__INIT;
            e.key = binary_of(sorted[i].key);
            e.value = binary_of(sorted[i].value);
            entries[i] = e;
            entry_ptrs[i] = &entries[i];
        }
        m.n_default_container_annotations = n;
        m.default_container_annotations = entry_ptrs;
    }
    int rc = append_packed(&m.base, out, err);
    vmu_free(entry_ptrs);
    vmu_free(entries);
    vmu_free(sorted);
    return rc;
}

int vmu_marshal_runtime_options(const vmu_runtime_options *options, vmu_buf *out, vmu_err *err)
{
    vmu_buf value;
    vmu_buf_init(&value);
    if (vmu_runtime_options_encode(options, &value, err) != 0) {
        vmu_buf_free(&value);
        return -1;
    }
    Vmutils__Wire__Any any = VMUTILS__WIRE__ANY__INIT;
    any.type_url.data = (uint8_t *)(uintptr_t)VMU_OPTIONS_TYPE_URL;
    any.type_url.len = sizeof VMU_OPTIONS_TYPE_URL - 1;
    any.value.data = (uint8_t *)value.data;
    any.value.len = value.len;
    int rc = append_packed(&any.base, out, err);
    vmu_buf_free(&value);
    return rc;
}

/* ---- JSON, as protojson writes it --------------------------------------- */

/* protojson's string escaping: '"', '\\' and control characters only (no
 * HTML escaping), \u00xx in lower-case hex. Invalid UTF-8 cannot come from
 * the decoder; in a struct built by hand each bad byte becomes \ufffd, as
 * the encoding/json fallback of log.Format writes it. */
static void append_json_string(vmu_buf *out, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    vmu_buf_putc(out, '"');
    size_t i = 0;
    while (i < len) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x80) {
            uint32_t rune;
            size_t width = vmu_go_decode_rune((const unsigned char *)s + i, len - i, &rune);
            if (width > 1)
                vmu_buf_append(out, s + i, width);
            else
                vmu_buf_puts(out, "\\ufffd");
            i += width;
            continue;
        }
        switch (c) {
        case '"':
            vmu_buf_puts(out, "\\\"");
            break;
        case '\\':
            vmu_buf_puts(out, "\\\\");
            break;
        case '\b':
            vmu_buf_puts(out, "\\b");
            break;
        case '\f':
            vmu_buf_puts(out, "\\f");
            break;
        case '\n':
            vmu_buf_puts(out, "\\n");
            break;
        case '\r':
            vmu_buf_puts(out, "\\r");
            break;
        case '\t':
            vmu_buf_puts(out, "\\t");
            break;
        default:
            if (c < 0x20) {
                char esc[7] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15], 0};
                vmu_buf_puts(out, esc);
            } else {
                vmu_buf_putc(out, (char)c);
            }
        }
        i++;
    }
    vmu_buf_putc(out, '"');
}

static void append_json_annotations(vmu_buf *out, const vmu_annotation *pairs, size_t count)
{
    vmu_annotation *own = NULL;
    if (!strictly_sorted(pairs, count)) {
        own = map_form(pairs, count, &count);
        if (!own) {
            out->failed = 1;
            return;
        }
        pairs = own;
    }
    vmu_buf_putc(out, '{');
    for (size_t i = 0; i < count; i++) {
        if (i)
            vmu_buf_putc(out, ',');
        append_json_string(out, pairs[i].key.data, pairs[i].key.len);
        vmu_buf_putc(out, ':');
        append_json_string(out, pairs[i].value.data, pairs[i].value.len);
    }
    vmu_buf_putc(out, '}');
    vmu_free(own);
}

int vmu_runtime_options_format_json(const vmu_runtime_options *o, vmu_buf *out)
{
    size_t start = out->len;
    bool first = true;
    vmu_buf_putc(out, '{');
    for (size_t i = 0; i < vmu_option_field_count; i++) {
        const vmu_option_field *f = &vmu_option_fields[i];
        const char *member = (const char *)o + f->offset;
        switch (f->kind) {
        case VMU_OPTION_BOOL:
            if (*(const bool *)member) {
                vmu_json_member_key(out, &first, f->name);
                vmu_buf_puts(out, "true");
            }
            break;
        case VMU_OPTION_INT32:
            if (*(const int32_t *)member) {
                vmu_json_member_key(out, &first, f->name);
                vmu_buf_printf(out, "%d", (int)*(const int32_t *)member);
            }
            break;
        case VMU_OPTION_DEBUG_TYPE:
        case VMU_OPTION_SANDBOX_ISOLATION: {
            int32_t v = *(const int32_t *)member;
            if (v == 0)
                break;
            vmu_json_member_key(out, &first, f->name);
            const char *name = vmu_option_enum_name(f->kind, v);
            if (name)
                append_json_string(out, name, strlen(name));
            else
                vmu_buf_printf(out, "%d", (int)v);
            break;
        }
        case VMU_OPTION_STRING: {
            const vmu_options_string *s = (const vmu_options_string *)member;
            if (s->len) {
                vmu_json_member_key(out, &first, f->name);
                append_json_string(out, s->data, s->len);
            }
            break;
        }
        case VMU_OPTION_ANNOTATIONS:
            if (o->annotations && o->annotation_count) {
                vmu_json_member_key(out, &first, f->name);
                append_json_annotations(out, o->annotations, o->annotation_count);
            }
            break;
        case VMU_OPTION_OPTIONAL_BOOL:
            if (o->has_scrub_logs) {
                vmu_json_member_key(out, &first, f->name);
                vmu_buf_puts(out, o->scrub_logs ? "true" : "false");
            }
            break;
        }
    }
    vmu_buf_putc(out, '}');
    if (out->failed) {
        out->len = start;
        return -1;
    }
    return 0;
}
