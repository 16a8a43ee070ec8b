/* Go's text for integers and float64s, byte for byte as Go 1.19's strconv,
 * fmt and encoding/json print them: the log formatters must match a Go host
 * running logrus, so every rule below mirrors one of Go's (the comments say
 * which), and tests/test_log.c checks them against output captured from real
 * Go programs. */
#include <math.h>
#include <string.h>

#include "gofmt.h"
#include "shortest_digits.h"

/* ---- integers ---- */

const char vmu_go_digit_pairs[201] = "00010203040506070809"
                                  "10111213141516171819"
                                  "20212223242526272829"
                                  "30313233343536373839"
                                  "40414243444546474849"
                                  "50515253545556575859"
                                  "60616263646566676869"
                                  "70717273747576777879"
                                  "80818283848586878889"
                                  "90919293949596979899";

/* Writes the decimal digits of v right-aligned before `end`; returns the
 * start. Two digits per step: this runs for every integer field. */
static char *digits_backwards(uint64_t v, char *end)
{
    char *p = end;
    while (v >= 100) {
        unsigned pair = (unsigned)(v % 100);
        v /= 100;
        p -= 2;
        memcpy(p, vmu_go_digit_pairs + 2 * pair, 2);
    }
    if (v >= 10) {
        p -= 2;
        memcpy(p, vmu_go_digit_pairs + 2 * v, 2);
    } else {
        *--p = (char)('0' + v);
    }
    return p;
}

size_t vmu_go_uint(uint64_t value, char *dst)
{
    char tmp[VMU_GO_INT_MAX];
    char *start = digits_backwards(value, tmp + sizeof tmp);
    size_t n = (size_t)(tmp + sizeof tmp - start);
    memcpy(dst, start, n);
    return n;
}

size_t vmu_go_int(int64_t value, char *dst)
{
    if (value >= 0)
        return vmu_go_uint((uint64_t)value, dst);
    dst[0] = '-';
    /* -(INT64_MIN) overflows; its magnitude is representable unsigned. */
    return 1 + vmu_go_uint((uint64_t)0 - (uint64_t)value, dst + 1);
}

/* ---- float64 ---- */

/* A decimal as strconv keeps it: nd significant digits (no trailing zeros),
 * value 0.d1d2...dnd × 10^dp; zero has nd == 0. */
typedef struct go_decimal {
    char digits[VMU_SHORTEST_DIGITS_MAX];
    int nd;
    int dp;
} go_decimal;

/* strconv's shortest digits of abs (finite, >= 0). */
static void shortest_decimal(double abs, go_decimal *dec)
{
    if (abs == 0) {
        dec->nd = 0;
        dec->dp = 0;
        return;
    }
    dec->nd = vmu_shortest_digits(abs, dec->digits, &dec->dp);
}

/* strconv's %e layout: d.ddde±dd. encoding/json drops the exponent's
 * leading zero when it is negative ("1e-7", not "1e-07"). */
static size_t layout_e(const go_decimal *d, bool neg, bool json, char *dst)
{
    char *p = dst;
    if (neg)
        *p++ = '-';
    *p++ = d->nd ? d->digits[0] : '0';
    if (d->nd > 1) {
        *p++ = '.';
        memcpy(p, d->digits + 1, (size_t)(d->nd - 1));
        p += d->nd - 1;
    }
    *p++ = 'e';
    int exp = d->nd ? d->dp - 1 : 0;
    bool negative_exp = exp < 0;
    if (negative_exp)
        exp = -exp;
    *p++ = negative_exp ? '-' : '+';
    if (exp < 10) {
        if (!(json && negative_exp))
            *p++ = '0';
        *p++ = (char)('0' + exp);
    } else if (exp < 100) {
        memcpy(p, vmu_go_digit_pairs + 2 * exp, 2);
        p += 2;
    } else {
        *p++ = (char)('0' + exp / 100);
        memcpy(p, vmu_go_digit_pairs + 2 * (exp % 100), 2);
        p += 2;
    }
    return (size_t)(p - dst);
}

/* strconv's %f layout with exactly the digits needed. */
static size_t layout_f(const go_decimal *d, bool neg, char *dst)
{
    char *p = dst;
    if (neg)
        *p++ = '-';
    if (d->dp <= 0) { /* 0.000ddd */
        *p++ = '0';
        if (d->nd == 0)
            return (size_t)(p - dst);
        *p++ = '.';
        memset(p, '0', (size_t)-d->dp);
        p += -d->dp;
        memcpy(p, d->digits, (size_t)d->nd);
        return (size_t)(p + d->nd - dst);
    }
    if (d->nd <= d->dp) { /* ddd000 */
        memcpy(p, d->digits, (size_t)d->nd);
        memset(p + d->nd, '0', (size_t)(d->dp - d->nd));
        return (size_t)(p + d->dp - dst);
    }
    memcpy(p, d->digits, (size_t)d->dp); /* ddd.ddd */
    p += d->dp;
    *p++ = '.';
    memcpy(p, d->digits + d->dp, (size_t)(d->nd - d->dp));
    return (size_t)(p + d->nd - d->dp - dst);
}

size_t vmu_go_float_json(double value, char *dst)
{
    if (!isfinite(value)) {
        memcpy(dst, "null", 4);
        return 4;
    }
    double abs = fabs(value);
    go_decimal d;
    shortest_decimal(abs, &d);
    /* encoding/json's floatEncoder: %e outside [1e-6, 1e21). */
    if (abs != 0 && (abs < 1e-6 || abs >= 1e21))
        return layout_e(&d, signbit(value), true, dst);
    return layout_f(&d, signbit(value), dst);
}

size_t vmu_go_float_v(double value, char *dst)
{
    if (isnan(value)) {
        memcpy(dst, "NaN", 3);
        return 3;
    }
    if (isinf(value)) {
        memcpy(dst, value > 0 ? "+Inf" : "-Inf", 4);
        return 4;
    }
    go_decimal d;
    shortest_decimal(fabs(value), &d);
    /* %v is 'g' with the shortest digits, which switches to %e when the
     * exponent is below -4 or at least 6 (not at the digit count). */
    int exp = d.dp - 1;
    if (exp < -4 || exp >= 6)
        return layout_e(&d, signbit(value), false, dst);
    return layout_f(&d, signbit(value), dst);
}

/* ---- the public wrappers of <vmutils/log.h> ---- */

int vmu_format_float_json(double value, vmu_buf *out)
{
    if (!out)
        return -1;
    char text[VMU_GO_FLOAT_MAX];
    return vmu_buf_append(out, text, vmu_go_float_json(value, text));
}

int vmu_format_float_go(double value, vmu_buf *out)
{
    if (!out)
        return -1;
    char text[VMU_GO_FLOAT_MAX];
    return vmu_buf_append(out, text, vmu_go_float_v(value, text));
}
