/*
** markcode_json.c: render a markcode_t as the contract JSON object, as a
** jansson object or written straight as text (the bulk command line).
** Kept out of scanner/ so the parser stays free of any output format.
*/
#include "pos/till/markcode_json.h"
#include "scanner/layout.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

json_t *markcode_to_json(const markcode_t *mc)
{
  json_t *o = json_object();
  if (!o) return NULL;
  if (mc->err != MARKCODE_OK) {
    char msg[512];
    json_object_set_new(o, "ok", json_false());
    json_object_set_new(o, "error", json_string(markcode_err_code(mc->err)));
    json_object_set_new(o, "message",
                        json_string(markcode_message(mc, MARKCODE_LANG_RU, msg, sizeof msg)));
    json_object_set_new(o, "message_en",
                        json_string(markcode_message(mc, MARKCODE_LANG_EN, msg, sizeof msg)));
    json_object_set_new(o, "at", json_integer(mc->err_at));
    if (mc->aim[0]) json_object_set_new(o, "aim", json_string(mc->aim));
    return o;
  }
  json_object_set_new(o, "ok", json_true());
  json_object_set_new(o, "kind", json_string(markcode_kind_name(mc->kind)));
  json_object_set_new(o, "gtin", json_string(mc->gtin));
  json_object_set_new(o, "serial", json_string(mc->serial));
  json_object_set_new(o, "ki", json_string(mc->ki));
  json_object_set_new(o, "key", json_string(mc->key));
  json_object_set_new(o, "tail", json_string(mc->tail));
  json_object_set_new(o, "type2100", json_integer(mc->type2100));
  json_t *ais = json_object();
  for (int k = 0; k < mc->ai_count; k++)
    json_object_set_new(ais, mc->ais[k].ai, json_string(mc->ais[k].value));
  json_object_set_new(o, "ais", ais);
  json_object_set_new(o, "normalized", json_stringn(mc->normalized, mc->normalized_len));
  json_t *fixes = json_array();
  for (unsigned k = 0; k < MARKCODE_FIX__COUNT; k++)
    if (mc->fixes & (1u << k))
      json_array_append_new(fixes, json_string(markcode_fix_name((markcode_fix_t)(1u << k))));
  json_object_set_new(o, "fixes", fixes);
  char hex[2 * sizeof mc->tag1162 + 1];
  for (size_t i = 0; i < mc->tag1162_len; i++) snprintf(hex + 2 * i, 3, "%02X", mc->tag1162[i]);
  hex[2 * mc->tag1162_len] = '\0';
  json_object_set_new(o, "tag1162", json_string(hex));
  json_t *t1163 = json_object();
  json_object_set_new(t1163, "tag", json_integer(mc->tag1163));
  json_object_set_new(t1163, "value", json_string(mc->tag1163_value));
  json_object_set_new(o, "tag1163", t1163);
  json_object_set_new(o, "aim", json_string(mc->aim));
  json_object_set_new(o, "layout", json_string(mc->layout));
  json_object_set_new(o, "mrp", json_string(mc->mrp));
  return o;
}

/* ---------------------------------------------------------------------- */
/* The direct writer                                                       */
/* ---------------------------------------------------------------------- */

/* What jansson writes for a byte it escapes in a string (JSON_COMPACT, no
** JSON_ENSURE_ASCII, no JSON_ESCAPE_SLASH): the quote, the backslash and
** every control character; the five with a short form use it, the rest
** \u00XX in capitals. NULL: the byte goes out as it is. */
static const char *json_escape_of(unsigned char c, char seq[7])
{
  switch (c) {
  case '"':
    return "\\\"";
  case '\\':
    return "\\\\";
  case '\b':
    return "\\b";
  case '\f':
    return "\\f";
  case '\n':
    return "\\n";
  case '\r':
    return "\\r";
  case '\t':
    return "\\t";
  default:
    if (c >= 0x20) return NULL;
    memcpy(seq, "\\u00", 4); /* what "\\u%04X" prints, without printf (GS is in every code) */
    seq[4] = "0123456789ABCDEF"[c >> 4];
    seq[5] = "0123456789ABCDEF"[c & 15];
    seq[6] = '\0';
    return seq;
  }
}

/* The writer's cursor. out has MARKCODE_JSON_MAX bytes, more than the
** longest object a markcode_t can make (every string of it at most six
** bytes a character escaped, about 26 000 in all), so no step checks room
** (the fuzzer runs the writer under AddressSanitizer). */
typedef struct json_out {
  char *p;
} json_out_t;

