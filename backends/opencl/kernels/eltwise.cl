/* ADD, MUL, SWIGLU over n floats: y = a (+|*|swiglu) b. op: 0 add, 1 mul,
 * 2 swiglu. One work-item per element. */
kernel void ehal_eltwise(global const uchar *a, ulong ao, global const uchar *b, ulong bo,
                         global uchar *y, ulong yo, long n, int op) {
    long i = get_global_id(0);
    if (i >= n) {
        return;
    }
    float x = AT(const float, a, ao)[i];
    float z = AT(const float, b, bo)[i];
    float r;
    if (op == 0) {
        r = x + z;
    } else if (op == 1) {
        r = x * z;
    } else {
        r = x / (1.0f + exp(-x)) * z;
    }
    AT(float, y, yo)[i] = r;
}

/* COPY of n values, src dtype -> dst dtype, 32 values per work-item (one
 * block on quantized sides). I32 -> I32 copies the bits. */
kernel void ehal_copy(global const uchar *s, ulong so, int sdt, global uchar *d, ulong dof,
                      int ddt, long n) {
    long i0 = (long)get_global_id(0) * QK;
    if (i0 >= n) {
        return;
    }
    int cnt = n - i0 < QK ? (int)(n - i0) : QK;
    if (sdt == DT_I32) {
        for (int j = 0; j < cnt; j++) {
            AT(uint, d, dof)[i0 + j] = AT(const uint, s, so)[i0 + j];
        }
        return;
    }
    float v[QK];
    global const uchar *sp = s + so;
    if (sdt == DT_Q8_0 || sdt == DT_Q4_0) {
        ehal_load_block(sp, sdt, i0 / QK, v);
    } else {
        for (int j = 0; j < cnt; j++) {
            v[j] = ehal_load(sp, sdt, i0 + j);
        }
    }
    ehal_store(d + dof, ddt, i0, cnt, v);
}

/* GET_ROWS: out[t][i] = table[ids[t]][i] as float. Global (D, T). An id
 * outside [0, V) yields a zero row (the reference rejects it). */
kernel void ehal_get_rows(global const uchar *tab, ulong to, int tdt, long row_bytes, int V,
                          global const uchar *ids, ulong io, global uchar *y, ulong yo, int D) {
    int i = get_global_id(0);
    int t = get_global_id(1);
    if (i >= D) {
        return;
    }
    int id = AT(const int, ids, io)[t];
    float v = 0.0f;
    if (id >= 0 && id < V) {
        v = ehal_load(tab + to + (long)id * row_bytes, tdt, i);
    }
    AT(float, y, yo)[(long)t * D + i] = v;
}
