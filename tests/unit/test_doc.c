/*
** tests/unit/test_doc.c: FFD 1.2 documents (fiscal/doc.c).
**
** Every form is built and then read back with the TLV reader, not with
** doc.c's own parsers, and its requisites are checked tag by tag and value
** by value: a test fails when a builder drops, reorders or mis-types a
** requisite, not only when it stops agreeing with itself. The documents
** that come from outside (7, 83, 84) are also fed cut, of the wrong form,
** and as garbage, and must be refused without being read through.
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

#include "fiscal/doc.h"

/* 2024-01-15 10:30:00, local time written as if UTC. */
#define TIME_2024_01_15_1030 1705314600u

/* A marking code with a GS (0x1D) inside: GS1 code with a 44-char tail. */
static const char KM1[] = "010460043993125621JgXJ5.T\x1D"
                          "8005112000\x1D"
                          "930001\x1D"
                          "923zbrLA==\x1D"
                          "91003A";
static const char KM2[] = "0104650117240408215Qbag!\x1D"
                          "93Zjqw";
static const char KM3[] = "0104600439931256215>,ZxR\x1D"
                          "93Wwkx";

static uint8_t buf[65536];
static uint8_t buf2[65536];

static doc_header_t header(void)
{
  doc_header_t h;
  memset(&h, 0, sizeof h);
  h.number = 42;
  h.time = TIME_2024_01_15_1030;
  strcpy(h.fn_number, "9999078902012345");
  strcpy(h.kkt_reg_number, "0001234567012345");
  strcpy(h.user_inn, "7700112233");
  strcpy(h.user_name, "ООО Ромашка");
  strcpy(h.cashier, "Иванова А.");
  strcpy(h.address, "г. Москва, ул. Ленина, 1");
  strcpy(h.place, "Магазин");
  h.shift_number = 7;
  return h;
}

static doc_item_t plain_item(const char *name, uint64_t price, uint64_t quantity_units)
{
  doc_item_t it;
  memset(&it, 0, sizeof it);
  strcpy(it.name, name);
  it.price = price;
  it.quantity = (doc_quantity_t){quantity_units * 1000, 3};
  it.total = price * quantity_units;
  it.vat = 1;
  it.subject = 1;
  it.payment_method = 4;
  it.measure = 0;
  return it;
}

static doc_item_t marked_item(const char *name, uint64_t price, const char *km, uint8_t type,
                              uint16_t product_tag, const char *product, uint8_t check)
{
  doc_item_t it = plain_item(name, price, 1);
  it.subject = 33;
  it.marked = true;
  it.km_len = strlen(km);
  memcpy(it.km, km, it.km_len);
  it.km_type = type;
  it.product_tag = product_tag;
  strcpy(it.product_value, product);
  it.km_status = DOC_KM_PIECE_SOLD;
  it.km_mode = 0;
  it.check_result = check;
  return it;
}

/* Three marked lines and one plain: 15 (all good), 3 (tail good, no OISM
** answer), 7 (OISM said no) and an EAN-13 good. 2107 must be 1. */
static doc_receipt_t receipt4(void)
{
  doc_receipt_t r;
  memset(&r, 0, sizeof r);
  r.operation = DOC_OP_SALE;
  r.tax_system = 1;
  r.receipt_number = 5;
  r.items[0] = marked_item("Молоко 3,2%", 8990, KM1, 5, 1305, "010460043993125621JgXJ5.T", 15);
  r.items[1] = marked_item("Вода", 4500, KM2, 5, 1305, "0104650117240408215Qbag!", 3);
  r.items[2] = marked_item("Сигареты", 21000, KM3, 4, 1305, "0104600439931256215>,ZxR", 7);
  r.items[2].has_industry = true;
  strcpy(r.items[2].industry.authority, "030");
  strcpy(r.items[2].industry.date, "21.11.2023");
  strcpy(r.items[2].industry.number, "1944");
  strcpy(r.items[2].industry.value, "UUID=0f1e2d3c-aaaa-bbbb-cccc-000011112222&Time=1705314599123");
  r.items[3] = plain_item("Пакет", 500, 2);
  r.items[3].product_tag = 1302;
  strcpy(r.items[3].product_value, "4600000000008");
  r.item_count = 4;
  r.cash = 10000;
  r.cashless = 8990 + 4500 + 21000 + 1000 - 10000;
  return r;
}

/* ---------------------------------------------------------------------- */
/* Reading helpers: the TLV reader only                                    */

/* Opens a built document: one STLV of the given form filling len. */
static void open_doc(const uint8_t *doc, size_t len, uint16_t form, tlv_reader_t *body)
{
  tlv_reader_t top;
  tlv_item_t outer, after;
  tlv_reader_init(&top, doc, len);
  assert_int_equal(tlv_reader_next(&top, &outer), 0);
  assert_int_equal(outer.tag, form);
  assert_int_equal(outer.length + 4u, len);
  assert_int_equal(tlv_reader_next(&top, &after), TLV_ERR_END);
  assert_int_equal(tlv_reader_enter(&outer, body), 0);
  assert_int_equal(tlv_check(doc, len, NULL), 0);
}

/* The tags of a list in order, into tags[]; returns the count. */
static size_t list_tags(tlv_reader_t reader, uint16_t *tags, size_t max)
{
  tlv_item_t item = {0};
  size_t n = 0;
  int rc;
  while ((rc = tlv_reader_next(&reader, &item)) == 0) {
    assert_true(n < max);
    tags[n++] = item.tag;
  }
  assert_int_equal(rc, TLV_ERR_END);
  return n;
}

static void expect_tags(tlv_reader_t reader, const uint16_t *expected, size_t count)
{
  uint16_t tags[256];
  size_t n = list_tags(reader, tags, 256);
  for (size_t i = 0; i < n && i < count; i++) {
    if (tags[i] != expected[i]) fail_msg("tag %zu: %u, expected %u", i, tags[i], expected[i]);
  }
  assert_int_equal(n, count);
}
#define EXPECT_TAGS(reader, ...)                                                                   \
  do {                                                                                             \
    static const uint16_t expected_[] = {__VA_ARGS__};                                             \
    expect_tags((reader), expected_, sizeof expected_ / sizeof expected_[0]);                      \
  } while (0)

/* The nth (0-based) item with this tag; false when there is none. */
static bool find_nth(tlv_reader_t reader, uint16_t tag, int nth, tlv_item_t *out)
{
  tlv_item_t item = {0};
  while (tlv_reader_next(&reader, &item) == 0) {
    if (item.tag == tag && nth-- == 0) {
      *out = item;
      return true;
    }
  }
  return false;
}

static tlv_item_t get(tlv_reader_t reader, uint16_t tag)
{
  tlv_item_t item = {0};
  if (!find_nth(reader, tag, 0, &item)) fail_msg("tag %u missing", tag);
  return item;
}

static bool has(tlv_reader_t reader, uint16_t tag)
{
  tlv_item_t item = {0};
  return find_nth(reader, tag, 0, &item);
}

static uint32_t u32(tlv_reader_t r, uint16_t tag)
{
  tlv_item_t item = get(r, tag);
  uint32_t v = 0;
  if (item.length == 4 && tlv_tag_lookup(tag)->type == TLV_TYPE_UNIXTIME)
    assert_int_equal(tlv_get_unixtime(&item, &v), 0);
  else
    assert_int_equal(tlv_get_uint32(&item, &v), 0);
  return v;
}

static uint8_t byte(tlv_reader_t r, uint16_t tag)
{
  tlv_item_t item = get(r, tag);
  uint8_t v = 0;
  assert_int_equal(tlv_get_byte(&item, &v), 0);
  return v;
}

static uint64_t vln(tlv_reader_t r, uint16_t tag)
{
  tlv_item_t item = get(r, tag);
  uint64_t v = 0;
  assert_int_equal(tlv_get_vln(&item, &v), 0);
  return v;
}

static void expect_text(tlv_reader_t r, uint16_t tag, const char *expected)
{
  tlv_item_t item = get(r, tag);
  char text[1024];
  size_t length = 0;
  assert_int_equal(tlv_get_string(&item, text, sizeof text, &length), 0);
  assert_int_equal(length, strlen(expected));
  assert_memory_equal(text, expected, length);
}

static tlv_reader_t enter(tlv_item_t item)
{
  tlv_reader_t child;
  assert_int_equal(tlv_reader_enter(&item, &child), 0);
  return child;
}

static void expect_header(tlv_reader_t body, bool shift)
{
  assert_int_equal(u32(body, 1040), 42);
  assert_int_equal(u32(body, 1012), TIME_2024_01_15_1030);
  expect_text(body, 1041, "9999078902012345");
  expect_text(body, 1037, "0001234567012345");
  expect_text(body, 1018, "7700112233");
  expect_text(body, 1048, "ООО Ромашка");
  expect_text(body, 1009, "г. Москва, ул. Ленина, 1");
  expect_text(body, 1187, "Магазин");
  expect_text(body, 1021, "Иванова А.");
  if (shift) assert_int_equal(u32(body, 1038), 7);
}

/* A failed build leaves nothing: every byte it may have touched is 0. */
static void assert_wiped(const uint8_t *data, size_t size)
{
  for (size_t i = 0; i < size; i++) {
    if (data[i] != 0) fail_msg("byte %zu is %02X after a failed build", i, data[i]);
  }
}

/* ---------------------------------------------------------------------- */
/* Registration, shifts, reports                                           */

static doc_registration_t registration(void)
{
  doc_registration_t r;
  memset(&r, 0, sizeof r);
  r.tax_systems = 0x01 | 0x04;
  strcpy(r.ofd_inn, "7704211201");
  strcpy(r.ofd_name, "ООО \"Такском\"");
  strcpy(r.kkt_serial, "00106700000001");
  r.marking = true;
  r.ffd_version = 4;
  r.reason_mask = 0x20;
  return r;
}

static void test_registration(void **state)
{
  (void)state;
  doc_header_t h = header();
  h.shift_number = 0;
  doc_registration_t r = registration();
  size_t len = 1;
  tlv_reader_t body;

  assert_int_equal(doc_build_registration(&h, &r, false, buf, sizeof buf, &len), 0);
  open_doc(buf, len, DOC_REGISTRATION, &body);
  EXPECT_TAGS(body, 1040, 1012, 1041, 1037, 1018, 1048, 1009, 1187, 1021, 1209, 1013, 1062, 1002,
              1056, 1001, 1290, 1017, 1046, 1188, 1189, 1190);
  expect_header(body, false);
  assert_int_equal(byte(body, 1209), 4);
  expect_text(body, 1013, "00106700000001");
  assert_int_equal(byte(body, 1062), 0x05);
  assert_int_equal(byte(body, 1002), 0);
  assert_int_equal(u32(body, 1290), 0x100);
  expect_text(body, 1017, "7704211201");
  expect_text(body, 1046, "ООО \"Такском\"");
  /* Text is CP866 on the wire: 'О' is 0x8E. */
  tlv_item_t user = get(body, 1048);
  assert_int_equal(user.length, 11);
  assert_int_equal(user.value[0], 0x8E);

  /* Re-registration: form 11 with its reasons. */
  assert_int_equal(doc_build_registration(&h, &r, true, buf, sizeof buf, &len), 0);
  open_doc(buf, len, DOC_REREGISTRATION, &body);
  assert_int_equal(u32(body, 1205), 0x20);

  /* Autonomous: no OFD, 1002 = 1, no marking bit. */
  h.autonomous = true;
  r.marking = false;
  memset(r.ofd_inn, 0, sizeof r.ofd_inn);
  assert_int_equal(doc_build_registration(&h, &r, false, buf, sizeof buf, &len), 0);
  open_doc(buf, len, DOC_REGISTRATION, &body);
  assert_int_equal(byte(body, 1002), 1);
  assert_int_equal(u32(body, 1290), 0);
  assert_false(has(body, 1017));
  assert_false(has(body, 1046));

  /* An online register must name its OFD. */
  h.autonomous = false;
  len = 99;
  assert_int_equal(doc_build_registration(&h, &r, false, buf, sizeof buf, &len), DOC_ERR_MISSING);
  assert_int_equal(len, 0);
}

static void test_shift_open_and_close(void **state)
{
  (void)state;
  doc_header_t h = header();
  doc_counters_t c;
  size_t len = 0;
  tlv_reader_t body;
  memset(&c, 0, sizeof c);

  assert_int_equal(doc_build_shift(&h, &c, true, buf, sizeof buf, &len), 0);
  open_doc(buf, len, DOC_SHIFT_OPEN, &body);
  EXPECT_TAGS(body, 1040, 1012, 1041, 1037, 1018, 1048, 1009, 1187, 1021, 1038, 1209, 1188, 1189);
  expect_header(body, true);
  expect_text(body, 1188, DOC_KKT_VERSION);

  c.receipts_in_shift = 12;
  c.documents_in_shift = 14;
  c.unsent_documents = 3;
  c.first_unsent_time = TIME_2024_01_15_1030 - 3600;
  c.unsent_notifications = 2;
  c.keys_valid_days = 300;
  c.ofd_timeout = true;
  /* No cashier: 1021 is left out, not written empty. */
  h.cashier[0] = '\0';
  assert_int_equal(doc_build_shift(&h, &c, false, buf, sizeof buf, &len), 0);
  open_doc(buf, len, DOC_SHIFT_CLOSE, &body);
  EXPECT_TAGS(body, 1040, 1012, 1041, 1037, 1018, 1048, 1009, 1187, 1038, 1209, 1118, 1111, 1097,
              1098, 2104, 1053, 1213);
  assert_int_equal(u32(body, 1118), 12);
  assert_int_equal(u32(body, 1111), 14);
  assert_int_equal(u32(body, 1097), 3);
  assert_int_equal(u32(body, 1098), TIME_2024_01_15_1030 - 3600);
  assert_int_equal(u32(body, 2104), 2);
  assert_int_equal(byte(body, 1053), 1);
  tlv_item_t keys = get(body, 1213);
  uint16_t days = 0;
  assert_int_equal(tlv_get_uint16(&keys, &days), 0);
  assert_int_equal(days, 300);

  /* Nothing unsent: 1097 = 0 and no 1098. */
  c.unsent_documents = 0;
  assert_int_equal(doc_build_shift(&h, &c, false, buf, sizeof buf, &len), 0);
  open_doc(buf, len, DOC_SHIFT_CLOSE, &body);
  assert_int_equal(u32(body, 1097), 0);
  assert_false(has(body, 1098));
}

static void test_state_report_and_fn_close(void **state)
{
  (void)state;
  doc_header_t h = header();
  doc_counters_t c;
  size_t len = 0;
  tlv_reader_t body;
  memset(&c, 0, sizeof c);
  c.unsent_documents = 4;
  c.first_unsent_number = 17;
  c.first_unsent_time = 1700000000;
  c.unsent_notifications = 9;
  c.fn_memory_full = true;

  assert_int_equal(doc_build_state_report(&h, &c, buf, sizeof buf, &len), 0);
  open_doc(buf, len, DOC_STATE_REPORT, &body);
  EXPECT_TAGS(body, 1040, 1012, 1041, 1037, 1018, 1048, 1009, 1187, 1021, 1038, 1209, 1097, 1116,
              1098, 2104, 1052);
  expect_header(body, true);
  assert_int_equal(u32(body, 1116), 17);
  assert_int_equal(u32(body, 2104), 9);
  assert_int_equal(byte(body, 1052), 1);

  /* Outside a shift, 21 has no 1038; an autonomous KKT says so. */
  h.shift_number = 0;
  h.autonomous = true;
  assert_int_equal(doc_build_state_report(&h, &c, buf, sizeof buf, &len), 0);
  open_doc(buf, len, DOC_STATE_REPORT, &body);
  assert_false(has(body, 1038));
  assert_int_equal(byte(body, 1002), 1);

  h = header();
  assert_int_equal(doc_build_fn_close(&h, &c, buf, sizeof buf, &len), 0);
  open_doc(buf, len, DOC_FN_CLOSE, &body);
  EXPECT_TAGS(body, 1040, 1012, 1041, 1037, 1018, 1048, 1009, 1187, 1021, 1038, 1209, 1097, 1098,
              2104);
  expect_header(body, true);
  assert_int_equal(u32(body, 1097), 4);
}

/* ---------------------------------------------------------------------- */
/* Receipts                                                                */

static void expect_marked_item(tlv_reader_t item, const char *km, uint8_t type, const char *ki,
                               uint8_t check, uint16_t status_tag)
{
  /* 1163 {1305: ki} */
  tlv_reader_t code = enter(get(item, 1163));
  EXPECT_TAGS(code, 1305);
  expect_text(code, 1305, ki);
  /* 2000 byte-exact on the wire, GS included. */
  tlv_item_t mark = get(item, 2000);
  assert_int_equal(mark.length, strlen(km));
  assert_memory_equal(mark.value, km, strlen(km));
  assert_non_null(memchr(mark.value, 0x1D, mark.length));
  assert_int_equal(byte(item, 2100), type);
  assert_int_equal(byte(item, 2102), 0);
  assert_int_equal(byte(item, status_tag), DOC_KM_PIECE_SOLD);
  assert_int_equal(byte(item, 2106), check);
}

