/*
** transport.c: the scan framer and the backend-independent handle.
**
** The framer is a small state machine over one scan's bytes. Its only
** subtleties are suffixes of two bytes (CRLF) cut across two reads, which
** is why a CR is held back in cr_pending rather than looked ahead, and a
** scan longer than the buffer, which is remembered as overlong and
** reported once, at its end, so its tail is never taken for a new scan.
**
** The handle is a backend, its state, a framer and one of three states:
** closed (by the caller), open, or unplugged (the device went away or was
** never there). Only "unplugged" makes transport_read_scan() try to reopen,
** so a caller that closed the transport is not surprised by it coming
** back.
*/
#include "scanner/transport.h"

#include <errno.h>
#include <stdarg.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef enum handle_status { STATUS_CLOSED, STATUS_OPEN, STATUS_UNPLUGGED } handle_status_t;

struct scanner_transport {
  const transport_backend_t *backend;
  void *state;
  char description[SCAN_SOURCE_SIZE]; /* transport_set_description() */
  scan_framer_t framer;
  handle_status_t status;
};

/* ---- framer ---- */

int scan_framer_init(scan_framer_t *f, const scan_framing_t *framing)
{
  if (f == NULL || framing == NULL) return TRANSPORT_ERR_ARGUMENT;
  if ((int)framing->mode < SCAN_FRAME_CR || framing->mode > SCAN_FRAME_SILENCE)
    return TRANSPORT_ERR_ARGUMENT;
  if (framing->mode == SCAN_FRAME_SILENCE && framing->gap_ms == 0) return TRANSPORT_ERR_ARGUMENT;
  memset(f, 0, sizeof *f);
  f->framing = *framing;
  return TRANSPORT_OK;
}

void scan_framer_reset(scan_framer_t *f)
{
  if (f == NULL) return;
  f->len = 0;
  f->overlong = false;
  f->cr_pending = false;
}

static bool is_letter(uint8_t c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }

/* Hand out the scan held in f (or report it overlong) and start afresh.
** Returns TRANSPORT_AGAIN for an empty scan, which is no scan. */
static int framer_complete(scan_framer_t *f, scan_t *scan)
{
  bool overlong = f->overlong;
  size_t len = f->len;

  f->len = 0;
  f->overlong = false;
  if (overlong) return TRANSPORT_OVERLONG;
  if (len == 0) return TRANSPORT_AGAIN;

  memcpy(scan->data, f->buf, len);
  scan->data[len] = 0;
  scan->length = len;
  scan->aim[0] = 0;
  scan->source[0] = 0;
  /* AIM identifier: ']', a symbology letter, a modifier character. */
  if (len >= 3 && scan->data[0] == ']' && is_letter(scan->data[1]) && scan->data[2] > 0x20 &&
      scan->data[2] < 0x7F) {
    memcpy(scan->aim, scan->data, 3);
    scan->aim[3] = 0;
  }
  return TRANSPORT_OK;
}

static void framer_append(scan_framer_t *f, uint8_t c)
{
  if (f->len == SCAN_DATA_MAX)
    f->overlong = true; /* keep going to the end, store nothing more */
  else if (!f->overlong)
    f->buf[f->len++] = c;
}

static bool framer_pending(const scan_framer_t *f) { return f->len != 0 || f->overlong; }

/* Take one byte in suffix framing. True when it ended a scan. */
static bool framer_suffix_byte(scan_framer_t *f, uint8_t c)
{
  switch (f->framing.mode) {
  case SCAN_FRAME_CR:
    if (c == '\r') return true;
    break;
  case SCAN_FRAME_LF:
    if (c == '\n') return true;
    break;
  case SCAN_FRAME_TAB:
    if (c == '\t') return true;
    break;
  case SCAN_FRAME_CRLF:
    if (f->cr_pending) {
      f->cr_pending = false;
      if (c == '\n') return true;
      framer_append(f, '\r'); /* the held CR was data after all */
    }
    if (c == '\r') {
      f->cr_pending = true;
      return false;
    }
    break;
  case SCAN_FRAME_ANY_SUFFIX:
    /* The LF of a CRLF ends an empty scan, which is no scan. */
    if (c == '\r' || c == '\n' || c == '\t') return true;
    break;
  case SCAN_FRAME_SILENCE:
    break;
  }
  framer_append(f, c);
  return false;
}

