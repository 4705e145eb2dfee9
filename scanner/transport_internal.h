/*
** transport_internal.h: pieces shared by the byte-stream backends, not
** part of the scanner module's public face.
**
** The raw-fd backend (transport_fd.c), the serial backend
** (transport_serial.c, libserialport) and the keyboard wedge
** (transport_wedge.c) all end up with one file descriptor that delivers
** bytes: a tty, a pty, a FIFO, stdin. How to wait on it, tell "nothing
** yet" from "gone", and cut what arrives into scans is the same for all of
** them, so it lives here once (fd_reader_*), and each backend keeps only
** what is its own: how the fd is found and opened.
**
** Unplug detection, the one subtle part: poll() reports POLLHUP or
** POLLERR when a tty goes away (a USB CDC device unplugged, a pty master
** closed). What the device queued before it went is read first, so a
** scan that arrived whole is not lost. A read() of 0 bytes or EIO also
** means the end, but only after poll() said readable: then 0 bytes cannot
** mean "nothing yet", the ambiguity libserialport's sp_nonblocking_read()
** has (it returns 0 for both).
*/
#ifndef KASSA_SCANNER_TRANSPORT_INTERNAL_H
#define KASSA_SCANNER_TRANSPORT_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <termios.h>

#include "scanner/transport.h"

#define FD_READ_CHUNK 4096

/* One fd and the bytes read from it but not yet framed (one read can hold
** several scans). Embedded in a backend's state; fd < 0 when closed. */
typedef struct fd_reader {
  int fd;
  uint8_t pending[FD_READ_CHUNK];
  size_t pending_pos, pending_len;
  uint64_t pending_ms; /* when they arrived, for silence framing */
} fd_reader_t;

/* Start using fd (already open, non-blocking); forgets pending bytes. */
void fd_reader_attach(fd_reader_t *r, int fd);

/* Forget the fd (does not close it) and any pending bytes. */
void fd_reader_detach(fd_reader_t *r);

/* Wait at most timeout_ms (< 0: no limit) for one scan from r->fd, cut by
** framer. Returns TRANSPORT_OK, TRANSPORT_TIMEOUT, TRANSPORT_OVERLONG,
** TRANSPORT_UNPLUGGED (POLLHUP/POLLERR with nothing left to read, end of
** file, or EIO/ENXIO/ENODEV) or TRANSPORT_ERR_IO. */
int fd_reader_read_scan(fd_reader_t *r, scan_framer_t *framer, scan_t *scan, int timeout_ms);

/* Read what r->fd has now into r->pending (after poll() said readable).
** Returns the byte count, 0 for none (EAGAIN), TRANSPORT_UNPLUGGED for an
** end of file or a vanished device, or TRANSPORT_ERR_IO. */
int fd_reader_fill(fd_reader_t *r);

/* errno values that mean the device is not there, or no longer. */
bool fd_errno_is_gone(int e);

/* If fd is a tty, save its settings into *saved (and set *saved_ok) and put
** it in raw mode: no echo, no CR->LF translation, no line editing, no
** signals; the framer decides where a scan ends. Returns 0 (also for a
** non-tty, with *saved_ok false) or -1 with errno set. */
int fd_make_raw(int fd, struct termios *saved, bool *saved_ok);

#endif /* KASSA_SCANNER_TRANSPORT_INTERNAL_H */
