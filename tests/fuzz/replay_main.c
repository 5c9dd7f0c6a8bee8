/* replay_main.c - a plain main() for a fuzz target: feed it every file of
 * the directories (or files) named on the command line, in name order, as
 * libFuzzer would replay them. Built in every configuration, so that the
 * committed seed corpus and every input that once crashed a target
 * (tests/fuzz/regressions/) run in the normal test suite.
 *
 * Exit status 0 when every input ran (a crash aborts the program), 1 when
 * an input could not be read, 2 when nothing was run.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz_common.h"

static int s_run_file(const char *path)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        perror(path);
        return -1;
    }
    uint8_t *buf = NULL;
    size_t len = 0, cap = 0, got;
    do {
        if (len == cap) {
            cap = cap ? cap * 2 : 4096;
            uint8_t *p = realloc(buf, cap);
            if (!p) {
                free(buf);
                fclose(fp);
                return -1;
            }
            buf = p;
        }
        got = fread(buf + len, 1, cap - len, fp);
        len += got;
    } while (got > 0);
    int err = ferror(fp);
    fclose(fp);
    if (!err)
        (void)LLVMFuzzerTestOneInput(buf, len);
    free(buf);
    return err ? -1 : 0;
}

static int s_by_name(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

int main(int argc, char **argv)
{
    size_t ran = 0, failed = 0;
    (void)LLVMFuzzerInitialize(&argc, &argv);
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) != 0) {
            fprintf(stderr, "%s: no such file or directory (skipped)\n", argv[i]);
            continue;
        }
        if (!S_ISDIR(st.st_mode)) {
            failed += s_run_file(argv[i]) != 0;
            ran++;
            continue;
        }
        struct dirent **names;
        int n = scandir(argv[i], &names, NULL, s_by_name);
        for (int j = 0; j < n; j++) {
            char path[4096];
            snprintf(path, sizeof path, "%s/%s", argv[i], names[j]->d_name);
            if (names[j]->d_name[0] != '.' && stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
                failed += s_run_file(path) != 0;
                ran++;
            }
            free(names[j]);
        }
        free(names);
    }
    printf("%zu inputs replayed, %zu unreadable\n", ran, failed);
    return failed ? 1 : ran ? 0 : 2;
}
