/*
** markcode_json.c: render a markcode_t as the contract JSON object, as a
** jansson object or written straight as text (the bulk command line).
** Kept out of scanner/ so the parser stays free of any output format.
*/
#include "pos/till/markcode_json.h"
#include "scanner/layout.h"

#include <stdbool.h>
#include <stddef.h>
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

/* The writer's cursor. out has MARKCODE_JSON_MAX bytes, more than the
** longest object a markcode_t can make (every string of it at most six
** bytes a character escaped, about 26 000 in all) plus the sixteen a step
** may store past what it keeps, so no step checks room (the fuzzer runs
** the writer under AddressSanitizer). */
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

/* What jansson writes for a byte it escapes in a string (JSON_COMPACT, no
** JSON_ENSURE_ASCII, no JSON_ESCAPE_SLASH): the quote, the backslash and
** every control character (the NUL of a string given with its length
** included); the five with a short form use it, the rest \u00XX in
** capitals. Indexed by the byte (up to '\\'), the sequence padded to
** eight bytes with its length in the last: one 8-byte store writes it. */
#define HEX_DIGIT(n) ((char)((n) < 10 ? '0' + (n) : 'A' + (n)-10))
#define ESC_U(c)     [c] = {'\\', 'u', '0', '0', HEX_DIGIT((c) >> 4), HEX_DIGIT((c)&15), 0, 6}
#define ESC_2(c, e)  [c] = {'\\', e, 0, 0, 0, 0, 0, 2}
static const char json_escape_seq['\\' + 1][8] = {
    ESC_U(0x00),      ESC_U(0x01), ESC_U(0x02),      ESC_U(0x03),       ESC_U(0x04),
    ESC_U(0x05),      ESC_U(0x06), ESC_U(0x07),      ESC_2('\b', 'b'),  ESC_2('\t', 't'),
    ESC_2('\n', 'n'), ESC_U(0x0B), ESC_2('\f', 'f'), ESC_2('\r', 'r'),  ESC_U(0x0E),
    ESC_U(0x0F),      ESC_U(0x10), ESC_U(0x11),      ESC_U(0x12),       ESC_U(0x13),
    ESC_U(0x14),      ESC_U(0x15), ESC_U(0x16),      ESC_U(0x17),       ESC_U(0x18),
    ESC_U(0x19),      ESC_U(0x1A), ESC_U(0x1B),      ESC_U(0x1C),       ESC_U(0x1D),
    ESC_U(0x1E),      ESC_U(0x1F), ESC_2('"', '"'),  ESC_2('\\', '\\'),
};
#undef ESC_U
#undef ESC_2

/* The escape of c (a byte escape_mask16 flags) at p; returns its end. */
static char *put_escape(char *p, unsigned char c)
{
  memcpy(p, json_escape_seq[c], 8); /* room: as every step's overshoot */
  return p + json_escape_seq[c][7];
}

/* Bit i set when byte i of the 16 at s needs escaping or ends a string: a
** control character (the NUL among them), '"' or '\\'. One vector compare
** (GCC/Clang vector extensions: SSE2 on x86-64, NEON on ARM), the lanes
** gathered into bits by pmovmskb where there is one, else a multiply. */
typedef unsigned char bytes16_t __attribute__((vector_size(16)));
typedef char sbytes16_t __attribute__((vector_size(16)));
static unsigned escape_mask16(const char *s)
{
  bytes16_t v;
  memcpy(&v, s, sizeof v);
  bytes16_t bad = (bytes16_t)((v < 0x20) | (v == '"') | (v == '\\'));
#if defined(__SSE2__)
  return (unsigned)__builtin_ia32_pmovmskb128((sbytes16_t)bad);
#else
  uint64_t half[2];
  memcpy(half, &bad, sizeof half);
  const uint64_t highs = 0x8080808080808080u, gather = 0x0002040810204081u;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
  half[0] = __builtin_bswap64(half[0]);
  half[1] = __builtin_bswap64(half[1]);
#endif
  return (unsigned)(((half[0] & highs) * gather) >> 56) |
         (unsigned)(((half[1] & highs) * gather) >> 56) << 8;
#endif
}

