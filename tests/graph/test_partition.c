/* The partitioner: the DP against brute force on random near-chain graphs
 * with synthetic costs, memory limits, and pins. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "edgehal/graph.h"
#include "part_core.h"
#include "pins.h"

#define MAXN 10
#define MAXB 3

typedef struct rnd_problem {
    ehal_part_problem p;
    uint64_t cost[MAXN * MAXB], overhead[MAXB], fixed[MAXB * MAXB], mem[MAXN * MAXB], limit[MAXB];
    double per_byte[MAXB * MAXB];
    ehal_part_edge edges[MAXN * 3];
} rnd_problem;

static uint64_t lcg(uint64_t *s) {
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return *s >> 33;
}

static void make_problem(rnd_problem *r, uint32_t n, uint32_t B, uint64_t seed, int with_mem) {
    memset(r, 0, sizeof *r);
    uint64_t s = seed;
    for (uint32_t i = 0; i < n; i++)
        for (uint32_t b = 0; b < B; b++) {
            r->cost[i * B + b] = lcg(&s) % 10 == 0 ? EHAL_PART_INF : 100 + lcg(&s) % 1000;
            r->mem[i * B + b] = lcg(&s) % 100;
        }
    for (uint32_t b = 0; b < B; b++) {
        r->overhead[b] = lcg(&s) % 300;
        r->limit[b] = with_mem ? 100 + lcg(&s) % 300 : 0;
        if (r->cost[b] == EHAL_PART_INF && b == 0)
            r->cost[0] = 50; /* node 0 always has backend 0 */
    }
    for (uint32_t a = 0; a < B; a++)
        for (uint32_t b = 0; b < B; b++) {
            r->per_byte[a * B + b] = a == b ? 0 : 0.1 * (double)(1 + lcg(&s) % 20);
            r->fixed[a * B + b] = a == b ? 0 : lcg(&s) % 200;
        }
    uint32_t ne = 0;
    for (uint32_t i = 1; i < n; i++) {
        r->edges[ne++] = (ehal_part_edge){i - 1, i, lcg(&s) % 2000, 0};
        if (i >= 2 && lcg(&s) % 2) /* a skip edge, like the residual stream */
            r->edges[ne++] = (ehal_part_edge){(uint32_t)(lcg(&s) % (i - 1)), i, lcg(&s) % 2000,
                                              lcg(&s) % 6 == 0};
    }
    r->p = (ehal_part_problem){n,        B,  r->cost, r->overhead, r->per_byte, r->fixed,
                               r->edges, ne, r->mem,  r->limit,    NULL,        NULL};
}

/* Exhaustive minimum over every assignment that fits; INF if none. */
static uint64_t brute(const ehal_part_problem *p, uint32_t *best) {
    uint32_t a[MAXN] = {0};
    uint64_t bc = EHAL_PART_INF;
    for (;;) {
        uint64_t c = ehal_part_evaluate(p, a);
        if (c < bc && ehal_part_fits(p, a)) {
            bc = c;
            memcpy(best, a, sizeof a);
        }
        uint32_t k = 0;
        while (k < p->n_nodes && ++a[k] == p->n_backends)
            a[k++] = 0;
        if (k == p->n_nodes)
            return bc;
    }
}

static void dp_matches_brute_force_on_random_chains(void **state) {
    (void)state;
    int solved = 0;
    for (uint64_t seed = 1; seed <= 300; seed++) {
        rnd_problem r;
        uint32_t n = 2 + (uint32_t)(seed % (MAXN - 1)), B = 1 + (uint32_t)(seed % MAXB);
        make_problem(&r, n, B, seed, 0);
        uint32_t bf[MAXN], dp[MAXN];
        uint64_t want = brute(&r.p, bf), got = 0;
        char err[200];
        ehal_status_t st = ehal_part_solve(&r.p, dp, &got, err, sizeof err);
        if (want == EHAL_PART_INF) {
            assert_int_not_equal(st, EHAL_STATUS_OK);
            continue;
        }
        if (st != EHAL_STATUS_OK)
            fail_msg("seed %llu: DP failed (%s) but brute force found %llu",
                     (unsigned long long)seed, err, (unsigned long long)want);
        if (got != want)
            fail_msg("seed %llu (n %u, B %u): DP cost %llu, brute force %llu",
                     (unsigned long long)seed, n, B, (unsigned long long)got,
                     (unsigned long long)want);
        assert_int_equal(ehal_part_evaluate(&r.p, dp), want);
        solved++;
    }
    assert_true(solved > 200);
}

