/* store_v2.h - make a closed store of the current format what a format-2
 * matcherd would have left with the same match log and lists (tests of the
 * upgrades). */
#ifndef TESTS_STORE_V2_H
#define TESTS_STORE_V2_H

#include <stdint.h>

/* In the closed store at dir: drop match_blocks, file every stored match
 * under the graduate gid_of(seq) names in match_by_graduate (none for an
 * empty id), move the ranked lists from lists.mdb back into data.mdb, and
 * write format version 2. Fails the test on any error. */
void store_v2_make(const char *dir, const char *(*gid_of)(uint64_t seq));

#endif
