/*
** test_cli_args.c: the argument parsers the `kassa` commands share
** (pos/cli/cli_args.c): what counts as a number, and the bounds; the
** option table every command reads its line with (cli_read_options,
** cli_parse_options) and the messages it prints.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

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

/* The options the table tests read: --out/-o VALUE, --url VALUE, --json/-j. */
typedef struct parsed {
  const char *out, *url;
  bool json;
} parsed_t;

static int read_line(char **argv, int argc, parsed_t *p, int *at)
{
  const cli_option_t options[] = {
      {"out", 'o', &p->out, NULL}, {"url", 0, &p->url, NULL}, {"json", 'j', NULL, &p->json}};
  memset(p, 0, sizeof *p);
  return cli_read_options(argc, argv, options, 3, at);
}

#define ARGC(a) ((int)(sizeof(a) / sizeof(a)[0]) - 1)

static void values_and_flags_long_short_and_equals(void **state)
{
  (void)state;
  char *argv[] = {"cmd", "--out", "a.txt", "--url=http://h:1", "-j", NULL};
  parsed_t p;
  int at = -1;
  assert_int_equal(read_line(argv, ARGC(argv), &p, &at), CLI_OPTIONS_OK);
  assert_string_equal(p.out, "a.txt");
  assert_string_equal(p.url, "http://h:1");
  assert_true(p.json);
  assert_int_equal(at, ARGC(argv)); /* no operand */

  char *again[] = {"cmd", "-o", "b", "--out=c", NULL}; /* a fresh start; the last wins */
  assert_int_equal(read_line(again, ARGC(again), &p, &at), CLI_OPTIONS_OK);
  assert_string_equal(p.out, "c");
  assert_null(p.url);
  assert_false(p.json);
}

static void operands_anywhere_come_after_the_options(void **state)
{
  (void)state;
  char *argv[] = {"cmd", "first", "--json", "second", "--out", "x", NULL};
  parsed_t p;
  int at = -1;
  assert_int_equal(read_line(argv, ARGC(argv), &p, &at), CLI_OPTIONS_OK);
  assert_true(p.json);
  assert_string_equal(p.out, "x");
  assert_int_equal(at, 4);
  assert_string_equal(argv[4], "first");
  assert_string_equal(argv[5], "second");
}

static void double_dash_ends_the_options(void **state)
{
  (void)state;
  char *argv[] = {"cmd", "--json", "--", "--out", "-j", NULL};
  parsed_t p;
  int at = -1;
  assert_int_equal(read_line(argv, ARGC(argv), &p, &at), CLI_OPTIONS_OK);
  assert_true(p.json);
  assert_null(p.out);
  assert_int_equal(at, 3);
  assert_string_equal(argv[3], "--out");
  assert_string_equal(argv[4], "-j");
}

static void missing_value_and_unknown_option_name_the_argument(void **state)
{
  (void)state;
  parsed_t p;
  int at = -1;
  char *missing[] = {"cmd", "--json", "--out", NULL};
  assert_int_equal(read_line(missing, ARGC(missing), &p, &at), CLI_OPTION_NO_VALUE);
  assert_string_equal(missing[at], "--out");
  char *short_missing[] = {"cmd", "-o", NULL};
  assert_int_equal(read_line(short_missing, ARGC(short_missing), &p, &at), CLI_OPTION_NO_VALUE);
  assert_string_equal(short_missing[at], "-o");
  char *unknown[] = {"cmd", "--json", "--bogus", "--out", "x", NULL};
  assert_int_equal(read_line(unknown, ARGC(unknown), &p, &at), CLI_OPTION_UNKNOWN);
  assert_string_equal(unknown[at], "--bogus");
  char *flag_value[] = {"cmd", "--json=yes", NULL}; /* a flag takes no value */
  assert_int_equal(read_line(flag_value, ARGC(flag_value), &p, &at), CLI_OPTION_UNKNOWN);
  assert_string_equal(flag_value[at], "--json=yes");
  char *abbreviated[] = {"cmd", "--u", "v", NULL}; /* an abbreviation still works */
  assert_int_equal(read_line(abbreviated, ARGC(abbreviated), &p, &at), CLI_OPTIONS_OK);
  assert_string_equal(p.url, "v");
}

static void count_says_how_often_each_row_came_before_the_end_or_fault(void **state)
{
  (void)state;
  const char *out = NULL, *url = NULL;
  bool json = false;
  const cli_option_t options[] = {
      {"out", 'o', &out, NULL}, {"url", 0, &url, NULL}, {"json", 0, NULL, &json}};
  unsigned given[3] = {7, 7, 7};
  int at = -1;
  char *argv[] = {"cmd", "--out", "a", "-o", "b", "--json", "--json", NULL};
  assert_int_equal(cli_count_options(ARGC(argv), argv, options, 3, &at, given), CLI_OPTIONS_OK);
  assert_int_equal(given[0], 2);
  assert_int_equal(given[1], 0); /* zeroed */
  assert_int_equal(given[2], 2);
  assert_string_equal(out, "b");

  char *fault[] = {"cmd", "--url", "u", "--bogus", "--url", "v", NULL};
  assert_int_equal(cli_count_options(ARGC(fault), fault, options, 3, &at, given),
                   CLI_OPTION_UNKNOWN);
  assert_string_equal(fault[at], "--bogus");
  assert_int_equal(given[1], 1); /* the one after the fault is not read */
  assert_string_equal(url, "u");
}

