/*
 * MATMUL kernels: one table per weight dtype (the kernel families), each
 * entry a micro-kernel named dtype_op_tile__isa after XNNPACK's convention,
 * e.g. q4_0_q8_0_gemv_4x1__avx2: Q4_0 weights times Q8_0-quantized
 * activations, a GEMV tile of 4 weight rows x 1 activation column, AVX2.
 *
 * Activations of Q4_0/Q8_0 matmuls are quantized per column with quant.h's
 * Q8_0 quantizer (d = max|x|/127) and repacked into cpu_qgroup groups of 4
 * blocks (128 values): the order of the int8 values within a group matches
 * how the weight kind unpacks (see cpu_qgroup), so no kernel shuffles.
 * Results are then sum over blocks of d_w * d_x * (integer dot product).
 */
#ifndef EHAL_CPU_MATMUL_H
#define EHAL_CPU_MATMUL_H

#include <stddef.h>
#include <stdint.h>

#include "cpu_isa.h"
#include "edgehal/quant.h"

/* Four Q8_0 activation blocks b0..b3 (values v[b][0..31]).
 *  Q4 layout (for Q4_0 weights, whose byte j of a block holds values j
 *  (low nibble) and j+16 (high nibble)):
 *     qs[16*b + j] = v[b][j],  qs[64 + 16*b + j] = v[b][16 + j]   (j < 16)
 *     corr[4*b] = -8 * sum_j v[b][j], the other corr lanes 0: the dot of
 *     unsigned nibbles q with v plus corr is the dot of (q - 8) with v, and
 *     corr sits in the first int32 lane of each block's four.
 *  Q8 layout (for Q8_0 weights): qs[32*b + j] = v[b][j]; corr unused (0).
 *  Q8S layout (for Q8_0 weights taken as unsigned w + 128): the Q4
 *     layout's qs, with corr[4*b] = -128 * sum_j v[b][j].
 *  d[b] is the block's activation scale as float.
 * A row whose block count is not a multiple of 4 ends in a partial group
 * whose missing blocks are zero (qs, corr and d). */
typedef struct cpu_qgroup {
    int8_t qs[128];
    int32_t corr[16];
    float d[4];
} cpu_qgroup;

#define CPU_ACT_Q4 0
#define CPU_ACT_Q8 1
#define CPU_ACT_F32 2
#define CPU_ACT_Q8S 3

/* Software prefetch of the next row tile's weights (cpu_mm_tile.pf). */
#define CPU_MM_PF_NONE 0
#define CPU_MM_PF_L1 1 /* into L1: a row tile small enough to sit there with the current one */
#define CPU_MM_PF_L2 2 /* into L2 only */

/* One tile: rows [0, mr) of W (row r at w + r*w_stride bytes) times
 * columns [0, nc) of the activations (column c at x + c*x_stride bytes:
 * cpu_qgroup[] for quantized weights, float[K] for F16), written to
 * y[c*ldy + r]. K is the row length in values (a multiple of 32 for
 * quantized weights). mr <= the variant's mr, nc <= its nr.
 * pf (CPU_MM_PF_*) asks a quantized tile that honours it to prefetch the
 * mr rows that follow its own ([w + mr*w_stride, w + 2*mr*w_stride)),
 * spread evenly over its groups; the bytes may lie past the weights' end
 * (prefetches do not fault). A hint only: results do not depend on it. */
typedef struct cpu_mm_tile {
    int64_t K;
    const uint8_t *w;
    size_t w_stride;
    int mr;
    const uint8_t *x;
    size_t x_stride;
    int nc;
    float *y;
    size_t ldy;
    int pf;
    int acc_y; /* tiles of variants with unpack: add to y instead of storing */
} cpu_mm_tile;

typedef void (*cpu_mm_tile_fn)(const cpu_mm_tile *t);
/* Unpacks rows [0, t->mr) of a tile's weights, every group of K (the
 * partial last one included), into `out`: cpu_act_groups(K) *
 * unpack_group_bytes bytes in the variant's own layout. Honours t->pf. */
typedef void (*cpu_mm_unpack_fn)(const cpu_mm_tile *t, uint8_t *out);

#define CPU_MM_GEMV 0 /* used for n <= CPU_MM_GEMV_MAX_N columns */
#define CPU_MM_GEMM 1
#define CPU_MM_GEMV_MAX_N 8
/* A GEMM variant with an unpack step already wins from this many columns
 * (AVX-512 VNNI, 2048x8192 at 1 thread: n=4 0.96 ms against the GEMV tile's
 * 1.44 ms, n=8 1.32 against 3.06; n=2 0.97 against 0.71). */
