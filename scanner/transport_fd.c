/*
** transport_fd.c: scans from a file descriptor (a tty, a pty, a FIFO),
** and the fd reading loop the other byte-stream backends share.
**
** The simplest backend and the one the tests drive: open a path
** non-blocking, put it in raw mode if it is a tty (no echo, no CR->LF
** translation, no line editing: the framer, not the kernel, decides where
** a scan ends), then poll() and read() whatever comes and feed the framer.
** That loop (fd_reader_*, see transport_internal.h) is also what the
** serial backend runs on the fd libserialport opened, and what the
** keyboard wedge builds on, so a pty test of this backend tests their
** framing and unplug handling too.
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
#include "scanner/transport_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

/* ---- the shared reader ---- */

bool fd_errno_is_gone(int e) { return e == ENOENT || e == ENXIO || e == ENODEV || e == EIO; }

void fd_reader_attach(fd_reader_t *r, int fd)
{
  r->fd = fd;
  r->pending_pos = r->pending_len = 0;
}

void fd_reader_detach(fd_reader_t *r)
{
  r->fd = -1;
  r->pending_pos = r->pending_len = 0;
}

int fd_make_raw(int fd, struct termios *saved, bool *saved_ok)
{
  struct termios raw;

  *saved_ok = false;
  if (!isatty(fd)) return 0;
  if (tcgetattr(fd, saved) != 0) return -1;
  *saved_ok = true;
  raw = *saved;
  cfmakeraw(&raw);
  raw.c_cflag |= CLOCAL | CREAD;
  raw.c_cc[VMIN] = 1;
  raw.c_cc[VTIME] = 0;
  return tcsetattr(fd, TCSANOW, &raw) == 0 ? 0 : -1;
}

int fd_reader_fill(fd_reader_t *r)
{
  ssize_t n;

  do n = read(r->fd, r->pending, sizeof r->pending);
  while (n < 0 && errno == EINTR);
  if (n > 0) {
    r->pending_pos = 0;
    r->pending_len = (size_t)n;
    r->pending_ms = transport_now_ms();
    return (int)n;
  }
  if (n == 0) return TRANSPORT_UNPLUGGED;
  if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
  return fd_errno_is_gone(errno) ? TRANSPORT_UNPLUGGED : TRANSPORT_ERR_IO;
}

int fd_reader_read_scan(fd_reader_t *r, scan_framer_t *framer, scan_t *scan, int timeout_ms)
{
  uint64_t deadline = 0, now;
  struct pollfd pfd;
  bool polled = false;
  size_t used;
  int rc, wait, gap;

  now = transport_now_ms();
  if (timeout_ms >= 0) deadline = now + (uint64_t)timeout_ms;

  for (;;) {
    if (r->pending_pos < r->pending_len) {
      rc = scan_framer_feed(framer, r->pending + r->pending_pos, r->pending_len - r->pending_pos,
                            r->pending_ms, &used, scan);
      r->pending_pos += used;
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

    pfd.fd = r->fd;
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
    rc = pfd.revents & POLLIN ? fd_reader_fill(r) : 0;
    if (rc > 0) continue;
    if (pfd.revents & (POLLHUP | POLLERR | POLLNVAL))
      return TRANSPORT_UNPLUGGED; /* gone, and nothing more to read */
    if (rc < 0) return rc;
  }
}

/* ---- the raw-fd backend ---- */

typedef struct fd_state {
  char *path;
  fd_reader_t reader;
  bool termios_saved;
  struct termios saved;
} fd_state_t;

static int fd_open(scanner_transport_t *t)
{
  fd_state_t *st = transport_backend_state(t);
  int fd, rc;

  fd = open(st->path, O_RDONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return fd_errno_is_gone(errno) ? TRANSPORT_UNPLUGGED : TRANSPORT_ERR_IO;
  if (fd_make_raw(fd, &st->saved, &st->termios_saved) != 0) goto fail;
  fd_reader_attach(&st->reader, fd);
  return TRANSPORT_OK;

fail:
  rc = fd_errno_is_gone(errno) ? TRANSPORT_UNPLUGGED : TRANSPORT_ERR_IO;
  close(fd);
  return rc;
}

static void fd_close(scanner_transport_t *t)
{
  fd_state_t *st = transport_backend_state(t);
  int fd = st->reader.fd;

  if (fd < 0) return;
  /* Leave the tty as we found it; fails harmlessly after an unplug. */
  if (st->termios_saved) (void)tcsetattr(fd, TCSANOW, &st->saved);
  close(fd);
  fd_reader_detach(&st->reader);
}

static int fd_read_scan(scanner_transport_t *t, scan_t *scan, int timeout_ms)
{
  fd_state_t *st = transport_backend_state(t);

  return fd_reader_read_scan(&st->reader, transport_framer(t), scan, timeout_ms);
}

static void fd_destroy(void *state)
{
  fd_state_t *st = state;

  if (st == NULL) return;
  if (st->reader.fd >= 0) close(st->reader.fd);
  free(st->path);
  free(st);
}

static const transport_backend_t fd_backend = {
    "fd", fd_open, fd_read_scan, fd_close, fd_destroy,
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
  fd_reader_detach(&st->reader);
  len = strlen(path);
  st->path = malloc(len + 1);
  if (st->path == NULL) {
    rc = TRANSPORT_ERR_NO_MEMORY;
    goto fail;
  }
  memcpy(st->path, path, len + 1);
  /* From here the handle owns st, on success and on failure alike. */
  if ((rc = transport_new(&fd_backend, st, framing, out)) == TRANSPORT_OK)
    transport_set_description(*out, "fd:%s", path);
  return rc;

fail:
  fd_destroy(st);
  return rc;
}
