/* proto_json.h - the proto3 JSON mapping for protobuf-c messages.
 *
 * Converts between JSON text and protobuf-c messages following the standard
 * proto3 JSON mapping (https://protobuf.dev/programming-guides/proto3/#json).
 * It is driven by the protobuf-c descriptors, so it works for every message
 * of the contract (and any other generated message) without per-message code.
 * json-c reads and writes the JSON text itself. Used by the clients
 * (matchctl) to turn JSON lines into Events and answers into JSON.
 *
 * Input (proto_json_parse):
 * - keys: the lowerCamelCase JSON name ("eventId") or the .proto field name
 *   ("event_id"); the same field given under both names is an error, and so
 *   is any unknown key (a key repeated verbatim is resolved by json-c, which
 *   keeps the last value);
 * - null for any field means "not set" (its default);
 * - int32, uint32, sint32, fixed32, sfixed32, int64, uint64, ...: a JSON
 *   number with no fractional part ("1e3" and "5.0" are fine, "1.5" is not),
 *   or a string of decimal digits with an optional '-' ("-42"); values out of
 *   the type's range are refused;
 * - double, float: a finite JSON number, a numeric string, or one of the
 *   strings "NaN", "Infinity", "-Infinity"; a float beyond FLT_MAX is refused;
 * - bool: true or false only;
 * - string: any JSON string without an embedded NUL (\u0000); bytes are copied
 *   as they are: UTF-8 validity is the daemon's business;
 * - bytes: base64, standard or URL-safe alphabet, padding optional;
 * - enum: the value's name ("CONTRACT_TYPE_CDI") or an integer; an unknown
 *   name is refused, an unknown integer is kept for the receiver to judge;
 * - repeated: a JSON array (no null elements); map: a JSON object whose keys
 *   are converted to the map's key type (string, integer or bool);
 * - oneof: at most one member may be given (a null member does not count);
 *   the message's case field is set to the member given;
 * - proto3 `optional` and proto2 optional scalars get their has_ flag set.
 *
 * Output (proto_json_render):
 * - keys in lowerCamelCase, fields in field-number order;
 * - 64-bit integers as decimal strings, 32-bit integers as numbers;
 * - doubles as the shortest text that reads back as the same value, and
 *   "NaN", "Infinity", "-Infinity" for non-finite values;
 * - enums by name, or by number when the value has no name;
 * - bytes as standard base64 with padding; maps as JSON objects;
 * - fields at their default value (0, "", false, empty list) are left out
 *   unless PROTO_JSON_DEFAULTS is given; fields with presence (messages,
 *   oneof members, proto3 optional) are emitted exactly when they are set.
 *
 * Not supported: the special forms of the well-known types
 * (google.protobuf.Timestamp, Duration, wrappers, Struct, Value, Any,
 * FieldMask), which are treated as ordinary messages; custom json_name
 * options (protobuf-c does not keep them); proto2 extensions and unknown
 * fields (never rendered). Map fields are recognised by their shape, since
 * protobuf-c keeps no map flag: a repeated message field whose type is named
 * <Parent>.<FieldInCamelCase>Entry and has exactly the fields key = 1 and
 * value = 2.
 *
 * Known limit of json-c: it silently clamps a bare JSON integer beyond the
 * 64-bit range to INT64_MIN or UINT64_MAX. Those two values are therefore
 * refused when written as bare numbers (they could stand for anything
 * beyond); write them as strings, as the mapping recommends for 64-bit
 * values anyway. Strings are always parsed exactly.
 */
#ifndef PROTO_JSON_H
#define PROTO_JSON_H

#include <stddef.h>

#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>

/* Flags of proto_json_render(). */
#define PROTO_JSON_PRETTY   0x1 /* indent with two spaces, one field per line */
#define PROTO_JSON_DEFAULTS 0x2 /* also emit fields holding their default value */

/* Parse the JSON text json[0..len) (no NUL terminator needed) into a new
 * message of type desc. The text must be exactly one JSON object, optionally
 * surrounded by whitespace.
 *
 * Returns the message, allocated with malloc() in the layout
 * protobuf_c_message_unpack() produces: the caller owns it and frees it with
 * protobuf_c_message_free_unpacked(msg, NULL).
 *
 * Returns NULL on error and writes a NUL-terminated message of at most errlen
 * bytes to err (unless err is NULL or errlen is 0). The message starts with
 * the path of the offending field as written in the input, with list indexes
 * and map keys, e.g.
 *   "graduateUpsert.graduate.home.point.latitude: expected a number, got a string"
 *   "graduateUpsert.graduate.skills[2]: expected a string, got a number"
 *   "vacancyUpsert.vacancy.colour: unknown field of passerelle.v1.Vacancy"
 * Errors: invalid JSON syntax (with the byte offset), a top level that is
 * not an object, unknown keys, a field given twice, two members of one
 * oneof, wrong JSON types, integers out of range or fractional, bare
 * non-finite numbers, unknown enum names, bad base64, strings with NUL,
 * input larger than INT_MAX bytes, out of memory. */
ProtobufCMessage *proto_json_parse(const ProtobufCMessageDescriptor *desc, const char *json,
                                   size_t len, char *err, size_t errlen);

/* Render msg as JSON text following the mapping above. flags is a bitwise OR
 * of PROTO_JSON_PRETTY and PROTO_JSON_DEFAULTS, or 0 for a single compact
 * line (no newline at the end).
 *
 * Returns a malloc'd NUL-terminated string that the caller frees with
 * free(), or NULL if msg is NULL or memory ran out. */
char *proto_json_render(const ProtobufCMessage *msg, int flags);

/* The text of the scalar field f whose value is at p (a pointer into a
 * message): integers in decimal, enums as their number, doubles with %g,
 * bools as "true"/"false", strings as they are ("" for NULL). Uses buf
 * (size bytes) when it must format. NULL for bytes and message fields. */
const char *proto_json_scalar_text(const ProtobufCFieldDescriptor *f, const void *p, char *buf,
                                   size_t size);

/* True if field f of message type parent is a map (protobuf-c has no flag
 * for it: a repeated <Parent>.<Field>Entry message with key = 1 and
 * value = 2). */
bool proto_json_is_map(const ProtobufCMessageDescriptor *parent, const ProtobufCFieldDescriptor *f);

#endif /* PROTO_JSON_H */