/* "s" escaped as jansson does, sixteen bytes a step: each step checks
** sixteen bytes as one vector, stores all sixteen and keeps those before
** the first byte to escape (or the string's end), so a field's length is
** never measured apart and a short field is one step. The string is the
** n bytes at s, or, with nul_ends, those before the first NUL in them (a
** char array of markcode_t). Reads up to 15 bytes past s + n: the caller
** has them readable (inside the same object; their values do not matter). */
static inline __attribute__((always_inline)) void put_run(json_out_t *o, const char *s, size_t n,
                                                          bool nul_ends)
{
  char *p = o->p;
  size_t i = 0;
  *p++ = '"';
  while (i < n) {
    unsigned mask = escape_mask16(s + i);
    memcpy(p, s + i, 16); /* room: MARKCODE_JSON_MAX holds the worst case */
    size_t clean = mask ? (size_t)__builtin_ctz(mask) : 16;
    if (clean >= n - i) { /* the end of the string comes first */
      p += n - i;
      break;
    }
    p += clean;
    i += clean;
    if (clean == 16) continue;
    unsigned char c = (unsigned char)s[i++];
    if (nul_ends && c == '\0') break;
    p = put_escape(p, c);
  }
  *p++ = '"';
  o->p = p;
}

/* n bytes at s (15 more readable past them, see put_run). */
static inline __attribute__((always_inline)) void put_string(json_out_t *o, const char *s, size_t n)
{
  put_run(o, s, n, false);
}

/* A char array of markcode_t holding a string: every one has at least 15
** bytes of the struct after it (checked below), so put_run may read them. */
static inline __attribute__((always_inline)) void put_field(json_out_t *o, const char *s,
                                                            size_t cap)
{
  put_run(o, s, cap, true);
}
#define PUT_ARRAY(o, array) put_field((o), (array), sizeof(array))
#define SLACK_AFTER(field)                                                                         \
  _Static_assert(offsetof(markcode_t, field) + sizeof(((markcode_t *)0)->field) + 15 <=            \
                     sizeof(markcode_t),                                                           \
                 "15 bytes of markcode_t after " #field)
SLACK_AFTER(aim);
SLACK_AFTER(gtin);
SLACK_AFTER(serial);
SLACK_AFTER(key);
SLACK_AFTER(tail);
SLACK_AFTER(mrp);
SLACK_AFTER(ki);
SLACK_AFTER(normalized);
SLACK_AFTER(ais);
SLACK_AFTER(tag1163_value);

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
    /* A message is at most MESSAGE_MAX - 1 bytes; the 16 after it are for
    ** put_string's reads past its end. */
    enum { MESSAGE_MAX = 512 };
    char msg[MESSAGE_MAX + 16];
    PUT_LIT(&o, "{\"ok\":false,\"error\":");
    put_name(&o, markcode_err_code(mc->err));
    markcode_message(mc, MARKCODE_LANG_RU, msg, MESSAGE_MAX);
    if (message_valid(msg, MESSAGE_MAX, mc)) {
      PUT_LIT(&o, ",\"message\":");
      put_string(&o, msg, strlen(msg));
    }
    markcode_message(mc, MARKCODE_LANG_EN, msg, MESSAGE_MAX);
    if (message_valid(msg, MESSAGE_MAX, mc)) {
      PUT_LIT(&o, ",\"message_en\":");
      put_string(&o, msg, strlen(msg));
    }
    PUT_LIT(&o, ",\"at\":");
    put_int(&o, mc->err_at);
    if (mc->aim[0]) {
      PUT_LIT(&o, ",\"aim\":");
      PUT_ARRAY(&o, mc->aim);
    }
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
