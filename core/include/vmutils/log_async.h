/* vmutils: records formatted and written on a worker thread.
 *
 * A forwarder spends about half its time decoding and half formatting; with
 * this sink the two run on different cores. The sink copies each record
 * into a block of a small pool (the record's strings and nested values
 * included, so the caller may reuse its memory as soon as the sink
 * returns); a worker thread formats the records of each full block in
 * order and writes the text through a vmu_log_write_fn, 64 KiB at a time,
 * and whatever it holds whenever it runs out of records. Memory is the pool
 * (sixteen blocks of 128 KiB) plus the output buffer; a record bigger than a
 * block gets a block of its own size, given back once it is written. When
 * every block is in use the sink waits for the worker, so a fast producer
 * is held to the writer's pace instead of queueing without bound.
 *
 * One producer: the sink, flush and close of one vmu_log_async must not be
 * called from two threads at once (give each forwarder its own, or lock). */
#ifndef VMUTILS_LOG_ASYNC_H
#define VMUTILS_LOG_ASYNC_H

#include <stdbool.h>

#include "log.h"
#include "export.h"

#ifdef __cplusplus
extern "C" {
#endif

VMU_API_BEGIN

typedef struct vmu_log_async vmu_log_async;

/* What went wrong, as bits of vmu_log_async_close's result. */
#define VMU_LOG_ASYNC_NOMEM 1 /* a record was lost: no memory to copy or format it,
                                 or it nests deeper than VMU_LOG_MAX_DEPTH */
#define VMU_LOG_ASYNC_WRITE 2 /* the writer failed; later records were dropped */

/* Starts the worker. Records are formatted as `format` and written with
 * write(user, ...), only from the worker thread. NULL when memory or the
 * thread could not be had (write synchronously then). */
vmu_log_async *vmu_log_async_new(vmu_log_format format, vmu_log_write_fn write, void *user);

/* A vmu_log_sink_fn: pass it to vmu_logger_set_sink with the vmu_log_async
 * as its user pointer. */
void vmu_log_async_sink(void *async, const vmu_log_record *record);

/* Hands the records taken so far to the worker without waiting for a full
 * block: call it before the producer blocks (on a read, say) so that a live
 * stream's records are written while it waits. */
void vmu_log_async_flush(vmu_log_async *async);

/* Whether the writer has failed: a producer may stop early, as at the end
 * of its input, since nothing more will be written. */
bool vmu_log_async_failed(const vmu_log_async *async);

/* Writes every record taken, stops the worker and frees everything.
 * Returns 0, or VMU_LOG_ASYNC_NOMEM and/or VMU_LOG_ASYNC_WRITE. */
int vmu_log_async_close(vmu_log_async *async);

VMU_API_END

#ifdef __cplusplus
}
#endif
#endif
