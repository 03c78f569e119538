/*
 * The plugin loader: finds libedgehal-*.so files along the search path,
 * dlopens each, negotiates the ABI revision through its single entry
 * symbol (R5-R8), opens the device, and keeps it, or skips it with one
 * line naming the file and the reason. A bad plugin never stops the others.
 *
 * Global effects (see docs/threading.md): dlopen/dlclose are process-wide;
 * a plugin opened by two contexts is mapped once and initialized twice.
 */
#define _XOPEN_SOURCE 700
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fault.h"
#include "internal.h"

#ifndef EHAL_INSTALLED_PLUGIN_DIR
#define EHAL_INSTALLED_PLUGIN_DIR "/usr/local/lib/edgehal"
#endif

#define PLUGIN_PREFIX "libedgehal-"
#define PLUGIN_SUFFIX ".so"

typedef struct load_state {
    ehal_context *ctx;
    const char *selection;   /* EHAL_BACKENDS syntax; NULL: all */
    const ehal_option *opts; /* context backend options */
    uint32_t n_opts;
    char **seen; /* canonical paths already tried */
    uint32_t n_seen, cap_seen;
    ehal_i_fault_rule faults[EHAL_FAULT_MAX_RULES]; /* EHAL_FAULT (fault.c) */
    uint32_t n_faults;
} load_state;

/* ---- host services ------------------------------------------------------ */

