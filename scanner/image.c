/*
** image.c: load PNG/JPEG pictures and find the codes in them (image.h).
**
** The loader is deliberately small: libpng's simplified API does every PNG
** flavour (palette, 16-bit, alpha over white) into grey in a few calls;
** libjpeg is asked for grey output directly. Only the first bytes of the
** file decide the format, never its name.
**
** The decoders: ZBar scans the grey image for every 1D and QR symbology it
** knows; libdmtx searches it for DataMatrix regions, which it finds at any
** rotation and scale, told to write FNC1 as GS (0x1D). Its search is
** bounded by a timeout, since a large photo without a symbol is the worst
** case for it.
**
** libdmtx is handed the rows as the file stores them, top row first
** (DmtxFlipNone). Marking the picture as flipped in Y would show libdmtx a
** mirror image, which is not a readable DataMatrix (tested).
*/
#include "scanner/image.h"

#include <errno.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <dmtx.h>
#include <jpeglib.h>
#include <png.h>
#include <zbar.h>

#define GS                 0x1D
#define DM_DEFAULT_TIMEOUT 2000
#define UPSCALE_MAX        400 /* pictures up to this size get a doubled look */

/* ---- loading ---- */

static int load_png(const char *path, image_gray_t *img)
{
  png_image pi;
  png_color white = {255, 255, 255};
  uint8_t *buf = NULL;
  int rc;

  memset(&pi, 0, sizeof pi);
  pi.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_file(&pi, path)) return IMAGE_ERR_CORRUPT;
  if (pi.width == 0 || pi.height == 0 || (uint64_t)pi.width * pi.height > IMAGE_MAX_PIXELS) {
    rc = IMAGE_ERR_TOO_BIG;
    goto fail;
  }
  pi.format = PNG_FORMAT_GRAY;
  buf = malloc(PNG_IMAGE_SIZE(pi));
  if (buf == NULL) {
    rc = IMAGE_ERR_NO_MEMORY;
    goto fail;
  }
  /* Transparent pixels become white: codes are dark on light. */
  if (!png_image_finish_read(&pi, &white, buf, 0, NULL)) {
    rc = IMAGE_ERR_CORRUPT;
    goto fail;
  }
  img->pixels = buf;
  img->width = (int)pi.width;
  img->height = (int)pi.height;
  png_image_free(&pi);
  return IMAGE_OK;

fail:
  png_image_free(&pi);
  free(buf);
  return rc;
}

typedef struct jpeg_error {
  struct jpeg_error_mgr pub;
  jmp_buf jump;
} jpeg_error_t;

static void jpeg_on_error(j_common_ptr cinfo)
{
  jpeg_error_t *e = (jpeg_error_t *)(void *)cinfo->err;

  longjmp(e->jump, 1);
}

static void jpeg_no_message(j_common_ptr cinfo) { (void)cinfo; }

static int load_jpeg(FILE *f, image_gray_t *img)
{
  struct jpeg_decompress_struct cinfo;
  jpeg_error_t jerr;
  uint8_t *volatile buf = NULL;
  volatile int rc = IMAGE_ERR_CORRUPT;
  JSAMPROW row;

  memset(&cinfo, 0, sizeof cinfo);
  cinfo.err = jpeg_std_error(&jerr.pub);
  jerr.pub.error_exit = jpeg_on_error;
  jerr.pub.output_message = jpeg_no_message;
  if (setjmp(jerr.jump) != 0) goto fail;
  jpeg_create_decompress(&cinfo);
  jpeg_stdio_src(&cinfo, f);
  (void)jpeg_read_header(&cinfo, TRUE);
  cinfo.out_color_space = JCS_GRAYSCALE;
  (void)jpeg_start_decompress(&cinfo);
  if (cinfo.output_components != 1 || cinfo.output_width == 0 || cinfo.output_height == 0)
    goto fail;
  if ((uint64_t)cinfo.output_width * cinfo.output_height > IMAGE_MAX_PIXELS) {
    rc = IMAGE_ERR_TOO_BIG;
    goto fail;
  }
  buf = malloc((size_t)cinfo.output_width * cinfo.output_height);
  if (buf == NULL) {
    rc = IMAGE_ERR_NO_MEMORY;
    goto fail;
  }
  while (cinfo.output_scanline < cinfo.output_height) {
    row = buf + (size_t)cinfo.output_scanline * cinfo.output_width;
    (void)jpeg_read_scanlines(&cinfo, &row, 1);
  }
  (void)jpeg_finish_decompress(&cinfo);
  img->pixels = buf;
  img->width = (int)cinfo.output_width;
  img->height = (int)cinfo.output_height;
  jpeg_destroy_decompress(&cinfo);
  return IMAGE_OK;

fail:
  jpeg_destroy_decompress(&cinfo);
  free(buf);
  return rc;
}

