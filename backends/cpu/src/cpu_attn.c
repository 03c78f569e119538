/*
 * ATTENTION over F16/Q8_0 KV caches: tiled online softmax (working memory
 * per worker is O(G*D + G*TILE), independent of the context length), work
 * split over (query position, KV head, group chunk) units, and every K/V
 * row read once per unit for all the query heads that share it (GQA
 * without copies). Key ranges follow the slot rule of backend_abi.h.
 */
#include <math.h>
#include <stdatomic.h>
#include <string.h>

#include "cpu_attn.h"
#include "cpu_pool.h"
#include "cpu_vec.h"
#include "edgehal/backend_sdk.h"
#include "edgehal/ops.h"

const cpu_attn_variant cpu_attn_variants[] = {
#if defined(__x86_64__) || defined(__i386__)
    {"f16_attention_qk_pv__avx2", EHAL_DTYPE_F16, CPU_ISA_AVX2, cpu_attn_qk_f16_avx2,
     cpu_attn_pv_f16_avx2, cpu_attn_qk_tile_f16_avx2, cpu_attn_pv_tile_f16_avx2},
#endif
#if defined(__aarch64__)
    {"f16_attention_qk_pv__neon", EHAL_DTYPE_F16, CPU_ISA_NEON, cpu_attn_qk_f16_neon,
     cpu_attn_pv_f16_neon, cpu_attn_qk_tile_f16_neon, cpu_attn_pv_tile_f16_neon},
#endif
    {"f16_attention_qk_pv__scalar", EHAL_DTYPE_F16, CPU_ISA_SCALAR, cpu_attn_qk_f16_scalar,
     cpu_attn_pv_f16_scalar, cpu_attn_qk_tile_f16_scalar, cpu_attn_pv_tile_f16_scalar},
#if defined(__x86_64__) || defined(__i386__)
    {"q8_0_attention_qk_pv__avx2", EHAL_DTYPE_Q8_0, CPU_ISA_AVX2, cpu_attn_qk_q8_0_avx2,
     cpu_attn_pv_q8_0_avx2, cpu_attn_qk_tile_q8_0_avx2, cpu_attn_pv_tile_q8_0_avx2},
#endif
#if defined(__aarch64__)
    {"q8_0_attention_qk_pv__neon", EHAL_DTYPE_Q8_0, CPU_ISA_NEON, cpu_attn_qk_q8_0_neon,
     cpu_attn_pv_q8_0_neon, cpu_attn_qk_tile_q8_0_neon, cpu_attn_pv_tile_q8_0_neon},
#endif
    {"q8_0_attention_qk_pv__scalar", EHAL_DTYPE_Q8_0, CPU_ISA_SCALAR, cpu_attn_qk_q8_0_scalar,
     cpu_attn_pv_q8_0_scalar, cpu_attn_qk_tile_q8_0_scalar, cpu_attn_pv_tile_q8_0_scalar},
    {NULL, 0, CPU_ISA_SCALAR, NULL, NULL, NULL, NULL},
};

const cpu_attn_variant *cpu_attn_pick(uint32_t kvtype)
{
    for (const cpu_attn_variant *v = cpu_attn_variants; v->name != NULL; v++)
        if (v->kvtype == kvtype && cpu_isa_enabled(v->isa))
            return v;
    return NULL;
}

#define TILE 64 /* keys scored before their softmax update */
/* V bytes of one head's key range from which its tiles are prefetched
 * (smaller ranges stay in L2 between queries; prefetching them only costs). */
#define PREFETCH_MIN_BYTES (256u * 1024u)

typedef struct attn_job {
    const cpu_attn_variant *v;
    const cpu_vec_ops *vec; /* exp and scaling, of the variant's ISA */
    ehal_params_attention p;
    int64_t D, Hq, Hkv, T, C, group, gchunks, pmax;
    int noncausal;
    const float *Q;
    const uint8_t *K, *V;
    uint64_t row_bytes;
    const int32_t *pos;
    float *O;
    float *scratch; /* per worker: scratch_floats */
    size_t scratch_floats;
    int64_t iota[TILE];   /* 0, 1, ...: the slots of a tile of consecutive rows */
    int64_t units, chunk; /* work units, and how many a worker takes at once */
    atomic_llong next;    /* units handed out so far */
} attn_job;

/* Up to two key ranges [lo, hi] a query at q attends to (sinks, then the
 * window, as the slot rule says); empty when lo > hi. */
