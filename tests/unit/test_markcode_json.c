/*
** test_markcode_json.c: the direct JSON writer against jansson, on codes no
** parse would make.
**
** markcode_json_write() (pos/till/markcode_json.h) must give exactly the
** bytes json_dumps(markcode_to_json(mc), JSON_COMPACT) gives. test_samples
** and fuzz_markcode_json hold it to that on what the parser produces; this
** test builds markcode_t values by hand to reach what the writer's shortcuts
** depend on and a parse seldom or never makes: every control character,
** quote and backslash at every place around its sixteen-byte steps, fields
** of every length up to their arrays' last byte, multi-byte UTF-8, a NUL
** inside the normalized form, every length and byte of tag 1162, numbers at
** the edges of the writer's short form, every fix, kind and error, names
** that need escaping, are too long to be kept, and more of them than the
** writer's table of names holds, and a refusal whose detail is not UTF-8
** (jansson leaves its messages out).
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pos/till/markcode_json.h"
#include "scanner/markcode.h"

/* The writer's bytes equal jansson's for mc; prints both when not. */
static int writers_agree(const markcode_t *mc, const char *what)
{
  static char direct[MARKCODE_JSON_MAX];
  size_t n = markcode_json_write(mc, direct);
  json_t *o = markcode_to_json(mc);
  char *dumped = o ? json_dumps(o, JSON_COMPACT) : NULL;
  int same = dumped && strlen(dumped) == n && memcmp(dumped, direct, n) == 0 && direct[n] == '\0';
  if (!same) print_error("%s:\ndirect  %s\njansson %s\n", what, direct, dumped ? dumped : "(null)");
  free(dumped);
  json_decref(o);
  return same;
}

/* The characters a field is filled from: the controls, the two escaped
** printables, plain ASCII around them, DEL, and UTF-8 of two, three and
** four bytes. */
static const char *const alphabet[] = {
    "\x01", "\x02", "\x03", "\x04", "\x05", "\x06", "\x07", "\b",   "\t",   "\n",   "\x0b",
    "\f",   "\r",   "\x0e", "\x0f", "\x10", "\x11", "\x12", "\x13", "\x14", "\x15", "\x16",
    "\x17", "\x18", "\x19", "\x1a", "\x1b", "\x1c", "\x1d", "\x1e", "\x1f", "\"",   "\\",
    " ",    "!",    "#",    "/",    "0",    "A",    "z",    "\x7f", "й",    "€",    "😀",
};
#define ALPHABET_SIZE (sizeof alphabet / sizeof alphabet[0])

/* A string of at most max bytes into dst (room for max + 1): plain letters
** with the alphabet's character `pick` placed at byte `at` (if it fits),
** then characters from the alphabet starting at `pick` after it. */
static size_t fill(char *dst, size_t max, size_t at, size_t pick)
{
  size_t n = 0;
  for (; n < at && n < max; n++) dst[n] = (char)('a' + n % 26);
  for (size_t k = pick; n < max; k++) {
    const char *c = alphabet[k % ALPHABET_SIZE];
    size_t len = strlen(c);
    if (n + len > max) break;
    memcpy(dst + n, c, len);
    n += len;
  }
  dst[n] = '\0';
  return n;
}

/* A code the writer takes the long way: every string field set. */
static void accepted(markcode_t *mc)
{
  memset(mc, 0, sizeof *mc);
  mc->err = MARKCODE_OK;
  mc->err_at = -1;
  mc->kind = MARKCODE_KIND_GS1;
  mc->layout = "crypto_tail";
  strcpy(mc->gtin, "04610080410215");
  strcpy(mc->serial, "e,s;r!t%BroGd");
  strcpy(mc->ki, "010461008041021521e,s;r!t%BroGd");
  strcpy(mc->key, "EE11");
  strcpy(mc->tail, "9GkndNAXaeC4gMRT4LHKh/EkGRn4+gUPdrWMpbtkejw=");
  mc->normalized_len = (size_t)snprintf(mc->normalized, sizeof mc->normalized,
                                        "%s\x1d"
                                        "91%s\x1d"
                                        "92%s",
                                        mc->ki, mc->key, mc->tail);
  mc->ai_count = 4;
  const char *ai[] = {"01", "21", "91", "92"};
  const char *value[] = {mc->gtin, mc->serial, mc->key, mc->tail};
  for (int k = 0; k < 4; k++) {
    strcpy(mc->ais[k].ai, ai[k]);
    strcpy(mc->ais[k].value, value[k]);
  }
  mc->type2100 = 4;
  mc->tag1163 = 1305;
  strcpy(mc->tag1163_value, mc->ki);
  mc->tag1162_len = 21;
  for (size_t i = 0; i < mc->tag1162_len; i++) mc->tag1162[i] = (uint8_t)(0x44 + 7 * i);
}

