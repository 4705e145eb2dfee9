/*
** device/shtrih_frame.h: the Shtrih-M protocol's framing, as pure functions.
**
** A Shtrih-M register (KKT) talks to its host in messages: a command code
** (one byte, or two for the FN commands, FF xx) and its parameters, or the
** command code, an error byte and the answer's fields. This file wraps a
** message for the wire and finds it again in what comes back; it does no
** I/O (shtrih_link.h does), so every rule here is tested on bytes alone.
**
** v1 (the "standard lower level" of the vendor's protocol description):
**
**     STX(02) LEN CMD DATA... LRC      LEN = bytes of CMD+DATA (1..255)
**                                      LRC = XOR of LEN, CMD and DATA
**
** plus single control bytes: ENQ (05, "what is your state?"), ACK (06),
** NAK (15). The receiver is a byte-at-a-time state machine: anything
** before an STX is noise and is skipped (counted), a frame whose LRC does
** not match is reported so the caller can answer NAK, a frame that stops
** halfway waits for the caller's timeout. Split reads are therefore
** nothing special: the state machine does not care how bytes arrive.
**
** v2 (the "alternative lower level", for radio links and network models
** that select it): STX 0x8F, LEN16 (LE, bytes of NUM16 + DATA), NUM16
** (LE, the packet number the answer repeats), DATA, CRC16 (CCITT, init
** 0xFFFF, poly 0x1021, over LEN16..DATA, LE), and byte stuffing after the
** STX: 8F -> 9F 81, 9F -> 9F 83. kassa's link speaks v1; v2 is encoded and
** decoded here so a v2 device's log can be read and a v2 link added
** without touching the commands.
*/
#ifndef KASSA_DEVICE_SHTRIH_FRAME_H
#define KASSA_DEVICE_SHTRIH_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
  SHTRIH_STX = 0x02,
  SHTRIH_ENQ = 0x05,
  SHTRIH_ACK = 0x06,
  SHTRIH_NAK = 0x15,
  SHTRIH_V2_STX = 0x8F,
  SHTRIH_V2_ESC = 0x9F,
  SHTRIH_V2_TSTX = 0x81,
  SHTRIH_V2_TESC = 0x83,
};

/* The longest message (command code + data) a v1 frame carries. */
#define SHTRIH_MAX_MESSAGE 255
/* A whole v1 frame: STX LEN message LRC. */
#define SHTRIH_V1_MAX_FRAME (SHTRIH_MAX_MESSAGE + 3)

/* XOR of data[0..len). */
uint8_t shtrih_lrc(const uint8_t *data, size_t len);

/*
** Wraps message[0..len) (1..SHTRIH_MAX_MESSAGE bytes, else -1) as a v1
** frame into out (at least len + 3 bytes). Returns the frame's length.
*/
int shtrih_v1_encode(const uint8_t *message, size_t len, uint8_t *out, size_t out_size);

/* What shtrih_rx_feed() says about the byte it was given. */
typedef enum shtrih_rx_event {
  SHTRIH_RX_NONE = 0,    /* consumed; nothing complete yet */
  SHTRIH_RX_FRAME = 1,   /* a whole frame with a good LRC: rx->message[0..rx->len) */
  SHTRIH_RX_BAD_LRC = 2, /* a whole frame whose LRC does not match: answer NAK */
  SHTRIH_RX_CONTROL = 3, /* outside a frame, ENQ / ACK / NAK: rx->control */
  SHTRIH_RX_NOISE = 4,   /* outside a frame, any other byte: skipped */
} shtrih_rx_event_t;

/* The v1 receiver. Zero it (or shtrih_rx_reset) before the first byte. */
typedef struct shtrih_rx {
  int state; /* 0 waiting for STX, 1 length, 2 message, 3 LRC */
  size_t want, len;
  uint8_t message[SHTRIH_MAX_MESSAGE];
  uint8_t control;
  uint32_t noise; /* bytes skipped outside frames since the reset */
} shtrih_rx_t;

void shtrih_rx_reset(shtrih_rx_t *rx);

/* True while a frame has begun (STX seen) and is not complete. */
bool shtrih_rx_in_frame(const shtrih_rx_t *rx);

/*
** Feeds one received byte. Outside a frame: STX starts one; ENQ, ACK and
** NAK are SHTRIH_RX_CONTROL; any other byte is SHTRIH_RX_NOISE. A length
** byte of 0 is not a frame: the receiver goes back to waiting (noise).
** After SHTRIH_RX_FRAME or SHTRIH_RX_BAD_LRC the receiver waits for the
** next STX; the message stays readable until the next byte.
*/
shtrih_rx_event_t shtrih_rx_feed(shtrih_rx_t *rx, uint8_t byte);

/* CRC-16/CCITT-FALSE (init 0xFFFF, poly 0x1021, no reflection) of data. */
uint16_t shtrih_crc16(const uint8_t *data, size_t len);

/*
** v2: wraps message[0..len) (1..65533 bytes) with packet number `number`
** into out, stuffed. Returns the frame's length, or -1 when out is too
** small or len is out of range.
*/
int shtrih_v2_encode(uint16_t number, const uint8_t *message, size_t len, uint8_t *out,
                     size_t out_size);

/*
** v2: one whole frame frame[0..len) (STX first) unstuffed and checked.
** On 0, *number and message[0..*message_len) (message_size bytes at most).
** -1 for a frame that does not start with STX, holds an STX or an ESC not
** followed by TSTX/TESC after the first byte, is truncated or longer than
** its LEN16 says, whose CRC does not match, or whose message does not fit;
** also for the protocol's empty packets (LEN16 0 or 2: no message).
*/
int shtrih_v2_decode(const uint8_t *frame, size_t len, uint16_t *number, uint8_t *message,
                     size_t message_size, size_t *message_len);

#endif
