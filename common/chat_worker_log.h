/*
 * The log of the project's programs (chat-worker, where it began, and
 * chat-api): one line per event on stderr,
 *
 *     2026/11/22 04:41:22.123 [info] 4242 chat-worker: ready
 *
 * written with one write(2), so that lines of the library threads and of
 * the main thread never mix. The name after the pid is the program's.
 */

#ifndef CHAT_WORKER_LOG_H
#define CHAT_WORKER_LOG_H

typedef enum {
    CHAT_LOG_ERROR = 0,
    CHAT_LOG_WARN,
    CHAT_LOG_INFO,
    CHAT_LOG_DEBUG
} chat_log_level_e;


/* Set once at start, before any thread exists. */
void chat_worker_log_set_level(chat_log_level_e level);

/* The program named in each line ("chat-worker" unless set); set once at
 * start, before any thread exists, to a string that outlives the log. */
void chat_worker_log_set_program(const char *name);

int chat_worker_log_enabled(chat_log_level_e level);

/* The level named name ("error", "warn", "info", "debug"), or -1. */
int chat_worker_log_level_parse(const char *name);

void chat_worker_log(chat_log_level_e level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif /* CHAT_WORKER_LOG_H */
