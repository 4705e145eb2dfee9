/*
** tests/unit/test_frame.c: the FN-OFD wire frame (ofd/frame.h).
**
** What must hold: the CRC is CRC-16/CCITT-FALSE (its published check
** value); each profile's bytes land at the offsets DOMAIN §5 gives; every
** message encoded decodes back to the same fields; and the stream parser
** delivers exactly the good messages whatever the chunking (one byte at a
** time, several per chunk), skips and counts garbage, and refuses bad CRCs,
** versions and oversize lengths with their own codes without losing the
** good message that follows.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <stdio.h>

#include "ofd/frame.h"

static const char fn16[16] = {'9', '9', '9', '9', '0', '7', '8', '9',
                              '0', '0', '0', '0', '1', '2', '3', '4'};

/* A message with a recognisable body of body_len bytes. */
static void make_message(frame_message_t *m, frame_profile_t profile, unsigned crc_mode,
                         uint8_t *body, size_t body_len, uint32_t docnum)
{
  size_t i;

  memset(m, 0, sizeof *m);
  m->profile = profile;
  memcpy(m->fn_number, fn16, sizeof fn16);
  m->flags = (uint16_t)(crc_mode | FRAME_FLAG_RESPONSE_EXPECTED);
  m->has_container = 1;
  m->document_type = 3;
  m->service1[0] = 0x11;
  m->service1[1] = 0x22;
  for (i = 0; i < FRAME_CONTAINER_FN_SIZE; i++) m->container_fn[i] = (uint8_t)(0x90 + i);
  m->document_number = docnum;
  for (i = 0; i < sizeof m->service2; i++) m->service2[i] = (uint8_t)(0x30 + i);
  for (i = 0; i < body_len; i++) body[i] = (uint8_t)(i * 7u + docnum);
  m->body = body;
  m->body_len = body_len;
}

/* Encode a message into out; returns its length. */
static size_t encode(frame_profile_t profile, unsigned crc_mode, size_t body_len, uint32_t docnum,
                     uint8_t *out, size_t cap)
{
  static uint8_t body[FRAME_BODY_MAX];
  frame_message_t m;
  size_t n = 0;

  make_message(&m, profile, crc_mode, body, body_len, docnum);
  assert_int_equal(frame_encode(&m, out, cap, &n), FRAME_OK);
  return n;
}

static frame_parser_t *parser_new(void)
{
  frame_parser_t *p = test_malloc(sizeof *p);

  frame_parser_init(p);
  return p;
}

static uint16_t le16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }

/* ---- CRC and table ---- */

static void test_crc_check_value(void **state)
{
  (void)state;
  assert_int_equal(frame_crc16((const uint8_t *)"123456789", 9), 0x29B1);
  assert_int_equal(frame_crc16(NULL, 0), 0xFFFF);
  /* Continuing a CRC over two pieces equals one pass over both. */
  assert_int_equal(
      frame_crc16_update(frame_crc16((const uint8_t *)"1234", 4), (const uint8_t *)"56789", 5),
      0x29B1);
}

static void test_profile_table(void **state)
{
  static const uint8_t ofd_sig[4] = {0x2A, 0x08, 0x41, 0x0A};
  static const uint8_t oism_sig[4] = {0xDD, 0x80, 0xCA, 0xA1};
  const frame_profile_info_t *ofd = frame_profile_info(FRAME_PROFILE_OFD);
  const frame_profile_info_t *oism = frame_profile_info(FRAME_PROFILE_OISM);
  const frame_profile_info_t *keys = frame_profile_info(FRAME_PROFILE_KEYS);

  (void)state;
  assert_non_null(ofd);
  assert_non_null(oism);
  assert_non_null(keys);
  assert_null(frame_profile_info((frame_profile_t)3));
  assert_null(frame_profile_info((frame_profile_t)-1));
  assert_memory_equal(ofd->signature, ofd_sig, 4);
  assert_memory_equal(oism->signature, oism_sig, 4);
  assert_memory_equal(keys->signature, oism_sig, 4);
  assert_memory_equal(ofd->session_version, "\x81\xA2", 2);
  assert_memory_equal(oism->session_version, "\x82\xA2", 2);
  assert_memory_equal(keys->session_version, "\x82\xA1", 2);
  assert_memory_equal(ofd->app_version, "\x01\x20", 2);
  assert_memory_equal(oism->app_version, "\x01\x20", 2);
  assert_memory_equal(keys->app_version, "\x01\x20", 2);
}

/* ---- encode / decode ---- */

static void test_layout_offsets(void **state)
{
  uint8_t out[256], body[10];
  frame_message_t m;
  size_t n = 0;
  const uint8_t *c = out + 30;
  uint16_t crc;

  (void)state;
  make_message(&m, FRAME_PROFILE_OFD, FRAME_CRC_HEADER, body, sizeof body, 0x012345);
  assert_int_equal(frame_encode(&m, out, sizeof out, &n), FRAME_OK);
  assert_int_equal(n, 30 + 32 + 10);

  assert_memory_equal(out, "\x2A\x08\x41\x0A\x81\xA2\x01\x20", 8);
  assert_memory_equal(out + 8, fn16, 16);
  assert_int_equal(le16(out + 24), 42);
  /* CRC mode 1, container present, response expected. */
  assert_int_equal(le16(out + 26), 0x0001 | 0x0004 | 0x0010);
  assert_int_equal(le16(out + 28), frame_crc16(out, 28));

  assert_int_equal(le16(c), 42);
  assert_int_equal(c[4], 0xA5);
  assert_int_equal(c[5], 3);
  assert_int_equal(c[6], 1);
  assert_memory_equal(c + 7, "\x11\x22", 2);
  assert_memory_equal(c + 9, "\x90\x91\x92\x93\x94\x95\x96\x97", 8);
  assert_memory_equal(c + 17, "\x01\x23\x45", 3); /* big-endian */
  assert_int_equal(c[20], 0x30);
  assert_int_equal(c[31], 0x3B);
  assert_memory_equal(c + 32, body, 10);
  crc = frame_crc16(c, 2);
  crc = frame_crc16_update(crc, c + 4, 42 - 4);
  assert_int_equal(le16(c + 2), crc);
}

