/*
** tests/fuzz/fuzz_tlv.c: libFuzzer target for the FFD 1.2 TLV codec.
**
** Treats the input as a TLV list, the way the OFD side treats a document
** that arrives from the network. It walks it recursively with the reader,
** decodes every value the dictionary types, and writes each one again
** through the typed puts into a second buffer. Besides "no crash, no
** sanitizer report" it checks what must hold for any input:
**
** - the copy succeeds exactly when tlv_check() accepts the input: the
**   validator and the reader+getters agree on what is well formed;
** - every value decodes again to what was read, and fixed-size values,
**   strings (CP866 maps all 256 bytes) and raw bytes come back byte for
**   byte; a VLN never grows;
** - re-encoding never needs more room than the input had;
** - the copy is canonical: copying it again gives the same bytes.
*/
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fiscal/tlv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REQUIRE(condition)                                                                         \
  do {                                                                                             \
    if (!(condition)) abort();                                                                     \
  } while (0)

/* Reads back the TLV just written at writer->buffer[offset..] . */
static void reread(const tlv_writer_t *writer, size_t offset, tlv_item_t *item)
{
  tlv_reader_t reader;
  tlv_reader_init(&reader, writer->buffer + offset, writer->length - offset);
  REQUIRE(tlv_reader_next(&reader, item) == 0);
  REQUIRE(tlv_reader_done(&reader));
}

/* Decodes one typed value and writes it again; checks the round trip. */
static int copy_value(const tlv_item_t *item, const tlv_tag_info_t *info, tlv_writer_t *writer)
{
  size_t offset = writer->length;
  tlv_item_t again;
  int rc;

  switch (info->type) {
  case TLV_TYPE_BYTE: {
    uint8_t value = 0, back = 0;
    if ((rc = tlv_get_byte(item, &value)) != 0) return rc;
    if ((rc = tlv_put_byte(writer, item->tag, value)) != 0) return rc;
    reread(writer, offset, &again);
    REQUIRE(tlv_get_byte(&again, &back) == 0 && back == value);
    break;
  }
  case TLV_TYPE_UINT16: {
    uint16_t value = 0, back = 0;
    if ((rc = tlv_get_uint16(item, &value)) != 0) return rc;
    if ((rc = tlv_put_uint16(writer, item->tag, value)) != 0) return rc;
    reread(writer, offset, &again);
    REQUIRE(tlv_get_uint16(&again, &back) == 0 && back == value);
    break;
  }
  case TLV_TYPE_UINT32: {
    uint32_t value = 0, back = 0;
    if ((rc = tlv_get_uint32(item, &value)) != 0) return rc;
    if ((rc = tlv_put_uint32(writer, item->tag, value)) != 0) return rc;
    reread(writer, offset, &again);
    REQUIRE(tlv_get_uint32(&again, &back) == 0 && back == value);
    break;
  }
  case TLV_TYPE_UNIXTIME: {
    uint32_t value = 0, back = 0;
    if ((rc = tlv_get_unixtime(item, &value)) != 0) return rc;
    if ((rc = tlv_put_unixtime(writer, item->tag, value)) != 0) return rc;
    reread(writer, offset, &again);
    REQUIRE(tlv_get_unixtime(&again, &back) == 0 && back == value);
    break;
  }
  case TLV_TYPE_VLN: {
    uint64_t value = 0, back = 0;
    if ((rc = tlv_get_vln(item, &value)) != 0) return rc;
    if ((rc = tlv_put_vln(writer, item->tag, value)) != 0) return rc;
    reread(writer, offset, &again);
    REQUIRE(tlv_get_vln(&again, &back) == 0 && back == value);
    REQUIRE(again.length <= item->length);
    return 0;
  }
  case TLV_TYPE_FVLN: {
    tlv_fvln_t value = {0, 0}, back = {0, 0};
    if ((rc = tlv_get_fvln(item, &value)) != 0) return rc;
    if ((rc = tlv_put_fvln(writer, item->tag, value)) != 0) return rc;
    reread(writer, offset, &again);
    REQUIRE(tlv_get_fvln(&again, &back) == 0);
    REQUIRE(back.scale == value.scale && back.mantissa == value.mantissa);
    REQUIRE(again.length <= item->length);
    return 0;
  }
  case TLV_TYPE_STRING: {
    static char text[TLV_STRING_UTF8_SIZE(UINT16_MAX)];
    size_t length = 0;
    if ((rc = tlv_get_string(item, text, sizeof text, &length)) != 0) return rc;
    REQUIRE(length < sizeof text && text[length] == '\0');
    if ((rc = tlv_put_string(writer, item->tag, text, length)) != 0) return rc;
    reread(writer, offset, &again);
    break;
  }
  case TLV_TYPE_BYTES: {
    const uint8_t *bytes = NULL;
    size_t length = 0;
    if ((rc = tlv_get_bytes(item, &bytes, &length)) != 0) return rc;
    if ((rc = tlv_put_bytes(writer, item->tag, bytes, length)) != 0) return rc;
    reread(writer, offset, &again);
    break;
  }
  case TLV_TYPE_STLV:
  default:
    abort(); /* the caller handles lists */
  }
  /* Everything but the numbers with optional width comes back as it was. */
  REQUIRE(again.tag == item->tag && again.length == item->length);
  REQUIRE(item->length == 0 || memcmp(again.value, item->value, item->length) == 0);
  return 0;
}

