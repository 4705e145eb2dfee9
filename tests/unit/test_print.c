/*
** test_print.c: receipts on ESC/POS printers (pos/print/print.h), from a real
** receipt with marked items closed in an FN-M emulator.
**
** What it proves:
**   - an FN made with fn_emu_create_with_secret holds that secret and signs
**     with it;
**   - the ESC/POS bytes of that receipt, 58 mm (32 columns) and 80 mm (48),
**     are exactly tests/data/escpos/receipt58.bin and receipt80.bin. The
**     receipt is deterministic: fixed FN number, fixed FN secret (so the
**     fiscal sign, the FP and the QR are fixed), fixed clocks. After a
**     deliberate layout change, rewrite the expected files with
**         KASSA_REGENERATE=1 ctest --test-dir build -R test_print
**     and review the difference (a mismatch leaves the actual bytes in
**     tests/artifacts/ for that);
**   - the QR raster in those bytes, cut out of the stream and drawn as a
**     picture, decodes with zbar (scanner/image.h) to the receipt's QR
**     string; so does the PNG of print_qr_png();
**   - the layout is the till's (receipt_layout gives exactly
**     receipt_text's text, its lines cover it, headings, ИТОГ and the QR
**     lines are marked); the stream's framing and styles are checked by hand
**     against the ESC/POS commands on a small layout, including '?' for a
**     character CP866 lacks and a space for an ESC inside a name;
**   - the options: native QR (GS ( k carrying the QR string), no QR (the
**     string printed as text), code page, no cut, no FS .;
**   - a missing receipt or a bad width is refused and produces nothing;
**   - the file sink writes the same bytes; the serial sink does too, read
**     back through a pty (at two speeds and with XON/XOFF), and reports a
**     timeout when nothing reads; malformed device strings are refused with
**     a message naming the device.
**
**   - a backend of the caller's (print_sink_new) gets every byte, one flush
**     and one destroy.
**
** The USB sink is tested against an emulated printer in test_print_usb.c.
** Not tested: libserialport's own settings on a real UART (no hardware).
*/
#define _XOPEN_SOURCE 700 /* posix_openpt, grantpt, unlockpt, ptsname */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "pos/print/print.h"
#include "pos/print/receipt.h"
#include "pos/till/sale.h"
#include "scanner/image.h"
#include "tests/support/till_fixture.h"

#define GS "\x1d"

typedef struct world {
  till_fixture_t f;
  sale_closed_t closed;
  char gtin_shoes[15], gtin_milk[15], gtin_bread[15], gtin_apples[15];
} world_t;

/* The FN's secret, pinned so the fiscal sign in the expected files holds. */
static const uint8_t secret[FN_EMU_SECRET_SIZE] = {
    0x4b, 0x61, 0x73, 0x73, 0x61, 0x2d, 0x70, 0x72, 0x69, 0x6e, 0x74, 0x2d, 0x74, 0x65, 0x73, 0x74,
    0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0xfe, 0xdc, 0xba, 0x98, 0x76, 0x54, 0x32, 0x10};

/* A receipt of two pairs of shoes and a milk (marked), bread and apples
** by weight, paid in cash and by card. */
static int group_setup(void **state)
{
  world_t *w = calloc(1, sizeof *w);
  check_decision_t d;
  char code[200], ki[64];
  doc_quantity_t kg = {350, 3};
  sale_basket_t *b = NULL;
  if (!w) return -1;
  *state = w;
  if (till_fixture_create(&w->f, "print", secret) != 0) return -1;
  till_fixture_gtin14("0460000000101", w->gtin_shoes);
  till_fixture_gtin14("0460000000303", w->gtin_milk);
  till_fixture_gtin14("0460000000202", w->gtin_bread);
  till_fixture_gtin14("0460000000606", w->gtin_apples);
  if (till_fixture_product(&w->f, w->gtin_shoes, "Кроссовки беговые «Вихрь», р. 42", 499000,
                           "footwear", false, false) ||
      till_fixture_product(&w->f, w->gtin_milk, "Молоко 3,2% 1 л", 8900, "dairy", false, false) ||
      till_fixture_product(&w->f, w->gtin_bread, "Хлеб", 4500, "", false, false) ||
      till_fixture_product(&w->f, w->gtin_apples, "Яблоки", 12000, "", false, true))
    return -1;
  till_t *t = w->f.till;
  if (sale_open(t, 1, "Иванова") != 0) return -1;
  for (unsigned n = 1; n <= 2; n++) {
    snprintf(ki, sizeof ki, "01%s21Sh%011u", w->gtin_shoes, n);
    till_fixture_genuine_code(code, ki, false);
    if (sale_add_scan(t, code, strlen(code), NULL, 0, &d, NULL) != 0) return -1;
  }
  snprintf(code, sizeof code, "01%s21Ab1235" GS "93Zx12" GS "17301231", w->gtin_milk);
  if (sale_add_scan(t, code, strlen(code), NULL, 0, &d, NULL) != 0 ||
      sale_add_scan(t, w->gtin_bread + 1, 13, NULL, 0, &d, NULL) != 0 ||
      sale_add_scan(t, w->gtin_apples + 1, 13, &kg, 0, &d, NULL) != 0)
    return -1;
  if (!(b = malloc(sizeof *b)) || sale_get(t, b) != 0) {
    free(b);
    return -1;
  }
  int rc = sale_close(t, 100000, b->total - 100000, &w->closed, NULL);
  free(b);
  return rc == 0 && w->closed.marked_lines == 3 ? 0 : -1;
}

