/*
** test_reasons.c: what a person reads fits where it is read, whole.
**
** Every reason of the till's check (pos/till/check.h) has a Russian and an
** English sentence and a short form; each is held to the budget of each
** place it is read in (check.h: the banner, a receipt line, the log). The
** longest details a reason is ever given (the deadline notices of
** ofd/outbox.h at their longest ages, every FN error) must fit the
** decision's message whole. And the one way messages are put together,
** errtab_join, is shown never to cut inside a word or a UTF-8 character,
** whatever the parts and the room, and errtab_fit (a text held to a
** number of characters: a fiscal name) neither: properties checked on
** many random texts of Cyrillic, Latin and punctuation.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/errtab.h"
#include "fiscal/fn.h"
#include "ofd/outbox.h"
#include "pos/till/check.h"

#define DAY 86400u

static bool has_cyrillic(const char *s)
{
  for (const unsigned char *p = (const unsigned char *)s; *p; p++)
    if (*p == 0xD0 || *p == 0xD1) return true;
  return false;
}

/* Each reason: both languages, whole, in budget for the banner, the
** receipt line and the log. */
static void test_reason_table(void **state)
{
  (void)state;
  for (int r = 0; r < CHECK__COUNT; r++) {
    const char *name = check_reason_name((check_reason_t)r);
    const char *ru = check_reason_message((check_reason_t)r, true);
    const char *en = check_reason_message((check_reason_t)r, false);
    const char *sru = check_reason_short((check_reason_t)r, true);
    const char *sen = check_reason_short((check_reason_t)r, false);
    char log[CHECK_LOG_BYTES * 2];
    print_message("%-22s %zu/%zu chars, short %zu/%zu\n", name, errtab_chars(ru), errtab_chars(en),
                  errtab_chars(sru), errtab_chars(sen));
    assert_non_null(name);
    assert_string_not_equal(name, "unknown");
    for (int k = 0; k < r; k++) /* names are unique */
      assert_string_not_equal(name, check_reason_name((check_reason_t)k));
    const char *texts[] = {ru, en, sru, sen};
    for (int k = 0; k < 4; k++) {
      assert_non_null(texts[k]);
      assert_true(texts[k][0] != '\0');
      assert_true(errtab_text_whole(texts[k]));
      assert_true(texts[k][strlen(texts[k]) - 1] != ' ');
    }
    assert_true(has_cyrillic(ru) && has_cyrillic(sru));
    assert_false(has_cyrillic(en) || has_cyrillic(sen));
    assert_true(ru != en && strcmp(ru, en) != 0);
    /* The banner: the sentence, ending as a sentence. */
    assert_true(errtab_chars(ru) <= CHECK_BANNER_CHARS);
    assert_true(errtab_chars(en) <= CHECK_BANNER_CHARS);
    assert_int_equal(ru[strlen(ru) - 1], '.');
    assert_int_equal(en[strlen(en) - 1], '.');
    /* The receipt line: the short form, no full stop. */
    assert_true(errtab_chars(sru) <= CHECK_SHORT_CHARS);
    assert_true(errtab_chars(sen) <= CHECK_SHORT_CHARS);
    assert_true(sru[strlen(sru) - 1] != '.' && sen[strlen(sen) - 1] != '.');
    /* The log: one line. */
    int n = snprintf(log, sizeof log, "%s: %s", name, en);
    assert_true(n > 0 && (size_t)n < CHECK_LOG_BYTES && !strchr(log, '\n'));
  }
  /* Out of range: words, never NULL. */
  assert_string_equal(check_reason_name(CHECK__COUNT), "unknown");
  assert_true(errtab_text_whole(check_reason_short(CHECK__COUNT, true)));
}

/* A status with every clock at its worst: a year owed. */
static outbox_status_t worst_status(bool documents)
{
  outbox_status_t s;
  memset(&s, 0, sizeof s);
  s.autonomous = !documents;
  s.now = 400u * DAY;
  if (documents) {
    s.unsent_documents = 999999;
    s.oldest_document_age = 399u * DAY + 23u * 3600u + 59u * 60u;
    s.documents_level = OUTBOX_BLOCKED;
  } else {
    s.unexported_notifications = s.unsent_notifications = 999999;
    s.oldest_unexported_age = 399u * DAY + 23u * 3600u + 59u * 60u;
    s.batch_level = OUTBOX_BLOCKED;
  }
  s.level = OUTBOX_BLOCKED;
  return s;
}

