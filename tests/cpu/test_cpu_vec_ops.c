/*
 * The element-wise op kernels built on the CPU row primitives
 * (cpu_ops_elem.c) and the attention tiles, per table and variant, against
 * their ehal_ref_* kernels on shapes whose lengths are not multiples of any
 * vector width, with no pool and with a 3-worker pool. Tolerances as in
 * test_cpu_vec.c. A table this CPU cannot run is skipped with the reason
 * printed.
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cpu_attn.h"
#include "cpu_internal.h"
#include "cpu_isa.h"
#include "cpu_pool.h"
#include "cpu_vec.h"
#include "cpu_vec_kernels.h"
#include "edgehal/ops.h"
#include "one_node.h"
#include "vec_test_util.h"

/* ---- op kernels against the ehal_ref_* kernels ------------------------------------------ */


static void set_desc(ehal_tensor_desc *t, uint32_t dtype, int64_t n0, int64_t n1, int64_t n2)
{
    memset(t, 0, sizeof *t);
    t->struct_size = sizeof *t;
    t->dtype = dtype;
    t->ne[0] = n0, t->ne[1] = n1, t->ne[2] = n2, t->ne[3] = 1;
}


typedef ehal_status_t (*vec_op_fn)(const cpu_vec_ops *V, ehal_backend_impl *be,
                                   const ehal_kernel_args *a);

/* Runs the kernel with no pool and with a 3-worker pool, and the reference
 * into its own output; out_bytes of output compared by the caller. */
static void run_both(const cpu_vec_ops *V, vec_op_fn fn, one_node *o, void *ref_out,
                     void *got_out, void *got_out_pool, size_t out_bytes)
{
    ehal_backend_impl be;
    memset(&be, 0, sizeof be);
    void *const saved = o->a.out_data;
    o->a.out_data = ref_out;
    assert_int_equal(ehal_ref_kernel(o->n.op)(&o->a), EHAL_STATUS_OK);
    o->a.out_data = got_out;
    assert_int_equal(fn(V, &be, &o->a), EHAL_STATUS_OK);
    be.pool = cpu_pool_create(NULL, 3);
    assert_non_null(be.pool);
    o->a.out_data = got_out_pool;
    assert_int_equal(fn(V, &be, &o->a), EHAL_STATUS_OK);
    cpu_pool_destroy(be.pool);
    o->a.out_data = saved;
    (void)out_bytes;
}

static float *frow(int64_t n, float lo, float hi)
{
    float *p = malloc(sizeof(float) * (size_t)(n > 0 ? n : 1));
    assert_non_null(p);
    for (int64_t i = 0; i < n; i++)
        p[i] = frand(lo, hi);
    return p;
}

static void check_elementwise_op(const cpu_vec_ops *V, uint32_t op, vec_op_fn fn, int64_t D,
                                 int64_t R, const void *params, uint32_t psize, double tol)
{
    const int n_in = op == EHAL_OP_SOFTMAX ? 1 : 2;
    const int64_t n = D * R;
    float *x = frow(n, -6.0f, 6.0f);
    float *z = op == EHAL_OP_RMS_NORM ? frow(D, -2.0f, 2.0f) : frow(n, -2.0f, 2.0f);
    float *ref = frow(n, 0, 0), *got = frow(n, 0, 0), *gotp = frow(n, 0, 0);
    one_node o;
    set_desc(&o.t[0], EHAL_DTYPE_F32, D, R, 1);
    if (op == EHAL_OP_RMS_NORM)
        set_desc(&o.t[1], EHAL_DTYPE_F32, D, 1, 1);
    else
        set_desc(&o.t[1], EHAL_DTYPE_F32, D, R, 1);
    set_desc(&o.t[n_in], EHAL_DTYPE_F32, D, R, 1);
    void *data[2] = {x, z};
    one_node_init(&o, op, (uint32_t)n_in, (uint32_t)n_in, params, psize, data, got);
    run_both(V, fn, &o, ref, got, gotp, sizeof(float) * (size_t)n);
    char what[96];
    snprintf(what, sizeof what, "%s %s D%lld R%lld", V->name, ehal_op_name(op), (long long)D,
             (long long)R);
    check_close(what, got, ref, n, tol);
    assert_memory_equal(got, gotp, sizeof(float) * (size_t)n); /* threads change nothing */
    free(x);
    free(z);
    free(ref);
    free(got);
    free(gotp);
}