/* Copies a whole list; stops at the first item that cannot be copied. */
static int copy_list(tlv_reader_t *reader, tlv_writer_t *writer)
{
  tlv_item_t item;
  int rc;
  while ((rc = tlv_reader_next(reader, &item)) == 0) {
    const tlv_tag_info_t *info = tlv_tag_lookup(item.tag);
    if (!info) {
      rc = tlv_put_raw(writer, item.tag, item.value, item.length);
    } else if (info->type == TLV_TYPE_STLV) {
      tlv_reader_t child;
      if ((rc = tlv_reader_enter(&item, &child)) != 0) return rc;
      REQUIRE(child.depth == item.depth + 1 && child.depth <= TLV_MAX_DEPTH);
      if ((rc = tlv_begin_stlv(writer, item.tag)) != 0) return rc;
      if ((rc = copy_list(&child, writer)) != 0) return rc;
      rc = tlv_end_stlv(writer);
    } else {
      rc = copy_value(&item, info, writer);
    }
    if (rc != 0) return rc;
  }
  return rc == TLV_ERR_END ? 0 : rc;
}

/* Copies data into out (capacity bytes); returns the copy's result. */
static int copy(const uint8_t *data, size_t size, uint8_t *out, size_t capacity, size_t *length)
{
  tlv_reader_t reader;
  tlv_writer_t writer;
  tlv_reader_init(&reader, data, size);
  tlv_writer_init(&writer, out, capacity);
  int rc = copy_list(&reader, &writer);
  /* Re-encoding never grows, so the room the input had is enough. */
  REQUIRE(rc != TLV_ERR_NO_SPACE);
  REQUIRE(writer.length <= size);
  if (rc == 0) {
    REQUIRE(tlv_writer_finish(&writer, length) == 0);
    REQUIRE(tlv_reader_done(&reader));
  }
  return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  size_t fault = 0, first_length = 0, second_length = 0;
  uint8_t *first = malloc(size + 1);
  uint8_t *second = malloc(size + 1);
  if (!first || !second) goto done;

  int checked = tlv_check(data, size, &fault);
  REQUIRE(checked <= 0 && checked != TLV_ERR_END);
  if (checked != 0) REQUIRE(fault < size);

  int copied = copy(data, size, first, size, &first_length);
  REQUIRE((copied == 0) == (checked == 0));
  if (copied == 0) {
    REQUIRE(tlv_check(first, first_length, NULL) == 0);
    REQUIRE(copy(first, first_length, second, first_length, &second_length) == 0);
    REQUIRE(second_length == first_length);
    REQUIRE(first_length == 0 || memcmp(first, second, first_length) == 0);
  }
  /* The message functions take any value. */
  REQUIRE(tlv_error_message(copied) != NULL && tlv_error_code(copied) != NULL);
done:
  free(first);
  free(second);
  return 0;
}