/* A warning with the longest time texts ("29 дней 23 часа" ...). */
static outbox_status_t warning_status(bool documents)
{
  outbox_status_t s;
  memset(&s, 0, sizeof s);
  if (documents) {
    s.oldest_document_age = 27u * DAY + 23u * 3600u;
    s.documents_seconds_left = 2u * DAY + 23u * 3600u;
    s.documents_level = OUTBOX_WARNING;
  } else {
    s.oldest_unexported_age = 2u * DAY + 23u * 3600u;
    s.batch_seconds_left = 23u * 3600u + 59u * 60u;
    s.batch_level = OUTBOX_WARNING;
  }
  s.level = OUTBOX_WARNING;
  return s;
}

static void expect_fits(check_reason_t r, const char *more, bool russian)
{
  char out[CHECK_MESSAGE_MAX];
  const char *parts[] = {check_reason_message(r, russian), more};
  assert_true(errtab_join(out, sizeof out, parts, 2));
  assert_true(errtab_text_whole(out));
}

/* The longest details a reason is given, whole in the message. */
static void test_details_fit(void **state)
{
  (void)state;
  outbox_policy_t p, quiet;
  outbox_notice_t why, w[4];
  outbox_policy_defaults(&p);
  quiet = p;
  quiet.batch_refuses_marked = false;
  for (int documents = 0; documents < 2; documents++) {
    outbox_status_t s = worst_status(documents);
    assert_false(outbox_may_sell_marked(&s, &p, &why));
    print_message("%s: %zu bytes RU, %zu EN\n", why.name, strlen(why.ru), strlen(why.en));
    assert_true(errtab_text_whole(why.ru) && errtab_text_whole(why.en));
    assert_true(has_cyrillic(why.ru) && !has_cyrillic(why.en));
    /* The notice ends with what to do, whole (not cut at its buffer). */
    assert_non_null(strstr(why.ru, "kassa "));
    assert_int_equal(why.ru[strlen(why.ru) - 1], '.');
    assert_int_equal(why.en[strlen(why.en) - 1], '.');
    expect_fits(CHECK_DEADLINE, why.ru, true);
    expect_fits(CHECK_DEADLINE, why.en, false);
    /* The notice does not repeat the reason's own sentence. */
    assert_null(strstr(why.ru, "остановлена: сроки"));
    /* Every warning, too. */
    size_t n = outbox_warnings(&s, &quiet, w, 4);
    outbox_status_t ws = warning_status(documents);
    n += outbox_warnings(&ws, &p, w + n, 4 - n);
    assert_true(n >= 2);
    for (size_t k = 0; k < n; k++) {
      assert_int_equal(w[k].ru[strlen(w[k].ru) - 1], '.');
      assert_true(errtab_text_whole(w[k].ru) && errtab_text_whole(w[k].en));
      char both[2 * OUTBOX_NOTICE_MAX + 8];
      outbox_notice_both(&w[k], both, sizeof both);
      assert_non_null(strstr(both, w[k].en)); /* "ru / en" holds both whole */
    }
  }
  /* Every FN error is a detail of fn_refused. */
  for (int code = -0x1FF; code < 0; code++) {
    const char *ru = fn_err_message(code, true), *en = fn_err_message(code, false);
    expect_fits(CHECK_FN_REFUSED, ru, true);
    expect_fits(CHECK_FN_REFUSED, en, false);
  }
}

/* errtab_join never cuts inside a word or a character: property. */
static void test_join_never_cuts(void **state)
{
  (void)state;
  static const char *const words[] = {"Выгрузите", "пакет", "(kassa", "batch", "export)", "ФН",
                                      "0x15.",     "—",     "ёж,",    "a",     "Über",    "€5"};
  const size_t nwords = sizeof words / sizeof words[0];
  unsigned seed = 23;
  for (int round = 0; round < 20000; round++) {
    char parts[3][200], full[700], out[256];
    const char *p[3];
    for (int k = 0; k < 3; k++) {
      parts[k][0] = '\0';
      int n = rand_r(&seed) % 12;
      for (int i = 0; i < n; i++) {
        if (i) strcat(parts[k], " ");
        strcat(parts[k], words[(size_t)rand_r(&seed) % nwords]);
      }
      p[k] = parts[k];
    }
    size_t size = 1 + (size_t)rand_r(&seed) % sizeof out;
    errtab_join(full, sizeof full, p, 3); /* always whole: room for all */
    bool whole = errtab_join(out, size, p, 3);
    assert_true(strlen(out) < size);
    assert_true(errtab_text_whole(out));
    if (whole) {
      assert_string_equal(out, full);
      continue;
    }
    /* Cut: a prefix of the whole text that ends where a word ends,
    ** followed by "…" (or nothing when no word fitted). */
    size_t len = strlen(out);
    const char *ell = "…";
    size_t kept =
        len >= strlen(ell) && !strcmp(out + len - strlen(ell), ell) ? len - strlen(ell) : len;
    assert_memory_equal(out, full, kept);
    assert_true(kept == 0 || full[kept] == ' ' || full[kept] == '\0' || full[kept] == ',' ||
                full[kept] == ';' || full[kept] == ':' || full[kept] == '-');
    assert_true(kept == 0 || out[kept - 1] != ' ');
  }
}