#define CPU_MM_UNPACKED_MIN_N 4

typedef struct cpu_mm_variant {
    const char *name;  /* dtype_op_tile__isa */
    uint32_t wtype;    /* weight dtype */
    int kind;          /* CPU_MM_GEMV or CPU_MM_GEMM */
    cpu_isa isa;
    int act;           /* CPU_ACT_* layout the tile reads */
    int mr, nr;        /* largest tile: weight rows x activation columns */
    cpu_mm_tile_fn fn;
    /* Optional (GEMM): the driver splits K into blocks and unpacks each
     * row tile once per (column chunk, K block) with `unpack`, into
     * unpack_group_bytes per group of the block; fn then takes t->w = the
     * unpacked rows, with t->acc_y set on the blocks after the first. */
    cpu_mm_unpack_fn unpack;
    size_t unpack_group_bytes;
} cpu_mm_variant;

/* All variants, best first within each (wtype, kind); ends with a NULL name. */
extern const cpu_mm_variant cpu_mm_variants[];

/* Quantizes one activation column of K values (K % 32 == 0) into
 * ceil(K/128) groups in the given layout. */
void cpu_quantize_act(const float *x, int64_t K, int layout, cpu_qgroup *out);
/* The same with another Q8_0 row quantizer producing ehal_quantize_row_q8_0's
 * bytes (the matmul driver passes the vector one of cpu_vec.h). */
void cpu_quantize_act_with(void (*quantize_q8_0)(const float *, ehal_block_q8_0 *, int64_t),
                           const float *x, int64_t K, int layout, cpu_qgroup *out);
int64_t cpu_act_groups(int64_t K);

/* The scalar tiles' dot product of one weight row's blocks [b0, nb)
 * (block index from the row start) with one activation column in the
 * kind's group layout. The SIMD tiles do not use them: they run a row's
 * partial last group through their group code on a padded copy
 * (cpu_tile.h, cpu_tile_tail_copy). */
float cpu_mm_tail_q4_0(const uint8_t *wrow, int64_t b0, int64_t nb, const cpu_qgroup *x);
float cpu_mm_tail_q8_0(const uint8_t *wrow, int64_t b0, int64_t nb, const cpu_qgroup *x);

/* Tiles, one per file by ISA (cpu_mm_scalar.c, cpu_mm_avx2.c, ...). */
void cpu_mm_q4_0_scalar(const cpu_mm_tile *t);
void cpu_mm_q8_0_scalar(const cpu_mm_tile *t);
void cpu_mm_f16_scalar(const cpu_mm_tile *t);
void cpu_mm_q4_0_avx2(const cpu_mm_tile *t);
void cpu_mm_q8_0_avx2(const cpu_mm_tile *t);
void cpu_mm_f16_avx2(const cpu_mm_tile *t);
void cpu_mm_q4_0_neon(const cpu_mm_tile *t);
void cpu_mm_q8_0_neon(const cpu_mm_tile *t);
void cpu_mm_q4_0_dotprod(const cpu_mm_tile *t);
void cpu_mm_q8_0_dotprod(const cpu_mm_tile *t);
void cpu_mm_q4_0_i8mm(const cpu_mm_tile *t);
void cpu_mm_q8_0_i8mm(const cpu_mm_tile *t);
void cpu_mm_q4_0_avx512vnni(const cpu_mm_tile *t);
void cpu_mm_q8_0_avx512vnni(const cpu_mm_tile *t);
void cpu_mm_gemm_unpacked_avx512vnni(const cpu_mm_tile *t);
void cpu_mm_q4_0_unpack_avx512vnni(const cpu_mm_tile *t, uint8_t *out);
void cpu_mm_q8_0_unpack_avx512vnni(const cpu_mm_tile *t, uint8_t *out);

/* Runs MATMUL with the chosen variants (either may be NULL: then the other
 * kind is used for every n). Work is split by output rows over the pool. */
struct cpu_pool;
ehal_status_t cpu_matmul_run(struct cpu_pool *pool, const cpu_mm_variant *gemv,
                             const cpu_mm_variant *gemm, const void *w, uint32_t wtype,
                             int64_t K, int64_t N, const float *x, int64_t T, float *y,
                             const ehal_host_services *host);

/* The first enabled variant for (wtype, kind), or NULL. */
const cpu_mm_variant *cpu_mm_pick(uint32_t wtype, int kind);

#endif
