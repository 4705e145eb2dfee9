/*
** tests/unit/test_batch.c: the remote shop's batch (ofd/batch.h) and the
** three-day clock it stops (ofd/outbox.h), against a real emulated FN.
**
** What must hold for a batch to be worth carrying: it holds every
** notification still waiting for a ticket, each one's receipt, fiscal sign
** and codes exactly as the FN recorded them; the FN's signature verifies
** with the FN's secret and with nothing else; any edit (a code swapped, a
** date moved, a notification dropped or swapped for another, a key given
** twice) is refused by the parser or the signature; a re-serialised file
** (other spacing, other key order) still verifies, because the signature
** is over canonical bytes. Export writes the file before it moves the FN's
** mark: when the file cannot be written the FN is untouched. And the
** outbox counts the three days from the oldest notification that is
** neither exported nor ticketed.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "fiscal/crypto.h"
#include "fiscal/doc.h"
#include "fiscal/fn.h"
#include "fiscal/fn_emu.h"
#include "ofd/batch.h"
#include "ofd/outbox.h"
#include "tests/support/fn_fixture.h"

#define FN_A "9999078900008181"
#define FN_B "9999078900008282"
#define T0   1700000000u
#define HOUR 3600u
#define GS   "\x1d"

typedef struct fixture {
  fn_fixture_t a, b;
} fixture_t;

/* An autonomous marking FN (KKT number `reg`; it and the INN are in the
** batch) with a key and an open shift. */
static void ready(fn_fixture_t *f, const char *reg)
{
  fn_registration_t r;
  fn_key_t key;
  fn_fixture_registration(&r, true);
  strcpy(r.header.kkt_reg_number, reg);
  strcpy(r.header.user_inn, "7707083893");
  fn_fixture_hmac_key(&key, "TB01");
  assert_int_equal(fn_fixture_prepare(f->fn, &r, &key, "Кассир"), 0);
}

static int setup(void **state)
{
  fixture_t *x = calloc(1, sizeof *x);
  if (!x || fn_fixture_create(&x->a, "batch-a", FN_A, T0) != 0 ||
      fn_fixture_create(&x->b, "batch-b", FN_B, T0) != 0)
    return -1;
  ready(&x->a, "0000000001081818");
  ready(&x->b, "0000000001082828");
  *state = x;
  return 0;
}

static int teardown(void **state)
{
  fixture_t *x = *state;
  fn_fixture_destroy(&x->a);
  fn_fixture_destroy(&x->b);
  free(x);
  return 0;
}

/* A receipt with `lines` marked lines (serials from `serial`); the second
** line, when there is one, is a weighed good (0.250 kg). Returns its 1040. */
static uint32_t sell(fn_fixture_t *f, unsigned serial, unsigned lines)
{
  doc_item_t it[2];
  fn_key_t key;
  uint32_t number = 0;
  fn_fixture_hmac_key(&key, "TB01");
  for (unsigned i = 0; i < lines; i++) {
    assert_int_equal(fn_fixture_marked_line(&it[i], "Сыр", 1000, "Ba", serial + i, &key), 0);
    if (i == 1) { /* 0.250 kg for the same 10 roubles */
      it[i].quantity = (doc_quantity_t){250, 3};
      it[i].measure = 11;
      it[i].km_status = DOC_KM_MEASURED_SOLD;
    }
  }
  assert_int_equal(fn_fixture_sell(f->fn, it, lines, NULL, &number), 0);
  return number;
}

static char *build(fn_fixture_t *f, size_t *len, batch_info_t *info)
{
  char *text = NULL;
  assert_int_equal(batch_build(f->fn, &text, len, info), 0);
  assert_non_null(text);
  assert_int_equal(strlen(text), *len);
  return text;
}

static void secret_of(fn_fixture_t *f, uint8_t secret[FN_EMU_SECRET_SIZE])
{
  char number[17];
  assert_int_equal(fn_emu_read_secret(f->path, secret, number), 0);
}

