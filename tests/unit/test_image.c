/*
** test_image.c: codes read from pictures (scanner/image.c).
**
** The pictures come from encoders that are not ours: Debian's zint (GS1
** DataMatrix with `--gs1 --gssep`, plain DataMatrix for tobacco packs,
** EAN-13) and libdmtx's own encoder (FNC1 first and FNC1 separators, via
** DmtxPropFnc1). For every DataMatrix layout of test_transport_codes.h
** (footwear with 44- and 88-char tails, 20-char serials, dairy, dairy with
** 3103, water, tobacco block, tobacco pack), 50 codes from a seeded
** generator go through each encoder, at several scales and rotations: the
** quarter turns zint does itself, and arbitrary angles and non-integer
** scales made here by a small bilinear resampler. EAN-13 goes through
** zint's EAN encoder and ZBar. Each decoded code must parse to the same
** normalised form as the code it was made from, keep its GS separators,
** and come back as one code of the right symbology. Some pictures travel
** as JPEG (libjpeg, quality 90) to exercise that loader too.
**
** The fur tag is not a DataMatrix (it is a printed RFID tag number) and is
** left out. The random seed is fixed; KASSA_TEST_SEED replays another.
*/
#define _XOPEN_SOURCE 700

#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <dmtx.h>
#include <jansson.h>
#include <jpeglib.h>
#include <png.h>

#include "scanner/image.h"
#include "scanner/markcode.h"
#include "test_transport_codes.h"

#ifndef ZINT_PROGRAM
#define ZINT_PROGRAM "zint"
#endif
#define CODES_PER_LAYOUT 50

extern char **environ;

static uint64_t seed = 20240611u;
static char workdir[64];

/* ---- helpers: pictures ---- */

static void gray_new(image_gray_t *img, int w, int h, uint8_t fill)
{
  img->width = w;
  img->height = h;
  img->pixels = malloc((size_t)w * (size_t)h);
  assert_non_null(img->pixels);
  memset(img->pixels, fill, (size_t)w * (size_t)h);
}

static double sample(const image_gray_t *img, double x, double y)
{
  int x0 = (int)floor(x), y0 = (int)floor(y);
  double fx = x - x0, fy = y - y0, v = 0;

  for (int dy = 0; dy < 2; dy++)
    for (int dx = 0; dx < 2; dx++) {
      int xx = x0 + dx, yy = y0 + dy;
      double w = (dx ? fx : 1 - fx) * (dy ? fy : 1 - fy);
      double p = 255; /* outside: white */

      if (xx >= 0 && yy >= 0 && xx < img->width && yy < img->height)
        p = img->pixels[(size_t)yy * (size_t)img->width + (size_t)xx];
      v += w * p;
    }
  return v;
}

/* Rotate by degrees and scale by factor around the centre, onto a white
** canvas big enough for the result plus a margin. */
static void transform(const image_gray_t *src, double degrees, double factor, image_gray_t *dst)
{
  double a = degrees * M_PI / 180.0, c = cos(a), s = sin(a);
  double w = src->width * factor, h = src->height * factor;
  int ow = (int)(fabs(w * c) + fabs(h * s)) + 16, oh = (int)(fabs(w * s) + fabs(h * c)) + 16;
  double cx = src->width / 2.0, cy = src->height / 2.0;

  gray_new(dst, ow, oh, 255);
  for (int y = 0; y < oh; y++)
    for (int x = 0; x < ow; x++) {
      double dx = (x - ow / 2.0) / factor, dy = (y - oh / 2.0) / factor;
      double sx = c * dx + s * dy + cx, sy = -s * dx + c * dy + cy;
      double v = sample(src, sx - 0.5, sy - 0.5);

      dst->pixels[(size_t)y * (size_t)ow + (size_t)x] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
    }
}

