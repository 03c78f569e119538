/* Row reductions: one work-group of EHAL_RED_WG items per row. */
#define EHAL_RED_WG 64

/* Sum (op 0) or max (op 1) of v over the work-group; every item gets it. */
float ehal_wg_reduce(float v, int op, local float *scratch) {
    int l = get_local_id(0);
    scratch[l] = v;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int s = EHAL_RED_WG / 2; s > 0; s >>= 1) {
        if (l < s) {
            scratch[l] = op == 0 ? scratch[l] + scratch[l + s] : fmax(scratch[l], scratch[l + s]);
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    float r = scratch[0];
    barrier(CLK_LOCAL_MEM_FENCE);
    return r;
}

/* RMS_NORM: y = x / sqrt(mean(x^2) + eps) * w, per row of D. */
kernel __attribute__((reqd_work_group_size(EHAL_RED_WG, 1, 1))) void
ehal_rms_norm(global const uchar *x, ulong xo, global const uchar *w, ulong wo, global uchar *y,
              ulong yo, int D, float eps) {
    local float scratch[EHAL_RED_WG];
    long r = get_group_id(0);
    int l = get_local_id(0);
    global const float *xr = AT(const float, x, xo) + r * D;
    global const float *wr = AT(const float, w, wo);
    global float *yr = AT(float, y, yo) + r * D;
    float ss = 0.0f;
    for (int i = l; i < D; i += EHAL_RED_WG) {
        ss += xr[i] * xr[i];
    }
    ss = ehal_wg_reduce(ss, 0, scratch);
    float inv = 1.0f / sqrt(ss / (float)D + eps);
    for (int i = l; i < D; i += EHAL_RED_WG) {
        yr[i] = xr[i] * inv * wr[i];
    }
}

/* SOFTMAX of scale*x along rows of D. */
kernel __attribute__((reqd_work_group_size(EHAL_RED_WG, 1, 1))) void
ehal_softmax(global const uchar *x, ulong xo, global uchar *y, ulong yo, int D, float scale) {
    local float scratch[EHAL_RED_WG];
    long r = get_group_id(0);
    int l = get_local_id(0);
    global const float *xr = AT(const float, x, xo) + r * D;
    global float *yr = AT(float, y, yo) + r * D;
    float m = -INFINITY;
    for (int i = l; i < D; i += EHAL_RED_WG) {
        m = fmax(m, scale * xr[i]);
    }
    m = ehal_wg_reduce(m, 1, scratch);
    float s = 0.0f;
    for (int i = l; i < D; i += EHAL_RED_WG) {
        s += exp(scale * xr[i] - m);
    }
    s = ehal_wg_reduce(s, 0, scratch);
    float inv = 1.0f / s;
    for (int i = l; i < D; i += EHAL_RED_WG) {
        yr[i] = exp(scale * xr[i] - m) * inv;
    }
}

/* ROPE on x[D, H, T]; global (D, H, T), one item per output element.
 * theta_i = pos * freq_scale * freq_base^(-2i/n_rot), with
 * freq_scale * freq_base^(-2i/n_rot) precomputed in double on the host and
 * passed as a (hi, lo) float pair per i in `freq`. The product with pos and
 * the reduction modulo 2 pi are done in two-float arithmetic (exact fma
 * products, three-part 2 pi), so angles of thousands of radians keep
 * about float precision without needing cl_khr_fp64. mode 0 rotates
 * (x[2i], x[2i+1]), mode 1 (NeoX) rotates (x[i], x[i + n_rot/2]). */
kernel void ehal_rope(global const uchar *x, ulong xo, global const uchar *pos, ulong po,
                      global uchar *y, ulong yo, int D, int H, int n_rot, int mode,
                      global const float2 *freq) {
    int i = get_global_id(0);
    int h = get_global_id(1);
    int t = get_global_id(2);
    if (i >= D) {
        return;
    }
    long row = ((long)t * H + h) * D;
    global const float *xr = AT(const float, x, xo) + row;
    global float *yr = AT(float, y, yo) + row;
    if (i >= n_rot) {
        yr[i] = xr[i];
        return;
    }
    int half_ = n_rot / 2;
    int pair, i0, i1, second;
    if (mode == 1) {
        pair = i % half_;
        i0 = pair;
        i1 = pair + half_;
        second = i >= half_;
    } else {
        pair = i / 2;
        i0 = 2 * pair;
        i1 = i0 + 1;
        second = i & 1;
    }
    float p = (float)AT(const int, pos, po)[t]; /* exact below 2^24 */
    float2 f = freq[pair];
    float th = p * f.x;
    float tl = fma(p, f.x, -th) + p * f.y; /* th + tl = p * (hi + lo) */
    /* 2 pi = C1 + C2 + C3; C1 has 8 significant bits so k * C1 is exact */
    const float C1 = 6.28125f, C2 = 1.9353071693331003e-3f, C3 = 1.0253131677018246e-11f;
    float k = rint(th / 6.2831853071795864769f);
    float r = fma(-k, C1, th);
    r = fma(-k, C2, r);
    r = fma(-k, C3, r) + tl;
    float c = cos(r), s = sin(r);
    float x0 = xr[i0], x1 = xr[i1];
    yr[i] = second ? x0 * s + x1 * c : x0 * c - x1 * s;
}
