/*
 * GGUF v3 (and v2) reader: maps the file read-only, validates the header,
 * metadata, tensor infos and data ranges with overflow-safe arithmetic, and
 * builds an ehal_model whose tensors point into the mapping.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gguf_cursor.h"
#include "gguf_kv.h"
#include "model_internal.h"

#include "edgehal/model_tools.h"

#define GGUF_DEFAULT_ALIGNMENT 32u
#define GGUF_MAX_TENSORS (1u << 24)
#define TENSOR_INFO_MIN_BYTES 24u /* name length, n_dims, type, offset */

typedef struct tinfo {
    const char *name;
    uint64_t name_len;
    uint32_t n_dims;
    uint32_t type;
    int64_t ne[EHAL_MAX_DIMS];
    uint64_t offset; /* relative to the data section */
    uint64_t nbytes;
} tinfo;

typedef struct range {
    uint64_t start, end;
    uint32_t id;
} range;

static int range_cmp(const void *a, const void *b) {
    const range *x = a, *y = b;
    if (x->start != y->start)
        return x->start < y->start ? -1 : 1;
    return x->id < y->id ? -1 : (x->id > y->id);
}

static int read_header(gguf_cursor *c, uint64_t *n_tensors, uint64_t *n_kv, ehal_status_t *st) {
    const uint8_t *magic;
    uint32_t version;
    *st = EHAL_STATUS_FORMAT;
    gguf_cursor_ctx(c, "header");
    if (gguf_read_bytes(c, "magic", 4, &magic))
        return -1;
    if (memcmp(magic, "GGUF", 4) != 0)
        return gguf_cursor_fail(c,
                                "magic: bytes %02x %02x %02x %02x, expected 47 47 55 46 "
                                "(\"GGUF\")",
                                magic[0], magic[1], magic[2], magic[3]);
    if (gguf_read_u32(c, "version", &version))
        return -1;
    if (version != 2 && version != 3) {
        *st = EHAL_STATUS_UNSUPPORTED;
        uint32_t swapped = (version >> 24) | ((version >> 8) & 0xff00u) |
                           ((version << 8) & 0xff0000u) | (version << 24);
        if (version == 1)
            return gguf_cursor_fail(c, "version 1 is not supported (32-bit counts); need 2 or 3");
        if (swapped >= 1 && swapped <= 3)
            return gguf_cursor_fail(c, "version %u: a big-endian GGUF file is not supported",
                                    version);
        return gguf_cursor_fail(c, "version %u is not supported; need 2 or 3", version);
    }
    if (gguf_read_u64(c, "tensor_count", n_tensors) || gguf_read_u64(c, "kv_count", n_kv))
        return -1;
    if (*n_tensors > gguf_cursor_remaining(c) / TENSOR_INFO_MIN_BYTES)
        return gguf_cursor_fail(c, "tensor_count %llu cannot fit in the remaining %llu bytes",
                                (unsigned long long)*n_tensors,
                                (unsigned long long)gguf_cursor_remaining(c));
    if (*n_tensors > GGUF_MAX_TENSORS) {
        *st = EHAL_STATUS_UNSUPPORTED;
        return gguf_cursor_fail(c, "tensor_count %llu exceeds the limit %u",
                                (unsigned long long)*n_tensors, GGUF_MAX_TENSORS);
    }
    return 0;
}

