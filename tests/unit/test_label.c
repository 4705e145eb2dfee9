/*
** test_label.c: remarking labels (pos/print/label.h) read back by the scanner.
**
** Every GS1 mark in tests/data/marking_codes.jsonl (each layout: footwear
** with 44- and 88-character tails, 20-character serials, dairy with and
** without 3103, water, beer, tobacco blocks, pharma) and the tobacco pack
** is printed to a PNG file and decoded with scanner/image.h (libdmtx, the
** same path as `kassa scan --image`): exactly one symbol, GS1 DataMatrix
** (]d2) for GS1 marks and plain DataMatrix for the pack, whose text parses
** to the same normalised code as the one printed. The same for another
** label size and resolution, and for the PNG carried inside label_html()
** after a base64 round trip.
**
** The file itself: a 1-bit grey PNG of the label's size in dots with the
** printer's resolution in pHYs. The picture: the symbol's modules are whole
** dots, its quiet zone is blank, the text under it has ink and changes with
** the serial. Refusals: fur tags, plain barcodes, codes without serial,
** garbage, labels too small for the code, options out of range, a file
** that cannot be written; each with a Russian and an English message.
*/
#define _XOPEN_SOURCE 700

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <png.h>

#include "pos/print/label.h"
#include "scanner/image.h"
#include "scanner/markcode.h"

#define SAMPLES "tests/data/marking_codes.jsonl"

static char workdir[64];

static bool has_cyrillic(const char *s)
{
  for (; *s; s++)
    if ((unsigned char)*s == 0xD0 || (unsigned char)*s == 0xD1) return true;
  return false;
}

/* Decode the label PNG at path: it must hold exactly one DataMatrix whose
** text parses to the normalised form of `code`. */
static void check_reads_back(const char *path, const char *code, size_t len, bool gs1)
{
  static markcode_t want, got;
  static image_code_t found[4];
  image_gray_t img;
  size_t count = 0;

  assert_int_equal(markcode_parse(&want, code, len), MARKCODE_OK);
  assert_int_equal(image_load(path, &img), IMAGE_OK);
  assert_int_equal(image_decode(&img, found, 4, &count, NULL), IMAGE_OK);
  image_free(&img);
  if (count != 1) fail_msg("%s: %zu symbols read from the label of %s", path, count, want.ki);
  assert_string_equal(found[0].symbology, gs1 ? "GS1 DataMatrix" : "DataMatrix");
  if (gs1) assert_string_equal(found[0].aim, "]d2");
  assert_int_equal(markcode_parse(&got, (const char *)found[0].data, found[0].length), MARKCODE_OK);
  assert_int_equal(got.normalized_len, want.normalized_len);
  assert_memory_equal(got.normalized, want.normalized, want.normalized_len);
}

/* One sample line's code, with the jsonl escapes (\x1d written out) kept:
** markcode_parse reads them as separators, as it does from any scanner. */
typedef struct sample {
  char input[600];
  char gtin[15], serial[21];
  char kind[24];
  bool ok;
} sample_t;

static size_t load_samples(sample_t *out, size_t cap)
{
  FILE *f = fopen(SAMPLES, "r");
  char line[2048];
  size_t n = 0;
  assert_non_null(f);
  while (fgets(line, sizeof line, f) && n < cap) {
    json_error_t je;
    json_t *o = json_loads(line, 0, &je);
    if (o == NULL) fail_msg("%s: %s", SAMPLES, je.text);
    sample_t *s = &out[n];
    memset(s, 0, sizeof *s);
    snprintf(s->input, sizeof s->input, "%s", json_string_value(json_object_get(o, "input")));
    s->ok = json_is_true(json_object_get(o, "ok"));
    const char *k = json_string_value(json_object_get(o, "kind"));
    const char *g = json_string_value(json_object_get(o, "gtin"));
    const char *sr = json_string_value(json_object_get(o, "serial"));
    snprintf(s->kind, sizeof s->kind, "%s", k ? k : "");
    snprintf(s->gtin, sizeof s->gtin, "%s", g ? g : "");
    snprintf(s->serial, sizeof s->serial, "%s", sr ? sr : "");
    json_decref(o);
    n++;
  }
  fclose(f);
  return n;
}

static int setup(void **state)
{
  (void)state;
  snprintf(workdir, sizeof workdir, "/tmp/kassa-label-XXXXXX");
  return mkdtemp(workdir) ? 0 : -1;
}

static int teardown(void **state)
{
  (void)state;
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", workdir);
  return system(cmd) == 0 ? 0 : -1;
}

/* ---- every layout reads back ------------------------------------------------ */