static void test_receipt_with_marked_lines(void **state)
{
  (void)state;
  doc_header_t h = header();
  doc_receipt_t r = receipt4();
  size_t len = 0;
  tlv_reader_t body;
  tlv_item_t it = {0};

  assert_int_equal(doc_build_receipt(&h, &r, false, buf, sizeof buf, &len), 0);
  open_doc(buf, len, DOC_RECEIPT, &body);
  EXPECT_TAGS(body, 1040, 1012, 1041, 1037, 1018, 1048, 1009, 1187, 1021, 1038, 1209, 1042, 1054,
              1055, 1059, 1059, 1059, 1059, 1020, 1031, 1081, 1215, 1216, 1217, 1102, 2107);
  expect_header(body, true);
  assert_int_equal(byte(body, 1209), 4);
  assert_int_equal(u32(body, 1042), 5);
  assert_int_equal(byte(body, 1054), 1);
  assert_int_equal(byte(body, 1055), 1);
  assert_int_equal(vln(body, 1020), 35490);
  assert_int_equal(vln(body, 1031), 10000);
  assert_int_equal(vln(body, 1081), 25490);
  /* VAT 20% inside 354.90: 59.15. */
  assert_int_equal(vln(body, 1102), 5915);
  /* Item 3 (OISM said the status is wrong) makes the receipt negative. */
  assert_int_equal(byte(body, 2107), 1);

  assert_true(find_nth(body, 1059, 0, &it));
  tlv_reader_t item = enter(it);
  EXPECT_TAGS(item, 1030, 1079, 1023, 1043, 1199, 1212, 1214, 2108, 1163, 2000, 2100, 2102, 2003,
              2106);
  expect_text(item, 1030, "Молоко 3,2%");
  assert_int_equal(vln(item, 1079), 8990);
  tlv_item_t quantity = get(item, 1023);
  tlv_fvln_t q;
  assert_int_equal(tlv_get_fvln(&quantity, &q), 0);
  assert_int_equal(q.mantissa, 1000);
  assert_int_equal(q.scale, 3);
  assert_int_equal(vln(item, 1043), 8990);
  assert_int_equal(byte(item, 1212), 33);
  assert_int_equal(byte(item, 1214), 4);
  assert_int_equal(byte(item, 2108), 0);
  expect_marked_item(item, KM1, 5, "010460043993125621JgXJ5.T", 15, 2003);

  assert_true(find_nth(body, 1059, 1, &it));
  expect_marked_item(enter(it), KM2, 5, "0104650117240408215Qbag!", 3, 2003);

  assert_true(find_nth(body, 1059, 2, &it));
  item = enter(it);
  expect_marked_item(item, KM3, 4, "0104600439931256215>,ZxR", 7, 2003);
  tlv_reader_t industry = enter(get(item, 1260));
  EXPECT_TAGS(industry, 1262, 1263, 1264, 1265);
  expect_text(industry, 1262, "030");
  expect_text(industry, 1263, "21.11.2023");
  expect_text(industry, 1264, "1944");
  expect_text(industry, 1265, "UUID=0f1e2d3c-aaaa-bbbb-cccc-000011112222&Time=1705314599123");

  assert_true(find_nth(body, 1059, 3, &it));
  item = enter(it);
  EXPECT_TAGS(item, 1030, 1079, 1023, 1043, 1199, 1212, 1214, 2108, 1163);
  assert_int_equal(vln(item, 1043), 1000);
  tlv_reader_t code = enter(get(item, 1163));
  expect_text(code, 1302, "4600000000008");
}

static void test_receipt_2107(void **state)
{
  (void)state;
  doc_header_t h = header();
  doc_receipt_t r = receipt4();
  size_t len = 0;
  tlv_reader_t body;

  /* The rule, bit by bit: negative only when a check was made and failed. */
  assert_false(doc_check_negative(0));
  assert_false(doc_check_negative(3));
  assert_false(doc_check_negative(15));
  assert_false(doc_check_negative(16));
  assert_false(doc_check_negative(19));
  assert_true(doc_check_negative(1));
  assert_true(doc_check_negative(5));
  assert_true(doc_check_negative(7));
  assert_true(doc_check_negative(17));

  /* All positive or not checked: 2107 = 0. */
  r.items[2].check_result = 15;
  assert_int_equal(doc_build_receipt(&h, &r, false, buf, sizeof buf, &len), 0);
  open_doc(buf, len, DOC_RECEIPT, &body);
  assert_int_equal(byte(body, 2107), 0);

  /* A tail that failed in the FN: 1. */
  r.items[1].check_result = DOC_2106_TAIL_CHECKED;
  assert_int_equal(doc_build_receipt(&h, &r, false, buf, sizeof buf, &len), 0);
  open_doc(buf, len, DOC_RECEIPT, &body);
  assert_int_equal(byte(body, 2107), 1);

  /* No marked line: no 2107 at all. */
  r.items[0] = r.items[3];
  r.item_count = 1;
  r.cash = 1000;
  r.cashless = 0;
  assert_int_equal(doc_build_receipt(&h, &r, false, buf, sizeof buf, &len), 0);
  open_doc(buf, len, DOC_RECEIPT, &body);
  assert_false(has(body, 2107));
  assert_false(has(body, 2000));
}

static void test_receipt_operations_and_correction(void **state)
{
  (void)state;
  doc_header_t h = header();
  doc_receipt_t r = receipt4();
  size_t len = 0;
  tlv_reader_t body;
  tlv_item_t it = {0};

  for (uint8_t op = DOC_OP_SALE; op <= DOC_OP_PURCHASE_RETURN; op++) {
    r.operation = op;
    for (size_t i = 0; i < 3; i++)
      r.items[i].km_status = op == DOC_OP_SALE_RETURN ? DOC_KM_PIECE_RETURNED : DOC_KM_PIECE_SOLD;
    assert_int_equal(doc_build_receipt(&h, &r, false, buf, sizeof buf, &len), 0);
    open_doc(buf, len, DOC_RECEIPT, &body);
    assert_int_equal(byte(body, 1054), op);
    assert_true(find_nth(body, 1059, 0, &it));
    assert_int_equal(byte(enter(it), 2003),
                     op == DOC_OP_SALE_RETURN ? DOC_KM_PIECE_RETURNED : DOC_KM_PIECE_SOLD);
  }

  r = receipt4();
  r.correction_type = 1;
  r.correction_date = 1704067200; /* 2024-01-01 */
  strcpy(r.correction_basis, "ПР-15/2024");
  assert_int_equal(doc_build_receipt(&h, &r, true, buf, sizeof buf, &len), 0);
  open_doc(buf, len, DOC_CORRECTION, &body);
  EXPECT_TAGS(body, 1040, 1012, 1041, 1037, 1018, 1048, 1009, 1187, 1021, 1038, 1209, 1042, 1054,
              1055, 1173, 1174, 1059, 1059, 1059, 1059, 1020, 1031, 1081, 1215, 1216, 1217, 1102,
              2107);
  assert_int_equal(byte(body, 1173), 1);
  tlv_reader_t basis = enter(get(body, 1174));
  EXPECT_TAGS(basis, 1178, 1179);
  assert_int_equal(u32(basis, 1178), 1704067200);
  expect_text(basis, 1179, "ПР-15/2024");
  /* A correction states the assigned status (2110), not a planned one. */
  assert_true(find_nth(body, 1059, 0, &it));
  tlv_reader_t item = enter(it);
  assert_false(has(item, 2003));
  expect_marked_item(item, KM1, 5, "010460043993125621JgXJ5.T", 15, 2110);
}

static void test_receipt_totals_and_arguments(void **state)
{
  (void)state;
  doc_header_t h = header();
  doc_receipt_t r = receipt4();
  size_t len = 7;

  /* Payments one kopeck short of the items. */
  r.cash -= 1;
  memset(buf, 0, sizeof buf);
  assert_int_equal(doc_build_receipt(&h, &r, false, buf, sizeof buf, &len), DOC_ERR_TOTAL);
  assert_int_equal(len, 0);
  assert_wiped(buf, 4096);

  r = receipt4();
  r.item_count = 0;
  assert_int_equal(doc_build_receipt(&h, &r, false, buf, sizeof buf, &len), TLV_ERR_ARGUMENT);
  r.item_count = DOC_MAX_ITEMS + 1;
  assert_int_equal(doc_build_receipt(&h, &r, false, buf, sizeof buf, &len), TLV_ERR_ARGUMENT);
  r = receipt4();
  r.operation = 5;
  assert_int_equal(doc_build_receipt(&h, &r, false, buf, sizeof buf, &len), TLV_ERR_ARGUMENT);
  r.operation = 0;
  assert_int_equal(doc_build_receipt(&h, &r, false, buf, sizeof buf, &len), TLV_ERR_ARGUMENT);
  r = receipt4();
  r.correction_type = 2;
  assert_int_equal(doc_build_receipt(&h, &r, true, buf, sizeof buf, &len), TLV_ERR_ARGUMENT);

  /* A marked line without its code. */
  r = receipt4();
  r.items[1].km_len = 0;
  assert_int_equal(doc_build_receipt(&h, &r, false, buf, sizeof buf, &len), TLV_ERR_ARGUMENT);
  r.items[1].km_len = DOC_MAX_KM + 1;
  assert_int_equal(doc_build_receipt(&h, &r, false, buf, sizeof buf, &len), TLV_ERR_ARGUMENT);

  /* A header text that fills its array has lost its end. */
  r = receipt4();
  memset(h.fn_number, '9', sizeof h.fn_number);
  assert_int_equal(doc_build_receipt(&h, &r, false, buf, sizeof buf, &len), TLV_ERR_ARGUMENT);
  h = header();

  /* Text with no CP866 form (a euro sign) is refused, not replaced. */
  strcpy(r.items[3].name, "Пакет \xE2\x82\xAC");
  memset(buf, 0, sizeof buf);
  assert_int_equal(doc_build_receipt(&h, &r, false, buf, sizeof buf, &len), TLV_ERR_NOT_CP866);
  assert_int_equal(len, 0);
  assert_wiped(buf, sizeof buf);

  /* Amounts past six bytes. */
  r = receipt4();
  r.items[0].total = UINT64_C(1) << 48;
  assert_int_equal(doc_build_receipt(&h, &r, false, buf, sizeof buf, &len), DOC_ERR_TOTAL);

  /* NULLs. */
  assert_int_equal(doc_build_receipt(NULL, &r, false, buf, sizeof buf, &len), TLV_ERR_ARGUMENT);
  assert_int_equal(doc_build_receipt(&h, NULL, false, buf, sizeof buf, &len), TLV_ERR_ARGUMENT);
  assert_int_equal(doc_build_receipt(&h, &r, false, NULL, sizeof buf, &len), TLV_ERR_ARGUMENT);
  assert_int_equal(doc_build_receipt(&h, &r, false, buf, sizeof buf, NULL), TLV_ERR_ARGUMENT);

  /* A small buffer is NO_SPACE, wiped. */
  r = receipt4();
  memset(buf, 0, sizeof buf);
  assert_int_equal(doc_build_receipt(&h, &r, false, buf, 300, &len), TLV_ERR_NO_SPACE);
  assert_int_equal(len, 0);
  assert_wiped(buf, 300);
}

/*
** VAT. One receipt per 1199 value, two lines (123.45 + 9.99 = 133.44) at
** that rate; the expected receipt-level requisite and its value are
** worked out by hand here, not by doc_vat_amount(): the tax inside a
** price that includes it is gross * r / (100 + r), rounded half up once
** on the receipt; 0 % and "no VAT" carry the gross amount.
**   20 %, 20/120: 13344 * 20 / 120 = 2224.00  -> 2224
**   10 %, 10/110: 13344 * 10 / 110 = 1213.09  -> 1213
**    5 %,  5/105: 13344 *  5 / 105 =  635.43  ->  635
**    7 %,  7/107: 13344 *  7 / 107 =  872.97  ->  873
**   22 %, 22/122: 13344 * 22 / 122 = 2406.30  -> 2406
** The tags of 7..12 are the [open] stand-ins of doc.h (DOC_TAG_VAT_*).
*/
static void test_receipt_vat_every_rate(void **state)
{
  (void)state;
  static const struct {
    uint8_t vat;
    uint16_t tag;
    uint64_t sum;
  } rates[] = {
      {1, 1102, 2224},
      {2, 1103, 1213},
      {3, 1106, 2224},
      {4, 1107, 1213},
      {5, 1104, 13344},
      {6, 1105, 13344},
      {7, DOC_TAG_VAT_5, 635},
      {8, DOC_TAG_VAT_7, 873},
      {9, DOC_TAG_VAT_5_105, 635},
      {10, DOC_TAG_VAT_7_107, 873},
      {11, DOC_TAG_VAT_22, 2406},
      {12, DOC_TAG_VAT_22_122, 2406},
  };
  static doc_receipt_t r, back;
  doc_header_t h = header(), hb;
  uint64_t total = 0;
  uint8_t sign[6];
  for (size_t i = 0; i < sizeof rates / sizeof rates[0]; i++) {
    size_t len = 0;
    tlv_reader_t body;
    memset(&r, 0, sizeof r);
    r.operation = DOC_OP_SALE;
    r.tax_system = 1;
    r.receipt_number = 1;
    r.items[0] = plain_item("Товар А", 12345, 1);
    r.items[1] = plain_item("Товар Б", 999, 1);
    r.items[0].vat = r.items[1].vat = rates[i].vat;
    r.item_count = 2;
    r.cash = 13344;
    assert_int_equal(doc_build_receipt(&h, &r, false, buf, sizeof buf, &len), 0);
    open_doc(buf, len, DOC_RECEIPT, &body);
    const uint16_t expected[] = {1040, 1012, 1041, 1037, 1018, 1048, 1009,        1187,
                                 1021, 1038, 1209, 1042, 1054, 1055, 1059,        1059,
                                 1020, 1031, 1081, 1215, 1216, 1217, rates[i].tag};
    expect_tags(body, expected, sizeof expected / sizeof expected[0]);
    assert_int_equal(vln(body, rates[i].tag), rates[i].sum);
    /* Read back: the sum of that rate and no other. */
    assert_int_equal(doc_parse_receipt(buf, len, &hb, &back, &total, sign), 0);
    assert_int_equal(back.vat_present, 1u << rates[i].vat);
    assert_int_equal(back.vat_sums[rates[i].vat], rates[i].sum);
    /* The table agrees with the hand arithmetic. */
    assert_int_equal(doc_vat_amount(rates[i].vat, 13344), rates[i].sum);
    assert_int_equal(doc_vat_rate(rates[i].vat)->sum_tag, rates[i].tag);
  }
  assert_null(doc_vat_rate(0));
  assert_null(doc_vat_rate(13));
  assert_int_equal(doc_vat_amount(13, 13344), 0);
}

