/*
** markcode.h: parse, normalise and validate one scanned marking code.
**
** A scanner hands us one string. Before the till can decide anything it must
** know what that string is: a GS1 DataMatrix marking code (Chestny ZNAK), a
** tobacco pack code, a fur tag, an EGAIS alcohol code, or a plain EAN/ITF
** barcode; and whether the scanner damaged it on the way (lost group
** separators, AIM prefixes, a Russian keyboard layout, Caps Lock).
**
** markcode_parse() repairs what can be repaired without guessing, records
** every repair in `fixes`, refuses what cannot be trusted with a specific
** error, a message for the cashier and the byte position of the fault, and
** derives what the fiscal documents need: the identification part (ki), the
** FFD 1.05 tag 1162 bytes, the FFD 1.2 tag 1163 sub-tag and value, tag 2100
** and the canonical string with real 0x1D separators (tag 2000).
**
** The parser never allocates: the caller owns a markcode_t (about 2 KiB)
** and may reuse it for every scan. Fields are NUL-terminated strings inside
** it. It is reentrant and keeps no global state.
*/
#ifndef KASSA_SCANNER_MARKCODE_H
#define KASSA_SCANNER_MARKCODE_H

#include <stddef.h>
#include <stdint.h>

#define MARKCODE_MAX_INPUT 512 /* longer input is refused (too_long) */
#define MARKCODE_MAX_AIS   16  /* application identifiers kept per code */
#define MARKCODE_GS        '\x1d'

typedef enum markcode_kind {
  MARKCODE_KIND_NONE = 0,
  MARKCODE_KIND_GS1,          /* GS1 DataMatrix: 01 GTIN 21 serial ...     */
  MARKCODE_KIND_TOBACCO_PACK, /* 29 chars, no AIs: GTIN serial MRP check   */
  MARKCODE_KIND_FUR,          /* RU-NNNNNN-AAANNNNNNN                      */
  MARKCODE_KIND_EGAIS2,       /* EGAIS 2.0 PDF417, 68 chars                */
  MARKCODE_KIND_EGAIS3,       /* EGAIS 3.0 PDF417, 150 chars               */
  MARKCODE_KIND_EAN13,        /* plain product barcodes, not marks         */
  MARKCODE_KIND_EAN8,
  MARKCODE_KIND_ITF14,
  MARKCODE_KIND__COUNT
} markcode_kind_t;

/* Errors. The string codes (markcode_err_code) are a stable contract used in
** JSON output and by other tools; never renumber or rename them. */
typedef enum markcode_err {
  MARKCODE_OK = 0,
  MARKCODE_ERR_EMPTY,             /* nothing but whitespace                   */
  MARKCODE_ERR_TOO_LONG,          /* more than MARKCODE_MAX_INPUT bytes       */
  MARKCODE_ERR_BAD_UTF8,          /* bytes that are not UTF-8                 */
  MARKCODE_ERR_BAD_CHAR,          /* a character no marking code contains     */
  MARKCODE_ERR_UNKNOWN_FORMAT,    /* not any known kind of code               */
  MARKCODE_ERR_GTIN_FORMAT,       /* GTIN is not 14 digits                    */
  MARKCODE_ERR_GTIN_CHECK,        /* GTIN check digit wrong                   */
  MARKCODE_ERR_GTIN_INDICATOR,    /* not returned since issue 15: a note in fixes */
  MARKCODE_ERR_NO_SERIAL,         /* 01 without 21 where a mark needs one     */
  MARKCODE_ERR_SERIAL_CHARSET,    /* serial outside GS1 charset 82            */
  MARKCODE_ERR_SERIAL_LENGTH,     /* serial empty or over GS1's 20 characters */
  MARKCODE_ERR_KEY_LENGTH,        /* AI 91 must be 4 characters               */
  MARKCODE_ERR_TAIL_LENGTH,       /* 92 must be 44 or 88, 93 must be 4        */
  MARKCODE_ERR_TAIL_CHARSET,      /* 92 is not base64                         */
  MARKCODE_ERR_CAPS_LOCK,         /* letter case destroyed (Caps Lock)        */
  MARKCODE_ERR_TOBACCO_TRUNCATED, /* tobacco pack code shorter than 29        */
  MARKCODE_ERR_TRAILING_GARBAGE,  /* characters after a complete code         */
  MARKCODE_ERR_GS_MISSING,        /* separators lost and no layout restores them */
  MARKCODE_ERR_AI_UNKNOWN,        /* no AI of GS1's table starts there        */
  MARKCODE_ERR_AI_VALUE,          /* an AI's value is malformed (date, digits)*/
  MARKCODE_ERR_AI_DUPLICATE,      /* the same AI twice                        */
  MARKCODE_ERR_CHECK_DIGIT,       /* EAN-13 / EAN-8 / ITF-14 check digit      */
  MARKCODE_ERR_FUR_FORMAT,        /* RU-… fur tag malformed                   */
  MARKCODE_ERR_EGAIS_FORMAT,      /* EGAIS code malformed                     */
  MARKCODE_ERR__COUNT
} markcode_err_t;