static void test_elementwise_ops_match_reference(void **state)
{
    const cpu_vec_ops *V = *state;
    if (skip_unless_runnable(V))
        skip();
    static const int64_t shapes[][2] = {{1, 1}, {7, 3}, {17, 5}, {64, 2}, {100, 3}, {4097, 2},
                                        {33, 4096}};
    const size_t ns = emulated() ? 5 : sizeof shapes / sizeof shapes[0];
    const ehal_params_rms_norm rp = {1e-5f};
    const ehal_params_softmax sp1 = {1.0f}, sp2 = {0.125f};
    for (size_t s = 0; s < ns; s++) {
        const int64_t D = shapes[s][0], R = shapes[s][1];
        check_elementwise_op(V, EHAL_OP_ADD, cpu_vec_op_add, D, R, NULL, 0, 1e-7);
        check_elementwise_op(V, EHAL_OP_MUL, cpu_vec_op_mul, D, R, NULL, 0, 1e-7);
        check_elementwise_op(V, EHAL_OP_SWIGLU, cpu_vec_op_swiglu, D, R, NULL, 0, 2e-6);
        check_elementwise_op(V, EHAL_OP_RMS_NORM, cpu_vec_op_rms_norm, D, R, &rp, sizeof rp, 1e-5);
        check_elementwise_op(V, EHAL_OP_SOFTMAX, cpu_vec_op_softmax, D, R, &sp1, sizeof sp1, 1e-5);
        check_elementwise_op(V, EHAL_OP_SOFTMAX, cpu_vec_op_softmax, D, R, &sp2, sizeof sp2, 1e-5);
    }
}

static void test_rope_op_matches_reference(void **state)
{
    const cpu_vec_ops *V = *state;
    if (skip_unless_runnable(V))
        skip();
    /* D, H, T, n_rot, mode, first position, freq_scale, a jump of 5
     * positions halfway (consecutive runs turn the angles step by step,
     * exactly recomputed after a jump and every 64 positions; the last
     * case is large enough to be split over the pool) */
    static const struct {
        int64_t D, H, T;
        uint32_t n_rot, mode;
        int32_t pos0;
        float fs;
        int jump;
    } cases[] = {{64, 4, 3, 64, EHAL_ROPE_NORMAL, 0, 1.0f, 0},
                 {64, 4, 3, 64, EHAL_ROPE_NEOX, 5, 1.0f, 0},
                 {18, 3, 2, 10, EHAL_ROPE_NORMAL, 7, 0.5f, 0},
                 {18, 3, 2, 10, EHAL_ROPE_NEOX, 7, 0.5f, 0},
                 {128, 2, 40, 96, EHAL_ROPE_NEOX, 4000, 1.0f, 1},
                 {6, 1, 1, 2, EHAL_ROPE_NORMAL, 3, 1.0f, 0},
                 {128, 4, 150, 128, EHAL_ROPE_NORMAL, 3900, 0.25f, 1}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const int64_t D = cases[c].D, H = cases[c].H, T = cases[c].T, n = D * H * T;
        float *x = frow(n, -2.0f, 2.0f), *ref = frow(n, 0, 0), *got = frow(n, 0, 0),
              *gotp = frow(n, 0, 0);
        int32_t pos[160];
        for (int64_t t = 0; t < T; t++)
            pos[t] = cases[c].pos0 + (int32_t)t + (cases[c].jump && t >= T / 2 ? 5 : 0);
        ehal_params_rope p = {cases[c].mode, cases[c].n_rot, 10000.0f, cases[c].fs};
        one_node o;
        set_desc(&o.t[0], EHAL_DTYPE_F32, D, H, T);
        set_desc(&o.t[1], EHAL_DTYPE_I32, T, 1, 1);
        set_desc(&o.t[2], EHAL_DTYPE_F32, D, H, T);
        void *data[2] = {x, pos};
        one_node_init(&o, EHAL_OP_ROPE, 2, 2, &p, sizeof p, data, got);
        run_both(V, cpu_vec_op_rope, &o, ref, got, gotp, sizeof(float) * (size_t)n);
        check_close("rope", got, ref, n, 5e-4);
        assert_memory_equal(got, gotp, sizeof(float) * (size_t)n);
        free(x);
        free(ref);
        free(got);
        free(gotp);
    }
}

