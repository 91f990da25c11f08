/*
 * The main of a fuzz target built without libFuzzer (make fuzz-replay):
 * each argument, a file or a directory of files (a corpus, not
 * recursively), is read whole and given once to LLVMFuzzerTestOneInput.
 * Under gcc's ASan+UBSan (-fno-sanitize-recover) a finding aborts the run;
 * otherwise it ends with "NAME: N passed, 0 failed", the line
 * scripts/test counts.
 */

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"


static int replay_file(const char *path);
static int replay_dir(const char *path, unsigned long *n);


int
main(int argc, char **argv)
{
    int            i;
    const char    *name;
    struct stat    st;
    unsigned long  n = 0;

    name = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];

    if (argc < 2) {
        fprintf(stderr, "usage: %s FILE|DIR...\n", name);
        return 2;
    }

    for (i = 1; i < argc; i++) {
        if (stat(argv[i], &st) != 0) {
            fprintf(stderr, "%s: %s: %s\n", name, argv[i], strerror(errno));
            return 1;
        }

        if (S_ISDIR(st.st_mode)) {
            if (replay_dir(argv[i], &n) != 0) {
                return 1;
            }

        } else {
            if (replay_file(argv[i]) != 0) {
                return 1;
            }

            n++;
        }
    }

    if (n == 0) {
        fprintf(stderr, "%s: no input to replay\n", name);
        return 1;
    }

    printf("%s: %lu passed, 0 failed\n", name, n);
    return 0;
}


/* Every regular file of a directory, in no particular order. */
static int
replay_dir(const char *path, unsigned long *n)
{
    int             rc = 0;
    DIR            *dir;
    char            file[4096];
    struct stat     st;
    struct dirent  *e;

    dir = opendir(path);
    if (dir == NULL) {
        fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
        return -1;
    }

    while (rc == 0 && (e = readdir(dir)) != NULL) {
        if (snprintf(file, sizeof(file), "%s/%s", path, e->d_name)
            >= (int) sizeof(file))
        {
            fprintf(stderr, "replay: %s/%s: path too long\n", path,
                    e->d_name);
            rc = -1;
            break;
        }

        if (stat(file, &st) != 0 || !S_ISREG(st.st_mode)) {
            continue;
        }

        rc = replay_file(file);
        if (rc == 0) {
            (*n)++;
        }
    }

    closedir(dir);
    return rc;
}


/* One input, in a buffer of exactly its size (ASan sees a read past it). */
static int
replay_file(const char *path)
{
    long            len;
    FILE           *f;
    unsigned char  *data;

    f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
        return -1;
    }

    if (fseek(f, 0, SEEK_END) != 0 || (len = ftell(f)) < 0
        || fseek(f, 0, SEEK_SET) != 0)
    {
        fprintf(stderr, "replay: %s: cannot size it\n", path);
        fclose(f);
        return -1;
    }

    /* malloc(0) may give NULL: an empty input still gets a buffer */
    data = malloc(len ? (size_t) len : 1);
    if (data == NULL
        || fread(data, 1, (size_t) len, f) != (size_t) len)
    {
        fprintf(stderr, "replay: %s: cannot read it\n", path);
        free(data);
        fclose(f);
        return -1;
    }

    fclose(f);
    (void) LLVMFuzzerTestOneInput(data, (size_t) len);
    free(data);
    return 0;
}
