/*
 * The int8-activation model of MATMUL with Q8_0/Q4_0 weights, computed
 * independently of any plugin, for the Vulkan and OpenCL tests (both
 * compile this file): each 32-value block of an X row is quantized with
 * ehal_quantize_row_q8_0, the block's dot product with the weight integers
 * is an exact integer, and d_w * d_x * isum is summed in double. This is
 * what the cpu backend computes (in f32), and what the GPU backends must
 * compute so a layer gives the same result wherever it runs.
 */
#ifndef EHAL_INT8_ACT_REF_H
#define EHAL_INT8_ACT_REF_H
#include <stdint.h>

/* w: N rows of K values of dtype wdt (Q8_0 or Q4_0); x: T rows of K f32;
 * y: T rows of N results. Returns 0, or -1 for another dtype, K % 32 != 0
 * or out of memory. */
int ia_matmul(uint32_t wdt, const void *w, int64_t K, int64_t N, const float *x, int64_t T,
              double *y);

/* max |dev - model| / max |model| over n values; prints the worst element
 * prefixed by what when it exceeds tol. Returns the error (NaN counts as
 * infinite). */
double ia_error(const float *dev, const double *model, int64_t n, double tol, const char *what);

/* Overwrites block 0 of each of the T rows of x (K values each) so that
 * d = 1 and values sit on half steps (2.5, -3.5, ...): roundf takes them
 * away from zero, round-half-to-even would not. */
void ia_half_steps(float *x, int64_t K, int64_t T);
#endif
