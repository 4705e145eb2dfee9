/*
** fiscal/tlv.h: the FFD 1.2 TLV codec.
**
** Every fiscal document the register produces or receives travels as TLV:
** a 16-bit tag, a 16-bit length (both little-endian) and the value. A value
** is one of a few types (a byte, fixed-size integers, variable-length
** numbers, CP866 text, raw bytes, or a nested list: an STLV), and a whole
** document is an STLV whose tag is its form code (3 for a receipt). The law
** fixes the type and the maximum length of each tag, so the codec keeps a
** dictionary of tags and refuses what the format forbids, both when it
** writes and when it reads.
**
** The writer appends into a buffer the caller owns; it never allocates, so
** a document can be built on the stack of a till that must not run out of
** memory in the middle of a sale. Every put either succeeds or leaves the
** written bytes, the length and the open STLVs exactly as they were, so a
** caller can, for example, drop one receipt line that does not fit and go
** on with the others.
**
** The reader never trusts a length it reads. A document comes from the
** fiscal storage, the network, or a disk that may be damaged; a length
** past the end, a header cut short or nesting deeper than TLV_MAX_DEPTH is
** refused with its own error and the position of the fault, never read
** through.
**
** Text is converted between UTF-8 (the rest of the program) and CP866 (the
** wire) with iconv. Text with no CP866 form (say, a euro sign) is refused,
** never replaced, because the printed receipt and the one in the tax
** service must say the same thing.
**
** All functions return 0 or a negative tlv_error_t; tlv_error_code() and
** tlv_error_message() turn one into a stable code and an English sentence.
** Nothing here keeps global state; the functions are thread-safe as long
** as each writer or reader is used by one thread at a time.
*/
#ifndef KASSA_FISCAL_TLV_H
#define KASSA_FISCAL_TLV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Bytes in a TLV header: tag (2) and length (2). */
#define TLV_HEADER_SIZE 4

/*
** The deepest nesting of STLVs the codec writes or reads. A receipt needs
** three levels (document 3, item 1059, product code 1163 inside it); one
** more is kept spare. A fixed limit bounds the recursion a hostile
** document can cause.
*/
#define TLV_MAX_DEPTH 4

/* A UTF-8 buffer that can hold any CP866 string of n bytes, with its NUL:
** no CP866 character takes more than three bytes of UTF-8. */
#define TLV_STRING_UTF8_SIZE(n) (3u * (size_t)(n) + 1u)

typedef enum tlv_error {
  TLV_OK = 0,
  TLV_ERR_ARGUMENT = -1,          /* a NULL pointer or an impossible argument */
  TLV_ERR_NO_SPACE = -2,          /* the caller's buffer is too small */
  TLV_ERR_UNKNOWN_TAG = -3,       /* the dictionary does not know the tag */
  TLV_ERR_WRONG_TYPE = -4,        /* the tag has another type than the call */
  TLV_ERR_VALUE_TOO_LONG = -5,    /* the value is longer than its tag allows */
  TLV_ERR_BAD_LENGTH = -6,        /* the length is not one its type or tag allows */
  TLV_ERR_STLV_TOO_LONG = -7,     /* a document or nested STLV would pass its limit */
  TLV_ERR_TOO_DEEP = -8,          /* STLVs nested deeper than TLV_MAX_DEPTH */
  TLV_ERR_NOT_OPEN = -9,          /* end or cancel with no STLV open */
  TLV_ERR_STILL_OPEN = -10,       /* finish with an STLV still open */
  TLV_ERR_TRUNCATED_HEADER = -11, /* fewer than 4 bytes left for a header */
  TLV_ERR_LENGTH_PAST_END = -12,  /* a length runs past the end of its buffer */
  TLV_ERR_NOT_CP866 = -13,        /* text has a character with no CP866 form */
  TLV_ERR_BAD_UTF8 = -14,         /* text is not valid UTF-8 */
  TLV_ERR_CHARSET = -15,          /* iconv cannot convert CP866 on this system */
  TLV_ERR_END = -16               /* the reader has no more items (not a fault) */
} tlv_error_t;

/* A stable lower-case code for an error ("length_past_end"), for logs and
** JSON. Never NULL; "unknown" for a value that is not a tlv_error_t. */
const char *tlv_error_code(int error);

/* An English sentence that says what went wrong. Never NULL. */
const char *tlv_error_message(int error);

/* ---------------------------------------------------------------------- */
/* The tag dictionary                                                      */

typedef enum tlv_type {
  TLV_TYPE_BYTE = 1, /* 1 byte: flags, codes, booleans */
  TLV_TYPE_UINT16,   /* 2 bytes, little-endian */
  TLV_TYPE_UINT32,   /* 4 bytes, little-endian */
  TLV_TYPE_VLN,      /* unsigned, little-endian, trailing zero bytes dropped */
  TLV_TYPE_FVLN,     /* a byte of decimal places, then a VLN mantissa */
  TLV_TYPE_UNIXTIME, /* uint32 seconds, little-endian */
  TLV_TYPE_STRING,   /* CP866 text, no terminator */
  TLV_TYPE_BYTES,    /* opaque bytes (BYTE[n]) */
  TLV_TYPE_STLV      /* a list of TLVs */
} tlv_type_t;

