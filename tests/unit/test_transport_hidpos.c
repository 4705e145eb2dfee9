/*
** test_transport_hidpos.c: HID-POS scanners (scanner/transport_hidpos.c).
**
** First the pure parts: the report-descriptor check for usage page 0x8C
** and the report assembler (one report, three reports with a continuation
** flag, reports without an ID byte, a length byte larger than the report,
** a continuation that never comes, an overlong scan).
**
** Then the whole backend against an emulated device, with no hardware:
** umockdev (Debian's umockdev, libumockdev) builds a fake /sys and /dev in
** which tests/data/hidpos/scanner.umockdev describes a HID-POS scanner,
** and a usbdevfs ioctl script written here plays its interrupt transfers:
** every marking code as three 64-byte reports (long codes with 88-char
** tails), AIM "]d2", the continuation flag on all but the last. libusb in
** this process sees the device through the umockdev preload library, so
** the test runs under `umockdev-wrapper` (ctest does that; run by hand
** without it and the test fails, saying so).
**
** The device's arrival and departure are uevents sent through the testbed
** (umockdev-run cannot send uevents; the library can), which reach
** libusb's hotplug monitor. The script ends with one URB that fails with
** -ENODEV, as URBs do when a device is pulled out. What cannot be tested
** here: detaching a real kernel HID driver (umockdev does not emulate the
** usbfs disconnect ioctl, so the backend takes its "no driver bound" path:
** see claim() in transport_hidpos.c).
*/
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "scanner/markcode.h"
#include "scanner/transport.h"
#include "test_transport_codes.h"
#define TESTBED_PROGRAM "test_transport_hidpos"
#include "test_transport_testbed.h"

#define N_CODES 24
#define REPORT  64

/* ---- pure parts ---- */

static const uint8_t pos_descriptor[] = {0x05, 0x8C, 0x09, 0x02, 0xA1, 0x01, 0x09, 0x12, 0xA1,
                                         0x02, 0x85, 0x02, 0x15, 0x00, 0x26, 0xFF, 0x00, 0x75,
                                         0x08, 0x95, 0x3F, 0x09, 0xFE, 0x81, 0x02, 0xC0, 0xC0};
static const uint8_t keyboard_descriptor[] = {0x05, 0x01, 0x09, 0x06, 0xA1, 0x01, 0x05, 0x07,
                                              0x19, 0xE0, 0x29, 0xE7, 0x15, 0x00, 0x25, 0x01,
                                              0x75, 0x01, 0x95, 0x08, 0x81, 0x02, 0xC0};

static void test_descriptor(void **state)
{
  /* Usage page given in two bytes (0x06), after a long item. */
  static const uint8_t two_byte[] = {0xFE, 0x02, 0x10, 0xAA, 0xBB, 0x06, 0x8C, 0x00, 0x09, 0x02};
  static const uint8_t truncated[] = {0x05};
  bool ids = true;

  (void)state;
  assert_true(hid_descriptor_is_pos(pos_descriptor, sizeof pos_descriptor, &ids));
  assert_true(ids);
  assert_false(hid_descriptor_is_pos(keyboard_descriptor, sizeof keyboard_descriptor, &ids));
  assert_false(ids);
  assert_true(hid_descriptor_is_pos(two_byte, sizeof two_byte, NULL));
  assert_false(hid_descriptor_is_pos(truncated, sizeof truncated, &ids));
  assert_false(hid_descriptor_is_pos(NULL, 4, &ids));
}

/* Split data into 64-byte HID-POS reports (56 data bytes each). */
static size_t make_reports(const char *data, size_t len, const char *aim, bool ids,
                           uint8_t out[][REPORT], size_t max)
{
  size_t off = ids ? 1 : 0, cap = REPORT - off - 7, k = 0, pos = 0;

  do {
    size_t n = len - pos < cap ? len - pos : cap;

    assert_true(k < max);
    memset(out[k], 0, REPORT);
    if (ids) out[k][0] = 2;
    out[k][off] = (uint8_t)n;
    memcpy(out[k] + off + 1, aim, 3);
    memcpy(out[k] + off + 4, data + pos, n);
    pos += n;
    out[k][REPORT - 1] = pos < len ? 1 : 0;
    k++;
  } while (pos < len);
  return k;
}

