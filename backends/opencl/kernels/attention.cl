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

/* dot(q, row) over D values of a K row of dtype dt; q in local memory. */
float ehal_dot_row(global const uchar *row, int dt, local const float *q, int D) {
    float s = 0.0f;
    if (dt == DT_Q8_0 || dt == DT_Q4_0) {
        float v[QK];
        for (int b = 0; b < D / QK; b++) {
            ehal_load_block(row, dt, b, v);
            for (int j = 0; j < QK; j++) {
                s += q[b * QK + j] * v[j];
            }
        }
    } else {
        for (int d = 0; d < D; d++) {
            s += q[d] * ehal_load(row, dt, d);
        }
    }
    return s;
}

/* ATTENTION: one work-group of EHAL_RED_WG items per (query head, t). The
 * keys a query sees (sinks, then the window; or 0..last) are walked in
 * chunks of EHAL_RED_WG: item l scores key l of the chunk against the
 * query (held in local memory), then every item folds the chunk into its
 * dims l, l+64, ... with an online softmax (running max, running sum,
 * rescaled accumulator). kv head = h / (Hq / Hkv), so grouped-query heads
 * read the shared cache rows in place. A query position outside the cache
 * yields a zero row (the reference rejects it). */
kernel __attribute__((reqd_work_group_size(EHAL_RED_WG, 1, 1))) void
ehal_attention(global const uchar *q, ulong qo, global const uchar *k, ulong ko,
               global const uchar *v, ulong vo, int kvdt, long row_bytes,
               global const uchar *pos, ulong po, global uchar *o, ulong oo, int D, int Hq,
               int Hkv, int C, int T, float scale, uint window, uint n_sink, int noncausal) {
    local float qs[EHAL_RED_WG * EHAL_ATT_PER];
    local float ps[EHAL_RED_WG];
    local long rows[EHAL_RED_WG];
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
    for (int d = l; d < D; d += EHAL_RED_WG) {
        qs[d] = Q[d];
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    long lo0, n0, lo1, n1;
    if (window == 0) {
        lo0 = 0;
        n0 = last + 1;
        lo1 = 0;
        n1 = 0;
    } else {
        long hi0 = (long)n_sink - 1 < last ? (long)n_sink - 1 : last;
        long from = qp - (long)window + 1;
        lo0 = 0;
        n0 = hi0 + 1 > 0 ? hi0 + 1 : 0;
        lo1 = from > (long)n_sink ? from : (long)n_sink;
        n1 = last - lo1 + 1 > 0 ? last - lo1 + 1 : 0;
    }
    long total = n0 + n1;
    global const uchar *K = k + ko, *V = v + vo;
    float acc[EHAL_ATT_PER];
    for (int r = 0; r < EHAL_ATT_PER; r++) {
        acc[r] = 0.0f;
    }
    float m = -INFINITY, sum = 0.0f;
    for (long base = 0; base < total; base += EHAL_RED_WG) {
        long j = base + l;
        float s = -INFINITY;
        if (j < total) {
            long kp = j < n0 ? lo0 + j : lo1 + (j - n0);
            long row = ((long)kvh * C + ehal_kv_slot(kp, C, window, n_sink)) * row_bytes;
            rows[l] = row;
            s = scale * ehal_dot_row(K + row, kvdt, qs, D);
        }
        float cm = ehal_wg_reduce(s, 1, scratch); /* ends with a barrier */
        float mn = fmax(m, cm);
        float corr = exp(m - mn);
        ps[l] = j < total ? exp(s - mn) : 0.0f;
        barrier(CLK_LOCAL_MEM_FENCE);
        int n = total - base < EHAL_RED_WG ? (int)(total - base) : EHAL_RED_WG;
        float cs = 0.0f;
        for (int i = 0; i < n; i++) {
            cs += ps[i];
        }
        sum = sum * corr + cs;
        for (int r = 0; r < EHAL_ATT_PER; r++) {
            int d = l + r * EHAL_RED_WG;
            if (d < D) {
                float a = 0.0f;
                for (int i = 0; i < n; i++) {
                    a += ps[i] * ehal_load(V + rows[i], kvdt, d);
                }
                acc[r] = acc[r] * corr + a;
            }
        }
        m = mn;
        barrier(CLK_LOCAL_MEM_FENCE); /* before the next chunk rewrites ps, rows */
    }
    float inv = sum > 0.0f ? 1.0f / sum : 0.0f;
    for (int r = 0; r < EHAL_ATT_PER; r++) {
        int d = l + r * EHAL_RED_WG;
        if (d < D) {
            out[d] = acc[r] * inv;
        }
    }
}
