/*
** common/text.h: the one UTF-8 validator for every text that enters kassa
** (API bodies, CSV catalogues, the config, scans), and the one escaper for
** text that goes into a log.
**
** Text from outside is either refused where it enters or folded there,
** never stored half-checked: a product name with an invalid byte used to be
** imported and then refused by the fiscal storage at every receipt; an ESC
** or GS in a cashier's name reached fiscal documents and the OFD; a %0a in
** a path wrote forged lines into the service's log. text_check says what is
** wrong with a string (and where), text_log_escape makes any bytes safe for
** one log line.
*/
#ifndef KASSA_COMMON_TEXT_H
#define KASSA_COMMON_TEXT_H

#include <stddef.h>
#include <stdint.h>

/*
** Decodes one UTF-8 sequence at s[0..n): stores the code point and returns
** the number of bytes used (1..4), or 0 for an invalid, overlong, truncated
** or surrogate sequence or one past U+10FFFF (RFC 3629).
*/
size_t text_utf8_decode(const unsigned char *s, size_t n, uint32_t *cp);

typedef enum text_fault {
  TEXT_OK = 0,
  TEXT_BAD_UTF8, /* not UTF-8 */
  TEXT_CONTROL,  /* a C0 or C1 control character or DEL (tab, CR, LF included) */
} text_fault_t;

/*
** Whether s[0..n) is UTF-8 without control characters: TEXT_OK, or the
** fault with the byte offset of the first offending sequence in *at (when
** at is not NULL).
*/
text_fault_t text_check(const char *s, size_t n, size_t *at);

/* The fault's words (Russian, English), for a field's error message. */
const char *text_fault_ru(text_fault_t f);
const char *text_fault_en(text_fault_t f);

/*
** Copies s (NUL-terminated; NULL reads as "") into out[0..size) for one log
** line: valid UTF-8 without controls as it is, a backslash as \\, every
** other byte as \xHH; cut (never inside an escape or a character) to fit.
** Returns out.
*/
char *text_log_escape(const char *s, char *out, size_t size);

#endif /* KASSA_COMMON_TEXT_H */
