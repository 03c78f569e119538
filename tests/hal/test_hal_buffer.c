/*
 * Buffers through the public wrappers: round trips, range checks that
 * cannot overflow, and the defaults for the optional entries (map, host
 * import, prepack) when a plugin leaves them NULL.
 */
#include "hal_test.h"

typedef struct fixture {
    ehal_context *ctx;
    ehal_backend *mock;   /* offers map, import and prepack */
    ehal_backend *frozen; /* leaves them all NULL */
} fixture;

static int setup(void **state) {
    static fixture f;
    f.ctx = open_ctx(MOCK_SO ":" FROZEN_SO, NULL);
    f.mock = ehal_backend_find(f.ctx, "mock");
    f.frozen = ehal_backend_find(f.ctx, "frozen1");
    *state = &f;
    return f.mock && f.frozen ? 0 : -1;
}

static int teardown(void **state) {
    fixture *f = *state;
    ehal_context_destroy(f->ctx);
    return 0;
}

static void write_then_read_returns_the_bytes(void **state) {
    fixture *f = *state;
    ehal_buffer *b = NULL;
    assert_int_equal(ehal_buffer_alloc(f->mock, 64, 0, &b), EHAL_STATUS_OK);
    assert_int_equal(ehal_buffer_size(b), 64);
    assert_ptr_equal(ehal_buffer_backend(b), f->mock);
    assert_non_null(ehal_buffer_handle(b));
    const unsigned char src[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    assert_int_equal(ehal_buffer_write(b, 56, src, 8), EHAL_STATUS_OK);
    unsigned char dst[10] = {0};
    assert_int_equal(ehal_buffer_read(b, 54, dst, 10), EHAL_STATUS_OK);
    const unsigned char expect[10] = {0, 0, 1, 2, 3, 4, 5, 6, 7, 8};
    assert_memory_equal(dst, expect, 10);
    ehal_buffer_free(b);
    ehal_buffer_free(NULL);
}

static void ranges_outside_the_buffer_are_refused(void **state) {
    fixture *f = *state;
    ehal_buffer *b = NULL;
    assert_int_equal(ehal_buffer_alloc(f->mock, 64, 0, &b), EHAL_STATUS_OK);
    unsigned char data[16] = {0};
    assert_int_equal(ehal_buffer_write(b, 56, data, 16), EHAL_STATUS_INVALID_ARGUMENT);
    assert_string_equal(ehal_last_error(f->ctx),
                        "mock: buffer_write of 16 bytes at offset 56 exceeds the 64-byte buffer");
    /* offset + size wraps around 2^64: still refused. */
    assert_int_equal(ehal_buffer_read(b, UINT64_MAX - 4, data, 8), EHAL_STATUS_INVALID_ARGUMENT);
    assert_string_equal(ehal_last_error(f->ctx),
                        "mock: buffer_read of 8 bytes at offset 18446744073709551611 exceeds the "
                        "64-byte buffer");
    assert_int_equal(ehal_buffer_write(b, 0, NULL, 4), EHAL_STATUS_INVALID_ARGUMENT);
    assert_string_equal(ehal_last_error(f->ctx), "mock: buffer_write: host pointer is NULL");
    assert_int_equal(ehal_buffer_write(b, 64, data, 0), EHAL_STATUS_OK); /* empty, at the end */
    assert_int_equal(ehal_buffer_write(NULL, 0, data, 1), EHAL_STATUS_INVALID_ARGUMENT);
    ehal_buffer *z = (ehal_buffer *)1;
    assert_int_equal(ehal_buffer_alloc(f->mock, 0, 0, &z), EHAL_STATUS_INVALID_ARGUMENT);
    assert_null(z);
    assert_string_equal(ehal_last_error(f->ctx), "mock: buffer_alloc: size 0 is not allowed");
    ehal_buffer_free(b);
}

static void map_shows_the_buffer_or_is_unsupported(void **state) {
    fixture *f = *state;
    ehal_buffer *b = NULL;
    assert_int_equal(ehal_buffer_alloc(f->mock, 16, 0, &b), EHAL_STATUS_OK);
    const float v[4] = {1.5f, -2.0f, 3.25f, 0.0f};
    assert_int_equal(ehal_buffer_write(b, 0, v, sizeof v), EHAL_STATUS_OK);
    void *p = NULL;
    assert_int_equal(ehal_buffer_map(b, &p), EHAL_STATUS_OK);
    assert_memory_equal(p, v, sizeof v);
    ehal_buffer_unmap(b);
    ehal_buffer_free(b);

    assert_int_equal(ehal_buffer_alloc(f->frozen, 16, 0, &b), EHAL_STATUS_OK);
    p = (void *)1;
    assert_int_equal(ehal_buffer_map(b, &p), EHAL_STATUS_UNSUPPORTED);
    assert_null(p);
    assert_string_equal(ehal_last_error(f->ctx), "frozen1: backend cannot map buffers");
    ehal_buffer_unmap(b); /* not mapped: nothing happens */
    ehal_buffer_free(b);
}

static void host_import_wraps_memory_or_is_unsupported(void **state) {
    fixture *f = *state;
    float host[4] = {1, 2, 3, 4};
    ehal_buffer *b = NULL;
    assert_int_equal(ehal_buffer_import_host(f->mock, host, sizeof host, 0, &b), EHAL_STATUS_OK);
    host[2] = 30.0f; /* zero-copy: the buffer sees the change */
    float back[4];
    assert_int_equal(ehal_buffer_read(b, 0, back, sizeof back), EHAL_STATUS_OK);
    assert_true(back[0] == 1.0f && back[1] == 2.0f && back[2] == 30.0f && back[3] == 4.0f);
    ehal_buffer_free(b);

    assert_int_equal(ehal_buffer_import_host(f->frozen, host, sizeof host, 0, &b),
                     EHAL_STATUS_UNSUPPORTED);
    assert_string_equal(ehal_last_error(f->ctx), "frozen1: backend cannot import host memory");
    assert_int_equal(ehal_buffer_import_host(f->mock, NULL, 16, 0, &b),
                     EHAL_STATUS_INVALID_ARGUMENT);
}

static void prepack_uses_the_private_layout_or_a_plain_upload(void **state) {
    fixture *f = *state;
    const float w[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    ehal_tensor_desc t = f32_tensor(4, 2, NULL, 0);
    ehal_buffer *b = NULL;
    /* frozen1 has no prepack: a plain buffer holding the bytes. */
    assert_int_equal(ehal_buffer_prepack(f->frozen, &t, w, &b), EHAL_STATUS_OK);
    assert_int_equal(ehal_buffer_size(b), 32);
    float back[8];
    assert_int_equal(ehal_buffer_read(b, 0, back, sizeof back), EHAL_STATUS_OK);
    assert_memory_equal(back, w, sizeof w);
    ehal_buffer_free(b);
    /* mock prepacks: the result is backend-private, not readable. */
    assert_int_equal(ehal_buffer_prepack(f->mock, &t, w, &b), EHAL_STATUS_OK);
    assert_int_equal(ehal_buffer_read(b, 0, back, 4), EHAL_STATUS_INVALID_ARGUMENT);
    assert_string_equal(ehal_last_error(f->ctx),
                        "mock: buffer_read: the buffer is prepacked (backend-private layout)");
    ehal_buffer_free(b);
    /* mock refuses F16 weights: falls back to a plain upload. */
    t.dtype = EHAL_DTYPE_F16;
    assert_int_equal(ehal_buffer_prepack(f->mock, &t, w, &b), EHAL_STATUS_OK);
    assert_int_equal(ehal_buffer_size(b), 16);
    assert_int_equal(ehal_buffer_read(b, 0, back, 16), EHAL_STATUS_OK);
    assert_memory_equal(back, w, 16);
    ehal_buffer_free(b);
    /* A shape that is not a whole number of quant blocks. */
    t.dtype = EHAL_DTYPE_Q8_0;
    assert_int_equal(ehal_buffer_prepack(f->mock, &t, w, &b), EHAL_STATUS_INVALID_ARGUMENT);
    assert_non_null(strstr(ehal_last_error(f->ctx), "is not a valid dense tensor"));
}

static void prepack_private_never_falls_back_to_a_copy(void **state) {
    fixture *f = *state;
    const float w[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    ehal_tensor_desc t = f32_tensor(4, 2, NULL, 0);
    ehal_buffer *b = (ehal_buffer *)&b;
    /* frozen1 has no prepack at all. */
    assert_int_equal(ehal_buffer_prepack_private(f->frozen, &t, w, &b), EHAL_STATUS_UNSUPPORTED);
    assert_null(b);
    /* mock has a private layout for F32 ... */
    assert_int_equal(ehal_buffer_prepack_private(f->mock, &t, w, &b), EHAL_STATUS_OK);
    float back[1];
    assert_int_equal(ehal_buffer_read(b, 0, back, 4), EHAL_STATUS_INVALID_ARGUMENT);
    ehal_buffer_free(b);
    /* ... and none for F16. */
    t.dtype = EHAL_DTYPE_F16;
    b = (ehal_buffer *)&b;
    assert_int_equal(ehal_buffer_prepack_private(f->mock, &t, w, &b), EHAL_STATUS_UNSUPPORTED);
    assert_null(b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(write_then_read_returns_the_bytes),
        cmocka_unit_test(ranges_outside_the_buffer_are_refused),
        cmocka_unit_test(map_shows_the_buffer_or_is_unsupported),
        cmocka_unit_test(host_import_wraps_memory_or_is_unsupported),
        cmocka_unit_test(prepack_uses_the_private_layout_or_a_plain_upload),
        cmocka_unit_test(prepack_private_never_falls_back_to_a_copy),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
