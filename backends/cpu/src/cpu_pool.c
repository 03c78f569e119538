/*
 * The pool hands out work by a generation counter: cpu_pool_run publishes
 * the task and bumps the generation; workers spin briefly on it (an op is
 * often well under a millisecond, and waking a sleeping thread costs tens
 * of microseconds), then sleep on a condition variable. Completion is an
 * atomic count the caller spins on, yielding if it has to wait long.
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

#include "cpu_pool.h"
#include "edgehal/backend_sdk.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define CPU_RELAX() _mm_pause()
#elif defined(__aarch64__)
#define CPU_RELAX() __asm__ __volatile__("yield")
#else
#define CPU_RELAX() ((void)0)
#endif

/* Spins before a worker sleeps (roughly 10-40 us): long enough to catch the
 * next op of a decode step, short enough not to starve other threads when
 * the machine is oversubscribed. */
#define SPIN_ROUNDS 4000

struct cpu_pool {
    const ehal_host_services *host;
    int n_threads;
    int n_started; /* workers actually running (n_threads - 1 on success) */
    pthread_t *threads;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    atomic_uint generation; /* bumped per run; odd/even does not matter */
    atomic_int done;        /* workers finished with the current run */
    atomic_int quit;
    /* The current run; written before generation is bumped. */
    cpu_task_fn task;
    void *ctx;
    int nth;
};

typedef struct worker_arg {
    cpu_pool *pool;
    int ith;
} worker_arg;

static void *worker_main(void *p)
{
    worker_arg *wa = p;
    cpu_pool *pool = wa->pool;
    const int ith = wa->ith;
    unsigned seen = 0; /* the generation at creation: no run can be missed */
    for (;;) {
        unsigned g = atomic_load_explicit(&pool->generation, memory_order_acquire);
        for (int i = 0; g == seen && i < SPIN_ROUNDS; i++) {
            CPU_RELAX();
            g = atomic_load_explicit(&pool->generation, memory_order_acquire);
        }
        if (g == seen) {
            pthread_mutex_lock(&pool->mu);
            while ((g = atomic_load(&pool->generation)) == seen && !atomic_load(&pool->quit))
                pthread_cond_wait(&pool->cv, &pool->mu);
            pthread_mutex_unlock(&pool->mu);
        }
        if (atomic_load(&pool->quit))
            break;
        seen = g;
        if (ith < pool->nth)
            pool->task(pool->ctx, ith, pool->nth);
        atomic_fetch_add_explicit(&pool->done, 1, memory_order_release);
    }
    return NULL;
}

cpu_pool *cpu_pool_create(const ehal_host_services *host, int n_threads)
{
    if (n_threads < 1)
        n_threads = 1;
    cpu_pool *pool = ehal_sdk_calloc(host, 1, sizeof *pool);
    if (pool == NULL)
        return NULL;
    pool->host = host;
    pool->n_threads = n_threads;
    pthread_mutex_init(&pool->mu, NULL);
    pthread_cond_init(&pool->cv, NULL);
    atomic_init(&pool->generation, 0);
    atomic_init(&pool->done, 0);
    atomic_init(&pool->quit, 0);
    if (n_threads > 1) {
        size_t n = (size_t)(n_threads - 1);
        pool->threads = ehal_sdk_calloc(host, n, sizeof(pthread_t) + sizeof(worker_arg));
        if (pool->threads == NULL) {
            cpu_pool_destroy(pool);
            return NULL;
        }
        worker_arg *args = (worker_arg *)(pool->threads + n);
        for (size_t i = 0; i < n; i++) {
            args[i].pool = pool;
            args[i].ith = (int)i + 1;
            if (pthread_create(&pool->threads[i], NULL, worker_main, &args[i]) != 0) {
                ehal_sdk_log(host, EHAL_LOG_ERROR, "thread pool: cannot start worker %zu of %d",
                             i + 1, n_threads);
                cpu_pool_destroy(pool);
                return NULL;
            }
            pool->n_started++;
        }
    }
    return pool;
}

void cpu_pool_destroy(cpu_pool *pool)
{
    if (pool == NULL)
        return;
    pthread_mutex_lock(&pool->mu);
    atomic_store(&pool->quit, 1);
    atomic_fetch_add(&pool->generation, 1);
    pthread_cond_broadcast(&pool->cv);
    pthread_mutex_unlock(&pool->mu);
    for (int i = 0; i < pool->n_started; i++)
        pthread_join(pool->threads[i], NULL);
    pthread_cond_destroy(&pool->cv);
    pthread_mutex_destroy(&pool->mu);
    ehal_sdk_free(pool->host, pool->threads);
    ehal_sdk_free(pool->host, pool);
}

int cpu_pool_threads(const cpu_pool *pool)
{
    return pool != NULL ? pool->n_threads : 1;
}

void cpu_pool_run(cpu_pool *pool, int n_tasks_max, cpu_task_fn task, void *ctx)
{
    int nth = cpu_pool_threads(pool);
    if (n_tasks_max < nth)
        nth = n_tasks_max < 1 ? 1 : n_tasks_max;
    if (pool == NULL || nth == 1 || pool->n_started == 0) {
        task(ctx, 0, 1);
        return;
    }
    pool->task = task;
    pool->ctx = ctx;
    pool->nth = nth;
    atomic_store_explicit(&pool->done, 0, memory_order_relaxed);
    pthread_mutex_lock(&pool->mu);
    atomic_fetch_add_explicit(&pool->generation, 1, memory_order_release);
    pthread_cond_broadcast(&pool->cv);
    pthread_mutex_unlock(&pool->mu);
    task(ctx, 0, nth);
    const int others = pool->n_started;
    for (long i = 0; atomic_load_explicit(&pool->done, memory_order_acquire) < others; i++) {
        if (i < SPIN_ROUNDS)
            CPU_RELAX();
        else
            sched_yield();
    }
}

void cpu_split(int64_t n, int64_t align, int ith, int nth, int64_t *begin, int64_t *end)
{
    if (align < 1)
        align = 1;
    int64_t units = (n + align - 1) / align;
    int64_t b = units * ith / nth * align, e = units * (ith + 1) / nth * align;
    *begin = b < n ? b : n;
    *end = e < n ? e : n;
}
