/*
** transport_wedge.c: scans from a keyboard-wedge scanner.
**
** The cheapest scanners, and many configured out of the box, pretend to be
** a keyboard: each scan arrives as keystrokes, mixed with whatever the
** cashier types, through whatever keyboard layout is active. Three things
** go wrong on the way, and this backend undoes what can be undone:
**
** 1. Typing and scanning share one stream. A scanner "types" a whole code
**    in a burst, a few milliseconds per key; a person types a key every
**    hundred milliseconds or so. So keys closer together than key_gap_ms
**    (40 ms by default) form one burst; a burst ends at Enter, Tab or a
**    pause; a burst of at least min_length characters (8) is a scan and
**    anything shorter is typing, dropped. Scanners can also be set to send
**    a prefix; when one is configured, only bursts holding it are scans.
**    Input that is not a terminal (a pipe) carries no timing: every line
**    of min_length or more is a scan.
** 2. The keyboard layout. With a Russian layout active, the scanner's key
**    presses come out Cyrillic, and punctuation moves. When a burst holds
**    any Cyrillic letter, every character is mapped back through the
**    layout table (layout.h); the mapping is exact.
** 3. GS (0x1D). A marking code needs its group separators, but a
**    keyboard has no GS key; scanners send Ctrl+] (which a terminal turns
**    into 0x1D), or a substitute character they are configured for, or
**    nothing. The substitute (gs_substitute) is turned back into GS. When
**    separators are simply missing, the marking-code parser can often put
**    them back from the known layouts of codes; when it cannot
**    (gs_missing), the person setting up the till is told once, in Russian
**    and English, how to configure the scanner.
**
** The terminal is put in raw mode (keys arrive one by one, no echo, Enter
** as CR) but keeps its signal keys, so Ctrl+C still stops `kassa scan`;
** its settings are restored on close.
*/
#include "scanner/layout.h"
#include "scanner/markcode.h"
#include "scanner/transport.h"
#include "scanner/transport_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#define RUN_MAX (SCAN_DATA_MAX * 2) /* UTF-8 Cyrillic takes two bytes a key */

const char transport_wedge_gs_warning[] =
    "Внимание: сканер в режиме клавиатуры не передаёт разделитель GS, и код "
    "маркировки нельзя восстановить. Включите в сканере передачу GS (Ctrl+]) или "
    "замещающий символ и укажите его (--gs-char), либо переведите сканер в режим "
    "HID-POS или виртуального COM-порта.\n"
    "Warning: the keyboard-wedge scanner does not send the GS separator, and the "
    "marking code cannot be restored. Make the scanner send GS (Ctrl+]) or a "
    "substitute character and name it (--gs-char), or switch the scanner to HID-POS "
    "or virtual COM port mode.";

typedef struct wedge_state {
  char *path; /* NULL: standard input */
  char *prefix;
  unsigned key_gap_ms;
  size_t min_length;
  uint32_t gs_substitute;
  void (*warn)(void *ctx, const char *message);
  void *warn_ctx;
  bool warned;

  fd_reader_t reader;
  bool is_tty;
  bool termios_saved;
  struct termios saved;
  bool eof; /* input ended; report it once the last burst is out */

  /* The burst being collected. */
  uint8_t run[RUN_MAX];
  size_t run_len, run_chars;
  bool run_overlong;
  uint64_t last_ms;

  markcode_t mc; /* for the GS check; kept here, it is 3 KiB */
} wedge_state_t;

static bool is_terminator(uint8_t c) { return c == '\r' || c == '\n' || c == '\t'; }

static void run_reset(wedge_state_t *st)
{
  st->run_len = st->run_chars = 0;
  st->run_overlong = false;
}

static void warn_once(wedge_state_t *st)
{
  if (st->warned) return;
  st->warned = true;
  if (st->warn != NULL)
    st->warn(st->warn_ctx, transport_wedge_gs_warning);
  else
    fprintf(stderr, "%s\n", transport_wedge_gs_warning);
}

