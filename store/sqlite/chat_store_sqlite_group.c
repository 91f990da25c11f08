/*
 * The operations of the SQLite store on groups: their members with their
 * roles and windows (rows of members), their names (groups), and the
 * senders of a range of seqs, whom a receipt concerns.
 */

#include "chat_store_sqlite.h"


const char  *const chat_store_sqlite_group_sql[CHAT_SQL_GROUP_N] = {

    /* the oldest member first: the one promoted when the last admin
     * leaves */
    "SELECT user, role = 'admin', joined_seq FROM members"
    "  WHERE conv = ?1 AND left_seq IS NULL"
    "  ORDER BY joined_seq, user",

    /* a former member's row is reopened: their old window is lost, they
     * read from ?4 on only (one window per (conv, user)) */
    "INSERT INTO members (conv, user, role, joined_seq, left_seq)"
    "  VALUES (?1, ?2, ?3, ?4, NULL)"
    "  ON CONFLICT (conv, user) DO UPDATE SET"
    "    role = excluded.role, joined_seq = excluded.joined_seq,"
    "    left_seq = NULL",

    "UPDATE members SET left_seq = ?3, role = 'member'"
    "  WHERE conv = ?1 AND user = ?2 AND left_seq IS NULL",

    "INSERT INTO groups (grp, name, created_ms) VALUES (?1, ?2, ?3)"
    "  ON CONFLICT (grp) DO NOTHING",

    /* the unique (conv, seq) of messages bounds the scan to the range */
    "SELECT DISTINCT m.sender FROM messages AS m"
    "  WHERE m.conv = ?1 AND m.seq > ?2 AND m.seq <= ?3 AND m.kind = 'msg'",
};


/* The state of a walk over rows: the caller's callback, one of two. */
typedef struct {
    chat_store_member_pt   member;
    chat_store_user_pt     user;
    void                  *data;
} chat_store_sqlite_group_walk_t;


static int
chat_store_sqlite_roster_row(sqlite3_stmt *stmt, void *data)
{
    chat_store_member_t              member;
    chat_store_sqlite_group_walk_t  *walk = data;

    member.user = chat_store_sqlite_column_str(stmt, 0);
    member.admin = sqlite3_column_int(stmt, 1);
    member.joined_seq = sqlite3_column_int64(stmt, 2);

    return walk->member(&member, walk->data);
}


int
chat_store_sqlite_roster(chat_store_t *store, chat_str_t conv,
    chat_store_member_pt cb, void *data)
{
    sqlite3_stmt                    *stmt;
    chat_store_sqlite_t             *s;
    chat_store_sqlite_group_walk_t   walk;

    s = (chat_store_sqlite_t *) store;
    stmt = s->group[CHAT_SQL_GROUP_ROSTER];

    chat_store_sqlite_bind_str(stmt, 1, conv);

    walk.member = cb;
    walk.data = data;

    return chat_store_sqlite_walk(s, stmt, chat_store_sqlite_roster_row,
                                  &walk, "roster");
}


int
chat_store_sqlite_member_join(chat_store_t *store, chat_str_t conv,
    chat_str_t user, int admin, int64_t joined_seq)
{
    sqlite3_stmt         *stmt;
    chat_store_sqlite_t  *s;

    s = (chat_store_sqlite_t *) store;
    stmt = s->group[CHAT_SQL_GROUP_JOIN];

    chat_store_sqlite_bind_str(stmt, 1, conv);
    chat_store_sqlite_bind_str(stmt, 2, user);
    sqlite3_bind_text(stmt, 3, admin ? "admin" : "member", -1,
                      SQLITE_STATIC);
    sqlite3_bind_int64(stmt, 4, joined_seq);

    return chat_store_sqlite_run(s, stmt, "adding a member");
}


int
chat_store_sqlite_member_leave(chat_store_t *store, chat_str_t conv,
    chat_str_t user, int64_t left_seq)
{
    sqlite3_stmt         *stmt;
    chat_store_sqlite_t  *s;

    s = (chat_store_sqlite_t *) store;
    stmt = s->group[CHAT_SQL_GROUP_LEAVE];

    chat_store_sqlite_bind_str(stmt, 1, conv);
    chat_store_sqlite_bind_str(stmt, 2, user);
    sqlite3_bind_int64(stmt, 3, left_seq);

    return chat_store_sqlite_run(s, stmt, "removing a member");
}


int
chat_store_sqlite_group_create(chat_store_t *store, chat_str_t conv,
    chat_str_t name, int64_t created_ms)
{
    sqlite3_stmt         *stmt;
    chat_store_sqlite_t  *s;

    s = (chat_store_sqlite_t *) store;
    stmt = s->group[CHAT_SQL_GROUP_CREATE];

    chat_store_sqlite_bind_str(stmt, 1, conv);
    chat_store_sqlite_bind_str(stmt, 2, name);
    sqlite3_bind_int64(stmt, 3, created_ms);

    return chat_store_sqlite_run(s, stmt, "creating a group");
}


static int
chat_store_sqlite_sender_row(sqlite3_stmt *stmt, void *data)
{
    chat_store_sqlite_group_walk_t  *walk = data;

    return walk->user(chat_store_sqlite_column_str(stmt, 0), walk->data);
}


int
chat_store_sqlite_senders(chat_store_t *store, chat_str_t conv, int64_t lo,
    int64_t hi, chat_store_user_pt cb, void *data)
{
    sqlite3_stmt                    *stmt;
    chat_store_sqlite_t             *s;
    chat_store_sqlite_group_walk_t   walk;

    s = (chat_store_sqlite_t *) store;
    stmt = s->group[CHAT_SQL_GROUP_SENDERS];

    chat_store_sqlite_bind_str(stmt, 1, conv);
    sqlite3_bind_int64(stmt, 2, lo);
    sqlite3_bind_int64(stmt, 3, hi);

    walk.user = cb;
    walk.data = data;

    return chat_store_sqlite_walk(s, stmt, chat_store_sqlite_sender_row,
                                  &walk, "senders");
}
