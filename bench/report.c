/*
 * The results of a run (see report.h): chat-bench's summary and JSON
 * layout, shared by the peers' load generators.
 */

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "report.h"

#define BENCH_REPORT_NS  1e9

typedef unsigned long long  ull;

static double bench_ms(uint64_t ns);
static double bench_measured_s(const bench_report_t *r);
static void bench_text_table(const char *title, const bench_table_t *t);
static void bench_text_hist(const char *title, const hist_t *h);
static void bench_json_table(FILE *f, const char *name,
    const bench_table_t *t);
static void bench_json_hist(FILE *f, const char *name, const hist_t *h);
static void bench_json_counts(FILE *f, const bench_report_t *r);


void
bench_stats_init(bench_stats_t *st)
{
    memset(st, 0, sizeof(bench_stats_t));
    hist_init(&st->e2e);
    hist_init(&st->reply);
    hist_init(&st->error);
}


void
bench_count(bench_table_t *t, const char *key, size_t len)
{
    unsigned  i;

    if (len >= BENCH_KEY_MAX) {
        len = BENCH_KEY_MAX - 1;
    }

    for (i = 0; i < t->n; i++) {
        if (strlen(t->e[i].key) == len && memcmp(t->e[i].key, key, len) == 0)
        {
            t->e[i].n++;
            return;
        }
    }

    if (t->n == BENCH_TABLE_MAX) {
        t->other++;
        return;
    }

    /* keys are printed into JSON: keep only harmless characters */
    for (i = 0; i < len; i++) {
        t->e[t->n].key[i] = (key[i] >= ' ' && key[i] < 0x7f && key[i] != '"'
                             && key[i] != '\\') ? key[i] : '?';
    }
    t->e[t->n].key[len] = '\0';
    t->e[t->n].n = 1;
    t->n++;
}


static double
bench_ms(uint64_t ns)
{
    return (double) ns / 1e6;
}


static double
bench_measured_s(const bench_report_t *r)
{
    return r->t_end > r->t_measure
           ? (double) (r->t_end - r->t_measure) / BENCH_REPORT_NS : 0;
}


static void
bench_text_table(const char *title, const bench_table_t *t)
{
    unsigned  i;

    if (t->n == 0 && t->other == 0) {
        return;
    }

    printf("  %s:", title);

    for (i = 0; i < t->n; i++) {
        printf(" %s=%llu", t->e[i].key, (ull) t->e[i].n);
    }

    if (t->other) {
        printf(" other=%llu", (ull) t->other);
    }

    printf("\n");
}


static void
bench_text_hist(const char *title, const hist_t *h)
{
    if (h->total == 0) {
        printf("latency %-6s n=0\n", title);
        return;
    }

    printf("latency %-6s n=%llu  p50 %.3f  p90 %.3f  p99 %.3f  p99.9 %.3f  "
           "max %.3f ms  (mean %.3f, min %.3f)\n", title, (ull) h->total,
           bench_ms(hist_percentile(h, 50)), bench_ms(hist_percentile(h, 90)),
           bench_ms(hist_percentile(h, 99)),
           bench_ms(hist_percentile(h, 99.9)), bench_ms(h->max),
           h->sum / (double) h->total / 1e6, bench_ms(h->min));
}


