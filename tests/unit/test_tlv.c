/*
** tests/unit/test_tlv.c: the FFD 1.2 TLV codec.
**
** Byte strings here are worked out by hand from the format (tag and length
** little-endian, VLN without trailing zero bytes, FVLN as scale + VLN, text
** in code page 866), so a test fails when the codec drifts from the wire
** format, not only when it stops agreeing with itself.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "fiscal/tlv.h"

/* Writes into a fresh writer over a static buffer. */
static uint8_t buffer[65536];

static void writer_start(tlv_writer_t *writer, size_t capacity)
{
  memset(buffer, 0xAA, sizeof buffer);
  assert_true(capacity <= sizeof buffer);
  tlv_writer_init(writer, buffer, capacity);
}

/* Reads the only item of a finished encoding. */
static void read_single(const uint8_t *data, size_t size, tlv_item_t *item)
{
  tlv_reader_t reader;
  tlv_item_t after;
  tlv_reader_init(&reader, data, size);
  assert_int_equal(tlv_reader_next(&reader, item), 0);
  assert_int_equal(tlv_reader_next(&reader, &after), TLV_ERR_END);
  assert_true(tlv_reader_done(&reader));
}

static void assert_encoding(const tlv_writer_t *writer, const uint8_t *expected,
                            size_t expected_size)
{
  size_t length = 0;
  assert_int_equal(tlv_writer_finish(writer, &length), 0);
  assert_int_equal(length, expected_size);
  assert_memory_equal(writer->buffer, expected, expected_size);
}

/* ---------------------------------------------------------------------- */
/* The dictionary                                                          */

static void test_dictionary_is_sorted_and_consistent(void **state)
{
  (void)state;
  size_t count = tlv_tag_count();
  assert_true(count > 100);
  for (size_t i = 0; i < count; i++) {
    const tlv_tag_info_t *info = tlv_tag_at(i);
    assert_non_null(info);
    if (i > 0) assert_true(tlv_tag_at(i - 1)->tag < info->tag);
    assert_ptr_equal(tlv_tag_lookup(info->tag), info);
    assert_non_null(info->json_name);
    assert_true(strlen(info->json_name) > 0);
    assert_non_null(info->russian_name);
    assert_true(info->min_length <= info->max_length);
    switch (info->type) {
    case TLV_TYPE_BYTE:
      assert_true(info->min_length == 1 && info->max_length == 1);
      break;
    case TLV_TYPE_UINT16:
      assert_true(info->min_length == 2 && info->max_length == 2);
      break;
    case TLV_TYPE_UINT32:
    case TLV_TYPE_UNIXTIME:
      assert_true(info->min_length == 4 && info->max_length == 4);
      break;
    case TLV_TYPE_VLN:
      assert_true(info->min_length == 1 && info->max_length <= 8);
      break;
    case TLV_TYPE_FVLN:
      assert_true(info->min_length == 2 && info->max_length <= 9);
      break;
    case TLV_TYPE_STLV:
      assert_true(info->max_length <= 32768);
      break;
    case TLV_TYPE_STRING:
    case TLV_TYPE_BYTES:
      break;
    default:
      fail_msg("tag %u has no valid type", info->tag);
    }
    assert_string_not_equal(tlv_type_name(info->type), "unknown");
    if (info->flags & TLV_TAG_DOCUMENT) assert_int_equal(info->type, TLV_TYPE_STLV);
  }
  assert_null(tlv_tag_at(count));
  assert_null(tlv_tag_lookup(0));
  assert_null(tlv_tag_lookup(9999));
  assert_null(tlv_tag_lookup(65535));
}

