/* `edgehal bench --model`: whole-model pp/tg throughput (bench_model.c). */
#ifndef EHAL_BENCH_MODEL_H
#define EHAL_BENCH_MODEL_H

/* argv[0] is "bench"; the arguments include --model (or -m). Returns the
 * command's exit code: 0, 1 (a failure, one line on stderr) or 2 (usage). */
int ehal_bench_model(int argc, char **argv);

#endif
