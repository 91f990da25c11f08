/*
 * The operations of the SQLite store on media and on expiry: the uploads
 * chat-api records, their use by a send, the deletion of expired messages
 * and the sweep of the media no message references any more.
 *
 * Expiry deletes a message by making its row a tombstone: kind gets a '~'
 * before it ('~msg'), a message's body, media and media id are emptied.
 * What stays is what dedupe and the log need: conv, seq, mid, sender,
 * client id, ts. So a retry of the send (same client id) still finds its
 * mid (chat_store_find_by_client_id() answers the tombstone, of the
 * message's kind, with an empty body) and creates nothing, and no seq or
 * mid is ever given twice. A tombstone is in none of the read indexes
 * (messages_live, messages_expiring) and no read answers it. It is kept
 * for as long as the store: a client's outbox may retry a send after any
 * time offline, and a tombstone costs a hundred bytes or so.
 *
 * Concurrency: every write, so media_use() in a send and each expiry or
 * sweep, runs in a BEGIN IMMEDIATE transaction, which holds SQLite's one
 * write lock from its start and reads the newest commit: two of them never
 * interleave. A send that takes a media either commits before a sweep
 * starts (the media is then used, and referenced by the new message: the
 * sweep passes it) or starts after the sweep committed (the row is gone:
 * media_use() answers CHAT_STORE_NOT_FOUND and the send is refused). The
 * used flag alone already keeps a used media from the sweep; only expiry
 * releases it, and then the reference test decides.
 */

#include "chat_store_sqlite.h"


/* The rows expired at ?1 and not deleted yet, the first ?2 to expire:
 * the head of messages_expiring, in its (expires_ms, rowid) order, so that
 * the two statements of one expiry take the same rows. */
#define CHAT_STORE_SQLITE_EXPIRED(col)                                        \
    "SELECT " col " FROM messages INDEXED BY messages_expiring"               \
    "  WHERE expires_ms > 0 AND kind IN ('msg', 'group', 'conv')"             \
    "    AND expires_ms <= ?1"                                                \
    "  ORDER BY expires_ms LIMIT ?2"


const char  *const chat_store_sqlite_media_sql[CHAT_SQL_MEDIA_N] = {

    "INSERT INTO media (id, owner, mime, size, created_ms, used)"
    "  VALUES (?1, ?2, ?3, ?4, ?5, 0) ON CONFLICT (id) DO NOTHING",

    "UPDATE media SET used = 1 WHERE id = ?1 RETURNING mime, size",

    /* the media of the rows about to be deleted: released, the sweep
     * checks whether another message still has them */
    "UPDATE media SET used = 2"
    "  WHERE used = 1 AND id IN (SELECT e.media_id FROM messages AS e"
    "    WHERE e.rowid IN (" CHAT_STORE_SQLITE_EXPIRED("rowid") ")"
    "      AND e.media_id IS NOT NULL)",

    /* an event keeps its body: dedupe compares a retried change with it */
    "UPDATE messages SET kind = '~' || kind,"
    "    body = CASE kind WHEN 'msg' THEN '' ELSE body END,"
    "    media = NULL, media_id = NULL"
    "  WHERE rowid IN (" CHAT_STORE_SQLITE_EXPIRED("rowid") ")",

    /*
     * media_sweepable holds what was never used and what expiry released:
     * the first are taken after the grace (?1 is now - grace), the second
     * at once, each only when no message references it (messages_media);
     * two ranges of the index, so that the uploads still in their grace
     * are never stepped over.
     * RETURNING answers the rows this statement deleted: a concurrent
     * sweeper, serialized behind it, no longer finds them.
     */
    "DELETE FROM media WHERE id IN ("
    "  SELECT c.id FROM ("
    "    SELECT d.id FROM media AS d INDEXED BY media_sweepable"
    "     WHERE d.used <> 1 AND d.used = 2"
    "    UNION ALL"
    "    SELECT d.id FROM media AS d INDEXED BY media_sweepable"
    "     WHERE d.used <> 1 AND d.used = 0 AND d.created_ms <= ?1) AS c"
    "   WHERE NOT EXISTS (SELECT 1 FROM messages AS m"
    "                      WHERE m.media_id = c.id)"
    "   LIMIT ?2)"
    "  RETURNING id",
};


