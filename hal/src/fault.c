/*
 * EHAL_FAULT: makes a loaded backend fail on demand, for testing recovery.
 * The loader parses the rules once per context (a malformed value fails
 * ehal_context_create) and, after a plugin's device is open, puts a wrapper
 * table in front of the plugin's: each wrapped entry counts its calls and,
 * when a rule triggers, returns the rule's status without calling the
 * plugin, records "injected by EHAL_FAULT rule ..." as the plugin's last
 * error and logs one line naming the rule (WARN the first time a rule
 * fires, DEBUG after). Because only the core's copy of the table changes,
 * this works for every plugin, built here or by a vendor.
 *
 * Thread-safety: the counters live in the wrapper of one backend instance,
 * whose entries the core never runs concurrently (docs/threading.md rule
 * 6), so they need no lock.
 */
#include "fault.h"

#include <stdio.h>
#include <string.h>

static const char *const entry_names[EHAL_FAULT_N_ENTRIES] = {
    "execute", "wait", "prepare", "alloc", "write", "read", "query", "map", "lost"};

/* ---- parsing ------------------------------------------------------------ */

static int parse_count(const char *s, size_t len, uint64_t *out) {
    uint64_t v = 0;
    if (len == 0 || len > 18)
        return 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return 0;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    *out = v;
    return 1;
}

static int valid_backend_name(const char *s, size_t len) {
    if (len == 1 && s[0] == '*')
        return 1;
    if (len == 0 || len > 63)
        return 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == '.'))
            return 0;
    }
    return 1;
}

/* One rule of len bytes at s (not NUL-terminated, no separators). */
static int parse_rule(const char *s, size_t len, ehal_i_fault_rule *r, char *err,
                      size_t err_size) {
    memset(r, 0, sizeof *r);
    if (len >= sizeof r->text) {
        snprintf(err, err_size, "EHAL_FAULT rule \"%.40s...\" is longer than %zu characters", s,
                 sizeof r->text - 1);
        return 0;
    }
    memcpy(r->text, s, len);
    r->text[len] = '\0';
    const char *f[5] = {NULL};
    size_t fl[5] = {0};
    uint32_t nf = 0;
    const char *p = r->text;
    for (;;) {
        const char *c = strchr(p, ':');
        if (nf == 5) {
            snprintf(err, err_size,
                     "EHAL_FAULT rule \"%s\": too many fields (want "
                     "<backend>:<entry>:<after=N|at=N>[:once])",
                     r->text);
            return 0;
        }
        f[nf] = p;
        fl[nf] = c ? (size_t)(c - p) : strlen(p);
        nf++;
        if (!c)
            break;
        p = c + 1;
    }
    if (nf < 3 || nf > 4) {
        snprintf(err, err_size,
                 "EHAL_FAULT rule \"%s\": want <backend>:<entry>:<after=N|at=N>[:once], got %u "
                 "field(s)",
                 r->text, (unsigned)nf);
        return 0;
    }
    if (!valid_backend_name(f[0], fl[0])) {
        snprintf(err, err_size,
                 "EHAL_FAULT rule \"%s\": backend \"%.*s\" is not a backend name or *", r->text,
                 (int)fl[0], f[0]);
        return 0;
    }
    memcpy(r->backend, f[0], fl[0]);
    r->backend[fl[0]] = '\0';
    uint32_t e = 0;
    while (e < EHAL_FAULT_N_ENTRIES &&
           !(strlen(entry_names[e]) == fl[1] && memcmp(entry_names[e], f[1], fl[1]) == 0))
        e++;
    if (e == EHAL_FAULT_N_ENTRIES) {
        snprintf(err, err_size,
                 "EHAL_FAULT rule \"%s\": unknown entry \"%.*s\" (execute, wait, prepare, alloc, "
                 "write, read, query, map, lost)",
                 r->text, (int)fl[1], f[1]);
        return 0;
    }
    r->entry = (ehal_i_fault_entry)e;
    uint64_t n;
    if (fl[2] > 6 && memcmp(f[2], "after=", 6) == 0 && parse_count(f[2] + 6, fl[2] - 6, &n)) {
        r->pass = n;
    } else if (fl[2] > 3 && memcmp(f[2], "at=", 3) == 0 && parse_count(f[2] + 3, fl[2] - 3, &n) &&
               n >= 1) {
        r->pass = n - 1;
    } else {
        snprintf(err, err_size,
                 "EHAL_FAULT rule \"%s\": trigger \"%.*s\" is not after=N (N >= 0) or at=N "
                 "(N >= 1)",
                 r->text, (int)fl[2], f[2]);
        return 0;
    }
    if (nf == 4) {
        if (fl[3] != 4 || memcmp(f[3], "once", 4) != 0) {
            snprintf(err, err_size, "EHAL_FAULT rule \"%s\": unknown modifier \"%.*s\" (once)",
                     r->text, (int)fl[3], f[3]);
            return 0;
        }
        r->once = 1;
    }
    return 1;
}

