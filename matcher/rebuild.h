/* rebuild.h - recompute every ranked list, entity by entity, in short
 * write transactions. Used when the reference data's version changed (skill
 * rarity, hence every score, may differ). Each step is an ordinary engine
 * update, so every changed list is recorded and published on the feed. */
#ifndef MATCHER_REBUILD_H
#define MATCHER_REBUILD_H

#include <stdint.h>

#include "engine.h"
#include "feed.h"
#include "store.h"

/* Bring every list up to date. Returns 0 or a STORE_E* code; *entities
 * (may be NULL) counts the entities visited. */
int rebuild_all(store_t *store, engine_t *engine, feed_t *feed, uint64_t *entities);

#endif