static void test_get_rows_is_exact_for_every_dtype(void **state)
{
    const cpu_vec_ops *V = *state;
    if (skip_unless_runnable(V))
        skip();
    static const uint32_t dts[] = {EHAL_DTYPE_F32, EHAL_DTYPE_F16, EHAL_DTYPE_Q8_0,
                                   EHAL_DTYPE_Q4_0};
    for (size_t k = 0; k < 4; k++) {
        const uint32_t dt = dts[k];
        const int64_t D = dt == EHAL_DTYPE_Q8_0 || dt == EHAL_DTYPE_Q4_0 ? 96 : 37, Vn = 11, T = 7;
        float *src = frow(D * Vn, -3.0f, 3.0f);
        const uint64_t rb = ehal_row_bytes(dt, D);
        uint8_t *table = malloc(rb * (size_t)Vn);
        assert_non_null(table);
        for (int64_t r = 0; r < Vn; r++)
            assert_int_equal(ehal_convert_row(EHAL_DTYPE_F32, src + r * D, dt, table + r * rb, D),
                             EHAL_STATUS_OK);
        int32_t ids[7] = {3, 0, 10, 3, 7, 1, 9};
        float *ref = frow(D * T, 0, 0), *got = frow(D * T, 0, 0), *gotp = frow(D * T, 0, 0);
        one_node o;
        set_desc(&o.t[0], dt, D, Vn, 1);
        set_desc(&o.t[1], EHAL_DTYPE_I32, T, 1, 1);
        set_desc(&o.t[2], EHAL_DTYPE_F32, D, T, 1);
        void *data[2] = {table, ids};
        one_node_init(&o, EHAL_OP_GET_ROWS, 2, 2, NULL, 0, data, got);
        run_both(V, cpu_vec_op_get_rows, &o, ref, got, gotp, sizeof(float) * (size_t)(D * T));
        assert_memory_equal(got, ref, sizeof(float) * (size_t)(D * T));
        assert_memory_equal(gotp, ref, sizeof(float) * (size_t)(D * T));
        /* a row id outside the table: declined, nothing written */
        ids[4] = 11;
        memset(got, 0x5a, sizeof(float) * (size_t)(D * T));
        memcpy(gotp, got, sizeof(float) * (size_t)(D * T));
        ehal_backend_impl be;
        memset(&be, 0, sizeof be);
        o.a.out_data = got;
        assert_int_equal(cpu_vec_op_get_rows(V, &be, &o.a), EHAL_STATUS_UNSUPPORTED);
        assert_memory_equal(got, gotp, sizeof(float) * (size_t)(D * T));
        free(src);
        free(table);
        free(ref);
        free(got);
        free(gotp);
    }
}

