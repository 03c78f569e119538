/* MATMUL: Y[t][n] = sum_k W[n][k] * X[t][k]. W rows are row_bytes apart
 * in dtype wdt; X and Y are F32. With F32/F16 weights the activations stay
 * f32. With Q8_0/Q4_0 weights each 32-value block of X is quantized to
 * Q8_0 exactly as the cpu backend does (ehal_quantize_q8_0), the block's
 * dot product with the weight integers is an exact integer, and
 * d_w * d_x * isum is accumulated in f32: the cpu backend's arithmetic, so
 * a layer gives the same numbers on either backend up to f32 summation
 * order. */

#ifndef EHAL_TILE
#define EHAL_TILE 16
#endif
#define EHAL_GEMV_MAXT 8

/* Sum of v over a work-group of EHAL_RED_WG items; every item gets it. */
float ehal_wg_sum(float v, local float *scratch) {
#ifdef EHAL_SUBGROUPS
    float s = sub_group_reduce_add(v);
    uint nsg = get_num_sub_groups();
    if (get_sub_group_local_id() == 0) {
        scratch[get_sub_group_id()] = s;
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    float r = 0.0f;
    for (uint i = 0; i < nsg; i++) {
        r += scratch[i];
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    return r;
#else
    return ehal_wg_reduce(v, 0, scratch);
#endif
}

/* GEMV for T <= 8 with F32/F16 weights: one work-group per output row n;
 * every item walks a strided share of K, 32 values at a time, for all T
 * columns. */
kernel __attribute__((reqd_work_group_size(EHAL_RED_WG, 1, 1))) void
ehal_matmul_gemv(global const uchar *w, ulong wo, int wdt, long row_bytes,
                 global const uchar *x, ulong xo, global uchar *y, ulong yo, int K, int N, int T) {
    local float scratch[EHAL_RED_WG];
    int n = get_group_id(0);
    int l = get_local_id(0);
    global const uchar *wr = w + wo + (long)n * row_bytes;
    global const float *X = AT(const float, x, xo);
    float acc[EHAL_GEMV_MAXT];
    for (int t = 0; t < EHAL_GEMV_MAXT; t++) {
        acc[t] = 0.0f;
    }
    /* item l takes blocks of 32 consecutive k: l, l+64, ... (a quant
     * block, or 32 floats / halves; the last one may be short) */
    float v[QK];
    for (int b = l; b * QK < K; b += EHAL_RED_WG) {
        int n_k = K - b * QK < QK ? K - b * QK : QK;
        if (wdt == DT_F32) {
            global const float *src = (global const float *)wr + b * QK;
            for (int j = 0; j < n_k; j++) {
                v[j] = src[j];
            }
        } else {
            for (int j = 0; j < n_k; j++) {
                v[j] = vload_half((size_t)(b * QK + j), (global const half *)wr);
            }
        }
        for (int t = 0; t < EHAL_GEMV_MAXT; t++) {
            if (t < T) {
                global const float *xr = X + (long)t * K + b * QK;
                float s = 0.0f;
                if (n_k == QK) {
                    for (int j = 0; j < QK; j++) {
                        s += v[j] * xr[j];
                    }
                } else {
                    for (int j = 0; j < n_k; j++) {
                        s += v[j] * xr[j];
                    }
                }
                acc[t] += s;
            }
        }
    }
    for (int t = 0; t < EHAL_GEMV_MAXT; t++) {
        if (t < T) {
            float s = ehal_wg_sum(acc[t], scratch);
            if (l == 0) {
                AT(float, y, yo)[(long)t * N + n] = s;
            }
        }
    }
}

/* Quantizes X (T rows of K f32, K % 32 == 0) to Q8_0 once per execute for
 * the quantized GEMV: one item per (t, block); block i = t * K/32 + b
 * gets its 32 int8 at q[32 i ...] and its scale (fp16-rounded, widened)
 * at ((global float *)(q + 32 * T * K/32))[i]. */
kernel void ehal_quantize_act_q8_0(global const uchar *x, ulong xo, global uchar *q, int K,
                                   int T) {
    int nb = K / QK;
    int i = get_global_id(0);
    if (i >= nb * T) {
        return;
    }
    global const float *xr = AT(const float, x, xo) + (long)i * QK; /* rows are contiguous */
    float v[QK];
    char c[QK];
    for (int j = 0; j < QK; j++) {
        v[j] = xr[j];
    }
    float d = ehal_h2f(ehal_quantize_q8_0(v, c));
    global char *qs = (global char *)q + (long)i * QK;
    for (int j = 0; j < QK; j++) {
        qs[j] = c[j];
    }
    ((global float *)(q + (long)QK * nb * T))[i] = d;
}

/* GEMV for T <= 8 with Q8_0/Q4_0 weights over X quantized by
 * ehal_quantize_act_q8_0 (the cpu backend's int8 activations): one
 * work-group per output row; item l takes blocks l, l+64, ...; each block
 * adds d_w * d_x * (exact integer dot) in f32. */
kernel __attribute__((reqd_work_group_size(EHAL_RED_WG, 1, 1))) void
ehal_matmul_gemv_q(global const uchar *w, ulong wo, int wdt, long row_bytes, global const uchar *q,
                   global uchar *y, ulong yo, int K, int N, int T) {
    local float scratch[EHAL_RED_WG];
    int n = get_group_id(0);
    int l = get_local_id(0);
    int nb = K / QK;
    global const uchar *wr = w + wo + (long)n * row_bytes;
    global const char *qs = (global const char *)q;
    global const float *qd = (global const float *)(q + (long)QK * nb * T);
    float acc[EHAL_GEMV_MAXT];
    for (int t = 0; t < EHAL_GEMV_MAXT; t++) {
        acc[t] = 0.0f;
    }
    for (int b = l; b < nb; b += EHAL_RED_WG) {
        char16 wq[2], xq[2];
        float dw = ehal_load_block_int(wr, wdt, b, wq);
        for (int t = 0; t < EHAL_GEMV_MAXT; t++) {
            if (t < T) {
                long i = (long)t * nb + b;
                xq[0] = vload16(0, qs + i * QK);
                xq[1] = vload16(1, qs + i * QK);
                acc[t] += dw * qd[i] * (float)ehal_idot32(wq, xq);
            }
        }
    }
    for (int t = 0; t < EHAL_GEMV_MAXT; t++) {
        if (t < T) {
            float s = ehal_wg_sum(acc[t], scratch);
            if (l == 0) {
                AT(float, y, yo)[(long)t * N + n] = s;
            }
        }
    }
}

/* GEMM for larger T: a work-group of EHAL_TILE x EHAL_TILE items computes
 * a block of EHAL_GB x EHAL_GB outputs (EHAL_GB = 4 * EHAL_TILE), each item
 * a 4 x 4 register tile (n = n0 + ln + i*EHAL_TILE, t = t0 + lt +
 * j*EHAL_TILE). K is walked one block (32) at a time, with W and X tiles
 * staged in local memory as floats. F32/F16 weights only (Q8_0/Q4_0 go to
 * ehal_matmul_gemm_q). Global size rounds N and T up to whole blocks,
 * divided by 4. */
#define EHAL_GB (4 * EHAL_TILE)
kernel __attribute__((reqd_work_group_size(EHAL_TILE, EHAL_TILE, 1))) void
ehal_matmul_gemm(global const uchar *w, ulong wo, int wdt, long row_bytes,
                 global const uchar *x, ulong xo, global uchar *y, ulong yo, int K, int N, int T) {
    local float Ws[EHAL_GB][QK + 1];
    local float Xs[EHAL_GB][QK + 1];
    int ln = get_local_id(0), lt = get_local_id(1);
    int n0 = get_group_id(0) * EHAL_GB, t0 = get_group_id(1) * EHAL_GB;
    int lid = lt * EHAL_TILE + ln;
    const int nthr = EHAL_TILE * EHAL_TILE;
    global const uchar *W = w + wo;
    global const float *X = AT(const float, x, xo);
    float acc[4][4];
    for (int i = 0; i < 4; i++) {
        for (int j = 0; j < 4; j++) {
            acc[i][j] = 0.0f;
        }
    }
    for (int k0 = 0; k0 < K; k0 += QK) {
        for (int e = lid; e < EHAL_GB * QK; e += nthr) {
            int r = e / QK, c = e % QK;
            int nn = n0 + r, k = k0 + c;
            Ws[r][c] = (nn < N && k < K) ? ehal_load(W + (long)nn * row_bytes, wdt, k) : 0.0f;
        }
        for (int e = lid; e < EHAL_GB * QK; e += nthr) {
            int r = e / QK, c = e % QK;
            int tt = t0 + r, k = k0 + c;
            Xs[r][c] = (tt < T && k < K) ? X[(long)tt * K + k] : 0.0f;
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        for (int c = 0; c < QK; c++) {
            float wv[4], xv[4];
            for (int i = 0; i < 4; i++) {
                wv[i] = Ws[ln + i * EHAL_TILE][c];
                xv[i] = Xs[lt + i * EHAL_TILE][c];
            }
            for (int i = 0; i < 4; i++) {
                for (int j = 0; j < 4; j++) {
                    acc[i][j] += wv[i] * xv[j];
                }
            }
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    global float *Y = AT(float, y, yo);
    for (int i = 0; i < 4; i++) {
        int n = n0 + ln + i * EHAL_TILE;
        for (int j = 0; j < 4; j++) {
            int t = t0 + lt + j * EHAL_TILE;
            if (n < N && t < T) {
                Y[(long)t * N + n] = acc[i][j];
            }
        }
    }
}

/* GEMM for larger T with Q8_0/Q4_0 weights over X quantized by
 * ehal_quantize_act_q8_0: the tiling of ehal_matmul_gemm, with the tiles
 * holding the weight integers and the X integers (as floats: every product
 * and the 32-term sum stay below 2^24, so each block dot is exact) and each
 * row's scale; an output adds d_w * d_x * isum per block, as in the GEMV. */
kernel __attribute__((reqd_work_group_size(EHAL_TILE, EHAL_TILE, 1))) void
ehal_matmul_gemm_q(global const uchar *w, ulong wo, int wdt, long row_bytes, global const uchar *q,
                   global uchar *y, ulong yo, int K, int N, int T) {
    local float Ws[EHAL_GB][QK + 1];
    local float Xs[EHAL_GB][QK + 1];
    local float Wd[EHAL_GB];
    local float Xd[EHAL_GB];
    int ln = get_local_id(0), lt = get_local_id(1);
    int n0 = get_group_id(0) * EHAL_GB, t0 = get_group_id(1) * EHAL_GB;
    int lid = lt * EHAL_TILE + ln;
    const int nthr = EHAL_TILE * EHAL_TILE;
    const int nb = K / QK;
    const int bs = wdt == DT_Q8_0 ? 34 : 18;
    global const uchar *W = w + wo;
    global const char *qs = (global const char *)q;
    global const float *qd = (global const float *)(q + (long)QK * nb * T);
    float acc[4][4];
    for (int i = 0; i < 4; i++) {
        for (int j = 0; j < 4; j++) {
            acc[i][j] = 0.0f;
        }
    }
    for (int b = 0; b < nb; b++) {
        for (int e = lid; e < EHAL_GB * QK; e += nthr) {
            int r = e / QK, c = e % QK;
            int nn = n0 + r, tt = t0 + r;
            global const uchar *blk = W + (long)nn * row_bytes + (long)b * bs;
            float wv = 0.0f;
            if (nn < N) {
                if (wdt == DT_Q8_0) {
                    wv = (float)(char)blk[2 + c];
                } else {
                    uint qb = blk[2 + (c & 15)];
                    wv = (float)((int)(c < 16 ? (qb & 15u) : (qb >> 4)) - 8);
                }
            }
            Ws[r][c] = wv;
            Xs[r][c] = tt < T ? (float)qs[((long)tt * nb + b) * QK + c] : 0.0f;
            if (c == 0) {
                Wd[r] = nn < N ? ehal_blk_scale(blk) : 0.0f;
                Xd[r] = tt < T ? qd[(long)tt * nb + b] : 0.0f;
            }
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        float is[4][4];
        for (int i = 0; i < 4; i++) {
            for (int j = 0; j < 4; j++) {
                is[i][j] = 0.0f;
            }
        }
        for (int c = 0; c < QK; c++) {
            float wv[4], xv[4];
            for (int i = 0; i < 4; i++) {
                wv[i] = Ws[ln + i * EHAL_TILE][c];
                xv[i] = Xs[lt + i * EHAL_TILE][c];
            }
            for (int i = 0; i < 4; i++) {
                for (int j = 0; j < 4; j++) {
                    is[i][j] += wv[i] * xv[j];
                }
            }
        }
        for (int i = 0; i < 4; i++) {
            for (int j = 0; j < 4; j++) {
                acc[i][j] += Wd[ln + i * EHAL_TILE] * Xd[lt + j * EHAL_TILE] * is[i][j];
            }
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    global float *Y = AT(float, y, yo);
    for (int i = 0; i < 4; i++) {
        int n = n0 + ln + i * EHAL_TILE;
        for (int j = 0; j < 4; j++) {
            int t = t0 + lt + j * EHAL_TILE;
            if (n < N && t < T) {
                Y[(long)t * N + n] = acc[i][j];
            }
        }
    }
}