static void test_round_trip_each_profile(void **state)
{
  static const frame_profile_t profiles[] = {FRAME_PROFILE_OFD, FRAME_PROFILE_OISM,
                                             FRAME_PROFILE_KEYS};
  static uint8_t out[FRAME_MESSAGE_MAX];
  uint8_t body[300];
  frame_message_t in, got;
  size_t pi, n, consumed;
  unsigned mode;

  (void)state;
  for (pi = 0; pi < 3; pi++) {
    for (mode = 0; mode <= 2; mode++) {
      make_message(&in, profiles[pi], mode, body, sizeof body, (uint32_t)(1000 + pi));
      assert_int_equal(frame_encode(&in, out, sizeof out, &n), FRAME_OK);
      consumed = 0;
      assert_int_equal(frame_decode(out, n, &got, &consumed), FRAME_OK);
      assert_int_equal(consumed, n);
      assert_int_equal(got.profile, profiles[pi]);
      assert_memory_equal(got.fn_number, fn16, 16);
      assert_int_equal(got.flags, in.flags | FRAME_FLAG_CONTAINER);
      assert_int_equal(got.has_container, 1);
      assert_int_equal(got.document_type, 3);
      assert_memory_equal(got.service1, in.service1, 2);
      assert_memory_equal(got.container_fn, in.container_fn, 8);
      assert_int_equal(got.document_number, 1000 + pi);
      assert_memory_equal(got.service2, in.service2, 12);
      assert_int_equal(got.body_len, sizeof body);
      assert_memory_equal(got.body, body, sizeof body);
      assert_ptr_equal(got.container, out + 30);
      assert_int_equal(got.container_len, 32 + sizeof body);
    }
  }
}

static void test_round_trip_limits(void **state)
{
  static uint8_t out[FRAME_MESSAGE_MAX];
  frame_message_t in, got;
  size_t n = 0, consumed = 0;

  (void)state;
  /* Largest body, largest document number. */
  n = encode(FRAME_PROFILE_OFD, FRAME_CRC_HEADER_BODY, FRAME_BODY_MAX, FRAME_DOCUMENT_NUMBER_MAX,
             out, sizeof out);
  assert_int_equal(n, FRAME_MESSAGE_MAX);
  assert_int_equal(frame_decode(out, n, &got, &consumed), FRAME_OK);
  assert_int_equal(got.document_number, 0xFFFFFF);
  assert_int_equal(got.body_len, FRAME_BODY_MAX);

  /* Empty body. */
  n = encode(FRAME_PROFILE_KEYS, FRAME_CRC_NONE, 0, 0, out, sizeof out);
  assert_int_equal(n, 62);
  assert_int_equal(frame_decode(out, n, &got, &consumed), FRAME_OK);
  assert_int_equal(got.body_len, 0);

  /* Session header alone: no container, length 0, bit 2 clear. */
  memset(&in, 0, sizeof in);
  in.profile = FRAME_PROFILE_OISM;
  memcpy(in.fn_number, fn16, 16);
  in.flags = FRAME_CRC_HEADER;
  assert_int_equal(frame_encode(&in, out, sizeof out, &n), FRAME_OK);
  assert_int_equal(n, 30);
  assert_int_equal(le16(out + 24), 0);
  assert_int_equal(le16(out + 26), FRAME_CRC_HEADER);
  assert_int_equal(frame_decode(out, n, &got, &consumed), FRAME_OK);
  assert_int_equal(got.has_container, 0);
  assert_null(got.container);
  assert_null(got.body);
  assert_int_equal(got.profile, FRAME_PROFILE_OISM);
}

static void test_encode_refuses(void **state)
{
  static uint8_t body[FRAME_BODY_MAX + 1];
  uint8_t out[128];
  frame_message_t m;
  size_t n = 0;

  (void)state;
  make_message(&m, FRAME_PROFILE_OFD, 0, body, 10, 1);
  assert_int_equal(frame_encode(&m, out, 71, &n), FRAME_ERR_BUFFER);
  assert_int_equal(frame_encode(&m, out, 72, &n), FRAME_OK);
  assert_int_equal(frame_encode(NULL, out, 72, &n), FRAME_ERR_ARGUMENT);
  assert_int_equal(frame_encode(&m, NULL, 72, &n), FRAME_ERR_ARGUMENT);

  m.flags = 3; /* reserved CRC mode */
  assert_int_equal(frame_encode(&m, out, sizeof out, &n), FRAME_ERR_ARGUMENT);
  m.flags = 0;
  m.document_number = 0x1000000;
  assert_int_equal(frame_encode(&m, out, sizeof out, &n), FRAME_ERR_ARGUMENT);
  m.document_number = 1;
  m.profile = (frame_profile_t)7;
  assert_int_equal(frame_encode(&m, out, sizeof out, &n), FRAME_ERR_ARGUMENT);
  m.profile = FRAME_PROFILE_OFD;
  m.body_len = FRAME_BODY_MAX + 1;
  assert_int_equal(frame_encode(&m, out, sizeof out, &n), FRAME_ERR_OVERSIZE);
  m.has_container = 0;
  m.body_len = 4;
  assert_int_equal(frame_encode(&m, out, sizeof out, &n), FRAME_ERR_ARGUMENT);
}

