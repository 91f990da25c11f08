/*
 * The store interface: picks the backend by the URI's scheme and forwards
 * each operation to it.
 */

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "chat_store_backend.h"


static const chat_store_ops_t  *chat_store_backends[] = {
    &chat_store_sqlite_ops,
    &chat_store_pg_ops,
    NULL
};


chat_store_t *
chat_store_open(const char *uri, char *err, size_t errlen)
{
    size_t                   n;
    const char              *colon;
    chat_store_t            *store;
    const chat_store_ops_t **ops;

    colon = strchr(uri, ':');

    if (colon == NULL) {
        snprintf(err, errlen, "store \"%s\": expected <scheme>:<location>, "
                 "e.g. sqlite:/var/lib/chat/chat.db or "
                 "postgres:host=db dbname=chat", uri);
        return NULL;
    }

    n = (size_t) (colon - uri);

    for (ops = chat_store_backends; *ops != NULL; ops++) {
        if (strlen((*ops)->scheme) == n
            && strncmp((*ops)->scheme, uri, n) == 0)
        {
            store = (*ops)->open(colon + 1, err, errlen);
            if (store != NULL) {
                store->ops = *ops;
                chat_store_clear_error(store);
            }

            return store;
        }
    }

    snprintf(err, errlen, "store \"%s\": unknown scheme \"%.*s\"",
             uri, (int) n, uri);

    return NULL;
}


void
chat_store_close(chat_store_t *store)
{
    if (store != NULL) {
        store->ops->close(store);
    }
}


const char *
chat_store_errstr(chat_store_t *store)
{
    return store->errstr[0] ? store->errstr : "no error";
}


void
chat_store_uri_redacted(const char *uri, char *out, size_t size)
{
    size_t       n;
    const char  *p, *end, *at, *colon;

    n = 0;
    p = uri;

    while (*p != '\0' && n + 1 < size) {
        /* "password=value", a keyword of a conninfo (after a blank) or
         * a parameter of a URI (after '?' or '&'): the value up to the
         * next blank or parameter */
        if (strncmp(p, "password=", 9) == 0
            && (p == uri || strchr(" :?&", p[-1]) != NULL))
        {
            n += (size_t) snprintf(out + n, size - n, "password=***");
            p += 9 + strcspn(p + 9, " &");
            continue;
        }

        /* "//user:password@host": what is between ':' and '@' */
        if (strncmp(p, "//", 2) == 0) {
            end = p + 2 + strcspn(p + 2, "/?");
            at = memchr(p + 2, '@', (size_t) (end - p - 2));
            colon = at ? memchr(p + 2, ':', (size_t) (at - p - 2)) : NULL;

            if (colon != NULL) {
                n += (size_t) snprintf(out + n, size - n, "%.*s:***",
                                       (int) (colon - p), p);
                p = at;
                continue;
            }
        }

        out[n++] = *p++;
    }

    if (n >= size) {
        n = size - 1;
    }

    out[n] = '\0';
}


int
chat_store_set_error(chat_store_t *store, const char *fmt, ...)
{
    va_list  args;

    va_start(args, fmt);
    vsnprintf(store->errstr, sizeof(store->errstr), fmt, args);
    va_end(args);

    /* what is not known to be the data's is retried, never dropped */
    store->fault = CHAT_STORE_FAULT_STORE;

    return CHAT_STORE_ERROR;
}


int
chat_store_fault(chat_store_t *store)
{
    return store->fault;
}


void
chat_store_clear_error(chat_store_t *store)
{
    store->errstr[0] = '\0';
    store->fault = CHAT_STORE_FAULT_NONE;
}


int
chat_store_begin(chat_store_t *store)
{
    return store->ops->begin(store);
}


int
chat_store_commit(chat_store_t *store)
{
    return store->ops->commit(store);
}


int
chat_store_rollback(chat_store_t *store)
{
    return store->ops->rollback(store);
}


int
chat_store_sync(chat_store_t *store)
{
    return store->ops->sync(store);
}


int
chat_store_find_by_client_id(chat_store_t *store, chat_str_t sender,
    chat_str_t client_id, chat_store_msg_t *msg)
{
    return store->ops->find_by_client_id(store, sender, client_id, msg);
}


int
chat_store_conv_last_seq(chat_store_t *store, chat_str_t conv, int64_t *seq)
{
    return store->ops->conv_last_seq(store, conv, seq);
}


int
chat_store_insert_message(chat_store_t *store, const chat_store_msg_t *msg)
{
    return store->ops->insert_message(store, msg);
}


int
chat_store_raise_watermark(chat_store_t *store, chat_str_t conv,
    chat_str_t user, chat_receipt_status_e status, int64_t seq,
    chat_store_marks_t *marks)
{
    return store->ops->raise_watermark(store, conv, user, status, seq, marks);
}