/* errtab_fit: at most max_chars characters and size bytes, whole words
** (or whole characters when not one word fits), the ellipsis when cut. */
static void test_fit_never_cuts(void **state)
{
  (void)state;
  static const char *const words[] = {"Возврат", "излишне", "полученной", "суммы,", "ФН",
                                      "a",       "Über",    "€5",         "—"};
  unsigned seed = 2023;
  char out[300];
  char fitted[40];
  assert_true(errtab_fit(fitted, sizeof fitted, "Чек", 3, "..."));
  assert_string_equal(fitted, "Чек");
  assert_false(errtab_fit(fitted, sizeof fitted, "Возврат излишне полученной суммы", 20, "..."));
  assert_string_equal(fitted, "Возврат излишне..."); /* 18 characters, a whole word */
  assert_false(errtab_fit(fitted, 9, "Полученной", 100, "…"));
  assert_string_equal(fitted, "Полу"); /* no word fits: whole characters (8 bytes) */
  for (int round = 0; round < 20000; round++) {
    char text[256] = "";
    int n = rand_r(&seed) % 14;
    for (int i = 0; i < n; i++) {
      if (i) strcat(text, " ");
      strcat(text, words[(size_t)rand_r(&seed) % (sizeof words / sizeof words[0])]);
    }
    size_t size = 1 + (size_t)rand_r(&seed) % sizeof out;
    size_t max_chars = (size_t)rand_r(&seed) % 80;
    const char *ell = rand_r(&seed) % 2 ? "…" : "...";
    bool whole = errtab_fit(out, size, text, max_chars, ell);
    assert_true(strlen(out) < size);
    assert_true(errtab_chars(out) <= max_chars);
    assert_true(errtab_text_whole(out));
    if (whole) {
      assert_string_equal(out, text);
      continue;
    }
    size_t len = strlen(out), el = strlen(ell);
    bool ends = len >= el && !strcmp(out + len - el, ell);
    size_t kept = ends ? len - el : len;
    assert_memory_equal(out, text, kept);
    if (ends) /* cut after a whole word */
      assert_true(text[kept] == ' ' || strchr(",;:-", text[kept]));
  }
}

/* The time texts: true plural forms, the two largest units. */
static void test_time_text(void **state)
{
  (void)state;
  static const struct {
    uint32_t seconds;
    const char *ru, *en;
  } cases[] = {
      {23u * 3600u, "23 часа", "23 hours"},
      {21u * 3600u, "21 час", "21 hours"},
      {24u * 3600u, "1 день", "1 day"},
      {49u * 3600u, "2 дня 1 час", "2 days 1 hour"},
      {5u * DAY, "5 дней", "5 days"},
      {22u * 3600u + 59u * 60u, "22 часа 59 минут", "22 hours 59 minutes"},
      {40u * 60u, "40 минут", "40 minutes"},
      {61u * 60u, "1 час 1 минуту", "1 hour 1 minute"},
      {12u, "1 минуту", "1 minute"},
      {11u * DAY + 12u * 3600u, "11 дней 12 часов", "11 days 12 hours"},
  };
  char out[64];
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    outbox_time_text(cases[i].seconds, true, out, sizeof out);
    assert_string_equal(out, cases[i].ru);
    outbox_time_text(cases[i].seconds, false, out, sizeof out);
    assert_string_equal(out, cases[i].en);
  }
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_reason_table),    cmocka_unit_test(test_details_fit),
      cmocka_unit_test(test_join_never_cuts), cmocka_unit_test(test_fit_never_cuts),
      cmocka_unit_test(test_time_text),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
