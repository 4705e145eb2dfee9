/*
** label.c: remarking labels (label.h): libdmtx for the symbol, FreeType
** for the text, libpng for the file.
**
** libdmtx is asked for one dot per module and no margin, so its picture is
** the module matrix itself; the label is then drawn at a whole number of
** printer dots per module, which keeps every module the same size (a
** scaled, resampled symbol prints with uneven modules and scans worse).
** Which way up libdmtx stored the matrix is not taken on trust: the solid
** L of the finder pattern (left column and bottom row all dark) says so.
**
** The text is drawn by FreeType from a monospaced TrueType file, rendered
** monochrome with full hinting: a thermal printer prints dots, not greys,
** and the PNG is 1-bit. The font file is opened by path (no fontconfig:
** its caches hide pointers from LeakSanitizer, and a till needs one known
** face, not a desktop's choice). Monospace makes wrapping a matter of
** counting characters.
*/
#include "pos/print/label.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/errtab.h"

#include <dmtx.h>
#include <ft2build.h>
#include FT_FREETYPE_H
#include <openssl/evp.h>
#include <png.h>

#define GS              0x1D
#define QUIET_MODULES   2 /* blank modules around the symbol */
#define TEXT_LINES_MAX  12
#define TEXT_LINE_CHARS 256

/* Monospaced faces tried in order when the options name none: Debian's
** fonts-dejavu-core first (installed by scripts/install-deps). */
static const char *const font_files[] = {
    "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf",
    "/usr/share/fonts/truetype/noto/NotoSansMono-Regular.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationMono-Regular.ttf",
    "/usr/share/fonts/truetype/freefont/FreeMono.ttf",
};

static const errtab_t err_table[] = {
    {LABEL_OK, "ok", "Готово.", "Done."},
    {LABEL_ERR_ARGUMENT, "argument", "Неверные параметры этикетки.", "Invalid label options."},
    {LABEL_ERR_CODE, "code", "Для этого кода этикетку DataMatrix не печатают.",
     "This code cannot be printed as a DataMatrix label."},
    {LABEL_ERR_TOO_SMALL, "too_small", "Код не помещается на этикетку.",
     "The code does not fit the label."},
    {LABEL_ERR_ENCODE, "encode", "Не удалось построить DataMatrix.",
     "The DataMatrix could not be encoded."},
    {LABEL_ERR_DRAW, "draw", "Не удалось нарисовать текст этикетки (шрифт).",
     "The label's text could not be drawn (font)."},
    {LABEL_ERR_PNG, "png", "Не удалось записать PNG.", "The PNG could not be written."},
    {LABEL_ERR_IO, "io", "Не удалось сохранить файл этикетки.",
     "The label file could not be saved."},
    {LABEL_ERR_NO_MEMORY, "no_memory", "Не хватает памяти.", "Out of memory."},
    ERRTAB_END("Неизвестная ошибка.", "Unknown error."),
};

const char *label_err_name(int err) { return errtab_name(err_table, err); }

const char *label_err_message(int err, bool russian)
{
  return errtab_message(err_table, err, russian);
}