static int group_teardown(void **state)
{
  world_t *w = *state;
  if (w) till_fixture_destroy(&w->f);
  free(w);
  return 0;
}

/* ---------------------------------------------------------------------- */
/* Helpers                                                                 */

static uint8_t *read_file(const char *path, size_t *len)
{
  FILE *f = fopen(path, "rb");
  uint8_t *data = NULL;
  long n;
  *len = 0;
  if (!f) return NULL;
  if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
      (data = malloc((size_t)n + 1)) && fread(data, 1, (size_t)n, f) == (size_t)n)
    *len = (size_t)n;
  fclose(f);
  return data;
}

static void write_file(const char *path, const uint8_t *data, size_t len)
{
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(data, 1, len, f), len);
  assert_int_equal(fclose(f), 0);
}

/* Compares with the expected file, or rewrites it under KASSA_REGENERATE=1. */
static void expect_file(const char *name, const uint8_t *data, size_t len)
{
  char path[256];
  const char *regen = getenv("KASSA_REGENERATE");
  size_t want_len = 0;
  snprintf(path, sizeof path, "tests/data/escpos/%s", name);
  if (regen && !strcmp(regen, "1")) {
    write_file(path, data, len);
    fprintf(stderr, "regenerated %s (%zu bytes)\n", path, len);
    return;
  }
  uint8_t *want = read_file(path, &want_len);
  if (!want) fail_msg("%s is missing: run with KASSA_REGENERATE=1 from the source root", path);
  size_t i = 0;
  while (i < len && i < want_len && data[i] == want[i]) i++;
  if (i != len || len != want_len) {
    char actual[256];
    mkdir("tests/artifacts", 0755);
    snprintf(actual, sizeof actual, "tests/artifacts/%s", name);
    write_file(actual, data, len);
    free(want);
    fail_msg("%s: %zu bytes expected, %zu made, first difference at byte %zu (actual bytes in "
             "%s)",
             path, want_len, len, i, actual);
  }
  free(want);
}

/* Where needle starts in hay at or after from, or -1. */
static long find(const uint8_t *hay, size_t n, const void *needle, size_t m, size_t from)
{
  for (size_t i = from; m <= n && i + m <= n; i++)
    if (!memcmp(hay + i, needle, m)) return (long)i;
  return -1;
}

/*
** The raster images (GS v 0) of an ESC/POS stream, stacked into one grey
** picture (black 0, white 255) with a white margin. Every band must be as
** wide as the first. Text never holds a GS byte (control bytes print as
** spaces), so searching for the command is safe. Returns the number of
** bands.
*/
static unsigned cut_raster(const uint8_t *s, size_t n, image_gray_t *img, unsigned *width_dots)
{
  static const uint8_t gsv0[] = {0x1D, 'v', '0', 0};
  const unsigned margin = 16;
  unsigned bands = 0, bpr = 0, rows = 0;
  uint8_t *bits = NULL;
  long at = 0;
  while ((at = find(s, n, gsv0, sizeof gsv0, (size_t)at)) >= 0) {
    assert_true((size_t)at + 8 <= n);
    unsigned x = s[at + 4] | (unsigned)s[at + 5] << 8, y = s[at + 6] | (unsigned)s[at + 7] << 8;
    if (bands == 0) bpr = x;
    assert_int_equal(x, bpr);
    assert_true(y > 0 && y <= 128); /* bands of at most 128 rows */
    assert_true((size_t)at + 8 + (size_t)x * y <= n);
    bits = realloc(bits, (size_t)bpr * (rows + y));
    memcpy(bits + (size_t)bpr * rows, s + at + 8, (size_t)x * y);
    rows += y;
    bands++;
    at += 8 + (long)(x * y);
  }
  if (bands == 0) return 0;
  *width_dots = bpr * 8;
  img->width = (int)(bpr * 8 + 2 * margin);
  img->height = (int)(rows + 2 * margin);
  img->pixels = malloc((size_t)img->width * (size_t)img->height);
  memset(img->pixels, 255, (size_t)img->width * (size_t)img->height);
  for (unsigned yy = 0; yy < rows; yy++)
    for (unsigned xx = 0; xx < bpr * 8; xx++)
      if (bits[(size_t)yy * bpr + xx / 8] & (0x80u >> (xx % 8)))
        img->pixels[(size_t)(yy + margin) * (size_t)img->width + xx + margin] = 0;
  free(bits);
  return bands;
}

