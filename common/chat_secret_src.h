/*
 * Where a credential comes from, spelled the same in nginx.conf and in
 * chat-worker's flags and file: "file:PATH" (the file's bytes up to their
 * final line end), "env:NAME" (a variable of the environment of the
 * process reading the configuration), or else the value itself, inline.
 * A file or the environment keeps the credential out of nginx.conf, which
 * `nginx -T` prints and version control keeps.
 */

#ifndef CHAT_SECRET_SRC_H
#define CHAT_SECRET_SRC_H

#include <stddef.h>
#include <sys/types.h>

typedef enum {
    CHAT_SECRET_INLINE = 0,
    CHAT_SECRET_FILE,
    CHAT_SECRET_ENV
} chat_secret_src_e;

/* The longest credential read from a file or the environment, in bytes,
 * and the buffer chat_secret_src_file() needs for one. */
#define CHAT_SECRET_SRC_MAX  4096
#define CHAT_SECRET_SRC_BUF  (CHAT_SECRET_SRC_MAX + 4)

/*
 * The kind of spec (NUL-terminated); *what is set to what follows
 * "file:" or "env:" (the path, the name), or to spec itself when inline.
 */
chat_secret_src_e chat_secret_src_kind(const char *spec, const char **what);

/*
 * Reads file path into buf (CHAT_SECRET_SRC_BUF bytes or more) without its
 * final line end, NUL-terminated. Returns the length,
 * or -1 with a reason in err: a file that cannot be read, is empty or
 * longer than CHAT_SECRET_SRC_MAX, or holds a second line. *exposed is set
 * when anyone may read the file. Blocking: for configuration time only.
 */
ssize_t chat_secret_src_file(const char *path, char *buf, size_t size,
    int *exposed, char *err, size_t errlen);

#endif /* CHAT_SECRET_SRC_H */