/* A string literal (keys with their quotes and colon, punctuation): a copy
** of known size, which the compiler writes as a few moves. */
#define PUT_LIT(o, lit)                                                                            \
  do {                                                                                             \
    memcpy((o)->p, (lit), sizeof(lit) - 1);                                                        \
    (o)->p += sizeof(lit) - 1;                                                                     \
  } while (0)

/* The first of the 16 bytes at s, from byte `from` on, that needs
** escaping (a control character, '"' or '\\'), or 16 when none does.
** Compared as one vector (GCC/Clang vector extensions: SSE2 on x86-64,
** NEON on ARM), since nearly every byte of the output is read here. */
typedef unsigned char bytes16_t __attribute__((vector_size(16)));
static size_t block_escape_at(const char *s, size_t from)
{
  bytes16_t v;
  memcpy(&v, s, sizeof v);
  bytes16_t bad = (bytes16_t)((v < 0x20) | (v == '"') | (v == '\\'));
  uint64_t half[2];
  memcpy(half, &bad, sizeof half);
  if (!(half[0] | half[1])) return 16;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  /* The lowest flagged lane from `from` on: the flags below it cleared,
  ** then the lowest set bit of each half (a lane is 0x00 or 0xFF). */
  uint64_t lo = from < 8 ? half[0] & (~0ull << (8 * from)) : 0;
  uint64_t hi = from < 8 ? half[1] : half[1] & (~0ull << (8 * (from - 8)));
  if (lo) return (size_t)__builtin_ctzll(lo) / 8;
  return hi ? 8 + (size_t)__builtin_ctzll(hi) / 8 : 16;
#else
  unsigned char flag[16];
  memcpy(flag, &bad, sizeof flag);
  while (from < 16 && !flag[from]) from++;
  return from;
#endif
}

/* Bytes JSON escapes (controls, '"', '\\'): one table load a byte. */
static const uint8_t escape_table[256] = {
    [0 ... 0x1F] = 1,
    ['"'] = 1,
    ['\\'] = 1,
};
static bool byte_needs_escape(unsigned char c) { return escape_table[c]; }

/* The escape of c at p; returns the end. Out of line: rare, and its buffer
** would cost every string a stack guard. */
__attribute__((noinline)) static char *put_escape(char *p, unsigned char c)
{
  char seq[7];
  const char *e = json_escape_of(c, seq);
  if (e == seq) { /* \u00XX: six bytes (GS, in every canonical form with a tail) */
    memcpy(p, seq, 6);
    return p + 6;
  }
  size_t el = strlen(e);
  memcpy(p, e, el);
  return p + el;
}

static char *put_byte(char *p, unsigned char c)
{
  if (byte_needs_escape(c)) return put_escape(p, c);
  *p = (char)c;
  return p + 1;
}

/* Are the eight bytes of w free of the NUL and of every byte JSON escapes
** (below 0x20, '"', '\\')? The usual tests for a byte below a value, which
** flag no byte when none is (a false flag only follows a true one). */
static bool word_plain(uint64_t w)
{
  const uint64_t ones = 0x0101010101010101u, highs = 0x8080808080808080u;
  uint64_t q = w ^ (ones * '"'), b = w ^ (ones * '\\');
  return ((((w - ones * 0x20) & ~w) | ((q - ones) & ~q) | ((b - ones) & ~b)) & highs) == 0;
}

/* n bytes (at most 16) from s to d as two overlapping copies of a fixed
** size (moves, not a call to memcpy); neither side is touched past n. */
static void copy_short(char *d, const char *s, size_t n)
{
  if (n >= 8) {
    uint64_t a, b;
    memcpy(&a, s, 8);
    memcpy(&b, s + n - 8, 8);
    memcpy(d, &a, 8);
    memcpy(d + n - 8, &b, 8);
  } else if (n >= 4) {
    uint32_t a, b;
    memcpy(&a, s, 4);
    memcpy(&b, s + n - 4, 4);
    memcpy(d, &a, 4);
    memcpy(d + n - 4, &b, 4);
  } else {
    for (size_t i = 0; i < n; i++) d[i] = s[i];
  }
}

