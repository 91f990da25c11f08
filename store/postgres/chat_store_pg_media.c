/*
 * The operations of the PostgreSQL store on media and on expiry: the
 * uploads chat-api records, their use by a send, the deletion of expired
 * messages (into tombstones, as chat_store_sqlite_media.c describes) and
 * the sweep of the media no message references any more.
 *
 * Concurrency, with several workers and chat-apis on one database: where
 * SQLite has one writer at a time, here rows are locked. media_use()
 * updates (so locks) the media row until its send commits. An expiry or a
 * sweep takes its rows FOR UPDATE SKIP LOCKED: two workers expiring or
 * sweeping at once take different rows, and neither waits on a send.
 * A sweep that took a media first makes the send's media_use() wait, then
 * find no row (CHAT_STORE_NOT_FOUND: the send is refused); a send that
 * took it first leaves it used, which the sweep's recheck of the row after
 * the lock (READ COMMITTED re-reads a row changed under it) no longer
 * matches. A row is deleted by one DELETE only, whose RETURNING tells that
 * sweeper alone to unlink its file.
 */

#include "chat_store_pg.h"


typedef enum {
    CHAT_PG_MEDIA_INSERT = 0,
    CHAT_PG_MEDIA_USE,
    CHAT_PG_MEDIA_EXPIRE,
    CHAT_PG_MEDIA_SWEEP,
    CHAT_PG_MEDIA_N
} chat_store_pg_media_e;


const chat_store_pg_stmt_t  chat_store_pg_media_sql[CHAT_PG_MEDIA_N] = {

    { "media_insert",
      "INSERT INTO media (id, owner, mime, size, created_ms, used)"
      "  VALUES ($1::text, $2::text, $3::text, $4::int8, $5::int8, 0)"
      "  ON CONFLICT (id) DO NOTHING" },

    { "media_use",
      "UPDATE media SET used = 1 WHERE id = $1::text RETURNING mime, size" },

    /*
     * The rows expired at $1, the first $2 to expire (messages_expiring),
     * locked; their media released (the sweep then checks whether another
     * message still has it; the CTEs read the rows as they were before
     * the statement); and the rows made tombstones. An event keeps its
     * body: dedupe compares a retried change with it.
     */
    { "expire",
      "WITH e AS ("
      "  SELECT conv, seq, media_id FROM messages"
      "   WHERE expires_ms > 0 AND kind IN ('msg', 'group', 'conv')"
      "     AND expires_ms <= $1::int8"
      "   ORDER BY expires_ms LIMIT $2::int8"
      "   FOR UPDATE SKIP LOCKED"
      "), released AS ("
      "  UPDATE media SET used = 2"
      "   WHERE used = 1"
      "     AND id IN (SELECT media_id FROM e WHERE media_id IS NOT NULL)"
      "), t AS ("
      "  UPDATE messages AS m SET kind = '~' || m.kind,"
      "      body = CASE m.kind WHEN 'msg' THEN ''::bytea ELSE m.body END,"
      "      media = NULL, media_id = NULL"
      "    FROM e WHERE m.conv = e.conv AND m.seq = e.seq"
      "    RETURNING 1"
      ")"
      "SELECT count(*) FROM t" },

    /*
     * media_sweepable holds what was never used (taken after the grace:
     * $1 is now - grace) and what expiry released (at once), each only
     * when no message references it (messages_media).
     */
    { "media_sweep",
      "DELETE FROM media WHERE id IN ("
      "  SELECT d.id FROM media AS d"
      "   WHERE d.used <> 1"
      "     AND (d.used = 2 OR d.created_ms <= $1::int8)"
      "     AND NOT EXISTS (SELECT 1 FROM messages AS m"
      "                      WHERE m.media_id = d.id)"
      "   LIMIT $2::int8"
      "   FOR UPDATE SKIP LOCKED)"
      "  RETURNING id" },
};

const size_t  chat_store_pg_media_n = CHAT_PG_MEDIA_N;


#define CHAT_PG_MEDIA(i)  (&chat_store_pg_media_sql[i])


