/* The decoder's value arena and stack growth (see gcs_arena.h). */
#include <stdint.h>
#include <string.h>

#include "gcs_arena.h"
#include "vmutils.h"

#define ARENA_BLOCK (64u * 1024u)

void *gcs_arena_alloc(gcs_arena *a, size_t size)
{
    size = (size + (sizeof(max_align_t) - 1)) & ~(sizeof(max_align_t) - 1);
    gcs_arena_block *b = a->current;
    if (b && b->size - b->used >= size) {
        void *p = (char *)b->data + b->used;
        b->used += size;
        return p;
    }
    /* Next block in the chain, if one is big enough; else a new one. */
    if (b && b->next && b->next->size >= size) {
        b = b->next;
        b->used = size;
        a->current = b;
        return b->data;
    }
    size_t want = size > ARENA_BLOCK ? size : ARENA_BLOCK;
    if (want > SIZE_MAX - sizeof(gcs_arena_block))
        return NULL;
    gcs_arena_block *nb = vmu_malloc(sizeof(gcs_arena_block) + want);
    if (!nb)
        return NULL;
    nb->size = want;
    nb->used = size;
    if (!b) {
        nb->next = NULL;
        a->first = nb;
    } else {
        nb->next = b->next;
        b->next = nb;
    }
    a->current = nb;
    return nb->data;
}

void gcs_arena_reset(gcs_arena *a)
{
    if (!a->first)
        return;
    /* Keep the first block for the next entry; blocks that only a large
     * entry needed go back, so memory follows the typical entry. */
    gcs_arena_block *b = a->first->next;
    while (b) {
        gcs_arena_block *next = b->next;
        vmu_free(b);
        b = next;
    }
    a->first->next = NULL;
    a->first->used = 0;
    a->current = a->first;
}

void gcs_arena_free(gcs_arena *a)
{
    gcs_arena_block *b = a->first;
    while (b) {
        gcs_arena_block *next = b->next;
        vmu_free(b);
        b = next;
    }
    a->first = a->current = NULL;
}

char *gcs_arena_copy(gcs_arena *a, const char *s, size_t len)
{
    char *p = gcs_arena_alloc(a, len ? len : 1);
    if (p && len)
        memcpy(p, s, len);
    return p;
}

int gcs_grow(void **ptr, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    size_t n = *cap ? *cap * 2 : 64;
    while (n < need)
        n *= 2;
    void *q = vmu_realloc(*ptr, n * elem);
    if (!q)
        return -1;
    *ptr = q;
    *cap = n;
    return 0;
}
