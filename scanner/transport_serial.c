/*
** transport_serial.c: scans from serial-port scanners, through
** libserialport.
**
** Most 2D scanners at a till are USB CDC-ACM devices (/dev/ttyACM0) or
** sit behind a USB-serial bridge (/dev/ttyUSB0); old ones are RS-232.
** libserialport gives us what the kernel alone does not make easy: the
** list of ports with their USB vendor and product IDs and serial numbers,
** so a scanner can be named by what it is ("0c2e:0b61") rather than by
** the name it happened to get, and found again after it is replugged.
**
** The layer is kept thin on purpose: enumerate, find, open, set 8N1, and
** then hand the port's file descriptor to the same poll-and-frame loop
** the raw-fd backend uses (transport_internal.h). Two reasons. First,
** sp_nonblocking_read() returns 0 both for "no data yet" and for "device
** unplugged"; poll() on the fd tells them apart (POLLHUP). Second,
** libserialport refuses pseudo-terminals (its open asks for the modem
** lines, TIOCMGET, and a pty answers ENOTTY), so the framing and unplug
** logic could not be tested through it; shared with the fd backend, it is
** tested on ptys there. A port libserialport refuses that way is opened as
** a plain raw tty instead, which also serves virtual ports (socat) and
** lets the tests run this backend end to end under umockdev, whose
** emulated /dev/ttyACM0 is a pty. What that leaves untested is
** libserialport's own open and settings calls on a real UART or CDC
** device: no hardware here.
*/
#include "scanner/transport.h"
#include "scanner/transport_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <libserialport.h>

#define DEFAULT_BAUD 9600

static void copy_text(char *dst, size_t size, const char *src)
{
  snprintf(dst, size, "%s", src != NULL ? src : "");
}

int transport_serial_list(serial_port_info_t **ports, size_t *count)
{
  struct sp_port **list = NULL;
  serial_port_info_t *out = NULL;
  size_t n = 0, k;
  int rc;

  if (ports != NULL) *ports = NULL;
  if (count != NULL) *count = 0;
  if (ports == NULL || count == NULL) return TRANSPORT_ERR_ARGUMENT;
  if (sp_list_ports(&list) != SP_OK) {
    list = NULL;
    rc = TRANSPORT_ERR_IO;
    goto fail;
  }
  while (list[n] != NULL) n++;
  if (n == 0) {
    sp_free_port_list(list);
    return TRANSPORT_OK;
  }
  out = calloc(n, sizeof *out);
  if (out == NULL) {
    rc = TRANSPORT_ERR_NO_MEMORY;
    goto fail;
  }
  for (k = 0; k < n; k++) {
    serial_port_info_t *info = &out[k];
    enum sp_transport tr = sp_get_port_transport(list[k]);

    copy_text(info->name, sizeof info->name, sp_get_port_name(list[k]));
    copy_text(info->description, sizeof info->description, sp_get_port_description(list[k]));
    copy_text(info->transport, sizeof info->transport,
              tr == SP_TRANSPORT_USB         ? "usb"
              : tr == SP_TRANSPORT_BLUETOOTH ? "bluetooth"
                                             : "native");
    info->usb_vid = info->usb_pid = -1;
    if (tr == SP_TRANSPORT_USB) {
      int vid = -1, pid = -1;

      if (sp_get_port_usb_vid_pid(list[k], &vid, &pid) == SP_OK) {
        info->usb_vid = vid;
        info->usb_pid = pid;
      }
      copy_text(info->usb_serial, sizeof info->usb_serial, sp_get_port_usb_serial(list[k]));
      copy_text(info->usb_manufacturer, sizeof info->usb_manufacturer,
                sp_get_port_usb_manufacturer(list[k]));
      copy_text(info->usb_product, sizeof info->usb_product, sp_get_port_usb_product(list[k]));
    }
  }
  sp_free_port_list(list);
  *ports = out;
  *count = n;
  return TRANSPORT_OK;

fail:
  if (list != NULL) sp_free_port_list(list);
  free(out);
  return rc;
}

