/* Sizing rules and LCOW defaults: hcsshim's normalize_test.go and
 * lcow_test.go cases, plus the warnings, the affinity mask, both boot-files
 * branches and allocation failures. */
#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "../core/test_hooks.h"
#include "log_capture.h"
#include "vmutils.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define ROW_TEST(fn, row) {(row).name, fn, NULL, NULL, (void *)&(row)}

/* ---- NormalizeMemorySize ---- */

typedef struct memory_case {
    const char *name;
    uint64_t requested;
    uint64_t expected;
} memory_case;

static const memory_case memory_cases[] = {
    /* hcsshim's cases */
    {"memory: zero stays zero", 0, 0},
    {"memory: 2 is already aligned", 2, 2},
    {"memory: 1 rounds up to 2", 1, 2},
    {"memory: 4 stays", 4, 4},
    {"memory: 1023 rounds up to 1024", 1023, 1024},
    {"memory: 1024 stays", 1024, 1024},
    {"memory: 65535 rounds up to 65536", 65535, 65536},
    {"memory: 65536 stays", 65536, 65536},
    {"memory: max uint64 minus 1 stays", UINT64_C(0xFFFFFFFFFFFFFFFE), UINT64_C(0xFFFFFFFFFFFFFFFE)},
    /* beyond: Go's uint64 arithmetic wraps the largest odd value to 0 */
    {"memory: max uint64 wraps to 0 as in Go", UINT64_MAX, 0},
    {"memory: 2^63-1 rounds up to 2^63", UINT64_C(0x7FFFFFFFFFFFFFFF), UINT64_C(0x8000000000000000)},
};

static void check_uvm_warning(const log_capture *cap, const char *msg, const char *uvm_id,
                              const char *requested, const char *assigned, vmu_value_kind kind)
{
    assert_int_equal(cap->count, 1);
    const captured_record *r = &cap->records[0];
    assert_int_equal(r->level, VMU_LEVEL_WARN);
    assert_string_equal(r->msg, msg);
    assert_int_equal(r->field_count, 3);
    const captured_field *f = capture_field(r, "uvm-id");
    assert_non_null(f);
    assert_int_equal(f->kind, VMU_VALUE_STRING);
    assert_string_equal(f->text, uvm_id);
    f = capture_field(r, "requested");
    assert_non_null(f);
    assert_int_equal(f->kind, kind);
    assert_string_equal(f->text, requested);
    f = capture_field(r, "assigned");
    assert_non_null(f);
    assert_int_equal(f->kind, kind);
    assert_string_equal(f->text, assigned);
}

static void test_normalize_memory_size(void **state)
{
    const memory_case *c = *state;
    log_capture cap;
    capture_start(&cap, VMU_LEVEL_INFO);
    uint64_t actual = vmu_normalize_memory_size(cap.logger, "test-uvm-id", 11, c->requested);
    assert_true(actual == c->expected);
    if (c->requested == c->expected) {
        assert_int_equal(cap.count, 0);
    } else {
        char requested[32], assigned[32];
        snprintf(requested, sizeof requested, "%" PRIu64, c->requested);
        snprintf(assigned, sizeof assigned, "%" PRIu64, c->expected);
        check_uvm_warning(&cap, "Changing user requested MemorySizeInMB to align to 2MB",
                          "test-uvm-id", requested, assigned, VMU_VALUE_UINT);
    }
    capture_stop(&cap);
}

/* ---- NormalizeProcessorCount ---- */

typedef struct processor_case {
    const char *name;
    int32_t requested;
    uint32_t host_count;
    int32_t expected;
} processor_case;