static void test_dictionary_covers_the_module(void **state)
{
  (void)state;
  static const struct {
    uint16_t tag;
    tlv_type_t type;
    const char *json_name;
  } named[] = {
      {1054, TLV_TYPE_BYTE, "operationType"},
      {1059, TLV_TYPE_STLV, "items"},
      {1030, TLV_TYPE_STRING, "name"},
      {1079, TLV_TYPE_VLN, "price"},
      {1023, TLV_TYPE_FVLN, "quantity"},
      {1043, TLV_TYPE_VLN, "sum"},
      {1077, TLV_TYPE_BYTES, "fiscalSign"},
      {1040, TLV_TYPE_UINT32, "fiscalDocumentNumber"},
      {1038, TLV_TYPE_UINT32, "shiftNumber"},
      {1041, TLV_TYPE_STRING, "fiscalDriveNumber"},
      {1037, TLV_TYPE_STRING, "kktRegId"},
      {1012, TLV_TYPE_UNIXTIME, "dateTime"},
      {1020, TLV_TYPE_VLN, "totalSum"},
      {1031, TLV_TYPE_VLN, "cashTotalSum"},
      {1081, TLV_TYPE_VLN, "ecashTotalSum"},
      {1055, TLV_TYPE_BYTE, "appliedTaxationType"},
      {1209, TLV_TYPE_BYTE, "fiscalDocumentFormatVer"},
      {1162, TLV_TYPE_BYTES, "productCode"},
      {1163, TLV_TYPE_STLV, "productCodeNew"},
      {2000, TLV_TYPE_STRING, "markingCode"},
      {1260, TLV_TYPE_STLV, "itemsIndustryDetails"},
      {1265, TLV_TYPE_STRING, "industryPropValue"},
  };
  for (size_t i = 0; i < sizeof named / sizeof named[0]; i++) {
    const tlv_tag_info_t *info = tlv_tag_lookup(named[i].tag);
    assert_non_null(info);
    assert_int_equal(info->type, named[i].type);
    assert_string_equal(info->json_name, named[i].json_name);
  }

  static const uint16_t forms[] = {1, 11, 2, 21, 3, 31, 5, 6, 7, 81, 82, 83, 84};
  for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
    const tlv_tag_info_t *info = tlv_tag_lookup(forms[i]);
    assert_non_null(info);
    assert_true(info->flags & TLV_TAG_DOCUMENT);
  }

  /* Every tag DOMAIN.md §3-§5 and the marking rules name. */
  static const uint16_t tags[] = {
      1001, 1002, 1008, 1009, 1012, 1013, 1017, 1018, 1020, 1021, 1022, 1023, 1030, 1031, 1037,
      1038, 1040, 1041, 1042, 1043, 1046, 1048, 1054, 1055, 1059, 1060, 1062, 1068, 1077, 1078,
      1079, 1081, 1097, 1098, 1101, 1102, 1103, 1104, 1105, 1106, 1107, 1111, 1116, 1117, 1118,
      1157, 1162, 1163, 1173, 1174, 1178, 1179, 1187, 1188, 1189, 1190, 1194, 1199, 1203, 1205,
      1206, 1209, 1212, 1213, 1214, 1215, 1216, 1217, 1290, 1291, 1292, 1293, 1294, 1300, 1301,
      1302, 1303, 1304, 1305, 1306, 1307, 1308, 1309, 1320, 1321, 1322, 1323, 1324, 1325, 2000,
      2001, 2002, 2003, 2004, 2005, 2006, 2007, 1260, 1261, 1262, 1263, 1264, 1265,
  };
  for (size_t i = 0; i < sizeof tags / sizeof tags[0]; i++) {
    if (!tlv_tag_lookup(tags[i])) fail_msg("tag %u missing from the dictionary", tags[i]);
  }
  for (uint16_t tag = 2100; tag <= 2116; tag++) {
    if (tag == 2103) continue; /* not assigned in FFD 1.2 */
    if (!tlv_tag_lookup(tag)) fail_msg("tag %u missing from the dictionary", tag);
  }

  /* The limits DOMAIN.md §8 gives. */
  assert_int_equal(tlv_tag_lookup(3)->max_length, 32768);
  assert_int_equal(tlv_tag_lookup(1059)->max_length, 1024);
  assert_int_equal(tlv_tag_lookup(2000)->max_length, 256);
  assert_int_equal(tlv_tag_lookup(1030)->max_length, 128);
  assert_int_equal(tlv_tag_lookup(1041)->min_length, 16);
  assert_int_equal(tlv_tag_lookup(1077)->min_length, 6);
}

static void test_error_texts(void **state)
{
  (void)state;
  for (int error = TLV_OK; error >= TLV_ERR_END; error--) {
    assert_string_not_equal(tlv_error_code(error), "unknown");
    assert_true(strlen(tlv_error_message(error)) > 0);
    for (int other = error - 1; other >= TLV_ERR_END; other--)
      assert_string_not_equal(tlv_error_code(error), tlv_error_code(other));
  }
  assert_string_equal(tlv_error_code(TLV_ERR_LENGTH_PAST_END), "length_past_end");
  assert_string_equal(tlv_error_code(-1000), "unknown");
  assert_string_equal(tlv_error_message(7), "unknown error");
}

/* ---------------------------------------------------------------------- */
/* Round trips, type by type                                               */

static void test_byte_round_trip(void **state)
{
  (void)state;
  tlv_writer_t writer;
  tlv_item_t item;
  uint8_t value = 0;
  writer_start(&writer, 64);
  assert_int_equal(tlv_put_byte(&writer, 1054, 2), 0);
  /* 1054 = 0x041E */
  static const uint8_t expected[] = {0x1E, 0x04, 0x01, 0x00, 0x02};
  assert_encoding(&writer, expected, sizeof expected);
  read_single(buffer, writer.length, &item);
  assert_int_equal(item.tag, 1054);
  assert_int_equal(tlv_get_byte(&item, &value), 0);
  assert_int_equal(value, 2);
}

static void test_uint16_round_trip(void **state)
{
  (void)state;
  tlv_writer_t writer;
  tlv_item_t item;
  uint16_t value = 0;
  writer_start(&writer, 64);
  assert_int_equal(tlv_put_uint16(&writer, 1213, 0x1234), 0);
  static const uint8_t expected[] = {0xBD, 0x04, 0x02, 0x00, 0x34, 0x12};
  assert_encoding(&writer, expected, sizeof expected);
  read_single(buffer, writer.length, &item);
  assert_int_equal(tlv_get_uint16(&item, &value), 0);
  assert_int_equal(value, 0x1234);
}

static void test_uint32_round_trip(void **state)
{
  (void)state;
  tlv_writer_t writer;
  tlv_item_t item;
  uint32_t value = 0;
  writer_start(&writer, 64);
  assert_int_equal(tlv_put_uint32(&writer, 1040, 0x01020304u), 0);
  static const uint8_t expected[] = {0x10, 0x04, 0x04, 0x00, 0x04, 0x03, 0x02, 0x01};
  assert_encoding(&writer, expected, sizeof expected);
  read_single(buffer, writer.length, &item);
  assert_int_equal(tlv_get_uint32(&item, &value), 0);
  assert_int_equal(value, 0x01020304u);
}