void
bench_report_text(const bench_report_t *r)
{
    double                secs;
    const bench_stats_t  *st;

    st = r->st;
    secs = bench_measured_s(r);

    printf("%s run %s: mode %s, %s:%u%s%s, %lu connections, "
           "rate %.0f/s, warm-up %.1f s, measured %.2f s\n",
           r->tool, r->run, r->mode, r->host, r->port,
           r->src ? " from " : "", r->src ? r->src : "", r->requested,
           r->rate, r->warmup, secs);

    printf("connections: requested %lu, up %llu (%.2f%%), failed %llu, "
           "dropped %llu, up at end %llu, closed cleanly %llu; "
           "connect phase %.2f s\n",
           r->requested, (ull) st->up,
           100.0 * (double) st->up / (double) r->requested,
           (ull) st->failed, (ull) st->dropped, (ull) st->up_at_end,
           (ull) st->closed_clean,
           (double) (r->t_up - r->t_start) / BENCH_REPORT_NS);
    bench_text_table("failures", &st->fail_reasons);
    bench_text_table("drops", &st->drop_reasons);

    printf("requests (sent in the window): ticks %llu, attempted %llu, "
           "answered %s %llu, errors %llu, skipped %llu "
           "(inflight %llu, conn down %llu, backpressure %llu), "
           "max tick lag %.3f ms\n",
           (ull) st->ticks, (ull) st->attempted,
           r->answer ? r->answer : "-", (ull) st->answered,
           (ull) st->errors,
           (ull) (st->skipped_inflight + st->skipped_down
                  + st->skipped_backpressure),
           (ull) st->skipped_inflight, (ull) st->skipped_down,
           (ull) st->skipped_backpressure, bench_ms(st->max_lag_ns));
    bench_text_table("error codes", &st->error_codes);

    printf("delivered: %llu (%.1f/s), out of order %llu, duplicates %llu, "
           "typing lost %llu; "
           "frames: echoes %llu, stale %llu, foreign %llu, unmatched %llu, "
           "replies %llu, parse errors %llu, other %llu, server pings %llu, "
           "receipts sent %llu\n",
           (ull) st->delivered,
           secs > 0 ? (double) st->delivered / secs : 0.0,
           (ull) st->out_of_order, (ull) st->duplicates,
           (ull) st->typing_lost, (ull) st->echoes, (ull) st->stale,
           (ull) st->foreign, (ull) st->unmatched, (ull) st->replies,
           (ull) st->parse_errors, (ull) st->other_frames,
           (ull) st->server_pings, (ull) st->receipts_sent);

    if (r->e2e) {
        bench_text_hist("e2e", &st->e2e);
    }
    if (r->answer) {
        bench_text_hist(r->answer, &st->reply);
    }
    if (st->error.total) {
        bench_text_hist("error", &st->error);
    }

    bench_text_table("close codes", &st->close_codes);
}


static void
bench_json_table(FILE *f, const char *name, const bench_table_t *t)
{
    unsigned  i;

    fprintf(f, "\"%s\":{", name);

    for (i = 0; i < t->n; i++) {
        fprintf(f, "%s\"%s\":%llu", i ? "," : "", t->e[i].key,
                (ull) t->e[i].n);
    }

    if (t->other) {
        fprintf(f, "%s\"other\":%llu", t->n ? "," : "", (ull) t->other);
    }

    fprintf(f, "}");
}


static void
bench_json_hist(FILE *f, const char *name, const hist_t *h)
{
    unsigned  i, n;

    fprintf(f, "\"%s\":{\"count\":%llu", name, (ull) h->total);

    if (h->total) {
        fprintf(f, ",\"mean\":%.6f,\"min\":%.6f,\"p50\":%.6f,\"p90\":%.6f,"
                "\"p99\":%.6f,\"p99.9\":%.6f,\"max\":%.6f",
                h->sum / (double) h->total / 1e6, bench_ms(h->min),
                bench_ms(hist_percentile(h, 50)),
                bench_ms(hist_percentile(h, 90)),
                bench_ms(hist_percentile(h, 99)),
                bench_ms(hist_percentile(h, 99.9)), bench_ms(h->max));
    }

    fprintf(f, ",\"overflow\":%llu,\"buckets_ns\":[", (ull) h->overflow);

    for (i = 0, n = 0; i < HIST_BUCKETS; i++) {
        if (h->counts[i]) {
            fprintf(f, "%s[%llu,%llu]", n++ ? "," : "",
                    (ull) hist_bucket_lower(i), (ull) h->counts[i]);
        }
    }

    fprintf(f, "]}");
}


