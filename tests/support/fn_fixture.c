/*
** fn_fixture.c: the throw-away fiscal storage of fn_fixture.h.
*/
#include "tests/support/fn_fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static uint32_t fixture_clock(void *user) { return ((fn_fixture_t *)user)->now; }

int fn_fixture_create(fn_fixture_t *fx, const char *tag, const char *fn_number, uint32_t now)
{
  memset(fx, 0, sizeof *fx);
  snprintf(fx->dir, sizeof fx->dir, "/tmp/kassa-%.16s-XXXXXX", tag);
  if (!mkdtemp(fx->dir)) return -1;
  snprintf(fx->path, sizeof fx->path, "%s/fn.db", fx->dir);
  fx->now = now;
  fx->options.clock = fixture_clock;
  fx->options.clock_user = fx;
  if (fn_emu_create(fx->path, fn_number) != 0) return -1;
  if (fn_emu_open(fx->path, &fx->options, &fx->fn) != 0) return -1;
  return 0;
}

void fn_fixture_destroy(fn_fixture_t *fx)
{
  static const char *const sides[] = {"", "-wal", "-shm"};
  char file[sizeof fx->path + 8];
  fn_free(fx->fn);
  fx->fn = NULL;
  for (size_t i = 0; i < sizeof sides / sizeof sides[0]; i++) {
    snprintf(file, sizeof file, "%s%s", fx->path, sides[i]);
    unlink(file);
  }
  rmdir(fx->dir);
}

size_t fn_fixture_base64(const uint8_t *in, size_t n, char *out)
{
  static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  size_t o = 0;
  for (size_t i = 0; i < n; i += 3) {
    uint32_t w = (uint32_t)in[i] << 16;
    if (i + 1 < n) w |= (uint32_t)in[i + 1] << 8;
    if (i + 2 < n) w |= in[i + 2];
    out[o++] = alphabet[(w >> 18) & 63];
    out[o++] = alphabet[(w >> 12) & 63];
    out[o++] = i + 1 < n ? alphabet[(w >> 6) & 63] : '=';
    out[o++] = i + 2 < n ? alphabet[w & 63] : '=';
  }
  out[o] = '\0';
  return o;
}