static const processor_case processor_cases[] = {
    /* hcsshim's cases */
    {"processors: zero requested", 0, 8, 0},
    {"processors: fewer than the host", 4, 8, 4},
    {"processors: as many as the host", 8, 8, 8},
    {"processors: more than the host are clamped", 16, 8, 8},
    {"processors: 1 on a 1-processor host", 1, 1, 1},
    {"processors: 2 on a 1-processor host become 1", 2, 1, 1},
    {"processors: 256 on a 128-processor host become 128", 256, 128, 128},
    {"processors: negative comes back unchanged", -1, 8, -1},
    /* beyond: Go converts the uint32 host count to int32 */
    {"processors: host count past INT32_MAX turns negative", 4, UINT32_MAX, -1},
    {"processors: host count 2^31 is INT32_MIN", 0, UINT32_C(0x80000000), INT32_MIN},
    {"processors: INT32_MIN with a zero host count stays", INT32_MIN, 0, INT32_MIN},
    {"processors: INT32_MAX on a host of INT32_MAX stays", INT32_MAX, INT32_MAX, INT32_MAX},
    {"processors: zero host count clamps to 0", 2, 0, 0},
};

static void test_normalize_processor_count(void **state)
{
    const processor_case *c = *state;
    log_capture cap;
    capture_start(&cap, VMU_LEVEL_INFO);
    int32_t actual =
        vmu_normalize_processor_count(cap.logger, "test-uvm-id", 11, c->requested, c->host_count);
    assert_int_equal(actual, c->expected);
    if (c->requested == c->expected) {
        assert_int_equal(cap.count, 0);
    } else {
        char requested[32], assigned[32];
        snprintf(requested, sizeof requested, "%" PRId32, c->requested);
        snprintf(assigned, sizeof assigned, "%" PRId32, c->expected);
        check_uvm_warning(&cap, "Changing user requested CPUCount to current number of processors",
                          "test-uvm-id", requested, assigned, VMU_VALUE_INT);
    }
    capture_stop(&cap);
}

static void test_uvm_id_bytes(void **state)
{
    (void)state;
    log_capture cap;
    capture_start(&cap, VMU_LEVEL_INFO);
    /* A NUL inside the id is kept: the field has the given length. */
    assert_true(vmu_normalize_memory_size(cap.logger, "a\0b", 3, 3) == 4);
    assert_int_equal(cap.count, 1);
    const captured_field *f = capture_field(&cap.records[0], "uvm-id");
    assert_int_equal(f->text_len, 3);
    assert_memory_equal(f->text, "a\0b", 3);
    capture_clear(&cap);
    /* NULL id: an empty string, not a crash. */
    assert_int_equal(vmu_normalize_processor_count(cap.logger, NULL, 5, 9, 8), 8);
    assert_int_equal(cap.count, 1);
    assert_int_equal(capture_field(&cap.records[0], "uvm-id")->text_len, 0);
    capture_stop(&cap);
}

static void test_warnings_respect_level(void **state)
{
    (void)state;
    log_capture cap;
    capture_start(&cap, VMU_LEVEL_ERROR);
    assert_true(vmu_normalize_memory_size(cap.logger, "x", 1, 7) == 8);
    assert_int_equal(vmu_normalize_processor_count(cap.logger, "x", 1, 9, 8), 8);
    assert_int_equal(cap.count, 0);
    capture_stop(&cap);
}

static void test_normalize_without_memory(void **state)
{
    (void)state;
    log_capture cap;
    capture_start(&cap, VMU_LEVEL_INFO);
    vmu_alloc_fail_after(0);
    uint64_t memory = vmu_normalize_memory_size(cap.logger, "x", 1, 7);
    int32_t processors = vmu_normalize_processor_count(cap.logger, "x", 1, 9, 8);
    vmu_alloc_fail_after(-1);
    assert_true(memory == 8);
    assert_int_equal(processors, 8);
    capture_stop(&cap);
}

/* ---- DefaultProcessorCountForUVM ---- */

static int affinity_count(void)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    assert_int_equal(sched_getaffinity(0, sizeof set, &set), 0);
    return CPU_COUNT(&set);
}

