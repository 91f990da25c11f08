/*
 * The API's paths (docs/PROTOCOL.md 6) and the methods each allows,
 * matched without the HTTP library so that they can be tested alone.
 */

#ifndef CHAT_API_ROUTE_H
#define CHAT_API_ROUTE_H

#include <stddef.h>

#include "chat_ids.h"


typedef enum {
    CHAT_API_NONE = 0,          /* no such path */
    CHAT_API_CONVERSATIONS,     /* /api/conversations */
    CHAT_API_MESSAGES,          /* /api/conversations/{conv}/messages */
    CHAT_API_GROUP,             /* /api/groups/{group} */
    CHAT_API_PRESENCE,          /* /api/presence */
    CHAT_API_MEDIA              /* /api/media */
} chat_api_route_e;

typedef struct {
    chat_api_route_e  route;
    chat_str_t        arg;      /* the {conv} or {group}, unchecked */
    const char       *allow;    /* the methods allowed, an Allow header */
    int               allowed;  /* the method asked is one of them */
} chat_api_route_t;


/*
 * Matches path (decoded, without its query) and method. An argument is
 * any non-empty segment without "/": whether it is a valid conv or group
 * id is the endpoint's to tell (400, not 404).
 */
void chat_api_route(const char *method, const char *path,
    chat_api_route_t *r);

#endif /* CHAT_API_ROUTE_H */
