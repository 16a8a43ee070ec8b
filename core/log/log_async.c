/* The asynchronous sink: records copied into blocks by the producer,
 * formatted and written by a worker thread (see log_async.h).
 *
 * Blocks move producer -> queue -> worker -> free list under one mutex; a
 * block's bytes are written by one thread at a time and handed over under
 * the lock, which orders the copy before the worker's reads. The lock is
 * taken once a block, not once a record, so a block of a few hundred
 * records costs two lock round trips. */
#include <pthread.h>
#include <signal.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#include "copy_short.h"
#include "vmutils/base.h"
#include "vmutils/log_async.h"

#define BLOCK_BYTES (128u * 1024u)
#define POOL_BLOCKS 16
/* Formatted text is written once this much is pending: the 64 KiB of the
 * Go anchor's bufio.Writer. */
#define OUT_CHUNK (64u * 1024u)
/* The formatters recurse once a nesting level; the worker's stack must hold
 * VMU_LOG_MAX_DEPTH levels, as a main thread's does. */
#define WORKER_STACK (16u * 1024u * 1024u)

#define ALIGNMENT alignof(max_align_t)

typedef struct block {
    struct block *next;
    unsigned char *data; /* max_align_t-aligned, from vmu_malloc */
    size_t cap;
    size_t used;
} block;

/* A record as stored in a block: its size (to step to the next one), then
 * the record, then its fields, values and bytes. */
typedef struct stored_record {
    size_t size;
    vmu_log_record record;
} stored_record;

struct vmu_log_async {
    pthread_mutex_t lock;
    pthread_cond_t work; /* the worker waits for a queued block or close */
    pthread_cond_t room; /* the producer waits for a free block */
    block *queue_head;   /* full blocks, oldest first */
    block *queue_tail;
    block *free_blocks;
    size_t blocks; /* allocated: at most POOL_BLOCKS */
    bool closing;

    block *current; /* the block being filled: the producer's alone */

    vmu_log_format format;
    vmu_log_write_fn write;
    void *write_user;
    vmu_buf out; /* the worker's alone */

    atomic_int errors;
    pthread_t thread;
};

/* ---- copying a record into a block ---- */

static size_t align_up(size_t n) { return (n + (ALIGNMENT - 1)) & ~(ALIGNMENT - 1); }

static size_t add_sat(size_t a, size_t b) { return a > SIZE_MAX - b ? SIZE_MAX : a + b; }

static size_t mul_sat(size_t a, size_t b)
{
    return b && a > SIZE_MAX / b ? SIZE_MAX : a * b;
}

static size_t value_bound(const vmu_value *v, int depth);

/* An array of `count` structs of `size`, aligned: room for its padding. */
static size_t array_bound(size_t count, size_t size)
{
    return add_sat(mul_sat(count, size), ALIGNMENT);
}

static size_t fields_bound(const vmu_field *fields, size_t count, int depth)
{
    if (!fields || count == 0)
        return 0;
    size_t n = array_bound(count, sizeof *fields);
    for (size_t i = 0; i < count && n != SIZE_MAX; i++) {
        if (fields[i].key)
            n = add_sat(n, fields[i].key_len);
        n = add_sat(n, value_bound(&fields[i].value, depth));
    }
    return n;
}

/* The bytes the value needs beyond its own vmu_value; SIZE_MAX when it
 * nests too deep to be formatted anyway. */
static size_t value_bound(const vmu_value *v, int depth)
{
    switch (v->kind) {
    case VMU_VALUE_STRING:
        return v->as.str.ptr ? v->as.str.len : 0;
    case VMU_VALUE_ARRAY: {
        if (depth >= VMU_LOG_MAX_DEPTH)
            return SIZE_MAX;
        if (!v->as.array.items || v->as.array.count == 0)
            return 0;
        size_t n = array_bound(v->as.array.count, sizeof *v->as.array.items);
        for (size_t i = 0; i < v->as.array.count && n != SIZE_MAX; i++)
            n = add_sat(n, value_bound(&v->as.array.items[i], depth + 1));
        return n;
    }
    case VMU_VALUE_OBJECT:
        if (depth >= VMU_LOG_MAX_DEPTH)
            return SIZE_MAX;
        return fields_bound(v->as.object.members, v->as.object.count, depth + 1);
    default:
        return 0;
    }
}

static size_t record_bound(const vmu_log_record *r)
{
    size_t n = align_up(sizeof(stored_record));
    if (r->msg)
        n = add_sat(n, r->msg_len);
    n = add_sat(n, fields_bound(r->fields, r->field_count, 0));
    /* The next record starts aligned. */
    return add_sat(n, ALIGNMENT);
}

