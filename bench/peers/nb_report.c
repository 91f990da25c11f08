/*
 * The results of nchan-bench: a summary on stdout and, with --json, one
 * object with chat-bench's top-level layout (run, mode, connections,
 * duration_s, sends, delivered, frames, latency_ms with buckets_ns,
 * close_codes), which is what bench/merge_results.py reads: the processes
 * of one run merge with it as chat-bench's do.
 */

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "nb.h"

static double
nb_ms(uint64_t ns)
{
    return (double) ns / 1e6;
}


/* The measured window in seconds (cut short by a signal). */
static double
nb_window_s(const nb_t *nb)
{
    if (nb->t_measure == 0 || nb->t_end < nb->t_measure) {
        return 0;
    }
    return (double) (nb->t_end - nb->t_measure) / (double) NB_NS;
}


void
nb_report(nb_t *nb)
{
    const nb_stats_t  *st;
    const hist_t      *h;
    double             secs;

    st = &nb->st;
    h = &st->e2e;
    secs = nb_window_s(nb);

    printf("nchan-bench %s run %s: %lu connections, up %llu, failed %llu, "
           "dropped %llu, up at end %llu\n",
           nb->conf.mode == NB_RELAY ? "relay" : "idle", nb->run_id,
           nb->nconns, (unsigned long long) st->up,
           (unsigned long long) st->failed, (unsigned long long) st->dropped,
           (unsigned long long) st->up_at_end);

    if (nb->conf.mode != NB_RELAY) {
        return;
    }

    printf("window %.2f s: %llu ticks, %llu sent, %llu replies, skipped "
           "%llu down %llu backpressure, max tick lag %.3f ms\n", secs,
           (unsigned long long) st->ticks, (unsigned long long) st->attempted,
           (unsigned long long) st->answered,
           (unsigned long long) st->skipped_down,
           (unsigned long long) st->skipped_backpressure,
           nb_ms(st->max_lag_ns));
    printf("delivered %llu (%.1f/s), out of order %llu, duplicates %llu, "
           "stale %llu, parse errors %llu\n",
           (unsigned long long) st->delivered,
           secs > 0 ? (double) st->delivered / secs : 0.0,
           (unsigned long long) st->out_of_order,
           (unsigned long long) st->duplicates,
           (unsigned long long) st->stale,
           (unsigned long long) st->parse_errors);
    if (h->total) {
        printf("e2e ms: p50 %.3f p90 %.3f p99 %.3f p99.9 %.3f max %.3f\n",
               nb_ms(hist_percentile(h, 50)), nb_ms(hist_percentile(h, 90)),
               nb_ms(hist_percentile(h, 99)),
               nb_ms(hist_percentile(h, 99.9)), nb_ms(h->max));
    }
}


static void
nb_json_table(FILE *f, const char *name, const nb_table_t *t)
{
    unsigned  i;
    const char *sep;

    fprintf(f, "\"%s\":{", name);
    for (i = 0, sep = ""; i < t->len; i++, sep = ",") {
        fprintf(f, "%s\"%s\":%llu", sep, t->key[i],
                (unsigned long long) t->n[i]);
    }
    if (t->other) {
        fprintf(f, "%s\"other\":%llu", sep, (unsigned long long) t->other);
    }
    fputc('}', f);
}


/* Percentiles for reading, the buckets for merging runs exactly. */
static void
nb_json_hist(FILE *f, const char *name, const hist_t *h)
{
    static const double       pct[] = { 50, 90, 99, 99.9 };
    static const char *const  pname[] = { "p50", "p90", "p99", "p99.9" };
    unsigned                  i;
    const char               *sep;

    fprintf(f, "\"%s\":{\"count\":%llu", name, (unsigned long long) h->total);
    if (h->total) {
        fprintf(f, ",\"mean\":%.6f,\"min\":%.6f,\"max\":%.6f",
                h->sum / (double) h->total / 1e6, nb_ms(h->min),
                nb_ms(h->max));
        for (i = 0; i < sizeof(pct) / sizeof(pct[0]); i++) {
            fprintf(f, ",\"%s\":%.6f", pname[i],
                    nb_ms(hist_percentile(h, pct[i])));
        }
    }

    fprintf(f, ",\"overflow\":%llu,\"buckets_ns\":[",
            (unsigned long long) h->overflow);
    for (i = 0, sep = ""; i < HIST_BUCKETS; i++) {
        if (h->counts[i]) {
            fprintf(f, "%s[%llu,%llu]", sep,
                    (unsigned long long) hist_bucket_lower(i),
                    (unsigned long long) h->counts[i]);
            sep = ",";
        }
    }
    fputs("]}", f);
}