static void expect_one_qr(const image_gray_t *img, const char *qr)
{
  image_code_t codes[4];
  size_t count = 0;
  image_decode_options_t o = {.decoders = IMAGE_DECODE_ZBAR};
  assert_int_equal(image_decode(img, codes, 4, &count, &o), 0);
  assert_int_equal(count, 1);
  assert_string_equal(codes[0].symbology, "QR-Code");
  assert_string_equal((const char *)codes[0].data, qr);
}

static void receipt_bytes(world_t *w, unsigned width, const print_options_t *o, uint8_t **out,
                          size_t *len)
{
  print_options_t def;
  int fn_error = -1;
  if (!o) {
    print_options_default(&def, width);
    o = &def;
  }
  assert_int_equal(print_escpos_receipt(w->f.till, w->closed.doc.number, o, out, len, &fn_error),
                   0);
  assert_int_equal(fn_error, 0);
  assert_non_null(*out);
}

/* ---------------------------------------------------------------------- */
/* The pinned secret                                                       */

/* The FN holds the secret it was made with, and the receipt's fiscal sign
** verifies with it: the expected files are signed receipts, not luck. */
static void test_pinned_secret(void **state)
{
  world_t *w = *state;
  uint8_t back[FN_EMU_SECRET_SIZE];
  char number[17], path[256];
  fn_document_t *doc = malloc(sizeof *doc);
  assert_int_equal(fn_emu_read_secret(w->f.fx.path, back, number), 0);
  assert_memory_equal(back, secret, sizeof secret);
  assert_string_equal(number, TILL_FIXTURE_FN_NUMBER);
  assert_int_equal(fn_document_get(till_fn(w->f.till), w->closed.doc.number, doc), 0);
  assert_int_equal(fn_emu_verify_sign(secret, doc->data, doc->len), 0);
  back[0] ^= 1;
  assert_int_not_equal(fn_emu_verify_sign(back, doc->data, doc->len), 0);
  free(doc);
  snprintf(path, sizeof path, "%s/other.db", w->f.fx.dir);
  assert_int_equal(fn_emu_create_with_secret(path, TILL_FIXTURE_FN_NUMBER, NULL), FN_ERR_PARAMS);
  assert_int_equal(access(path, F_OK), -1); /* nothing made */
}

/* ---------------------------------------------------------------------- */
/* The layout                                                              */

