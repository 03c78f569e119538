/*
 * Data types: fp16 conversion and the GGUF-compatible block quantizations.
 * Block layouts are byte-identical to GGUF's Q8_0 and Q4_0 (32 values per
 * block, one IEEE fp16 scale first), so GGUF tensors are used as they are.
 */
#ifndef EDGEHAL_QUANT_H
#define EDGEHAL_QUANT_H

#include <stdint.h>

#include "edgehal/backend_abi.h"

#ifdef __cplusplus
extern "C" {
#endif

#define EHAL_QK 32 /* values per quant block */

/* Q4_0: value j (0..15) is (qs[j] & 15) - 8, value j+16 is (qs[j] >> 4) - 8,
 * each times d. */
typedef struct ehal_block_q4_0 {
    uint16_t d; /* fp16 scale */
    uint8_t qs[EHAL_QK / 2];
} ehal_block_q4_0;

/* Q8_0: value j is qs[j] * d. */
typedef struct ehal_block_q8_0 {
    uint16_t d; /* fp16 scale */
    int8_t qs[EHAL_QK];
} ehal_block_q8_0;

_Static_assert(sizeof(ehal_block_q4_0) == 18, "Q4_0 block must be 18 bytes (GGUF)");
_Static_assert(sizeof(ehal_block_q8_0) == 34, "Q8_0 block must be 34 bytes (GGUF)");

/* IEEE binary16 <-> binary32, round to nearest even; NaN and Inf preserved. */
float ehal_fp16_to_fp32(uint16_t h);
uint16_t ehal_fp32_to_fp16(float f);

/* Row quantizers: n % 32 == 0. They follow GGUF's reference quantizers,
 * so the bytes match files written by other GGUF tools:
 *  Q8_0: d = max|x| / 127, q = round(x / d).
 *  Q4_0: m = the x of largest magnitude (sign kept), d = m / -8,
 *        q = min(15, trunc(x / d + 8.5)). */
void ehal_quantize_row_q8_0(const float *x, ehal_block_q8_0 *y, int64_t n);
void ehal_quantize_row_q4_0(const float *x, ehal_block_q4_0 *y, int64_t n);
void ehal_dequantize_row_q8_0(const ehal_block_q8_0 *x, float *y, int64_t n);
void ehal_dequantize_row_q4_0(const ehal_block_q4_0 *x, float *y, int64_t n);

/* Converts n values of one dtype to another (F32, F16, Q8_0, Q4_0; I32
 * only to I32). Quantized sides need n % 32 == 0. Returns
 * EHAL_STATUS_UNSUPPORTED for a pair it cannot convert. */
ehal_status_t ehal_convert_row(uint32_t src_dtype, const void *src, uint32_t dst_dtype,
                               void *dst, int64_t n);

#ifdef __cplusplus
}
#endif
#endif