/* A bump cursor in the block. The copy checks its room as it goes rather
 * than measuring the record first: nearly every record fits in the current
 * block, and the one that does not is measured (record_bound) and copied
 * again into a block with room for it. */
typedef struct cursor {
    unsigned char *at;
    unsigned char *end;
    bool full;
} cursor;

static void *take_aligned(cursor *c, size_t size)
{
    uintptr_t p = ((uintptr_t)c->at + (ALIGNMENT - 1)) & ~(uintptr_t)(ALIGNMENT - 1);
    if (c->full || p > (uintptr_t)c->end || size > (size_t)((uintptr_t)c->end - p)) {
        c->full = true;
        return NULL;
    }
    c->at = (unsigned char *)p + size;
    return (void *)p;
}

static inline const char *copy_bytes(cursor *c, const char *s, size_t len)
{
    if (!s)
        return NULL;
    if (len == 0)
        return "";
    if (len > (size_t)(c->end - c->at)) {
        c->full = true;
        return NULL;
    }
    /* Most strings of a record are a few bytes. */
    char *d = (char *)c->at;
    vmu_copy_short(d, s, len);
    c->at += len;
    return d;
}

static void copy_value(cursor *c, vmu_value *dst, const vmu_value *src, int depth);

static inline void copy_string(cursor *c, vmu_value *dst, const vmu_value *src)
{
    dst->kind = VMU_VALUE_STRING;
    dst->as.str.ptr = copy_bytes(c, src->as.str.ptr, src->as.str.len);
    dst->as.str.len = dst->as.str.ptr ? src->as.str.len : 0;
}

static const vmu_field *copy_fields(cursor *c, const vmu_field *src, size_t count, int depth)
{
    if (!src || count == 0)
        return NULL;
    if (count > SIZE_MAX / sizeof(vmu_field)) {
        c->full = true;
        return NULL;
    }
    vmu_field *dst = take_aligned(c, count * sizeof *dst);
    for (size_t i = 0; dst && i < count && !c->full; i++) {
        const vmu_field *f = &src[i];
        vmu_field *o = &dst[i];
        o->key = copy_bytes(c, f->key, f->key_len);
        o->key_len = f->key ? f->key_len : 0;
        /* Flat values inline: a record's fields are nearly all flat. */
        if (f->value.kind == VMU_VALUE_STRING)
            copy_string(c, &o->value, &f->value);
        else if (f->value.kind == VMU_VALUE_ARRAY || f->value.kind == VMU_VALUE_OBJECT)
            copy_value(c, &o->value, &f->value, depth);
        else
            o->value = f->value;
    }
    return dst;
}

static void copy_value(cursor *c, vmu_value *dst, const vmu_value *src, int depth)
{
    *dst = *src;
    switch (src->kind) {
    case VMU_VALUE_STRING:
        copy_string(c, dst, src);
        break;
    case VMU_VALUE_ARRAY: {
        size_t count = src->as.array.items ? src->as.array.count : 0;
        if (depth >= VMU_LOG_MAX_DEPTH || count > SIZE_MAX / sizeof(vmu_value)) {
            c->full = true;
            return;
        }
        vmu_value *items = count ? take_aligned(c, count * sizeof *items) : NULL;
        for (size_t i = 0; items && i < count && !c->full; i++)
            copy_value(c, &items[i], &src->as.array.items[i], depth + 1);
        dst->as.array.items = items;
        dst->as.array.count = items ? count : 0;
        break;
    }
    case VMU_VALUE_OBJECT:
        if (depth >= VMU_LOG_MAX_DEPTH) {
            c->full = true;
            return;
        }
        dst->as.object.members =
            copy_fields(c, src->as.object.members, src->as.object.count, depth + 1);
        dst->as.object.count = dst->as.object.members ? src->as.object.count : 0;
        break;
    default:
        break;
    }
}

/* Copies the record at the block's end. Returns 0, or -1 when it did not
 * fit (the block is left as it was). */
static int store_record(block *b, const vmu_log_record *r)
{
    cursor c = {b->data + b->used, b->data + b->cap, false};
    stored_record *s = take_aligned(&c, sizeof *s);
    if (!s)
        return -1;
    s->record = *r;
    s->record.msg = r->msg ? copy_bytes(&c, r->msg, r->msg_len) : "";
    s->record.msg_len = r->msg ? r->msg_len : 0;
    s->record.fields = copy_fields(&c, r->fields, r->field_count, 0);
    s->record.field_count = s->record.fields ? r->field_count : 0;
    if (c.full)
        return -1;
    size_t end = align_up((size_t)(c.at - b->data));
    if (end > b->cap)
        end = b->cap; /* the last record: nothing follows it */
    s->size = end - b->used;
    b->used = end;
    return 0;
}