/* "s" (n bytes) escaped as jansson does: a short string copied a byte at
** a time as it is checked; a longer one 16 bytes at a time, checked as one
** vector and copied as one, up to the next byte that needs escaping (the
** last block overlaps the one before, so nothing past the string is read). */
static void put_string(json_out_t *o, const char *s, size_t n)
{
  char *p = o->p;
  size_t i = 0;
  *p++ = '"';
  if (n < 16) {
    if (n >= 8) {
      uint64_t w;
      memcpy(&w, s, 8);
      if (word_plain(w)) {
        memcpy(p, &w, 8);
        p += 8;
        i = 8;
      }
    }
    for (; i < n; i++) p = put_byte(p, (unsigned char)s[i]);
  } else {
    while (i < n) {
      size_t base = i + 16 <= n ? i : n - 16, skip = i - base;
      size_t bad = block_escape_at(s + base, skip), clean = bad - skip;
      if (skip == 0)          /* a whole block: a copy of known size, one vector move */
        memcpy(p, s + i, 16); /* room: MARKCODE_JSON_MAX holds the worst case */
      else
        copy_short(p, s + i, 16 - skip);
      p += clean;
      i += clean;
      if (bad < 16) p = put_escape(p, (unsigned char)s[i++]);
    }
  }
  *p++ = '"';
  o->p = p;
}

static void put_text(json_out_t *o, const char *s) { put_string(o, s, strlen(s)); }

/* A name from the parser's constant tables (kind, layout, fix, error
** code): lower-case identifiers that need no escaping (test_samples holds
** the output to jansson's for every one), quoted and copied. */
static void put_name(json_out_t *o, const char *s)
{
  char *p = o->p;
  *p++ = '"';
  while (*s) *p++ = *s++; /* a few characters: no strlen and memcpy calls */
  *p++ = '"';
  o->p = p;
}

/* A char array of cap bytes holding a string (a field of markcode_t),
** escaped as it is copied, in one pass to its NUL: sixteen bytes a step
** while sixteen remain in the array (one vector check finds the NUL and
** the bytes to escape at once; no separate measuring), then eight while
** none of them is the NUL or needs escaping, then a byte at a time. */
static void put_array(json_out_t *o, const char *s, size_t cap)
{
  char *p = o->p;
  *p++ = '"';
  size_t i = 0;
  bool ended = false;
  while (i + 16 <= cap) {
    size_t bad = block_escape_at(s + i, 0);
    memcpy(p, s + i, 16); /* room: MARKCODE_JSON_MAX holds the worst case */
    p += bad;
    i += bad;
    if (bad == 16) continue;
    if (s[i] == '\0') {
      ended = true;
      break;
    }
    p = put_escape(p, (unsigned char)s[i++]);
  }
  for (; !ended && i + 8 <= cap; i += 8) {
    uint64_t w;
    memcpy(&w, s + i, 8);
    if (!word_plain(w)) break;
    memcpy(p, &w, 8);
    p += 8;
  }
  for (; !ended && i < cap && s[i]; i++) p = put_byte(p, (unsigned char)s[i]);
  *p++ = '"';
  o->p = p;
}
#define PUT_ARRAY(o, array) put_array((o), (array), sizeof(array))

/* A key (a literal with its quotes, colon and leading comma) and a text. */
#define PUT_FIELD(o, key_lit, text)                                                                \
  do {                                                                                             \
    PUT_LIT(o, key_lit);                                                                           \
    put_text(o, text);                                                                             \
  } while (0)

/* An integer as jansson prints it ("%lld"), without printf. */
static void put_int(json_out_t *o, long long v)
{
  /* Written backwards ending at num + 24, then 24 bytes copied whatever
  ** the length (a copy of known size: moves, not a call; num has room for
  ** the bytes read past the number). */
  char num[48], *end = num + 24, *p = end;
  unsigned long long u = v < 0 ? 0ull - (unsigned long long)v : (unsigned long long)v;
  do {
    *--p = (char)('0' + u % 10);
    u /= 10;
  } while (u);
  if (v < 0) *--p = '-';
  memcpy(o->p, p, 24); /* room: MARKCODE_JSON_MAX holds the worst case */
  o->p += end - p;
}

/* jansson refuses a string that is not UTF-8 (json_string gives NULL and the
** key is left out). */
static bool utf8_valid(const char *s)
{
  size_t n = strlen(s);
  for (size_t i = 0; i < n;) {
    uint32_t cp;
    size_t used = layout_utf8_decode((const unsigned char *)s + i, n - i, &cp);
    if (used == 0) return false;
    i += used;
  }
  return true;
}

/* Is a message built into msg (size bytes) UTF-8? Its template is (the
** constant table of scanner/markcode.c), so it is when it was not cut by
** the buffer and the detail put into it is: only those are read. */
static bool message_valid(const char *msg, size_t size, const markcode_t *mc)
{
  return strlen(msg) < size - 1 ? utf8_valid(mc->err_detail) : utf8_valid(msg);
}

