/*
** test_cli_args.c: the argument parsers the `kassa` commands share
** (pos/cli/cli_args.c): what counts as a number, and the bounds.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <limits.h>
#include <stdio.h>

#include "pos/cli/cli.h"

static void numbers_within_bounds(void **state)
{
  (void)state;
  unsigned long v = 0;
  assert_true(cli_number("0", 0, 20, &v));
  assert_int_equal(v, 0);
  assert_true(cli_number("20", 0, 20, &v));
  assert_int_equal(v, 20);
  assert_true(cli_number("007", 1, 256, &v));
  assert_int_equal(v, 7);
  assert_true(cli_number("4294967295", 0, 4294967295ul, &v));
  assert_int_equal(v, 4294967295ul);
}

static void anything_else_refused_and_out_untouched(void **state)
{
  (void)state;
  static const char *const bad[] = {"", "-1", "+5", " 3", "3 ", "x", "1x", "0x10", "21", "1.5"};
  char huge[64];
  snprintf(huge, sizeof huge, "%lu0", ULONG_MAX); /* overflows */
  unsigned long v = 42;
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    assert_false(cli_number(bad[i], 0, 20, &v));
    assert_int_equal(v, 42);
  }
  assert_false(cli_number("0", 1, 256, &v)); /* below min */
  assert_false(cli_number(huge, 0, ULONG_MAX, &v));
  assert_false(cli_number(NULL, 0, 20, &v));
  assert_int_equal(v, 42);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(numbers_within_bounds),
      cmocka_unit_test(anything_else_refused_and_out_untouched),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