/* Parses text after an edit made with jansson; returns what batch_parse says. */
static int parse_edited(const char *text, void (*edit)(json_t *root), batch_t **out)
{
  json_error_t jerr;
  json_t *root = json_loads(text, 0, &jerr);
  assert_non_null(root);
  edit(root);
  char *edited = json_dumps(root, JSON_INDENT(1));
  json_decref(root);
  assert_non_null(edited);
  char detail[256];
  int rc = batch_parse(edited, strlen(edited), out, detail, sizeof detail);
  if (rc != 0) assert_true(detail[0] != '\0'); /* a refusal always says where */
  free(edited);
  return rc;
}

static json_t *note_at(json_t *root, size_t i)
{
  return json_array_get(json_object_get(root, "notifications"), i);
}

static void edit_created(json_t *root)
{
  json_object_set_new(root, "createdAt",
                      json_integer(json_integer_value(json_object_get(root, "createdAt")) + 1));
}
static void edit_km(json_t *root)
{
  json_t *code = json_array_get(json_object_get(note_at(root, 0), "codes"), 0);
  json_object_set_new(code, "km",
                      json_string("0104600000000017"
                                  "21"
                                  "Zz00000000001"));
}
static void edit_swap_documents(json_t *root)
{
  json_t *a = note_at(root, 0), *b = note_at(root, 1);
  json_t *da = json_incref(json_object_get(a, "document"));
  json_object_set(a, "document", json_object_get(b, "document"));
  json_object_set_new(b, "document", da);
}
static void edit_drop(json_t *root)
{
  json_array_remove(json_object_get(root, "notifications"), 2);
  json_object_set_new(root, "count", json_integer(2));
}
static void edit_drop_and_fix(json_t *root)
{
  edit_drop(root);
  json_object_set_new(root, "throughNotification", json_integer(2));
}
static void edit_version(json_t *root) { json_object_set_new(root, "version", json_integer(2)); }
static void edit_base64(json_t *root)
{
  json_object_set_new(note_at(root, 0), "document", json_string("not base64!"));
}
static void edit_quantity(json_t *root)
{
  json_t *code = json_array_get(json_object_get(note_at(root, 1), "codes"), 1);
  json_object_set_new(code, "quantity", json_string("0.25")); /* 0.250 in the 82 */
}
static void edit_real(json_t *root) { json_object_set_new(root, "createdAt", json_real(1.5)); }
static void edit_fp(json_t *root)
{
  json_t *n = note_at(root, 0);
  json_object_set_new(n, "fiscalSign",
                      json_integer(json_integer_value(json_object_get(n, "fiscalSign")) ^ 1));
}
static void edit_nothing(json_t *root) { (void)root; }

static void test_empty(void **state)
{
  fixture_t *x = *state;
  char *text = (char *)1, path[256];
  size_t len = 7;
  batch_info_t info;
  assert_int_equal(batch_build(x->a.fn, &text, &len, &info), BATCH_ERR_EMPTY);
  assert_null(text);
  assert_int_equal(len, 0);
  snprintf(path, sizeof path, "%s/empty.json", x->a.dir);
  assert_int_equal(batch_export(x->a.fn, path, &info, NULL, 0), BATCH_ERR_EMPTY);
  assert_int_equal(access(path, F_OK), -1); /* no file for nothing */
  assert_int_equal(batch_build(NULL, &text, &len, NULL), BATCH_ERR_ARGUMENT);
  assert_string_equal(batch_err_name(BATCH_ERR_SIGNATURE), "signature");
  assert_string_equal(batch_err_name(12345), "unknown");
  assert_non_null(strstr(batch_err_message(BATCH_ERR_EMPTY, true), "Нет"));
}

