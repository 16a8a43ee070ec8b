/* Loggers: level filtering, the choice of formatter or sink, and writing a
 * formatted record whole under the logger's lock. The formatting itself is
 * in log_format.c. */
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "vmutils.h"
#include "../load_word.h"

struct vmu_logger {
    pthread_mutex_t lock;
    /* Atomic: vmu_log and vmu_logger_enabled read it without the lock, from
     * any thread, to drop records cheaply. */
    _Atomic vmu_log_level level;
    vmu_log_format format;
    FILE *stream;
    vmu_log_write_fn write;
    void *write_user;
    vmu_log_sink_fn sink;
    void *sink_user;
    vmu_buf line; /* reused for every record, guarded by lock */
};

static const char *const level_names[] = {"panic", "fatal", "error", "warning",
                                          "info",  "debug", "trace"};

const char *vmu_log_level_name(vmu_log_level level)
{
    if ((unsigned)level < sizeof level_names / sizeof level_names[0])
        return level_names[level];
    return "unknown";
}

/* The word of a literal (folded to a constant). */
static inline uint32_t word32(const char *lit) { return vmu_load32(lit); }

/* logrus.ParseLevel's strings.ToLower and exact match, where OR-ing 0x20
 * lower-cases a word at once: a byte ORed with 0x20 equals a lower-case
 * letter only when it is that letter or its upper case. Anything else
 * (U+0130, other lengths, no match) is for parse_level_general. The GCS
 * decoder parses the level of every entry, hence this fast path. */
static int parse_level_ascii(const char *s, size_t len, vmu_log_level *out)
{
    const uint32_t fold = 0x20202020u;
    uint32_t w;
    switch (len) {
    case 4:
        w = vmu_load32(s) | fold;
        if (w == word32("info"))
            return *out = VMU_LEVEL_INFO, 0;
        if (w == word32("warn"))
            return *out = VMU_LEVEL_WARN, 0;
        return -1;
    case 5: {
        w = vmu_load32(s) | fold;
        char last = (char)(s[4] | 0x20);
        if (w == word32("debu") && last == 'g')
            return *out = VMU_LEVEL_DEBUG, 0;
        if (w == word32("erro") && last == 'r')
            return *out = VMU_LEVEL_ERROR, 0;
        if (w == word32("trac") && last == 'e')
            return *out = VMU_LEVEL_TRACE, 0;
        if (w == word32("fata") && last == 'l')
            return *out = VMU_LEVEL_FATAL, 0;
        if (w == word32("pani") && last == 'c')
            return *out = VMU_LEVEL_PANIC, 0;
        return -1;
    }
    case 7:
        if ((vmu_load32(s) | fold) == word32("warn") && (vmu_load32(s + 3) | fold) == word32("ning"))
            return *out = VMU_LEVEL_WARN, 0;
        return -1;
    default:
        return -1;
    }
}

static int parse_level_general(const char *s, size_t len, vmu_log_level *out)
{
    /* strings.ToLower, then an exact match. The only runes outside ASCII
     * that lower-case into these names are U+0130 (to 'i') and the Kelvin
     * sign (to 'k', in none of them). */
    char lower[8];
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (n == sizeof lower)
            return -1;
        unsigned char c = (unsigned char)s[i];
        if (c < 0x80) {
            lower[n++] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
        } else if (c == 0xc4 && i + 1 < len && (unsigned char)s[i + 1] == 0xb0) {
            lower[n++] = 'i';
            i++;
        } else {
            return -1;
        }
    }
    return parse_level_ascii(lower, n, out);
}

int vmu_log_level_parse(const char *name, size_t len, vmu_log_level *out)
{
    if (!name)
        return -1;
    if (parse_level_ascii(name, len, out) == 0)
        return 0;
    return parse_level_general(name, len, out);
}

static vmu_field field_of(const char *key, vmu_value value)
{
    vmu_field f;
    f.key = key;
    f.key_len = key ? strlen(key) : 0;
    f.value = value;
    return f;
}

vmu_field vmu_field_strn(const char *key, const char *value, size_t len)
{
    vmu_value v = {.kind = VMU_VALUE_STRING};
    v.as.str.ptr = value ? value : "";
    v.as.str.len = value ? len : 0;
    return field_of(key, v);
}