static void every_mark_reads_back(void **state)
{
  (void)state;
  static sample_t samples[64];
  size_t n = load_samples(samples, 64), labelled = 0, packs = 0;
  char path[128];

  for (size_t i = 0; i < n; i++) {
    sample_t *s = &samples[i];
    bool gs1 = !strcmp(s->kind, "gs1"), pack = !strcmp(s->kind, "tobacco_pack");
    if (!s->ok || (!gs1 && !pack)) continue;
    label_error_t err;
    label_text_t text;
    size_t len = strlen(s->input);
    int rc = label_describe(s->input, len, NULL, &text, &err);
    if (rc != LABEL_OK) fail_msg("%s: %s", s->input, err.message_en);
    assert_string_equal(text.gtin, s->gtin);
    assert_string_equal(text.serial, s->serial);
    assert_int_equal(text.gs1, gs1);
    snprintf(path, sizeof path, "%s/label%zu.png", workdir, i);
    rc = label_png_file(s->input, len, NULL, path, &err);
    if (rc != LABEL_OK) fail_msg("%s: %s", s->input, err.message_en);
    check_reads_back(path, s->input, len, gs1);
    labelled++;
    packs += pack;
  }
  /* The sample set has more than a dozen GS1 layouts and a pack. */
  assert_true(labelled >= 15);
  assert_int_equal(packs, 1);
}

static void other_sizes_read_back(void **state)
{
  (void)state;
  const char code[] = "010463011132146421V!VeVCzqYrNi_\x1d"
                      "910098\x1d"
                      "92rKl1F4poDIm7lNxYpopchwRkhKfjPSZtyGRFb17Zk2x1MxujYHTQxiZTBjn7UV6AJ+"
                      "qcTKgTbA1SbHRPH5fkcw==";
  const struct {
    double w, h;
    unsigned dpi;
  } sizes[] = {{80, 50, 300}, {58, 30, 300}, {58, 60, 203}, {100, 70, 203}};
  char path[128];
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    label_options_t o;
    label_error_t err;
    label_image_t img;
    label_options_default(&o);
    o.width_mm = sizes[i].w;
    o.height_mm = sizes[i].h;
    o.dpi = sizes[i].dpi;
    int rc = label_render(code, sizeof code - 1, &o, &img, &err);
    if (rc != LABEL_OK)
      fail_msg("%.0fx%.0f@%u: %s", o.width_mm, o.height_mm, o.dpi, err.message_en);
    assert_int_equal(img.width, (int)lround(o.width_mm / 25.4 * o.dpi));
    assert_int_equal(img.height, (int)lround(o.height_mm / 25.4 * o.dpi));
    assert_true(img.module_dots >= LABEL_MODULE_MIN_DOTS);
    label_image_free(&img);
    snprintf(path, sizeof path, "%s/size%zu.png", workdir, i);
    assert_int_equal(label_png_file(code, sizeof code - 1, &o, path, &err), LABEL_OK);
    check_reads_back(path, code, sizeof code - 1, true);
  }
}

/* ---- the file and the picture ------------------------------------------------ */

static void png_is_one_bit_with_resolution(void **state)
{
  (void)state;
  const char code[] = "0103041094787443215Qbag!\x1d"
                      "93Zjqw";
  unsigned char *png = NULL;
  size_t len = 0;
  label_error_t err;
  assert_int_equal(label_png(code, sizeof code - 1, NULL, &png, &len, &err), LABEL_OK);
  assert_true(len > 100);
  assert_int_equal(png_sig_cmp(png, 0, 8), 0);

  png_image pi;
  memset(&pi, 0, sizeof pi);
  pi.version = PNG_IMAGE_VERSION;
  assert_true(png_image_begin_read_from_memory(&pi, png, len));
  label_options_t o;
  label_options_default(&o);
  assert_int_equal(pi.width, lround(o.width_mm / 25.4 * o.dpi));
  assert_int_equal(pi.height, lround(o.height_mm / 25.4 * o.dpi));
  assert_true(fabs(pi.width * 25.4 / o.dpi - 58) < 0.2);
  png_image_free(&pi);

  /* IHDR: bit depth 1, colour type 0 (grey). pHYs: dots per metre, unit 1. */
  assert_int_equal(png[24], 1);
  assert_int_equal(png[25], 0);
  unsigned char *phys = NULL;
  for (size_t i = 8; i + 13 <= len && phys == NULL; i++)
    if (memcmp(png + i, "pHYs", 4) == 0) phys = png + i;
  assert_non_null(phys);
  uint32_t ppm =
      (uint32_t)phys[4] << 24 | (uint32_t)phys[5] << 16 | (uint32_t)phys[6] << 8 | phys[7];
  assert_int_equal(ppm, lround(o.dpi / 0.0254));
  assert_int_equal(phys[12], 1);
  free(png);
}