/* Reads one tensor info; *st says FORMAT or UNSUPPORTED on failure. */
static int read_tensor_info(gguf_cursor *c, uint64_t i, tinfo *t, ehal_status_t *st) {
    *st = EHAL_STATUS_FORMAT;
    gguf_cursor_ctx(c, "tensor %llu", (unsigned long long)i);
    if (gguf_read_string(c, "name", &t->name, &t->name_len))
        return -1;
    if (t->name_len == 0 || t->name_len > EHAL_MODEL_NAME_MAX)
        return gguf_cursor_fail(c, "name length %llu out of range (1..%d)",
                                (unsigned long long)t->name_len, EHAL_MODEL_NAME_MAX);
    if (memchr(t->name, '\0', (size_t)t->name_len))
        return gguf_cursor_fail(c, "name contains a NUL byte");
    char np[EHAL_MODEL_NAME_MAX + 1];
    gguf_cursor_ctx(c, "tensor %llu '%s'", (unsigned long long)i,
                    gguf_printable(t->name, t->name_len, np, sizeof np));
    if (gguf_read_u32(c, "n_dims", &t->n_dims))
        return -1;
    if (t->n_dims < 1 || t->n_dims > EHAL_MAX_DIMS)
        return gguf_cursor_fail(c, "n_dims %u out of range (1..%d)", t->n_dims, EHAL_MAX_DIMS);
    uint64_t nel = 1;
    for (int d = 0; d < EHAL_MAX_DIMS; d++)
        t->ne[d] = 1;
    for (uint32_t d = 0; d < t->n_dims; d++) {
        uint64_t ne;
        char field[16];
        snprintf(field, sizeof field, "ne[%u]", d);
        if (gguf_read_u64(c, field, &ne))
            return -1;
        if (ne == 0 || ne > (uint64_t)INT64_MAX)
            return gguf_cursor_fail(c, "ne[%u] = %llu out of range", d, (unsigned long long)ne);
        if (nel > (uint64_t)INT64_MAX / ne)
            return gguf_cursor_fail(c, "ne[%u] = %llu: element count overflows", d,
                                    (unsigned long long)ne);
        nel *= ne;
        t->ne[d] = (int64_t)ne;
    }
    if (gguf_read_u32(c, "type", &t->type))
        return -1;
    if (!ehal_gguf_type_supported(t->type)) {
        const char *tn = ehal_gguf_type_name(t->type);
        *st = EHAL_STATUS_UNSUPPORTED;
        if (!tn)
            return gguf_cursor_fail(c, "tensor type %u is unknown", t->type);
        return gguf_cursor_fail(c,
                                "tensor type %s (%u) is not supported "
                                "(supported: f32, f16, q4_0, q8_0)",
                                tn, t->type);
    }
    uint32_t bv = t->type == EHAL_DTYPE_Q4_0 || t->type == EHAL_DTYPE_Q8_0 ? 32u : 1u;
    uint32_t bb = t->type == EHAL_DTYPE_Q4_0   ? 18u
                  : t->type == EHAL_DTYPE_Q8_0 ? 34u
                  : t->type == EHAL_DTYPE_F16  ? 2u
                                               : 4u;
    if (t->ne[0] % bv != 0)
        return gguf_cursor_fail(c, "ne[0] = %lld is not a multiple of the %s block size %u",
                                (long long)t->ne[0], ehal_gguf_type_name(t->type), bv);
    uint64_t blocks = nel / bv; /* bv divides ne[0], hence nel */
    if (blocks > UINT64_MAX / bb)
        return gguf_cursor_fail(c, "byte size overflows");
    t->nbytes = blocks * bb;
    return gguf_read_u64(c, "offset", &t->offset);
}