/* Everything after the settings: the sections merge_results.py merges. */
static void
bench_json_counts(FILE *f, const bench_report_t *r)
{
    double                secs;
    const bench_stats_t  *st;

    st = r->st;
    secs = bench_measured_s(r);

    fprintf(f, "\"connections\":{\"requested\":%lu,\"up\":%llu,"
            "\"failed\":%llu,\"dropped\":%llu,\"up_at_end\":%llu,"
            "\"closed_clean\":%llu,\"connect_s\":%.3f,",
            r->requested, (ull) st->up, (ull) st->failed,
            (ull) st->dropped, (ull) st->up_at_end, (ull) st->closed_clean,
            (double) (r->t_up - r->t_start) / BENCH_REPORT_NS);
    bench_json_table(f, "failures", &st->fail_reasons);
    fprintf(f, ",");
    bench_json_table(f, "drops", &st->drop_reasons);
    fprintf(f, "},\"duration_s\":%.3f,", secs);

    fprintf(f, "\"sends\":{\"ticks\":%llu,\"attempted\":%llu,"
            "\"answer\":\"%s\",\"answered\":%llu,\"errors\":%llu,",
            (ull) st->ticks, (ull) st->attempted,
            r->answer ? r->answer : "", (ull) st->answered,
            (ull) st->errors);
    bench_json_table(f, "error_codes", &st->error_codes);
    fprintf(f, ",\"skipped\":{\"inflight\":%llu,\"conn_down\":%llu,"
            "\"backpressure\":%llu},\"max_tick_lag_ms\":%.3f},",
            (ull) st->skipped_inflight, (ull) st->skipped_down,
            (ull) st->skipped_backpressure, bench_ms(st->max_lag_ns));

    fprintf(f, "\"delivered\":{\"count\":%llu,\"per_s\":%.3f,"
            "\"out_of_order\":%llu,\"duplicates\":%llu,"
            "\"typing_lost\":%llu},",
            (ull) st->delivered,
            secs > 0 ? (double) st->delivered / secs : 0.0,
            (ull) st->out_of_order, (ull) st->duplicates,
            (ull) st->typing_lost);

    fprintf(f, "\"frames\":{\"echoes\":%llu,\"stale\":%llu,\"foreign\":%llu,"
            "\"unmatched\":%llu,\"replies\":%llu,\"parse_errors\":%llu,"
            "\"other\":%llu,\"server_pings\":%llu,\"receipts_sent\":%llu},",
            (ull) st->echoes, (ull) st->stale, (ull) st->foreign,
            (ull) st->unmatched, (ull) st->replies, (ull) st->parse_errors,
            (ull) st->other_frames, (ull) st->server_pings,
            (ull) st->receipts_sent);

    fprintf(f, "\"latency_ms\":{");
    bench_json_hist(f, "e2e", &st->e2e);
    fprintf(f, ",");
    bench_json_hist(f, r->answer ? r->answer : "reply", &st->reply);
    fprintf(f, ",");
    bench_json_hist(f, "error", &st->error);
    fprintf(f, "},");

    bench_json_table(f, "close_codes", &st->close_codes);
}


int
bench_report_json(const bench_report_t *r, const char *path)
{
    FILE  *f;

    f = fopen(path, "w");
    if (f == NULL) {
        fprintf(stderr, "%s: %s: %s\n", r->tool, path, strerror(errno));
        return -1;
    }

    fprintf(f, "{\"tool\":\"%s\",\"run\":\"%s\",\"mode\":\"%s\","
            "\"target\":\"%s:%u\",\"src\":\"%s\",\"config\":%s,%s",
            r->tool, r->run, r->mode, r->host, r->port,
            r->src ? r->src : "", r->config, r->extra ? r->extra : "");

    bench_json_counts(f, r);
    fprintf(f, "}\n");

    if (fclose(f) != 0) {
        fprintf(stderr, "%s: %s: %s\n", r->tool, path, strerror(errno));
        return -1;
    }

    return 0;
}