static void test_kv_write_is_bit_identical_for_every_cache_dtype(void **state)
{
    const cpu_vec_ops *V = *state;
    if (skip_unless_runnable(V))
        skip();
    static const uint32_t dts[] = {EHAL_DTYPE_F32, EHAL_DTYPE_F16, EHAL_DTYPE_Q8_0,
                                   EHAL_DTYPE_Q4_0};
    /* full cache; a window with sinks, the batch wrapping around the ring */
    static const ehal_params_kv kvs[] = {{0, 0}, {4, 2}};
    for (size_t k = 0; k < 4; k++)
        for (size_t w = 0; w < 2; w++) {
            const uint32_t dt = dts[k];
            const int64_t D = dt == EHAL_DTYPE_Q8_0 || dt == EHAL_DTYPE_Q4_0 ? 64 : 19;
            const int64_t H = 3, T = 9, C = w ? 14 : 16;
            float *src = frow(D * H * T, -4.0f, 4.0f);
            src[5] = NAN;
            src[D + 1] = INFINITY;
            const size_t bytes = ehal_row_bytes(dt, D) * (size_t)(C * H);
            uint8_t *ref = malloc(bytes), *got = malloc(bytes), *gotp = malloc(bytes);
            assert_non_null(ref && got && gotp);
            memset(ref, 0x33, bytes);
            memcpy(got, ref, bytes);
            memcpy(gotp, ref, bytes);
            int32_t pos[9];
            for (int64_t t = 0; t < T; t++)
                pos[t] = (int32_t)(w ? 20 + t : 2 + t);
            one_node o;
            set_desc(&o.t[0], EHAL_DTYPE_F32, D, H, T);
            set_desc(&o.t[1], EHAL_DTYPE_I32, T, 1, 1);
            set_desc(&o.t[2], dt, D, C, H);
            void *data[3] = {src, pos, got};
            one_node_init(&o, EHAL_OP_KV_WRITE, 3, 2, &kvs[w], sizeof kvs[w], data, got);
            run_both(V, cpu_vec_op_kv_write, &o, ref, got, gotp, bytes);
            if (memcmp(got, ref, bytes) != 0 || memcmp(gotp, ref, bytes) != 0)
                fail_msg("%s: kv_write %s window %u differs from the reference", V->name,
                         ehal_dtype_name(dt), kvs[w].window);
            /* a position past a full cache: declined, nothing written */
            if (w == 0) {
                pos[8] = 16;
                memcpy(gotp, got, bytes);
                ehal_backend_impl be;
                memset(&be, 0, sizeof be);
                o.a.out_data = got;
                assert_int_equal(cpu_vec_op_kv_write(V, &be, &o.a), EHAL_STATUS_UNSUPPORTED);
                assert_memory_equal(got, gotp, bytes);
            }
            free(src);
            free(ref);
            free(got);
            free(gotp);
        }
}

/* Every attention variant's tile kernels (one query head per KV head: the
 * 8-key and register-held paths; groups: the row loops) on head dims that
 * are not multiples of any vector width, against ehal_ref_ATTENTION.
 * Outputs are convex combinations of V values in [-1, 1]: 1e-4 absolute
 * covers float vs double accumulation and the vector exp. */
