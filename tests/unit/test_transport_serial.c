/*
** test_transport_serial.c: serial-port scanners (scanner/transport_serial.c)
** and device strings (scanner/transport_spec.c).
**
** Port matching and device strings are checked on plain data. Then the
** backend runs against an emulated USB CDC-ACM scanner: umockdev builds a
** fake /sys in which tests/data/serial/scanner-acm.umockdev describes it
** (VID:PID 0c2e:0b61, serial ACM42) and a /dev/ttyACM0 backed by a
** pseudo-terminal whose master plays the scanner. libserialport enumerates
** it with its USB identity from that /sys; the transport finds it by
** VID:PID:SERIAL, reads a few hundred codes framed by CRLF written in odd
** chunks, reports the unplug (the pty hung up) and finds the scanner again
** when it comes back under another name (/dev/ttyACM1).
**
** Not tested, for want of hardware: libserialport's own open and settings
** on a real UART or CDC device. It refuses ptys (ENOTTY from its modem-line
** query), so here the backend's plain-tty path opens the port; the
** enumeration, matching, framing and unplug logic are the same either way.
** Run under umockdev-wrapper (ctest does).
*/
#define _XOPEN_SOURCE 700

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "scanner/transport.h"
#include "test_transport_codes.h"
#define TESTBED_PROGRAM "test_transport_serial"
#include "test_transport_testbed.h"

#define N_CODES 300

static void test_match(void **state)
{
  serial_port_info_t ports[3];

  (void)state;
  memset(ports, 0, sizeof ports);
  snprintf(ports[0].name, sizeof ports[0].name, "/dev/ttyS0");
  ports[0].usb_vid = ports[0].usb_pid = -1;
  snprintf(ports[1].name, sizeof ports[1].name, "/dev/ttyACM0");
  ports[1].usb_vid = 0x0c2e;
  ports[1].usb_pid = 0x0b61;
  snprintf(ports[1].usb_serial, sizeof ports[1].usb_serial, "A1");
  snprintf(ports[2].name, sizeof ports[2].name, "/dev/ttyACM1");
  ports[2].usb_vid = 0x0c2e;
  ports[2].usb_pid = 0x0b61;
  snprintf(ports[2].usb_serial, sizeof ports[2].usb_serial, "B2");

  assert_int_equal(transport_serial_match(ports, 3, "/dev/ttyS0"), 0);
  assert_int_equal(transport_serial_match(ports, 3, "ttyACM1"), 2);
  assert_int_equal(transport_serial_match(ports, 3, "0c2e:0b61"), 1); /* first wins */
  assert_int_equal(transport_serial_match(ports, 3, "0C2E:0B61:B2"), 2);
  assert_int_equal(transport_serial_match(ports, 3, "0c2e:0b61:C3"), -1);
  assert_int_equal(transport_serial_match(ports, 3, "05e0:1200"), -1);
  assert_int_equal(transport_serial_match(ports, 3, "/dev/ttyUSB0"), -1);
  assert_int_equal(transport_serial_match(ports, 3, ""), -1);
  assert_int_equal(transport_serial_match(NULL, 0, "ttyS0"), -1);
}

static void test_spec(void **state)
{
  transport_spec_options_t o;
  scanner_transport_t *t = NULL;
  char err[256];

  (void)state;
  memset(&o, 0, sizeof o);
  assert_int_equal(transport_new_from_spec("bogus", NULL, &t, err, sizeof err),
                   TRANSPORT_ERR_ARGUMENT);
  assert_non_null(strstr(err, "unknown device 'bogus'"));
  assert_int_equal(transport_new_from_spec("usb:12x4", NULL, &t, err, sizeof err),
                   TRANSPORT_ERR_ARGUMENT);
  assert_non_null(strstr(err, "usb:VID:PID"));
  assert_int_equal(transport_new_from_spec("serial:", NULL, &t, err, sizeof err),
                   TRANSPORT_ERR_ARGUMENT);
  assert_null(t);
  assert_int_equal(transport_new_from_spec("serial:/dev/ttyS77", &o, &t, err, sizeof err),
                   TRANSPORT_OK);
  assert_string_equal(transport_describe(t), "serial:/dev/ttyS77");
  assert_int_equal(transport_open(t), TRANSPORT_UNPLUGGED); /* not there */
  transport_free(t);
  assert_int_equal(transport_new_from_spec("fd:/dev/null", NULL, &t, err, sizeof err),
                   TRANSPORT_OK);
  assert_string_equal(transport_describe(t), "fd:/dev/null");
  transport_free(t);
  assert_int_equal(transport_new_from_spec("wedge", NULL, &t, err, sizeof err), TRANSPORT_OK);
  assert_string_equal(transport_describe(t), "wedge:stdin");
  transport_free(t);
  o.framing_set = true;
  o.framing.mode = SCAN_FRAME_SILENCE;
  o.framing.gap_ms = 0; /* invalid */
  assert_int_equal(transport_new_from_spec("fd:/dev/null", &o, &t, err, sizeof err),
                   TRANSPORT_ERR_ARGUMENT);
  assert_non_null(strstr(err, "invalid argument"));
  assert_int_equal(transport_serial_new(NULL, 0, &o.framing, &t), TRANSPORT_ERR_ARGUMENT);
}

/* ---- the emulated scanner ---- */

static char usb_sysfs[96];

