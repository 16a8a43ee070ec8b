/* Go's text for integers and float64s, byte for byte as Go 1.19's strconv,
 * fmt and encoding/json print them: the log formatters must match a Go host
 * running logrus, so every rule below mirrors one of Go's (the comments say
 * which), and tests/test_log.c checks them against output captured from real
 * Go programs. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gofmt.h"

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
    char digits[24];
    int nd;
    int dp;
} go_decimal;

__extension__ typedef unsigned __int128 u128;

static const uint64_t pow10_u64[20] = {
    1ULL, 10ULL, 100ULL, 1000ULL, 10000ULL, 100000ULL, 1000000ULL, 10000000ULL,
    100000000ULL, 1000000000ULL, 10000000000ULL, 100000000000ULL, 1000000000000ULL,
    10000000000000ULL, 100000000000000ULL, 1000000000000000ULL, 10000000000000000ULL,
    100000000000000000ULL, 1000000000000000000ULL, 10000000000000000000ULL};

static const uint64_t pow5_u64[28] = {
    1ULL, 5ULL, 25ULL, 125ULL, 625ULL, 3125ULL, 15625ULL, 78125ULL, 390625ULL,
    1953125ULL, 9765625ULL, 48828125ULL, 244140625ULL, 1220703125ULL, 6103515625ULL,
    30517578125ULL, 152587890625ULL, 762939453125ULL, 3814697265625ULL,
    19073486328125ULL, 95367431640625ULL, 476837158203125ULL, 2384185791015625ULL,
    11920928955078125ULL, 59604644775390625ULL, 298023223876953125ULL,
    1490116119384765625ULL, 7450580596923828125ULL};

/* 5^n for n <= 54 (below 2^126). */
static u128 pow5(int n)
{
    if (n <= 27)
        return pow5_u64[n];
    return (u128)pow5_u64[27] * pow5_u64[n - 27];
}

/* floor(e × log10(2)); the 78913 / 2^18 approximation holds for |e| < 1700. */
static int floor_log10_pow2(int e)
{
    int64_t x = (int64_t)e * 78913;
    return (int)(x >= 0 ? x >> 18 : -((-x + 262143) >> 18));
}

/* An exactly scaled bound: its integer part and where its fraction lies. */
typedef struct scaled_bound {
    uint64_t whole;
    bool exact; /* the fraction is zero */
    int half;   /* the fraction against 1/2: -1 below, 0 equal, 1 above */
} scaled_bound;

/* bound × 2^e2 × 10^p, computed exactly in 128 bits (bound < 2^55). False
 * when the operands do not fit, which sends the caller to the slow path. */
static bool scale_exact(uint64_t bound, int e2, int p, scaled_bound *out)
{
    u128 num = bound, den = 1;
    int shift = e2 + p; /* 10^p = 5^p × 2^p */
    if (p >= 0) {
        if (p > 31)
            return false;
        num *= pow5(p);
    } else {
        if (-p > 54)
            return false;
        den = pow5(-p);
    }
    if (shift >= 0) {
        if (shift > 126 || (num >> (126 - shift)) != 0)
            return false;
        num <<= shift;
    } else if (den == 1) {
        /* The common case (a float below 10^16): a shift, no division. */
        int s = -shift;
        if (s > 126)
            return false;
        u128 whole = num >> s;
        if (whole >> 64)
            return false;
        u128 frac = num - (whole << s);
        u128 half = (u128)1 << (s - 1);
        out->whole = (uint64_t)whole;
        out->exact = frac == 0;
        out->half = frac < half ? -1 : frac > half;
        return true;
    } else {
        int s = -shift;
        if (s > 126 || (den >> (126 - s)) != 0)
            return false;
        den <<= s;
    }
    u128 whole = den == 1 ? num : num / den;
    if (whole >> 64)
        return false;
    u128 frac = num - whole * den;
    u128 twice = frac << 1; /* den < 2^127, so no overflow */
    out->whole = (uint64_t)whole;
    out->exact = frac == 0;
    out->half = twice < den ? -1 : twice > den;
    return true;
}