/* Change one byte of good into bad and expect a result from decoding. */
#define CORRUPT(off, val, expect)                                                                  \
  do {                                                                                             \
    memcpy(bad, good, n);                                                                          \
    bad[off] = (uint8_t)(val);                                                                     \
    assert_int_equal(frame_decode(bad, n, &got, &consumed), expect);                               \
  } while (0)

static void test_decode_faults(void **state)
{
  uint8_t good[200], bad[200];
  frame_message_t got;
  size_t n, consumed = 0, i;

  (void)state;
  n = encode(FRAME_PROFILE_OFD, FRAME_CRC_HEADER_BODY, 50, 7, good, sizeof good);

  /* Truncated at every length short of the whole message. */
  for (i = 0; i < n; i++)
    assert_int_equal(frame_decode(good, i, &got, &consumed), FRAME_ERR_TRUNCATED);

  CORRUPT(0, 0x2B, FRAME_ERR_SIGNATURE);
  CORRUPT(3, 0x0B, FRAME_ERR_SIGNATURE);
  CORRUPT(4, 0x82, FRAME_ERR_SESSION_VERSION);
  CORRUPT(7, 0x10, FRAME_ERR_APP_VERSION);
  CORRUPT(26, 0x03 | 0x04 | 0x10, FRAME_ERR_FLAGS); /* CRC mode 3 */
  CORRUPT(26, 0x02 | 0x10, FRAME_ERR_FLAGS);        /* container bit off */
  CORRUPT(28, good[28] ^ 1, FRAME_ERR_SESSION_CRC);
  CORRUPT(30 + 32 + 5, good[30 + 32 + 5] ^ 0x40, FRAME_ERR_SESSION_CRC);
  CORRUPT(24, good[24] + 1, FRAME_ERR_TRUNCATED); /* claims 1 more */
  CORRUPT(25, 0x81, FRAME_ERR_OVERSIZE);          /* 0x8000 + 82 */

  /* Container faults show once the session CRC cannot hide them. */
  n = encode(FRAME_PROFILE_OISM, FRAME_CRC_NONE, 50, 7, good, sizeof good);
  CORRUPT(30, good[30] ^ 1, FRAME_ERR_CONTAINER_LENGTH);
  CORRUPT(34, 0xA4, FRAME_ERR_MESSAGE_TYPE);
  CORRUPT(36, 2, FRAME_ERR_CONTAINER_VERSION);
  CORRUPT(32, good[32] ^ 1, FRAME_ERR_CONTAINER_CRC);
  CORRUPT(40, good[40] ^ 1, FRAME_ERR_CONTAINER_CRC);
  CORRUPT(n - 1, good[n - 1] ^ 0x80, FRAME_ERR_CONTAINER_CRC);
  /* Mode 0: the session CRC field is ignored. */
  CORRUPT(28, 0x55, FRAME_OK);
#undef CORRUPT

  /* A container announced but shorter than its own header. */
  memcpy(bad, good, n);
  bad[24] = 31;
  bad[25] = 0;
  assert_int_equal(frame_decode(bad, n, &got, &consumed), FRAME_ERR_CONTAINER_LENGTH);
  /* Oversize length refused even when only the header is there. */
  bad[24] = 0x01;
  bad[25] = 0x80; /* 32769 */
  assert_int_equal(frame_decode(bad, 30, &got, &consumed), FRAME_ERR_OVERSIZE);
  assert_int_equal(frame_decode(NULL, 0, &got, &consumed), FRAME_ERR_TRUNCATED);
  assert_int_equal(frame_decode(NULL, 5, &got, &consumed), FRAME_ERR_ARGUMENT);
  assert_int_equal(frame_decode(good, n, NULL, &consumed), FRAME_ERR_ARGUMENT);
}

/* ---- stream parser ---- */

/* What feed_all saw: delivered document numbers and returned errors. */
typedef struct {
  uint32_t docs[64];
  int errors[64];
  size_t ndocs, nerrors;
  size_t delivered_bytes;
} sink_t;

static void feed_all(frame_parser_t *p, const uint8_t *data, size_t len, sink_t *s)
{
  frame_message_t m;
  size_t used;
  int rc;

  do {
    used = 0;
    rc = frame_parser_feed(p, data, len, &used, &m);
    assert_true(used <= len);
    data += used;
    len -= used;
    if (rc == FRAME_OK) {
      assert_true(s->ndocs < 64);
      s->docs[s->ndocs++] = m.document_number;
      s->delivered_bytes += 30 + m.container_len;
    } else if (rc != FRAME_AGAIN) {
      assert_true(s->nerrors < 64);
      s->errors[s->nerrors++] = rc;
    }
  } while (rc != FRAME_AGAIN);
  assert_int_equal(len, 0);
}

