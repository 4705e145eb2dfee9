/*
** test_transport_wedge.c: keyboard-wedge scanners (scanner/transport_wedge.c).
**
** A pseudo-terminal stands in for the keyboard: a writer thread "presses
** keys" on the master side with the timing of a scanner (a key every
** millisecond) or of a person (a key every 200-260 ms), and the wedge reads
** the slave in raw mode, as it would read the till's terminal.
**
** Checked: marking codes typed under a Russian layout (every character put
** through layout_us_to_ru(), GS as Ctrl+] or as a substitute key) come back
** byte for byte as the original codes; a person's typing between scans,
** even a whole code typed by hand, is not taken for a scan; short bursts
** are dropped; a scanner without Enter is cut by the pause after it; a
** configured prefix is required and removed; codes without GS that the
** parser cannot restore make the wedge warn exactly once, in Russian and
** English, while restorable ones do not; and a FIFO (no terminal, no
** timing) gives one scan per line.
*/
#define _XOPEN_SOURCE 700

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "scanner/layout.h"
#include "scanner/markcode.h"
#include "scanner/transport.h"
#include "test_transport_codes.h"
#include "test_transport_fifo.h"

#define MAX_KEYS 20000

static void sleep_us(unsigned us)
{
  struct timespec ts = {(time_t)(us / 1000000u), (long)(us % 1000000u) * 1000L};

  while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
    ;
}

/* ---- the keyboard: a pty master and a typist thread ---- */

typedef struct key {
  char bytes[4]; /* one key's character, UTF-8 */
  uint8_t len;
  unsigned delay_us; /* before this key */
} key_t_;

typedef struct keyboard {
  int master;
  char slave[128];
  key_t_ keys[MAX_KEYS];
  size_t nkeys;
  pthread_t thread;
} keyboard_t;

static keyboard_t kb;

static void keyboard_open(void)
{
  const char *name;

  kb.master = posix_openpt(O_RDWR | O_NOCTTY);
  assert_true(kb.master >= 0);
  assert_int_equal(grantpt(kb.master), 0);
  assert_int_equal(unlockpt(kb.master), 0);
  name = ptsname(kb.master);
  assert_non_null(name);
  snprintf(kb.slave, sizeof kb.slave, "%s", name);
  kb.nkeys = 0;
}

static void keyboard_close(void) { close(kb.master); }

static void press(uint32_t cp, unsigned delay_us)
{
  key_t_ *k;

  assert_true(kb.nkeys < MAX_KEYS);
  k = &kb.keys[kb.nkeys++];
  k->len = (uint8_t)layout_utf8_encode(cp, k->bytes);
  k->delay_us = delay_us;
}

/* Type text (bytes, GS allowed) at us_per_key; russian: through the
** Russian layout; gs_key: the code point the scanner sends for GS (0x1D
** for Ctrl+], or a substitute, or 0 to drop GS). Enter at the end when
** enter is set. */
static void type_text(const char *text, size_t len, unsigned us_per_key, bool russian,
                      uint32_t gs_key, bool enter)
{
  for (size_t i = 0; i < len; i++) {
    uint32_t cp = (uint8_t)text[i];

    if (cp == 0x1D) {
      if (gs_key == 0) continue;
      cp = gs_key;
      if (russian && cp != 0x1D && layout_us_to_ru((char)cp) != 0) cp = layout_us_to_ru((char)cp);
    } else if (russian && layout_us_to_ru((char)cp) != 0) {
      cp = layout_us_to_ru((char)cp);
    }
    press(cp, us_per_key);
  }
  if (enter) press('\r', us_per_key);
}

static void *typist(void *arg)
{
  (void)arg;
  for (size_t i = 0; i < kb.nkeys; i++) {
    sleep_us(kb.keys[i].delay_us);
    if (write(kb.master, kb.keys[i].bytes, kb.keys[i].len) != (ssize_t)kb.keys[i].len) break;
  }
  return NULL;
}

static void typist_start(void)
{
  assert_int_equal(pthread_create(&kb.thread, NULL, typist, NULL), 0);
}

static void typist_join(void) { pthread_join(kb.thread, NULL); }

/* ---- warnings ---- */

static int warnings;
static char last_warning[1024];

static void catch_warning(void *ctx, const char *message)
{
  (void)ctx;
  warnings++;
  snprintf(last_warning, sizeof last_warning, "%s", message);
}