static void write_png(const image_gray_t *img, const char *path)
{
  png_image pi;

  memset(&pi, 0, sizeof pi);
  pi.version = PNG_IMAGE_VERSION;
  pi.width = (png_uint_32)img->width;
  pi.height = (png_uint_32)img->height;
  pi.format = PNG_FORMAT_GRAY;
  assert_true(png_image_write_to_file(&pi, path, 0, img->pixels, 0, NULL));
}

static void write_jpeg(const image_gray_t *img, const char *path)
{
  struct jpeg_compress_struct cinfo;
  struct jpeg_error_mgr jerr;
  JSAMPROW row;
  FILE *f = fopen(path, "wb");

  assert_non_null(f);
  cinfo.err = jpeg_std_error(&jerr);
  jpeg_create_compress(&cinfo);
  jpeg_stdio_dest(&cinfo, f);
  cinfo.image_width = (JDIMENSION)img->width;
  cinfo.image_height = (JDIMENSION)img->height;
  cinfo.input_components = 1;
  cinfo.in_color_space = JCS_GRAYSCALE;
  jpeg_set_defaults(&cinfo);
  jpeg_set_quality(&cinfo, 90, TRUE);
  jpeg_start_compress(&cinfo, TRUE);
  while (cinfo.next_scanline < cinfo.image_height) {
    row = img->pixels + (size_t)cinfo.next_scanline * (size_t)img->width;
    (void)jpeg_write_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_compress(&cinfo);
  jpeg_destroy_compress(&cinfo);
  assert_int_equal(fclose(f), 0);
}

/* ---- helpers: encoders ---- */

/* Run zint with the arguments given (NULL-terminated); returns its exit
** status. No shell: codes full of quotes and ampersands pass as they are. */
static int run_zint(const char *first, ...)
{
  const char *argv[16];
  va_list ap;
  pid_t pid;
  int n = 0, status;

  argv[n++] = ZINT_PROGRAM;
  argv[n++] = first;
  va_start(ap, first);
  while (n < 15 && (argv[n] = va_arg(ap, const char *)) != NULL) n++;
  va_end(ap);
  argv[n] = NULL;
  if (posix_spawnp(&pid, ZINT_PROGRAM, NULL, NULL, (char *const *)argv, environ) != 0)
    fail_msg("cannot run %s: it is needed for this test (Debian package zint)", ZINT_PROGRAM);
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
    ;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* libdmtx's encoder: data (GS = FNC1 when gs1) at module pixels a module. */
static void dmtx_encode(const char *data, size_t len, bool gs1, int module, image_gray_t *out)
{
  unsigned char buf[300];
  DmtxEncode *enc = dmtxEncodeCreate();
  size_t n = 0;

  assert_non_null(enc);
  assert_true(len + 1 < sizeof buf);
  if (gs1) buf[n++] = 0x1D; /* FNC1 first: a GS1 DataMatrix */
  memcpy(buf + n, data, len);
  n += len;
  assert_int_equal(dmtxEncodeSetProp(enc, DmtxPropPixelPacking, DmtxPack8bppK), DmtxPass);
  assert_int_equal(dmtxEncodeSetProp(enc, DmtxPropModuleSize, module), DmtxPass);
  assert_int_equal(dmtxEncodeSetProp(enc, DmtxPropMarginSize, 2 * module), DmtxPass);
  if (gs1) assert_int_equal(dmtxEncodeSetProp(enc, DmtxPropFnc1, 0x1D), DmtxPass);
  assert_int_equal(dmtxEncodeDataMatrix(enc, (int)n, buf), DmtxPass);
  gray_new(out, enc->image->width, enc->image->height, 255);
  assert_int_equal(enc->image->rowPadBytes, 0);
  memcpy(out->pixels, enc->image->pxl, (size_t)out->width * (size_t)out->height);
  dmtxEncodeDestroy(&enc);
}

/* ---- helpers: checking ---- */

typedef struct tally {
  size_t tried, ok;
  char first_failure[400];
} tally_t;

static void note_failure(tally_t *t, const char *fmt, ...)
{
  va_list ap;

  if (t->first_failure[0]) return;
  va_start(ap, fmt);
  vsnprintf(t->first_failure, sizeof t->first_failure, fmt, ap);
  va_end(ap);
}

/* Decode img; it must hold exactly one code of `symbology` whose parse
** gives the same normalised form as `want`. */
static void check_picture(tally_t *t, const image_gray_t *img, const char *symbology,
                          const code_text_t *want, unsigned decoders, const char *what)
{
  static image_code_t found[4];
  /* libdmtx's search is bounded in wall time; a loaded machine (parallel
  ** builds, fuzzers) can starve a rotated picture of its 2 s, and this test
  ** is about what decodes, not how fast (bench/ measures speed). */
  image_decode_options_t opt = {decoders, 20000};
  markcode_t a, b;
  size_t n = 0;
  bool gs_expected = memchr(want->gs, 0x1D, want->gs_len) != NULL;

  t->tried++;
  if (image_decode(img, found, 4, &n, &opt) != IMAGE_OK || n != 1) {
    if (getenv("KASSA_TEST_DUMP") && !t->first_failure[0])
      write_png(img, getenv("KASSA_TEST_DUMP"));
    note_failure(t, "%s: %zu codes found in %s", want->zint, n, what);
    return;
  }
  if (strcmp(found[0].symbology, symbology) != 0) {
    note_failure(t, "%s: symbology %s in %s", want->zint, found[0].symbology, what);
    return;
  }
  if (gs_expected != (memchr(found[0].data, 0x1D, found[0].length) != NULL)) {
    note_failure(t, "%s: separators %s in %s", want->zint, gs_expected ? "lost" : "added", what);
    return;
  }
  if (markcode_parse(&a, want->gs, want->gs_len) != MARKCODE_OK ||
      markcode_parse(&b, (const char *)found[0].data, found[0].length) != MARKCODE_OK ||
      strcmp(a.normalized, b.normalized) != 0) {
    note_failure(t, "%s: decoded as %s (%s) in %s", want->zint, (const char *)found[0].data,
                 markcode_err_code(b.err), what);
    return;
  }
  t->ok++;
}

static void report(const char *name, const tally_t *t)
{
  print_message("  %-26s %zu/%zu decoded to the same normalised code\n", name, t->ok, t->tried);
  if (t->ok != t->tried) fail_msg("%s: %s", name, t->first_failure);
}

/* ---- tests ---- */

/* A file of len bytes named name in workdir; its path in path (128 bytes). */
static void write_bytes(char *path, const char *name, const void *bytes, size_t len)
{
  FILE *f;

  snprintf(path, 128, "%s/%s", workdir, name);
  f = fopen(path, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(bytes, 1, len, f), len);
  fclose(f);
}

static void test_load_errors(void **state)
{
  image_gray_t img;
  char path[128];

  (void)state;
  snprintf(path, sizeof path, "%s/missing.png", workdir);
  assert_int_equal(image_load(path, &img), IMAGE_ERR_OPEN);
  write_bytes(path, "text.png", "not a picture at all\n", 21);
  assert_int_equal(image_load(path, &img), IMAGE_ERR_FORMAT);
  /* A PNG cut short. */
  write_bytes(path, "cut.png", "\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR\0\0", 18);
  assert_int_equal(image_load(path, &img), IMAGE_ERR_CORRUPT);
  assert_null(img.pixels);
  /* A JPEG cut short. */
  write_bytes(path, "cut.jpg", "\xff\xd8\xff\xe0\0\x10JFIF", 10);
  assert_int_equal(image_load(path, &img), IMAGE_ERR_CORRUPT);
  assert_int_equal(image_load(NULL, &img), IMAGE_ERR_ARGUMENT);
  assert_int_equal(image_decode(NULL, NULL, 0, NULL, NULL), IMAGE_ERR_ARGUMENT);
  image_free(NULL);
  assert_string_equal(image_strerror(IMAGE_ERR_FORMAT), "not a PNG or JPEG picture");
}

/* zint: 50 codes a layout, quarter turns and scales by zint, some turned
** further and rescaled here. */
static void test_datamatrix_zint(void **state)
{
  static const char *const scales[] = {"1", "1.5", "2", "3"};
  static const char *const turns[] = {"0", "90", "180", "270"};
  uint64_t r = seed ^ 0x7A696E74u;
  char path[128], name[48];

  (void)state;
  snprintf(path, sizeof path, "%s/zint.png", workdir);
  for (int layout = 0; layout < CODE_LAYOUT_COUNT; layout++) {
    tally_t t = {0, 0, ""};

    for (int i = 0; i < CODES_PER_LAYOUT; i++) {
      code_text_t c;
      image_gray_t img, turned;
      char what[96];
      bool gs1 = layout != CODE_TOBACCO_PACK;
      const char *scale = scales[i % 4], *turn = turns[(i / 4) % 4];
      int rc;

      code_make(&r, (code_layout_t)layout, &c);
      if (gs1)
        rc = run_zint("--barcode=71", "--gs1", "--gssep", "--quietzones", "--scale", scale,
                      "--rotate", turn, "-o", path, "-d", c.zint, NULL);
      else
        rc = run_zint("--barcode=71", "--quietzones", "--scale", scale, "--rotate", turn, "-o",
                      path, "-d", c.zint, NULL);
      if (rc != 0) fail_msg("zint refused %s (exit %d)", c.zint, rc);
      assert_int_equal(image_load(path, &img), IMAGE_OK);
      snprintf(what, sizeof what, "zint scale %s rotate %s", scale, turn);
      check_picture(&t, &img, gs1 ? "GS1 DataMatrix" : "DataMatrix", &c, IMAGE_DECODE_ALL, what);
      if (i % 3 == 0) { /* and turned by an odd angle, rescaled */
        /* Turned by an odd angle, libdmtx wants about 5 pixels a module
        ** or more (it misses some symbols at 3 or 4). */
        double angle = 7.0 + (double)code_below(&r, 80);
        double factor = (5.0 + 0.5 * (i % 3)) / (2.0 * atof(scale));

        transform(&img, angle, factor, &turned);
        snprintf(what, sizeof what, "zint scale %s, turned %.0f deg, x%.1f", scale, angle, factor);
        check_picture(&t, &turned, gs1 ? "GS1 DataMatrix" : "DataMatrix", &c,
                      IMAGE_DECODE_DATAMATRIX, what);
        image_free(&turned);
      }
      image_free(&img);
    }
    snprintf(name, sizeof name, "zint %s", code_layout_names[layout]);
    report(name, &t);
  }
  unlink(path);
}

/* libdmtx's own encoder, through PNG and JPEG files, turned and scaled. */
static void test_datamatrix_libdmtx(void **state)
{
  uint64_t r = seed ^ 0x646D7478u;
  char png_path[128], jpg_path[128], name[48];

  (void)state;
  snprintf(png_path, sizeof png_path, "%s/dmtx.png", workdir);
  snprintf(jpg_path, sizeof jpg_path, "%s/dmtx.jpg", workdir);
  for (int layout = 0; layout < CODE_LAYOUT_COUNT; layout++) {
    tally_t t = {0, 0, ""};

    for (int i = 0; i < CODES_PER_LAYOUT; i++) {
      code_text_t c;
      image_gray_t made, turned, loaded;
      char what[96];
      bool gs1 = layout != CODE_TOBACCO_PACK;
      int module = 2 + i % 3;
      double angle = (double)code_below(&r, 360);
      /* Unturned: any scale down to 2.4 pixels a module; turned: 5 or more. */
      double factor = i % 5 == 0 ? 1.2 + 0.15 * (i % 4) : (5.0 + 0.5 * (i % 3)) / module;
      const char *path = i % 4 == 3 ? jpg_path : png_path;

      code_make(&r, (code_layout_t)layout, &c);
      dmtx_encode(c.gs, c.gs_len, gs1, module, &made);
      transform(&made, i % 5 == 0 ? 0.0 : angle, factor, &turned);
      if (path == jpg_path)
        write_jpeg(&turned, path);
      else
        write_png(&turned, path);
      assert_int_equal(image_load(path, &loaded), IMAGE_OK);
      assert_int_equal(loaded.width, turned.width);
      snprintf(what, sizeof what, "libdmtx module %d, turned %.0f deg, x%.2f, %s", module,
               i % 5 == 0 ? 0.0 : angle, factor, path == jpg_path ? "JPEG" : "PNG");
      check_picture(&t, &loaded, gs1 ? "GS1 DataMatrix" : "DataMatrix", &c, IMAGE_DECODE_DATAMATRIX,
                    what);
      image_free(&made);
      image_free(&turned);
      image_free(&loaded);
    }
    snprintf(name, sizeof name, "libdmtx %s", code_layout_names[layout]);
    report(name, &t);
  }
  unlink(png_path);
  unlink(jpg_path);
}

/* EAN-13 through zint's EAN encoder and ZBar. */
static void test_ean13_zbar(void **state)
{
  static const char *const scales[] = {"1", "2", "3"};
  static const char *const turns[] = {"0", "90", "180", "270"};
  uint64_t r = seed ^ 0x65616Eu;
  tally_t t = {0, 0, ""};
  char path[128];

  (void)state;
  snprintf(path, sizeof path, "%s/ean.png", workdir);
  for (int i = 0; i < CODES_PER_LAYOUT; i++) {
    code_text_t c;
    image_gray_t img, turned;
    char digits[14], what[64];
    int sum = 0;

    memset(&c, 0, sizeof c);
    digits[0] = '4';
    digits[1] = '6';
    for (int k = 2; k < 12; k++) digits[k] = (char)('0' + code_below(&r, 10));
    for (int k = 0; k < 12; k++) sum += (digits[k] - '0') * (k % 2 ? 3 : 1);
    digits[12] = (char)('0' + (10 - sum % 10) % 10);
    digits[13] = 0;
    memcpy(c.gs, digits, 14);
    memcpy(c.zint, digits, 14);
    c.gs_len = 13;
    if (run_zint("--barcode=13", "--quietzones", "--scale", scales[i % 3], "--rotate",
                 turns[(i / 3) % 4], "-o", path, "-d", digits, NULL) != 0)
      fail_msg("zint refused EAN-13 %s", digits);
    assert_int_equal(image_load(path, &img), IMAGE_OK);
    snprintf(what, sizeof what, "zint scale %s rotate %s", scales[i % 3], turns[(i / 3) % 4]);
    check_picture(&t, &img, "EAN-13", &c, IMAGE_DECODE_ZBAR, what);
    if (i % 4 == 1) { /* slightly askew and rescaled, as a hand-held photo */
      transform(&img, i % 8 == 1 ? 4.0 : -3.0, 1.3, &turned);
      check_picture(&t, &turned, "EAN-13", &c, IMAGE_DECODE_ZBAR, "askew x1.3");
      image_free(&turned);
    }
    image_free(&img);
  }
  report("zint+zbar ean13", &t);
  unlink(path);
}

/* ---- every layout in tests/data/ ---- */

/* The sample files write GS as \x1d or \u001d; decode those two (and \\)
** in place, as `kassa code parse --escaped` does. Returns the new length. */
static size_t unescape_gs(char *s)
{
  size_t o = 0;
  for (size_t i = 0; s[i]; i++) {
    if (s[i] == '\\' && (strncmp(s + i + 1, "x1d", 3) == 0 || strncmp(s + i + 1, "x1D", 3) == 0)) {
      s[o++] = 0x1D;
      i += 3;
    } else if (s[i] == '\\' &&
               (strncmp(s + i + 1, "u001d", 5) == 0 || strncmp(s + i + 1, "u001D", 5) == 0)) {
      s[o++] = 0x1D;
      i += 5;
    } else if (s[i] == '\\' && s[i + 1] == '\\') {
      s[o++] = '\\';
      i++;
    } else {
      s[o++] = s[i];
    }
  }
  s[o] = '\0';
  return o;
}

/* The zint input for a parsed code. GS1 codes go through zint's GS1 mode
** ("[01]...[21]..."), which writes FNC1 first and between fields; a code
** with digits outside any AI (a tobacco block's unlabelled MRP) and the
** tobacco pack are plain DataMatrix, GS as zint's escape \G. Returns true
** for GS1 mode. */
static bool zint_input(const markcode_t *mc, char *out, size_t size)
{
  size_t o = 0;
  bool gs1 = mc->kind == MARKCODE_KIND_GS1 && !(mc->fixes & MARKCODE_FIX_MRP_UNLABELLED);
  /* zint 2.11 still takes AI 235 for one of predefined length (the old
  ** GS1 table's prefix 23) and writes no FNC1 after it: drawn plain. */
  for (int k = 0; gs1 && k < mc->ai_count; k++)
    if (strcmp(mc->ais[k].ai, "235") == 0) gs1 = false;

  if (gs1) {
    for (int k = 0; k < mc->ai_count; k++)
      o += (size_t)snprintf(out + o, size - o, "[%s]%s", mc->ais[k].ai, mc->ais[k].value);
    return true;
  }
  for (size_t i = 0; i < mc->normalized_len && o + 3 < size; i++) {
    char c = mc->normalized[i];
    if (c == 0x1D || c == '\\') {
      out[o++] = '\\';
      out[o++] = c == 0x1D ? 'G' : '\\';
    } else {
      out[o++] = c;
    }
  }
  out[o] = '\0';
  return false;
}

/* Every GS1 and tobacco-pack code of tests/data/ (the samples and the
** public codes of issue 15), drawn by zint (GS1 mode, quarter turns and
** scales) and by libdmtx (FNC1 as GS), then turned by an odd angle and
** rescaled, and read with every decoder on: each must come back as one
** code, of DataMatrix symbology, with its own normalised form. ZBar's
** EAN-2/EAN-5 add-on decoders fire on DataMatrix modules; an add-on found
** next to the DataMatrix would make the count 2 and fail the picture. */
static void test_datamatrix_every_layout_in_tests_data(void **state)
{
  static const char *const files[] = {"tests/data/marking_codes.jsonl",
                                      "tests/data/marking_codes_public.jsonl"};
  static const char *const scales[] = {"1", "2", "3", "4"};
  static const char *const turns[] = {"0", "90", "180", "270"};
  char zpath[128], dpath[128];
  tally_t tz = {0, 0, ""}, td = {0, 0, ""};
  int layouts_seen = 0;
  char seen[32][24];
  uint64_t r = seed ^ 0x64617461u;

  (void)state;
  snprintf(zpath, sizeof zpath, "%s/data-zint.png", workdir);
  snprintf(dpath, sizeof dpath, "%s/data-dmtx.png", workdir);
  for (size_t f = 0; f < sizeof files / sizeof files[0]; f++) {
    FILE *in = fopen(files[f], "r");
    char line[4096];
    int i = 0;

    assert_non_null(in);
    while (fgets(line, sizeof line, in)) {
      json_t *row = json_loads(line, 0, NULL);
      markcode_t mc;
      code_text_t c;
      char zdata[600], what[128];
      image_gray_t img, turned;
      bool gs1;
      int rc;

      assert_non_null(row);
      snprintf(c.gs, sizeof c.gs, "%s", json_string_value(json_object_get(row, "input")));
      json_decref(row);
      c.gs_len = unescape_gs(c.gs);
      if (markcode_parse(&mc, c.gs, c.gs_len) != MARKCODE_OK ||
          (mc.kind != MARKCODE_KIND_GS1 && mc.kind != MARKCODE_KIND_TOBACCO_PACK))
        continue;
      /* the picture carries the canonical form, as a printed mark does */
      memcpy(c.gs, mc.normalized, mc.normalized_len + 1);
      c.gs_len = mc.normalized_len;
      snprintf(c.zint, sizeof c.zint, "%.299s", c.gs);
      {
        int k = 0;
        while (k < layouts_seen && strcmp(seen[k], mc.layout) != 0) k++;
        if (k == layouts_seen && layouts_seen < 32)
          snprintf(seen[layouts_seen++], 24, "%s", mc.layout);
      }
      gs1 = zint_input(&mc, zdata, sizeof zdata);
      const char *scale = scales[i % 4], *turn = turns[(i / 4) % 4];
      if (gs1)
        rc = run_zint("--barcode=71", "--gs1", "--gssep", "--quietzones", "--scale", scale,
                      "--rotate", turn, "-o", zpath, "-d", zdata, NULL);
      else
        rc = run_zint("--barcode=71", "--esc", "--quietzones", "--scale", scale, "--rotate", turn,
                      "-o", zpath, "-d", zdata, NULL);
      if (rc != 0) fail_msg("zint refused %s (exit %d)", zdata, rc);
      assert_int_equal(image_load(zpath, &img), IMAGE_OK);
      snprintf(what, sizeof what, "%s line %d, zint scale %s rotate %s", files[f], i + 1, scale,
               turn);
      check_picture(&tz, &img, gs1 ? "GS1 DataMatrix" : "DataMatrix", &c, IMAGE_DECODE_ALL, what);
      image_free(&img);

      /* libdmtx's encoder, turned by an odd angle and rescaled, every decoder on */
      int module = 2 + i % 3;
      double angle = 5.0 + (double)code_below(&r, 80);
      double factor = (5.0 + 0.5 * (i % 3)) / module;
      dmtx_encode(c.gs, c.gs_len, mc.kind == MARKCODE_KIND_GS1, module, &img);
      transform(&img, angle, factor, &turned);
      write_png(&turned, dpath);
      image_free(&img);
      image_free(&turned);
      assert_int_equal(image_load(dpath, &img), IMAGE_OK);
      snprintf(what, sizeof what, "%s line %d, libdmtx module %d turned %.0f x%.2f", files[f],
               i + 1, module, angle, factor);
      check_picture(&td, &img, mc.kind == MARKCODE_KIND_GS1 ? "GS1 DataMatrix" : "DataMatrix", &c,
                    IMAGE_DECODE_ALL, what);
      image_free(&img);
      i++;
    }
    fclose(in);
  }
  print_message("  layouts pictured: %d\n", layouts_seen);
  assert_true(layouts_seen >= 8);
  report("zint tests/data", &tz);
  report("libdmtx tests/data", &td);
  assert_true(tz.tried >= 50);
  unlink(zpath);
  unlink(dpath);
}

/* ZBar's EAN-2 add-on decoder reads "75" in the modules of this real
** tyre code drawn as a plain DataMatrix by zint at 4 pixels a module and
** more (seen with zbarimg -Senable=1). With every decoder on, the picture
** must give the DataMatrix and nothing else. */
static void test_datamatrix_never_an_add_on(void **state)
{
  static const char *const scales[] = {"4", "5", "6", "8"};
  static const char *const data[] = {"010290000226063221ftQsjV_ioIfX%",
                                     "0104680046264732215l>VEUc\\G93Is54"};
  static image_code_t found[4];
  char path[128];

  (void)state;
  snprintf(path, sizeof path, "%s/addon.png", workdir);
  for (size_t d = 0; d < sizeof data / sizeof data[0]; d++)
    for (size_t k = 0; k < sizeof scales / sizeof scales[0]; k++) {
      image_gray_t img;
      size_t n = 0;
      image_decode_options_t opt = {IMAGE_DECODE_ALL, 20000};

      if (run_zint("--barcode=71", "--esc", "--quietzones", "--scale", scales[k], "-o", path, "-d",
                   data[d], NULL) != 0)
        fail_msg("zint refused %s", data[d]);
      assert_int_equal(image_load(path, &img), IMAGE_OK);
      assert_int_equal(image_decode(&img, found, 4, &n, &opt), IMAGE_OK);
      for (size_t i = 0; i < n && i < 4; i++)
        if (strcmp(found[i].symbology, "DataMatrix") != 0)
          fail_msg("%s at scale %s: found %s \"%s\"", data[d], scales[k], found[i].symbology,
                   (const char *)found[i].data);
      assert_int_equal(n, 1);
      image_free(&img);
    }
  unlink(path);
}

/* Several codes in one picture, and both decoders at once. */
static void test_many_codes(void **state)
{
  static image_code_t found[8];
  uint64_t r = seed ^ 0x6D616E79u;
  image_gray_t sheet, parts[3];
  code_text_t c[3];
  size_t n = 0, matched = 0;
  int x = 10;

  (void)state;
  gray_new(&sheet, 700, 260, 255);
  for (int k = 0; k < 3; k++) {
    code_make(&r, k == 0 ? CODE_FOOTWEAR_88 : k == 1 ? CODE_WATER : CODE_TOBACCO_PACK, &c[k]);
    dmtx_encode(c[k].gs, c[k].gs_len, k != 2, 3, &parts[k]);
    assert_true(x + parts[k].width < sheet.width && parts[k].height < sheet.height);
    for (int y = 0; y < parts[k].height; y++)
      memcpy(sheet.pixels + (size_t)(y + 10) * (size_t)sheet.width + (size_t)x,
             parts[k].pixels + (size_t)y * (size_t)parts[k].width, (size_t)parts[k].width);
    x += parts[k].width + 20;
    image_free(&parts[k]);
  }
  assert_int_equal(image_decode(&sheet, found, 8, &n, NULL), IMAGE_OK);
  assert_int_equal(n, 3);
  for (size_t i = 0; i < n; i++)
    for (int k = 0; k < 3; k++)
      if (found[i].length == c[k].gs_len && memcmp(found[i].data, c[k].gs, c[k].gs_len) == 0) {
        matched++;
        assert_string_equal(found[i].aim, k == 2 ? "]d1" : "]d2");
      }
  assert_int_equal(matched, 3); /* byte for byte, GS included */
  image_free(&sheet);
}

static int setup(void **state)
{
  const char *env = getenv("KASSA_TEST_SEED");

  (void)state;
  if (env != NULL) seed = strtoull(env, NULL, 0);
  print_message("seed %llu (KASSA_TEST_SEED to replay)\n", (unsigned long long)seed);
  snprintf(workdir, sizeof workdir, "/tmp/kassa-image-XXXXXX");
  return mkdtemp(workdir) == NULL ? -1 : 0;
}

static int teardown(void **state)
{
  char path[128];
  static const char *const names[] = {"text.png", "cut.png", "cut.jpg"};

  (void)state;
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
    snprintf(path, sizeof path, "%s/%s", workdir, names[i]);
    unlink(path);
  }
  rmdir(workdir);
  return 0;
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_load_errors),
      cmocka_unit_test(test_datamatrix_zint),
      cmocka_unit_test(test_datamatrix_libdmtx),
      cmocka_unit_test(test_ean13_zbar),
      cmocka_unit_test(test_many_codes),
      cmocka_unit_test(test_datamatrix_every_layout_in_tests_data),
      cmocka_unit_test(test_datamatrix_never_an_add_on),
  };

  return cmocka_run_group_tests(tests, setup, teardown);
}
