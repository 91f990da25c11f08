/*
 * xmpp-bench's results: a summary on stdout and a JSON file shaped like
 * chat-bench's (connections, sends, delivered, frames, close_codes,
 * latency_ms with histogram buckets), so bench/merge_results.py merges the
 * files of several processes the same way.
 */

#include <stdio.h>

#include "xmpp_bench.h"

static const char  *xb_mode_names[] = { "msg", "idle" };


static double
ms(uint64_t ns)
{
    return (double) ns / 1e6;
}


static double
measured_s(const xb_t *b)
{
    if (b->t_end <= b->t_measure) {
        return 0;
    }
    return (double) (b->t_end - b->t_measure) / XB_NS;
}


static void
text_table(const char *name, const xb_table_t *t)
{
    unsigned  i;

    if (t->n == 0) {
        return;
    }
    printf("  %s:", name);
    for (i = 0; i < t->n; i++) {
        printf(" %s %llu", t->e[i].key, (unsigned long long) t->e[i].n);
    }
    printf("\n");
}


void
xb_report_text(xb_t *b)
{
    const xb_stats_t *st = &b->st;
    const hist_t     *h = &st->e2e;
    double            secs = measured_s(b);

    printf("xmpp-bench run %s: mode %s, %s:%u%s, %lu connections, "
           "rate %.0f/s, measured %.2f s\n", b->run_id,
           xb_mode_names[b->conf.mode], b->conf.host, b->conf.port,
           b->conf.path, b->conf.connections, b->conf.rate, secs);
    printf("connections: up %llu, failed %llu, dropped %llu, up at end %llu, "
           "closed cleanly %llu; connect phase %.2f s\n",
           (unsigned long long) st->up, (unsigned long long) st->failed,
           (unsigned long long) st->dropped,
           (unsigned long long) st->up_at_end,
           (unsigned long long) st->closed_clean,
           (double) (b->t_up - b->t_start) / XB_NS);
    text_table("failures", &st->fail_reasons);
    text_table("drops", &st->drop_reasons);
    if (b->conf.mode == XM_IDLE) {
        printf("server RSS at the end of the window: %ld KiB\n", b->rss_kib);
        return;
    }
    printf("messages (sent in the window): ticks %llu, attempted %llu, "
           "skipped %llu down / %llu backpressure, max tick lag %.3f ms\n",
           (unsigned long long) st->ticks, (unsigned long long) st->attempted,
           (unsigned long long) st->skipped_down,
           (unsigned long long) st->skipped_backpressure, ms(st->max_lag_ns));
    printf("delivered %llu (%.1f/s), out of order %llu, duplicates %llu, "
           "errors %llu; stale %llu, foreign %llu\n",
           (unsigned long long) st->delivered,
           secs > 0 ? (double) st->delivered / secs : 0,
           (unsigned long long) st->out_of_order,
           (unsigned long long) st->duplicates,
           (unsigned long long) st->errors, (unsigned long long) st->stale,
           (unsigned long long) st->foreign);
    if (h->total) {
        printf("latency e2e n=%llu p50 %.3f p90 %.3f p99 %.3f p99.9 %.3f "
               "max %.3f ms\n", (unsigned long long) h->total,
               ms(hist_percentile(h, 50)), ms(hist_percentile(h, 90)),
               ms(hist_percentile(h, 99)), ms(hist_percentile(h, 99.9)),
               ms(h->max));
    }
}


static void
json_table(FILE *f, const xb_table_t *t)
{
    unsigned  i;

    fputc('{', f);
    for (i = 0; i < t->n; i++) {
        fprintf(f, "%s\"%s\":%llu", i ? "," : "", t->e[i].key,
                (unsigned long long) t->e[i].n);
    }
    fputc('}', f);
}