int
chat_store_sqlite_media_insert(chat_store_t *store, chat_str_t id,
    chat_str_t owner, chat_str_t mime, int64_t size, int64_t created_ms)
{
    sqlite3_stmt         *stmt;
    chat_store_sqlite_t  *s;

    s = (chat_store_sqlite_t *) store;

    if (id.len == 0 || mime.len == 0 || size < 0) {
        (void) chat_store_set_error(store, "media \"%.*s\": %s", (int) id.len,
                                    id.s, size < 0 ? "size below 0"
                                                   : "no id or type");
        store->fault = CHAT_STORE_FAULT_DATA;
        return CHAT_STORE_ERROR;
    }

    stmt = s->media[CHAT_SQL_MEDIA_INSERT];

    chat_store_sqlite_bind_str(stmt, 1, id);
    chat_store_sqlite_bind_str(stmt, 2, owner);
    chat_store_sqlite_bind_str(stmt, 3, mime);
    sqlite3_bind_int64(stmt, 4, size);
    sqlite3_bind_int64(stmt, 5, created_ms);

    if (chat_store_sqlite_run(s, stmt, "inserting a media") != 0) {
        return CHAT_STORE_ERROR;
    }

    if (sqlite3_changes(s->db) == 0) {
        chat_store_set_error(store, "media \"%.*s\" exists", (int) id.len,
                             id.s);
        return CHAT_STORE_EXISTS;
    }

    return CHAT_STORE_OK;
}


int
chat_store_sqlite_media_use(chat_store_t *store, chat_str_t id,
    chat_str_t *mime, int64_t *size)
{
    int                   rc;
    sqlite3_stmt         *stmt;
    chat_store_sqlite_t  *s;

    s = (chat_store_sqlite_t *) store;
    stmt = s->media[CHAT_SQL_MEDIA_USE];

    chat_store_sqlite_bind_str(stmt, 1, id);

    rc = chat_store_sqlite_one_row(s, stmt, "media_use");
    if (rc != CHAT_STORE_OK) {
        return rc;
    }

    *mime = chat_store_sqlite_column_str(stmt, 0);
    *size = sqlite3_column_int64(stmt, 1);

    rc = chat_store_sqlite_copy(s, &s->kept, &s->kept_size, &mime, 1);

    /* RETURNING: the update is done by the first step, this one ends it */

    if (rc == CHAT_STORE_OK && sqlite3_step(stmt) != SQLITE_DONE) {
        rc = chat_store_sqlite_fail(s, "media_use");
    }

    return chat_store_sqlite_done(stmt, rc);
}


int
chat_store_sqlite_expire(chat_store_t *store, int64_t now_ms, int64_t limit,
    int64_t *deleted)
{
    int                   i;
    sqlite3_stmt         *stmt;
    chat_store_sqlite_t  *s;

    static const chat_store_sqlite_media_stmt_e  steps[] = {
        CHAT_SQL_MEDIA_RELEASE, CHAT_SQL_MEDIA_EXPIRE
    };

    s = (chat_store_sqlite_t *) store;
    *deleted = 0;

    for (i = 0; i < 2; i++) {
        stmt = s->media[steps[i]];

        sqlite3_bind_int64(stmt, 1, now_ms);
        sqlite3_bind_int64(stmt, 2, limit);

        if (chat_store_sqlite_run(s, stmt, "expiring messages") != 0) {
            return CHAT_STORE_ERROR;
        }
    }

    *deleted = sqlite3_changes(s->db);

    return CHAT_STORE_OK;
}


/*
 * RETURNING deletes every row at the first step and only then answers
 * them: a caller that stopped early would lose the ids of rows deleted, so
 * any non-zero answer of cb (CHAT_STORE_STOP too) is an error, and the
 * caller's rollback brings the rows back.
 */

int
chat_store_sqlite_media_sweep(chat_store_t *store, int64_t now_ms,
    int64_t grace_ms, int64_t limit, chat_store_user_pt cb, void *data)
{
    int                   rc;
    sqlite3_stmt         *stmt;
    chat_store_sqlite_t  *s;

    s = (chat_store_sqlite_t *) store;
    stmt = s->media[CHAT_SQL_MEDIA_SWEEP];

    sqlite3_bind_int64(stmt, 1, now_ms - grace_ms);
    sqlite3_bind_int64(stmt, 2, limit);

    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        if (cb(chat_store_sqlite_column_str(stmt, 0), data) != 0) {
            chat_store_set_error(store, "media_sweep: stopped by the caller "
                                 "(roll back: the rows are deleted)");
            return chat_store_sqlite_done(stmt, CHAT_STORE_ERROR);
        }
    }

    if (rc != SQLITE_DONE) {
        chat_store_sqlite_fail(s, "media_sweep");
        return chat_store_sqlite_done(stmt, CHAT_STORE_ERROR);
    }

    return chat_store_sqlite_done(stmt, CHAT_STORE_OK);
}