static void test_unixtime_round_trip(void **state)
{
  (void)state;
  tlv_writer_t writer;
  tlv_item_t item;
  uint32_t seconds = 0;
  writer_start(&writer, 64);
  /* 2023-11-21 12:00:00 written as if UTC: 1700568000 = 0x655C9BC0 */
  assert_int_equal(tlv_put_unixtime(&writer, 1012, 1700568000u), 0);
  static const uint8_t expected[] = {0xF4, 0x03, 0x04, 0x00, 0xC0, 0x9B, 0x5C, 0x65};
  assert_encoding(&writer, expected, sizeof expected);
  read_single(buffer, writer.length, &item);
  assert_int_equal(tlv_get_unixtime(&item, &seconds), 0);
  assert_int_equal(seconds, 1700568000u);
}

static void test_vln_round_trip(void **state)
{
  (void)state;
  static const struct {
    uint64_t value;
    uint8_t bytes[8];
    size_t length;
  } cases[] = {
      {0, {0x00}, 1},
      {1, {0x01}, 1},
      {255, {0xFF}, 1},
      {256, {0x00, 0x01}, 2},
      {1000, {0xE8, 0x03}, 2}, /* 10.00 roubles */
      {123456, {0x40, 0xE2, 0x01}, 3},
      {0xFFFFFFFFFFFFu, {0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}, 6},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    tlv_writer_t writer;
    tlv_item_t item;
    uint64_t value = 0;
    writer_start(&writer, 64);
    assert_int_equal(tlv_put_vln(&writer, 1020, cases[i].value), 0);
    assert_int_equal(writer.length, TLV_HEADER_SIZE + cases[i].length);
    assert_int_equal(buffer[0], 0xFC); /* 1020 = 0x03FC */
    assert_int_equal(buffer[1], 0x03);
    assert_int_equal(buffer[2], cases[i].length);
    assert_int_equal(buffer[3], 0);
    assert_memory_equal(buffer + 4, cases[i].bytes, cases[i].length);
    read_single(buffer, writer.length, &item);
    assert_int_equal(tlv_get_vln(&item, &value), 0);
    assert_true(value == cases[i].value);
  }
  /* Money is at most 6 bytes: 2^48 kopecks does not fit. */
  tlv_writer_t writer;
  writer_start(&writer, 64);
  assert_int_equal(tlv_put_vln(&writer, 1020, 0x1000000000000u), TLV_ERR_VALUE_TOO_LONG);
  assert_int_equal(writer.length, 0);
}

static void test_fvln_one_point_zero_zero_zero(void **state)
{
  (void)state;
  tlv_writer_t writer;
  tlv_item_t item;
  tlv_fvln_t value = {0, 0};
  writer_start(&writer, 64);
  assert_int_equal(tlv_put_fvln(&writer, 1023, (tlv_fvln_t){1000, 3}), 0);
  /* 1023 = 0x03FF; 1.000 is scale 3, mantissa 1000 = E8 03 */
  static const uint8_t expected[] = {0xFF, 0x03, 0x03, 0x00, 0x03, 0xE8, 0x03};
  assert_encoding(&writer, expected, sizeof expected);
  read_single(buffer, writer.length, &item);
  assert_int_equal(tlv_get_fvln(&item, &value), 0);
  assert_int_equal(value.scale, 3);
  assert_true(value.mantissa == 1000);

  /* 0.5 kg: scale 1, mantissa 5 */
  writer_start(&writer, 64);
  assert_int_equal(tlv_put_fvln(&writer, 1023, (tlv_fvln_t){5, 1}), 0);
  static const uint8_t half[] = {0xFF, 0x03, 0x02, 0x00, 0x01, 0x05};
  assert_encoding(&writer, half, sizeof half);
}

static void test_string_cp866(void **state)
{
  (void)state;
  tlv_writer_t writer;
  tlv_item_t item;
  char text[TLV_STRING_UTF8_SIZE(128)];
  size_t length = 0;
  const char *name = "Молоко 3,2%";
  writer_start(&writer, 256);
  assert_int_equal(tlv_put_string(&writer, 1030, name, strlen(name)), 0);
  /* CP866: М 0x8C; о 0xAE, л 0xAB, к 0xAA (а..п are 0xA0..0xAF); the
  ** rest is ASCII. 11 characters; 1030 = 0x0406. */
  static const uint8_t expected[] = {0x06, 0x04, 0x0B, 0x00, 0x8C, 0xAE, 0xAB, 0xAE,
                                     0xAA, 0xAE, 0x20, 0x33, 0x2C, 0x32, 0x25};
  assert_encoding(&writer, expected, sizeof expected);
  read_single(buffer, writer.length, &item);
  assert_int_equal(tlv_get_string(&item, text, sizeof text, &length), 0);
  assert_int_equal(length, strlen(name));
  assert_string_equal(text, name);

  /* Upper half of CP866: Ё (0xF0) and a box-drawing line (0xC4, U+2500). */
  const char *rare = "Ё\xE2\x94\x80";
  writer_start(&writer, 256);
  assert_int_equal(tlv_put_string(&writer, 1021, rare, strlen(rare)), 0);
  static const uint8_t rare_bytes[] = {0xFD, 0x03, 0x02, 0x00, 0xF0, 0xC4};
  assert_encoding(&writer, rare_bytes, sizeof rare_bytes);

  /* The marking code keeps its GS (0x1D) as the same byte. */
  const char *code = "0104600439931256215Q&AUF\x1d"
                     "93dGVz";
  writer_start(&writer, 256);
  assert_int_equal(tlv_put_string(&writer, 2000, code, strlen(code)), 0);
  assert_int_equal(buffer[4 + 24], 0x1D);
  read_single(buffer, writer.length, &item);
  assert_int_equal(tlv_get_string(&item, text, sizeof text, &length), 0);
  assert_string_equal(text, code);

  /* An empty string is a TLV with length 0. */
  writer_start(&writer, 256);
  assert_int_equal(tlv_put_string(&writer, 1021, "", 0), 0);
  static const uint8_t empty[] = {0xFD, 0x03, 0x00, 0x00};
  assert_encoding(&writer, empty, sizeof empty);
}

