/*
 * The results of a run: a summary for people on stdout, and the same
 * numbers as one JSON object (--json FILE) for scripts. Histograms go
 * into the JSON as [bucket lower bound ns, count] pairs, so that the
 * results of processes run in parallel can be merged exactly.
 */

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "bench.h"

static const char *const  bench_mode_names[] = { "msg", "idle", "typing" };


static double
bench_ms(uint64_t ns)
{
    return (double) ns / 1e6;
}


static double
bench_measured_s(bench_t *b)
{
    return b->t_end > b->t_measure
           ? (double) (b->t_end - b->t_measure) / (double) BENCH_NS : 0;
}


/* What answers a request in this mode: "sent", "pong", or nothing. */
static const char *
bench_reply_name(bench_t *b)
{
    switch (b->conf.mode) {
    case MODE_MSG:
        return "sent";
    case MODE_IDLE:
        return "pong";
    default:
        return NULL;
    }
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
        printf(" %s=%llu", t->e[i].key, (unsigned long long) t->e[i].n);
    }

    if (t->other) {
        printf(" other=%llu", (unsigned long long) t->other);
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
           "max %.3f ms  (mean %.3f, min %.3f)\n", title,
           (unsigned long long) h->total,
           bench_ms(hist_percentile(h, 50)), bench_ms(hist_percentile(h, 90)),
           bench_ms(hist_percentile(h, 99)),
           bench_ms(hist_percentile(h, 99.9)), bench_ms(h->max),
           h->sum / (double) h->total / 1e6, bench_ms(h->min));
}


void
bench_report_text(bench_t *b)
{
    double         secs;
    bench_stats_t *st;
    const char    *reply;

    st = &b->st;
    secs = bench_measured_s(b);
    reply = bench_reply_name(b);

    printf("chat-bench run %s: mode %s, %s:%u%s%s, %lu connections, "
           "rate %.0f/s, warm-up %.1f s, measured %.2f s\n",
           b->run_id, bench_mode_names[b->conf.mode], b->conf.host,
           b->conf.port, b->conf.src ? " from " : "",
           b->conf.src ? b->conf.src : "", b->conf.connections,
           b->tick_rate, b->conf.warmup, secs);

    printf("connections: requested %lu, up %llu (%.2f%%), failed %llu, "
           "dropped %llu, up at end %llu, closed cleanly %llu; "
           "connect phase %.2f s\n",
           b->conf.connections, (unsigned long long) st->up,
           100.0 * (double) st->up / (double) b->conf.connections,
           (unsigned long long) st->failed, (unsigned long long) st->dropped,
           (unsigned long long) st->up_at_end,
           (unsigned long long) st->closed_clean,
           (double) (b->t_up - b->t_start) / (double) BENCH_NS);
    bench_text_table("failures", &st->fail_reasons);
    bench_text_table("drops", &st->drop_reasons);

    printf("requests (sent in the window): ticks %llu, attempted %llu, "
           "answered %s %llu, errors %llu, skipped %llu "
           "(inflight %llu, conn down %llu, backpressure %llu), "
           "max tick lag %.3f ms\n",
           (unsigned long long) st->ticks, (unsigned long long) st->attempted,
           reply ? reply : "-", (unsigned long long) st->answered,
           (unsigned long long) st->errors,
           (unsigned long long) (st->skipped_inflight + st->skipped_down
                                 + st->skipped_backpressure),
           (unsigned long long) st->skipped_inflight,
           (unsigned long long) st->skipped_down,
           (unsigned long long) st->skipped_backpressure,
           bench_ms(st->max_lag_ns));
    bench_text_table("error codes", &st->error_codes);

    printf("delivered: %llu (%.1f/s), out of order %llu, duplicates %llu, "
           "typing lost %llu; "
           "frames: echoes %llu, stale %llu, foreign %llu, unmatched %llu, "
           "parse errors %llu, other %llu, server pings %llu, "
           "receipts sent %llu\n",
           (unsigned long long) st->delivered,
           secs > 0 ? (double) st->delivered / secs : 0.0,
           (unsigned long long) st->out_of_order,
           (unsigned long long) st->duplicates,
           (unsigned long long) st->typing_lost,
           (unsigned long long) st->echoes, (unsigned long long) st->stale,
           (unsigned long long) st->foreign,
           (unsigned long long) st->unmatched,
           (unsigned long long) st->parse_errors,
           (unsigned long long) st->other_frames,
           (unsigned long long) st->server_pings,
           (unsigned long long) st->receipts_sent);

    if (b->conf.mode != MODE_IDLE) {
        bench_text_hist("e2e", &st->e2e);
    }
    if (reply) {
        bench_text_hist(reply, &st->reply);
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
                (unsigned long long) t->e[i].n);
    }

    if (t->other) {
        fprintf(f, "%s\"other\":%llu", t->n ? "," : "",
                (unsigned long long) t->other);
    }

    fprintf(f, "}");
}


