/* strmap.h - a string-keyed hash map (open addressing, FNV-1a), for the
 * read-mostly reference tables. Keys are copied; values are borrowed
 * pointers the caller keeps alive. Not thread-safe. */
#ifndef MATCHER_STRMAP_H
#define MATCHER_STRMAP_H

#include <stddef.h>

typedef struct strmap strmap_t;

/* A new empty map. NULL on allocation failure. */
strmap_t *strmap_new(void);

/* Free the map and its key copies (not the values). NULL-safe. */
void strmap_destroy(strmap_t **self_p);

/* Map key to value, replacing any previous value. 0, or -1 if out of memory. */
int strmap_put(strmap_t *self, const char *key, void *value);

/* The value of key, or NULL. */
void *strmap_get(const strmap_t *self, const char *key);

size_t strmap_size(const strmap_t *self);

/* Remove every entry (keeps the allocated table). */
void strmap_clear(strmap_t *self);

/* Call fn(key, value, arg) for every entry, in no particular order. The map
 * must not change during the walk. */
void strmap_each(const strmap_t *self, void (*fn)(const char *key, void *value, void *arg),
                 void *arg);

#endif
