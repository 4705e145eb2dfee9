/*
** print.c: receipts as ESC/POS bytes, the receipt QR as a raster and a PNG,
** and the sinks that carry bytes to a printer (pos/print/print.h).
**
** What is printed is decided elsewhere: the lines come from
** receipt_layout() (pos/print/receipt_text.c), the QR string from the
** sealed receipt (doc_receipt_qr). This file decides only how a printer is
** told to print them, which is why it holds no receipt wording at all.
**
** Three parts:
**   - the ESC/POS stream: text through iconv into CP866 (a character
**     CP866 lacks becomes '?', a control byte a space, so a product name
**     can never smuggle a printer command), styles per line, the QR
**     picture, feed and cut;
**   - the QR: libqrencode's modules turned into a 1-bit raster (for GS v 0)
**     or a 1-bit PNG (libpng, for the pages);
**   - the sinks: a vtable {write, flush, destroy} and three backends (file,
**     serial through libserialport, USB through libusb), all chosen by
**     print_sink_open() from a device string, the one place that parses it.
**
** libserialport refuses pseudo-terminals: it looks a port up in sysfs,
** where /dev/pts/N is not, and its open asks for the modem lines, which a
** pty refuses with ENOTTY (the scanner's serial transport met the second).
** A terminal it refuses either way is driven as a plain tty with termios
** instead, which also serves virtual ports (socat) and lets the tests run
** the serial sink on a pty.
*/
#include "pos/print/print.h"

#include <errno.h>
#include <fcntl.h>
#include <iconv.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <libserialport.h>
#include <libusb.h>
#include <png.h>
#include <qrencode.h>

#include "common/errtab.h"
#include "scanner/transport.h"

/* ---------------------------------------------------------------------- */
/* Errors                                                                  */

static const errtab_t print_errors[] = {
    {PRINT_OK, "ok", "Готово", "done"},
    {PRINT_ERR_ARGUMENT, "argument", "Неверные параметры печати",
     "bad printing parameters (width must be 32 or 48)"},
    {PRINT_ERR_NO_MEMORY, "no_memory", "Не хватает памяти", "out of memory"},
    {PRINT_ERR_RECEIPT, "receipt", "В архиве ФН нет такого чека",
     "the FN archive holds no such receipt"},
    {PRINT_ERR_QR, "qr", "QR-код не помещается", "the QR code cannot be made to fit"},
    {PRINT_ERR_CHARSET, "charset", "В системе нет кодировки CP866 (iconv)",
     "this system's iconv cannot convert to CP866"},
    {PRINT_ERR_PNG, "png", "Не удалось построить PNG", "the PNG could not be made"},
    {PRINT_ERR_DEVICE, "device", "Неверно указан принтер", "malformed printer device string"},
    {PRINT_ERR_NOT_FOUND, "not_found", "Принтер не найден", "printer not found"},
    {PRINT_ERR_OPEN, "open", "Принтер не открывается (занят или нет прав)",
     "the printer cannot be opened (busy, or no permission)"},
    {PRINT_ERR_IO, "io", "Ошибка передачи на принтер", "writing to the printer failed"},
    {PRINT_ERR_TIMEOUT, "timeout", "Принтер не принимает данные (бумага, крышка, связь?)",
     "the printer stopped taking data (paper, cover, cable?)"},
    ERRTAB_END("Неизвестная ошибка печати", "unknown printing error"),
};

const char *print_err_name(int err) { return errtab_name(print_errors, err); }

const char *print_err_message(int err, bool russian)
{
  return errtab_message(print_errors, err, russian);
}

static void say(char *err, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void say(char *err, size_t size, const char *fmt, ...)
{
  va_list ap;
  if (!err || size == 0) return;
  va_start(ap, fmt);
  vsnprintf(err, size, fmt, ap);
  va_end(ap);
}

/* ---------------------------------------------------------------------- */
/* Options                                                                 */

void print_options_default(print_options_t *o, unsigned width)
{
  if (!o) return;
  memset(o, 0, sizeof *o);
  o->width = width;
  o->codepage = PRINT_CODEPAGE_PC866;
  o->qr = PRINT_QR_RASTER;
  o->module_dots = 0;
  o->cut = PRINT_CUT_PARTIAL;
  o->feed_lines = 4;
  o->cancel_kanji = true;
}

unsigned print_paper_dots(unsigned width)
{
  /* Font A is 12 dots wide on 203 dpi heads: 32 x 12 = 384 (48 mm of a
  ** 58 mm roll), 48 x 12 = 576 (72 mm of an 80 mm roll). */
  return width == PRINT_WIDTH_58MM ? 384u : width == PRINT_WIDTH_80MM ? 576u : 0u;
}

static bool options_valid(const print_options_t *o)
{
  return print_paper_dots(o->width) != 0 && o->codepage <= 255 && o->feed_lines <= 255 &&
         o->module_dots <= 32 && (unsigned)o->qr <= PRINT_QR_NONE &&
         (unsigned)o->cut <= PRINT_CUT_NONE;
}

/* ---------------------------------------------------------------------- */
/* A growing byte buffer                                                   */

typedef struct bytes {
  uint8_t *data;
  size_t len, cap;
  bool failed;
} bytes_t;

static void put(bytes_t *b, const void *data, size_t n)
{
  if (b->failed || n == 0) return;
  if (b->len + n > b->cap) {
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + n) cap *= 2;
    uint8_t *grown = realloc(b->data, cap);
    if (!grown) {
      b->failed = true;
      return;
    }
    b->data = grown;
    b->cap = cap;
  }
  memcpy(b->data + b->len, data, n);
  b->len += n;
}

