#include "vk_validation.h"

#include <string.h>

#define VALIDATION_PREFIX "vulkan validation: "

unsigned vk_validation_messages;
int vk_validation_enabled;

static void count_validation(int32_t level, const char *msg) {
    (void)level;
    if (strncmp(msg, VALIDATION_PREFIX, strlen(VALIDATION_PREFIX)) == 0) {
        vk_validation_messages++;
    }
    if (strstr(msg, "validation layer enabled")) {
        vk_validation_enabled = 1;
    }
}

int vk_open(ph_backend *b) {
    ph_set_log_observer(count_validation);
    return ph_open(b, "vulkan", NULL, 0);
}
