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
** bytes a character escaped, about 26 000 in all) plus the 32 a step may
** store past what it keeps, so no step checks room (the fuzzer runs the
** writer under AddressSanitizer). */
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

#define ALWAYS_INLINE inline __attribute__((always_inline))

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

/* Does jansson escape byte c? */
static ALWAYS_INLINE bool escaped_byte(unsigned char c)
{
  return c < 0x20 || c == '"' || c == '\\';
}

/* The escape of c (a byte escaped_byte() accepts) at p; returns its end. */
static ALWAYS_INLINE char *put_escape(char *p, unsigned char c)
{
  memcpy(p, json_escape_seq[c], 8); /* room: as every step's overshoot */
  return p + json_escape_seq[c][7];
}

/* Bit i set when byte i of the 16 at s needs escaping or ends a string: a
** control character (the NUL among them), '"' or '\\'. The byte xor 2 is
** at most 0x20 exactly for the controls (which stay below 0x20) and '"'
** (0x22 -> 0x20), so the test is two compares and an or (GCC/Clang vector
** extensions: SSE2 on x86-64, NEON on ARM), the lanes gathered into bits
** by pmovmskb where there is one, else a multiply. */
typedef unsigned char bytes16_t __attribute__((vector_size(16)));
typedef char sbytes16_t __attribute__((vector_size(16)));
static ALWAYS_INLINE unsigned escape_mask16(const char *s)
{
  bytes16_t v;
  memcpy(&v, s, sizeof v);
  bytes16_t bad = (bytes16_t)(((v ^ 2) <= 0x20) | (v == '\\'));
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

/* The n bytes at s escaped as jansson does (the quotes around them are
** the caller's, joined to the keys' literals), sixteen bytes a step: each
** step checks sixteen bytes as one vector, stores all sixteen and keeps
** those before the first byte to escape (or the string's end), so a short
** string is one step. Reads up to 15 bytes past s + n: the caller has them
** readable (their values do not matter). */
static ALWAYS_INLINE void put_string(json_out_t *o, const char *s, size_t n)
{
  char *p = o->p;
  size_t i = 0;
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
    p = put_escape(p, (unsigned char)s[i++]);
  }
  o->p = p;
}

/* A char array of markcode_t holding a string (cap bytes, the string ends
** at its first NUL, as json_string() reads it), escaped sixteen bytes a
** step as put_string(), but the NUL is found by the same compare as the
** bytes to escape, so the string's length is never measured and the usual
** step (a field shorter than sixteen bytes, or its last sixteen) is a
** compare, a store and a count of trailing zeros. Only a step that goes on
** checks the array's end: an array without a NUL (no parse leaves one) is
** cut at its end and nothing is read more than 15 bytes past it, which
** every field has inside markcode_t (checked below). */
static ALWAYS_INLINE void put_field(json_out_t *o, const char *s, size_t cap)
{
  const char *end = s + cap;
  char *p = o->p;
  for (;;) {
    unsigned mask = escape_mask16(s);
    memcpy(p, s, 16); /* room: MARKCODE_JSON_MAX holds the worst case */
    if (__builtin_expect(mask != 0, 1)) {
      unsigned k = (unsigned)__builtin_ctz(mask);
      p += k;
      s += k;
      unsigned char c = (unsigned char)*s++;
      if (__builtin_expect(c == '\0', 1)) break;
      p = put_escape(p, c);
      if (s >= end) break;
    } else {
      p += 16;
      s += 16;
      if (s >= end) {
        p -= s - end;
        break;
      }
    }
  }
  o->p = p;
}
#define PUT_ARRAY(o, array) put_field((o), (array), sizeof(array))
/* The same for a field that is mostly empty (aim, mrp, key): its first byte
** looked at before any step. */
#define PUT_MOSTLY_EMPTY(o, array)                                                                 \
  do {                                                                                             \
    if ((array)[0]) put_field((o), (array), sizeof(array));                                        \
  } while (0)
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

