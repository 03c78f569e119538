/* Reports: the op x dtype summary table, JSON (every case) and JUnit XML. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "json_writer.h"

const char *ehal_conf_status_name(uint32_t s) {
    switch (s) {
    case EHAL_CONF_PASS: return "pass";
    case EHAL_CONF_FAIL: return "fail";
    case EHAL_CONF_UNSUPPORTED: return "unsupported";
    case EHAL_CONF_XFAIL: return "xfail";
    case EHAL_CONF_XPASS: return "xpass";
    default: return "not-run";
    }
}

typedef struct row {
    char op[24], dtype[16];
    uint32_t pass, fail, skip, xfail;
    double worst;               /* max over cases of measured/tolerance */
    const ehal_conf_result *at; /* the case it came from */
} row;

static double ratio(const ehal_conf_result *r) {
    if (r->nmse < 0)
        return -1;
    double a = r->tol_nmse > 0 ? r->nmse / r->tol_nmse : (r->nmse > 0 ? INFINITY : 0);
    double b = r->tol_max_rel > 0 ? r->max_rel / r->tol_max_rel : (r->max_rel > 0 ? INFINITY : 0);
    return a > b ? a : b;
}

void conf_print_table(FILE *f, const ehal_conf_report *r) {
    row *rows = calloc(r->n_results + 1, sizeof *rows);
    uint32_t n = 0;
    if (!rows)
        return;
    for (uint32_t i = 0; i < r->n_results; i++) {
        const ehal_conf_result *c = &r->results[i];
        uint32_t k = 0;
        while (k < n && (strcmp(rows[k].op, c->op) || strcmp(rows[k].dtype, c->dtype)))
            k++;
        if (k == n) {
            snprintf(rows[k].op, sizeof rows[k].op, "%s", c->op);
            snprintf(rows[k].dtype, sizeof rows[k].dtype, "%s", c->dtype);
            rows[k].worst = -1;
            n++;
        }
        row *w = &rows[k];
        switch (c->status) {
        case EHAL_CONF_PASS:
        case EHAL_CONF_XPASS: w->pass++; break;
        case EHAL_CONF_UNSUPPORTED:
        case EHAL_CONF_NOT_RUN: w->skip++; break;
        case EHAL_CONF_XFAIL: w->xfail++; break;
        default: w->fail++; break;
        }
        double q = ratio(c);
        if (q > w->worst) {
            w->worst = q;
            w->at = c;
        }
    }
    fprintf(f, "\n%-10s %-6s %5s %5s %5s %5s  %-28s\n", "op", "dtype", "pass", "fail", "unsup",
            "xfail", "worst error / tolerance");
    for (uint32_t k = 0; k < n; k++) {
        char worst[64] = "-";
        const ehal_conf_result *c = rows[k].at;
        if (c) {
            /* the metric that set the ratio */
            int by_nmse = c->tol_nmse > 0 && c->nmse / c->tol_nmse >= rows[k].worst * 0.999999;
            snprintf(worst, sizeof worst, "%.2f (%s %.1e / %.0e)", rows[k].worst,
                     by_nmse ? "nmse" : "max_rel", by_nmse ? c->nmse : c->max_rel,
                     by_nmse ? c->tol_nmse : c->tol_max_rel);
        }
        fprintf(f, "%-10s %-6s %5u %5u %5u %5u  %s\n", rows[k].op, rows[k].dtype, rows[k].pass,
                rows[k].fail, rows[k].skip, rows[k].xfail, worst);
    }
    free(rows);
}