/* ---- blocks ---- */

static void block_free(block *b)
{
    if (b) {
        vmu_free(b->data);
        vmu_free(b);
    }
}

/* Gives the block a capacity of at least `need`, and no more than the
 * usual when `need` fits in it (a large record's block shrinks back). */
static int block_fit(block *b, size_t need)
{
    if (b->data && b->cap >= need && (b->cap == BLOCK_BYTES || need > BLOCK_BYTES))
        return 0;
    size_t want = need > BLOCK_BYTES ? need : BLOCK_BYTES;
    unsigned char *data = vmu_malloc(want);
    if (!data)
        return -1;
    vmu_free(b->data);
    b->data = data;
    b->cap = want;
    return 0;
}

static void add_error(vmu_log_async *a, int bit) { atomic_fetch_or(&a->errors, bit); }

/* A free block with room for `need` bytes, waiting for the worker when
 * the pool is in use. NULL on OOM. */
static block *acquire_block(vmu_log_async *a, size_t need)
{
    pthread_mutex_lock(&a->lock);
    while (!a->free_blocks && a->blocks >= POOL_BLOCKS)
        pthread_cond_wait(&a->room, &a->lock);
    block *b = a->free_blocks;
    if (b)
        a->free_blocks = b->next;
    else
        a->blocks++;
    pthread_mutex_unlock(&a->lock);

    if (!b && (b = vmu_malloc(sizeof *b)) != NULL) {
        b->data = NULL;
        b->cap = 0;
    }
    if (b && block_fit(b, need) == 0) {
        b->next = NULL;
        b->used = 0;
        return b;
    }
    pthread_mutex_lock(&a->lock);
    if (b) {
        b->next = a->free_blocks;
        a->free_blocks = b;
    } else {
        a->blocks--;
    }
    pthread_mutex_unlock(&a->lock);
    return NULL;
}

static void publish(vmu_log_async *a, block *b)
{
    pthread_mutex_lock(&a->lock);
    b->next = NULL;
    if (a->queue_tail)
        a->queue_tail->next = b;
    else
        a->queue_head = b;
    a->queue_tail = b;
    pthread_cond_signal(&a->work);
    pthread_mutex_unlock(&a->lock);
}

/* ---- the worker ---- */

static void write_out(vmu_log_async *a)
{
    if (a->out.len == 0)
        return;
    if (!(atomic_load(&a->errors) & VMU_LOG_ASYNC_WRITE) &&
        a->write(a->write_user, a->out.data, a->out.len) != 0)
        add_error(a, VMU_LOG_ASYNC_WRITE);
    vmu_buf_reset(&a->out);
    /* One huge record must not pin its text for the stream's lifetime. */
    if (a->out.cap > 4 * OUT_CHUNK)
        vmu_buf_free(&a->out);
}

static void format_block(vmu_log_async *a, const block *b)
{
    for (size_t at = 0; at < b->used;) {
        const stored_record *s = (const stored_record *)(b->data + at);
        at += s->size;
        if (atomic_load_explicit(&a->errors, memory_order_relaxed) & VMU_LOG_ASYNC_WRITE)
            continue;
        int rc = a->format == VMU_LOG_JSON ? vmu_log_format_json(&s->record, &a->out)
                                           : vmu_log_format_text(&s->record, &a->out);
        if (rc != 0)
            add_error(a, VMU_LOG_ASYNC_NOMEM);
        if (a->out.len >= OUT_CHUNK)
            write_out(a);
    }
}

static void *worker(void *arg)
{
    vmu_log_async *a = arg;
    /* Named for top, perf and gdb. */
    pthread_setname_np(pthread_self(), "vmu-log-async");
    pthread_mutex_lock(&a->lock);
    for (;;) {
        block *b = a->queue_head;
        if (!b) {
            if (a->out.len > 0) {
                /* Nothing more to format for now: what is pending goes out
                 * rather than waiting for the next block. */
                pthread_mutex_unlock(&a->lock);
                write_out(a);
                pthread_mutex_lock(&a->lock);
                continue;
            }
            if (a->closing)
                break;
            pthread_cond_wait(&a->work, &a->lock);
            continue;
        }
        a->queue_head = b->next;
        if (!a->queue_head)
            a->queue_tail = NULL;
        pthread_mutex_unlock(&a->lock);

        format_block(a, b);

        pthread_mutex_lock(&a->lock);
        b->used = 0;
        b->next = a->free_blocks;
        a->free_blocks = b;
        pthread_cond_signal(&a->room);
    }
    pthread_mutex_unlock(&a->lock);
    return NULL;
}

