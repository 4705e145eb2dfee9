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

#include "pos/fiscal_text.h"

static void folds_quotes_dashes_and_spaces(void **state)
{
  (void)state;
  char s[] = "ООО «Ромашка» — „Лучший“ ‘магазин’ 1–2 … №5\xC2\xA0кв.";
  assert_int_equal(fiscal_text_fold(s), 10);
  assert_string_equal(s, "ООО \"Ромашка\" - \"Лучший\" 'магазин' 1-2 ... №5 кв.");
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

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(folds_quotes_dashes_and_spaces),
      cmocka_unit_test(leaves_plain_text_alone),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
