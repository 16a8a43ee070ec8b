/* strconv.ParseFloat(s, 64) of a JSON number that the inline fast path of
 * gcs_number.h does not settle. */
#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "gcs_number.h"
#include "vmutils.h"

const double gcs_exact_pow10[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                    1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                    1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

static locale_t c_locale;
static pthread_once_t c_locale_once = PTHREAD_ONCE_INIT;

static void c_locale_init(void) { c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0); }

double gcs_number_parse_exact(const char *s, size_t len, bool *overflow)
{
    *overflow = false;
    pthread_once(&c_locale_once, c_locale_init);
    char stack[64];
    char *text = len < sizeof stack ? stack : vmu_malloc(len + 1);
    if (!text) {
        /* Without memory for a copy the value cannot be read exactly; a
         * finite stand-in keeps the entry (the text is still in the input). */
        return 0.0;
    }
    memcpy(text, s, len);
    text[len] = '\0';
    double d = c_locale ? strtod_l(text, NULL, c_locale) : strtod(text, NULL);
    if (text != stack)
        vmu_free(text);
    *overflow = isinf(d);
    return d;
}
