/* Building case programs: tensors with seeded contents, nodes, checks. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

void conf_set_msg(char *msg, size_t n, const char *fmt, ...) {
    if (!msg || n == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, n, fmt, ap);
    va_end(ap);
}

uint64_t conf_rng_u64(uint64_t *s) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

float conf_rng_uniform(uint64_t *s, float lo, float hi) {
    double u = (double)(conf_rng_u64(s) >> 11) * (1.0 / 9007199254740992.0);
    return (float)(lo + (hi - lo) * u);
}

float conf_rng_normal(uint64_t *s) {
    double u1 = ((double)(conf_rng_u64(s) >> 11) + 1.0) * (1.0 / 9007199254740993.0);
    double u2 = (double)(conf_rng_u64(s) >> 11) * (1.0 / 9007199254740992.0);
    return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}

uint64_t conf_hash(const char *s) {
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ull;
    }
    return h;
}

uint32_t conf_tensor_add(conf_prog *p, uint32_t dtype, uint32_t role, int64_t ne0, int64_t ne1,
                         int64_t ne2, int64_t ne3) {
    if (p->n_t >= CONF_MAX_TENSORS) {
        p->oom = 1;
        return UINT32_MAX;
    }
    conf_tensor *t = &p->t[p->n_t];
    memset(t, 0, sizeof *t);
    int64_t ne[4] = {ne0, ne1, ne2, ne3};
    ehal_tensor_desc_init(&t->d, dtype, 4, ne);
    t->d.role = role;
    t->nbytes = ehal_tensor_nbytes(&t->d);
    t->host = calloc(1, t->nbytes ? t->nbytes : 1);
    if (!t->host) {
        p->oom = 1;
        return UINT32_MAX;
    }
    t->weight = role == EHAL_ROLE_WEIGHT;
    t->alias = UINT32_MAX;
    return p->n_t++;
}

uint32_t conf_tensor_alias(conf_prog *p, uint32_t base, int64_t ne0, int64_t ne1, int64_t ne2,
                           int64_t ne3) {
    if (p->n_t >= CONF_MAX_TENSORS || base >= p->n_t || p->t[base].alias != UINT32_MAX) {
        p->oom = 1;
        return UINT32_MAX;
    }
    conf_tensor *t = &p->t[p->n_t];
    memset(t, 0, sizeof *t);
    int64_t ne[4] = {ne0, ne1, ne2, ne3};
    ehal_tensor_desc_init(&t->d, p->t[base].d.dtype, 4, ne);
    t->d.role = p->t[base].d.role;
    t->nbytes = ehal_tensor_nbytes(&t->d);
    if (t->nbytes != p->t[base].nbytes) {
        p->oom = 1;
        return UINT32_MAX;
    }
    t->host = p->t[base].host;
    t->alias = base;
    return p->n_t++;
}

void conf_prog_free(conf_prog *p) {
    for (uint32_t i = 0; i < p->n_t; i++)
        if (p->t[i].alias == UINT32_MAX)
            free(p->t[i].host);
    p->n_t = 0;
}

uint32_t conf_node_add(conf_prog *p, uint32_t step, uint32_t op, uint32_t n_in, const uint32_t *in,
                       uint32_t out, const void *params, uint32_t psize) {
    if (p->n_nodes >= CONF_MAX_NODES || n_in > EHAL_MAX_INPUTS ||
        psize > sizeof p->nodes[0].params || out >= p->n_t) {
        p->oom = 1;
        return UINT32_MAX;
    }
    conf_node *nd = &p->nodes[p->n_nodes];
    memset(nd, 0, sizeof *nd);
    nd->step = step;
    nd->n.struct_size = sizeof nd->n;
    nd->n.op = op;
    nd->n.n_inputs = n_in;
    nd->n.n_outputs = 1;
    for (uint32_t i = 0; i < n_in; i++) {
        if (in[i] >= p->n_t) {
            p->oom = 1;
            return UINT32_MAX;
        }
        nd->n.inputs[i] = in[i];
    }
    nd->n.outputs[0] = out;
    if (params && psize) {
        memcpy(nd->params, params, psize);
        nd->n.params_size = psize;
    }
    p->t[out].written = 1;
    if (p->t[out].alias != UINT32_MAX)
        p->t[p->t[out].alias].written = 1;
    if (step + 1 > p->n_steps)
        p->n_steps = step + 1;
    return p->n_nodes++;
}

void conf_check_add(conf_prog *p, uint32_t step, uint32_t tensor, const char *tol_name,
                    uint32_t tol_dtype, const char *what) {
    if (p->n_checks >= CONF_MAX_CHECKS) {
        p->oom = 1;
        return;
    }
    conf_check *c = &p->checks[p->n_checks++];
    c->step = step;
    c->tensor = tensor;
    c->tol_name = tol_name;
    c->tol_dtype = tol_dtype;
    c->what = what;
}

/* Converts n f32 values into tensor t's storage. */
static int store_f32(conf_prog *p, uint32_t t, const float *v) {
    conf_tensor *ct = &p->t[t];
    int64_t n = ehal_tensor_nelements(&ct->d);
    if (ct->d.dtype == EHAL_DTYPE_F32) {
        memcpy(ct->host, v, (size_t)n * sizeof(float));
        return 0;
    }
    int64_t ne0 = ct->d.ne[0];
    uint64_t rb = ehal_row_bytes(ct->d.dtype, ne0);
    for (int64_t r = 0; r < n / ne0; r++) {
        if (ehal_convert_row(EHAL_DTYPE_F32, v + r * ne0, ct->d.dtype,
                             (char *)ct->host + (uint64_t)r * rb, ne0) != EHAL_STATUS_OK)
            return -1;
    }
    return 0;
}

static int fill_gen(conf_prog *p, uint32_t t, int normal, float a, float b) {
    if (t >= p->n_t)
        return -1;
    int64_t n = ehal_tensor_nelements(&p->t[t].d);
    float *v = malloc((size_t)n * sizeof(float) + 1);
    if (!v) {
        p->oom = 1;
        return -1;
    }
    for (int64_t i = 0; i < n; i++)
        v[i] = normal ? a * conf_rng_normal(&p->rng) : conf_rng_uniform(&p->rng, a, b);
    int rc = store_f32(p, t, v);
    free(v);
    return rc;
}

int conf_fill_uniform(conf_prog *p, uint32_t t, float lo, float hi) {
    return fill_gen(p, t, 0, lo, hi);
}

int conf_fill_normal(conf_prog *p, uint32_t t, float sigma) {
    return fill_gen(p, t, 1, sigma, 0);
}

int conf_fill_f32_values(conf_prog *p, uint32_t t, const float *v) {
    return t < p->n_t ? store_f32(p, t, v) : -1;
}

void conf_fill_i32(conf_prog *p, uint32_t t, const int32_t *v) {
    if (t < p->n_t)
        memcpy(p->t[t].host, v, (size_t)p->t[t].nbytes);
}

void conf_fill_i32_range(conf_prog *p, uint32_t t, int32_t lo, int32_t hi) {
    if (t >= p->n_t)
        return;
    int32_t *v = p->t[t].host;
    int64_t n = ehal_tensor_nelements(&p->t[t].d);
    for (int64_t i = 0; i < n; i++)
        v[i] = lo + (int32_t)(conf_rng_u64(&p->rng) % (uint64_t)(hi - lo));
}