static void memory_limits_are_honoured(void **state) {
    (void)state;
    int feasible = 0;
    for (uint64_t seed = 1000; seed < 1200; seed++) {
        rnd_problem r;
        uint32_t n = 3 + (uint32_t)(seed % 6), B = 2 + (uint32_t)(seed % 2);
        make_problem(&r, n, B, seed, 1);
        uint32_t bf[MAXN], dp[MAXN];
        uint64_t want = brute(&r.p, bf), got = 0;
        ehal_status_t st = ehal_part_solve(&r.p, dp, &got, NULL, 0);
        if (st == EHAL_STATUS_OK) {
            /* whatever it returns fits, and is never better than optimal */
            assert_true(ehal_part_fits(&r.p, dp));
            assert_true(got >= want);
            feasible++;
        } else {
            assert_int_equal(st == EHAL_STATUS_OUT_OF_MEMORY || st == EHAL_STATUS_UNSUPPORTED, 1);
        }
    }
    assert_true(feasible > 50);
}

static void memory_limit_moves_weights_to_slower_backend(void **state) {
    (void)state;
    /* 4 nodes; backend 1 is twice as fast but holds only two nodes' weights. */
    uint64_t cost[8] = {200, 100, 200, 100, 200, 100, 200, 100};
    uint64_t mem[8] = {10, 10, 10, 10, 10, 10, 10, 10};
    uint64_t over[2] = {0, 0}, fixed[4] = {0, 0, 0, 0}, limit[2] = {0, 25};
    double pb[4] = {0, 0, 0, 0};
    ehal_part_edge e[3] = {{0, 1, 0, 0}, {1, 2, 0, 0}, {2, 3, 0, 0}};
    ehal_part_problem p = {4, 2, cost, over, pb, fixed, e, 3, mem, limit, NULL, NULL};
    uint32_t a[4];
    uint64_t c;
    assert_int_equal(ehal_part_solve(&p, a, &c, NULL, 0), EHAL_STATUS_OK);
    uint32_t on1 = (a[0] == 1) + (a[1] == 1) + (a[2] == 1) + (a[3] == 1);
    assert_int_equal(on1, 2);
    assert_int_equal(c, 600);
    limit[0] = 15; /* now nothing fits: 40 bytes, 15 + 25 of room */
    char err[200];
    assert_int_equal(ehal_part_solve(&p, a, &c, err, sizeof err), EHAL_STATUS_OUT_OF_MEMORY);
}

/* Nodes pinned (cost INF elsewhere) to a backend too small for them: the
 * error is the memory limit, naming the backend, not a KV-cache or support
 * failure that the memory prices make the DP report. */
static void pins_over_a_memory_limit_say_so(void **state) {
    (void)state;
    const uint64_t I = EHAL_PART_INF;
    uint64_t cost[8] = {I, 100, I, 100, I, 100, 200, 100};
    /* weights of 100 MB a node (the memory prices then saturate the costs
     * before they stop growing) */
    const uint64_t M = 100000000;
    uint64_t mem[8] = {M, M, M, M, M, M, M, M};
    uint64_t over[2] = {0, 0}, fixed[4] = {0, 0, 0, 0}, limit[2] = {0, 250000000};
    double pb[4] = {0, 0, 0, 0};
    ehal_part_edge e[3] = {{0, 1, 0, 0}, {1, 2, 0, 0}, {2, 3, 0, 0}};
    const char *const names[2] = {"cpu", "npu"};
    ehal_part_problem p = {4, 2, cost, over, pb, fixed, e, 3, mem, limit, names, NULL};
    uint32_t a[4];
    uint64_t c;
    char err[200];
    assert_int_equal(ehal_part_solve(&p, a, &c, err, sizeof err), EHAL_STATUS_OUT_OF_MEMORY);
    print_message("%s\n", err);
    assert_non_null(strstr(err, "backend 'npu' would hold 300000000 bytes"));
    assert_non_null(strstr(err, "its limit is 250000000"));
}

