/* Replays saved fuzz inputs through the fuzz targets themselves, built
 * without libFuzzer (FUZZ_REPLAY): every input in fuzz/regressions/<target>/
 * (inputs that once crashed or broke a property, kept after the fix) and
 * every seed in fuzz/corpus/<target>/. Each target checks its properties on
 * each input, so a regression fails here in every build: plain, make
 * sanitize (ASan/UBSan), make memcheck (valgrind) and make tsan. Runs from
 * the repository root (tests/run_all.sh does). */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* The targets' entry points, renamed by the Makefile's replay rule. */
int replay_fuzz_gcs_entry_one(const uint8_t *data, size_t size);
int replay_fuzz_gcs_stream_one(const uint8_t *data, size_t size);
int replay_fuzz_numa_one(const uint8_t *data, size_t size);
int replay_fuzz_options_one(const uint8_t *data, size_t size);
int replay_fuzz_policy_one(const uint8_t *data, size_t size);
int replay_fuzz_policy_init(int *argc, char ***argv);
int replay_fuzz_refinfo_one(const uint8_t *data, size_t size);
int replay_fuzz_request_one(const uint8_t *data, size_t size);
int replay_fuzz_refinfo_init(int *argc, char ***argv);
int replay_fuzz_request_init(int *argc, char ***argv);

/* FUZZ_REQUIRE's hook in replay builds: the property's message is already
 * on stderr; this fails the running test. */
void fuzz_replay_property_failed(void);
void fuzz_replay_property_failed(void) { fail(); }

typedef struct target {
    const char *name;
    int (*one)(const uint8_t *, size_t);
    int (*init)(int *, char ***);
} target;

static const target targets[] = {
    {"fuzz_gcs_entry", replay_fuzz_gcs_entry_one, NULL},
    {"fuzz_gcs_stream", replay_fuzz_gcs_stream_one, NULL},
    {"fuzz_numa", replay_fuzz_numa_one, NULL},
    {"fuzz_options", replay_fuzz_options_one, NULL},
    {"fuzz_policy", replay_fuzz_policy_one, replay_fuzz_policy_init},
    {"fuzz_refinfo", replay_fuzz_refinfo_one, replay_fuzz_refinfo_init},
    {"fuzz_request", replay_fuzz_request_one, replay_fuzz_request_init},
};

static uint8_t *read_whole(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    size_t cap = 4096, n = 0;
    uint8_t *data = malloc(cap);
    assert_non_null(data);
    size_t got;
    while ((got = fread(data + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            cap *= 2;
            data = realloc(data, cap);
            assert_non_null(data);
        }
    }
    assert_int_equal(ferror(f), 0);
    fclose(f);
    *len = n;
    return data;
}

/* Replays every regular file of dir; returns how many. */
static size_t replay_dir(const target *t, const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    size_t count = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        size_t len;
        uint8_t *data = read_whole(path, &len);
        fprintf(stderr, "# %s: %s\n", t->name, path);
        t->one(data, len);
        free(data);
        count++;
    }
    closedir(d);
    return count;
}

static void test_replay(void **state)
{
    const target *t = *state;
    if (t->init)
        assert_int_equal(t->init(NULL, NULL), 0);
    char dir[256];
    snprintf(dir, sizeof dir, "fuzz/corpus/%s", t->name);
    size_t seeds = replay_dir(t, dir);
    snprintf(dir, sizeof dir, "fuzz/regressions/%s", t->name);
    size_t regressions = replay_dir(t, dir);
    fprintf(stderr, "# %s: %zu seeds, %zu regression inputs\n", t->name, seeds, regressions);
    /* Every target has committed seeds: none found means the wrong
     * directory, not a pass. */
    assert_true(seeds > 0);
}

int main(void)
{
    struct CMUnitTest tests[sizeof targets / sizeof targets[0]];
    for (size_t i = 0; i < sizeof targets / sizeof targets[0]; i++) {
        struct CMUnitTest t = {targets[i].name, test_replay, NULL, NULL, (void *)&targets[i]};
        tests[i] = t;
    }
    return _cmocka_run_group_tests("fuzz_regressions", tests, sizeof tests / sizeof tests[0], NULL,
                                   NULL);
}