/* tlv_tag_info_t.flags */
#define TLV_TAG_DOCUMENT       0x1u /* a form code: the tag of a whole document */
#define TLV_TAG_JSON_NAME_OURS 0x2u /* json_name chosen here, not seen in FNS JSON */
#define TLV_TAG_NUMBER_OURS    0x4u /* [open] a private stand-in for an FNS tag not yet confirmed */

typedef struct tlv_tag_info {
  uint16_t tag;
  tlv_type_t type;
  uint16_t min_length; /* value bytes; equal to max_length when fixed */
  uint16_t max_length;
  const char *json_name;    /* the key in the tax service's JSON */
  const char *russian_name; /* the requisite's name in the format tables */
  unsigned flags;           /* TLV_TAG_* */
} tlv_tag_info_t;

/* The dictionary entry of a tag, or NULL when the codec does not know it.
** O(log n). The entry is static: never freed, valid for the program's life. */
const tlv_tag_info_t *tlv_tag_lookup(uint16_t tag);

/* The number of entries, and entry i (0 <= i < count, in increasing tag
** order; NULL when i is out of range), for code that lists them all. */
size_t tlv_tag_count(void);
const tlv_tag_info_t *tlv_tag_at(size_t index);

/* "BYTE", "UINT32", "STLV"...; "unknown" for other values. */
const char *tlv_type_name(tlv_type_t type);

/* A decimal fraction as FVLN carries it: mantissa / 10^scale.
** 1.000 is {1000, 3} and goes on the wire as 03 E8 03. */
typedef struct tlv_fvln {
  uint64_t mantissa;
  uint8_t scale;
} tlv_fvln_t;

/* ---------------------------------------------------------------------- */
/* The writer                                                              */

/*
** Appends TLVs to a buffer the caller owns. Fields are public so a writer
** can live on the stack and a caller can read fault_tag and
** fault_position after an error; change them only through the functions
** below.
*/
typedef struct tlv_writer {
  uint8_t *buffer;
  size_t capacity;
  size_t length;                     /* bytes written so far */
  size_t open_offset[TLV_MAX_DEPTH]; /* header offset of each open STLV */
  uint16_t open_tag[TLV_MAX_DEPTH];
  unsigned depth;        /* STLVs open now */
  uint16_t fault_tag;    /* after an error: the tag at fault */
  size_t fault_position; /* after a text error: byte offset in the text */
} tlv_writer_t;

/* Starts an empty writer over buffer[0..capacity). The buffer is borrowed:
** it must outlive the writer, and the caller frees it. */
void tlv_writer_init(tlv_writer_t *writer, uint8_t *buffer, size_t capacity);

/* Bytes written so far (including headers of STLVs still open). */
size_t tlv_writer_length(const tlv_writer_t *writer);

/* Checks that every STLV is closed and gives the length of the finished
** encoding in *length. TLV_ERR_STILL_OPEN otherwise. */
int tlv_writer_finish(const tlv_writer_t *writer, size_t *length);

/*
** Opens an STLV: writes its header and makes the following puts its
** content until tlv_end_stlv(). The tag must be an STLV in the dictionary
** (a form code, 1059, 1163, ...). TLV_ERR_TOO_DEEP when TLV_MAX_DEPTH are
** already open.
*/
int tlv_begin_stlv(tlv_writer_t *writer, uint16_t tag);

/* Closes the innermost open STLV and writes its length into its header. */
int tlv_end_stlv(tlv_writer_t *writer);

/* Drops the innermost open STLV and all that was written into it, as if
** tlv_begin_stlv() had never been called. */
int tlv_cancel_stlv(tlv_writer_t *writer);

/*
** Typed puts. Each checks that the tag is in the dictionary with this type
** (TLV_ERR_UNKNOWN_TAG, TLV_ERR_WRONG_TYPE), that the value fits the tag's
** length limits (TLV_ERR_VALUE_TOO_LONG, TLV_ERR_BAD_LENGTH for a value
** shorter than a fixed-size tag needs), that every open STLV stays within
** its own limit (TLV_ERR_STLV_TOO_LONG: a receipt over 32 KiB, an item
** 1059 over 1024 bytes) and that the buffer has room (TLV_ERR_NO_SPACE).
** On any error the writer is unchanged except for fault_tag (and
** fault_position for text).
*/
int tlv_put_byte(tlv_writer_t *writer, uint16_t tag, uint8_t value);
int tlv_put_uint16(tlv_writer_t *writer, uint16_t tag, uint16_t value);
int tlv_put_uint32(tlv_writer_t *writer, uint16_t tag, uint32_t value);
int tlv_put_unixtime(tlv_writer_t *writer, uint16_t tag, uint32_t seconds);