static void
bench_json_hist(FILE *f, const char *name, const hist_t *h)
{
    unsigned  i, n;

    fprintf(f, "\"%s\":{\"count\":%llu", name, (unsigned long long) h->total);

    if (h->total) {
        fprintf(f, ",\"mean\":%.6f,\"min\":%.6f,\"p50\":%.6f,\"p90\":%.6f,"
                "\"p99\":%.6f,\"p99.9\":%.6f,\"max\":%.6f",
                h->sum / (double) h->total / 1e6, bench_ms(h->min),
                bench_ms(hist_percentile(h, 50)),
                bench_ms(hist_percentile(h, 90)),
                bench_ms(hist_percentile(h, 99)),
                bench_ms(hist_percentile(h, 99.9)), bench_ms(h->max));
    }

    fprintf(f, ",\"overflow\":%llu,\"buckets_ns\":[",
            (unsigned long long) h->overflow);

    for (i = 0, n = 0; i < HIST_BUCKETS; i++) {
        if (h->counts[i]) {
            fprintf(f, "%s[%llu,%llu]", n++ ? "," : "",
                    (unsigned long long) hist_bucket_lower(i),
                    (unsigned long long) h->counts[i]);
        }
    }

    fprintf(f, "]}");
}


int
bench_report_json(bench_t *b, const char *path)
{
    FILE           *f;
    double          secs;
    bench_stats_t  *st;
    const char     *reply;

    f = fopen(path, "w");
    if (f == NULL) {
        fprintf(stderr, "chat-bench: %s: %s\n", path, strerror(errno));
        return -1;
    }

    st = &b->st;
    secs = bench_measured_s(b);
    reply = bench_reply_name(b);

    fprintf(f, "{\"tool\":\"chat-bench\",\"run\":\"%s\",\"mode\":\"%s\","
            "\"target\":\"%s:%u\",\"src\":\"%s\",",
            b->run_id, bench_mode_names[b->conf.mode], b->conf.host,
            b->conf.port, b->conf.src ? b->conf.src : "");

    fprintf(f, "\"config\":{\"connections\":%lu,\"prefix\":\"%s\","
            "\"offset\":%lu,\"connect_rate\":%g,\"rate\":%g,"
            "\"tick_rate\":%g,\"max_inflight\":%u,\"warmup_s\":%g,"
            "\"duration_s\":%g,\"drain_s\":%g,\"body_size\":%u,"
            "\"ping_interval_s\":%g,\"receipts\":%s},",
            b->conf.connections, b->conf.prefix, b->conf.offset,
            b->conf.connect_rate, b->conf.rate, b->tick_rate,
            b->conf.max_inflight, b->conf.warmup, b->conf.duration,
            b->conf.drain, b->conf.body_size, b->conf.ping_interval,
            b->conf.receipts ? "true" : "false");

    fprintf(f, "\"connections\":{\"requested\":%lu,\"up\":%llu,"
            "\"failed\":%llu,\"dropped\":%llu,\"up_at_end\":%llu,"
            "\"closed_clean\":%llu,\"connect_s\":%.3f,",
            b->conf.connections, (unsigned long long) st->up,
            (unsigned long long) st->failed, (unsigned long long) st->dropped,
            (unsigned long long) st->up_at_end,
            (unsigned long long) st->closed_clean,
            (double) (b->t_up - b->t_start) / (double) BENCH_NS);
    bench_json_table(f, "failures", &st->fail_reasons);
    fprintf(f, ",");
    bench_json_table(f, "drops", &st->drop_reasons);
    fprintf(f, "},\"duration_s\":%.3f,", secs);

    fprintf(f, "\"sends\":{\"ticks\":%llu,\"attempted\":%llu,"
            "\"answer\":\"%s\",\"answered\":%llu,\"errors\":%llu,",
            (unsigned long long) st->ticks, (unsigned long long) st->attempted,
            reply ? reply : "", (unsigned long long) st->answered,
            (unsigned long long) st->errors);
    bench_json_table(f, "error_codes", &st->error_codes);
    fprintf(f, ",\"skipped\":{\"inflight\":%llu,\"conn_down\":%llu,"
            "\"backpressure\":%llu},\"max_tick_lag_ms\":%.3f},",
            (unsigned long long) st->skipped_inflight,
            (unsigned long long) st->skipped_down,
            (unsigned long long) st->skipped_backpressure,
            bench_ms(st->max_lag_ns));

    fprintf(f, "\"delivered\":{\"count\":%llu,\"per_s\":%.3f,"
            "\"out_of_order\":%llu,\"duplicates\":%llu,"
            "\"typing_lost\":%llu},",
            (unsigned long long) st->delivered,
            secs > 0 ? (double) st->delivered / secs : 0.0,
            (unsigned long long) st->out_of_order,
            (unsigned long long) st->duplicates,
            (unsigned long long) st->typing_lost);

    fprintf(f, "\"frames\":{\"echoes\":%llu,\"stale\":%llu,\"foreign\":%llu,"
            "\"unmatched\":%llu,\"parse_errors\":%llu,\"other\":%llu,"
            "\"server_pings\":%llu,\"receipts_sent\":%llu},",
            (unsigned long long) st->echoes, (unsigned long long) st->stale,
            (unsigned long long) st->foreign,
            (unsigned long long) st->unmatched,
            (unsigned long long) st->parse_errors,
            (unsigned long long) st->other_frames,
            (unsigned long long) st->server_pings,
            (unsigned long long) st->receipts_sent);

    fprintf(f, "\"latency_ms\":{");
    bench_json_hist(f, "e2e", &st->e2e);
    fprintf(f, ",");
    bench_json_hist(f, reply ? reply : "reply", &st->reply);
    fprintf(f, ",");
    bench_json_hist(f, "error", &st->error);
    fprintf(f, "},");

    bench_json_table(f, "close_codes", &st->close_codes);
    fprintf(f, "}\n");

    if (fclose(f) != 0) {
        fprintf(stderr, "chat-bench: %s: %s\n", path, strerror(errno));
        return -1;
    }

    return 0;
}
