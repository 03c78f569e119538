/*
 * Vulkan side of the plugin test harness: opens the vulkan plugin and
 * counts the Khronos validation layer's messages, which the plugin's debug
 * messenger forwards to the host log prefixed "vulkan validation: ".
 */
#ifndef EHAL_VK_VALIDATION_H
#define EHAL_VK_VALIDATION_H
#include "plugin_harness.h"

extern unsigned vk_validation_messages; /* validation-layer messages seen */
extern int vk_validation_enabled;       /* the plugin said the layer is on */

/* ph_open(b, "vulkan", NULL, 0) with the counters above hooked to the log. */
int vk_open(ph_backend *b);
#endif