static scanner_transport_t *wedge_on_pty(const char *prefix, uint32_t gs_substitute)
{
  transport_wedge_options_t o;
  scanner_transport_t *t = NULL;

  memset(&o, 0, sizeof o);
  o.path = kb.slave;
  /* Scanners here type a key every 1 ms and people every 200-260 ms; the
  ** gap between them is set to 150 ms rather than the default 40 so that
  ** a loaded machine (ctest -j, sanitizers, builds beside it) stalling the
  ** typist thread does not split a scan. The rule under test is the same:
  ** keys closer than the gap are one scan, a person's pace never is. */
  o.key_gap_ms = 150;
  o.prefix = prefix;
  o.gs_substitute = gs_substitute;
  o.warn = catch_warning;
  assert_int_equal(transport_wedge_new(&o, &t), TRANSPORT_OK);
  assert_int_equal(transport_open(t), TRANSPORT_OK);
  return t;
}

/* The typist done, the wedge and the keyboard closed. */
static void wedge_close(scanner_transport_t *t)
{
  typist_join();
  transport_free(t);
  keyboard_close();
}

/* One scan, code (len bytes), and nothing after it: the rest of what was
** typed is not a scan. */
static void expect_only_scan(scanner_transport_t *t, const char *code, size_t len, int timeout_ms)
{
  scan_t scan;

  assert_int_equal(transport_read_scan(t, &scan, timeout_ms), TRANSPORT_OK);
  assert_int_equal(scan.length, len);
  assert_memory_equal(scan.data, code, len);
  assert_int_equal(transport_read_scan(t, &scan, 200), TRANSPORT_TIMEOUT);
}

static bool has_cyrillic_after_typing(const code_text_t *c)
{
  for (size_t i = 0; i < c->gs_len; i++)
    if (layout_is_cyrillic_letter(layout_us_to_ru(c->gs[i]))) return true;
  return false;
}

/* ---- tests ---- */

static void test_russian_layout(void **state)
{
  enum { N = 16 };
  static const code_layout_t layouts[] = {CODE_FOOTWEAR_44, CODE_FOOTWEAR_88, CODE_WATER,
                                          CODE_SERIAL_20, CODE_TOBACCO_BLOCK};
  code_text_t codes[N];
  uint64_t r = 0x52555353u;
  scanner_transport_t *t;
  scan_t scan;

  (void)state;
  keyboard_open();
  warnings = 0;
  t = wedge_on_pty(NULL, '~');
  for (int i = 0; i < N; i++) {
    do code_make(&r, layouts[i % 5], &codes[i]);
    while (!has_cyrillic_after_typing(&codes[i]));
    /* Half send GS as Ctrl+] (0x1D), half as the substitute '~', which
    ** under the Russian layout arrives as 'Ё'. */
    type_text(codes[i].gs, codes[i].gs_len, 1000, true, i % 2 ? 0x1D : '~', true);
    if (i % 4 == 1) { /* the cashier types between scans */
      type_text("qty 2", 5, 230000, true, 0, true);
    }
  }
  typist_start();
  for (int i = 0; i < N; i++) {
    int rc = transport_read_scan(t, &scan, 5000);

    if (rc != TRANSPORT_OK) fail_msg("code %d: %s", i, transport_strerror(rc));
    assert_int_equal(scan.length, codes[i].gs_len);
    assert_memory_equal(scan.data, codes[i].gs, codes[i].gs_len); /* the original, GS and all */
    assert_true(strncmp(scan.source, "wedge:/dev/", 11) == 0);
  }
  assert_int_equal(transport_read_scan(t, &scan, 300), TRANSPORT_TIMEOUT); /* typing dropped */
  wedge_close(t);
  assert_int_equal(warnings, 0);
}

static void test_typing_is_not_scanning(void **state)
{
  static const char code[] = "0104601234567893215Qbag!\x1d"
                             "93Zjqw";
  scanner_transport_t *t;

  (void)state;
  keyboard_open();
  t = wedge_on_pty(NULL, 0);
  /* A whole code typed by hand, a key every 200-260 ms: not a scan. */
  for (size_t i = 0; i < sizeof code - 1; i++)
    if (code[i] != 0x1D) press((uint8_t)code[i], 200000 + (unsigned)(i % 5) * 15000);
  press('\r', 230000);
  /* A short fast burst (a barcode-shaped paste of 5): not a scan. */
  type_text("12345", 5, 1000, false, 0, true);
  /* The code from the scanner, no Enter: cut by the pause after it. */
  type_text(code, sizeof code - 1, 1000, false, 0x1D, false);
  typist_start();
  expect_only_scan(t, code, sizeof code - 1, 8000);
  wedge_close(t);
}

static void test_prefix(void **state)
{
  static const char code[] = "0104601234567893215Qbag!\x1d"
                             "93Zjqw";
  char with_prefix[64];
  scanner_transport_t *t;

  (void)state;
  keyboard_open();
  t = wedge_on_pty("$$", 0);
  type_text(code, sizeof code - 1, 1000, false, 0x1D, true); /* no prefix: not ours */
  snprintf(with_prefix, sizeof with_prefix, "$$%s", code);
  type_text(with_prefix, strlen(with_prefix), 1000, true, 0x1D, true); /* Russian layout too */
  typist_start();
  expect_only_scan(t, code, sizeof code - 1, 5000);
  wedge_close(t);
}

