/* Baseline Advanced SIMD MATMUL tiles (every AArch64 CPU): DOT4 by widening
 * multiplies. |products| <= 128*127, and two are summed in int16 before
 * widening: <= 32512, no overflow. */
#include <arm_neon.h>

#define NEON_SUFFIX neon

static inline int32x4_t dot4_neon(int32x4_t acc, int8x16_t a, int8x16_t b)
{
    int16x8_t lo = vmull_s8(vget_low_s8(a), vget_low_s8(b));
    int16x8_t hi = vmull_high_s8(a, b);
    /* lanes: pairwise sums of lo give products (0,1),(2,3).. of the first
     * 8 bytes; adding hi's pairs mixes bytes 8..15 into the same lanes,
     * still within one 16-byte half-block. */
    return vpadalq_s16(acc, vaddq_s16(lo, hi));
}
#define DOT4(acc, a, b) dot4_neon((acc), (a), (b))

#include "cpu_mm_neon_impl.h"
