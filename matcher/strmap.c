/* strmap.c - see strmap.h. Linear probing; grows at 50 % load. */
#include "strmap.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char *key;
    void *value;
    uint64_t hash;
} s_slot_t;

struct strmap {
    s_slot_t *slots;
    size_t cap; /* a power of two */
    size_t size;
};

static uint64_t s_hash(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ull;
    }
    return h;
}

strmap_t *strmap_new(void)
{
    strmap_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->cap = 64;
    self->slots = calloc(self->cap, sizeof *self->slots);
    if (!self->slots) {
        free(self);
        return NULL;
    }
    return self;
}

void strmap_destroy(strmap_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    strmap_t *self = *self_p;
    for (size_t i = 0; i < self->cap; i++)
        free(self->slots[i].key);
    free(self->slots);
    free(self);
    *self_p = NULL;
}

static s_slot_t *s_find(s_slot_t *slots, size_t cap, const char *key, uint64_t h)
{
    size_t i = (size_t)h & (cap - 1);
    while (slots[i].key && (slots[i].hash != h || strcmp(slots[i].key, key) != 0))
        i = (i + 1) & (cap - 1);
    return &slots[i];
}

static int s_grow(strmap_t *self)
{
    size_t cap = self->cap * 2;
    s_slot_t *slots = calloc(cap, sizeof *slots);
    if (!slots)
        return -1;
    for (size_t i = 0; i < self->cap; i++)
        if (self->slots[i].key)
            *s_find(slots, cap, self->slots[i].key, self->slots[i].hash) = self->slots[i];
    free(self->slots);
    self->slots = slots;
    self->cap = cap;
    return 0;
}

int strmap_put(strmap_t *self, const char *key, void *value)
{
    if ((self->size + 1) * 2 > self->cap && s_grow(self) != 0)
        return -1;
    uint64_t h = s_hash(key);
    s_slot_t *slot = s_find(self->slots, self->cap, key, h);
    if (!slot->key) {
        if (!(slot->key = strdup(key)))
            return -1;
        slot->hash = h;
        self->size++;
    }
    slot->value = value;
    return 0;
}

void *strmap_get(const strmap_t *self, const char *key)
{
    const s_slot_t *slot = s_find(self->slots, self->cap, key, s_hash(key));
    return slot->key ? slot->value : NULL;
}

size_t strmap_size(const strmap_t *self)
{
    return self->size;
}

void strmap_clear(strmap_t *self)
{
    for (size_t i = 0; i < self->cap; i++) {
        free(self->slots[i].key);
        self->slots[i].key = NULL;
    }
    self->size = 0;
}

void strmap_each(const strmap_t *self, void (*fn)(const char *key, void *value, void *arg),
                 void *arg)
{
    for (size_t i = 0; i < self->cap; i++)
        if (self->slots[i].key)
            fn(self->slots[i].key, self->slots[i].value, arg);
}