/* Turn the burst into a scan: layout, prefix, GS substitute. Returns 0
** with *scan filled, TRANSPORT_AGAIN when it is not a scan after all,
** TRANSPORT_OVERLONG. */
static int run_to_scan(wedge_state_t *st, scan_t *scan)
{
  static uint32_t cps[RUN_MAX];
  char text[RUN_MAX + 8];
  size_t ncp = 0, i, n, len = 0, start = 0;
  bool cyrillic = false, has_gs = false;
  uint32_t cp;

  if (st->run_overlong) return TRANSPORT_OVERLONG;
  /* Decode; bytes that are not UTF-8 pass as they are (U+0080..U+00FF
  ** would be wrong, so they are kept as raw bytes, marked by 0x80000000). */
  for (i = 0; i < st->run_len; i += n) {
    n = layout_utf8_decode(st->run + i, st->run_len - i, &cp);
    if (n == 0) {
      cp = 0x80000000u | st->run[i];
      n = 1;
    }
    if (layout_is_cyrillic_letter(cp)) cyrillic = true;
    cps[ncp++] = cp;
  }
  for (i = 0; i < ncp; i++) {
    cp = cps[i];
    if (st->gs_substitute != 0 && cp == st->gs_substitute) {
      cp = 0x1D;
    } else if (cyrillic && (cp & 0x80000000u) == 0) {
      int us = layout_ru_to_us(cp);

      if (us >= 0) cp = (uint32_t)us;
      if (st->gs_substitute != 0 && cp == st->gs_substitute) cp = 0x1D;
    }
    if (cp & 0x80000000u)
      text[len++] = (char)(cp & 0xFFu);
    else
      len += layout_utf8_encode(cp, text + len);
  }
  text[len] = 0;

  if (st->prefix != NULL && *st->prefix != 0) {
    const char *at = strstr(text, st->prefix); /* text holds no NUL from keys */

    if (at == NULL) return TRANSPORT_AGAIN; /* not from the scanner */
    start = (size_t)(at - text) + strlen(st->prefix);
  }
  len -= start;
  if (len == 0) return TRANSPORT_AGAIN;
  if (len > SCAN_DATA_MAX) return TRANSPORT_OVERLONG;
  memcpy(scan->data, text + start, len);
  scan->data[len] = 0;
  scan->length = len;
  scan->aim[0] = 0;
  scan->source[0] = 0;
  if (len >= 3 && scan->data[0] == ']' &&
      ((scan->data[1] >= 'A' && scan->data[1] <= 'Z') ||
       (scan->data[1] >= 'a' && scan->data[1] <= 'z')) &&
      scan->data[2] > 0x20 && scan->data[2] < 0x7F) {
    memcpy(scan->aim, scan->data, 3);
    scan->aim[3] = 0;
  }

  for (i = 0; i < len; i++) has_gs |= scan->data[i] == 0x1D;
  if (!has_gs && !st->warned && len <= MARKCODE_MAX_INPUT &&
      markcode_parse(&st->mc, (const char *)scan->data, len) == MARKCODE_ERR_GS_MISSING)
    warn_once(st);
  return TRANSPORT_OK;
}

/* The burst is over: a scan (0, OVERLONG) or not (TRANSPORT_AGAIN). */
static int run_finish(wedge_state_t *st, scan_t *scan)
{
  int rc = TRANSPORT_AGAIN;

  if (st->run_len > 0 && (st->run_chars >= st->min_length || st->run_overlong))
    rc = run_to_scan(st, scan);
  run_reset(st);
  return rc;
}

/* Take pending bytes until a scan is complete. */
static int wedge_feed(wedge_state_t *st, scan_t *scan)
{
  fd_reader_t *r = &st->reader;
  int rc;

  while (r->pending_pos < r->pending_len) {
    uint8_t c = r->pending[r->pending_pos];
    uint64_t t = r->pending_ms;

    /* Timing means nothing in a pipe: everything arrives at once. */
    if (st->is_tty && st->run_len > 0 && t > st->last_ms && t - st->last_ms > st->key_gap_ms) {
      rc = run_finish(st, scan); /* the byte starts the next burst */
      if (rc != TRANSPORT_AGAIN) return rc;
    }
    r->pending_pos++;
    if (is_terminator(c)) {
      rc = run_finish(st, scan);
      if (rc != TRANSPORT_AGAIN) return rc;
      continue;
    }
    if (st->run_len < sizeof st->run)
      st->run[st->run_len++] = c;
    else
      st->run_overlong = true;
    if ((c & 0xC0u) != 0x80u) st->run_chars++;
    st->last_ms = t;
  }
  return TRANSPORT_AGAIN;
}

static int wedge_open(scanner_transport_t *t)
{
  wedge_state_t *st = transport_backend_state(t);
  struct termios raw;
  int fd;

  run_reset(st);
  st->eof = false;
  if (st->path == NULL) {
    fd = STDIN_FILENO; /* blocking is fine: we read only after poll() */
  } else {
    fd = open(st->path, O_RDONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) return fd_errno_is_gone(errno) ? TRANSPORT_UNPLUGGED : TRANSPORT_ERR_IO;
  }
  st->is_tty = isatty(fd) != 0;
  st->termios_saved = false;
  if (st->is_tty && tcgetattr(fd, &st->saved) == 0) {
    st->termios_saved = true;
    raw = st->saved;
    cfmakeraw(&raw);
    raw.c_lflag |= ISIG; /* Ctrl+C still stops the program */
    raw.c_oflag |= OPOST | ONLCR;
    raw.c_cc[VMIN] = 1;
    raw.c_cc[VTIME] = 0;
    if (tcsetattr(fd, TCSANOW, &raw) != 0) st->termios_saved = false;
  }
  fd_reader_attach(&st->reader, fd);
  return TRANSPORT_OK;
}

static void wedge_close(scanner_transport_t *t)
{
  wedge_state_t *st = transport_backend_state(t);
  int fd = st->reader.fd;

  if (fd < 0) return;
  if (st->termios_saved) (void)tcsetattr(fd, TCSANOW, &st->saved);
  st->termios_saved = false;
  if (st->path != NULL) close(fd);
  fd_reader_detach(&st->reader);
  run_reset(st);
}

