/* Go's text for times, byte for byte as Go 1.19's time package prints them:
 * the log formatters must match a Go host running logrus, so every rule below
 * mirrors one of Go's (the comments say which), and tests/test_log.c checks
 * them against output captured from real Go programs. */
#include <string.h>
#include <time.h>

#include "gofmt.h"

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
    memcpy(p, vmu_go_digit_pairs + 2 * v, 2);
    return p + 2;
}

/* Go's appendInt(b, v, width): zero-padded to width, never cut. */
static char *put_padded(char *p, uint64_t v, int width)
{
    char digits[VMU_GO_INT_MAX];
    int n = (int)vmu_go_uint(v, digits);
    for (; n < width; width--)
        *p++ = '0';
    memcpy(p, digits, (size_t)n);
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
        memcpy(q, vmu_go_digit_pairs + 2 * (v % 100), 2);
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
