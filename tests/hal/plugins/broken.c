/*
 * Deliberately broken plugins, one per BROKEN_KIND, for the loader's
 * negative tests. Each must be skipped with its own one-line reason while
 * the good plugins beside it still load.
 *   1 nosym     exports a misspelled entry symbol, not ehal_backend_entry
 *   2 badver    implements only ABI revision 7
 *   3 short     a function table of 64 bytes
 *   4 initfail  init logs an error and fails with OUT_OF_MEMORY
 *   5 notplugin an ordinary shared library with no edgehal symbol at all
 */
#include <stddef.h>
#include <string.h>

#include "edgehal/backend_abi.h"

#if BROKEN_KIND == 5
EHAL_PLUGIN_EXPORT int notaplugin_add(int a, int b);
int notaplugin_add(int a, int b) {
    return a + b;
}
#else

static ehal_status_t b_init(const ehal_host_services *host, const ehal_option *opts,
                            uint32_t n_opts, ehal_backend_impl **out) {
    (void)opts, (void)n_opts, (void)out;
    host->log(host->user, EHAL_LOG_ERROR, "cannot reserve the device arena of 1 GiB");
    return EHAL_STATUS_OUT_OF_MEMORY;
}
static void b_destroy(ehal_backend_impl *be) {
    (void)be;
}
static ehal_status_t b_device_info(ehal_backend_impl *be, ehal_device_info *info) {
    (void)be, (void)info;
    return EHAL_STATUS_INTERNAL;
}
static ehal_status_t b_query_op(ehal_backend_impl *be, const ehal_subgraph *sg, uint32_t node,
                                ehal_op_support *out) {
    (void)be, (void)sg, (void)node;
    out->level = EHAL_SUPPORT_UNSUPPORTED;
    return EHAL_STATUS_OK;
}
static ehal_status_t b_buffer_alloc(ehal_backend_impl *be, uint64_t size, uint32_t flags,
                                    ehal_buffer_impl **out) {
    (void)be, (void)size, (void)flags, (void)out;
    return EHAL_STATUS_UNIMPLEMENTED;
}
static void b_buffer_free(ehal_backend_impl *be, ehal_buffer_impl *buf) {
    (void)be, (void)buf;
}
static ehal_status_t b_buffer_rw(ehal_backend_impl *be, ehal_buffer_impl *buf, uint64_t off,
                                 const void *src, uint64_t size) {
    (void)be, (void)buf, (void)off, (void)src, (void)size;
    return EHAL_STATUS_UNIMPLEMENTED;
}
static ehal_status_t b_buffer_read(ehal_backend_impl *be, ehal_buffer_impl *buf, uint64_t off,
                                   void *dst, uint64_t size) {
    (void)be, (void)buf, (void)off, (void)dst, (void)size;
    return EHAL_STATUS_UNIMPLEMENTED;
}
static ehal_status_t b_prepare(ehal_backend_impl *be, const ehal_subgraph *sg,
                               ehal_executable_impl **out) {
    (void)be, (void)sg, (void)out;
    return EHAL_STATUS_UNIMPLEMENTED;
}
static ehal_status_t b_execute(ehal_backend_impl *be, ehal_executable_impl *exe,
                               const ehal_execute_args *args) {
    (void)be, (void)exe, (void)args;
    return EHAL_STATUS_UNIMPLEMENTED;
}
static ehal_status_t b_wait(ehal_backend_impl *be, ehal_executable_impl *exe, uint64_t t) {
    (void)be, (void)exe, (void)t;
    return EHAL_STATUS_UNIMPLEMENTED;
}
static void b_release(ehal_backend_impl *be, ehal_executable_impl *exe) {
    (void)be, (void)exe;
}

#if BROKEN_KIND == 3
#define TABLE_SIZE 64u
#else
#define TABLE_SIZE ((uint32_t)sizeof(ehal_backend_iface))
#endif

static const ehal_backend_iface table = {
    TABLE_SIZE,    0,          "broken",       b_init,        b_destroy,
    b_device_info, b_query_op, b_buffer_alloc, b_buffer_free, b_buffer_rw,
    b_buffer_read, NULL,       NULL,           NULL,          NULL,
    b_prepare,     b_execute,  b_wait,         b_release};

#if BROKEN_KIND == 1
#define ENTRY ehal_backend_entry_v0 /* misspelled on purpose */
#else
#define ENTRY ehal_backend_entry
#endif

EHAL_PLUGIN_EXPORT ehal_status_t ENTRY(ehal_entry_args *args);
ehal_status_t ENTRY(ehal_entry_args *args) {
#if BROKEN_KIND == 2
    (void)table;
    args->plugin_version = 7;
    return EHAL_STATUS_INCOMPATIBLE;
#else
    args->plugin_version = EHAL_ABI_VERSION;
    args->iface = &table;
    return EHAL_STATUS_OK;
#endif
}
#endif
