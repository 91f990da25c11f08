/* The prices of requests against the request budget (chat_limit_cost.h). */

#include <string.h>

#include "chat_limit_cost.h"


static const char  *chat_limit_cost_names[CHAT_COST_N] = {
    "ping", "auth", "receipt", "history", "presence", "connect"
};

/* Cheap requests cost 1, a signature check 10, a handshake (a signature,
 * then the registry, presence and a sync through the log) 50. */
static const uint64_t  chat_limit_cost_defaults[CHAT_COST_N] = {
    1, 10, 1, 1, 1, 50
};


void
chat_limit_costs_default(chat_limit_costs_t *costs)
{
    memcpy(costs->of, chat_limit_cost_defaults, sizeof(costs->of));
}


int
chat_limit_costs_parse(chat_limit_costs_t *costs, const char *s, size_t len)
{
    size_t       i, n;
    uint64_t     v;
    const char  *eq;

    eq = memchr(s, '=', len);

    if (eq == NULL || eq + 1 == s + len) {
        return -1;
    }

    n = eq - s;
    v = 0;

    for (i = n + 1; i < len; i++) {
        if (s[i] < '0' || s[i] > '9' || v > CHAT_LIMIT_MAX_COST) {
            return -1;
        }

        v = v * 10 + (s[i] - '0');
    }

    if (v > CHAT_LIMIT_MAX_COST) {
        return -1;
    }

    for (i = 0; i < CHAT_COST_N; i++) {
        if (strlen(chat_limit_cost_names[i]) == n
            && memcmp(chat_limit_cost_names[i], s, n) == 0)
        {
            costs->of[i] = v;
            return 0;
        }
    }

    return -1;
}


uint64_t
chat_limit_request_cost(const chat_limit_costs_t *costs,
    const chat_req_t *req)
{
    if (req == NULL) {
        return costs->of[CHAT_COST_PING];
    }

    switch (req->type) {

    case CHAT_REQ_PING:
        return costs->of[CHAT_COST_PING];

    case CHAT_REQ_AUTH:
        return costs->of[CHAT_COST_AUTH];

    case CHAT_REQ_RECEIPT:
        return costs->of[CHAT_COST_RECEIPT];

    case CHAT_REQ_HISTORY:
        return costs->of[CHAT_COST_HISTORY] * (uint64_t) req->limit;

    case CHAT_REQ_PRESENCE_SUB:
    case CHAT_REQ_PRESENCE_UNSUB:
        return costs->of[CHAT_COST_PRESENCE] * (uint64_t) req->nusers;

    default:
        return 0;                           /* sends, groups, typing */
    }
}