static const char *base_name(const char *path) {
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

static void error_lock(ehal_backend *be) {
    while (atomic_flag_test_and_set_explicit(&be->error_lock, memory_order_acquire))
        ;
}

static void error_unlock(ehal_backend *be) {
    atomic_flag_clear_explicit(&be->error_lock, memory_order_release);
}

void ehal_i_plugin_error_clear(ehal_backend *be) {
    error_lock(be);
    be->plugin_error[0] = '\0';
    error_unlock(be);
}

void ehal_i_plugin_error_copy(ehal_backend *be, char *out, size_t size) {
    error_lock(be);
    snprintf(out, size, "%s", be->plugin_error);
    error_unlock(be);
}

static void host_log(void *user, int32_t level, const char *msg) {
    ehal_backend *be = user;
    if (!be)
        return;
    if (!msg)
        msg = "(null message)";
    if (level < EHAL_LOG_ERROR)
        level = EHAL_LOG_ERROR;
    if (level > EHAL_LOG_DEBUG)
        level = EHAL_LOG_DEBUG;
    if (level == EHAL_LOG_ERROR) {
        error_lock(be);
        snprintf(be->plugin_error, sizeof be->plugin_error, "%s", msg);
        error_unlock(be);
    }
    ehal_i_log(be->ctx, level, "%s: %s", be->name ? be->name : base_name(be->path), msg);
}

static void *host_alloc(void *user, size_t size, size_t align) {
    ehal_backend *be = user;
    return be ? ehal_i_alloc(be->ctx, size, align) : NULL;
}

static void host_free(void *user, void *ptr) {
    ehal_backend *be = user;
    if (be)
        ehal_i_free(be->ctx, ptr);
}

void ehal_i_host_services_init(ehal_backend *be) {
    atomic_flag_clear(&be->error_lock);
    be->host.struct_size = sizeof be->host;
    be->host.host_abi_version = EHAL_ABI_VERSION;
    be->host.user = be;
    be->host.log = host_log;
    be->host.alloc = host_alloc;
    be->host.free = host_free;
}

/* ---- skipping --------------------------------------------------------------- */

static ehal_status_t skip(load_state *st, const char *path, const char *fmt, ...) EHAL_PRINTF(3, 4);
static ehal_status_t skip(load_state *st, const char *path, const char *fmt, ...) {
    ehal_context *ctx = st->ctx;
    char reason[EHAL_ERROR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof reason, fmt, ap);
    va_end(ap);
    ehal_i_log(ctx, EHAL_LOG_WARN, "skipping %s: %s", path, reason);
    if (ehal_i_grow(ctx, (void **)&ctx->skipped, &ctx->cap_skipped, ctx->n_skipped + 1,
                    sizeof *ctx->skipped) != EHAL_STATUS_OK)
        return EHAL_STATUS_OUT_OF_MEMORY;
    ehal_skip *s = &ctx->skipped[ctx->n_skipped];
    s->path = ehal_i_strdup(ctx, path);
    s->reason = ehal_i_strdup(ctx, reason);
    if (!s->path || !s->reason) {
        ehal_i_free(ctx, s->path);
        ehal_i_free(ctx, s->reason);
        s->path = s->reason = NULL;
        return EHAL_STATUS_OUT_OF_MEMORY;
    }
    ctx->n_skipped++;
    return EHAL_STATUS_OK;
}

/* ---- one plugin ----------------------------------------------------------------- */

void ehal_i_backend_unload(ehal_backend *be) {
    if (!be)
        return;
    ehal_context *ctx = be->ctx;
    if (be->impl) {
        ehal_i_executable_release_all(be);
        ehal_i_buffer_free_all(be);
        be->iface.destroy(be->impl);
        be->impl = NULL;
    }
    if (be->dl)
        dlclose(be->dl);
    ehal_i_free(ctx, be->name);
    ehal_i_free(ctx, be->path);
    ehal_i_free(ctx, be);
}

/* "<what>: <status>[ (<the plugin's last logged error>)]" */
static void failure_reason(char *reason, size_t size, const char *what, ehal_status_t st,
                           ehal_backend *be) {
    char plugin_msg[EHAL_ERROR_MAX];
    ehal_i_plugin_error_copy(be, plugin_msg, sizeof plugin_msg);
    if (plugin_msg[0])
        snprintf(reason, size, "%s: %s (%.300s)", what, ehal_status_string(st), plugin_msg);
    else
        snprintf(reason, size, "%s: %s", what, ehal_status_string(st));
}

/* The required entries of revision 1 (everything not marked optional). */
#define EHAL_REQUIRED_ENTRIES(X)                                                             \
    X(init)                                                                                  \
    X(destroy)                                                                               \
    X(device_info) X(query_op) X(buffer_alloc) X(buffer_free) X(buffer_write) X(buffer_read) \
        X(prepare) X(execute) X(wait) X(release)

static const char *missing_entry(const ehal_backend_iface *t) {
#define EHAL_X_CHECK(e) \
    if (!t->e)          \
        return #e;
    EHAL_REQUIRED_ENTRIES(EHAL_X_CHECK)
#undef EHAL_X_CHECK
    return NULL;
}

/* Negotiates and validates the table. Returns 1 and fills be on success;
 * 0 with reason set when the plugin is to be skipped. */
static int negotiate(ehal_backend *be, ehal_backend_entry_fn entry, char *reason,
                     size_t reason_size) {
    ehal_entry_args args;
    memset(&args, 0, sizeof args);
    args.struct_size = sizeof args;
    args.loader_min_version = EHAL_ABI_VERSION_MIN;
    args.loader_max_version = EHAL_ABI_VERSION;
    args.host = &be->host;
    ehal_i_plugin_error_clear(be);
    ehal_status_t st = entry(&args);
    if ((st == EHAL_STATUS_OK || st == EHAL_STATUS_INCOMPATIBLE) &&
        (args.plugin_version < EHAL_ABI_VERSION_MIN || args.plugin_version > EHAL_ABI_VERSION)) {
        snprintf(reason, reason_size, "ABI version %u outside the supported range %u..%u",
                 (unsigned)args.plugin_version, (unsigned)EHAL_ABI_VERSION_MIN,
                 (unsigned)EHAL_ABI_VERSION);
        return 0;
    }
    if (st != EHAL_STATUS_OK) {
        failure_reason(reason, reason_size, "entry point failed", st, be);
        return 0;
    }
    const ehal_backend_iface *t = args.iface;
    if (!t) {
        snprintf(reason, reason_size, "entry point returned no function table");
        return 0;
    }
    if (t->struct_size < EHAL_BACKEND_IFACE_MIN_SIZE) {
        snprintf(reason, reason_size,
                 "function table is %u bytes, smaller than the %u-byte revision-1 minimum",
                 (unsigned)t->struct_size, (unsigned)EHAL_BACKEND_IFACE_MIN_SIZE);
        return 0;
    }
    /* Entries beyond what this core knows are ignored; entries beyond the
     * plugin's table stay NULL (R1, R8). */
    memset(&be->iface, 0, sizeof be->iface);
    size_t n = t->struct_size < sizeof be->iface ? t->struct_size : sizeof be->iface;
    memcpy(&be->iface, t, n);
    const char *miss = missing_entry(&be->iface);
    if (miss) {
        snprintf(reason, reason_size, "required entry %s is NULL", miss);
        return 0;
    }
    if (!be->iface.name || !be->iface.name[0]) {
        snprintf(reason, reason_size, "function table has an empty backend name");
        return 0;
    }
    if (strlen(be->iface.name) > 63) {
        snprintf(reason, reason_size, "backend name is longer than 63 characters");
        return 0;
    }
    be->abi_version = args.plugin_version;
    be->host.host_abi_version = args.plugin_version;
    return 1;
}

/* Options "<name>.<key>" passed to the backend as "<key>". */
static ehal_status_t backend_options(load_state *st, const char *name, ehal_option **out,
                                     uint32_t *n_out) {
    size_t nl = strlen(name);
    uint32_t n = 0;
    *out = NULL;
    *n_out = 0;
    for (uint32_t i = 0; i < st->n_opts; i++) {
        const char *k = st->opts[i].key;
        if (k && strncmp(k, name, nl) == 0 && k[nl] == '.' && k[nl + 1])
            n++;
    }
    if (!n)
        return EHAL_STATUS_OK;
    ehal_option *o = ehal_i_calloc(st->ctx, n, sizeof *o);
    if (!o)
        return EHAL_STATUS_OUT_OF_MEMORY;
    n = 0;
    for (uint32_t i = 0; i < st->n_opts; i++) {
        const char *k = st->opts[i].key;
        if (k && strncmp(k, name, nl) == 0 && k[nl] == '.' && k[nl + 1]) {
            o[n].key = k + nl + 1;
            o[n].value = st->opts[i].value ? st->opts[i].value : "";
            n++;
        }
    }
    *out = o;
    *n_out = n;
    return EHAL_STATUS_OK;
}

static ehal_status_t open_device(load_state *st, ehal_backend *be, char *reason,
                                 size_t reason_size) {
    ehal_option *opts;
    uint32_t n_opts;
    ehal_status_t s = backend_options(st, be->name, &opts, &n_opts);
    if (s != EHAL_STATUS_OK)
        return s;
    ehal_i_plugin_error_clear(be);
    ehal_backend_impl *impl = NULL;
    s = be->iface.init(&be->host, opts, n_opts, &impl);
    ehal_i_free(st->ctx, opts);
    if (s != EHAL_STATUS_OK || !impl) {
        if (s == EHAL_STATUS_OK)
            s = EHAL_STATUS_INTERNAL; /* OK without an object: treat as a bug */
        failure_reason(reason, reason_size, "init failed", s, be);
        return EHAL_STATUS_INTERNAL;
    }
    be->impl = impl;
    memset(&be->info, 0, sizeof be->info);
    be->info.struct_size = sizeof be->info;
    ehal_i_plugin_error_clear(be);
    s = be->iface.device_info(impl, &be->info);
    if (s != EHAL_STATUS_OK) {
        failure_reason(reason, reason_size, "device_info failed", s, be);
        be->iface.destroy(impl);
        be->impl = NULL;
        return EHAL_STATUS_INTERNAL;
    }
    /* An older plugin fills a shorter struct and says so: the rest is absent. */
    if (be->info.struct_size < sizeof be->info)
        memset((char *)&be->info + be->info.struct_size, 0, sizeof be->info - be->info.struct_size);
    be->info.struct_size = sizeof be->info;
    be->info.name[sizeof be->info.name - 1] = '\0';
    be->info.driver[sizeof be->info.driver - 1] = '\0';
    return EHAL_STATUS_OK;
}

/* Name a file would give by the libedgehal-<name>.so convention, or 0. */
static int name_from_file(const char *path, char *name, size_t size) {
    const char *b = base_name(path);
    size_t pl = strlen(PLUGIN_PREFIX), sl = strlen(PLUGIN_SUFFIX), bl = strlen(b);
    if (bl <= pl + sl || strncmp(b, PLUGIN_PREFIX, pl) != 0 ||
        strcmp(b + bl - sl, PLUGIN_SUFFIX) != 0 || bl - pl - sl >= size)
        return 0;
    memcpy(name, b + pl, bl - pl - sl);
    name[bl - pl - sl] = '\0';
    return 1;
}

/* Returns OK also when the plugin was skipped; an error only when the core
 * itself failed (out of memory). */
static ehal_status_t try_file(load_state *st, const char *path) {
    ehal_context *ctx = st->ctx;
    char canon[PATH_MAX];
    if (!realpath(path, canon))
        snprintf(canon, sizeof canon, "%s", path);
    for (uint32_t i = 0; i < st->n_seen; i++) {
        if (strcmp(st->seen[i], canon) == 0) {
            ehal_i_log(ctx, EHAL_LOG_DEBUG, "%s: already tried (as %s)", path, canon);
            return EHAL_STATUS_OK;
        }
    }
    if (ehal_i_grow(ctx, (void **)&st->seen, &st->cap_seen, st->n_seen + 1, sizeof *st->seen))
        return EHAL_STATUS_OUT_OF_MEMORY;
    if (!(st->seen[st->n_seen] = ehal_i_strdup(ctx, canon)))
        return EHAL_STATUS_OUT_OF_MEMORY;
    st->n_seen++;

    char fname[64];
    if (name_from_file(path, fname, sizeof fname) &&
        !ehal_i_backend_selected(st->selection, fname)) {
        ehal_i_log(ctx, EHAL_LOG_DEBUG, "%s: not selected by the backend selection \"%s\"", path,
                   st->selection);
        return EHAL_STATUS_OK;
    }
    ehal_i_log(ctx, EHAL_LOG_DEBUG, "trying %s", path);

    /* Open by the resolved path: a bare file name would make dlopen search
     * the system library path instead of the entry the user named. */
    dlerror();
    void *dl = dlopen(canon, RTLD_NOW | RTLD_LOCAL);
    if (!dl) {
        const char *e = dlerror();
        return skip(st, path, "cannot load: %s", e ? e : "unknown dlopen error");
    }
    dlerror();
    void *sym = dlsym(dl, EHAL_BACKEND_ENTRY_SYMBOL);
    if (!sym) {
        dlclose(dl);
        return skip(st, path, "no symbol %s (not an edgehal plugin)", EHAL_BACKEND_ENTRY_SYMBOL);
    }
    ehal_backend_entry_fn entry;
    memcpy(&entry, &sym, sizeof entry); /* object pointer to function pointer, per POSIX */

    ehal_backend *be = ehal_i_calloc(ctx, 1, sizeof *be);
    if (!be) {
        dlclose(dl);
        return EHAL_STATUS_OUT_OF_MEMORY;
    }
    be->ctx = ctx;
    be->dl = dl;
    if (!(be->path = ehal_i_strdup(ctx, path))) {
        ehal_i_backend_unload(be);
        return EHAL_STATUS_OUT_OF_MEMORY;
    }
    ehal_i_host_services_init(be);

    char reason[EHAL_ERROR_MAX];
    if (!negotiate(be, entry, reason, sizeof reason)) {
        ehal_i_backend_unload(be);
        return skip(st, path, "%s", reason);
    }
    if (!ehal_i_backend_selected(st->selection, be->iface.name)) {
        ehal_i_log(ctx, EHAL_LOG_DEBUG, "%s: backend %s not selected by \"%s\"", path,
                   be->iface.name, st->selection);
        ehal_i_backend_unload(be);
        return EHAL_STATUS_OK;
    }
    for (uint32_t i = 0; i < ctx->n_backends; i++) {
        if (strcmp(ctx->backends[i]->name, be->iface.name) == 0) {
            const char *first = ctx->backends[i]->path;
            ehal_i_backend_unload(be);
            return skip(st, path, "duplicate of %s", first);
        }
    }
    if (!(be->name = ehal_i_strdup(ctx, be->iface.name))) {
        ehal_i_backend_unload(be);
        return EHAL_STATUS_OUT_OF_MEMORY;
    }
    if (ehal_i_grow(ctx, (void **)&ctx->backends, &ctx->cap_backends, ctx->n_backends + 1,
                    sizeof *ctx->backends)) {
        ehal_i_backend_unload(be);
        return EHAL_STATUS_OUT_OF_MEMORY;
    }
    ehal_status_t s = open_device(st, be, reason, sizeof reason);
    if (s != EHAL_STATUS_OK) {
        ehal_i_backend_unload(be);
        return s == EHAL_STATUS_OUT_OF_MEMORY ? s : skip(st, path, "%s", reason);
    }
    if ((s = ehal_i_fault_install(be, st->faults, st->n_faults)) != EHAL_STATUS_OK) {
        ehal_i_backend_unload(be);
        return s;
    }
    ctx->backends[ctx->n_backends++] = be;
    ehal_i_log(ctx, EHAL_LOG_DEBUG, "%s: loaded backend %s (ABI %u, device \"%s\")", path, be->name,
               (unsigned)be->abi_version, be->info.name);
    return EHAL_STATUS_OK;
}

/* ---- search path --------------------------------------------------------------- */

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static ehal_status_t scan_dir(load_state *st, const char *dir) {
    ehal_context *ctx = st->ctx;
    DIR *d = opendir(dir);
    if (!d) {
        ehal_i_log(ctx, EHAL_LOG_DEBUG, "%s: cannot open directory (%s); ignored", dir,
                   strerror(errno));
        return EHAL_STATUS_OK;
    }
    ehal_i_log(ctx, EHAL_LOG_DEBUG, "searching %s", dir);
    char **names = NULL;
    uint32_t n = 0, cap = 0;
    ehal_status_t s = EHAL_STATUS_OK;
    struct dirent *e;
    char tmp[64];
    while ((e = readdir(d)) != NULL) {
        if (!name_from_file(e->d_name, tmp, sizeof tmp))
            continue;
        if ((s = ehal_i_grow(ctx, (void **)&names, &cap, n + 1, sizeof *names)) != EHAL_STATUS_OK)
            break;
        size_t len = strlen(dir) + 1 + strlen(e->d_name) + 1;
        if (!(names[n] = ehal_i_alloc(ctx, len, 1))) {
            s = EHAL_STATUS_OUT_OF_MEMORY;
            break;
        }
        snprintf(names[n], len, "%s/%s", dir, e->d_name);
        n++;
    }
    closedir(d);
    if (s == EHAL_STATUS_OK && n > 1)
        qsort(names, n, sizeof *names, cmp_str);
    for (uint32_t i = 0; s == EHAL_STATUS_OK && i < n; i++)
        s = try_file(st, names[i]);
    for (uint32_t i = 0; i < n; i++)
        ehal_i_free(ctx, names[i]);
    ehal_i_free(ctx, names);
    return s;
}

static ehal_status_t search_entry(load_state *st, const char *entry) {
    struct stat sb;
    if (!*entry)
        return EHAL_STATUS_OK;
    if (stat(entry, &sb) != 0) {
        size_t l = strlen(entry), sl = strlen(PLUGIN_SUFFIX);
        if (l > sl && strcmp(entry + l - sl, PLUGIN_SUFFIX) == 0)
            return skip(st, entry, "cannot load: %s", strerror(errno));
        ehal_i_log(st->ctx, EHAL_LOG_DEBUG, "%s: %s; ignored", entry, strerror(errno));
        return EHAL_STATUS_OK;
    }
    if (S_ISDIR(sb.st_mode))
        return scan_dir(st, entry);
    return try_file(st, entry);
}

/* Searches each entry of a colon-separated list. */
static ehal_status_t search_list(load_state *st, const char *list) {
    if (!list)
        return EHAL_STATUS_OK;
    char entry[PATH_MAX];
    const char *p = list;
    for (;;) {
        const char *end = strchr(p, ':');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len >= sizeof entry) {
            ehal_i_log(st->ctx, EHAL_LOG_WARN,
                       "search path entry of %zu bytes is too long; ignored", len);
        } else {
            memcpy(entry, p, len);
            entry[len] = '\0';
            ehal_status_t s = search_entry(st, entry);
            if (s != EHAL_STATUS_OK)
                return s;
        }
        if (!end)
            return EHAL_STATUS_OK;
        p = end + 1;
    }
}

