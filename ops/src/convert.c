/*
 * Row conversion between dtypes, always through fp32 one block at a time.
 */
#include <string.h>

#include "ops_internal.h"

static int convertible(uint32_t dtype) {
    return dtype == EHAL_DTYPE_F32 || dtype == EHAL_DTYPE_F16 || dtype == EHAL_DTYPE_Q8_0 ||
           dtype == EHAL_DTYPE_Q4_0;
}

/* n values starting at value index i0 (a block boundary for quantized
 * dtypes) of src, as floats. */
static void to_f32(uint32_t dtype, const void *src, int64_t i0, float *out, int64_t n) {
    switch (dtype) {
    case EHAL_DTYPE_F32:
        memmove(out, (const float *)src + i0, (size_t)n * sizeof(float));
        break;
    case EHAL_DTYPE_F16:
        for (int64_t i = 0; i < n; i++) {
            out[i] = ehal_fp16_to_fp32(((const uint16_t *)src)[i0 + i]);
        }
        break;
    case EHAL_DTYPE_Q8_0:
        ehal_dequantize_row_q8_0((const ehal_block_q8_0 *)src + i0 / EHAL_QK, out, n);
        break;
    case EHAL_DTYPE_Q4_0:
        ehal_dequantize_row_q4_0((const ehal_block_q4_0 *)src + i0 / EHAL_QK, out, n);
        break;
    default:
        break;
    }
}

static void from_f32(uint32_t dtype, const float *in, void *dst, int64_t i0, int64_t n) {
    switch (dtype) {
    case EHAL_DTYPE_F32:
        memmove((float *)dst + i0, in, (size_t)n * sizeof(float));
        break;
    case EHAL_DTYPE_F16:
        for (int64_t i = 0; i < n; i++) {
            ((uint16_t *)dst)[i0 + i] = ehal_fp32_to_fp16(in[i]);
        }
        break;
    case EHAL_DTYPE_Q8_0:
        ehal_quantize_row_q8_0(in, (ehal_block_q8_0 *)dst + i0 / EHAL_QK, n);
        break;
    case EHAL_DTYPE_Q4_0:
        ehal_quantize_row_q4_0(in, (ehal_block_q4_0 *)dst + i0 / EHAL_QK, n);
        break;
    default:
        break;
    }
}

ehal_status_t ehal_convert_row(uint32_t src_dtype, const void *src, uint32_t dst_dtype,
                               void *dst, int64_t n) {
    if (n < 0 || (n > 0 && (!src || !dst))) {
        return EHAL_STATUS_INVALID_ARGUMENT;
    }
    if (src_dtype == EHAL_DTYPE_I32 && dst_dtype == EHAL_DTYPE_I32) {
        memmove(dst, src, (size_t)n * sizeof(int32_t));
        return EHAL_STATUS_OK;
    }
    if (!convertible(src_dtype) || !convertible(dst_dtype)) {
        return EHAL_STATUS_UNSUPPORTED;
    }
    if ((ehal_dtype_is_quantized(src_dtype) || ehal_dtype_is_quantized(dst_dtype)) &&
        n % EHAL_QK != 0) {
        return EHAL_STATUS_INVALID_ARGUMENT;
    }
    float tmp[EHAL_QK];
    for (int64_t i = 0; i < n; i += EHAL_QK) {
        int64_t k = n - i < EHAL_QK ? n - i : EHAL_QK;
        to_f32(src_dtype, src, i, tmp, k);
        from_f32(dst_dtype, tmp, dst, i, k);
    }
    return EHAL_STATUS_OK;
}