/* The names from the parser's constant tables (kind, layout, fix, error
** code) are static strings (scanner/markcode.h), so each is quoted and
** escaped once a thread and kept by its address: a name is then one
** lookup and a 32-byte copy, with neither its length measured nor its
** bytes checked. The table is the thread's own (no lock, no race), open
** addressing by the address's hash: the names are a few dozen, so it does
** not fill, and if it ever did a name would just be written byte by byte. */
enum { NAME_TEXT = 32, NAME_HASH_BITS = 7, NAME_SLOTS = 1 << NAME_HASH_BITS };
typedef struct name_slot {
  const char *name;     /* the string this slot holds, or NULL */
  size_t len;           /* bytes of text used */
  char text[NAME_TEXT]; /* the name quoted and escaped, as written */
} name_slot_t;
static _Thread_local name_slot_t name_cache[NAME_SLOTS];

/* The slot where a lookup of name starts (Fibonacci hashing). */
static ALWAYS_INLINE size_t name_home(const char *name)
{
  return (size_t)(((uint64_t)(uintptr_t)name * 0x9E3779B97F4A7C15u) >> (64 - NAME_HASH_BITS));
}

/* A name not in its home slot: the slots after it searched, the name
** written at p from there or byte by byte (and kept in the first free slot
** when it fits). Returns the end of what was written. */
static __attribute__((noinline)) char *put_name_probe(char *p, const char *name)
{
  name_slot_t *free_slot = NULL;
  for (size_t k = 0, i = name_home(name); k < NAME_SLOTS; k++, i = (i + 1) % NAME_SLOTS) {
    name_slot_t *slot = &name_cache[i];
    if (slot->name == name) {
      memcpy(p, slot->text, slot->len);
      return p + slot->len;
    }
    if (!slot->name) {
      free_slot = slot;
      break;
    }
  }
  char *start = p;
  *p++ = '"';
  for (const unsigned char *s = (const unsigned char *)name; *s; s++) {
    if (escaped_byte(*s))
      p = put_escape(p, *s);
    else
      *p++ = (char)*s;
  }
  *p++ = '"';
  size_t len = (size_t)(p - start);
  if (free_slot && len <= NAME_TEXT) {
    memcpy(free_slot->text, start, len);
    free_slot->len = len;
    free_slot->name = name;
  }
  return p;
}

/* A name from the parser's tables (static, never NULL), quoted. */
static ALWAYS_INLINE void put_name(json_out_t *o, const char *name)
{
  const name_slot_t *slot = &name_cache[name_home(name)];
  if (__builtin_expect(slot->name == name, 1)) {
    memcpy(o->p, slot->text, NAME_TEXT); /* room: as every step's overshoot */
    o->p += slot->len;
  } else {
    o->p = put_name_probe(o->p, name);
  }
}

/* "00" to "99": two digits of a number in one copy. */
static const char digit_pairs[] = "00010203040506070809101112131415161718192021222324252627282930"
                                  "31323334353637383940414243444546474849505152535455565758596061"
                                  "62636465666768697071727374757677787980818283848586878889909192"
                                  "93949596979899";

/* An integer as jansson prints it ("%lld"), without printf. */
static __attribute__((noinline)) char *put_int_any(char *out, long long v)
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
  memcpy(out, p, 24); /* room: MARKCODE_JSON_MAX holds the worst case */
  return out + (end - p);
}

/* The same; the writer's numbers are a code's type (one digit), tag 1163
** (four) and a position (up to three): one digit is one store, four are
** two pairs of digits, the rest go the long way. */
static ALWAYS_INLINE void put_int(json_out_t *o, long long v)
{
  if ((unsigned long long)v < 10) {
    *o->p++ = (char)('0' + v);
    return;
  }
  if ((unsigned long long)v - 1000 < 9000) {
    unsigned u = (unsigned)v;
    memcpy(o->p, digit_pairs + 2 * (u / 100), 2);
    memcpy(o->p + 2, digit_pairs + 2 * (u % 100), 2);
    o->p += 4;
    return;
  }
  o->p = put_int_any(o->p, v);
}