/* Sets dec to c × 10^scale (c > 0): trailing zeros are stripped first,
 * in halving steps, so that only significant digits are generated. */
static void decimal_from_integer(uint64_t c, int scale, go_decimal *dec)
{
    if (c % 100000000 == 0) {
        c /= 100000000;
        scale += 8;
    }
    if (c % 10000 == 0) {
        c /= 10000;
        scale += 4;
    }
    if (c % 100 == 0) {
        c /= 100;
        scale += 2;
    }
    if (c % 10 == 0) {
        c /= 10;
        scale += 1;
    }
    /* The digit count from the bit length (1233 / 4096 ~ log10 2). */
    int n = (64 - __builtin_clzll(c)) * 1233 >> 12;
    if (c >= pow10_u64[n])
        n++;
    digits_backwards(c, dec->digits + n);
    dec->nd = n;
    dec->dp = n + scale;
}

/* Ryu's answer without Ryu's tables: v = mant × 2^exp; its rounding interval
 * (half an ulp each side, a quarter below at a power of two; the ends
 * belong to it when mant is even, as strtod rounds ties to even) is scaled
 * by 10^p to 17-18 digit integers exactly in 128 bits. Then digits are cut
 * while a whole number remains inside, and the survivor nearest v wins
 * (ties to even), which is what strconv prints. */
static bool shortest_exact(uint64_t mant, int exp, bool narrow_below, go_decimal *dec)
{
    uint64_t lower = 4 * mant - (narrow_below ? 1 : 2);
    uint64_t center = 4 * mant;
    uint64_t upper = 4 * mant + 2;
    int e2 = exp - 2;
    bool inclusive = (mant & 1) == 0;
    int p = 16 - floor_log10_pow2(exp + 52);

    scaled_bound sl, sc, su;
    if (!scale_exact(center, e2, p, &sc) || sc.whole < pow10_u64[16] ||
        sc.whole >= pow10_u64[18] || !scale_exact(lower, e2, p, &sl) ||
        !scale_exact(upper, e2, p, &su))
        return false;

    uint64_t lo = sl.whole + (sl.exact && inclusive ? 0 : 1);
    uint64_t hi = su.whole - (su.exact && !inclusive ? 1 : 0);
    int cut = 0;
    for (;;) {
        uint64_t lo10 = lo / 10 + (lo % 10 != 0);
        uint64_t hi10 = hi / 10;
        if (lo10 > hi10)
            break;
        lo = lo10;
        hi = hi10;
        cut++;
    }

    uint64_t c;
    bool up, tie;
    if (cut == 0) {
        c = sc.whole;
        up = sc.half > 0;
        tie = sc.half == 0;
    } else {
        uint64_t unit = pow10_u64[cut];
        uint64_t rest2 = (sc.whole % unit) * 2;
        c = sc.whole / unit;
        up = rest2 > unit || (rest2 == unit && !sc.exact);
        tie = rest2 == unit && sc.exact;
    }
    if (up || (tie && (c & 1)))
        c++;
    if (c < lo)
        c = lo;
    if (c > hi)
        c = hi;
    decimal_from_integer(c, cut - p, dec);
    return true;
}