/* stderr into a temporary file from capture_start to capture_end, which
** puts what was written into err. */
typedef struct capture {
  FILE *f;
  int saved;
} capture_t;

static capture_t capture_start(void)
{
  capture_t c = {tmpfile(), -1};
  assert_non_null(c.f);
  fflush(stderr);
  c.saved = dup(fileno(stderr));
  dup2(fileno(c.f), fileno(stderr));
  return c;
}

static void capture_end(capture_t c, char *err, size_t size)
{
  fflush(stderr);
  dup2(c.saved, fileno(stderr));
  close(c.saved);
  rewind(c.f);
  size_t n = fread(err, 1, size - 1, c.f);
  err[n] = '\0';
  fclose(c.f);
}

/* What cli_parse_options printed on stderr, and its return value. */
static int parse_captured(char **argv, int argc, const char *command, const char *usage,
                          int *first_operand, char *err, size_t size)
{
  const char *out = NULL;
  bool json = false;
  const cli_option_t options[] = {{"out", 0, &out, NULL}, {"json", 0, NULL, &json}};
  capture_t c = capture_start();
  int rc = cli_parse_options(command, usage, argc, argv, options, 2, first_operand);
  capture_end(c, err, size);
  return rc;
}

static void parse_prints_the_commands_messages(void **state)
{
  (void)state;
  char err[512];
  int at = -1;
  char *ok[] = {"cmd", "--json", "--out=x", "operand", NULL};
  assert_int_equal(parse_captured(ok, ARGC(ok), "thing", "usage: U\n", &at, err, sizeof err), 0);
  assert_string_equal(err, "");
  assert_int_equal(at, 3);

  char *missing[] = {"cmd", "--out", NULL};
  assert_int_equal(
      parse_captured(missing, ARGC(missing), "thing", "usage: U\n", NULL, err, sizeof err), 2);
  assert_string_equal(err, "kassa: --out needs a value\n");

  char *unknown[] = {"cmd", "--nope", NULL};
  assert_int_equal(
      parse_captured(unknown, ARGC(unknown), "thing", "usage: U\n", NULL, err, sizeof err), 2);
  assert_string_equal(err, "kassa thing: unknown option --nope\n\nusage: U\n");

  char *operand[] = {"cmd", "stray", "--json", NULL}; /* no operand wanted */
  assert_int_equal(
      parse_captured(operand, ARGC(operand), "thing", "usage: U\n", NULL, err, sizeof err), 2);
  assert_string_equal(err, "kassa thing: unknown option stray\n\nusage: U\n");

  char *bare[] = {"cmd", "--nope", NULL}; /* no command, no usage */
  assert_int_equal(parse_captured(bare, ARGC(bare), NULL, NULL, &at, err, sizeof err), 2);
  assert_string_equal(err, "kassa: unknown option --nope\n");
}

static void verb_takes_one_operand(void **state)
{
  (void)state;
  const char *qty = NULL, *code = NULL;
  const cli_option_t options[] = {{"qty", 0, &qty, NULL}};
  char err[256];
  char *one[] = {"sale", "CODE", "--qty=2", NULL};
  capture_t c = capture_start();
  assert_int_equal(cli_parse_verb(ARGC(one), one, options, 1, &code), 0);
  capture_end(c, err, sizeof err);
  assert_string_equal(err, "");
  assert_string_equal(code, "CODE");
  assert_string_equal(qty, "2");

  char *none[] = {"sale", NULL};
  code = NULL;
  assert_int_equal(cli_parse_verb(ARGC(none), none, options, 1, &code), 0);
  assert_null(code);

  char *two[] = {"sale", "A", "B", NULL};
  c = capture_start();
  assert_int_equal(cli_parse_verb(ARGC(two), two, options, 1, &code), 2);
  capture_end(c, err, sizeof err);
  assert_string_equal(err, "kassa: unexpected argument B\n");

  char *missing[] = {"sale", "A", "--qty", NULL};
  c = capture_start();
  assert_int_equal(cli_parse_verb(ARGC(missing), missing, options, 1, &code), 2);
  capture_end(c, err, sizeof err);
  assert_string_equal(err, "kassa: --qty needs a value\n");
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(numbers_within_bounds),
      cmocka_unit_test(anything_else_refused_and_out_untouched),
      cmocka_unit_test(values_and_flags_long_short_and_equals),
      cmocka_unit_test(operands_anywhere_come_after_the_options),
      cmocka_unit_test(double_dash_ends_the_options),
      cmocka_unit_test(missing_value_and_unknown_option_name_the_argument),
      cmocka_unit_test(parse_prints_the_commands_messages),
      cmocka_unit_test(verb_takes_one_operand),
      cmocka_unit_test(count_says_how_often_each_row_came_before_the_end_or_fault),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
