/*
 * Reference KV_WRITE and ATTENTION over a KV cache laid out [D, C, Hkv]
 * (row = one position of one kv head), plus the slot rule they share.
 * Positions are checked before anything is read or written.
 */
#include <math.h>
#include <stdlib.h>

#include "ops_internal.h"

int64_t ehal_kv_slot(int64_t p, int64_t capacity, uint32_t window, uint32_t n_sink) {
    if (p < 0 || capacity <= 0) {
        return -1;
    }
    if (window == 0 || p < (int64_t)n_sink) {
        return p < capacity ? p : -1;
    }
    if ((int64_t)n_sink >= capacity) {
        return -1;
    }
    return (int64_t)n_sink + (p - (int64_t)n_sink) % (capacity - (int64_t)n_sink);
}

/* Every position >= 0 and, for a full cache, < C. */
static ehal_status_t check_positions(const int32_t *pos, int64_t T, int64_t C,
                                     uint32_t window) {
    for (int64_t t = 0; t < T; t++) {
        if (pos[t] < 0 || (window == 0 && pos[t] >= C)) {
            return EHAL_STATUS_INVALID_ARGUMENT;
        }
    }
    return EHAL_STATUS_OK;
}

ehal_status_t ehal_ref_KV_WRITE(const ehal_kernel_args *a) {
    ehal_status_t st = ehal_ops_kernel_check(a, 2);
    if (st != EHAL_STATUS_OK) {
        return st;
    }
    ehal_params_kv p;
    ehal_op_get_params(a->sg, a->node, &p, sizeof p);
    const ehal_tensor_desc *cache = a->out;
    const int64_t D = a->in[0]->ne[0], Hkv = a->in[0]->ne[1], T = a->in[0]->ne[2];
    const int64_t C = cache->ne[1];
    const float *src = a->in_data[0];
    const int32_t *pos = a->in_data[1];
    st = check_positions(pos, T, C, p.window);
    if (st != EHAL_STATUS_OK) {
        return st;
    }
    const uint64_t row_bytes = ehal_row_bytes(cache->dtype, D);
    for (int64_t t = 0; t < T; t++) {
        int64_t slot = ehal_kv_slot(pos[t], C, p.window, p.n_sink);
        if (slot < 0) {
            return EHAL_STATUS_INVALID_ARGUMENT;
        }
        for (int64_t h = 0; h < Hkv; h++) {
            uint8_t *dst = (uint8_t *)a->out_data + (uint64_t)(h * C + slot) * row_bytes;
            st = ehal_convert_row(EHAL_DTYPE_F32, src + (t * Hkv + h) * D, cache->dtype, dst, D);
            if (st != EHAL_STATUS_OK) {
                return st;
            }
        }
    }
    return EHAL_STATUS_OK;
}

/* The key positions one query attends to: up to two ranges [lo, hi]
 * (sinks, then the window), empty when lo > hi. */
typedef struct key_ranges {
    int64_t lo[2], hi[2];
} key_ranges;

static key_ranges keys_for(int64_t q, int64_t last, uint32_t window, uint32_t n_sink) {
    key_ranges r;
    if (window == 0) {
        r.lo[0] = 0;
        r.hi[0] = last;
        r.lo[1] = 1;
        r.hi[1] = 0;
        return r;
    }
    int64_t sinks_end = (int64_t)n_sink - 1;
    r.lo[0] = 0;
    r.hi[0] = sinks_end < last ? sinks_end : last;
    int64_t from = q - (int64_t)window + 1;
    r.lo[1] = from > (int64_t)n_sink ? from : (int64_t)n_sink;
    r.hi[1] = last;
    return r;
}

/* Scratch rows for one query head: the weighted V sum and one dequantized
 * K and V row. */
typedef struct attn_scratch {
    double *acc;
    float *k;
    float *v;
} attn_scratch;