static void test_string_refusals(void **state)
{
  (void)state;
  tlv_writer_t writer;
  tlv_item_t item;
  char small[4];
  size_t length = 0;
  writer_start(&writer, 256);
  assert_int_equal(tlv_put_byte(&writer, 1054, 1), 0);

  /* The euro sign has no CP866 form: refused, not replaced. */
  const char *euro = "Цена 5 €";
  assert_int_equal(tlv_put_string(&writer, 1030, euro, strlen(euro)), TLV_ERR_NOT_CP866);
  assert_int_equal(writer.fault_tag, 1030);
  assert_int_equal(writer.fault_position, strlen("Цена 5 "));
  assert_int_equal(writer.length, 5);

  /* Broken UTF-8: 0xC3 must be followed by a continuation byte. */
  assert_int_equal(tlv_put_string(&writer, 1030, "ab\xC3\x28", 4), TLV_ERR_BAD_UTF8);
  assert_int_equal(writer.fault_position, 2);
  /* Overlong form of '/' and a UTF-16 surrogate are not UTF-8 either. */
  assert_int_equal(tlv_put_string(&writer, 1030, "\xC0\xAF", 2), TLV_ERR_BAD_UTF8);
  assert_int_equal(tlv_put_string(&writer, 1030, "\xED\xA0\x80", 3), TLV_ERR_BAD_UTF8);
  assert_int_equal(writer.length, 5);

  /* 128 characters fit 1030; 129 do not. Cyrillic takes 2 bytes of
  ** UTF-8 but the limit counts CP866 bytes. */
  char long_name[2 * 129 + 1];
  for (size_t i = 0; i < 129; i++) memcpy(long_name + 2 * i, "Ж", 2);
  assert_int_equal(tlv_put_string(&writer, 1030, long_name, 2 * 129), TLV_ERR_VALUE_TOO_LONG);
  assert_int_equal(writer.length, 5);
  assert_int_equal(tlv_put_string(&writer, 1030, long_name, 2 * 128), 0);
  assert_int_equal(writer.length, 5 + 4 + 128);

  /* A fixed-length string: the FN number is 16 characters. */
  assert_int_equal(tlv_put_string(&writer, 1041, "999907890100123", 15), TLV_ERR_BAD_LENGTH);
  assert_int_equal(tlv_put_string(&writer, 1041, "9999078901001234", 16), 0);

  /* Reading into a buffer too small. */
  tlv_reader_t reader;
  tlv_reader_init(&reader, buffer, writer.length);
  assert_int_equal(tlv_reader_next(&reader, &item), 0);
  assert_int_equal(tlv_reader_next(&reader, &item), 0);
  assert_int_equal(item.tag, 1030);
  assert_int_equal(tlv_get_string(&item, small, sizeof small, &length), TLV_ERR_NO_SPACE);
}

static void test_bytes_round_trip(void **state)
{
  (void)state;
  tlv_writer_t writer;
  tlv_item_t item;
  const uint8_t *data = NULL;
  size_t length = 0;
  static const uint8_t sign[6] = {0x31, 0x04, 0x12, 0x34, 0x56, 0x78};
  writer_start(&writer, 64);
  assert_int_equal(tlv_put_bytes(&writer, 1077, sign, 5), TLV_ERR_BAD_LENGTH);
  assert_int_equal(tlv_put_bytes(&writer, 1077, sign, 6), 0);
  static const uint8_t expected[] = {0x35, 0x04, 0x06, 0x00, 0x31, 0x04, 0x12, 0x34, 0x56, 0x78};
  assert_encoding(&writer, expected, sizeof expected);
  read_single(buffer, writer.length, &item);
  assert_int_equal(tlv_get_bytes(&item, &data, &length), 0);
  assert_int_equal(length, 6);
  assert_memory_equal(data, sign, 6);
}

static void test_raw_and_unknown_tags(void **state)
{
  (void)state;
  tlv_writer_t writer;
  tlv_item_t item;
  uint32_t value = 0;
  static const uint8_t vendor[3] = {1, 2, 3};
  writer_start(&writer, 64);
  /* Typed puts know only dictionary tags ... */
  assert_int_equal(tlv_put_uint32(&writer, 9999, 5), TLV_ERR_UNKNOWN_TAG);
  assert_int_equal(tlv_begin_stlv(&writer, 9999), TLV_ERR_UNKNOWN_TAG);
  /* ... and their types. */
  assert_int_equal(tlv_put_uint32(&writer, 1030, 5), TLV_ERR_WRONG_TYPE);
  assert_int_equal(tlv_put_vln(&writer, 1023, 5), TLV_ERR_WRONG_TYPE);
  assert_int_equal(tlv_begin_stlv(&writer, 1030), TLV_ERR_WRONG_TYPE);
  assert_int_equal(writer.length, 0);
  /* Raw puts copy any tag, and still honour a known tag's limits. */
  assert_int_equal(tlv_put_raw(&writer, 9999, vendor, 3), 0);
  assert_int_equal(tlv_put_raw(&writer, 1040, vendor, 3), TLV_ERR_BAD_LENGTH);
  static const uint8_t expected[] = {0x0F, 0x27, 0x03, 0x00, 1, 2, 3};
  assert_encoding(&writer, expected, sizeof expected);
  /* An unknown tag reads as whatever the caller asks. */
  uint8_t four[] = {0x0F, 0x27, 0x04, 0x00, 0x01, 0x00, 0x00, 0x00};
  read_single(four, sizeof four, &item);
  assert_int_equal(tlv_get_uint32(&item, &value), 0);
  assert_int_equal(value, 1);
}