static void test_parser_one_byte_at_a_time(void **state)
{
  static uint8_t stream[4096];
  frame_parser_t *p = parser_new();
  sink_t s;
  size_t len = 0, ends[3], i, k = 0;
  frame_message_t m;
  size_t used;
  int rc;

  (void)state;
  memset(&s, 0, sizeof s);
  len += encode(FRAME_PROFILE_OFD, FRAME_CRC_HEADER, 100, 1, stream + len, 4096 - len);
  ends[0] = len;
  len += encode(FRAME_PROFILE_OISM, FRAME_CRC_HEADER_BODY, 0, 2, stream + len, 4096 - len);
  ends[1] = len;
  len += encode(FRAME_PROFILE_KEYS, FRAME_CRC_NONE, 700, 3, stream + len, 4096 - len);
  ends[2] = len;

  for (i = 0; i < len; i++) {
    rc = frame_parser_feed(p, stream + i, 1, &used, &m);
    assert_int_equal(used, 1);
    if (i + 1 == ends[k]) {
      /* Delivered exactly with its last byte. */
      assert_int_equal(rc, FRAME_OK);
      assert_int_equal(m.document_number, k + 1);
      k++;
      assert_int_equal(frame_parser_feed(p, NULL, 0, &used, &m), FRAME_AGAIN);
    } else {
      assert_int_equal(rc, FRAME_AGAIN);
    }
  }
  assert_int_equal(k, 3);
  assert_int_equal(frame_parser_skipped(p), 0);
  assert_int_equal(frame_parser_pending(p), 0);
  assert_int_equal(frame_parser_finish(p), FRAME_OK);
  test_free(p);
}

static void test_parser_two_in_one_chunk(void **state)
{
  uint8_t stream[1024];
  frame_parser_t *p = parser_new();
  frame_message_t m;
  size_t len = 0, first, used = 0;
  sink_t s;

  (void)state;
  memset(&s, 0, sizeof s);
  len += encode(FRAME_PROFILE_OFD, FRAME_CRC_HEADER_BODY, 40, 10, stream, sizeof stream);
  first = len;
  len +=
      encode(FRAME_PROFILE_OFD, FRAME_CRC_HEADER_BODY, 60, 11, stream + len, sizeof stream - len);

  /* The first call stops right after the first message. */
  assert_int_equal(frame_parser_feed(p, stream, len, &used, &m), FRAME_OK);
  assert_int_equal(used, first);
  assert_int_equal(m.document_number, 10);
  assert_int_equal(m.body_len, 40);
  frame_parser_init(p);

  feed_all(p, stream, len, &s);
  assert_int_equal(s.ndocs, 2);
  assert_int_equal(s.docs[0], 10);
  assert_int_equal(s.docs[1], 11);
  assert_int_equal(s.nerrors, 0);
  assert_int_equal(s.delivered_bytes, len);
  test_free(p);
}

static void test_parser_garbage_before_message(void **state)
{
  /* Garbage with traps: a cut OFD signature, a full OISM signature with
  ** an unknown version, and plain noise. */
  static const uint8_t garbage[] = {0x00, 0xFF, 0x2A, 0x08, 0x41, 0x13, 0x37, 0x2A,
                                    0x2A, 0x08, 0xDD, 0x80, 0xCA, 0xA1, 0x99, 0x99,
                                    0x01, 0x20, 'x',  'y',  0x0D, 0x0A, 0xDD};
  uint8_t stream[1024];
  frame_parser_t *p = parser_new();
  size_t len, n, i;
  sink_t s;

  (void)state;
  memset(&s, 0, sizeof s);
  memcpy(stream, garbage, sizeof garbage);
  len = sizeof garbage;
  n = encode(FRAME_PROFILE_OFD, FRAME_CRC_HEADER, 33, 5, stream + len, sizeof stream - len);
  len += n;

  feed_all(p, stream, len, &s);
  assert_int_equal(s.ndocs, 1);
  assert_int_equal(s.docs[0], 5);
  /* The fake OISM header was read whole and refused for its version. */
  assert_int_equal(s.nerrors, 1);
  assert_int_equal(s.errors[0], FRAME_ERR_SESSION_VERSION);
  assert_int_equal(frame_parser_skipped(p), sizeof garbage);

  /* Same outcome one byte at a time. */
  frame_parser_init(p);
  memset(&s, 0, sizeof s);
  for (i = 0; i < len; i++) feed_all(p, stream + i, 1, &s);
  assert_int_equal(s.ndocs, 1);
  assert_int_equal(s.nerrors, 1);
  assert_int_equal(frame_parser_skipped(p), sizeof garbage);
  test_free(p);
}

