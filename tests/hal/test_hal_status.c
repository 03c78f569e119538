/* ehal_status_string: every code has its word; unknown codes are named so. */
#include "hal_test.h"

static void every_status_has_its_word(void **state) {
    (void)state;
    static const struct {
        ehal_status_t s;
        const char *word;
    } expect[] = {
        {EHAL_STATUS_OK, "ok"},
        {EHAL_STATUS_INVALID_ARGUMENT, "invalid argument"},
        {EHAL_STATUS_UNSUPPORTED, "unsupported"},
        {EHAL_STATUS_UNIMPLEMENTED, "unimplemented"},
        {EHAL_STATUS_OUT_OF_MEMORY, "out of memory"},
        {EHAL_STATUS_INCOMPATIBLE, "incompatible"},
        {EHAL_STATUS_DEVICE_LOST, "device lost"},
        {EHAL_STATUS_TIMEOUT, "timeout"},
        {EHAL_STATUS_INTERNAL, "internal error"},
        {EHAL_STATUS_NOT_FOUND, "not found"},
        {EHAL_STATUS_IO, "i/o error"},
        {EHAL_STATUS_FORMAT, "format error"},
    };
    assert_int_equal(sizeof expect / sizeof expect[0], EHAL_STATUS_COUNT_);
    for (size_t i = 0; i < sizeof expect / sizeof expect[0]; i++)
        assert_string_equal(ehal_status_string(expect[i].s), expect[i].word);
}

static void unknown_codes_are_named_unknown(void **state) {
    (void)state;
    assert_string_equal(ehal_status_string(-1), "unknown status");
    assert_string_equal(ehal_status_string(EHAL_STATUS_COUNT_), "unknown status");
    assert_string_equal(ehal_status_string(1000), "unknown status");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_status_has_its_word),
        cmocka_unit_test(unknown_codes_are_named_unknown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
