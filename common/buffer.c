/*
** common/buffer.c: the bounded buffer of buffer.h.
*/
#include "common/buffer.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

int buffer_reserve(buffer_t *b, size_t total)
{
  if (!b->budget || total <= b->reserved) return 0;
  size_t more = total - b->reserved;
  size_t before = atomic_fetch_add(&b->budget->used, more);
  if (before + more > b->budget->max) {
    atomic_fetch_sub(&b->budget->used, more);
    return -1;
  }
  b->reserved = total;
  return 0;
}

int buffer_append(buffer_t *b, const void *data, size_t n)
{
  if (n == 0 || b->busy) return 0;
  if (b->over || n > b->limit - b->len) {
    b->over = true; /* read and dropped */
    return 0;
  }
  if (b->budget && b->len + n > b->reserved && buffer_reserve(b, b->len + n) != 0) {
    b->busy = true; /* read and dropped: the server answers 503 */
    return 0;
  }
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + n + 1) cap *= 2;
    if (cap > b->limit + 1) cap = b->limit + 1;
    char *grown = realloc(b->data, cap);
    if (!grown) return -1;
    b->data = grown;
    b->cap = cap;
  }
  memcpy(b->data + b->len, data, n);
  b->len += n;
  b->data[b->len] = '\0';
  return 0;
}

void buffer_free(buffer_t *b)
{
  if (!b) return;
  if (b->budget) atomic_fetch_sub(&b->budget->used, b->reserved);
  free(b->data);
  memset(b, 0, sizeof *b);
}