/* VLN: the fewest bytes that hold the value, at least one (0 is 00). */
int tlv_put_vln(tlv_writer_t *writer, uint16_t tag, uint64_t value);

/* FVLN: the scale byte, then the mantissa as a VLN. */
int tlv_put_fvln(tlv_writer_t *writer, uint16_t tag, tlv_fvln_t value);

/*
** STRING: text is UTF-8 of `length` bytes (it need not end with NUL and
** may hold NUL). It is converted to CP866; the tag's limits count CP866
** bytes, that is characters. TLV_ERR_BAD_UTF8 or TLV_ERR_NOT_CP866 set
** fault_position to the byte offset of the first bad character in text.
*/
int tlv_put_string(tlv_writer_t *writer, uint16_t tag, const char *text, size_t length);

/* BYTES: `length` opaque bytes. */
int tlv_put_bytes(tlv_writer_t *writer, uint16_t tag, const uint8_t *data, size_t length);

/*
** Writes a value verbatim, whatever the tag's type: for copying a value
** read elsewhere, or for a tag the dictionary does not know (vendor tags).
** A known tag's length limits still apply.
*/
int tlv_put_raw(tlv_writer_t *writer, uint16_t tag, const uint8_t *value, size_t length);

/* ---------------------------------------------------------------------- */
/* The reader                                                              */

/* One TLV as read. value points into the reader's buffer (borrowed: valid
** while that buffer is). */
typedef struct tlv_item {
  uint16_t tag;
  uint16_t length;
  const uint8_t *value;
  size_t offset;  /* of the header, from the start of the outermost buffer */
  unsigned depth; /* STLVs around this item: 0 at the top level */
} tlv_item_t;

typedef struct tlv_reader {
  const uint8_t *data;
  size_t size;
  size_t position;    /* next header, relative to data */
  size_t base_offset; /* offset of data in the outermost buffer */
  unsigned depth;
  size_t fault_position; /* after an error: offset of the fault in the outermost buffer */
} tlv_reader_t;

/* Starts reading the TLV list in data[0..size). data is borrowed. */
void tlv_reader_init(tlv_reader_t *reader, const uint8_t *data, size_t size);

/* True when every byte has been read without error. */
bool tlv_reader_done(const tlv_reader_t *reader);

/*
** Reads the next item's header and hands out the value in place. Returns
** TLV_ERR_END at the clean end of the list, TLV_ERR_TRUNCATED_HEADER when
** 1-3 bytes are left, TLV_ERR_LENGTH_PAST_END when the length claims more
** bytes than are left. After an error the reader stays where it was.
*/
int tlv_reader_next(tlv_reader_t *reader, tlv_item_t *item);

/*
** Starts a reader over the content of an STLV item. TLV_ERR_TOO_DEEP when
** that would nest more than TLV_MAX_DEPTH STLVs; TLV_ERR_WRONG_TYPE when
** the dictionary knows the tag and it is not an STLV; TLV_ERR_BAD_LENGTH
** when the STLV is longer than its tag allows (an item 1059 over 1024
** bytes). An unknown tag may be entered: the caller decided it is a list.
*/
int tlv_reader_enter(const tlv_item_t *item, tlv_reader_t *child);

/*
** Typed getters. Each checks the value's length against the type (a UINT32
** of 3 bytes is TLV_ERR_BAD_LENGTH) and, for a tag in the dictionary, that
** the tag has this type (TLV_ERR_WRONG_TYPE) and that the length is within
** the tag's limits (TLV_ERR_BAD_LENGTH). Unknown tags are decoded as asked.
** Outputs are written only on success.
*/
int tlv_get_byte(const tlv_item_t *item, uint8_t *value);
int tlv_get_uint16(const tlv_item_t *item, uint16_t *value);
int tlv_get_uint32(const tlv_item_t *item, uint32_t *value);
int tlv_get_unixtime(const tlv_item_t *item, uint32_t *seconds);
int tlv_get_vln(const tlv_item_t *item, uint64_t *value);
int tlv_get_fvln(const tlv_item_t *item, tlv_fvln_t *value);

/* STRING: converts the CP866 value to UTF-8 in text[0..capacity), ends it
** with NUL and gives its length without the NUL in *length. A capacity of
** TLV_STRING_UTF8_SIZE(item->length) always suffices; less may give
** TLV_ERR_NO_SPACE. */
int tlv_get_string(const tlv_item_t *item, char *text, size_t capacity, size_t *length);

/* BYTES: hands out the value in place (borrowed, like item->value). */
int tlv_get_bytes(const tlv_item_t *item, const uint8_t **data, size_t *length);

/*
** Walks data[0..size) as a TLV list, entering every STLV the dictionary
** knows, and checks every header, every nesting level and the length of
** every known tag. Returns the first fault; *fault_position (may be NULL)
** gets its offset. Unknown tags are skipped, not entered.
*/
int tlv_check(const uint8_t *data, size_t size, size_t *fault_position);

#endif /* KASSA_FISCAL_TLV_H */
