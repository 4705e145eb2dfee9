/*
** print.h: receipts on the thermal printers shops already have (ESC/POS),
** and the receipt QR code as a picture.
**
** Nearly every receipt printer in a Russian shop, whatever its badge
** (Epson, Xprinter, ATOL RP, Shtrih, the 58 mm no-name ones), speaks
** Epson's ESC/POS. The text comes from the one receipt layout there is
** (receipt_layout in pos/till/sale.h, the same lines `kassa sale print`
** shows); this module only turns it into printer bytes:
**
**   ESC @                      initialise (clears whatever a previous job set)
**   FS .                       leave Chinese/Kanji double-byte mode, which
**                              many Xprinter-type printers start in and which
**                              would print Cyrillic bytes as hieroglyphs
**   ESC t n                    the code page holding PC866 (n = 17 by default)
**   text, CP866, LF per line   headings bold (ESC E), ИТОГ bold and double
**                              height (ESC !)
**   GS v 0 (raster, 1 bit)     the receipt QR code drawn by libqrencode,
**                              centred on the paper, in bands of at most 128
**                              rows (small printers have small buffers)
**   ESC d n, GS V              feed past the tear bar, then cut
**
** The QR is a raster image because raster bit images work on every ESC/POS
** printer; the native QR command (GS ( k) is faster but depends on the
** model and firmware, so it is an option (PRINT_QR_NATIVE).
**
** The code page [open]: ESC t 17 is PC866 in Epson's table, which the
** Xprinter, ATOL RP and Shtrih ESC/POS firmwares follow; some no-name
** 58 mm printers number their tables differently (their self-test page
** lists them). print_options_t.codepage and `[printer] codepage` change it.
**
** Output goes to a sink, a tiny vtable in the manner of libmodbus's
** backends, named by a device string parsed in one place
** (print_sink_open):
**
**   file:PATH                      a file, or a character device such as the
**                                  kernel's usblp /dev/usb/lp0
**   serial:PORT[@BAUD][,FLOW]      libserialport: PORT a device (/dev/ttyUSB0,
**                                  ttyS0) or USB VID:PID; BAUD 9600 (default),
**                                  19200, 38400, 57600 or 115200; 8N1; FLOW
**                                  none (default), rtscts, xonxoff or dtrdsr
**   usb:VID:PID  or  usb           libusb: that device, or the first USB
**                                  printer-class (7) interface; bulk OUT; the
**                                  kernel's usblp driver is detached while
**                                  printing and given back afterwards
*/
#ifndef KASSA_POS_PRINT_H
#define KASSA_POS_PRINT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pos/print/receipt.h"
#include "pos/till/till.h"

typedef enum print_err {
  PRINT_OK = 0,
  PRINT_ERR_ARGUMENT = -1,  /* "argument": NULL, width not 32/48, option out of range */
  PRINT_ERR_NO_MEMORY = -2, /* "no_memory" */
  PRINT_ERR_RECEIPT = -3,   /* "receipt": no such receipt in the FN archive */
  PRINT_ERR_QR = -4,        /* "qr": the QR string cannot be encoded */
  PRINT_ERR_CHARSET = -5,   /* "charset": this system's iconv has no CP866 */
  PRINT_ERR_PNG = -6,       /* "png": libpng failed */
  PRINT_ERR_DEVICE = -7,    /* "device": the device string is malformed */
  PRINT_ERR_NOT_FOUND = -8, /* "not_found": no such port or printer */
  PRINT_ERR_OPEN = -9,      /* "open": the printer is there but cannot be opened */
  PRINT_ERR_IO = -10,       /* "io": writing to the printer failed */
  PRINT_ERR_TIMEOUT = -11,  /* "timeout": the printer stopped taking data */
} print_err_t;

/* Stable code ("timeout") and message for a print_err_t (Russian or
** English); "unknown" for anything else. */
const char *print_err_name(int err);
const char *print_err_message(int err, bool russian);

#define PRINT_CODEPAGE_PC866 17 /* ESC t n of PC866 in Epson's table */
#define PRINT_WIDTH_58MM     32 /* characters of font A; 384 dots */
#define PRINT_WIDTH_80MM     48 /* characters of font A; 576 dots */

typedef enum print_qr_mode {
  PRINT_QR_RASTER = 0, /* GS v 0 image from libqrencode: every printer */
  PRINT_QR_NATIVE = 1, /* GS ( k: the printer draws it (model-dependent) */
  PRINT_QR_NONE = 2,   /* no QR picture; the QR string stays as text */
} print_qr_mode_t;

typedef enum print_cut {
  PRINT_CUT_PARTIAL = 0, /* GS V 66 0: feed to the cutter, cut leaving a hinge */
  PRINT_CUT_FULL = 1,    /* GS V 65 0 */
  PRINT_CUT_NONE = 2,    /* printers without a cutter: feed only */
} print_cut_t;

typedef struct print_options {
  unsigned width;       /* PRINT_WIDTH_58MM or PRINT_WIDTH_80MM */
  unsigned codepage;    /* ESC t n for PC866, 0..255 */
  print_qr_mode_t qr;   /* PRINT_QR_RASTER */
  unsigned module_dots; /* dots per QR module; 0: chosen from the paper */
  print_cut_t cut;      /* PRINT_CUT_PARTIAL */
  unsigned feed_lines;  /* lines fed before the cut (4), 0..255 */
  bool cancel_kanji;    /* send FS . (true) */
} print_options_t;