vmu_field vmu_field_str(const char *key, const char *value)
{
    return vmu_field_strn(key, value, value ? strlen(value) : 0);
}

vmu_field vmu_field_int(const char *key, int64_t value)
{
    vmu_value v = {.kind = VMU_VALUE_INT, .as.i = value};
    return field_of(key, v);
}

vmu_field vmu_field_uint(const char *key, uint64_t value)
{
    vmu_value v = {.kind = VMU_VALUE_UINT, .as.u = value};
    return field_of(key, v);
}

vmu_field vmu_field_float(const char *key, double value)
{
    vmu_value v = {.kind = VMU_VALUE_FLOAT, .as.f = value};
    return field_of(key, v);
}

vmu_field vmu_field_bool(const char *key, bool value)
{
    vmu_value v = {.kind = VMU_VALUE_BOOL, .as.b = value};
    return field_of(key, v);
}

static void logger_init(vmu_logger *logger)
{
    pthread_mutex_init(&logger->lock, NULL);
    atomic_init(&logger->level, VMU_LEVEL_INFO);
    logger->format = VMU_LOG_TEXT;
    logger->stream = NULL;
    logger->write = NULL;
    logger->write_user = NULL;
    logger->sink = NULL;
    logger->sink_user = NULL;
    vmu_buf_init(&logger->line);
}

vmu_logger *vmu_logger_new(void)
{
    vmu_logger *logger = vmu_malloc(sizeof *logger);
    if (logger)
        logger_init(logger);
    return logger;
}

void vmu_logger_free(vmu_logger *logger)
{
    if (!logger || logger == vmu_default_logger())
        return;
    pthread_mutex_destroy(&logger->lock);
    vmu_buf_free(&logger->line);
    vmu_free(logger);
}

static vmu_logger default_logger;
static pthread_once_t default_logger_once = PTHREAD_ONCE_INIT;

static void default_logger_init(void) { logger_init(&default_logger); }

vmu_logger *vmu_default_logger(void)
{
    pthread_once(&default_logger_once, default_logger_init);
    return &default_logger;
}

static vmu_logger *resolve(vmu_logger *logger) { return logger ? logger : vmu_default_logger(); }

void vmu_logger_set_level(vmu_logger *logger, vmu_log_level level)
{
    atomic_store_explicit(&resolve(logger)->level, level, memory_order_relaxed);
}

vmu_log_level vmu_logger_get_level(const vmu_logger *logger)
{
    const vmu_logger *l = logger ? logger : vmu_default_logger();
    /* C11's atomic_load takes a non-const pointer; the load writes nothing. */
    return atomic_load_explicit((_Atomic vmu_log_level *)&l->level, memory_order_relaxed);
}

bool vmu_logger_enabled(const vmu_logger *logger, vmu_log_level level)
{
    return level <= vmu_logger_get_level(logger);
}

void vmu_logger_set_format(vmu_logger *logger, vmu_log_format format)
{
    logger = resolve(logger);
    pthread_mutex_lock(&logger->lock);
    logger->format = format;
    pthread_mutex_unlock(&logger->lock);
}

vmu_log_format vmu_logger_get_format(const vmu_logger *logger)
{
    return logger ? logger->format : vmu_default_logger()->format;
}

void vmu_logger_set_stream(vmu_logger *logger, FILE *stream)
{
    logger = resolve(logger);
    pthread_mutex_lock(&logger->lock);
    logger->stream = stream;
    logger->write = NULL;
    logger->write_user = NULL;
    pthread_mutex_unlock(&logger->lock);
}

void vmu_logger_set_writer(vmu_logger *logger, vmu_log_write_fn write, void *user)
{
    logger = resolve(logger);
    pthread_mutex_lock(&logger->lock);
    logger->write = write;
    logger->write_user = user;
    pthread_mutex_unlock(&logger->lock);
}

void vmu_logger_set_sink(vmu_logger *logger, vmu_log_sink_fn sink, void *user)
{
    logger = resolve(logger);
    pthread_mutex_lock(&logger->lock);
    logger->sink = sink;
    logger->sink_user = user;
    pthread_mutex_unlock(&logger->lock);
}

