/*
** label.h: remarking labels: a marking code printed as a DataMatrix with
** its human-readable text under it, for a label printer or a browser.
**
** When a good comes back with a damaged or lost code, the store takes a
** fresh code from its pool and sticks a new label on it (DOMAIN §7). The
** label must scan like the manufacturer's: a GS1 DataMatrix (ECC 200,
** encoded by libdmtx) that starts with FNC1 and uses FNC1 where the code
** has a group separator (libdmtx writes byte 0x1D of the input as FNC1 when
** told so with DmtxPropFnc1), so any 2D scanner, and scanner/image.c, reads
** back exactly the code that was printed.
**
** Under the symbol, in a monospaced font drawn by FreeType (DejaVu Sans
** Mono from fonts-dejavu-core unless told otherwise), three things a person
** can check without a scanner: the GTIN, the serial, and the code in the
** bracketed form `(01)GTIN(21)serial…`, wrapped at AI boundaries to the
** label's width.
**
** Decisions ([open] in the domain; change them here):
**   - The crypto tail (AIs 91, 92, 93) is left out of the printed text by
**     default, as manufacturers' labels do: it is for the FN and the
**     operator, not for eyes, and a 44- or 88-character tail does not fit
**     a 58 mm line anyway. label_options_t.show_tail prints it.
**   - A tobacco pack code (29 characters, no AIs) is printed as it was
**     issued: a plain DataMatrix without FNC1 (it has no AIs, so a GS1
**     symbol would misstate it), the text being GTIN, serial and the
**     21-character identification part (GTIN + serial). The MRP and check
**     characters stay in the symbol only, like the tail of a GS1 code.
**   - Fur tags (RFID), EGAIS stamps and plain EAN/ITF barcodes are not
**     remarked with a DataMatrix: LABEL_ERR_CODE.
**
** The picture is 1-bit (what thermal label printers print), sized from the
** label in millimetres at the printer's resolution (default 58 x 40 mm at
** 203 dpi = 464 x 320 dots), with the resolution recorded in the PNG's pHYs
** chunk. The DataMatrix gets the largest whole number of dots per module
** that fits above the text (at least LABEL_MODULE_MIN_DOTS; a quiet zone of
** two modules all round). label_html() wraps the PNG (base64) in a page
** sized to the label for printing from a browser, with the same text under
** it as selectable HTML for the screen.
*/
#ifndef KASSA_POS_LABEL_H
#define KASSA_POS_LABEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "scanner/markcode.h"

#define LABEL_MODULE_MIN_DOTS 2 /* a module of fewer dots does not print reliably */

typedef enum label_err {
  LABEL_OK = 0,
  LABEL_ERR_ARGUMENT = -1,  /* NULL, or options out of range */
  LABEL_ERR_CODE = -2,      /* not a marking code a DataMatrix label can carry */
  LABEL_ERR_TOO_SMALL = -3, /* the symbol and text do not fit the label */
  LABEL_ERR_ENCODE = -4,    /* libdmtx could not encode the code */
  LABEL_ERR_DRAW = -5,      /* the font is missing or cannot draw the text */
  LABEL_ERR_PNG = -6,       /* libpng failed */
  LABEL_ERR_IO = -7,        /* the file could not be written */
  LABEL_ERR_NO_MEMORY = -8,
} label_err_t;

/* Stable name ("too_small") and a static message, Russian or English. */
const char *label_err_name(int err);
const char *label_err_message(int err, bool russian);

/* An error with its detail, for a person (both languages). */
typedef struct label_error {
  int code;
  char message_ru[512];
  char message_en[512];
} label_error_t;

typedef struct label_options {
  double width_mm;       /* label width, 20..200 (58) */
  double height_mm;      /* label height, 15..200 (40) */
  unsigned dpi;          /* printer resolution, 100..1200 (203) */
  double text_mm;        /* height of the text's font, 1..10 mm (2.5) */
  double margin_mm;      /* blank border, 0..20 mm (1.5) */
  bool show_tail;        /* print AIs 91/92/93 in the bracketed text (false) */
  const char *font_path; /* a monospaced TrueType/OpenType file; NULL: DejaVu
                            Sans Mono, else another Debian monospace face */
} label_options_t;

/* The defaults above. */
void label_options_default(label_options_t *o);

/* What the label says in words. */
typedef struct label_text {
  markcode_kind_t kind; /* GS1 or TOBACCO_PACK */
  bool gs1;             /* a GS1 DataMatrix (FNC1 first) */
  char gtin[15];
  char serial[21];
  char bracketed[MARKCODE_MAX_INPUT * 2]; /* "(01)…(21)…" or the pack's ki */
  char encoded[MARKCODE_MAX_INPUT + 1];   /* what the symbol holds: the
                                             canonical code, GS as 0x1D */
  size_t encoded_len;
} label_text_t;

/*
** Parses code (len bytes, any spelling markcode_parse() takes) and says
** what its label shows. LABEL_ERR_CODE, with the parser's reason or why
** the kind cannot be labelled, in err (may be NULL).
*/
int label_describe(const char *code, size_t len, const label_options_t *o, label_text_t *out,
                   label_error_t *err);

/* A drawn label: 8-bit grey (0 black, 255 white), width bytes a row. */
typedef struct label_image {
  uint8_t *pixels;
  int width, height;
  int module_dots;                 /* dots per DataMatrix module */
  int symbol_x, symbol_y;          /* top-left of the symbol (quiet zone excluded) */
  int symbol_width, symbol_height; /* in dots */
  int text_top;                    /* first row of the text block */
  int text_lines;
  label_text_t text;
} label_image_t;

/* Draws the label for code (o NULL: defaults). *out is the caller's to
** release with label_image_free(). */
int label_render(const char *code, size_t len, const label_options_t *o, label_image_t *out,
                 label_error_t *err);
void label_image_free(label_image_t *img); /* NULL-safe; zeroes img */

/*
** The label as a 1-bit PNG with pHYs = the dpi. *png is malloc'd (the
** caller frees), *png_len its size.
*/
int label_png(const char *code, size_t len, const label_options_t *o, unsigned char **png,
              size_t *png_len, label_error_t *err);

/* label_png() written to path (created or truncated, mode 0644). */
int label_png_file(const char *code, size_t len, const label_options_t *o, const char *path,
                   label_error_t *err);

/*
** A printable HTML page (UTF-8): the label's PNG embedded as a data: URL
** (base64) at the label's size in millimetres, and under it the GTIN,
** serial and bracketed code as HTML text (escaped), shown on screen and
** left out when printing (the picture carries the same text). *html is
** malloc'd and NUL-terminated; *html_len excludes the NUL.
*/
int label_html(const char *code, size_t len, const label_options_t *o, char **html,
               size_t *html_len, label_error_t *err);

#endif /* KASSA_POS_LABEL_H */