static void key_ranges(int64_t q, int64_t last, uint32_t window, uint32_t n_sink, int64_t lo[2],
                       int64_t hi[2])
{
    if (window == 0) {
        lo[0] = 0, hi[0] = last, lo[1] = 1, hi[1] = 0;
        return;
    }
    lo[0] = 0;
    hi[0] = (int64_t)n_sink - 1 < last ? (int64_t)n_sink - 1 : last;
    int64_t from = q - (int64_t)window + 1;
    lo[1] = from > (int64_t)n_sink ? from : (int64_t)n_sink;
    hi[1] = last;
}

static void attend_unit(const attn_job *j, float *scratch, int64_t unit)
{
    const int64_t D = j->D;
    const int64_t t = unit / (j->Hkv * j->gchunks);
    const int64_t kvh = unit / j->gchunks % j->Hkv;
    const int64_t g0 = unit % j->gchunks * CPU_ATTN_MAX_G;
    const int G = (int)(j->group - g0 < CPU_ATTN_MAX_G ? j->group - g0 : CPU_ATTN_MAX_G);
    const int64_t h0 = kvh * j->group + g0;
    float *q = scratch, *acc = q + CPU_ATTN_MAX_G * D, *s = acc + CPU_ATTN_MAX_G * D;
    float m[CPU_ATTN_MAX_G], l[CPU_ATTN_MAX_G];
    for (int g = 0; g < G; g++) {
        j->vec->scale(j->Q + (t * j->Hq + h0 + g) * D, j->p.scale, q + g * D, D);
        m[g] = -INFINITY;
        l[g] = 0.0f;
    }
    memset(acc, 0, sizeof(float) * (size_t)(G * D));
    int64_t lo[2], hi[2];
    const int64_t qp = j->pos[t];
    key_ranges(qp, j->noncausal ? j->pmax : qp, j->p.window, j->p.n_sink, lo, hi);
    const uint8_t *Kh = j->K + (uint64_t)(kvh * j->C) * j->row_bytes;
    const uint8_t *Vh = j->V + (uint64_t)(kvh * j->C) * j->row_bytes;
    int64_t keys = 0;
    for (int r = 0; r < 2; r++)
        keys += hi[r] >= lo[r] ? hi[r] - lo[r] + 1 : 0;
    const int prefetch = (uint64_t)keys * j->row_bytes >= PREFETCH_MIN_BYTES;
    for (int r = 0; r < 2; r++) {
        for (int64_t k0 = lo[r]; k0 <= hi[r]; k0 += TILE) {
            const int n = (int)(hi[r] - k0 + 1 < TILE ? hi[r] - k0 + 1 : TILE);
            /* Without a window a tile is n consecutive rows from k0. */
            int64_t slot_buf[TILE];
            const int64_t *slots = j->iota;
            const uint8_t *Kt = Kh + (uint64_t)k0 * j->row_bytes;
            const uint8_t *Vt = Vh + (uint64_t)k0 * j->row_bytes;
            if (j->p.window != 0) {
                for (int i = 0; i < n; i++)
                    slot_buf[i] = ehal_kv_slot(k0 + i, j->C, j->p.window, j->p.n_sink);
                slots = slot_buf, Kt = Kh, Vt = Vh;
            }
            /* The tile's V rows stream in while its scores are computed,
             * where the head's cache is too large to stay in cache. */
            if (prefetch)
                for (int i = 0; i < n; i++)
                    for (uint64_t b = 0; b < j->row_bytes; b += 64)
                        __builtin_prefetch(Vt + (uint64_t)slots[i] * j->row_bytes + b, 0, 1);
            j->v->qk_tile(q, G, Kt, j->row_bytes, slots, n, D, s);
            for (int g = 0; g < G; g++) {
                float mt = m[g];
                if (G == 1) { /* the same maximum (NaN scores ignored), vectorized */
                    const float mx = j->vec->max(s, n);
                    mt = mx > mt ? mx : mt;
                } else {
                    for (int i = 0; i < n; i++)
                        mt = s[i * G + g] > mt ? s[i * G + g] : mt;
                }
                if (mt > m[g]) {
                    const float c = m[g] == -INFINITY ? 0.0f : expf(m[g] - mt);
                    l[g] *= c;
                    j->vec->scale(acc + g * D, c, acc + g * D, D);
                    m[g] = mt;
                }
            }
            /* The tile's weights exp(s - m) in one vector pass. */
            if (G == 1) {
                l[0] += j->vec->exp_sum(s, 1.0f, m[0], s, n);
            } else {
                for (int i = 0; i < n; i++)
                    for (int g = 0; g < G; g++)
                        s[i * G + g] -= m[g];
                j->vec->exp(s, s, (int64_t)n * G);
                for (int i = 0; i < n; i++)
                    for (int g = 0; g < G; g++)
                        l[g] += s[i * G + g];
            }
            j->v->pv_tile(acc, s, G, Vt, j->row_bytes, slots, n, D);
        }
    }
    for (int g = 0; g < G; g++)
        j->vec->scale(acc + g * D, 1.0f / l[g], j->O + (t * j->Hq + h0 + g) * D, D);
}

