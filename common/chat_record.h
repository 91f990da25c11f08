/*
 * The records of the Kafka topic of writes (docs/INTERNALS.md, "Kafka"),
 * decoded and validated: a record that breaks a rule of the contract is
 * refused with a reason, whatever its bytes.
 *
 * Pure: no I/O. Strings in the result point into the parsed JSON document,
 * which lives until chat_record_free().
 */

#ifndef CHAT_RECORD_H
#define CHAT_RECORD_H

#include <stdint.h>
#include <jansson.h>

#include "chat_ids.h"
#include "chat_proto.h"


#define CHAT_RECORD_VERSION  1
#define CHAT_RECORD_MID_MAX         32     /* docs/PROTOCOL.md 1: 32 bytes */
#define CHAT_RECORD_CONN_MAX        64

/* the Kafka key of a sync ("user:" and the user): the user's worker
 * answers it; every other record is keyed by its conversation */
#define CHAT_RECORD_USER_KEY        "user:"
#define CHAT_RECORD_KEY_MAX         CHAT_CONV_MAX

/* max_bytes of sync and history: the default when absent, and the least
 * honoured (a smaller one is raised to it) */
#define CHAT_RECORD_MAX_BYTES       262144
#define CHAT_RECORD_MAX_BYTES_MIN   4096

/* the longest group name, in bytes */
#define CHAT_RECORD_GROUP_NAME_MAX  128

/* limit of history: the default when absent, and the range it is clamped
 * to */
#define CHAT_RECORD_HISTORY_LIMIT      50
#define CHAT_RECORD_HISTORY_LIMIT_MAX  100

typedef enum {
    CHAT_RECORD_OP_SEND = 1,
    CHAT_RECORD_OP_RECEIPT,
    CHAT_RECORD_OP_SYNC,
    CHAT_RECORD_OP_HISTORY,
    CHAT_RECORD_OP_GROUP,
    CHAT_RECORD_OP_CONV_SET
} chat_record_op_e;

/* The membership changes of a group record; the event each one makes is
 * chat_record_group_event[action]. */
typedef enum {
    CHAT_RECORD_GROUP_CREATE = 0,
    CHAT_RECORD_GROUP_ADD,
    CHAT_RECORD_GROUP_REMOVE,
    CHAT_RECORD_GROUP_LEAVE
} chat_record_group_e;

extern const char  *const chat_record_group_event[];

typedef struct {
    chat_record_op_e       op;
    int64_t                ts;

    chat_str_t             conv;        /* send, receipt, history,
                                           conv_set */
    chat_conv_t            conv_parsed;

    chat_str_t             mid;         /* send */
    chat_str_t             from;
    chat_str_t             to;          /* DM send */
    chat_str_t             group;       /* group send, group */
    chat_str_t             body;
    chat_str_t             id;          /* send: the sender's client id;
                                           history, group, conv_set: the
                                           request id, len 0 when absent */
    int                    has_media;   /* send: media_id is set */
    chat_str_t             media_id;    /* send: {"media":{"id":..}}, an id
                                           the module took from a URL it
                                           checked (common/chat_media.h);
                                           its type and size are the
                                           store's, recorded at upload */

    chat_str_t             by;          /* receipt, group */
    chat_receipt_status_e  status;
    int64_t                seq;

    chat_str_t             user;        /* sync, history */
    chat_str_t             conn;        /* and group send, group,
                                           conv_set */
    int64_t                max_bytes;   /* default applied, at least _MIN */

    chat_str_t             after_conv;  /* sync: the cursor, len 0 and */
    int64_t                after_seq;   /* seq 0 on the first page */

    int64_t                before_seq;  /* history: 0 for the newest */
    int64_t                limit;       /* history: clamped */

    chat_record_group_e    action;      /* group */
    chat_str_t             name;        /* group create: len 0 if none */
    json_t                *members;     /* group: an array of user ids, or
                                           NULL (leave); borrowed */
    chat_str_t             client_id;   /* group, conv_set: the dedupe key,
                                           the id or "~" and the mid */

    int64_t                ttl;         /* conv_set: seconds, 0..
                                           CHAT_PROTO_MAX_TTL, or
                                           CHAT_PROTO_TTL_BAD (answered
                                           bad_request once the setter's
                                           right is checked); "from" is
                                           the setter */

    char                   conv_buf[CHAT_CONV_MAX];
    char                   client_id_buf[1 + CHAT_RECORD_MID_MAX];

    json_t                *root;        /* owned */
} chat_record_t;


/*
 * The record rec->op names, as a new JSON object in the member order the
 * module has always produced, "mid" last when rec->mid.len (send, group,
 * conv_set).
 * The strings of rec are copied; members is referenced. NULL when out of
 * memory. The module encodes before it knows the final mid (a retry reuses
 * the first attempt's): chat_record_set_mid() adds it then.
 */
json_t *chat_record_encode(const chat_record_t *rec);

/* Adds "mid" to an encoded record whose op carries one (send, group and
 * conv_set);
 * leaves the others alone. 0, or -1 when out of memory. */
int chat_record_set_mid(json_t *record, chat_str_t mid);

/* The op and the action (len 0 but for a group record) of an encoded
 * record: what a client id was used for (common/chat_cid.h). */
void chat_record_what(const json_t *record, chat_str_t *op,
    chat_str_t *action);

/* The bytes of an encoded record (compact JSON, malloc()ed, NUL
 * terminated), *len their length; NULL when out of memory. */
char *chat_record_dump(const json_t *record, size_t *len);

/* The Kafka key of a sync of user into buf (CHAT_RECORD_KEY_MAX bytes);
 * returns its length. */
size_t chat_record_user_key(char *buf, chat_str_t user);

/*
 * Decodes and validates one record value. Returns 0, or -1 with a static
 * reason in *reason. Either way chat_record_free() must be called.
 */
int chat_record_decode(const char *data, size_t len, chat_record_t *rec,
    const char **reason);

void chat_record_free(chat_record_t *rec);

#endif /* CHAT_RECORD_H */
