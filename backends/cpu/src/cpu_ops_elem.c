/*
 * Vectorized RMS_NORM, ROPE, ADD, MUL, SWIGLU, SOFTMAX, GET_ROWS and
 * KV_WRITE over the row primitives of cpu_vec.h, split over the pool by rows
 * (or, for the flat ops, by 64-value chunks) once an op is large enough to
 * pay for waking the workers. Instances the reference rejects are declined
 * (UNSUPPORTED, nothing written) before anything is written, so the
 * reference reports them (see cpu_vec_kernels.h).
 */
#include <math.h>
#include <string.h>

#include "cpu_vec_kernels.h"
#include "edgehal/ops.h"

/* Values per worker below which more workers cost more than they save. */
#define MIN_WORK 4096
#define ROPE_EXACT_EVERY 64 /* positions between exactly computed ROPE angles */

typedef struct elem_job elem_job;
struct elem_job {
    const cpu_vec_ops *V;
    const ehal_kernel_args *a;
    void (*range)(const elem_job *j, int64_t begin, int64_t end);
    int64_t items, align;
    int64_t D, H, n_rot, C;
    float f;             /* eps or scale */
    double pos_scale;    /* ROPE: freq_scale */
    const double *inv_freq;
    int pairs;
    int serial; /* 1: items must run in order on one worker */
    ehal_params_kv kv;
};

static void task(void *ctx, int ith, int nth)
{
    const elem_job *j = ctx;
    int64_t b, e;
    cpu_split(j->items, j->align, ith, nth, &b, &e);
    if (b < e)
        j->range(j, b, e);
}

static ehal_status_t run(ehal_backend_impl *be, const elem_job *j, int64_t values)
{
    int64_t nth = values / MIN_WORK;
    const int64_t pool = cpu_pool_threads(be->pool);
    nth = nth < 1 ? 1 : nth > pool ? pool : nth;
    nth = nth > j->items ? j->items : nth;
    if (j->serial)
        nth = 1;
    cpu_pool_run(be->pool, (int)(nth < 1 ? 1 : nth), task, (void *)j);
    return EHAL_STATUS_OK;
}

static int have_data(const ehal_kernel_args *a, int n_in)
{
    if (a == NULL || a->out == NULL || a->out_data == NULL)
        return 0;
    for (int i = 0; i < n_in; i++)
        if (a->in[i] == NULL || a->in_data[i] == NULL)
            return 0;
    return 1;
}

/* ---- ADD, MUL, SWIGLU: flat ------------------------------------------------ */

static void add_range(const elem_job *j, int64_t b, int64_t e)
{
    const float *x = j->a->in_data[0], *z = j->a->in_data[1];
    j->V->add(x + b, z + b, (float *)j->a->out_data + b, e - b);
}

static void mul_range(const elem_job *j, int64_t b, int64_t e)
{
    const float *x = j->a->in_data[0], *z = j->a->in_data[1];
    j->V->mul(x + b, z + b, (float *)j->a->out_data + b, e - b);
}

static void swiglu_range(const elem_job *j, int64_t b, int64_t e)
{
    const float *g = j->a->in_data[0], *u = j->a->in_data[1];
    j->V->swiglu(g + b, u + b, (float *)j->a->out_data + b, e - b);
}

static ehal_status_t binary(const cpu_vec_ops *V, ehal_backend_impl *be,
                            const ehal_kernel_args *a,
                            void (*range)(const elem_job *, int64_t, int64_t))
{
    if (!have_data(a, 2))
        return EHAL_STATUS_UNSUPPORTED;
    elem_job j = {.V = V, .a = a, .range = range, .align = 64};
    j.items = ehal_tensor_nelements(a->in[0]);
    return run(be, &j, j.items);
}

ehal_status_t cpu_vec_op_add(const cpu_vec_ops *V, ehal_backend_impl *be,
                             const ehal_kernel_args *a)
{
    return binary(V, be, a, add_range);
}

