/*
** fiscal_text.c: the folding table for fiscal_text_fold().
*/
#include "pos/till/fiscal_text.h"

#include <stdbool.h>
#include <string.h>

static const struct {
  const char *from; /* UTF-8 */
  const char *to;   /* never longer than `from` */
} folds[] = {
    {"\xC2\xAB", "\""},      /* « */
    {"\xC2\xBB", "\""},      /* » */
    {"\xE2\x80\x9E", "\""},  /* „ */
    {"\xE2\x80\x9C", "\""},  /* “ */
    {"\xE2\x80\x9D", "\""},  /* ” */
    {"\xE2\x80\x98", "'"},   /* ‘ */
    {"\xE2\x80\x99", "'"},   /* ’ */
    {"\xE2\x80\x9A", "'"},   /* ‚ */
    {"\xE2\x80\x93", "-"},   /* – */
    {"\xE2\x80\x94", "-"},   /* — */
    {"\xE2\x88\x92", "-"},   /* − */
    {"\xE2\x80\xA6", "..."}, /* … */
    {"\xC2\xA0", " "},       /* no-break space */
    {"\xE2\x80\xAF", " "},   /* narrow no-break space */
};

size_t fiscal_text_fold(char *text)
{
  size_t replaced = 0;
  char *out = text;
  for (const char *in = text; *in;) {
    size_t k = 0, n = sizeof folds / sizeof folds[0];
    for (; k < n; k++) {
      if (folds[k].from[0] != in[0]) continue; /* most bytes: one compare a fold */
      size_t fl = strlen(folds[k].from);
      if (strncmp(in, folds[k].from, fl) == 0) {
        size_t tl = strlen(folds[k].to);
        memmove(out, folds[k].to, tl); /* out <= in: folds never grow */
        out += tl;
        in += fl;
        replaced++;
        break;
      }
    }
    if (k < n) continue;
    /* A control character (C0, DEL, C1 as UTF-8) never reaches a document
    ** or the OFD: a space instead (issue 18: ESC and GS in names). */
    unsigned char c = (unsigned char)in[0];
    size_t control = c < 0x20 || c == 0x7F ? 1
                     : c == 0xC2 && (unsigned char)in[1] >= 0x80 && (unsigned char)in[1] <= 0x9F
                         ? 2
                         : 0;
    if (control) {
      *out++ = ' ';
      in += control;
      replaced++;
    } else {
      *out++ = *in++;
    }
  }
  *out = '\0';
  return replaced;
}

/* Makes text valid UTF-8 in place: an invalid or cut sequence (a scan's
** raw bytes quoted in a message, a message cut by its buffer) becomes '?',
** a control character (GS included) a space, so every message can go into
** JSON and onto a screen. */
void fiscal_text_utf8_clean(char *text)
{
  unsigned char *p = (unsigned char *)text;
  while (*p) {
    unsigned n = *p < 0x80             ? 1
                 : (*p & 0xE0) == 0xC0 ? 2
                 : (*p & 0xF0) == 0xE0 ? 3
                 : (*p & 0xF8) == 0xF0 ? 4
                                       : 0;
    bool ok = n > 0 && !(n == 2 && *p < 0xC2);
    for (unsigned i = 1; ok && i < n; i++) ok = (p[i] & 0xC0) == 0x80;
    if (!ok) {
      *p++ = '?';
      continue;
    }
    if (n == 1 && *p < 0x20) *p = ' ';
    p += n;
  }
}
