/*
 * docs/threading.md rule 2: distinct contexts are independent. Several
 * threads each create a context over the same plugins, run a subgraph and
 * destroy it, at the same time; every thread gets its own correct result.
 */
#include <pthread.h>

#include "hal_test.h"

#define N_THREADS 4
#define N_ROUNDS 25

typedef struct job {
    float bias; /* each thread adds its own values so results cannot mix */
    int failures;
} job;

static int one_round(float bias) {
    ehal_context_options o = test_options(MOCK_SO ":" FROZEN_SO, NULL, EHAL_LOG_ERROR);
    ehal_context *ctx = NULL;
    if (ehal_context_create(&o, &ctx) != EHAL_STATUS_OK)
        return 1;
    int bad = ehal_backend_count(ctx) != 2;
    ehal_backend *be = ehal_backend_find(ctx, "mock");
    ehal_buffer *in = NULL, *out = NULL;
    ehal_executable *exe = NULL;
    float v[8], r[4];
    for (int i = 0; i < 4; i++) {
        v[i] = (float)i;
        v[4 + i] = bias;
    }
    bad |= !be || ehal_buffer_alloc(be, sizeof v, 0, &in) || ehal_buffer_alloc(be, 16, 0, &out) ||
           ehal_buffer_write(in, 0, v, sizeof v);
    if (!bad) {
        ehal_tensor_desc t[3] = {f32_tensor(4, 1, in, 0), f32_tensor(4, 1, in, 16),
                                 f32_tensor(4, 1, out, 0)};
        const ehal_tensor_desc *tp[3] = {&t[0], &t[1], &t[2]};
        ehal_node_desc n = binary_node(EHAL_OP_ADD, 0, 1, 2);
        const ehal_node_desc *np[1] = {&n};
        ehal_subgraph sg = {.struct_size = sizeof sg, .n_tensors = 3, .n_nodes = 1,
                            .tensors = tp, .nodes = np};
        bad |= ehal_prepare(be, &sg, &exe) || ehal_execute(exe) || ehal_wait(exe, UINT64_MAX) ||
               ehal_buffer_read(out, 0, r, sizeof r);
        for (int i = 0; !bad && i < 4; i++)
            bad |= r[i] != (float)i + bias;
    }
    ehal_executable_release(exe);
    ehal_buffer_free(in);
    ehal_buffer_free(out);
    ehal_context_destroy(ctx);
    return bad;
}

static void *worker(void *arg) {
    job *j = arg;
    for (int k = 0; k < N_ROUNDS; k++)
        j->failures += one_round(j->bias);
    return NULL;
}

static void contexts_on_different_threads_do_not_interfere(void **state) {
    (void)state;
    pthread_t th[N_THREADS];
    job jobs[N_THREADS];
    for (int i = 0; i < N_THREADS; i++) {
        jobs[i] = (job){.bias = 100.0f * (float)(i + 1), .failures = 0};
        assert_int_equal(pthread_create(&th[i], NULL, worker, &jobs[i]), 0);
    }
    for (int i = 0; i < N_THREADS; i++)
        assert_int_equal(pthread_join(th[i], NULL), 0);
    for (int i = 0; i < N_THREADS; i++)
        assert_int_equal(jobs[i].failures, 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(contexts_on_different_threads_do_not_interfere),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
