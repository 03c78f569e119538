/* The KV cache slot rule of backend_abi.h. */
int kv_slot(int p, int C, uint window, uint n_sink) {
    if (window == 0u || p < int(n_sink)) return p;
    return int(n_sink) + (p - int(n_sink)) % (C - int(n_sink));
}