/* ---------------------------------------------------------------------- */
/* Nesting                                                                 */

/* Finds the first item with tag in a list; fails the test if absent. */
static void find_tag(tlv_reader_t *reader, uint16_t tag, tlv_item_t *item)
{
  int rc;
  while ((rc = tlv_reader_next(reader, item)) == 0) {
    if (item->tag == tag) return;
  }
  fail_msg("tag %u not found (%s)", tag, tlv_error_code(rc));
}

static void test_nested_receipt(void **state)
{
  (void)state;
  tlv_writer_t writer;
  const char *name = "Молоко 3,2%";
  const char *gs1m = "010460043993125621JgXJ5.T";
  writer_start(&writer, 4096);
  assert_int_equal(tlv_begin_stlv(&writer, 3), 0);
  assert_int_equal(tlv_put_byte(&writer, 1054, 1), 0);
  assert_int_equal(tlv_begin_stlv(&writer, 1059), 0);
  size_t item_offset = writer.length - TLV_HEADER_SIZE;
  assert_int_equal(tlv_put_string(&writer, 1030, name, strlen(name)), 0);
  assert_int_equal(tlv_put_vln(&writer, 1079, 8990), 0);
  assert_int_equal(tlv_put_fvln(&writer, 1023, (tlv_fvln_t){1000, 3}), 0);
  assert_int_equal(tlv_put_vln(&writer, 1043, 8990), 0);
  assert_int_equal(tlv_begin_stlv(&writer, 1163), 0);
  assert_int_equal(tlv_put_string(&writer, 1305, gs1m, strlen(gs1m)), 0);
  assert_int_equal(tlv_end_stlv(&writer), 0);
  assert_int_equal(tlv_put_byte(&writer, 2100, 4), 0);
  assert_int_equal(tlv_end_stlv(&writer), 0);
  assert_int_equal(tlv_put_vln(&writer, 1020, 8990), 0);
  size_t length = 0;
  assert_int_equal(tlv_writer_finish(&writer, &length), TLV_ERR_STILL_OPEN);
  assert_int_equal(tlv_end_stlv(&writer), 0);
  assert_int_equal(tlv_end_stlv(&writer), TLV_ERR_NOT_OPEN);
  assert_int_equal(tlv_writer_finish(&writer, &length), 0);

  /* The back-patched lengths: the document holds all but its header;
  ** the item: name 4+11, price 4+2, quantity 4+3, sum 4+2,
  ** 1163 4+(4+25), 2100 4+1 = 72. */
  assert_int_equal(buffer[0] | buffer[1] << 8, 3);
  assert_int_equal(buffer[2] | buffer[3] << 8, length - TLV_HEADER_SIZE);
  assert_int_equal(buffer[item_offset] | buffer[item_offset + 1] << 8, 1059);
  assert_int_equal(buffer[item_offset + 2] | buffer[item_offset + 3] << 8, 72);
  assert_int_equal(tlv_check(buffer, length, NULL), 0);

  /* Read it back, level by level. */
  tlv_reader_t top, document, item_reader, code_reader;
  tlv_item_t item;
  tlv_reader_init(&top, buffer, length);
  assert_int_equal(tlv_reader_next(&top, &item), 0);
  assert_int_equal(item.tag, 3);
  assert_int_equal(item.depth, 0);
  assert_int_equal(tlv_reader_enter(&item, &document), 0);
  find_tag(&document, 1059, &item);
  assert_int_equal(item.depth, 1);
  assert_int_equal(item.offset, item_offset);
  assert_int_equal(tlv_reader_enter(&item, &item_reader), 0);

  char text[TLV_STRING_UTF8_SIZE(128)];
  size_t text_length = 0;
  uint64_t price = 0;
  tlv_fvln_t quantity = {0, 0};
  find_tag(&item_reader, 1030, &item);
  assert_int_equal(tlv_get_string(&item, text, sizeof text, &text_length), 0);
  assert_string_equal(text, name);
  find_tag(&item_reader, 1079, &item);
  assert_int_equal(tlv_get_vln(&item, &price), 0);
  assert_true(price == 8990);
  find_tag(&item_reader, 1023, &item);
  assert_int_equal(tlv_get_fvln(&item, &quantity), 0);
  assert_true(quantity.mantissa == 1000 && quantity.scale == 3);
  find_tag(&item_reader, 1163, &item);
  assert_int_equal(item.depth, 2);
  assert_int_equal(tlv_reader_enter(&item, &code_reader), 0);
  assert_int_equal(tlv_reader_next(&code_reader, &item), 0);
  assert_int_equal(item.tag, 1305);
  assert_int_equal(item.depth, 3);
  assert_int_equal(tlv_get_string(&item, text, sizeof text, &text_length), 0);
  assert_string_equal(text, gs1m);
  assert_int_equal(tlv_reader_next(&code_reader, &item), TLV_ERR_END);

  /* Only STLVs can be entered. */
  tlv_reader_init(&top, buffer, length);
  assert_int_equal(tlv_reader_next(&top, &item), 0);
  assert_int_equal(tlv_reader_enter(&item, &document), 0);
  assert_int_equal(tlv_reader_next(&document, &item), 0);
  assert_int_equal(item.tag, 1054);
  assert_int_equal(tlv_reader_enter(&item, &item_reader), TLV_ERR_WRONG_TYPE);
}