static void test_gs_warning(void **state)
{
  /* No GS, and no known layout explains the rest: gs_missing. */
  static const char lost[] = "010461008041021521e,s;r!t%BroGdABCDEFGHIJ";
  code_text_t restorable;
  uint64_t r = 0x47534C4Fu;
  scanner_transport_t *t;
  markcode_t mc;
  scan_t scan;

  (void)state;
  keyboard_open();
  warnings = 0;
  last_warning[0] = 0;
  t = wedge_on_pty(NULL, 0);
  code_make(&r, CODE_FOOTWEAR_44, &restorable);
  type_text(restorable.gs, restorable.gs_len, 1000, false, 0, true); /* GS dropped */
  type_text(lost, sizeof lost - 1, 1000, false, 0, true);
  type_text(lost, sizeof lost - 1, 1000, false, 0, true);
  typist_start();

  /* A code the parser can restore: no warning. */
  assert_int_equal(transport_read_scan(t, &scan, 5000), TRANSPORT_OK);
  assert_null(memchr(scan.data, 0x1D, scan.length));
  assert_int_equal(markcode_parse(&mc, (const char *)scan.data, scan.length), MARKCODE_OK);
  assert_true(mc.fixes & MARKCODE_FIX_GS_RESTORED);
  assert_int_equal(warnings, 0);
  /* Two that it cannot: one warning, both languages. The scans are
  ** still handed out (the parser refuses them, with its own message). */
  assert_int_equal(transport_read_scan(t, &scan, 5000), TRANSPORT_OK);
  assert_int_equal(warnings, 1);
  assert_int_equal(transport_read_scan(t, &scan, 5000), TRANSPORT_OK);
  assert_int_equal(warnings, 1);
  assert_non_null(strstr(last_warning, "разделитель GS"));
  assert_non_null(strstr(last_warning, "does not send the GS separator"));
  assert_string_equal(last_warning, transport_wedge_gs_warning);
  wedge_close(t);
}

/* Not a terminal: no timing, one scan per line of 8 or more. */
static void test_fifo_lines(void **state)
{
  transport_wedge_options_t o;
  scanner_transport_t *t = NULL;
  scan_t scan;
  fifo_t fifo;
  int fd;

  (void)state;
  fifo_make(&fifo);
  memset(&o, 0, sizeof o);
  o.path = fifo.path;
  o.gs_substitute = 0x2194; /* '↔', the CP437 glyph of GS */
  assert_int_equal(transport_wedge_new(&o, &t), TRANSPORT_OK);
  assert_int_equal(transport_open(t), TRANSPORT_OK);
  fd = open(fifo.path, O_WRONLY);
  assert_true(fd >= 0);
  {
    static const char text[] = "0104601234567893215Qbag!\xe2\x86\x94"
                               "93Zjqw\nshort\n\n4601234567893\r\n";
    assert_int_equal(write(fd, text, sizeof text - 1), (ssize_t)(sizeof text - 1));
  }
  close(fd);
  assert_int_equal(transport_read_scan(t, &scan, 2000), TRANSPORT_OK);
  assert_string_equal((char *)scan.data, "0104601234567893215Qbag!\x1d"
                                         "93Zjqw");
  assert_int_equal(transport_read_scan(t, &scan, 2000), TRANSPORT_OK);
  assert_string_equal((char *)scan.data, "4601234567893");
  assert_int_equal(transport_read_scan(t, &scan, 2000), TRANSPORT_UNPLUGGED); /* writer gone */
  transport_free(t);
  fifo_remove(&fifo);
}

static void test_arguments(void **state)
{
  transport_wedge_options_t o;
  scanner_transport_t *t = NULL;

  (void)state;
  memset(&o, 0, sizeof o);
  assert_int_equal(transport_wedge_new(NULL, &t), TRANSPORT_ERR_ARGUMENT);
  o.gs_substitute = '\r';
  assert_int_equal(transport_wedge_new(&o, &t), TRANSPORT_ERR_ARGUMENT);
  assert_null(t);
  o.gs_substitute = 0;
  o.path = "/nonexistent/tty";
  assert_int_equal(transport_wedge_new(&o, &t), TRANSPORT_OK);
  assert_string_equal(transport_describe(t), "wedge:/nonexistent/tty");
  assert_int_equal(transport_open(t), TRANSPORT_UNPLUGGED);
  transport_free(t);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_russian_layout), cmocka_unit_test(test_typing_is_not_scanning),
      cmocka_unit_test(test_prefix),         cmocka_unit_test(test_gs_warning),
      cmocka_unit_test(test_fifo_lines),     cmocka_unit_test(test_arguments),
  };

  return cmocka_run_group_tests(tests, NULL, NULL);
}