static void test_layout_is_the_receipt_text(void **state)
{
  world_t *w = *state;
  receipt_layout_t l;
  int err = 0;
  char *text = receipt_text(w->f.till, w->closed.doc.number, 32, &err);
  assert_non_null(text);
  assert_int_equal(receipt_layout(w->f.till, w->closed.doc.number, 32, &l), 0);
  assert_string_equal(l.text, text);
  assert_string_equal(l.qr, w->closed.qr);
  /* A long name breaks between words, the rest indented: "р. 42" stays
  ** whole on 58 mm paper (it used to come out as "р" / ". 42"). */
  assert_non_null(strstr(text, "[М] Кроссовки беговые \"Вихрь\",\n  р. 42\n"));
  /* The lines cover the text, newline after newline. */
  size_t at = 0, headings = 0, totals = 0;
  char qr_joined[512] = "";
  for (size_t i = 0; i < l.line_count; i++) {
    assert_int_equal(l.lines[i].offset, at);
    assert_int_equal(l.text[at + l.lines[i].length], '\n');
    at += l.lines[i].length + 1;
    if (l.lines[i].style == RECEIPT_HEADING) headings++;
    if (l.lines[i].style == RECEIPT_TOTAL) {
      totals++;
      assert_memory_equal(l.text + l.lines[i].offset, "ИТОГ", strlen("ИТОГ"));
    }
    if (l.lines[i].style == RECEIPT_QR_TEXT)
      strncat(qr_joined, l.text + l.lines[i].offset, l.lines[i].length);
  }
  assert_int_equal(at, strlen(l.text));
  assert_int_equal(l.lines[0].style, RECEIPT_HEADING); /* the seller */
  assert_memory_equal(l.text + l.lines[0].offset + l.lines[0].length - strlen("ООО Ромашка"),
                      "ООО Ромашка", strlen("ООО Ромашка"));
  assert_int_equal(headings, 3); /* seller, КАССОВЫЙ ЧЕК, ПРИХОД */
  assert_int_equal(totals, 1);
  assert_int_equal(l.lines[l.line_count - 1].style, RECEIPT_QR_TEXT);
  assert_true(!strncmp(qr_joined, "QR: ", 4));
  assert_string_equal(qr_joined + 4, w->closed.qr);
  /* The marks of the three marked lines. */
  assert_non_null(strstr(l.text, "[М] Кроссовки"));
  assert_non_null(strstr(l.text, "[М] Молоко"));
  receipt_layout_free(&l);
  assert_null(l.text);
  receipt_layout_free(NULL);
  free(text);
  assert_int_not_equal(receipt_layout(w->f.till, 9999, 32, &l), 0);
  assert_null(l.text);
}

/* ---------------------------------------------------------------------- */
/* The receipt, byte for byte                                              */

static void check_receipt(world_t *w, unsigned width, const char *expected)
{
  uint8_t *bytes = NULL;
  size_t len = 0;
  image_gray_t img = {0};
  unsigned raster_width = 0;
  receipt_bytes(w, width, NULL, &bytes, &len);
  expect_file(expected, bytes, len);

  /* Framing, whatever the expected file says: initialise, no Chinese
  ** mode, PC866; feed 4 and a partial cut at the end. */
  static const uint8_t head[] = {0x1B, '@', 0x1C, '.', 0x1B, 't', 17};
  static const uint8_t tail[] = {0x1B, 'd', 4, 0x1D, 'V', 66, 0};
  assert_true(len > sizeof head + sizeof tail);
  assert_memory_equal(bytes, head, sizeof head);
  assert_memory_equal(bytes + len - sizeof tail, tail, sizeof tail);
  /* ИТОГ bold and double height, the marks in CP866, no QR text. */
  static const uint8_t total[] = {0x1B, '!', 0x18, 0x88, 0x92, 0x8E, 0x83};
  static const uint8_t mark[] = {'[', 0x8C, ']', ' ', 0x8A}; /* "[М] К" */
  assert_true(find(bytes, len, total, sizeof total, 0) >= 0);
  assert_true(find(bytes, len, mark, sizeof mark, 0) >= 0);
  assert_true(find(bytes, len, "QR: ", 4, 0) < 0);
  assert_true(find(bytes, len, "t=", 2, 0) < 0);

  /* The QR: cut out of the stream, drawn, read back. */
  assert_true(cut_raster(bytes, len, &img, &raster_width) >= 2);
  assert_true(raster_width <= print_paper_dots(width));
  expect_one_qr(&img, w->closed.qr);
  image_free(&img);
  free(bytes);
}

static void test_receipt_58mm(void **state) { check_receipt(*state, 32, "receipt58.bin"); }

static void test_receipt_80mm(void **state) { check_receipt(*state, 48, "receipt80.bin"); }

/* ---------------------------------------------------------------------- */
/* The stream's commands, by hand                                          */