/* Fill err (may be NULL) from two formats taking the same arguments. */
static int fail_with(label_error_t *err, int code, const char *ru_fmt, const char *en_fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail_with(label_error_t *err, int code, const char *ru_fmt, const char *en_fmt, ...)
{
  if (err == NULL) return code;
  va_list ap;
  err->code = code;
  va_start(ap, en_fmt);
  errtab_vformat(err->message_ru, sizeof err->message_ru, err->message_en, sizeof err->message_en,
                 ru_fmt, en_fmt, ap);
  va_end(ap);
  return code;
}

/* err from the static messages of code alone. */
static int fail_plain(label_error_t *err, int code)
{
  if (err) {
    err->code = code;
    snprintf(err->message_ru, sizeof err->message_ru, "%s", label_err_message(code, true));
    snprintf(err->message_en, sizeof err->message_en, "%s", label_err_message(code, false));
  }
  return code;
}

void label_options_default(label_options_t *o)
{
  o->width_mm = 58;
  o->height_mm = 40;
  o->dpi = 203;
  o->text_mm = 2.5;
  o->margin_mm = 1.5;
  o->show_tail = false;
  o->font_path = NULL;
}

static bool options_valid(const label_options_t *o)
{
  return o->width_mm >= 20 && o->width_mm <= 200 && o->height_mm >= 15 && o->height_mm <= 200 &&
         o->dpi >= 100 && o->dpi <= 1200 && o->text_mm >= 1 && o->text_mm <= 10 &&
         o->margin_mm >= 0 && o->margin_mm <= 20;
}

/* ---- what the label says ----------------------------------------------------- */

static bool is_tail_ai(const char *ai)
{
  return !strcmp(ai, "91") || !strcmp(ai, "92") || !strcmp(ai, "93");
}

int label_describe(const char *code, size_t len, const label_options_t *o, label_text_t *out,
                   label_error_t *err)
{
  label_options_t defaults;
  markcode_t *mc = NULL;
  int rc;

  if (err) memset(err, 0, sizeof *err);
  if (code == NULL || out == NULL) return fail_plain(err, LABEL_ERR_ARGUMENT);
  if (o == NULL) {
    label_options_default(&defaults);
    o = &defaults;
  }
  memset(out, 0, sizeof *out);
  mc = malloc(sizeof *mc);
  if (mc == NULL) return fail_plain(err, LABEL_ERR_NO_MEMORY);
  if (markcode_parse(mc, code, len) != MARKCODE_OK) {
    char ru[400], en[400];
    markcode_message(mc, MARKCODE_LANG_RU, ru, sizeof ru);
    markcode_message(mc, MARKCODE_LANG_EN, en, sizeof en);
    rc = fail_with(err, LABEL_ERR_CODE, "Код не распознан: %s", "The code was not recognised: %s",
                   en);
    if (err) snprintf(err->message_ru, sizeof err->message_ru, "Код не распознан: %s", ru);
    goto done;
  }
  switch (mc->kind) {
  case MARKCODE_KIND_GS1:
    if (mc->serial[0] == '\0') {
      rc = fail_with(err, LABEL_ERR_CODE,
                     "В коде %s нет серийного номера (21): это код товара, а не экземпляра.",
                     "Code %s has no serial (AI 21): it names a product, not one item.", mc->ki);
      goto done;
    }
    out->gs1 = true;
    {
      size_t n = 0;
      for (int i = 0; i < mc->ai_count; i++) {
        if (!o->show_tail && is_tail_ai(mc->ais[i].ai)) continue;
        int k = snprintf(out->bracketed + n, sizeof out->bracketed - n, "(%s)%s", mc->ais[i].ai,
                         mc->ais[i].value);
        if (k < 0 || (size_t)k >= sizeof out->bracketed - n) break;
        n += (size_t)k;
      }
    }
    break;
  case MARKCODE_KIND_TOBACCO_PACK:
    out->gs1 = false;
    snprintf(out->bracketed, sizeof out->bracketed, "%s", mc->ki);
    break;
  case MARKCODE_KIND_FUR:
    rc = fail_with(err, LABEL_ERR_CODE,
                   "%s — номер контрольного знака меха (RFID-метка): DataMatrix для него не "
                   "печатают.",
                   "%s is a fur control tag number (an RFID tag): it is not printed as a "
                   "DataMatrix.",
                   mc->ki);
    goto done;
  default:
    rc = fail_with(err, LABEL_ERR_CODE,
                   "Это не код маркировки Честного ЗНАКа (%s): этикетку для перемаркировки из "
                   "него не сделать.",
                   "This is not a Chestny ZNAK marking code (%s): no remarking label can carry it.",
                   markcode_kind_name(mc->kind));
    goto done;
  }
  out->kind = mc->kind;
  snprintf(out->gtin, sizeof out->gtin, "%s", mc->gtin);
  snprintf(out->serial, sizeof out->serial, "%s", mc->serial);
  memcpy(out->encoded, mc->normalized, mc->normalized_len);
  out->encoded[mc->normalized_len] = '\0';
  out->encoded_len = mc->normalized_len;
  rc = LABEL_OK;
done:
  free(mc);
  return rc;
}

/* ---- the symbol ---------------------------------------------------------------- */

typedef struct matrix {
  int rows, cols;
  uint8_t *dark; /* rows * cols, row 0 at the top */
} matrix_t;

static int encode_matrix(const label_text_t *t, matrix_t *m, label_error_t *err)
{
  unsigned char buf[MARKCODE_MAX_INPUT + 2];
  size_t n = 0;
  DmtxEncode *enc = NULL;
  int rc = LABEL_ERR_ENCODE;

  memset(m, 0, sizeof *m);
  /* FNC1 first marks a GS1 symbol; each GS inside is written as FNC1. */
  if (t->gs1) buf[n++] = GS;
  memcpy(buf + n, t->encoded, t->encoded_len);
  n += t->encoded_len;
  enc = dmtxEncodeCreate();
  if (enc == NULL) return fail_plain(err, LABEL_ERR_NO_MEMORY);
  if (dmtxEncodeSetProp(enc, DmtxPropPixelPacking, DmtxPack8bppK) != DmtxPass ||
      dmtxEncodeSetProp(enc, DmtxPropModuleSize, 1) != DmtxPass ||
      dmtxEncodeSetProp(enc, DmtxPropMarginSize, 0) != DmtxPass ||
      (t->gs1 && dmtxEncodeSetProp(enc, DmtxPropFnc1, GS) != DmtxPass) ||
      dmtxEncodeDataMatrix(enc, (int)n, buf) != DmtxPass || enc->image == NULL) {
    rc = fail_with(err, LABEL_ERR_ENCODE, "libdmtx не смог закодировать %s.",
                   "libdmtx could not encode %s.", t->bracketed);
    goto done;
  }
  const DmtxImage *img = enc->image;
  int w = img->width, h = img->height;
  m->rows = h;
  m->cols = w;
  m->dark = malloc((size_t)w * (size_t)h);
  if (m->dark == NULL) {
    rc = fail_plain(err, LABEL_ERR_NO_MEMORY);
    goto done;
  }
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++)
      m->dark[(size_t)y * (size_t)w + (size_t)x] =
          img->pxl[(size_t)y * (size_t)img->rowSizeBytes + (size_t)x] < 128;
  /* The finder's solid L: left column and bottom row. If it is at the top
  ** instead, the rows came bottom-up: turn them over. */
  bool left = true, bottom = true, top = true;
  for (int y = 0; y < h; y++) left = left && m->dark[(size_t)y * (size_t)w];
  for (int x = 0; x < w; x++) {
    bottom = bottom && m->dark[(size_t)(h - 1) * (size_t)w + (size_t)x];
    top = top && m->dark[(size_t)x];
  }
  if (!left || (!bottom && !top)) {
    rc = fail_with(err, LABEL_ERR_ENCODE, "libdmtx вернул символ без поисковой рамки.",
                   "libdmtx returned a symbol without its finder pattern.");
    goto done;
  }
  if (!bottom)
    for (int y = 0; y < h / 2; y++)
      for (int x = 0; x < w; x++) {
        uint8_t *a = &m->dark[(size_t)y * (size_t)w + (size_t)x];
        uint8_t *b = &m->dark[(size_t)(h - 1 - y) * (size_t)w + (size_t)x];
        uint8_t tmp = *a;
        *a = *b;
        *b = tmp;
      }
  rc = LABEL_OK;
done:
  if (rc != LABEL_OK) {
    free(m->dark);
    m->dark = NULL;
  }
  dmtxEncodeDestroy(&enc);
  return rc;
}