int conf_write_json(const char *path, const ehal_conf_report *r, const ehal_conf_options *o) {
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    ehal_json_writer w;
    ehal_json_init_file(&w, f, EHAL_JSON_PRETTY);
    ehal_json_begin_object(&w);
    ehal_json_kv_string(&w, "suite_version", EHAL_CONF_SUITE_VERSION);
    ehal_json_kv_string(&w, "backend", r->backend);
    ehal_json_kv_string(&w, "backend_arg", o->backend ? o->backend : "cpu");
    ehal_json_kv_string(&w, "profile", r->profile);
    ehal_json_kv_bool(&w, "profile_met", r->profile_met);
    ehal_json_kv_uint(&w, "seed", o->seed ? o->seed : 1);
    ehal_json_kv_double(&w, "wall_s", r->wall_s);
    ehal_json_key(&w, "counts");
    ehal_json_begin_object(&w);
    ehal_json_kv_uint(&w, "total", r->n_results);
    ehal_json_kv_uint(&w, "pass", r->n_pass);
    ehal_json_kv_uint(&w, "fail", r->n_fail);
    ehal_json_kv_uint(&w, "unsupported", r->n_unsupported);
    ehal_json_kv_uint(&w, "xfail", r->n_xfail);
    ehal_json_kv_uint(&w, "xpass", r->n_xpass);
    ehal_json_end_object(&w);
    ehal_json_key(&w, "cases");
    ehal_json_begin_array(&w);
    for (uint32_t i = 0; i < r->n_results; i++) {
        const ehal_conf_result *c = &r->results[i];
        ehal_json_begin_object(&w);
        ehal_json_kv_string(&w, "id", c->id);
        ehal_json_kv_string(&w, "op", c->op);
        ehal_json_kv_string(&w, "dtype", c->dtype);
        ehal_json_kv_string(&w, "shape", c->shape);
        ehal_json_kv_uint(&w, "seed", c->seed);
        ehal_json_kv_string(&w, "status", ehal_conf_status_name(c->status));
        ehal_json_kv_bool(&w, "in_profile", c->in_profile);
        if (c->nmse >= 0) {
            ehal_json_kv_double(&w, "nmse", c->nmse);
            ehal_json_kv_double(&w, "max_rel", c->max_rel);
            ehal_json_kv_double(&w, "tol_nmse", c->tol_nmse);
            ehal_json_kv_double(&w, "tol_max_rel", c->tol_max_rel);
        } else {
            ehal_json_key(&w, "nmse");
            ehal_json_null(&w);
            ehal_json_key(&w, "max_rel");
            ehal_json_null(&w);
        }
        ehal_json_kv_double(&w, "time_ms", c->time_ms);
        ehal_json_kv_string(&w, "message", c->message);
        ehal_json_end_object(&w);
    }
    ehal_json_end_array(&w);
    ehal_json_end_object(&w);
    int rc = ehal_json_finish(&w);
    if (fclose(f) != 0)
        rc = -1;
    return rc;
}

static void xml_text(FILE *f, const char *s) {
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        switch (c) {
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '&': fputs("&amp;", f); break;
        case '"': fputs("&quot;", f); break;
        case '\'': fputs("&apos;", f); break;
        default:
            if (c < 0x20 && c != '\t' && c != '\n')
                fputc('?', f);
            else
                fputc(c, f);
        }
    }
}

/* One <testsuite> per op/family, one <testcase> per case. Unsupported cases
 * are <skipped>; an expected failure is a pass with a system-out note. */
int conf_write_junit(const char *path, const ehal_conf_report *r) {
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    fprintf(
        f, "<testsuites name=\"edgehal-conformance\" tests=\"%u\" failures=\"%u\" time=\"%.3f\">\n",
        r->n_results, r->n_fail, r->wall_s);
    char *done = calloc(r->n_results + 1, 1);
    for (uint32_t i = 0; done && i < r->n_results; i++) {
        if (done[i])
            continue;
        const char *op = r->results[i].op;
        uint32_t tests = 0, fails = 0, skips = 0;
        double t = 0;
        for (uint32_t j = i; j < r->n_results; j++) {
            if (strcmp(r->results[j].op, op) != 0)
                continue;
            tests++;
            fails += r->results[j].status == EHAL_CONF_FAIL;
            skips += r->results[j].status == EHAL_CONF_UNSUPPORTED;
            t += r->results[j].time_ms * 1e-3;
        }
        fprintf(f, "  <testsuite name=\"");
        xml_text(f, op);
        fprintf(f, "\" tests=\"%u\" failures=\"%u\" skipped=\"%u\" time=\"%.3f\">\n", tests, fails,
                skips, t);
        for (uint32_t j = i; j < r->n_results; j++) {
            const ehal_conf_result *c = &r->results[j];
            if (strcmp(c->op, op) != 0)
                continue;
            done[j] = 1;
            fprintf(f, "    <testcase classname=\"conformance.");
            xml_text(f, op);
            fprintf(f, "\" name=\"");
            xml_text(f, c->id);
            fprintf(f, "\" time=\"%.3f\"", c->time_ms * 1e-3);
            if (c->status == EHAL_CONF_PASS) {
                fprintf(f, "/>\n");
                continue;
            }
            fprintf(f, ">\n");
            if (c->status == EHAL_CONF_FAIL) {
                fprintf(f, "      <failure message=\"");
                xml_text(f, c->message);
                fprintf(f, "\">nmse=%g max_rel=%g tol_nmse=%g tol_max_rel=%g seed=%llu</failure>\n",
                        c->nmse, c->max_rel, c->tol_nmse, c->tol_max_rel,
                        (unsigned long long)c->seed);
            } else if (c->status == EHAL_CONF_UNSUPPORTED || c->status == EHAL_CONF_NOT_RUN) {
                fprintf(f, "      <skipped message=\"");
                xml_text(f, c->message);
                fprintf(f, "\"/>\n");
            } else {
                fprintf(f, "      <system-out>%s: ",
                        c->status == EHAL_CONF_XPASS ? "unexpected pass" : "expected failure");
                xml_text(f, c->message);
                fprintf(f, "</system-out>\n");
            }
            fprintf(f, "    </testcase>\n");
        }
        fprintf(f, "  </testsuite>\n");
    }
    free(done);
    fprintf(f, "</testsuites>\n");
    return fclose(f) == 0 ? 0 : -1;
}