static void test_parser_corrupted_crc(void **state)
{
  uint8_t stream[2048];
  frame_parser_t *p = parser_new();
  size_t len = 0, a, b;
  sink_t s;

  (void)state;
  memset(&s, 0, sizeof s);
  a = encode(FRAME_PROFILE_OFD, FRAME_CRC_NONE, 80, 1, stream, sizeof stream);
  stream[a - 3] ^= 0x01; /* body byte: container CRC fails */
  len = a;
  b = encode(FRAME_PROFILE_OFD, FRAME_CRC_HEADER_BODY, 80, 2, stream + len, sizeof stream - len);
  stream[len + 50] ^= 0x10; /* container header byte: session CRC fails */
  len += b;
  len += encode(FRAME_PROFILE_OFD, FRAME_CRC_HEADER, 80, 3, stream + len, sizeof stream - len);
  stream[len - 30 - 32 - 80 + 28] ^= 0xFF; /* header CRC of the third */
  len +=
      encode(FRAME_PROFILE_OISM, FRAME_CRC_HEADER_BODY, 80, 4, stream + len, sizeof stream - len);

  feed_all(p, stream, len, &s);
  assert_int_equal(s.nerrors, 3);
  assert_int_equal(s.errors[0], FRAME_ERR_CONTAINER_CRC);
  assert_int_equal(s.errors[1], FRAME_ERR_SESSION_CRC);
  assert_int_equal(s.errors[2], FRAME_ERR_SESSION_CRC);
  assert_int_equal(s.ndocs, 1);
  assert_int_equal(s.docs[0], 4);
  assert_int_equal(frame_parser_skipped(p) + s.delivered_bytes, len);
  test_free(p);
}

static void test_parser_oversize_length(void **state)
{
  uint8_t stream[1024];
  frame_parser_t *p = parser_new();
  frame_message_t m;
  size_t len, used = 0, hdr;
  sink_t s;

  (void)state;
  memset(&s, 0, sizeof s);
  hdr = encode(FRAME_PROFILE_OFD, FRAME_CRC_NONE, 10, 1, stream, sizeof stream);
  stream[24] = 0xFF;
  stream[25] = 0xFF; /* 65535 > 32 KiB */
  /* Only the header has been sent: refused now, not after 64 KiB. */
  assert_int_equal(frame_parser_feed(p, stream, 30, &used, &m), FRAME_ERR_OVERSIZE);
  assert_int_equal(used, 30);
  assert_int_equal(frame_parser_feed(p, NULL, 0, &used, &m), FRAME_AGAIN);
  assert_int_equal(frame_parser_skipped(p), 30);

  /* The rest of the bad frame and a good one after it. */
  len = hdr;
  len += encode(FRAME_PROFILE_OFD, FRAME_CRC_NONE, 10, 2, stream + len, sizeof stream - len);
  feed_all(p, stream + 30, len - 30, &s);
  assert_int_equal(s.ndocs, 1);
  assert_int_equal(s.docs[0], 2);
  assert_int_equal(frame_parser_skipped(p), hdr);

  /* 32768 is the limit itself: accepted as a length, waits for more. */
  frame_parser_init(p);
  hdr = encode(FRAME_PROFILE_OFD, FRAME_CRC_NONE, 10, 1, stream, sizeof stream);
  stream[24] = 0x00;
  stream[25] = 0x80;
  assert_int_equal(frame_parser_feed(p, stream, hdr, &used, &m), FRAME_AGAIN);
  assert_int_equal(frame_parser_pending(p), hdr);
  test_free(p);
}

static void test_parser_truncated_input(void **state)
{
  uint8_t stream[512];
  frame_parser_t *p = parser_new();
  frame_message_t m;
  size_t n, used = 0;

  (void)state;
  n = encode(FRAME_PROFILE_KEYS, FRAME_CRC_HEADER_BODY, 100, 9, stream, sizeof stream);
  assert_int_equal(frame_parser_feed(p, stream, n - 1, &used, &m), FRAME_AGAIN);
  assert_int_equal(used, n - 1);
  assert_int_equal(frame_parser_pending(p), n - 1);
  assert_int_equal(frame_parser_finish(p), FRAME_ERR_TRUNCATED);
  assert_int_equal(frame_parser_skipped(p), n - 1);
  assert_int_equal(frame_parser_pending(p), 0);

  /* After finish the parser takes a new stream from scratch. */
  assert_int_equal(frame_parser_feed(p, stream, n, &used, &m), FRAME_OK);
  assert_int_equal(m.document_number, 9);
  assert_int_equal(frame_parser_finish(p), FRAME_OK);

  /* A lone signature byte at the end is a (tiny) partial frame. */
  assert_int_equal(frame_parser_feed(p, stream, 1, &used, &m), FRAME_AGAIN);
  assert_int_equal(frame_parser_finish(p), FRAME_ERR_TRUNCATED);
  test_free(p);
}

/* A header whose announced length swallows the next, good message: the
** refusal must not lose it. */
static void test_parser_message_inside_bad_frame(void **state)
{
  uint8_t stream[1024];
  frame_parser_t *p = parser_new();
  size_t bad, good, len;
  sink_t s;

  (void)state;
  memset(&s, 0, sizeof s);
  bad = encode(FRAME_PROFILE_OFD, FRAME_CRC_NONE, 20, 1, stream, sizeof stream);
  /* Cut the bad message after its header + 10 bytes, claim 200. */
  stream[24] = 200;
  stream[25] = 0;
  len = 30 + 10;
  good =
      encode(FRAME_PROFILE_OISM, FRAME_CRC_HEADER_BODY, 30, 2, stream + len, sizeof stream - len);
  len += good;
  /* Enough tail for the bad frame's 230 bytes to be complete. */
  memset(stream + len, 0x00, 200);
  len += 200;
  (void)bad;

  feed_all(p, stream, len, &s);
  assert_int_equal(s.nerrors, 1);
  assert_int_equal(s.errors[0], FRAME_ERR_CONTAINER_LENGTH);
  assert_int_equal(s.ndocs, 1);
  assert_int_equal(s.docs[0], 2);
  assert_int_equal(frame_parser_skipped(p), len - good);
  assert_int_equal(frame_parser_pending(p), 0);
  test_free(p);
}