/* ---- the text ------------------------------------------------------------------ */

typedef struct text_block {
  char lines[TEXT_LINES_MAX][TEXT_LINE_CHARS];
  int count;
} text_block_t;

static bool block_add(text_block_t *b, const char *s, size_t n)
{
  if (b->count >= TEXT_LINES_MAX || n >= TEXT_LINE_CHARS) return false;
  memcpy(b->lines[b->count], s, n);
  b->lines[b->count][n] = '\0';
  b->count++;
  return true;
}

/* Wrap s into lines of at most width characters, breaking before a "("
** when one is in reach, else where the width ends. */
static bool block_wrap(text_block_t *b, const char *s, size_t width)
{
  size_t n = strlen(s);
  while (n > width) {
    size_t cut = width;
    for (size_t k = width; k > width / 2; k--)
      if (s[k] == '(') {
        cut = k;
        break;
      }
    if (!block_add(b, s, cut)) return false;
    s += cut;
    n -= cut;
  }
  return n == 0 || block_add(b, s, n);
}

/* ---- drawing ------------------------------------------------------------------- */

void label_image_free(label_image_t *img)
{
  if (img == NULL) return;
  free(img->pixels);
  memset(img, 0, sizeof *img);
}

static int dots(double mm, unsigned dpi) { return (int)lround(mm * dpi / 25.4); }

