/* The prices of requests against the request budget: what each decoded
 * request costs, and the "name=number" arguments that set the prices. */

#include "test.h"
#include "chat_limit_cost.h"


#define S(lit)  ((chat_str_t) { (lit), sizeof(lit) - 1 })


/* The cost of one frame as the session decodes it, for user alice. */
static uint64_t
cost_of(const chat_limit_costs_t *costs, const char *frame)
{
    uint64_t            cost;
    chat_req_t          req;
    chat_proto_error_t  err;

    if (chat_proto_decode(frame, strlen(frame), S("alice"), &req, &err)
        != 0)
    {
        cost = chat_limit_request_cost(costs, NULL);

    } else {
        cost = chat_limit_request_cost(costs, &req);
    }

    chat_req_free(&req);

    return cost;
}


TEST(test_limit_cost_by_what_a_request_asks_for)
{
    chat_limit_costs_t  c;

    chat_limit_costs_default(&c);

    CHECK_EQ(cost_of(&c, "{\"type\":\"ping\"}"), 1);
    CHECK_EQ(cost_of(&c, "{\"type\":\"auth\",\"token\":\"x.y.z\"}"), 10);
    CHECK_EQ(cost_of(&c, "{\"type\":\"receipt\",\"conv\":\"dm:alice:bob\","
                         "\"status\":\"read\",\"seq\":4}"), 1);

    /* history: the rows it may return, the default page, a clamped one */
    CHECK_EQ(cost_of(&c, "{\"type\":\"history\",\"conv\":\"dm:alice:bob\","
                         "\"limit\":20}"), 20);
    CHECK_EQ(cost_of(&c, "{\"type\":\"history\",\"conv\":\"dm:alice:bob\"}"),
             CHAT_PROTO_DEFAULT_HISTORY);
    CHECK_EQ(cost_of(&c, "{\"type\":\"history\",\"conv\":\"dm:alice:bob\","
                         "\"limit\":5000}"), CHAT_PROTO_MAX_HISTORY);

    /* presence: the users named */
    CHECK_EQ(cost_of(&c, "{\"type\":\"presence_sub\","
                         "\"users\":[\"bob\",\"carol\",\"dave\"]}"), 3);
    CHECK_EQ(cost_of(&c, "{\"type\":\"presence_unsub\",\"users\":[\"bob\"]}"),
             1);

    /* a frame that is no request costs a ping */
    CHECK_EQ(cost_of(&c, "{\"type\":\"nonsense\"}"), 1);
    CHECK_EQ(cost_of(&c, "not json"), 1);

    /* those with budgets of their own cost nothing here */
    CHECK_EQ(cost_of(&c, "{\"type\":\"send\",\"id\":\"a\",\"to\":\"bob\","
                         "\"body\":\"hi\"}"), 0);
    CHECK_EQ(cost_of(&c, "{\"type\":\"typing\",\"to\":\"bob\","
                         "\"state\":\"start\"}"), 0);
    CHECK_EQ(cost_of(&c, "{\"type\":\"group_leave\",\"id\":\"a\","
                         "\"group\":\"g1\"}"), 0);
}


TEST(test_limit_cost_prices_scale_and_zero_is_free)
{
    chat_limit_costs_t  c;

    chat_limit_costs_default(&c);

    CHECK(chat_limit_costs_parse(&c, "history=3", 9) == 0);
    CHECK(chat_limit_costs_parse(&c, "ping=0", 6) == 0);
    CHECK(chat_limit_costs_parse(&c, "presence=2", 10) == 0);

    CHECK_EQ(c.of[CHAT_COST_HISTORY], 3);
    CHECK_EQ(cost_of(&c, "{\"type\":\"history\",\"conv\":\"dm:alice:bob\","
                         "\"limit\":20}"), 60);
    CHECK_EQ(cost_of(&c, "{\"type\":\"ping\"}"), 0);
    CHECK_EQ(cost_of(&c, "{\"type\":\"presence_sub\","
                         "\"users\":[\"bob\",\"carol\"]}"), 4);

    /* the others keep their defaults */
    CHECK_EQ(c.of[CHAT_COST_AUTH], 10);
    CHECK_EQ(c.of[CHAT_COST_CONNECT], 50);
}


TEST(test_limit_cost_parse_refuses_what_is_not_a_price)
{
    chat_limit_costs_t  c;

    chat_limit_costs_default(&c);

    CHECK(chat_limit_costs_parse(&c, "connect=1000000", 15) == 0);
    CHECK_EQ(c.of[CHAT_COST_CONNECT], 1000000);

    CHECK(chat_limit_costs_parse(&c, "connect=1000001", 15) == -1);
    CHECK(chat_limit_costs_parse(&c, "connect=99999999999999999999", 28)
          == -1);
    CHECK(chat_limit_costs_parse(&c, "send=1", 6) == -1);
    CHECK(chat_limit_costs_parse(&c, "histor=1", 8) == -1);
    CHECK(chat_limit_costs_parse(&c, "historyy=1", 10) == -1);
    CHECK(chat_limit_costs_parse(&c, "history=", 8) == -1);
    CHECK(chat_limit_costs_parse(&c, "history", 7) == -1);
    CHECK(chat_limit_costs_parse(&c, "history=-1", 10) == -1);
    CHECK(chat_limit_costs_parse(&c, "history=1x", 10) == -1);
    CHECK(chat_limit_costs_parse(&c, "=1", 2) == -1);

    /* a refused argument changes nothing */
    CHECK_EQ(c.of[CHAT_COST_HISTORY], 1);
    CHECK_EQ(c.of[CHAT_COST_CONNECT], 1000000);
}


int
main(void)
{
    RUN(test_limit_cost_by_what_a_request_asks_for);
    RUN(test_limit_cost_prices_scale_and_zero_is_free);
    RUN(test_limit_cost_parse_refuses_what_is_not_a_price);

    return test_summary("limit_cost");
}
