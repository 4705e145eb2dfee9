/*
** test_samples.c: every line of the sample files in tests/data/, checked.
**
** tests/data/marking_codes.jsonl holds the project's first samples;
** tests/data/marking_codes_public.jsonl holds codes gathered from public
** driver tests, front-end tests and issue trackers (issue 15), each line
** with its "source" and "licence". A line holds a scan ("input", with
** \x1d or \u001d for GS as the sources write it) and what must come out,
** written from the GS1 and CRPT rules before the parser was run: "ok", and
** when given "kind", "gtin", "serial", "layout", "error" (the stable error
** code), "fixes" (names that must all be recorded) and "tag1162" (the
** FFD 1.05 bytes in hex). A line that does not match fails the test with
** its number and what came out.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pos/cli/cli.h"
#include "pos/till/markcode_json.h"
#include "scanner/layout.h"
#include "scanner/markcode.h"

static const char *field(json_t *o, const char *k)
{
  json_t *v = json_object_get(o, k);
  return json_is_string(v) ? json_string_value(v) : NULL;
}

/* Is the fix called `name` recorded in mc? */
static int has_fix(const markcode_t *mc, const char *name)
{
  for (unsigned k = 0; k < MARKCODE_FIX__COUNT; k++)
    if ((mc->fixes & (1u << k)) && strcmp(markcode_fix_name((markcode_fix_t)(1u << k)), name) == 0)
      return 1;
  return 0;
}

/* The lowercase-insensitive hex of mc's tag 1162 equals want? */
static int tag1162_is(const markcode_t *mc, const char *want)
{
  char hex[2 * sizeof mc->tag1162 + 1];
  for (size_t i = 0; i < mc->tag1162_len; i++) snprintf(hex + 2 * i, 3, "%02X", mc->tag1162[i]);
  hex[2 * mc->tag1162_len] = '\0';
  if (strlen(want) != strlen(hex)) return 0;
  for (size_t i = 0; hex[i]; i++)
    if ((want[i] | 0x20) != (hex[i] | 0x20)) return 0;
  return 1;
}

/* The direct JSON writer (`kassa code parse`) against jansson's own output
** of the same code: byte for byte. */
static int json_agrees(const markcode_t *mc)
{
  static char direct[MARKCODE_JSON_MAX];
  size_t n = markcode_json_write(mc, direct);
  json_t *o = markcode_to_json(mc);
  char *dumped = json_dumps(o, JSON_COMPACT);
  int same = dumped && strlen(dumped) == n && memcmp(dumped, direct, n) == 0;
  if (!same) print_error("direct JSON  %s\njansson JSON %s\n", direct, dumped);
  free(dumped);
  json_decref(o);
  return same;
}

/* The fast path and the full one on one input: same markcode_t in every
** field the contract shows, and the same JSON from both writers. Counts a
** disagreement in *wrong and says which. */
static void paths_agree(const char *input, size_t len, const char *what, int *wrong)
{
  markcode_t fast, full;
  markcode_parse(&fast, input, len);
  markcode_parse_full(&full, input, len);
  if (!json_agrees(&fast)) (*wrong)++;
  if (!markcode_same(&fast, &full)) {
    (*wrong)++;
    print_error(
        "fast and full paths differ on %s (%zu bytes): fast %s/%s at %d, full %s/%s at %d\n", what,
        len, markcode_err_code(fast.err), fast.layout, fast.err_at, markcode_err_code(full.err),
        full.layout, full.err_at);
  }
}

/* paths_agree() on the input and on the input as a keyboard-wedge scanner
** types it while the till's layout is Russian (every printable ASCII
** character as the Russian key gives it): the fast path decodes such a
** scan in full and then reads it by its fast pass. */
static void paths_agree_typed(const char *input, size_t len, const char *what, int *wrong)
{
  char ru[4 * (2 * MARKCODE_MAX_INPUT + 16)];
  size_t n = 0;
  paths_agree(input, len, what, wrong);
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)input[i];
    uint32_t cp = c >= 0x20 && c < 0x7F ? layout_us_to_ru((char)c) : 0;
    if (cp)
      n += layout_utf8_encode(cp, ru + n);
    else
      ru[n++] = (char)c;
  }
  paths_agree(ru, n, "the same under the Russian layout", wrong);
}

