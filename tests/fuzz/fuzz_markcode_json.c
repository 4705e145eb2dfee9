/*
** fuzz_markcode_json.c: libFuzzer target for the direct JSON writer of a
** parsed code (pos/till/markcode_json.h).
**
** `kassa code parse` writes each code's JSON straight into a buffer instead
** of building a jansson object. Whatever the scan, refused or accepted,
** the bytes must be exactly those json_dumps(markcode_to_json(mc),
** JSON_COMPACT) gives, and jansson must read them back.
*/
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pos/till/markcode_json.h"
#include "scanner/markcode.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  static markcode_t mc;
  static char direct[MARKCODE_JSON_MAX];
  markcode_parse(&mc, (const char *)data, size);
  size_t n = markcode_json_write(&mc, direct);
  json_t *o = markcode_to_json(&mc);
  char *dumped = o ? json_dumps(o, JSON_COMPACT) : NULL;
  if (!dumped || strlen(dumped) != n || memcmp(dumped, direct, n) != 0) abort();
  json_t *back = json_loadb(direct, n, 0, NULL);
  if (!back) abort();
  json_decref(back);
  free(dumped);
  json_decref(o);
  return 0;
}