/* Checks every tensor's data range against the file and the others. */
static int check_ranges(gguf_cursor *c, tinfo *ti, uint64_t n, uint64_t data_start,
                        uint32_t alignment) {
    range *r = ehal_model_malloc((size_t)n * sizeof *r);
    if (!r)
        return -2;
    int rc = 0;
    for (uint64_t i = 0; i < n && rc == 0; i++) {
        tinfo *t = &ti[i];
        char np[EHAL_MODEL_NAME_MAX + 1];
        gguf_cursor_ctx(c, "tensor %llu '%s'", (unsigned long long)i,
                        gguf_printable(t->name, t->name_len, np, sizeof np));
        uint32_t elem_align = t->type == EHAL_DTYPE_F32 ? 4u : 2u;
        if (t->offset % alignment != 0) {
            rc = gguf_cursor_fail(c, "offset %llu is not a multiple of general.alignment %u",
                                  (unsigned long long)t->offset, alignment);
        } else if (t->offset > c->size - data_start) {
            rc = gguf_cursor_fail(c, "offset %llu: data starts beyond file size %llu",
                                  (unsigned long long)t->offset, (unsigned long long)c->size);
        } else if (t->nbytes > c->size - data_start - t->offset) {
            uint64_t a = data_start + t->offset;
            if (t->nbytes > UINT64_MAX - a)
                rc = gguf_cursor_fail(c, "data size %llu at offset %llu beyond file size %llu",
                                      (unsigned long long)t->nbytes, (unsigned long long)a,
                                      (unsigned long long)c->size);
            else
                rc = gguf_cursor_fail(c, "data range [%llu, %llu) beyond file size %llu",
                                      (unsigned long long)a, (unsigned long long)(a + t->nbytes),
                                      (unsigned long long)c->size);
        } else if ((data_start + t->offset) % elem_align != 0) {
            rc = gguf_cursor_fail(c, "data at file offset %llu is not %u-byte aligned for %s",
                                  (unsigned long long)(data_start + t->offset), elem_align,
                                  ehal_gguf_type_name(t->type));
        }
        r[i].start = data_start + (rc ? 0 : t->offset);
        r[i].end = r[i].start + (rc ? 0 : t->nbytes);
        r[i].id = (uint32_t)i;
    }
    if (rc == 0 && n > 1) {
        qsort(r, (size_t)n, sizeof *r, range_cmp);
        for (uint64_t k = 1; k < n && rc == 0; k++) {
            if (r[k].start < r[k - 1].end) {
                const tinfo *a = &ti[r[k - 1].id], *b = &ti[r[k].id];
                char na[EHAL_MODEL_NAME_MAX + 1], nb[EHAL_MODEL_NAME_MAX + 1];
                gguf_cursor_ctx(c, "tensor %u '%s'", r[k].id,
                                gguf_printable(b->name, b->name_len, nb, sizeof nb));
                rc = gguf_cursor_fail(
                    c,
                    "data range [%llu, %llu) overlaps tensor %u '%s' "
                    "[%llu, %llu)",
                    (unsigned long long)r[k].start, (unsigned long long)r[k].end, r[k - 1].id,
                    gguf_printable(a->name, a->name_len, na, sizeof na),
                    (unsigned long long)r[k - 1].start, (unsigned long long)r[k - 1].end);
            }
        }
    }
    ehal_model_mfree(r);
    return rc;
}

static ehal_status_t read_hparams(const gguf_kvs *kv, ehal_model_hparams *hp, char *err, size_t n) {
    memset(hp, 0, sizeof *hp);
    if (gguf_kv_u32(kv, KV_DIM, 1, 0, &hp->dim, err, n) ||
        gguf_kv_u32(kv, KV_LAYERS, 1, 0, &hp->n_layers, err, n) ||
        gguf_kv_u32(kv, KV_HEADS, 1, 0, &hp->n_heads, err, n) ||
        gguf_kv_u32(kv, KV_KV_HEADS, 0, hp->n_heads, &hp->n_kv_heads, err, n) ||
        gguf_kv_u32(kv, KV_FFN, 1, 0, &hp->ffn_dim, err, n) ||
        gguf_kv_u32(kv, KV_CONTEXT, 1, 0, &hp->context, err, n) ||
        gguf_kv_f32(kv, KV_ROPE_BASE, 10000.0f, &hp->rope_base, err, n) ||
        gguf_kv_f32(kv, KV_RMS_EPS, 1e-5f, &hp->rms_eps, err, n))
        return EHAL_STATUS_FORMAT;
    hp->rope_mode = EHAL_ROPE_NORMAL;
    uint32_t experts, rope_dim;
    if (gguf_kv_u32(kv, KV_EXPERTS, 0, 0, &experts, err, n))
        return EHAL_STATUS_FORMAT;
    if (experts > 0) {
        ehal_model_errf(err, n, "llama.expert_count: %u (mixture of experts) is not supported",
                        experts);
        return EHAL_STATUS_UNSUPPORTED;
    }
    uint32_t hd = hp->n_heads ? hp->dim / hp->n_heads : 0;
    if (gguf_kv_u32(kv, KV_ROPE_DIM, 0, hd, &rope_dim, err, n))
        return EHAL_STATUS_FORMAT;
    if (rope_dim != hd) {
        ehal_model_errf(err, n,
                        "llama.rope.dimension_count: %u, only the full head dimension "
                        "%u is supported",
                        rope_dim, hd);
        return EHAL_STATUS_UNSUPPORTED;
    }
    return EHAL_STATUS_OK;
}