ehal_status_t cpu_vec_op_mul(const cpu_vec_ops *V, ehal_backend_impl *be,
                             const ehal_kernel_args *a)
{
    return binary(V, be, a, mul_range);
}

ehal_status_t cpu_vec_op_swiglu(const cpu_vec_ops *V, ehal_backend_impl *be,
                                const ehal_kernel_args *a)
{
    return binary(V, be, a, swiglu_range);
}

/* ---- RMS_NORM, SOFTMAX: by rows --------------------------------------------- */

static void rms_range(const elem_job *j, int64_t b, int64_t e)
{
    const float *x = j->a->in_data[0], *w = j->a->in_data[1];
    float *y = j->a->out_data;
    const int64_t D = j->D;
    for (int64_t r = b; r < e; r++) {
        const double ss = (double)j->V->sumsq(x + r * D, D);
        const float inv = (float)(1.0 / sqrt(ss / (double)D + (double)j->f));
        j->V->scale_mul(x + r * D, inv, w, y + r * D, D);
    }
}

ehal_status_t cpu_vec_op_rms_norm(const cpu_vec_ops *V, ehal_backend_impl *be,
                                  const ehal_kernel_args *a)
{
    if (!have_data(a, 2) || a->in[0]->ne[0] < 1)
        return EHAL_STATUS_UNSUPPORTED;
    ehal_params_rms_norm p;
    ehal_op_get_params(a->sg, a->node, &p, sizeof p);
    elem_job j = {.V = V, .a = a, .range = rms_range, .align = 1, .f = p.eps};
    j.D = a->in[0]->ne[0];
    j.items = ehal_tensor_nelements(a->in[0]) / j.D;
    return run(be, &j, j.items * j.D);
}

/* m = max(scale * x) = scale * max(x) for scale > 0 (rounding is monotone). */
static void softmax_range(const elem_job *j, int64_t b, int64_t e)
{
    const float *x = j->a->in_data[0];
    float *y = j->a->out_data;
    const int64_t D = j->D;
    for (int64_t r = b; r < e; r++) {
        const float m = j->f * j->V->max(x + r * D, D);
        const float sum = j->V->exp_sum(x + r * D, j->f, m, y + r * D, D);
        j->V->scale(y + r * D, 1.0f / sum, y + r * D, D);
    }
}

ehal_status_t cpu_vec_op_softmax(const cpu_vec_ops *V, ehal_backend_impl *be,
                                 const ehal_kernel_args *a)
{
    if (!have_data(a, 1) || a->in[0]->ne[0] < 1)
        return EHAL_STATUS_UNSUPPORTED;
    ehal_params_softmax p;
    ehal_op_get_params(a->sg, a->node, &p, sizeof p);
    if (!(p.scale > 0.0f)) /* a negative scale turns the max into a min */
        return EHAL_STATUS_UNSUPPORTED;
    elem_job j = {.V = V, .a = a, .range = softmax_range, .align = 1, .f = p.scale};
    j.D = a->in[0]->ne[0];
    j.items = ehal_tensor_nelements(a->in[0]) / j.D;
    return run(be, &j, j.items * j.D);
}

/* ---- ROPE: by position; angles once per position, for every head ----------- */