/* <dir of the executable>/../lib/edgehal, spelled without the "..": the
 * link target of /proc/self/exe has no symlinks left, so dropping the last
 * directory is the same place. */
static ehal_status_t search_exe_dir(load_state *st) {
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) {
        ehal_i_log(st->ctx, EHAL_LOG_DEBUG,
                   "cannot read /proc/self/exe; skipping <exe dir>/../lib/edgehal");
        return EHAL_STATUS_OK;
    }
    exe[n] = '\0';
    char *slash = strrchr(exe, '/'); /* end of the exe's directory */
    if (!slash)
        return EHAL_STATUS_OK;
    *slash = '\0';
    slash = strrchr(exe, '/'); /* end of its parent */
    if (slash)
        *slash = '\0';
    char dir[PATH_MAX + 32];
    snprintf(dir, sizeof dir, "%s/lib/edgehal", exe); /* "" when the parent is / */
    return search_entry(st, dir);
}

ehal_status_t ehal_i_load_all(ehal_context *ctx, const ehal_context_options *o) {
    load_state st;
    memset(&st, 0, sizeof st);
    st.ctx = ctx;
    int use_env = !(o->flags & EHAL_CONTEXT_NO_ENV);
    st.selection = o->backends ? o->backends : (use_env ? getenv("EHAL_BACKENDS") : NULL);
    st.opts = o->backend_options;
    st.n_opts = o->backend_options ? o->n_backend_options : 0;

    ehal_status_t s = EHAL_STATUS_OK;
    if (use_env) {
        char err[EHAL_ERROR_MAX];
        s = ehal_i_fault_parse(getenv("EHAL_FAULT"), st.faults, EHAL_FAULT_MAX_RULES,
                               &st.n_faults, err, sizeof err);
        if (s != EHAL_STATUS_OK) {
            ehal_i_log(ctx, EHAL_LOG_ERROR, "%s", err);
            return s;
        }
    }
    if (!(o->flags & EHAL_CONTEXT_NO_DEFAULT_PATHS)) {
        s = search_exe_dir(&st);
        if (s == EHAL_STATUS_OK)
            s = search_entry(&st, EHAL_INSTALLED_PLUGIN_DIR);
    }
    if (s == EHAL_STATUS_OK)
        s = search_list(&st, o->backend_path);
    if (s == EHAL_STATUS_OK && use_env)
        s = search_list(&st, getenv("EHAL_BACKEND_PATH"));

    for (uint32_t i = 0; i < st.n_seen; i++)
        ehal_i_free(ctx, st.seen[i]);
    ehal_i_free(ctx, st.seen);
    return s;
}
