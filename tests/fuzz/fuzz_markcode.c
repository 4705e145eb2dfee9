/*
** fuzz_markcode.c: libFuzzer target for the marking-code engine.
**
** Any byte string must give either a valid code or a refusal with an error
** code and a position inside the input, never a crash, an over-read or a
** sanitizer report. A valid code's canonical form must parse again to
** itself (the repairs are idempotent). The fast path (markcode_parse) and
** the full one (markcode_parse_full) must give the same markcode_t on every
** input, the canonical forms included.
*/
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "scanner/markcode.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  static markcode_t mc, again, full;
  markcode_err_t err = markcode_parse(&mc, (const char *)data, size);
  markcode_parse_full(&full, (const char *)data, size);
  if (!markcode_same(&mc, &full)) abort();
  if (err != MARKCODE_OK) {
    if (mc.err_at < 0 || (size_t)mc.err_at > size) abort();
    char msg[512];
    markcode_message(&mc, MARKCODE_LANG_RU, msg, sizeof msg);
    return 0;
  }
  if (mc.normalized_len == 0 || mc.normalized_len > MARKCODE_MAX_INPUT) abort();
  if (markcode_parse(&again, mc.normalized, mc.normalized_len) != MARKCODE_OK) abort();
  if (strcmp(again.normalized, mc.normalized) != 0) abort();
  markcode_parse_full(&full, mc.normalized, mc.normalized_len);
  if (!markcode_same(&again, &full)) abort();
  return 0;
}
