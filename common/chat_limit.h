/*
 * Rate limits as a leaky bucket, the way nginx's limit_req keeps one: the
 * "excess" of a key is how far, in thousandths of a request, it is ahead
 * of its rate; it drains at the rate and each request adds 1000. A request
 * is accepted while the excess it would leave is at most burst requests,
 * so burst + 1 requests pass at once after an idle period.
 *
 * Pure arithmetic, no clock: the caller passes the milliseconds since the
 * excess was stored (ngx_chat_limit.c keeps it in shared memory).
 */

#ifndef CHAT_LIMIT_H
#define CHAT_LIMIT_H

#include <stddef.h>
#include <stdint.h>

/* Rates are in thousandths of a request per second; at most this many
 * requests a second, so that rate * elapsed never overflows. */
#define CHAT_LIMIT_MAX_RATE     1000000
#define CHAT_LIMIT_MAX_BURST    1000000

/* Longer elapsed times count as this: rate * elapsed stays in 64 bits. */
#define CHAT_LIMIT_MAX_ELAPSED  (24 * 3600 * 1000)

/* The elapsed time of a bucket that did not exist: its first request is
 * accepted and leaves no excess, as limit_req's new node. */
#define CHAT_LIMIT_NEW          UINT64_MAX

/*
 * Charges one request against a bucket of rate (thousandths per second,
 * > 0) and burst (requests) whose excess was stored elapsed ms ago.
 * Returns 0 when it is accepted and stores the new excess (the caller
 * then records now as the bucket's time); else leaves *excess alone and
 * returns the ms, at least 1, until a request would be accepted.
 */
uint64_t chat_limit_take(uint64_t rate, uint64_t burst, uint64_t *excess,
    uint64_t elapsed);

/*
 * The same for a request that costs cost requests at once (0 is free).
 * A cost over burst + 1 counts as burst + 1, what a drained bucket takes
 * at once: otherwise a request could never pass, and the wait would lie.
 */
uint64_t chat_limit_take_n(uint64_t rate, uint64_t burst, uint64_t cost,
    uint64_t *excess, uint64_t elapsed);

/* The ms after which a bucket of this excess is as good as new: a
 * request then would leave no excess, so the bucket can be forgotten. */
uint64_t chat_limit_idle_ms(uint64_t rate, uint64_t excess);

/* "20r/s" or "30r/m" -> thousandths of a request per second (> 0).
 * Returns 0, or -1 for anything else or a rate out of bounds. */
int chat_limit_parse_rate(const char *s, size_t len, uint64_t *rate);

#endif /* CHAT_LIMIT_H */