static void overhead_prevents_fragmenting(void **state) {
    (void)state;
    /* Alternating small advantages: without overhead the DP would split
     * every node; with a 1000 ns partition overhead it keeps one. */
    uint64_t cost[12] = {100, 110, 110, 100, 100, 110, 110, 100, 100, 110, 110, 100};
    uint64_t over[2] = {0, 0}, fixed[4] = {0, 0, 0, 0};
    double pb[4] = {0, 0, 0, 0};
    ehal_part_edge e[5] = {{0, 1, 0, 0}, {1, 2, 0, 0}, {2, 3, 0, 0}, {3, 4, 0, 0}, {4, 5, 0, 0}};
    ehal_part_problem p = {6, 2, cost, over, pb, fixed, e, 5, NULL, NULL, NULL, NULL};
    uint32_t a[6];
    uint64_t c;
    assert_int_equal(ehal_part_solve(&p, a, &c, NULL, 0), EHAL_STATUS_OK);
    assert_int_equal(c, 600);
    over[0] = over[1] = 1000;
    assert_int_equal(ehal_part_solve(&p, a, &c, NULL, 0), EHAL_STATUS_OK);
    for (int i = 1; i < 6; i++)
        assert_int_equal(a[i], a[0]);
    assert_int_equal(c, 630 + 1000);
}

static void tied_edges_keep_cache_with_its_reader(void **state) {
    (void)state;
    /* node 0 writes a cache (cheap on 0), node 2 reads it (cheap on 1). */
    uint64_t cost[6] = {10, 500, 100, 100, 500, 10};
    uint64_t over[2] = {0, 0}, fixed[4] = {0, 0, 0, 0};
    double pb[4] = {0, 0, 0, 0};
    ehal_part_edge e[3] = {{0, 1, 0, 0}, {1, 2, 0, 0}, {0, 2, 0, 1}};
    ehal_part_problem p = {3, 2, cost, over, pb, fixed, e, 3, NULL, NULL, NULL, NULL};
    uint32_t a[3];
    uint64_t c;
    assert_int_equal(ehal_part_solve(&p, a, &c, NULL, 0), EHAL_STATUS_OK);
    assert_int_equal(a[0], a[2]);
    assert_int_equal(c, 610);
}

/* A two-layer graph shaped like the transformer, for pins. */
static ehal_graph *layered_graph(void) {
    ehal_graph *g;
    if (ehal_graph_create(&g) != EHAL_STATUS_OK)
        return NULL;
    int64_t ne[2] = {4, 1};
    uint32_t x = ehal_graph_add_tensor(g, "x", EHAL_DTYPE_F32, EHAL_ROLE_INPUT, 2, ne);
    const uint32_t ops[4] = {EHAL_OP_ADD, EHAL_OP_MUL, EHAL_OP_ADD, EHAL_OP_MUL};
    const uint32_t sec[4] = {EHAL_SECTION_ATTN, EHAL_SECTION_ATTN, EHAL_SECTION_FFN,
                             EHAL_SECTION_FFN};
    uint32_t cur = x;
    for (int32_t l = 0; l < 3; l++)
        for (uint32_t k = 0; k < 4; k++) {
            char nm[32];
            snprintf(nm, sizeof nm, "l%d.n%u", l, k);
            uint32_t y = ehal_graph_add_tensor(g, nm, EHAL_DTYPE_F32, EHAL_ROLE_ACTIVATION, 2, ne);
            uint32_t in[2] = {cur, x};
            uint32_t n = ehal_graph_add_node(g, nm, ops[k], in, 2, y, NULL, 0);
            ehal_graph_set_node_group(g, n, l, sec[k]);
            cur = y;
        }
    ehal_graph_set_role(g, cur, EHAL_ROLE_OUTPUT);
    return g;
}