static const double pow10_double[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                         1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                         1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* The fast path, for most floats in logs were printed from short decimals
 * (12.5, 0.001). A float64 holds 53 bits, so when a decimal of at most 15
 * significant digits reads back as v it is the only one, and it is v rounded
 * to 15 digits. For |v| in about [1e-8, 1e37) that rounding is one product
 * by an exact power of ten (off by far less than a half unit), and checking
 * that it reads back is one more exact operation, correctly rounded as
 * strtod would round it. */
static bool shortest_15(double abs, int exp2, go_decimal *dec)
{
#if FLT_EVAL_METHOD != 0
    /* Wider intermediates (x87) would round twice: exact path only. */
    (void)abs;
    (void)exp2;
    (void)dec;
    return false;
#endif
    int p = 14 - floor_log10_pow2(exp2);
    for (int attempt = 0; attempt < 2; attempt++, p--) {
        if (p > 22 || p < -22)
            return false;
        double scaled = p >= 0 ? abs * pow10_double[p] : abs / pow10_double[-p];
        if (scaled >= 1e15)
            continue; /* the estimate of the exponent was one low */
        uint64_t c = (uint64_t)(scaled + 0.5);
        double back = p >= 0 ? (double)c / pow10_double[p] : (double)c * pow10_double[-p];
        if (back != abs)
            return false;
        decimal_from_integer(c, -p, dec);
        return true;
    }
    return false;
}

/* Parses "d.ddde±x" (any decimal-point character: the C locale may differ). */
static void decimal_from_e_text(const char *text, go_decimal *dec)
{
    int n = 0;
    const char *p = text;
    for (; *p && *p != 'e'; p++)
        if (*p >= '0' && *p <= '9' && n < (int)sizeof dec->digits)
            dec->digits[n++] = *p;
    int exp10 = *p == 'e' ? atoi(p + 1) : 0;
    dec->dp = exp10 + 1;
    while (n > 1 && dec->digits[n - 1] == '0')
        n--;
    dec->nd = n;
}

static bool reads_back(const go_decimal *dec, double want)
{
    char text[48];
    memcpy(text, dec->digits, (size_t)dec->nd);
    snprintf(text + dec->nd, sizeof text - (size_t)dec->nd, "e%d", dec->dp - dec->nd);
    return strtod(text, NULL) == want;
}

/* The n-digit decimal one unit above dec (dec's digits padded to n). */
static go_decimal decimal_one_up(const go_decimal *dec, int n)
{
    go_decimal above = *dec;
    memset(above.digits + above.nd, '0', (size_t)(n - above.nd));
    int i = n - 1;
    while (i >= 0 && above.digits[i] == '9')
        above.digits[i--] = '0';
    if (i >= 0) {
        above.digits[i]++;
    } else {
        above.digits[0] = '1';
        above.dp++;
    }
    while (n > 1 && above.digits[n - 1] == '0')
        n--;
    above.nd = n;
    return above;
}

/* Tries the correctly rounded n-digit decimal of abs, and at a power of two
 * (whose interval is narrower below) the one a unit above it. */
static bool shortest_try(double abs, int n, bool narrow_below, go_decimal *dec)
{
    char text[48];
    snprintf(text, sizeof text, "%.*e", n - 1, abs);
    decimal_from_e_text(text, dec);
    if (reads_back(dec, abs))
        return true;
    if (narrow_below) {
        go_decimal above = decimal_one_up(dec, n);
        if (reads_back(&above, abs)) {
            *dec = above;
            return true;
        }
    }
    return false;
}

/* For what the exact path does not cover (subnormals, magnitudes past about
 * 1e-15..1e41): printf's correctly rounded digits read back with strtod.
 * A normal float has 53 bits, so if any decimal of at most 15 digits reads
 * back, it is the 15-digit rounding with its zeros trimmed; else 16 or 17
 * digits. A subnormal has fewer bits: count up from one digit. */
static void shortest_slow(double abs, bool subnormal, bool narrow_below, go_decimal *dec)
{
    for (int n = subnormal ? 1 : 15; n < 17; n++)
        if (shortest_try(abs, n, narrow_below, dec))
            return;
    shortest_try(abs, 17, false, dec); /* 17 digits always read back */
}

static void shortest_decimal(double abs, go_decimal *dec)
{
    uint64_t bits;
    memcpy(&bits, &abs, sizeof bits);
    int biased = (int)(bits >> 52 & 0x7ff);
    uint64_t frac = bits & ((1ULL << 52) - 1);
    if (biased == 0) {
        if (frac == 0) {
            dec->nd = 0;
            dec->dp = 0;
            return;
        }
        shortest_slow(abs, true, false, dec);
        return;
    }
    bool narrow_below = frac == 0 && biased > 1;
    if (shortest_15(abs, biased - 1023, dec))
        return;
    if (!shortest_exact(frac | 1ULL << 52, biased - 1075, narrow_below, dec))
        shortest_slow(abs, false, narrow_below, dec);
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