/*
** One receipt with four rates: each sum once, in tag order (1103, 1105,
** then the 5 % and 22 % stand-ins), each from its own lines only; and the
** rounding is half up on the receipt, not per line:
**   10 %: 89.90 + 84.50 = 174.40; 17440 * 10 / 110 = 1585.45 -> 1585
**   none: 45.00
**   5 %: 100.00; 10000 * 5 / 105 = 476.19 -> 476
**   22 %: 49.99 x 3 = 149.97 (three lines of 49.99); 14997 * 22 / 122
**         = 2704.38 -> 2704 (per line: 4999 * 22 / 122 = 901.46 -> 901,
**         x 3 = 2703: the per-line sum would be a kopeck short)
**   half up: 0.15 at 20 %: 15 / 6 = 2.5 -> 3 (a banker's rounding gives 2)
*/
static void test_receipt_vat_mixed_and_rounding(void **state)
{
  (void)state;
  static doc_receipt_t r;
  doc_header_t h = header();
  size_t len = 0;
  tlv_reader_t body;
  memset(&r, 0, sizeof r);
  r.operation = DOC_OP_SALE;
  r.tax_system = 1;
  r.receipt_number = 2;
  r.items[0] = plain_item("Кроссовки", 4999, 1);
  r.items[0].vat = 11;
  r.items[1] = plain_item("Молоко", 8990, 1);
  r.items[1].vat = 2;
  r.items[2] = plain_item("Кроссовки", 4999, 1);
  r.items[2].vat = 11;
  r.items[3] = plain_item("Хлеб", 4500, 1);
  r.items[3].vat = 6;
  r.items[4] = plain_item("Кефир", 8450, 1);
  r.items[4].vat = 2;
  r.items[5] = plain_item("Услуга", 10000, 1);
  r.items[5].vat = 7;
  r.items[6] = plain_item("Кроссовки", 4999, 1);
  r.items[6].vat = 11;
  r.item_count = 7;
  r.cashless = 4999 * 3 + 8990 + 8450 + 4500 + 10000;
  assert_int_equal(doc_build_receipt(&h, &r, false, buf, sizeof buf, &len), 0);
  open_doc(buf, len, DOC_RECEIPT, &body);
  EXPECT_TAGS(body, 1040, 1012, 1041, 1037, 1018, 1048, 1009, 1187, 1021, 1038, 1209, 1042, 1054,
              1055, 1059, 1059, 1059, 1059, 1059, 1059, 1059, 1020, 1031, 1081, 1215, 1216, 1217,
              1103, 1105, DOC_TAG_VAT_5, DOC_TAG_VAT_22);
  assert_int_equal(vln(body, 1103), 1585);
  assert_int_equal(vln(body, 1105), 4500);
  assert_int_equal(vln(body, DOC_TAG_VAT_5), 476);
  assert_int_equal(vln(body, DOC_TAG_VAT_22), 2704);

  /* Half up. */
  memset(&r, 0, sizeof r);
  r.operation = DOC_OP_SALE;
  r.tax_system = 1;
  r.items[0] = plain_item("Спички", 15, 1);
  r.item_count = 1;
  r.cash = 15;
  assert_int_equal(doc_build_receipt(&h, &r, false, buf, sizeof buf, &len), 0);
  open_doc(buf, len, DOC_RECEIPT, &body);
  assert_int_equal(vln(body, 1102), 3);

  /* The JSON names of the new sums (the FNS JSON names OFDs use). */
  memset(&r, 0, sizeof r);
  r.operation = DOC_OP_SALE;
  r.tax_system = 1;
  r.items[0] = plain_item("Кроссовки", 10000, 1);
  r.items[0].vat = 11;
  r.item_count = 1;
  r.cash = 10000;
  assert_int_equal(doc_build_receipt(&h, &r, false, buf, sizeof buf, &len), 0);
  int err = -1;
  char *json = doc_to_json(buf, len, &err);
  assert_non_null(json);
  /* 10000 * 22 / 122 = 1803.28 -> 1803 */
  assert_non_null(strstr(json, "\"nds22\":1803"));
  free(json);
}

/*
** The settlement totals of a state report, byte for byte as the format
** lays them out (tag and length little-endian; VLN without trailing
** zeros, 0 as one byte): one sale of 1.00 in cash at 20 % (VAT 0.17).
*/
static void test_state_report_totals_bytes(void **state)
{
  (void)state;
  static const uint8_t expected[] = {
      0xAA, 0x04, 0x34, 0x00,                         /* 1194, 52 bytes */
      0x6E, 0x04, 0x04, 0x00, 0x01, 0x00, 0x00, 0x00, /* 1134 = 1 */
      0x69, 0x04, 0x1C, 0x00,                         /* 1129 (sale), 28 bytes */
      0x6F, 0x04, 0x04, 0x00, 0x01, 0x00, 0x00, 0x00, /* 1135 = 1 */
      0x70, 0x04, 0x01, 0x00, 0x64,                   /* 1136 cash 100 */
      0x72, 0x04, 0x01, 0x00, 0x00,                   /* 1138 cashless 0 */
      0x73, 0x04, 0x01, 0x00, 0x11,                   /* 1139 VAT 20 % 17 */
      0xB1, 0x04, 0x01, 0x00, 0x64,                   /* 1201 total 100 */
      0x6D, 0x04, 0x08, 0x00,                         /* 1133 (corrections), 8 bytes */
      0x78, 0x04, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00, /* 1144 = 0 */
  };
  doc_header_t h = header();
  doc_counters_t c;
  doc_totals_t t;
  size_t len = 0;
  memset(&c, 0, sizeof c);
  memset(&t, 0, sizeof t);
  t.receipts[1].count = 1;
  t.receipts[1].total = 100;
  t.receipts[1].cash = 100;
  t.receipts[1].vat[1] = 17;
  t.receipts[1].vat_present = 1u << 1;
  c.shift_totals = &t;
  assert_int_equal(doc_build_state_report(&h, &c, buf, sizeof buf, &len), 0);
  /* 1194 is the last requisite: the document ends with it. */
  assert_true(len > sizeof expected);
  assert_memory_equal(buf + len - sizeof expected, expected, sizeof expected);
  doc_totals_t back;
  assert_int_equal(doc_parse_totals(buf, len, 1194, &back), 0);
  assert_int_equal(back.receipts[1].vat[1], 17);
  assert_int_equal(back.receipts[1].count, 1);
  assert_int_equal(doc_parse_totals(buf, len, 1157, &back), DOC_ERR_MISSING);
}

/*
** The counters at their limits (fiscal/tlv.c: each sum VLN 8, an operation
** 1129-1132 224 bytes, 1157/1194 1140): every operation with every one of
** the twelve VAT rates, the five forms and its total at 2^64 - 1 kopecks,
** and corrections of every operation, build into a 21, each operation
** exactly 224 bytes long, and read back the same. One byte more in any
** operation would be refused by the reader.
*/
static void test_totals_at_their_limits(void **state)
{
  (void)state;
  doc_header_t h = header();
  doc_counters_t c;
  static doc_totals_t t, back;
  size_t len = 0;
  memset(&c, 0, sizeof c);
  memset(&t, 0, sizeof t);
  for (int op = 1; op <= 4; op++) {
    doc_op_totals_t *o = &t.receipts[op];
    o->count = 1000;
    o->total = o->cash = o->cashless = o->prepaid = o->credit = o->other = UINT64_MAX;
    for (uint8_t v = 1; v <= DOC_VAT_MAX; v++) {
      o->vat[v] = UINT64_MAX;
      o->vat_present |= (uint16_t)(1u << v);
    }
    t.corrections[op].count = 1000;
    t.corrections[op].total = UINT64_MAX;
  }
  c.shift_totals = c.fn_totals = &t;
  assert_int_equal(doc_build_state_report(&h, &c, buf, sizeof buf, &len), 0);
  tlv_reader_t body;
  open_doc(buf, len, 21, &body);
  tlv_item_t totals = get(body, 1194);
  assert_true(totals.length <= tlv_tag_lookup(1194)->max_length);
  tlv_reader_t in = enter(totals);
  for (uint16_t tag = 1129; tag <= 1132; tag++) {
    tlv_item_t op = get(in, tag);
    assert_int_equal(op.length, 224);
    assert_int_equal(tlv_tag_lookup(tag)->max_length, 224);
  }
  assert_int_equal(doc_parse_totals(buf, len, 1157, &back), 0);
  assert_memory_equal(&back.receipts, &t.receipts, sizeof t.receipts);
  assert_int_equal(back.corrections[4].total, UINT64_MAX);
}

/* The requisites a form must carry: a sealed receipt and correction pass,
** an unsealed one lacks 1077, a 21 without its 1157 and a 5 without 1194
** are refused, and 7 is not a form this check knows. */
static void test_required_requisites(void **state)
{
  (void)state;
  static const uint8_t sign[6] = {1, 2, 3, 4, 5, 6};
  doc_header_t h = header();
  doc_receipt_t r = receipt4();
  doc_counters_t c;
  doc_totals_t t;
  size_t len = 0;
  uint16_t missing = 0;
  assert_int_equal(doc_build_receipt(&h, &r, false, buf, sizeof buf, &len), 0);
  assert_int_equal(doc_check_required(buf, len, &missing), DOC_ERR_MISSING);
  assert_int_equal(missing, 1077);
  assert_int_equal(doc_seal(buf, &len, sizeof buf, sign), 0);
  assert_int_equal(doc_check_required(buf, len, &missing), 0);
  r.correction_type = 1;
  strcpy(r.correction_basis, "12-34/5");
  assert_int_equal(doc_build_receipt(&h, &r, true, buf, sizeof buf, &len), 0);
  assert_int_equal(doc_seal(buf, &len, sizeof buf, sign), 0);
  assert_int_equal(doc_check_required(buf, len, NULL), 0);

  memset(&c, 0, sizeof c);
  memset(&t, 0, sizeof t);
  assert_int_equal(doc_build_state_report(&h, &c, buf, sizeof buf, &len), 0);
  assert_int_equal(doc_seal(buf, &len, sizeof buf, sign), 0);
  assert_int_equal(doc_check_required(buf, len, &missing), DOC_ERR_MISSING);
  assert_int_equal(missing, 1157);
  c.fn_totals = &t;
  assert_int_equal(doc_build_state_report(&h, &c, buf, sizeof buf, &len), 0);
  assert_int_equal(doc_seal(buf, &len, sizeof buf, sign), 0);
  assert_int_equal(doc_check_required(buf, len, NULL), 0);
  assert_int_equal(doc_build_shift(&h, &c, false, buf, sizeof buf, &len), 0);
  assert_int_equal(doc_seal(buf, &len, sizeof buf, sign), 0);
  assert_int_equal(doc_check_required(buf, len, &missing), DOC_ERR_MISSING);
  assert_int_equal(missing, 1194);
  c.shift_totals = &t;
  assert_int_equal(doc_build_shift(&h, &c, false, buf, sizeof buf, &len), 0);
  assert_int_equal(doc_seal(buf, &len, sizeof buf, sign), 0);
  assert_int_equal(doc_check_required(buf, len, NULL), 0);

  /* The sums of a receipt agree with its lines; a VAT sum or a payment
  ** changed in the bytes does not (the fiscal sign is not this check's). */
  static doc_receipt_t scratch;
  r = receipt4();
  assert_int_equal(doc_build_receipt(&h, &r, false, buf, sizeof buf, &len), 0);
  assert_int_equal(doc_check_sums(buf, len, &scratch), 0);
  {
    tlv_reader_t b;
    tlv_item_t vat = {0};
    open_doc(buf, len, DOC_RECEIPT, &b);
    assert_true(find_nth(b, 1102, 0, &vat));
    uint8_t *value = (uint8_t *)vat.value; /* 5915 = 0x171B: change its low byte */
    value[0] ^= 1;
    assert_int_equal(doc_check_sums(buf, len, &scratch), DOC_ERR_TOTAL);
    value[0] ^= 1;
    assert_true(find_nth(b, 1031, 0, &vat));
    value = (uint8_t *)vat.value;
    value[0] ^= 1;
    assert_int_equal(doc_check_sums(buf, len, &scratch), DOC_ERR_TOTAL);
  }
  assert_int_equal(doc_check_sums(buf, len, NULL), TLV_ERR_ARGUMENT);

  doc_ack_t a;
  memset(&a, 0, sizeof a);
  strcpy(a.ofd_inn, "7704211201");
  strcpy(a.fn_number, "9999078902012345");
  a.document_number = 1;
  a.operator_sign_len = 18;
  assert_int_equal(doc_build_ack(&a, buf, sizeof buf, &len), 0);
  assert_int_equal(doc_check_required(buf, len, NULL), DOC_ERR_WRONG_FORM);
}

/*
** Payment forms and the 1214 rules. One line of 100.00 each time:
**   1214 = 1 (prepayment 100 %) paid in cash          -> 1031 100.00
**   1214 = 4 (full settlement) offsetting it          -> 1215 100.00
**   1214 = 5 (partial settlement and credit): 30.00 card + 70.00 credit
**   1214 = 6 (on credit)                              -> 1216 100.00
**   1214 = 7 (credit payment) by card, 1217 counter-provision on a 4
** and what the rules refuse.
*/
static int pay_one(uint8_t method, bool marked, uint64_t cash, uint64_t cashless, uint64_t prepaid,
                   uint64_t credit, uint64_t other, size_t *len)
{
  static doc_receipt_t r;
  doc_header_t h = header();
  memset(&r, 0, sizeof r);
  r.operation = DOC_OP_SALE;
  r.tax_system = 1;
  r.items[0] = marked ? marked_item("Кроссовки", 10000, KM1, 5, 1305, "x", 15)
                      : plain_item("Кроссовки", 10000, 1);
  r.items[0].payment_method = method;
  r.item_count = 1;
  r.cash = cash;
  r.cashless = cashless;
  r.prepaid = prepaid;
  r.credit = credit;
  r.other = other;
  return doc_build_receipt(&h, &r, false, buf, sizeof buf, len);
}

static void test_payment_forms(void **state)
{
  (void)state;
  size_t len = 0;
  tlv_reader_t body;
  tlv_item_t it;
  assert_int_equal(pay_one(1, false, 10000, 0, 0, 0, 0, &len), 0);
  open_doc(buf, len, DOC_RECEIPT, &body);
  assert_true(find_nth(body, 1059, 0, &it));
  assert_int_equal(byte(enter(it), 1214), 1);
  assert_int_equal(vln(body, 1031), 10000);
  assert_int_equal(vln(body, 1215), 0);

  assert_int_equal(pay_one(4, false, 0, 0, 10000, 0, 0, &len), 0);
  open_doc(buf, len, DOC_RECEIPT, &body);
  assert_int_equal(vln(body, 1215), 10000);
  assert_int_equal(vln(body, 1031), 0);
  assert_int_equal(vln(body, 1020), 10000);

  assert_int_equal(pay_one(5, false, 0, 3000, 0, 7000, 0, &len), 0);
  open_doc(buf, len, DOC_RECEIPT, &body);
  assert_int_equal(vln(body, 1081), 3000);
  assert_int_equal(vln(body, 1216), 7000);

  assert_int_equal(pay_one(6, false, 0, 0, 0, 10000, 0, &len), 0);
  open_doc(buf, len, DOC_RECEIPT, &body);
  assert_int_equal(vln(body, 1216), 10000);
  assert_int_equal(pay_one(7, false, 0, 10000, 0, 0, 0, &len), 0);
  assert_int_equal(pay_one(4, false, 0, 0, 0, 0, 10000, &len), 0);
  open_doc(buf, len, DOC_RECEIPT, &body);
  assert_int_equal(vln(body, 1217), 10000);
  /* 2 and 3 are money now too. */
  assert_int_equal(pay_one(2, false, 10000, 0, 0, 0, 0, &len), 0);
  assert_int_equal(pay_one(3, false, 0, 10000, 0, 0, 0, &len), 0);

  /* Refused: an offset against a prepayment line, credit on a full one, a
  ** prepayment paid by credit, money for credit paid on credit, a marked
  ** prepayment, forms not adding up, a 1214 that does not exist. */
  assert_int_equal(pay_one(1, false, 0, 0, 10000, 0, 0, &len), DOC_ERR_TOTAL);
  assert_int_equal(len, 0);
  assert_int_equal(pay_one(4, false, 0, 0, 0, 10000, 0, &len), DOC_ERR_TOTAL);
  assert_int_equal(pay_one(3, false, 0, 0, 0, 10000, 0, &len), DOC_ERR_TOTAL);
  assert_int_equal(pay_one(7, false, 0, 0, 0, 10000, 0, &len), DOC_ERR_TOTAL);
  assert_int_equal(pay_one(6, false, 0, 0, 10000, 0, 0, &len), DOC_ERR_TOTAL);
  assert_int_equal(pay_one(1, true, 10000, 0, 0, 0, 0, &len), DOC_ERR_TOTAL);
  assert_int_equal(pay_one(4, true, 10000, 0, 0, 0, 0, &len), 0);
  assert_int_equal(pay_one(5, false, 0, 3000, 0, 6000, 0, &len), DOC_ERR_TOTAL);
  assert_int_equal(pay_one(8, false, 10000, 0, 0, 0, 0, &len), TLV_ERR_ARGUMENT);
  assert_int_equal(pay_one(0, false, 10000, 0, 0, 0, 0, &len), TLV_ERR_ARGUMENT);
}