/* Set the pixels of a monochrome glyph bitmap (FreeType's MONO mode, one
** bit a pixel, most significant first) black at (x, y) = its top-left. */
static void blit_mono(label_image_t *img, const FT_Bitmap *bm, int x, int y)
{
  for (unsigned r = 0; r < bm->rows; r++) {
    const unsigned char *row = bm->buffer + (ptrdiff_t)r * bm->pitch;
    int py = y + (int)r;
    if (py < 0 || py >= img->height) continue;
    for (unsigned c = 0; c < bm->width; c++) {
      int px = x + (int)c;
      if (px < 0 || px >= img->width || !(row[c / 8] & (0x80u >> (c % 8)))) continue;
      img->pixels[(size_t)py * (size_t)img->width + (size_t)px] = 0;
    }
  }
}

/* Open the first font file that loads: the options' or the built-in list. */
static int open_font(const label_options_t *o, FT_Library lib, FT_Face *face, label_error_t *err)
{
  if (o->font_path && o->font_path[0]) {
    if (FT_New_Face(lib, o->font_path, 0, face) == 0) return LABEL_OK;
    return fail_with(err, LABEL_ERR_DRAW, "Шрифт %s не загружается.", "The font %s does not load.",
                     o->font_path);
  }
  for (size_t i = 0; i < sizeof font_files / sizeof font_files[0]; i++)
    if (FT_New_Face(lib, font_files[i], 0, face) == 0) return LABEL_OK;
  return fail_with(err, LABEL_ERR_DRAW,
                   "Нет моноширинного шрифта для текста этикетки (%s): установите пакет "
                   "fonts-dejavu-core.",
                   "No monospaced font for the label's text (%s): install fonts-dejavu-core.",
                   font_files[0]);
}

