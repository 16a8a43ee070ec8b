/* vmutils: the runtime options a containerd shim receives (hcsshim's
 * UnmarshalRuntimeOptions in internal/vm/vmutils/utils.go).
 *
 * containerd passes them as a google.protobuf.Any whose type URL names
 * containerd.runhcs.v1.Options. The message is decoded with protobuf-c
 * (core/proto holds our description of its wire format) under Go's protobuf
 * rules: proto3 defaults, unknown fields skipped, open enums, UTF-8 strings,
 * last value wins. See docs/options.md for where protobuf-c needed help.
 * Included through <vmutils.h>. */
#ifndef VMUTILS_OPTIONS_H
#define VMUTILS_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base.h"
#include "log.h"
#include "export.h"

#ifdef __cplusplus
extern "C" {
#endif

VMU_API_BEGIN

/* The type URL marshalling writes (containerd's typeurl form). */
#define VMU_OPTIONS_TYPE_URL "containerd.runhcs.v1.Options"
/* Bytes one decoding pass may allocate; past it decoding fails cleanly. */
#define VMU_OPTIONS_DECODE_BUDGET ((size_t)256 << 20)

/* A string of the options: len bytes at data (NULL when empty), valid UTF-8,
 * possibly holding NULs, not NUL-terminated. */
typedef struct vmu_options_string {
    const char *data;
    size_t len;
} vmu_options_string;

/* Options.DebugType and Options.SandboxIsolation. The struct keeps any int32
 * a sender used (proto3 enums are open); these are the named ones. */
typedef enum vmu_debug_type {
    VMU_DEBUG_TYPE_NPIPE = 0,
    VMU_DEBUG_TYPE_FILE = 1,
    VMU_DEBUG_TYPE_ETW = 2
} vmu_debug_type;

typedef enum vmu_sandbox_isolation {
    VMU_SANDBOX_ISOLATION_PROCESS = 0,
    VMU_SANDBOX_ISOLATION_HYPERVISOR = 1
} vmu_sandbox_isolation;

typedef struct vmu_annotation {
    vmu_options_string key;
    vmu_options_string value;
} vmu_annotation;

/* containerd.runhcs.v1.Options. vmu_runtime_options_init gives the proto3
 * defaults. Decoded options have their annotations sorted by key with each
 * key once (the last value sent wins, as in a Go map). */
typedef struct vmu_runtime_options {
    bool debug;                                   /* 1 */
    int32_t debug_type;                           /* 2, a vmu_debug_type or any int32 */
    vmu_options_string registry_root;             /* 3 */
    vmu_options_string sandbox_image;             /* 4 */
    vmu_options_string sandbox_platform;          /* 5 */
    int32_t sandbox_isolation;                    /* 6, a vmu_sandbox_isolation or any int32 */
    vmu_options_string boot_files_root_path;      /* 7 */
    int32_t vm_processor_count;                   /* 8 */
    int32_t vm_memory_size_in_mb;                 /* 9 */
    vmu_options_string gpu_vhd_path;              /* 10, GPUVHDPath */
    bool scale_cpu_limits_to_sandbox;             /* 11 */
    int32_t default_container_scratch_size_in_gb; /* 12 */
    int32_t default_vm_scratch_size_in_gb;        /* 13 */
    bool share_scratch;                           /* 14 */
    vmu_options_string nc_proxy_addr;             /* 15, NCProxyAddr */
    vmu_options_string log_level;                 /* 16 */
    int32_t io_retry_timeout_in_sec;              /* 17 */
    const vmu_annotation *annotations;            /* 18, default_container_annotations */
    size_t annotation_count;
    bool no_inherit_host_timezone;                /* 19 */
    bool has_scrub_logs;                          /* 20, proto3 optional: set or not */
    bool scrub_logs;
    void *storage_; /* private: the decoder's memory; NULL in a struct you build */
} vmu_runtime_options;

void vmu_runtime_options_init(vmu_runtime_options *options);

/* The fields in proto order, for code that walks them generically (the Lua
 * binding, the JSON rendering). `name` is the proto field name. */
typedef enum vmu_option_kind {
    VMU_OPTION_BOOL,
    VMU_OPTION_INT32,
    VMU_OPTION_STRING,
    VMU_OPTION_DEBUG_TYPE,        /* int32 named by vmu_option_enum_name */
    VMU_OPTION_SANDBOX_ISOLATION, /* int32 named by vmu_option_enum_name */
    VMU_OPTION_ANNOTATIONS,       /* the annotations/annotation_count pair */
    VMU_OPTION_OPTIONAL_BOOL      /* the has_scrub_logs/scrub_logs pair */
} vmu_option_kind;

typedef struct vmu_option_field {
    const char *name;
    uint32_t number;
    vmu_option_kind kind;
    size_t offset; /* of the member (the first of a pair) in vmu_runtime_options */
} vmu_option_field;

extern const vmu_option_field vmu_option_fields[];
extern const size_t vmu_option_field_count;

/* The enum value's name ("NPIPE", "HYPERVISOR", ...), NULL when unnamed. */
const char *vmu_option_enum_name(vmu_option_kind kind, int32_t value);
/* The value of a name of that enum: 0, or -1 when there is no such name. */
int vmu_option_enum_value(vmu_option_kind kind, const char *name, size_t len, int32_t *value);

/* Decodes the bytes of an Options message (the Any's value). Returns options
 * to release with vmu_runtime_options_free, or NULL and err set to Go's
 * protobuf error text ("proto: cannot parse invalid wire-format data",
 * "string field contains invalid UTF-8") or a budget/memory error. This is
 * the fuzzing entry point: any bytes, any length. */
vmu_runtime_options *vmu_runtime_options_decode(const uint8_t *data, size_t len, vmu_err *err);
/* The same with another allocation budget than VMU_OPTIONS_DECODE_BUDGET. */
vmu_runtime_options *vmu_runtime_options_decode_budget(const uint8_t *data, size_t len,
                                                       size_t budget, vmu_err *err);
/* NULL-safe; only for options a vmu_* function returned. */
void vmu_runtime_options_free(vmu_runtime_options *options);

/* A google.protobuf.Any: type URL and value bytes (not NUL-terminated). */
typedef struct vmu_any {
    const char *type_url;
    size_t type_url_len;
    const uint8_t *value;
    size_t value_len;
} vmu_any;

/* UnmarshalRuntimeOptions. any == NULL gives the defaults. The type URL must
 * be "containerd.runhcs.v1.Options" or end in "/containerd.runhcs.v1.Options".
 * Errors are Go's: "failed to unmarshal options: type with url X: not found",
 * "failed to unmarshal options: proto: cannot parse invalid wire-format
 * data", ... When the logger is at debug level the decoded options are
 * logged ("parsed runtime options", field "options" holding their JSON). */
vmu_runtime_options *vmu_unmarshal_runtime_options(vmu_logger *logger, const vmu_any *any,
                                                   vmu_err *err);
/* The same from the bytes of a serialized google.protobuf.Any. */
vmu_runtime_options *vmu_unmarshal_runtime_options_bytes(vmu_logger *logger, const uint8_t *data,
                                                         size_t len, vmu_err *err);
/* Both with another allocation budget than VMU_OPTIONS_DECODE_BUDGET: a
 * caller that caps its own memory (a policy sandbox) passes what its cap
 * leaves, so that decoding counts against it; past the budget the error is
 * "failed to unmarshal options: decoding needs more than N bytes of memory
 * allowed". */
vmu_runtime_options *vmu_unmarshal_runtime_options_budget(vmu_logger *logger, const vmu_any *any,
                                                          size_t budget, vmu_err *err);
vmu_runtime_options *vmu_unmarshal_runtime_options_bytes_budget(vmu_logger *logger,
                                                                const uint8_t *data, size_t len,
                                                                size_t budget, vmu_err *err);

/* Appends the Options message bytes (fields in number order, annotations by
 * key, defaults left out). 0, or -1 with err: Go's "string field contains
 * invalid UTF-8", or out of memory. */
int vmu_runtime_options_encode(const vmu_runtime_options *options, vmu_buf *out, vmu_err *err);
/* Appends the bytes of an Any holding them, type URL VMU_OPTIONS_TYPE_URL. */
int vmu_marshal_runtime_options(const vmu_runtime_options *options, vmu_buf *out, vmu_err *err);

/* Appends the options as hcsshim's log.Format renders them (protojson with
 * proto field names: set fields only, enums by name, map keys sorted, no
 * HTML escaping). 0, or -1 when out of memory. */
int vmu_runtime_options_format_json(const vmu_runtime_options *options, vmu_buf *out);

VMU_API_END

#ifdef __cplusplus
}
#endif
#endif
