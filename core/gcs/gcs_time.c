/* time.Time.UnmarshalJSON as Go 1.19 does it: time.Parse with the layout
 * `"2006-01-02T15:04:05Z07:00"` (RFC 3339 in quotes) applied to the raw JSON
 * text of the value, escapes and all. Go 1.19 has no RFC 3339 fast path, so
 * the general layout parser's leniencies are part of the behaviour: a
 * one-digit hour, a fraction after the seconds written with ',' or '.', any
 * number of fraction digits (the tenth and later ignored), signs inside the
 * zone offset's digits, no range check on the offset. Every error text is
 * ParseError.Error()'s, with time's own quoting. */
#include <string.h>

#include "gcs_time.h"
#include "../log/gofmt.h"

static const char layout[] = "\"2006-01-02T15:04:05Z07:00\"";

typedef struct view {
    const uint8_t *p;
    size_t n;
} view;

static void advance(view *v, size_t k)
{
    v->p += k;
    v->n -= k;
}

static bool digit_at(view v, size_t i) { return i < v.n && v.p[i] >= '0' && v.p[i] <= '9'; }

/* time.quote: "\xNN" for every byte of a non-ASCII or control rune. */
static int quote(const uint8_t *s, size_t len, vmu_buf *out)
{
    static const char hex[] = "0123456789abcdef";
    if (vmu_buf_putc(out, '"') != 0)
        return -1;
    size_t i = 0;
    while (i < len) {
        uint8_t c = s[i];
        if (c >= 0x20 && c < 0x80) {
            if ((c == '"' || c == '\\') && vmu_buf_putc(out, '\\') != 0)
                return -1;
            if (vmu_buf_putc(out, (char)c) != 0)
                return -1;
            i++;
            continue;
        }
        size_t width = 1;
        if (c >= 0x80) {
            uint32_t rune;
            width = vmu_go_decode_rune(s + i, len - i, &rune);
        }
        for (size_t j = 0; j < width; j++) {
            char esc[4] = {'\\', 'x', hex[s[i + j] >> 4], hex[s[i + j] & 15]};
            if (vmu_buf_append(out, esc, 4) != 0)
                return -1;
        }
        i += width;
    }
    return vmu_buf_putc(out, '"');
}

/* ParseError.Error(): "cannot parse <rest> as <layout_elem>", or the
 * message when there is one. */
static int parse_error(const uint8_t *value, size_t value_len, const char *layout_elem, view rest,
                       const char *message, vmu_buf *err)
{
    if (vmu_buf_puts(err, "parsing time ") != 0 || quote(value, value_len, err) != 0)
        return -2;
    if (message)
        return vmu_buf_puts(err, message) == 0 ? -1 : -2;
    if (vmu_buf_puts(err, " as ") != 0 ||
        quote((const uint8_t *)layout, sizeof layout - 1, err) != 0 ||
        vmu_buf_puts(err, ": cannot parse ") != 0 || quote(rest.p, rest.n, err) != 0 ||
        vmu_buf_puts(err, " as ") != 0 ||
        quote((const uint8_t *)layout_elem, strlen(layout_elem), err) != 0)
        return -2;
    return -1;
}

/* getnum: one or two digits (exactly two when fixed). */
static bool getnum(view *v, bool fixed, int *out)
{
    if (!digit_at(*v, 0))
        return false;
    if (!digit_at(*v, 1)) {
        if (fixed)
            return false;
        *out = v->p[0] - '0';
        advance(v, 1);
        return true;
    }
    *out = (v->p[0] - '0') * 10 + (v->p[1] - '0');
    advance(v, 2);
    return true;
}

/* time's atoi: an optional sign, then digits only (none is zero). */
static bool atoi_go(const uint8_t *s, size_t n, int *out)
{
    bool neg = false;
    if (n > 0 && (s[0] == '-' || s[0] == '+')) {
        neg = s[0] == '-';
        s++;
        n--;
    }
    int x = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        x = x * 10 + (s[i] - '0');
    }
    *out = neg ? -x : x;
    return true;
}

static bool skip_literal(view *v, char c)
{
    if (v->n == 0 || v->p[0] != (uint8_t)c)
        return false;
    advance(v, 1);
    return true;
}

static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int days_in(int month, int year)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (month == 2 && year % 4 == 0 && (year % 100 != 0 || year % 400 == 0))
        return 29;
    return days[month - 1];
}

vmu_time gcs_time_zero(void)
{
    vmu_time t;
    t.unix_sec = days_from_civil(1, 1, 1) * 86400;
    t.nsec = 0;
    t.utc_offset = 0;
    t.utc = true;
    return t;
}