/* scale * dot(q, K row of position k in kv head kvh). */
static double key_score(const ehal_kernel_args *a, const float *qv, int64_t kvh, int64_t k,
                        const ehal_params_attention *p, float *krow) {
    const ehal_tensor_desc *kd = a->in[1];
    const int64_t D = kd->ne[0], C = kd->ne[1];
    int64_t slot = ehal_kv_slot(k, C, p->window, p->n_sink);
    ehal_convert_row(kd->dtype, ehal_ops_row(kd, a->in_data[1], kvh * C + slot),
                     EHAL_DTYPE_F32, krow, D);
    double dot = 0.0;
    for (int64_t d = 0; d < D; d++) {
        dot += (double)qv[d] * (double)krow[d];
    }
    return (double)p->scale * dot;
}

/* One query head over its key ranges: stable softmax in two passes. */
static void attend(const ehal_kernel_args *a, const float *qv, int64_t kvh,
                   const key_ranges *r, const ehal_params_attention *p, attn_scratch *s,
                   float *o) {
    const ehal_tensor_desc *vd = a->in[2];
    const int64_t D = vd->ne[0], C = vd->ne[1];
    double m = -INFINITY; /* pass 1: the largest score */
    for (int g = 0; g < 2; g++) {
        for (int64_t k = r->lo[g]; k <= r->hi[g]; k++) {
            double sc = key_score(a, qv, kvh, k, p, s->k);
            if (sc > m) {
                m = sc;
            }
        }
    }
    double sum = 0.0; /* pass 2: weights exp(s - m), their sum, the weighted V sum */
    for (int64_t d = 0; d < D; d++) {
        s->acc[d] = 0.0;
    }
    for (int g = 0; g < 2; g++) {
        for (int64_t k = r->lo[g]; k <= r->hi[g]; k++) {
            double e = exp(key_score(a, qv, kvh, k, p, s->k) - m);
            int64_t slot = ehal_kv_slot(k, C, p->window, p->n_sink);
            ehal_convert_row(vd->dtype, ehal_ops_row(vd, a->in_data[2], kvh * C + slot),
                             EHAL_DTYPE_F32, s->v, D);
            sum += e;
            for (int64_t d = 0; d < D; d++) {
                s->acc[d] += e * (double)s->v[d];
            }
        }
    }
    for (int64_t d = 0; d < D; d++) {
        o[d] = (float)(s->acc[d] / sum);
    }
}

ehal_status_t ehal_ref_ATTENTION(const ehal_kernel_args *a) {
    ehal_status_t st = ehal_ops_kernel_check(a, 4);
    if (st != EHAL_STATUS_OK) {
        return st;
    }
    ehal_params_attention p;
    ehal_op_get_params(a->sg, a->node, &p, sizeof p);
    const int64_t D = a->in[0]->ne[0], Hq = a->in[0]->ne[1], T = a->in[0]->ne[2];
    const int64_t C = a->in[1]->ne[1], Hkv = a->in[1]->ne[2];
    if (Hkv < 1 || Hq % Hkv != 0) {
        return EHAL_STATUS_INVALID_ARGUMENT; /* not validated */
    }
    const int64_t group = Hq / Hkv;
    const float *Q = a->in_data[0];
    const int32_t *pos = a->in_data[3];
    st = check_positions(pos, T, C, p.window);
    if (st != EHAL_STATUS_OK) {
        return st;
    }
    int64_t pmax = 0;
    for (int64_t t = 0; t < T; t++) {
        pmax = pos[t] > pmax ? pos[t] : pmax;
    }
    const int noncausal = (p.flags & EHAL_ATTN_NONCAUSAL) != 0;

    attn_scratch s;
    s.acc = malloc((size_t)D * sizeof *s.acc);
    s.k = malloc((size_t)D * sizeof *s.k);
    s.v = malloc((size_t)D * sizeof *s.v);
    if (s.acc && s.k && s.v) {
        for (int64_t t = 0; t < T; t++) {
            const key_ranges r = keys_for(pos[t], noncausal ? pmax : pos[t], p.window, p.n_sink);
            for (int64_t h = 0; h < Hq; h++) {
                attend(a, Q + (t * Hq + h) * D, h / group, &r, &p, &s,
                       (float *)a->out_data + (t * Hq + h) * D);
            }
        }
    } else {
        st = EHAL_STATUS_OUT_OF_MEMORY;
    }
    free(s.acc);
    free(s.k);
    free(s.v);
    return st;
}
