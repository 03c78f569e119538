/* Running under sanitizers: the timeout scale for instrumented code, and
 * naming a sanitizer report that kills a case child. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define CONF_SAN_BUILD 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || \
    __has_feature(memory_sanitizer)
#define CONF_SAN_BUILD 1
#endif
#endif
#ifndef CONF_SAN_BUILD
#define CONF_SAN_BUILD 0
#endif

/* The sanitizer runtimes' public interface (sanitizer/common_interface_defs.h,
 * sanitizer/asan_interface.h). Weak: null when no runtime is linked. */
extern void __sanitizer_set_death_callback(void (*callback)(void)) __attribute__((weak));
extern int __asan_report_present(void) __attribute__((weak));
extern const char *__asan_get_report_description(void) __attribute__((weak));
extern int __asan_get_report_access_type(void) __attribute__((weak));
extern size_t __asan_get_report_access_size(void) __attribute__((weak));

int conf_sanitized(void) {
    const char *e = getenv("EHAL_SANITIZED");
    return CONF_SAN_BUILD || (e && *e);
}

double conf_timeout_s(const ehal_conf_options *o) {
    if (o->timeout_s > 0)
        return o->timeout_s;
    return CONF_DEFAULT_TIMEOUT_S * (conf_sanitized() ? CONF_SANITIZED_TIMEOUT_SCALE : 1.0);
}

int conf_on_sanitizer_death(void (*fn)(void)) {
    if (!__sanitizer_set_death_callback)
        return -1;
    __sanitizer_set_death_callback(fn);
    return 0;
}

void conf_sanitizer_report(char *msg, size_t n) {
    const char *d = NULL;
    if (__asan_report_present && __asan_report_present() && __asan_get_report_description)
        d = __asan_get_report_description();
    if (!d || !*d) {
        conf_set_msg(msg, n, "sanitizer report");
        return;
    }
    if (__asan_get_report_access_type && __asan_get_report_access_size)
        conf_set_msg(msg, n, "sanitizer report: %s, %s of %zu bytes", d,
                     __asan_get_report_access_type() ? "WRITE" : "READ",
                     __asan_get_report_access_size());
    else
        conf_set_msg(msg, n, "sanitizer report: %s", d);
}
