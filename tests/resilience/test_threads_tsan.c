/*
 * The threading contract (docs/threading.md) exercised end to end, meant
 * to run under ThreadSanitizer (scripts/test.d/45-tsan.sh) but checking
 * values in every build:
 *  - two contexts, each with its own cpu backend and session over one
 *    shared read-only model, decode at the same time in two threads and get
 *    bit-identical logits to a run made alone first;
 *  - one session (and its context) shared by two threads that take turns
 *    under a mutex, as the contract allows (one thread at a time), gives
 *    the same logits as the same steps made by one thread.
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "edgehal/edgehal.h"
#include "edgehal/graph.h"
#include "edgehal/model.h"

#define N_PROMPT 4
#define N_DECODE 6
#define N_STEPS (1 + N_DECODE)

static ehal_model *model;
static uint32_t vocab;
static char plugin[4096];
static float reference[N_STEPS][1024]; /* logits of each step, run alone */

static ehal_context *cpu_context(void) {
    static const ehal_option opt = {.key = "cpu.threads", .value = "1"};
    ehal_context_options o;
    memset(&o, 0, sizeof o);
    o.struct_size = sizeof o;
    o.flags = EHAL_CONTEXT_NO_DEFAULT_PATHS | EHAL_CONTEXT_NO_ENV;
    o.backend_path = plugin;
    o.log_level = EHAL_LOG_WARN;
    o.backend_options = &opt;
    o.n_backend_options = 1;
    ehal_context *ctx = NULL;
    if (ehal_context_create(&o, &ctx) != EHAL_STATUS_OK || ehal_backend_count(ctx) != 1) {
        ehal_context_destroy(ctx);
        return NULL;
    }
    return ctx;
}

static int32_t argmax(const float *l) {
    int32_t best = 0;
    for (uint32_t i = 1; i < vocab; i++)
        if (l[i] > l[best])
            best = (int32_t)i;
    return best;
}

/* Prompt then greedy decode; logits of each step into out. 0 on success. */
static int decode(ehal_session *s, float (*out)[1024]) {
    const int32_t prompt[N_PROMPT] = {1, 15, 27, 42};
    if (ehal_session_eval(s, prompt, N_PROMPT, out[0]) != EHAL_STATUS_OK)
        return -1;
    for (int i = 1; i < N_STEPS; i++) {
        int32_t t = argmax(out[i - 1]);
        if (ehal_session_eval(s, &t, 1, out[i]) != EHAL_STATUS_OK)
            return -1;
    }
    return 0;
}

typedef struct worker {
    pthread_t th;
    int rc;
    char err[256];
    float logits[N_STEPS][1024];
} worker;

static void *own_context_thread(void *arg) {
    worker *w = arg;
    w->rc = -1;
    ehal_context *ctx = cpu_context();
    if (!ctx) {
        snprintf(w->err, sizeof w->err, "no context");
        return NULL;
    }
    ehal_session_options so = {.struct_size = sizeof so, .kv_capacity = 64};
    ehal_session *s = NULL;
    if (ehal_session_create(ctx, model, &so, &s, w->err, sizeof w->err) == EHAL_STATUS_OK) {
        w->rc = decode(s, w->logits);
        if (w->rc)
            snprintf(w->err, sizeof w->err, "%s", ehal_session_last_error(s));
    }
    ehal_session_free(s);
    ehal_context_destroy(ctx);
    return NULL;
}

static int setup(void **state) {
    (void)state;
    const char *dir = getenv("EHAL_TEST_PLUGIN_DIR");
    if (!dir)
        return -1;
    snprintf(plugin, sizeof plugin, "%s/libedgehal-cpu.so", dir);
    ehal_model_hparams hp;
    char err[256];
    if (ehal_model_preset_hparams("builtin", &hp) != EHAL_STATUS_OK ||
        ehal_model_generate(&hp, EHAL_DTYPE_Q8_0, 1, &model, err, sizeof err) != EHAL_STATUS_OK)
        return -1;
    vocab = ehal_model_get_hparams(model)->vocab;
    if (vocab > 1024)
        return -1;
    worker alone;
    memset(&alone, 0, sizeof alone);
    own_context_thread(&alone); /* on this thread, nothing else running */
    if (alone.rc) {
        fprintf(stderr, "reference run failed: %s\n", alone.err);
        return -1;
    }
    memcpy(reference, alone.logits, sizeof reference);
    return 0;
}

