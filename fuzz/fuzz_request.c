/* Fuzz target: the policy request reader of the embedding runtime
 * (vmu_policy_evaluate: lua-cjson decoding, then vmu_request_prepare:
 * integral numbers, annotations, host facts, base64 or table options),
 * driven through two runtimes that live for the whole run:
 *
 *  - "echo", whose policy returns the prepared request as the document;
 *  - "lcow", the default policy scripts/policies/lcow.lua (run from the
 *    repository root, as fuzz/run.sh does).
 *
 * The input is the request JSON. Properties:
 *  - every outcome is OK, REJECTED or ERROR; a failure has a message;
 *  - a document is a valid JSON object (checked with yajl, not cjson);
 *  - preparing is idempotent: the echo document, evaluated as a request,
 *    gives the same bytes again;
 *  - evaluating is deterministic: the same input twice gives the same
 *    status and the same document or message;
 *  - a runtime survives anything: after every input, a fixed request still
 *    gives the document it gave at start-up. */
#include <stdbool.h>

#include <yajl/yajl_tree.h>

#include "fuzz_input.h"
#include "vmutils.h"
#include "vmutils_policy.h"

static const char echo_policy[] = "return function(request) return request end";
static const char canned_request[] =
    "{\"annotations\":{\"io.microsoft.virtualmachine.computetopology.processor.count\":\"2\"},"
    "\"options\":{\"boot_files_root_path\":\"examples/boot-files\",\"vm_processor_count\":1},"
    "\"host\":{\"os_build\":26100,\"logical_processor_count\":8,\"arch\":\"amd64\"}}";

typedef struct subject {
    const char *name;
    vmu_policy *rt;
    char *canned_document; /* what canned_request gave at start-up */
} subject;

static subject echo = {"echo", NULL, NULL}, lcow = {"lcow", NULL, NULL};

/* A result copied out of the runtime, whose buffers the next call reuses. */
typedef struct result {
    vmu_policy_status status;
    char *text; /* the document, or the message */
    size_t len;
} result;

static result evaluate(subject *s, const char *json, size_t len)
{
    const char *doc = NULL;
    size_t doc_len = 0;
    result r;
    r.status = vmu_policy_evaluate(s->rt, json, len, &doc, &doc_len);
    FUZZ_REQUIRE(r.status == VMU_POLICY_OK || r.status == VMU_POLICY_REJECTED ||
                     r.status == VMU_POLICY_ERROR,
                 "%s: status %d", s->name, (int)r.status);
    const char *text = r.status == VMU_POLICY_OK ? doc : vmu_policy_error(s->rt);
    r.len = r.status == VMU_POLICY_OK ? doc_len : strlen(text);
    FUZZ_REQUIRE(text, "%s: no document or message", s->name);
    if (r.status != VMU_POLICY_OK)
        FUZZ_REQUIRE(r.len > 0, "%s: a failure without a message", s->name);
    else
        FUZZ_REQUIRE(doc[doc_len] == '\0', "%s: document not NUL-terminated", s->name);
    r.text = malloc(r.len + 1);
    FUZZ_REQUIRE(r.text, "malloc");
    memcpy(r.text, text, r.len);
    r.text[r.len] = '\0';
    return r;
}

static bool same(const result *a, const result *b)
{
    return a->status == b->status && a->len == b->len && memcmp(a->text, b->text, a->len) == 0;
}

static void require_json_object(const subject *s, const result *r)
{
    char why[256];
    yajl_val tree = yajl_tree_parse(r->text, why, sizeof why);
    FUZZ_REQUIRE(tree && YAJL_IS_OBJECT(tree), "%s: document is not a JSON object (%s): %.200s",
                 s->name, tree ? "not an object" : why, r->text);
    yajl_tree_free(tree);
}

static void start(subject *s, const char *source, size_t len, const char *path)
{
    vmu_policy_config config;
    vmu_policy_config_init(&config);
    config.instruction_budget = 5000000; /* plenty for a request; bounds each run */
    vmu_err err = {{0}};
    s->rt = vmu_policy_new(&config, &err);
    FUZZ_REQUIRE(s->rt, "%s: runtime: %s", s->name, err.msg);
    vmu_logger_set_level(vmu_policy_logger(s->rt), VMU_LEVEL_PANIC);
    vmu_policy_status st = path ? vmu_policy_load_file(s->rt, path)
                                 : vmu_policy_load(s->rt, source, len, "=echo");
    FUZZ_REQUIRE(st == VMU_POLICY_OK, "%s: policy: %s (run from the repository root)", s->name,
                 vmu_policy_error(s->rt));
    result r = evaluate(s, canned_request, sizeof canned_request - 1);
    FUZZ_REQUIRE(r.status == VMU_POLICY_OK, "%s: the canned request fails: %s", s->name, r.text);
    s->canned_document = r.text;
}

static void stop(void)
{
    vmu_policy_free(echo.rt);
    vmu_policy_free(lcow.rt);
    free(echo.canned_document);
    free(lcow.canned_document);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    start(&echo, echo_policy, sizeof echo_policy - 1, NULL);
    const char *policy = getenv("VMUTILS_FUZZ_POLICY");
    start(&lcow, NULL, 0, policy ? policy : "scripts/policies/lcow.lua");
    atexit(stop);
    return 0;
}

static void check_subject(subject *s, const uint8_t *data, size_t size)
{
    result first = evaluate(s, (const char *)data, size);
    result again = evaluate(s, (const char *)data, size);
    FUZZ_REQUIRE(same(&first, &again), "%s: not deterministic: %d '%.200s' then %d '%.200s'",
                 s->name, first.status, first.text, again.status, again.text);
    if (first.status == VMU_POLICY_OK) {
        require_json_object(s, &first);
        if (s == &echo) {
            /* The encoder writes each byte of invalid UTF-8 as the escape
             * \ufffd and a valid U+FFFD as itself, as Go's encoding/json
             * does; keys sort by their bytes, so such keys may move (or,
             * two of them, merge) on the next round. Valid input is a fixed
             * point at once; any input after one round. */
            result twice = evaluate(s, first.text, first.len);
            FUZZ_REQUIRE(twice.status == VMU_POLICY_OK, "echo: a document is refused as a "
                         "request: %.200s", twice.text);
            if (!strstr(first.text, "\\ufffd"))
                FUZZ_REQUIRE(same(&first, &twice),
                             "echo: preparing is not idempotent:\n%.400s\nthen\n%.400s",
                             first.text, twice.text);
            result thrice = evaluate(s, twice.text, twice.len);
            FUZZ_REQUIRE(same(&twice, &thrice), "echo: no fixed point:\n%.400s\nthen\n%.400s",
                         twice.text, thrice.text);
            free(thrice.text);
            free(twice.text);
        }
    }
    result canned = evaluate(s, canned_request, sizeof canned_request - 1);
    FUZZ_REQUIRE(canned.status == VMU_POLICY_OK && strcmp(canned.text, s->canned_document) == 0,
                 "%s: the runtime changed: the canned request now gives %d %.200s", s->name,
                 canned.status, canned.text);
    free(canned.text);
    free(again.text);
    free(first.text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_subject(&echo, data, size);
    check_subject(&lcow, data, size);
    return 0;
}
