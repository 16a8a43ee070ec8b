/* Shared by the fuzz targets: reading structured values out of the fuzzer's
 * bytes, and a property check that aborts (so libFuzzer saves the input)
 * with a message saying which property broke. Header-only: each target is
 * one translation unit. */
#ifndef VMUTILS_FUZZ_INPUT_H
#define VMUTILS_FUZZ_INPUT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A property that must hold for every input. Under libFuzzer: abort()
 * rather than return, so that it keeps the input as a reproducer. Built
 * with FUZZ_REPLAY (tests/test_fuzz_regressions.c links the targets to
 * replay saved inputs): the test's hook fails the running test instead. */
#ifdef FUZZ_REPLAY
void fuzz_replay_property_failed(void);
#define FUZZ_PROPERTY_FAILED() fuzz_replay_property_failed()
#else
#define FUZZ_PROPERTY_FAILED() abort()
#endif

#define FUZZ_REQUIRE(cond, ...)                                                   \
    do {                                                                          \
        if (!(cond)) {                                                            \
            fprintf(stderr, "%s:%d: property failed: %s: ", __FILE__, __LINE__,   \
                    #cond);                                                       \
            fprintf(stderr, __VA_ARGS__);                                         \
            fputc('\n', stderr);                                                  \
            FUZZ_PROPERTY_FAILED();                                               \
        }                                                                         \
    } while (0)

/* The fuzzer's bytes, consumed front to back. Past the end every read gives
 * zeros, so any input, however short, describes a complete case. */
typedef struct fuzz_input {
    const uint8_t *data;
    size_t len;
    size_t pos;
} fuzz_input;

static inline fuzz_input fuzz_input_of(const uint8_t *data, size_t len)
{
    fuzz_input in = {data, len, 0};
    return in;
}

static inline size_t fuzz_left(const fuzz_input *in) { return in->len - in->pos; }

static inline uint8_t fuzz_u8(fuzz_input *in)
{
    return in->pos < in->len ? in->data[in->pos++] : 0;
}

static inline uint32_t fuzz_u32(fuzz_input *in)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++)
        v = (v << 8) | fuzz_u8(in);
    return v;
}

static inline uint64_t fuzz_u64(fuzz_input *in)
{
    uint64_t v = fuzz_u32(in);
    return (v << 32) | fuzz_u32(in);
}

/* A small number, biased towards the edge values a rule is likely to
 * compare against: one byte picks either a value 0..127 or a 32-bit one. */
static inline uint32_t fuzz_small_or_wide_u32(fuzz_input *in)
{
    uint8_t b = fuzz_u8(in);
    return b < 128 ? b : fuzz_u32(in);
}

/* Up to `max` bytes, the count given by one byte; points into the input. */
static inline const uint8_t *fuzz_bytes(fuzz_input *in, size_t max, size_t *len)
{
    size_t want = fuzz_u8(in);
    if (want > max)
        want = max;
    if (want > fuzz_left(in))
        want = fuzz_left(in);
    const uint8_t *p = in->data + in->pos;
    in->pos += want;
    *len = want;
    return p;
}

/* The rest of the input. */
static inline const uint8_t *fuzz_rest(fuzz_input *in, size_t *len)
{
    const uint8_t *p = in->data + in->pos;
    *len = fuzz_left(in);
    in->pos = in->len;
    return p;
}

#endif