static void test_assembler(void **state)
{
  static const char code[] =
      "0104601234567893215Qbag!\"%&'()\x1d"
      "91EE06\x1d"
      "92dGVzdHRlc3R0ZXN0dGVzdHRlc3R0ZXN0dGVzdHRlc3R0ZXN0dGVzdHRlc3R0ZXN0dGVzdHRlc3R0ZXN0dGVzdA==";
  uint8_t reports[8][REPORT];
  hidpos_assembler_t a;
  scan_t scan;
  size_t n, i;

  (void)state;
  assert_true(sizeof code - 1 > 112); /* three reports */
  n = make_reports(code, sizeof code - 1, "]d2", true, reports, 8);
  assert_int_equal(n, 3);
  hidpos_assembler_init(&a, true);
  for (i = 0; i + 1 < n; i++)
    assert_int_equal(hidpos_assembler_feed(&a, reports[i], REPORT, 100 + i, &scan),
                     TRANSPORT_AGAIN);
  assert_int_equal(hidpos_assembler_feed(&a, reports[n - 1], REPORT, 103, &scan), TRANSPORT_OK);
  assert_int_equal(scan.length, sizeof code - 1);
  assert_memory_equal(scan.data, code, sizeof code - 1);
  assert_string_equal(scan.aim, "]d2");

  /* No report ID byte. */
  n = make_reports(code, sizeof code - 1, "]d1", false, reports, 8);
  assert_int_equal(n, 3);
  hidpos_assembler_init(&a, false);
  for (i = 0; i < n; i++)
    assert_int_equal(hidpos_assembler_feed(&a, reports[i], REPORT, 0, &scan),
                     i + 1 < n ? TRANSPORT_AGAIN : TRANSPORT_OK);
  assert_memory_equal(scan.data, code, sizeof code - 1);
  assert_string_equal(scan.aim, "]d1");

  /* A length byte beyond the report is clamped to the data area. */
  n = make_reports("4601234567893", 13, "]E0", true, reports, 8);
  reports[0][1] = 200;
  hidpos_assembler_init(&a, true);
  assert_int_equal(hidpos_assembler_feed(&a, reports[0], REPORT, 0, &scan), TRANSPORT_OK);
  assert_int_equal(scan.length, 56);
  assert_memory_equal(scan.data, "4601234567893", 13);

  /* No AIM bytes: aim empty. An empty report is no scan. */
  n = make_reports("ABC", 3, "\0\0\0", true, reports, 8);
  assert_int_equal(hidpos_assembler_feed(&a, reports[0], REPORT, 0, &scan), TRANSPORT_OK);
  assert_string_equal(scan.aim, "");
  n = make_reports("", 0, "]d2", true, reports, 8);
  assert_int_equal(hidpos_assembler_feed(&a, reports[0], REPORT, 0, &scan), TRANSPORT_AGAIN);
  assert_int_equal(hidpos_assembler_feed(&a, reports[0], 5, 0, &scan), TRANSPORT_AGAIN);

  /* A continuation that never comes: the partial scan is dropped when the
  ** next report is more than HIDPOS_CONTINUATION_MS late. */
  n = make_reports(code, sizeof code - 1, "]d2", true, reports, 8);
  assert_int_equal(hidpos_assembler_feed(&a, reports[0], REPORT, 1000, &scan), TRANSPORT_AGAIN);
  {
    uint8_t single[1][REPORT];

    make_reports("NEXT-SCAN", 9, "]C0", true, single, 1);
    assert_int_equal(
        hidpos_assembler_feed(&a, single[0], REPORT, 1000 + HIDPOS_CONTINUATION_MS + 1, &scan),
        TRANSPORT_OK);
    assert_string_equal((char *)scan.data, "NEXT-SCAN");
    assert_string_equal(scan.aim, "]C0");
  }

  /* Overlong: reported once at its end; the next scan is whole. */
  for (i = 0; i < SCAN_DATA_MAX / 56 + 2; i++) {
    make_reports(code, 56, "]d2", true, reports, 1);
    reports[0][REPORT - 1] = 1;
    assert_int_equal(hidpos_assembler_feed(&a, reports[0], REPORT, 5000, &scan), TRANSPORT_AGAIN);
  }
  reports[0][REPORT - 1] = 0;
  assert_int_equal(hidpos_assembler_feed(&a, reports[0], REPORT, 5000, &scan), TRANSPORT_OVERLONG);
  make_reports("OK", 2, "]d2", true, reports, 1);
  assert_int_equal(hidpos_assembler_feed(&a, reports[0], REPORT, 5000, &scan), TRANSPORT_OK);
  assert_string_equal((char *)scan.data, "OK");
  assert_int_equal(hidpos_assembler_feed(NULL, reports[0], REPORT, 0, &scan),
                   TRANSPORT_ERR_ARGUMENT);
  hidpos_assembler_reset(NULL);
}