static void rope_range(const elem_job *j, int64_t b, int64_t e)
{
    const float *x = j->a->in_data[0];
    const int32_t *pos = j->a->in_data[1];
    float *y = j->a->out_data;
    const int64_t D = j->D, H = j->H, n_rot = j->n_rot;
    const int64_t half = n_rot / 2;
    float ta[CPU_ROPE_MAX_ROT], tb[CPU_ROPE_MAX_ROT];
    /* cos/sin of the current angles, and of one position's step */
    double c[CPU_ROPE_MAX_ROT / 2], s[CPU_ROPE_MAX_ROT / 2];
    double cd[CPU_ROPE_MAX_ROT / 2], sd[CPU_ROPE_MAX_ROT / 2];
    int have_step = 0;
    for (int64_t t = b; t < e; t++) {
        /* Consecutive positions turn the angles by one step (in double: over
         * ROPE_EXACT_EVERY steps the drift is ~1e-14, far below the float
         * tables' rounding); the angles are computed exactly after a jump and
         * at every item index that is a multiple of ROPE_EXACT_EVERY, where
         * worker ranges start too, so the result does not depend on the
         * thread count. */
        if (t % ROPE_EXACT_EVERY != 0 && (int64_t)pos[t] == (int64_t)pos[t - 1] + 1) {
            if (!have_step)
                for (int64_t i = 0; i < half; i++) {
                    cd[i] = cos(j->pos_scale * j->inv_freq[i]);
                    sd[i] = sin(j->pos_scale * j->inv_freq[i]);
                }
            have_step = 1;
            for (int64_t i = 0; i < half; i++) {
                const double c1 = c[i] * cd[i] - s[i] * sd[i];
                s[i] = s[i] * cd[i] + c[i] * sd[i];
                c[i] = c1;
            }
        } else {
            for (int64_t i = 0; i < half; i++) {
                const double theta = (double)pos[t] * j->pos_scale * j->inv_freq[i];
                c[i] = cos(theta);
                s[i] = sin(theta);
            }
        }
        cpu_rope_fill(c, s, n_rot, j->pairs, ta, tb);
        for (int64_t h = 0; h < H; h++) {
            const float *xr = x + (t * H + h) * D;
            float *yr = y + (t * H + h) * D;
            if (j->pairs)
                j->V->rope_pairs(xr, yr, ta, tb, n_rot);
            else
                j->V->rope_halves(xr, yr, ta, tb, n_rot);
            if (yr != xr && D > n_rot)
                memmove(yr + n_rot, xr + n_rot, sizeof(float) * (size_t)(D - n_rot));
        }
    }
}

ehal_status_t cpu_vec_op_rope(const cpu_vec_ops *V, ehal_backend_impl *be,
                              const ehal_kernel_args *a)
{
    if (!have_data(a, 2))
        return EHAL_STATUS_UNSUPPORTED;
    ehal_params_rope p;
    ehal_op_get_params(a->sg, a->node, &p, sizeof p);
    const int64_t D = a->in[0]->ne[0], n_rot = p.n_rot;
    if (n_rot < 2 || n_rot > D || n_rot % 2 != 0 || n_rot > CPU_ROPE_MAX_ROT ||
        p.mode > EHAL_ROPE_NEOX)
        return EHAL_STATUS_UNSUPPORTED;
    double inv_freq[CPU_ROPE_MAX_ROT / 2];
    cpu_rope_inv_freq(inv_freq, n_rot, p.freq_base);
    elem_job j = {.V = V, .a = a, .range = rope_range, .align = ROPE_EXACT_EVERY, .D = D,
                  .n_rot = n_rot};
    j.H = a->in[0]->ne[1];
    j.items = a->in[0]->ne[2];
    j.pos_scale = (double)p.freq_scale;
    j.inv_freq = inv_freq;
    j.pairs = p.mode == EHAL_ROPE_NORMAL;
    return run(be, &j, j.items * j.H * D);
}

/* ---- GET_ROWS, KV_WRITE: row conversions ------------------------------------- */

/* n floats from one row of dtype; 0 for a dtype without a converter. */
static int row_to_f32(const cpu_vec_ops *V, uint32_t dtype, const void *src, float *dst,
                      int64_t n)
{
    switch (dtype) {
    case EHAL_DTYPE_F32: memcpy(dst, src, sizeof(float) * (size_t)n); return 1;
    case EHAL_DTYPE_F16: V->f16_to_f32(src, dst, n); return 1;
    case EHAL_DTYPE_Q8_0: V->dequantize_q8_0(src, dst, n); return 1;
    case EHAL_DTYPE_Q4_0: V->dequantize_q4_0(src, dst, n); return 1;
    default: return 0;
    }
}