static ehal_status_t check_arch(const gguf_kvs *kv, char *err, size_t n) {
    const gguf_kv_value *a = &kv->v[KV_ARCH];
    if (!a->present) {
        ehal_model_errf(err, n, "general.architecture: key missing");
        return EHAL_STATUS_FORMAT;
    }
    if (a->type != EHAL_GGUF_STRING) {
        ehal_model_errf(err, n, "general.architecture: value type %s, expected string",
                        ehal_gguf_value_type_name(a->type));
        return EHAL_STATUS_FORMAT;
    }
    if (a->slen != 5 || memcmp(a->s, "llama", 5) != 0) {
        char ap[65];
        ehal_model_errf(err, n, "general.architecture: '%s' is not supported (only 'llama')",
                        gguf_printable(a->s, a->slen, ap, sizeof ap));
        return EHAL_STATUS_UNSUPPORTED;
    }
    return EHAL_STATUS_OK;
}

/* Parses the mapped bytes into a model (tensors point into base). */
static ehal_status_t parse(const uint8_t *base, uint64_t size, ehal_model **out, char *err,
                           size_t err_size) {
    gguf_cursor c;
    gguf_cursor_init(&c, base, size, err, err_size);
    uint64_t n_tensors, n_kv;
    ehal_status_t st;
    if (read_header(&c, &n_tensors, &n_kv, &st))
        return st;
    gguf_kvs kv;
    int rc = gguf_parse_kvs(&c, n_kv, &kv);
    if (rc)
        return rc == -2 ? EHAL_STATUS_OUT_OF_MEMORY : EHAL_STATUS_FORMAT;
    gguf_cursor_ctx(&c, "header");
    if (n_tensors > gguf_cursor_remaining(&c) / TENSOR_INFO_MIN_BYTES) {
        gguf_cursor_fail(&c, "tensor_count %llu cannot fit in the remaining %llu bytes",
                         (unsigned long long)n_tensors,
                         (unsigned long long)gguf_cursor_remaining(&c));
        return EHAL_STATUS_FORMAT;
    }
    uint32_t alignment;
    if (gguf_kv_u32(&kv, KV_ALIGNMENT, 0, GGUF_DEFAULT_ALIGNMENT, &alignment, err, err_size))
        return EHAL_STATUS_FORMAT;
    if (alignment == 0 || (alignment & (alignment - 1)) != 0) {
        ehal_model_errf(err, err_size, "general.alignment: value %u is not a power of two",
                        alignment);
        return EHAL_STATUS_FORMAT;
    }
    if ((st = check_arch(&kv, err, err_size)) != EHAL_STATUS_OK)
        return st;

    tinfo *ti = ehal_model_calloc((size_t)n_tensors, sizeof *ti);
    if (!ti)
        return EHAL_STATUS_OUT_OF_MEMORY;
    ehal_model *m = NULL;
    st = EHAL_STATUS_FORMAT;
    size_t names_bytes = 0;
    for (uint64_t i = 0; i < n_tensors; i++) {
        if (read_tensor_info(&c, i, &ti[i], &st))
            goto fail;
        names_bytes += (size_t)ti[i].name_len + 1;
    }
    /* pos <= size < 2^63, so the round-up cannot overflow. */
    uint64_t data_start = (c.pos + alignment - 1) / alignment * alignment;
    st = EHAL_STATUS_FORMAT;
    if (n_tensors > 0 && data_start > size) {
        gguf_cursor_ctx(&c, "data section");
        gguf_cursor_fail(&c, "starts at offset %llu beyond file size %llu",
                         (unsigned long long)data_start, (unsigned long long)size);
        goto fail;
    }
    rc = check_ranges(&c, ti, n_tensors, data_start, alignment);
    if (rc) {
        st = rc == -2 ? EHAL_STATUS_OUT_OF_MEMORY : EHAL_STATUS_FORMAT;
        goto fail;
    }
    m = ehal_model_new((uint32_t)n_tensors, names_bytes);
    if (!m) {
        st = EHAL_STATUS_OUT_OF_MEMORY;
        goto fail;
    }
    char *np = m->names;
    for (uint64_t i = 0; i < n_tensors; i++) {
        ehal_model_tensor *t = &m->tensors[i];
        memcpy(np, ti[i].name, (size_t)ti[i].name_len);
        np[ti[i].name_len] = '\0';
        t->name = np;
        np += ti[i].name_len + 1;
        t->dtype = ti[i].type;
        t->n_dims = ti[i].n_dims;
        memcpy(t->ne, ti[i].ne, sizeof t->ne);
        t->data = base + data_start + ti[i].offset;
        t->size = ti[i].nbytes;
    }
    uint32_t da, db;
    st = ehal_model_index_build(m, &da, &db);
    if (st == EHAL_STATUS_FORMAT)
        ehal_model_errf(err, err_size, "tensor %u '%s': duplicate name (also tensor %u)", db,
                        m->tensors[db].name, da);
    if (st != EHAL_STATUS_OK)
        goto fail;
    if ((st = read_hparams(&kv, &m->hp, err, err_size)) != EHAL_STATUS_OK)
        goto fail;
    if ((st = ehal_llama_check_tensors(m, err, err_size)) != EHAL_STATUS_OK)
        goto fail;
    uint32_t vocab_key;
    if (gguf_kv_u32(&kv, KV_VOCAB, 0, m->hp.vocab, &vocab_key, err, err_size)) {
        st = EHAL_STATUS_FORMAT;
        goto fail;
    }
    if (vocab_key != m->hp.vocab) {
        ehal_model_errf(err, err_size, "llama.vocab_size: %u, but token_embd.weight has %u rows",
                        vocab_key, m->hp.vocab);
        st = EHAL_STATUS_FORMAT;
        goto fail;
    }
    if (gguf_kv_u32(&kv, KV_FILE_TYPE, 0, UINT32_MAX, &m->file_type, NULL, 0))
        m->file_type = UINT32_MAX;
    if (kv.v[KV_NAME].present && kv.v[KV_NAME].type == EHAL_GGUF_STRING) {
        size_t k = 0;
        for (; k < kv.v[KV_NAME].slen && k + 1 < sizeof m->name; k++) {
            char ch = kv.v[KV_NAME].s[k];
            m->name[k] = ch >= 32 && ch < 127 ? ch : '?';
        }
        m->name[k] = '\0';
    }
    ehal_model_mfree(ti);
    *out = m;
    return EHAL_STATUS_OK;
fail:
    ehal_model_free(m);
    ehal_model_mfree(ti);
    return st;
}