static void test_roundtrip(void **state)
{
  fixture_t *x = *state;
  uint8_t secret[FN_EMU_SECRET_SIZE], other[FN_EMU_SECRET_SIZE];
  uint32_t receipts[3];
  batch_info_t info;
  batch_t *b = NULL;
  size_t len = 0;
  x->a.now = T0 + HOUR;
  receipts[0] = sell(&x->a, 100, 1);
  x->a.now = T0 + 2 * HOUR;
  receipts[1] = sell(&x->a, 200, 2);
  x->a.now = T0 + 3 * HOUR;
  receipts[2] = sell(&x->a, 300, 1);
  x->a.now = T0 + 4 * HOUR;
  char *text = build(&x->a, &len, &info);
  assert_int_equal(info.count, 3);
  assert_int_equal(info.codes, 4);
  assert_int_equal(info.from, 1);
  assert_int_equal(info.through, 3);
  assert_int_equal(info.created_at, T0 + 4 * HOUR);
  /* Building reads; it marks nothing. */
  fn_status_t st;
  assert_int_equal(fn_status(x->a.fn, &st), 0);
  assert_int_equal(st.unexported_notifications, 3);

  char detail[256] = "";
  assert_int_equal(batch_parse(text, len, &b, detail, sizeof detail), 0);
  assert_string_equal(b->fn_number, FN_A);
  assert_string_equal(b->kkt_reg_number, "0000000001081818");
  assert_string_equal(b->user_inn, "7707083893");
  assert_int_equal(b->created_at, T0 + 4 * HOUR);
  assert_int_equal(b->count, 3);
  assert_int_equal(b->from_notification, 1);
  assert_int_equal(b->through_notification, 3);
  fn_document_t *doc = malloc(sizeof *doc);
  fn_notification_t *note = malloc(sizeof *note);
  assert_non_null(doc);
  assert_non_null(note);
  for (size_t i = 0; i < 3; i++) {
    const batch_notification_t *n = &b->notifications[i];
    doc_summary_t sum;
    assert_int_equal(n->number, i + 1);
    assert_int_equal(n->receipt_number, receipts[i]);
    assert_int_equal(n->time, T0 + (i + 1) * HOUR);
    assert_int_equal(n->operation, DOC_OP_SALE);
    assert_int_equal(fn_document_get(x->a.fn, receipts[i], doc), 0);
    assert_int_equal(doc_summarize(doc->data, doc->len, &sum), 0);
    assert_int_equal(n->fiscal_sign, doc_fiscal_sign_printed(sum.sign));
    /* The sealed 82 exactly as the FN keeps it. */
    assert_int_equal(fn_notification_next_after(x->a.fn, (uint32_t)i, note), 0);
    assert_int_equal(n->document_len, note->len);
    assert_memory_equal(n->document, note->data, note->len);
  }
  assert_int_equal(b->notifications[1].code_count, 2);
  const batch_code_t *weighed = &b->notifications[1].codes[1];
  assert_int_equal(weighed->quantity.mantissa, 250);
  assert_int_equal(weighed->quantity.scale, 3);
  assert_int_equal(weighed->measure, 11);
  assert_int_equal(weighed->status, DOC_KM_MEASURED_SOLD);
  assert_non_null(strstr(text, "\"quantity\": \"0.250\""));
  assert_non_null(strstr(b->notifications[0].codes[0].km, GS "91TB01" GS "92"));

  /* The signature: the FN's secret verifies it, nothing else does. */
  secret_of(&x->a, secret);
  secret_of(&x->b, other);
  assert_int_equal(batch_verify(b, secret), 0);
  assert_int_equal(batch_verify(b, other), BATCH_ERR_SIGNATURE);
  int fn_error = 0;
  assert_int_equal(batch_verify_with_fn(x->a.fn, b, &fn_error), 0);
  assert_int_equal(batch_verify_with_fn(x->b.fn, b, &fn_error), BATCH_ERR_OTHER_FN);
  for (size_t i = 0; i < 3; i++)
    assert_int_equal(
        fn_emu_verify_sign(secret, b->notifications[i].document, b->notifications[i].document_len),
        0);
  batch_free(b);
  b = NULL;

  /* Layout is not content: re-serialised, still the same signature. */
  assert_int_equal(parse_edited(text, edit_nothing, &b), 0);
  assert_int_equal(batch_verify(b, secret), 0);
  batch_free(b);
  b = NULL;
  free(note);
  free(doc);
  free(text);
}

