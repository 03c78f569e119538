/*
 * The pool publishes a run as one atomic claim word, (run number, share
 * count, next share), and bumps a generation counter to wake the workers.
 * Every thread, the caller first, claims shares from the word by
 * compare-and-swap and runs them; the caller then waits until every claimed
 * share has finished. Workers spin briefly on the generation (an op is often
 * well under a millisecond, and waking a sleeping thread costs tens of
 * microseconds), then sleep on a condition variable.
 *
 * Why claims: with a share fixed per worker, a run waited for every worker
 * to be scheduled; on a machine where another process holds a core, each of
 * a decode step's ~100 runs then waited for a time slice (a 2-thread tiny
 * decode fell from ~2300 to ~100 tokens/s). Now the caller runs the shares
 * no worker has claimed, and a worker that arrives late finds none left.
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

/* The claim word: run number (32 bits), share count (16), next share (16). */
#define CLAIM(run, nth, next) ((uint64_t)(run) << 32 | (uint64_t)(nth) << 16 | (uint64_t)(next))
#define CLAIM_RUN(c) ((uint32_t)((c) >> 32))
#define CLAIM_NTH(c) ((int)((c) >> 16 & 0xffffu))
#define CLAIM_NEXT(c) ((int)((c)&0xffffu))
#define MAX_SHARES 0xffff

struct cpu_pool {
    const ehal_host_services *host;
    int n_threads;
    int n_started; /* workers actually running (n_threads - 1 on success) */
    pthread_t *threads;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    atomic_uint generation; /* bumped per run (and at quit) to wake workers */
    atomic_int quit;
    _Atomic uint64_t claim; /* the current run's claim word */
    atomic_int finished;    /* shares of the current run finished */
    uint32_t run;           /* the caller's run counter */
    /* The current run; written before its claim word is published, and not
     * rewritten until every share of it has finished. */
    cpu_task_fn task;
    void *ctx;
};

/* Claims and runs shares of the run the claim word holds until none is
 * left or another run replaced it; the caller passes its own run. */
static void run_shares(cpu_pool *pool, int caller, uint32_t run)
{
    uint64_t c = atomic_load_explicit(&pool->claim, memory_order_acquire);
    for (;;) {
        if ((caller && CLAIM_RUN(c) != run) || CLAIM_NEXT(c) >= CLAIM_NTH(c))
            return;
        /* acquire: a successful claim sees the run's task and ctx */
        if (atomic_compare_exchange_weak_explicit(&pool->claim, &c, c + 1, memory_order_acq_rel,
                                                  memory_order_acquire)) {
            /* The run cannot finish, nor task/ctx change, before this share
             * is counted below. */
            pool->task(pool->ctx, CLAIM_NEXT(c), CLAIM_NTH(c));
            atomic_fetch_add_explicit(&pool->finished, 1, memory_order_release);
            c = atomic_load_explicit(&pool->claim, memory_order_acquire);
        }
    }
}

static void *worker_main(void *p)
{
    cpu_pool *pool = p;
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
        run_shares(pool, 0, 0);
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
    atomic_init(&pool->quit, 0);
    atomic_init(&pool->claim, CLAIM(0, 0, 0)); /* nothing to claim */
    atomic_init(&pool->finished, 0);
    if (n_threads > 1) {
        size_t n = (size_t)(n_threads - 1);
        pool->threads = ehal_sdk_calloc(host, n, sizeof(pthread_t));
        if (pool->threads == NULL) {
            cpu_pool_destroy(pool);
            return NULL;
        }
        for (size_t i = 0; i < n; i++) {
            if (pthread_create(&pool->threads[i], NULL, worker_main, pool) != 0) {
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
    if (nth > MAX_SHARES)
        nth = MAX_SHARES;
    if (pool == NULL || nth == 1 || pool->n_started == 0) {
        task(ctx, 0, 1);
        return;
    }
    /* The previous run has finished: nobody reads task/ctx until the new
     * claim word is published (release). */
    pool->task = task;
    pool->ctx = ctx;
    atomic_store_explicit(&pool->finished, 0, memory_order_relaxed);
    const uint32_t run = ++pool->run;
    atomic_store_explicit(&pool->claim, CLAIM(run, nth, 0), memory_order_release);
    pthread_mutex_lock(&pool->mu);
    atomic_fetch_add_explicit(&pool->generation, 1, memory_order_release);
    pthread_cond_broadcast(&pool->cv);
    pthread_mutex_unlock(&pool->mu);
    run_shares(pool, 1, run);
    /* Every share is claimed; wait for the ones still running elsewhere. */
    for (long i = 0; atomic_load_explicit(&pool->finished, memory_order_acquire) < nth; i++) {
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
