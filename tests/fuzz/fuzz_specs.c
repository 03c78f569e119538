/*
 * libFuzzer target: the environment strings the core parses, EHAL_FAULT
 * (fault.c) and EHAL_BACKENDS (select.c). The first byte picks which; the
 * rest is the string. A refused EHAL_FAULT must have a one-line message
 * and no rules; accepted rules must name a backend and an entry.
 */
#include <stdlib.h>
#include <string.h>

#include "fault.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1 || size > 2048)
        return 0;
    char *s = malloc(size);
    if (!s)
        return 0;
    memcpy(s, data + 1, size - 1);
    s[size - 1] = '\0';
    if (data[0] & 1) {
        ehal_i_fault_rule rules[EHAL_FAULT_MAX_RULES];
        uint32_t n = 99;
        char err[EHAL_ERROR_MAX];
        ehal_status_t st =
            ehal_i_fault_parse(s, rules, EHAL_FAULT_MAX_RULES, &n, err, sizeof err);
        if (st != EHAL_STATUS_OK) {
            if (n != 0 || !err[0] || strchr(err, '\n'))
                abort();
        } else {
            if (n > EHAL_FAULT_MAX_RULES)
                abort();
            for (uint32_t i = 0; i < n; i++)
                if (!rules[i].backend[0] || rules[i].entry >= EHAL_FAULT_N_ENTRIES ||
                    !rules[i].text[0])
                    abort();
        }
    } else {
        /* Selection of a few names; "-name" after "name" must exclude. */
        static const char *const names[] = {"cpu", "vulkan", "opencl", "npu_sim", ""};
        for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
            (void)ehal_i_backend_selected(s, names[i]);
    }
    free(s);
    return 0;
}
