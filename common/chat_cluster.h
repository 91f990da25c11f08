/*
 * Redis Cluster's routing rules, shared by the module (on nginx's event
 * loop) and the chat-workers and chat-api (blocking hiredis): the slot of
 * a key, the redirections a node answers (MOVED, ASK), and the map of
 * slots to masters read from CLUSTER SLOTS. Pure: no I/O here; each
 * process owns its own connections and asks this code where a key goes.
 */

#ifndef CHAT_CLUSTER_H
#define CHAT_CLUSTER_H

#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>


#define CHAT_CLUSTER_SLOTS     16384
#define CHAT_CLUSTER_HOST_MAX  64       /* an address as a node reports it */


/* The slot of a key: CRC16 (XMODEM) of its hash tag, the bytes between
 * the first "{" and the "}" after it when that is not empty, else of the
 * whole key; modulo 16384. */
uint16_t chat_cluster_slot(const char *key, size_t len);


typedef struct {
    char      host[CHAT_CLUSTER_HOST_MAX];
    uint16_t  port;
} chat_cluster_addr_t;


typedef enum {
    CHAT_CLUSTER_NO_REDIRECT = 0,
    CHAT_CLUSTER_MOVED,       /* the slot lives there now: refresh the map */
    CHAT_CLUSTER_ASK          /* this one command there, after ASKING */
} chat_cluster_redirect_e;

typedef struct {
    chat_cluster_redirect_e  kind;
    uint16_t                 slot;
    chat_cluster_addr_t      addr;
} chat_cluster_redirect_t;

/*
 * Reads an error reply's text: "MOVED <slot> <host>:<port>" or "ASK ...".
 * Returns the kind (and fills r), or CHAT_CLUSTER_NO_REDIRECT for any
 * other error or a malformed redirection (slot out of range, no port).
 */
chat_cluster_redirect_e chat_cluster_redirect(const char *err, size_t len,
    chat_cluster_redirect_t *r);


/*
 * 1 when an error reply's text says the cluster is changing, not that the
 * command is wrong, so the command is sent again after a backoff: a
 * multi-key command during a migration (TRYAGAIN), slots without a master
 * (CLUSTERDOWN), a promoted replica not serving yet (MASTERDOWN, LOADING).
 * 0 for any other error.
 */
int chat_cluster_changing(const char *err, size_t len);


/*
 * The slot map: each slot's master, as an index into nodes (-1 for a slot
 * no master serves: the cluster is down for it). One map is built whole
 * from one CLUSTER SLOTS reply and replaced whole; it is never patched.
 */
typedef struct {
    chat_cluster_addr_t  *nodes;        /* the masters, each once */
    size_t                nnodes;
    int16_t               owner[CHAT_CLUSTER_SLOTS];
} chat_cluster_map_t;

/*
 * Builds map from a CLUSTER SLOTS reply. A node that reports an empty
 * host (the one asked, on some versions) is given default_host. Returns 0,
 * or -1 with a reason in err (a reply of another shape, a range out of
 * bounds, out of memory); map is then empty.
 */
int chat_cluster_map_parse(const redisReply *reply, const char *default_host,
    chat_cluster_map_t *map, char *err, size_t errlen);

/* The master of slot: an index into map->nodes, or -1. */
int chat_cluster_map_owner(const chat_cluster_map_t *map, uint16_t slot);

/* The index of addr among the masters, or -1. */
int chat_cluster_map_find(const chat_cluster_map_t *map,
    const chat_cluster_addr_t *addr);

void chat_cluster_map_free(chat_cluster_map_t *map);

#endif /* CHAT_CLUSTER_H */
