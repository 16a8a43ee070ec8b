/* strconv.ParseFloat(s, 64) of the JSON numbers yajl reports (gcs_number.c).
 * The common short number is read inline here (each number of the stream
 * comes through it); the rest goes to the exact parser. A leaf: it depends
 * on nothing else of the decoder. */
#ifndef VMUTILS_GCS_NUMBER_H
#define VMUTILS_GCS_NUMBER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* 1e0 .. 1e22: the powers of ten a double holds exactly. */
extern const double gcs_exact_pow10[23];

/* strconv.ParseFloat(s, 64) of any JSON number: strtod in the C locale,
 * correctly rounded. *overflow is set when Go would report ErrRange
 * (infinite). */
double gcs_number_parse_exact(const char *s, size_t len, bool *overflow);

/* strconv.ParseFloat(s, 64) of a JSON number (yajl has checked its
 * syntax), when one IEEE operation gives it exactly rounded (Clinger's
 * fast path): a mantissa of at most 2^53 and a power of ten of at most 22.
 * false when the text needs gcs_number_parse_exact. */
static inline bool gcs_number_parse_fast(const char *s, size_t len, double *out)
{
    size_t i = 0;
    bool neg = s[0] == '-';
    i += neg;
    uint64_t mant = 0;
    size_t start = i;
    for (; i < len && (unsigned)(s[i] - '0') <= 9; i++)
        mant = mant * 10 + (uint64_t)(s[i] - '0');
    size_t digits = i - start;
    int exp10 = 0;
    if (i < len && s[i] == '.') {
        size_t frac = ++i;
        for (; i < len && (unsigned)(s[i] - '0') <= 9; i++)
            mant = mant * 10 + (uint64_t)(s[i] - '0');
        exp10 = -(int)(i - frac);
        digits += i - frac;
    }
    /* 19 digits cannot wrap the mantissa; an exponent goes the long way. */
    if (i != len || digits > 19 || mant > (uint64_t)1 << 53 || exp10 < -22)
        return false;
    double d = (double)mant;
    if (mant == 0)
        d = 0.0;
    else if (exp10 < 0)
        d /= gcs_exact_pow10[-exp10];
    *out = neg ? -d : d;
    return true;
}

/* strconv.ParseFloat(s, 64) of a JSON number; *overflow as
 * gcs_number_parse_exact's. */
static inline double gcs_number_parse(const char *s, size_t len, bool *overflow)
{
    double d;
    *overflow = false;
    if (gcs_number_parse_fast(s, len, &d))
        return d;
    return gcs_number_parse_exact(s, len, overflow);
}

#endif