/* The worker takes no asynchronous signals (Ctrl-C and the like stay with
 * the threads that handle them); faults and SIGPIPE, which the kernel
 * sends to the thread that caused them, keep their usual effect. */
static int start_worker(vmu_log_async *a)
{
    sigset_t all, previous;
    sigfillset(&all);
    sigdelset(&all, SIGPIPE);
    sigdelset(&all, SIGSEGV);
    sigdelset(&all, SIGBUS);
    sigdelset(&all, SIGFPE);
    sigdelset(&all, SIGILL);
    pthread_attr_t attr;
    if (pthread_attr_init(&attr) != 0)
        return -1;
    pthread_attr_setstacksize(&attr, WORKER_STACK);
    pthread_sigmask(SIG_BLOCK, &all, &previous);
    int rc = pthread_create(&a->thread, &attr, worker, a);
    pthread_sigmask(SIG_SETMASK, &previous, NULL);
    pthread_attr_destroy(&attr);
    return rc == 0 ? 0 : -1;
}

/* ---- the producer's side ---- */

vmu_log_async *vmu_log_async_new(vmu_log_format format, vmu_log_write_fn write, void *user)
{
    if (!write)
        return NULL;
    vmu_log_async *a = vmu_calloc(1, sizeof *a);
    if (!a)
        return NULL;
    a->format = format;
    a->write = write;
    a->write_user = user;
    vmu_buf_init(&a->out);
    atomic_init(&a->errors, 0);
    if (pthread_mutex_init(&a->lock, NULL) != 0) {
        vmu_free(a);
        return NULL;
    }
    if (pthread_cond_init(&a->work, NULL) != 0) {
        pthread_mutex_destroy(&a->lock);
        vmu_free(a);
        return NULL;
    }
    if (pthread_cond_init(&a->room, NULL) != 0) {
        pthread_cond_destroy(&a->work);
        pthread_mutex_destroy(&a->lock);
        vmu_free(a);
        return NULL;
    }
    if (start_worker(a) != 0) {
        pthread_cond_destroy(&a->room);
        pthread_cond_destroy(&a->work);
        pthread_mutex_destroy(&a->lock);
        vmu_free(a);
        return NULL;
    }
    return a;
}

void vmu_log_async_sink(void *async, const vmu_log_record *record)
{
    vmu_log_async *a = async;
    if (!a || !record)
        return;
    if (atomic_load_explicit(&a->errors, memory_order_relaxed) & VMU_LOG_ASYNC_WRITE)
        return; /* nothing more will be written */
    block *b = a->current;
    if (b && store_record(b, record) == 0)
        return;
    size_t need = record_bound(record);
    if (need == SIZE_MAX) {
        add_error(a, VMU_LOG_ASYNC_NOMEM);
        return;
    }
    if (b && b->used > 0) {
        publish(a, b);
        b = NULL;
    } else if (b && block_fit(b, need) != 0) {
        add_error(a, VMU_LOG_ASYNC_NOMEM);
        return;
    }
    if (!b)
        b = acquire_block(a, need);
    a->current = b;
    if (!b || store_record(b, record) != 0)
        add_error(a, VMU_LOG_ASYNC_NOMEM);
}

void vmu_log_async_flush(vmu_log_async *a)
{
    if (a && a->current && a->current->used > 0) {
        publish(a, a->current);
        a->current = NULL;
    }
}

bool vmu_log_async_failed(const vmu_log_async *a)
{
    return a && (atomic_load(&((vmu_log_async *)a)->errors) & VMU_LOG_ASYNC_WRITE);
}

static void free_list(block *b)
{
    while (b) {
        block *next = b->next;
        block_free(b);
        b = next;
    }
}

int vmu_log_async_close(vmu_log_async *a)
{
    if (!a)
        return 0;
    vmu_log_async_flush(a);
    pthread_mutex_lock(&a->lock);
    a->closing = true;
    pthread_cond_signal(&a->work);
    pthread_mutex_unlock(&a->lock);
    pthread_join(a->thread, NULL);

    int errors = atomic_load(&a->errors);
    block_free(a->current);
    free_list(a->free_blocks);
    free_list(a->queue_head);
    vmu_buf_free(&a->out);
    pthread_cond_destroy(&a->room);
    pthread_cond_destroy(&a->work);
    pthread_mutex_destroy(&a->lock);
    vmu_free(a);
    return errors;
}