/* Many messages of every size and profile, cut at pseudo-random places,
** with garbage between some: every message arrives in order and the byte
** accounting balances. */
static void test_parser_random_chunks(void **state)
{
  static uint8_t stream[200000];
  frame_parser_t *p = parser_new();
  frame_message_t m;
  uint32_t rng = 12345u, expect = 0;
  size_t len = 0, pos = 0, chunk, used, garbage = 0, delivered = 0, k;
  int rc;

  (void)state;
  for (k = 0; k < 60; k++) {
    rng = rng * 1103515245u + 12345u;
    if (k % 7 == 3) {
      /* Noise that never contains a signature's first byte. */
      size_t g = (rng >> 16) % 50 + 1, i;
      for (i = 0; i < g; i++) stream[len + i] = (uint8_t)(0x30 + i % 10);
      len += g;
      garbage += g;
    }
    len += encode((frame_profile_t)(k % 3), (unsigned)(k % 3),
                  (k == 30) ? FRAME_BODY_MAX : (rng >> 8) % 3000, (uint32_t)k, stream + len,
                  sizeof stream - len);
  }
  while (pos < len) {
    rng = rng * 1103515245u + 12345u;
    chunk = (rng >> 16) % 700 + 1;
    if (chunk > len - pos) chunk = len - pos;
    do {
      rc = frame_parser_feed(p, stream + pos, chunk, &used, &m);
      pos += used;
      chunk -= used;
      if (rc == FRAME_OK) {
        assert_int_equal(m.document_number, expect);
        expect++;
        delivered += 30 + m.container_len;
      } else {
        assert_int_equal(rc, FRAME_AGAIN);
      }
    } while (rc != FRAME_AGAIN);
  }
  assert_int_equal(expect, 60);
  assert_int_equal(frame_parser_skipped(p), garbage);
  assert_int_equal(delivered + garbage, len);
  test_free(p);
}

static void test_parser_arguments(void **state)
{
  frame_parser_t *p = parser_new();
  frame_message_t m;
  size_t used = 99;
  uint8_t b = 0x2A;

  (void)state;
  assert_int_equal(frame_parser_feed(NULL, &b, 1, &used, &m), FRAME_ERR_ARGUMENT);
  assert_int_equal(used, 0);
  assert_int_equal(frame_parser_feed(p, NULL, 1, &used, &m), FRAME_ERR_ARGUMENT);
  assert_int_equal(frame_parser_feed(p, &b, 1, NULL, &m), FRAME_ERR_ARGUMENT);
  assert_int_equal(frame_parser_feed(p, &b, 1, &used, NULL), FRAME_ERR_ARGUMENT);
  assert_int_equal(frame_parser_feed(p, NULL, 0, &used, &m), FRAME_AGAIN);
  assert_int_equal(frame_parser_finish(NULL), FRAME_ERR_ARGUMENT);
  assert_int_equal(frame_parser_skipped(NULL), 0);
  frame_parser_init(NULL); /* harmless */
  assert_string_equal(frame_strerror(FRAME_ERR_CONTAINER_CRC), "container CRC mismatch");
  assert_string_equal(frame_strerror(-999), "unknown frame error");
  test_free(p);
}

/* ---------------------------------------------------------------------- */
/* The published real bytes (tests/data/ofd/README.md)                     */

/* Reads tests/data/ofd/name (the tests run from the source tree) into a
** cmocka-allocated buffer; *len its size. */
static uint8_t *read_sample(const char *name, size_t *len)
{
  char path[256];
  FILE *f;
  uint8_t *buf = test_malloc(FRAME_MESSAGE_MAX);
  snprintf(path, sizeof path, "tests/data/ofd/%s", name);
  f = fopen(path, "rb");
  assert_non_null(f);
  *len = fread(buf, 1, FRAME_MESSAGE_MAX, f);
  fclose(f);
  assert_true(*len > 0);
  return buf;
}

/* A session header as the published one is made (flags 0x0014, CRC field
** 00 00) around a bare container: msg[0..30 + clen). */
static size_t wrap_container(const uint8_t *container, size_t clen, const uint8_t app[2],
                             uint8_t *msg)
{
  memcpy(msg, "\x2A\x08\x41\x0A\x81\xA2", 6);
  memcpy(msg + 6, app, 2);
  memcpy(msg + 8, "999907891234567 ", 16); /* the FN of those samples */
  msg[24] = (uint8_t)(clen & 0xFF);
  msg[25] = (uint8_t)(clen >> 8);
  msg[26] = 0x14;
  msg[27] = 0x00;
  msg[28] = 0x00;
  msg[29] = 0x00;
  memcpy(msg + 30, container, clen);
  return 30 + clen;
}