/* A command of up to 8 bytes given as ints, for readability at the call. */
static void cmd(bytes_t *b, size_t n, ...)
{
  uint8_t c[8];
  va_list ap;
  va_start(ap, n);
  for (size_t i = 0; i < n && i < sizeof c; i++) c[i] = (uint8_t)va_arg(ap, int);
  va_end(ap);
  put(b, c, n < sizeof c ? n : sizeof c);
}

#define ESC 0x1B
#define GS  0x1D
#define FS  0x1C
#define LF  0x0A

/* ---------------------------------------------------------------------- */
/* UTF-8 to CP866                                                          */

/*
** Appends text[0..n) converted to CP866. A character CP866 has no place for
** (or broken UTF-8) becomes '?': a receipt must still print, and the FN
** only ever holds CP866-safe text anyway, so this only catches what comes
** from elsewhere. Control bytes become spaces afterwards: an ESC in a name
** would otherwise be a printer command.
*/
static int put_cp866(bytes_t *b, iconv_t cd, const char *text, size_t n)
{
  char chunk[256];
  char *in = (char *)text;
  size_t left = n, start = b->len;
  (void)iconv(cd, NULL, NULL, NULL, NULL);
  while (left > 0) {
    char *o = chunk;
    size_t room = sizeof chunk;
    size_t r = iconv(cd, &in, &left, &o, &room);
    put(b, chunk, (size_t)(o - chunk));
    if (r != (size_t)-1) continue;
    if (errno == E2BIG) continue;
    if (errno != EILSEQ && errno != EINVAL) return PRINT_ERR_CHARSET;
    put(b, "?", 1);
    /* Skip the lead byte and its continuation bytes. */
    in++;
    left--;
    while (left > 0 && ((unsigned char)*in & 0xC0u) == 0x80u) {
      in++;
      left--;
    }
  }
  if (b->failed) return PRINT_ERR_NO_MEMORY;
  for (size_t i = start; i < b->len; i++)
    if (b->data[i] < 0x20u || b->data[i] == 0x7Fu) b->data[i] = ' ';
  return 0;
}

/* ---------------------------------------------------------------------- */
/* QR                                                                      */

#define QR_QUIET_MODULES 4u /* ISO/IEC 18004: 4 light modules all round */
#define RASTER_BAND_ROWS 128u

void print_raster_free(print_raster_t *r)
{
  if (!r) return;
  free(r->bits);
  memset(r, 0, sizeof *r);
}

