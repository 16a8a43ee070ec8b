/* The member keys of the JSON documents the core writes with fixed field
 * names (numa.c's hcsschema structs, options.c's protojson). Internal to
 * the core. */
#ifndef VMUTILS_JSON_MEMBER_H
#define VMUTILS_JSON_MEMBER_H

#include <stdbool.h>

#include "vmutils.h"

/* Writes `"key":` after the comma that separates it from the previous
 * member; `first` tracks whether one was written. key is a field name of
 * ASCII letters, digits and underscores: it needs no escape. */
static inline void vmu_json_member_key(vmu_buf *out, bool *first, const char *key)
{
    if (!*first)
        vmu_buf_putc(out, ',');
    *first = false;
    vmu_buf_putc(out, '"');
    vmu_buf_puts(out, key);
    vmu_buf_puts(out, "\":");
}

#endif
