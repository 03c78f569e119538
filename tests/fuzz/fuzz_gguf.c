/*
 * libFuzzer target: the GGUF reader. The input is written to a memfd and
 * opened by path (/proc/self/fd/N), as a downloaded file would be. A
 * refusal must come with a non-empty one-line message; an accepted model
 * must have tensors whose data lies inside the file.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "edgehal/model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    int fd = memfd_create("fuzz.gguf", 0);
    if (fd < 0)
        return 0;
    size_t done = 0;
    while (done < size) {
        ssize_t w = write(fd, data + done, size - done);
        if (w <= 0)
            break;
        done += (size_t)w;
    }
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    ehal_model *m = NULL;
    char err[256] = "";
    ehal_status_t st = ehal_model_load_gguf(path, &m, err, sizeof err);
    if (st != EHAL_STATUS_OK) {
        if (!err[0] || strchr(err, '\n') || m)
            abort(); /* a refusal without one message line, or with a model */
    } else {
        uint32_t n = ehal_model_tensor_count(m);
        volatile uint8_t sink = 0;
        for (uint32_t i = 0; i < n; i++) {
            const ehal_model_tensor *t = ehal_model_tensor_at(m, i);
            if (!t || !t->name)
                abort();
            /* Touch the first and last byte: ASan/SEGV if outside the map. */
            if (t->size) {
                sink ^= ((const uint8_t *)t->data)[0];
                sink ^= ((const uint8_t *)t->data)[t->size - 1];
            }
        }
        (void)sink;
        (void)ehal_model_get_hparams(m);
        ehal_model_free(m);
    }
    close(fd);
    return 0;
}
