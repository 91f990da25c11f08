/*
 * The presence script, ngx_chat_module/lua/presence.lua (what it does is
 * said there), and the keys and values pasted into it. scripts/build-module
 * makes NGX_CHAT_PRESENCE_LUA, its text, from the .lua file into the
 * generated ngx_chat_presence_script.h (scripts/lua-header).
 */

#ifndef NGX_CHAT_PRESENCE_LUA_H
#define NGX_CHAT_PRESENCE_LUA_H


#define NGX_CHAT_PRESENCE_RETENTION  "2592000000"    /* 30 days, in ms */

#include "ngx_chat_presence_script.h"


#endif /* NGX_CHAT_PRESENCE_LUA_H */
