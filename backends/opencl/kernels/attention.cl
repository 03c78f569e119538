/* KV_WRITE and ATTENTION over caches laid out [D, C, Hkv] (row = one
 * position of one kv head), both following the slot rule. */

#define EHAL_ATT_PER 4 /* dims per item: D <= EHAL_RED_WG * EHAL_ATT_PER */

/* KV_WRITE: global (ceil(D/32), Hkv, T); one item converts 32 values (one
 * block) of one (t, head) row into its slot. A position without a slot is
 * skipped (the reference rejects it); when two positions of the batch share
 * a slot the later one wins, as in the reference's in-order loop. */
kernel void ehal_kv_write(global const uchar *src, ulong so, global const uchar *pos, ulong po,
                          global uchar *cache, ulong co, int cdt, long row_bytes, int D, int Hkv,
                          int C, int T, uint window, uint n_sink) {
    int jb = get_global_id(0);
    int h = get_global_id(1);
    int t = get_global_id(2);
    long i0 = (long)jb * QK;
    if (i0 >= D) {
        return;
    }
    global const int *P = AT(const int, pos, po);
    long p = P[t];
    if (p < 0 || (window == 0 && p >= C)) {
        return;
    }
    long slot = ehal_kv_slot(p, C, window, n_sink);
    if (slot < 0) {
        return;
    }
    for (int u = t + 1; u < T; u++) {
        if (ehal_kv_slot(P[u], C, window, n_sink) == slot) {
            return;
        }
    }
    int cnt = D - i0 < QK ? (int)(D - i0) : QK;
    float v[QK];
    global const float *S = AT(const float, src, so) + ((long)t * Hkv + h) * D + i0;
    for (int j = 0; j < cnt; j++) {
        v[j] = S[j];
    }
    ehal_store(cache + co + ((long)h * C + slot) * row_bytes, cdt, i0, cnt, v);
}

/* ATTENTION: one work-group of EHAL_RED_WG items per (query head, t); each
 * item owns dims l, l+64, ... of the head. Keys are walked once with an
 * online softmax (running max m, running sum, rescaled accumulator); kv
 * head = h / (Hq / Hkv), so grouped-query heads read the shared rows in
 * place. A query position outside the cache yields a zero row (the
 * reference rejects it). */
kernel __attribute__((reqd_work_group_size(EHAL_RED_WG, 1, 1))) void
ehal_attention(global const uchar *q, ulong qo, global const uchar *k, ulong ko,
               global const uchar *v, ulong vo, int kvdt, long row_bytes,
               global const uchar *pos, ulong po, global uchar *o, ulong oo, int D, int Hq,
               int Hkv, int C, int T, float scale, uint window, uint n_sink, int noncausal) {
    local float scratch[EHAL_RED_WG];
    int h = get_group_id(0);
    int t = get_group_id(1);
    int l = get_local_id(0);
    global const int *P = AT(const int, pos, po);
    global float *out = AT(float, o, oo) + ((long)t * Hq + h) * D;
    long qp = P[t];
    if (qp < 0 || (window == 0 && qp >= C)) {
        for (int d = l; d < D; d += EHAL_RED_WG) {
            out[d] = 0.0f;
        }
        return;
    }
    long last = qp;
    if (noncausal) {
        last = 0;
        for (int u = 0; u < T; u++) {
            last = P[u] > last ? P[u] : last;
        }
    }
    int kvh = h / (Hq / Hkv);
    global const float *Q = AT(const float, q, qo) + ((long)t * Hq + h) * D;
    float qv[EHAL_ATT_PER], acc[EHAL_ATT_PER];
    for (int r = 0; r < EHAL_ATT_PER; r++) {
        int d = l + r * EHAL_RED_WG;
        qv[r] = d < D ? Q[d] : 0.0f;
        acc[r] = 0.0f;
    }
    long lo[2], hi[2];
    if (window == 0) {
        lo[0] = 0;
        hi[0] = last;
        lo[1] = 1;
        hi[1] = 0;
    } else {
        lo[0] = 0;
        hi[0] = (long)n_sink - 1 < last ? (long)n_sink - 1 : last;
        long from = qp - (long)window + 1;
        lo[1] = from > (long)n_sink ? from : (long)n_sink;
        hi[1] = last;
    }
    float m = -INFINITY, sum = 0.0f;
    global const uchar *K = k + ko, *V = v + vo;
    for (int g = 0; g < 2; g++) {
        for (long kp = lo[g]; kp <= hi[g]; kp++) {
            long slot = ehal_kv_slot(kp, C, window, n_sink);
            long row = ((long)kvh * C + slot) * row_bytes;
            float part = 0.0f;
            for (int r = 0; r < EHAL_ATT_PER; r++) {
                int d = l + r * EHAL_RED_WG;
                if (d < D) {
                    part += qv[r] * ehal_load(K + row, kvdt, d);
                }
            }
            float s = scale * ehal_wg_sum(part, scratch);
            float mn = fmax(m, s);
            float corr = exp(m - mn);
            float e = exp(s - mn);
            sum = sum * corr + e;
            for (int r = 0; r < EHAL_ATT_PER; r++) {
                int d = l + r * EHAL_RED_WG;
                float vv = d < D ? ehal_load(V + row, kvdt, d) : 0.0f;
                acc[r] = acc[r] * corr + e * vv;
            }
            m = mn;
        }
    }
    float inv = sum > 0.0f ? 1.0f / sum : 0.0f;
    for (int r = 0; r < EHAL_ATT_PER; r++) {
        int d = l + r * EHAL_RED_WG;
        if (d < D) {
            out[d] = acc[r] * inv;
        }
    }
}
