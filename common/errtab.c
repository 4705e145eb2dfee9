/*
** common/errtab.c: the lookups of errtab.h.
*/
#include "common/errtab.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
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

/* vsnprintf into out, then back off a UTF-8 sequence it cut short. */
static void format_into(char *out, size_t size, const char *format, va_list ap)
{
  if (!out || size == 0) return;
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
  int n = vsnprintf(out, size, format, ap);
#pragma GCC diagnostic pop
  if (n < 0) {
    out[0] = '\0';
    return;
  }
  size_t len = strlen(out);
  if ((size_t)n <= len) return; /* nothing was cut */
  /* Walk back over continuation bytes to the start of the last character;
  ** drop it unless the bytes it needs are all there. */
  size_t start = len;
  while (start > 0 && ((unsigned char)out[start - 1] & 0xC0) == 0x80) start--;
  if (start == 0) return;
  unsigned char lead = (unsigned char)out[start - 1];
  size_t need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
  if (len - (start - 1) < need) out[start - 1] = '\0';
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
