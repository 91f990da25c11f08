/*
 * libFuzzer target of the redirection parser (chat_cluster_redirect).
 *
 * The input is an error reply's text. Whatever it is, a redirection read
 * from it must be one Redis could send: a slot in range, a port, a host
 * that is a NUL-terminated string that fits. A redirection read is then
 * written back as "<MOVED|ASK> <slot> <host>:<port>" and must parse to
 * the same, and its slot is what the input's number said.
 */

#include <stdio.h>
#include <string.h>

#include "chat_cluster.h"
#include "fuzz.h"


static void
fuzz_check(const chat_cluster_redirect_t *r, chat_cluster_redirect_e kind)
{
    must(kind == CHAT_CLUSTER_MOVED || kind == CHAT_CLUSTER_ASK);
    must(r->kind == kind);
    must(r->slot < CHAT_CLUSTER_SLOTS);
    must(r->addr.port != 0);
    must(memchr(r->addr.host, '\0', CHAT_CLUSTER_HOST_MAX) != NULL);
    must(strchr(r->addr.host, ' ') == NULL);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int                       n;
    char                      text[16 + CHAT_CLUSTER_HOST_MAX + 8];
    chat_cluster_redirect_t   r, again;
    chat_cluster_redirect_e   kind;

    kind = chat_cluster_redirect((const char *) data, size, &r);

    if (kind == CHAT_CLUSTER_NO_REDIRECT) {
        return 0;
    }

    fuzz_check(&r, kind);

    n = snprintf(text, sizeof(text), "%s %u %s:%u",
                 kind == CHAT_CLUSTER_MOVED ? "MOVED" : "ASK",
                 (unsigned) r.slot, r.addr.host, (unsigned) r.addr.port);
    must(n > 0 && (size_t) n < sizeof(text));

    must(chat_cluster_redirect(text, (size_t) n, &again) == kind);
    must(again.slot == r.slot && again.addr.port == r.addr.port);
    must(strcmp(again.addr.host, r.addr.host) == 0);

    return 0;
}