static void test_default_processor_count_follows_affinity(void **state)
{
    (void)state;
    cpu_set_t saved;
    CPU_ZERO(&saved);
    assert_int_equal(sched_getaffinity(0, sizeof saved, &saved), 0);
    assert_int_equal(vmu_default_processor_count_for_uvm(), affinity_count() == 1 ? 1 : 2);

    /* Pinned to the first allowed CPU, the process may use one processor. */
    int first = -1;
    for (int cpu = 0; cpu < CPU_SETSIZE && first < 0; cpu++)
        if (CPU_ISSET(cpu, &saved))
            first = cpu;
    assert_true(first >= 0);
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(first, &one);
    assert_int_equal(sched_setaffinity(0, sizeof one, &one), 0);
    int32_t pinned = vmu_default_processor_count_for_uvm();
    assert_int_equal(sched_setaffinity(0, sizeof saved, &saved), 0);
    assert_int_equal(pinned, 1);
    if (CPU_COUNT(&saved) > 1)
        assert_int_equal(vmu_default_processor_count_for_uvm(), 2);
}

/* ---- LinuxLogForwarderCommand ---- */

typedef struct forwarder_case {
    const char *name;
    bool reconnect;
    const char *want;
} forwarder_case;

static const forwarder_case forwarder_cases[] = {
    {"forwarder: default mode has no reconnect flag", false, "/bin/vsockexec -e 109"},
    {"forwarder: reconnect mode adds -r", true, "/bin/vsockexec -r -e 109"},
};

static void test_linux_log_forwarder_command(void **state)
{
    const forwarder_case *c = *state;
    assert_string_equal(vmu_linux_log_forwarder_command(c->reconnect), c->want);
}

/* ---- DefaultLCOWOSBootFilesPath ---- */

/* "<dir of this test binary>/LinuxBootFiles", found independently of the
 * code under test (realpath of argv[0] is fine here: the runner starts us
 * by path). */
static char local_boot_files[PATH_MAX];

static void set_program_files(const char *value)
{
    if (value)
        assert_int_equal(setenv("ProgramFiles", value, 1), 0);
    else
        assert_int_equal(unsetenv("ProgramFiles"), 0);
}

typedef struct lcow_case {
    const char *name;
    enum { LOCAL_NONE, LOCAL_DIR, LOCAL_FILE } local;
    const char *program_files; /* NULL: unset */
    const char *expected;      /* NULL: the local LinuxBootFiles */
} lcow_case;

static const lcow_case lcow_cases[] = {
    /* hcsshim's two branches */
    {"lcow: LinuxBootFiles beside the executable when it exists", LOCAL_DIR, "/pf", NULL},
    {"lcow: $ProgramFiles/Linux Containers when it does not", LOCAL_NONE, "/pf",
     "/pf/Linux Containers"},
    /* beyond */
    {"lcow: LinuxBootFiles wins with ProgramFiles unset", LOCAL_DIR, NULL, NULL},
    {"lcow: any file named LinuxBootFiles counts, as Go's os.Stat", LOCAL_FILE, "/pf", NULL},
    {"lcow: ProgramFiles is joined and cleaned as filepath.Join", LOCAL_NONE, "/a/./b/../pf//",
     "/a/pf/Linux Containers"},
    {"lcow: ProgramFiles unset gives the documented directory", LOCAL_NONE, NULL,
     VMU_LCOW_BOOT_FILES_FALLBACK_DIR},
    {"lcow: ProgramFiles empty gives the documented directory", LOCAL_NONE, "",
     VMU_LCOW_BOOT_FILES_FALLBACK_DIR},
};

static void test_default_lcow_os_boot_files_path(void **state)
{
    const lcow_case *c = *state;
    if (c->local == LOCAL_DIR) {
        assert_int_equal(mkdir(local_boot_files, 0755), 0);
    } else if (c->local == LOCAL_FILE) {
        FILE *f = fopen(local_boot_files, "w");
        assert_non_null(f);
        fclose(f);
    }
    set_program_files(c->program_files);
    char *path = vmu_default_lcow_os_boot_files_path();
    /* Clean up before asserting so a failure leaves no directory behind. */
    if (c->local != LOCAL_NONE)
        assert_int_equal(remove(local_boot_files), 0);
    assert_non_null(path);
    assert_string_equal(path, c->expected ? c->expected : local_boot_files);
    vmu_free(path);
    unsetenv("ProgramFiles");
}

