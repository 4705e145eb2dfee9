/*
** device/shtrih_frame.c: v1 and v2 framing of the Shtrih-M protocol
** (shtrih_frame.h says what each one is). Pure: no I/O, no allocation.
*/
#include "device/shtrih_frame.h"

#include <string.h>

uint8_t shtrih_lrc(const uint8_t *data, size_t len)
{
  uint8_t x = 0;
  for (size_t i = 0; i < len; i++) x ^= data[i];
  return x;
}

int shtrih_v1_encode(const uint8_t *message, size_t len, uint8_t *out, size_t out_size)
{
  if (!message || !out || len == 0 || len > SHTRIH_MAX_MESSAGE || out_size < len + 3) return -1;
  out[0] = SHTRIH_STX;
  out[1] = (uint8_t)len;
  memcpy(out + 2, message, len);
  out[len + 2] = (uint8_t)(out[1] ^ shtrih_lrc(message, len));
  return (int)(len + 3);
}

void shtrih_rx_reset(shtrih_rx_t *rx) { memset(rx, 0, sizeof *rx); }

bool shtrih_rx_in_frame(const shtrih_rx_t *rx) { return rx->state != 0; }

shtrih_rx_event_t shtrih_rx_feed(shtrih_rx_t *rx, uint8_t byte)
{
  switch (rx->state) {
  case 0:
    if (byte == SHTRIH_STX) {
      rx->state = 1;
      return SHTRIH_RX_NONE;
    }
    if (byte == SHTRIH_ENQ || byte == SHTRIH_ACK || byte == SHTRIH_NAK) {
      rx->control = byte;
      return SHTRIH_RX_CONTROL;
    }
    rx->noise++;
    return SHTRIH_RX_NOISE;
  case 1:
    if (byte == 0) { /* no message is empty: this STX was noise */
      rx->state = 0;
      rx->noise += 2;
      return SHTRIH_RX_NOISE;
    }
    rx->want = byte;
    rx->len = 0;
    rx->state = 2;
    return SHTRIH_RX_NONE;
  case 2:
    rx->message[rx->len++] = byte;
    if (rx->len == rx->want) rx->state = 3;
    return SHTRIH_RX_NONE;
  default: {
    uint8_t lrc = (uint8_t)((uint8_t)rx->want ^ shtrih_lrc(rx->message, rx->len));
    rx->state = 0;
    return lrc == byte ? SHTRIH_RX_FRAME : SHTRIH_RX_BAD_LRC;
  }
  }
}

/* The CRC of what came before (crc) continued over data[0..len). */
static uint16_t crc16_update(uint16_t crc, const uint8_t *data, size_t len)
{
  for (size_t i = 0; i < len; i++) {
    crc = (uint16_t)(crc ^ (data[i] << 8));
    for (int bit = 0; bit < 8; bit++)
      crc = (crc & 0x8000) ? (uint16_t)((crc << 1) ^ 0x1021) : (uint16_t)(crc << 1);
  }
  return crc;
}

uint16_t shtrih_crc16(const uint8_t *data, size_t len) { return crc16_update(0xFFFF, data, len); }

/* Appends b to out[*at], stuffed; false when out is full. */
static bool v2_put(uint8_t *out, size_t out_size, size_t *at, uint8_t b)
{
  uint8_t two[2] = {b, 0};
  size_t n = 1;
  if (b == SHTRIH_V2_STX || b == SHTRIH_V2_ESC) {
    two[0] = SHTRIH_V2_ESC;
    two[1] = b == SHTRIH_V2_STX ? SHTRIH_V2_TSTX : SHTRIH_V2_TESC;
    n = 2;
  }
  if (*at + n > out_size) return false;
  memcpy(out + *at, two, n);
  *at += n;
  return true;
}

int shtrih_v2_encode(uint16_t number, const uint8_t *message, size_t len, uint8_t *out,
                     size_t out_size)
{
  if (!message || !out || len == 0 || len > 0xFFFF - 2 || out_size < 1) return -1;
  uint8_t head[4] = {(uint8_t)((len + 2) & 0xFF), (uint8_t)((len + 2) >> 8),
                     (uint8_t)(number & 0xFF), (uint8_t)(number >> 8)};
  uint16_t crc = crc16_update(crc16_update(0xFFFF, head, 4), message, len);
  size_t at = 0;
  out[at++] = SHTRIH_V2_STX;
  for (size_t i = 0; i < 4; i++)
    if (!v2_put(out, out_size, &at, head[i])) return -1;
  for (size_t i = 0; i < len; i++)
    if (!v2_put(out, out_size, &at, message[i])) return -1;
  if (!v2_put(out, out_size, &at, (uint8_t)(crc & 0xFF)) ||
      !v2_put(out, out_size, &at, (uint8_t)(crc >> 8)))
    return -1;
  return (int)at;
}

int shtrih_v2_decode(const uint8_t *frame, size_t len, uint16_t *number, uint8_t *message,
                     size_t message_size, size_t *message_len)
{
  if (!frame || !number || !message || !message_len || len < 1 || frame[0] != SHTRIH_V2_STX)
    return -1;
  /* Unstuff into a scratch buffer the size of the frame. */
  uint8_t plain[65540];
  size_t n = 0;
  for (size_t i = 1; i < len; i++) {
    uint8_t b = frame[i];
    if (b == SHTRIH_V2_STX) return -1;
    if (b == SHTRIH_V2_ESC) {
      if (i + 1 >= len) return -1;
      uint8_t t = frame[++i];
      if (t == SHTRIH_V2_TSTX)
        b = SHTRIH_V2_STX;
      else if (t == SHTRIH_V2_TESC)
        b = SHTRIH_V2_ESC;
      else
        return -1;
    }
    if (n >= sizeof plain) return -1;
    plain[n++] = b;
  }
  if (n < 6) return -1; /* LEN16 NUM16 at least one byte... CRC16 */
  size_t declared = (size_t)plain[0] | (size_t)plain[1] << 8;
  if (declared < 3 || declared + 4 != n) return -1;
  uint16_t crc = (uint16_t)(plain[n - 2] | plain[n - 1] << 8);
  if (shtrih_crc16(plain, n - 2) != crc) return -1;
  size_t mlen = declared - 2;
  if (mlen > message_size) return -1;
  *number = (uint16_t)(plain[2] | plain[3] << 8);
  memcpy(message, plain + 4, mlen);
  *message_len = mlen;
  return 0;
}
