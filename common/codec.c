/*
** common/codec.c: base64 through OpenSSL's EVP block functions with the
** strictness they lack, and hex (see codec.h for the rules).
*/
#include "common/codec.h"

#include <openssl/evp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

size_t codec_base64_encode_to(const void *data, size_t len, char *out)
{
  if (len > (size_t)INT32_MAX / 2) len = 0;
  int n = len ? EVP_EncodeBlock((unsigned char *)out, data, (int)len) : 0;
  if (n < 0) n = 0;
  out[n] = '\0';
  return (size_t)n;
}

char *codec_base64_encode(const void *data, size_t len)
{
  if (len > (size_t)INT32_MAX / 2 || (!data && len)) return NULL;
  char *out = malloc(CODEC_BASE64_LEN(len) + 1);
  if (out) codec_base64_encode_to(data, len, out);
  return out;
}

static int base64_value(char c)
{
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  return c == '+' ? 62 : c == '/' ? 63 : -1;
}

/* The number of '=' at the end of text, or -1 when the text breaks the
** strict form (length, alphabet, '=' anywhere but the last two places,
** bits after the last byte that are not zero: RFC 4648 3.5, so one value
** has one spelling). */
static int strict_padding(const char *text, size_t len)
{
  int pad = 0;
  if (len % 4 != 0 || len > (size_t)INT32_MAX) return -1;
  for (size_t i = 0; i < len; i++) {
    if (text[i] == '=' && i + 2 >= len && (i + 1 == len || text[i + 1] == '=')) {
      pad++;
      continue;
    }
    if (base64_value(text[i]) < 0) return -1;
  }
  if (pad == 1 && (base64_value(text[len - 2]) & 0x3) != 0) return -1;
  if (pad == 2 && (base64_value(text[len - 3]) & 0xF) != 0) return -1;
  return pad;
}

bool codec_base64_decode_to(const char *text, size_t len, uint8_t *out, size_t cap, size_t *out_len)
{
  int pad = text ? strict_padding(text, len) : -1;
  if (pad < 0 || len / 4 * 3 > cap + (size_t)pad) return false;
  if (len == 0) {
    *out_len = 0;
    return true;
  }
  /* EVP_DecodeBlock writes whole groups of three, padding included. */
  uint8_t *buf = len / 4 * 3 <= cap ? out : malloc(len / 4 * 3);
  if (!buf) return false;
  int n = EVP_DecodeBlock(buf, (const unsigned char *)text, (int)len);
  bool ok = n >= pad && (size_t)(n - pad) <= cap;
  if (ok) {
    *out_len = (size_t)(n - pad);
    if (buf != out)
      for (size_t i = 0; i < *out_len; i++) out[i] = buf[i];
  }
  if (buf != out) free(buf);
  return ok;
}

int codec_base64_decode(const char *text, size_t len, uint8_t **out, size_t *out_len)
{
  *out = NULL;
  *out_len = 0;
  if (!text || len > (size_t)INT32_MAX) return -1;
  uint8_t *buf = malloc(len / 4 * 3 + 1);
  if (!buf) return -1;
  if (!codec_base64_decode_to(text, len, buf, len / 4 * 3, out_len)) {
    free(buf);
    return -1;
  }
  *out = buf;
  return 0;
}

void codec_hex_encode(const void *data, size_t len, codec_hex_case_t hex_case, char *out)
{
  const char *digits = hex_case == CODEC_HEX_UPPER ? "0123456789ABCDEF" : "0123456789abcdef";
  const uint8_t *bytes = data;
  for (size_t i = 0; i < len; i++) {
    out[2 * i] = digits[bytes[i] >> 4];
    out[2 * i + 1] = digits[bytes[i] & 15];
  }
  out[2 * len] = '\0';
}

int codec_hex_digit(char c)
{
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool codec_hex_decode(const char *text, size_t text_len, uint8_t *out, size_t len)
{
  if (!text || text_len != 2 * len) return false;
  for (size_t i = 0; i < len; i++) {
    char a = text[2 * i], b = text[2 * i + 1];
    if ((a >= 'A' && a <= 'F') || (b >= 'A' && b <= 'F')) return false; /* one spelling */
    int hi = codec_hex_digit(a), lo = codec_hex_digit(b);
    if (hi < 0 || lo < 0) return false;
    out[i] = (uint8_t)(hi << 4 | lo);
  }
  return true;
}

size_t codec_percent_decode(const char *text, char *out, size_t cap)
{
  size_t n = 0;
  int hi, lo;
  if (!out || cap == 0) return 0;
  for (const char *in = text ? text : ""; *in && n + 1 < cap;) {
    if (in[0] == '%' && (hi = codec_hex_digit(in[1])) >= 0 && (lo = codec_hex_digit(in[2])) >= 0 &&
        (hi | lo) != 0) {
      out[n++] = (char)(hi * 16 + lo);
      in += 3;
    } else {
      out[n++] = *in++;
    }
  }
  out[n] = '\0';
  return n;
}

char *codec_percent_encode(const char *text)
{
  static const char digits[] = "0123456789ABCDEF";
  if (!text) return NULL;
  char *out = malloc(strlen(text) * 3 + 1), *o = out;
  if (!out) return NULL;
  for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
    if ((*p >= '0' && *p <= '9') || (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
        strchr("-_.!*'()", *p)) {
      *o++ = (char)*p;
    } else {
      *o++ = '%';
      *o++ = digits[*p >> 4];
      *o++ = digits[*p & 15];
    }
  }
  *o = '\0';
  return out;
}
