/*
** layout.c: the Russian ↔ US keyboard table and a small UTF-8 codec.
**
** The tables below were generated from these rows of the two layouts (US on
** the left, Russian on the right, unshifted then shifted):
**
**   `1234567890-=   ~!@#$%^&*()_+    ё1234567890-=   Ё!"№;%:?*()_+
**   qwertyuiop[]\   QWERTYUIOP{}|    йцукенгшщзхъ\   ЙЦУКЕНГШЩЗХЪ/
**   asdfghjkl;'     ASDFGHJKL:"      фывапролджэ     ФЫВАПРОЛДЖЭ
**   zxcvbnm,./      ZXCVBNM<>?       ячсмитьбю.      ЯЧСМИТЬБЮ,
**
** Lookups are direct array indexing: this runs on every scan that carries a
** Cyrillic letter and must not cost more than the parse itself.
*/
#include "scanner/layout.h"

#include "common/text.h"

/* Generated from the two keyboard rows in the comment above; see layout.c. */
static const signed char ru_ascii_to_us[128] = {
    0,   1,   2,   3,   4,   5,   6,   7,   8,   9,   10,  11,  12,  13,  14,  15,  16,   17,  18,
    19,  20,  21,  22,  23,  24,  25,  26,  27,  28,  29,  30,  31,  ' ', '!', '@', -1,   -1,  '%',
    -1,  -1,  '(', ')', '*', '+', '?', '-', '/', '|', '0', '1', '2', '3', '4', '5', '6',  '7', '8',
    '9', '^', '$', -1,  '=', -1,  '&', -1,  -1,  -1,  -1,  -1,  -1,  -1,  -1,  -1,  -1,   -1,  -1,
    -1,  -1,  -1,  -1,  -1,  -1,  -1,  -1,  -1,  -1,  -1,  -1,  -1,  -1,  -1,  -1,  '\\', -1,  -1,
    '_', -1,  -1,  -1,  -1,  -1,  -1,  -1,  -1,  -1,  -1,  -1,  -1,  -1,  -1,  -1,  -1,   -1,  -1,
    -1,  -1,  -1,  -1,  -1,  -1,  -1,  -1,  -1,  -1,  -1,  -1,  -1,  127,
};
/* U+0400..U+045F */
static const signed char ru_cyrillic_to_us[0x60] = {
    -1,  '~', -1,  -1,  -1,  -1,  -1,  -1,  -1,  -1,  -1,  -1,  -1,  -1,   -1,  -1,
    'F', '<', 'D', 'U', 'L', 'T', ':', 'P', 'B', 'Q', 'R', 'K', 'V', 'Y',  'J', 'G',
    'H', 'C', 'N', 'E', 'A', '{', 'W', 'X', 'I', 'O', '}', 'S', 'M', '"',  '>', 'Z',
    'f', ',', 'd', 'u', 'l', 't', ';', 'p', 'b', 'q', 'r', 'k', 'v', 'y',  'j', 'g',
    'h', 'c', 'n', 'e', 'a', '[', 'w', 'x', 'i', 'o', ']', 's', 'm', '\'', '.', 'z',
    -1,  '`', -1,  -1,  -1,  -1,  -1,  -1,  -1,  -1,  -1,  -1,  -1,  -1,   -1,  -1,
};
#define RU_NUMERO_SIGN 0x2116u /* '№' is Shift+3: '#' */
#define RU_NUMERO_US   '#'
static const uint32_t us_to_ru[128] = {
    0,     0,     0,     0,     0,     0,     0,     0,     0,     0,      0,     0,     0,
    0,     0,     0,     0,     0,     0,     0,     0,     0,     0,      0,     0,     0,
    0,     0,     0,     0,     0,     0,     0x20,  0x21,  0x42d, 0x2116, 0x3b,  0x25,  0x3f,
    0x44d, 0x28,  0x29,  0x2a,  0x2b,  0x431, 0x2d,  0x44e, 0x2e,  0x30,   0x31,  0x32,  0x33,
    0x34,  0x35,  0x36,  0x37,  0x38,  0x39,  0x416, 0x436, 0x411, 0x3d,   0x42e, 0x2c,  0x22,
    0x424, 0x418, 0x421, 0x412, 0x423, 0x410, 0x41f, 0x420, 0x428, 0x41e,  0x41b, 0x414, 0x42c,
    0x422, 0x429, 0x417, 0x419, 0x41a, 0x42b, 0x415, 0x413, 0x41c, 0x426,  0x427, 0x41d, 0x42f,
    0x445, 0x5c,  0x44a, 0x3a,  0x5f,  0x451, 0x444, 0x438, 0x441, 0x432,  0x443, 0x430, 0x43f,
    0x440, 0x448, 0x43e, 0x43b, 0x434, 0x44c, 0x442, 0x449, 0x437, 0x439,  0x43a, 0x44b, 0x435,
    0x433, 0x43c, 0x446, 0x447, 0x43d, 0x44f, 0x425, 0x2f,  0x42a, 0x401,  0,
};

int layout_ru_to_us(uint32_t cp)
{
  if (cp < 128) return ru_ascii_to_us[cp];
  if (cp >= 0x400 && cp < 0x460) return ru_cyrillic_to_us[cp - 0x400];
  if (cp == RU_NUMERO_SIGN) return RU_NUMERO_US;
  return -1;
}

uint32_t layout_us_to_ru(char c)
{
  unsigned char u = (unsigned char)c;
  return u < 128 ? us_to_ru[u] : 0;
}

int layout_is_cyrillic_letter(uint32_t cp)
{
  return (cp >= 0x410 && cp <= 0x44F) || cp == 0x401 || cp == 0x451;
}

size_t layout_utf8_decode(const unsigned char *s, size_t n, uint32_t *cp)
{
  return text_utf8_decode(s, n, cp); /* the one validator, common/text.h */
}

size_t layout_utf8_encode(uint32_t cp, char *out)
{
  if (cp < 0x80) {
    out[0] = (char)cp;
    return 1;
  }
  if (cp < 0x800) {
    out[0] = (char)(0xC0 | (cp >> 6));
    out[1] = (char)(0x80 | (cp & 0x3F));
    return 2;
  }
  if (cp < 0x10000) {
    out[0] = (char)(0xE0 | (cp >> 12));
    out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[2] = (char)(0x80 | (cp & 0x3F));
    return 3;
  }
  out[0] = (char)(0xF0 | (cp >> 18));
  out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
  out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
  out[3] = (char)(0x80 | (cp & 0x3F));
  return 4;
}
