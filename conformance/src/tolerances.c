/*
 * The tolerance table: one row per (op or case family, dtype), versioned
 * with the suite (EHAL_CONF_SUITE_VERSION). docs/conformance.md gives the
 * reasoning for every row; change both together and bump the version.
 *
 *   nmse      = sum (a-b)^2 / sum b^2            (a: backend, b: reference)
 *   max_rel   = max |a-b| / max(|b|, rel_floor * rms(b))
 *
 * The dtype is the case's defining dtype (weight for matmul/get_rows/layer,
 * cache for kv_write/attention/kvseq, destination for copy, f32 elsewhere).
 */
#include <string.h>

#include "internal.h"

#define ANY UINT32_MAX

static const struct {
    const char *name;
    uint32_t dtype;
    conf_tol tol;
} rows[] = {
    /* Dequantization and f16->f32 are exact in f32. */
    {"get_rows", ANY, {1e-12, 1e-6, 1e-3}},
    /* f32: summation order only (K up to 4099). */
    {"matmul", EHAL_DTYPE_F32, {1e-6, 5e-2, 1e-2}},
    /* f16 weights: a backend may also round activations to f16. */
    {"matmul", EHAL_DTYPE_F16, {1e-5, 1e-1, 1e-1}},
    /* Q8_0/Q4_0 weights: a backend may quantize activations to Q8_0
     * (uniform error d/2 per value, d = max|x|/127 per 32 values):
     * expected NMSE ~ 1.6e-5 for uniform inputs, 2.3e-5 for gaussian. */
    {"matmul", EHAL_DTYPE_Q8_0, {1e-4, 0.5, 0.1}},
    {"matmul", EHAL_DTYPE_Q4_0, {1e-4, 0.5, 0.1}},
    {"rms_norm", ANY, {1e-9, 1e-4, 1e-3}},
    /* Angles pos*theta up to 4095 rad: f32 argument reduction differs. */
    {"rope", ANY, {1e-6, 1e-2, 1e-2}},
    {"add", ANY, {1e-14, 1e-6, 1e-3}},
    {"mul", ANY, {1e-14, 1e-6, 1e-3}},
    /* exp approximations within ~1e-6 relative. */
    {"swiglu", ANY, {1e-9, 1e-4, 1e-3}},
    {"softmax", ANY, {1e-9, 1e-4, 1e-3}},
    /* Storing to the cache: f16 rounding mode may differ by one ulp;
     * a quantizer may round a value to the neighbouring step. */
    {"kv_write", EHAL_DTYPE_F16, {1e-8, 2e-3, 1e-3}},
    {"kv_write", EHAL_DTYPE_Q8_0, {1e-4, 0.25, 0.1}},
    {"kv_write", EHAL_DTYPE_Q4_0, {2e-3, 2.5, 0.1}},
    /* Attention over f16 caches: Q.K in f16 allowed; online softmax.
     * Outputs average many V rows, so single elements sit far below the
     * rms of early (few-key) rows: the floor is 0.1 rms. */
    {"attention", EHAL_DTYPE_F16, {1e-5, 0.1, 0.1}},
    /* Quantized caches: a backend may quantize Q to Q8_0 for the dot
     * (measured: nmse <= 4.7e-5, worst element 0.35 of 0.1 rms). */
    {"attention", EHAL_DTYPE_Q8_0, {2e-4, 1.0, 0.1}},
    {"attention", EHAL_DTYPE_Q4_0, {2e-4, 1.0, 0.1}},
    /* kvseq checks use the attention and kv_write rows. */
    /* A whole layer: seven matmuls, two norms, attention compound. */
    {"layer", EHAL_DTYPE_F32, {1e-6, 0.1, 0.1}},
    {"layer", EHAL_DTYPE_F16, {2e-5, 0.2, 0.1}},
    {"layer", EHAL_DTYPE_Q8_0, {5e-4, 1.0, 0.1}},
    {"layer", EHAL_DTYPE_Q4_0, {5e-4, 1.0, 0.1}},
    /* Conversions: like kv_write for the destination dtype. */
    {"copy", EHAL_DTYPE_F32, {1e-14, 1e-6, 1e-3}},
    {"copy", EHAL_DTYPE_I32, {0.0, 0.0, 1e-3}},
    {"copy", EHAL_DTYPE_F16, {1e-8, 2e-3, 1e-3}},
    {"copy", EHAL_DTYPE_Q8_0, {1e-4, 0.25, 0.1}},
    {"copy", EHAL_DTYPE_Q4_0, {2e-3, 2.5, 0.1}},
};

conf_tol conf_tolerance(const char *name, uint32_t dtype) {
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        if ((rows[i].dtype == ANY || rows[i].dtype == dtype) && strcmp(rows[i].name, name) == 0)
            return rows[i].tol;
    conf_tol strict = {1e-12, 1e-6, 1e-3};
    return strict;
}
