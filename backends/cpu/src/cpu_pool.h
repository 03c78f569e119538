/*
 * A persistent worker pool: n_threads - 1 workers are started at creation
 * and live until cpu_pool_destroy; the calling thread works in every run.
 * No thread is created per op.
 *
 * A run of nth shares: share ith runs task(ctx, ith, nth) exactly once, on
 * whichever thread claims it first (the caller included), so a worker the
 * OS has not scheduled does not hold the run up: the caller runs its share.
 * A task may keep per-share state indexed by ith (no two threads run one
 * share), never per-thread state.
 *
 * Thread-safety: one thread at a time calls cpu_pool_run on a pool (the
 * backend's threading contract: one backend is used by one thread at a
 * time). cpu_pool_run returns after every share finished.
 */
#ifndef EHAL_CPU_POOL_H
#define EHAL_CPU_POOL_H

#include "edgehal/backend_abi.h"

typedef struct cpu_pool cpu_pool;

/* Share ith of nth: task(ctx, ith, nth); the task splits its work. */
typedef void (*cpu_task_fn)(void *ctx, int ith, int nth);

/* n_threads >= 1. Returns NULL (and logs) if memory or a thread cannot be
 * had; the pool then is not usable and the caller runs single-threaded. */
cpu_pool *cpu_pool_create(const ehal_host_services *host, int n_threads);
/* Joins every worker; NULL is ignored. */
void cpu_pool_destroy(cpu_pool *pool);
int cpu_pool_threads(const cpu_pool *pool); /* 1 for NULL */
/* Runs min(n_tasks_max, threads) shares (at least 1); NULL pool: runs
 * task(ctx, 0, 1) on the caller. */
void cpu_pool_run(cpu_pool *pool, int n_tasks_max, cpu_task_fn task, void *ctx);

/* Splits [0, n) into nth near-equal ranges aligned to `align` items; range
 * ith is [*begin, *end). */
void cpu_split(int64_t n, int64_t align, int ith, int nth, int64_t *begin, int64_t *end);

#endif
