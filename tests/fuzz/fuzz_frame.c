/*
** tests/fuzz/fuzz_frame.c: libFuzzer target for the OFD frame parser.
**
** The input's first byte seeds the chunk sizes; the rest is a TCP stream.
** The stream is parsed twice, once in a single call loop and once in
** pseudo-random chunks (1 to 64 bytes, sometimes empty feeds), and
** the two runs must agree on every result, every delivered container and
** the skipped count: chunking must never change what the parser sees.
** Each delivered message must also re-encode to the same bytes (the
** session CRC field aside in mode 0, where it is ignored), and the byte
** accounting must balance: delivered + skipped + pending = fed. The
** sanitizers catch any read outside a buffer.
*/
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ofd/frame.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct {
  uint64_t hash;      /* over result codes and delivered containers */
  uint64_t delivered; /* bytes of delivered messages */
  uint64_t skipped;
  size_t pending;
} outcome_t;

static frame_parser_t parser;
static uint8_t reencoded[FRAME_MESSAGE_MAX];

static uint64_t fnv(uint64_t h, const uint8_t *p, size_t n)
{
  size_t i;

  for (i = 0; i < n; i++) h = (h ^ p[i]) * 1099511628211ull;
  return h;
}

static void check_message(const frame_message_t *m)
{
  frame_message_t again;
  size_t n = 0, used = 0;
  const uint8_t *header;

  if (frame_encode(m, reencoded, sizeof reencoded, &n) != FRAME_OK) abort();
  if (n != FRAME_SESSION_HEADER_SIZE + m->container_len) abort();
  if (m->has_container &&
      memcmp(reencoded + FRAME_SESSION_HEADER_SIZE, m->container, m->container_len) != 0)
    abort();
  if (m->has_container) {
    /* The parser keeps the session header right before the
    ** container; compare all of it but the CRC field. */
    header = m->container - FRAME_SESSION_HEADER_SIZE;
    if (memcmp(reencoded, header, FRAME_SESSION_HEADER_SIZE - 2) != 0) abort();
  }
  if (frame_decode(reencoded, n, &again, &used) != FRAME_OK || used != n) abort();
  if (again.document_number != m->document_number || again.body_len != m->body_len ||
      again.profile != m->profile)
    abort();
}

/* Feed stream[0..len) with chunk sizes drawn from seed (0: all at once). */
static void run(const uint8_t *stream, size_t len, uint32_t seed, int check, outcome_t *out)
{
  frame_message_t m;
  size_t pos = 0, chunk, used;
  int rc;

  memset(out, 0, sizeof *out);
  out->hash = 14695981039346656037ull;
  frame_parser_init(&parser);
  for (;;) {
    if (seed == 0) {
      chunk = len - pos;
    } else {
      seed ^= seed << 13;
      seed ^= seed >> 17;
      seed ^= seed << 5;
      chunk = seed % 65;
      if (chunk > len - pos) chunk = len - pos;
    }
    do {
      used = 0;
      rc = frame_parser_feed(&parser, stream + pos, chunk, &used, &m);
      if (used > chunk) abort();
      pos += used;
      chunk -= used;
      if (rc == FRAME_AGAIN) break;
      out->hash = fnv(out->hash, (const uint8_t *)&rc, sizeof rc);
      if (rc == FRAME_OK) {
        out->delivered += FRAME_SESSION_HEADER_SIZE + m.container_len;
        if (m.container_len) out->hash = fnv(out->hash, m.container, m.container_len);
        if (check) check_message(&m);
      }
    } while (1);
    if (chunk != 0) abort();
    if (pos == len) break;
  }
  out->pending = frame_parser_pending(&parser);
  out->skipped = frame_parser_skipped(&parser);
  if (out->delivered + out->skipped + out->pending != len) abort();
  rc = frame_parser_finish(&parser);
  if ((rc == FRAME_ERR_TRUNCATED) != (out->pending != 0)) abort();
  if (frame_parser_skipped(&parser) != out->skipped + out->pending) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  outcome_t whole, chunked;
  frame_message_t m;
  size_t used;

  if (size == 0) return 0;

  run(data + 1, size - 1, 0, 1, &whole);
  run(data + 1, size - 1, (uint32_t)data[0] * 2654435761u | 1u, 0, &chunked);
  if (whole.hash != chunked.hash || whole.skipped != chunked.skipped ||
      whole.delivered != chunked.delivered || whole.pending != chunked.pending)
    abort();

  /* The one-shot decoder must be just as safe on the same bytes. */
  (void)frame_decode(data + 1, size - 1, &m, &used);
  return 0;
}