/* Each string field, one at a time, at every length its array holds and
** with every character of the alphabet at every place of its first
** sixty-four bytes: the steps' edges, an escape as a step's last byte or
** first, a multi-byte character across them. */
static void every_field_every_byte(void **state)
{
  (void)state;
  markcode_t mc;
  int wrong = 0;
#define FIELD(m)                                                                                   \
  {                                                                                                \
    offsetof(markcode_t, m), sizeof(((markcode_t *)0)->m)                                          \
  }
  static const struct {
    size_t offset, cap;
  } fields[] = {
      FIELD(gtin),
      FIELD(serial),
      FIELD(ki),
      FIELD(key),
      FIELD(tail),
      FIELD(mrp),
      FIELD(aim),
      FIELD(tag1163_value),
      FIELD(ais[0].ai),
      FIELD(ais[3].value),
      FIELD(ais[MARKCODE_MAX_AIS - 1].value),
      FIELD(ais[MARKCODE_MAX_AIS - 1].ai),
      FIELD(normalized),
  };
#undef FIELD
  for (size_t f = 0; f < sizeof fields / sizeof fields[0]; f++) {
    accepted(&mc);
    char *s = (char *)&mc + fields[f].offset;
    size_t cap = fields[f].cap;
    if (f >= 10) { /* the last AI written too; keys distinct, as a parse leaves them */
      mc.ai_count = MARKCODE_MAX_AIS;
      for (int k = 4; k < MARKCODE_MAX_AIS; k++)
        snprintf(mc.ais[k].ai, sizeof mc.ais[k].ai, "7%02d", k);
    }
    /* every length up to 70, then every thirteenth and the longest */
    for (size_t len = 0; len < cap; len = len < 70 || len + 1 == cap ? len + 1
                                          : len + 13 < cap - 1       ? len + 13
                                                                     : cap - 1) {
      size_t places = len < 64 ? len + 1 : 64;
      for (size_t at = 0; at < places; at += (len < 40 ? 1 : 7))
        for (size_t pick = 0; pick < ALPHABET_SIZE; pick += (len < 40 ? 1 : 5)) {
          size_t n = fill(s, len, at, pick);
          if (s == mc.normalized) mc.normalized_len = n;
          if (!writers_agree(&mc, "a field")) wrong++;
          if (wrong > 5) fail_msg("field %zu: more than five disagree", f);
        }
    }
  }
  assert_int_equal(wrong, 0);
}

/* The normalized form goes by its length: NULs inside it are written
** (\u0000) and what follows is kept; the bytes after its length are not. */
static void normalized_by_its_length(void **state)
{
  (void)state;
  markcode_t mc;
  int wrong = 0;
  for (size_t len = 0; len < 70; len++)
    for (size_t nul = 0; nul < len; nul += 3) {
      accepted(&mc);
      mc.normalized_len = fill(mc.normalized, len, 0, len); /* whole characters */
      if (nul >= mc.normalized_len) break;
      if ((unsigned char)mc.normalized[nul] >= 0x80) continue; /* part of a character */
      mc.normalized[nul] = '\0';
      if (!writers_agree(&mc, "a NUL in normalized")) wrong++;
    }
  assert_int_equal(wrong, 0);
}

/* Tag 1162 at every length its array holds, every byte value in it. */
static void tag1162_every_length_and_byte(void **state)
{
  (void)state;
  markcode_t mc;
  int wrong = 0;
  for (size_t len = 0; len <= sizeof mc.tag1162; len++)
    for (unsigned first = 0; first < 256; first += 17) {
      accepted(&mc);
      mc.tag1162_len = len;
      for (size_t i = 0; i < sizeof mc.tag1162; i++) mc.tag1162[i] = (uint8_t)(first + 31 * i);
      if (!writers_agree(&mc, "tag 1162")) wrong++;
    }
  accepted(&mc);
  for (unsigned b = 0; b < 256; b++) mc.tag1162[b % sizeof mc.tag1162] = (uint8_t)b;
  for (unsigned round = 0; round < 4; round++) {
    for (size_t i = 0; i < sizeof mc.tag1162; i++) mc.tag1162[i] = (uint8_t)(64 * round + i);
    mc.tag1162_len = sizeof mc.tag1162;
    if (!writers_agree(&mc, "tag 1162, all bytes")) wrong++;
  }
  assert_int_equal(wrong, 0);
}