static void test_commands_by_hand(void **state)
{
  (void)state;
  static const char text[] = "Цена € 5\x1b@\nИТОГ\nКАССОВЫЙ\n";
  receipt_line_t lines[] = {{0, strlen("Цена € 5\x1b@"), RECEIPT_PLAIN},
                            {strlen("Цена € 5\x1b@\n"), strlen("ИТОГ"), RECEIPT_TOTAL},
                            {strlen("Цена € 5\x1b@\nИТОГ\n"), strlen("КАССОВЫЙ"), RECEIPT_HEADING}};
  receipt_layout_t l = {.text = (char *)text, .lines = lines, .line_count = 3};
  static const uint8_t want[] = {
      0x1B, '@',  0x1C, '.',  0x1B, 't',  17,                           /* init, FS ., PC866 */
      0x96, 0xA5, 0xAD, 0xA0, ' ',  '?',  ' ',  '5',  ' ',  '@',  0x0A, /* € → ?, ESC → space */
      0x1B, '!',  0x18, 0x88, 0x92, 0x8E, 0x83, 0x1B, '!',  0,    0x0A, /* ИТОГ */
      0x1B, 'E',  1,    0x8A, 0x80, 0x91, 0x91, 0x8E, 0x82, 0x9B, 0x89,
      0x1B, 'E',  0,    0x0A, 0x1B, 'd',  4,    0x1D, 'V',  66,   0};
  print_options_t o;
  uint8_t *out = NULL;
  size_t len = 0;
  print_options_default(&o, 32);
  assert_int_equal(print_escpos_layout(&l, &o, &out, &len), 0);
  assert_int_equal(len, sizeof want);
  assert_memory_equal(out, want, sizeof want);
  free(out);

  /* Another code page, no FS ., full cut, no feed. */
  o.codepage = 6;
  o.cancel_kanji = false;
  o.cut = PRINT_CUT_FULL;
  o.feed_lines = 0;
  assert_int_equal(print_escpos_layout(&l, &o, &out, &len), 0);
  static const uint8_t head[] = {0x1B, '@', 0x1B, 't', 6, 0x96};
  static const uint8_t tail[] = {0x0A, 0x1B, 'd', 0, 0x1D, 'V', 65, 0};
  assert_memory_equal(out, head, sizeof head);
  assert_memory_equal(out + len - sizeof tail, tail, sizeof tail);
  free(out);
  o.cut = PRINT_CUT_NONE;
  assert_int_equal(print_escpos_layout(&l, &o, &out, &len), 0);
  static const uint8_t feed_only[] = {0x0A, 0x1B, 'd', 0};
  assert_memory_equal(out + len - sizeof feed_only, feed_only, sizeof feed_only);
  free(out);

  /* Out of range: nothing made. */
  o.width = 40;
  out = (uint8_t *)&o;
  assert_int_equal(print_escpos_layout(&l, &o, &out, &len), PRINT_ERR_ARGUMENT);
  assert_null(out);
  assert_int_equal(len, 0);
  print_options_default(&o, 48);
  o.codepage = 256;
  assert_int_equal(print_escpos_layout(&l, &o, &out, &len), PRINT_ERR_ARGUMENT);
  assert_int_equal(print_escpos_layout(NULL, &o, &out, &len), PRINT_ERR_ARGUMENT);
}

static void test_qr_options(void **state)
{
  world_t *w = *state;
  print_options_t o;
  uint8_t *bytes = NULL;
  size_t len = 0;
  image_gray_t img = {0};
  unsigned width = 0;

  /* Native: GS ( k stores exactly the QR string, and there is no raster. */
  print_options_default(&o, 48);
  o.qr = PRINT_QR_NATIVE;
  receipt_bytes(w, 48, &o, &bytes, &len);
  static const uint8_t store[] = {0x1D, '(', 'k'};
  long at = 0;
  bool stored = false, printed = false;
  while ((at = find(bytes, len, store, sizeof store, (size_t)at)) >= 0) {
    size_t n = bytes[at + 3] | (size_t)bytes[at + 4] << 8;
    assert_int_equal(bytes[at + 5], 49);
    if (bytes[at + 6] == 80) {
      assert_int_equal(n - 3, strlen(w->closed.qr));
      assert_memory_equal(bytes + at + 8, w->closed.qr, n - 3);
      stored = true;
    }
    if (bytes[at + 6] == 81) printed = stored;
    at += 5 + (long)n;
  }
  assert_true(stored && printed);
  assert_int_equal(cut_raster(bytes, len, &img, &width), 0);
  free(bytes);

  /* None: the string stays on paper as text. */
  o.qr = PRINT_QR_NONE;
  receipt_bytes(w, 48, &o, &bytes, &len);
  assert_true(find(bytes, len, "QR: t=", 6, 0) >= 0);
  assert_int_equal(cut_raster(bytes, len, &img, &width), 0);
  free(bytes);

  /* A module size the paper cannot hold is refused. */
  print_options_default(&o, 32);
  o.module_dots = 32;
  assert_int_equal(print_escpos_receipt(w->f.till, w->closed.doc.number, &o, &bytes, &len, NULL),
                   PRINT_ERR_QR);
  assert_null(bytes);
}

