/*
** common/text.c: UTF-8 validation and log escaping (see text.h).
*/
#include "common/text.h"

#include <stdio.h>
#include <string.h>

size_t text_utf8_decode(const unsigned char *s, size_t n, uint32_t *cp)
{
  if (n == 0) return 0;
  unsigned char c = s[0];
  if (c < 0x80) {
    *cp = c;
    return 1;
  }
  size_t len;
  uint32_t v, min;
  if ((c & 0xE0) == 0xC0) {
    len = 2;
    v = c & 0x1Fu;
    min = 0x80;
  } else if ((c & 0xF0) == 0xE0) {
    len = 3;
    v = c & 0x0Fu;
    min = 0x800;
  } else if ((c & 0xF8) == 0xF0) {
    len = 4;
    v = c & 0x07u;
    min = 0x10000;
  } else
    return 0;
  if (n < len) return 0;
  for (size_t i = 1; i < len; i++) {
    if ((s[i] & 0xC0) != 0x80) return 0;
    v = (v << 6) | (s[i] & 0x3Fu);
  }
  /* Overlong forms, surrogates and values past U+10FFFF are not UTF-8. */
  if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) return 0;
  *cp = v;
  return len;
}

static int is_control(uint32_t cp) { return cp < 0x20 || (cp >= 0x7F && cp <= 0x9F); }

text_fault_t text_check(const char *s, size_t n, size_t *at)
{
  const unsigned char *p = (const unsigned char *)s;
  for (size_t i = 0; i < n;) {
    uint32_t cp;
    size_t len = text_utf8_decode(p + i, n - i, &cp);
    if (len == 0 || is_control(cp)) {
      if (at) *at = i;
      return len == 0 ? TEXT_BAD_UTF8 : TEXT_CONTROL;
    }
    i += len;
  }
  if (at) *at = n;
  return TEXT_OK;
}

const char *text_fault_ru(text_fault_t f)
{
  return f == TEXT_BAD_UTF8 ? "не текст в UTF-8" : f == TEXT_CONTROL ? "управляющий символ" : "";
}

const char *text_fault_en(text_fault_t f)
{
  return f == TEXT_BAD_UTF8 ? "not UTF-8 text" : f == TEXT_CONTROL ? "a control character" : "";
}

char *text_log_escape(const char *s, char *out, size_t size)
{
  const unsigned char *p = (const unsigned char *)(s ? s : "");
  size_t o = 0, n = strlen((const char *)p);
  if (!out || size == 0) return out;
  for (size_t i = 0; i < n;) {
    uint32_t cp;
    size_t len = text_utf8_decode(p + i, n - i, &cp);
    char piece[8];
    size_t plen;
    if (len > 0 && !is_control(cp) && cp != '\\') {
      memcpy(piece, p + i, len);
      plen = len;
    } else if (len == 1 && cp == '\\') {
      memcpy(piece, "\\\\", 2);
      plen = 2;
    } else {
      snprintf(piece, sizeof piece, "\\x%02x", p[i]);
      plen = 4;
      len = 1; /* one byte at a time through what is not a clean character */
    }
    if (o + plen >= size) break;
    memcpy(out + o, piece, plen);
    o += plen;
    i += len;
  }
  out[o] = '\0';
  return out;
}