/*
** An agent's line (a commission agent, 1222 = 32, selling for a supplier)
** and a marked good sold as a quarter (1291 {1292 "1/4", 1293 1, 1294 4},
** status 2): their requisites in the receipt, in 81 and 82, and through
** the extras codec an FN keeps them in.
*/
static void test_agent_and_fraction(void **state)
{
  (void)state;
  static doc_receipt_t r, back;
  doc_header_t h = header(), hb;
  size_t len = 0;
  tlv_reader_t body;
  tlv_item_t it;
  uint64_t total;
  uint8_t sign[6];
  memset(&r, 0, sizeof r);
  r.operation = DOC_OP_SALE;
  r.tax_system = 1;
  r.items[0] = plain_item("Билет", 50000, 1);
  r.items[0].agent.sign = 32;
  strcpy(r.items[0].agent.agent_phone, "+79001234567");
  strcpy(r.items[0].agent.supplier_name, "ООО Театр");
  strcpy(r.items[0].agent.supplier_inn, "7707083893");
  strcpy(r.items[0].agent.supplier_phone, "+74951234567");
  r.items[1] = marked_item("Сыр, головка", 80000, KM1, 5, 1305, "010460043993125621JgXJ5.T", 15);
  r.items[1].quantity = (doc_quantity_t){25, 2};
  r.items[1].total = 20000;
  r.items[1].fraction_numerator = 1;
  r.items[1].fraction_denominator = 4;
  r.items[1].km_status = DOC_KM_MEASURED_SOLD;
  r.item_count = 2;
  r.cash = 70000;
  assert_int_equal(doc_build_receipt(&h, &r, false, buf, sizeof buf, &len), 0);
  open_doc(buf, len, DOC_RECEIPT, &body);
  assert_int_equal(byte(body, 1057), 32);
  assert_true(find_nth(body, 1059, 0, &it));
  tlv_reader_t item = enter(it);
  EXPECT_TAGS(item, 1030, 1079, 1023, 1043, 1199, 1212, 1214, 1222, 1223, 1224, 1226, 2108);
  assert_int_equal(byte(item, 1222), 32);
  tlv_reader_t agent = enter(get(item, 1223));
  EXPECT_TAGS(agent, 1073);
  expect_text(agent, 1073, "+79001234567");
  tlv_reader_t supplier = enter(get(item, 1224));
  EXPECT_TAGS(supplier, 1171, 1225);
  expect_text(supplier, 1225, "ООО Театр");
  expect_text(item, 1226, "7707083893");
  assert_true(find_nth(body, 1059, 1, &it));
  item = enter(it);
  EXPECT_TAGS(item, 1030, 1079, 1023, 1043, 1199, 1212, 1214, 2108, 1291, 1163, 2000, 2100, 2102,
              2003, 2106);
  assert_int_equal(byte(item, 2003), DOC_KM_MEASURED_SOLD);
  tlv_reader_t fraction = enter(get(item, 1291));
  EXPECT_TAGS(fraction, 1292, 1293, 1294);
  expect_text(fraction, 1292, "1/4");
  assert_int_equal(vln(fraction, 1293), 1);
  assert_int_equal(vln(fraction, 1294), 4);
  /* Read back whole. */
  assert_int_equal(doc_parse_receipt(buf, len, &hb, &back, &total, sign), 0);
  assert_int_equal(back.items[0].agent.sign, 32);
  assert_string_equal(back.items[0].agent.supplier_name, "ООО Театр");
  assert_string_equal(back.items[0].agent.supplier_inn, "7707083893");
  assert_int_equal(back.items[1].fraction_numerator, 1);
  assert_int_equal(back.items[1].fraction_denominator, 4);

  /* 81 and 82 carry the fraction too. */
  assert_int_equal(doc_build_km_request(&h, &r.items[1], buf, sizeof buf, &len), 0);
  open_doc(buf, len, DOC_KM_REQUEST, &body);
  assert_int_equal(byte(body, 2003), DOC_KM_MEASURED_SOLD);
  assert_int_equal(vln(enter(get(body, 1291)), 1294), 4);
  assert_int_equal(doc_build_km_notification(&h, 42, &r, buf, sizeof buf, &len), 0);
  open_doc(buf, len, DOC_KM_NOTIFICATION, &body);
  tlv_reader_t line = enter(get(body, 2007));
  assert_int_equal(byte(line, 2110), DOC_KM_MEASURED_SOLD);
  assert_int_equal(vln(enter(get(line, 1291)), 1293), 1);

  /* The extras codec: what an FN stores beside its columns. */
  uint8_t extras[2048];
  size_t n = 0;
  doc_item_t copy;
  memset(&copy, 0, sizeof copy);
  assert_int_equal(doc_item_extras_put(&r.items[0], extras, sizeof extras, &n), 0);
  assert_true(n > 0);
  assert_int_equal(doc_item_extras_get(extras, n, &copy), 0);
  assert_memory_equal(&copy.agent, &r.items[0].agent, sizeof copy.agent);
  assert_int_equal(doc_item_extras_put(&r.items[1], extras, sizeof extras, &n), 0);
  assert_int_equal(doc_item_extras_get(extras, n, &copy), 0);
  assert_int_equal(copy.fraction_denominator, 4);
  doc_item_t plain = plain_item("Хлеб", 100, 1);
  assert_int_equal(doc_item_extras_put(&plain, extras, sizeof extras, &n), 0);
  assert_int_equal(n, 0);

  /* Refused: an agent's line without its supplier, a "fraction" of 4/4. */
  r.items[0].agent.supplier_inn[0] = '\0';
  assert_int_equal(doc_build_receipt(&h, &r, false, buf, sizeof buf, &len), DOC_ERR_MISSING);
  strcpy(r.items[0].agent.supplier_inn, "7707083893");
  r.items[1].fraction_numerator = 4;
  assert_int_equal(doc_build_receipt(&h, &r, false, buf, sizeof buf, &len), TLV_ERR_ARGUMENT);
}

/*
** The 2025 requisites: 1011 (the zone) after 1012 in 1, 11, 3 and 31 and
** in 82 (with 2040), never in 2, 5, 21, 6; 1125 for an internet sale; the
** zone numbers by hand: UTC+2 Kaliningrad 1, UTC+3 Moscow 2, UTC+10
** Vladivostok 9, UTC+12 Kamchatka 11, UTC and UTC+3:30 none.
*/
static void test_ffd_2025_requisites(void **state)
{
  (void)state;
  doc_header_t h = header();
  doc_receipt_t r = receipt4();
  doc_registration_t reg;
  doc_counters_t c;
  size_t len = 0;
  tlv_reader_t body;
  assert_int_equal(doc_timezone_of_offset(2 * 3600), 1);
  assert_int_equal(doc_timezone_of_offset(3 * 3600), 2);
  assert_int_equal(doc_timezone_of_offset(10 * 3600), 9);
  assert_int_equal(doc_timezone_of_offset(12 * 3600), 11);
  assert_int_equal(doc_timezone_of_offset(0), 0);
  assert_int_equal(doc_timezone_of_offset(13 * 3600), 0);
  assert_int_equal(doc_timezone_of_offset(3 * 3600 + 1800), 0);
  assert_int_equal(doc_timezone_of_offset(-3 * 3600), 0);

  h.timezone = 2;
  r.internet = true;
  assert_int_equal(doc_build_receipt(&h, &r, false, buf, sizeof buf, &len), 0);
  open_doc(buf, len, DOC_RECEIPT, &body);
  EXPECT_TAGS(body, 1040, 1012, 1011, 1041, 1037, 1018, 1048, 1009, 1187, 1021, 1038, 1209, 1042,
              1054, 1055, 1125, 1059, 1059, 1059, 1059, 1020, 1031, 1081, 1215, 1216, 1217, 1102,
              2107);
  assert_int_equal(byte(body, 1011), 2);
  assert_int_equal(byte(body, 1125), 1);
  assert_int_equal(doc_build_receipt(&h, &r, true, buf, sizeof buf, &len), 0);
  open_doc(buf, len, DOC_CORRECTION, &body);
  assert_int_equal(byte(body, 1011), 2);
  memset(&reg, 0, sizeof reg);
  reg.tax_systems = 1;
  strcpy(reg.ofd_inn, "7704211201");
  assert_int_equal(doc_build_registration(&h, &reg, false, buf, sizeof buf, &len), 0);
  open_doc(buf, len, DOC_REGISTRATION, &body);
  assert_int_equal(byte(body, 1011), 2);
  assert_int_equal(doc_build_km_notification(&h, 9, &r, buf, sizeof buf, &len), 0);
  open_doc(buf, len, DOC_KM_NOTIFICATION, &body);
  assert_int_equal(byte(body, 1011), 2);
  assert_int_equal(u32(body, 2040), 9);
  memset(&c, 0, sizeof c);
  tlv_item_t it;
  assert_int_equal(doc_build_shift(&h, &c, true, buf, sizeof buf, &len), 0);
  open_doc(buf, len, DOC_SHIFT_OPEN, &body);
  assert_false(find_nth(body, 1011, 0, &it));
}

/* A line as large as the dictionary allows: every text at its limit. */
static doc_item_t largest_item(void)
{
  doc_item_t it = marked_item("", UINT64_C(99999999), "", 5, 1305, "", 15);
  memset(it.name, 'N', 128);
  it.name[128] = '\0';
  it.km_len = DOC_MAX_KM;
  memset(it.km, 'K', DOC_MAX_KM);
  it.km[10] = 0x1D;
  memset(it.product_value, 'P', 38);
  it.product_value[38] = '\0';
  it.quantity = (doc_quantity_t){UINT64_C(0xFFFFFFFFFFFFFF), 3};
  it.has_industry = true;
  strcpy(it.industry.authority, "030");
  strcpy(it.industry.date, "21.11.2023");
  memset(it.industry.number, '1', 32);
  memset(it.industry.value, 'V', 256);
  return it;
}

static void test_receipt_size_limits(void **state)
{
  (void)state;
  doc_header_t h = header();
  static doc_receipt_t r;
  size_t len = 0;
  tlv_reader_t body;
  tlv_item_t it = {0};

  memset(&r, 0, sizeof r);
  r.operation = DOC_OP_SALE;
  r.tax_system = 1;
  r.item_count = 1;
  r.items[0] = largest_item();
  r.cash = r.items[0].total;

  /* The largest line the dictionary allows still fits an item (1024). */
  assert_int_equal(doc_build_receipt(&h, &r, false, buf, sizeof buf, &len), 0);
  open_doc(buf, len, DOC_RECEIPT, &body);
  assert_true(find_nth(body, 1059, 0, &it));
  assert_true(it.length <= 1024);
  assert_true(it.length > 800);

  /* An item over its limits is refused and nothing is left: a product
  ** code longer than 1305 allows. */
  memset(r.items[0].product_value, 'P', 40);
  r.items[0].product_value[40] = '\0';
  memset(buf, 0, sizeof buf);
  len = 5;
  assert_int_equal(doc_build_receipt(&h, &r, false, buf, sizeof buf, &len), TLV_ERR_VALUE_TOO_LONG);
  assert_int_equal(len, 0);
  assert_wiped(buf, sizeof buf);

  /* Over 32 KiB: as many largest lines as DOC_MAX_ITEMS allows. */
  r.item_count = DOC_MAX_ITEMS;
  r.cash = 0;
  for (size_t i = 0; i < DOC_MAX_ITEMS; i++) {
    r.items[i] = largest_item();
    r.cash += r.items[i].total;
  }
  memset(buf, 0, sizeof buf);
  len = 5;
  assert_int_equal(doc_build_receipt(&h, &r, false, buf, sizeof buf, &len), TLV_ERR_STLV_TOO_LONG);
  assert_int_equal(len, 0);
  assert_wiped(buf, sizeof buf);

  /* The most lines that fit: the document and its seal fit DOC_MAX_DOCUMENT. */
  size_t fit = 0;
  for (size_t n = 1; n <= DOC_MAX_ITEMS; n++) {
    r.item_count = n;
    r.cash = r.items[0].total * n;
    if (doc_build_receipt(&h, &r, false, buf, sizeof buf, &len) != 0) break;
    fit = n;
  }
  assert_true(fit > 30 && fit < DOC_MAX_ITEMS);
  r.item_count = fit;
  r.cash = r.items[0].total * fit;
  assert_int_equal(doc_build_receipt(&h, &r, false, buf, sizeof buf, &len), 0);
  assert_true(len + DOC_SEAL_SIZE <= DOC_MAX_DOCUMENT);
  static const uint8_t sign[6] = {1, 2, 3, 4, 5, 6};
  assert_int_equal(doc_seal(buf, &len, DOC_MAX_DOCUMENT, sign), 0);
  assert_true(len <= DOC_MAX_DOCUMENT);
}

/* ---------------------------------------------------------------------- */
/* Marking documents                                                       */

static void test_km_request(void **state)
{
  (void)state;
  doc_header_t h = header();
  doc_receipt_t r = receipt4();
  size_t len = 0;
  tlv_reader_t body;

  h.number = 1001;
  assert_int_equal(doc_build_km_request(&h, &r.items[0], buf, sizeof buf, &len), 0);
  open_doc(buf, len, DOC_KM_REQUEST, &body);
  EXPECT_TAGS(body, 1041, 2001, 2114, 1018, 2004, 2000, 2100, 2003, 1023, 2102);
  expect_text(body, 1041, "9999078902012345");
  assert_int_equal(u32(body, 2001), 1001);
  assert_int_equal(u32(body, 2114), TIME_2024_01_15_1030);
  tlv_item_t mark = get(body, 2000);
  assert_int_equal(mark.length, strlen(KM1));
  assert_memory_equal(mark.value, KM1, strlen(KM1));
  assert_int_equal(byte(body, 2100), 5);
  assert_int_equal(byte(body, 2003), DOC_KM_PIECE_SOLD);
  assert_int_equal(byte(body, 2102), 0);

  /* Measured goods (1.250 kg) carry their measure. */
  doc_item_t kg = r.items[1];
  kg.quantity = (doc_quantity_t){1250, 3};
  kg.measure = 11;
  kg.km_status = DOC_KM_MEASURED_SOLD;
  assert_int_equal(doc_build_km_request(&h, &kg, buf, sizeof buf, &len), 0);
  open_doc(buf, len, DOC_KM_REQUEST, &body);
  EXPECT_TAGS(body, 1041, 2001, 2114, 1018, 2004, 2000, 2100, 2003, 1023, 2108, 2102);
  assert_int_equal(byte(body, 2108), 11);
  assert_int_equal(byte(body, 2003), DOC_KM_MEASURED_SOLD);

  /* Not a marked line. */
  assert_int_equal(doc_build_km_request(&h, &r.items[3], buf, sizeof buf, &len), TLV_ERR_ARGUMENT);
  assert_int_equal(len, 0);
}

static void test_km_notification(void **state)
{
  (void)state;
  doc_header_t h = header();
  doc_receipt_t r = receipt4();
  size_t len = 0;
  tlv_reader_t body;
  tlv_item_t it = {0};
  const char *kms[3] = {KM1, KM2, KM3};

  h.number = 77;
  assert_int_equal(doc_build_km_notification(&h, 42, &r, buf, sizeof buf, &len), 0);
  open_doc(buf, len, DOC_KM_NOTIFICATION, &body);
  EXPECT_TAGS(body, 2002, 1012, 1041, 1037, 1018, 1040, 2040, 1055, 1054, 2116, 2007, 2007, 2007);
  assert_int_equal(u32(body, 2040), 42);
  assert_int_equal(u32(body, 2002), 77);
  assert_int_equal(u32(body, 1040), 42);
  assert_int_equal(byte(body, 1054), DOC_OP_SALE);
  for (int i = 0; i < 3; i++) {
    assert_true(find_nth(body, 2007, i, &it));
    tlv_reader_t line = enter(it);
    EXPECT_TAGS(line, 2000, 2100, 2110, 2106, 1023, 2102, 1214, 1030, 1079, 1043, 1199, 1200);
    tlv_item_t mark = get(line, 2000);
    assert_int_equal(mark.length, strlen(kms[i]));
    assert_memory_equal(mark.value, kms[i], mark.length);
    assert_int_equal(byte(line, 2110), DOC_KM_PIECE_SOLD);
  }

  /* A receipt with no marked line has nothing to notify. */
  r.items[0] = r.items[3];
  r.item_count = 1;
  assert_int_equal(doc_build_km_notification(&h, 42, &r, buf, sizeof buf, &len), DOC_ERR_MISSING);
  assert_int_equal(len, 0);
}

/* ---------------------------------------------------------------------- */
/* Sealing and the QR code                                                 */