static void test_refusals_make_nothing(void **state)
{
  world_t *w = *state;
  print_options_t o;
  uint8_t *bytes = (uint8_t *)w;
  size_t len = 7;
  int fn_error = 0;
  print_options_default(&o, 32);
  assert_int_equal(print_escpos_receipt(w->f.till, 9999, &o, &bytes, &len, &fn_error),
                   PRINT_ERR_RECEIPT);
  assert_true(fn_error < 0);
  assert_null(bytes);
  assert_int_equal(len, 0);
  /* Document 1 is the registration, not a receipt. */
  assert_int_equal(print_escpos_receipt(w->f.till, 1, &o, &bytes, &len, &fn_error),
                   PRINT_ERR_RECEIPT);
  print_options_default(&o, 42);
  assert_int_equal(
      print_escpos_receipt(w->f.till, w->closed.doc.number, &o, &bytes, &len, &fn_error),
      PRINT_ERR_ARGUMENT);
  assert_null(bytes);
  assert_string_equal(print_err_name(PRINT_ERR_TIMEOUT), "timeout");
  assert_string_equal(print_err_name(12345), "unknown");
  assert_non_null(strstr(print_err_message(PRINT_ERR_NOT_FOUND, true), "Принтер"));
}

/* ---------------------------------------------------------------------- */
/* The QR as PNG and raster                                                */

static void test_qr_png(void **state)
{
  world_t *w = *state;
  uint8_t *png = NULL;
  size_t len = 0;
  char path[256];
  image_gray_t img = {0};
  print_raster_t r;
  assert_int_equal(print_qr_png(w->closed.qr, 0, &png, &len), 0);
  assert_true(len > 8);
  assert_memory_equal(png, "\x89PNG\r\n\x1a\n", 8);
  snprintf(path, sizeof path, "%s/qr.png", w->f.fx.dir);
  write_file(path, png, len);
  free(png);
  assert_int_equal(image_load(path, &img), 0);
  unlink(path);
  /* 8 pixels a module, the 4-module quiet zone on each side. */
  assert_int_equal(img.width % 8, 0);
  assert_int_equal(img.width, img.height);
  for (int x = 0; x < img.width; x++) assert_int_equal(img.pixels[x], 255);
  expect_one_qr(&img, w->closed.qr);
  image_free(&img);

  assert_int_equal(print_qr_raster(w->closed.qr, 3, &r), 0);
  assert_int_equal(r.width, r.height);
  assert_int_equal(r.width % 3, 0);
  assert_int_equal(r.bytes_per_row, (r.width + 7) / 8);
  print_raster_free(&r);
  assert_null(r.bits);
  print_raster_free(NULL);
  assert_int_equal(print_qr_raster("", 3, &r), PRINT_ERR_ARGUMENT);
  assert_int_equal(print_qr_raster("x", 0, &r), PRINT_ERR_ARGUMENT);
  assert_int_equal(print_qr_raster("x", 33, &r), PRINT_ERR_ARGUMENT);
  char *huge = malloc(8001);
  memset(huge, 'x', 8000);
  huge[8000] = '\0';
  assert_int_equal(print_qr_raster(huge, 1, &r), PRINT_ERR_QR);
  assert_int_equal(print_qr_png(huge, 1, &png, &len), PRINT_ERR_QR);
  assert_null(png);
  free(huge);
}

/* ---------------------------------------------------------------------- */
/* Sinks                                                                   */

static void test_file_sink(void **state)
{
  world_t *w = *state;
  uint8_t *bytes = NULL, *back = NULL;
  size_t len = 0, back_len = 0;
  char device[300], err[256];
  print_sink_t *s = NULL;
  receipt_bytes(w, 32, NULL, &bytes, &len);
  snprintf(device, sizeof device, "file:%s/receipt.bin", w->f.fx.dir);
  assert_int_equal(print_sink_open(device, NULL, &s, err, sizeof err), 0);
  assert_non_null(strstr(print_sink_describe(s), "receipt.bin"));
  assert_int_equal(print_sink_write(s, bytes, len / 2), 0);
  assert_int_equal(print_sink_write(s, bytes + len / 2, len - len / 2), 0);
  assert_int_equal(print_sink_close(s), 0);
  back = read_file(device + 5, &back_len);
  assert_int_equal(back_len, len);
  assert_memory_equal(back, bytes, len);
  unlink(device + 5);
  free(back);
  free(bytes);
  assert_int_equal(print_sink_close(NULL), 0);
}

/* A backend of the caller's: the core hands it every byte, flushes, then
** destroys it once. */
typedef struct memory_sink {
  uint8_t data[64];
  size_t len;
  int flushes, destroys;
} memory_sink_t;

