/* Status codes to words (R12). */
#include "internal.h"

EHAL_API const char *ehal_status_string(ehal_status_t status) {
    static const char *const names[EHAL_STATUS_COUNT_] = {
        [EHAL_STATUS_OK] = "ok",
        [EHAL_STATUS_INVALID_ARGUMENT] = "invalid argument",
        [EHAL_STATUS_UNSUPPORTED] = "unsupported",
        [EHAL_STATUS_UNIMPLEMENTED] = "unimplemented",
        [EHAL_STATUS_OUT_OF_MEMORY] = "out of memory",
        [EHAL_STATUS_INCOMPATIBLE] = "incompatible",
        [EHAL_STATUS_DEVICE_LOST] = "device lost",
        [EHAL_STATUS_TIMEOUT] = "timeout",
        [EHAL_STATUS_INTERNAL] = "internal error",
        [EHAL_STATUS_NOT_FOUND] = "not found",
        [EHAL_STATUS_IO] = "i/o error",
        [EHAL_STATUS_FORMAT] = "format error",
    };
    if (status < 0 || status >= EHAL_STATUS_COUNT_)
        return "unknown status";
    return names[status];
}
