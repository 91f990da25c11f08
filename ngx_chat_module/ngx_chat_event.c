/*
 * ngx_chat_event: the placeholder connection of the module's timers that
 * belong to no connection (ngx_chat_event.h says why there is one), and
 * the wall clock the module stamps what it writes with.
 */

#include "ngx_chat_event.h"


/* Only its fd is ever read, and only by nginx's debug lines. */
static ngx_connection_t  ngx_chat_event_no_conn;


void
ngx_chat_timer_init(ngx_event_t *ev, ngx_event_handler_pt handler,
    ngx_log_t *log)
{
    ngx_chat_event_no_conn.fd = (ngx_socket_t) -1;

    ev->handler = handler;
    ev->data = &ngx_chat_event_no_conn;
    ev->log = log;
    ev->cancelable = 1;
}


int64_t
ngx_chat_now_ms(void)
{
    ngx_time_t  *tp;

    tp = ngx_timeofday();

    return (int64_t) tp->sec * 1000 + tp->msec;
}