/* The n bytes at b as upper-case hex ("%02X" each), at p; returns the end.
** Hex digits need no escaping. With SSE2 sixteen bytes a step, each nibble
** turned into its digit by an add and a compare, the step reading up to 15
** bytes past b + n (the caller's array has them) and storing up to 31 past
** the end; else two digits a byte from a table of the 256 pairs. */
#if defined(__SSE2__)
#include <emmintrin.h>
static ALWAYS_INLINE char *put_hex(char *p, const uint8_t *b, size_t n)
{
  const __m128i low4 = _mm_set1_epi8(0x0F), nine = _mm_set1_epi8(9);
  const __m128i zero = _mm_set1_epi8('0'), letters = _mm_set1_epi8('A' - '0' - 10);
  for (size_t i = 0; i < n; i += 16) {
    __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(b + i));
    __m128i high = _mm_and_si128(_mm_srli_epi16(v, 4), low4), low = _mm_and_si128(v, low4);
    __m128i first = _mm_unpacklo_epi8(high, low), second = _mm_unpackhi_epi8(high, low);
    first = _mm_add_epi8(_mm_add_epi8(first, zero),
                         _mm_and_si128(_mm_cmpgt_epi8(first, nine), letters));
    second = _mm_add_epi8(_mm_add_epi8(second, zero),
                          _mm_and_si128(_mm_cmpgt_epi8(second, nine), letters));
    _mm_storeu_si128((__m128i *)(void *)(p + 2 * i), first);
    _mm_storeu_si128((__m128i *)(void *)(p + 2 * i + 16), second);
  }
  return p + 2 * n;
}
#else
static char *put_hex(char *p, const uint8_t *b, size_t n)
{
  static const char hex_pairs[] =
      "000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F"
      "202122232425262728292A2B2C2D2E2F303132333435363738393A3B3C3D3E3F"
      "404142434445464748494A4B4C4D4E4F505152535455565758595A5B5C5D5E5F"
      "606162636465666768696A6B6C6D6E6F707172737475767778797A7B7C7D7E7F"
      "808182838485868788898A8B8C8D8E8F909192939495969798999A9B9C9D9E9F"
      "A0A1A2A3A4A5A6A7A8A9AAABACADAEAFB0B1B2B3B4B5B6B7B8B9BABBBCBDBEBF"
      "C0C1C2C3C4C5C6C7C8C9CACBCCCDCECFD0D1D2D3D4D5D6D7D8D9DADBDCDDDEDF"
      "E0E1E2E3E4E5E6E7E8E9EAEBECEDEEEFF0F1F2F3F4F5F6F7F8F9FAFBFCFDFEFF";
  for (size_t i = 0; i < n; i++) memcpy(p + 2 * i, hex_pairs + 2 * b[i], 2);
  return p + 2 * n;
}
#endif
_Static_assert(sizeof(((markcode_t *)0)->tag1162) % 16 == 0,
               "put_hex reads tag1162 in whole steps of sixteen bytes");

/* jansson refuses a string that is not UTF-8 (json_string gives NULL and the
** key is left out). ASCII, what nearly every detail is, is checked eight
** bytes a step before anything is decoded. */
static bool utf8_valid(const char *s, size_t n)
{
  size_t i = 0;
  for (uint64_t word; i + 8 <= n; i += 8) {
    memcpy(&word, s + i, 8);
    if (word & 0x8080808080808080u) break;
  }
  while (i < n) {
    uint32_t cp;
    size_t used = layout_utf8_decode((const unsigned char *)s + i, n - i, &cp);
    if (used == 0) return false;
    i += used;
  }
  return true;
}

/* ,"key":"message" for mc's message in lang, or nothing when jansson would
** leave it out (not UTF-8). A message is built from a constant template
** (UTF-8) and perhaps the detail: when the buffer did not cut it and the
** detail is UTF-8 (detail_ok), so is the message; else it is checked whole
** (a detail that is not UTF-8 may not be in it). */
static ALWAYS_INLINE void put_message(json_out_t *o, const markcode_t *mc, markcode_lang_t lang,
                                      bool detail_ok, bool english)
{
  /* A message is at most MESSAGE_MAX - 1 bytes; the 16 after it are for
  ** put_string's reads past its end. */
  enum { MESSAGE_MAX = 512 };
  char msg[MESSAGE_MAX + 16];
  markcode_message(mc, lang, msg, MESSAGE_MAX);
  size_t len = strlen(msg);
  if (!(len < MESSAGE_MAX - 1 && detail_ok) && !utf8_valid(msg, len)) return;
  if (english)
    PUT_LIT(o, ",\"message_en\":\"");
  else
    PUT_LIT(o, ",\"message\":\"");
  put_string(o, msg, len);
  *o->p++ = '"';
}

