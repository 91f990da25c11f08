/* The leaky bucket of rate limits (see chat_limit.h). */

#include "chat_limit.h"


uint64_t
chat_limit_take(uint64_t rate, uint64_t burst, uint64_t *excess,
    uint64_t elapsed)
{
    return chat_limit_take_n(rate, burst, 1, excess, elapsed);
}


uint64_t
chat_limit_take_n(uint64_t rate, uint64_t burst, uint64_t cost,
    uint64_t *excess, uint64_t elapsed)
{
    uint64_t  drained, next, limit;

    if (cost == 0) {
        return 0;
    }

    if (cost > burst + 1) {
        cost = burst + 1;
    }

    /* a new bucket: its first request is free, as in limit_req */
    if (elapsed == CHAT_LIMIT_NEW) {
        *excess = (cost - 1) * 1000;
        return 0;
    }

    if (elapsed > CHAT_LIMIT_MAX_ELAPSED) {
        elapsed = CHAT_LIMIT_MAX_ELAPSED;
    }

    /* like limit_req: the new request's 1000 is charged, then the drain */
    drained = rate * elapsed / 1000;
    next = *excess + cost * 1000;
    next = next > drained ? next - drained : 0;

    limit = burst * 1000;

    if (next <= limit) {
        *excess = next;
        return 0;
    }

    /* (next - limit) thousandths drain in that many / rate seconds */
    return ((next - limit) * 1000 + rate - 1) / rate;
}


uint64_t
chat_limit_idle_ms(uint64_t rate, uint64_t excess)
{
    return ((excess + 1000) * 1000 + rate - 1) / rate;
}


int
chat_limit_parse_rate(const char *s, size_t len, uint64_t *rate)
{
    size_t    i;
    uint64_t  n;

    if (len < 4 || s[len - 3] != 'r' || s[len - 2] != '/'
        || (s[len - 1] != 's' && s[len - 1] != 'm'))
    {
        return -1;
    }

    n = 0;

    for (i = 0; i < len - 3; i++) {
        if (s[i] < '0' || s[i] > '9' || n > CHAT_LIMIT_MAX_RATE) {
            return -1;
        }

        n = n * 10 + (s[i] - '0');
    }

    if (n == 0 || n > CHAT_LIMIT_MAX_RATE) {
        return -1;
    }

    /* r/m: thousandths a second, rounded down but never to nothing */
    n *= 1000;

    if (s[len - 1] == 'm') {
        n = n / 60 ? n / 60 : 1;
    }

    *rate = n;

    return 0;
}