static void test_seal_round_trip(void **state)
{
  (void)state;
  doc_header_t h = header();
  doc_receipt_t r = receipt4();
  static const uint8_t sign[6] = {0x01, 0x02, 0x12, 0x34, 0x56, 0x78};
  uint8_t back[6] = {0};
  size_t len = 0, unsealed = 0, part = 0;

  assert_int_equal(doc_build_receipt(&h, &r, false, buf, sizeof buf, &len), 0);
  unsealed = len;
  memcpy(buf2, buf, len);

  /* A buffer one byte short: refused, document unchanged. */
  assert_int_equal(doc_seal(buf, &len, len + DOC_SEAL_SIZE - 1, sign), TLV_ERR_NO_SPACE);
  assert_int_equal(len, unsealed);
  assert_memory_equal(buf, buf2, len);

  assert_int_equal(doc_seal(buf, &len, sizeof buf, sign), 0);
  assert_int_equal(len, unsealed + DOC_SEAL_SIZE);
  /* 1077 is the last requisite, and the outer length covers it. */
  static const uint8_t tail[10] = {0x35, 0x04, 0x06, 0x00, 0x01, 0x02, 0x12, 0x34, 0x56, 0x78};
  assert_memory_equal(buf + len - 10, tail, 10);
  assert_int_equal(buf[2] | (buf[3] << 8), len - 4);
  assert_int_equal(tlv_check(buf, len, NULL), 0);

  doc_summary_t s;
  assert_int_equal(doc_summarize(buf, len, &s), 0);
  assert_int_equal(s.type, DOC_RECEIPT);
  assert_int_equal(s.number, 42);
  assert_int_equal(s.time, TIME_2024_01_15_1030);
  assert_int_equal(s.shift_number, 7);
  assert_int_equal(s.total, 35490);
  assert_int_equal(s.operation, DOC_OP_SALE);
  assert_true(s.has_sign);
  assert_memory_equal(s.sign, sign, 6);

  /* The signed part is exactly the unsealed document. */
  assert_int_equal(doc_signed_part(buf, len, buf2 + 40000, 20000, &part, back), 0);
  assert_int_equal(part, unsealed);
  assert_memory_equal(buf2 + 40000, buf2, unsealed);
  assert_memory_equal(back, sign, 6);

  /* Sealing twice is refused; a signed part needs a sign. */
  size_t again = len;
  assert_int_equal(doc_seal(buf, &again, sizeof buf, sign), DOC_ERR_DUPLICATE);
  assert_int_equal(doc_signed_part(buf2, unsealed, buf2 + 40000, 20000, &part, NULL),
                   DOC_ERR_MISSING);

  /* In place, too. */
  assert_int_equal(doc_signed_part(buf, len, buf, sizeof buf, &part, NULL), 0);
  assert_int_equal(part, unsealed);
  assert_memory_equal(buf, buf2, unsealed);

  /* The printed FP: big-endian bytes 2..5. */
  assert_int_equal(doc_fiscal_sign_printed(sign), 0x12345678u);
  static const uint8_t high[6] = {0xFF, 0xFF, 0xF0, 0x00, 0x00, 0x01};
  assert_int_equal(doc_fiscal_sign_printed(high), 4026531841u);

  /* Every form can be sealed, and its summary reads back. */
  assert_int_equal(doc_build_km_notification(&h, 42, &r, buf, sizeof buf, &len), 0);
  assert_int_equal(doc_seal(buf, &len, sizeof buf, sign), 0);
  assert_int_equal(doc_summarize(buf, len, &s), 0);
  assert_int_equal(s.type, DOC_KM_NOTIFICATION);
  assert_int_equal(s.number, 42); /* 2002 = h.number */
}

static void test_receipt_qr(void **state)
{
  (void)state;
  doc_header_t h = header();
  char qr[128];
  assert_int_equal(doc_receipt_qr(&h, 123450, DOC_OP_SALE, 305419896u, qr, sizeof qr), 0);
  assert_string_equal(qr, "t=20240115T1030&s=1234.50&fn=9999078902012345&i=42&fp=305419896&n=1");
  assert_int_equal(doc_receipt_qr(&h, 7, DOC_OP_SALE_RETURN, 1u, qr, sizeof qr), 0);
  assert_string_equal(qr, "t=20240115T1030&s=0.07&fn=9999078902012345&i=42&fp=1&n=2");
  assert_int_equal(doc_receipt_qr(&h, 7, DOC_OP_SALE, 1u, qr, 20), TLV_ERR_NO_SPACE);
  assert_string_equal(qr, "");
}

/* ---------------------------------------------------------------------- */
/* Documents from outside                                                  */

static doc_ack_t ack(void)
{
  doc_ack_t a;
  memset(&a, 0, sizeof a);
  strcpy(a.ofd_inn, "7704211201");
  strcpy(a.fn_number, "9999078902012345");
  a.document_number = 42;
  a.time = TIME_2024_01_15_1030 + 5;
  a.answer_code = 0;
  a.operator_sign_len = 18;
  for (size_t i = 0; i < 18; i++) a.operator_sign[i] = (uint8_t)(0xA0 + i);
  return a;
}

/* Every cut of a document is refused, whatever the parser. */
static void refuse_every_prefix(const uint8_t *doc, size_t len,
                                int (*parse)(const uint8_t *, size_t, void *), void *out)
{
  for (size_t cut = 0; cut < len; cut++) assert_true(parse(doc, cut, out) < 0);
}

static int parse_ack(const uint8_t *d, size_t n, void *o) { return doc_parse_ack(d, n, o); }
static int parse_answer(const uint8_t *d, size_t n, void *o)
{
  return doc_parse_km_answer(d, n, o);
}
static int parse_ticket(const uint8_t *d, size_t n, void *o)
{
  return doc_parse_km_ticket(d, n, o);
}

static void test_ack(void **state)
{
  (void)state;
  doc_ack_t a = ack(), b;
  size_t len = 0;
  tlv_reader_t body;

  assert_int_equal(doc_build_ack(&a, buf, sizeof buf, &len), 0);
  open_doc(buf, len, DOC_OPERATOR_ACK, &body);
  EXPECT_TAGS(body, 1017, 1041, 1040, 1012, 1068, 1078);
  tlv_reader_t message = enter(get(body, 1068));
  EXPECT_TAGS(message, 1022);

  memset(&b, 0x55, sizeof b);
  assert_int_equal(doc_parse_ack(buf, len, &b), 0);
  assert_string_equal(b.ofd_inn, a.ofd_inn);
  assert_string_equal(b.fn_number, a.fn_number);
  assert_int_equal(b.document_number, 42);
  assert_int_equal(b.time, a.time);
  assert_int_equal(b.answer_code, 0);
  assert_int_equal(b.operator_sign_len, 18);
  assert_memory_equal(b.operator_sign, a.operator_sign, 18);

  refuse_every_prefix(buf, len, parse_ack, &b);

  /* Trailing bytes after the document. */
  buf[len] = 0;
  assert_int_equal(doc_parse_ack(buf, len + 1, &b), TLV_ERR_BAD_LENGTH);
  memset(buf + len, 0, 4);
  assert_int_equal(doc_parse_ack(buf, len + 4, &b), TLV_ERR_BAD_LENGTH);

  /* A length inside that runs past the end of the document. */
  memcpy(buf2, buf, len);
  buf2[4 + 2] = 0xFF; /* 1017's length */
  assert_int_equal(doc_parse_ack(buf2, len, &b), TLV_ERR_LENGTH_PAST_END);

  /* An answer code of the wrong size inside 1068. */
  {
    tlv_writer_t w;
    tlv_writer_init(&w, buf2, sizeof buf2);
    assert_int_equal(tlv_begin_stlv(&w, 7), 0);
    assert_int_equal(tlv_put_string(&w, 1017, "7704211201", 10), 0);
    assert_int_equal(tlv_put_string(&w, 1041, "9999078902012345", 16), 0);
    assert_int_equal(tlv_put_uint32(&w, 1040, 1), 0);
    assert_int_equal(tlv_put_unixtime(&w, 1012, 1), 0);
    assert_int_equal(tlv_begin_stlv(&w, 1068), 0);
    static const uint8_t two[2] = {0, 0};
    assert_int_equal(tlv_put_raw(&w, 1022, two, 2), TLV_ERR_VALUE_TOO_LONG);
    assert_int_equal(tlv_put_raw(&w, 9999, two, 2), 0);
    assert_int_equal(tlv_end_stlv(&w), 0);
    assert_int_equal(tlv_put_bytes(&w, 1078, two, 2), 0);
    assert_int_equal(tlv_end_stlv(&w), 0);
    size_t n = 0;
    assert_int_equal(tlv_writer_finish(&w, &n), 0);
    /* No 1022: missing, even though everything else is there. */
    assert_int_equal(doc_parse_ack(buf2, n, &b), DOC_ERR_MISSING);
  }

  /* A sign longer than 1078 allows. */
  a.operator_sign_len = 19;
  assert_int_equal(doc_build_ack(&a, buf, sizeof buf, &len), TLV_ERR_ARGUMENT);
}

/* The answer as a real OFD writes it: no 1041 or 1040 (the container's
** header names the FN and the document), 1017 inside 1068 beside 1022. */
static void test_ack_real_layout(void **state)
{
  (void)state;
  doc_ack_t a = ack(), b;
  size_t len = 0;
  tlv_reader_t body;

  /* Built without them: they are left out, and read back as ""/0. */
  a.fn_number[0] = '\0';
  a.document_number = 0;
  assert_int_equal(doc_build_ack(&a, buf, sizeof buf, &len), 0);
  open_doc(buf, len, DOC_OPERATOR_ACK, &body);
  EXPECT_TAGS(body, 1017, 1012, 1068, 1078);
  memset(&b, 0x55, sizeof b);
  assert_int_equal(doc_parse_ack(buf, len, &b), 0);
  assert_string_equal(b.fn_number, "");
  assert_int_equal(b.document_number, 0);
  assert_string_equal(b.ofd_inn, "7704211201");

  /* 1017 inside 1068; twice (top and inside) is a duplicate; nowhere is
  ** missing. */
  static const uint8_t sign[18] = {1};
  for (int where = 0; where < 3; where++) {
    tlv_writer_t w;
    tlv_writer_init(&w, buf2, sizeof buf2);
    assert_int_equal(tlv_begin_stlv(&w, 7), 0);
    if (where == 1) assert_int_equal(tlv_put_string(&w, 1017, "7704211201", 10), 0);
    assert_int_equal(tlv_put_unixtime(&w, 1012, 1), 0);
    assert_int_equal(tlv_begin_stlv(&w, 1068), 0);
    assert_int_equal(tlv_put_byte(&w, 1022, 0), 0);
    if (where <= 1) assert_int_equal(tlv_put_string(&w, 1017, "7704211201", 10), 0);
    assert_int_equal(tlv_end_stlv(&w), 0);
    assert_int_equal(tlv_put_bytes(&w, 1078, sign, sizeof sign), 0);
    assert_int_equal(tlv_end_stlv(&w), 0);
    size_t n = 0;
    assert_int_equal(tlv_writer_finish(&w, &n), 0);
    static const int expect[3] = {0, DOC_ERR_DUPLICATE, DOC_ERR_MISSING};
    assert_int_equal(doc_parse_ack(buf2, n, &b), expect[where]);
    if (where == 0) assert_string_equal(b.ofd_inn, "7704211201");
  }

  /* The live OFD answer of tests/data/ofd (shtrih-m/opos, recovered and
  ** proven by its own CRC): a 32-byte container header, the document, a
  ** 10-byte trailer. */
  FILE *f = fopen("tests/data/ofd/shtrih_answer_container.bin", "rb");
  assert_non_null(f);
  uint8_t real[256];
  size_t got = fread(real, 1, sizeof real, f);
  fclose(f);
  assert_int_equal(got, 150);
  const uint8_t *doc = real + 32;
  size_t doc_len = 4 + (size_t)(doc[2] | doc[3] << 8);
  assert_int_equal(doc_len + 10, got - 32);
  memset(&b, 0x55, sizeof b);
  assert_int_equal(doc_parse_ack(doc, doc_len, &b), 0);
  assert_int_equal(b.answer_code, 0);
  assert_int_equal(b.operator_sign_len, 18);
  assert_string_equal(b.ofd_inn, "770123456789"); /* 1017 inside 1068 */
  assert_string_equal(b.fn_number, "");
  assert_int_equal(b.document_number, 0);
  /* The 1078's last 10 bytes are the request's trailer, verbatim. */
  static const uint8_t request_trailer[10] = {0x81, 0x06, 0xD1, 0x7A, 0x06,
                                              0xA8, 0x71, 0x45, 0x00, 0x00};
  assert_memory_equal(b.operator_sign + 8, request_trailer, 10);
}

static void test_km_answer(void **state)
{
  (void)state;
  doc_km_answer_t a, b;
  size_t len = 0;
  tlv_reader_t body;
  memset(&a, 0, sizeof a);
  a.request_number = 1001;
  a.request_time = TIME_2024_01_15_1030;
  a.km_len = strlen(KM1);
  memcpy(a.km, KM1, a.km_len);
  a.status_answer = 1;
  a.processing_code = 0;
  a.km_type = 5;
  a.km_mode = 0;
  a.processing_results = 0x0F;

  assert_int_equal(doc_build_km_answer(&a, buf, sizeof buf, &len), 0);
  open_doc(buf, len, DOC_KM_ANSWER, &body);
  EXPECT_TAGS(body, 2001, 2114, 2000, 2100, 2102, 2109, 2105, 2005);
  assert_int_equal(byte(body, 2109), 1);
  assert_int_equal(byte(body, 2005), 0x0F);

  memset(&b, 0x55, sizeof b);
  assert_int_equal(doc_parse_km_answer(buf, len, &b), 0);
  assert_int_equal(b.request_number, 1001);
  assert_int_equal(b.request_time, TIME_2024_01_15_1030);
  assert_int_equal(b.km_len, strlen(KM1));
  assert_memory_equal(b.km, KM1, b.km_len + 1);
  assert_int_equal(b.status_answer, 1);
  assert_int_equal(b.processing_code, 0);
  assert_int_equal(b.km_type, 5);
  assert_int_equal(b.km_mode, 0);
  assert_int_equal(b.processing_results, 0x0F);

  refuse_every_prefix(buf, len, parse_answer, &b);

  /* Without the code it is about: still an answer. */
  a.km_len = 0;
  assert_int_equal(doc_build_km_answer(&a, buf, sizeof buf, &len), 0);
  assert_int_equal(doc_parse_km_answer(buf, len, &b), 0);
  assert_int_equal(b.km_len, 0);

  /* Wrong form: a ticket is not an answer, an answer not an ack. */
  assert_int_equal(doc_parse_ack(buf, len, &(doc_ack_t){0}), DOC_ERR_WRONG_FORM);
  doc_km_ticket_t t = {5, 0, 0};
  assert_int_equal(doc_build_km_ticket(&t, buf2, sizeof buf2, &len), 0);
  assert_int_equal(doc_parse_km_answer(buf2, len, &b), DOC_ERR_WRONG_FORM);

  /* A requisite twice; a processed request without its status answer. */
  {
    tlv_writer_t w;
    size_t n = 0;
    tlv_writer_init(&w, buf2, sizeof buf2);
    assert_int_equal(tlv_begin_stlv(&w, 83), 0);
    assert_int_equal(tlv_put_byte(&w, 2105, 0), 0);
    assert_int_equal(tlv_end_stlv(&w), 0);
    assert_int_equal(tlv_writer_finish(&w, &n), 0);
    assert_int_equal(doc_parse_km_answer(buf2, n, &b), DOC_ERR_MISSING);
    tlv_writer_init(&w, buf2, sizeof buf2);
    assert_int_equal(tlv_begin_stlv(&w, 83), 0);
    assert_int_equal(tlv_put_byte(&w, 2105, 2), 0); /* bad KM: no 2109 needed */
    assert_int_equal(tlv_end_stlv(&w), 0);
    assert_int_equal(tlv_writer_finish(&w, &n), 0);
    assert_int_equal(doc_parse_km_answer(buf2, n, &b), 0);
    assert_int_equal(b.processing_code, 2);
    tlv_writer_init(&w, buf2, sizeof buf2);
    assert_int_equal(tlv_begin_stlv(&w, 83), 0);
    assert_int_equal(tlv_put_byte(&w, 2105, 0), 0);
    assert_int_equal(tlv_put_byte(&w, 2109, 1), 0);
    assert_int_equal(tlv_put_byte(&w, 2109, 2), 0);
    assert_int_equal(tlv_end_stlv(&w), 0);
    assert_int_equal(tlv_writer_finish(&w, &n), 0);
    assert_int_equal(doc_parse_km_answer(buf2, n, &b), DOC_ERR_DUPLICATE);
  }
}

static void test_km_ticket(void **state)
{
  (void)state;
  doc_km_ticket_t t = {77, 1, 3}, u;
  size_t len = 0;
  tlv_reader_t body;

  assert_int_equal(doc_build_km_ticket(&t, buf, sizeof buf, &len), 0);
  open_doc(buf, len, DOC_KM_TICKET, &body);
  EXPECT_TAGS(body, 2002, 2111, 2006);
  memset(&u, 0x55, sizeof u);
  assert_int_equal(doc_parse_km_ticket(buf, len, &u), 0);
  assert_int_equal(u.notification_number, 77);
  assert_int_equal(u.result, 1);
  assert_int_equal(u.processing_results, 3);
  refuse_every_prefix(buf, len, parse_ticket, &u);

  doc_summary_t s;
  assert_int_equal(doc_summarize(buf, len, &s), 0);
  assert_int_equal(s.type, DOC_KM_TICKET);
  assert_int_equal(s.number, 77);
  assert_false(s.has_sign);

  /* 2111 of four bytes. */
  memcpy(buf2, buf, len);
  {
    tlv_writer_t w;
    size_t n = 0;
    static const uint8_t four[4] = {0, 0, 0, 0};
    tlv_writer_init(&w, buf2, sizeof buf2);
    assert_int_equal(tlv_begin_stlv(&w, 84), 0);
    assert_int_equal(tlv_put_uint32(&w, 2002, 1), 0);
    /* put_raw keeps the dictionary's limits: write the header by hand. */
    assert_int_equal(tlv_put_raw(&w, 9999, four, 4), 0);
    assert_int_equal(tlv_end_stlv(&w), 0);
    assert_int_equal(tlv_writer_finish(&w, &n), 0);
    buf2[n - 8] = 2111 & 0xFF;
    buf2[n - 7] = 2111 >> 8;
    assert_int_equal(doc_parse_km_ticket(buf2, n, &u), TLV_ERR_BAD_LENGTH);
  }
}