int
chat_store_pending(chat_store_t *store, chat_str_t user,
    chat_str_t after_conv, int64_t after_seq, int64_t limit, int64_t now_ms,
    chat_store_msg_pt cb, void *data)
{
    return store->ops->pending(store, user, after_conv, after_seq, limit,
                               now_ms, cb, data);
}


int
chat_store_history(chat_store_t *store, chat_str_t conv, chat_str_t user,
    int64_t before_seq, int64_t after_seq, int64_t limit, int64_t now_ms,
    chat_store_msg_pt cb, void *data)
{
    return store->ops->history(store, conv, user, before_seq, after_seq,
                               limit, now_ms, cb, data);
}


int
chat_store_log(chat_store_t *store, chat_str_t conv, chat_str_t user,
    int64_t before_seq, int64_t limit, int64_t now_ms, chat_store_msg_pt cb,
    void *data)
{
    return store->ops->log(store, conv, user, before_seq, limit, now_ms, cb,
                           data);
}


int
chat_store_members(chat_store_t *store, chat_str_t conv,
    chat_store_user_pt cb, void *data)
{
    return store->ops->members(store, conv, cb, data);
}


int
chat_store_roster(chat_store_t *store, chat_str_t conv,
    chat_store_member_pt cb, void *data)
{
    return store->ops->roster(store, conv, cb, data);
}


int
chat_store_member_join(chat_store_t *store, chat_str_t conv,
    chat_str_t user, int admin, int64_t joined_seq)
{
    return store->ops->member_join(store, conv, user, admin, joined_seq);
}


int
chat_store_member_leave(chat_store_t *store, chat_str_t conv,
    chat_str_t user, int64_t left_seq)
{
    return store->ops->member_leave(store, conv, user, left_seq);
}


int
chat_store_group_create(chat_store_t *store, chat_str_t conv,
    chat_str_t name, int64_t created_ms)
{
    return store->ops->group_create(store, conv, name, created_ms);
}


int
chat_store_senders(chat_store_t *store, chat_str_t conv, int64_t lo,
    int64_t hi, chat_store_user_pt cb, void *data)
{
    return store->ops->senders(store, conv, lo, hi, cb, data);
}


int
chat_store_conv_ttl(chat_store_t *store, chat_str_t conv, int64_t *ttl)
{
    return store->ops->conv_ttl(store, conv, ttl);
}


int
chat_store_conv_set_ttl(chat_store_t *store, chat_str_t conv, int64_t ttl)
{
    return store->ops->conv_set_ttl(store, conv, ttl);
}


int
chat_store_group_get(chat_store_t *store, chat_str_t conv, chat_str_t user,
    chat_store_group_t *group)
{
    return store->ops->group_get(store, conv, user, group);
}


int
chat_store_conversations(chat_store_t *store, chat_str_t user,
    int64_t before_ts, int64_t limit, int64_t now_ms, chat_store_conv_pt cb,
    void *data)
{
    return store->ops->conversations(store, user, before_ts, limit, now_ms,
                                     cb, data);
}


int
chat_store_media_insert(chat_store_t *store, chat_str_t id, chat_str_t owner,
    chat_str_t mime, int64_t size, int64_t created_ms)
{
    return store->ops->media_insert(store, id, owner, mime, size,
                                    created_ms);
}


int
chat_store_media_use(chat_store_t *store, chat_str_t id, chat_str_t *mime,
    int64_t *size)
{
    return store->ops->media_use(store, id, mime, size);
}


int
chat_store_expire(chat_store_t *store, int64_t now_ms, int64_t limit,
    int64_t *deleted)
{
    return store->ops->expire(store, now_ms, limit, deleted);
}


int
chat_store_media_sweep(chat_store_t *store, int64_t now_ms, int64_t grace_ms,
    int64_t limit, chat_store_user_pt cb, void *data)
{
    return store->ops->media_sweep(store, now_ms, grace_ms, limit, cb, data);
}


int
chat_store_push_schedule(chat_store_t *store, chat_str_t conv,
    chat_str_t user, int64_t due_ms, int32_t part)
{
    return store->ops->push_schedule(store, conv, user, due_ms, part);
}


int
chat_store_push_due(chat_store_t *store, int32_t part, int64_t now_ms,
    int64_t limit, chat_store_due_pt cb, void *data)
{
    return store->ops->push_due(store, part, now_ms, limit, cb, data);
}


int
chat_store_push_messages(chat_store_t *store, chat_str_t conv,
    chat_str_t user, int64_t limit, chat_store_msg_pt cb, void *data)
{
    return store->ops->push_messages(store, conv, user, limit, cb, data);
}


int
chat_store_push_advance(chat_store_t *store, chat_str_t conv,
    chat_str_t user, int64_t seq, int64_t delay_ms)
{
    return store->ops->push_advance(store, conv, user, seq, delay_ms);
}
