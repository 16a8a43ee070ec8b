/* Fuzz target: hostile policies through the embedding runtime's sandbox.
 * The input's bytes pick a policy from a small grammar (library calls with
 * edge-case arguments, loops with huge counts, table builders that share
 * tables, attempts on the read-only libraries, files, the random
 * generator, patterns, pcall), which runs with small limits (256 K
 * instructions, 4 MiB, 100 ms of CPU time, 4 files):
 *
 *  - in a runtime that lives for the whole run (the "shared" one), twice;
 *  - in a fresh runtime, once.
 *
 * Properties:
 *  - nothing crashes, and every outcome is OK, REJECTED or ERROR;
 *  - every call (loading, evaluating) ends within the time limit plus a
 *    fixed slack (CPU time of this thread);
 *  - the state stays under its cap, and the process's live heap under what the
 *    live runtimes may hold (state and document) plus a fixed overhead (the heap the
 *    allocator reports: under ASan the RSS also holds the quarantine and
 *    freed chunks the allocator keeps, so RSS is only checked against a
 *    coarse ceiling);
 *  - every evaluation starts from the same state: the shared runtime's two
 *    evaluations and the fresh runtime's give the same result (unless one
 *    of them reached the time limit, which depends on the machine's speed,
 *    or one the memory cap and the other the instruction budget: which of
 *    the two comes first depends on the few bytes the state held before);
 *  - the policy leaves no descriptor of the host open. */
#include <dirent.h>
#include <malloc.h>
#include <stdbool.h>
#include <time.h>

#if defined(__SANITIZE_ADDRESS__)
#define FUZZ_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FUZZ_ASAN 1
#endif
#endif
#ifdef FUZZ_ASAN
/* The sanitizer runtimes' (gcc ships no header declaring it). */
size_t __sanitizer_get_current_allocated_bytes(void);
#endif

#include "fuzz_input.h"
#include "vmutils.h"
#include "vmutils_policy.h"

#define BUDGET 262144u
#define MEMORY ((size_t)4 << 20)
#define TIME_LIMIT_MS 100u
#define OPEN_FILES 4u
/* CPU time past the limit a call may take: the deadline is checked every
 * 10,000 instructions and every 4,096 elements of the bounded loops, and
 * sanitizers slow those steps down. */
#define SLACK_MS 400u
/* Live heap above the start-up figure that the caps do not account for:
 * libFuzzer's corpus and tables, stdio. */
#define HEAP_OVERHEAD ((size_t)32 << 20)
/* The coarse RSS ceiling (libFuzzer's own -rss_limit_mb is 2048). */
#define RSS_CEILING_MB 1536

static vmu_policy *shared;
static size_t baseline_heap;

static size_t live_heap(void)
{
#ifdef FUZZ_ASAN
    return __sanitizer_get_current_allocated_bytes();
#else
    struct mallinfo2 mi = mallinfo2();
    return mi.uordblks + mi.hblkhd;
#endif
}

static vmu_policy *new_runtime(void)
{
    vmu_policy_config config;
    vmu_policy_config_init(&config);
    config.instruction_budget = BUDGET;
    config.memory_limit = MEMORY;
    config.time_limit_ms = TIME_LIMIT_MS;
    config.max_open_files = OPEN_FILES;
    vmu_err err = {{0}};
    vmu_policy *rt = vmu_policy_new(&config, &err);
    FUZZ_REQUIRE(rt, "vmu_policy_new: %s", err.msg);
    return rt;
}

static long rss_kb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        return 0;
    char line[256];
    long kb = 0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
            break;
    fclose(f);
    return kb;
}

static int open_descriptors(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return -1;
    int n = 0;
    while (readdir(d))
        n++;
    closedir(d);
    return n;
}

static uint64_t cpu_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void stop(void) { vmu_policy_free(shared); }

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    shared = new_runtime();
    baseline_heap = live_heap();
    atexit(stop);
    return 0;
}

/* ---- the grammar ---- */

typedef struct gen {
    fuzz_input in;
    vmu_buf src;
    int depth;
} gen;

static void emit(gen *g, const char *s) { vmu_buf_puts(&g->src, s); }

