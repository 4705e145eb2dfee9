/*
** test_samples.c: every line of tests/data/marking_codes.jsonl, checked.
**
** Each line holds a real scan ("input", with \x1d for GS as the samples
** write it) and what must come out: "ok", and when given "kind", "gtin",
** "serial". A line that does not match fails the test with its number.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "pos/cli/cli.h"
#include "scanner/markcode.h"

static const char *field(json_t *o, const char *k)
{
  json_t *v = json_object_get(o, k);
  return json_is_string(v) ? json_string_value(v) : NULL;
}

static void every_sample_matches(void **state)
{
  (void)state;
  FILE *f = fopen("tests/data/marking_codes.jsonl", "r");
  assert_non_null(f);
  char line[4096];
  int n = 0, wrong = 0;
  while (fgets(line, sizeof line, f)) {
    json_error_t jerr;
    json_t *row = json_loads(line, 0, &jerr);
    assert_non_null(row);
    n++;
    char input[2048];
    snprintf(input, sizeof input, "%s", field(row, "input"));
    size_t len = cli_unescape(input, strlen(input));
    markcode_t mc;
    markcode_parse(&mc, input, len);
    int want_ok = json_is_true(json_object_get(row, "ok"));
    const char *kind = field(row, "kind"), *gtin = field(row, "gtin"),
               *serial = field(row, "serial");
    int bad = (mc.err == MARKCODE_OK) != want_ok ||
              (kind && strcmp(kind, markcode_kind_name(mc.kind))) ||
              (gtin && strcmp(gtin, mc.gtin)) || (serial && strcmp(serial, mc.serial));
    if (bad) {
      wrong++;
      print_error("line %d (%s): got ok=%d kind=%s gtin=%s serial=%s error=%s\n", n,
                  field(row, "group"), mc.err == MARKCODE_OK, markcode_kind_name(mc.kind), mc.gtin,
                  mc.serial, markcode_err_code(mc.err));
    }
    json_decref(row);
  }
  fclose(f);
  assert_true(n >= 29);
  assert_int_equal(wrong, 0);
}

int main(void)
{
  const struct CMUnitTest tests[] = {cmocka_unit_test(every_sample_matches)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
