/* feed_pack.h - a MatchUpdate packed without protobuf-c's descriptor walk.
 *
 * protobuf-c packs a message by walking its descriptor field by field, and
 * packs each sub-message twice (once to learn its size); the feed packs
 * one MatchUpdate per list change, so that walk was a visible share of
 * ingest. These functions write the same bytes as
 * passerelle__v1__match_update__get_packed_size() / _pack() for every
 * field of passerelle.v1.MatchUpdate (proto3: fields at their default value
 * are left out, fields in number order, map entries as sub-messages), so
 * that what is stored and published does not depend on which packer wrote
 * it. Unknown fields (which the feed never sets) are not written.
 */
#ifndef MATCHER_FEED_PACK_H
#define MATCHER_FEED_PACK_H

#include <stddef.h>
#include <stdint.h>

#include "passerelle/v1/feed.pb-c.h"

/* The packed size of m. */
size_t feed_pack_size(const Passerelle__V1__MatchUpdate *m);

/* Pack m into out, len bytes long, where len is feed_pack_size(m). The
 * message is written backwards from out + len (so that no sub-message's
 * size is computed twice) and must end exactly at out: returns the bytes
 * written, len when all is well (anything else is a bug: len was not
 * m's size, and out then holds garbage). */
size_t feed_pack(const Passerelle__V1__MatchUpdate *m, uint8_t *out, size_t len);

#endif
