/* The decoder's memory for one top-level value (gcs_arena.c): a bump
 * allocator in blocks kept between entries, so decoding allocates nothing
 * once the blocks have grown to the largest entry, and the growth of the
 * stacks the builder and the entry rules keep beside it. A leaf: it depends
 * on nothing else of the decoder. */
#ifndef VMUTILS_GCS_ARENA_H
#define VMUTILS_GCS_ARENA_H

#include <stddef.h>

typedef struct gcs_arena_block {
    struct gcs_arena_block *next;
    size_t size;
    size_t used;
    max_align_t data[];
} gcs_arena_block;

typedef struct gcs_arena {
    gcs_arena_block *first;
    gcs_arena_block *current;
} gcs_arena;

/* size bytes, aligned for any type; NULL on OOM. */
void *gcs_arena_alloc(gcs_arena *a, size_t size);
/* A copy of s[0..len) (at least one byte allocated); NULL on OOM. */
char *gcs_arena_copy(gcs_arena *a, const char *s, size_t len);
/* Forgets every allocation, keeping the first block for the next value. */
void gcs_arena_reset(gcs_arena *a);
void gcs_arena_free(gcs_arena *a);

/* Grows the array *ptr of *cap elements of elem bytes (by doubling, from
 * 64) to hold at least need. 0, or -1 on OOM (the array is left as it was). */
int gcs_grow(void **ptr, size_t *cap, size_t need, size_t elem);

#endif
