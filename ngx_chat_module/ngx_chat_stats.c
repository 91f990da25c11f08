/*
 * ngx_chat_stats: the counting side of the operators' counters
 * (ngx_chat_stats.h).
 */

#include <ngx_http.h>

#include "ngx_chat_stats.h"


ngx_chat_stats_slot_t  *ngx_chat_stats;


static const ngx_uint_t  ngx_chat_close_codes[] = {
    1000, 1001, 1002, 1003, 1007, 1008, 1009, 1011, 4401
};

static const char  *ngx_chat_error_codes[] = {
    "bad_request", "too_large", "forbidden", "not_found", "rate_limited",
    "unavailable", "internal"
};

static const ngx_msec_t  ngx_chat_latency_bounds[NGX_CHAT_LATENCY_N] =
    NGX_CHAT_LATENCY_BUCKETS;


void
ngx_chat_stat_close(ngx_uint_t code)
{
    ngx_uint_t  i;

    for (i = 0; i < sizeof(ngx_chat_close_codes) / sizeof(ngx_uint_t); i++) {
        if (ngx_chat_close_codes[i] == code) {
            ngx_chat_stat_inc(NGX_CHAT_STAT_CLOSE_1000 + i);
            return;
        }
    }

    ngx_chat_stat_inc(NGX_CHAT_STAT_CLOSE_OTHER);
}


void
ngx_chat_stat_refused(ngx_uint_t status)
{
    switch (status) {

    case NGX_HTTP_BAD_REQUEST:
        ngx_chat_stat_inc(NGX_CHAT_STAT_REFUSED_400);
        break;

    case NGX_HTTP_UNAUTHORIZED:
        ngx_chat_stat_inc(NGX_CHAT_STAT_REFUSED_401);
        break;

    case NGX_HTTP_FORBIDDEN:
        ngx_chat_stat_inc(NGX_CHAT_STAT_REFUSED_403);
        break;

    case NGX_HTTP_TOO_MANY_REQUESTS:
        ngx_chat_stat_inc(NGX_CHAT_STAT_REFUSED_429);
        break;

    case NGX_HTTP_SERVICE_UNAVAILABLE:
        ngx_chat_stat_inc(NGX_CHAT_STAT_REFUSED_503);
        break;
    }
}


void
ngx_chat_stat_error(const char *code)
{
    ngx_uint_t  i;

    for (i = 0; i < sizeof(ngx_chat_error_codes) / sizeof(char *); i++) {
        if (ngx_strcmp(ngx_chat_error_codes[i], code) == 0) {
            ngx_chat_stat_inc(NGX_CHAT_STAT_ERR_BAD_REQUEST + i);
            return;
        }
    }

    ngx_chat_stat_inc(NGX_CHAT_STAT_ERR_INTERNAL);
}


void
ngx_chat_stat_latency(ngx_msec_t ms)
{
    ngx_uint_t  i;

    if (ngx_chat_stats == NULL) {
        return;
    }

    for (i = 0; i < NGX_CHAT_LATENCY_N; i++) {
        if (ms <= ngx_chat_latency_bounds[i]) {
            ngx_chat_stats->latency[i]++;
            break;
        }
    }

    ngx_chat_stats->latency_count++;
    ngx_chat_stats->latency_sum_ms += ms;
}