/* Repairs applied on the way to the canonical form, as bits in `fixes`. */
typedef enum markcode_fix {
  MARKCODE_FIX_AIM_PREFIX = 1u << 0,      /* ]d2, ]Q3, ]C1 … removed       */
  MARKCODE_FIX_GS_TEXT = 1u << 1,         /* {FNC1} <GS> <FNC1> &#x1D; \u001d \x1d <0x1D> */
  MARKCODE_FIX_GS_ARROW = 1u << 2,        /* U+2194 '↔', CP437 glyph of 0x1D */
  MARKCODE_FIX_GS_E8 = 1u << 3,           /* raw 0xE8 byte (FNC1 in some code pages) */
  MARKCODE_FIX_GS_SPACE = 1u << 4,        /* space used as separator        */
  MARKCODE_FIX_GS_LEADING = 1u << 5,      /* separator(s) before the code   */
  MARKCODE_FIX_GS_TRAILING = 1u << 6,     /* separator(s) after the code    */
  MARKCODE_FIX_BRACKETS = 1u << 7,        /* human-readable (01)…(21)… form */
  MARKCODE_FIX_GS_RESTORED = 1u << 8,     /* lost separators put back by layout */
  MARKCODE_FIX_KEYBOARD_RU = 1u << 9,     /* Russian layout mapped back     */
  MARKCODE_FIX_WHITESPACE = 1u << 10,     /* CR/LF/TAB/spaces around the code */
  MARKCODE_FIX_MRP_UNLABELLED = 1u << 11, /* tobacco block MRP without AI 8005 */
  MARKCODE_FIX_GS_DOUBLED = 1u << 12,     /* two or more separators in a row kept as one */
  /* Notes, not repairs: what a family rule would have said about a code
  ** GS1 accepts. They never refuse a code (issue 15). */
  MARKCODE_FIX_SERIAL_UNUSUAL = 1u << 13, /* serial length no family layout uses */
  MARKCODE_FIX_GTIN_INDICATOR = 1u << 14, /* GTIN indicator digit 1-9 (group pack, import) */
} markcode_fix_t;
#define MARKCODE_FIX__COUNT 15
#define MARKCODE_FIX_NOTES  (MARKCODE_FIX_SERIAL_UNUSUAL | MARKCODE_FIX_GTIN_INDICATOR)

typedef enum markcode_lang { MARKCODE_LANG_RU = 0, MARKCODE_LANG_EN = 1 } markcode_lang_t;

/* One application identifier and its value, both NUL-terminated. */
typedef struct markcode_ai {
  char ai[5];
  char value[91]; /* GS1 values are at most 90 characters */
} markcode_ai_t;

typedef struct markcode {
  /* Outcome. On error only err, err_at, err_detail and aim are meaningful. */
  markcode_err_t err;
  int err_at;          /* byte offset in the input, -1 if none        */
  char err_detail[64]; /* the offending value or count, for messages  */

  markcode_kind_t kind;
  uint32_t fixes;     /* markcode_fix_t bits                         */
  char aim[4];        /* AIM symbology id found, e.g. "]d2", or ""   */
  const char *layout; /* static name of the matched layout, or ""    */

  char gtin[15];                           /* GS1 and tobacco: 14 digits; EAN: its digits */
  char serial[21];                         /* AI 21, or the tobacco pack serial           */
  char key[5];                             /* AI 91 (verification key id), or ""         */
  char tail[89];                           /* AI 92 or 93 (or the pack's check), or ""   */
  char mrp[8];                             /* tobacco: 8005 digits, or the pack's 4 chars */
  char ki[MARKCODE_MAX_INPUT + 1];         /* identification part            */
  char normalized[MARKCODE_MAX_INPUT + 1]; /* canonical, real 0x1D separators */
  size_t normalized_len;

  markcode_ai_t ais[MARKCODE_MAX_AIS]; /* in the order of the code       */
  int ai_count;

  int type2100; /* tag 2100, marking code type                 */
  int tag1163;  /* FFD 1.2 sub-tag of 1163 (1300..1309)        */
  char tag1163_value[MARKCODE_MAX_INPUT + 1];
  uint8_t tag1162[64]; /* FFD 1.05 tag 1162 bytes                     */
  size_t tag1162_len;
} markcode_t;

