/* The stream driver (gcs_stream.c): vmu_gcs_decoder, what the rest of the
 * decoder offers its callers beside the public API. */
#ifndef VMUTILS_GCS_STREAM_H
#define VMUTILS_GCS_STREAM_H

#include <stdbool.h>
#include <stdint.h>

#include "vmutils.h"

/* Bytes handed to yajl at a time, and read at a time by the forwarders;
 * also how far past max_entry_bytes an entry can grow before it is found to
 * be too large. */
#define GCS_SLICE (64u * 1024u)

/* Whether d takes more input: it has neither finished nor run out of
 * memory. */
bool gcs_decoder_open(const vmu_gcs_decoder *d);
/* The bytes yajl's lexer has gone over so far, a token cut by a slice
 * counted again each time yajl lexes it again: the decoder's work, which
 * tests check grows linearly with the input. */
uint64_t gcs_decoder_lexed_bytes(const vmu_gcs_decoder *d);

#endif