static void test_usb_ids(void **state)
{
  uint16_t vid = 0, pid = 0;

  (void)state;
  assert_int_equal(transport_parse_usb_id("0c2e:0b61", &vid, &pid), 9);
  assert_int_equal(vid, 0x0c2e);
  assert_int_equal(pid, 0x0b61);
  assert_int_equal(transport_parse_usb_id("1209:1:SER", &vid, &pid), 6);
  assert_int_equal(pid, 1);
  assert_int_equal(transport_parse_usb_id("12345:1", &vid, &pid), 0);
  assert_int_equal(transport_parse_usb_id("/dev/ttyACM0", &vid, &pid), 0);
  assert_int_equal(transport_parse_usb_id("12:", &vid, &pid), 0);
  assert_int_equal(transport_parse_usb_id("zz:12", &vid, &pid), 0);
  assert_string_equal(transport_usb_vendor_name(0x05E0), "Symbol Technologies (Zebra)");
  assert_null(transport_usb_vendor_name(0x1209));
}

/* ---- the emulated device ---- */

static char script_path[256];
static code_text_t codes[N_CODES];

static void write_script(void)
{
  uint64_t r = 0x48494450u; /* fixed seed: the same script every run */
  uint8_t reports[4][REPORT];
  char dir[] = "/tmp/kassa-hidpos-XXXXXX";
  FILE *f;

  assert_non_null(mkdtemp(dir));
  snprintf(script_path, sizeof script_path, "%s/scanner.ioctl", dir);
  f = fopen(script_path, "w");
  assert_non_null(f);
  /* usbdevfs replay (umockdev's ioctl tree format): each line is one
  ** URB the device completes: type 1 (interrupt), endpoint 129 (0x81 IN),
  ** status, flags, buffer length, actual length, error count, data. */
  fprintf(f, "@DEV /dev/bus/usb/001/005\n"); /* informative; the testbed attaches it */
  for (size_t i = 0; i < N_CODES; i++) {
    size_t n;

    code_make(&r, CODE_FOOTWEAR_88, &codes[i]); /* 129 characters */
    n = make_reports(codes[i].gs, codes[i].gs_len, "]d2", true, reports, 4);
    assert_int_equal(n, 3);
    for (size_t k = 0; k < n; k++) {
      fprintf(f, "USBDEVFS_REAPURBNDELAY 0 1 129 0 0 %d %d 0 ", REPORT, REPORT);
      for (size_t b = 0; b < REPORT; b++) fprintf(f, "%02X", reports[k][b]);
      fputc('\n', f);
    }
  }
  /* The device is pulled out: the pending URB dies with -ENODEV. */
  fprintf(f, "USBDEVFS_REAPURBNDELAY 0 1 129 %d 0 %d 0 0 \n", -ENODEV, REPORT);
  assert_int_equal(fclose(f), 0);
}