static void test_refusals(void **state)
{
  fixture_t *x = *state;
  uint8_t secret[FN_EMU_SECRET_SIZE];
  batch_t *b = NULL;
  size_t len = 0;
  sell(&x->a, 400, 1);
  sell(&x->a, 500, 2);
  sell(&x->a, 600, 1);
  char *text = build(&x->a, &len, NULL);
  secret_of(&x->a, secret);

  /* Edits the parser lets through, the signature does not. */
  assert_int_equal(parse_edited(text, edit_created, &b), 0);
  assert_int_equal(batch_verify(b, secret), BATCH_ERR_SIGNATURE);
  batch_free(b);
  assert_int_equal(parse_edited(text, edit_fp, &b), 0);
  assert_int_equal(batch_verify(b, secret), BATCH_ERR_SIGNATURE);
  batch_free(b);
  assert_int_equal(parse_edited(text, edit_drop_and_fix, &b), 0);
  assert_int_equal(batch_verify(b, secret), BATCH_ERR_SIGNATURE);
  batch_free(b);
  b = NULL;
  /* Edits the parser catches against the sealed 82s. */
  assert_int_equal(parse_edited(text, edit_km, &b), BATCH_ERR_INCONSISTENT);
  assert_null(b);
  assert_int_equal(parse_edited(text, edit_swap_documents, &b), BATCH_ERR_INCONSISTENT);
  assert_int_equal(parse_edited(text, edit_quantity, &b), BATCH_ERR_INCONSISTENT);
  assert_int_equal(parse_edited(text, edit_drop, &b), BATCH_ERR_INCONSISTENT);
  /* Not this format. */
  assert_int_equal(parse_edited(text, edit_version, &b), BATCH_ERR_FORMAT);
  assert_int_equal(parse_edited(text, edit_base64, &b), BATCH_ERR_FORMAT);
  assert_int_equal(parse_edited(text, edit_real, &b), BATCH_ERR_FORMAT);
  assert_null(b);
  char detail[256];
  static const char dup[] = "{\"format\":\"kassa-batch\",\"format\":\"kassa-batch\"}";
  assert_int_equal(batch_parse(dup, sizeof dup - 1, &b, detail, sizeof detail), BATCH_ERR_FORMAT);
  assert_int_equal(batch_parse("[]", 2, &b, detail, sizeof detail), BATCH_ERR_FORMAT);
  assert_int_equal(batch_parse(text, len / 2, &b, detail, sizeof detail), BATCH_ERR_FORMAT);
  assert_non_null(strstr(detail, "not JSON"));
  /* The signature's own shape. */
  char *upper = strdup(text);
  assert_non_null(upper);
  char *value = strstr(upper, "\"value\": \"");
  assert_non_null(value);
  for (char *p = value + 10; *p != '"'; p++)
    if (*p >= 'a' && *p <= 'f') *p = (char)(*p - 'a' + 'A');
  assert_int_equal(batch_parse(upper, strlen(upper), &b, detail, sizeof detail), BATCH_ERR_FORMAT);
  free(upper);
  free(text);
}

static size_t temp_files(const char *dir)
{
  DIR *d = opendir(dir);
  struct dirent *e;
  size_t n = 0;
  assert_non_null(d);
  while ((e = readdir(d)))
    if (strstr(e->d_name, ".tmp-")) n++;
  closedir(d);
  return n;
}

