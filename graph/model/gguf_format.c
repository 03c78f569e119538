/* Names of GGUF's tensor (ggml) types and metadata value types, for
 * messages, and which tensor types a model may hold. */
#include "model_internal.h"

#include "edgehal/model_tools.h"

/* Every ggml type id GGUF files use or have used; holes are ids that were
 * removed from ggml and never reused. */
static const char *const ggml_type_names[] = {
    [0] = "f32",     [1] = "f16",         [2] = "q4_0",        [3] = "q4_1",        [4] = "q4_2",
    [5] = "q4_3",    [6] = "q5_0",        [7] = "q5_1",        [8] = "q8_0",        [9] = "q8_1",
    [10] = "q2_k",   [11] = "q3_k",       [12] = "q4_k",       [13] = "q5_k",       [14] = "q6_k",
    [15] = "q8_k",   [16] = "iq2_xxs",    [17] = "iq2_xs",     [18] = "iq3_xxs",    [19] = "iq1_s",
    [20] = "iq4_nl", [21] = "iq3_s",      [22] = "iq2_s",      [23] = "iq4_xs",     [24] = "i8",
    [25] = "i16",    [26] = "i32",        [27] = "i64",        [28] = "f64",        [29] = "iq1_m",
    [30] = "bf16",   [31] = "q4_0_4_4",   [32] = "q4_0_4_8",   [33] = "q4_0_8_8",   [34] = "tq1_0",
    [35] = "tq2_0",  [36] = "iq4_nl_4_4", [37] = "iq4_nl_4_8", [38] = "iq4_nl_8_8", [39] = "mxfp4",
};

const char *ehal_gguf_type_name(uint32_t type) {
    if (type >= sizeof ggml_type_names / sizeof ggml_type_names[0])
        return NULL;
    return ggml_type_names[type];
}

int ehal_gguf_type_supported(uint32_t type) {
    return type == EHAL_DTYPE_F32 || type == EHAL_DTYPE_F16 || type == EHAL_DTYPE_Q4_0 ||
           type == EHAL_DTYPE_Q8_0;
}

static const char *const value_type_names[EHAL_GGUF_VALUE_TYPE_COUNT] = {
    "uint8", "int8",   "uint16", "int16",  "uint32", "int32",   "float32",
    "bool",  "string", "array",  "uint64", "int64",  "float64",
};

const char *ehal_gguf_value_type_name(uint32_t vtype) {
    return vtype < EHAL_GGUF_VALUE_TYPE_COUNT ? value_type_names[vtype] : NULL;
}