int
chat_store_pg_media_insert(chat_store_t *store, chat_str_t id,
    chat_str_t owner, chat_str_t mime, int64_t size, int64_t created_ms)
{
    int64_t                  rows;
    chat_store_pg_params_t   p;

    if (id.len == 0 || mime.len == 0 || size < 0) {
        (void) chat_store_set_error(store, "media \"%.*s\": %s", (int) id.len,
                                    id.s, size < 0 ? "size below 0"
                                                   : "no id or type");
        store->fault = CHAT_STORE_FAULT_DATA;
        return CHAT_STORE_ERROR;
    }

    chat_store_pg_params_init(&p);
    chat_store_pg_str(&p, id);
    chat_store_pg_str(&p, owner);
    chat_store_pg_str(&p, mime);
    chat_store_pg_int(&p, size);
    chat_store_pg_int(&p, created_ms);

    if (chat_store_pg_exec((chat_store_pg_t *) store,
                           CHAT_PG_MEDIA(CHAT_PG_MEDIA_INSERT), &p, &rows,
                           "inserting a media") != CHAT_STORE_OK)
    {
        return CHAT_STORE_ERROR;
    }

    if (rows == 0) {
        chat_store_set_error(store, "media \"%.*s\" exists", (int) id.len,
                             id.s);
        return CHAT_STORE_EXISTS;
    }

    return CHAT_STORE_OK;
}


int
chat_store_pg_media_use(chat_store_t *store, chat_str_t id,
    chat_str_t *mime, int64_t *size)
{
    int                      rc;
    PGresult                *res;
    chat_store_pg_t         *s;
    chat_store_pg_params_t   p;

    s = (chat_store_pg_t *) store;

    chat_store_pg_params_init(&p);
    chat_store_pg_str(&p, id);

    /* the strings point into the result, kept until the next such
     * call */

    rc = chat_store_pg_keep_row(s, CHAT_PG_MEDIA(CHAT_PG_MEDIA_USE), &p,
                                &s->kept,
                                "media_use");
    if (rc != CHAT_STORE_OK) {
        return rc;
    }

    res = s->kept;

    *mime = chat_store_pg_get_str(res, 0, 0);
    *size = chat_store_pg_get_int(res, 0, 1);

    return CHAT_STORE_OK;
}


int
chat_store_pg_expire(chat_store_t *store, int64_t now_ms, int64_t limit,
    int64_t *deleted)
{
    PGresult                *res;
    chat_store_pg_params_t   p;

    *deleted = 0;

    chat_store_pg_params_init(&p);
    chat_store_pg_int(&p, now_ms);
    chat_store_pg_limit(&p, limit);

    res = chat_store_pg_query((chat_store_pg_t *) store,
                              CHAT_PG_MEDIA(CHAT_PG_MEDIA_EXPIRE), &p,
                              "expiring messages");
    if (res == NULL) {
        return CHAT_STORE_ERROR;
    }

    *deleted = chat_store_pg_get_int(res, 0, 0);
    PQclear(res);

    return CHAT_STORE_OK;
}


/*
 * The rows are deleted before cb sees them: a caller that stopped early
 * would lose the ids of rows deleted, so any non-zero answer of cb
 * (CHAT_STORE_STOP too) is an error, and the caller's rollback brings the
 * rows back.
 */

int
chat_store_pg_media_sweep(chat_store_t *store, int64_t now_ms,
    int64_t grace_ms, int64_t limit, chat_store_user_pt cb, void *data)
{
    int                      i, rc;
    PGresult                *res;
    chat_store_pg_t         *s;
    chat_store_pg_params_t   p;

    s = (chat_store_pg_t *) store;

    chat_store_pg_params_init(&p);
    chat_store_pg_int(&p, now_ms - grace_ms);
    chat_store_pg_limit(&p, limit);

    res = chat_store_pg_query(s, CHAT_PG_MEDIA(CHAT_PG_MEDIA_SWEEP), &p,
                              "media_sweep");
    if (res == NULL) {
        return CHAT_STORE_ERROR;
    }

    rc = CHAT_STORE_OK;

    for (i = 0; i < PQntuples(res); i++) {
        if (cb(chat_store_pg_get_str(res, i, 0), data) != 0) {
            rc = chat_store_set_error(store, "media_sweep: stopped by the "
                                      "caller (roll back: the rows are "
                                      "deleted)");
            break;
        }
    }

    PQclear(res);

    return rc;
}