static void test_cancel_drops_an_item(void **state)
{
  (void)state;
  tlv_writer_t writer;
  writer_start(&writer, 1024);
  assert_int_equal(tlv_begin_stlv(&writer, 3), 0);
  assert_int_equal(tlv_put_byte(&writer, 1054, 1), 0);
  size_t before = writer.length;
  uint8_t snapshot[64];
  memcpy(snapshot, buffer, before);
  assert_int_equal(tlv_begin_stlv(&writer, 1059), 0);
  assert_int_equal(tlv_put_vln(&writer, 1079, 100), 0);
  assert_int_equal(tlv_cancel_stlv(&writer), 0);
  assert_int_equal(writer.length, before);
  assert_int_equal(writer.depth, 1);
  assert_int_equal(tlv_end_stlv(&writer), 0);
  assert_int_equal(tlv_cancel_stlv(&writer), TLV_ERR_NOT_OPEN);
  static const uint8_t expected[] = {0x03, 0x00, 0x05, 0x00, 0x1E, 0x04, 0x01, 0x00, 0x01};
  assert_encoding(&writer, expected, sizeof expected);
  assert_memory_equal(buffer + 4, snapshot + 4, before - 4);
}

/* ---------------------------------------------------------------------- */
/* Writer limits                                                           */

static void test_writer_limits(void **state)
{
  (void)state;
  tlv_writer_t writer;
  char name[129];
  memset(name, 'x', sizeof name);

  /* An item 1059 holds at most 1024 bytes: 7 names of 128 (132 with
  ** header, 924 in all) fit; an eighth would make it 1056. */
  writer_start(&writer, 4096);
  assert_int_equal(tlv_begin_stlv(&writer, 3), 0);
  assert_int_equal(tlv_begin_stlv(&writer, 1059), 0);
  for (int i = 0; i < 7; i++) assert_int_equal(tlv_put_string(&writer, 1030, name, 128), 0);
  size_t length = writer.length;
  uint8_t snapshot[1024];
  memcpy(snapshot, buffer, length);
  assert_int_equal(tlv_put_string(&writer, 1030, name, 128), TLV_ERR_STLV_TOO_LONG);
  assert_int_equal(writer.fault_tag, 1059);
  assert_int_equal(writer.length, length);
  assert_int_equal(writer.depth, 2);
  assert_memory_equal(buffer, snapshot, length);
  /* ... while a shorter value still fits exactly up to the limit. */
  size_t room = 1024 - (length - 8) - TLV_HEADER_SIZE; /* 96 */
  assert_int_equal(tlv_put_string(&writer, 1030, name, room + 1), TLV_ERR_STLV_TOO_LONG);
  assert_int_equal(tlv_put_string(&writer, 1030, name, room), 0);
  assert_int_equal(tlv_end_stlv(&writer), 0);
  assert_int_equal(buffer[6] | buffer[7] << 8, 1024); /* 1059's length */

  /* A tag 2000 holds at most 256 characters. */
  char code[257];
  memset(code, 'A', sizeof code);
  writer_start(&writer, 4096);
  assert_int_equal(tlv_put_string(&writer, 2000, code, 257), TLV_ERR_VALUE_TOO_LONG);
  assert_int_equal(tlv_put_string(&writer, 2000, code, 256), 0);

  /* A receipt holds at most 32768 bytes: fill it with items until the
  ** document, not the item, refuses. */
  writer_start(&writer, sizeof buffer);
  assert_int_equal(tlv_begin_stlv(&writer, 3), 0);
  int rc = 0;
  int items = 0;
  while (rc == 0) {
    rc = tlv_begin_stlv(&writer, 1059);
    if (rc != 0) break;
    for (int i = 0; i < 7 && rc == 0; i++) rc = tlv_put_string(&writer, 1030, name, 128);
    if (rc == 0) {
      assert_int_equal(tlv_end_stlv(&writer), 0);
      items++;
    }
  }
  assert_int_equal(rc, TLV_ERR_STLV_TOO_LONG);
  assert_int_equal(writer.fault_tag, 3);
  assert_true(writer.length - TLV_HEADER_SIZE <= 32768);
  assert_true(items >= 30);
  if (writer.depth == 2) assert_int_equal(tlv_cancel_stlv(&writer), 0);
  assert_int_equal(tlv_end_stlv(&writer), 0);
  assert_true(writer.length <= 32768 + TLV_HEADER_SIZE);
  assert_int_equal(tlv_check(buffer, writer.length, NULL), 0);

  /* The caller's buffer: a 6-byte buffer takes one BYTE TLV, not two. */
  writer_start(&writer, 6);
  assert_int_equal(tlv_put_byte(&writer, 1054, 1), 0);
  assert_int_equal(tlv_put_byte(&writer, 1054, 1), TLV_ERR_NO_SPACE);
  assert_int_equal(writer.length, 5);
  assert_int_equal(tlv_begin_stlv(&writer, 3), TLV_ERR_NO_SPACE);
  assert_int_equal(writer.depth, 0);

  /* Nesting: four levels open, a fifth refused. */
  writer_start(&writer, 256);
  assert_int_equal(tlv_begin_stlv(&writer, 3), 0);
  assert_int_equal(tlv_begin_stlv(&writer, 1059), 0);
  assert_int_equal(tlv_begin_stlv(&writer, 1260), 0);
  assert_int_equal(tlv_begin_stlv(&writer, 1163), 0);
  length = writer.length;
  assert_int_equal(tlv_begin_stlv(&writer, 1059), TLV_ERR_TOO_DEEP);
  assert_int_equal(writer.length, length);
  assert_int_equal(writer.depth, 4);

  /* Arguments. */
  assert_int_equal(tlv_put_byte(NULL, 1054, 1), TLV_ERR_ARGUMENT);
  assert_int_equal(tlv_put_string(&writer, 1030, NULL, 3), TLV_ERR_ARGUMENT);
  assert_int_equal(tlv_writer_finish(&writer, NULL), TLV_ERR_ARGUMENT);
}

