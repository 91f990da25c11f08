/*
 * Credentials from a file, the environment or inline (chat_secret_src.h).
 */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "chat_secret_src.h"


chat_secret_src_e
chat_secret_src_kind(const char *spec, const char **what)
{
    if (strncmp(spec, "file:", 5) == 0) {
        *what = spec + 5;
        return CHAT_SECRET_FILE;
    }

    if (strncmp(spec, "env:", 4) == 0) {
        *what = spec + 4;
        return CHAT_SECRET_ENV;
    }

    *what = spec;

    return CHAT_SECRET_INLINE;
}


ssize_t
chat_secret_src_file(const char *path, char *buf, size_t size,
    int *exposed, char *err, size_t errlen)
{
    int          fd;
    size_t       len;
    ssize_t      n;
    struct stat  st;

    *exposed = 0;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd == -1) {
        snprintf(err, errlen, "cannot open \"%s\": %s", path, strerror(errno));
        return -1;
    }

    if (fstat(fd, &st) == 0) {
        *exposed = (st.st_mode & S_IROTH) != 0;
    }

    len = 0;

    /* buf holds more than a credential and its line end: a file that
     * fills it is too long */
    while (len < size - 1) {
        n = read(fd, buf + len, size - 1 - len);

        if (n == -1 && errno == EINTR) {
            continue;
        }

        if (n == -1) {
            snprintf(err, errlen, "cannot read \"%s\": %s", path,
                     strerror(errno));
            close(fd);
            return -1;
        }

        if (n == 0) {
            break;
        }

        len += n;
    }

    close(fd);

    if (len > 0 && buf[len - 1] == '\n') {
        len--;
    }

    if (len > 0 && buf[len - 1] == '\r') {
        len--;
    }

    if (len == 0 || len > CHAT_SECRET_SRC_MAX) {
        snprintf(err, errlen, "\"%s\" is %s", path,
                 len ? "too long for a credential" : "empty");
        return -1;
    }

    if (memchr(buf, '\n', len) != NULL || memchr(buf, '\0', len) != NULL) {
        snprintf(err, errlen, "\"%s\" holds more than one line", path);
        return -1;
    }

    buf[len] = '\0';

    return (ssize_t) len;
}
