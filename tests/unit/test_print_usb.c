/*
** test_print_usb.c: the USB printer sink (pos/print/print.c, usb:VID:PID and
** usb) against a printer emulated by umockdev, with no hardware.
**
** tests/data/escpos/printer.umockdev describes a USB receipt printer as
** the kernel shows one: VID:PID 0416:5011 (the Winbond IDs many Chinese
** ESC/POS printers carry), one interface of class 7 (printer), subclass 1,
** protocol 2, bulk OUT endpoint 0x02 and bulk IN 0x81, bound to usblp. A
** usbdevfs ioctl script written here lists the bulk OUT URBs the printer
** expects: the receipt's bytes in 16 KiB transfers. umockdev compares what
** is submitted with the script, so the test proves that the sink finds the
** printer by VID:PID and by class, claims its interface, and delivers the
** bytes whole and in order; a transfer that does not match fails.
**
** Run under umockdev-wrapper (ctest does); run by hand without it, the test
** fails and says so. Not tested: detaching a real usblp (umockdev does not
** emulate the usbfs disconnect ioctl, so the sink takes its "no driver
** bound" path), a stalled endpoint.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <umockdev.h>

#include "pos/print/print.h"

#define PRINTER_DEV  "/dev/bus/usb/001/004"
#define TRANSFER_MAX 16384 /* what the sink hands libusb at a time */

static UMockdevTestbed *testbed;
static char dir[64];

/* The print jobs the tests send, in order (a device's script can be loaded
** once): one long enough for three transfers, one short, one whose bytes
** the test then spoils. */
static const size_t job_len[3] = {2 * TRANSFER_MAX + 7000, 5000, 3000};
static uint8_t *jobs[3];

static uint8_t *job(size_t len, uint32_t seed)
{
  uint8_t *b = malloc(len);
  uint32_t x = seed;
  for (size_t i = 0; b && i < len; i++) {
    x = x * 1103515245u + 12345u;
    b[i] = (uint8_t)(x >> 16);
  }
  return b;
}

/* The script: every job as bulk OUT URBs to endpoint 2 (type 3 = bulk;
** status, flags, buffer length, actual length, error count, data). */
static int load_script(void)
{
  char path[128];
  GError *error = NULL;
  snprintf(path, sizeof path, "%s/printer.ioctl", dir);
  FILE *f = fopen(path, "w");
  if (!f) return -1;
  fprintf(f, "@DEV %s\n", PRINTER_DEV);
  for (size_t j = 0; j < 3; j++) {
    for (size_t at = 0; at < job_len[j]; at += TRANSFER_MAX) {
      size_t n = job_len[j] - at < TRANSFER_MAX ? job_len[j] - at : TRANSFER_MAX;
      fprintf(f, "USBDEVFS_REAPURBNDELAY 0 3 2 0 0 %zu %zu 0 ", n, n);
      for (size_t i = 0; i < n; i++) fprintf(f, "%02X", jobs[j][at + i]);
      fputc('\n', f);
    }
  }
  if (fclose(f) != 0) return -1;
  bool ok = umockdev_testbed_load_ioctl(testbed, PRINTER_DEV, path, &error);
  unlink(path);
  if (!ok) fprintf(stderr, "umockdev ioctl script: %s\n", error->message);
  return ok ? 0 : -1;
}

static int group_setup(void **state)
{
  const char *preload = getenv("LD_PRELOAD");
  GError *error = NULL;
  (void)state;
  if (!preload || !strstr(preload, "libumockdev-preload")) {
    fprintf(stderr, "test_print_usb: run me under umockdev-wrapper (ctest does)\n");
    return -1; /* fails the group: never a silent skip */
  }
  snprintf(dir, sizeof dir, "/tmp/kassa-print-usb-XXXXXX");
  if (!mkdtemp(dir)) return -1;
  testbed = umockdev_testbed_new();
  if (!testbed ||
      !umockdev_testbed_add_from_file(testbed, "tests/data/escpos/printer.umockdev", &error)) {
    fprintf(stderr, "umockdev: %s\n", error ? error->message : "no testbed");
    return -1;
  }
  for (size_t j = 0; j < 3; j++)
    if (!(jobs[j] = job(job_len[j], 0x6b617373u + (uint32_t)j))) return -1;
  return load_script();
}

static int group_teardown(void **state)
{
  (void)state;
  if (testbed) g_object_unref(testbed);
  if (dir[0]) rmdir(dir);
  for (size_t j = 0; j < 3; j++) free(jobs[j]);
  return 0;
}

static void print_to(const char *device, const uint8_t *data, size_t len, int expect_write)
{
  print_sink_t *s = NULL;
  char err[256];
  int rc = print_sink_open(device, NULL, &s, err, sizeof err);
  if (rc != 0) fail_msg("%s: %s: %s", device, print_err_name(rc), err);
  assert_non_null(strstr(print_sink_describe(s), "usb 0416:5011"));
  assert_non_null(strstr(print_sink_describe(s), "endpoint 0x02"));
  assert_int_equal(print_sink_write(s, data, len), expect_write);
  assert_int_equal(print_sink_close(s), 0);
}

static void test_by_vid_pid(void **state)
{
  (void)state;
  print_to("usb:0416:5011", jobs[0], job_len[0], 0);
}

static void test_first_printer(void **state)
{
  (void)state;
  print_to("usb", jobs[1], job_len[1], 0);
}

/* Bytes other than the printer expects: the emulator refuses the URB, as
** it would have refused any of the jobs above had one byte differed. */
static void test_wrong_bytes_fail(void **state)
{
  (void)state;
  jobs[2][100] ^= 0x55;
  print_to("usb:0416:5011", jobs[2], job_len[2], PRINT_ERR_IO);
}

static void test_not_there(void **state)
{
  print_sink_t *s = (print_sink_t *)state;
  char err[256];
  assert_int_equal(print_sink_open("usb:0416:5012", NULL, &s, err, sizeof err),
                   PRINT_ERR_NOT_FOUND);
  assert_null(s);
  assert_non_null(strstr(err, "usb:0416:5012"));
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_by_vid_pid),
      cmocka_unit_test(test_first_printer),
      cmocka_unit_test(test_wrong_bytes_fail),
      cmocka_unit_test(test_not_there),
  };
  return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