static void test_export(void **state)
{
  fixture_t *x = *state;
  char path[256], missing[256], detail[256] = "";
  batch_info_t info;
  fn_status_t st;
  x->a.now = T0 + HOUR;
  sell(&x->a, 700, 1);
  x->a.now = T0 + 2 * HOUR;
  sell(&x->a, 800, 1);
  x->a.now = T0 + 80 * HOUR;
  outbox_status_t s;
  assert_int_equal(outbox_status(x->a.fn, 0, NULL, &s), 0);
  assert_int_equal(s.batch_level, OUTBOX_BLOCKED);

  /* The file cannot be written: the FN's mark does not move. */
  snprintf(missing, sizeof missing, "%s/no/such/dir/batch.json", x->a.dir);
  assert_int_equal(batch_export(x->a.fn, missing, &info, detail, sizeof detail), BATCH_ERR_IO);
  assert_non_null(strstr(detail, "no/such/dir"));
  assert_int_equal(fn_status(x->a.fn, &st), 0);
  assert_int_equal(st.notifications_exported_through, 0);
  assert_int_equal(st.unexported_notifications, 2);

  snprintf(path, sizeof path, "%s/batch.json", x->a.dir);
  assert_int_equal(batch_write_file(path, "old\n", 4, NULL, 0), 0);
  assert_int_equal(batch_export(x->a.fn, path, &info, detail, sizeof detail), 0);
  assert_int_equal(info.count, 2);
  assert_int_equal(info.through, 2);
  assert_int_equal(temp_files(x->a.dir), 0);
  char *text = NULL;
  size_t len = 0;
  batch_t *b = NULL;
  assert_int_equal(batch_read_file(path, &text, &len, detail, sizeof detail), 0);
  assert_int_equal(batch_parse(text, len, &b, detail, sizeof detail), 0); /* replaced, whole */
  assert_int_equal(b->count, 2);
  batch_free(b);
  free(text);
  assert_int_equal(fn_status(x->a.fn, &st), 0);
  assert_int_equal(st.notifications_exported_through, 2);
  assert_int_equal(st.unexported_notifications, 0);
  assert_int_equal(st.unsent_notifications, 2); /* the tickets are still owed */

  /* The clock stopped; the next export carries the same two again. */
  assert_int_equal(outbox_status(x->a.fn, 0, NULL, &s), 0);
  assert_int_equal(s.batch_level, OUTBOX_OK);
  assert_true(outbox_may_sell_marked(&s, NULL, NULL));
  assert_int_equal(s.exported_through, 2);
  assert_int_equal(s.unsent_notifications, 2);
  assert_int_equal(s.unexported_notifications, 0);
  assert_int_equal(batch_export(x->a.fn, path, &info, NULL, 0), 0);
  assert_int_equal(info.count, 2);
  assert_int_equal(batch_read_file(missing, &text, &len, detail, sizeof detail), BATCH_ERR_IO);
}

static void test_outbox_clock(void **state)
{
  fixture_t *x = *state;
  outbox_status_t s;
  outbox_notice_t reason;
  x->a.now = T0 + 10 * HOUR;
  sell(&x->a, 900, 1);
  x->a.now = T0 + 20 * HOUR;
  sell(&x->a, 910, 1);
  assert_int_equal(outbox_status(x->a.fn, T0 + 58 * HOUR, NULL, &s), 0);
  assert_int_equal(s.batch_level, OUTBOX_WARNING);
  assert_int_equal(s.first_unexported_time, T0 + 10 * HOUR);
  assert_int_equal(outbox_status(x->a.fn, T0 + 82 * HOUR, NULL, &s), 0);
  assert_int_equal(s.batch_level, OUTBOX_BLOCKED);
  assert_false(outbox_may_sell_marked(&s, NULL, &reason));
  assert_non_null(strstr(reason.ru, "kassa batch export"));
  assert_non_null(strstr(reason.en, "kassa batch export"));
  /* Exporting the first only: the clock runs from the second. */
  assert_int_equal(fn_notifications_exported(x->a.fn, 1), 0);
  assert_int_equal(outbox_status(x->a.fn, T0 + 82 * HOUR, NULL, &s), 0);
  assert_int_equal(s.first_unexported_number, 2);
  assert_int_equal(s.oldest_unexported_age, 62 * HOUR);
  assert_int_equal(s.batch_level, OUTBOX_WARNING);
  assert_int_equal(s.batch_seconds_left, 10 * HOUR);
  /* Both still wait for tickets; that is not the clock. */
  assert_int_equal(s.unsent_notifications, 2);
  assert_int_equal(s.oldest_notification_age, 72 * HOUR);
  assert_int_equal(fn_notifications_exported(x->a.fn, 2), 0);
  assert_int_equal(outbox_status(x->a.fn, T0 + 200 * HOUR, NULL, &s), 0);
  assert_int_equal(s.batch_level, OUTBOX_OK);
  assert_int_equal(s.batch_seconds_left, 0);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_empty, setup, teardown),
      cmocka_unit_test_setup_teardown(test_roundtrip, setup, teardown),
      cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
      cmocka_unit_test_setup_teardown(test_export, setup, teardown),
      cmocka_unit_test_setup_teardown(test_outbox_clock, setup, teardown),
  };
  return cmocka_run_group_tests(tests, fn_fixture_crypto_setup, fn_fixture_crypto_teardown);
}
