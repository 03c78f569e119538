/*
 * The W8A8 matmul: what an int8 NPU does with GGUF block weights.
 * Activations are quantized on entry with the same quantizer as the file
 * format (ehal_quantize_row_q8_0: d = max|x|/127 stored as fp16, q =
 * round(x/d)); each 32-value block then gives an exact int8 x int8 ->
 * int32 dot product, scaled by d_w * d_x (both fp16 values widened to f32)
 * and accumulated in f32 in block order. Deterministic: no threads, fixed
 * order.
 */
#include <string.h>

#include "npu_sim_internal.h"

/* Block b of a weight row as 32 int8 values and its scale. */
static float weight_block(uint32_t dtype, const unsigned char *row, int64_t b, int8_t q[EHAL_QK]) {
    if (dtype == EHAL_DTYPE_Q8_0) {
        ehal_block_q8_0 blk;
        memcpy(&blk, row + (size_t)b * sizeof blk, sizeof blk);
        memcpy(q, blk.qs, EHAL_QK);
        return ehal_fp16_to_fp32(blk.d);
    }
    ehal_block_q4_0 blk; /* Q4_0: nibbles j and j+16, offset by 8 */
    memcpy(&blk, row + (size_t)b * sizeof blk, sizeof blk);
    for (int j = 0; j < EHAL_QK / 2; j++) {
        q[j] = (int8_t)((blk.qs[j] & 15) - 8);
        q[j + EHAL_QK / 2] = (int8_t)((blk.qs[j] >> 4) - 8);
    }
    return ehal_fp16_to_fp32(blk.d);
}

uint64_t npu_sim_matmul_scratch_blocks(const ehal_subgraph *sg, uint32_t node) {
    const ehal_node_desc *n = sg->nodes[node];
    const ehal_tensor_desc *w = sg->tensors[n->inputs[0]];
    const ehal_tensor_desc *x = sg->tensors[n->inputs[1]];
    int64_t k = w->ne[0];
    return (uint64_t)(ehal_tensor_nelements(x) / k) * (uint64_t)(k / EHAL_QK);
}

ehal_status_t npu_sim_matmul_w8a8(const ehal_kernel_args *a, ehal_block_q8_0 *xq) {
    const ehal_tensor_desc *w = a->in[0];
    const ehal_tensor_desc *x = a->in[1];
    const int64_t k = w->ne[0], n_out = w->ne[1];
    const int64_t t_count = ehal_tensor_nelements(x) / k;
    const int64_t nb = k / EHAL_QK;
    const uint64_t row_bytes = ehal_row_bytes(w->dtype, k);
    const float *xf = a->in_data[1];
    float *y = a->out_data;

    for (int64_t t = 0; t < t_count; t++)
        ehal_quantize_row_q8_0(xf + t * k, xq + t * nb, k);

    int8_t wq[EHAL_QK];
    for (int64_t t = 0; t < t_count; t++) {
        const ehal_block_q8_0 *xr = xq + t * nb;
        for (int64_t n = 0; n < n_out; n++) {
            const unsigned char *wr =
                (const unsigned char *)a->in_data[0] + (uint64_t)n * row_bytes;
            float acc = 0.0f;
            for (int64_t b = 0; b < nb; b++) {
                float dw = weight_block(w->dtype, wr, b, wq);
                int32_t isum = 0;
                for (int j = 0; j < EHAL_QK; j++)
                    isum += (int32_t)wq[j] * (int32_t)xr[b].qs[j];
                acc += (float)isum * (dw * ehal_fp16_to_fp32(xr[b].d));
            }
            y[t * n_out + n] = acc;
        }
    }
    return EHAL_STATUS_OK;
}