/* Decode msg whole and one byte at a time through the parser; both must
** give the same message (the parser's copy is checked field by field). */
static void decode_both_ways(const uint8_t *msg, size_t len, frame_message_t *out)
{
  frame_parser_t *p = test_malloc(sizeof *p);
  frame_message_t streamed;
  size_t consumed = 0, used = 0, i;
  int rc = FRAME_AGAIN;

  assert_int_equal(frame_decode(msg, len, out, &consumed), FRAME_OK);
  assert_int_equal(consumed, len);
  frame_parser_init(p);
  for (i = 0; i < len; i++) {
    rc = frame_parser_feed(p, msg + i, 1, &used, &streamed);
    assert_int_equal(used, 1);
    if (i + 1 < len) assert_int_equal(rc, FRAME_AGAIN);
  }
  assert_int_equal(rc, FRAME_OK);
  assert_int_equal(frame_parser_skipped(p), 0);
  assert_int_equal(streamed.message_type, out->message_type);
  assert_int_equal(streamed.document_type, out->document_type);
  assert_int_equal(streamed.document_number, out->document_number);
  assert_int_equal(streamed.body_len, out->body_len);
  assert_memory_equal(streamed.body, out->body, out->body_len);
  test_free(p);
}

/*
** yandex/ofd's full message (a KKT's re-registration report to its OFD):
** the only published real session header. A-protocol version 00 01, flags
** 0x0014 (no session CRC), container CRC right, message type 0xA5, the
** document and the 10-byte trailer after it.
*/
static void test_real_yandex_message(void **state)
{
  size_t len = 0, doc_len = 0, trailer_len = 0;
  uint8_t *msg = read_sample("yandex_message.bin", &len);
  frame_message_t m;

  (void)state;
  assert_int_equal(len, 466);
  decode_both_ways(msg, len, &m);
  assert_int_equal(m.profile, FRAME_PROFILE_OFD);
  assert_memory_equal(m.fn_number, "9999078900005488", 16);
  assert_memory_equal(m.app_version, "\x00\x01", 2);
  assert_int_equal(m.flags, 0x0014); /* CRC mode 0: the decision in frame.c */
  assert_int_equal(m.flags & FRAME_FLAG_CRC_MASK, FRAME_CRC_NONE);
  assert_int_equal(m.message_type, 0xA5);
  assert_int_equal(m.document_type, 11);
  assert_int_equal(m.document_number, 1);
  assert_memory_equal(m.container_fn, "\x99\x99\x07\x89\x00\x00\x54\x88", 8);
  assert_memory_equal(m.service1, "\x10\x09", 2);
  assert_int_equal(frame_document_split(m.body, m.body_len, &doc_len, &trailer_len), FRAME_OK);
  assert_int_equal(doc_len, 394);
  assert_int_equal(trailer_len, FRAME_TRAILER_SIZE);
  assert_memory_equal(m.body, "\x0B\x00\x86\x01", 4); /* STLV 11, 390 bytes */
  assert_memory_equal(m.body + doc_len, "\x81\x06\xA5\x5A\xE1\x0C\x4D\x75\x00\x00", 10);
  /* The container CRC is real: one flipped bit anywhere in it is caught. */
  msg[30 + 40] ^= 0x01;
  assert_int_equal(frame_decode(msg, len, &m, &len), FRAME_ERR_CONTAINER_CRC);
  test_free(msg);
}

typedef struct real_container {
  const char *file;
  size_t size;
  uint8_t message_type, document_type;
  uint32_t document_number;
  size_t document_len;
  uint8_t trailer[FRAME_TRAILER_SIZE];
} real_container_t;

/*
** The bare containers: two registration reports an FN sent (shtrih-m/opos,
** yandex/ofd) and the real OFD's answer to the first (shtrih-m/opos,
** recovered from its hex dump by the container CRC: README). Each passes
** the container CRC as published, in an FFD 1.2 session header and in the
** legacy one; the answer is 0x5A; every one ends with the trailer.
*/
static void test_real_containers(void **state)
{
  static const real_container_t samples[] = {
      {"shtrih_registration_container.bin",
       228,
       0xA5,
       1,
       1,
       186,
       {0x81, 0x06, 0xD1, 0x7A, 0x06, 0xA8, 0x71, 0x45, 0x00, 0x00}},
      {"yandex_registration_container.bin",
       305,
       0xA5,
       1,
       1,
       263,
       {0x81, 0x06, 0x73, 0xFC, 0xA3, 0x4B, 0x28, 0x72, 0x00, 0x00}},
      {"shtrih_answer_container.bin",
       150,
       0x5A,
       7,
       1,
       108,
       {0x82, 0x06, 0xAA, 0x68, 0x82, 0x72, 0x95, 0x84, 0x00, 0x00}},
  };
  static const uint8_t apps[2][2] = {{0x01, 0x20}, {0x00, 0x01}};
  uint8_t *msg = test_malloc(FRAME_MESSAGE_MAX);

  (void)state;
  for (size_t i = 0; i < sizeof samples / sizeof samples[0]; i++) {
    const real_container_t *r = &samples[i];
    size_t clen = 0, doc_len = 0, trailer_len = 0, consumed = 0;
    uint8_t *c = read_sample(r->file, &clen);
    frame_message_t m;
    assert_int_equal(clen, r->size);
    for (size_t a = 0; a < 2; a++) {
      size_t len = wrap_container(c, clen, apps[a], msg);
      decode_both_ways(msg, len, &m);
      assert_memory_equal(m.app_version, apps[a], 2);
      assert_int_equal(m.message_type, r->message_type);
      assert_int_equal(m.document_type, r->document_type);
      assert_int_equal(m.document_number, r->document_number);
      assert_int_equal(m.container_len, clen);
      assert_memory_equal(m.container, c, clen); /* handed on as received */
      assert_int_equal(frame_document_split(m.body, m.body_len, &doc_len, &trailer_len), 0);
      assert_int_equal(doc_len, r->document_len);
      assert_int_equal(trailer_len, FRAME_TRAILER_SIZE);
      assert_memory_equal(m.body + doc_len, r->trailer, FRAME_TRAILER_SIZE);
    }
    /* The legacy A-version is the OFD's only. */
    size_t len = wrap_container(c, clen, apps[1], msg);
    msg[0] = 0xDD, msg[1] = 0x80, msg[2] = 0xCA, msg[3] = 0xA1, msg[4] = 0x82, msg[5] = 0xA2;
    assert_int_equal(frame_decode(msg, len, &m, &consumed), FRAME_ERR_APP_VERSION);
    /* A flipped bit in the trailer is a container CRC fault. */
    len = wrap_container(c, clen, apps[0], msg);
    msg[len - 5] ^= 0x10;
    assert_int_equal(frame_decode(msg, len, &m, &consumed), FRAME_ERR_CONTAINER_CRC);
    test_free(c);
  }
  test_free(msg);
}