/* Ink in rows [y0, y1) of the picture. */
static size_t ink(const label_image_t *img, int y0, int y1)
{
  size_t n = 0;
  for (int y = y0; y < y1; y++)
    for (int x = 0; x < img->width; x++)
      n += img->pixels[(size_t)y * (size_t)img->width + (size_t)x] == 0;
  return n;
}

static void picture_layout(void **state)
{
  (void)state;
  const char a[] = "0104640088091000215gMpn5CJG37mF\x1d"
                   "91FFD0\x1d"
                   "92dGVzdOvwCHl95aQdMlRHin6E0crdgMSvg18oBi/wagQ=";
  char b[sizeof a];
  memcpy(b, a, sizeof a);
  b[18] = '7'; /* another serial: 7gMpn5CJG37mF */
  label_image_t ia, ib;
  label_error_t err;
  assert_int_equal(label_render(a, sizeof a - 1, NULL, &ia, &err), LABEL_OK);
  assert_int_equal(label_render(b, sizeof b - 1, NULL, &ib, &err), LABEL_OK);

  /* Every pixel is black or white; modules are whole dots; the symbol is
  ** square (ECC 200 square sizes) and centred. */
  for (size_t i = 0; i < (size_t)ia.width * (size_t)ia.height; i++)
    assert_true(ia.pixels[i] == 0 || ia.pixels[i] == 255);
  assert_int_equal(ia.symbol_width % ia.module_dots, 0);
  assert_int_equal(ia.symbol_width, ia.symbol_height);
  assert_true(abs(ia.symbol_x - (ia.width - ia.symbol_x - ia.symbol_width)) <= 1);
  /* The finder: the symbol's left column and bottom row are solid. */
  for (int y = ia.symbol_y; y < ia.symbol_y + ia.symbol_height; y++)
    assert_int_equal(ia.pixels[(size_t)y * (size_t)ia.width + (size_t)ia.symbol_x], 0);
  int bottom = ia.symbol_y + ia.symbol_height - 1;
  for (int x = ia.symbol_x; x < ia.symbol_x + ia.symbol_width; x++)
    assert_int_equal(ia.pixels[(size_t)bottom * (size_t)ia.width + (size_t)x], 0);
  /* Quiet zone under the symbol, ink in the text, text inside the label. */
  assert_int_equal(ink(&ia, bottom + 1, bottom + 1 + 2 * ia.module_dots), 0);
  assert_int_equal(ia.text_lines, 3);
  assert_true(ink(&ia, ia.text_top, ia.height) > 200);
  assert_true(ia.text_top > bottom);
  /* Same GTIN, other serial: the text differs. */
  assert_int_equal(ia.text_top, ib.text_top);
  assert_memory_not_equal(ia.pixels + (size_t)ia.text_top * (size_t)ia.width,
                          ib.pixels + (size_t)ib.text_top * (size_t)ib.width,
                          (size_t)(ia.height - ia.text_top) * (size_t)ia.width);
  assert_string_equal(ia.text.bracketed, "(01)04640088091000(21)5gMpn5CJG37mF");
  assert_string_equal(ib.text.serial, "7gMpn5CJG37mF");
  label_image_free(&ia);
  label_image_free(&ib);
  label_image_free(NULL);

  /* show_tail prints the verification part too, on more lines. */
  label_options_t o;
  label_options_default(&o);
  o.show_tail = true;
  assert_int_equal(label_render(a, sizeof a - 1, &o, &ia, &err), LABEL_OK);
  assert_non_null(strstr(ia.text.bracketed, "(91)FFD0(92)dGVzdOvw"));
  assert_true(ia.text_lines > 3);
  label_image_free(&ia);
}

/* ---- HTML ---------------------------------------------------------------------- */

