/*
 * The records of the Kafka topic of writes (docs/INTERNALS.md, "Kafka"),
 * decoded and validated: a record that breaks a rule of the contract is
 * refused with a reason, whatever its bytes.
 *
 * Pure: no I/O. Strings in the result point into the parsed JSON document,
 * which lives until chat_worker_record_free().
 */

#ifndef CHAT_WORKER_RECORD_H
#define CHAT_WORKER_RECORD_H

#include <stdint.h>
#include <jansson.h>

#include "chat_ids.h"
#include "chat_proto.h"


#define CHAT_WORKER_RECORD_VERSION  1
#define CHAT_WORKER_MID_MAX         32     /* docs/PROTOCOL.md 1: 32 bytes */
#define CHAT_WORKER_CONN_MAX        64

/* max_bytes of sync and history: the default when absent, and the least
 * honoured (a smaller one is raised to it) */
#define CHAT_WORKER_MAX_BYTES       262144
#define CHAT_WORKER_MAX_BYTES_MIN   4096

/* the longest group name, in bytes */
#define CHAT_WORKER_GROUP_NAME_MAX  128

/* limit of history: the default when absent, and the range it is clamped
 * to */
#define CHAT_WORKER_HISTORY_LIMIT      50
#define CHAT_WORKER_HISTORY_LIMIT_MAX  100

typedef enum {
    CHAT_WORKER_OP_SEND = 1,
    CHAT_WORKER_OP_RECEIPT,
    CHAT_WORKER_OP_SYNC,
    CHAT_WORKER_OP_HISTORY,
    CHAT_WORKER_OP_GROUP
} chat_worker_op_e;

/* The membership changes of a group record; the event each one makes is
 * chat_worker_group_event[action]. */
typedef enum {
    CHAT_WORKER_GROUP_CREATE = 0,
    CHAT_WORKER_GROUP_ADD,
    CHAT_WORKER_GROUP_REMOVE,
    CHAT_WORKER_GROUP_LEAVE
} chat_worker_group_e;

extern const char  *const chat_worker_group_event[];

typedef struct {
    chat_worker_op_e       op;
    int64_t                ts;

    chat_str_t             conv;        /* send, receipt, history */
    chat_conv_t            conv_parsed;

    chat_str_t             mid;         /* send */
    chat_str_t             from;
    chat_str_t             to;          /* DM send */
    chat_str_t             group;       /* group send, group */
    chat_str_t             body;
    chat_str_t             id;          /* send: the sender's client id;
                                           history, group: the request id,
                                           len 0 when absent */
    json_t                *media;       /* NULL when absent; borrowed */

    chat_str_t             by;          /* receipt, group */
    chat_receipt_status_e  status;
    int64_t                seq;

    chat_str_t             user;        /* sync, history */
    chat_str_t             conn;        /* and group send, group */
    int64_t                max_bytes;   /* default applied, at least _MIN */

    chat_str_t             after_conv;  /* sync: the cursor, len 0 and */
    int64_t                after_seq;   /* seq 0 on the first page */

    int64_t                before_seq;  /* history: 0 for the newest */
    int64_t                limit;       /* history: clamped */

    chat_worker_group_e    action;      /* group */
    chat_str_t             name;        /* group create: len 0 if none */
    json_t                *members;     /* group: an array of user ids, or
                                           NULL (leave); borrowed */
    chat_str_t             client_id;   /* group: the dedupe key, the id or
                                           "~" and the mid */

    char                   conv_buf[CHAT_CONV_MAX];
    char                   client_id_buf[1 + CHAT_WORKER_MID_MAX];

    json_t                *root;        /* owned */
} chat_worker_record_t;


/*
 * Decodes and validates one record value. Returns 0, or -1 with a static
 * reason in *reason. Either way chat_worker_record_free() must be called.
 */
int chat_worker_record_parse(const char *data, size_t len,
    chat_worker_record_t *rec, const char **reason);

void chat_worker_record_free(chat_worker_record_t *rec);

#endif /* CHAT_WORKER_RECORD_H */