int scan_framer_feed(scan_framer_t *f, const uint8_t *data, size_t len, uint64_t now_ms,
                     size_t *used, scan_t *scan)
{
  size_t i;
  int rc;

  if (used != NULL) *used = 0;
  if (f == NULL || used == NULL || scan == NULL || (data == NULL && len != 0))
    return TRANSPORT_ERR_ARGUMENT;

  for (i = 0; i < len; i++) {
    if (f->framing.mode == SCAN_FRAME_SILENCE) {
      if (scan_framer_wait_ms(f, now_ms) == 0) {
        rc = framer_complete(f, scan);
        if (rc != TRANSPORT_AGAIN) {
          *used = i;
          return rc;
        }
      }
      framer_append(f, data[i]);
      f->last_ms = now_ms;
      continue;
    }
    if (framer_suffix_byte(f, data[i])) {
      rc = framer_complete(f, scan);
      if (rc != TRANSPORT_AGAIN) {
        *used = i + 1;
        return rc;
      }
    }
  }
  *used = len;
  return TRANSPORT_AGAIN;
}

int scan_framer_flush(scan_framer_t *f, uint64_t now_ms, scan_t *scan)
{
  if (f == NULL || scan == NULL) return TRANSPORT_ERR_ARGUMENT;
  if (scan_framer_wait_ms(f, now_ms) != 0) return TRANSPORT_AGAIN;
  return framer_complete(f, scan);
}

int scan_framer_wait_ms(const scan_framer_t *f, uint64_t now_ms)
{
  uint64_t due;

  if (f == NULL || f->framing.mode != SCAN_FRAME_SILENCE || !framer_pending(f)) return -1;
  due = f->last_ms + f->framing.gap_ms;
  if (now_ms >= due) return 0;
  return due - now_ms > INT_MAX ? INT_MAX : (int)(due - now_ms);
}

/* ---- handle ---- */

