/*
 * The API's paths.
 */

#include <string.h>

#include "chat_api_route.h"


#define CHAT_API_ALLOW_GET   "GET, HEAD"
#define CHAT_API_ALLOW_POST  "POST"

#define CHAT_API_CONVS       "/api/conversations"
#define CHAT_API_MSGS        "/messages"
#define CHAT_API_GROUPS      "/api/groups/"


/* The segment at s up to the next "/" or the end: its length, 0 when it
 * is empty. */

static size_t
chat_api_route_segment(const char *s)
{
    return strcspn(s, "/");
}


static void
chat_api_route_match(const char *path, chat_api_route_t *r)
{
    size_t       n;
    const char  *p;

    if (strcmp(path, CHAT_API_CONVS) == 0) {
        r->route = CHAT_API_CONVERSATIONS;
        return;
    }

    if (strcmp(path, "/api/presence") == 0) {
        r->route = CHAT_API_PRESENCE;
        return;
    }

    if (strcmp(path, "/api/media") == 0) {
        r->route = CHAT_API_MEDIA;
        return;
    }

    if (strncmp(path, CHAT_API_CONVS "/", sizeof(CHAT_API_CONVS)) == 0) {
        p = path + sizeof(CHAT_API_CONVS);
        n = chat_api_route_segment(p);

        if (n > 0 && strcmp(p + n, CHAT_API_MSGS) == 0) {
            r->route = CHAT_API_MESSAGES;
            r->arg.s = p;
            r->arg.len = n;
        }

        return;
    }

    if (strncmp(path, CHAT_API_GROUPS, sizeof(CHAT_API_GROUPS) - 1) == 0) {
        p = path + sizeof(CHAT_API_GROUPS) - 1;
        n = chat_api_route_segment(p);

        if (n > 0 && p[n] == '\0') {
            r->route = CHAT_API_GROUP;
            r->arg.s = p;
            r->arg.len = n;
        }
    }
}


void
chat_api_route(const char *method, const char *path, chat_api_route_t *r)
{
    memset(r, 0, sizeof(*r));

    chat_api_route_match(path, r);

    if (r->route == CHAT_API_NONE) {
        return;
    }

    if (r->route == CHAT_API_MEDIA) {
        r->allow = CHAT_API_ALLOW_POST;
        r->allowed = strcmp(method, "POST") == 0;
        return;
    }

    r->allow = CHAT_API_ALLOW_GET;
    r->allowed = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
}