static int teardown(void **state) {
    (void)state;
    ehal_model_free(model);
    return 0;
}

static void assert_reference(float (*got)[1024], const char *who) {
    for (int i = 0; i < N_STEPS; i++)
        if (memcmp(got[i], reference[i], sizeof(float) * vocab) != 0)
            fail_msg("%s: step %d logits differ from the run made alone", who, i);
}

static void two_contexts_decode_at_once_like_alone(void **state) {
    (void)state;
    static worker w[2];
    memset(w, 0, sizeof w);
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&w[i].th, NULL, own_context_thread, &w[i]), 0);
    for (int i = 0; i < 2; i++) {
        pthread_join(w[i].th, NULL);
        if (w[i].rc)
            fail_msg("thread %d: %s", i, w[i].err);
    }
    assert_reference(w[0].logits, "thread 0");
    assert_reference(w[1].logits, "thread 1");
}

/* One session, two threads taking alternate steps under a mutex. */
typedef struct shared {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    ehal_session *s;
    int step; /* next step to run; thread k runs the steps with step % 2 == k */
    int failed;
    float logits[N_STEPS][1024];
} shared;

typedef struct turn_arg {
    shared *sh;
    int k;
} turn_arg;

static void *turn_thread(void *arg) {
    turn_arg *a = arg;
    shared *sh = a->sh;
    const int32_t prompt[N_PROMPT] = {1, 15, 27, 42};
    pthread_mutex_lock(&sh->mu);
    for (;;) {
        while (sh->step < N_STEPS && !sh->failed && sh->step % 2 != a->k)
            pthread_cond_wait(&sh->cv, &sh->mu);
        if (sh->step >= N_STEPS || sh->failed)
            break;
        int i = sh->step;
        ehal_status_t st;
        if (i == 0) {
            st = ehal_session_eval(sh->s, prompt, N_PROMPT, sh->logits[0]);
        } else {
            int32_t t = argmax(sh->logits[i - 1]);
            st = ehal_session_eval(sh->s, &t, 1, sh->logits[i]);
        }
        if (st != EHAL_STATUS_OK)
            sh->failed = 1;
        sh->step++;
        pthread_cond_broadcast(&sh->cv);
    }
    pthread_mutex_unlock(&sh->mu);
    return NULL;
}

static void one_session_shared_by_turns_like_alone(void **state) {
    (void)state;
    static shared sh;
    memset(&sh, 0, sizeof sh);
    pthread_mutex_init(&sh.mu, NULL);
    pthread_cond_init(&sh.cv, NULL);
    ehal_context *ctx = cpu_context();
    assert_non_null(ctx);
    ehal_session_options so = {.struct_size = sizeof so, .kv_capacity = 64};
    char err[256];
    assert_int_equal(ehal_session_create(ctx, model, &so, &sh.s, err, sizeof err),
                     EHAL_STATUS_OK);
    pthread_t th[2];
    turn_arg args[2] = {{&sh, 0}, {&sh, 1}};
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&th[i], NULL, turn_thread, &args[i]), 0);
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    if (sh.failed)
        fail_msg("shared session: %s", ehal_session_last_error(sh.s));
    assert_int_equal(sh.step, N_STEPS);
    assert_int_equal(ehal_session_position(sh.s), N_PROMPT + N_DECODE);
    assert_reference(sh.logits, "shared session");
    ehal_session_free(sh.s);
    ehal_context_destroy(ctx);
    pthread_mutex_destroy(&sh.mu);
    pthread_cond_destroy(&sh.cv);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(two_contexts_decode_at_once_like_alone),
        cmocka_unit_test(one_session_shared_by_turns_like_alone),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