/* ---------------------------------------------------------------------- */
/* Malformed input                                                         */

static void test_reader_length_past_end(void **state)
{
  (void)state;
  tlv_reader_t reader;
  tlv_item_t item;
  /* A BYTE 1054, then 1030 claiming 5 bytes with 2 left. */
  static const uint8_t data[] = {0x1E, 0x04, 0x01, 0x00, 0x01, 0x06, 0x04, 0x05, 0x00, 0x41, 0x42};
  tlv_reader_init(&reader, data, sizeof data);
  assert_int_equal(tlv_reader_next(&reader, &item), 0);
  assert_int_equal(tlv_reader_next(&reader, &item), TLV_ERR_LENGTH_PAST_END);
  assert_int_equal(reader.fault_position, 5);
  /* The reader does not move past the fault. */
  assert_int_equal(tlv_reader_next(&reader, &item), TLV_ERR_LENGTH_PAST_END);
  assert_false(tlv_reader_done(&reader));
  size_t fault = 0;
  assert_int_equal(tlv_check(data, sizeof data, &fault), TLV_ERR_LENGTH_PAST_END);
  assert_int_equal(fault, 5);

  /* At the boundary: a length equal to the bytes left is fine, one more
  ** is not. */
  static const uint8_t exact[] = {0x06, 0x04, 0x02, 0x00, 0x41, 0x42};
  tlv_reader_init(&reader, exact, sizeof exact);
  assert_int_equal(tlv_reader_next(&reader, &item), 0);
  assert_int_equal(item.length, 2);
  assert_true(tlv_reader_done(&reader));
  static const uint8_t one_over[] = {0x06, 0x04, 0x03, 0x00, 0x41, 0x42};
  tlv_reader_init(&reader, one_over, sizeof one_over);
  assert_int_equal(tlv_reader_next(&reader, &item), TLV_ERR_LENGTH_PAST_END);
  static const uint8_t empty_over[] = {0x06, 0x04, 0x01, 0x00};
  tlv_reader_init(&reader, empty_over, sizeof empty_over);
  assert_int_equal(tlv_reader_next(&reader, &item), TLV_ERR_LENGTH_PAST_END);

  /* Inside a document: the fault is reported where it is. */
  static const uint8_t nested[] = {0x03, 0x00, 0x09, 0x00, 0x1E, 0x04, 0x01,
                                   0x00, 0x01, 0x06, 0x04, 0xFF, 0x7F};
  assert_int_equal(tlv_check(nested, sizeof nested, &fault), TLV_ERR_LENGTH_PAST_END);
  assert_int_equal(fault, 9);
}

static void test_reader_truncated_header(void **state)
{
  (void)state;
  tlv_reader_t reader;
  tlv_item_t item;
  static const uint8_t data[] = {0x1E, 0x04, 0x01, 0x00, 0x01, 0x06, 0x04, 0x05};
  tlv_reader_init(&reader, data, sizeof data);
  assert_int_equal(tlv_reader_next(&reader, &item), 0);
  assert_int_equal(tlv_reader_next(&reader, &item), TLV_ERR_TRUNCATED_HEADER);
  assert_int_equal(reader.fault_position, 5);
  size_t fault = 0;
  assert_int_equal(tlv_check(data, sizeof data, &fault), TLV_ERR_TRUNCATED_HEADER);
  assert_int_equal(fault, 5);
  for (size_t size = 1; size < TLV_HEADER_SIZE; size++) {
    tlv_reader_init(&reader, data, size);
    assert_int_equal(tlv_reader_next(&reader, &item), TLV_ERR_TRUNCATED_HEADER);
  }
  tlv_reader_init(&reader, data, 0);
  assert_true(tlv_reader_done(&reader));
  assert_int_equal(tlv_reader_next(&reader, &item), TLV_ERR_END);
}

static void test_reader_nesting_too_deep(void **state)
{
  (void)state;
  /* Five STLVs, each holding the next: 3 > 1059 > 1260 > 1163 > 1059 > BYTE. */
  static const uint16_t tags[] = {3, 1059, 1260, 1163, 1059};
  uint8_t data[64];
  size_t levels = sizeof tags / sizeof tags[0];
  size_t inner = 5; /* the BYTE TLV at the bottom */
  for (size_t level = 0; level < levels; level++) {
    size_t at = 4 * level;
    size_t content = inner + 4 * (levels - 1 - level);
    data[at] = (uint8_t)(tags[level] & 0xFF);
    data[at + 1] = (uint8_t)(tags[level] >> 8);
    data[at + 2] = (uint8_t)content;
    data[at + 3] = 0;
  }
  static const uint8_t byte_tlv[] = {0x1E, 0x04, 0x01, 0x00, 0x01};
  memcpy(data + 4 * levels, byte_tlv, sizeof byte_tlv);
  size_t size = 4 * levels + sizeof byte_tlv;

  tlv_reader_t readers[6];
  tlv_item_t item;
  tlv_reader_init(&readers[0], data, size);
  for (size_t level = 0; level < levels; level++) {
    assert_int_equal(tlv_reader_next(&readers[level], &item), 0);
    assert_int_equal(item.tag, tags[level]);
    int rc = tlv_reader_enter(&item, &readers[level + 1]);
    if (level < TLV_MAX_DEPTH)
      assert_int_equal(rc, 0);
    else
      assert_int_equal(rc, TLV_ERR_TOO_DEEP);
  }
  size_t fault = 0;
  assert_int_equal(tlv_check(data, size, &fault), TLV_ERR_TOO_DEEP);
  assert_int_equal(fault, 16);
  /* Four levels are fine: drop the outermost. */
  assert_int_equal(tlv_check(data + 4, size - 4, NULL), 0);
}