/* The executable is found through the kernel: another working directory
 * changes nothing, and the result is absolute. */
static void test_boot_files_path_ignores_working_directory(void **state)
{
    (void)state;
    char cwd[PATH_MAX];
    assert_non_null(getcwd(cwd, sizeof cwd));
    assert_int_equal(mkdir(local_boot_files, 0755), 0);
    int moved = chdir("/");
    char *path = vmu_default_lcow_os_boot_files_path();
    assert_int_equal(chdir(cwd), 0);
    assert_int_equal(rmdir(local_boot_files), 0);
    assert_int_equal(moved, 0);
    assert_non_null(path);
    assert_string_equal(path, local_boot_files);
    vmu_free(path);
}

static void test_boot_files_path_shape(void **state)
{
    (void)state;
    char *path = vmu_default_lcow_os_boot_files_path();
    assert_non_null(path);
    assert_true(path[0] == '/');
    const char *base = strrchr(path, '/') + 1;
    assert_true(strcmp(base, "LinuxBootFiles") == 0 || strcmp(base, "Linux Containers") == 0);
    vmu_free(path);
}

static void test_boot_files_path_without_memory(void **state)
{
    (void)state;
    set_program_files("/pf");
    /* Every allocation point fails in turn; each gives NULL or the answer. */
    for (long n = 0; n < 16; n++) {
        vmu_alloc_fail_after(n);
        char *path = vmu_default_lcow_os_boot_files_path();
        vmu_alloc_fail_after(-1);
        if (path) {
            assert_string_equal(path, "/pf/Linux Containers");
            vmu_free(path);
        }
    }
    unsetenv("ProgramFiles");
}

int main(int argc, char **argv)
{
    (void)argc;
    char self[PATH_MAX];
    if (!realpath(argv[0], self))
        return 1;
    snprintf(local_boot_files, sizeof local_boot_files, "%.*s/LinuxBootFiles",
             (int)(strrchr(self, '/') - self), self);
    remove(local_boot_files); /* left over from an interrupted run */

    static struct CMUnitTest tests[ARRAY_LEN(memory_cases) + ARRAY_LEN(processor_cases) +
                                   ARRAY_LEN(forwarder_cases) + ARRAY_LEN(lcow_cases) + 7];
    size_t n = 0;
    for (size_t i = 0; i < ARRAY_LEN(memory_cases); i++)
        tests[n++] = (struct CMUnitTest)ROW_TEST(test_normalize_memory_size, memory_cases[i]);
    for (size_t i = 0; i < ARRAY_LEN(processor_cases); i++)
        tests[n++] = (struct CMUnitTest)ROW_TEST(test_normalize_processor_count, processor_cases[i]);
    for (size_t i = 0; i < ARRAY_LEN(forwarder_cases); i++)
        tests[n++] = (struct CMUnitTest)ROW_TEST(test_linux_log_forwarder_command, forwarder_cases[i]);
    for (size_t i = 0; i < ARRAY_LEN(lcow_cases); i++)
        tests[n++] = (struct CMUnitTest)ROW_TEST(test_default_lcow_os_boot_files_path, lcow_cases[i]);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_uvm_id_bytes);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_warnings_respect_level);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_normalize_without_memory);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_default_processor_count_follows_affinity);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_boot_files_path_ignores_working_directory);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_boot_files_path_shape);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_boot_files_path_without_memory);
    if (n != ARRAY_LEN(tests)) {
        fprintf(stderr, "test table holds %zu tests, filled %zu\n", ARRAY_LEN(tests), n);
        return 1;
    }
    return cmocka_run_group_tests_name("sizing", tests, NULL, NULL);
}
