/*
 * Identifiers of the client protocol (docs/PROTOCOL.md section 1).
 */

#include <string.h>

#include "chat_ids.h"


#define CHAT_CONV_DM_PREFIX     "dm:"
#define CHAT_CONV_GROUP_PREFIX  "grp:"


static int chat_ids_char_valid(unsigned char c);
static int chat_ids_cmp(chat_str_t a, chat_str_t b);
static int chat_ids_eq(chat_str_t a, chat_str_t b);


static int
chat_ids_char_valid(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
           || (c >= '0' && c <= '9')
           || c == '_' || c == '.' || c == '@' || c == '-';
}


int
chat_id_valid(const char *s, size_t len)
{
    size_t  i;

    if (s == NULL || len == 0 || len > CHAT_ID_MAX) {
        return 0;
    }

    for (i = 0; i < len; i++) {
        if (!chat_ids_char_valid((unsigned char) s[i])) {
            return 0;
        }
    }

    return 1;
}


int
chat_client_id_valid(const char *s, size_t len)
{
    size_t  i;

    if (s == NULL || len == 0 || len > CHAT_CLIENT_ID_MAX) {
        return 0;
    }

    for (i = 0; i < len; i++) {
        if ((unsigned char) s[i] < 0x20 || (unsigned char) s[i] > 0x7e) {
            return 0;
        }
    }

    return 1;
}


/*
 * Bytewise order, a proper prefix sorting first: the order the protocol
 * defines for the two halves of a DM conversation id.
 */

static int
chat_ids_cmp(chat_str_t a, chat_str_t b)
{
    int  rc;

    rc = memcmp(a.s, b.s, a.len < b.len ? a.len : b.len);

    if (rc != 0) {
        return rc;
    }

    return (a.len > b.len) - (a.len < b.len);
}


static int
chat_ids_eq(chat_str_t a, chat_str_t b)
{
    return a.len == b.len && memcmp(a.s, b.s, a.len) == 0;
}


size_t
chat_conv_dm(char *out, chat_str_t u1, chat_str_t u2)
{
    char        *p;
    chat_str_t   lo, hi;

    if (chat_ids_cmp(u1, u2) <= 0) {
        lo = u1;
        hi = u2;

    } else {
        lo = u2;
        hi = u1;
    }

    p = out;
    memcpy(p, CHAT_CONV_DM_PREFIX, sizeof(CHAT_CONV_DM_PREFIX) - 1);
    p += sizeof(CHAT_CONV_DM_PREFIX) - 1;
    memcpy(p, lo.s, lo.len);
    p += lo.len;
    *p++ = ':';
    memcpy(p, hi.s, hi.len);
    p += hi.len;

    return (size_t) (p - out);
}


size_t
chat_conv_group(char *out, chat_str_t group)
{
    size_t  n;

    n = sizeof(CHAT_CONV_GROUP_PREFIX) - 1;

    memcpy(out, CHAT_CONV_GROUP_PREFIX, n);
    memcpy(out + n, group.s, group.len);

    return n + group.len;
}


int
chat_conv_parse(const char *s, size_t len, chat_conv_t *conv)
{
    size_t       n;
    const char  *p, *colon;

    memset(conv, 0, sizeof(*conv));

    if (s == NULL || len > CHAT_CONV_MAX) {
        return -1;
    }

    n = sizeof(CHAT_CONV_GROUP_PREFIX) - 1;

    if (len > n && memcmp(s, CHAT_CONV_GROUP_PREFIX, n) == 0) {
        if (!chat_id_valid(s + n, len - n)) {
            return -1;
        }

        conv->kind = CHAT_CONV_GROUP;
        conv->group.s = s + n;
        conv->group.len = len - n;
        return 0;
    }

    n = sizeof(CHAT_CONV_DM_PREFIX) - 1;

    if (len <= n || memcmp(s, CHAT_CONV_DM_PREFIX, n) != 0) {
        return -1;
    }

    /* ':' is not in the id charset, so the first one separates a and b */

    p = s + n;
    colon = memchr(p, ':', len - n);

    if (colon == NULL) {
        return -1;
    }

    conv->a.s = p;
    conv->a.len = (size_t) (colon - p);
    conv->b.s = colon + 1;
    conv->b.len = len - n - conv->a.len - 1;

    if (!chat_id_valid(conv->a.s, conv->a.len)
        || !chat_id_valid(conv->b.s, conv->b.len)
        || chat_ids_cmp(conv->a, conv->b) >= 0)
    {
        memset(conv, 0, sizeof(*conv));
        return -1;
    }

    conv->kind = CHAT_CONV_DM;

    return 0;
}


int
chat_conv_dm_has(const chat_conv_t *conv, chat_str_t user)
{
    if (conv->kind != CHAT_CONV_DM) {
        return 0;
    }

    return chat_ids_eq(conv->a, user) || chat_ids_eq(conv->b, user);
}
