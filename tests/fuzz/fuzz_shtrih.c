/*
** tests/fuzz/fuzz_shtrih.c: libFuzzer target for what kassa reads from a
** cash register (device/shtrih_frame.h, shtrih_cmd.h).
**
** The input is a byte stream as a register (or a line) might send it.
** It goes through the v1 receiver byte by byte; every frame it finds is
** parsed as an answer and handed to every decoder; the whole input is
** also tried as one v2 frame and as the parameters of FF46h/FF45h,
** FF06h/FF34h and 1Eh/1Fh (what kassa-kkt-emu reads from a host). Besides "no crash, no sanitizer
** report", what must hold for any input:
**
** - a frame the receiver accepts re-encodes to exactly the bytes it came
**   as (STX, LEN, message, LRC);
** - a v2 frame that decodes re-encodes to the same bytes (stuffing and CRC
**   are one-to-one);
** - no decoder reads past its answer (short_read instead).
*/
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "device/shtrih_cmd.h"
#include "device/shtrih_frame.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REQUIRE(condition)                                                                         \
  do {                                                                                             \
    if (!(condition)) abort();                                                                     \
  } while (0)

static void decode_all(const uint8_t *m, size_t len)
{
  shtrih_answer_t a;
  if (shtrih_answer_parse(m, len, &a) != 0) return;
  shtrih_answer_t b = a;
  shtrih_device_type_t dt;
  shtrih_short_status_t ss;
  shtrih_fn_status_t fs;
  shtrih_exchange_status_t ex;
  shtrih_shift_params_t sp;
  shtrih_fd_answer_t fd;
  static shtrih_found_document_t found;
  uint16_t u16a, u16b;
  uint8_t u8;
  uint64_t change;
  uint32_t n, fp;
  b = a, (void)shtrih_decode_device_type(&b, &dt);
  REQUIRE(b.at <= b.len);
  b = a, (void)shtrih_decode_short_status(&b, &ss);
  b = a, (void)shtrih_decode_fn_status(&b, &fs);
  b = a, (void)shtrih_decode_exchange_status(&b, &ex);
  b = a, (void)shtrih_decode_shift_params(&b, &sp);
  b = a, (void)shtrih_decode_shift_fd(&b, &fd);
  b = a, (void)shtrih_decode_state_report(&b, &fd);
  b = a, (void)shtrih_decode_found_document(&b, &found);
  REQUIRE(found.data_len <= sizeof found.data);
  b = a, (void)shtrih_decode_buffer_status(&b, &u16a, &u8);
  b = a, (void)shtrih_decode_document_tlv(&b, &u16a, &u16b);
  b = a, (void)shtrih_decode_unsent_count(&b, &u16a);
  b = a, (void)shtrih_decode_close_answer(&b, &change, &n, &fp);
  REQUIRE(b.at <= b.len);
  shtrih_registration_data_t rd;
  shtrih_registration_t g;
  b = a, (void)shtrih_decode_registration_data(&b, &rd);
  REQUIRE(b.at <= b.len && strlen(rd.r.inn) < sizeof rd.r.inn);
  b = a;
  if (shtrih_decode_found_document(&b, &found) == 0)
    (void)shtrih_decode_found_registration(&found, &g);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  shtrih_rx_t rx;
  shtrih_rx_reset(&rx);
  for (size_t i = 0; i < size; i++) {
    if (shtrih_rx_feed(&rx, data[i]) != SHTRIH_RX_FRAME) continue;
    uint8_t again[SHTRIH_V1_MAX_FRAME];
    int n = shtrih_v1_encode(rx.message, rx.len, again, sizeof again);
    REQUIRE(n == (int)rx.len + 3);
    REQUIRE(i + 1 >= (size_t)n && memcmp(again, data + i + 1 - (size_t)n, (size_t)n) == 0);
    decode_all(rx.message, rx.len);
  }
  static uint8_t message[70000], frame[140000];
  size_t mlen = 0;
  uint16_t number = 0;
  if (shtrih_v2_decode(data, size, &number, message, sizeof message, &mlen) == 0) {
    int n = shtrih_v2_encode(number, message, mlen, frame, sizeof frame);
    REQUIRE(n == (int)size && memcmp(frame, data, size) == 0);
    decode_all(message, mlen);
  }
  shtrih_operation_t op;
  shtrih_close_t c;
  (void)shtrih_decode_operation(data, size, &op);
  (void)shtrih_decode_close(data, size, &c);
  shtrih_registration_t g;
  shtrih_table_cell_t cell;
  (void)shtrih_decode_registration(data, size, size == 35, &g);
  if (shtrih_decode_table_cell(data, size, &cell) == 0)
    REQUIRE(cell.value + cell.len == data + size);
  return 0;
}
