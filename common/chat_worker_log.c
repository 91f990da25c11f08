/*
 * The programs' log on stderr.
 */

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "chat_worker_log.h"


#define CHAT_WORKER_LOG_LINE  2048


static chat_log_level_e  chat_worker_log_level = CHAT_LOG_INFO;
static const char       *chat_worker_log_program = "chat-worker";

static const char  *chat_worker_log_names[] = {
    "error", "warn", "info", "debug"
};


void
chat_worker_log_set_level(chat_log_level_e level)
{
    chat_worker_log_level = level;
}


void
chat_worker_log_set_program(const char *name)
{
    chat_worker_log_program = name;
}


int
chat_worker_log_enabled(chat_log_level_e level)
{
    return level <= chat_worker_log_level;
}


int
chat_worker_log_level_parse(const char *name)
{
    int  i;

    for (i = CHAT_LOG_ERROR; i <= CHAT_LOG_DEBUG; i++) {
        if (strcmp(name, chat_worker_log_names[i]) == 0) {
            return i;
        }
    }

    return -1;
}


void
chat_worker_log(chat_log_level_e level, const char *fmt, ...)
{
    int              n, m;
    char             line[CHAT_WORKER_LOG_LINE];
    va_list          args;
    struct tm        tm;
    struct timespec  now;

    if (!chat_worker_log_enabled(level)) {
        return;
    }

    clock_gettime(CLOCK_REALTIME, &now);
    localtime_r(&now.tv_sec, &tm);

    n = snprintf(line, sizeof(line),
                 "%04d/%02d/%02d %02d:%02d:%02d.%03ld [%s] %ld %s: ",
                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                 tm.tm_min, tm.tm_sec, now.tv_nsec / 1000000,
                 chat_worker_log_names[level], (long) getpid(),
                 chat_worker_log_program);

    va_start(args, fmt);
    m = vsnprintf(line + n, sizeof(line) - n - 1, fmt, args);
    va_end(args);

    /* a longer line is cut, and still ends with its newline */

    if (m < 0) {
        m = 0;
    }

    n += m < (int) (sizeof(line) - n - 1) ? m : (int) (sizeof(line) - n - 2);
    line[n++] = '\n';

    if (write(STDERR_FILENO, line, n) < 0) {
        /* nowhere to tell */
    }
}