static int row_from_f32(const cpu_vec_ops *V, uint32_t dtype, const float *src, void *dst,
                        int64_t n)
{
    switch (dtype) {
    case EHAL_DTYPE_F32: memcpy(dst, src, sizeof(float) * (size_t)n); return 1;
    case EHAL_DTYPE_F16: V->f32_to_f16(src, dst, n); return 1;
    case EHAL_DTYPE_Q8_0: V->quantize_q8_0(src, dst, n); return 1;
    case EHAL_DTYPE_Q4_0: V->quantize_q4_0(src, dst, n); return 1;
    default: return 0;
    }
}

static int convertible(uint32_t dtype, int64_t n)
{
    if (dtype == EHAL_DTYPE_F32 || dtype == EHAL_DTYPE_F16)
        return 1;
    return (dtype == EHAL_DTYPE_Q8_0 || dtype == EHAL_DTYPE_Q4_0) && n % EHAL_QK == 0;
}

static void get_rows_range(const elem_job *j, int64_t b, int64_t e)
{
    const ehal_tensor_desc *table = j->a->in[0];
    const int32_t *ids = j->a->in_data[1];
    const uint64_t rb = ehal_row_bytes(table->dtype, j->D);
    for (int64_t t = b; t < e; t++)
        row_to_f32(j->V, table->dtype, (const uint8_t *)j->a->in_data[0] + (uint64_t)ids[t] * rb,
                   (float *)j->a->out_data + t * j->D, j->D);
}

ehal_status_t cpu_vec_op_get_rows(const cpu_vec_ops *V, ehal_backend_impl *be,
                                  const ehal_kernel_args *a)
{
    if (!have_data(a, 2))
        return EHAL_STATUS_UNSUPPORTED;
    const ehal_tensor_desc *table = a->in[0];
    const int64_t D = table->ne[0], rows = table->ne[1], T = a->in[1]->ne[0];
    if (!convertible(table->dtype, D))
        return EHAL_STATUS_UNSUPPORTED;
    const int32_t *ids = a->in_data[1];
    for (int64_t t = 0; t < T; t++)
        if (ids[t] < 0 || ids[t] >= rows)
            return EHAL_STATUS_UNSUPPORTED;
    elem_job j = {.V = V, .a = a, .range = get_rows_range, .align = 1, .D = D, .items = T};
    return run(be, &j, T * D);
}

/* Items are (position, kv head) rows; slots were checked before the run. */
static void kv_write_range(const elem_job *j, int64_t b, int64_t e)
{
    const ehal_tensor_desc *cache = j->a->out;
    const float *src = j->a->in_data[0];
    const int32_t *pos = j->a->in_data[1];
    const uint64_t rb = ehal_row_bytes(cache->dtype, j->D);
    for (int64_t it = b; it < e; it++) {
        const int64_t t = it / j->H, h = it % j->H;
        const int64_t slot = ehal_kv_slot(pos[t], j->C, j->kv.window, j->kv.n_sink);
        row_from_f32(j->V, cache->dtype, src + it * j->D,
                     (uint8_t *)j->a->out_data + (uint64_t)(h * j->C + slot) * rb, j->D);
    }
}

ehal_status_t cpu_vec_op_kv_write(const cpu_vec_ops *V, ehal_backend_impl *be,
                                  const ehal_kernel_args *a)
{
    if (!have_data(a, 2))
        return EHAL_STATUS_UNSUPPORTED;
    elem_job j = {.V = V, .a = a, .range = kv_write_range, .align = 1};
    ehal_op_get_params(a->sg, a->node, &j.kv, sizeof j.kv);
    j.D = a->in[0]->ne[0];
    j.H = a->in[0]->ne[1];
    const int64_t T = a->in[0]->ne[2];
    j.C = a->out->ne[1];
    if (!convertible(a->out->dtype, j.D))
        return EHAL_STATUS_UNSUPPORTED;
    const int32_t *pos = a->in_data[1];
    for (int64_t t = 0; t < T; t++)
        if (ehal_kv_slot(pos[t], j.C, j.kv.window, j.kv.n_sink) < 0)
            return EHAL_STATUS_UNSUPPORTED;
    /* Two positions sharing a slot (a window wrapping within the batch, a
     * repeated position) are written in order, the last one winning, as
     * the reference does. */
    for (int64_t t = 1; t < T; t++)
        j.serial |= pos[t] <= pos[t - 1];
    j.serial |= j.kv.window != 0 && T > 0 && pos[T - 1] - pos[0] >= j.C - (int64_t)j.kv.n_sink;
    j.items = T * j.H;
    return run(be, &j, j.items * j.D);
}