uint64_t transport_now_ms(void)
{
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void sleep_ms(int ms)
{
  struct timespec ts;

  ts.tv_sec = ms / 1000;
  ts.tv_nsec = (long)(ms % 1000) * 1000000L;
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
    ;
}

int transport_new(const transport_backend_t *backend, void *state, const scan_framing_t *framing,
                  scanner_transport_t **out)
{
  scanner_transport_t *t = NULL;
  int rc;

  if (out != NULL) *out = NULL;
  if (backend == NULL || out == NULL || backend->open == NULL || backend->read_scan == NULL ||
      backend->close == NULL || backend->destroy == NULL) {
    rc = TRANSPORT_ERR_ARGUMENT;
    goto fail;
  }
  t = calloc(1, sizeof *t);
  if (t == NULL) {
    rc = TRANSPORT_ERR_NO_MEMORY;
    goto fail;
  }
  rc = scan_framer_init(&t->framer, framing);
  if (rc != TRANSPORT_OK) goto fail;
  t->backend = backend;
  t->state = state;
  t->status = STATUS_CLOSED;
  *out = t;
  return TRANSPORT_OK;

fail:
  if (backend != NULL && backend->destroy != NULL) backend->destroy(state);
  free(t);
  return rc;
}

void transport_free(scanner_transport_t *t)
{
  if (t == NULL) return;
  transport_close(t);
  t->backend->destroy(t->state);
  free(t);
}

int transport_open(scanner_transport_t *t)
{
  int rc;

  if (t == NULL) return TRANSPORT_ERR_ARGUMENT;
  if (t->status == STATUS_OPEN) t->backend->close(t);
  scan_framer_reset(&t->framer);
  rc = t->backend->open(t);
  if (rc == TRANSPORT_OK)
    t->status = STATUS_OPEN;
  else if (rc == TRANSPORT_UNPLUGGED)
    t->status = STATUS_UNPLUGGED;
  else
    t->status = STATUS_CLOSED;
  return rc;
}

/* Milliseconds left until deadline (-1: no limit), never negative. */
static int remaining_ms(int timeout_ms, uint64_t deadline)
{
  uint64_t now;

  if (timeout_ms < 0) return -1;
  now = transport_now_ms();
  return now >= deadline ? 0 : (int)(deadline - now);
}

int transport_read_scan(scanner_transport_t *t, scan_t *scan, int timeout_ms)
{
  uint64_t deadline = 0;
  int rc, left;

  if (t == NULL || scan == NULL) return TRANSPORT_ERR_ARGUMENT;
  if (t->status == STATUS_CLOSED) return TRANSPORT_ERR_NOT_OPEN;
  if (timeout_ms >= 0) deadline = transport_now_ms() + (uint64_t)timeout_ms;

  while (t->status == STATUS_UNPLUGGED) {
    scan_framer_reset(&t->framer);
    rc = t->backend->open(t);
    if (rc == TRANSPORT_OK) {
      t->status = STATUS_OPEN;
      break;
    }
    if (rc != TRANSPORT_UNPLUGGED) return rc; /* stays unplugged: a later call tries again */
    left = remaining_ms(timeout_ms, deadline);
    if (left == 0) return TRANSPORT_UNPLUGGED;
    sleep_ms(left < 0 || left > TRANSPORT_RETRY_MS ? TRANSPORT_RETRY_MS : left);
  }

  rc = t->backend->read_scan(t, scan, remaining_ms(timeout_ms, deadline));
  if (rc == TRANSPORT_OK) {
    snprintf(scan->source, sizeof scan->source, "%s", t->description);
  } else if (rc == TRANSPORT_UNPLUGGED) {
    t->backend->close(t);
    scan_framer_reset(&t->framer);
    t->status = STATUS_UNPLUGGED;
  }
  return rc;
}

void transport_close(scanner_transport_t *t)
{
  if (t == NULL) return;
  if (t->status == STATUS_OPEN) t->backend->close(t);
  scan_framer_reset(&t->framer);
  t->status = STATUS_CLOSED;
}

const char *transport_describe(const scanner_transport_t *t)
{
  return t == NULL ? "" : t->description;
}

void transport_set_description(scanner_transport_t *t, const char *format, ...)
{
  va_list ap;
  if (t == NULL) return;
  va_start(ap, format);
  vsnprintf(t->description, sizeof t->description, format, ap);
  va_end(ap);
}

const char *transport_strerror(int rc)
{
  switch (rc) {
  case TRANSPORT_OK:
    return "ok";
  case TRANSPORT_AGAIN:
    return "no complete scan yet";
  case TRANSPORT_TIMEOUT:
    return "no scan within the timeout";
  case TRANSPORT_UNPLUGGED:
    return "scanner unplugged or not present";
  case TRANSPORT_OVERLONG:
    return "scan longer than 1024 bytes dropped";
  case TRANSPORT_ERR_IO:
    return "input/output error";
  case TRANSPORT_ERR_ARGUMENT:
    return "invalid argument";
  case TRANSPORT_ERR_NOT_OPEN:
    return "transport is closed";
  case TRANSPORT_ERR_NO_MEMORY:
    return "out of memory";
  default:
    return "unknown transport error";
  }
}

void *transport_backend_state(const scanner_transport_t *t) { return t == NULL ? NULL : t->state; }

scan_framer_t *transport_framer(scanner_transport_t *t) { return t == NULL ? NULL : &t->framer; }
