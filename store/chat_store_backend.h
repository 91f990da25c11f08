/*
 * What a store backend implements (for backends only; users of the store
 * see chat_store.h). A backend's handle starts with a chat_store_t, so that
 * a pointer to it is a chat_store_t pointer:
 *
 *     typedef struct {
 *         chat_store_t   store;      (first)
 *         ...backend state...
 *     } chat_store_foo_t;
 *
 * Each operation has the contract of the chat_store_* function of the same
 * name; on CHAT_STORE_ERROR it sets the reason with chat_store_set_error().
 */

#ifndef CHAT_STORE_BACKEND_H
#define CHAT_STORE_BACKEND_H

#include "chat_store.h"


typedef struct {
    const char  *scheme;     /* the URI scheme, "sqlite" or "postgres" */

    /* location: the URI after "<scheme>:" */
    chat_store_t *(*open)(const char *location, char *err, size_t errlen);
    void (*close)(chat_store_t *store);

    int (*begin)(chat_store_t *store);
    int (*commit)(chat_store_t *store);
    int (*rollback)(chat_store_t *store);
    int (*sync)(chat_store_t *store);

    int (*find_by_client_id)(chat_store_t *store, chat_str_t sender,
        chat_str_t client_id, chat_store_msg_t *msg);
    int (*conv_last_seq)(chat_store_t *store, chat_str_t conv, int64_t *seq);
    int (*insert_message)(chat_store_t *store, const chat_store_msg_t *msg);
    int (*raise_watermark)(chat_store_t *store, chat_str_t conv,
        chat_str_t user, chat_receipt_status_e status, int64_t seq,
        chat_store_marks_t *marks);
    int (*pending)(chat_store_t *store, chat_str_t user,
        chat_str_t after_conv, int64_t after_seq, int64_t limit,
        int64_t now_ms, chat_store_msg_pt cb, void *data);
    int (*history)(chat_store_t *store, chat_str_t conv, chat_str_t user,
        int64_t before_seq, int64_t after_seq, int64_t limit, int64_t now_ms,
        chat_store_msg_pt cb, void *data);
    int (*log)(chat_store_t *store, chat_str_t conv, chat_str_t user,
        int64_t before_seq, int64_t limit, int64_t now_ms,
        chat_store_msg_pt cb, void *data);
    int (*members)(chat_store_t *store, chat_str_t conv,
        chat_store_user_pt cb, void *data);
    int (*roster)(chat_store_t *store, chat_str_t conv,
        chat_store_member_pt cb, void *data);
    int (*member_join)(chat_store_t *store, chat_str_t conv,
        chat_str_t user, int admin, int64_t joined_seq);
    int (*member_leave)(chat_store_t *store, chat_str_t conv,
        chat_str_t user, int64_t left_seq);
    int (*group_create)(chat_store_t *store, chat_str_t conv,
        chat_str_t name, int64_t created_ms);
    int (*senders)(chat_store_t *store, chat_str_t conv, int64_t lo,
        int64_t hi, chat_store_user_pt cb, void *data);

    int (*conv_ttl)(chat_store_t *store, chat_str_t conv, int64_t *ttl);
    int (*conv_set_ttl)(chat_store_t *store, chat_str_t conv, int64_t ttl);
    int (*group_get)(chat_store_t *store, chat_str_t conv, chat_str_t user,
        chat_store_group_t *group);
    int (*conversations)(chat_store_t *store, chat_str_t user,
        int64_t before_ts, int64_t limit, int64_t now_ms,
        chat_store_conv_pt cb, void *data);

    int (*media_insert)(chat_store_t *store, chat_str_t id, chat_str_t owner,
        chat_str_t mime, int64_t size, int64_t created_ms);
    int (*media_use)(chat_store_t *store, chat_str_t id, chat_str_t *mime,
        int64_t *size);
    int (*expire)(chat_store_t *store, int64_t now_ms, int64_t limit,
        int64_t *deleted);
    int (*media_sweep)(chat_store_t *store, int64_t now_ms, int64_t grace_ms,
        int64_t limit, chat_store_user_pt cb, void *data);

    int (*push_schedule)(chat_store_t *store, chat_str_t conv,
        chat_str_t user, int64_t due_ms, int32_t part);
    int (*push_due)(chat_store_t *store, int32_t part, int64_t now_ms,
        int64_t limit, chat_store_due_pt cb, void *data);
    int (*push_messages)(chat_store_t *store, chat_str_t conv,
        chat_str_t user, int64_t limit, chat_store_msg_pt cb, void *data);
    int (*push_advance)(chat_store_t *store, chat_str_t conv,
        chat_str_t user, int64_t seq, int64_t delay_ms);
} chat_store_ops_t;


struct chat_store_s {
    const chat_store_ops_t  *ops;
    char                     errstr[CHAT_STORE_ERRSTR_LEN];
    int                      fault;     /* CHAT_STORE_FAULT_* */
};


extern const chat_store_ops_t  chat_store_sqlite_ops;
extern const chat_store_ops_t  chat_store_pg_ops;


/* Formats the reason of the current error, a failure of the store
 * (CHAT_STORE_FAULT_STORE) unless the caller then sets store->fault;
 * returns CHAT_STORE_ERROR. */
int chat_store_set_error(chat_store_t *store, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif /* CHAT_STORE_BACKEND_H */
