/* The JSON token a slice of the stream ends in, followed as yajl's lexer
 * follows it, for the stream driver's held tokens (gcs_stream.c). Only the
 * bytes of a value that spans slices are looked at, from its first byte
 * (which starts a token); a state stands for what the next byte may be. */
#include <string.h>

#include "gcs_token.h"

enum {
    LEX_OUT = GCS_TOKEN_OUT, /* between tokens */
    LEX_STRING,
    LEX_ESCAPE,
    LEX_HEX1, /* \u and 1..4 hex digits to come (LEX_HEX1 + n - 1) */
    LEX_HEX2,
    LEX_HEX3,
    LEX_HEX4,
    LEX_SIGN,  /* "-" */
    LEX_INT,   /* [-]1-9 digits */
    LEX_DOT,   /* a digit must follow */
    LEX_FRAC,
    LEX_E,     /* a sign or digit must follow */
    LEX_ESIGN, /* a digit must follow */
    LEX_EXP,
    LEX_ZERO,    /* [-]0: ends at the next byte but '.', 'e' */
    LEX_LITERAL, /* true, false, null: a few bytes, never held */
};

static inline bool lex_digit(uint8_t c) { return (uint8_t)(c - '0') <= 9; }

static inline bool lex_hex(uint8_t c)
{
    return lex_digit(c) || (uint8_t)((c | 0x20) - 'a') <= 5;
}

/* The state after byte c within a token that c cannot end, or LEX_OUT when
 * c ends the token (or is an error yajl reports). */
static inline uint8_t lex_continue(uint8_t st, uint8_t c)
{
    switch (st) {
    case LEX_STRING:
        return c == '\\' ? LEX_ESCAPE : c == '"' || c < 0x20 ? LEX_OUT : LEX_STRING;
    case LEX_ESCAPE:
        return c == 'u' ? LEX_HEX4 : c && strchr("\"\\/bfnrt", c) ? LEX_STRING : LEX_OUT;
    case LEX_HEX1:
        return lex_hex(c) ? LEX_STRING : LEX_OUT;
    case LEX_HEX2:
    case LEX_HEX3:
    case LEX_HEX4:
        return lex_hex(c) ? (uint8_t)(st - 1) : LEX_OUT;
    case LEX_SIGN:
        return (uint8_t)(c - '1') <= 8 ? LEX_INT : LEX_OUT;
    case LEX_INT:
    case LEX_FRAC:
    case LEX_EXP:
        return lex_digit(c) ? st : LEX_OUT;
    case LEX_DOT:
        return lex_digit(c) ? LEX_FRAC : LEX_OUT;
    case LEX_E:
        return lex_digit(c) ? LEX_EXP : c == '+' || c == '-' ? LEX_ESIGN : LEX_OUT;
    case LEX_ESIGN:
        return lex_digit(c) ? LEX_EXP : LEX_OUT;
    default:
        return LEX_OUT;
    }
}

size_t gcs_token_continue_span(gcs_token_state *st, const uint8_t *s, size_t n)
{
    uint8_t state = *st;
    size_t i = 0;
    while (i < n) {
        if (state == LEX_STRING) {
            uint8_t c;
            while ((c = s[i]) != '"' && c != '\\' && c >= 0x20)
                if (++i == n)
                    goto out;
        }
        uint8_t next = lex_continue(state, s[i]);
        if (next == LEX_OUT)
            break;
        state = next;
        i++;
    }
out:
    *st = state;
    return i;
}

void gcs_token_track(gcs_token_state *st, uint64_t *tok_start, const uint8_t *s, size_t n, uint64_t off)
{
    uint8_t state = *st;
    size_t i = 0;
    while (i < n) {
        if (state != LEX_OUT) {
            i += gcs_token_continue_span(&state, s + i, n - i);
            if (i == n)
                break;
            uint8_t c = s[i];
            /* c ends the token (or, in a number, moves it to its next part). */
            if (state == LEX_STRING && c == '"') {
                state = LEX_OUT;
                i++;
                continue;
            }
            if ((state == LEX_INT || state == LEX_ZERO) && c == '.') {
                state = LEX_DOT;
                i++;
                continue;
            }
            if ((state == LEX_INT || state == LEX_ZERO || state == LEX_FRAC) && (c | 0x20) == 'e') {
                state = LEX_E;
                i++;
                continue;
            }
            if (state == LEX_SIGN && c == '0') {
                state = LEX_ZERO;
                i++;
                continue;
            }
            if (state == LEX_LITERAL && (uint8_t)((c | 0x20) - 'a') <= 25) {
                i++;
                continue;
            }
            state = LEX_OUT; /* c is looked at again below */
        }
        uint8_t c = s[i];
        uint8_t start = c == '"'                       ? LEX_STRING
                        : c == '-'                     ? LEX_SIGN
                        : c == '0'                     ? LEX_ZERO
                        : lex_digit(c)                 ? LEX_INT
                        : (uint8_t)(c - 'a') <= 25     ? LEX_LITERAL
                                                       : LEX_OUT;
        if (start != LEX_OUT) {
            state = start;
            *tok_start = off + i;
        }
        i++;
    }
    *st = state;
}

bool gcs_token_holdable(gcs_token_state st) { return st != LEX_OUT && st < LEX_ZERO; }