/* Replace every `from` in text (of capacity cap) with `to`. */
static void replace_all(char *text, size_t cap, const char *from, const char *to)
{
  size_t fl = strlen(from), tl = strlen(to);
  char *p = text;

  while ((p = strstr(p, from)) != NULL) {
    size_t rest = strlen(p + fl);

    assert_true((size_t)(p - text) + tl + rest < cap);
    memmove(p + tl, p + fl, rest + 1);
    memcpy(p, to, tl);
    p += tl;
  }
}

/* Plug the scanner of scanner.umockdev into USB port `port` of bus 1, where
** it gets address `address`: a replugged device gets a new address, and
** umockdev keeps a removed device's /sys/bus links, so each plug-in uses a
** port of its own. The device is announced with an "add" uevent. */
static char scanner_sysfs[128], scanner_dev[64];

static void plug_in(int port, int address)
{
  static char text[16384];
  char from[64], to[64];
  GError *error = NULL;

  testbed_read("tests/data/hidpos/scanner.umockdev", text, sizeof text);
  snprintf(to, sizeof to, "usb1/1-%d", port);
  replace_all(text, sizeof text, "usb1/1-3", to);
  snprintf(to, sizeof to, "/1-%d:1.0", port);
  replace_all(text, sizeof text, "/1-3:1.0", to);
  snprintf(to, sizeof to, "bus/usb/001/%03d", address);
  replace_all(text, sizeof text, "bus/usb/001/005", to);
  snprintf(to, sizeof to, "DEVNUM=%03d", address);
  replace_all(text, sizeof text, "DEVNUM=005", to);
  snprintf(to, sizeof to, "devnum=%d\\n", address);
  replace_all(text, sizeof text, "devnum=5\\n", to);
  snprintf(from, sizeof from, ".0004");
  snprintf(to, sizeof to, ".%04d", address);
  replace_all(text, sizeof text, from, to);
  snprintf(to, sizeof to, "MINOR=%d", 128 + address);
  replace_all(text, sizeof text, "MINOR=4", to);

  snprintf(scanner_sysfs, sizeof scanner_sysfs, "/sys/devices/pci0000:00/0000:00:14.0/usb1/1-%d",
           port);
  snprintf(scanner_dev, sizeof scanner_dev, "/dev/bus/usb/001/%03d", address);
  if (!umockdev_testbed_add_from_string(testbed, text, &error))
    fail_msg("umockdev: %s", error->message);
  if (!umockdev_testbed_load_ioctl(testbed, scanner_dev, script_path, &error))
    fail_msg("umockdev ioctl script: %s", error->message);
  umockdev_testbed_uevent(testbed, scanner_sysfs, "add");
}

static void pull_out(void)
{
  umockdev_testbed_uevent(testbed, scanner_sysfs, "remove");
  umockdev_testbed_remove_device(testbed, scanner_sysfs);
}

/* The testbed's tear-down, and the ioctl script's file and folder removed. */
static int group_teardown(void **state)
{
  testbed_teardown(state);
  if (script_path[0]) {
    char dir[256];

    unlink(script_path);
    snprintf(dir, sizeof dir, "%s", script_path);
    *strrchr(dir, '/') = 0;
    rmdir(dir);
  }
  return 0;
}

static void expect_code(scanner_transport_t *t, size_t i)
{
  markcode_t mc;
  scan_t scan;
  int rc;

  rc = transport_read_scan(t, &scan, 5000);
  if (rc != TRANSPORT_OK) fail_msg("code %zu: %s", i, transport_strerror(rc));
  assert_int_equal(scan.length, codes[i].gs_len);
  assert_memory_equal(scan.data, codes[i].gs, codes[i].gs_len); /* GS and all */
  assert_string_equal(scan.aim, "]d2");
  assert_string_equal(scan.source, "usb:1209:0001");
  assert_int_equal(markcode_parse(&mc, (const char *)scan.data, scan.length), MARKCODE_OK);
}