static uint8_t pick(gen *g, uint8_t n) { return (uint8_t)(fuzz_u8(&g->in) % n); }

static void number(gen *g)
{
    static const char *const numbers[] = {
        "0", "1", "2", "3", "7", "64", "100", "1000", "100000", "-1", "1e9", "math.maxinteger",
        "math.maxinteger - 1", "math.mininteger", "2^31", "2^53", "0.5", "#t", "#s", "i or 1"};
    emit(g, numbers[pick(g, sizeof numbers / sizeof numbers[0])]);
}

static void string_value(gen *g)
{
    static const char *const strings[] = {
        "''", "'a'", "'ab'", "'%d'", "'a-b'", "'%s'", "s", "'/dev/null'", "'x = 1; y = 2'",
        "string.rep('a', 200)", "(s .. s)", "r.annotations.k or 'k'", "'\\0'", "'\\xff\\xfe'",
        "string.rep('a', 100000)", "string.rep('(a)', 1000)"};
    emit(g, strings[pick(g, sizeof strings / sizeof strings[0])]);
}

static void pattern(gen *g)
{
    static const char *const patterns[] = {"'a'", "'a-b'", "'(%w+) = (%w+)'", "'^a*'", "'[%d%s]+'",
                                           "'%b()'", "'%f[%w]%w+'", "'()'", "'(a)%1'", "'.-$'",
                                           "'[^a]'", "'a?a?a?aaa'", "'%'", "'[a'", "'(()'",
                                           "string.rep('a-', 10) .. 'b'", "string.rep('a*', 8) .. '$'",
                                           "string.rep('a', 3000) .. 'b'"};
    emit(g, patterns[pick(g, sizeof patterns / sizeof patterns[0])]);
}

static void statement(gen *g);

static void expression(gen *g)
{
    if (g->depth > 4) {
        number(g);
        return;
    }
    g->depth++;
    switch (pick(g, 12)) {
    case 0: number(g); break;
    case 1: string_value(g); break;
    case 2: emit(g, "{ "); expression(g); emit(g, ", "); expression(g); emit(g, " }"); break;
    case 3: emit(g, "t"); break;
    case 4: emit(g, "{ t, t, k = t }"); break;
    case 5: emit(g, "math.random(1, 1000)"); break;
    case 6: emit(g, "string.format('%s %d', tostring("); string_value(g);
        emit(g, "), math.tointeger("); number(g); emit(g, ") or 0)"); break;
    case 7: emit(g, "select('#', "); expression(g); emit(g, ", "); expression(g); emit(g, ")"); break;
    case 8: emit(g, "json.null"); break;
    case 9: emit(g, "(io.open("); string_value(g); emit(g, ") ~= nil)"); break;
    case 10: emit(g, "vmutils.osversion.RS5"); break;
    default: emit(g, "string.format('%d', 1)"); break;
    }
    g->depth--;
}

