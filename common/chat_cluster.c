/*
 * Redis Cluster's routing rules (chat_cluster.h): the slot of a key, the
 * redirections, the slot map.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat_cluster.h"


#define CHAT_CLUSTER_CRC_POLY  0x1021   /* CRC16-XMODEM, as Redis uses */


static uint16_t
chat_cluster_crc16(const unsigned char *p, size_t len)
{
    size_t    i;
    unsigned  bit;
    uint16_t  crc;

    crc = 0;

    for (i = 0; i < len; i++) {
        crc ^= (uint16_t) (p[i] << 8);

        for (bit = 0; bit < 8; bit++) {
            crc = (crc & 0x8000)
                  ? (uint16_t) ((crc << 1) ^ CHAT_CLUSTER_CRC_POLY)
                  : (uint16_t) (crc << 1);
        }
    }

    return crc;
}


uint16_t
chat_cluster_slot(const char *key, size_t len)
{
    const char  *open, *close;

    open = len ? memchr(key, '{', len) : NULL;

    if (open != NULL) {
        close = memchr(open + 1, '}', len - (size_t) (open + 1 - key));

        /* "{}" is no tag: the whole key decides */
        if (close != NULL && close > open + 1) {
            key = open + 1;
            len = (size_t) (close - key);
        }
    }

    return chat_cluster_crc16((const unsigned char *) key, len)
           % CHAT_CLUSTER_SLOTS;
}


/* The decimal number at p (before end), at most max: its end, or NULL
 * when there is no digit or it is larger. */

static const char *
chat_cluster_number(const char *p, const char *end, unsigned long max,
    unsigned long *n)
{
    const char  *start;

    *n = 0;

    for (start = p; p < end && *p >= '0' && *p <= '9'; p++) {
        *n = *n * 10 + (unsigned long) (*p - '0');

        if (*n > max) {
            return NULL;
        }
    }

    return (p == start) ? NULL : p;
}


/*
 * "<host>:<port>", all of [p, end). The port follows the last colon, so
 * an IPv6 host keeps its own. An empty host is accepted: a node that
 * knows no endpoint of its own says so, and the caller asks the node
 * that answered.
 */

static int
chat_cluster_addr(const char *p, const char *end, chat_cluster_addr_t *addr)
{
    const char     *colon, *q;
    unsigned long   port;

    for (colon = NULL, q = p; q < end; q++) {
        if (*q == ':') {
            colon = q;

        } else if (*q == ' ' || *q == '\0') {
            return -1;
        }
    }

    if (colon == NULL
        || (size_t) (colon - p) >= CHAT_CLUSTER_HOST_MAX
        || chat_cluster_number(colon + 1, end, 65535, &port) != end
        || port == 0)
    {
        return -1;
    }

    memcpy(addr->host, p, (size_t) (colon - p));
    addr->host[colon - p] = '\0';
    addr->port = (uint16_t) port;

    return 0;
}


int
chat_cluster_changing(const char *err, size_t len)
{
    size_t               i, n;
    static const char   *changing[] = {
        "TRYAGAIN", "CLUSTERDOWN", "MASTERDOWN", "LOADING"
    };

    for (i = 0; i < sizeof(changing) / sizeof(changing[0]); i++) {
        n = strlen(changing[i]);

        if (len >= n && memcmp(err, changing[i], n) == 0
            && (len == n || err[n] == ' '))
        {
            return 1;
        }
    }

    return 0;
}


chat_cluster_redirect_e
chat_cluster_redirect(const char *err, size_t len, chat_cluster_redirect_t *r)
{
    const char               *p, *end;
    unsigned long             slot;
    chat_cluster_redirect_e   kind;

    if (err == NULL) {
        return CHAT_CLUSTER_NO_REDIRECT;
    }

    end = err + len;

    if (len > 6 && memcmp(err, "MOVED ", 6) == 0) {
        kind = CHAT_CLUSTER_MOVED;
        p = err + 6;

    } else if (len > 4 && memcmp(err, "ASK ", 4) == 0) {
        kind = CHAT_CLUSTER_ASK;
        p = err + 4;

    } else {
        return CHAT_CLUSTER_NO_REDIRECT;
    }

    p = chat_cluster_number(p, end, CHAT_CLUSTER_SLOTS - 1, &slot);

    if (p == NULL || p == end || *p != ' '
        || chat_cluster_addr(p + 1, end, &r->addr) != 0)
    {
        return CHAT_CLUSTER_NO_REDIRECT;
    }

    r->kind = kind;
    r->slot = (uint16_t) slot;

    return kind;
}


static void
chat_cluster_map_reset(chat_cluster_map_t *map)
{
    free(map->nodes);
    map->nodes = NULL;
    map->nnodes = 0;
    memset(map->owner, 0xff, sizeof(map->owner));  /* -1: no master */
}