/* The numbers: the short form's edges (one to four digits), past it,
** negative, the extremes. */
static void numbers_at_the_edges(void **state)
{
  (void)state;
  static const int values[] = {0,       1,       9,           10,         11,    99,     100,
                               101,     999,     1000,        1309,       9999,  10000,  10001,
                               99999,   -1,      -9,          -10,        -9999, -10000, 123456789,
                               INT_MAX, INT_MIN, INT_MAX - 1, INT_MIN + 1};
  markcode_t mc;
  int wrong = 0;
  for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
    accepted(&mc);
    mc.type2100 = values[i];
    mc.tag1163 = values[sizeof values / sizeof values[0] - 1 - i];
    if (!writers_agree(&mc, "numbers")) wrong++;
    mc.err = MARKCODE_ERR_BAD_CHAR;
    mc.err_at = values[i];
    strcpy(mc.err_detail, "~");
    if (!writers_agree(&mc, "a refusal's position")) wrong++;
  }
  assert_int_equal(wrong, 0);
}

/* Every kind, every fix alone and every set of them the low bits make
** (unknown bits have no name), every error with an AIM id and without. */
static void kinds_fixes_errors(void **state)
{
  (void)state;
  markcode_t mc;
  int wrong = 0;
  for (int kind = 0; kind <= MARKCODE_KIND__COUNT; kind++) {
    accepted(&mc);
    mc.kind = (markcode_kind_t)kind; /* the count itself: no name, "" */
    if (!writers_agree(&mc, "a kind")) wrong++;
  }
  for (uint32_t fixes = 0; fixes < (1u << MARKCODE_FIX__COUNT); fixes += 37) {
    accepted(&mc);
    mc.fixes = fixes | (fixes % 3 == 0 ? 0xFFFF0000u : 0); /* and unknown bits */
    if (!writers_agree(&mc, "fixes")) wrong++;
  }
  accepted(&mc);
  mc.fixes = (1u << MARKCODE_FIX__COUNT) - 1;
  if (!writers_agree(&mc, "every fix")) wrong++;
  for (int err = 1; err <= MARKCODE_ERR__COUNT; err++)
    for (int aim = 0; aim < 2; aim++) {
      accepted(&mc);
      mc.err = (markcode_err_t)err; /* the count itself: "unknown" */
      mc.err_at = 17;
      strcpy(mc.aim, aim ? "]d2" : "");
      fill(mc.err_detail, sizeof mc.err_detail - 1, 0, (size_t)err);
      if (!writers_agree(&mc, "an error")) wrong++;
    }
  assert_int_equal(wrong, 0);
}

/* A detail that is not UTF-8 (jansson leaves both messages out), one that
** is multi-byte UTF-8, and one as long as the detail holds. */
static void refusal_details(void **state)
{
  (void)state;
  static const char *const details[] = {
      "\xff",
      "ok\xc3",
      "abcdefgh\x80",
      "йцукен",
      "a\"b\\c\x1d",
      "€€€€€€€€€€€€€€€€€€€€€",
      "0123456789012345678901234567890123456789012345678901234567890123"};
  markcode_t mc;
  int wrong = 0;
  for (int err = 1; err < MARKCODE_ERR__COUNT; err++)
    for (size_t d = 0; d < sizeof details / sizeof details[0]; d++) {
      accepted(&mc);
      mc.err = (markcode_err_t)err;
      mc.err_at = 3;
      snprintf(mc.err_detail, sizeof mc.err_detail, "%s", details[d]);
      if (!writers_agree(&mc, "a refusal's detail")) wrong++;
    }
  assert_int_equal(wrong, 0);
}

/* Layout names the writer's table of names must take: one with bytes to
** escape, one too long to keep, and more distinct ones than the table has
** slots (each static, as the parser's are), twice over. */
static char many_names[300][12];
static void names_beyond_the_table(void **state)
{
  (void)state;
  static const char *const odd[] = {"", "a\"b\\c\x01", "a_layout_name_longer_than_thirty_two_bytes",
                                    "thirty_bytes_long_name_abcdefg",
                                    "thirty_one_bytes_long_name_abcd"};
  markcode_t mc;
  int wrong = 0;
  for (int round = 0; round < 2; round++) {
    for (size_t i = 0; i < sizeof odd / sizeof odd[0]; i++) {
      accepted(&mc);
      mc.layout = odd[i];
      if (!writers_agree(&mc, "an odd layout name")) wrong++;
    }
    for (size_t i = 0; i < sizeof many_names / sizeof many_names[0]; i++) {
      snprintf(many_names[i], sizeof many_names[i], "layout%zu", i);
      accepted(&mc);
      mc.layout = many_names[i];
      mc.fixes = (uint32_t)i & ((1u << MARKCODE_FIX__COUNT) - 1);
      if (!writers_agree(&mc, "one of many layout names")) wrong++;
    }
  }
  assert_int_equal(wrong, 0);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(every_field_every_byte),
      cmocka_unit_test(normalized_by_its_length),
      cmocka_unit_test(tag1162_every_length_and_byte),
      cmocka_unit_test(numbers_at_the_edges),
      cmocka_unit_test(kinds_fixes_errors),
      cmocka_unit_test(refusal_details),
      cmocka_unit_test(names_beyond_the_table),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
