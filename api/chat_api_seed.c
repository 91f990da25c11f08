/*
 * chat-api-seed: writes the rows a test describes into a store, through
 * the store API only (store/chat_store.h), so that a test of chat-api
 * reads a store as the chat-workers write it, whatever its backend.
 *
 *     chat-api-seed STORE-URI < script
 *
 * One row a line, fields separated by one blank, the last field of msg
 * and event taking the rest of the line; all in one transaction:
 *
 *     msg CONV SEQ MID SENDER CLIENT_ID TS EXPIRES BODY
 *     mmsg CONV SEQ MID SENDER CLIENT_ID TS EXPIRES MEDIA_ID MIME SIZE BODY
 *     event CONV SEQ MID SENDER TS JSON      (a group event's body)
 *     group CONV NAME CREATED_MS
 *     join CONV USER ADMIN(0|1) JOINED_SEQ
 *     leave CONV USER LEFT_SEQ
 *     mark CONV USER delivered|read SEQ
 *     ttl CONV TTL
 *     media ID OWNER MIME SIZE CREATED_MS
 *     use ID MIME SIZE        (marks media used; fails unless it is there
 *                              with that type and size)
 *
 * Not a tool for production: it writes what it is told.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat_store.h"


#define CHAT_SEED_FIELDS  12

typedef struct {
    chat_str_t  f[CHAT_SEED_FIELDS];
    size_t      n;
} chat_seed_line_t;


/* Splits line into at most max fields, the last taking the rest. */

static void
chat_seed_split(char *line, size_t max, chat_seed_line_t *l)
{
    size_t  len;

    l->n = 0;

    while (l->n < max) {
        len = l->n + 1 == max ? strlen(line) : strcspn(line, " ");
        l->f[l->n].s = line;
        l->f[l->n].len = len;
        l->n++;

        if (line[len] == '\0') {
            break;
        }

        line += len + 1;
    }
}


static int64_t
chat_seed_num(chat_str_t s)
{
    return strtoll(s.s, NULL, 10);
}


static int
chat_seed_msg(chat_store_t *store, chat_seed_line_t *l, int with_media)
{
    char              media[256];
    chat_store_msg_t  m;

    memset(&m, 0, sizeof(m));
    m.kind = CHAT_STORE_KIND_MSG;
    m.conv = l->f[1];
    m.seq = chat_seed_num(l->f[2]);
    m.mid = l->f[3];
    m.sender = l->f[4];
    m.client_id = l->f[5];
    m.ts = chat_seed_num(l->f[6]);
    m.expires = chat_seed_num(l->f[7]);
    m.body = l->f[with_media ? 11 : 8];

    if (with_media) {
        m.media_id = l->f[8];
        m.media.s = media;
        m.media.len = (size_t) snprintf(media, sizeof(media),
                                        "{\"id\":\"%.*s\",\"mime\":\"%.*s\","
                                        "\"size\":%lld}",
                                        (int) l->f[8].len, l->f[8].s,
                                        (int) l->f[9].len, l->f[9].s,
                                        (long long) chat_seed_num(l->f[10]));
    }

    return chat_store_insert_message(store, &m);
}


static int
chat_seed_event(chat_store_t *store, chat_seed_line_t *l)
{
    chat_store_msg_t  m;

    memset(&m, 0, sizeof(m));
    m.kind = CHAT_STORE_KIND_GROUP;
    m.conv = l->f[1];
    m.seq = chat_seed_num(l->f[2]);
    m.mid = l->f[3];
    m.sender = l->f[4];
    m.client_id = l->f[3];
    m.ts = chat_seed_num(l->f[5]);
    m.body = l->f[6];

    return chat_store_insert_message(store, &m);
}


static int
chat_seed_mark(chat_store_t *store, chat_seed_line_t *l)
{
    chat_store_marks_t  marks;

    return chat_store_raise_watermark(store, l->f[1], l->f[2],
                                      l->f[3].s[0] == 'r'
                                      ? CHAT_RECEIPT_READ
                                      : CHAT_RECEIPT_DELIVERED,
                                      chat_seed_num(l->f[4]), &marks);
}