int image_load(const char *path, image_gray_t *img)
{
  static const uint8_t png_magic[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
  uint8_t magic[8];
  FILE *f;
  size_t n;
  int rc;

  if (img != NULL) memset(img, 0, sizeof *img);
  if (path == NULL || img == NULL) return IMAGE_ERR_ARGUMENT;
  f = fopen(path, "rb");
  if (f == NULL) return IMAGE_ERR_OPEN;
  n = fread(magic, 1, sizeof magic, f);
  if (n == sizeof magic && memcmp(magic, png_magic, sizeof magic) == 0) {
    fclose(f);
    return load_png(path, img);
  }
  if (n >= 3 && magic[0] == 0xFF && magic[1] == 0xD8 && magic[2] == 0xFF) {
    rewind(f);
    rc = load_jpeg(f, img);
    fclose(f);
    return rc;
  }
  rc = ferror(f) ? IMAGE_ERR_OPEN : IMAGE_ERR_FORMAT;
  fclose(f);
  return rc;
}

void image_free(image_gray_t *img)
{
  if (img == NULL) return;
  free(img->pixels);
  memset(img, 0, sizeof *img);
}

/* ---- decoding ---- */

static void put_code(image_code_t *codes, size_t max, size_t *count, const char *symbology,
                     const char *aim, const uint8_t *data, size_t len)
{
  image_code_t *c;

  if (*count < max) {
    c = &codes[*count];
    snprintf(c->symbology, sizeof c->symbology, "%s", symbology);
    snprintf(c->aim, sizeof c->aim, "%s", aim);
    if (len > IMAGE_CODE_MAX) len = IMAGE_CODE_MAX;
    memcpy(c->data, data, len);
    c->data[len] = 0;
    c->length = len;
  }
  (*count)++;
}

/* The AIM identifier of a ZBar result [sure for the letters: ISO/IEC
** 15424; the modifier is the common one for each]. */
static const char *zbar_aim(zbar_symbol_type_t type, bool gs1)
{
  switch (type) {
  case ZBAR_EAN13:
  case ZBAR_UPCA:
    return "]E0";
  case ZBAR_EAN8:
    return "]E4";
  case ZBAR_CODE128:
    return gs1 ? "]C1" : "]C0";
  case ZBAR_QRCODE:
    return gs1 ? "]Q3" : "]Q1";
  default:
    return "";
  }
}

static int decode_zbar(const image_gray_t *img, image_code_t *codes, size_t max, size_t *count)
{
  zbar_image_scanner_t *scanner = NULL;
  zbar_image_t *zi = NULL;
  const zbar_symbol_t *sym;
  int rc = IMAGE_OK;

  scanner = zbar_image_scanner_create();
  zi = zbar_image_create();
  if (scanner == NULL || zi == NULL) {
    rc = IMAGE_ERR_DECODER;
    goto done;
  }
  (void)zbar_image_scanner_set_config(scanner, ZBAR_NONE, ZBAR_CFG_ENABLE, 1);
  /* Not the EAN-2/EAN-5 add-ons: they fire on DataMatrix modules (a real
  ** tyre code drawn at 4 pixels a module reads as EAN-2 "75"), and no till
  ** sells by an add-on: a periodical's EAN-13 is still read without it. */
  (void)zbar_image_scanner_set_config(scanner, ZBAR_EAN2, ZBAR_CFG_ENABLE, 0);
  (void)zbar_image_scanner_set_config(scanner, ZBAR_EAN5, ZBAR_CFG_ENABLE, 0);
  zbar_image_set_format(zi, zbar_fourcc('Y', '8', '0', '0'));
  zbar_image_set_size(zi, (unsigned)img->width, (unsigned)img->height);
  zbar_image_set_data(zi, img->pixels, (unsigned long)img->width * (unsigned long)img->height,
                      NULL);
  if (zbar_scan_image(scanner, zi) < 0) {
    rc = IMAGE_ERR_DECODER;
    goto done;
  }
  for (sym = zbar_image_first_symbol(zi); sym != NULL; sym = zbar_symbol_next(sym)) {
    zbar_symbol_type_t type = zbar_symbol_get_type(sym);
    bool gs1 = (zbar_symbol_get_modifiers(sym) & (1u << ZBAR_MOD_GS1)) != 0;

    put_code(codes, max, count, zbar_get_symbol_name(type), zbar_aim(type, gs1),
             (const uint8_t *)zbar_symbol_get_data(sym), zbar_symbol_get_data_length(sym));
  }

done:
  if (zi != NULL) zbar_image_destroy(zi);
  if (scanner != NULL) zbar_image_scanner_destroy(scanner);
  return rc;
}

/* One libdmtx search over the picture at 1/shrink of its resolution,
** until `until`. Adds what it decodes; *found counts them. */
static int dmtx_pass(DmtxImage *di, int shrink, DmtxTime *until, image_code_t *codes, size_t max,
                     size_t *count, size_t *found)
{
  DmtxDecode *dec;
  DmtxRegion *reg;
  DmtxMessage *msg;

  dec = dmtxDecodeCreate(di, shrink);
  if (dec == NULL) return IMAGE_ERR_NO_MEMORY;
  /* Without this libdmtx drops FNC1 and GS1 codes lose their separators. */
  if (dmtxDecodeSetProp(dec, DmtxPropFnc1, GS) != DmtxPass) {
    dmtxDecodeDestroy(&dec);
    return IMAGE_ERR_DECODER;
  }
  while ((reg = dmtxRegionFindNext(dec, until)) != NULL) {
    msg = dmtxDecodeMatrixRegion(dec, reg, DmtxUndefined);
    if (msg != NULL) {
      const uint8_t *data = msg->output;
      size_t len = msg->outputIdx > 0 ? (size_t)msg->outputIdx : 0;

      /* A leading FNC1 says "GS1 element strings follow": not data. */
      if (len > 0 && data[0] == GS)
        put_code(codes, max, count, "GS1 DataMatrix", "]d2", data + 1, len - 1);
      else
        put_code(codes, max, count, "DataMatrix", "]d1", data, len);
      (*found)++;
      dmtxMessageDestroy(&msg);
    }
    dmtxRegionDestroy(&reg);
  }
  dmtxDecodeDestroy(&dec);
  return IMAGE_OK;
}

static int decode_dmtx(const image_gray_t *img, image_code_t *codes, size_t max, size_t *count,
                       unsigned timeout_ms)
{
  DmtxImage *di;
  DmtxTime until;
  size_t found = 0;
  int rc;

  di = dmtxImageCreate(img->pixels, img->width, img->height, DmtxPack8bppK);
  if (di == NULL) return IMAGE_ERR_NO_MEMORY;
  (void)dmtxImageSetProp(di, DmtxPropImageFlip, DmtxFlipNone);
  until = dmtxTimeAdd(dmtxTimeNow(), timeout_ms);
  rc = dmtx_pass(di, 1, &until, codes, max, count, &found);
  /* libdmtx misses the odd symbol at one resolution that it reads at
  ** half of it (seen: a 44x44 symbol at 4 pixels a module, turned a
  ** quarter); a picture where the first pass found nothing gets a second
  ** look at half resolution, within the same time bound. */
  if (rc == IMAGE_OK && found == 0 && img->width >= 64 && img->height >= 64 &&
      dmtxTimeExceeded(until) == DmtxFalse)
    rc = dmtx_pass(di, 2, &until, codes, max, count, &found);
  dmtxImageDestroy(&di);
  /* And the other way: at 2 pixels a module its region finder can miss a
  ** small symbol it reads once each pixel is doubled. Only for small
  ** pictures, where this costs little. */
  if (rc == IMAGE_OK && found == 0 && img->width <= UPSCALE_MAX && img->height <= UPSCALE_MAX &&
      dmtxTimeExceeded(until) == DmtxFalse) {
    size_t w = (size_t)img->width * 2, h = (size_t)img->height * 2;
    uint8_t *big = malloc(w * h);

    if (big == NULL) return IMAGE_ERR_NO_MEMORY;
    for (size_t y = 0; y < h; y++)
      for (size_t x = 0; x < w; x++) big[y * w + x] = img->pixels[(y / 2) * (w / 2) + x / 2];
    di = dmtxImageCreate(big, (int)w, (int)h, DmtxPack8bppK);
    if (di == NULL) {
      free(big);
      return IMAGE_ERR_NO_MEMORY;
    }
    (void)dmtxImageSetProp(di, DmtxPropImageFlip, DmtxFlipNone);
    rc = dmtx_pass(di, 1, &until, codes, max, count, &found);
    dmtxImageDestroy(&di);
    free(big);
  }
  return rc;
}

int image_decode(const image_gray_t *img, image_code_t *codes, size_t max, size_t *count,
                 const image_decode_options_t *options)
{
  unsigned decoders = options != NULL && options->decoders ? options->decoders : IMAGE_DECODE_ALL;
  unsigned timeout =
      options != NULL && options->dm_timeout_ms ? options->dm_timeout_ms : DM_DEFAULT_TIMEOUT;
  int rc;

  if (count != NULL) *count = 0;
  if (img == NULL || img->pixels == NULL || img->width <= 0 || img->height <= 0 || count == NULL ||
      (codes == NULL && max > 0))
    return IMAGE_ERR_ARGUMENT;
  if (decoders & IMAGE_DECODE_ZBAR) {
    rc = decode_zbar(img, codes, max, count);
    if (rc != IMAGE_OK) return rc;
  }
  if (decoders & IMAGE_DECODE_DATAMATRIX) return decode_dmtx(img, codes, max, count, timeout);
  return IMAGE_OK;
}

const char *image_strerror(int rc)
{
  switch (rc) {
  case IMAGE_OK:
    return "ok";
  case IMAGE_ERR_OPEN:
    return "cannot read the file";
  case IMAGE_ERR_FORMAT:
    return "not a PNG or JPEG picture";
  case IMAGE_ERR_CORRUPT:
    return "the picture is damaged or of an unsupported kind";
  case IMAGE_ERR_TOO_BIG:
    return "the picture is too large";
  case IMAGE_ERR_NO_MEMORY:
    return "out of memory";
  case IMAGE_ERR_ARGUMENT:
    return "invalid argument";
  case IMAGE_ERR_DECODER:
    return "a barcode decoder failed to start";
  default:
    return "unknown image error";
  }
}