static inline int two_digits(const uint8_t *p)
{
    if (p[0] < '0' || p[0] > '9' || p[1] < '0' || p[1] > '9')
        return -1;
    return (p[0] - '0') * 10 + (p[1] - '0');
}

/* Days before each month in a common year. */
static const int days_before[] = {0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334};

/* Whether the 8 bytes of w are all ASCII digits: each has the high nibble
 * 3, and still has it with 6 added (no byte carries: all are 0x3X). */
static inline bool digits8(uint64_t w)
{
    const uint64_t high = 0xf0f0f0f0f0f0f0f0u, three = 0x3030303030303030u;
    return (w & high) == three && ((w + 0x0606060606060606u) & high) == three;
}

/* The number the 8 ASCII digits at s spell. On a little-endian host the
 * first digit is the low byte: pairs, then quads, then the whole are each
 * one multiply-add in every lane. */
static inline uint32_t parse8(const uint8_t *s)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    uint64_t w;
    memcpy(&w, s, 8);
    w -= 0x3030303030303030u;
    w = (w * 10 + (w >> 8)) & 0x00ff00ff00ff00ffu;
    w = (w * 100 + (w >> 16)) & 0x0000ffff0000ffffu;
    w = (w * 10000 + (w >> 32)) & 0xffffffffu;
    return (uint32_t)w;
#else
    uint32_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v * 10 + (uint32_t)(s[i] - '0');
    return v;
#endif
}

/* The Unix time of "YYYY-MM-DDTHH:MM" (r[1..16], as UTC), or -1 when that
 * text is not for the fast path. */
static int minute_of(const uint8_t *r, int64_t *minute_sec)
{
    if (r[5] != '-' || r[8] != '-' || r[11] != 'T' || r[14] != ':')
        return -1;
#define DIGITS2(i) ((unsigned)(r[i] - '0') <= 9 && (unsigned)(r[(i) + 1] - '0') <= 9)
    if (!(DIGITS2(1) && DIGITS2(3) && DIGITS2(6) && DIGITS2(9) && DIGITS2(12) && DIGITS2(15)))
        return -1;
#undef DIGITS2
#define D2(i) ((r[i] - '0') * 10 + (r[(i) + 1] - '0'))
    int year = D2(1) * 100 + D2(3), month = D2(6), day = D2(9), hour = D2(12), min = D2(15);
#undef D2
    /* Year 0 is left to the general parser (the day count below divides
     * positive numbers only). */
    if (year < 1 || month < 1 || month > 12 || day < 1 || hour > 23 || min > 59 ||
        day > days_in(month, year))
        return -1;
    /* Days since 1970 from the year's start, as days_from_civil does. */
    int64_t y = year - 1;
    int64_t days = y * 365 + y / 4 - y / 100 + y / 400 - 719162 + days_before[month - 1] + day - 1;
    if (month > 2 && year % 4 == 0 && (year % 100 != 0 || year % 400 == 0))
        days++;
    *minute_sec = days * 86400 + hour * 3600 + min * 60;
    return 0;
}

int gcs_time_fast_cached(gcs_time_cache *cache, const uint8_t *r, size_t len, vmu_time *out)
{
    /* "2006-01-02T15:04:05" with quotes: 21 bytes, then the zone and '"'. */
    if (len < 23 || r[0] != '"' || r[17] != ':' || r[len - 1] != '"')
        return -1;
    int64_t minute_sec;
    if (cache->valid && memcmp(r + 1, cache->prefix, sizeof cache->prefix) == 0) {
        minute_sec = cache->minute_sec;
    } else {
        if (minute_of(r, &minute_sec) != 0)
            return -1;
        memcpy(cache->prefix, r + 1, sizeof cache->prefix);
        cache->minute_sec = minute_sec;
        cache->valid = true;
    }
    if ((unsigned)(r[18] - '0') > 9 || (unsigned)(r[19] - '0') > 9)
        return -1;
    int sec = (r[18] - '0') * 10 + (r[19] - '0');
    if (sec > 59)
        return -1;
    size_t i = 20;
    int nsec = 0;
    if (r[i] == '.' || r[i] == ',') {
        size_t start = ++i;
        /* The closing quote ends any run of digits before len. */
        uint64_t w;
        if (i + 10 <= len && (memcpy(&w, r + i, 8), digits8(w)) && (unsigned)(r[i + 8] - '0') <= 9 &&
            (unsigned)(r[i + 9] - '0') > 9) {
            /* Nine digits, as Go's RFC3339Nano writes most times. */
            nsec = (int)(parse8(r + i) * 10u + (unsigned)(r[i + 8] - '0'));
            i += 9;
        } else {
            while (r[i] >= '0' && r[i] <= '9' && i - start < 9)
                nsec = nsec * 10 + (r[i++] - '0');
            size_t digits = i - start;
            if (digits == 0 || (r[i] >= '0' && r[i] <= '9'))
                return -1;
            static const int scale[] = {1, 100000000, 10000000, 1000000, 100000, 10000, 1000, 100, 10, 1};
            nsec *= scale[digits];
        }
    }
    int offset = 0;
    bool utc = false;
    if (r[i] == 'Z' && i + 2 == len) {
        utc = true;
    } else if (i + 7 == len && (r[i] == '+' || r[i] == '-') && r[i + 3] == ':') {
        int hh = two_digits(r + i + 1), mm = two_digits(r + i + 4);
        if (hh < 0 || mm < 0)
            return -1;
        offset = (hh * 60 + mm) * 60;
        if (r[i] == '-')
            offset = -offset;
    } else {
        return -1;
    }
    out->unix_sec = minute_sec + sec - offset;
    out->nsec = nsec;
    out->utc_offset = offset;
    out->utc = utc;
    return 0;
}

