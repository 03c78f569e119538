/*
 * `edgehal bench`: op benchmarks through the public API (any backend:
 * buffers are allocated on it, a one-node subgraph is prepared, and each
 * run is timed as execute + wait), and a DRAM read-bandwidth probe.
 * Reports the median of --reps runs after one warm-up, in microseconds,
 * GFLOP/s and effective GB/s of weight (or KV cache) traffic.
 */
#define _POSIX_C_SOURCE 200809L
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench_model.h"
#include "cli.h"
#include "edgehal/edgehal.h"
#include "edgehal/ops.h"

EHAL_CLI_COMMAND(bench, "benchmark ops (matmul, attention) and DRAM bandwidth on a backend");

enum {
    OPT_OP = 1, OPT_DTYPE, OPT_SHAPE, OPT_N, OPT_HEAD_DIM, OPT_CTX, OPT_HEADS, OPT_KV_HEADS,
    OPT_THREADS, OPT_BACKEND, OPT_REPS, OPT_QUICK, OPT_BANDWIDTH, OPT_BW_MIB, OPT_JSON
};

static const ehal_cli_opt bench_opts[] = {
    {"op", 0, 1, OPT_OP},
    {"dtype", 0, 1, OPT_DTYPE},
    {"shape", 0, 1, OPT_SHAPE},
    {"n", 'n', 1, OPT_N},
    {"head-dim", 0, 1, OPT_HEAD_DIM},
    {"ctx", 0, 1, OPT_CTX},
    {"heads", 0, 1, OPT_HEADS},
    {"kv-heads", 0, 1, OPT_KV_HEADS},
    {"threads", 't', 1, OPT_THREADS},
    {"backend", 'b', 1, OPT_BACKEND},
    {"reps", 0, 1, OPT_REPS},
    {"quick", 0, 0, OPT_QUICK},
    {"bandwidth", 0, 0, OPT_BANDWIDTH},
    {"bandwidth-mib", 0, 1, OPT_BW_MIB},
    {"json", 0, 1, OPT_JSON},
    {NULL, 0, 0, 0},
};

