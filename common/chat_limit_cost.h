/*
 * What a request costs against a user's request budget
 * (chat_limit_requests): a fixed price per kind of request, times what it
 * asks for where that varies (the rows a history page may return, the
 * users a presence_sub or presence_unsub names). Sends, group changes and
 * typing have budgets of their own and cost nothing here.
 *
 * Pure: no I/O, no globals but the table of names.
 */

#ifndef CHAT_LIMIT_COST_H
#define CHAT_LIMIT_COST_H

#include <stddef.h>
#include <stdint.h>

#include "chat_proto.h"

/* The prices, by the name an operator gives them in nginx.conf. */
typedef enum {
    CHAT_COST_PING = 0,         /* a ping; also a frame that is no request */
    CHAT_COST_AUTH,             /* a token refresh (a signature check) */
    CHAT_COST_RECEIPT,
    CHAT_COST_HISTORY,          /* per row the page may return (its limit) */
    CHAT_COST_PRESENCE,         /* per user a presence_sub/unsub names */
    CHAT_COST_CONNECT,          /* a handshake of the user */
    CHAT_COST_N
} chat_limit_cost_e;

#define CHAT_LIMIT_MAX_COST  1000000

typedef struct {
    uint64_t  of[CHAT_COST_N];
} chat_limit_costs_t;

/* The defaults of README.md, "chat_limit_request_costs". */
void chat_limit_costs_default(chat_limit_costs_t *costs);

/*
 * One "name=number" argument: sets that price and returns 0; -1 for an
 * unknown name or a number that is not 0..CHAT_LIMIT_MAX_COST.
 */
int chat_limit_costs_parse(chat_limit_costs_t *costs, const char *s,
    size_t len);

/*
 * The cost of a decoded request, or of a frame that did not decode (req
 * NULL: a ping's); 0 for the requests this budget does not count.
 */
uint64_t chat_limit_request_cost(const chat_limit_costs_t *costs,
    const chat_req_t *req);

#endif /* CHAT_LIMIT_COST_H */
