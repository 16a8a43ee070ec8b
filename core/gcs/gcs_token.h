/* The JSON token a slice of the GCS stream ends in (gcs_token.c): where it
 * started and whether the next bytes can only continue it, so that the
 * stream driver holds them back from yajl instead of having yajl lex the
 * cut token again at every slice. */
#ifndef VMUTILS_GCS_TOKEN_H
#define VMUTILS_GCS_TOKEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What the next byte of the stream may be: inside a string, an escape, a
 * number's part, a literal, or between tokens (GCS_TOKEN_OUT). */
typedef uint8_t gcs_token_state;
#define GCS_TOKEN_OUT 0

/* The length of the prefix of s[0..n) that continues the token of state
 * *st without ending it; *st becomes the state after it. */
size_t gcs_token_continue_span(gcs_token_state *st, const uint8_t *s, size_t n);
/* Follows the tokens over s[0..n) (stream offset off) from state *st
 * through their ends; *tok_start becomes where the last one began. */
void gcs_token_track(gcs_token_state *st, uint64_t *tok_start, const uint8_t *s, size_t n,
                     uint64_t off);
/* Whether bytes that continue the token of state st can be held back: it
 * is a string or a number, and not a number that is so far a lone [-]0
 * (whose next byte ends it or not) nor a literal (a few bytes). */
bool gcs_token_holdable(gcs_token_state st);

#endif