static void bench_usage(FILE *out)
{
    fprintf(out,
            "usage: edgehal bench [--op matmul|attention] [--dtype D] [--shape KxN] [--n T]\n"
            "                     [--head-dim D] [--ctx C] [--heads H] [--kv-heads H]\n"
            "                     [--threads N] [--backend NAME] [--reps R] [--quick]\n"
            "                     [--bandwidth [--bandwidth-mib M]] [--json FILE]\n"
            "       edgehal bench --model FILE.gguf|builtin [-p N] [-n N] [-t LIST] ...\n"
            "                     (whole-model pp/tg tokens/s: edgehal bench --model x --help)\n"
            "\n"
            "Times ops on a backend through the public API: weights and inputs are put in\n"
            "buffers of the backend, a one-node subgraph is prepared, and each run is\n"
            "execute + wait. Prints the median of R runs (after one warm-up) in us,\n"
            "GFLOP/s and GB/s of weight traffic (matmul: the weight bytes; attention: the\n"
            "K and V cache bytes read), and the median process CPU time of a run (all\n"
            "threads; on a shared machine wall time / threads near it means the run was\n"
            "not preempted).\n"
            "\n"
            "Without --op, runs the default set: matmul q4_0, q8_0 and f16 weights of\n"
            "4096x4096, 2048x8192, 8192x2048 and 4096x14336 at n=1 and n=512, a q4_0\n"
            "GEMV over 16384x16384 (larger than the last-level cache), and attention\n"
            "with head dim 64 and 128, context 512 and 4096, 32 query heads over 8 KV\n"
            "heads, f16 and q8_0 KV caches, 1 query. --quick keeps n=512 only for\n"
            "4096x4096.\n"
            "\n"
            "Options:\n"
            "      --op NAME        matmul or attention (default: the default set)\n"
            "      --dtype D        matmul weight / attention KV dtype (default q4_0 / f16)\n"
            "      --shape KxN      matmul weight: K inputs x N outputs (default 4096x4096)\n"
            "  -n, --n T            matmul activation columns (tokens; default 1)\n"
            "      --head-dim D     attention head dim (default 128)\n"
            "      --ctx C          attention context length = cache capacity (default 4096)\n"
            "      --heads H        query heads (default 32)\n"
            "      --kv-heads H     KV heads (default 8; H %% kv-heads == 0)\n"
            "  -t, --threads N      backend worker threads (option <backend>.threads) and\n"
            "                       the bandwidth probe's threads (default: the backend's)\n"
            "  -b, --backend NAME   backend to benchmark (default cpu)\n"
            "      --reps R         timed runs per case, median reported (default 5)\n"
            "      --quick          smaller default set (see above)\n"
            "      --bandwidth      also measure DRAM read bandwidth (multi-threaded reads of\n"
            "                       a buffer far larger than the last-level cache)\n"
            "      --bandwidth-mib M  that buffer's size in MiB (default 1024)\n"
            "      --json FILE      also write every result to FILE as JSON\n"
            "\n");
    fputs(ehal_cli_common_usage, out);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* CPU time of the whole process (all threads), seconds. */
static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* ---- random tensor contents --------------------------------------------- */

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint64_t next_u64(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* Fills n values of dtype with bounded random data: quant blocks get random
 * codes and a small scale, F16/F32 values in [-1, 1). Returns NULL on OOM. */
static void *random_tensor(uint32_t dtype, uint64_t nbytes, int64_t nvalues)
{
    uint8_t *p = malloc(nbytes ? nbytes : 1);
    if (p == NULL)
        return NULL;
    for (uint64_t i = 0; i + 8 <= nbytes; i += 8) {
        uint64_t r = next_u64();
        memcpy(p + i, &r, 8);
    }
    if (dtype == EHAL_DTYPE_Q4_0 || dtype == EHAL_DTYPE_Q8_0) {
        const uint64_t bb = ehal_dtype_block_bytes(dtype);
        const uint16_t d = ehal_fp32_to_fp16(dtype == EHAL_DTYPE_Q4_0 ? 0.01f : 0.001f);
        for (uint64_t off = 0; off + bb <= nbytes; off += bb)
            memcpy(p + off, &d, 2);
    } else if (dtype == EHAL_DTYPE_F16) {
        uint16_t *h = (uint16_t *)p;
        for (int64_t i = 0; i < nvalues; i++)
            h[i] = (uint16_t)(0x3000 + (h[i] & 0x0bff)) | (uint16_t)(h[i] & 0x8000); /* |v| < 1 */
    } else if (dtype == EHAL_DTYPE_F32) {
        float *f = (float *)p;
        for (int64_t i = 0; i < nvalues; i++)
            f[i] = (float)(next_u64() >> 40) / (float)(1u << 23) - 1.0f;
    }
    return p;
}

/* ---- one case ------------------------------------------------------------ */

#define OP_MATMUL 0
#define OP_ATTENTION 1

typedef struct bench_case {
    int op;
    uint32_t dtype;
    int64_t K, N, T;       /* matmul */
    int64_t D, C, Hq, Hkv; /* attention */
} bench_case;

typedef struct bench_result {
    bench_case c;
    int ok;
    double us, gflops, gbs;
    double cpu_us; /* median process CPU time of a run (all threads; spinning
                      workers count): on a shared machine, us / threads
                      approaches it when the run was never preempted */
    double bytes; /* weight / KV bytes one run reads */
    char err[200];
} bench_result;

#define MAX_TENSORS 6

typedef struct bench_graph {
    ehal_tensor_desc t[MAX_TENSORS];
    const ehal_tensor_desc *tp[MAX_TENSORS];
    ehal_buffer *buf[MAX_TENSORS];
    uint32_t n;
} bench_graph;

/* Adds a tensor in its own buffer of the backend, filled with data (owned
 * by the caller) or random values; weights go through prepack. */
static int add_tensor(ehal_backend *be, bench_graph *g, uint32_t dtype, uint32_t role,
                      uint32_t n_dims, const int64_t *ne, const void *data, bench_result *r)
{
    ehal_tensor_desc *t = &g->t[g->n];
    ehal_tensor_desc_init(t, dtype, n_dims, ne);
    t->role = role;
    const uint64_t nbytes = ehal_tensor_nbytes(t);
    void *host = data != NULL ? NULL : random_tensor(dtype, nbytes, ehal_tensor_nelements(t));
    if (data == NULL && host == NULL) {
        snprintf(r->err, sizeof r->err, "out of host memory for %" PRIu64 " bytes", nbytes);
        return -1;
    }
    const void *src = data != NULL ? data : host;
    ehal_status_t st;
    if (role == EHAL_ROLE_WEIGHT) {
        st = ehal_buffer_prepack(be, t, src, &g->buf[g->n]);
    } else {
        st = ehal_buffer_alloc(be, nbytes, 0, &g->buf[g->n]);
        if (st == EHAL_STATUS_OK)
            st = ehal_buffer_write(g->buf[g->n], 0, src, nbytes);
    }
    free(host);
    if (st != EHAL_STATUS_OK) {
        snprintf(r->err, sizeof r->err, "buffer of %" PRIu64 " bytes: %s", nbytes,
                 ehal_status_string(st));
        return -1;
    }
    t->buffer = ehal_buffer_handle(g->buf[g->n]);
    t->offset = 0;
    g->tp[g->n] = t;
    g->n++;
    return 0;
}

static void run_case(ehal_backend *be, const bench_case *c, int reps, bench_result *r)
{
    memset(r, 0, sizeof *r);
    r->c = *c;
    bench_graph g;
    memset(&g, 0, sizeof g);
    ehal_node_desc node;
    memset(&node, 0, sizeof node);
    node.struct_size = sizeof node;
    node.n_outputs = 1;
    ehal_params_attention ap = {0.0f, 0, 0, 0};
    double flops = 0;
    int rc = 0;
    if (c->op == OP_MATMUL) {
        rc |= add_tensor(be, &g, c->dtype, EHAL_ROLE_WEIGHT, 2, (int64_t[]){c->K, c->N}, NULL, r);
        if (rc == 0)
            rc |= add_tensor(be, &g, EHAL_DTYPE_F32, EHAL_ROLE_INPUT, 2, (int64_t[]){c->K, c->T},
                             NULL, r);
        if (rc == 0)
            rc |= add_tensor(be, &g, EHAL_DTYPE_F32, EHAL_ROLE_OUTPUT, 2,
                             (int64_t[]){c->N, c->T}, NULL, r);
        node.op = EHAL_OP_MATMUL;
        node.n_inputs = 2;
        node.inputs[0] = 0, node.inputs[1] = 1, node.outputs[0] = 2;
        flops = 2.0 * (double)c->K * (double)c->N * (double)c->T;
        r->bytes = (double)ehal_row_bytes(c->dtype, c->K) * (double)c->N;
    } else {
        const int32_t pos = (int32_t)(c->C - 1);
        rc |= add_tensor(be, &g, EHAL_DTYPE_F32, EHAL_ROLE_INPUT, 3, (int64_t[]){c->D, c->Hq, 1},
                         NULL, r);
        for (int i = 0; i < 2 && rc == 0; i++)
            rc |= add_tensor(be, &g, c->dtype, EHAL_ROLE_KV, 3, (int64_t[]){c->D, c->C, c->Hkv},
                             NULL, r);
        if (rc == 0)
            rc |= add_tensor(be, &g, EHAL_DTYPE_I32, EHAL_ROLE_INPUT, 1, (int64_t[]){1}, &pos, r);
        if (rc == 0)
            rc |= add_tensor(be, &g, EHAL_DTYPE_F32, EHAL_ROLE_OUTPUT, 3,
                             (int64_t[]){c->D, c->Hq, 1}, NULL, r);
        node.op = EHAL_OP_ATTENTION;
        node.n_inputs = 4;
        for (uint32_t i = 0; i < 4; i++)
            node.inputs[i] = i;
        node.outputs[0] = 4;
        node.params = &ap;
        node.params_size = sizeof ap;
        flops = 4.0 * (double)c->D * (double)c->C * (double)c->Hq;
        r->bytes = 2.0 * (double)ehal_row_bytes(c->dtype, c->D) * (double)c->C * (double)c->Hkv;
    }
    ehal_executable *exe = NULL;
    if (rc == 0) {
        const ehal_node_desc *np = &node;
        ehal_subgraph sg;
        memset(&sg, 0, sizeof sg);
        sg.struct_size = sizeof sg;
        sg.n_tensors = g.n;
        sg.n_nodes = 1;
        sg.tensors = g.tp;
        sg.nodes = &np;
        ehal_status_t st = ehal_prepare(be, &sg, &exe);
        double *times = malloc(sizeof(double) * 2 * (size_t)reps);
        for (int i = -1; st == EHAL_STATUS_OK && times != NULL && i < reps; i++) {
            double t0 = now_s(), c0 = cpu_s();
            st = ehal_execute(exe);
            if (st == EHAL_STATUS_OK)
                st = ehal_wait(exe, UINT64_MAX);
            if (i >= 0) {
                times[i] = now_s() - t0;
                times[reps + i] = cpu_s() - c0;
            }
        }
        if (times == NULL) {
            snprintf(r->err, sizeof r->err, "out of host memory");
        } else if (st != EHAL_STATUS_OK) {
            snprintf(r->err, sizeof r->err, "%s", ehal_status_string(st));
        } else {
            double s = median(times, reps);
            r->cpu_us = median(times + reps, reps) * 1e6;
            r->ok = 1;
            r->us = s * 1e6;
            r->gflops = flops / s * 1e-9;
            r->gbs = r->bytes / s * 1e-9;
        }
        free(times);
    }
    ehal_executable_release(exe);
    for (uint32_t i = 0; i < g.n; i++)
        ehal_buffer_free(g.buf[i]);
}

/* ---- DRAM bandwidth --------------------------------------------------------- */

typedef uint64_t v4u64 __attribute__((vector_size(32)));

typedef struct bw_slice {
    const v4u64 *p;
    size_t n; /* vectors */
    uint64_t sum;
} bw_slice;

static void *bw_read(void *arg)
{
    bw_slice *s = arg;
    v4u64 a = {0}, b = {0}, c = {0}, d = {0};
    for (size_t i = 0; i + 4 <= s->n; i += 4) {
        a ^= s->p[i];
        b ^= s->p[i + 1];
        c ^= s->p[i + 2];
        d ^= s->p[i + 3];
    }
    v4u64 x = a ^ b ^ c ^ d;
    s->sum = x[0] ^ x[1] ^ x[2] ^ x[3];
    return NULL;
}

/* Median GB/s over 5 passes (after a warm-up) of `threads` threads reading
 * disjoint slices of one mib-MiB buffer. Returns < 0 on failure. */
static double measure_bandwidth(uint64_t mib, int threads, uint64_t *checksum)
{
    const size_t bytes = (size_t)mib << 20;
    v4u64 *buf = NULL;
    if (posix_memalign((void **)&buf, 4096, bytes) != 0)
        return -1;
    memset(buf, 1, bytes);
    const size_t nvec = bytes / sizeof(v4u64);
    bw_slice sl[256];
    pthread_t th[256];
    double times[5];
    *checksum = 0;
    for (int pass = -1; pass < 5; pass++) {
        double t0 = now_s();
        for (int i = 0; i < threads; i++) {
            sl[i].p = buf + nvec * (size_t)i / (size_t)threads;
            sl[i].n = nvec * (size_t)(i + 1) / (size_t)threads - nvec * (size_t)i / (size_t)threads;
            if (i > 0 && pthread_create(&th[i], NULL, bw_read, &sl[i]) != 0) {
                free(buf);
                return -1;
            }
        }
        bw_read(&sl[0]);
        for (int i = 1; i < threads; i++)
            pthread_join(th[i], NULL);
        if (pass >= 0)
            times[pass] = now_s() - t0;
        for (int i = 0; i < threads; i++)
            *checksum ^= sl[i].sum;
    }
    free(buf);
    return (double)bytes / median(times, 5) * 1e-9;
}

/* ---- reporting ------------------------------------------------------------- */

static void case_label(const bench_case *c, char *buf, size_t n)
{
    if (c->op == OP_MATMUL)
        snprintf(buf, n, "%-9s %-5s %6" PRId64 "x%-6" PRId64 " n=%-4" PRId64, "matmul",
                 ehal_dtype_name(c->dtype), c->K, c->N, c->T);
    else
        snprintf(buf, n, "%-9s %-5s hd%-3" PRId64 " ctx%-5" PRId64 " h%" PRId64 "/%" PRId64,
                 "attention", ehal_dtype_name(c->dtype), c->D, c->C, c->Hq, c->Hkv);
}

/* bw > 0: also the traffic as a fraction of the measured DRAM bandwidth. */
static void print_result(const bench_result *r, double bw)
{
    char label[96];
    case_label(&r->c, label, sizeof label);
    if (r->ok && bw > 0)
        printf("%-40s %12.1f %10.2f %9.2f %10.1f %8.0f%%\n", label, r->us, r->gflops, r->gbs,
               r->cpu_us, 100.0 * r->gbs / bw);
    else if (r->ok)
        printf("%-40s %12.1f %10.2f %9.2f %10.1f\n", label, r->us, r->gflops, r->gbs, r->cpu_us);
    else
        printf("%-40s failed: %s\n", label, r->err);
    fflush(stdout);
}

static int write_json(const char *path, const char *backend, int threads, int reps, double bw,
                      uint64_t bw_mib, int bw_threads, const bench_result *res, int n)
{
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return -1;
    fprintf(f, "{\n  \"backend\": \"%s\",\n  \"threads\": %d,\n  \"reps\": %d,\n", backend,
            threads, reps);
    if (bw > 0)
        fprintf(f, "  \"bandwidth\": {\"mib\": %" PRIu64 ", \"threads\": %d, \"gb_per_s\": %.3f},\n",
                bw_mib, bw_threads, bw);
    fprintf(f, "  \"results\": [");
    for (int i = 0; i < n; i++) {
        const bench_result *r = &res[i];
        fprintf(f, "%s\n    {\"op\": \"%s\", \"dtype\": \"%s\", ", i ? "," : "",
                r->c.op == OP_MATMUL ? "matmul" : "attention", ehal_dtype_name(r->c.dtype));
        if (r->c.op == OP_MATMUL)
            fprintf(f, "\"k\": %" PRId64 ", \"n_out\": %" PRId64 ", \"n\": %" PRId64 ", ", r->c.K,
                    r->c.N, r->c.T);
        else
            fprintf(f,
                    "\"head_dim\": %" PRId64 ", \"ctx\": %" PRId64 ", \"heads\": %" PRId64
                    ", \"kv_heads\": %" PRId64 ", \"queries\": 1, ",
                    r->c.D, r->c.C, r->c.Hq, r->c.Hkv);
        if (r->ok)
            fprintf(f,
                    "\"median_us\": %.2f, \"gflop_per_s\": %.3f, \"gb_per_s\": %.3f, "
                    "\"cpu_us\": %.2f, \"bytes\": %.0f",
                    r->us, r->gflops, r->gbs, r->cpu_us, r->bytes);
        else
            fprintf(f, "\"error\": \"%s\"", r->err);
        if (bw > 0 && r->ok)
            fprintf(f, ", \"bandwidth_fraction\": %.3f", r->gbs / bw);
        fprintf(f, "}");
    }
    fprintf(f, "\n  ]\n}\n");
    return fclose(f) == 0 ? 0 : -1;
}

/* ---- the command -------------------------------------------------------------- */

#define MAX_CASES 64

static int default_cases(bench_case *cs, int quick)
{
    static const int64_t shapes[4][2] = {{4096, 4096}, {2048, 8192}, {8192, 2048}, {4096, 14336}};
    static const uint32_t types[3] = {EHAL_DTYPE_Q4_0, EHAL_DTYPE_Q8_0, EHAL_DTYPE_F16};
    int n = 0;
    for (int ti = 0; ti < 3; ti++)
        for (int si = 0; si < 4; si++)
            for (int ni = 0; ni < 2; ni++) {
                if (ni == 1 && quick && si != 0)
                    continue;
                bench_case c = {OP_MATMUL, types[ti], shapes[si][0], shapes[si][1],
                                ni ? 512 : 1, 0, 0, 0, 0};
                cs[n++] = c;
            }
    bench_case big = {OP_MATMUL, EHAL_DTYPE_Q4_0, 16384, 16384, 1, 0, 0, 0, 0};
    cs[n++] = big;
    static const uint32_t kv[2] = {EHAL_DTYPE_F16, EHAL_DTYPE_Q8_0};
    for (int ki = 0; ki < 2; ki++)
        for (int64_t D = 64; D <= 128; D *= 2)
            for (int64_t C = 512; C <= 4096; C *= 8) {
                bench_case c = {OP_ATTENTION, kv[ki], 0, 0, 0, D, C, 32, 8};
                cs[n++] = c;
            }
    return n;
}

/* 1 if the arguments ask for the whole-model benchmark (--model, -m). */
static int wants_model(int argc, char **argv)
{
    for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
        if (!strcmp(argv[i], "-m") || !strncmp(argv[i], "--model", 7))
            return 1;
    return 0;
}

int ehal_cmd_bench(int argc, char **argv)
{
#ifdef EHAL_HAVE_BENCH_MODEL
    if (wants_model(argc, argv))
        return ehal_bench_model(argc, argv);
#else
    if (wants_model(argc, argv)) {
        fprintf(stderr, "edgehal bench: --model: this build has no graph library\n");
        return 1;
    }
#endif
    ehal_cli_common common;
    ehal_cli_parser p;
    ehal_cli_parser_init(&p, argc, argv, bench_opts, bench_usage);
    ehal_cli_common_init(&common);
    p.common = &common;
    const char *op = NULL, *dtype = NULL, *shape = NULL, *json = NULL, *backend = "cpu";
    uint64_t n_tok = 1, head_dim = 128, ctx = 4096, heads = 32, kv_heads = 8, threads = 0;
    uint64_t reps = 5, bw_mib = 1024;
    int quick = 0, bandwidth = 0, id;
    while ((id = ehal_cli_next(&p)) > 0) {
        int bad = 0;
        switch (id) {
        case OPT_OP: op = p.value; break;
        case OPT_DTYPE: dtype = p.value; break;
        case OPT_SHAPE: shape = p.value; break;
        case OPT_N: bad = ehal_cli_value_u64(&p, 1, 1 << 20, &n_tok); break;
        case OPT_HEAD_DIM: bad = ehal_cli_value_u64(&p, 1, 4096, &head_dim); break;
        case OPT_CTX: bad = ehal_cli_value_u64(&p, 1, 1 << 24, &ctx); break;
        case OPT_HEADS: bad = ehal_cli_value_u64(&p, 1, 4096, &heads); break;
        case OPT_KV_HEADS: bad = ehal_cli_value_u64(&p, 1, 4096, &kv_heads); break;
        case OPT_THREADS: bad = ehal_cli_value_u64(&p, 1, 256, &threads); break;
        case OPT_BACKEND: backend = p.value; break;
        case OPT_REPS: bad = ehal_cli_value_u64(&p, 1, 100000, &reps); break;
        case OPT_QUICK: quick = 1; break;
        case OPT_BANDWIDTH: bandwidth = 1; break;
        case OPT_BW_MIB: bad = ehal_cli_value_u64(&p, 16, 1 << 20, &bw_mib); break;
        case OPT_JSON: json = p.value; break;
        default: return ehal_cli_unexpected(&p);
        }
        if (bad)
            return 2;
    }
    if (id != EHAL_CLI_END)
        return ehal_cli_exit_code(id);

    static bench_case cases[MAX_CASES];
    int n_cases = 0;
    if (op == NULL) {
        if (dtype != NULL || shape != NULL)
            return ehal_cli_usage_error(&p, "--dtype and --shape need --op");
        n_cases = default_cases(cases, quick);
    } else if (strcmp(op, "matmul") == 0 || strcmp(op, "attention") == 0) {
        bench_case *c = &cases[n_cases++];
        memset(c, 0, sizeof *c);
        c->op = strcmp(op, "matmul") == 0 ? OP_MATMUL : OP_ATTENTION;
        c->dtype = ehal_dtype_from_name(dtype != NULL ? dtype : c->op == OP_MATMUL ? "q4_0" : "f16");
        if (c->dtype == UINT32_MAX || !ehal_op_dtype_defined(c->op == OP_MATMUL ? EHAL_OP_MATMUL
                                                                                 : EHAL_OP_ATTENTION,
                                                             c->dtype))
            return ehal_cli_usage_error(&p, "--dtype '%s' is not a %s dtype", dtype, op);
        c->K = c->N = 4096;
        if (shape != NULL) {
            char *end = NULL;
            long long k = strtoll(shape, &end, 10), nn = 0;
            if (end != NULL && *end == 'x')
                nn = strtoll(end + 1, &end, 10);
            if (k < 1 || nn < 1 || end == NULL || *end != '\0')
                return ehal_cli_usage_error(&p, "--shape '%s' is not KxN", shape);
            c->K = k, c->N = nn;
        }
        if (c->op == OP_MATMUL && ehal_row_bytes(c->dtype, c->K) == 0)
            return ehal_cli_usage_error(&p, "--shape K %" PRId64 " is not a multiple of 32 for %s",
                                        c->K, ehal_dtype_name(c->dtype));
        c->T = (int64_t)n_tok;
        c->D = (int64_t)head_dim, c->C = (int64_t)ctx;
        c->Hq = (int64_t)heads, c->Hkv = (int64_t)kv_heads;
        if (c->op == OP_ATTENTION && heads % kv_heads != 0)
            return ehal_cli_usage_error(&p, "--heads %" PRIu64 " is not a multiple of --kv-heads %" PRIu64,
                                        heads, kv_heads);
    } else {
        return ehal_cli_usage_error(&p, "--op '%s' is not matmul or attention", op);
    }

    common.backends = backend;
    if (threads != 0) {
        char opt[EHAL_CLI_OPTION_TEXT];
        snprintf(opt, sizeof opt, "%s.threads=%" PRIu64, backend, threads);
        if (ehal_cli_common_add_option(&common, p.cmd, opt) != 0)
            return 2;
    }
    ehal_context *ctxp = NULL;
    if (ehal_cli_open_context(p.cmd, &common, EHAL_CLI_NO_SKIPPED_REPORT, &ctxp) != 0)
        return 1;
    ehal_backend *be = ehal_backend_find(ctxp, backend);
    if (be == NULL) {
        fprintf(stderr, "edgehal bench: backend '%s' is not loaded\n", backend);
        ehal_context_destroy(ctxp);
        return 1;
    }
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    const int bw_threads = threads != 0 ? (int)threads : online > 0 ? (int)online : 1;
    printf("edgehal bench: backend %s, threads %s%d, median of %d runs after 1 warm-up\n", backend,
           threads != 0 ? "" : "default/", bw_threads, (int)reps);
    double bw = 0;
    uint64_t checksum = 0;
    if (bandwidth) {
        bw = measure_bandwidth(bw_mib, bw_threads < 256 ? bw_threads : 256, &checksum);
        if (bw < 0) {
            fprintf(stderr, "edgehal bench: cannot measure bandwidth on %" PRIu64 " MiB\n", bw_mib);
            ehal_context_destroy(ctxp);
            return 1;
        }
        printf("bandwidth: %.2f GB/s (DRAM read, %" PRIu64 " MiB, %d threads)\n", bw, bw_mib,
               bw_threads);
        if (checksum == 1) /* never: keeps the reads observable */
            printf("\n");
    }
    printf("%-40s %12s %10s %9s %10s%s\n", "case", "median_us", "GFLOP/s", "GB/s", "cpu_us",
           bandwidth ? "  of DRAM" : "");
    static bench_result res[MAX_CASES];
    int failed = 0;
    for (int i = 0; i < n_cases; i++) {
        run_case(be, &cases[i], (int)reps, &res[i]);
        failed |= !res[i].ok;
        print_result(&res[i], bw);
    }
    int rc = failed ? 1 : 0;
    if (json != NULL && write_json(json, backend, (int)threads, (int)reps, bw, bw_mib, bw_threads,
                                   res, n_cases) != 0) {
        fprintf(stderr, "edgehal bench: cannot write --json '%s'\n", json);
        rc = 1;
    }
    ehal_context_destroy(ctxp);
    return rc;
}
