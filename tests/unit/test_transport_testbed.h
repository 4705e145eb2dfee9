/*
** test_transport_testbed.h: the umockdev testbed the HID-POS and serial
** transport tests emulate their scanners in (one per test program, made by
** the group's set-up, released by its tear-down).
**
** The program must be started by umockdev-wrapper (ctest does), which
** preloads umockdev's /sys, /dev and ioctl emulation; without it the group
** fails, never a silent skip.
*/
#ifndef KASSA_TEST_TRANSPORT_TESTBED_H
#define KASSA_TEST_TRANSPORT_TESTBED_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <umockdev.h>

#ifndef TESTBED_PROGRAM
#error "define TESTBED_PROGRAM, the test's name, before including this header"
#endif

static UMockdevTestbed *testbed;

/* The group's set-up: 0, or -1 (the group fails) outside umockdev-wrapper
** or when the testbed cannot be made. TESTBED_PROGRAM, defined before
** this header, names the test in the message. */
static int testbed_setup(void **state)
{
  const char *preload = getenv("LD_PRELOAD");

  (void)state;
  if (preload == NULL || strstr(preload, "libumockdev-preload") == NULL) {
    fprintf(stderr, "%s: run me under umockdev-wrapper (ctest does)\n", TESTBED_PROGRAM);
    return -1;
  }
  testbed = umockdev_testbed_new();
  return testbed == NULL ? -1 : 0;
}

static int testbed_teardown(void **state)
{
  (void)state;
  if (testbed != NULL) g_object_unref(testbed);
  testbed = NULL;
  return 0;
}

/* A device description (tests/data/...umockdev) read whole into text
** (cap bytes, NUL-terminated), for the test to adapt before adding it. */
static void testbed_read(const char *path, char *text, size_t cap)
{
  FILE *f = fopen(path, "r");
  size_t n;

  assert_non_null(f);
  n = fread(text, 1, cap - 1, f);
  fclose(f);
  text[n] = 0;
}

#endif