#define FAIL(elem) return parse_error(raw, len, (elem), v, NULL, err)
#define RANGE(what) return parse_error(raw, len, NULL, v, ": " what " out of range", err)

int gcs_time_unmarshal_json(const uint8_t *raw, size_t len, vmu_time *out, vmu_buf *err)
{
    if (len == 4 && memcmp(raw, "null", 4) == 0)
        return 1;
    view v = {raw, len};
    int year, month, day, hour = 0, min, sec = 0, nsec = 0;

    if (!skip_literal(&v, '"'))
        FAIL("\"");
    if (v.n < 4 || !digit_at(v, 0))
        FAIL("2006");
    {
        const uint8_t *p = v.p;
        advance(&v, 4);
        if (!atoi_go(p, 4, &year))
            FAIL("2006");
    }
    if (!skip_literal(&v, '-'))
        FAIL("-");
    if (!getnum(&v, true, &month))
        FAIL("01");
    if (month <= 0 || month > 12)
        RANGE("month");
    if (!skip_literal(&v, '-'))
        FAIL("-");
    if (!getnum(&v, true, &day))
        FAIL("02");
    if (!skip_literal(&v, 'T'))
        FAIL("T");
    bool hour_ok = getnum(&v, false, &hour);
    if (hour >= 24)
        RANGE("hour");
    if (!hour_ok)
        FAIL("15");
    if (!skip_literal(&v, ':'))
        FAIL(":");
    if (!getnum(&v, true, &min))
        FAIL("04");
    if (min >= 60)
        RANGE("minute");
    if (!skip_literal(&v, ':'))
        FAIL(":");
    bool sec_ok = getnum(&v, true, &sec);
    if (sec >= 60)
        RANGE("second");
    /* A fraction the layout does not ask for is taken after the seconds;
     * Go 1.19 does so even when the seconds failed to parse, and that
     * success replaces the failure. */
    if (v.n >= 2 && (v.p[0] == '.' || v.p[0] == ',') && digit_at(v, 1)) {
        size_t n = 2;
        while (digit_at(v, n))
            n++;
        size_t used = n > 10 ? 10 : n;
        int ns = 0;
        for (size_t i = 1; i < used; i++)
            ns = ns * 10 + (v.p[i] - '0');
        for (size_t i = used; i < 10; i++)
            ns *= 10;
        nsec = ns;
        advance(&v, n);
        sec_ok = true;
    }
    if (!sec_ok)
        FAIL("05");

    bool utc = false;
    int offset = 0;
    if (v.n >= 1 && v.p[0] == 'Z') {
        advance(&v, 1);
        utc = true;
    } else {
        if (v.n < 6 || v.p[3] != ':')
            FAIL("Z07:00");
        uint8_t sign = v.p[0];
        const uint8_t *hh = v.p + 1, *mm = v.p + 4;
        advance(&v, 6);
        int hr = 0, mi = 0;
        if (!atoi_go(hh, 2, &hr) || !atoi_go(mm, 2, &mi) || (sign != '+' && sign != '-'))
            FAIL("Z07:00");
        offset = (hr * 60 + mi) * 60;
        if (sign == '-')
            offset = -offset;
    }
    if (!skip_literal(&v, '"'))
        FAIL("\"");
    if (v.n != 0) {
        if (parse_error(raw, len, NULL, (view){raw, 0}, ": extra text: ", err) == -2 ||
            quote(v.p, v.n, err) != 0)
            return -2;
        return -1;
    }
    if (day < 1 || day > days_in(month, year))
        RANGE("day");

    int64_t secs = days_from_civil(year, month, day) * 86400 + hour * 3600 + min * 60 + sec;
    out->unix_sec = secs - offset;
    out->nsec = nsec;
    out->utc_offset = offset;
    out->utc = utc;
    return 0;
}