/* ---- COPY: dtype conversion through float, in 1024-value chunks ------------------ */

#define COPY_CHUNK 1024 /* values; a multiple of the quant block */

static void copy_range(const elem_job *j, int64_t b, int64_t e)
{
    const uint32_t sd = j->a->in[0]->dtype, dd = j->a->out->dtype;
    const uint8_t *src = j->a->in_data[0];
    uint8_t *dst = j->a->out_data;
    float tmp[COPY_CHUNK];
    for (int64_t c = b; c < e; c++) {
        const int64_t i0 = c * COPY_CHUNK;
        const int64_t n = j->D - i0 < COPY_CHUNK ? j->D - i0 : COPY_CHUNK;
        const uint8_t *s0 = src + ehal_row_bytes(sd, i0);
        uint8_t *d0 = dst + ehal_row_bytes(dd, i0);
        if (sd == dd && (sd == EHAL_DTYPE_F32 || sd == EHAL_DTYPE_I32)) {
            /* other same-dtype copies requantize through float, as the
             * reference does */
            memmove(d0, s0, (size_t)ehal_row_bytes(sd, n));
        } else if (sd == EHAL_DTYPE_F32) {
            row_from_f32(j->V, dd, (const float *)s0, d0, n);
        } else if (dd == EHAL_DTYPE_F32) {
            row_to_f32(j->V, sd, s0, (float *)d0, n);
        } else {
            row_to_f32(j->V, sd, s0, tmp, n);
            row_from_f32(j->V, dd, tmp, d0, n);
        }
    }
}

ehal_status_t cpu_vec_op_copy(const cpu_vec_ops *V, ehal_backend_impl *be,
                              const ehal_kernel_args *a)
{
    if (!have_data(a, 1))
        return EHAL_STATUS_UNSUPPORTED;
    const uint32_t sd = a->in[0]->dtype, dd = a->out->dtype;
    const int64_t n = ehal_tensor_nelements(a->in[0]);
    const int same_i32 = sd == EHAL_DTYPE_I32 && dd == EHAL_DTYPE_I32;
    if (!same_i32 && (!convertible(sd, n) || !convertible(dd, n)))
        return EHAL_STATUS_UNSUPPORTED;
    /* .D holds the value count; items are chunks */
    elem_job j = {.V = V, .a = a, .range = copy_range, .align = 1, .D = n};
    j.items = (n + COPY_CHUNK - 1) / COPY_CHUNK;
    return run(be, &j, n);
}

/* ---- one entry point per (op, table) ------------------------------------------- */

#define CPU_VEC_DEF_(N, stem, isa)                                                           \
    ehal_status_t cpu_op_##stem##__##isa(ehal_backend_impl *be, const ehal_kernel_args *a)  \
    {                                                                                        \
        return cpu_vec_op_##stem(&cpu_vec_##isa, be, a);                                     \
    }
#define CPU_VEC_DEF_SCALAR(N, stem) CPU_VEC_DEF_(N, stem, scalar)
CPU_VEC_OP_LIST(CPU_VEC_DEF_SCALAR)
#if defined(__x86_64__) || defined(__i386__)
#define CPU_VEC_DEF_AVX2(N, stem) CPU_VEC_DEF_(N, stem, avx2)
CPU_VEC_OP_LIST(CPU_VEC_DEF_AVX2)
#endif
#if defined(__aarch64__)
#define CPU_VEC_DEF_NEON(N, stem) CPU_VEC_DEF_(N, stem, neon)
CPU_VEC_OP_LIST(CPU_VEC_DEF_NEON)
#endif