static void call(gen *g)
{
    switch (pick(g, 22)) {
    case 0: emit(g, "s = string.rep("); string_value(g); emit(g, ", "); number(g); emit(g, ", ");
        string_value(g); emit(g, ")"); break;
    case 1: emit(g, "t = table.move(t, "); number(g); emit(g, ", "); number(g); emit(g, ", ");
        number(g); emit(g, ", {})"); break;
    case 2: emit(g, "table.insert(t, "); expression(g); emit(g, ")"); break;
    case 3: emit(g, "table.insert(t, "); number(g); emit(g, ", "); expression(g); emit(g, ")"); break;
    case 4: emit(g, "table.remove(t, "); number(g); emit(g, ")"); break;
    case 5: emit(g, "s = table.concat(t, "); string_value(g); emit(g, ")"); break;
    case 6: emit(g, "s = json.encode(t)"); break;
    case 7: emit(g, "math.randomseed("); number(g); emit(g, ")"); break;
    case 8: emit(g, "local f = io.open("); string_value(g); emit(g, ") files[#files + 1] = f"); break;
    case 9: emit(g, "for l in io.lines('/proc/self/status') do s = l break end"); break;
    case 10: emit(g, "local _, lib = pairs(string) lib.format = nil lib.leak = 1"); break;
    case 11: emit(g, "local _, lib = pairs(vmutils) lib.normalize_memory_size = nil"); break;
    case 12: emit(g, "vmutils.osversion.RS5 = 0"); break;
    case 13: emit(g, "rawset(_G, 'leak', 1)"); break;
    case 14: emit(g, "setmetatable(t, { __index = function(_, k) return k end, __len = function() "
                     "return "); number(g); emit(g, " end })"); break;
    case 15: emit(g, "s = string.gsub("); string_value(g); emit(g, ", "); pattern(g);
        emit(g, ", "); string_value(g); emit(g, ")"); break;
    case 16: emit(g, "t[#t + 1] = string.find("); string_value(g); emit(g, ", "); pattern(g);
        emit(g, ")"); break;
    case 17: emit(g, "for a, b in string.gmatch("); string_value(g); emit(g, ", "); pattern(g);
        emit(g, ") do t[#t + 1] = a end"); break;
    case 18: emit(g, "s = utf8.char("); number(g); emit(g, ")"); break;
    case 19: emit(g, "t[#t + 1] = vmutils.normalize_memory_size('uvm', "); number(g); emit(g, ")"); break;
    case 20: emit(g, "s = s .. s"); break;
    default: emit(g, "table.sort(t)"); break;
    }
}

static void statement(gen *g)
{
    if (g->depth > 3) {
        call(g);
        return;
    }
    g->depth++;
    switch (pick(g, 6)) {
    case 0: emit(g, "t[#t + 1] = "); expression(g); break;
    case 1: emit(g, "for i = 1, "); number(g); emit(g, " do "); statement(g); emit(g, " end"); break;
    case 2: emit(g, "pcall(function() "); statement(g); emit(g, " end)"); break;
    case 3: emit(g, "t = { "); expression(g); emit(g, ", "); expression(g); emit(g, " }"); break;
    default: call(g); break;
    }
    g->depth--;
    emit(g, "\n");
}

/* ---- running it ---- */

typedef struct result {
    vmu_policy_status status;
    char *text;
} result;

/* Loads and evaluates, checking the time each call takes; copies the
 * outcome out with table addresses blanked (they differ between states). */
static result run(vmu_policy *rt, const char *policy, size_t len)
{
    result r = {VMU_POLICY_ERROR, NULL};
    uint64_t start = cpu_ms();
    const char *text;
    size_t text_len;
    if (vmu_policy_load(rt, policy, len, "=fuzz") != VMU_POLICY_OK) {
        text = vmu_policy_error(rt);
        text_len = strlen(text);
    } else {
        uint64_t evaluated = cpu_ms();
        FUZZ_REQUIRE(evaluated - start <= TIME_LIMIT_MS + SLACK_MS, "loading took %llu ms",
                     (unsigned long long)(evaluated - start));
        start = evaluated;
        const char *doc = NULL;
        size_t doc_len = 0;
        static const char request[] = "{\"annotations\":{\"k\":\"v\"}}";
        r.status = vmu_policy_evaluate(rt, request, sizeof request - 1, &doc, &doc_len);
        FUZZ_REQUIRE(r.status == VMU_POLICY_OK || r.status == VMU_POLICY_REJECTED ||
                         r.status == VMU_POLICY_ERROR,
                     "status %d", (int)r.status);
        text = r.status == VMU_POLICY_OK ? doc : vmu_policy_error(rt);
        text_len = r.status == VMU_POLICY_OK ? doc_len : strlen(text);
    }
    uint64_t took = cpu_ms() - start;
    FUZZ_REQUIRE(took <= TIME_LIMIT_MS + SLACK_MS, "a call took %llu ms of CPU time:\n%s",
                 (unsigned long long)took, policy);
    FUZZ_REQUIRE(vmu_policy_memory_in_use(rt) <= MEMORY, "the state holds %zu bytes",
                 vmu_policy_memory_in_use(rt));
    r.text = malloc(text_len + 1);
    FUZZ_REQUIRE(r.text, "malloc");
    size_t o = 0;
    for (size_t i = 0; i < text_len; i++) {
        if (text[i] == '0' && i + 1 < text_len && text[i + 1] == 'x') {
            r.text[o++] = '@';
            for (i += 2; i < text_len && strchr("0123456789abcdef", text[i]); i++)
                ;
            i--;
        } else {
            r.text[o++] = text[i];
        }
    }
    r.text[o] = '\0';
    return r;
}

