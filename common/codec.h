/*
** common/codec.h: base64 and hex, one of each, for every module.
**
** Base64 is RFC 4648's standard alphabet with '=' padding, the form every
** kassa format uses (batch files, tickets in JSON, label pictures). OpenSSL's
** EVP block functions do the work; decoding is strict about input from
** outside: only the alphabet, a length that is a multiple of 4, padding
** only at the end (at most two '='), zero bits after the last byte (so a
** value has one spelling), no white space. EVP_DecodeBlock alone
** would forgive white space and count the padding as zero bytes.
**
** Hex comes in two kinds, and each has one rule:
**   - a byte string (a signature, a key, a cursor): what kassa writes is
**     lower case, and a byte string read from outside must be spelled the
**     same way (codec_hex_decode), so one value has one spelling;
**   - a hex number a person or a protocol writes (a USB VID:PID, a %HH URL
**     escape, a \xNN in a typed code): either case (codec_hex_digit).
** Upper-case output exists for the FNS JSON form of documents.
*/
#ifndef KASSA_COMMON_CODEC_H
#define KASSA_COMMON_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Characters codec_base64_encode_to() writes for len bytes (no NUL). */
#define CODEC_BASE64_LEN(len) (4 * (((len) + 2) / 3))

/* Writes the base64 of data[0..len) and a NUL into out, which holds at
** least CODEC_BASE64_LEN(len) + 1 bytes; returns the characters written.
** len must not exceed INT32_MAX / 2 (0 is written for more). */
size_t codec_base64_encode_to(const void *data, size_t len, char *out);

/* The base64 of data[0..len) in a malloc'd NUL-terminated string ("" for
** len 0); NULL when out of memory or len is over INT32_MAX / 2. */
char *codec_base64_encode(const void *data, size_t len);

/* Decodes text[0..len) (strict, see above) into out[0..cap); *out_len gets
** the byte count. false when the text is not strict base64 or does not fit;
** out is then unspecified. */
bool codec_base64_decode_to(const char *text, size_t len, uint8_t *out, size_t cap,
                            size_t *out_len);

/* The same into a malloc'd buffer (*out, free it; never NULL on success,
** even for an empty text). 0, or -1 (not strict base64, out of memory)
** with *out NULL and *out_len 0. */
int codec_base64_decode(const char *text, size_t len, uint8_t **out, size_t *out_len);

typedef enum codec_hex_case {
  CODEC_HEX_LOWER = 0, /* what kassa writes for byte strings */
  CODEC_HEX_UPPER = 1, /* the FNS JSON form */
} codec_hex_case_t;

/* Writes 2 * len hex digits and a NUL into out (2 * len + 1 bytes). */
void codec_hex_encode(const void *data, size_t len, codec_hex_case_t hex_case, char *out);

/* The value of one hex digit in either case, or -1. */
int codec_hex_digit(char c);

/* Decodes exactly 2 * len lower-case hex digits text[0..text_len) into
** out[0..len); false for any other length or character. */
bool codec_hex_decode(const char *text, size_t text_len, uint8_t *out, size_t len);

/*
** Percent escapes as RFC 1738 writes them in a URL (the local module's
** cis strings): decode turns every %HH into its byte, except %00, which
** stays as written (a NUL would cut the C string), into out (cap bytes,
** NUL-terminated, cut to fit); it returns the length written. encode
** escapes every byte but letters, digits and - _ . ! * ' ( ) as %HH in
** upper case: malloc'd, NULL when out of memory or text is NULL.
*/
size_t codec_percent_decode(const char *text, char *out, size_t cap);
char *codec_percent_encode(const char *text);

#endif /* KASSA_COMMON_CODEC_H */