static void test_garbage(void **state)
{
  (void)state;
  uint8_t junk[600];
  uint32_t x = 12345;
  doc_ack_t a;
  doc_km_answer_t b;
  doc_km_ticket_t t;
  doc_summary_t s;
  int err = 0;
  for (int round = 0; round < 2000; round++) {
    size_t n = (size_t)(x % sizeof junk);
    for (size_t i = 0; i < n; i++) {
      x = x * 1103515245u + 12345u;
      junk[i] = (uint8_t)(x >> 16);
    }
    /* Now and then a plausible header, so the readers go deeper. */
    if (n >= 4 && round % 3 == 0) {
      static const uint16_t forms[] = {7, 83, 84, 3};
      uint16_t form = forms[round % 4];
      junk[0] = (uint8_t)form;
      junk[1] = 0;
      junk[2] = (uint8_t)((n - 4) & 0xFF);
      junk[3] = (uint8_t)((n - 4) >> 8);
    }
    (void)doc_parse_ack(junk, n, &a);
    (void)doc_parse_km_answer(junk, n, &b);
    (void)doc_parse_km_ticket(junk, n, &t);
    (void)doc_summarize(junk, n, &s);
    char *json = doc_to_json(junk, n, &err);
    if (json) {
      json_error_t jerr;
      json_t *root = json_loads(json, JSON_ALLOW_NUL, &jerr);
      assert_non_null(root);
      json_decref(root);
      free(json);
    } else {
      assert_true(err < 0);
    }
  }
  /* Plain garbage is refused, not read. */
  static const uint8_t text[] = "hello, world";
  assert_true(doc_parse_ack(text, sizeof text - 1, &a) < 0);
  assert_true(doc_parse_km_answer(NULL, 0, &b) < 0);
  assert_int_equal(doc_parse_km_ticket(text, 0, &t), TLV_ERR_TRUNCATED_HEADER);
  /* A tag that is no form code. */
  static const uint8_t not_form[] = {0x10, 0x04, 0x00, 0x00};
  assert_int_equal(doc_summarize(not_form, sizeof not_form, &s), DOC_ERR_WRONG_FORM);
}

/* ---------------------------------------------------------------------- */
/* JSON                                                                    */

static json_t *as_json(const uint8_t *doc, size_t len)
{
  int err = 1;
  char *text = doc_to_json(doc, len, &err);
  if (!text) fail_msg("doc_to_json: %s", doc_error_code(err));
  assert_int_equal(err, 0);
  json_error_t jerr;
  json_t *root = json_loads(text, JSON_ALLOW_NUL, &jerr);
  if (!root) fail_msg("not JSON: %s: %s", jerr.text, text);
  free(text);
  return root;
}

static void test_json_receipt(void **state)
{
  (void)state;
  doc_header_t h = header();
  doc_receipt_t r = receipt4();
  static const uint8_t sign[6] = {0x01, 0x02, 0xAB, 0xCD, 0xEF, 0x10};
  size_t len = 0;

  assert_int_equal(doc_build_receipt(&h, &r, false, buf, sizeof buf, &len), 0);
  assert_int_equal(doc_seal(buf, &len, sizeof buf, sign), 0);
  json_t *root = as_json(buf, len);
  json_t *receipt = json_object_get(root, "receipt");
  assert_non_null(receipt);
  assert_int_equal(json_object_size(root), 1);
  assert_int_equal(json_integer_value(json_object_get(receipt, "code")), 3);
  assert_int_equal(json_integer_value(json_object_get(receipt, "fiscalDocumentNumber")), 42);
  assert_int_equal(json_integer_value(json_object_get(receipt, "dateTime")), TIME_2024_01_15_1030);
  assert_string_equal(json_string_value(json_object_get(receipt, "user")), "ООО Ромашка");
  assert_string_equal(json_string_value(json_object_get(receipt, "fiscalDriveNumber")),
                      "9999078902012345");
  assert_int_equal(json_integer_value(json_object_get(receipt, "totalSum")), 35490);
  assert_int_equal(json_integer_value(json_object_get(receipt, "cashTotalSum")), 10000);
  assert_int_equal(json_integer_value(json_object_get(receipt, "ecashTotalSum")), 25490);
  assert_int_equal(json_integer_value(json_object_get(receipt, "operationType")), 1);
  assert_int_equal(json_integer_value(json_object_get(receipt, "checkingLabeledProdResult")), 1);
  assert_string_equal(json_string_value(json_object_get(receipt, "fiscalSign")), "0102ABCDEF10");

  json_t *items = json_object_get(receipt, "items");
  assert_true(json_is_array(items));
  assert_int_equal(json_array_size(items), 4);
  json_t *first = json_array_get(items, 0);
  assert_string_equal(json_string_value(json_object_get(first, "name")), "Молоко 3,2%");
  assert_int_equal(json_integer_value(json_object_get(first, "price")), 8990);
  assert_true(json_is_real(json_object_get(first, "quantity")));
  assert_true(json_real_value(json_object_get(first, "quantity")) == 1.0);
  json_t *mark = json_object_get(first, "markingCode");
  assert_int_equal(json_string_length(mark), strlen(KM1));
  assert_memory_equal(json_string_value(mark), KM1, strlen(KM1));
  assert_string_equal(
      json_string_value(json_object_get(json_object_get(first, "productCodeNew"), "gs1m")),
      "010460043993125621JgXJ5.T");
  assert_int_equal(json_integer_value(json_object_get(first, "checkingProdInformationResult")), 15);
  assert_int_equal(json_integer_value(json_object_get(first, "labelCodeType")), 5);
  assert_int_equal(json_integer_value(json_object_get(first, "plannedStatus")), 1);

  json_t *third = json_array_get(items, 2);
  json_t *industry = json_object_get(third, "itemsIndustryDetails");
  assert_string_equal(json_string_value(json_object_get(industry, "idFoiv")), "030");
  assert_string_equal(json_string_value(json_object_get(industry, "foundationDocNumber")), "1944");
  assert_int_equal(json_integer_value(json_object_get(third, "checkingProdInformationResult")), 7);

  json_t *fourth = json_array_get(items, 3);
  assert_int_equal(json_integer_value(json_object_get(fourth, "sum")), 1000);
  assert_true(json_real_value(json_object_get(fourth, "quantity")) == 2.0);
  assert_null(json_object_get(fourth, "markingCode"));
  json_decref(root);

  /* A fractional quantity keeps its decimals: 0.125 kg. */
  r.items[3].quantity = (doc_quantity_t){125, 3};
  assert_int_equal(doc_build_receipt(&h, &r, false, buf, sizeof buf, &len), 0);
  int err = 1;
  char *text = doc_to_json(buf, len, &err);
  assert_non_null(text);
  assert_non_null(strstr(text, "\"quantity\":0.125"));
  free(text);
}

static void test_json_every_form(void **state)
{
  (void)state;
  doc_header_t h = header();
  doc_registration_t reg = registration();
  doc_counters_t c;
  doc_receipt_t r = receipt4();
  doc_ack_t a = ack();
  doc_km_ticket_t t = {77, 0, 0};
  size_t len = 0;
  memset(&c, 0, sizeof c);

  doc_km_answer_t answer;
  memset(&answer, 0, sizeof answer);
  answer.status_answer = 1;
  size_t n = 0;
  /* Each form under its dictionary name, with its form code. */
#define FORM(call, key, code)                                                                      \
  do {                                                                                             \
    assert_int_equal((call), 0);                                                                   \
    json_t *root_ = as_json(buf, len);                                                             \
    json_t *form_ = json_object_get(root_, key);                                                   \
    if (!form_) fail_msg("no %s", key);                                                            \
    assert_int_equal(json_integer_value(json_object_get(form_, "code")), code);                    \
    json_decref(root_);                                                                            \
    n++;                                                                                           \
  } while (0)
  FORM(doc_build_registration(&h, &reg, false, buf, sizeof buf, &len), "fiscalReport", 1);
  FORM(doc_build_registration(&h, &reg, true, buf, sizeof buf, &len), "fiscalReportCorrection", 11);
  FORM(doc_build_shift(&h, &c, true, buf, sizeof buf, &len), "openShift", 2);
  FORM(doc_build_shift(&h, &c, false, buf, sizeof buf, &len), "closeShift", 5);
  FORM(doc_build_state_report(&h, &c, buf, sizeof buf, &len), "currentStateReport", 21);
  FORM(doc_build_fn_close(&h, &c, buf, sizeof buf, &len), "closeArchive", 6);
  FORM(doc_build_receipt(&h, &r, true, buf, sizeof buf, &len), "receiptCorrection", 31);
  FORM(doc_build_km_request(&h, &r.items[0], buf, sizeof buf, &len), "labelCodeRequest", 81);
  FORM(doc_build_km_notification(&h, 42, &r, buf, sizeof buf, &len), "labelCodeSaleNotification",
       82);
  FORM(doc_build_ack(&a, buf, sizeof buf, &len), "operatorConfirmation", 7);
  FORM(doc_build_km_ticket(&t, buf, sizeof buf, &len), "labelCodeNotificationReceipt", 84);
  FORM(doc_build_km_answer(&answer, buf, sizeof buf, &len), "labelCodeResponse", 83);
#undef FORM
  assert_int_equal(n, 12);

  /* The notification's lines are an array, even for one line. */
  r.items[1] = r.items[3];
  r.items[2] = r.items[3];
  assert_int_equal(doc_build_km_notification(&h, 42, &r, buf, sizeof buf, &len), 0);
  json_t *root = as_json(buf, len);
  json_t *lines =
      json_object_get(json_object_get(root, "labelCodeSaleNotification"), "labeledProductData");
  assert_true(json_is_array(lines));
  assert_int_equal(json_array_size(lines), 1);
  json_decref(root);

  /* The ack's operator sign as hex, its message as an object. */
  assert_int_equal(doc_build_ack(&a, buf, sizeof buf, &len), 0);
  root = as_json(buf, len);
  json_t *o = json_object_get(root, "operatorConfirmation");
  assert_string_equal(json_string_value(json_object_get(o, "ofdFiscalSign")),
                      "A0A1A2A3A4A5A6A7A8A9AAABACADAEAFB0B1");
  assert_int_equal(json_integer_value(json_object_get(json_object_get(o, "ofdMessageToFiscalDrive"),
                                                      "ofdResponseCode")),
                   0);
  json_decref(root);
}

static void test_json_malformed(void **state)
{
  (void)state;
  doc_header_t h = header();
  doc_receipt_t r = receipt4();
  size_t len = 0;
  int err = 0;

  assert_int_equal(doc_build_receipt(&h, &r, false, buf, sizeof buf, &len), 0);
  /* Every cut is refused with the TLV reader's error. */
  for (size_t cut = 0; cut < len; cut += 7) {
    err = 0;
    assert_null(doc_to_json(buf, cut, &err));
    assert_true(err < 0);
  }
  err = 0;
  assert_null(doc_to_json(buf, 2, &err));
  assert_int_equal(err, TLV_ERR_TRUNCATED_HEADER);
  err = 0;
  assert_null(doc_to_json(buf, len - 1, &err));
  assert_int_equal(err, TLV_ERR_LENGTH_PAST_END);

  /* An item's length made to run past the document. */
  memcpy(buf2, buf, len);
  tlv_reader_t body;
  tlv_item_t it = {0};
  open_doc(buf, len, DOC_RECEIPT, &body);
  assert_true(find_nth(body, 1059, 0, &it));
  buf2[it.offset + 2] = 0xFF;
  buf2[it.offset + 3] = 0x7F;
  err = 0;
  assert_null(doc_to_json(buf2, len, &err));
  assert_int_equal(err, TLV_ERR_LENGTH_PAST_END);

  /* A requisite of the wrong size for its type. */
  memcpy(buf2, buf, len);
  open_doc(buf, len, DOC_RECEIPT, &body);
  it = get(body, 1042); /* a UINT32 that claims 3 bytes */
  buf2[it.offset + 2] = 3;
  err = 0;
  assert_null(doc_to_json(buf2, len, &err));
  assert_int_equal(err, TLV_ERR_BAD_LENGTH);

  /* An item over 1024 bytes, written by hand (the builder cannot). */
  {
    static uint8_t big[2048];
    size_t n = 0;
    memset(big, 0, sizeof big);
    big[0] = 3;
    big[4] = 0x23; /* 1059 */
    big[5] = 0x04;
    big[6] = (uint8_t)(1025 & 0xFF);
    big[7] = (uint8_t)(1025 >> 8);
    /* inside: one unknown tag 9999 of 1021 bytes */
    big[8] = (uint8_t)(9999 & 0xFF);
    big[9] = (uint8_t)(9999 >> 8);
    big[10] = (uint8_t)(1021 & 0xFF);
    big[11] = (uint8_t)(1021 >> 8);
    n = 8 + 1025;
    big[2] = (uint8_t)((n - 4) & 0xFF);
    big[3] = (uint8_t)((n - 4) >> 8);
    err = 0;
    assert_null(doc_to_json(big, n, &err));
    assert_int_equal(err, TLV_ERR_BAD_LENGTH);
    assert_int_equal(tlv_check(big, n, NULL), TLV_ERR_BAD_LENGTH);
  }

  /* Not a document; a document followed by junk. */
  static const uint8_t item_only[] = {0x23, 0x04, 0x00, 0x00};
  assert_null(doc_to_json(item_only, sizeof item_only, &err));
  assert_int_equal(err, DOC_ERR_WRONG_FORM);
  memcpy(buf2, buf, len);
  memset(buf2 + len, 0, 4);
  assert_null(doc_to_json(buf2, len + 4, &err));
  assert_int_equal(err, TLV_ERR_BAD_LENGTH);
  assert_null(doc_to_json(NULL, 0, NULL));
}

static void test_error_names(void **state)
{
  (void)state;
  assert_string_equal(doc_error_code(DOC_ERR_TOTAL), "total_mismatch");
  assert_string_equal(doc_error_code(DOC_ERR_WRONG_FORM), "wrong_form");
  assert_string_equal(doc_error_code(TLV_ERR_NO_SPACE), tlv_error_code(TLV_ERR_NO_SPACE));
  assert_non_null(doc_error_message(DOC_ERR_MISSING));
  assert_non_null(doc_error_message(-1000));
}

/* Quantities as text, both ways: what doc_quantity_text writes,
** doc_quantity_parse reads back; malformed text is refused. */
static void test_quantity_text(void **state)
{
  (void)state;
  static const char *const good[] = {"0", "2", "0.532", "1.000", "12.5", "0.000001"};
  static const char *const bad[] = {"",    ".5", "5.",  "1.2.3",     "-1",
                                    "1,5", " 1", "1e3", "0.0000001", "99999999999999999999"};
  char text[32];
  doc_quantity_t q;
  for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
    assert_true(doc_quantity_parse(good[i], 6, &q));
    assert_string_equal(doc_quantity_text(q, text, sizeof text), good[i]);
  }
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    assert_false(doc_quantity_parse(bad[i], 6, &q));
  assert_false(doc_quantity_parse("0.5321", 3, &q)); /* scale past the caller's limit */
  assert_true(doc_quantity_parse("0.532", 3, &q));
  assert_int_equal(q.mantissa, 532);
  assert_int_equal(q.scale, 3);
}

/* ---------------------------------------------------------------------- */
/* Every builder, byte for byte                                            */