static bool timed_out(const result *r) { return strstr(r->text, VMU_POLICY_ERR_TIME_LIMIT) != NULL; }

/* Outcomes that may differ without a fault (see the top of the file). */
static bool comparable(const result *a, const result *b)
{
    if (timed_out(a) || timed_out(b))
        return false;
    bool a_mem = strcmp(a->text, VMU_POLICY_ERR_MEMORY) == 0;
    bool b_mem = strcmp(b->text, VMU_POLICY_ERR_MEMORY) == 0;
    bool a_budget = strcmp(a->text, VMU_POLICY_ERR_INSTRUCTION_BUDGET) == 0;
    bool b_budget = strcmp(b->text, VMU_POLICY_ERR_INSTRUCTION_BUDGET) == 0;
    return !((a_mem && b_budget) || (a_budget && b_mem));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    gen g = {fuzz_input_of(data, size), {0}, 0};
    vmu_buf_init(&g.src);
    emit(&g, "local files = {}\nreturn function(r)\nlocal t, s = {}, 'ab'\n");
    int statements = 1 + pick(&g, 12);
    for (int i = 0; i < statements && fuzz_left(&g.in) > 0; i++)
        statement(&g);
    emit(&g, "files = {}\nreturn { n = #t, s = s, t = t, r = math.random(1, 1000000), "
             "f = string.format('%d', 1), leak = tostring(rawget(_G, 'leak')) }\nend\n");
    vmu_buf_putc(&g.src, '\0'); /* printed by the messages below */
    FUZZ_REQUIRE(!g.src.failed, "out of memory building the policy");
    g.src.len--;
    if (getenv("FUZZ_POLICY_PRINT")) /* to see what an input stands for */
        fprintf(stderr, "%s", g.src.data);

    int fds = open_descriptors();
    result first = run(shared, g.src.data, g.src.len);
    result again = run(shared, g.src.data, g.src.len);
    vmu_policy *fresh = new_runtime();
    result alone = run(fresh, g.src.data, g.src.len);
    /* Less the three copies of the outcomes made here (under valgrind,
     * whose allocator mallinfo2 does not see, the heap reads as 0). */
    size_t copies = strlen(first.text) + strlen(again.text) + strlen(alone.text) + 3;
    size_t heap = live_heap();
    heap = heap > copies ? heap - copies : 0;
    vmu_policy_free(fresh);

    if (comparable(&first, &again))
        FUZZ_REQUIRE(first.status == again.status && strcmp(first.text, again.text) == 0,
                     "the second evaluation differs:\n%s\n%d %.300s\nthen\n%d %.300s", g.src.data,
                     first.status, first.text, again.status, again.text);
    if (comparable(&again, &alone))
        FUZZ_REQUIRE(again.status == alone.status && strcmp(again.text, alone.text) == 0,
                     "a fresh runtime differs:\n%s\n%d %.300s\nthen\n%d %.300s", g.src.data,
                     again.status, again.text, alone.status, alone.text);
    FUZZ_REQUIRE(open_descriptors() == fds, "descriptors: %d before, %d after:\n%s", fds,
                 open_descriptors(), g.src.data);
    /* Two live runtimes, each with its state (the cap) and its last
     * document (at most the cap, in a buffer grown by doubling: under twice
     * the cap). */
    FUZZ_REQUIRE(heap <= baseline_heap + 6 * MEMORY + HEAP_OVERHEAD,
                 "the live heap grew by %zu bytes:\n%s", heap - baseline_heap, g.src.data);
    FUZZ_REQUIRE(rss_kb() <= (long)RSS_CEILING_MB * 1024, "RSS %ld kB", rss_kb());
    free(first.text);
    free(again.text);
    free(alone.text);
    vmu_buf_free(&g.src);
    return 0;
}