static void html_page_carries_the_png(void **state)
{
  (void)state;
  const char code[] = "010461008041021521e'?xOJHdNYNFl\x1d"
                      "91EE11\x1d"
                      "92T5OX4wpd5QPymkC3U/aJZQrishzxCOeJUi/grI7GxIo=";
  char *html = NULL;
  size_t html_len = 0, png_len = 0;
  unsigned char *png = NULL;
  label_error_t err;
  assert_int_equal(label_html(code, sizeof code - 1, NULL, &html, &html_len, &err), LABEL_OK);
  assert_int_equal(strlen(html), html_len);
  assert_true(strncmp(html, "<!DOCTYPE html>", 15) == 0);
  assert_non_null(strstr(html, "<meta charset=\"utf-8\">"));
  assert_non_null(strstr(html, "@page { size: 58.00mm 40.00mm"));
  /* The text under it, escaped; never the raw quote. */
  assert_non_null(strstr(html, "<dd class=\"serial\">e&#39;?xOJHdNYNFl</dd>"));
  assert_non_null(strstr(html, "<dd class=\"gtin\">04610080410215</dd>"));
  assert_non_null(strstr(html, "(01)04610080410215(21)e&#39;?xOJHdNYNFl"));
  assert_null(strstr(html, "e'?x"));

  /* The embedded PNG is the label's PNG, byte for byte, and reads back. */
  assert_int_equal(label_png(code, sizeof code - 1, NULL, &png, &png_len, &err), LABEL_OK);
  const char *start = strstr(html, "data:image/png;base64,");
  assert_non_null(start);
  start += strlen("data:image/png;base64,");
  const char *end = strchr(start, '"');
  assert_non_null(end);
  size_t b64_len = (size_t)(end - start);
  unsigned char *raw = malloc(b64_len);
  assert_non_null(raw);
  int n = EVP_DecodeBlock(raw, (const unsigned char *)start, (int)b64_len);
  assert_true(n >= (int)png_len && n - (int)png_len < 3);
  assert_memory_equal(raw, png, png_len);
  char path[128];
  snprintf(path, sizeof path, "%s/from-html.png", workdir);
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(raw, 1, png_len, f), png_len);
  fclose(f);
  check_reads_back(path, code, sizeof code - 1, true);
  free(raw);
  free(png);
  free(html);

  /* A serial with < and " is escaped too. */
  const char angle[] = "0104680962313750215PZaBNk<kh\"JG";
  assert_int_equal(label_html(angle, sizeof angle - 1, NULL, &html, &html_len, &err), LABEL_OK);
  assert_non_null(strstr(html, "5PZaBNk&lt;kh&quot;JG"));
  assert_null(strstr(html, "<kh"));
  free(html);
}

/* ---- refusals ----------------------------------------------------------------- */

static void refusals(void **state)
{
  (void)state;
  const struct {
    const char *code;
    int rc;
  } cases[] = {
      {"RU-401301-AAA02770301", LABEL_ERR_CODE},           /* fur: RFID */
      {"46198488", LABEL_ERR_CODE},                        /* EAN-8 */
      {"0104600439931256", LABEL_ERR_CODE},                /* GTIN without serial */
      {"hello, world", LABEL_ERR_CODE},                    /* not a code */
      {"010464007801637321AgqLybqxM9MbR", LABEL_ERR_CODE}, /* bad check digit */
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    label_error_t err;
    unsigned char *png = (unsigned char *)&err;
    size_t len = 1;
    int rc = label_png(cases[i].code, strlen(cases[i].code), NULL, &png, &len, &err);
    assert_int_equal(rc, cases[i].rc);
    assert_int_equal(err.code, rc);
    assert_null(png);
    assert_int_equal(len, 0);
    assert_true(has_cyrillic(err.message_ru));
    assert_false(has_cyrillic(err.message_en));
    assert_true(strlen(err.message_en) > 10);
  }

  const char tail88[] = "010463011132146421V!VeVCzqYrNi_\x1d"
                        "910098\x1d"
                        "92rKl1F4poDIm7lNxYpopchwRkhKfjPSZtyGRFb17Zk2x1MxujYHTQxiZTBjn7UV6AJ+"
                        "qcTKgTbA1SbHRPH5fkcw==";
  label_options_t o;
  label_error_t err;
  label_image_t img;
  label_options_default(&o);
  o.width_mm = 25;
  o.height_mm = 15;
  assert_int_equal(label_render(tail88, sizeof tail88 - 1, &o, &img, &err), LABEL_ERR_TOO_SMALL);
  assert_null(img.pixels);
  assert_true(has_cyrillic(err.message_ru));
  assert_non_null(strstr(err.message_en, "label"));

  label_options_default(&o);
  o.dpi = 50;
  assert_int_equal(label_render(tail88, sizeof tail88 - 1, &o, &img, &err), LABEL_ERR_ARGUMENT);
  label_options_default(&o);
  o.text_mm = 0;
  assert_int_equal(label_render(tail88, sizeof tail88 - 1, &o, &img, &err), LABEL_ERR_ARGUMENT);

  assert_int_equal(label_png_file(tail88, sizeof tail88 - 1, NULL, "/nonexistent-dir/x.png", &err),
                   LABEL_ERR_IO);
  assert_non_null(strstr(err.message_en, "/nonexistent-dir/x.png"));
  assert_string_equal(label_err_name(LABEL_ERR_TOO_SMALL), "too_small");
  assert_string_equal(label_err_name(LABEL_ERR_CODE), "code");
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(every_mark_reads_back),          cmocka_unit_test(other_sizes_read_back),
      cmocka_unit_test(png_is_one_bit_with_resolution), cmocka_unit_test(picture_layout),
      cmocka_unit_test(html_page_carries_the_png),      cmocka_unit_test(refusals),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
