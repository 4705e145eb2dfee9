/*
** test_fiscal_text.c: typographic characters folded before a fiscal
** document is built; everything else left alone.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "pos/till/fiscal_text.h"

static void folds_quotes_dashes_and_spaces(void **state)
{
  (void)state;
  char s[] = "ООО «Ромашка» — „Лучший“ ‘магазин’ 1–2 … №5\xC2\xA0кв.";
  assert_int_equal(fiscal_text_fold(s), 10);
  assert_string_equal(s, "ООО \"Ромашка\" - \"Лучший\" 'магазин' 1-2 ... №5 кв.");
}

/* Control characters never reach a document: ESC, GS, a line end, DEL and
** a C1 control (U+0085) each become one space (issue 18). */
static void folds_control_characters(void **state)
{
  (void)state;
  char s[] = "Ива\x1b[31mнова\x1dИ.\nИ.\x7f\xC2\x85!";
  assert_int_equal(fiscal_text_fold(s), 5);
  assert_string_equal(s, "Ива [31mнова И. И.  !");
}

static void leaves_plain_text_alone(void **state)
{
  (void)state;
  char s[] = "Молоко 3,2% 1 л, Иванова И.И.";
  assert_int_equal(fiscal_text_fold(s), 0);
  assert_string_equal(s, "Молоко 3,2% 1 л, Иванова И.И.");
  char empty[] = "";
  assert_int_equal(fiscal_text_fold(empty), 0);
}

/* Raw bytes, cut sequences and control characters become valid UTF-8;
** good text, Cyrillic included, is left as it is. */
static void cleans_what_json_cannot_hold(void **state)
{
  (void)state;
  char good[] = "Код «Ж» ok";
  fiscal_text_utf8_clean(good);
  assert_string_equal(good, "Код «Ж» ok");
  char raw[] = {'a', (char)0xE8, 'b', 0x1D, 'c', (char)0xD0, '\0'}; /* lone lead, GS, cut */
  fiscal_text_utf8_clean(raw);
  assert_string_equal(raw, "a?b c?");
  char overlong[] = {(char)0xC0, (char)0xAF, 'x', '\0'};
  fiscal_text_utf8_clean(overlong);
  assert_string_equal(overlong, "??x");
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(folds_quotes_dashes_and_spaces),
      cmocka_unit_test(folds_control_characters),
      cmocka_unit_test(leaves_plain_text_alone),
      cmocka_unit_test(cleans_what_json_cannot_hold),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
