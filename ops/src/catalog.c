/*
 * The op and dtype catalogs, derived from EHAL_OP_LIST and EHAL_DTYPE_LIST
 * in backend_abi.h. Nothing here is written per op or per dtype by hand.
 * All tables are static and read-only, so every function is thread-safe.
 */
#include <string.h>

#include "edgehal/ops.h"

/* ---- ops ----------------------------------------------------------------- */

#define X_OP_INFO(N, id, s, ni, no, P) {id, s, ni, no, (uint32_t)sizeof(P)},
static const ehal_op_info op_infos[] = {EHAL_OP_LIST(X_OP_INFO)};
#undef X_OP_INFO

#define X_OP_ID(N, id, s, ni, no, P) id,
static const uint32_t op_ids[] = {EHAL_OP_LIST(X_OP_ID)};
#undef X_OP_ID

#define N_OPS (sizeof op_infos / sizeof op_infos[0])

/* Every id fits the id-indexed tables the backends build. */
#define X_OP_RANGE(N, id, s, ni, no, P)                                                    \
    _Static_assert(id > 0 && id < EHAL_OP_ID_LIMIT_, "op id out of range: " #N);           \
    _Static_assert(ni <= EHAL_MAX_INPUTS && no <= EHAL_MAX_OUTPUTS, "op arity: " #N);
EHAL_OP_LIST(X_OP_RANGE)
#undef X_OP_RANGE

const ehal_op_info *ehal_op_info_get(uint32_t op) {
    for (size_t i = 0; i < N_OPS; i++) {
        if (op_infos[i].id == op) {
            return &op_infos[i];
        }
    }
    return NULL;
}

const char *ehal_op_name(uint32_t op) {
    const ehal_op_info *info = ehal_op_info_get(op);
    return info ? info->name : "unknown";
}

uint32_t ehal_op_from_name(const char *name) {
    if (!name) {
        return EHAL_OP_NONE;
    }
    for (size_t i = 0; i < N_OPS; i++) {
        if (strcmp(op_infos[i].name, name) == 0) {
            return op_infos[i].id;
        }
    }
    return EHAL_OP_NONE;
}

uint32_t ehal_op_list(const uint32_t **ids) {
    if (ids) {
        *ids = op_ids;
    }
    return (uint32_t)N_OPS;
}

/* ---- dtypes -------------------------------------------------------------- */

typedef struct dtype_info {
    uint32_t id;
    const char *name;
    uint32_t block_values;
    uint32_t block_bytes;
} dtype_info;

#define X_DT_INFO(N, id, s, bv, bb) {id, s, bv, bb},
static const dtype_info dtype_infos[] = {EHAL_DTYPE_LIST(X_DT_INFO)};
#undef X_DT_INFO

#define X_DT_ID(N, id, s, bv, bb) id,
static const uint32_t dtype_ids[] = {EHAL_DTYPE_LIST(X_DT_ID)};
#undef X_DT_ID

#define N_DTYPES (sizeof dtype_infos / sizeof dtype_infos[0])

#define X_DT_RANGE(N, id, s, bv, bb)                                                       \
    _Static_assert(id < EHAL_DTYPE_ID_LIMIT_, "dtype id out of range: " #N);               \
    _Static_assert(bv >= 1 && bb >= 1, "dtype block: " #N);
EHAL_DTYPE_LIST(X_DT_RANGE)
#undef X_DT_RANGE

static const dtype_info *dtype_find(uint32_t dtype) {
    for (size_t i = 0; i < N_DTYPES; i++) {
        if (dtype_infos[i].id == dtype) {
            return &dtype_infos[i];
        }
    }
    return NULL;
}

int ehal_dtype_valid(uint32_t dtype) { return dtype_find(dtype) != NULL; }

const char *ehal_dtype_name(uint32_t dtype) {
    const dtype_info *d = dtype_find(dtype);
    return d ? d->name : "unknown";
}

uint32_t ehal_dtype_from_name(const char *name) {
    if (!name) {
        return UINT32_MAX;
    }
    for (size_t i = 0; i < N_DTYPES; i++) {
        if (strcmp(dtype_infos[i].name, name) == 0) {
            return dtype_infos[i].id;
        }
    }
    return UINT32_MAX;
}

uint32_t ehal_dtype_block_values(uint32_t dtype) {
    const dtype_info *d = dtype_find(dtype);
    return d ? d->block_values : 0;
}

uint32_t ehal_dtype_block_bytes(uint32_t dtype) {
    const dtype_info *d = dtype_find(dtype);
    return d ? d->block_bytes : 0;
}

int ehal_dtype_is_quantized(uint32_t dtype) {
    const dtype_info *d = dtype_find(dtype);
    return d != NULL && d->block_values > 1;
}

uint32_t ehal_dtype_list(const uint32_t **ids) {
    if (ids) {
        *ids = dtype_ids;
    }
    return (uint32_t)N_DTYPES;
}

/* ---- sizes ----------------------------------------------------------------- */

uint64_t ehal_row_bytes(uint32_t dtype, int64_t ne0) {
    const dtype_info *d = dtype_find(dtype);
    if (!d || ne0 < 1 || ne0 % d->block_values != 0) {
        return 0;
    }
    uint64_t blocks = (uint64_t)ne0 / d->block_values;
    if (blocks > UINT64_MAX / d->block_bytes) {
        return 0;
    }
    return blocks * d->block_bytes;
}

/* a * b, or 0 if it would exceed INT64_MAX (both operands >= 1). */
static int64_t mul_checked(int64_t a, int64_t b) {
    if (a < 1 || b < 1 || a > INT64_MAX / b) {
        return 0;
    }
    return a * b;
}

int64_t ehal_tensor_nelements(const ehal_tensor_desc *t) {
    if (!t) {
        return 0;
    }
    int64_t n = 1;
    for (int i = 0; i < EHAL_MAX_DIMS; i++) {
        n = mul_checked(n, t->ne[i]);
        if (n == 0) {
            return 0;
        }
    }
    return n;
}

uint64_t ehal_tensor_nbytes(const ehal_tensor_desc *t) {
    if (!t || ehal_tensor_nelements(t) == 0) {
        return 0;
    }
    uint64_t bytes = ehal_row_bytes(t->dtype, t->ne[0]);
    for (int i = 1; i < EHAL_MAX_DIMS && bytes != 0; i++) {
        uint64_t n = (uint64_t)t->ne[i];
        bytes = bytes > UINT64_MAX / n ? 0 : bytes * n;
    }
    return bytes;
}

void ehal_tensor_desc_init(ehal_tensor_desc *t, uint32_t dtype, uint32_t n_dims,
                           const int64_t *ne) {
    if (!t) {
        return;
    }
    memset(t, 0, sizeof *t);
    t->struct_size = (uint32_t)sizeof *t;
    t->dtype = dtype;
    t->role = EHAL_ROLE_ACTIVATION;
    for (uint32_t i = 0; i < EHAL_MAX_DIMS; i++) {
        t->ne[i] = (ne && i < n_dims) ? ne[i] : 1;
    }
}