static void test_emulated_scanner(void **state)
{
  scanner_transport_t *t = NULL;
  unsigned arrived = 0, left = 0;
  uint64_t until;
  scan_t scan;
  int rc;

  (void)state;
  write_script();
  /* Nothing plugged in yet: the transport says so and keeps looking. */
  assert_int_equal(transport_hidpos_new("1209:0001", &t), TRANSPORT_OK);
  assert_int_equal(transport_open(t), TRANSPORT_UNPLUGGED);
  assert_int_equal(transport_read_scan(t, &scan, 150), TRANSPORT_UNPLUGGED);

  /* Arrival: the next read finds it, claims it, and codes come whole. */
  plug_in(3, 5);
  expect_code(t, 0);
  transport_hidpos_hotplug_counts(t, &arrived, &left);
  assert_int_equal(arrived, 1); /* seen through libusb's hotplug API */
  for (size_t i = 1; i < N_CODES; i++) expect_code(t, i);

  /* Departure: the device goes; the read says so at once. */
  pull_out();
  assert_int_equal(transport_read_scan(t, &scan, 2000), TRANSPORT_UNPLUGGED);
  /* It stays away, and the hotplug monitor reported it leaving. */
  until = transport_now_ms() + 3000;
  do {
    rc = transport_read_scan(t, &scan, 100);
    assert_int_equal(rc, TRANSPORT_UNPLUGGED);
    transport_hidpos_hotplug_counts(t, &arrived, &left);
  } while (left == 0 && transport_now_ms() < until);
  assert_int_equal(left, 1);

  /* Plugged back in elsewhere: found again by VID:PID at its new address,
  ** and the script plays from its start. */
  plug_in(7, 9);
  expect_code(t, 0);
  expect_code(t, 1);
  transport_hidpos_hotplug_counts(t, &arrived, &left);
  assert_int_equal(arrived, 2);
  transport_free(t);
  pull_out();
}

static void test_listing(void **state)
{
  usb_scanner_info_t *devices = NULL;
  GError *error = NULL;
  size_t n = 0, pos = 0, vendor = 0;

  (void)state;
  plug_in(11, 12);
  if (!umockdev_testbed_add_from_file(testbed, "tests/data/hidpos/others.umockdev", &error))
    fail_msg("umockdev: %s", error->message);
  assert_int_equal(transport_hidpos_list(&devices, &n), TRANSPORT_OK);
  for (size_t i = 0; i < n; i++) {
    if (devices[i].vid == 0x1209 && devices[i].pid == 0x0001) {
      pos++;
      assert_true(devices[i].hid_pos);
      assert_string_equal(devices[i].serial, "TEST0001");
      assert_string_equal(devices[i].product, "HID-POS scanner (emulated)");
      assert_string_equal(devices[i].sysfs_name, "1-11");
      assert_null(devices[i].vendor_name);
    } else if (devices[i].vid == 0x0C2E) {
      vendor++;
      assert_false(devices[i].hid_pos); /* a keyboard-mode scanner */
      assert_true(devices[i].hid);
      assert_string_equal(devices[i].vendor_name, "Metrologic (Honeywell)");
    } else {
      fail_msg("listed a device that is no scanner: %04x:%04x", devices[i].vid, devices[i].pid);
    }
  }
  assert_int_equal(pos, 1);
  assert_int_equal(vendor, 1);
  free(devices);

  /* With no VID:PID the transport takes the device with usage page 0x8C,
  ** not the keyboard-mode scanner of a known maker. */
  {
    scanner_transport_t *t = NULL;

    assert_int_equal(transport_hidpos_new(NULL, &t), TRANSPORT_OK);
    assert_string_equal(transport_describe(t), "usb");
    assert_int_equal(transport_open(t), TRANSPORT_OK);
    assert_string_equal(transport_describe(t), "usb:1209:0001");
    expect_code(t, 0);
    transport_free(t);
  }
  pull_out();
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_descriptor), cmocka_unit_test(test_assembler),
      cmocka_unit_test(test_usb_ids),    cmocka_unit_test(test_emulated_scanner),
      cmocka_unit_test(test_listing),
  };

  return cmocka_run_group_tests(tests, testbed_setup, group_teardown);
}