int label_render(const char *code, size_t len, const label_options_t *o, label_image_t *out,
                 label_error_t *err)
{
  label_options_t defaults;
  matrix_t m = {0, 0, NULL};
  FT_Library lib = NULL;
  FT_Face face = NULL;
  text_block_t *block = NULL;
  int rc;

  if (err) memset(err, 0, sizeof *err);
  if (out == NULL || code == NULL) return fail_plain(err, LABEL_ERR_ARGUMENT);
  memset(out, 0, sizeof *out);
  if (o == NULL) {
    label_options_default(&defaults);
    o = &defaults;
  }
  if (!options_valid(o))
    return fail_with(err, LABEL_ERR_ARGUMENT,
                     "Параметры этикетки вне допустимого: %.1f×%.1f мм, %u dpi, шрифт %.1f мм, "
                     "поле %.1f мм.",
                     "Label options out of range: %.1fx%.1f mm, %u dpi, text %.1f mm, margin "
                     "%.1f mm.",
                     o->width_mm, o->height_mm, o->dpi, o->text_mm, o->margin_mm);
  rc = label_describe(code, len, o, &out->text, err);
  if (rc != LABEL_OK) return rc;
  rc = encode_matrix(&out->text, &m, err);
  if (rc != LABEL_OK) return rc;

  int width = dots(o->width_mm, o->dpi), height = dots(o->height_mm, o->dpi);
  int margin = dots(o->margin_mm, o->dpi);
  block = calloc(1, sizeof *block);
  if (block == NULL || FT_Init_FreeType(&lib) != 0) {
    rc = fail_plain(err, LABEL_ERR_NO_MEMORY);
    goto done;
  }
  rc = open_font(o, lib, &face, err);
  if (rc != LABEL_OK) goto done;
  FT_UInt font_px = (FT_UInt)lround(o->text_mm * o->dpi / 25.4);
  if (FT_Set_Pixel_Sizes(face, 0, font_px) != 0 ||
      FT_Load_Char(face, '0', FT_LOAD_DEFAULT | FT_LOAD_TARGET_MONO) != 0) {
    rc = fail_with(err, LABEL_ERR_DRAW, "Шрифт %s не годится для текста этикетки.",
                   "The font %s cannot draw the label's text.", face->family_name);
    goto done;
  }
  int advance = (int)(face->glyph->advance.x >> 6);
  int ascent = (int)(face->size->metrics.ascender >> 6);
  int line_height = ascent + (int)((-face->size->metrics.descender) >> 6);
  int inner = width - 2 * margin;
  size_t per_line = inner > 0 && advance > 0 ? (size_t)(inner / advance) : 0;
  if (per_line < 16) {
    rc = fail_with(err, LABEL_ERR_TOO_SMALL,
                   "На этикетке шириной %.1f мм помещается %zu знаков в строке, нужно не меньше "
                   "16: уменьшите шрифт или возьмите этикетку шире.",
                   "A %.1f mm wide label holds %zu characters a line, 16 at least are needed: "
                   "use a smaller font or a wider label.",
                   o->width_mm, per_line);
    goto done;
  }
  if (per_line >= TEXT_LINE_CHARS) per_line = TEXT_LINE_CHARS - 1;
  char gtin_line[40], serial_line[40];
  snprintf(gtin_line, sizeof gtin_line, "GTIN %s", out->text.gtin);
  snprintf(serial_line, sizeof serial_line, "SN %s", out->text.serial);
  if (!block_wrap(block, gtin_line, per_line) || !block_wrap(block, serial_line, per_line) ||
      !block_wrap(block, out->text.bracketed, per_line)) {
    rc = fail_with(err, LABEL_ERR_TOO_SMALL,
                   "Текст кода не умещается в %d строк на этикетке %.1f×%.1f мм.",
                   "The code's text does not fit %d lines on a %.1fx%.1f mm label.", TEXT_LINES_MAX,
                   o->width_mm, o->height_mm);
    goto done;
  }

  /* The symbol gets whatever the text leaves, in whole dots per module. */
  int gap = line_height / 2 > 2 ? line_height / 2 : 2;
  int text_height = block->count * line_height;
  int room_w = inner, room_h = height - 2 * margin - text_height - gap;
  int module_w = room_w / (m.cols + 2 * QUIET_MODULES);
  int module_h = room_h > 0 ? room_h / (m.rows + 2 * QUIET_MODULES) : 0;
  int module = module_w < module_h ? module_w : module_h;
  if (module < LABEL_MODULE_MIN_DOTS) {
    double need_mm = (double)((m.rows + 2 * QUIET_MODULES) * LABEL_MODULE_MIN_DOTS + text_height +
                              gap + 2 * margin) *
                     25.4 / o->dpi;
    rc = fail_with(err, LABEL_ERR_TOO_SMALL,
                   "Символ %d×%d модулей и %d строк текста не помещаются на этикетку %.1f×%.1f "
                   "мм при %u dpi (нужна высота около %.1f мм).",
                   "A %dx%d-module symbol and %d text lines do not fit a %.1fx%.1f mm label at "
                   "%u dpi (about %.1f mm of height needed).",
                   m.cols, m.rows, block->count, o->width_mm, o->height_mm, o->dpi, need_mm);
    goto done;
  }

  int symbol_w = m.cols * module, symbol_h = m.rows * module;
  int block_h = symbol_h + 2 * QUIET_MODULES * module + gap + text_height;
  int top = margin + (height - 2 * margin - block_h) / 2;
  out->module_dots = module;
  out->symbol_width = symbol_w;
  out->symbol_height = symbol_h;
  out->symbol_x = (width - symbol_w) / 2;
  out->symbol_y = top + QUIET_MODULES * module;
  out->text_top = out->symbol_y + symbol_h + QUIET_MODULES * module + gap;
  out->text_lines = block->count;
  out->width = width;
  out->height = height;
  out->pixels = malloc((size_t)width * (size_t)height);
  if (out->pixels == NULL) {
    rc = fail_plain(err, LABEL_ERR_NO_MEMORY);
    goto done;
  }
  memset(out->pixels, 255, (size_t)width * (size_t)height);

  for (int y = 0; y < m.rows; y++)
    for (int x = 0; x < m.cols; x++) {
      if (!m.dark[(size_t)y * (size_t)m.cols + (size_t)x]) continue;
      for (int dy = 0; dy < module; dy++)
        memset(out->pixels + (size_t)(out->symbol_y + y * module + dy) * (size_t)width +
                   (size_t)(out->symbol_x + x * module),
               0, (size_t)module);
    }
  for (int i = 0; i < block->count; i++) {
    const char *line = block->lines[i];
    int pen = (width - (int)strlen(line) * advance) / 2;
    int baseline = out->text_top + i * line_height + ascent;
    for (const char *c = line; *c; c++) {
      if (FT_Load_Char(face, (FT_ULong)(unsigned char)*c,
                       FT_LOAD_RENDER | FT_LOAD_TARGET_MONO | FT_LOAD_MONOCHROME) != 0 ||
          face->glyph->bitmap.pixel_mode != FT_PIXEL_MODE_MONO) {
        rc = fail_with(err, LABEL_ERR_DRAW, "Шрифт %s не рисует знак '%c'.",
                       "The font %s cannot draw '%c'.", face->family_name, *c);
        goto done;
      }
      blit_mono(out, &face->glyph->bitmap, pen + face->glyph->bitmap_left,
                baseline - face->glyph->bitmap_top);
      pen += (int)(face->glyph->advance.x >> 6);
    }
  }
  rc = LABEL_OK;
done:
  if (rc != LABEL_OK) {
    free(out->pixels);
    out->pixels = NULL;
    out->width = out->height = 0;
  }
  free(block);
  free(m.dark);
  if (face) FT_Done_Face(face);
  if (lib) FT_Done_FreeType(lib);
  return rc;
}

