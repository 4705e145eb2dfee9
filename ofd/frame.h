/*
** ofd/frame.h: the wire frame between the fiscal storage (FN) and the
** fiscal data operator (OFD), the marking operator (OISM) and the key
** server.
**
** Every message on those TCP links is a 30-byte session header, then a
** container: a 32-byte container header and the document's TLV body. The
** container is made and protected by the FN's own crypto; the till only
** wraps it in the session header, sends it, and hands the answer's
** container back to the FN. So this module knows the byte layout, the
** CRCs and the three peers' signatures and versions, and nothing about the
** TLV inside (that is fiscal/).
**
** Two ways in: frame_decode() for a buffer that holds a whole message, and
** frame_parser_t for a TCP stream, which is fed whatever recv() returned
** (one byte, half a header, three messages) and yields whole, validated
** messages. A stream that goes out of step (garbage, a corrupt length) is
** resynchronised on the next known signature; the bytes thrown away are
** counted. Nothing here allocates.
**
** Layout (DOMAIN.md §5; all integers little-endian unless said):
**
**   session header, 30 bytes
**     0  signature        4   2A 08 41 0A (OFD) | DD 80 CA A1 (OISM, keys)
**     4  S-protocol ver.  2   81 A2 (OFD) | 82 A2 (OISM) | 82 A1 (keys)
**     6  A-protocol ver.  2   01 20 (FFD 1.2)
**     8  FN number       16   ASCII
**    24  container length 2   container header + body, <= 32 KiB
**    26  flags            2   bits 0-1 CRC mode, bit 2 container present,
**                             bits 4-5 01 = response expected
**    28  CRC              2   see frame.c, session_crc(): every real
**                             message published has mode 0 and 00 00
**
**   container header, 32 bytes
**     0  length           2   container header + body
**     2  CRC              2   CRC-16/CCITT-FALSE over bytes 0-1, 4-31, body
**     4  message type     1   0xA5 from the FN, 0x5A from the operator
**                             (both accepted either way)
**     5  document type    1
**     6  version          1   1
**     7  service data     2
**     9  FN number        8   as the FN writes it (kept as bytes)
**    17  document number  3   big-endian
**    20  service data    12
**    32  body             the document TLV, then (real FNs and OFDs) a
**                             10-byte trailer: frame_document_split()
**
** Return codes: 0 (FRAME_OK) or a negative frame_rc_t; FRAME_AGAIN is the
** one negative code that is not a fault ("give me more bytes").
*/
#ifndef KASSA_OFD_FRAME_H
#define KASSA_OFD_FRAME_H

#include <stddef.h>
#include <stdint.h>

#define FRAME_SESSION_HEADER_SIZE   30u
#define FRAME_CONTAINER_HEADER_SIZE 32u
/* Largest container (header + body) a session header may announce. */
#define FRAME_CONTAINER_MAX 32768u
#define FRAME_BODY_MAX      (FRAME_CONTAINER_MAX - FRAME_CONTAINER_HEADER_SIZE)
/* Largest whole message: what a buffer for one encoded message needs. */
#define FRAME_MESSAGE_MAX (FRAME_SESSION_HEADER_SIZE + FRAME_CONTAINER_MAX)

#define FRAME_FN_NUMBER_SIZE      16u       /* session header: ASCII */
#define FRAME_CONTAINER_FN_SIZE   8u        /* container header: FN's own bytes */
#define FRAME_DOCUMENT_NUMBER_MAX 0xFFFFFFu /* 3 bytes on the wire */

#define FRAME_MESSAGE_TYPE        0xA5u /* FN -> operator: what kassa sends */
#define FRAME_MESSAGE_TYPE_ANSWER 0x5Au /* operator -> FN: what a real OFD answers */
#define FRAME_CONTAINER_VERSION   1u
/* The bytes a real container carries after the document (frame.c). */
#define FRAME_TRAILER_SIZE 10u

/* Session header flags. */
#define FRAME_FLAG_CRC_MASK          0x0003u
#define FRAME_CRC_NONE               0u /* session CRC field is ignored */
#define FRAME_CRC_HEADER             1u /* over the session header */
#define FRAME_CRC_HEADER_BODY        2u /* over the header and container */
#define FRAME_FLAG_CONTAINER         0x0004u
#define FRAME_FLAG_RESPONSE_MASK     0x0030u
#define FRAME_FLAG_RESPONSE_EXPECTED 0x0010u

