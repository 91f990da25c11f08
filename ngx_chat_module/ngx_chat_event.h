/*
 * ngx_chat_event: what every event the module arms carries.
 *
 * nginx reads the data of every timer as a connection: its debug lines
 * (ngx_event_add_timer(), ngx_event_expire_timers(), built --with-debug
 * and shown at "error_log ... debug") print ev->data's fd. So ev->data is
 * always a connection: the event's own connection where it has one, and
 * for a timer of no connection a placeholder with fd -1, as nginx's own
 * cleaner event does. A handler finds the structure that holds its event
 * from the event itself, never from ev->data.
 */

#ifndef NGX_CHAT_EVENT_H
#define NGX_CHAT_EVENT_H

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>


/* The structure of type "type" whose member "field" is the event ev. */
#define ngx_chat_event_owner(ev, type, field)                                 \
    ((type *) ((u_char *) (ev) - offsetof(type, field)))


/* A cancelable timer of no connection: it never keeps a worker from
 * exiting. */
void ngx_chat_timer_init(ngx_event_t *ev, ngx_event_handler_pt handler,
    ngx_log_t *log);

/* Milliseconds since the epoch, from nginx's cached time. */
int64_t ngx_chat_now_ms(void);

#endif /* NGX_CHAT_EVENT_H */
