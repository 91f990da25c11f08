/*
 * A temporary directory for the tests that need files (the store's): made
 * at the start of main(), removed with what it holds at the end.
 */

#ifndef CHAT_TEST_TMPDIR_H
#define CHAT_TEST_TMPDIR_H

#include <stdio.h>
#include <stdlib.h>


/* Makes /tmp/chat-test-<name>-XXXXXX into dir; 0, or -1 when it cannot. */

static int
test_tmpdir(char *dir, size_t size, const char *name)
{
    snprintf(dir, size, "/tmp/chat-test-%s-XXXXXX", name);

    if (mkdtemp(dir) == NULL) {
        perror("mkdtemp");
        return -1;
    }

    return 0;
}


static void
test_tmpdir_remove(const char *dir)
{
    char  cmd[128];

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);

    if (system(cmd) != 0) {
        fprintf(stderr, "cannot remove %s\n", dir);
    }
}

#endif /* CHAT_TEST_TMPDIR_H */
