/*
** transport_fd.c: scans from a file descriptor (a tty, a pty, a FIFO).
**
** The simplest backend and the one the tests drive: open a path
** non-blocking, put it in raw mode if it is a tty (no echo, no CR->LF
** translation, no line editing: the framer, not the kernel, decides where
** a scan ends), then poll() and read() whatever comes and feed the framer.
** It is also the model for the serial backend: libserialport refuses
** ptys and its non-blocking read returns 0 both for "nothing yet" and for
** "gone", so that backend will poll the port's fd the same way.
**
** Unplug detection: poll() reports POLLHUP or POLLERR when a tty goes away
** (a USB CDC device unplugged, a pty master closed); that is the signal.
** What the device queued before it went is read first, so a scan that
** arrived whole is not lost. A read() of 0 bytes or EIO also means the
** end (a FIFO's writer gone, a driver that shows the hang-up only there),
** but only after poll() said readable: then 0 bytes cannot mean "nothing
** yet", the ambiguity libserialport's read has. (Linux ptys, for the
** record, discard unread input when the master closes and report
** POLLIN|POLLERR|POLLHUP, then read() 0.)
*/
#include "scanner/transport.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#define READ_CHUNK 4096

typedef struct fd_state {
  char *path;
  char description[SCAN_SOURCE_SIZE];
  int fd;
  bool is_tty;
  bool termios_saved;
  struct termios saved;
  /* Bytes read but not yet framed: one read can hold several scans. */
  uint8_t pending[READ_CHUNK];
  size_t pending_pos, pending_len;
  uint64_t pending_ms; /* when they arrived, for silence framing */
} fd_state_t;

/* errno values that mean the device is not there, or no longer. */
static bool errno_is_gone(int e) { return e == ENOENT || e == ENXIO || e == ENODEV || e == EIO; }

static int fd_open(scanner_transport_t *t)
{
  fd_state_t *st = transport_backend_state(t);
  struct termios raw;
  int fd, rc;

  fd = open(st->path, O_RDONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return errno_is_gone(errno) ? TRANSPORT_UNPLUGGED : TRANSPORT_ERR_IO;

  st->is_tty = isatty(fd) != 0;
  st->termios_saved = false;
  if (st->is_tty) {
    if (tcgetattr(fd, &st->saved) != 0) goto fail;
    st->termios_saved = true;
    raw = st->saved;
    cfmakeraw(&raw);
    raw.c_cflag |= CLOCAL | CREAD;
    raw.c_cc[VMIN] = 1;
    raw.c_cc[VTIME] = 0;
    if (tcsetattr(fd, TCSANOW, &raw) != 0) goto fail;
  }
  st->fd = fd;
  st->pending_pos = st->pending_len = 0;
  return TRANSPORT_OK;

fail:
  rc = errno_is_gone(errno) ? TRANSPORT_UNPLUGGED : TRANSPORT_ERR_IO;
  close(fd);
  return rc;
}

static void fd_close(scanner_transport_t *t)
{
  fd_state_t *st = transport_backend_state(t);

  if (st->fd < 0) return;
  /* Leave the tty as we found it; fails harmlessly after an unplug. */
  if (st->is_tty && st->termios_saved) (void)tcsetattr(st->fd, TCSANOW, &st->saved);
  close(st->fd);
  st->fd = -1;
  st->pending_pos = st->pending_len = 0;
}

/* Read what the fd has into pending. Returns the number of bytes read
** (0: none yet, EAGAIN), TRANSPORT_UNPLUGGED (end of file or EIO: only
** called after poll() said readable, so 0 bytes is an end, not "nothing
** yet"), or TRANSPORT_ERR_IO. */
static int fd_fill(fd_state_t *st)
{
  ssize_t n;

  do n = read(st->fd, st->pending, sizeof st->pending);
  while (n < 0 && errno == EINTR);
  if (n > 0) {
    st->pending_pos = 0;
    st->pending_len = (size_t)n;
    st->pending_ms = transport_now_ms();
    return (int)n;
  }
  if (n == 0) return TRANSPORT_UNPLUGGED;
  if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
  return errno_is_gone(errno) ? TRANSPORT_UNPLUGGED : TRANSPORT_ERR_IO;
}

static int fd_read_scan(scanner_transport_t *t, scan_t *scan, int timeout_ms)
{
  fd_state_t *st = transport_backend_state(t);
  scan_framer_t *framer = transport_framer(t);
  uint64_t deadline = 0, now;
  struct pollfd pfd;
  bool polled = false;
  size_t used;
  int rc, wait, gap;

  now = transport_now_ms();
  if (timeout_ms >= 0) deadline = now + (uint64_t)timeout_ms;

  for (;;) {
    if (st->pending_pos < st->pending_len) {
      rc = scan_framer_feed(framer, st->pending + st->pending_pos,
                            st->pending_len - st->pending_pos, st->pending_ms, &used, scan);
      st->pending_pos += used;
      if (rc != TRANSPORT_AGAIN) return rc;
    }
    rc = scan_framer_flush(framer, now, scan);
    if (rc != TRANSPORT_AGAIN) return rc;
    /* Checked here, not only when poll() times out, so a device that
    ** never stops sending (and never ends a scan) cannot hold us. */
    if (polled && timeout_ms >= 0 && now >= deadline) return TRANSPORT_TIMEOUT;

    /* Sleep until data, the end of a silence gap, or the deadline. */
    wait = timeout_ms < 0 ? -1 : now >= deadline ? 0 : (int)(deadline - now);
    gap = scan_framer_wait_ms(framer, now);
    if (gap >= 0 && (wait < 0 || gap < wait)) wait = gap;

    pfd.fd = st->fd;
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
    rc = pfd.revents & POLLIN ? fd_fill(st) : 0;
    if (rc > 0) continue;
    if (pfd.revents & (POLLHUP | POLLERR | POLLNVAL))
      return TRANSPORT_UNPLUGGED; /* gone, and nothing more to read */
    if (rc < 0) return rc;
  }
}

static const char *fd_describe(const scanner_transport_t *t)
{
  const fd_state_t *st = transport_backend_state(t);

  return st->description;
}

static void fd_destroy(void *state)
{
  fd_state_t *st = state;

  if (st == NULL) return;
  if (st->fd >= 0) close(st->fd);
  free(st->path);
  free(st);
}

static const transport_backend_t fd_backend = {
    "fd", fd_open, fd_read_scan, fd_close, fd_describe, fd_destroy,
};

int transport_fd_new(const char *path, const scan_framing_t *framing, scanner_transport_t **out)
{
  fd_state_t *st = NULL;
  size_t len;
  int rc;

  if (out != NULL) *out = NULL;
  if (path == NULL || *path == 0 || out == NULL) {
    rc = TRANSPORT_ERR_ARGUMENT;
    goto fail;
  }
  st = calloc(1, sizeof *st);
  if (st == NULL) {
    rc = TRANSPORT_ERR_NO_MEMORY;
    goto fail;
  }
  st->fd = -1;
  len = strlen(path);
  st->path = malloc(len + 1);
  if (st->path == NULL) {
    rc = TRANSPORT_ERR_NO_MEMORY;
    goto fail;
  }
  memcpy(st->path, path, len + 1);
  snprintf(st->description, sizeof st->description, "fd:%s", path);
  /* From here the handle owns st, on success and on failure alike. */
  return transport_new(&fd_backend, st, framing, out);

fail:
  fd_destroy(st);
  return rc;
}