static int memory_write(void *state, const uint8_t *data, size_t len, int timeout_ms)
{
  memory_sink_t *m = state;
  assert_int_equal(timeout_ms, 1234);
  if (m->len + len > sizeof m->data) return PRINT_ERR_IO;
  memcpy(m->data + m->len, data, len);
  m->len += len;
  return 0;
}

static int memory_flush(void *state, int timeout_ms)
{
  (void)timeout_ms;
  ((memory_sink_t *)state)->flushes++;
  return 0;
}

static void memory_destroy(void *state) { ((memory_sink_t *)state)->destroys++; }

static void test_custom_sink(void **state)
{
  static const print_sink_backend_t memory = {"memory", memory_write, memory_flush, memory_destroy};
  static const print_sink_backend_t no_write = {"broken", NULL, NULL, memory_destroy};
  print_sink_options_t o = {.timeout_ms = 1234};
  memory_sink_t m = {0};
  print_sink_t *s = NULL;
  (void)state;
  assert_int_equal(print_sink_new(&memory, &m, NULL, &o, &s), 0);
  assert_string_equal(print_sink_describe(s), "memory");
  assert_int_equal(print_sink_write(s, (const uint8_t *)"\x1b@", 2), 0);
  assert_int_equal(print_sink_write(s, NULL, 0), 0);
  assert_int_equal(print_sink_write(s, NULL, 3), PRINT_ERR_ARGUMENT);
  assert_int_equal(print_sink_write(s, m.data, sizeof m.data), PRINT_ERR_IO);
  assert_int_equal(print_sink_close(s), 0);
  assert_int_equal(m.len, 2);
  assert_memory_equal(m.data, "\x1b@", 2);
  assert_int_equal(m.flushes, 1);
  assert_int_equal(m.destroys, 1);
  /* A backend that cannot write is refused, and its state destroyed. */
  assert_int_equal(print_sink_new(&no_write, &m, "x", NULL, &s), PRINT_ERR_ARGUMENT);
  assert_null(s);
  assert_int_equal(m.destroys, 2);
  assert_int_equal(print_sink_write(NULL, m.data, 1), PRINT_ERR_ARGUMENT);
}

typedef struct pty_reader {
  int master;
  uint8_t *buf;
  size_t want, got;
} pty_reader_t;

/* Reads the master side until `want` bytes came or 10 s passed. */
static void *read_master(void *arg)
{
  pty_reader_t *r = arg;
  time_t end = time(NULL) + 10;
  while (r->got < r->want && time(NULL) < end) {
    struct pollfd p = {.fd = r->master, .events = POLLIN};
    if (poll(&p, 1, 200) <= 0) continue;
    ssize_t n = read(r->master, r->buf + r->got, r->want - r->got);
    if (n > 0) r->got += (size_t)n;
  }
  return NULL;
}

static int open_pty(char *name, size_t size)
{
  int master = posix_openpt(O_RDWR | O_NOCTTY);
  assert_true(master >= 0);
  assert_int_equal(grantpt(master), 0);
  assert_int_equal(unlockpt(master), 0);
  snprintf(name, size, "%s", ptsname(master));
  return master;
}

static void serial_round_trip(const uint8_t *bytes, size_t len, const char *suffix)
{
  char name[128], device[200], err[256];
  print_sink_t *s = NULL;
  pthread_t thread;
  int master = open_pty(name, sizeof name);
  pty_reader_t r = {.master = master, .buf = malloc(len), .want = len};
  snprintf(device, sizeof device, "serial:%s%s", name, suffix);
  assert_int_equal(print_sink_open(device, NULL, &s, err, sizeof err), 0);
  assert_non_null(strstr(print_sink_describe(s), name));
  assert_int_equal(pthread_create(&thread, NULL, read_master, &r), 0);
  assert_int_equal(print_sink_write(s, bytes, len), 0);
  assert_int_equal(print_sink_close(s), 0);
  pthread_join(thread, NULL);
  assert_int_equal(r.got, len);
  assert_memory_equal(r.buf, bytes, len); /* raw: no LF → CR LF, no XON/XOFF eaten */
  free(r.buf);
  close(master);
}

static void test_serial_sink_on_pty(void **state)
{
  world_t *w = *state;
  uint8_t *bytes = NULL;
  size_t len = 0;
  receipt_bytes(w, 48, NULL, &bytes, &len);
  serial_round_trip(bytes, len, "@115200");
  serial_round_trip(bytes, len, "");
  serial_round_trip(bytes, len, "@19200,xonxoff");
  free(bytes);
}