/* The QR symbol of text: byte data, level M, the smallest version. */
static int qr_encode(const char *text, QRcode **out)
{
  *out = NULL;
  if (!text || !*text) return PRINT_ERR_ARGUMENT;
  errno = 0;
  /* QR_MODE_8 with case sensitivity: libqrencode splits the string into
  ** numeric, alphanumeric and byte segments, whichever is shortest. */
  QRcode *q = QRcode_encodeString(text, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
  if (!q) return errno == ENOMEM ? PRINT_ERR_NO_MEMORY : PRINT_ERR_QR;
  *out = q;
  return 0;
}

/* q drawn at `module` dots a module with the quiet zone, shifted right by
** `left` blank dots. */
static int qr_to_raster(const QRcode *q, unsigned module, unsigned left, print_raster_t *out)
{
  unsigned modules = (unsigned)q->width + 2 * QR_QUIET_MODULES;
  unsigned side = modules * module;
  memset(out, 0, sizeof *out);
  out->width = left + side;
  out->height = side;
  out->bytes_per_row = (out->width + 7) / 8;
  out->bits = calloc((size_t)out->bytes_per_row * out->height, 1);
  if (!out->bits) return PRINT_ERR_NO_MEMORY;
  for (unsigned my = 0; my < (unsigned)q->width; my++) {
    for (unsigned mx = 0; mx < (unsigned)q->width; mx++) {
      if (!(q->data[my * (unsigned)q->width + mx] & 1u)) continue;
      unsigned x0 = left + (mx + QR_QUIET_MODULES) * module;
      unsigned y0 = (my + QR_QUIET_MODULES) * module;
      for (unsigned y = y0; y < y0 + module; y++) {
        uint8_t *row = out->bits + (size_t)y * out->bytes_per_row;
        for (unsigned x = x0; x < x0 + module; x++)
          row[x / 8] = (uint8_t)(row[x / 8] | (0x80u >> (x % 8)));
      }
    }
  }
  return 0;
}

int print_qr_raster(const char *text, unsigned module_dots, print_raster_t *out)
{
  QRcode *q = NULL;
  int rc;
  if (!out) return PRINT_ERR_ARGUMENT;
  memset(out, 0, sizeof *out);
  if (module_dots < 1 || module_dots > 32) return PRINT_ERR_ARGUMENT;
  if ((rc = qr_encode(text, &q)) != 0) return rc;
  rc = qr_to_raster(q, module_dots, 0, out);
  QRcode_free(q);
  return rc;
}

/*
** Dots per module on paper `paper` dots wide: the QR with its quiet zone
** about 65 % of the width (a receipt's QR, version 4-6, comes out about
** 25 mm on 58 mm paper and 33 mm on 80 mm; the FNS asks for at least
** 20 mm), 3..8 dots a module (fewer smudge on thermal paper, more only
** waste it), and never wider than the paper. 0 when it cannot fit.
*/
static unsigned auto_module(unsigned paper, unsigned modules)
{
  unsigned m = paper * 65 / 100 / modules;
  if (m < 3) m = 3;
  if (m > 8) m = 8;
  while (m > 0 && m * modules > paper) m--;
  return m;
}

/* GS v 0: the raster in bands, normal density. */
static void put_raster(bytes_t *b, const print_raster_t *r)
{
  for (unsigned y = 0; y < r->height; y += RASTER_BAND_ROWS) {
    unsigned rows = r->height - y < RASTER_BAND_ROWS ? r->height - y : RASTER_BAND_ROWS;
    cmd(b, 8, GS, 'v', '0', 0, (int)(r->bytes_per_row & 0xFF), (int)(r->bytes_per_row >> 8),
        (int)(rows & 0xFF), (int)(rows >> 8));
    put(b, r->bits + (size_t)y * r->bytes_per_row, (size_t)rows * r->bytes_per_row);
  }
}

static int put_qr_raster(bytes_t *b, const char *text, const print_options_t *o)
{
  QRcode *q = NULL;
  print_raster_t r;
  unsigned paper = print_paper_dots(o->width), module, modules;
  int rc;
  if ((rc = qr_encode(text, &q)) != 0) return rc;
  modules = (unsigned)q->width + 2 * QR_QUIET_MODULES;
  module = o->module_dots ? o->module_dots : auto_module(paper, modules);
  if (module == 0 || module * modules > paper) {
    QRcode_free(q);
    return PRINT_ERR_QR;
  }
  /* Centred by blank dots on the left rather than ESC a, which not every
  ** printer applies to raster images. */
  rc = qr_to_raster(q, module, (paper - module * modules) / 2, &r);
  QRcode_free(q);
  if (rc != 0) return rc;
  put_raster(b, &r);
  print_raster_free(&r);
  return 0;
}

/* GS ( k: the printer's own QR (model 2, level M), centred with ESC a. */
static int put_qr_native(bytes_t *b, const char *text, const print_options_t *o)
{
  size_t n = strlen(text);
  unsigned module = o->module_dots;
  if (n == 0 || n + 3 > 7089) return PRINT_ERR_QR;
  if (module == 0) {
    QRcode *q = NULL;
    int rc = qr_encode(text, &q);
    if (rc != 0) return rc;
    module = auto_module(print_paper_dots(o->width), (unsigned)q->width + 2 * QR_QUIET_MODULES);
    QRcode_free(q);
    if (module == 0) return PRINT_ERR_QR;
  }
  if (module > 16) module = 16; /* GS ( k 167 takes 1..16 */
  cmd(b, 3, ESC, 'a', 1);
  cmd(b, 8, GS, '(', 'k', 4, 0, 49, 65, 50); /* fn 165: model 2 ... */
  cmd(b, 1, 0);                              /* ... n2 = 0 */
  cmd(b, 8, GS, '(', 'k', 3, 0, 49, 67, (int)module);
  cmd(b, 8, GS, '(', 'k', 3, 0, 49, 69, 49); /* level M */
  cmd(b, 8, GS, '(', 'k', (int)((n + 3) & 0xFF), (int)((n + 3) >> 8), 49, 80, 48);
  put(b, text, n);
  cmd(b, 8, GS, '(', 'k', 3, 0, 49, 81, 48);
  cmd(b, 1, LF);
  cmd(b, 3, ESC, 'a', 0);
  return 0;
}

/* ---------------------------------------------------------------------- */
/* The ESC/POS stream                                                      */

int print_escpos_layout(const receipt_layout_t *layout, const print_options_t *o, uint8_t **out,
                        size_t *len)
{
  bytes_t b = {0};
  iconv_t cd = (iconv_t)-1;
  bool qr_done = false;
  int rc = 0;
  if (out) *out = NULL;
  if (len) *len = 0;
  if (!layout || !o || !out || !len || !options_valid(o) || (!layout->text && layout->line_count))
    return PRINT_ERR_ARGUMENT;
  if ((cd = iconv_open("CP866", "UTF-8")) == (iconv_t)-1) return PRINT_ERR_CHARSET;

  cmd(&b, 2, ESC, '@');
  if (o->cancel_kanji) cmd(&b, 2, FS, '.');
  cmd(&b, 3, ESC, 't', (int)o->codepage);
  for (size_t i = 0; i < layout->line_count; i++) {
    const receipt_line_t *l = &layout->lines[i];
    const char *text = layout->text + l->offset;
    if (l->style == RECEIPT_QR_TEXT && o->qr != PRINT_QR_NONE && layout->qr[0]) {
      /* The picture stands for every line of the string written out. */
      if (!qr_done)
        rc = o->qr == PRINT_QR_NATIVE ? put_qr_native(&b, layout->qr, o)
                                      : put_qr_raster(&b, layout->qr, o);
      if (rc != 0) goto fail;
      qr_done = true;
      continue;
    }
    if (l->style == RECEIPT_HEADING) cmd(&b, 3, ESC, 'E', 1);
    if (l->style == RECEIPT_TOTAL) cmd(&b, 3, ESC, '!', 0x18); /* bold, double height */
    if ((rc = put_cp866(&b, cd, text, l->length)) != 0) goto fail;
    if (l->style == RECEIPT_HEADING) cmd(&b, 3, ESC, 'E', 0);
    if (l->style == RECEIPT_TOTAL) cmd(&b, 3, ESC, '!', 0);
    cmd(&b, 1, LF);
  }
  cmd(&b, 3, ESC, 'd', (int)o->feed_lines);
  if (o->cut == PRINT_CUT_PARTIAL) cmd(&b, 4, GS, 'V', 66, 0);
  if (o->cut == PRINT_CUT_FULL) cmd(&b, 4, GS, 'V', 65, 0);
  if (b.failed) {
    rc = PRINT_ERR_NO_MEMORY;
    goto fail;
  }
  iconv_close(cd);
  *out = b.data;
  *len = b.len;
  return 0;
fail:
  iconv_close(cd);
  free(b.data);
  return rc;
}

int print_escpos_receipt(till_t *t, uint32_t number, const print_options_t *o, uint8_t **out,
                         size_t *len, int *fn_error)
{
  receipt_layout_t layout;
  int rc, dummy;
  if (!fn_error) fn_error = &dummy;
  *fn_error = 0;
  if (out) *out = NULL;
  if (len) *len = 0;
  if (!t || !o || !out || !len || !options_valid(o)) return PRINT_ERR_ARGUMENT;
  if ((rc = receipt_layout(t, number, o->width, &layout)) != 0) {
    *fn_error = rc;
    return rc == FN_ERR_NO_MEMORY ? PRINT_ERR_NO_MEMORY : PRINT_ERR_RECEIPT;
  }
  rc = print_escpos_layout(&layout, o, out, len);
  receipt_layout_free(&layout);
  return rc;
}

/* ---------------------------------------------------------------------- */
/* PNG                                                                     */

static void png_to_bytes(png_structp png, png_bytep data, png_size_t n)
{
  bytes_t *b = png_get_io_ptr(png);
  put(b, data, n);
  if (b->failed) png_error(png, "out of memory");
}

static void png_no_flush(png_structp png) { (void)png; }

/* The raster as a 1-bit greyscale PNG (where 0 is black: the bits are
** inverted row by row into `row`). Kept apart from its caller so that
** nothing setjmp could clobber lives across the jump. */
static int png_encode(const print_raster_t *r, bytes_t *b, png_bytep row)
{
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
  png_infop info = png ? png_create_info_struct(png) : NULL;
  if (!info) {
    png_destroy_write_struct(&png, NULL);
    return PRINT_ERR_PNG;
  }
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, &info);
    return b->failed ? PRINT_ERR_NO_MEMORY : PRINT_ERR_PNG;
  }
  png_set_write_fn(png, b, png_to_bytes, png_no_flush);
  png_set_IHDR(png, info, r->width, r->height, 1, PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_write_info(png, info);
  for (unsigned y = 0; y < r->height; y++) {
    const uint8_t *src = r->bits + (size_t)y * r->bytes_per_row;
    for (unsigned i = 0; i < r->bytes_per_row; i++) row[i] = (png_byte)~src[i];
    png_write_row(png, row);
  }
  png_write_end(png, info);
  png_destroy_write_struct(&png, &info);
  return 0;
}

