/* vmutils policy runtime: the C embedding API for VM-creation policies.
 *
 * A policy is a Lua file that returns a function `build(request)`; the
 * function returns an HCS ComputeSystem document table, or `nil, message` to
 * reject the request. A host written in C creates a runtime, loads a policy
 * once, then evaluates requests (JSON in, JSON out) as often as it likes:
 *
 *     vmu_policy *rt = vmu_policy_new(NULL, &err);       // default limits
 *     if (!rt) ...                                        // out of memory
 *     if (vmu_policy_load_file(rt, "lcow.lua") != VMU_POLICY_OK)
 *         fprintf(stderr, "%s\n", vmu_policy_error(rt));
 *     const char *doc; size_t doc_len;
 *     switch (vmu_policy_evaluate(rt, req, req_len, &doc, &doc_len)) {
 *     case VMU_POLICY_OK:       fwrite(doc, 1, doc_len, stdout); break;
 *     case VMU_POLICY_REJECTED: // the policy said no: vmu_policy_error(rt)
 *     case VMU_POLICY_ERROR:    // bad request, script error, limit reached
 *         fprintf(stderr, "%s\n", vmu_policy_error(rt));
 *     }
 *     vmu_policy_free(rt);
 *
 * Policies run sandboxed (see docs/runtime.md): an allow list of globals,
 * read-only globals and libraries, no process or file-writing functions, text
 * chunks only, and limits per call into the policy: an instruction budget, a
 * CPU-time limit that holds inside C library functions too, a cap on the
 * memory the Lua state holds, and a number of open files. Reaching a limit
 * fails that call only; the runtime stays usable. The runtime's state is the
 * policies': strings' methods in it are the sandbox's bounded ones.
 *
 * Threads: a runtime is not thread-safe. Use one runtime per thread (they
 * share nothing); a runtime may move between threads between calls.
 *
 * This header needs the Lua headers only through the optional
 * vmu_policy_lua() and luaopen_vmutils(); everything else is plain C. */
#ifndef VMUTILS_POLICY_H
#define VMUTILS_POLICY_H

#include <stddef.h>
#include <stdint.h>

#include "vmutils/log.h"
#include "vmutils/export.h"