static void check_attention(const cpu_attn_variant *v, int64_t D, int64_t Hq, int64_t Hkv,
                            int64_t T, int64_t C, int32_t pos0)
{
    const int64_t nq = D * Hq * T, nkv = D * C * Hkv;
    float *q = frow(nq, -1.0f, 1.0f), *kf = frow(nkv, -1.0f, 1.0f), *vf = frow(nkv, -1.0f, 1.0f);
    const uint64_t rb = ehal_row_bytes(v->kvtype, D);
    uint8_t *K = malloc(rb * (size_t)(C * Hkv)), *V = malloc(rb * (size_t)(C * Hkv));
    assert_non_null(K && V);
    for (int64_t r = 0; r < C * Hkv; r++) {
        ehal_convert_row(EHAL_DTYPE_F32, kf + r * D, v->kvtype, K + r * rb, D);
        ehal_convert_row(EHAL_DTYPE_F32, vf + r * D, v->kvtype, V + r * rb, D);
    }
    int32_t pos[16];
    for (int64_t t = 0; t < T; t++)
        pos[t] = pos0 + (int32_t)t;
    float *ref = frow(nq, 0, 0), *got = frow(nq, 0, 0);
    ehal_params_attention p = {0.0f, 0, 0, 0};
    ehal_tensor_desc t5[5]; /* Q, K, V, positions, output */
    set_desc(&t5[0], EHAL_DTYPE_F32, D, Hq, T);
    set_desc(&t5[1], v->kvtype, D, C, Hkv);
    set_desc(&t5[2], v->kvtype, D, C, Hkv);
    set_desc(&t5[3], EHAL_DTYPE_I32, T, 1, 1);
    set_desc(&t5[4], EHAL_DTYPE_F32, D, Hq, T);
    void *data[4] = {q, K, V, pos};
    const ehal_tensor_desc *tp[5] = {&t5[0], &t5[1], &t5[2], &t5[3], &t5[4]};
    ehal_node_desc nd;
    memset(&nd, 0, sizeof nd);
    nd.struct_size = sizeof nd;
    nd.op = EHAL_OP_ATTENTION;
    nd.n_inputs = 4;
    nd.n_outputs = 1;
    for (uint32_t i = 0; i < 4; i++)
        nd.inputs[i] = i;
    nd.outputs[0] = 4;
    nd.params = &p;
    nd.params_size = sizeof p;
    const ehal_node_desc *np = &nd;
    ehal_subgraph sg = {sizeof sg, 5, 1, 0, tp, &np};
    char msg[256] = "";
    if (ehal_op_validate(&sg, 0, msg, sizeof msg) != EHAL_STATUS_OK)
        fail_msg("attention node invalid: %s", msg);
    ehal_kernel_args a;
    memset(&a, 0, sizeof a);
    a.sg = &sg;
    for (int i = 0; i < 4; i++) {
        a.in[i] = &t5[i];
        a.in_data[i] = data[i];
    }
    a.out = &t5[4];
    a.out_data = ref;
    assert_int_equal(ehal_ref_ATTENTION(&a), EHAL_STATUS_OK);
    a.out_data = got;
    assert_int_equal(cpu_attention_run(NULL, v, &a, NULL), EHAL_STATUS_OK);
    for (int64_t i = 0; i < nq; i++)
        if (!(fabsf(got[i] - ref[i]) <= 1e-4f))
            fail_msg("%s D%lld Hq%lld Hkv%lld T%lld: out[%lld] = %g, want %g", v->name,
                     (long long)D, (long long)Hq, (long long)Hkv, (long long)T, (long long)i,
                     (double)got[i], (double)ref[i]);
    free(q);
    free(kf);
    free(vf);
    free(K);
    free(V);
    free(ref);
    free(got);
}

static void test_attention_tiles_match_reference(void **state)
{
    const cpu_attn_variant *v = *state;
    if (!cpu_isa_supported(v->isa)) {
        print_message("SKIP %s: this CPU lacks %s\n", v->name, cpu_isa_name(v->isa));
        skip();
    }
    const int q8 = v->kvtype == EHAL_DTYPE_Q8_0;
    static const int64_t dims[] = {19, 45, 72, 100, 200};
    static const int64_t q8dims[] = {32, 96, 160};
    const size_t nd = q8 ? 3 : 5;
    for (size_t k = 0; k < nd; k++) {
        const int64_t D = q8 ? q8dims[k] : dims[k];
        check_attention(v, D, 2, 2, 3, 150, 60);  /* one head per KV head, 2+ tiles */
        check_attention(v, D, 6, 2, 2, 80, 70);   /* groups of 3 */
        check_attention(v, D, 8, 2, 1, 70, 66);   /* groups of 4 */
        check_attention(v, D, 5, 1, 1, 40, 38);   /* a group of 5 */
        check_attention(v, D, 7, 1, 1, 40, 21);   /* a group of 7 */
        check_attention(v, D, 1, 1, 1, 12, 4);    /* 5 keys: below a key group */
    }
}