int print_qr_png(const char *text, unsigned module_dots, uint8_t **png, size_t *png_len)
{
  print_raster_t r;
  bytes_t b = {0};
  png_bytep row = NULL;
  int rc;
  if (png) *png = NULL;
  if (png_len) *png_len = 0;
  if (!png || !png_len) return PRINT_ERR_ARGUMENT;
  if ((rc = print_qr_raster(text, module_dots ? module_dots : 8, &r)) != 0) return rc;
  if (!(row = malloc(r.bytes_per_row))) {
    rc = PRINT_ERR_NO_MEMORY;
    goto fail;
  }
  if ((rc = png_encode(&r, &b, row)) != 0) goto fail;
  free(row);
  print_raster_free(&r);
  *png = b.data;
  *png_len = b.len;
  return 0;
fail:
  free(row);
  free(b.data);
  print_raster_free(&r);
  return rc;
}

/* ---------------------------------------------------------------------- */
/* Sinks                                                                   */

#define SINK_DEFAULT_TIMEOUT_MS 10000
#define SINK_DESCRIPTION_SIZE   192

struct print_sink {
  const print_sink_backend_t *backend;
  void *state;
  int timeout_ms;
  char description[SINK_DESCRIPTION_SIZE];
};

int print_sink_new(const print_sink_backend_t *backend, void *state, const char *description,
                   const print_sink_options_t *options, print_sink_t **out)
{
  print_sink_t *s;
  if (out) *out = NULL;
  if (!backend || !backend->write || !backend->destroy || !out) {
    if (backend && backend->destroy) backend->destroy(state);
    return PRINT_ERR_ARGUMENT;
  }
  if (!(s = calloc(1, sizeof *s))) {
    backend->destroy(state);
    return PRINT_ERR_NO_MEMORY;
  }
  s->backend = backend;
  s->state = state;
  s->timeout_ms =
      options && options->timeout_ms > 0 ? options->timeout_ms : SINK_DEFAULT_TIMEOUT_MS;
  snprintf(s->description, sizeof s->description, "%s", description ? description : backend->name);
  *out = s;
  return 0;
}

int print_sink_write(print_sink_t *s, const uint8_t *data, size_t len)
{
  if (!s || (!data && len > 0)) return PRINT_ERR_ARGUMENT;
  if (len == 0) return 0;
  return s->backend->write(s->state, data, len, s->timeout_ms);
}

int print_sink_close(print_sink_t *s)
{
  int rc;
  if (!s) return 0;
  rc = s->backend->flush ? s->backend->flush(s->state, s->timeout_ms) : 0;
  s->backend->destroy(s->state);
  free(s);
  return rc;
}

const char *print_sink_describe(const print_sink_t *s) { return s ? s->description : ""; }