/* Add the scanner with its tty named tty, on USB port "1-<port>" (each
** plug-in a port of its own: umockdev keeps a removed device's /sys/bus
** links). Returns the master fd of its pty; *sysfs gets the tty's path. */
static int add_scanner(const char *tty, char port, char *sysfs, size_t size)
{
  static char text[4096];
  GError *error = NULL;
  char *at;
  int fd;

  testbed_read("tests/data/serial/scanner-acm.umockdev", text, sizeof text);
  /* The same device under another tty name and port. */
  for (at = text; (at = strstr(at, "ttyACM0")) != NULL; at += 7) memcpy(at, tty, 7);
  for (at = text; (at = strstr(at, "1-2")) != NULL; at += 3) at[2] = port;
  if (!umockdev_testbed_add_from_string(testbed, text, &error))
    fail_msg("umockdev: %s", error->message);
  snprintf(usb_sysfs, sizeof usb_sysfs, "/sys/devices/pci0000:00/0000:00:14.0/usb1/1-%c", port);
  snprintf(sysfs, size, "%s/1-%c:1.0/tty/%s", usb_sysfs, port, tty);
  {
    char dev[32];

    snprintf(dev, sizeof dev, "/dev/%s", tty);
    fd = umockdev_testbed_get_dev_fd(testbed, dev); /* the pty master */
  }
  assert_true(fd >= 0);
  return fd;
}

/* Unplug: the device leaves /sys and its pty hangs up. The testbed owns
** the master fd and closes it at the end, so /dev/null takes its number. */
static void remove_scanner(const char *sysfs, int master)
{
  int nul = open("/dev/null", O_RDONLY);

  umockdev_testbed_uevent(testbed, sysfs, "remove");
  umockdev_testbed_remove_device(testbed, usb_sysfs);
  assert_true(nul >= 0);
  assert_true(dup2(nul, master) == master);
  close(nul);
}

static void write_all(int fd, const char *p, size_t n)
{
  while (n > 0) {
    ssize_t k = write(fd, p, n);

    if (k < 0 && errno == EINTR) continue;
    assert_true(k > 0);
    p += k;
    n -= (size_t)k;
  }
}

static void test_emulated_port(void **state)
{
  static code_text_t codes[N_CODES];
  serial_port_info_t *ports = NULL;
  scan_framing_t crlf = {SCAN_FRAME_CRLF, 0};
  scanner_transport_t *t = NULL;
  char sysfs[160];
  uint64_t r = 0x53455249u;
  size_t n = 0, found = 0, i;
  scan_t scan;
  int master;

  (void)state;
  master = add_scanner("ttyACM0", '2', sysfs, sizeof sysfs);

  /* Enumeration: libserialport's view, with the USB identity. */
  assert_int_equal(transport_serial_list(&ports, &n), TRANSPORT_OK);
  for (i = 0; i < n; i++) {
    if (strcmp(ports[i].name, "/dev/ttyACM0") != 0) continue;
    found++;
    assert_string_equal(ports[i].transport, "usb");
    assert_int_equal(ports[i].usb_vid, 0x0c2e);
    assert_int_equal(ports[i].usb_pid, 0x0b61);
    assert_string_equal(ports[i].usb_serial, "ACM42");
    assert_string_equal(ports[i].usb_manufacturer, "Honeywell");
    assert_string_equal(ports[i].usb_product, "Scanner CDC (emulated)");
  }
  assert_int_equal(found, 1);
  assert_int_equal(transport_serial_match(ports, n, "0c2e:0b61:ACM42"),
                   transport_serial_match(ports, n, "/dev/ttyACM0"));
  free(ports);

  /* Codes through it, cut into odd chunks, CRLF after each. */
  assert_int_equal(transport_serial_new("0c2e:0b61:ACM42", 9600, &crlf, &t), TRANSPORT_OK);
  assert_int_equal(transport_open(t), TRANSPORT_OK);
  for (i = 0; i < N_CODES; i++) code_make(&r, (code_layout_t)(i % CODE_LAYOUT_COUNT), &codes[i]);
  for (i = 0; i < N_CODES; i++) {
    char frame[300];
    size_t len = codes[i].gs_len, cut;

    memcpy(frame, codes[i].gs, len);
    memcpy(frame + len, "\r\n", 2);
    len += 2;
    cut = 1 + code_below(&r, len - 1);
    write_all(master, frame, cut);
    if (i % 7 == 0) { /* the reader takes the first half before the rest comes */
      assert_int_equal(transport_read_scan(t, &scan, 20), TRANSPORT_TIMEOUT);
    }
    write_all(master, frame + cut, len - cut);
    if (transport_read_scan(t, &scan, 2000) != TRANSPORT_OK) fail_msg("code %zu lost", i);
    assert_int_equal(scan.length, codes[i].gs_len);
    assert_memory_equal(scan.data, codes[i].gs, codes[i].gs_len);
    assert_string_equal(scan.source, "serial:0c2e:0b61:ACM42");
  }

  /* Unplugged: said at once, and again while it stays away. */
  remove_scanner(sysfs, master);
  assert_int_equal(transport_read_scan(t, &scan, 1000), TRANSPORT_UNPLUGGED);
  assert_int_equal(transport_read_scan(t, &scan, 250), TRANSPORT_UNPLUGGED);

  /* Back under a new name: found by its USB identity. */
  master = add_scanner("ttyACM1", '8', sysfs, sizeof sysfs);
  write_all(master, codes[0].gs, codes[0].gs_len);
  write_all(master, "\r\n", 2);
  assert_int_equal(transport_read_scan(t, &scan, 3000), TRANSPORT_OK);
  assert_memory_equal(scan.data, codes[0].gs, codes[0].gs_len);
  transport_free(t);
  remove_scanner(sysfs, master);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_match),
      cmocka_unit_test(test_spec),
      cmocka_unit_test(test_emulated_port),
  };

  return cmocka_run_group_tests(tests, testbed_setup, testbed_teardown);
}