/* chat_store_media_use(), and the type and size it answers checked. */

static int
chat_seed_use(chat_store_t *store, chat_seed_line_t *l)
{
    int         rc;
    int64_t     size;
    chat_str_t  mime;

    rc = chat_store_media_use(store, l->f[1], &mime, &size);

    if (rc == CHAT_STORE_OK
        && (mime.len != l->f[2].len
            || memcmp(mime.s, l->f[2].s, mime.len) != 0
            || size != chat_seed_num(l->f[3])))
    {
        fprintf(stderr, "chat-api-seed: media %.*s is %.*s of %lld bytes\n",
                (int) l->f[1].len, l->f[1].s, (int) mime.len, mime.s,
                (long long) size);
        return CHAT_STORE_ERROR;
    }

    return rc;
}


static int
chat_seed_line(chat_store_t *store, char *line)
{
    chat_seed_line_t  l;

    line[strcspn(line, "\n")] = '\0';

    if (strncmp(line, "msg ", 4) == 0) {
        chat_seed_split(line, 9, &l);
        return l.n == 9 ? chat_seed_msg(store, &l, 0) : -1;
    }

    if (strncmp(line, "mmsg ", 5) == 0) {
        chat_seed_split(line, 12, &l);
        return l.n == 12 ? chat_seed_msg(store, &l, 1) : -1;
    }

    if (strncmp(line, "event ", 6) == 0) {
        chat_seed_split(line, 7, &l);
        return l.n == 7 ? chat_seed_event(store, &l) : -1;
    }

    chat_seed_split(line, 6, &l);

    if (l.n == 4 && strncmp(line, "group", 5) == 0) {
        return chat_store_group_create(store, l.f[1], l.f[2],
                                       chat_seed_num(l.f[3]));
    }

    if (l.n == 5 && strncmp(line, "join", 4) == 0) {
        return chat_store_member_join(store, l.f[1], l.f[2],
                                      l.f[3].s[0] == '1',
                                      chat_seed_num(l.f[4]));
    }

    if (l.n == 4 && strncmp(line, "leave", 5) == 0) {
        return chat_store_member_leave(store, l.f[1], l.f[2],
                                       chat_seed_num(l.f[3]));
    }

    if (l.n == 5 && strncmp(line, "mark", 4) == 0) {
        return chat_seed_mark(store, &l);
    }

    if (l.n == 3 && strncmp(line, "ttl", 3) == 0) {
        return chat_store_conv_set_ttl(store, l.f[1], chat_seed_num(l.f[2]));
    }

    if (l.n == 4 && strncmp(line, "use", 3) == 0) {
        return chat_seed_use(store, &l);
    }

    if (l.n == 6 && strncmp(line, "media", 5) == 0) {
        return chat_store_media_insert(store, l.f[1], l.f[2], l.f[3],
                                       chat_seed_num(l.f[4]),
                                       chat_seed_num(l.f[5]));
    }

    return -1;
}


int
main(int argc, char **argv)
{
    char           err[256], *line;
    size_t         size, lineno;
    chat_store_t  *store;

    if (argc != 2) {
        fprintf(stderr, "usage: %s STORE-URI < script\n", argv[0]);
        return 2;
    }

    store = chat_store_open(argv[1], err, sizeof(err));
    if (store == NULL) {
        fprintf(stderr, "chat-api-seed: %s\n", err);
        return 1;
    }

    line = NULL;
    size = 0;
    lineno = 0;

    if (chat_store_begin(store) != CHAT_STORE_OK) {
        goto failed;
    }

    while (getline(&line, &size, stdin) != -1) {
        lineno++;

        if (line[0] != '\n' && line[0] != '#'
            && chat_seed_line(store, line) != CHAT_STORE_OK)
        {
            goto failed;
        }
    }

    if (chat_store_commit(store) != CHAT_STORE_OK) {
        goto failed;
    }

    free(line);
    chat_store_close(store);

    return 0;

failed:

    fprintf(stderr, "chat-api-seed: line %zu: %s\n", lineno,
            chat_store_errstr(store));
    free(line);
    chat_store_close(store);

    return 1;
}