int
chat_cluster_map_owner(const chat_cluster_map_t *map, uint16_t slot)
{
    return (slot < CHAT_CLUSTER_SLOTS) ? map->owner[slot] : -1;
}


int
chat_cluster_map_find(const chat_cluster_map_t *map,
    const chat_cluster_addr_t *addr)
{
    size_t  i;

    for (i = 0; i < map->nnodes; i++) {
        if (map->nodes[i].port == addr->port
            && strcmp(map->nodes[i].host, addr->host) == 0)
        {
            return (int) i;
        }
    }

    return -1;
}


void
chat_cluster_map_free(chat_cluster_map_t *map)
{
    chat_cluster_map_reset(map);
}


/* The address of a node entry [host, port, id, ...]. */

static int
chat_cluster_map_node(const redisReply *node, const char *default_host,
    chat_cluster_addr_t *addr, char *err, size_t errlen)
{
    const redisReply  *host, *port;
    const char        *h;
    size_t             hlen;

    if (node->type != REDIS_REPLY_ARRAY || node->elements < 2) {
        snprintf(err, errlen, "a node is not [host, port, ...]");
        return -1;
    }

    host = node->element[0];
    port = node->element[1];

    if ((host->type != REDIS_REPLY_STRING && host->type != REDIS_REPLY_NIL)
        || port->type != REDIS_REPLY_INTEGER
        || port->integer <= 0 || port->integer > 65535)
    {
        snprintf(err, errlen, "a node's host or port is of another type");
        return -1;
    }

    h = (host->type == REDIS_REPLY_STRING) ? host->str : "";
    hlen = (host->type == REDIS_REPLY_STRING) ? host->len : 0;

    /* the node asked may not know its own address: the caller does */
    if (hlen == 0) {
        h = default_host;
        hlen = strlen(default_host);
    }

    if (hlen >= CHAT_CLUSTER_HOST_MAX) {
        snprintf(err, errlen, "a node's host is longer than %d bytes",
                 CHAT_CLUSTER_HOST_MAX - 1);
        return -1;
    }

    memcpy(addr->host, h, hlen);
    addr->host[hlen] = '\0';
    addr->port = (uint16_t) port->integer;

    return 0;
}


/* The index of addr among the masters, added when new; -1 out of memory. */

static int
chat_cluster_map_add(chat_cluster_map_t *map, const chat_cluster_addr_t *addr)
{
    int                   i;
    chat_cluster_addr_t  *nodes;

    i = chat_cluster_map_find(map, addr);

    if (i >= 0) {
        return i;
    }

    nodes = realloc(map->nodes, (map->nnodes + 1) * sizeof(*nodes));

    if (nodes == NULL) {
        return -1;
    }

    map->nodes = nodes;
    map->nodes[map->nnodes] = *addr;

    return (int) map->nnodes++;
}


/* One range [start, end, master, replicas...]. */

static int
chat_cluster_map_range(const redisReply *range, const char *default_host,
    chat_cluster_map_t *map, char *err, size_t errlen)
{
    int                  node;
    long long            start, end, slot;
    chat_cluster_addr_t  addr;

    if (range->type != REDIS_REPLY_ARRAY || range->elements < 3
        || range->element[0]->type != REDIS_REPLY_INTEGER
        || range->element[1]->type != REDIS_REPLY_INTEGER)
    {
        snprintf(err, errlen, "a range is not [start, end, master, ...]");
        return -1;
    }

    start = range->element[0]->integer;
    end = range->element[1]->integer;

    if (start < 0 || end < start || end >= CHAT_CLUSTER_SLOTS) {
        snprintf(err, errlen, "the range %lld-%lld is out of bounds",
                 start, end);
        return -1;
    }

    if (chat_cluster_map_node(range->element[2], default_host, &addr,
                              err, errlen) != 0)
    {
        return -1;
    }

    node = chat_cluster_map_add(map, &addr);

    if (node < 0) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }

    for (slot = start; slot <= end; slot++) {
        if (map->owner[slot] >= 0) {
            snprintf(err, errlen, "slot %lld is in two ranges", slot);
            return -1;
        }

        map->owner[slot] = (int16_t) node;
    }

    return 0;
}


int
chat_cluster_map_parse(const redisReply *reply, const char *default_host,
    chat_cluster_map_t *map, char *err, size_t errlen)
{
    size_t  i;

    map->nodes = NULL;
    chat_cluster_map_reset(map);

    if (reply == NULL || reply->type != REDIS_REPLY_ARRAY) {
        snprintf(err, errlen, "CLUSTER SLOTS answered no array");
        return -1;
    }

    for (i = 0; i < reply->elements; i++) {
        if (chat_cluster_map_range(reply->element[i], default_host, map,
                                   err, errlen) != 0)
        {
            chat_cluster_map_reset(map);
            return -1;
        }
    }

    return 0;
}