static vmu_time local_time(clockid_t clock)
{
    struct timespec now;
    clock_gettime(clock, &now);
    /* The zone offset can only change on a whole second, and forwarders ask
     * for the time once a record: each thread keeps the last second's. */
    static _Thread_local time_t offset_second = (time_t)-1;
    static _Thread_local int32_t offset_of_second;
    if (now.tv_sec != offset_second) {
        struct tm local;
        time_t secs = now.tv_sec;
        localtime_r(&secs, &local);
        offset_of_second = (int32_t)local.tm_gmtoff;
        offset_second = now.tv_sec;
    }
    vmu_time t;
    t.unix_sec = (int64_t)now.tv_sec;
    t.nsec = (int32_t)now.tv_nsec;
    t.utc_offset = offset_of_second;
    /* time.Now() is in Local, not UTC, even where Local's offset is zero
     * (Europe/London in winter prints "GMT"). */
    t.utc = false;
    return t;
}

vmu_time vmu_time_now(void) { return local_time(CLOCK_REALTIME); }

static int write_line(vmu_logger *logger, const char *data, size_t len)
{
    if (logger->write)
        return logger->write(logger->write_user, data, len);
    FILE *stream = logger->stream ? logger->stream : stderr;
    if (fwrite(data, 1, len, stream) != len)
        return -1;
    /* logrus writes each record with one write(2); flushing here keeps a
     * record from being split across another writer's output. */
    return stream == stderr ? fflush(stream) : 0;
}

/* Formats the record into the logger's reused buffer and writes it; the
 * caller holds the lock. */
static int format_and_write_locked(vmu_logger *logger, const vmu_log_record *record)
{
    vmu_buf_reset(&logger->line);
    int status = logger->format == VMU_LOG_JSON ? vmu_log_format_json(record, &logger->line)
                                                : vmu_log_format_text(record, &logger->line);
    if (status == 0)
        status = write_line(logger, logger->line.data, logger->line.len);
    /* A huge record must not pin its buffer for the logger's lifetime. */
    if (logger->line.cap > (1u << 20))
        vmu_buf_free(&logger->line);
    return status;
}

int vmu_logger_write_record(vmu_logger *logger, const vmu_log_record *record)
{
    if (!record)
        return -1;
    logger = resolve(logger);
    pthread_mutex_lock(&logger->lock);
    int status = format_and_write_locked(logger, record);
    pthread_mutex_unlock(&logger->lock);
    return status;
}

int vmu_log_at(vmu_logger *logger, const vmu_time *host_time, vmu_log_level level,
               const char *msg, size_t msg_len, const vmu_field *fields, size_t field_count)
{
    logger = resolve(logger);
    vmu_log_record record;
    record.time = *host_time;
    record.level = level;
    record.msg = msg ? msg : "";
    record.msg_len = msg ? msg_len : 0;
    record.fields = fields;
    record.field_count = fields ? field_count : 0;

    pthread_mutex_lock(&logger->lock);
    int status = 0;
    if (level > vmu_logger_get_level(logger)) {
        /* filtered: like logrus, below-level records cost nothing more */
    } else if (logger->sink) {
        vmu_log_sink_fn sink = logger->sink;
        void *user = logger->sink_user;
        /* The sink may log again (a Lua handler calling a warning function),
         * so it runs without the lock. */
        pthread_mutex_unlock(&logger->lock);
        sink(user, &record);
        return 0;
    } else {
        status = format_and_write_locked(logger, &record);
    }
    pthread_mutex_unlock(&logger->lock);
    return status;
}

int vmu_log(vmu_logger *logger, vmu_log_level level, const char *msg, size_t msg_len,
            const vmu_field *fields, size_t field_count)
{
    /* Skip the clock read for records that will be dropped. */
    if (level > vmu_logger_get_level(logger))
        return 0;
    /* Records print the host time to the second, so the clock's last tick
     * (a few milliseconds old at most) is as good as a fresh reading and
     * costs a load instead of a read of the cycle counter: a forwarder
     * takes it once an entry. */
    vmu_time now = local_time(CLOCK_REALTIME_COARSE);
    return vmu_log_at(logger, &now, level, msg, msg_len, fields, field_count);
}