ehal_status_t ehal_model_load_gguf(const char *path, ehal_model **out, char *err, size_t err_size) {
    if (out)
        *out = NULL;
    if (!path || !out) {
        ehal_model_errf(err, err_size, "ehal_model_load_gguf: path and out must not be NULL");
        return EHAL_STATUS_INVALID_ARGUMENT;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        ehal_model_errf(err, err_size, "cannot open %s: %s", path, strerror(errno));
        return EHAL_STATUS_IO;
    }
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        ehal_model_errf(err, err_size, "%s: not a regular file", path);
        close(fd);
        return EHAL_STATUS_IO;
    }
    uint64_t size = (uint64_t)sb.st_size;
    if (size > (uint64_t)SIZE_MAX / 2) {
        ehal_model_errf(err, err_size, "%s: file size %llu too large to map", path,
                        (unsigned long long)size);
        close(fd);
        return EHAL_STATUS_IO;
    }
    void *map = NULL;
    if (size > 0) {
        map = mmap(NULL, (size_t)size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (map == MAP_FAILED) {
            ehal_model_errf(err, err_size, "cannot map %s (%llu bytes): %s", path,
                            (unsigned long long)size, strerror(errno));
            close(fd);
            return EHAL_STATUS_IO;
        }
    }
    close(fd);
    ehal_model *m = NULL;
    ehal_status_t st = parse(map, size, &m, err, err_size);
    if (st != EHAL_STATUS_OK) {
        if (map)
            munmap(map, (size_t)size);
        return st;
    }
    m->map = map;
    m->map_size = (size_t)size;
    *out = m;
    return EHAL_STATUS_OK;
}