static int wedge_read_scan(scanner_transport_t *t, scan_t *scan, int timeout_ms)
{
  wedge_state_t *st = transport_backend_state(t);
  uint64_t deadline = 0, now;
  struct pollfd pfd;
  bool polled = false;
  int rc, wait, gap;

  now = transport_now_ms();
  if (timeout_ms >= 0) deadline = now + (uint64_t)timeout_ms;
  for (;;) {
    rc = wedge_feed(st, scan);
    if (rc != TRANSPORT_AGAIN) return rc;
    if (st->eof) {
      rc = run_finish(st, scan); /* the last line had no Enter */
      return rc == TRANSPORT_AGAIN ? TRANSPORT_UNPLUGGED : rc;
    }
    /* A pause ends a burst that had no Enter. (last_ms may be later than
    ** now: the bytes were read after now was taken.) */
    if (st->is_tty && st->run_len > 0 && now > st->last_ms && now - st->last_ms > st->key_gap_ms) {
      rc = run_finish(st, scan);
      if (rc != TRANSPORT_AGAIN) return rc;
    }
    if (polled && timeout_ms >= 0 && now >= deadline) return TRANSPORT_TIMEOUT;

    wait = timeout_ms < 0 ? -1 : now >= deadline ? 0 : (int)(deadline - now);
    if (st->is_tty && st->run_len > 0) {
      gap = (int)(st->last_ms + st->key_gap_ms + 1 - (now < st->last_ms ? st->last_ms : now));
      if (gap < 0) gap = 0;
      if (wait < 0 || gap < wait) wait = gap;
    }
    pfd.fd = st->reader.fd;
    pfd.events = POLLIN;
    pfd.revents = 0;
    rc = poll(&pfd, 1, wait);
    polled = true;
    now = transport_now_ms();
    if (rc < 0) {
      if (errno == EINTR) continue;
      return TRANSPORT_ERR_IO;
    }
    if (rc == 0) continue;
    rc = pfd.revents & POLLIN ? fd_reader_fill(&st->reader) : 0;
    if (rc > 0) continue;
    if (rc == TRANSPORT_UNPLUGGED || (pfd.revents & (POLLHUP | POLLERR | POLLNVAL))) {
      st->eof = true; /* finish the last burst, then say so */
      continue;
    }
    if (rc < 0) return rc;
  }
}

static void wedge_destroy(void *state)
{
  wedge_state_t *st = state;

  if (st == NULL) return;
  if (st->reader.fd >= 0) {
    if (st->termios_saved) (void)tcsetattr(st->reader.fd, TCSANOW, &st->saved);
    if (st->path != NULL) close(st->reader.fd);
  }
  free(st->path);
  free(st->prefix);
  free(st);
}

static const transport_backend_t wedge_backend = {
    "wedge", wedge_open, wedge_read_scan, wedge_close, wedge_destroy,
};

static char *dup_text(const char *s)
{
  size_t n = strlen(s) + 1;
  char *p = malloc(n);

  if (p != NULL) memcpy(p, s, n);
  return p;
}

int transport_wedge_new(const transport_wedge_options_t *options, scanner_transport_t **out)
{
  static const scan_framing_t unused = {SCAN_FRAME_ANY_SUFFIX, 0};
  wedge_state_t *st = NULL;
  const char *path;
  int rc;

  if (out != NULL) *out = NULL;
  if (options == NULL || out == NULL) return TRANSPORT_ERR_ARGUMENT;
  if (options->gs_substitute == '\r' || options->gs_substitute == '\n' ||
      options->gs_substitute == '\t' || options->gs_substitute > 0x10FFFF)
    return TRANSPORT_ERR_ARGUMENT;
  st = calloc(1, sizeof *st);
  if (st == NULL) return TRANSPORT_ERR_NO_MEMORY;
  fd_reader_detach(&st->reader);
  path = options->path;
  if (path != NULL && *path != 0 && strcmp(path, "-") != 0) {
    st->path = dup_text(path);
    if (st->path == NULL) {
      rc = TRANSPORT_ERR_NO_MEMORY;
      goto fail;
    }
  }
  if (options->prefix != NULL && *options->prefix != 0) {
    st->prefix = dup_text(options->prefix);
    if (st->prefix == NULL) {
      rc = TRANSPORT_ERR_NO_MEMORY;
      goto fail;
    }
  }
  st->key_gap_ms = options->key_gap_ms ? options->key_gap_ms : WEDGE_KEY_GAP_MS;
  st->min_length = options->min_length ? options->min_length : WEDGE_MIN_LENGTH;
  st->gs_substitute = options->gs_substitute;
  st->warn = options->warn;
  st->warn_ctx = options->warn_ctx;
  const char *where = st->path != NULL ? st->path : "stdin";
  char name[SCAN_SOURCE_SIZE];
  snprintf(name, sizeof name, "%s", where); /* st belongs to the handle after the call */
  if ((rc = transport_new(&wedge_backend, st, &unused, out)) == TRANSPORT_OK)
    transport_set_description(*out, "wedge:%s", name);
  return rc;

fail:
  wedge_destroy(st);
  return rc;
}
