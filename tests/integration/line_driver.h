/*
** tests/integration/line_driver.h: what the line-by-line drivers the
** Python tests talk to (test_trueapi_driver, permissive_till) share: a
** marking code read from a command line with GS written \x1d or \u001d,
** and one JSON answer per line.
*/
#ifndef KASSA_TESTS_LINE_DRIVER_H
#define KASSA_TESTS_LINE_DRIVER_H

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One JSON line on stdout, flushed (the script waits for it); j is freed. */
static void emit(json_t *j)
{
  char *s = json_dumps(j, JSON_COMPACT);
  printf("%s\n", s ? s : "{}");
  fflush(stdout);
  free(s);
  json_decref(j);
}

/* in with "\x1d" or "\u001d" for GS to the code itself in out (cap bytes,
** NUL-terminated); its length. */
static size_t unescape(const char *in, char *out, size_t cap)
{
  size_t o = 0;
  for (size_t i = 0; in[i] && o + 1 < cap; i++) {
    if (strncmp(in + i, "\\x1d", 4) == 0) {
      out[o++] = '\x1d';
      i += 3;
    } else if (strncmp(in + i, "\\u001d", 6) == 0) {
      out[o++] = '\x1d';
      i += 5;
    } else {
      out[o++] = in[i];
    }
  }
  out[o] = '\0';
  return o;
}

#endif