/* ---- PNG ------------------------------------------------------------------------ */

typedef struct membuf {
  unsigned char *data;
  size_t len, cap;
} membuf_t;

static void membuf_write(png_structp png, png_bytep bytes, png_size_t n)
{
  membuf_t *b = png_get_io_ptr(png);
  if (b->len + n > b->cap) {
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + n) cap *= 2;
    unsigned char *grown = realloc(b->data, cap);
    if (grown == NULL) png_error(png, "out of memory");
    b->data = grown;
    b->cap = cap;
  }
  memcpy(b->data + b->len, bytes, n);
  b->len += n;
}

static void membuf_flush(png_structp png) { (void)png; }

/* The libpng calls, kept apart so nothing set after setjmp is read after a
** longjmp. row holds (width + 7) / 8 bytes. */
static int png_encode(const label_image_t *img, unsigned dpi, membuf_t *b, png_bytep row)
{
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
  png_infop info = png ? png_create_info_struct(png) : NULL;
  if (info == NULL) {
    png_destroy_write_struct(&png, NULL);
    return LABEL_ERR_NO_MEMORY;
  }
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, &info);
    return LABEL_ERR_PNG;
  }
  png_set_write_fn(png, b, membuf_write, membuf_flush);
  png_set_IHDR(png, info, (png_uint_32)img->width, (png_uint_32)img->height, 1, PNG_COLOR_TYPE_GRAY,
               PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_uint_32 per_metre = (png_uint_32)lround(dpi / 0.0254);
  png_set_pHYs(png, info, per_metre, per_metre, PNG_RESOLUTION_METER);
  png_write_info(png, info);
  size_t row_bytes = ((size_t)img->width + 7) / 8;
  for (int y = 0; y < img->height; y++) {
    const uint8_t *src = img->pixels + (size_t)y * (size_t)img->width;
    memset(row, 0, row_bytes);
    for (int x = 0; x < img->width; x++) /* 1 = white in a 1-bit grey PNG */
      if (src[x] >= 128) row[x / 8] = (png_byte)(row[x / 8] | (0x80u >> (x % 8)));
    png_write_row(png, row);
  }
  png_write_end(png, info);
  png_destroy_write_struct(&png, &info);
  return LABEL_OK;
}

