/*
 * Identifiers of the client protocol (docs/PROTOCOL.md section 1): user, device
 * and group ids, client ids and conversation ids.
 */

#ifndef CHAT_IDS_H
#define CHAT_IDS_H

#include <stddef.h>

#define CHAT_ID_MAX         64
#define CHAT_CLIENT_ID_MAX  64
/* "dm:" a ":" b, or "grp:" group */
#define CHAT_CONV_MAX       (3 + CHAT_ID_MAX + 1 + CHAT_ID_MAX)

typedef struct {
    const char  *s;
    size_t       len;
} chat_str_t;

typedef enum {
    CHAT_CONV_DM = 1,
    CHAT_CONV_GROUP
} chat_conv_kind_e;

typedef struct {
    chat_conv_kind_e  kind;
    chat_str_t        a;      /* DM: the bytewise smaller user id */
    chat_str_t        b;      /* DM: the larger one */
    chat_str_t        group;  /* GROUP: the group id */
} chat_conv_t;

/* 1 when s is 1-64 bytes of A-Z a-z 0-9 _ . @ - (user, device, group ids). */
int chat_id_valid(const char *s, size_t len);

/* 1 when s is 1-64 printable ASCII bytes (0x20-0x7e). */
int chat_client_id_valid(const char *s, size_t len);

/* Writes "dm:<min>:<max>" of two valid, different user ids into out
 * (CHAT_CONV_MAX bytes, not NUL-terminated); returns its length. */
size_t chat_conv_dm(char *out, chat_str_t u1, chat_str_t u2);

/* Writes "grp:<group>" into out; returns its length. */
size_t chat_conv_group(char *out, chat_str_t group);

/* Parses a conversation id; returns 0 and fills conv (pointing into s), or -1
 * when s is not "dm:<a>:<b>" with valid ids and a < b, nor "grp:<valid id>". */
int chat_conv_parse(const char *s, size_t len, chat_conv_t *conv);

/* 1 when user is a member of a DM conversation by its id alone. */
int chat_conv_dm_has(const chat_conv_t *conv, chat_str_t user);

#endif /* CHAT_IDS_H */