size_t markcode_json_write(const markcode_t *mc, char *out)
{
  json_out_t o = {out};
  if (mc->err != MARKCODE_OK) {
    char msg[512];
    PUT_FIELD(&o, "{\"ok\":false,\"error\":", markcode_err_code(mc->err));
    markcode_message(mc, MARKCODE_LANG_RU, msg, sizeof msg);
    if (message_valid(msg, sizeof msg, mc)) PUT_FIELD(&o, ",\"message\":", msg);
    markcode_message(mc, MARKCODE_LANG_EN, msg, sizeof msg);
    if (message_valid(msg, sizeof msg, mc)) PUT_FIELD(&o, ",\"message_en\":", msg);
    PUT_LIT(&o, ",\"at\":");
    put_int(&o, mc->err_at);
    if (mc->aim[0]) PUT_FIELD(&o, ",\"aim\":", mc->aim);
  } else {
    PUT_LIT(&o, "{\"ok\":true,\"kind\":");
    put_name(&o, markcode_kind_name(mc->kind));
    PUT_LIT(&o, ",\"gtin\":");
    PUT_ARRAY(&o, mc->gtin);
    PUT_LIT(&o, ",\"serial\":");
    PUT_ARRAY(&o, mc->serial);
    PUT_LIT(&o, ",\"ki\":");
    PUT_ARRAY(&o, mc->ki);
    PUT_LIT(&o, ",\"key\":");
    PUT_ARRAY(&o, mc->key);
    PUT_LIT(&o, ",\"tail\":");
    PUT_ARRAY(&o, mc->tail);
    PUT_LIT(&o, ",\"type2100\":");
    put_int(&o, mc->type2100);
    PUT_LIT(&o, ",\"ais\":{");
    for (int k = 0; k < mc->ai_count; k++) {
      if (k) PUT_LIT(&o, ",");
      PUT_ARRAY(&o, mc->ais[k].ai);
      PUT_LIT(&o, ":");
      PUT_ARRAY(&o, mc->ais[k].value);
    }
    PUT_LIT(&o, "},\"normalized\":");
    put_string(&o, mc->normalized, mc->normalized_len);
    PUT_LIT(&o, ",\"fixes\":[");
    /* The set bits in order, lowest first (unknown bits have no name). */
    bool first = true;
    for (uint32_t bits = mc->fixes & ((1u << MARKCODE_FIX__COUNT) - 1); bits; bits &= bits - 1) {
      if (!first) PUT_LIT(&o, ",");
      put_name(&o, markcode_fix_name((markcode_fix_t)(bits & (0u - bits))));
      first = false;
    }
    /* Hex digits need no escaping: written straight into the output, the
    ** two of a byte from a table of all 256 pairs ("%02X"). */
    static const char hex_pairs[] =
        "000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F"
        "202122232425262728292A2B2C2D2E2F303132333435363738393A3B3C3D3E3F"
        "404142434445464748494A4B4C4D4E4F505152535455565758595A5B5C5D5E5F"
        "606162636465666768696A6B6C6D6E6F707172737475767778797A7B7C7D7E7F"
        "808182838485868788898A8B8C8D8E8F909192939495969798999A9B9C9D9E9F"
        "A0A1A2A3A4A5A6A7A8A9AAABACADAEAFB0B1B2B3B4B5B6B7B8B9BABBBCBDBEBF"
        "C0C1C2C3C4C5C6C7C8C9CACBCCCDCECFD0D1D2D3D4D5D6D7D8D9DADBDCDDDEDF"
        "E0E1E2E3E4E5E6E7E8E9EAEBECEDEEEFF0F1F2F3F4F5F6F7F8F9FAFBFCFDFEFF";
    PUT_LIT(&o, "],\"tag1162\":\"");
    size_t t1162 = mc->tag1162_len < sizeof mc->tag1162 ? mc->tag1162_len : sizeof mc->tag1162;
    for (size_t i = 0; i < t1162; i++) memcpy(o.p + 2 * i, hex_pairs + 2 * mc->tag1162[i], 2);
    o.p += 2 * t1162;
    *o.p++ = '"';
    PUT_LIT(&o, ",\"tag1163\":{\"tag\":");
    put_int(&o, mc->tag1163);
    PUT_LIT(&o, ",\"value\":");
    PUT_ARRAY(&o, mc->tag1163_value);
    PUT_LIT(&o, "},\"aim\":");
    PUT_ARRAY(&o, mc->aim);
    PUT_LIT(&o, ",\"layout\":");
    put_name(&o, mc->layout);
    PUT_LIT(&o, ",\"mrp\":");
    PUT_ARRAY(&o, mc->mrp);
  }
  PUT_LIT(&o, "}");
  *o.p = '\0';
  return (size_t)(o.p - out);
}