/* COPY between every pair of F32, F16, Q8_0 and Q4_0 (and I32 to I32),
 * byte for byte against ehal_ref_COPY, over 2 chunks and a partial one. */
static void test_copy_is_bit_identical_for_every_dtype_pair(void **state)
{
    const cpu_vec_ops *V = *state;
    if (skip_unless_runnable(V))
        skip();
    static const uint32_t dts[] = {EHAL_DTYPE_F32, EHAL_DTYPE_F16, EHAL_DTYPE_Q8_0,
                                   EHAL_DTYPE_Q4_0};
    enum { N = 2 * 1024 + 96 }; /* a multiple of 32, not of the 1024-value chunk */
    float *xf = frow(N, -5.0f, 5.0f);
    xf[7] = NAN;
    xf[40] = -INFINITY;
    for (size_t si = 0; si < 5; si++)
        for (size_t di = 0; di < 5; di++) {
            if ((si == 4) != (di == 4))
                continue; /* I32 only to I32 */
            const uint32_t sd = si == 4 ? EHAL_DTYPE_I32 : dts[si];
            const uint32_t dd = di == 4 ? EHAL_DTYPE_I32 : dts[di];
            const uint64_t sb = ehal_row_bytes(sd, N), db = ehal_row_bytes(dd, N);
            uint8_t *src = malloc(sb), *ref = malloc(db), *got = malloc(db), *gotp = malloc(db);
            assert_non_null(src && ref && got && gotp);
            if (sd == EHAL_DTYPE_I32)
                for (int i = 0; i < N; i++)
                    ((int32_t *)src)[i] = (int32_t)rand32();
            else
                assert_int_equal(ehal_convert_row(EHAL_DTYPE_F32, xf, sd, src, N), EHAL_STATUS_OK);
            one_node o;
            set_desc(&o.t[0], sd, N, 1, 1);
            set_desc(&o.t[1], dd, N, 1, 1);
            void *data[1] = {src};
            one_node_init(&o, EHAL_OP_COPY, 1, 1, NULL, 0, data, got);
            run_both(V, cpu_vec_op_copy, &o, ref, got, gotp, db);
            if (memcmp(got, ref, db) != 0 || memcmp(gotp, ref, db) != 0)
                fail_msg("%s: copy %s -> %s differs from the reference", V->name,
                         ehal_dtype_name(sd), ehal_dtype_name(dd));
            free(src);
            free(ref);
            free(got);
            free(gotp);
        }
    free(xf);
}

int main(void)
{
    static const vec_check per_table[] = {
        {"elementwise ops vs reference", test_elementwise_ops_match_reference},
        {"rope op vs reference", test_rope_op_matches_reference},
        {"get_rows exact", test_get_rows_is_exact_for_every_dtype},
        {"kv_write bit-identical", test_kv_write_is_bit_identical_for_every_cache_dtype},
        {"copy bit-identical", test_copy_is_bit_identical_for_every_dtype_pair},
    };
    struct CMUnitTest tests[VEC_MAX_TESTS];
    static char names[VEC_MAX_TESTS][VEC_NAME_SIZE];
    size_t n = vec_add_per_table(tests, names, 0, per_table, sizeof per_table / sizeof per_table[0]);
    for (const cpu_attn_variant *v = cpu_attn_variants; v->name != NULL && n < VEC_MAX_TESTS - 1;
         v++) {
        snprintf(names[n], sizeof names[n], "%s tiles vs reference", v->name);
        tests[n] = (struct CMUnitTest){names[n], test_attention_tiles_match_reference, NULL, NULL,
                                       (void *)v};
        n++;
    }
    return _cmocka_run_group_tests("cpu_vec_ops", tests, n, NULL, NULL);
}
