/* Error metrics between a backend output and the reference. */
#include <math.h>

#include "internal.h"

/* Non-finite reference values must be matched exactly in class (NaN where
 * NaN, the same infinity); they are excluded from NMSE and max_rel. A
 * non-finite backend value where the reference is finite is a failure
 * (recorded in bad_index), never averaged away. */
void conf_measure(const float *got, const float *want, int64_t n, double rel_floor,
                  conf_metrics *m) {
    double sig = 0.0, err = 0.0;
    int64_t finite = 0;
    m->nmse = 0.0;
    m->max_rel = 0.0;
    m->worst_index = -1;
    m->bad_index = -1;
    for (int64_t i = 0; i < n; i++) {
        float a = got[i], b = want[i];
        int ok_class = isnan(b) ? isnan(a) : isinf(b) ? a == b : isfinite(a);
        if (!ok_class) {
            if (m->bad_index < 0) {
                m->bad_index = i;
                m->bad_got = a;
                m->bad_want = b;
            }
            continue;
        }
        if (!isfinite(b))
            continue;
        double d = (double)a - (double)b;
        sig += (double)b * (double)b;
        err += d * d;
        finite++;
    }
    double rms = finite ? sqrt(sig / (double)finite) : 0.0;
    double floor_abs = rel_floor * rms;
    if (floor_abs < 1e-30)
        floor_abs = 1e-30;
    for (int64_t i = 0; i < n; i++) {
        float a = got[i], b = want[i];
        if (!isfinite(a) || !isfinite(b))
            continue;
        double den = fabs((double)b) > floor_abs ? fabs((double)b) : floor_abs;
        double r = fabs((double)a - (double)b) / den;
        if (r > m->max_rel || m->worst_index < 0) {
            m->max_rel = r > m->max_rel ? r : m->max_rel;
            if (r >= m->max_rel)
                m->worst_index = i;
        }
    }
    /* All-zero reference: NMSE is the raw squared error. */
    m->nmse = sig > 0.0 ? err / sig : err;
}