static void test_serial_sink_timeout(void **state)
{
  (void)state;
  char name[128], device[200], err[256];
  print_sink_t *s = NULL;
  print_sink_options_t o = {.timeout_ms = 300};
  int master = open_pty(name, sizeof name);
  size_t big = 4u << 20;
  uint8_t *junk = calloc(big, 1);
  snprintf(device, sizeof device, "serial:%s@9600,rtscts", name);
  assert_int_equal(print_sink_open(device, &o, &s, err, sizeof err), 0);
  /* Nobody reads the other side: the printer "stopped taking data". */
  assert_int_equal(print_sink_write(s, junk, big), PRINT_ERR_TIMEOUT);
  (void)print_sink_close(s);
  free(junk);
  close(master);
}

static void test_device_strings(void **state)
{
  world_t *w = *state;
  static const struct {
    const char *device;
    int rc;
    const char *says; /* part of the message */
  } cases[] = {
      {"", PRINT_ERR_DEVICE, "unknown printer device"},
      {"lpt1", PRINT_ERR_DEVICE, "unknown printer device"},
      {"file:", PRINT_ERR_DEVICE, "unknown printer device"},
      {"serial:", PRINT_ERR_DEVICE, "unknown printer device"},
      {"serial:@9600", PRINT_ERR_DEVICE, "serial:PORT"},
      {"serial:/dev/ttyUSB0@1234", PRINT_ERR_DEVICE, "baud rate"},
      {"serial:/dev/ttyUSB0@", PRINT_ERR_DEVICE, "baud rate"},
      {"serial:/dev/ttyUSB0@9600x", PRINT_ERR_DEVICE, "baud rate"},
      {"serial:/dev/ttyUSB0,cts", PRINT_ERR_DEVICE, "flow control"},
      {"serial:/dev/ttyUSB0@9600,", PRINT_ERR_DEVICE, "flow control"},
      {"usb:", PRINT_ERR_DEVICE, "usb:VID:PID"},
      {"usb:12345:1", PRINT_ERR_DEVICE, "usb:VID:PID"},
      {"usb:0416", PRINT_ERR_DEVICE, "usb:VID:PID"},
      {"usb:0416:50zz", PRINT_ERR_DEVICE, "usb:VID:PID"},
      {"serial:/dev/kassa-no-such-port", PRINT_ERR_NOT_FOUND, "kassa-no-such-port"},
      {"serial:kassa-no-such-port@115200", PRINT_ERR_NOT_FOUND, "/dev/kassa-no-such-port"},
      {"file:/kassa-no-such-dir/receipt.bin", PRINT_ERR_NOT_FOUND, "kassa-no-such-dir"},
      {"usb:ffff:fffe", PRINT_ERR_NOT_FOUND, "usb"},
  };
  char err[512];
  print_sink_t *s;
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    s = (print_sink_t *)w;
    int rc = print_sink_open(cases[i].device, NULL, &s, err, sizeof err);
    if (rc != cases[i].rc || !strstr(err, cases[i].says))
      fail_msg("'%s': %s (%d) '%s'", cases[i].device, print_err_name(rc), rc, err);
    assert_null(s);
  }
  /* A directory is no file to print to; a regular file is no serial port. */
  char device[300];
  snprintf(device, sizeof device, "file:%s", w->f.fx.dir);
  assert_int_equal(print_sink_open(device, NULL, &s, err, sizeof err), PRINT_ERR_OPEN);
  snprintf(device, sizeof device, "serial:%s", w->f.fx.path);
  assert_int_not_equal(print_sink_open(device, NULL, &s, err, sizeof err), 0);
  assert_null(s);
  assert_int_equal(print_sink_open(NULL, NULL, &s, err, sizeof err), PRINT_ERR_ARGUMENT);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_pinned_secret),
      cmocka_unit_test(test_layout_is_the_receipt_text),
      cmocka_unit_test(test_receipt_58mm),
      cmocka_unit_test(test_receipt_80mm),
      cmocka_unit_test(test_commands_by_hand),
      cmocka_unit_test(test_qr_options),
      cmocka_unit_test(test_refusals_make_nothing),
      cmocka_unit_test(test_qr_png),
      cmocka_unit_test(test_file_sink),
      cmocka_unit_test(test_custom_sink),
      cmocka_unit_test(test_serial_sink_on_pty),
      cmocka_unit_test(test_serial_sink_timeout),
      cmocka_unit_test(test_device_strings),
  };
  return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