/* Aligned to a cache line, so its loops keep their place in the lines
** whatever is linked before it: unaligned, moving it by 48-176 bytes moved
** the command's time by up to 5 % (docs/BENCHMARKS.md). */
__attribute__((aligned(64))) size_t markcode_json_write(const markcode_t *mc, char *out)
{
  /* Each string's quotes are written with the literal before or after it
  ** (a key's closing quote, colon and the value's opening quote in one). */
  json_out_t o = {out};
  if (mc->err != MARKCODE_OK) {
    bool detail_ok = utf8_valid(mc->err_detail, strnlen(mc->err_detail, sizeof mc->err_detail));
    PUT_LIT(&o, "{\"ok\":false,\"error\":");
    put_name(&o, markcode_err_code(mc->err));
    put_message(&o, mc, MARKCODE_LANG_RU, detail_ok, false);
    put_message(&o, mc, MARKCODE_LANG_EN, detail_ok, true);
    PUT_LIT(&o, ",\"at\":");
    put_int(&o, mc->err_at);
    if (mc->aim[0]) {
      PUT_LIT(&o, ",\"aim\":\"");
      PUT_ARRAY(&o, mc->aim);
      *o.p++ = '"';
    }
  } else {
    PUT_LIT(&o, "{\"ok\":true,\"kind\":");
    put_name(&o, markcode_kind_name(mc->kind));
    PUT_LIT(&o, ",\"gtin\":\"");
    PUT_ARRAY(&o, mc->gtin);
    PUT_LIT(&o, "\",\"serial\":\"");
    PUT_ARRAY(&o, mc->serial);
    PUT_LIT(&o, "\",\"ki\":\"");
    PUT_ARRAY(&o, mc->ki);
    PUT_LIT(&o, "\",\"key\":\"");
    PUT_MOSTLY_EMPTY(&o, mc->key);
    PUT_LIT(&o, "\",\"tail\":\"");
    PUT_ARRAY(&o, mc->tail);
    PUT_LIT(&o, "\",\"type2100\":");
    put_int(&o, mc->type2100);
    PUT_LIT(&o, ",\"ais\":{");
    for (int k = 0; k < mc->ai_count; k++) {
      *o.p = ','; /* before every AI but the first */
      o.p += k != 0;
      *o.p++ = '"';
      PUT_ARRAY(&o, mc->ais[k].ai);
      PUT_LIT(&o, "\":\"");
      PUT_ARRAY(&o, mc->ais[k].value);
      *o.p++ = '"';
    }
    PUT_LIT(&o, "},\"normalized\":\"");
    put_string(&o, mc->normalized, mc->normalized_len);
    PUT_LIT(&o, "\",\"fixes\":[");
    /* The set bits in order, lowest first (unknown bits have no name). */
    for (uint32_t bits = mc->fixes & ((1u << MARKCODE_FIX__COUNT) - 1); bits; bits &= bits - 1) {
      put_name(&o, markcode_fix_name((markcode_fix_t)(bits & (0u - bits))));
      *o.p++ = ','; /* the last one taken back below */
    }
    o.p -= o.p[-1] == ',';
    PUT_LIT(&o, "],\"tag1162\":\"");
    o.p = put_hex(o.p, mc->tag1162,
                  mc->tag1162_len < sizeof mc->tag1162 ? mc->tag1162_len : sizeof mc->tag1162);
    PUT_LIT(&o, "\",\"tag1163\":{\"tag\":");
    put_int(&o, mc->tag1163);
    PUT_LIT(&o, ",\"value\":\"");
    PUT_ARRAY(&o, mc->tag1163_value);
    PUT_LIT(&o, "\"},\"aim\":\"");
    PUT_MOSTLY_EMPTY(&o, mc->aim);
    PUT_LIT(&o, "\",\"layout\":");
    put_name(&o, mc->layout);
    PUT_LIT(&o, ",\"mrp\":\"");
    PUT_MOSTLY_EMPTY(&o, mc->mrp);
    *o.p++ = '"';
  }
  PUT_LIT(&o, "}");
  *o.p = '\0';
  return (size_t)(o.p - out);
}