int label_png(const char *code, size_t len, const label_options_t *o, unsigned char **png,
              size_t *png_len, label_error_t *err)
{
  label_image_t img;
  membuf_t b = {NULL, 0, 0};
  png_bytep row = NULL;
  label_options_t defaults;

  if (err) memset(err, 0, sizeof *err);
  if (png == NULL || png_len == NULL) return fail_plain(err, LABEL_ERR_ARGUMENT);
  *png = NULL;
  *png_len = 0;
  if (o == NULL) {
    label_options_default(&defaults);
    o = &defaults;
  }
  int rc = label_render(code, len, o, &img, err);
  if (rc != LABEL_OK) return rc;
  row = malloc(((size_t)img.width + 7) / 8);
  rc = row ? png_encode(&img, o->dpi, &b, row) : LABEL_ERR_NO_MEMORY;
  free(row);
  label_image_free(&img);
  if (rc != LABEL_OK) {
    free(b.data);
    return fail_plain(err, rc);
  }
  *png = b.data;
  *png_len = b.len;
  return LABEL_OK;
}

int label_png_file(const char *code, size_t len, const label_options_t *o, const char *path,
                   label_error_t *err)
{
  unsigned char *png = NULL;
  size_t n = 0;
  if (path == NULL) return fail_plain(err, LABEL_ERR_ARGUMENT);
  int rc = label_png(code, len, o, &png, &n, err);
  if (rc != LABEL_OK) return rc;
  FILE *f = fopen(path, "wb");
  if (f == NULL || fwrite(png, 1, n, f) != n || fflush(f) != 0) {
    int e = errno;
    if (f) fclose(f);
    free(png);
    return fail_with(err, LABEL_ERR_IO, "Не удалось записать %s: %s.", "Cannot write %s: %s.", path,
                     strerror(e));
  }
  free(png);
  if (fclose(f) != 0)
    return fail_with(err, LABEL_ERR_IO, "Не удалось записать %s: %s.", "Cannot write %s: %s.", path,
                     strerror(errno));
  return LABEL_OK;
}

/* ---- HTML ------------------------------------------------------------------------ */

static void html_escaped(FILE *f, const char *s)
{
  for (; *s; s++) switch (*s) {
    case '&':
      fputs("&amp;", f);
      break;
    case '<':
      fputs("&lt;", f);
      break;
    case '>':
      fputs("&gt;", f);
      break;
    case '"':
      fputs("&quot;", f);
      break;
    case '\'':
      fputs("&#39;", f);
      break;
    default:
      fputc(*s, f);
    }
}

