/*
 * Logging, allocation and option parsing through host services.
 *
 * Host services may come from a core of an older or newer revision, so every
 * field is read only when host->struct_size covers it (R1); an absent log is
 * a no-op and an absent allocator falls back to malloc/free.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edgehal/backend_sdk.h"

#define SDK_HOST_HAS(h, field)                                                              \
    ((h) != NULL &&                                                                        \
     (h)->struct_size >= offsetof(ehal_host_services, field) + sizeof((h)->field) &&       \
     (h)->field != NULL)

/* One log line; longer messages are truncated, never split. */
#define SDK_LOG_LINE_MAX 512

void ehal_sdk_log(const ehal_host_services *host, int32_t level, const char *fmt, ...)
{
    if (!SDK_HOST_HAS(host, log) || fmt == NULL)
        return;
    char line[SDK_LOG_LINE_MAX];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    host->log(host->user, level, line);
}

/* Both allocators must be present to use the host's: memory from one side
 * must never be released by the other. */
static int host_allocates(const ehal_host_services *host)
{
    return SDK_HOST_HAS(host, alloc) && SDK_HOST_HAS(host, free);
}

void *ehal_sdk_alloc(const ehal_host_services *host, size_t size)
{
    if (size == 0)
        size = 1; /* a distinct, freeable pointer, as malloc(0) may not give */
    if (host_allocates(host))
        return host->alloc(host->user, size, 0);
    return malloc(size);
}

void *ehal_sdk_calloc(const ehal_host_services *host, size_t n, size_t size)
{
    if (size != 0 && n > SIZE_MAX / size)
        return NULL;
    size_t total = n * size;
    void *p = ehal_sdk_alloc(host, total);
    if (p != NULL && total != 0)
        memset(p, 0, total);
    return p;
}

void ehal_sdk_free(const ehal_host_services *host, void *ptr)
{
    if (ptr == NULL)
        return;
    if (host_allocates(host))
        host->free(host->user, ptr);
    else
        free(ptr);
}

/* The last occurrence of a key wins, so appended options override earlier
 * ones. */
const char *ehal_sdk_option(const ehal_option *opts, uint32_t n_opts, const char *key)
{
    if (opts == NULL || key == NULL)
        return NULL;
    const char *value = NULL;
    for (uint32_t i = 0; i < n_opts; i++) {
        if (opts[i].key != NULL && strcmp(opts[i].key, key) == 0)
            value = opts[i].value;
    }
    return value;
}

/* Decimal digits, then at most one of K, M, G (binary multiples: 1024,
 * 1024^2, 1024^3), nothing else: no sign, no spaces, no hex. */
static int parse_u64(const char *s, uint64_t *out)
{
    if (s == NULL || !isdigit((unsigned char)s[0]))
        return 0;
    uint64_t v = 0;
    const char *p = s;
    for (; isdigit((unsigned char)*p); p++) {
        uint64_t d = (uint64_t)(*p - '0');
        if (v > (UINT64_MAX - d) / 10)
            return 0;
        v = v * 10 + d;
    }
    uint64_t mult = 1;
    switch (*p) {
    case '\0':
        break;
    case 'K':
    case 'k':
        mult = 1024ull;
        p++;
        break;
    case 'M':
    case 'm':
        mult = 1024ull * 1024ull;
        p++;
        break;
    case 'G':
    case 'g':
        mult = 1024ull * 1024ull * 1024ull;
        p++;
        break;
    default:
        return 0;
    }
    if (*p != '\0')
        return 0;
    if (v > UINT64_MAX / mult)
        return 0;
    *out = v * mult;
    return 1;
}

ehal_status_t ehal_sdk_option_u64(const ehal_host_services *host, const ehal_option *opts,
                                  uint32_t n_opts, const char *key, uint64_t *out)
{
    if (key == NULL || out == NULL) {
        ehal_sdk_log(host, EHAL_LOG_ERROR, "option: %s is NULL", key == NULL ? "key" : "out");
        return EHAL_STATUS_INVALID_ARGUMENT;
    }
    if (opts == NULL && n_opts != 0) {
        ehal_sdk_log(host, EHAL_LOG_ERROR, "option '%s': options array is NULL with %u entries",
                     key, n_opts);
        return EHAL_STATUS_INVALID_ARGUMENT;
    }
    const char *value = ehal_sdk_option(opts, n_opts, key);
    if (value == NULL)
        return EHAL_STATUS_OK;
    uint64_t v = 0;
    if (!parse_u64(value, &v)) {
        ehal_sdk_log(host, EHAL_LOG_ERROR,
                     "option '%s': value '%s' is not a non-negative integer "
                     "(decimal, optional K/M/G suffix)",
                     key, value);
        return EHAL_STATUS_INVALID_ARGUMENT;
    }
    *out = v;
    return EHAL_STATUS_OK;
}