static void test_getters_check_lengths(void **state)
{
  (void)state;
  tlv_item_t item;
  uint32_t number = 0;
  uint64_t vln = 0;
  uint8_t byte = 0;
  tlv_fvln_t fraction = {0, 0};
  const uint8_t *data = NULL;
  size_t length = 0;

  /* 1040 is a UINT32: three bytes are not one. */
  static const uint8_t short_uint32[] = {0x10, 0x04, 0x03, 0x00, 1, 2, 3};
  read_single(short_uint32, sizeof short_uint32, &item);
  assert_int_equal(tlv_get_uint32(&item, &number), TLV_ERR_BAD_LENGTH);
  assert_int_equal(tlv_check(short_uint32, sizeof short_uint32, NULL), TLV_ERR_BAD_LENGTH);
  /* Even for an unknown tag, a UINT32 is 4 bytes. */
  static const uint8_t short_unknown[] = {0x0F, 0x27, 0x03, 0x00, 1, 2, 3};
  read_single(short_unknown, sizeof short_unknown, &item);
  assert_int_equal(tlv_get_uint32(&item, &number), TLV_ERR_BAD_LENGTH);
  assert_int_equal(tlv_get_byte(&item, &byte), TLV_ERR_BAD_LENGTH);

  /* A BYTE of two bytes; a fiscal sign of five. */
  static const uint8_t long_byte[] = {0x1E, 0x04, 0x02, 0x00, 1, 2};
  read_single(long_byte, sizeof long_byte, &item);
  assert_int_equal(tlv_get_byte(&item, &byte), TLV_ERR_BAD_LENGTH);
  static const uint8_t short_sign[] = {0x35, 0x04, 0x05, 0x00, 1, 2, 3, 4, 5};
  read_single(short_sign, sizeof short_sign, &item);
  assert_int_equal(tlv_get_bytes(&item, &data, &length), TLV_ERR_BAD_LENGTH);

  /* Money over 6 bytes; an empty VLN; an FVLN without a mantissa. */
  static const uint8_t long_money[] = {0xFC, 0x03, 0x07, 0x00, 1, 0, 0, 0, 0, 0, 1};
  read_single(long_money, sizeof long_money, &item);
  assert_int_equal(tlv_get_vln(&item, &vln), TLV_ERR_BAD_LENGTH);
  static const uint8_t empty_money[] = {0xFC, 0x03, 0x00, 0x00};
  read_single(empty_money, sizeof empty_money, &item);
  assert_int_equal(tlv_get_vln(&item, &vln), TLV_ERR_BAD_LENGTH);
  static const uint8_t bare_fvln[] = {0xFF, 0x03, 0x01, 0x00, 0x03};
  read_single(bare_fvln, sizeof bare_fvln, &item);
  assert_int_equal(tlv_get_fvln(&item, &fraction), TLV_ERR_BAD_LENGTH);

  /* A VLN with trailing zero bytes is still read (others may write it). */
  static const uint8_t padded_money[] = {0xFC, 0x03, 0x03, 0x00, 0xE8, 0x03, 0x00};
  read_single(padded_money, sizeof padded_money, &item);
  assert_int_equal(tlv_get_vln(&item, &vln), 0);
  assert_true(vln == 1000);

  /* Asking for another type than the dictionary's. */
  static const uint8_t name[] = {0x06, 0x04, 0x04, 0x00, 'a', 'b', 'c', 'd'};
  read_single(name, sizeof name, &item);
  assert_int_equal(tlv_get_uint32(&item, &number), TLV_ERR_WRONG_TYPE);
  assert_int_equal(tlv_get_bytes(&item, &data, &length), TLV_ERR_WRONG_TYPE);
  assert_int_equal(number, 0); /* outputs untouched on error */
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_dictionary_is_sorted_and_consistent),
      cmocka_unit_test(test_dictionary_covers_the_module),
      cmocka_unit_test(test_error_texts),
      cmocka_unit_test(test_byte_round_trip),
      cmocka_unit_test(test_uint16_round_trip),
      cmocka_unit_test(test_uint32_round_trip),
      cmocka_unit_test(test_unixtime_round_trip),
      cmocka_unit_test(test_vln_round_trip),
      cmocka_unit_test(test_fvln_one_point_zero_zero_zero),
      cmocka_unit_test(test_string_cp866),
      cmocka_unit_test(test_string_refusals),
      cmocka_unit_test(test_bytes_round_trip),
      cmocka_unit_test(test_raw_and_unknown_tags),
      cmocka_unit_test(test_nested_receipt),
      cmocka_unit_test(test_cancel_drops_an_item),
      cmocka_unit_test(test_writer_limits),
      cmocka_unit_test(test_reader_length_past_end),
      cmocka_unit_test(test_reader_truncated_header),
      cmocka_unit_test(test_reader_nesting_too_deep),
      cmocka_unit_test(test_getters_check_lengths),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
