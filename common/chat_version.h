/*
 * The version of ngx_chat, defined once for every program of the project:
 * the module logs it at start and shows it in chat_status
 * (chat_build_info), chat-worker prints it for --version. How the number
 * moves is in CHANGELOG.md.
 */

#ifndef CHAT_VERSION_H
#define CHAT_VERSION_H

#define CHAT_VERSION  "0.16.0"

#endif /* CHAT_VERSION_H */
