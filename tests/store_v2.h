/* store_v2.h - make a closed format-3 store what a format-2 matcherd would
 * have left with the same match log (tests of the upgrade to format 3). */
#ifndef TESTS_STORE_V2_H
#define TESTS_STORE_V2_H

#include <stdint.h>

/* In the closed store at dir: drop match_blocks, file every stored match
 * under the graduate gid_of(seq) names in match_by_graduate (none for an
 * empty id), and write format version 2. Fails the test on any error. */
void store_v2_make(const char *dir, const char *(*gid_of)(uint64_t seq));

#endif
