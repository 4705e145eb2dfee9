/*
** common/buffer.c: the bounded buffer of buffer.h.
*/
#include "common/buffer.h"

#include <stdlib.h>
#include <string.h>

int buffer_append(buffer_t *b, const void *data, size_t n)
{
  if (n == 0) return 0;
  if (b->over || n > b->limit - b->len) {
    b->over = true; /* read and dropped */
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
  free(b->data);
  memset(b, 0, sizeof *b);
}