static int64_t now_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
** Writes all of data to a non-blocking fd, waiting with poll() for room
** up to timeout_ms in all. Used by the file sink on character devices and
** FIFOs and by the serial sink on plain ttys.
*/
static int fd_write_all(int fd, const uint8_t *data, size_t len, int timeout_ms)
{
  int64_t deadline = now_ms() + timeout_ms;
  while (len > 0) {
    ssize_t n = write(fd, data, len);
    if (n > 0) {
      data += n;
      len -= (size_t)n;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) return PRINT_ERR_IO;
    int64_t left = deadline - now_ms();
    if (left <= 0) return PRINT_ERR_TIMEOUT;
    struct pollfd p = {.fd = fd, .events = POLLOUT};
    int r = poll(&p, 1, (int)left);
    if (r < 0 && errno != EINTR) return PRINT_ERR_IO;
    if (r > 0 && (p.revents & (POLLERR | POLLHUP | POLLNVAL))) return PRINT_ERR_IO;
  }
  return 0;
}

/* ---- file ---- */

typedef struct file_sink {
  int fd;
  bool regular; /* a regular file: blocking writes, fsync at the end */
} file_sink_t;

static int file_write(void *state, const uint8_t *data, size_t len, int timeout_ms)
{
  file_sink_t *f = state;
  if (!f->regular) return fd_write_all(f->fd, data, len, timeout_ms);
  while (len > 0) {
    ssize_t n = write(f->fd, data, len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return PRINT_ERR_IO;
    data += n;
    len -= (size_t)n;
  }
  return 0;
}

static int file_flush(void *state, int timeout_ms)
{
  file_sink_t *f = state;
  (void)timeout_ms;
  /* A receipt file is handed to another program next: make it whole on
  ** disk first. Devices have nothing to sync. */
  if (f->regular && fsync(f->fd) != 0) return PRINT_ERR_IO;
  return 0;
}

static void file_destroy(void *state)
{
  file_sink_t *f = state;
  if (!f) return;
  if (f->fd >= 0) close(f->fd);
  free(f);
}

static const print_sink_backend_t file_backend = {"file", file_write, file_flush, file_destroy};

static int file_open(const char *path, const print_sink_options_t *options, print_sink_t **out,
                     char *err, size_t err_size)
{
  struct stat sb;
  file_sink_t *f;
  char description[SINK_DESCRIPTION_SIZE];
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOCTTY | O_CLOEXEC | O_NONBLOCK, 0644);
  if (fd < 0) {
    int e = errno;
    say(err, err_size, "file:%s: %s", path, strerror(e));
    return e == ENOENT || e == ENXIO || e == ENODEV ? PRINT_ERR_NOT_FOUND : PRINT_ERR_OPEN;
  }
  if (fstat(fd, &sb) != 0) {
    say(err, err_size, "file:%s: %s", path, strerror(errno));
    close(fd);
    return PRINT_ERR_OPEN;
  }
  if (!(f = malloc(sizeof *f))) {
    close(fd);
    return PRINT_ERR_NO_MEMORY;
  }
  f->fd = fd;
  f->regular = S_ISREG(sb.st_mode);
  if (f->regular) (void)fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  snprintf(description, sizeof description, "file %.180s", path);
  return print_sink_new(&file_backend, f, description, options, out);
}

/* ---- serial ---- */

typedef enum flow { FLOW_NONE, FLOW_RTSCTS, FLOW_XONXOFF, FLOW_DTRDSR } flow_t;

typedef struct serial_sink {
  struct sp_port *port; /* through libserialport, or */
  int plain_fd;         /* a plain tty (a pty libserialport refused) */
  struct termios saved;
  bool saved_ok;
} serial_sink_t;

static int serial_write(void *state, const uint8_t *data, size_t len, int timeout_ms)
{
  serial_sink_t *s = state;
  if (s->plain_fd >= 0) return fd_write_all(s->plain_fd, data, len, timeout_ms);
  enum sp_return r = sp_blocking_write(s->port, data, len, (unsigned)timeout_ms);
  if (r < 0) return PRINT_ERR_IO;
  return (size_t)r == len ? 0 : PRINT_ERR_TIMEOUT;
}

/* Waits until the output queue is empty, up to timeout_ms. */
static int serial_flush(void *state, int timeout_ms)
{
  serial_sink_t *s = state;
  int64_t deadline = now_ms() + timeout_ms;
  for (;;) {
    int waiting = 0;
    if (s->plain_fd >= 0) {
      /* No queue length (some virtual ports): wait the kernel's way. */
      if (ioctl(s->plain_fd, TIOCOUTQ, &waiting) != 0)
        return tcdrain(s->plain_fd) == 0 ? 0 : PRINT_ERR_IO;
    } else {
      enum sp_return r = sp_output_waiting(s->port);
      if (r < 0) return PRINT_ERR_IO;
      waiting = (int)r;
    }
    if (waiting == 0) return 0;
    if (now_ms() >= deadline) return PRINT_ERR_TIMEOUT;
    struct timespec pause = {0, 10 * 1000 * 1000};
    nanosleep(&pause, NULL);
  }
}

static void serial_destroy(void *state)
{
  serial_sink_t *s = state;
  if (!s) return;
  if (s->port) {
    (void)sp_close(s->port);
    sp_free_port(s->port);
  }
  if (s->plain_fd >= 0) {
    if (s->saved_ok) (void)tcsetattr(s->plain_fd, TCSANOW, &s->saved);
    close(s->plain_fd);
  }
  free(s);
}

static const print_sink_backend_t serial_backend = {"serial", serial_write, serial_flush,
                                                    serial_destroy};