typedef enum {
  FRAME_OK = 0,
  FRAME_AGAIN = -1,               /* parser: all input used, need more */
  FRAME_ERR_ARGUMENT = -2,        /* NULL pointer, bad field value */
  FRAME_ERR_BUFFER = -3,          /* caller's output buffer too small */
  FRAME_ERR_TRUNCATED = -4,       /* input ends inside a message */
  FRAME_ERR_SIGNATURE = -5,       /* no known signature at the start */
  FRAME_ERR_SESSION_VERSION = -6, /* known signature, unknown S-version */
  FRAME_ERR_APP_VERSION = -7,     /* A-protocol version not FFD 1.2 */
  FRAME_ERR_OVERSIZE = -8,        /* container length > 32 KiB */
  FRAME_ERR_FLAGS = -9,           /* reserved CRC mode, or container bit
                                     disagrees with the length */
  FRAME_ERR_SESSION_CRC = -10,
  FRAME_ERR_CONTAINER_LENGTH = -11, /* container length field disagrees
                                       with the session header, or the
                                       container is shorter than its
                                       header */
  FRAME_ERR_MESSAGE_TYPE = -12,     /* neither 0xA5 nor 0x5A */
  FRAME_ERR_CONTAINER_VERSION = -13,
  FRAME_ERR_CONTAINER_CRC = -14,
  FRAME_ERR_TRAILER = -15 /* frame_document_split: the body is not one
                             document TLV, alone or with a 10-byte trailer */
} frame_rc_t;

/* The three peers. Each has its signature and version bytes in a table
** (frame_profile_info), so a changed version is a one-line edit. */
typedef enum {
  FRAME_PROFILE_OFD = 0,
  FRAME_PROFILE_OISM = 1,
  FRAME_PROFILE_KEYS = 2
} frame_profile_t;
#define FRAME_PROFILE_COUNT 3

typedef struct {
  frame_profile_t profile;
  const char *name;           /* "OFD", "OISM", "keys" */
  uint8_t signature[4];       /* as on the wire */
  uint8_t session_version[2]; /* as on the wire */
  uint8_t app_version[2];     /* as on the wire */
} frame_profile_info_t;

/* One message. For frame_encode() the caller fills the fields marked "in";
** frame_decode() and the parser fill them all. Pointers returned by the
** decoders are borrowed from the decoded buffer (or from the parser) and
** live as long as it does (for the parser: until the next feed call). */
typedef struct {
  frame_profile_t profile;              /* in */
  char fn_number[FRAME_FN_NUMBER_SIZE]; /* in; not NUL-ended */
  /* in: CRC mode and response bits; frame_encode() sets or clears
  ** FRAME_FLAG_CONTAINER itself from has_container. */
  uint16_t flags;
  /* in: 00 00 means the profile's own (01 20, FFD 1.2); out: as received
  ** (frame_app_version_known() lists what is accepted). */
  uint8_t app_version[2];
  int has_container; /* in: 0 or 1 */
  /* in: 0 means FRAME_MESSAGE_TYPE (0xA5); out: 0xA5 or 0x5A as received. */
  uint8_t message_type;
  /* Container header fields (meaningful when has_container). */
  uint8_t document_type;                         /* in */
  uint8_t service1[2];                           /* in */
  uint8_t container_fn[FRAME_CONTAINER_FN_SIZE]; /* in */
  uint32_t document_number;                      /* in; <= 0xFFFFFF */
  uint8_t service2[12];                          /* in */
  const uint8_t *body;                           /* in: document TLV */
  size_t body_len;                               /* in: <= FRAME_BODY_MAX */
  /* Out only: the whole container (header + body) as received, the part
  ** the till hands to the FN. NULL/0 when there is no container. */
  const uint8_t *container;
  size_t container_len;
} frame_message_t;

/* Caller-allocated streaming parser (about 33 KiB: put it in a struct or
** on the heap, not on a small thread stack). The fields are private: use
** the functions below. */
typedef struct {
  uint8_t buf[FRAME_MESSAGE_MAX];
  size_t fill;      /* bytes held in buf */
  size_t frame_len; /* whole length once the header passed, else 0 */
  int delivered;    /* buf starts with the message handed out last */
  uint64_t skipped; /* bytes thrown away: garbage and bad frames */
} frame_parser_t;

