/*
** test_transport_codes.h: a seeded generator of realistic marking codes,
** shared by the scanner transport and image tests.
**
** Each layout of DOMAIN.md §2 that a DataMatrix carries is here, with the
** separators where the canonical form has them (GS after every field whose
** length GS1 does not predefine). code_make() writes the code twice: as the
** scanner delivers it (real GS, 0x1D) and as zint's GS1 input ("[01]...").
** Values are random within each field's rules (GTIN check digit, GS1
** character set 82, base64 tails), so the marking-code parser accepts them.
*/
#ifndef KASSA_TEST_TRANSPORT_CODES_H
#define KASSA_TEST_TRANSPORT_CODES_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef enum code_layout {
  CODE_FOOTWEAR_44,   /* 01 21(13) GS 91 GS 92(44) */
  CODE_FOOTWEAR_88,   /* 01 21(13) GS 91 GS 92(88) */
  CODE_SERIAL_20,     /* 01 21(20) GS 91 GS 92(44): photo goods */
  CODE_DAIRY,         /* 01 21(6) GS 93 */
  CODE_DAIRY_3103,    /* 01 21(6) GS 93 GS 3103 */
  CODE_WATER,         /* 01 21(13) GS 93 */
  CODE_TOBACCO_BLOCK, /* 01 21(7) GS 8005 GS 93 */
  CODE_TOBACCO_PACK,  /* 29 characters, no AIs: not GS1 */
  CODE_LAYOUT_COUNT
} code_layout_t;

static const char *const code_layout_names[CODE_LAYOUT_COUNT] = {
    "footwear_44", "footwear_88", "serial_20",     "dairy",
    "dairy_3103",  "water",       "tobacco_block", "tobacco_pack",
};

/* splitmix64 */
static inline uint64_t code_rng(uint64_t *s)
{
  uint64_t z = (*s += 0x9E3779B97F4A7C15ull);

  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

static inline size_t code_below(uint64_t *s, size_t n) { return (size_t)(code_rng(s) % n); }

typedef struct code_text {
  char gs[256];   /* as scanned: real GS separators */
  char zint[300]; /* zint --gs1 input, or the plain data (tobacco pack) */
  size_t gs_len;
} code_text_t;

static inline void code_pick(uint64_t *r, char *out, size_t *n, const char *set, size_t count)
{
  size_t len = strlen(set);

  for (size_t i = 0; i < count; i++) out[(*n)++] = set[code_below(r, len)];
}

/* A 14-digit GTIN of a consumer unit: 0, Russian prefix 46, digits, check. */
static inline void code_gtin(uint64_t *r, char *g)
{
  int sum = 0;

  g[0] = '0';
  g[1] = '4';
  g[2] = '6';
  for (int i = 3; i < 13; i++) g[i] = (char)('0' + code_below(r, 10));
  for (int i = 0; i < 13; i++) sum += (g[i] - '0') * ((i % 2 == 0) ? 3 : 1);
  g[13] = (char)('0' + (10 - sum % 10) % 10);
  g[14] = 0;
}

static const char code_cs82[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
                                "!\"%&'()*+,-./:;<=>?_";
static const char code_alnum[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
static const char code_b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char code_digits[] = "0123456789";

/* Append AI and value to both forms; gs_after: a GS follows in the
** scanned form (not after the last field). */
static inline void code_field(code_text_t *c, size_t *gn, size_t *zn, const char *ai,
                              const char *value, size_t len, int gs_after)
{
  size_t al = strlen(ai);

  memcpy(c->gs + *gn, ai, al);
  *gn += al;
  memcpy(c->gs + *gn, value, len);
  *gn += len;
  if (gs_after) c->gs[(*gn)++] = 0x1D;
  c->zint[(*zn)++] = '[';
  memcpy(c->zint + *zn, ai, al);
  *zn += al;
  c->zint[(*zn)++] = ']';
  memcpy(c->zint + *zn, value, len);
  *zn += len;
}

static inline void code_make(uint64_t *r, code_layout_t layout, code_text_t *c)
{
  char gtin[15], v[100];
  size_t gn = 0, zn = 0, n;
  size_t serial_len = 13, tail_len = 44;

  memset(c, 0, sizeof *c);
  code_gtin(r, gtin);
  if (layout == CODE_TOBACCO_PACK) {
    memcpy(c->gs, gtin, 14);
    gn = 14;
    code_pick(r, c->gs, &gn, code_cs82, 15); /* serial 7, MRP 4, check 4 */
    c->gs[gn] = 0;
    c->gs_len = gn;
    memcpy(c->zint, c->gs, gn + 1);
    return;
  }
  code_field(c, &gn, &zn, "01", gtin, 14, 0);
  switch (layout) {
  case CODE_FOOTWEAR_44:
  case CODE_FOOTWEAR_88:
  case CODE_SERIAL_20:
    if (layout == CODE_SERIAL_20) serial_len = 20;
    if (layout == CODE_FOOTWEAR_88) tail_len = 88;
    n = 0;
    code_pick(r, v, &n, code_cs82, serial_len);
    code_field(c, &gn, &zn, "21", v, n, 1);
    n = 0;
    code_pick(r, v, &n, code_alnum, 4);
    code_field(c, &gn, &zn, "91", v, n, 1);
    n = 0;
    code_pick(r, v, &n, code_b64, tail_len - (tail_len == 44 ? 1 : 2));
    v[n++] = '=';
    if (tail_len == 88) v[n++] = '=';
    code_field(c, &gn, &zn, "92", v, n, 0);
    break;
  case CODE_DAIRY:
  case CODE_DAIRY_3103:
  case CODE_WATER:
    n = 0;
    code_pick(r, v, &n, code_cs82, layout == CODE_WATER ? 13 : 6);
    code_field(c, &gn, &zn, "21", v, n, 1);
    n = 0;
    code_pick(r, v, &n, code_cs82, 4);
    code_field(c, &gn, &zn, "93", v, n, layout == CODE_DAIRY_3103);
    if (layout == CODE_DAIRY_3103) {
      n = 0;
      code_pick(r, v, &n, code_digits, 6);
      code_field(c, &gn, &zn, "3103", v, n, 0);
    }
    break;
  case CODE_TOBACCO_BLOCK:
    n = 0;
    code_pick(r, v, &n, code_cs82, 7);
    code_field(c, &gn, &zn, "21", v, n, 1);
    n = 0;
    code_pick(r, v, &n, code_digits, 6);
    code_field(c, &gn, &zn, "8005", v, n, 1);
    n = 0;
    code_pick(r, v, &n, code_cs82, 4);
    code_field(c, &gn, &zn, "93", v, n, 0);
    break;
  default:
    break;
  }
  c->gs[gn] = 0;
  c->zint[zn] = 0;
  c->gs_len = gn;
}

#endif /* KASSA_TEST_TRANSPORT_CODES_H */