/*
** The tests above read documents back tag by tag; these pin the bytes. The
** expected bytes were written from the format's layout (FFD 1.2: tag and
** length little-endian 16-bit, then the value; integers and UNIXTIME
** little-endian, VLN in the fewest bytes, FVLN a scale byte and the
** mantissa so, text CP866), one requisite a line, not copied from what
** doc.c writes. A document is its form's STLV over the parts listed, its
** length their sum; a requisite two forms share is one array. ASCII text
** keeps CP866 out of the way (test_registration checks a Cyrillic letter).
*/
// clang-format off
/* 1040 of pin_header() */
static const uint8_t pin_number[] = {
    0x10, 0x04, 0x04, 0x00, 0x05, 0x00, 0x00, 0x00, /* 1040 number 5 */
};
/* 1012 */
static const uint8_t pin_time[] = {
    0xF4, 0x03, 0x04, 0x00, 0x28, 0x09, 0xA5, 0x65, /* 1012 time 2024-01-15 10:30 */
};
/* 2114, the request's time in 81 and 83 */
static const uint8_t pin_request_time[] = {
    0x42, 0x08, 0x04, 0x00, 0x28, 0x09, 0xA5, 0x65, /* 2114 time 2024-01-15 10:30 */
};
/* 1041 */
static const uint8_t pin_fn[] = {
    /* 1041 FN "9999078902012345" */
    0x11, 0x04, 0x10, 0x00, 0x39, 0x39, 0x39, 0x39, 0x30, 0x37, 0x38, 0x39,
    0x30, 0x32, 0x30, 0x31, 0x32, 0x33, 0x34, 0x35,
};
/* 1037, 1018 */
static const uint8_t pin_kkt_inn[] = {
    /* 1037 KKT "0001234567012345" */
    0x0D, 0x04, 0x10, 0x00, 0x30, 0x30, 0x30, 0x31, 0x32, 0x33, 0x34, 0x35,
    0x36, 0x37, 0x30, 0x31, 0x32, 0x33, 0x34, 0x35,
    /* 1018 INN "7700112233" */
    0xFA, 0x03, 0x0A, 0x00, 0x37, 0x37, 0x30, 0x30, 0x31, 0x31, 0x32, 0x32,
    0x33, 0x33,
};
/* 1048, 1009, 1187 */
static const uint8_t pin_user_place[] = {
    /* 1048 user "OOO Romashka" */
    0x18, 0x04, 0x0C, 0x00, 0x4F, 0x4F, 0x4F, 0x20, 0x52, 0x6F, 0x6D, 0x61,
    0x73, 0x68, 0x6B, 0x61,
    0xF1, 0x03, 0x06, 0x00, 0x4D, 0x6F, 0x73, 0x63, 0x6F, 0x77, /* 1009 address "Moscow" */
    0xA3, 0x04, 0x04, 0x00, 0x53, 0x68, 0x6F, 0x70, /* 1187 place "Shop" */
};
/* 1021 */
static const uint8_t pin_cashier[] = {
    0xFD, 0x03, 0x07, 0x00, 0x49, 0x76, 0x61, 0x6E, 0x6F, 0x76, 0x61, /* 1021 cashier "Ivanova" */
};
/* 1038 */
static const uint8_t pin_shift[] = {
    0x0E, 0x04, 0x04, 0x00, 0x07, 0x00, 0x00, 0x00, /* 1038 shift 7 */
};
/* 1209 */
static const uint8_t pin_ffd[] = {
    0xB9, 0x04, 0x01, 0x00, 0x04, /* 1209 FFD 1.2 */
};
/* Registration after 1209 */
static const uint8_t pin_registration[] = {
    /* 1013 serial "00106700000001" */
    0xF5, 0x03, 0x0E, 0x00, 0x30, 0x30, 0x31, 0x30, 0x36, 0x37, 0x30, 0x30,
    0x30, 0x30, 0x30, 0x30, 0x30, 0x31,
    0x26, 0x04, 0x01, 0x00, 0x05, /* 1062 tax systems */
    0xEA, 0x03, 0x01, 0x00, 0x00, /* 1002 not autonomous */
    0x20, 0x04, 0x01, 0x00, 0x00, /* 1056 no encryption */
    0xE9, 0x03, 0x01, 0x00, 0x00, /* 1001 no automatic mode */
    0x0A, 0x05, 0x04, 0x00, 0x00, 0x01, 0x00, 0x00, /* 1290 marked goods */
    /* 1017 OFD INN "7704211201" */
    0xF9, 0x03, 0x0A, 0x00, 0x37, 0x37, 0x30, 0x34, 0x32, 0x31, 0x31, 0x32,
    0x30, 0x31,
    0x16, 0x04, 0x06, 0x00, 0x54, 0x61, 0x78, 0x63, 0x6F, 0x6D, /* 1046 OFD name "Taxcom" */
    0xA4, 0x04, 0x03, 0x00, 0x30, 0x2E, 0x31, /* 1188 KKT version "0.1" */
    0xA5, 0x04, 0x01, 0x00, 0x04, /* 1189 KKT FFD */
    0xA6, 0x04, 0x01, 0x00, 0x04, /* 1190 FN FFD */
};
/* 1205, re-registration only */
static const uint8_t pin_reasons[] = {
    0xB5, 0x04, 0x04, 0x00, 0x20, 0x00, 0x00, 0x00, /* 1205 reasons */
};
/* Shift open after 1209 */
static const uint8_t pin_shift_open[] = {
    0xA4, 0x04, 0x03, 0x00, 0x30, 0x2E, 0x31, /* 1188 KKT version "0.1" */
    0xA5, 0x04, 0x01, 0x00, 0x04, /* 1189 KKT FFD */
    0x1A, 0x04, 0x01, 0x00, 0x01, /* 1050 FN exhausted */
    0xBD, 0x04, 0x02, 0x00, 0x2C, 0x01, /* 1213 key days */
};
/* Shift close: 1118, 1111 */
static const uint8_t pin_counts[] = {
    0x5E, 0x04, 0x04, 0x00, 0x0C, 0x00, 0x00, 0x00, /* 1118 receipts */
    0x57, 0x04, 0x04, 0x00, 0x0E, 0x00, 0x00, 0x00, /* 1111 documents */
};
/* 1002 in a state report */
static const uint8_t pin_autonomous[] = {
    0xEA, 0x03, 0x01, 0x00, 0x01, /* 1002 autonomous */
};
/* 1097 */
static const uint8_t pin_unsent[] = {
    0x49, 0x04, 0x04, 0x00, 0x03, 0x00, 0x00, 0x00, /* 1097 unsent */
};
/* 1116 */
static const uint8_t pin_unsent_number[] = {
    0x5C, 0x04, 0x04, 0x00, 0x11, 0x00, 0x00, 0x00, /* 1116 first unsent number */
};
/* 1098, 2104 */
static const uint8_t pin_unsent_rest[] = {
    0x4A, 0x04, 0x04, 0x00, 0x30, 0xF7, 0xA4, 0x65, /* 1098 first unsent time */
    0x38, 0x08, 0x04, 0x00, 0x02, 0x00, 0x00, 0x00, /* 2104 unsent notifications */
};
/* FN flags */
static const uint8_t pin_flags[] = {
    0x1D, 0x04, 0x01, 0x00, 0x01, /* 1053 OFD timeout */
    0xBD, 0x04, 0x02, 0x00, 0x2C, 0x01, /* 1213 key days */
};
/* 1042, 1054, 1055 */
static const uint8_t pin_receipt_opening[] = {
    0x12, 0x04, 0x04, 0x00, 0x03, 0x00, 0x00, 0x00, /* 1042 receipt 3 */
    0x1E, 0x04, 0x01, 0x00, 0x01, /* 1054 sale */
    0x1F, 0x04, 0x01, 0x00, 0x01, /* 1055 tax system */
};
/* 1173, 1174 {1178, 1179} */
static const uint8_t pin_correction_basis[] = {
    0x95, 0x04, 0x01, 0x00, 0x01, /* 1173 by order */
    0x96, 0x04, 0x11, 0x00, /* 1174 basis, 17 bytes */
    0x9A, 0x04, 0x04, 0x00, 0x40, 0x3C, 0xA0, 0x65, /* 1178 date */
    0x9B, 0x04, 0x05, 0x00, 0x4F, 0x52, 0x44, 0x2D, 0x31, /* 1179 order "ORD-1" */
};
/* A plain line with an EAN-13 (1163 {1302}) */
static const uint8_t pin_item_bag[] = {
    0x23, 0x04, 0x43, 0x00, /* 1059 item, 67 bytes */
    0x06, 0x04, 0x03, 0x00, 0x42, 0x61, 0x67, /* 1030 name "Bag" */
    0x37, 0x04, 0x02, 0x00, 0xF4, 0x01, /* 1079 price */
    0xFF, 0x03, 0x03, 0x00, 0x03, 0xD0, 0x07, /* 1023 quantity 2.000 */
    0x13, 0x04, 0x02, 0x00, 0xE8, 0x03, /* 1043 total */
    0xAF, 0x04, 0x01, 0x00, 0x01, /* 1199 VAT 20% */
    0xBC, 0x04, 0x01, 0x00, 0x01, /* 1212 goods */
    0xBE, 0x04, 0x01, 0x00, 0x04, /* 1214 full payment */
    0x3C, 0x08, 0x01, 0x00, 0x00, /* 2108 pieces */
    0x8B, 0x04, 0x11, 0x00, /* 1163 product code, 17 bytes */
    /* 1302 EAN-13 "4600000000008" */
    0x16, 0x05, 0x0D, 0x00, 0x34, 0x36, 0x30, 0x30, 0x30, 0x30, 0x30, 0x30,
    0x30, 0x30, 0x30, 0x30, 0x38,
};
/* The marked line up to its 2000: the 1059 header (its length is the whole line) ... 1163 */
static const uint8_t pin_item_milk[] = {
    0x23, 0x04, 0xBA, 0x00, /* 1059 marked item, 186 bytes */
    0x06, 0x04, 0x04, 0x00, 0x4D, 0x69, 0x6C, 0x6B, /* 1030 name "Milk" */
    0x37, 0x04, 0x02, 0x00, 0x1E, 0x23, /* 1079 price */
    0xFF, 0x03, 0x03, 0x00, 0x03, 0xE8, 0x03, /* 1023 quantity 1.000 */
    0x13, 0x04, 0x02, 0x00, 0x1E, 0x23, /* 1043 total */
    0xAF, 0x04, 0x01, 0x00, 0x02, /* 1199 VAT 10% */
    0xBC, 0x04, 0x01, 0x00, 0x21, /* 1212 marked goods */
    0xBE, 0x04, 0x01, 0x00, 0x04, /* 1214 full payment */
    0x3C, 0x08, 0x01, 0x00, 0x00, /* 2108 pieces */
    0x8B, 0x04, 0x1D, 0x00, /* 1163 product code, 29 bytes */
    /* 1305 KI "0104600439931256215ABCDEF" */
    0x19, 0x05, 0x19, 0x00, 0x30, 0x31, 0x30, 0x34, 0x36, 0x30, 0x30, 0x34,
    0x33, 0x39, 0x39, 0x33, 0x31, 0x32, 0x35, 0x36, 0x32, 0x31, 0x35, 0x41,
    0x42, 0x43, 0x44, 0x45, 0x46,
};
/* 2000 */
static const uint8_t pin_km[] = {
    /* 2000 marking code, GS kept "0104600439931256215ABCDEF<GS>93abcd" */
    0xD0, 0x07, 0x20, 0x00, 0x30, 0x31, 0x30, 0x34, 0x36, 0x30, 0x30, 0x34,
    0x33, 0x39, 0x39, 0x33, 0x31, 0x32, 0x35, 0x36, 0x32, 0x31, 0x35, 0x41,
    0x42, 0x43, 0x44, 0x45, 0x46, 0x1D, 0x39, 0x33, 0x61, 0x62, 0x63, 0x64,
};
/* The marked line after its 2000: 2100, 2102 */
static const uint8_t pin_item_milk_code[] = {
    0x34, 0x08, 0x01, 0x00, 0x05, /* 2100 code type */
    0x36, 0x08, 0x01, 0x00, 0x00, /* 2102 mode */
};
/* the status in a receipt */
static const uint8_t pin_status_2003[] = {
    0xD3, 0x07, 0x01, 0x00, 0x01, /* 2003 piece sold, planned */
};
/* the status in a correction */
static const uint8_t pin_status_2110[] = {
    0x3E, 0x08, 0x01, 0x00, 0x01, /* 2110 piece sold, assigned */
};
/* The marked line after its status: 2106, 1260 */
static const uint8_t pin_item_milk_end[] = {
    0x3A, 0x08, 0x01, 0x00, 0x07, /* 2106 check result */
    0xEC, 0x04, 0x2E, 0x00, /* 1260 industry requisite, 46 bytes */
    0xEE, 0x04, 0x03, 0x00, 0x30, 0x33, 0x30, /* 1262 authority "030" */
    /* 1263 date "21.11.2023" */
    0xEF, 0x04, 0x0A, 0x00, 0x32, 0x31, 0x2E, 0x31, 0x31, 0x2E, 0x32, 0x30,
    0x32, 0x33,
    0xF0, 0x04, 0x04, 0x00, 0x31, 0x39, 0x34, 0x34, /* 1264 number "1944" */
    /* 1265 value "UUID=1&Time=2" */
    0xF1, 0x04, 0x0D, 0x00, 0x55, 0x55, 0x49, 0x44, 0x3D, 0x31, 0x26, 0x54,
    0x69, 0x6D, 0x65, 0x3D, 0x32,
};
/* 1020 ... 2107 */
static const uint8_t pin_receipt_totals[] = {
    0xFC, 0x03, 0x02, 0x00, 0x06, 0x27, /* 1020 total */
    0x07, 0x04, 0x02, 0x00, 0x88, 0x13, /* 1031 cash */
    0x39, 0x04, 0x02, 0x00, 0x7E, 0x13, /* 1081 cashless */
    0xBF, 0x04, 0x01, 0x00, 0x00, /* 1215 prepayment */
    0xC0, 0x04, 0x01, 0x00, 0x00, /* 1216 credit */
    0xC1, 0x04, 0x01, 0x00, 0x00, /* 1217 counter-provision */
    0x4E, 0x04, 0x01, 0x00, 0xA7, /* 1102 VAT 20/120 */
    0x4F, 0x04, 0x02, 0x00, 0x31, 0x03, /* 1103 VAT 10/110 */
    0x3B, 0x08, 0x01, 0x00, 0x01, /* 2107 a negative check */
};
/* 81 after 1041: 2001 */
static const uint8_t pin_km_request[] = {
    0xD1, 0x07, 0x04, 0x00, 0x05, 0x00, 0x00, 0x00, /* 2001 request 5 */
};
/* 81 after its 2114: 1018, 2004 (the FN's check: the line's 2106 bits 0x07) */
static const uint8_t pin_km_request_check[] = {
    /* 1018 INN "7700112233" */
    0xFA, 0x03, 0x0A, 0x00, 0x37, 0x37, 0x30, 0x30, 0x31, 0x31, 0x32, 0x32,
    0x33, 0x33,
    0xD4, 0x07, 0x01, 0x00, 0x07, /* 2004 check result */
};
/* 81 after its 2000 */
static const uint8_t pin_km_request_end[] = {
    0x34, 0x08, 0x01, 0x00, 0x05, /* 2100 code type */
    0xD3, 0x07, 0x01, 0x00, 0x02, /* 2003 measured sold */
    0xFF, 0x03, 0x03, 0x00, 0x03, 0x5E, 0x01, /* 1023 quantity 0.350 */
    0x3C, 0x08, 0x01, 0x00, 0x0B, /* 2108 kg */
    0x36, 0x08, 0x01, 0x00, 0x00, /* 2102 mode */
};
/* 82: 2002, then 1012, 1041, 1037, 1018 */
static const uint8_t pin_km_notification[] = {
    0xD2, 0x07, 0x04, 0x00, 0x05, 0x00, 0x00, 0x00, /* 2002 notification 5 */
};
/* 82 after 1018: 1040, 2040, 1055, 1054, and the 2007 header before its 2000 */
static const uint8_t pin_km_notification_receipt[] = {
    0x10, 0x04, 0x04, 0x00, 0x06, 0x00, 0x00, 0x00, /* 1040 receipt document 6 */
    0xF8, 0x07, 0x04, 0x00, 0x06, 0x00, 0x00, 0x00, /* 2040 receipt document 6 (2025) */
    0x1F, 0x04, 0x01, 0x00, 0x01, /* 1055 tax system */
    0x1E, 0x04, 0x01, 0x00, 0x01, /* 1054 sale */
    0x44, 0x08, 0x01, 0x00, 0x01, /* 2116 a receipt's notification */
    0xD7, 0x07, 0x63, 0x00, /* 2007 sold code, 99 bytes */
};
/* 82: the 2007 after its 2000 (the FNS table 130's requisites) */
static const uint8_t pin_km_notification_end[] = {
    0x34, 0x08, 0x01, 0x00, 0x05, /* 2100 code type */
    0x3E, 0x08, 0x01, 0x00, 0x01, /* 2110 piece sold */
    0x3A, 0x08, 0x01, 0x00, 0x07, /* 2106 check result */
    0xFF, 0x03, 0x03, 0x00, 0x03, 0xE8, 0x03, /* 1023 quantity 1.000 */
    0x36, 0x08, 0x01, 0x00, 0x00, /* 2102 mode */
    0xBE, 0x04, 0x01, 0x00, 0x04, /* 1214 full payment */
    0x06, 0x04, 0x04, 0x00, 0x4D, 0x69, 0x6C, 0x6B, /* 1030 name "Milk" */
    0x37, 0x04, 0x02, 0x00, 0x1E, 0x23, /* 1079 price 89.90 */
    0x13, 0x04, 0x02, 0x00, 0x1E, 0x23, /* 1043 total 89.90 */
    0xAF, 0x04, 0x01, 0x00, 0x02, /* 1199 VAT 10% */
    0xB0, 0x04, 0x02, 0x00, 0x31, 0x03, /* 1200 the line's VAT 8990 * 10 / 110 = 817 */
};
/* 7 before 1041: 1017 */
static const uint8_t pin_ack[] = {
    /* 1017 OFD INN "7704211201" */
    0xF9, 0x03, 0x0A, 0x00, 0x37, 0x37, 0x30, 0x34, 0x32, 0x31, 0x31, 0x32,
    0x30, 0x31,
};
/* 7 after 1041 (pin_number as 1040, pin_time as 1012): 1068 {1022}, 1078 */
static const uint8_t pin_ack_message[] = {
    0x2C, 0x04, 0x05, 0x00, /* 1068 message, 5 bytes */
    0xFE, 0x03, 0x01, 0x00, 0x00, /* 1022 answer ok */
    0x36, 0x04, 0x04, 0x00, 0xDE, 0xAD, 0xBE, 0xEF, /* 1078 operator sign */
};
/* 83 before 2114 and 2000 */
static const uint8_t pin_km_answer[] = {
    0xD1, 0x07, 0x04, 0x00, 0x05, 0x00, 0x00, 0x00, /* 2001 request 5 */
};
/* 83 after its 2000 */
static const uint8_t pin_km_answer_end[] = {
    0x34, 0x08, 0x01, 0x00, 0x05, /* 2100 code type */
    0x36, 0x08, 0x01, 0x00, 0x00, /* 2102 mode */
    0x3D, 0x08, 0x01, 0x00, 0x01, /* 2109 status correct */
    0x39, 0x08, 0x01, 0x00, 0x00, /* 2105 processed */
    0xD5, 0x07, 0x01, 0x00, 0x0F, /* 2005 results */
};
/* Notification ticket (84) */
static const uint8_t pin_km_ticket[] = {
    0xD2, 0x07, 0x04, 0x00, 0x05, 0x00, 0x00, 0x00, /* 2002 notification 5 */
    0x3F, 0x08, 0x01, 0x00, 0x00, /* 2111 accepted */
    0xD6, 0x07, 0x01, 0x00, 0x0F, /* 2006 results */
};
// clang-format on