int transport_serial_match(const serial_port_info_t *ports, size_t count, const char *port)
{
  uint16_t vid, pid;
  const char *serial = NULL;
  size_t used;

  if (ports == NULL || port == NULL || *port == 0) return -1;
  used = transport_parse_usb_id(port, &vid, &pid);
  if (used > 0) {
    if (port[used] == ':') serial = port + used + 1;
    for (size_t i = 0; i < count; i++) {
      if (ports[i].usb_vid != vid || ports[i].usb_pid != pid) continue;
      if (serial != NULL && strcmp(ports[i].usb_serial, serial) != 0) continue;
      return (int)i;
    }
    return -1;
  }
  for (size_t i = 0; i < count; i++) {
    const char *name = ports[i].name;

    if (strcmp(name, port) == 0) return (int)i;
    if (strncmp(name, "/dev/", 5) == 0 && strcmp(name + 5, port) == 0) return (int)i;
  }
  return -1;
}

typedef struct serial_state {
  char *want;
  unsigned baud;
  struct sp_port *port; /* open through libserialport, or */
  int plain_fd;         /* open as a plain tty (a pty libserialport refused) */
  struct termios saved; /* plain_fd's settings before us */
  bool saved_ok;
  fd_reader_t reader;
} serial_state_t;

/* The device name to open now, into name. Returns 0, or
** TRANSPORT_UNPLUGGED when no such port is there, or an error. */
static int resolve_name(const serial_state_t *st, char *name, size_t size)
{
  serial_port_info_t *ports = NULL;
  size_t n = 0;
  char resolved[PATH_MAX];
  struct stat sb;
  int i, rc;

  if (transport_parse_usb_id(st->want, NULL, NULL) > 0) {
    rc = transport_serial_list(&ports, &n);
    if (rc != TRANSPORT_OK) return rc;
    i = transport_serial_match(ports, n, st->want);
    if (i >= 0) copy_text(name, size, ports[i].name);
    free(ports);
    return i >= 0 ? TRANSPORT_OK : TRANSPORT_UNPLUGGED;
  }
  if (st->want[0] == '/') {
    /* Follow /dev/serial/by-id/... to the device it points to now. */
    if (realpath(st->want, resolved) == NULL)
      return fd_errno_is_gone(errno) ? TRANSPORT_UNPLUGGED : TRANSPORT_ERR_IO;
    copy_text(name, size, resolved);
  } else {
    snprintf(name, size, "/dev/%s", st->want);
  }
  if (stat(name, &sb) != 0) return TRANSPORT_UNPLUGGED;
  return TRANSPORT_OK;
}

static void serial_close(scanner_transport_t *t);