/* Keeps the message on one printable line whatever the rule contained
 * (found by tests/fuzz/fuzz_specs: a newline in EHAL_FAULT). */
static ehal_status_t refuse(char *err) {
    for (char *c = err; *c; c++)
        if ((unsigned char)*c < 0x20 || (unsigned char)*c == 0x7f)
            *c = '?';
    return EHAL_STATUS_INVALID_ARGUMENT;
}

static ehal_status_t parse_list(const char *spec, ehal_i_fault_rule *rules, uint32_t max_rules,
                                uint32_t *n_out, char *err, size_t err_size);

ehal_status_t ehal_i_fault_parse(const char *spec, ehal_i_fault_rule *rules, uint32_t max_rules,
                                 uint32_t *n_out, char *err, size_t err_size) {
    char dummy[1];
    if (!err || !err_size) {
        err = dummy;
        err_size = sizeof dummy;
    }
    ehal_status_t st = parse_list(spec, rules, max_rules, n_out, err, err_size);
    if (st != EHAL_STATUS_OK) {
        if (n_out)
            *n_out = 0;
        return refuse(err);
    }
    return st;
}

static ehal_status_t parse_list(const char *spec, ehal_i_fault_rule *rules, uint32_t max_rules,
                                uint32_t *n_out, char *err, size_t err_size) {
    err[0] = '\0';
    if (n_out)
        *n_out = 0;
    if (!n_out || (!rules && max_rules)) {
        snprintf(err, err_size, "EHAL_FAULT: no room for the rules");
        return EHAL_STATUS_INVALID_ARGUMENT;
    }
    if (!spec)
        return EHAL_STATUS_OK;
    size_t total = strlen(spec);
    if (total > EHAL_FAULT_SPEC_MAX) {
        snprintf(err, err_size, "EHAL_FAULT is %zu characters, longer than the %d allowed", total,
                 EHAL_FAULT_SPEC_MAX);
        return EHAL_STATUS_INVALID_ARGUMENT;
    }
    uint32_t n = 0;
    const char *p = spec;
    while (*p) {
        size_t len = strcspn(p, ";,");
        const char *s = p;
        size_t l = len;
        while (l && (*s == ' ' || *s == '\t')) {
            s++;
            l--;
        }
        while (l && (s[l - 1] == ' ' || s[l - 1] == '\t'))
            l--;
        if (l) {
            if (n == max_rules) {
                snprintf(err, err_size, "EHAL_FAULT rule \"%.*s\": more than %u rules",
                         (int)(l > 80 ? 80 : l), s, (unsigned)max_rules);
                return EHAL_STATUS_INVALID_ARGUMENT;
            }
            if (!parse_rule(s, l, &rules[n], err, err_size))
                return EHAL_STATUS_INVALID_ARGUMENT;
            n++;
        }
        p += len;
        if (*p)
            p++;
    }
    *n_out = n;
    return EHAL_STATUS_OK;
}

/* ---- the wrapper ------------------------------------------------------- */

typedef struct fault_rule_state {
    ehal_i_fault_rule rule;
    uint64_t calls; /* counted calls of the rule's entry (executes for lost) */
    uint64_t fired; /* failures injected */
} fault_rule_state;

/* Stands in for the plugin's ehal_backend_impl in the core's copy. */
typedef struct fault_wrap {
    ehal_backend *be;
    ehal_backend_impl *real;
    ehal_backend_iface iface; /* the plugin's own entries */
    uint32_t n_rules;
    fault_rule_state rules[EHAL_FAULT_MAX_RULES];
    const char *lost_by; /* text of the lost rule that fired; NULL while alive */
} fault_wrap;

static fault_wrap *W(ehal_backend_impl *impl) {
    return (fault_wrap *)(void *)impl;
}

static void set_plugin_error(ehal_backend *be, const char *msg) {
    while (atomic_flag_test_and_set_explicit(&be->error_lock, memory_order_acquire))
        ;
    snprintf(be->plugin_error, sizeof be->plugin_error, "%s", msg);
    atomic_flag_clear_explicit(&be->error_lock, memory_order_release);
}

