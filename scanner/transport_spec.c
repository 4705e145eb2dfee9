/*
** transport_spec.c: device strings, the one way a person names a scanner.
**
** `kassa scan --device ...` and `kassa serve` (from the config) both take
** a short string: serial:/dev/ttyACM0, serial:0c2e:0b61, usb:0c2e:0b61,
** usb, wedge, wedge:/dev/tty3, fd:/tmp/scanner.fifo. This file turns one
** into a transport. It is the only place that knows every backend; the
** core (transport.c) still knows none.
*/
#include "scanner/transport.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/codec.h"

/* Up to 4 hex digits at s into *value; returns how many were used. */
static size_t parse_hex16(const char *s, uint16_t *value)
{
  size_t i = 0;
  unsigned v = 0;

  while (i < 4 && codec_hex_digit(s[i]) >= 0) v = v * 16u + (unsigned)codec_hex_digit(s[i++]);
  if (i > 0 && codec_hex_digit(s[i]) >= 0) return 0; /* more than 4 digits */
  *value = (uint16_t)v;
  return i;
}

size_t transport_parse_usb_id(const char *s, uint16_t *vid, uint16_t *pid)
{
  uint16_t v, p;
  size_t a, b;

  if (s == NULL) return 0;
  a = parse_hex16(s, &v);
  if (a == 0 || s[a] != ':') return 0;
  b = parse_hex16(s + a + 1, &p);
  if (b == 0) return 0;
  if (s[a + 1 + b] != 0 && s[a + 1 + b] != ':') return 0;
  if (vid != NULL) *vid = v;
  if (pid != NULL) *pid = p;
  return a + 1 + b;
}

static void say(char *err, size_t size, const char *fmt, ...)
{
  va_list ap;

  if (err == NULL || size == 0) return;
  va_start(ap, fmt);
  vsnprintf(err, size, fmt, ap);
  va_end(ap);
}

int transport_new_from_spec(const char *spec, const transport_spec_options_t *options,
                            scanner_transport_t **out, char *err, size_t err_size)
{
  static const scan_framing_t any_suffix = {SCAN_FRAME_ANY_SUFFIX, 0};
  transport_wedge_options_t wedge;
  const scan_framing_t *framing = &any_suffix;
  const char *rest;
  unsigned baud = 0;
  int rc;

  if (out != NULL) *out = NULL;
  if (err != NULL && err_size > 0) err[0] = 0;
  if (spec == NULL || out == NULL) {
    say(err, err_size, "no device given");
    return TRANSPORT_ERR_ARGUMENT;
  }
  if (options != NULL) {
    if (options->framing_set) framing = &options->framing;
    baud = options->baud;
    wedge = options->wedge;
  } else {
    memset(&wedge, 0, sizeof wedge);
  }

  if (strncmp(spec, "serial:", 7) == 0) {
    rest = spec + 7;
    if (*rest == 0) {
      say(err, err_size, "serial: needs a port, e.g. serial:/dev/ttyACM0 or serial:0c2e:0b61");
      return TRANSPORT_ERR_ARGUMENT;
    }
    rc = transport_serial_new(rest, baud, framing, out);
  } else if (strcmp(spec, "usb") == 0 || strncmp(spec, "usb:", 4) == 0) {
    rest = spec[3] == ':' ? spec + 4 : "";
    if (*rest != 0 && transport_parse_usb_id(rest, NULL, NULL) != strlen(rest)) {
      say(err, err_size, "usb:%s: expected usb:VID:PID in hex, e.g. usb:0c2e:0b61", rest);
      return TRANSPORT_ERR_ARGUMENT;
    }
    rc = transport_hidpos_new(rest, out);
  } else if (strcmp(spec, "wedge") == 0 || strncmp(spec, "wedge:", 6) == 0) {
    wedge.path = spec[5] == ':' ? spec + 6 : WEDGE_DEFAULT_PATH;
    rc = transport_wedge_new(&wedge, out);
  } else if (strncmp(spec, "fd:", 3) == 0 && spec[3] != 0) {
    rc = transport_fd_new(spec + 3, framing, out);
  } else {
    say(err, err_size,
        "unknown device '%s': use serial:PORT, serial:VID:PID, usb:VID:PID, usb, wedge, "
        "wedge:TTY or fd:PATH",
        spec);
    return TRANSPORT_ERR_ARGUMENT;
  }
  if (rc != TRANSPORT_OK && err != NULL && err_size > 0 && err[0] == 0)
    say(err, err_size, "%s: %s", spec, transport_strerror(rc));
  return rc;
}
