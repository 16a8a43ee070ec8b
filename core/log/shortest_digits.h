/* The shortest decimal digits of a float64, from Google's double-conversion
 * (a C++ library, so this one function is its C face). */
#ifndef VMU_SHORTEST_DIGITS_H
#define VMU_SHORTEST_DIGITS_H

#ifdef __cplusplus
extern "C" {
#endif

/* Room for the 17 significant digits a float64 can need, and a NUL. */
#define VMU_SHORTEST_DIGITS_MAX 18

/* Writes into digits (VMU_SHORTEST_DIGITS_MAX bytes) the fewest significant
 * digits that read back as v (finite, > 0), the one nearest v when several
 * are as short and the even one on a tie: what Go's strconv chooses. Sets
 * *point so that v = 0.digits × 10^point; returns the digit count. */
int vmu_shortest_digits(double v, char *digits, int *point);

#ifdef __cplusplus
}
#endif

#endif