/* Every sample as scanners damage it: with an AIM prefix, separators
** before, after and doubled, whitespace around; and every position of it
** deleted, replaced by a separator, preceded by one, or replaced by a
** character of a few kinds; all but the last also as typed under the
** Russian layout. The fast path must agree with the full one on all of
** them, and take most clean ones (the benchmark measures that). */
static void variants_agree(const char *input, size_t len, int *wrong)
{
  static const char *const around[][2] = {
      {"", ""},      {"]d2", ""},     {"\x1d", ""},    {"", "\x1d"},     {"", "\x1d\x1d"},
      {" ", "\r\n"}, {"]d2\x1d", ""}, {"]Q3", "\x1d"}, {"\x1d\x1d", ""}, {"]d", ""},
  };
  static const char swaps[] = {0x1d, ' ', '<', '&', '=', 'A', 'a', '0', '9', '#', '\\', (char)0xE8};
  char buf[2 * MARKCODE_MAX_INPUT + 16];
  if (len > MARKCODE_MAX_INPUT) return;
  for (size_t a = 0; a < sizeof around / sizeof around[0]; a++) {
    int n = snprintf(buf, sizeof buf, "%s%.*s%s", around[a][0], (int)len, input, around[a][1]);
    paths_agree_typed(buf, (size_t)n, "a variant around the sample", wrong);
  }
  for (size_t i = 0; i < len; i++) {
    memcpy(buf, input, i); /* delete byte i */
    memcpy(buf + i, input + i + 1, len - i - 1);
    paths_agree_typed(buf, len - 1, "a byte deleted", wrong);
    memcpy(buf, input, i); /* a separator inserted before byte i */
    buf[i] = 0x1d;
    memcpy(buf + i + 1, input + i, len - i);
    paths_agree_typed(buf, len + 1, "a separator inserted", wrong);
    for (size_t k = 0; k < sizeof swaps; k++) {
      memcpy(buf, input, len);
      buf[i] = swaps[k];
      paths_agree(buf, len, "a byte replaced", wrong);
    }
  }
  /* As a keyboard wedge sends it, every separator lost (the layouts place
  ** the fields, a layout's first path at once when the code fits it), and
  ** that with each byte deleted or replaced (a length or an AI that no
  ** longer fits the first path). */
  char wedge[MARKCODE_MAX_INPUT + 1];
  size_t wn = 0;
  for (size_t i = 0; i < len; i++)
    if (input[i] != 0x1d) wedge[wn++] = input[i];
  if (wn == len) return;
  paths_agree_typed(wedge, wn, "every separator lost", wrong);
  for (size_t i = 0; i < wn; i++) {
    memcpy(buf, wedge, i);
    memcpy(buf + i, wedge + i + 1, wn - i - 1);
    paths_agree(buf, wn - 1, "every separator lost, a byte deleted", wrong);
    for (size_t k = 1; k < sizeof swaps; k++) {
      memcpy(buf, wedge, wn);
      buf[i] = swaps[k];
      paths_agree(buf, wn, "every separator lost, a byte replaced", wrong);
    }
  }
}

/* Check every line of path; returns the number of lines read. */
static int check_file(const char *path, int *wrong)
{
  FILE *f = fopen(path, "r");
  assert_non_null(f);
  char line[4096];
  int n = 0;
  while (fgets(line, sizeof line, f)) {
    json_error_t jerr;
    json_t *row = json_loads(line, 0, &jerr);
    if (row == NULL) fail_msg("%s:%d: not JSON: %s", path, n + 1, jerr.text);
    n++;
    char input[2048];
    snprintf(input, sizeof input, "%s", field(row, "input"));
    size_t len = cli_unescape(input, strlen(input));
    markcode_t mc;
    markcode_parse(&mc, input, len);
    variants_agree(input, len, wrong);
    int want_ok = json_is_true(json_object_get(row, "ok"));
    const char *kind = field(row, "kind"), *gtin = field(row, "gtin"),
               *serial = field(row, "serial"), *error = field(row, "error"),
               *layout = field(row, "layout"), *t1162 = field(row, "tag1162");
    int bad = (mc.err == MARKCODE_OK) != want_ok ||
              (kind && strcmp(kind, markcode_kind_name(mc.kind))) ||
              (gtin && strcmp(gtin, mc.gtin)) || (serial && strcmp(serial, mc.serial)) ||
              (error && strcmp(error, markcode_err_code(mc.err))) ||
              (layout && strcmp(layout, mc.layout)) || (t1162 && !tag1162_is(&mc, t1162));
    json_t *fixes = json_object_get(row, "fixes");
    size_t i;
    json_t *fx;
    json_array_foreach(fixes, i, fx) if (!has_fix(&mc, json_string_value(fx))) bad = 1;
    if (!field(row, "group")) bad = 1;
    if (bad) {
      (*wrong)++;
      print_error("%s line %d (%s): got ok=%d kind=%s gtin=%s serial=%s layout=%s error=%s "
                  "fixes=0x%x\n",
                  path, n, field(row, "group"), mc.err == MARKCODE_OK, markcode_kind_name(mc.kind),
                  mc.gtin, mc.serial, mc.layout, markcode_err_code(mc.err), mc.fixes);
    }
    json_decref(row);
  }
  fclose(f);
  return n;
}

static void every_sample_matches(void **state)
{
  (void)state;
  int wrong = 0;
  assert_true(check_file("tests/data/marking_codes.jsonl", &wrong) >= 29);
  assert_int_equal(wrong, 0);
}

/* The public codes: every line names its source and licence. */
static void every_public_code_matches(void **state)
{
  (void)state;
  int wrong = 0;
  assert_true(check_file("tests/data/marking_codes_public.jsonl", &wrong) >= 60);
  assert_int_equal(wrong, 0);
  FILE *f = fopen("tests/data/marking_codes_public.jsonl", "r");
  assert_non_null(f);
  char line[4096];
  while (fgets(line, sizeof line, f)) {
    json_t *row = json_loads(line, 0, NULL);
    assert_non_null(row);
    assert_non_null(field(row, "source"));
    assert_non_null(field(row, "licence"));
    json_decref(row);
  }
  fclose(f);
}

int main(void)
{
  const struct CMUnitTest tests[] = {cmocka_unit_test(every_sample_matches),
                                     cmocka_unit_test(every_public_code_matches)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
