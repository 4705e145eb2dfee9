/*
** common/errtab.c: the lookups of errtab.h.
*/
#include "common/errtab.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const errtab_t *errtab_find(const errtab_t *table, int code)
{
  const errtab_t *row = table;
  while (row->name && row->code != code) row++;
  return row;
}

const char *errtab_name(const errtab_t *table, int code)
{
  const char *name = errtab_find(table, code)->name;
  return name ? name : "unknown";
}

const char *errtab_message(const errtab_t *table, int code, bool russian)
{
  const errtab_t *row = errtab_find(table, code);
  return russian && row->ru ? row->ru : row->en;
}

static size_t word_cut(const char *part, size_t len, size_t room);

/* Drops the end of a UTF-8 sequence cut short at out[len]. */
static void whole_characters(char *out, size_t len)
{
  /* Walk back over continuation bytes to the start of the last character;
  ** drop it unless the bytes it needs are all there. */
  size_t start = len;
  while (start > 0 && ((unsigned char)out[start - 1] & 0xC0) == 0x80) start--;
  if (start == 0) return;
  unsigned char lead = (unsigned char)out[start - 1];
  size_t need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
  if (len - (start - 1) < need) out[start - 1] = '\0';
}

/* vsnprintf into out; a text too long for it ends at the last word that
** fits, with "…" (errtab_join's rule), or, when not even one word fits, at
** the last whole character. */
static void format_into(char *out, size_t size, const char *format, va_list ap)
{
  if (!out || size == 0) return;
  va_list again;
  va_copy(again, ap);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
  int n = vsnprintf(out, size, format, ap);
#pragma GCC diagnostic pop
  if (n < 0) {
    out[0] = '\0';
    va_end(again);
    return;
  }
  size_t len = strlen(out);
  char *full = (size_t)n > len ? malloc((size_t)n + 1) : NULL;
  if (full) {
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
    vsnprintf(full, (size_t)n + 1, format, again);
#pragma GCC diagnostic pop
    size_t cut = word_cut(full, (size_t)n, size - 1);
    if (cut > 0) {
      memcpy(out, full, cut);
      memcpy(out + cut, "…", sizeof "…");
      len = 0; /* whole by construction */
    }
    free(full);
  }
  va_end(again);
  if ((size_t)n > len && len > 0) whole_characters(out, len);
}

void errtab_vformat(char *ru, size_t ru_size, char *en, size_t en_size, const char *ru_format,
                    const char *en_format, va_list ap)
{
  va_list again;
  va_copy(again, ap);
  format_into(en, en_size, en_format, ap);
  format_into(ru, ru_size, ru_format, again);
  va_end(again);
}

void errtab_format(char *ru, size_t ru_size, char *en, size_t en_size, const char *ru_format,
                   const char *en_format, ...)
{
  va_list ap;
  va_start(ap, en_format);
  errtab_vformat(ru, ru_size, en, en_size, ru_format, en_format, ap);
  va_end(ap);
}

size_t errtab_chars(const char *text)
{
  size_t n = 0;
  for (const unsigned char *p = (const unsigned char *)(text ? text : ""); *p; p++)
    if ((*p & 0xC0) != 0x80) n++;
  return n;
}

bool errtab_text_whole(const char *text)
{
  const unsigned char *p = (const unsigned char *)(text ? text : "");
  while (*p) {
    unsigned char c = *p;
    size_t need = c < 0x80             ? 0
                  : (c & 0xE0) == 0xC0 ? 1
                  : (c & 0xF0) == 0xE0 ? 2
                  : (c & 0xF8) == 0xF0 ? 3
                                       : 9;
    if (need == 9 || (c < 0x20) || c == 0x7F) return false;
    if (need == 1 && c < 0xC2) return false; /* overlong */
    p++;
    for (size_t k = 0; k < need; k++, p++)
      if ((*p & 0xC0) != 0x80) return false;
  }
  return true;
}

/* The length of the longest prefix of part (len bytes) that ends before a
** space and leaves room for the ellipsis in room bytes; 0 when none. */
static size_t word_cut(const char *part, size_t len, size_t room)
{
  static const size_t ellipsis = sizeof "…" - 1;
  if (room <= ellipsis) return 0;
  size_t best = 0;
  for (size_t i = 1; i < len && i + ellipsis <= room; i++)
    if (part[i] == ' ' && part[i - 1] != ' ') best = i;
  /* ASCII punctuation before the cut reads badly before "…" (a byte of
  ** a UTF-8 character is never ASCII, so this never splits one). */
  while (best > 0 && strchr(",;:-", part[best - 1])) best--;
  return best;
}

bool errtab_join(char *out, size_t size, const char *const *parts, size_t count)
{
  bool whole = true;
  size_t used = 0;
  if (!out || size == 0) return false;
  out[0] = '\0';
  for (size_t i = 0; i < count; i++) {
    const char *part = parts[i];
    if (!part || !*part) continue;
    size_t len = strlen(part), sep = used ? 1 : 0;
    if (used + sep + len < size) {
      if (sep) out[used++] = ' ';
      memcpy(out + used, part, len + 1);
      used += len;
      continue;
    }
    whole = false;
    size_t room = size - 1 - used - sep, cut = used + sep < size ? word_cut(part, len, room) : 0;
    if (cut > 0) {
      if (sep) out[used++] = ' ';
      memcpy(out + used, part, cut);
      used += cut;
      memcpy(out + used, "…", sizeof "…");
      used += sizeof "…" - 1;
    }
    break;
  }
  return whole;
}

bool errtab_fit(char *out, size_t size, const char *text, size_t max_chars, const char *ellipsis)
{
  if (!out || size == 0) return false;
  text = text ? text : "";
  ellipsis = ellipsis ? ellipsis : "";
  size_t len = strlen(text), chars = 0, fits = 0;
  /* fits: the bytes of the longest prefix of whole characters within both
  ** budgets. */
  for (size_t i = 0; i <= len; i++) {
    bool boundary = i == len || ((unsigned char)text[i] & 0xC0) != 0x80;
    if (!boundary) continue;
    if (i >= size || chars > max_chars) break;
    fits = i;
    if (i < len) chars++;
  }
  if (fits == len) {
    memcpy(out, text, len + 1);
    return true;
  }
  size_t ell = strlen(ellipsis), ell_chars = errtab_chars(ellipsis);
  /* Room for the ellipsis: the prefix shrinks by its bytes and characters. */
  size_t room_bytes = size - 1 >= ell ? size - 1 - ell : 0,
         room_chars = max_chars >= ell_chars ? max_chars - ell_chars : 0;
  size_t cut = 0, k = 0;
  for (size_t i = 0; i < len && i <= room_bytes; i++) {
    if (((unsigned char)text[i] & 0xC0) == 0x80) continue;
    if (k > room_chars) break;
    if (text[i] == ' ' && i > 0 && text[i - 1] != ' ') cut = i;
    k++;
  }
  while (cut > 0 && strchr(",;:-", text[cut - 1])) cut--;
  if (cut == 0) { /* not one word fits: the whole characters that do */
    memcpy(out, text, fits);
    out[fits] = '\0';
    return false;
  }
  memcpy(out, text, cut);
  memcpy(out + cut, ellipsis, ell + 1);
  return false;
}