static void
nb_json_head(FILE *f, const nb_t *nb)
{
    const nb_conf_t  *cf;
    const nb_stats_t *st;

    cf = &nb->conf;
    st = &nb->st;

    fprintf(f, "{\"tool\":\"nchan-bench\",\"run\":\"%s\",\"mode\":\"%s\","
            "\"target\":\"%s:%u\",\"src\":\"%s\",",
            nb->run_id, cf->mode == NB_RELAY ? "relay" : "idle", cf->host,
            cf->port, cf->src ? cf->src : "");
    fprintf(f, "\"config\":{\"pairs\":%lu,\"connections\":%lu,"
            "\"prefix\":\"%s\",\"offset\":%lu,\"rate\":%g,"
            "\"connect_rate\":%g,\"warmup_s\":%g,\"duration_s\":%g,"
            "\"drain_s\":%g,\"body_size\":%u},",
            cf->mode == NB_RELAY ? cf->pairs : 0, nb->nconns, cf->prefix,
            cf->offset, cf->mode == NB_RELAY ? cf->rate : 0,
            cf->connect_rate, cf->warmup, cf->duration, cf->drain,
            cf->body_size);
    fprintf(f, "\"connections\":{\"requested\":%lu,\"up\":%llu,"
            "\"failed\":%llu,\"dropped\":%llu,\"up_at_end\":%llu,"
            "\"closed_clean\":%llu,\"connect_s\":%.3f,",
            nb->nconns, (unsigned long long) st->up,
            (unsigned long long) st->failed, (unsigned long long) st->dropped,
            (unsigned long long) st->up_at_end,
            (unsigned long long) st->closed_clean,
            (double) (nb->t_up - nb->t_start) / (double) NB_NS);
    nb_json_table(f, "failures", &st->fail_reasons);
    fputc(',', f);
    nb_json_table(f, "drops", &st->drop_reasons);
    fputs("},", f);
}


int
nb_report_json(nb_t *nb, const char *path)
{
    FILE              *f;
    const nb_stats_t  *st;
    double             secs;

    f = fopen(path, "w");
    if (f == NULL) {
        fprintf(stderr, "nchan-bench: %s: %s\n", path, strerror(errno));
        return -1;
    }

    st = &nb->st;
    secs = nb_window_s(nb);

    nb_json_head(f, nb);
    fprintf(f, "\"duration_s\":%.3f,\"sends\":{\"ticks\":%llu,"
            "\"attempted\":%llu,\"answer\":\"publish_reply\","
            "\"answered\":%llu,\"errors\":0,\"error_codes\":{},"
            "\"skipped\":{\"conn_down\":%llu,\"backpressure\":%llu},"
            "\"max_tick_lag_ms\":%.3f},",
            secs, (unsigned long long) st->ticks,
            (unsigned long long) st->attempted,
            (unsigned long long) st->answered,
            (unsigned long long) st->skipped_down,
            (unsigned long long) st->skipped_backpressure,
            nb_ms(st->max_lag_ns));
    fprintf(f, "\"delivered\":{\"count\":%llu,\"per_s\":%.3f,"
            "\"out_of_order\":%llu,\"duplicates\":%llu},",
            (unsigned long long) st->delivered,
            secs > 0 ? (double) st->delivered / secs : 0.0,
            (unsigned long long) st->out_of_order,
            (unsigned long long) st->duplicates);
    fprintf(f, "\"frames\":{\"publish_replies\":%llu,\"stale\":%llu,"
            "\"parse_errors\":%llu,\"server_pings\":%llu},",
            (unsigned long long) st->pub_replies,
            (unsigned long long) st->stale,
            (unsigned long long) st->parse_errors,
            (unsigned long long) st->server_pings);
    fputs("\"latency_ms\":{", f);
    nb_json_hist(f, "e2e", &st->e2e);
    fputs("},", f);
    nb_json_table(f, "close_codes", &st->close_codes);
    fputs("}\n", f);

    if (fclose(f) != 0) {
        fprintf(stderr, "nchan-bench: %s: %s\n", path, strerror(errno));
        return -1;
    }
    return 0;
}
