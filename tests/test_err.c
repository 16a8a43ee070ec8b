/* vmu_err_set: messages that fit are kept as formatted; a longer one keeps
 * its head and its whole tail (where the reason is) and loses the middle of
 * what it quotes, at UTF-8 character boundaries, behind an ellipsis. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "vmutils.h"
#include "../core/test_hooks.h"

/* Whether s is well-formed UTF-8 (no cut character). */
static int utf8_valid(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        size_t width = *p < 0x80 ? 1 : *p >= 0xF0 ? 4 : *p >= 0xE0 ? 3 : *p >= 0xC0 ? 2 : 0;
        if (width == 0)
            return 0;
        for (size_t i = 1; i < width; i++)
            if ((p[i] & 0xC0) != 0x80)
                return 0;
        p += width;
    }
    return 1;
}

static int ends_with(const char *s, const char *tail)
{
    size_t n = strlen(s), m = strlen(tail);
    return n >= m && strcmp(s + n - m, tail) == 0;
}

/* `count` copies of `unit` (a character of 1 to 4 bytes). */
static char *repeat(const char *unit, size_t count)
{
    size_t len = strlen(unit);
    char *s = malloc(len * count + 1);
    assert_non_null(s);
    for (size_t i = 0; i < count; i++)
        memcpy(s + i * len, unit, len);
    s[len * count] = '\0';
    return s;
}

static void test_short_messages_are_whole(void **state)
{
    (void)state;
    vmu_err err;
    assert_int_equal(vmu_err_set(&err, "open %s: %s", "/x", "no such file or directory"), -1);
    assert_string_equal(err.msg, "open /x: no such file or directory");
    assert_int_equal(vmu_err_set(NULL, "%s", "ignored"), -1);
    /* exactly the room: 511 bytes */
    char *fill = repeat("a", 511);
    vmu_err_set(&err, "%s", fill);
    assert_string_equal(err.msg, fill);
    free(fill);
}

/* A path of 600 bytes in characters of every width, the cut falling
 * anywhere inside one: the reason survives whole and no character is cut. */
static void test_long_input_keeps_the_reason(void **state)
{
    (void)state;
    static const char *const units[] = {"a", "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80"};
    for (size_t u = 0; u < sizeof units / sizeof units[0]; u++) {
        for (size_t shift = 0; shift < 4; shift++) {
            char *name = repeat(units[u], 600 / strlen(units[u]));
            char prefix[8];
            snprintf(prefix, sizeof prefix, "/%.*s", (int)shift, "xyz");
            vmu_err err;
            vmu_err_set(&err, "failed to read UVM reference info file: open %s/%s: %s", prefix,
                        name, "file name too long");
            assert_true(strlen(err.msg) <= 511);
            assert_true(utf8_valid(err.msg));
            assert_true(ends_with(err.msg, ": file name too long"));
            assert_memory_equal(err.msg, "failed to read UVM reference info file: open /", 46);
            assert_non_null(strstr(err.msg, "..."));
            free(name);
        }
    }
}

/* Without memory for the whole text, the first 511 bytes at most, never a
 * cut character. */
static void test_without_memory_no_cut_character(void **state)
{
    (void)state;
    for (size_t shift = 0; shift < 4; shift++) {
        char *name = repeat("\xf0\x9f\x98\x80", 200);
        vmu_err err;
        vmu_alloc_fail_after(0);
        vmu_err_set(&err, "%.*s%s: reason", (int)shift, "xyz", name);
        vmu_alloc_fail_after(-1);
        assert_true(strlen(err.msg) <= 511);
        assert_true(strlen(err.msg) >= 508);
        assert_true(utf8_valid(err.msg));
        free(name);
    }
}

/* The reference info reader quotes the path it was given: a 600-byte name
 * fails with the kernel's reason at the end of the message. */
static void test_reference_info_long_name(void **state)
{
    (void)state;
    char *name = repeat("\xc3\xa9", 300);
    vmu_buf out;
    vmu_buf_init(&out);
    vmu_err err;
    assert_int_equal(vmu_parse_uvm_reference_info(NULL, "/tmp", name, &out, &err), -1);
    assert_true(utf8_valid(err.msg));
    assert_true(ends_with(err.msg, ": file name too long"));
    assert_memory_equal(err.msg, "failed to read UVM reference info file: ", 40);
    vmu_buf_free(&out);
    free(name);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_short_messages_are_whole),
        cmocka_unit_test(test_long_input_keeps_the_reason),
        cmocka_unit_test(test_without_memory_no_cut_character),
        cmocka_unit_test(test_reference_info_long_name),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
