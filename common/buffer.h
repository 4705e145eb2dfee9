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

typedef struct buffer_budget buffer_budget_t;

typedef struct buffer {
  char *data;   /* NULL until the first byte; then NUL-terminated */
  size_t len;   /* bytes kept */
  size_t cap;   /* bytes allocated */
  size_t limit; /* most bytes kept; set before the first append */
  bool over;    /* a piece did not fit under the limit and was dropped */
  /* A budget shared with other buffers (NULL: none), set before the first
  ** append: what this buffer holds of it, and whether a piece was dropped
  ** because the budget was spent. */
  buffer_budget_t *budget;
  size_t reserved;
  bool busy;
} buffer_t;

/*
** Bytes many buffers may hold together (every request a server is reading,
** issue 18: forty 16 MiB bodies at once must not take the memory). Past
** `max` a piece is dropped and its buffer marked busy; the server answers
** 503. Thread-safe.
*/
struct buffer_budget {
  _Atomic size_t used;
  size_t max;
};

/*
** Appends data[0..n): kept when it fits under the limit and the budget (if
** any) and nothing was dropped before, else dropped with `over` or `busy`
** set. Grows by doubling (from
** 4 KiB, never past limit + 1). 0, or -1 when out of memory (the buffer is
** as it was).
*/
int buffer_append(buffer_t *b, const void *data, size_t n);

/*
** Holds `total` bytes of the budget for this buffer now (a body whose
** Content-Length is known is admitted whole or not at all, so two large
** bodies never both stall half-read). 0, or -1 when the budget has not that
** much left (nothing held). Without a budget: 0.
*/
int buffer_reserve(buffer_t *b, size_t total);

/* Frees the data, gives its bytes back to the budget and zeroes the
** buffer, limit included. NULL is fine. */
void buffer_free(buffer_t *b);

#endif /* KASSA_COMMON_BUFFER_H */