int label_html(const char *code, size_t len, const label_options_t *o, char **html,
               size_t *html_len, label_error_t *err)
{
  label_options_t defaults;
  label_text_t text;
  unsigned char *png = NULL, *b64 = NULL;
  size_t png_len = 0;
  char *page = NULL;
  size_t page_len = 0;
  FILE *f = NULL;
  int rc;

  if (err) memset(err, 0, sizeof *err);
  if (html == NULL || html_len == NULL) return fail_plain(err, LABEL_ERR_ARGUMENT);
  *html = NULL;
  *html_len = 0;
  if (o == NULL) {
    label_options_default(&defaults);
    o = &defaults;
  }
  rc = label_png(code, len, o, &png, &png_len, err);
  if (rc != LABEL_OK) return rc;
  rc = label_describe(code, len, o, &text, err);
  if (rc != LABEL_OK) goto done;
  if (png_len > (size_t)INT32_MAX / 2) {
    rc = fail_plain(err, LABEL_ERR_NO_MEMORY);
    goto done;
  }
  b64 = malloc(4 * ((png_len + 2) / 3) + 1);
  if (b64 == NULL) {
    rc = fail_plain(err, LABEL_ERR_NO_MEMORY);
    goto done;
  }
  EVP_EncodeBlock(b64, png, (int)png_len);
  f = open_memstream(&page, &page_len);
  if (f == NULL) {
    rc = fail_plain(err, LABEL_ERR_NO_MEMORY);
    goto done;
  }
  fputs("<!DOCTYPE html>\n<html lang=\"ru\">\n<head>\n<meta charset=\"utf-8\">\n<title>", f);
  fputs("Этикетка / Label ", f);
  html_escaped(f, text.bracketed);
  fprintf(f,
          "</title>\n<style>\n"
          "@page { size: %.2fmm %.2fmm; margin: 0; }\n"
          "html, body { margin: 0; padding: 0; background: #fff; color: #000; }\n"
          "img.label { display: block; width: %.2fmm; height: %.2fmm; "
          "image-rendering: pixelated; }\n"
          ".text { margin: 3mm 0 0 0; font: 11pt \"DejaVu Sans Mono\", monospace; "
          "line-height: 1.5; word-break: break-all; }\n"
          ".text dt { font-family: sans-serif; font-size: 9pt; color: #444; }\n"
          ".text dd { margin: 0 0 1mm 0; }\n"
          "@media print { .text { display: none; } }\n"
          "</style>\n</head>\n<body>\n",
          o->width_mm, o->height_mm, o->width_mm, o->height_mm);
  fputs("<img class=\"label\" alt=\"DataMatrix ", f);
  html_escaped(f, text.bracketed);
  fprintf(f, "\" src=\"data:image/png;base64,%s\">\n<dl class=\"text\">\n", (const char *)b64);
  fputs("<dt>GTIN</dt><dd class=\"gtin\">", f);
  html_escaped(f, text.gtin);
  fputs("</dd>\n<dt>Серийный номер / Serial</dt><dd class=\"serial\">", f);
  html_escaped(f, text.serial);
  fputs("</dd>\n<dt>Код / Code</dt><dd class=\"code\">", f);
  html_escaped(f, text.bracketed);
  fputs("</dd>\n</dl>\n</body>\n</html>\n", f);
  if (ferror(f)) {
    rc = fail_plain(err, LABEL_ERR_NO_MEMORY);
    goto done;
  }
  if (fclose(f) != 0) {
    f = NULL;
    rc = fail_plain(err, LABEL_ERR_NO_MEMORY);
    goto done;
  }
  f = NULL;
  *html = page;
  *html_len = page_len;
  page = NULL;
  rc = LABEL_OK;
done:
  if (f) fclose(f);
  free(page);
  free(b64);
  free(png);
  return rc;
}
