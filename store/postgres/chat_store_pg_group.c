/*
 * The operations of the PostgreSQL store on groups: their members with
 * their roles and windows (rows of members), their names (groups), and the
 * senders of a range of seqs, whom a receipt concerns.
 */

#include "chat_store_pg.h"


typedef enum {
    CHAT_PG_GROUP_ROSTER = 0,
    CHAT_PG_GROUP_JOIN,
    CHAT_PG_GROUP_LEAVE,
    CHAT_PG_GROUP_CREATE,
    CHAT_PG_GROUP_SENDERS,
    CHAT_PG_GROUP_N
} chat_store_pg_group_e;


const chat_store_pg_stmt_t  chat_store_pg_group_sql[CHAT_PG_GROUP_N] = {

    /* the oldest member first: the one promoted when the last admin
     * leaves */
    { "roster",
      "SELECT \"user\", role = 'admin', joined_seq FROM members"
      "  WHERE conv = $1::text AND left_seq IS NULL"
      "  ORDER BY joined_seq, \"user\"" },

    /* a former member's row is reopened: their old window is lost, they
     * read from $4 on only (one window per (conv, user)) */
    { "join",
      "INSERT INTO members (conv, \"user\", role, joined_seq, left_seq)"
      "  VALUES ($1::text, $2::text, $3::text, $4::int8, NULL)"
      "  ON CONFLICT (conv, \"user\") DO UPDATE SET"
      "    role = excluded.role, joined_seq = excluded.joined_seq,"
      "    left_seq = NULL" },

    { "leave",
      "UPDATE members SET left_seq = $3::int8, role = 'member'"
      "  WHERE conv = $1::text AND \"user\" = $2::text AND left_seq IS NULL" },

    { "group_create",
      "INSERT INTO groups (grp, name, created_ms)"
      "  VALUES ($1::text, $2::text, $3::int8)"
      "  ON CONFLICT (grp) DO NOTHING" },

    /* the key (conv, seq) bounds the scan to the range */
    { "senders",
      "SELECT DISTINCT m.sender FROM messages AS m"
      "  WHERE m.conv = $1::text AND m.seq > $2::int8 AND m.seq <= $3::int8"
      "    AND m.kind = 'msg'" },
};

const size_t  chat_store_pg_group_n = CHAT_PG_GROUP_N;


#define CHAT_PG_GROUP(i)  (&chat_store_pg_group_sql[i])


int
chat_store_pg_roster(chat_store_t *store, chat_str_t conv,
    chat_store_member_pt cb, void *data)
{
    int                      i, rc;
    PGresult                *res;
    chat_store_pg_t         *s;
    chat_store_member_t      member;
    chat_store_pg_params_t   p;

    s = (chat_store_pg_t *) store;

    chat_store_pg_params_init(&p);
    chat_store_pg_str(&p, conv);

    res = chat_store_pg_query(s, CHAT_PG_GROUP(CHAT_PG_GROUP_ROSTER), &p,
                              "roster");
    if (res == NULL) {
        return CHAT_STORE_ERROR;
    }

    rc = CHAT_STORE_OK;

    for (i = 0; i < PQntuples(res); i++) {
        member.user = chat_store_pg_get_str(res, i, 0);
        member.admin = (int) chat_store_pg_get_int(res, i, 1);
        member.joined_seq = chat_store_pg_get_int(res, i, 2);

        rc = cb(&member, data);

        if (rc != 0) {
            rc = chat_store_pg_answer(s, rc, "roster");
            break;
        }
    }

    PQclear(res);

    return rc;
}


int
chat_store_pg_member_join(chat_store_t *store, chat_str_t conv,
    chat_str_t user, int admin, int64_t joined_seq)
{
    chat_store_pg_params_t  p;

    chat_store_pg_params_init(&p);
    chat_store_pg_str(&p, conv);
    chat_store_pg_str(&p, user);
    chat_store_pg_cstr(&p, admin ? "admin" : "member");
    chat_store_pg_int(&p, joined_seq);

    return chat_store_pg_exec((chat_store_pg_t *) store,
                              CHAT_PG_GROUP(CHAT_PG_GROUP_JOIN), &p, NULL,
                              "adding a member");
}


int
chat_store_pg_member_leave(chat_store_t *store, chat_str_t conv,
    chat_str_t user, int64_t left_seq)
{
    chat_store_pg_params_t  p;

    chat_store_pg_params_init(&p);
    chat_store_pg_str(&p, conv);
    chat_store_pg_str(&p, user);
    chat_store_pg_int(&p, left_seq);

    return chat_store_pg_exec((chat_store_pg_t *) store,
                              CHAT_PG_GROUP(CHAT_PG_GROUP_LEAVE), &p, NULL,
                              "removing a member");
}


int
chat_store_pg_group_create(chat_store_t *store, chat_str_t conv,
    chat_str_t name, int64_t created_ms)
{
    chat_store_pg_params_t  p;

    chat_store_pg_params_init(&p);
    chat_store_pg_str(&p, conv);
    chat_store_pg_str(&p, name);
    chat_store_pg_int(&p, created_ms);

    return chat_store_pg_exec((chat_store_pg_t *) store,
                              CHAT_PG_GROUP(CHAT_PG_GROUP_CREATE), &p, NULL,
                              "creating a group");
}


int
chat_store_pg_senders(chat_store_t *store, chat_str_t conv, int64_t lo,
    int64_t hi, chat_store_user_pt cb, void *data)
{
    chat_store_pg_t         *s;
    chat_store_pg_params_t   p;

    s = (chat_store_pg_t *) store;

    chat_store_pg_params_init(&p);
    chat_store_pg_str(&p, conv);
    chat_store_pg_int(&p, lo);
    chat_store_pg_int(&p, hi);

    return chat_store_pg_walk_user(s, CHAT_PG_GROUP(CHAT_PG_GROUP_SENDERS), &p,
                                   cb, data, "senders");
}
