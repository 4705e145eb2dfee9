/*
** common/buffer.h: a byte buffer that grows up to a limit, for what
** arrives in pieces and must not grow without bound: an HTTP request's
** body as libmicrohttpd hands it over (kassa serve, kassa-operator).
**
** Past the limit the buffer keeps what it has, drops the rest and says so
** (`over`), so a server can read a too-large body to its end and then
** answer 413 instead of resetting the connection. The data are always
** NUL-terminated, so JSON and text parsers can take them as they are.
*/
#ifndef KASSA_COMMON_BUFFER_H
#define KASSA_COMMON_BUFFER_H

#include <stdbool.h>
#include <stddef.h>

typedef struct buffer {
  char *data;   /* NULL until the first byte; then NUL-terminated */
  size_t len;   /* bytes kept */
  size_t cap;   /* bytes allocated */
  size_t limit; /* most bytes kept; set before the first append */
  bool over;    /* a piece did not fit under the limit and was dropped */
} buffer_t;

/*
** Appends data[0..n): kept when it fits under the limit and nothing was
** dropped before, else dropped with `over` set. Grows by doubling (from
** 4 KiB, never past limit + 1). 0, or -1 when out of memory (the buffer is
** as it was).
*/
int buffer_append(buffer_t *b, const void *data, size_t n);

/* Frees the data and zeroes the buffer, limit included. NULL is fine. */
void buffer_free(buffer_t *b);

#endif /* KASSA_COMMON_BUFFER_H */