/* OK to call the plugin, or the status to return instead. */
static ehal_status_t check(fault_wrap *w, ehal_i_fault_entry entry) {
    char msg[EHAL_ERROR_MAX];
    if (w->lost_by) {
        snprintf(msg, sizeof msg, "device lost (injected by EHAL_FAULT rule \"%s\")", w->lost_by);
        set_plugin_error(w->be, msg);
        ehal_i_log(w->be->ctx, EHAL_LOG_DEBUG, "%s: %s: %s", w->be->name, entry_names[entry], msg);
        return EHAL_STATUS_DEVICE_LOST;
    }
    fault_rule_state *hit = NULL;
    for (uint32_t i = 0; i < w->n_rules; i++) {
        fault_rule_state *r = &w->rules[i];
        int counts = r->rule.entry == entry ||
                     (r->rule.entry == EHAL_FAULT_LOST && entry == EHAL_FAULT_EXECUTE);
        if (!counts)
            continue;
        r->calls++;
        if (!hit && r->calls > r->rule.pass && !(r->rule.once && r->fired))
            hit = r;
    }
    if (!hit)
        return EHAL_STATUS_OK;
    ehal_status_t st = hit->rule.entry == EHAL_FAULT_LOST    ? EHAL_STATUS_DEVICE_LOST
                       : hit->rule.entry == EHAL_FAULT_ALLOC ? EHAL_STATUS_OUT_OF_MEMORY
                                                             : EHAL_STATUS_INTERNAL;
    if (st == EHAL_STATUS_DEVICE_LOST)
        w->lost_by = hit->rule.text;
    snprintf(msg, sizeof msg, "%s (injected by EHAL_FAULT rule \"%s\")", ehal_status_string(st),
             hit->rule.text);
    set_plugin_error(w->be, msg);
    ehal_i_log(w->be->ctx, hit->fired ? EHAL_LOG_DEBUG : EHAL_LOG_WARN,
               "EHAL_FAULT rule \"%s\": %s %s call %llu returns %s", hit->rule.text, w->be->name,
               entry_names[entry], (unsigned long long)hit->calls, ehal_status_string(st));
    hit->fired++;
    return st;
}

#define FAULT_CHECK(w, e)                        \
    do {                                         \
        ehal_status_t fs_ = check((w), (e));     \
        if (fs_ != EHAL_STATUS_OK)               \
            return fs_;                          \
    } while (0)

static ehal_status_t w_init(const ehal_host_services *host, const ehal_option *opts,
                            uint32_t n_opts, ehal_backend_impl **out) {
    (void)host, (void)opts, (void)n_opts;
    if (out)
        *out = NULL;
    return EHAL_STATUS_INTERNAL; /* never called: the device is open before wrapping */
}

static void w_destroy(ehal_backend_impl *impl) {
    fault_wrap *w = W(impl);
    ehal_context *ctx = w->be->ctx;
    w->iface.destroy(w->real);
    ehal_i_free(ctx, w);
}

static ehal_status_t w_device_info(ehal_backend_impl *impl, ehal_device_info *info) {
    fault_wrap *w = W(impl);
    return w->iface.device_info(w->real, info);
}

static ehal_status_t w_query_op(ehal_backend_impl *impl, const ehal_subgraph *sg, uint32_t node,
                                ehal_op_support *out) {
    fault_wrap *w = W(impl);
    FAULT_CHECK(w, EHAL_FAULT_QUERY);
    return w->iface.query_op(w->real, sg, node, out);
}

static ehal_status_t w_buffer_alloc(ehal_backend_impl *impl, uint64_t size, uint32_t flags,
                                    ehal_buffer_impl **out) {
    fault_wrap *w = W(impl);
    FAULT_CHECK(w, EHAL_FAULT_ALLOC);
    return w->iface.buffer_alloc(w->real, size, flags, out);
}

static void w_buffer_free(ehal_backend_impl *impl, ehal_buffer_impl *buf) {
    fault_wrap *w = W(impl);
    w->iface.buffer_free(w->real, buf);
}

static ehal_status_t w_buffer_write(ehal_backend_impl *impl, ehal_buffer_impl *buf,
                                    uint64_t offset, const void *src, uint64_t size) {
    fault_wrap *w = W(impl);
    FAULT_CHECK(w, EHAL_FAULT_WRITE);
    return w->iface.buffer_write(w->real, buf, offset, src, size);
}

static ehal_status_t w_buffer_read(ehal_backend_impl *impl, ehal_buffer_impl *buf,
                                   uint64_t offset, void *dst, uint64_t size) {
    fault_wrap *w = W(impl);
    FAULT_CHECK(w, EHAL_FAULT_READ);
    return w->iface.buffer_read(w->real, buf, offset, dst, size);
}