/* What the split accepts: a document alone or with exactly 10 bytes. */
static void test_document_split(void **state)
{
  uint8_t body[4 + 5 + 12] = {0x07, 0x00, 0x05, 0x00, 1, 2, 3, 4, 5};
  size_t doc = 99, trailer = 99;

  (void)state;
  assert_int_equal(frame_document_split(body, 9, &doc, &trailer), FRAME_OK);
  assert_int_equal(doc, 9);
  assert_int_equal(trailer, 0);
  assert_int_equal(frame_document_split(body, 19, &doc, &trailer), FRAME_OK);
  assert_int_equal(doc, 9);
  assert_int_equal(trailer, 10);
  for (size_t n = 0; n <= sizeof body; n++) {
    if (n == 9 || n == 19) continue;
    assert_int_equal(frame_document_split(body, n, &doc, &trailer), FRAME_ERR_TRAILER);
  }
  assert_int_equal(frame_document_split(NULL, 0, &doc, &trailer), FRAME_ERR_TRAILER);
  assert_int_equal(frame_document_split(NULL, 4, &doc, &trailer), FRAME_ERR_ARGUMENT);
  assert_int_equal(frame_document_split(body, 9, NULL, &trailer), FRAME_ERR_ARGUMENT);
  assert_non_null(strstr(frame_strerror(FRAME_ERR_TRAILER), "trailer"));
}

/* The operator's message type and the legacy A-version round-trip; the
** encoder refuses a type or version nobody sends. */
static void test_answer_type_round_trip(void **state)
{
  static uint8_t body[20], out[256];
  frame_message_t m, got;
  size_t n = 0, consumed = 0;

  (void)state;
  make_message(&m, FRAME_PROFILE_OFD, FRAME_CRC_NONE, body, sizeof body, 5);
  m.message_type = FRAME_MESSAGE_TYPE_ANSWER;
  m.app_version[0] = 0x00;
  m.app_version[1] = 0x01;
  assert_int_equal(frame_encode(&m, out, sizeof out, &n), FRAME_OK);
  assert_int_equal(out[30 + 4], 0x5A);
  assert_memory_equal(out + 6, "\x00\x01", 2);
  assert_int_equal(frame_decode(out, n, &got, &consumed), FRAME_OK);
  assert_int_equal(got.message_type, 0x5A);
  /* 0 still means 0xA5 and the profile's own version. */
  make_message(&m, FRAME_PROFILE_OISM, FRAME_CRC_HEADER_BODY, body, sizeof body, 5);
  assert_int_equal(frame_encode(&m, out, sizeof out, &n), FRAME_OK);
  assert_int_equal(frame_decode(out, n, &got, &consumed), FRAME_OK);
  assert_int_equal(got.message_type, 0xA5);
  assert_memory_equal(got.app_version, "\x01\x20", 2);
  m.message_type = 0xA4;
  assert_int_equal(frame_encode(&m, out, sizeof out, &n), FRAME_ERR_ARGUMENT);
  m.message_type = 0;
  m.app_version[1] = 0x01; /* 00 01 is the OFD's only */
  assert_int_equal(frame_encode(&m, out, sizeof out, &n), FRAME_ERR_ARGUMENT);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_crc_check_value),
      cmocka_unit_test(test_profile_table),
      cmocka_unit_test(test_layout_offsets),
      cmocka_unit_test(test_round_trip_each_profile),
      cmocka_unit_test(test_round_trip_limits),
      cmocka_unit_test(test_encode_refuses),
      cmocka_unit_test(test_decode_faults),
      cmocka_unit_test(test_parser_one_byte_at_a_time),
      cmocka_unit_test(test_parser_two_in_one_chunk),
      cmocka_unit_test(test_parser_garbage_before_message),
      cmocka_unit_test(test_parser_corrupted_crc),
      cmocka_unit_test(test_parser_oversize_length),
      cmocka_unit_test(test_parser_truncated_input),
      cmocka_unit_test(test_parser_message_inside_bad_frame),
      cmocka_unit_test(test_parser_random_chunks),
      cmocka_unit_test(test_parser_arguments),
      cmocka_unit_test(test_real_yandex_message),
      cmocka_unit_test(test_real_containers),
      cmocka_unit_test(test_document_split),
      cmocka_unit_test(test_answer_type_round_trip),
  };

  return cmocka_run_group_tests(tests, NULL, NULL);
}