static speed_t speed_of(unsigned baud)
{
  switch (baud) {
  case 19200:
    return B19200;
  case 38400:
    return B38400;
  case 57600:
    return B57600;
  case 115200:
    return B115200;
  default:
    return B9600;
  }
}

/* name as a raw tty, 8N1 at baud with flow, through termios. */
static int serial_open_plain(serial_sink_t *s, const char *name, unsigned baud, flow_t flow,
                             char *err, size_t err_size)
{
  struct termios tio;
  if (flow == FLOW_DTRDSR) {
    say(err, err_size, "%s: DTR/DSR flow control needs a real serial port", name);
    return PRINT_ERR_OPEN;
  }
  s->plain_fd = open(name, O_WRONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
  if (s->plain_fd < 0) {
    say(err, err_size, "%s: %s", name, strerror(errno));
    return PRINT_ERR_OPEN;
  }
  if (tcgetattr(s->plain_fd, &tio) != 0) {
    say(err, err_size, "%s: not a terminal (%s)", name, strerror(errno));
    return PRINT_ERR_OPEN;
  }
  s->saved = tio;
  s->saved_ok = true;
  cfmakeraw(&tio);
  tio.c_cflag &= (tcflag_t) ~(CSIZE | PARENB | CSTOPB | CRTSCTS);
  tio.c_cflag |= CS8 | CLOCAL | CREAD;
  if (flow == FLOW_RTSCTS) tio.c_cflag |= CRTSCTS;
  /* XON/XOFF from the printer pauses our output: IXON. */
  if (flow == FLOW_XONXOFF) tio.c_iflag |= IXON;
  (void)cfsetispeed(&tio, speed_of(baud));
  (void)cfsetospeed(&tio, speed_of(baud));
  if (tcsetattr(s->plain_fd, TCSANOW, &tio) != 0) {
    say(err, err_size, "%s: cannot set 8N1 at %u baud (%s)", name, baud, strerror(errno));
    return PRINT_ERR_OPEN;
  }
  return 0;
}

static int serial_open(const char *spec, const print_sink_options_t *options, print_sink_t **out,
                       char *err, size_t err_size)
{
  static const char *const flow_names[] = {"none", "rtscts", "xonxoff", "dtrdsr"};
  static const enum sp_flowcontrol sp_flows[] = {SP_FLOWCONTROL_NONE, SP_FLOWCONTROL_RTSCTS,
                                                 SP_FLOWCONTROL_XONXOFF, SP_FLOWCONTROL_DTRDSR};
  char port[256], name[PATH_MAX], description[SINK_DESCRIPTION_SIZE];
  unsigned baud = 9600;
  flow_t flow = FLOW_NONE;
  serial_sink_t *s = NULL;
  int rc;
  /* PORT[@BAUD][,FLOW]: the port ends at the first '@' or ','. */
  size_t n = strcspn(spec, "@,");
  if (n == 0 || n >= sizeof port) {
    say(err, err_size,
        "serial:%s: expected serial:PORT[@BAUD][,FLOW], e.g. "
        "serial:/dev/ttyUSB0@115200,rtscts",
        spec);
    return PRINT_ERR_DEVICE;
  }
  memcpy(port, spec, n);
  port[n] = '\0';
  const char *rest = spec + n;
  if (*rest == '@') {
    char *end;
    errno = 0;
    unsigned long b = strtoul(rest + 1, &end, 10);
    if (errno || end == rest + 1 || (*end && *end != ',') ||
        (b != 9600 && b != 19200 && b != 38400 && b != 57600 && b != 115200)) {
      say(err, err_size, "serial:%s: baud rate must be 9600, 19200, 38400, 57600 or 115200", spec);
      return PRINT_ERR_DEVICE;
    }
    baud = (unsigned)b;
    rest = end;
  }
  if (*rest == ',') {
    size_t i;
    for (i = 0; i < 4; i++)
      if (!strcmp(rest + 1, flow_names[i])) break;
    if (i == 4) {
      say(err, err_size, "serial:%s: flow control must be none, rtscts, xonxoff or dtrdsr", spec);
      return PRINT_ERR_DEVICE;
    }
    flow = (flow_t)i;
  } else if (*rest) {
    say(err, err_size, "serial:%s: unexpected '%s'", spec, rest);
    return PRINT_ERR_DEVICE;
  }

  /* The port: a USB VID:PID (found among the ports now), a path, or a
  ** name under /dev. */
  if (transport_parse_usb_id(port, NULL, NULL) == strlen(port)) {
    serial_port_info_t *ports = NULL;
    size_t count = 0;
    int i = -1;
    if (transport_serial_list(&ports, &count) == 0) i = transport_serial_match(ports, count, port);
    if (i >= 0) snprintf(name, sizeof name, "%s", ports[i].name);
    free(ports);
    if (i < 0) {
      say(err, err_size, "serial:%s: no serial port of USB device %s is connected", spec, port);
      return PRINT_ERR_NOT_FOUND;
    }
  } else if (port[0] == '/') {
    /* Follow /dev/serial/by-id/... to the device it names now. */
    if (!realpath(port, name)) {
      say(err, err_size, "serial:%s: %s", spec, strerror(errno));
      return PRINT_ERR_NOT_FOUND;
    }
  } else {
    snprintf(name, sizeof name, "/dev/%s", port);
  }
  struct stat sb;
  if (stat(name, &sb) != 0) {
    say(err, err_size, "serial:%s: %s: %s", spec, name, strerror(errno));
    return PRINT_ERR_NOT_FOUND;
  }

  if (!(s = calloc(1, sizeof *s))) return PRINT_ERR_NO_MEMORY;
  s->plain_fd = -1;
  if (sp_get_port_by_name(name, &s->port) != SP_OK) {
    /* Not a port libserialport knows (it looks for it in sysfs: ptys and
    ** other virtual ports are not there): a terminal all the same? */
    s->port = NULL;
    if ((rc = serial_open_plain(s, name, baud, flow, err, err_size)) != 0) goto fail;
  } else if (sp_open(s->port, SP_MODE_WRITE) != SP_OK) {
    int e = sp_last_error_code();
    sp_free_port(s->port);
    s->port = NULL;
    if (e == ENOTTY) {
      if ((rc = serial_open_plain(s, name, baud, flow, err, err_size)) != 0) goto fail;
    } else {
      say(err, err_size, "serial:%s: %s: %s", spec, name, strerror(e));
      rc = e == ENOENT || e == ENODEV || e == ENXIO ? PRINT_ERR_NOT_FOUND : PRINT_ERR_OPEN;
      goto fail;
    }
  } else if (sp_set_baudrate(s->port, (int)baud) != SP_OK || sp_set_bits(s->port, 8) != SP_OK ||
             sp_set_parity(s->port, SP_PARITY_NONE) != SP_OK ||
             sp_set_stopbits(s->port, 1) != SP_OK ||
             sp_set_flowcontrol(s->port, sp_flows[flow]) != SP_OK) {
    say(err, err_size, "serial:%s: cannot set 8N1 at %u baud: %s", spec, baud,
        sp_last_error_message());
    rc = PRINT_ERR_OPEN;
    goto fail;
  }
  snprintf(description, sizeof description, "serial %.150s @%u %s", name, baud, flow_names[flow]);
  return print_sink_new(&serial_backend, s, description, options, out);
fail:
  serial_destroy(s);
  return rc;
}

/* ---- USB ---- */

typedef struct usb_sink {
  libusb_context *ctx;
  libusb_device_handle *handle;
  int interface;
  uint8_t endpoint;
  bool claimed, reattach;
} usb_sink_t;

#define USB_CHUNK 16384

static int usb_write(void *state, const uint8_t *data, size_t len, int timeout_ms)
{
  usb_sink_t *u = state;
  while (len > 0) {
    int chunk = len < USB_CHUNK ? (int)len : USB_CHUNK, done = 0;
    int r = libusb_bulk_transfer(u->handle, u->endpoint, (unsigned char *)data, chunk, &done,
                                 (unsigned)timeout_ms);
    if (done > 0) {
      data += done;
      len -= (size_t)done;
    }
    if (r == LIBUSB_ERROR_TIMEOUT) {
      if (done > 0) continue; /* it took some: the printer is alive */
      return PRINT_ERR_TIMEOUT;
    }
    if (r != 0) return PRINT_ERR_IO;
  }
  return 0;
}

static void usb_destroy(void *state)
{
  usb_sink_t *u = state;
  if (!u) return;
  if (u->handle) {
    /* With auto-detach, releasing gives the kernel's usblp back. */
    if (u->claimed) (void)libusb_release_interface(u->handle, u->interface);
    if (u->reattach) (void)libusb_attach_kernel_driver(u->handle, u->interface);
    libusb_close(u->handle);
  }
  if (u->ctx) libusb_exit(u->ctx);
  free(u);
}

static const print_sink_backend_t usb_backend = {"usb", usb_write, NULL, usb_destroy};

/* The first interface of dev that takes print data: printer class (7), or
** when the device was named by VID:PID also a vendor-specific one (some
** printers present themselves so), with a bulk OUT endpoint. */
static bool usb_choose(libusb_device *dev, bool named, int *interface, int *alt, uint8_t *endpoint)
{
  struct libusb_config_descriptor *config = NULL;
  bool found = false;
  if (libusb_get_active_config_descriptor(dev, &config) != 0 &&
      libusb_get_config_descriptor(dev, 0, &config) != 0)
    return false;
  for (int i = 0; i < config->bNumInterfaces && !found; i++) {
    for (int a = 0; a < config->interface[i].num_altsetting && !found; a++) {
      const struct libusb_interface_descriptor *d = &config->interface[i].altsetting[a];
      if (d->bInterfaceClass != LIBUSB_CLASS_PRINTER &&
          !(named && d->bInterfaceClass == LIBUSB_CLASS_VENDOR_SPEC))
        continue;
      for (int e = 0; e < d->bNumEndpoints; e++) {
        const struct libusb_endpoint_descriptor *ep = &d->endpoint[e];
        if ((ep->bmAttributes & 0x03) == LIBUSB_TRANSFER_TYPE_BULK &&
            (ep->bEndpointAddress & 0x80) == LIBUSB_ENDPOINT_OUT) {
          *interface = d->bInterfaceNumber;
          *alt = d->bAlternateSetting;
          *endpoint = ep->bEndpointAddress;
          found = true;
          break;
        }
      }
    }
  }
  libusb_free_config_descriptor(config);
  return found;
}

static int usb_open(const char *id, const print_sink_options_t *options, print_sink_t **out,
                    char *err, size_t err_size)
{
  libusb_device **list = NULL;
  libusb_device *dev = NULL;
  struct libusb_device_descriptor dd;
  char description[SINK_DESCRIPTION_SIZE];
  uint16_t vid = 0, pid = 0;
  bool named = *id != '\0';
  int alt = 0, r, rc;
  usb_sink_t *u = calloc(1, sizeof *u);
  if (!u) return PRINT_ERR_NO_MEMORY;
  if (named) (void)transport_parse_usb_id(id, &vid, &pid);
  if (libusb_init(&u->ctx) != 0) {
    u->ctx = NULL;
    say(err, err_size, "usb: libusb cannot start (no USB on this machine?)");
    rc = PRINT_ERR_NOT_FOUND;
    goto fail;
  }
  ssize_t n = libusb_get_device_list(u->ctx, &list);
  for (ssize_t i = 0; i < n && !dev; i++) {
    if (libusb_get_device_descriptor(list[i], &dd) != 0) continue;
    if (named && (dd.idVendor != vid || dd.idProduct != pid)) continue;
    if (usb_choose(list[i], named, &u->interface, &alt, &u->endpoint)) dev = list[i];
  }
  if (!dev) {
    if (named)
      say(err, err_size,
          "usb:%s: no such USB printer is connected (or it has no bulk OUT "
          "endpoint)",
          id);
    else
      say(err, err_size, "usb: no USB printer (interface class 7) is connected");
    rc = PRINT_ERR_NOT_FOUND;
    goto fail;
  }
  (void)libusb_get_device_descriptor(dev, &dd);
  if ((r = libusb_open(dev, &u->handle)) != 0) {
    u->handle = NULL;
    say(err, err_size, "usb %04x:%04x: %s%s", dd.idVendor, dd.idProduct, libusb_strerror(r),
        r == LIBUSB_ERROR_ACCESS ? " (a udev rule must give this user the device)" : "");
    rc = r == LIBUSB_ERROR_NO_DEVICE ? PRINT_ERR_NOT_FOUND : PRINT_ERR_OPEN;
    goto fail;
  }
  /* The kernel's usblp holds printer interfaces: let libusb detach it for
  ** as long as we hold the interface (releasing gives it back); where that
  ** is not supported, detach by hand and attach it again when done. */
  if (libusb_set_auto_detach_kernel_driver(u->handle, 1) != 0 &&
      libusb_kernel_driver_active(u->handle, u->interface) == 1) {
    if ((r = libusb_detach_kernel_driver(u->handle, u->interface)) != 0) {
      say(err, err_size, "usb %04x:%04x: cannot detach the kernel driver: %s", dd.idVendor,
          dd.idProduct, libusb_strerror(r));
      rc = PRINT_ERR_OPEN;
      goto fail;
    }
    u->reattach = true;
  }
  r = libusb_claim_interface(u->handle, u->interface);
  if ((r == LIBUSB_ERROR_OTHER || r == LIBUSB_ERROR_NOT_SUPPORTED) &&
      libusb_kernel_driver_active(u->handle, u->interface) == 0) {
    /* The detach failed, but no driver is bound (some kernels and
    ** emulators refuse the detach ioctl even then): claim without it. */
    (void)libusb_set_auto_detach_kernel_driver(u->handle, 0);
    r = libusb_claim_interface(u->handle, u->interface);
  }
  if (r != 0) {
    say(err, err_size, "usb %04x:%04x: interface %d: %s%s", dd.idVendor, dd.idProduct, u->interface,
        libusb_strerror(r), r == LIBUSB_ERROR_BUSY ? " (another program is printing)" : "");
    rc = PRINT_ERR_OPEN;
    goto fail;
  }
  u->claimed = true;
  if (alt != 0 && (r = libusb_set_interface_alt_setting(u->handle, u->interface, alt)) != 0) {
    say(err, err_size, "usb %04x:%04x: alternate setting %d: %s", dd.idVendor, dd.idProduct, alt,
        libusb_strerror(r));
    rc = PRINT_ERR_OPEN;
    goto fail;
  }
  libusb_free_device_list(list, 1);
  snprintf(description, sizeof description,
           "usb %04x:%04x bus %u address %u interface %d "
           "endpoint 0x%02x",
           dd.idVendor, dd.idProduct, libusb_get_bus_number(dev), libusb_get_device_address(dev),
           u->interface, u->endpoint);
  return print_sink_new(&usb_backend, u, description, options, out);
fail:
  if (list) libusb_free_device_list(list, 1);
  usb_destroy(u);
  return rc;
}

/* ---- the one parser of device strings ---- */

int print_sink_open(const char *device, const print_sink_options_t *options, print_sink_t **out,
                    char *err, size_t err_size)
{
  if (out) *out = NULL;
  if (err && err_size) err[0] = '\0';
  if (!device || !out) {
    say(err, err_size, "no printer device given");
    return PRINT_ERR_ARGUMENT;
  }
  if (!strncmp(device, "file:", 5) && device[5])
    return file_open(device + 5, options, out, err, err_size);
  if (!strncmp(device, "serial:", 7) && device[7])
    return serial_open(device + 7, options, out, err, err_size);
  if (!strcmp(device, "usb")) return usb_open("", options, out, err, err_size);
  if (!strncmp(device, "usb:", 4)) {
    if (transport_parse_usb_id(device + 4, NULL, NULL) != strlen(device + 4) || !device[4]) {
      say(err, err_size, "%s: expected usb:VID:PID in hex, e.g. usb:0416:5011", device);
      return PRINT_ERR_DEVICE;
    }
    return usb_open(device + 4, options, out, err, err_size);
  }
  say(err, err_size,
      "unknown printer device '%s': use file:PATH, serial:PORT[@BAUD][,FLOW], usb:VID:PID or usb",
      device);
  return PRINT_ERR_DEVICE;
}