/* CRC-16/CCITT-FALSE: poly 0x1021, init 0xFFFF, no reflection, xorout 0;
** "123456789" gives 0x29B1. frame_crc16_update() continues a running CRC
** (start from FRAME_CRC16_INIT); frame_crc16() is a whole buffer. data
** may be NULL when len is 0. */
#define FRAME_CRC16_INIT 0xFFFFu
uint16_t frame_crc16_update(uint16_t crc, const uint8_t *data, size_t len);
uint16_t frame_crc16(const uint8_t *data, size_t len);

/* The profile table entry, or NULL for a value outside the enum. */
const frame_profile_info_t *frame_profile_info(frame_profile_t profile);

/* Whether a session header may carry A-protocol version v (as on the
** wire) for profile: the profile's own (01 20), and for the OFD profile
** also 00 01, which the only published real session header carries. */
int frame_app_version_known(frame_profile_t profile, const uint8_t v[2]);

/*
** The document and the trailer of a container body. A real container
** (the FN's request and the OFD's answer alike) carries FRAME_TRAILER_SIZE
** bytes after the document; what kassa sent before carried none. So body
** must be one TLV (tag and length, little-endian, as fiscal/ reads them)
** followed by nothing or by exactly FRAME_TRAILER_SIZE bytes. On success
** stores the document's length (4 + its length field) in *document_len and
** the trailer's (0 or 10) in *trailer_len and returns 0; otherwise
** FRAME_ERR_TRAILER (FRAME_ERR_ARGUMENT for NULLs). The trailer is opaque
** here: frame.c's essay says what is known of it.
*/
int frame_document_split(const uint8_t *body, size_t body_len, size_t *document_len,
                         size_t *trailer_len);

/* Static English text for a frame_rc_t (never NULL). */
const char *frame_strerror(int rc);

/* Encode msg into out[0..cap). On success writes the whole message,
** stores its length in *written and returns 0. Errors: FRAME_ERR_ARGUMENT
** (NULL, unknown profile, CRC mode 3, document number over 24 bits, body
** NULL with body_len > 0, a message type other than 0, 0xA5, 0x5A, an
** A-protocol version frame_app_version_known() refuses), FRAME_ERR_OVERSIZE (body_len >
*FRAME_BODY_MAX),
** FRAME_ERR_BUFFER (cap too small; nothing useful written). */
int frame_encode(const frame_message_t *msg, uint8_t *out, size_t cap, size_t *written);

/* Decode the one message at the start of buf[0..len). On success fills
** *msg (pointers into buf), stores the message's length in *consumed (the
** rest of buf is not looked at) and returns 0. Otherwise returns the first
** fault in wire order; input that ends before the message does gives
** FRAME_ERR_TRUNCATED once the bytes present pass what can be checked
** without the rest (the signature; from 30 bytes on, the whole session
** header). Never reads outside buf[0..len). */
int frame_decode(const uint8_t *buf, size_t len, frame_message_t *msg, size_t *consumed);

/* Make p an empty parser. Call once before the first feed; again to drop
** whatever it holds. */
void frame_parser_init(frame_parser_t *p);

/* Feed data[0..len) (len may be 0; data may then be NULL). Consumes bytes
** until a message is complete, a frame is rejected, or the input and the
** parser's own buffer can make no more progress; *used says how many bytes
** of data were taken. Returns:
**   0            *msg holds a validated message, valid until the next
**                call on p;
**   FRAME_AGAIN  everything usable was consumed; feed more when it comes;
**   FRAME_ERR_*  a candidate frame was rejected (wrong version, oversize
**                length, bad CRC, ...); its bytes are counted as skipped
**                and the parser has already moved on to the next
**                signature.
** So call it in a loop, advancing data by *used, until FRAME_AGAIN: a
** rejected frame can leave a whole good message in the buffer. */
int frame_parser_feed(frame_parser_t *p, const uint8_t *data, size_t len, size_t *used,
                      frame_message_t *msg);

/* End of stream: returns 0 if no partial frame is held, else
** FRAME_ERR_TRUNCATED; either way the parser is emptied (the partial bytes
** count as skipped) and can take a new stream. */
int frame_parser_finish(frame_parser_t *p);

/* Bytes thrown away since init: garbage before signatures, rejected
** frames, a partial frame at finish. Delivered + skipped + pending = fed. */
uint64_t frame_parser_skipped(const frame_parser_t *p);

/* Bytes of a not yet complete frame held by the parser. */
size_t frame_parser_pending(const frame_parser_t *p);

#endif /* KASSA_OFD_FRAME_H */