static ehal_status_t w_buffer_map(ehal_backend_impl *impl, ehal_buffer_impl *buf, void **ptr) {
    fault_wrap *w = W(impl);
    FAULT_CHECK(w, EHAL_FAULT_MAP);
    return w->iface.buffer_map(w->real, buf, ptr);
}

static void w_buffer_unmap(ehal_backend_impl *impl, ehal_buffer_impl *buf) {
    fault_wrap *w = W(impl);
    w->iface.buffer_unmap(w->real, buf);
}

static ehal_status_t w_buffer_import_host(ehal_backend_impl *impl, void *ptr, uint64_t size,
                                          uint32_t flags, ehal_buffer_impl **out) {
    fault_wrap *w = W(impl);
    FAULT_CHECK(w, EHAL_FAULT_ALLOC);
    return w->iface.buffer_import_host(w->real, ptr, size, flags, out);
}

static ehal_status_t w_prepack(ehal_backend_impl *impl, const ehal_tensor_desc *weight,
                               const void *host_data, ehal_buffer_impl **out) {
    fault_wrap *w = W(impl);
    FAULT_CHECK(w, EHAL_FAULT_ALLOC);
    return w->iface.prepack(w->real, weight, host_data, out);
}

static ehal_status_t w_prepare(ehal_backend_impl *impl, const ehal_subgraph *sg,
                               ehal_executable_impl **out) {
    fault_wrap *w = W(impl);
    FAULT_CHECK(w, EHAL_FAULT_PREPARE);
    return w->iface.prepare(w->real, sg, out);
}

static ehal_status_t w_execute(ehal_backend_impl *impl, ehal_executable_impl *exe,
                               const ehal_execute_args *args) {
    fault_wrap *w = W(impl);
    FAULT_CHECK(w, EHAL_FAULT_EXECUTE);
    return w->iface.execute(w->real, exe, args);
}

static ehal_status_t w_wait(ehal_backend_impl *impl, ehal_executable_impl *exe,
                            uint64_t timeout_ns) {
    fault_wrap *w = W(impl);
    FAULT_CHECK(w, EHAL_FAULT_WAIT);
    return w->iface.wait(w->real, exe, timeout_ns);
}

static void w_release(ehal_backend_impl *impl, ehal_executable_impl *exe) {
    fault_wrap *w = W(impl);
    w->iface.release(w->real, exe);
}

static int rule_matches(const ehal_i_fault_rule *r, const char *name) {
    return strcmp(r->backend, "*") == 0 || strcmp(r->backend, name) == 0;
}

ehal_status_t ehal_i_fault_install(ehal_backend *be, const ehal_i_fault_rule *rules, uint32_t n) {
    uint32_t matching = 0;
    for (uint32_t i = 0; i < n; i++)
        matching += (uint32_t)rule_matches(&rules[i], be->name);
    if (!matching || !be->impl)
        return EHAL_STATUS_OK;
    fault_wrap *w = ehal_i_calloc(be->ctx, 1, sizeof *w);
    if (!w)
        return EHAL_STATUS_OUT_OF_MEMORY;
    w->be = be;
    w->real = be->impl;
    w->iface = be->iface;
    for (uint32_t i = 0; i < n && w->n_rules < EHAL_FAULT_MAX_RULES; i++) {
        if (rule_matches(&rules[i], be->name)) {
            w->rules[w->n_rules++].rule = rules[i];
            ehal_i_log(be->ctx, EHAL_LOG_INFO, "%s: EHAL_FAULT rule \"%s\" armed", be->name,
                       rules[i].text);
        }
    }
    ehal_backend_iface *t = &be->iface;
    t->init = w_init;
    t->destroy = w_destroy;
    t->device_info = w_device_info;
    t->query_op = w_query_op;
    t->buffer_alloc = w_buffer_alloc;
    t->buffer_free = w_buffer_free;
    t->buffer_write = w_buffer_write;
    t->buffer_read = w_buffer_read;
    t->prepare = w_prepare;
    t->execute = w_execute;
    t->wait = w_wait;
    t->release = w_release;
    /* Optional entries stay absent where the plugin has none. */
    t->buffer_map = w->iface.buffer_map ? w_buffer_map : NULL;
    t->buffer_unmap = w->iface.buffer_unmap ? w_buffer_unmap : NULL;
    t->buffer_import_host = w->iface.buffer_import_host ? w_buffer_import_host : NULL;
    t->prepack = w->iface.prepack ? w_prepack : NULL;
    be->impl = (ehal_backend_impl *)(void *)w;
    return EHAL_STATUS_OK;
}