/* Units are handed out from a shared counter, last query position first:
 * in a causal prefill a unit's cost grows with its position, so an even
 * static split gave the worker holding the late positions about three
 * times the work of the one holding the early ones. Taking the costly
 * units first and the cheap ones last evens the finish (and a worker the
 * OS deschedules delays the op by one chunk at most). Each unit writes only
 * its own outputs, so the result does not depend on who computes it. */
static void attn_task(void *ctx, int ith, int nth)
{
    attn_job *j = ctx;
    (void)nth;
    float *scratch = j->scratch + (size_t)ith * j->scratch_floats;
    for (;;) {
        const int64_t i0 = atomic_fetch_add_explicit(&j->next, j->chunk, memory_order_relaxed);
        if (i0 >= j->units)
            break;
        const int64_t i1 = i0 + j->chunk < j->units ? i0 + j->chunk : j->units;
        for (int64_t i = i0; i < i1; i++)
            attend_unit(j, scratch, j->units - 1 - i);
    }
}

ehal_status_t cpu_attention_run(cpu_pool *pool, const cpu_attn_variant *v,
                                const ehal_kernel_args *a, const ehal_host_services *host)
{
    const ehal_tensor_desc *qd = a->in[0], *kd = a->in[1], *vd = a->in[2];
    if (v == NULL || kd->dtype != vd->dtype || kd->dtype != v->kvtype)
        return EHAL_STATUS_UNSUPPORTED;
    attn_job j;
    memset(&j, 0, sizeof j);
    j.v = v;
    j.vec = cpu_vec_for_isa(v->isa);
    ehal_op_get_params(a->sg, a->node, &j.p, sizeof j.p);
    j.D = qd->ne[0], j.Hq = qd->ne[1], j.T = qd->ne[2];
    j.C = kd->ne[1], j.Hkv = kd->ne[2];
    if (j.Hkv < 1 || j.Hq % j.Hkv != 0 || j.D < 1 || kd->ne[0] != j.D || vd->ne[0] != j.D)
        return EHAL_STATUS_UNSUPPORTED;
    j.group = j.Hq / j.Hkv;
    j.gchunks = (j.group + CPU_ATTN_MAX_G - 1) / CPU_ATTN_MAX_G;
    j.pos = a->in_data[3];
    /* Anything the reference would reject, it rejects with its message. */
    for (int64_t t = 0; t < j.T; t++) {
        if (j.pos[t] < 0 || (j.p.window == 0 && j.pos[t] >= j.C))
            return EHAL_STATUS_UNSUPPORTED;
        if (j.p.window != 0 && ((int64_t)j.p.n_sink >= j.C))
            return EHAL_STATUS_UNSUPPORTED;
        j.pmax = j.pos[t] > j.pmax ? j.pos[t] : j.pmax;
    }
    j.noncausal = (j.p.flags & EHAL_ATTN_NONCAUSAL) != 0;
    j.Q = a->in_data[0];
    j.K = a->in_data[1];
    j.V = a->in_data[2];
    j.O = a->out_data;
    j.row_bytes = ehal_row_bytes(kd->dtype, j.D);
    j.scratch_floats = (size_t)(2 * CPU_ATTN_MAX_G * j.D + CPU_ATTN_MAX_G * TILE + 16);
    const int64_t units = j.T * j.Hkv * j.gchunks;
    const int nth = (int)(units < cpu_pool_threads(pool) ? units : cpu_pool_threads(pool));
    for (int i = 0; i < TILE; i++)
        j.iota[i] = i;
    /* about 64 chunks per worker: finer costs counter traffic, coarser a
     * longer wait at the end */
    j.units = units;
    j.chunk = units / ((int64_t)nth * 64) > 1 ? units / ((int64_t)nth * 64) : 1;
    atomic_init(&j.next, 0);
    j.scratch = ehal_sdk_alloc(host, sizeof(float) * j.scratch_floats * (size_t)nth);
    if (j.scratch == NULL) {
        ehal_sdk_log(host, EHAL_LOG_ERROR, "attention: out of memory for %d workers' scratch",
                     nth);
        return EHAL_STATUS_OUT_OF_MEMORY;
    }
    cpu_pool_run(pool, nth, attn_task, &j);
    ehal_sdk_free(host, j.scratch);
    return EHAL_STATUS_OK;
}