/* Open name as a raw tty ourselves, 8N1 at the configured speed. */
static int open_plain_tty(serial_state_t *st, const char *name)
{
  struct termios tio;
  speed_t speed;
  int fd, rc;

  fd = open(name, O_RDONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return fd_errno_is_gone(errno) ? TRANSPORT_UNPLUGGED : TRANSPORT_ERR_IO;
  if (fd_make_raw(fd, &st->saved, &st->saved_ok) != 0 || !st->saved_ok) goto fail;
  switch (st->baud ? st->baud : DEFAULT_BAUD) {
  case 1200:
    speed = B1200;
    break;
  case 2400:
    speed = B2400;
    break;
  case 4800:
    speed = B4800;
    break;
  case 19200:
    speed = B19200;
    break;
  case 38400:
    speed = B38400;
    break;
  case 57600:
    speed = B57600;
    break;
  case 115200:
    speed = B115200;
    break;
  default:
    speed = B9600;
    break;
  }
  if (tcgetattr(fd, &tio) != 0) goto fail;
  tio.c_cflag &= (tcflag_t) ~(CSIZE | PARENB | CSTOPB);
  tio.c_cflag |= CS8;
  (void)cfsetispeed(&tio, speed);
  (void)cfsetospeed(&tio, speed);
  if (tcsetattr(fd, TCSANOW, &tio) != 0) goto fail;
  st->plain_fd = fd;
  fd_reader_attach(&st->reader, fd);
  return TRANSPORT_OK;

fail:
  rc = fd_errno_is_gone(errno) ? TRANSPORT_UNPLUGGED : TRANSPORT_ERR_IO;
  close(fd);
  return rc;
}

static int serial_open(scanner_transport_t *t)
{
  serial_state_t *st = transport_backend_state(t);
  char name[PATH_MAX];
  int fd = -1, flags, rc;

  rc = resolve_name(st, name, sizeof name);
  if (rc != TRANSPORT_OK) return rc;
  if (sp_get_port_by_name(name, &st->port) != SP_OK) {
    st->port = NULL;
    return TRANSPORT_UNPLUGGED; /* vanished, or not a port libserialport knows */
  }
  if (sp_open(st->port, SP_MODE_READ) != SP_OK) {
    int e = sp_last_error_code();

    sp_free_port(st->port);
    st->port = NULL;
    /* libserialport asks every port for its modem lines (TIOCMGET), which
    ** pseudo-terminals refuse with ENOTTY: virtual ports (socat, umockdev)
    ** are opened as plain ttys instead. */
    if (e == ENOTTY) return open_plain_tty(st, name);
    return fd_errno_is_gone(e) ? TRANSPORT_UNPLUGGED : TRANSPORT_ERR_IO;
  }
  /* 8N1, no flow control: what scanners send. The baud rate matters only
  ** for RS-232; USB CDC ignores it. */
  if (sp_set_baudrate(st->port, (int)(st->baud ? st->baud : DEFAULT_BAUD)) != SP_OK ||
      sp_set_bits(st->port, 8) != SP_OK || sp_set_parity(st->port, SP_PARITY_NONE) != SP_OK ||
      sp_set_stopbits(st->port, 1) != SP_OK ||
      sp_set_flowcontrol(st->port, SP_FLOWCONTROL_NONE) != SP_OK)
    goto fail;
  if (sp_get_port_handle(st->port, &fd) != SP_OK || fd < 0) goto fail;
  flags = fcntl(fd, F_GETFL);
  if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0) goto fail;
  fd_reader_attach(&st->reader, fd);
  return TRANSPORT_OK;

fail:
  rc = fd_errno_is_gone(errno) ? TRANSPORT_UNPLUGGED : TRANSPORT_ERR_IO;
  serial_close(t);
  return rc;
}

static void serial_close(scanner_transport_t *t)
{
  serial_state_t *st = transport_backend_state(t);

  fd_reader_detach(&st->reader);
  if (st->port != NULL) {
    (void)sp_close(st->port); /* fails harmlessly after an unplug */
    sp_free_port(st->port);
    st->port = NULL;
  }
  if (st->plain_fd >= 0) {
    if (st->saved_ok) (void)tcsetattr(st->plain_fd, TCSANOW, &st->saved);
    close(st->plain_fd);
    st->plain_fd = -1;
  }
}

static int serial_read_scan(scanner_transport_t *t, scan_t *scan, int timeout_ms)
{
  serial_state_t *st = transport_backend_state(t);

  return fd_reader_read_scan(&st->reader, transport_framer(t), scan, timeout_ms);
}

static void serial_destroy(void *state)
{
  serial_state_t *st = state;

  if (st == NULL) return;
  if (st->port != NULL) {
    (void)sp_close(st->port);
    sp_free_port(st->port);
  }
  if (st->plain_fd >= 0) close(st->plain_fd);
  free(st->want);
  free(st);
}

static const transport_backend_t serial_backend = {
    "serial", serial_open, serial_read_scan, serial_close, serial_destroy,
};

int transport_serial_new(const char *port, unsigned baud, const scan_framing_t *framing,
                         scanner_transport_t **out)
{
  serial_state_t *st = NULL;
  size_t len;
  int rc;

  if (out != NULL) *out = NULL;
  if (port == NULL || *port == 0 || out == NULL) {
    rc = TRANSPORT_ERR_ARGUMENT;
    goto fail;
  }
  st = calloc(1, sizeof *st);
  if (st == NULL) {
    rc = TRANSPORT_ERR_NO_MEMORY;
    goto fail;
  }
  fd_reader_detach(&st->reader);
  st->plain_fd = -1;
  len = strlen(port);
  st->want = malloc(len + 1);
  if (st->want == NULL) {
    rc = TRANSPORT_ERR_NO_MEMORY;
    goto fail;
  }
  memcpy(st->want, port, len + 1);
  st->baud = baud;
  if ((rc = transport_new(&serial_backend, st, framing, out)) == TRANSPORT_OK)
    transport_set_description(*out, "serial:%s", port);
  return rc;

fail:
  serial_destroy(st);
  return rc;
}
