/* fuzz_common.h - small helpers shared by the fuzz targets and their
 * replayer: where the reference data is, removing a temporary store. */
#ifndef PASSERELLE_FUZZ_COMMON_H
#define PASSERELLE_FUZZ_COMMON_H

#define _GNU_SOURCE
#include <ftw.h>
#include <stdio.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

/* The libFuzzer entry points every target defines. */
int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* PASSERELLE_SOURCE_DIR/deploy/reference when set, else fallback. */
static inline const char *fuzz_reference_dir(const char *fallback)
{
    static char dir[1024];
    const char *src = getenv("PASSERELLE_SOURCE_DIR");
    if (!src)
        return fallback;
    snprintf(dir, sizeof dir, "%s/deploy/reference", src);
    return dir;
}

static inline int fuzz_rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* Remove dir and everything in it ("" or NULL: nothing). */
static inline void fuzz_rm_rf(const char *dir)
{
    if (dir && dir[0])
        (void)nftw(dir, fuzz_rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

#endif
