/* privacy.h - retention of personal data: graduates, and closed
 * vacancies, are deleted once nothing has changed them for the configured
 * number of days ([privacy] graduate_retention_days,
 * closed_vacancy_retention_days; 0 keeps them).
 *
 * An expired graduate is erased exactly as by a graduate_erased event
 * (retracted from every ranked list, the lists refilled, the record, its
 * index entries, its log entries and the feed entries naming it removed,
 * the dedupe rows of its events turned into digests), except that no
 * event is logged. An expired closed vacancy is deleted with its index
 * entries, its log entries and its (empty) ranked list.
 *
 * The daemon's timer calls privacy_run; it walks the population in short
 * write transactions, resuming where the last call stopped.
 */
#ifndef MATCHER_PRIVACY_H
#define MATCHER_PRIVACY_H

#include <stdint.h>

#include "config.h"
#include "engine.h"
#include "feed.h"
#include "store.h"

/* Examine up to max graduates and max vacancies past the last call's
 * position (wrapping around), deleting those past retention. Publishes the
 * resulting feed changes after each commit. Returns the number of
 * graduates erased plus vacancies deleted (>= 0), or a STORE_E* code.
 * *graduates_erased (may be NULL) receives the graduates' share. */
int64_t privacy_run(store_t *store, const config_t *cfg, engine_t *engine, feed_t *feed,
                    int64_t now_ms, size_t max, uint64_t *graduates_erased);

#endif