#ifdef __cplusplus
extern "C" {
#endif

VMU_API_BEGIN

/* Instructions a policy may run per call (loading, or one evaluation). */
#define VMU_POLICY_DEFAULT_INSTRUCTION_BUDGET 50000000ULL
/* Bytes the runtime's Lua state may hold, the libraries included. */
#define VMU_POLICY_DEFAULT_MEMORY_LIMIT (64u * 1024u * 1024u)
/* CPU time (milliseconds) a call into the policy may take, C work included. */
#define VMU_POLICY_DEFAULT_TIME_LIMIT_MS 1000u
/* Files a policy may hold open at once; all are closed when the call ends. */
#define VMU_POLICY_DEFAULT_MAX_OPEN_FILES 16u
/* Bytes of document JSON one evaluation may write. */
#define VMU_POLICY_DEFAULT_MAX_DOCUMENT_BYTES (16u * 1024u * 1024u)
/* Bytes of request JSON vmu_policy_evaluate accepts. */
#define VMU_POLICY_DEFAULT_MAX_REQUEST_BYTES (16u * 1024u * 1024u)
/* Bytes of policy source the load functions accept. */
#define VMU_POLICY_DEFAULT_MAX_POLICY_BYTES (4u * 1024u * 1024u)

/* Fixed messages, so that hosts can tell the two limits apart. */
#define VMU_POLICY_ERR_INSTRUCTION_BUDGET "policy exceeded its instruction budget"
#define VMU_POLICY_ERR_MEMORY "not enough memory"
#define VMU_POLICY_ERR_TIME_LIMIT "policy exceeded its time limit"

typedef struct vmu_policy_config {
    /* 0 means the default; UINT64_MAX means no budget. */
    uint64_t instruction_budget;
    /* 0 means the default; SIZE_MAX means no cap. The document JSON an
     * evaluation returns must fit in it too (else "not enough memory"). */
    size_t memory_limit;
    /* Spaces per nesting level in the document JSON; 0 gives compact JSON. */
    unsigned json_indent;
    /* 0 means the default; UINT64_MAX means no limit. Checked with the
     * instruction budget and inside the sandbox's bounded library
     * functions, so that C calls cannot run past it. */
    uint64_t time_limit_ms;
    /* 0 means the default; SIZE_MAX means no limit. */
    size_t max_open_files;
    /* Input and output caps, in bytes; 0 means the default, SIZE_MAX no cap.
     * A longer document fails the evaluation ("document exceeds N bytes"),
     * a longer request fails it before decoding ("request: larger than N
     * bytes"), a longer policy fails the load ("policy larger than N
     * bytes"; a file is read no further than that). */
    size_t max_document_bytes;
    size_t max_request_bytes;
    size_t max_policy_bytes;
} vmu_policy_config;

typedef enum vmu_policy_status {
    VMU_POLICY_OK = 0,
    /* The policy returned nil and a message: the request is refused. */
    VMU_POLICY_REJECTED = 1,
    /* Anything else: bad arguments or request, a script error, a limit. */
    VMU_POLICY_ERROR = 2
} vmu_policy_status;

typedef struct vmu_policy vmu_policy;

/* The defaults: 50 million instructions, 64 MiB, 1 s, 16 files, compact
 * JSON, documents and requests up to 16 MiB, policies up to 4 MiB. */
void vmu_policy_config_init(vmu_policy_config *config);

/* A new runtime with `config` (NULL: the defaults), its Lua state set up with
 * the vmutils and cjson modules. NULL when memory runs out or lua-cjson cannot
 * be loaded; `err`, when given, then says why. */
vmu_policy *vmu_policy_new(const vmu_policy_config *config, vmu_err *err);
void vmu_policy_free(vmu_policy *rt);

/* Loads (and runs) a policy; it must return a function. Replaces the policy
 * loaded before, whose message the runtime forgets. Binary chunks are refused. */
vmu_policy_status vmu_policy_load(vmu_policy *rt, const char *source, size_t len,
                                  const char *chunk_name);
vmu_policy_status vmu_policy_load_file(vmu_policy *rt, const char *path);

/* Evaluates the loaded policy on a request (a JSON object, see
 * docs/runtime.md; strict RFC 8259 JSON). A request that is not accepted
 * fails before the policy runs with a message that starts "request: " (and
 * names the byte offset of a syntax error). On VMU_POLICY_OK, *document and *document_len hold the
 * document as JSON with sorted keys (NUL-terminated), valid until the next
 * call on this runtime. On failure they are set to NULL and 0. */
vmu_policy_status vmu_policy_evaluate(vmu_policy *rt, const char *request_json,
                                      size_t request_len, const char **document,
                                      size_t *document_len);

/* The message of the last failed call ("" after a success). Owned by the
 * runtime, valid until the next call. */
const char *vmu_policy_error(const vmu_policy *rt);

/* The logger that the policy's warnings and vmutils' own records go to:
 * set its level, format, output or sink to route them. */
vmu_logger *vmu_policy_logger(vmu_policy *rt);

/* Bytes the Lua state holds now (for monitoring and tests). */
size_t vmu_policy_memory_in_use(const vmu_policy *rt);

/* The runtime's lua_State, for hosts that want to add functions. Returned as
 * void * so that this header does not need lua.h. */
void *vmu_policy_lua(vmu_policy *rt);

/* The vmutils Lua module's entry point, for hosts with a lua_State of their
 * own: luaL_requiref(L, "vmutils", luaopen_vmutils, 1). The Lua module
 * vmutils.so exports it too, for require. */
struct lua_State;
int luaopen_vmutils(struct lua_State *L);

VMU_API_END

#ifdef __cplusplus
}
#endif
#endif