typedef struct pin_part {
  const uint8_t *bytes;
  size_t size;
} pin_part_t;
// clang-format off
#define PART(a) {(a), sizeof(a)}
// clang-format on

/* doc[0..len) must be exactly form's STLV over the parts. */
static void expect_pinned(const uint8_t *doc, size_t len, uint16_t form, const pin_part_t *parts,
                          size_t count)
{
  uint8_t expected[1024];
  size_t n = 4;
  for (size_t i = 0; i < count; i++) {
    assert_true(n + parts[i].size <= sizeof expected);
    memcpy(expected + n, parts[i].bytes, parts[i].size);
    n += parts[i].size;
  }
  expected[0] = (uint8_t)(form & 0xFFu);
  expected[1] = (uint8_t)(form >> 8);
  expected[2] = (uint8_t)((n - 4) & 0xFFu);
  expected[3] = (uint8_t)((n - 4) >> 8);
  assert_int_equal(len, n);
  assert_memory_equal(doc, expected, n);
}
/* The header of pin_header(), 1040 ... 1021, as the forms with one carry it. */
#define PIN_HEAD                                                                                   \
  PART(pin_number), PART(pin_time), PART(pin_fn), PART(pin_kkt_inn), PART(pin_user_place),         \
      PART(pin_cashier)
#define EXPECT_PINNED(form, ...)                                                                   \
  do {                                                                                             \
    static const pin_part_t parts_[] = {__VA_ARGS__};                                              \
    expect_pinned(buf, len, (form), parts_, sizeof parts_ / sizeof parts_[0]);                     \
  } while (0)

/* header() with ASCII text and number 5. */
static doc_header_t pin_header(void)
{
  doc_header_t h = header();
  h.number = 5;
  strcpy(h.user_name, "OOO Romashka");
  strcpy(h.cashier, "Ivanova");
  strcpy(h.address, "Moscow");
  strcpy(h.place, "Shop");
  return h;
}

/* The counters of the closing reports (5, 21, 6). */
static const doc_counters_t pin_counters = {.receipts_in_shift = 12,
                                            .documents_in_shift = 14,
                                            .unsent_documents = 3,
                                            .first_unsent_number = 17,
                                            .first_unsent_time = 1705310000u,
                                            .unsent_notifications = 2,
                                            .ofd_timeout = true,
                                            .keys_valid_days = 300};

static const char PIN_KM[] = "0104600439931256215ABCDEF\x1D"
                             "93abcd";

/* Bag (plain, EAN-13) and Milk (marked, 1260), paid 50.00 cash and 49.90
** by card; Milk's check 7 is negative (the OISM said no). */
static void pin_receipt(doc_receipt_t *r)
{
  *r = (doc_receipt_t){.operation = DOC_OP_SALE,
                       .tax_system = 1,
                       .receipt_number = 3,
                       .item_count = 2,
                       .cash = 5000,
                       .cashless = 4990,
                       .correction_type = 1,
                       .correction_date = 1705000000u,
                       .correction_basis = "ORD-1"};
  r->items[0] = plain_item("Bag", 500, 2);
  r->items[0].product_tag = 1302;
  strcpy(r->items[0].product_value, "4600000000008");
  r->items[1] = marked_item("Milk", 8990, PIN_KM, 5, 1305, "0104600439931256215ABCDEF", 7);
  r->items[1].vat = 2;
  r->items[1].has_industry = true;
  r->items[1].industry = (doc_industry_t){"030", "21.11.2023", "1944", "UUID=1&Time=2"};
}

static void test_pinned_reports(void **state)
{
  (void)state;
  doc_header_t h = pin_header();
  doc_registration_t r = registration();
  doc_counters_t c;
  size_t len = 0;
  strcpy(r.ofd_name, "Taxcom");
  r.ffd_version = 0; /* 0 means 1.2 */

  assert_int_equal(doc_build_registration(&h, &r, false, buf, sizeof buf, &len), 0);
  EXPECT_PINNED(1, PIN_HEAD, PART(pin_ffd), PART(pin_registration));
  assert_int_equal(doc_build_registration(&h, &r, true, buf, sizeof buf, &len), 0);
  EXPECT_PINNED(11, PIN_HEAD, PART(pin_ffd), PART(pin_registration), PART(pin_reasons));

  memset(&c, 0, sizeof c);
  c.fn_exhausted = true;
  c.keys_valid_days = 300;
  assert_int_equal(doc_build_shift(&h, &c, true, buf, sizeof buf, &len), 0);
  EXPECT_PINNED(2, PIN_HEAD, PART(pin_shift), PART(pin_ffd), PART(pin_shift_open));

  c = pin_counters;
  assert_int_equal(doc_build_shift(&h, &c, false, buf, sizeof buf, &len), 0);
  EXPECT_PINNED(5, PIN_HEAD, PART(pin_shift), PART(pin_ffd), PART(pin_counts), PART(pin_unsent),
                PART(pin_unsent_rest), PART(pin_flags));

  assert_int_equal(doc_build_fn_close(&h, &c, buf, sizeof buf, &len), 0);
  EXPECT_PINNED(6, PIN_HEAD, PART(pin_shift), PART(pin_ffd), PART(pin_unsent),
                PART(pin_unsent_rest));

  /* Outside a shift (no 1038), autonomous (1002 = 1). */
  h.shift_number = 0;
  h.autonomous = true;
  assert_int_equal(doc_build_state_report(&h, &c, buf, sizeof buf, &len), 0);
  EXPECT_PINNED(21, PIN_HEAD, PART(pin_ffd), PART(pin_autonomous), PART(pin_unsent),
                PART(pin_unsent_number), PART(pin_unsent_rest), PART(pin_flags));
}

static void test_pinned_receipts(void **state)
{
  (void)state;
  doc_header_t h = pin_header();
  doc_receipt_t *r = malloc(sizeof *r);
  doc_item_t measured;
  size_t len = 0;
  assert_non_null(r);
  pin_receipt(r);

  assert_int_equal(doc_build_receipt(&h, r, false, buf, sizeof buf, &len), 0);
  EXPECT_PINNED(3, PIN_HEAD, PART(pin_shift), PART(pin_ffd), PART(pin_receipt_opening),
                PART(pin_item_bag), PART(pin_item_milk), PART(pin_km), PART(pin_item_milk_code),
                PART(pin_status_2003), PART(pin_item_milk_end), PART(pin_receipt_totals));
  assert_int_equal(doc_build_receipt(&h, r, true, buf, sizeof buf, &len), 0);
  EXPECT_PINNED(31, PIN_HEAD, PART(pin_shift), PART(pin_ffd), PART(pin_receipt_opening),
                PART(pin_correction_basis), PART(pin_item_bag), PART(pin_item_milk), PART(pin_km),
                PART(pin_item_milk_code), PART(pin_status_2110), PART(pin_item_milk_end),
                PART(pin_receipt_totals));

  /* 82 numbers itself (h.number) and names the receipt's document (6). */
  assert_int_equal(doc_build_km_notification(&h, 6, r, buf, sizeof buf, &len), 0);
  EXPECT_PINNED(82, PART(pin_km_notification), PART(pin_time), PART(pin_fn), PART(pin_kkt_inn),
                PART(pin_km_notification_receipt), PART(pin_km), PART(pin_km_notification_end));

  measured = r->items[1];
  measured.quantity = (doc_quantity_t){350, 3};
  measured.measure = 11;
  measured.km_status = DOC_KM_MEASURED_SOLD;
  assert_int_equal(doc_build_km_request(&h, &measured, buf, sizeof buf, &len), 0);
  EXPECT_PINNED(81, PART(pin_fn), PART(pin_km_request), PART(pin_request_time),
                PART(pin_km_request_check), PART(pin_km), PART(pin_km_request_end));
  free(r);
}

static void test_pinned_answers(void **state)
{
  (void)state;
  doc_ack_t a;
  doc_km_answer_t k = {.request_number = 5,
                       .request_time = TIME_2024_01_15_1030,
                       .km_len = sizeof PIN_KM - 1,
                       .km_type = 5,
                       .status_answer = 1,
                       .processing_results = 0x0F};
  doc_km_ticket_t t = {.notification_number = 5, .result = 0, .processing_results = 0x0F};
  size_t len = 0;

  memset(&a, 0, sizeof a);
  strcpy(a.ofd_inn, "7704211201");
  strcpy(a.fn_number, "9999078902012345");
  a.document_number = 5;
  a.time = TIME_2024_01_15_1030;
  memcpy(a.operator_sign, "\xDE\xAD\xBE\xEF", 4);
  a.operator_sign_len = 4;
  assert_int_equal(doc_build_ack(&a, buf, sizeof buf, &len), 0);
  EXPECT_PINNED(7, PART(pin_ack), PART(pin_fn), PART(pin_number), PART(pin_time),
                PART(pin_ack_message));

  memcpy(k.km, PIN_KM, k.km_len);
  assert_int_equal(doc_build_km_answer(&k, buf, sizeof buf, &len), 0);
  EXPECT_PINNED(83, PART(pin_km_answer), PART(pin_request_time), PART(pin_km),
                PART(pin_km_answer_end));

  assert_int_equal(doc_build_km_ticket(&t, buf, sizeof buf, &len), 0);
  EXPECT_PINNED(84, PART(pin_km_ticket));
}

/* The TLV getters the parsers read with refuse a missing output, after the
** item's own checks: a known tag of another type is TLV_ERR_WRONG_TYPE
** whatever the output. (Pins the order tlv.c's item_check keeps.) */
static void test_getters_refuse_null_outputs(void **state)
{
  (void)state;
  static const uint8_t one[1] = {7}, four[4] = {1, 2, 3, 4}, fvln[2] = {3, 1};
  tlv_item_t byte_item = {.tag = 1054, .length = 1, .value = one};
  tlv_item_t u16_item = {.tag = 1213, .length = 2, .value = four};
  tlv_item_t u32_item = {.tag = 1040, .length = 4, .value = four};
  tlv_item_t time_item = {.tag = 1012, .length = 4, .value = four};
  tlv_item_t vln_item = {.tag = 1020, .length = 1, .value = one};
  tlv_item_t fvln_item = {.tag = 1023, .length = 2, .value = fvln};
  tlv_item_t text_item = {.tag = 1030, .length = 1, .value = one};
  tlv_item_t bytes_item = {.tag = 1078, .length = 4, .value = four};
  const uint8_t *data = NULL;
  char text[8];
  size_t length = 0;
  assert_int_equal(tlv_get_byte(&byte_item, NULL), TLV_ERR_ARGUMENT);
  assert_int_equal(tlv_get_uint16(&u16_item, NULL), TLV_ERR_ARGUMENT);
  assert_int_equal(tlv_get_uint32(&u32_item, NULL), TLV_ERR_ARGUMENT);
  assert_int_equal(tlv_get_unixtime(&time_item, NULL), TLV_ERR_ARGUMENT);
  assert_int_equal(tlv_get_vln(&vln_item, NULL), TLV_ERR_ARGUMENT);
  assert_int_equal(tlv_get_fvln(&fvln_item, NULL), TLV_ERR_ARGUMENT);
  assert_int_equal(tlv_get_string(&text_item, NULL, sizeof text, &length), TLV_ERR_ARGUMENT);
  assert_int_equal(tlv_get_string(&text_item, text, sizeof text, NULL), TLV_ERR_ARGUMENT);
  assert_int_equal(tlv_get_bytes(&bytes_item, NULL, &length), TLV_ERR_ARGUMENT);
  assert_int_equal(tlv_get_bytes(&bytes_item, &data, NULL), TLV_ERR_ARGUMENT);
  assert_int_equal(tlv_get_byte(&u32_item, NULL), TLV_ERR_WRONG_TYPE);
  assert_int_equal(tlv_get_uint32(&byte_item, NULL), TLV_ERR_WRONG_TYPE);
  assert_int_equal(tlv_get_string(&bytes_item, NULL, sizeof text, NULL), TLV_ERR_WRONG_TYPE);
  assert_int_equal(tlv_get_bytes(&text_item, NULL, NULL), TLV_ERR_WRONG_TYPE);
  /* A length its type refuses comes before the missing output too. */
  u32_item.length = 3;
  assert_int_equal(tlv_get_uint32(&u32_item, NULL), TLV_ERR_BAD_LENGTH);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_registration),
      cmocka_unit_test(test_shift_open_and_close),
      cmocka_unit_test(test_state_report_and_fn_close),
      cmocka_unit_test(test_receipt_with_marked_lines),
      cmocka_unit_test(test_receipt_2107),
      cmocka_unit_test(test_receipt_vat_every_rate),
      cmocka_unit_test(test_receipt_vat_mixed_and_rounding),
      cmocka_unit_test(test_state_report_totals_bytes),
      cmocka_unit_test(test_required_requisites),
      cmocka_unit_test(test_payment_forms),
      cmocka_unit_test(test_agent_and_fraction),
      cmocka_unit_test(test_totals_at_their_limits),
      cmocka_unit_test(test_ffd_2025_requisites),
      cmocka_unit_test(test_receipt_operations_and_correction),
      cmocka_unit_test(test_receipt_totals_and_arguments),
      cmocka_unit_test(test_receipt_size_limits),
      cmocka_unit_test(test_km_request),
      cmocka_unit_test(test_km_notification),
      cmocka_unit_test(test_seal_round_trip),
      cmocka_unit_test(test_receipt_qr),
      cmocka_unit_test(test_ack),
      cmocka_unit_test(test_ack_real_layout),
      cmocka_unit_test(test_km_answer),
      cmocka_unit_test(test_km_ticket),
      cmocka_unit_test(test_garbage),
      cmocka_unit_test(test_json_receipt),
      cmocka_unit_test(test_json_every_form),
      cmocka_unit_test(test_json_malformed),
      cmocka_unit_test(test_error_names),
      cmocka_unit_test(test_quantity_text),
      cmocka_unit_test(test_pinned_reports),
      cmocka_unit_test(test_pinned_receipts),
      cmocka_unit_test(test_pinned_answers),
      cmocka_unit_test(test_getters_refuse_null_outputs),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