static void
json_hist(FILE *f, const hist_t *h)
{
    unsigned  i, first = 1;

    fprintf(f, "{\"count\":%llu", (unsigned long long) h->total);
    if (h->total) {
        fprintf(f, ",\"p50\":%.3f,\"p90\":%.3f,\"p99\":%.3f,\"p99.9\":%.3f,"
                "\"max\":%.3f,\"mean\":%.3f",
                ms(hist_percentile(h, 50)), ms(hist_percentile(h, 90)),
                ms(hist_percentile(h, 99)), ms(hist_percentile(h, 99.9)),
                ms(h->max), h->sum / (double) h->total / 1e6);
    }
    fprintf(f, ",\"overflow\":%llu,\"buckets_ns\":[",
            (unsigned long long) h->overflow);
    for (i = 0; i < HIST_BUCKETS; i++) {
        if (h->counts[i]) {
            fprintf(f, "%s[%llu,%llu]", first ? "" : ",",
                    (unsigned long long) hist_bucket_lower(i),
                    (unsigned long long) h->counts[i]);
            first = 0;
        }
    }
    fprintf(f, "]}");
}


static void
json_body(FILE *f, const xb_t *b)
{
    const xb_stats_t *st = &b->st;
    double            secs = measured_s(b);

    fprintf(f, "{\"tool\":\"xmpp-bench\",\"run\":\"%s\",\"mode\":\"%s\","
            "\"duration_s\":%.3f,\"offered_per_s\":%.1f,\"body_size\":%u,",
            b->run_id, xb_mode_names[b->conf.mode], secs,
            b->conf.mode == XM_MSG ? b->conf.rate : 0, b->conf.body_size);
    fprintf(f, "\"connections\":{\"requested\":%lu,\"up\":%llu,"
            "\"failed\":%llu,\"dropped\":%llu,\"up_at_end\":%llu,"
            "\"closed_clean\":%llu,\"connect_s\":%.3f,\"failures\":",
            b->conf.connections, (unsigned long long) st->up,
            (unsigned long long) st->failed, (unsigned long long) st->dropped,
            (unsigned long long) st->up_at_end,
            (unsigned long long) st->closed_clean,
            (double) (b->t_up - b->t_start) / XB_NS);
    json_table(f, &st->fail_reasons);
    fprintf(f, ",\"drops\":");
    json_table(f, &st->drop_reasons);
    fprintf(f, "},\"sends\":{\"ticks\":%llu,\"attempted\":%llu,"
            "\"answered\":0,\"errors\":%llu,\"error_codes\":{},"
            "\"skipped\":{\"conn_down\":%llu,\"backpressure\":%llu},"
            "\"max_tick_lag_ms\":%.3f},",
            (unsigned long long) st->ticks, (unsigned long long) st->attempted,
            (unsigned long long) st->errors,
            (unsigned long long) st->skipped_down,
            (unsigned long long) st->skipped_backpressure, ms(st->max_lag_ns));
    fprintf(f, "\"delivered\":{\"count\":%llu,\"per_s\":%.3f,"
            "\"out_of_order\":%llu,\"duplicates\":%llu},",
            (unsigned long long) st->delivered,
            secs > 0 ? (double) st->delivered / secs : 0,
            (unsigned long long) st->out_of_order,
            (unsigned long long) st->duplicates);
    fprintf(f, "\"frames\":{\"stale\":%llu,\"foreign\":%llu,\"other\":%llu,"
            "\"parse_errors\":%llu,\"server_pings\":%llu},"
            "\"close_codes\":{},",
            (unsigned long long) st->stale, (unsigned long long) st->foreign,
            (unsigned long long) st->other,
            (unsigned long long) st->parse_errors,
            (unsigned long long) st->server_pings);
    if (b->conf.mode == XM_IDLE) {
        fprintf(f, "\"rss_kib_at_peak\":%ld,", b->rss_kib);
    }
    fprintf(f, "\"latency_ms\":{\"e2e\":");
    json_hist(f, &st->e2e);
    fprintf(f, "}}\n");
}


int
xb_report_json(xb_t *b, const char *path)
{
    FILE  *f;

    f = fopen(path, "w");
    if (f == NULL) {
        perror(path);
        return -1;
    }
    json_body(f, b);
    if (fclose(f) != 0) {
        perror(path);
        return -1;
    }
    return 0;
}
