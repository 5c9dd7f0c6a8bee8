/* expiry.h - vacancies close themselves after their expiry date.
 *
 * From the daemon's timer: every open vacancy whose expires_on is before
 * today is closed as EXPIRED (its lists emptied, the graduates' lists
 * refilled, the changes published), found through the expiry-day index, a
 * bounded number per write transaction. The last day swept is kept in meta
 * so that each day is looked at once.
 */
#ifndef MATCHER_EXPIRY_H
#define MATCHER_EXPIRY_H

#include <stddef.h>
#include <stdint.h>

#include "engine.h"
#include "feed.h"
#include "store.h"

/* Close up to max expired vacancies as of day `today` (days since the
 * epoch) in one transaction, then publish. Returns the number closed (0
 * when none is left) or a STORE_E* code. */
int64_t expiry_run(store_t *store, engine_t *engine, feed_t *feed, int32_t today, size_t max);

#endif
