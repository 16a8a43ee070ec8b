/* Shortest float digits through double-conversion's SHORTEST mode: Grisu3
 * with an exact bignum fallback, so every float64 (subnormals and extremes
 * too) takes this one call. Its strtod model is IEEE round-half-even and its
 * boundaries are inclusive for even mantissas, as Go's parser reads them,
 * which makes its choice Go's choice digit for digit. */
#include "shortest_digits.h"

#include <double-conversion/double-to-string.h>

int vmu_shortest_digits(double v, char *digits, int *point)
{
    using double_conversion::DoubleToStringConverter;
    bool negative;
    int length;
    DoubleToStringConverter::DoubleToAscii(v, DoubleToStringConverter::SHORTEST, 0, digits,
                                           VMU_SHORTEST_DIGITS_MAX, &negative, &length, point);
    return length;
}
