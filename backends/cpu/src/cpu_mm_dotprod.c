/* Advanced SIMD MATMUL tiles with the dot-product extension (SDOT; built
 * with -march=armv8.2-a+dotprod, called only when HWCAP_ASIMDDP is set). */
#include <arm_neon.h>

#define NEON_SUFFIX dotprod
#define DOT4(acc, a, b) vdotq_s32((acc), (a), (b))

#include "cpu_mm_neon_impl.h"