/*
** Parse `len` bytes of `input` (need not be NUL-terminated) into `out`.
** Returns MARKCODE_OK or the error, which is also in out->err. `out` is
** fully overwritten; on error its derived fields are empty.
*/
markcode_err_t markcode_parse(markcode_t *out, const char *input, size_t len);

/*
** The same parse without its fast path: every stage run in full (the
** cleaning, the classification, the cut, the validation). markcode_parse()
** first reads a clean scan once and takes a GS1 code whose separators
** delimit its fields straight through, falling back to these stages for
** anything else; both must give the same markcode_t on every input. For
** the tests and the fuzzer that hold them to it.
*/
markcode_err_t markcode_parse_full(markcode_t *out, const char *input, size_t len);

/* Do two parses agree in every field the contract shows (outcome, error
** and position, kind, fixes, AIM, layout, every string, the AIs, the tags)?
** Bytes past a string's end are not compared. */
int markcode_same(const markcode_t *a, const markcode_t *b);

/* The stable string code of an error, e.g. "gtin_check_digit". */
const char *markcode_err_code(markcode_err_t err);

/* The stable kind name used in JSON: "gs1", "tobacco_pack", … ("" for none). */
const char *markcode_kind_name(markcode_kind_t kind);

/* The stable name of one fix bit, e.g. "gs_restored"; NULL for an unknown bit. */
const char *markcode_fix_name(markcode_fix_t fix);

/*
** Write the message for a person about mc's error into buf (always
** NUL-terminated, truncated to size). Russian is what a cashier reads;
** English is for integrators and logs. Returns buf.
*/
const char *markcode_message(const markcode_t *mc, markcode_lang_t lang, char *buf, size_t size);

/* The value of an AI in a parsed code, or NULL when absent. */
const char *markcode_ai_value(const markcode_t *mc, const char *ai);

/* Check the constant tables against each other: every row of the GS1 AI
** table against its derived columns (search keys, AI length, predefined
** value length), their order, and every layout's AIs against the table.
** Returns 0, or the 1-based row of the first bad AI row, or minus the
** 1-based index of a layout naming an AI the table lacks, or
** MARKCODE_TABLES_BAD_INDEX when the two-digit index of the table, or
** MARKCODE_TABLES_BAD_ROLE when the switch naming the AIs a marking code
** uses, disagrees with a plain search for some 2-4 digit AI, or
** MARKCODE_TABLES_BAD_MESSAGE, or MARKCODE_TABLES_BAD_LAYOUT_CHECKS when
** the quick path's checks made from the layouts (what may end or start
** one) do not fit their table or judge a layout with a bare slot by its
** AIs alone, or MARKCODE_TABLES_BAD_KEYBOARD when the quick decode of a
** scan under the Russian layout would not keep a digit or a Latin letter
** as it is (its sixteen-byte steps assume it). For tests. */
#define MARKCODE_TABLES_BAD_LAYOUT_CHECKS 10003
#define MARKCODE_TABLES_BAD_KEYBOARD      10004
#define MARKCODE_TABLES_BAD_INDEX         10000
#define MARKCODE_TABLES_BAD_ROLE          10001
#define MARKCODE_TABLES_BAD_MESSAGE                                                                \
  10002 /* a message template with a '%' other than one %s,                                        \
            or an error detail formatted unlike vsnprintf */
int markcode_tables_check(void);

/* GS1 mod-10 check digit test over a digit string of length n (n >= 2). */
int markcode_gs1_check_ok(const char *digits, size_t n);

#endif
