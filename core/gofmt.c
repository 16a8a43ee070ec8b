/* Go's text for numbers, strings and times, byte for byte as Go 1.19's
 * strconv, fmt, time and encoding/json print them: the log formatters must
 * match a Go host running logrus, so every rule below mirrors one of Go's
 * (the comments say which), and tests/test_log.c checks them against output
 * captured from real Go programs. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "copy_short.h"
#include "gofmt.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/* ---- integers ---- */

static const char digit_pairs[] = "00010203040506070809"
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
        memcpy(p, digit_pairs + 2 * pair, 2);
    }
    if (v >= 10) {
        p -= 2;
        memcpy(p, digit_pairs + 2 * v, 2);
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
        memcpy(p, digit_pairs + 2 * exp, 2);
        p += 2;
    } else {
        *p++ = (char)('0' + exp / 100);
        memcpy(p, digit_pairs + 2 * (exp % 100), 2);
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

/* ---- time ---- */

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* A time as the wall clock of one zone shows it: the day (from the epoch),
 * the second of that day and the nanosecond. */
typedef struct wall_clock {
    int64_t days;
    int32_t second_of_day;
    int32_t nsec;
} wall_clock;

/* Beyond this many seconds from the epoch the arithmetic below could
 * overflow; such times (hundreds of billions of years) are clamped. */
#define SECONDS_LIMIT ((int64_t)1 << 55)

/* The wall clock of t in the zone `offset` seconds east of UTC. */
static void wall_clock_of(const vmu_time *t, int32_t offset, wall_clock *w)
{
    int64_t secs = t->unix_sec;
    int64_t nsec = t->nsec;
    if (nsec < 0 || nsec >= 1000000000) {
        secs += floor_div(nsec, 1000000000);
        nsec -= floor_div(nsec, 1000000000) * 1000000000;
    }
    if (secs > SECONDS_LIMIT)
        secs = SECONDS_LIMIT;
    if (secs < -SECONDS_LIMIT)
        secs = -SECONDS_LIMIT;
    secs += offset;
    w->nsec = (int32_t)nsec;
    w->days = floor_div(secs, 86400);
    w->second_of_day = (int32_t)(secs - w->days * 86400);
}

typedef struct civil_date {
    int64_t year;
    int month, day;
} civil_date;

/* The date `days` after 1970-01-01 on the proleptic Gregorian calendar, as
 * Go's time package counts it. */
static void civil_from_days(int64_t days, civil_date *c)
{
    /* Count in 400-year cycles of 146097 days that start on March 1st, so
     * that each year's leap day is its last day: day-of-cycle gives the
     * year-of-cycle by the leap rules, then a 153-days-per-5-months rule
     * gives the month. */
    int64_t shifted = days + 719468; /* 0000-03-01 to 1970-01-01 */
    int64_t cycle = floor_div(shifted, 146097);
    int64_t day_of_cycle = shifted - cycle * 146097;
    int64_t year_of_cycle =
        (day_of_cycle - day_of_cycle / 1460 + day_of_cycle / 36524 - day_of_cycle / 146096) / 365;
    int64_t day_of_year = day_of_cycle - (365 * year_of_cycle + year_of_cycle / 4 - year_of_cycle / 100);
    int64_t month_from_march = (5 * day_of_year + 2) / 153;
    c->day = (int)(day_of_year - (153 * month_from_march + 2) / 5 + 1);
    c->month = (int)(month_from_march < 10 ? month_from_march + 3 : month_from_march - 9);
    c->year = year_of_cycle + cycle * 400 + (c->month <= 2);
}

static char *put2(char *p, int v)
{
    memcpy(p, digit_pairs + 2 * v, 2);
    return p + 2;
}

/* Go's appendInt(b, v, width): zero-padded to width, never cut. */
static char *put_padded(char *p, uint64_t v, int width)
{
    char tmp[VMU_GO_INT_MAX];
    char *start = digits_backwards(v, tmp + sizeof tmp);
    int n = (int)(tmp + sizeof tmp - start);
    for (; n < width; width--)
        *p++ = '0';
    memcpy(p, start, (size_t)n);
    return p + n;
}

/* "2006-01-02" for the day `days`; negative years print as Go's "-0001". */
static char *put_date(char *p, int64_t days)
{
    civil_date c;
    civil_from_days(days, &c);
    if (c.year < 0) {
        *p++ = '-';
        p = put_padded(p, (uint64_t)0 - (uint64_t)c.year, 4);
    } else {
        p = put_padded(p, (uint64_t)c.year, 4);
    }
    *p++ = '-';
    p = put2(p, c.month);
    *p++ = '-';
    return put2(p, c.day);
}

/* The date, `sep`, then "15:04:05". */
static char *put_date_clock(char *p, const wall_clock *w, char sep)
{
    p = put_date(p, w->days);
    *p++ = sep;
    int s = w->second_of_day;
    p = put2(p, s / 3600);
    *p++ = ':';
    p = put2(p, s / 60 % 60);
    *p++ = ':';
    return put2(p, s % 60);
}

/* ".999999999": the nanoseconds without trailing zeros, nothing if zero. */
static char *put_trimmed_nanos(char *p, int32_t nsec)
{
    if (nsec == 0)
        return p;
    uint32_t v = (uint32_t)nsec;
    int n = 9;
    while (v % 10 == 0) {
        v /= 10;
        n--;
    }
    *p++ = '.';
    /* The n digits of v, leading zeros included, two at a time from the
     * right. */
    char *q = p + n;
    int left = n;
    for (; left >= 2; left -= 2) {
        q -= 2;
        memcpy(q, digit_pairs + 2 * (v % 100), 2);
        v /= 100;
    }
    if (left)
        *--q = (char)('0' + v);
    return p + n;
}

/* "-0700" or "-07:00"; Go truncates the offset to whole minutes first. */
static char *put_offset(char *p, int32_t offset, bool colon)
{
    int32_t zone = offset / 60;
    if (zone < 0) {
        *p++ = '-';
        zone = -zone;
    } else {
        *p++ = '+';
    }
    p = put_padded(p, (uint64_t)(zone / 60), 2);
    if (colon)
        *p++ = ':';
    return put2(p, zone % 60);
}

size_t vmu_go_rfc3339(const vmu_time *t, bool nano, char *dst)
{
    wall_clock w;
    wall_clock_of(t, t->utc ? 0 : t->utc_offset, &w);
    char *p = put_date_clock(dst, &w, 'T');
    if (nano)
        p = put_trimmed_nanos(p, w.nsec);
    int32_t offset = t->utc ? 0 : t->utc_offset;
    if (offset == 0)
        *p++ = 'Z';
    else
        p = put_offset(p, offset, true);
    return (size_t)(p - dst);
}

/* The abbreviation of the host's zone at `unix_sec` if its offset there is
 * `offset` (Go then parses the time into Local), else 0 bytes. */
#if defined(_WIN32)
/* No tm_gmtoff or tm_zone there: the zone prints as its offset. */
static size_t local_zone_name(int64_t unix_sec, int32_t offset, char *name)
{
    (void)unix_sec;
    (void)offset;
    (void)name;
    return 0;
}
#else
static size_t local_zone_name(int64_t unix_sec, int32_t offset, char *name)
{
    time_t when = (time_t)unix_sec;
    struct tm local;
    if ((int64_t)when != unix_sec || !localtime_r(&when, &local) || local.tm_gmtoff != offset ||
        !local.tm_zone)
        return 0;
    size_t n = strnlen(local.tm_zone, 32);
    memcpy(name, local.tm_zone, n);
    return n;
}
#endif

size_t vmu_go_time_string(const vmu_time *t, char *dst)
{
    int32_t offset = t->utc ? 0 : t->utc_offset;
    wall_clock w;
    wall_clock_of(t, offset, &w);
    char *p = put_date_clock(dst, &w, ' ');
    p = put_trimmed_nanos(p, w.nsec);
    *p++ = ' ';
    p = put_offset(p, offset, false);
    *p++ = ' ';
    if (t->utc) {
        memcpy(p, "UTC", 3);
        p += 3;
    } else {
        size_t n = local_zone_name(t->unix_sec, offset, p);
        /* A zone without a name prints its offset again, as Go does for
         * FixedZone("", offset). */
        p = n ? p + n : put_offset(p, offset, false);
    }
    return (size_t)(p - dst);
}

/* ---- strings ---- */

size_t vmu_go_decode_rune(const unsigned char *s, size_t len, uint32_t *rune)
{
    unsigned char b0 = s[0];
    if (b0 < 0x80) {
        *rune = b0;
        return 1;
    }
    /* The accepted second-byte range narrows for E0 (no overlongs), ED (no
     * surrogates), F0 (no overlongs) and F4 (nothing past U+10FFFF). */
    size_t size;
    unsigned char lo = 0x80, hi = 0xbf;
    uint32_t r;
    if (b0 >= 0xc2 && b0 <= 0xdf) {
        size = 2;
        r = b0 & 0x1f;
    } else if (b0 >= 0xe0 && b0 <= 0xef) {
        size = 3;
        r = b0 & 0x0f;
        if (b0 == 0xe0)
            lo = 0xa0;
        else if (b0 == 0xed)
            hi = 0x9f;
    } else if (b0 >= 0xf0 && b0 <= 0xf4) {
        size = 4;
        r = b0 & 0x07;
        if (b0 == 0xf0)
            lo = 0x90;
        else if (b0 == 0xf4)
            hi = 0x8f;
    } else {
        *rune = 0xfffd;
        return 1;
    }
    if (len < size || s[1] < lo || s[1] > hi)
        goto invalid;
    r = r << 6 | (s[1] & 0x3f);
    for (size_t i = 2; i < size; i++) {
        if (s[i] < 0x80 || s[i] > 0xbf)
            goto invalid;
        r = r << 6 | (s[i] & 0x3f);
    }
    *rune = r;
    return size;
invalid:
    *rune = 0xfffd;
    return 1;
}

/* strconv.IsPrint as ranges of printable runes, generated by a Go 1.19
 * program that walked every rune through strconv.IsPrint (letters, marks,
 * numbers, punctuation, symbols and U+0020, per Unicode 13). */
static const uint16_t printable_bmp[][2] = {
    {0x0020, 0x007e}, {0x00a1, 0x00ac}, {0x00ae, 0x0377}, {0x037a, 0x037f},
    {0x0384, 0x038a}, {0x038c, 0x038c}, {0x038e, 0x03a1}, {0x03a3, 0x052f},
    {0x0531, 0x0556}, {0x0559, 0x058a}, {0x058d, 0x058f}, {0x0591, 0x05c7},
    {0x05d0, 0x05ea}, {0x05ef, 0x05f4}, {0x0606, 0x061b}, {0x061e, 0x06dc},
    {0x06de, 0x070d}, {0x0710, 0x074a}, {0x074d, 0x07b1}, {0x07c0, 0x07fa},
    {0x07fd, 0x082d}, {0x0830, 0x083e}, {0x0840, 0x085b}, {0x085e, 0x085e},
    {0x0860, 0x086a}, {0x08a0, 0x08b4}, {0x08b6, 0x08c7}, {0x08d3, 0x08e1},
    {0x08e3, 0x0983}, {0x0985, 0x098c}, {0x098f, 0x0990}, {0x0993, 0x09a8},
    {0x09aa, 0x09b0}, {0x09b2, 0x09b2}, {0x09b6, 0x09b9}, {0x09bc, 0x09c4},
    {0x09c7, 0x09c8}, {0x09cb, 0x09ce}, {0x09d7, 0x09d7}, {0x09dc, 0x09dd},
    {0x09df, 0x09e3}, {0x09e6, 0x09fe}, {0x0a01, 0x0a03}, {0x0a05, 0x0a0a},
    {0x0a0f, 0x0a10}, {0x0a13, 0x0a28}, {0x0a2a, 0x0a30}, {0x0a32, 0x0a33},
    {0x0a35, 0x0a36}, {0x0a38, 0x0a39}, {0x0a3c, 0x0a3c}, {0x0a3e, 0x0a42},
    {0x0a47, 0x0a48}, {0x0a4b, 0x0a4d}, {0x0a51, 0x0a51}, {0x0a59, 0x0a5c},
    {0x0a5e, 0x0a5e}, {0x0a66, 0x0a76}, {0x0a81, 0x0a83}, {0x0a85, 0x0a8d},
    {0x0a8f, 0x0a91}, {0x0a93, 0x0aa8}, {0x0aaa, 0x0ab0}, {0x0ab2, 0x0ab3},
    {0x0ab5, 0x0ab9}, {0x0abc, 0x0ac5}, {0x0ac7, 0x0ac9}, {0x0acb, 0x0acd},
    {0x0ad0, 0x0ad0}, {0x0ae0, 0x0ae3}, {0x0ae6, 0x0af1}, {0x0af9, 0x0aff},
    {0x0b01, 0x0b03}, {0x0b05, 0x0b0c}, {0x0b0f, 0x0b10}, {0x0b13, 0x0b28},
    {0x0b2a, 0x0b30}, {0x0b32, 0x0b33}, {0x0b35, 0x0b39}, {0x0b3c, 0x0b44},
    {0x0b47, 0x0b48}, {0x0b4b, 0x0b4d}, {0x0b55, 0x0b57}, {0x0b5c, 0x0b5d},
    {0x0b5f, 0x0b63}, {0x0b66, 0x0b77}, {0x0b82, 0x0b83}, {0x0b85, 0x0b8a},
    {0x0b8e, 0x0b90}, {0x0b92, 0x0b95}, {0x0b99, 0x0b9a}, {0x0b9c, 0x0b9c},
    {0x0b9e, 0x0b9f}, {0x0ba3, 0x0ba4}, {0x0ba8, 0x0baa}, {0x0bae, 0x0bb9},
    {0x0bbe, 0x0bc2}, {0x0bc6, 0x0bc8}, {0x0bca, 0x0bcd}, {0x0bd0, 0x0bd0},
    {0x0bd7, 0x0bd7}, {0x0be6, 0x0bfa}, {0x0c00, 0x0c0c}, {0x0c0e, 0x0c10},
    {0x0c12, 0x0c28}, {0x0c2a, 0x0c39}, {0x0c3d, 0x0c44}, {0x0c46, 0x0c48},
    {0x0c4a, 0x0c4d}, {0x0c55, 0x0c56}, {0x0c58, 0x0c5a}, {0x0c60, 0x0c63},
    {0x0c66, 0x0c6f}, {0x0c77, 0x0c8c}, {0x0c8e, 0x0c90}, {0x0c92, 0x0ca8},
    {0x0caa, 0x0cb3}, {0x0cb5, 0x0cb9}, {0x0cbc, 0x0cc4}, {0x0cc6, 0x0cc8},
    {0x0cca, 0x0ccd}, {0x0cd5, 0x0cd6}, {0x0cde, 0x0cde}, {0x0ce0, 0x0ce3},
    {0x0ce6, 0x0cef}, {0x0cf1, 0x0cf2}, {0x0d00, 0x0d0c}, {0x0d0e, 0x0d10},
    {0x0d12, 0x0d44}, {0x0d46, 0x0d48}, {0x0d4a, 0x0d4f}, {0x0d54, 0x0d63},
    {0x0d66, 0x0d7f}, {0x0d81, 0x0d83}, {0x0d85, 0x0d96}, {0x0d9a, 0x0db1},
    {0x0db3, 0x0dbb}, {0x0dbd, 0x0dbd}, {0x0dc0, 0x0dc6}, {0x0dca, 0x0dca},
    {0x0dcf, 0x0dd4}, {0x0dd6, 0x0dd6}, {0x0dd8, 0x0ddf}, {0x0de6, 0x0def},
    {0x0df2, 0x0df4}, {0x0e01, 0x0e3a}, {0x0e3f, 0x0e5b}, {0x0e81, 0x0e82},
    {0x0e84, 0x0e84}, {0x0e86, 0x0e8a}, {0x0e8c, 0x0ea3}, {0x0ea5, 0x0ea5},
    {0x0ea7, 0x0ebd}, {0x0ec0, 0x0ec4}, {0x0ec6, 0x0ec6}, {0x0ec8, 0x0ecd},
    {0x0ed0, 0x0ed9}, {0x0edc, 0x0edf}, {0x0f00, 0x0f47}, {0x0f49, 0x0f6c},
    {0x0f71, 0x0f97}, {0x0f99, 0x0fbc}, {0x0fbe, 0x0fcc}, {0x0fce, 0x0fda},
    {0x1000, 0x10c5}, {0x10c7, 0x10c7}, {0x10cd, 0x10cd}, {0x10d0, 0x1248},
    {0x124a, 0x124d}, {0x1250, 0x1256}, {0x1258, 0x1258}, {0x125a, 0x125d},
    {0x1260, 0x1288}, {0x128a, 0x128d}, {0x1290, 0x12b0}, {0x12b2, 0x12b5},
    {0x12b8, 0x12be}, {0x12c0, 0x12c0}, {0x12c2, 0x12c5}, {0x12c8, 0x12d6},
    {0x12d8, 0x1310}, {0x1312, 0x1315}, {0x1318, 0x135a}, {0x135d, 0x137c},
    {0x1380, 0x1399}, {0x13a0, 0x13f5}, {0x13f8, 0x13fd}, {0x1400, 0x167f},
    {0x1681, 0x169c}, {0x16a0, 0x16f8}, {0x1700, 0x170c}, {0x170e, 0x1714},
    {0x1720, 0x1736}, {0x1740, 0x1753}, {0x1760, 0x176c}, {0x176e, 0x1770},
    {0x1772, 0x1773}, {0x1780, 0x17dd}, {0x17e0, 0x17e9}, {0x17f0, 0x17f9},
    {0x1800, 0x180d}, {0x1810, 0x1819}, {0x1820, 0x1878}, {0x1880, 0x18aa},
    {0x18b0, 0x18f5}, {0x1900, 0x191e}, {0x1920, 0x192b}, {0x1930, 0x193b},
    {0x1940, 0x1940}, {0x1944, 0x196d}, {0x1970, 0x1974}, {0x1980, 0x19ab},
    {0x19b0, 0x19c9}, {0x19d0, 0x19da}, {0x19de, 0x1a1b}, {0x1a1e, 0x1a5e},
    {0x1a60, 0x1a7c}, {0x1a7f, 0x1a89}, {0x1a90, 0x1a99}, {0x1aa0, 0x1aad},
    {0x1ab0, 0x1ac0}, {0x1b00, 0x1b4b}, {0x1b50, 0x1b7c}, {0x1b80, 0x1bf3},
    {0x1bfc, 0x1c37}, {0x1c3b, 0x1c49}, {0x1c4d, 0x1c88}, {0x1c90, 0x1cba},
    {0x1cbd, 0x1cc7}, {0x1cd0, 0x1cfa}, {0x1d00, 0x1df9}, {0x1dfb, 0x1f15},
    {0x1f18, 0x1f1d}, {0x1f20, 0x1f45}, {0x1f48, 0x1f4d}, {0x1f50, 0x1f57},
    {0x1f59, 0x1f59}, {0x1f5b, 0x1f5b}, {0x1f5d, 0x1f5d}, {0x1f5f, 0x1f7d},
    {0x1f80, 0x1fb4}, {0x1fb6, 0x1fc4}, {0x1fc6, 0x1fd3}, {0x1fd6, 0x1fdb},
    {0x1fdd, 0x1fef}, {0x1ff2, 0x1ff4}, {0x1ff6, 0x1ffe}, {0x2010, 0x2027},
    {0x2030, 0x205e}, {0x2070, 0x2071}, {0x2074, 0x208e}, {0x2090, 0x209c},
    {0x20a0, 0x20bf}, {0x20d0, 0x20f0}, {0x2100, 0x218b}, {0x2190, 0x2426},
    {0x2440, 0x244a}, {0x2460, 0x2b73}, {0x2b76, 0x2b95}, {0x2b97, 0x2c2e},
    {0x2c30, 0x2c5e}, {0x2c60, 0x2cf3}, {0x2cf9, 0x2d25}, {0x2d27, 0x2d27},
    {0x2d2d, 0x2d2d}, {0x2d30, 0x2d67}, {0x2d6f, 0x2d70}, {0x2d7f, 0x2d96},
    {0x2da0, 0x2da6}, {0x2da8, 0x2dae}, {0x2db0, 0x2db6}, {0x2db8, 0x2dbe},
    {0x2dc0, 0x2dc6}, {0x2dc8, 0x2dce}, {0x2dd0, 0x2dd6}, {0x2dd8, 0x2dde},
    {0x2de0, 0x2e52}, {0x2e80, 0x2e99}, {0x2e9b, 0x2ef3}, {0x2f00, 0x2fd5},
    {0x2ff0, 0x2ffb}, {0x3001, 0x303f}, {0x3041, 0x3096}, {0x3099, 0x30ff},
    {0x3105, 0x312f}, {0x3131, 0x318e}, {0x3190, 0x31e3}, {0x31f0, 0x321e},
    {0x3220, 0x9ffc}, {0xa000, 0xa48c}, {0xa490, 0xa4c6}, {0xa4d0, 0xa62b},
    {0xa640, 0xa6f7}, {0xa700, 0xa7bf}, {0xa7c2, 0xa7ca}, {0xa7f5, 0xa82c},
    {0xa830, 0xa839}, {0xa840, 0xa877}, {0xa880, 0xa8c5}, {0xa8ce, 0xa8d9},
    {0xa8e0, 0xa953}, {0xa95f, 0xa97c}, {0xa980, 0xa9cd}, {0xa9cf, 0xa9d9},
    {0xa9de, 0xa9fe}, {0xaa00, 0xaa36}, {0xaa40, 0xaa4d}, {0xaa50, 0xaa59},
    {0xaa5c, 0xaac2}, {0xaadb, 0xaaf6}, {0xab01, 0xab06}, {0xab09, 0xab0e},
    {0xab11, 0xab16}, {0xab20, 0xab26}, {0xab28, 0xab2e}, {0xab30, 0xab6b},
    {0xab70, 0xabed}, {0xabf0, 0xabf9}, {0xac00, 0xd7a3}, {0xd7b0, 0xd7c6},
    {0xd7cb, 0xd7fb}, {0xf900, 0xfa6d}, {0xfa70, 0xfad9}, {0xfb00, 0xfb06},
    {0xfb13, 0xfb17}, {0xfb1d, 0xfb36}, {0xfb38, 0xfb3c}, {0xfb3e, 0xfb3e},
    {0xfb40, 0xfb41}, {0xfb43, 0xfb44}, {0xfb46, 0xfbc1}, {0xfbd3, 0xfd3f},
    {0xfd50, 0xfd8f}, {0xfd92, 0xfdc7}, {0xfdf0, 0xfdfd}, {0xfe00, 0xfe19},
    {0xfe20, 0xfe52}, {0xfe54, 0xfe66}, {0xfe68, 0xfe6b}, {0xfe70, 0xfe74},
    {0xfe76, 0xfefc}, {0xff01, 0xffbe}, {0xffc2, 0xffc7}, {0xffca, 0xffcf},
    {0xffd2, 0xffd7}, {0xffda, 0xffdc}, {0xffe0, 0xffe6}, {0xffe8, 0xffee},
    {0xfffc, 0xfffd},
};
static const uint32_t printable_astral[][2] = {
    {0x10000, 0x1000b}, {0x1000d, 0x10026}, {0x10028, 0x1003a}, {0x1003c, 0x1003d},
    {0x1003f, 0x1004d}, {0x10050, 0x1005d}, {0x10080, 0x100fa}, {0x10100, 0x10102},
    {0x10107, 0x10133}, {0x10137, 0x1018e}, {0x10190, 0x1019c}, {0x101a0, 0x101a0},
    {0x101d0, 0x101fd}, {0x10280, 0x1029c}, {0x102a0, 0x102d0}, {0x102e0, 0x102fb},
    {0x10300, 0x10323}, {0x1032d, 0x1034a}, {0x10350, 0x1037a}, {0x10380, 0x1039d},
    {0x1039f, 0x103c3}, {0x103c8, 0x103d5}, {0x10400, 0x1049d}, {0x104a0, 0x104a9},
    {0x104b0, 0x104d3}, {0x104d8, 0x104fb}, {0x10500, 0x10527}, {0x10530, 0x10563},
    {0x1056f, 0x1056f}, {0x10600, 0x10736}, {0x10740, 0x10755}, {0x10760, 0x10767},
    {0x10800, 0x10805}, {0x10808, 0x10808}, {0x1080a, 0x10835}, {0x10837, 0x10838},
    {0x1083c, 0x1083c}, {0x1083f, 0x10855}, {0x10857, 0x1089e}, {0x108a7, 0x108af},
    {0x108e0, 0x108f2}, {0x108f4, 0x108f5}, {0x108fb, 0x1091b}, {0x1091f, 0x10939},
    {0x1093f, 0x1093f}, {0x10980, 0x109b7}, {0x109bc, 0x109cf}, {0x109d2, 0x10a03},
    {0x10a05, 0x10a06}, {0x10a0c, 0x10a13}, {0x10a15, 0x10a17}, {0x10a19, 0x10a35},
    {0x10a38, 0x10a3a}, {0x10a3f, 0x10a48}, {0x10a50, 0x10a58}, {0x10a60, 0x10a9f},
    {0x10ac0, 0x10ae6}, {0x10aeb, 0x10af6}, {0x10b00, 0x10b35}, {0x10b39, 0x10b55},
    {0x10b58, 0x10b72}, {0x10b78, 0x10b91}, {0x10b99, 0x10b9c}, {0x10ba9, 0x10baf},
    {0x10c00, 0x10c48}, {0x10c80, 0x10cb2}, {0x10cc0, 0x10cf2}, {0x10cfa, 0x10d27},
    {0x10d30, 0x10d39}, {0x10e60, 0x10e7e}, {0x10e80, 0x10ea9}, {0x10eab, 0x10ead},
    {0x10eb0, 0x10eb1}, {0x10f00, 0x10f27}, {0x10f30, 0x10f59}, {0x10fb0, 0x10fcb},
    {0x10fe0, 0x10ff6}, {0x11000, 0x1104d}, {0x11052, 0x1106f}, {0x1107f, 0x110bc},
    {0x110be, 0x110c1}, {0x110d0, 0x110e8}, {0x110f0, 0x110f9}, {0x11100, 0x11134},
    {0x11136, 0x11147}, {0x11150, 0x11176}, {0x11180, 0x111df}, {0x111e1, 0x111f4},
    {0x11200, 0x11211}, {0x11213, 0x1123e}, {0x11280, 0x11286}, {0x11288, 0x11288},
    {0x1128a, 0x1128d}, {0x1128f, 0x1129d}, {0x1129f, 0x112a9}, {0x112b0, 0x112ea},
    {0x112f0, 0x112f9}, {0x11300, 0x11303}, {0x11305, 0x1130c}, {0x1130f, 0x11310},
    {0x11313, 0x11328}, {0x1132a, 0x11330}, {0x11332, 0x11333}, {0x11335, 0x11339},
    {0x1133b, 0x11344}, {0x11347, 0x11348}, {0x1134b, 0x1134d}, {0x11350, 0x11350},
    {0x11357, 0x11357}, {0x1135d, 0x11363}, {0x11366, 0x1136c}, {0x11370, 0x11374},
    {0x11400, 0x1145b}, {0x1145d, 0x11461}, {0x11480, 0x114c7}, {0x114d0, 0x114d9},
    {0x11580, 0x115b5}, {0x115b8, 0x115dd}, {0x11600, 0x11644}, {0x11650, 0x11659},
    {0x11660, 0x1166c}, {0x11680, 0x116b8}, {0x116c0, 0x116c9}, {0x11700, 0x1171a},
    {0x1171d, 0x1172b}, {0x11730, 0x1173f}, {0x11800, 0x1183b}, {0x118a0, 0x118f2},
    {0x118ff, 0x11906}, {0x11909, 0x11909}, {0x1190c, 0x11913}, {0x11915, 0x11916},
    {0x11918, 0x11935}, {0x11937, 0x11938}, {0x1193b, 0x11946}, {0x11950, 0x11959},
    {0x119a0, 0x119a7}, {0x119aa, 0x119d7}, {0x119da, 0x119e4}, {0x11a00, 0x11a47},
    {0x11a50, 0x11aa2}, {0x11ac0, 0x11af8}, {0x11c00, 0x11c08}, {0x11c0a, 0x11c36},
    {0x11c38, 0x11c45}, {0x11c50, 0x11c6c}, {0x11c70, 0x11c8f}, {0x11c92, 0x11ca7},
    {0x11ca9, 0x11cb6}, {0x11d00, 0x11d06}, {0x11d08, 0x11d09}, {0x11d0b, 0x11d36},
    {0x11d3a, 0x11d3a}, {0x11d3c, 0x11d3d}, {0x11d3f, 0x11d47}, {0x11d50, 0x11d59},
    {0x11d60, 0x11d65}, {0x11d67, 0x11d68}, {0x11d6a, 0x11d8e}, {0x11d90, 0x11d91},
    {0x11d93, 0x11d98}, {0x11da0, 0x11da9}, {0x11ee0, 0x11ef8}, {0x11fb0, 0x11fb0},
    {0x11fc0, 0x11ff1}, {0x11fff, 0x12399}, {0x12400, 0x1246e}, {0x12470, 0x12474},
    {0x12480, 0x12543}, {0x13000, 0x1342e}, {0x14400, 0x14646}, {0x16800, 0x16a38},
    {0x16a40, 0x16a5e}, {0x16a60, 0x16a69}, {0x16a6e, 0x16a6f}, {0x16ad0, 0x16aed},
    {0x16af0, 0x16af5}, {0x16b00, 0x16b45}, {0x16b50, 0x16b59}, {0x16b5b, 0x16b61},
    {0x16b63, 0x16b77}, {0x16b7d, 0x16b8f}, {0x16e40, 0x16e9a}, {0x16f00, 0x16f4a},
    {0x16f4f, 0x16f87}, {0x16f8f, 0x16f9f}, {0x16fe0, 0x16fe4}, {0x16ff0, 0x16ff1},
    {0x17000, 0x187f7}, {0x18800, 0x18cd5}, {0x18d00, 0x18d08}, {0x1b000, 0x1b11e},
    {0x1b150, 0x1b152}, {0x1b164, 0x1b167}, {0x1b170, 0x1b2fb}, {0x1bc00, 0x1bc6a},
    {0x1bc70, 0x1bc7c}, {0x1bc80, 0x1bc88}, {0x1bc90, 0x1bc99}, {0x1bc9c, 0x1bc9f},
    {0x1d000, 0x1d0f5}, {0x1d100, 0x1d126}, {0x1d129, 0x1d172}, {0x1d17b, 0x1d1e8},
    {0x1d200, 0x1d245}, {0x1d2e0, 0x1d2f3}, {0x1d300, 0x1d356}, {0x1d360, 0x1d378},
    {0x1d400, 0x1d454}, {0x1d456, 0x1d49c}, {0x1d49e, 0x1d49f}, {0x1d4a2, 0x1d4a2},
    {0x1d4a5, 0x1d4a6}, {0x1d4a9, 0x1d4ac}, {0x1d4ae, 0x1d4b9}, {0x1d4bb, 0x1d4bb},
    {0x1d4bd, 0x1d4c3}, {0x1d4c5, 0x1d505}, {0x1d507, 0x1d50a}, {0x1d50d, 0x1d514},
    {0x1d516, 0x1d51c}, {0x1d51e, 0x1d539}, {0x1d53b, 0x1d53e}, {0x1d540, 0x1d544},
    {0x1d546, 0x1d546}, {0x1d54a, 0x1d550}, {0x1d552, 0x1d6a5}, {0x1d6a8, 0x1d7cb},
    {0x1d7ce, 0x1da8b}, {0x1da9b, 0x1da9f}, {0x1daa1, 0x1daaf}, {0x1e000, 0x1e006},
    {0x1e008, 0x1e018}, {0x1e01b, 0x1e021}, {0x1e023, 0x1e024}, {0x1e026, 0x1e02a},
    {0x1e100, 0x1e12c}, {0x1e130, 0x1e13d}, {0x1e140, 0x1e149}, {0x1e14e, 0x1e14f},
    {0x1e2c0, 0x1e2f9}, {0x1e2ff, 0x1e2ff}, {0x1e800, 0x1e8c4}, {0x1e8c7, 0x1e8d6},
    {0x1e900, 0x1e94b}, {0x1e950, 0x1e959}, {0x1e95e, 0x1e95f}, {0x1ec71, 0x1ecb4},
    {0x1ed01, 0x1ed3d}, {0x1ee00, 0x1ee03}, {0x1ee05, 0x1ee1f}, {0x1ee21, 0x1ee22},
    {0x1ee24, 0x1ee24}, {0x1ee27, 0x1ee27}, {0x1ee29, 0x1ee32}, {0x1ee34, 0x1ee37},
    {0x1ee39, 0x1ee39}, {0x1ee3b, 0x1ee3b}, {0x1ee42, 0x1ee42}, {0x1ee47, 0x1ee47},
    {0x1ee49, 0x1ee49}, {0x1ee4b, 0x1ee4b}, {0x1ee4d, 0x1ee4f}, {0x1ee51, 0x1ee52},
    {0x1ee54, 0x1ee54}, {0x1ee57, 0x1ee57}, {0x1ee59, 0x1ee59}, {0x1ee5b, 0x1ee5b},
    {0x1ee5d, 0x1ee5d}, {0x1ee5f, 0x1ee5f}, {0x1ee61, 0x1ee62}, {0x1ee64, 0x1ee64},
    {0x1ee67, 0x1ee6a}, {0x1ee6c, 0x1ee72}, {0x1ee74, 0x1ee77}, {0x1ee79, 0x1ee7c},
    {0x1ee7e, 0x1ee7e}, {0x1ee80, 0x1ee89}, {0x1ee8b, 0x1ee9b}, {0x1eea1, 0x1eea3},
    {0x1eea5, 0x1eea9}, {0x1eeab, 0x1eebb}, {0x1eef0, 0x1eef1}, {0x1f000, 0x1f02b},
    {0x1f030, 0x1f093}, {0x1f0a0, 0x1f0ae}, {0x1f0b1, 0x1f0bf}, {0x1f0c1, 0x1f0cf},
    {0x1f0d1, 0x1f0f5}, {0x1f100, 0x1f1ad}, {0x1f1e6, 0x1f202}, {0x1f210, 0x1f23b},
    {0x1f240, 0x1f248}, {0x1f250, 0x1f251}, {0x1f260, 0x1f265}, {0x1f300, 0x1f6d7},
    {0x1f6e0, 0x1f6ec}, {0x1f6f0, 0x1f6fc}, {0x1f700, 0x1f773}, {0x1f780, 0x1f7d8},
    {0x1f7e0, 0x1f7eb}, {0x1f800, 0x1f80b}, {0x1f810, 0x1f847}, {0x1f850, 0x1f859},
    {0x1f860, 0x1f887}, {0x1f890, 0x1f8ad}, {0x1f8b0, 0x1f8b1}, {0x1f900, 0x1f978},
    {0x1f97a, 0x1f9cb}, {0x1f9cd, 0x1fa53}, {0x1fa60, 0x1fa6d}, {0x1fa70, 0x1fa74},
    {0x1fa78, 0x1fa7a}, {0x1fa80, 0x1fa86}, {0x1fa90, 0x1faa8}, {0x1fab0, 0x1fab6},
    {0x1fac0, 0x1fac2}, {0x1fad0, 0x1fad6}, {0x1fb00, 0x1fb92}, {0x1fb94, 0x1fbca},
    {0x1fbf0, 0x1fbf9}, {0x20000, 0x2a6dd}, {0x2a700, 0x2b734}, {0x2b740, 0x2b81d},
    {0x2b820, 0x2cea1}, {0x2ceb0, 0x2ebe0}, {0x2f800, 0x2fa1d}, {0x30000, 0x3134a},
    {0xe0100, 0xe01ef},
};

bool vmu_go_is_print(uint32_t rune)
{
    if (rune < 0x80)
        return rune >= 0x20 && rune < 0x7f;
    size_t lo = 0, hi;
    if (rune < 0x10000) {
        hi = sizeof printable_bmp / sizeof printable_bmp[0];
        while (lo < hi) {
            size_t mid = (lo + hi) / 2;
            if (rune > printable_bmp[mid][1])
                lo = mid + 1;
            else
                hi = mid;
        }
        return lo < sizeof printable_bmp / sizeof printable_bmp[0] && rune >= printable_bmp[lo][0];
    }
    hi = sizeof printable_astral / sizeof printable_astral[0];
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (rune > printable_astral[mid][1])
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < sizeof printable_astral / sizeof printable_astral[0] &&
           rune >= printable_astral[lo][0];
}

/* Bytes logrus leaves unquoted: [A-Za-z0-9] and - . _ / @ ^ +. */
static const unsigned char bare_text_byte[256] = {
    ['-'] = 1, ['.'] = 1, ['_'] = 1, ['/'] = 1, ['@'] = 1, ['^'] = 1, ['+'] = 1,
    ['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1, ['7'] = 1,
    ['8'] = 1, ['9'] = 1,
    ['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1, ['G'] = 1, ['H'] = 1,
    ['I'] = 1, ['J'] = 1, ['K'] = 1, ['L'] = 1, ['M'] = 1, ['N'] = 1, ['O'] = 1, ['P'] = 1,
    ['Q'] = 1, ['R'] = 1, ['S'] = 1, ['T'] = 1, ['U'] = 1, ['V'] = 1, ['W'] = 1, ['X'] = 1,
    ['Y'] = 1, ['Z'] = 1,
    ['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1, ['g'] = 1, ['h'] = 1,
    ['i'] = 1, ['j'] = 1, ['k'] = 1, ['l'] = 1, ['m'] = 1, ['n'] = 1, ['o'] = 1, ['p'] = 1,
    ['q'] = 1, ['r'] = 1, ['s'] = 1, ['t'] = 1, ['u'] = 1, ['v'] = 1, ['w'] = 1, ['x'] = 1,
    ['y'] = 1, ['z'] = 1,
};

bool vmu_go_needs_quoting(const char *s, size_t len)
{
    /* Go walks runes, but every allowed rune is ASCII, so any byte of a
     * multi-byte or invalid sequence already means "quote". */
    for (size_t i = 0; i < len; i++)
        if (!bare_text_byte[(unsigned char)s[i]])
            return true;
    return false;
}

static const char lower_hex[] = "0123456789abcdef";

size_t vmu_go_quote_into(const char *s, size_t len, char *dst)
{
    const unsigned char *u = (const unsigned char *)s;
    char *p = dst;
    *p++ = '"';
    size_t i = 0;
    while (i < len) {
        uint32_t r = u[i];
        size_t width = 1;
        if (r >= 0x80) {
            width = vmu_go_decode_rune(u + i, len - i, &r);
            if (width == 1) { /* an invalid byte shows as itself */
                *p++ = '\\';
                *p++ = 'x';
                *p++ = lower_hex[u[i] >> 4];
                *p++ = lower_hex[u[i] & 0xf];
                i++;
                continue;
            }
        }
        if (r == '"' || r == '\\') {
            *p++ = '\\';
            *p++ = (char)r;
        } else if (vmu_go_is_print(r)) {
            memcpy(p, u + i, width);
            p += width;
        } else {
            static const char short_escape[] = "abtnvfr"; /* \a (7) ... \r (13) */
            *p++ = '\\';
            if (r >= 7 && r <= 13) {
                *p++ = short_escape[r - 7];
            } else if (r < 0x20 || r == 0x7f) {
                *p++ = 'x';
                *p++ = lower_hex[r >> 4];
                *p++ = lower_hex[r & 0xf];
            } else {
                int digits = r < 0x10000 ? 4 : 8;
                *p++ = r < 0x10000 ? 'u' : 'U';
                for (int shift = (digits - 1) * 4; shift >= 0; shift -= 4)
                    *p++ = lower_hex[r >> shift & 0xf];
            }
        }
        i += width;
    }
    *p++ = '"';
    return (size_t)(p - dst);
}

/* Bytes encoding/json copies as they are with HTML escaping on: printable
 * ASCII and DEL, except " \ < > &. Everything else takes the slow path. */
static const unsigned char json_plain_byte[256] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    1, 1, 0, 1, 1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 0, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
};

#if defined(__SSE2__)
/* One bit per byte of v that is not plain. A signed compare with 0x20
 * catches controls and every byte >= 0x80 at once; '<' and '>' (0x3c,
 * 0x3e) differ only in bit 1, '"' and '&' (0x22, 0x26) only in bit 2, so
 * setting that bit makes each pair one compare. */
static inline unsigned json_special_mask(__m128i v)
{
    __m128i control = _mm_cmpgt_epi8(_mm_set1_epi8(0x20), v);
    __m128i angle = _mm_cmpeq_epi8(_mm_or_si128(v, _mm_set1_epi8(2)), _mm_set1_epi8('>'));
    __m128i quote_amp = _mm_cmpeq_epi8(_mm_or_si128(v, _mm_set1_epi8(4)), _mm_set1_epi8('&'));
    __m128i backslash = _mm_cmpeq_epi8(v, _mm_set1_epi8('\\'));
    __m128i special =
        _mm_or_si128(_mm_or_si128(control, angle), _mm_or_si128(quote_amp, backslash));
    return (unsigned)_mm_movemask_epi8(special);
}

static inline __m128i load16(const unsigned char *s)
{
    return _mm_loadu_si128((const __m128i *)(const void *)s);
}

/* The end of the run of plain bytes starting at i (i < len). The bytes
 * past the last whole block of 16 are read as one block ending at len,
 * overlapping bytes already known plain, or for a string shorter than 16
 * as two halves that overlap: never a byte outside the string, never a
 * byte at a time unless fewer than 4 are left. */
static size_t json_plain_run(const unsigned char *s, size_t i, size_t len)
{
    for (; i + 16 <= len; i += 16) {
        unsigned mask = json_special_mask(load16(s + i));
        if (mask)
            return i + (size_t)__builtin_ctz(mask);
    }
    if (i == len)
        return len;
    if (len >= 16) {
        size_t base = len - 16;
        unsigned mask = json_special_mask(load16(s + base)) >> (i - base);
        return mask ? i + (size_t)__builtin_ctz(mask) : len;
    }
    size_t rest = len - i;
    if (rest >= 8) {
        __m128i head = _mm_loadl_epi64((const __m128i *)(const void *)(s + i));
        __m128i tail = _mm_loadl_epi64((const __m128i *)(const void *)(s + len - 8));
        unsigned mask = json_special_mask(_mm_unpacklo_epi64(head, tail));
        if (mask & 0xff)
            return i + (size_t)__builtin_ctz(mask);
        return mask ? len - 8 + (size_t)__builtin_ctz(mask >> 8) : len;
    }
    if (rest >= 4) {
        uint32_t head, tail;
        memcpy(&head, s + i, 4);
        memcpy(&tail, s + len - 4, 4);
        __m128i v = _mm_unpacklo_epi32(_mm_cvtsi32_si128((int)head), _mm_cvtsi32_si128((int)tail));
        /* Only the low 8 lanes hold string bytes (the zeros above would
         * count as controls). */
        unsigned mask = json_special_mask(v) & 0xff;
        if (mask & 0xf)
            return i + (size_t)__builtin_ctz(mask);
        return mask ? len - 4 + (size_t)__builtin_ctz(mask >> 4) : len;
    }
    while (i < len && json_plain_byte[s[i]])
        i++;
    return i;
}
#else
static size_t json_plain_run(const unsigned char *s, size_t i, size_t len)
{
    while (i < len && json_plain_byte[s[i]])
        i++;
    return i;
}
#endif

/* The length of the run of plain bytes that starts s, copied to dst. */
static inline size_t json_copy_plain(char *dst, const unsigned char *s, size_t len)
{
    size_t plain = len ? json_plain_run(s, 0, len) : 0;
    vmu_copy_short(dst, s, plain);
    return plain;
}

/* The rest of a string from its first byte to escape, u[i]; out->len is
 * where its text goes. short_escapes: Go 1.22's \b and \f for backspace
 * and form feed, where earlier versions (and the log anchors) write
 * \u0008 and \u000c. */
static __attribute__((noinline)) int json_string_rest(vmu_buf *out, const unsigned char *u,
                                                      size_t len, size_t i, bool short_escapes)
{
    /* Each escape makes sure of room for itself, the rest of the input and
     * the closing quote. */
    char *d = out->data;
    size_t n = out->len;
    for (;;) {
        out->len = n;
        if (out->cap - n < len - i + 8) {
            if (vmu_buf_reserve(out, len - i + 8) != 0)
                return -1;
            d = out->data;
        }
        unsigned char b = u[i];
        if (b < 0x80) {
            d[n++] = '\\';
            switch (b) {
            case '"':
            case '\\':
                d[n++] = (char)b;
                break;
            case '\n':
                d[n++] = 'n';
                break;
            case '\r':
                d[n++] = 'r';
                break;
            case '\t':
                d[n++] = 't';
                break;
            case '\b':
            case '\f':
                if (short_escapes) {
                    d[n++] = b == '\b' ? 'b' : 'f';
                    break;
                }
                /* fall through */
            default: /* other controls and < > & */
                memcpy(d + n, "u00", 3);
                d[n + 3] = lower_hex[b >> 4];
                d[n + 4] = lower_hex[b & 0xf];
                n += 5;
                break;
            }
            i++;
            goto next_run;
        }
        uint32_t r;
        size_t width = vmu_go_decode_rune(u + i, len - i, &r);
        if (width == 1) {
            memcpy(d + n, "\\ufffd", 6);
            n += 6;
        } else if (r == 0x2028 || r == 0x2029) {
            /* JavaScript line terminators, escaped so JSONP stays valid. */
            memcpy(d + n, "\\u202", 5);
            d[n + 5] = lower_hex[r & 0xf];
            n += 6;
        } else {
            memcpy(d + n, u + i, width);
            n += width;
        }
        i += width;
    next_run:;
        size_t start = i;
        i = i < len ? json_plain_run(u, i, len) : len;
        vmu_copy_short(d + n, u + start, i - start);
        n += i - start;
        if (i == len)
            break;
    }
    d[n++] = '"';
    out->len = n;
    return 0;
}

/* Appends s in quotes, escaped as encoding/json does. Most strings need no
 * escape: they are copied while they are scanned, and only a string with
 * something to escape goes on to json_string_rest. */
static inline int json_string(vmu_buf *out, const char *s, size_t len, bool short_escapes)
{
    /* Room for the common case, nothing to escape. A failed buffer takes
     * no more (vmu_buf_reserve refuses it). */
    if (len > SIZE_MAX / 2)
        return -1;
    if ((out->failed || out->cap - out->len < len + 2) && vmu_buf_reserve(out, len + 2) != 0)
        return -1;
    const unsigned char *u = (const unsigned char *)s;
    char *d = out->data + out->len;
    d[0] = '"';
    size_t plain = json_copy_plain(d + 1, u, len);
    if (plain == len) {
        d[len + 1] = '"';
        out->len += len + 2;
        return 0;
    }
    out->len += plain + 1;
    return json_string_rest(out, u, len, plain, short_escapes);
}

bool vmu_go_json_is_plain(const char *s, size_t len)
{
    return len == 0 || json_plain_run((const unsigned char *)s, 0, len) == len;
}

int vmu_go_json_string(vmu_buf *out, const char *s, size_t len)
{
    return json_string(out, s, len, false);
}

int vmu_go_json_string_go122(vmu_buf *out, const char *s, size_t len)
{
    return json_string(out, s, len, true);
}

/* ---- the public wrappers of <vmutils/log.h> ---- */

int vmu_format_time_rfc3339(const vmu_time *t, bool nano, vmu_buf *out)
{
    if (!t || !out)
        return -1;
    char text[VMU_GO_RFC3339_MAX];
    return vmu_buf_append(out, text, vmu_go_rfc3339(t, nano, text));
}

int vmu_format_time_go_string(const vmu_time *t, vmu_buf *out)
{
    if (!t || !out)
        return -1;
    char text[VMU_GO_TIME_STRING_MAX];
    return vmu_buf_append(out, text, vmu_go_time_string(t, text));
}

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

int vmu_format_json_string(const char *s, size_t len, vmu_buf *out)
{
    if (!out || (!s && len))
        return -1;
    size_t start = out->len;
    if (vmu_go_json_string(out, s ? s : "", len) != 0) {
        out->len = start;
        return -1;
    }
    return 0;
}

int vmu_format_go_quote(const char *s, size_t len, vmu_buf *out)
{
    if (!out || (!s && len) || len > (SIZE_MAX - 2) / 4)
        return -1;
    if (vmu_buf_reserve(out, VMU_GO_QUOTE_MAX(len)) != 0)
        return -1;
    out->len += vmu_go_quote_into(s ? s : "", len, out->data + out->len);
    return 0;
}