/* Defaults for paper `width` characters wide (32 or 48; anything else is
** kept and refused later as PRINT_ERR_ARGUMENT). */
void print_options_default(print_options_t *o, unsigned width);

/* Dots across the printable width: 384 for 32 columns, 576 for 48, 0 for
** any other width. */
unsigned print_paper_dots(unsigned width);

/*
** The ESC/POS bytes of a rendered receipt (receipt_layout with the
** same width as o->width). QR text lines are replaced by the QR picture
** unless o->qr is PRINT_QR_NONE or the layout has no QR string. Text is
** converted to CP866 with iconv; a character CP866 lacks prints as '?'
** and a control character as a space, so no receipt text can reach the
** printer as a command. On success *out is malloc'd (free it) and *len
** set. Returns 0, PRINT_ERR_ARGUMENT, PRINT_ERR_NO_MEMORY,
** PRINT_ERR_CHARSET or PRINT_ERR_QR; *out NULL and *len 0 on error.
*/
int print_escpos_layout(const receipt_layout_t *layout, const print_options_t *o, uint8_t **out,
                        size_t *len);

/*
** The ESC/POS bytes of FN document `number` (a receipt or correction
** receipt) read from the archive of the till's FN: receipt_layout
** then print_escpos_layout. PRINT_ERR_RECEIPT when the FN has no such
** receipt (*fn_error, which may be NULL, gets the FN's or the document
** parser's negative error; 0 otherwise).
*/
int print_escpos_receipt(till_t *t, uint32_t number, const print_options_t *o, uint8_t **out,
                         size_t *len, int *fn_error);

/* A 1-bit picture, rows top to bottom, bytes_per_row bytes a row, most
** significant bit leftmost, 1 = black (ESC/POS raster order). */
typedef struct print_raster {
  uint8_t *bits;
  unsigned width, height, bytes_per_row;
} print_raster_t;

/* Frees the bits (NULL-safe) and zeroes the raster. */
void print_raster_free(print_raster_t *r);

/*
** The QR code of text (byte mode, error correction level M, the smallest
** version that holds it) as a raster: module_dots dots per module (1..32),
** with the 4-module quiet zone the standard asks for on every side.
** PRINT_ERR_ARGUMENT for NULL, "" or module_dots out of range, PRINT_ERR_QR
** when libqrencode refuses the text (too long), PRINT_ERR_NO_MEMORY.
*/
int print_qr_raster(const char *text, unsigned module_dots, print_raster_t *out);

/*
** The same QR code as a 1-bit greyscale PNG (libpng) for the pages:
** module_dots pixels a module (0: 8). On success *png is malloc'd (free
** it). Errors as print_qr_raster, plus PRINT_ERR_PNG.
*/
int print_qr_png(const char *text, unsigned module_dots, uint8_t **png, size_t *png_len);

/* ---------------------------------------------------------------------- */
/* Sinks: where the bytes go.                                              */

typedef struct print_sink print_sink_t;

/* One backend (file, serial, usb). The core calls nothing else. */
typedef struct print_sink_backend {
  const char *name;
  /* Write all of data[0..len) within timeout_ms; 0 or a print_err_t. */
  int (*write)(void *state, const uint8_t *data, size_t len, int timeout_ms);
  /* Wait until what was written has left the computer; 0 or a print_err_t.
  ** NULL when a completed write already means that (USB bulk). */
  int (*flush)(void *state, int timeout_ms);
  /* Close and free (state may be NULL). */
  void (*destroy)(void *state);
} print_sink_backend_t;

typedef struct print_sink_options {
  int timeout_ms; /* per write and for the final flush; 0: 10000 */
} print_sink_options_t;

/* A sink over a backend of the caller's (a network printer, a test's
** memory): it owns state from now on, and destroys it on failure too.
** description (may be NULL: the backend's name) is copied. options may be
** NULL. 0, PRINT_ERR_ARGUMENT (no backend, write or destroy; out NULL) or
** PRINT_ERR_NO_MEMORY. */
int print_sink_new(const print_sink_backend_t *backend, void *state, const char *description,
                   const print_sink_options_t *options, print_sink_t **out);

/*
** Opens the device a device string names (the forms at the top of this
** file). options may be NULL. On success *out is a sink to close with
** print_sink_close(). On failure *out is NULL, the return is
** PRINT_ERR_DEVICE (malformed string), PRINT_ERR_NOT_FOUND,
** PRINT_ERR_OPEN or PRINT_ERR_NO_MEMORY, and err (may be NULL) holds a
** sentence naming the device and the reason.
*/
int print_sink_open(const char *device, const print_sink_options_t *options, print_sink_t **out,
                    char *err, size_t err_size);

/* Writes all of data[0..len) to the printer (PRINT_ERR_TIMEOUT when it
** stops taking data within the timeout). 0 or a print_err_t. */
int print_sink_write(print_sink_t *s, const uint8_t *data, size_t len);

/* Flushes, closes and frees the sink (NULL-safe: 0). Returns the flush's
** result, so a file that could not be completed is reported. */
int print_sink_close(print_sink_t *s);

/* "serial /dev/ttyUSB0 @115200 rtscts", "usb 0416:5011 if 0 ep 0x03",
** "file receipt.bin": for messages. Valid until the sink is closed. */
const char *print_sink_describe(const print_sink_t *s);

#endif /* KASSA_POS_PRINT_H */