static void pins_select_layers_sections_and_ops(void **state) {
    (void)state;
    ehal_graph *g = layered_graph();
    assert_non_null(g);
    assert_int_equal(ehal_graph_validate(g), EHAL_STATUS_OK);
    const char *names[2] = {"cpu", "vulkan"};
    uint32_t pin[12];
    char err[256];
    const char *p1[] = {"layers 1-2=vulkan", "layer 2 ffn=cpu", "op:mul layer 0=vulkan"};
    assert_int_equal(ehal_pins_apply(g, p1, 3, names, 2, pin, err, sizeof err), EHAL_STATUS_OK);
    const uint32_t N = EHAL_GRAPH_NONE;
    const uint32_t want[12] = {N, 1, N, 1, 1, 1, 1, 1, 1, 1, 0, 0};
    assert_memory_equal(pin, want, sizeof want);
    const char *p2[] = {"ffn=vulkan"};
    assert_int_equal(ehal_pins_apply(g, p2, 1, names, 2, pin, err, sizeof err), EHAL_STATUS_OK);
    for (uint32_t i = 0; i < 12; i++)
        assert_int_equal(pin[i], (i % 4) >= 2 ? 1u : N);
    ehal_graph_free(g);
}

static void bad_pins_name_the_pin_and_word(void **state) {
    (void)state;
    ehal_graph *g = layered_graph();
    const char *names[2] = {"cpu", "vulkan"};
    uint32_t pin[12];
    char err[256];
    const char *bad_backend[] = {"layers 0-1=npu"};
    assert_int_equal(ehal_pins_apply(g, bad_backend, 1, names, 2, pin, err, sizeof err),
                     EHAL_STATUS_NOT_FOUND);
    assert_non_null(strstr(err, "'layers 0-1=npu'"));
    assert_non_null(strstr(err, "'npu'"));
    assert_non_null(strstr(err, "cpu, vulkan"));
    const char *bad_range[] = {"layers 3-1=cpu"};
    assert_int_equal(ehal_pins_apply(g, bad_range, 1, names, 2, pin, err, sizeof err),
                     EHAL_STATUS_INVALID_ARGUMENT);
    assert_non_null(strstr(err, "'3-1'"));
    const char *bad_sel[] = {"atention=cpu"};
    assert_int_equal(ehal_pins_apply(g, bad_sel, 1, names, 2, pin, err, sizeof err),
                     EHAL_STATUS_INVALID_ARGUMENT);
    assert_non_null(strstr(err, "'atention'"));
    const char *no_eq[] = {"layers 0-1"};
    assert_int_equal(ehal_pins_apply(g, no_eq, 1, names, 2, pin, err, sizeof err),
                     EHAL_STATUS_INVALID_ARGUMENT);
    assert_non_null(strstr(err, "SELECTOR=BACKEND"));
    const char *none[] = {"layers 7-9=cpu"};
    assert_int_equal(ehal_pins_apply(g, none, 1, names, 2, pin, err, sizeof err),
                     EHAL_STATUS_INVALID_ARGUMENT);
    assert_non_null(strstr(err, "matches no node"));
    ehal_graph_free(g);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(dp_matches_brute_force_on_random_chains),
        cmocka_unit_test(memory_limits_are_honoured),
        cmocka_unit_test(memory_limit_moves_weights_to_slower_backend),
        cmocka_unit_test(pins_over_a_memory_limit_say_so),
        cmocka_unit_test(overhead_prevents_fragmenting),
        cmocka_unit_test(tied_edges_keep_cache_with_its_reader),
        cmocka_unit_test(pins_select_layers_sections_and_ops),
        cmocka_unit_test(bad_pins_name_the_pin_and_word),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
