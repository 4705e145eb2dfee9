/*
** image.h: marking codes read from pictures instead of scanners.
**
** A photo of a label, a scan of a transfer document, a PNG the supplier
** sent: the till should read the codes in them the way a scanner would.
** Two decoders share the work, because neither does all of it: ZBar reads
** EAN/UPC, Code 128 and QR codes but has no DataMatrix decoder, and
** libdmtx reads DataMatrix, which is what marking codes are.
**
** image_load() reads PNG (libpng) or JPEG (libjpeg) into 8-bit grey;
** image_decode() runs both decoders over it and reports every code found
** with its symbology. ZBar's EAN-2/EAN-5 add-on decoders stay off: they
** read digits in the modules of a DataMatrix, and a picture of a marking
** code must give the marking code and nothing else (issue 15). GS1
** DataMatrix keeps its group separators: libdmtx is told to write FNC1 as
** 0x1D (DmtxPropFnc1; without it FNC1 is
** dropped and the separators are lost). The leading FNC1 that marks a
** symbol as GS1 is not data: it is removed and shown as the AIM
** identifier "]d2" instead.
*/
#ifndef KASSA_SCANNER_IMAGE_H
#define KASSA_SCANNER_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#define IMAGE_MAX_PIXELS (64u * 1024u * 1024u) /* refuse bigger pictures */
#define IMAGE_CODE_MAX   2048                  /* longest code kept */

typedef enum image_rc {
  IMAGE_OK = 0,
  IMAGE_ERR_OPEN = -1,    /* the file cannot be read; errno kept */
  IMAGE_ERR_FORMAT = -2,  /* neither PNG nor JPEG */
  IMAGE_ERR_CORRUPT = -3, /* the decoder of the format refused it */
  IMAGE_ERR_TOO_BIG = -4, /* over IMAGE_MAX_PIXELS */
  IMAGE_ERR_NO_MEMORY = -5,
  IMAGE_ERR_ARGUMENT = -6,
  IMAGE_ERR_DECODER = -7 /* a barcode decoder failed to start */
} image_rc_t;

/* 8-bit grey pixels, row after row, width bytes a row. */
typedef struct image_gray {
  uint8_t *pixels;
  int width, height;
} image_gray_t;

/* One code found in a picture. */
typedef struct image_code {
  char symbology[24]; /* "EAN-13", "QR-Code", "CODE-128", "DataMatrix", "GS1 DataMatrix" */
  char aim[4];        /* "]d2" for GS1 DataMatrix, "]d1" plain, "]E0"... or "" */
  uint8_t data[IMAGE_CODE_MAX + 1]; /* NUL after length bytes */
  size_t length;
} image_code_t;

/* Read the PNG or JPEG at path (told apart by their first bytes) into
** *img, converted to grey. Returns 0, or an image_rc_t. img->pixels is the
** caller's to release with image_free(). */
int image_load(const char *path, image_gray_t *img);

/* Release the pixels (NULL-safe) and zero img. */
void image_free(image_gray_t *img);

/* Which decoders image_decode() runs. */
#define IMAGE_DECODE_ZBAR       1u /* EAN/UPC, Code 128, QR ... (ZBar) */
#define IMAGE_DECODE_DATAMATRIX 2u /* DataMatrix (libdmtx) */
#define IMAGE_DECODE_ALL        3u

typedef struct image_decode_options {
  unsigned decoders;      /* IMAGE_DECODE_* bits; 0: all */
  unsigned dm_timeout_ms; /* bound on libdmtx's search; 0: 2000 */
} image_decode_options_t;

/* Find the codes in img: up to max of them into codes[], the number found
** into *count (codes beyond max are counted but not stored). 1D and QR
** codes first (ZBar), then DataMatrix (libdmtx), each in the order the
** decoder finds them. options may be NULL (all decoders, defaults).
** libdmtx finds a symbol in milliseconds, but proving that a picture holds
** no more of them takes long when it is full of edges (a 1D barcode: about
** 8 s for a 450x230 EAN-13 picture), hence the timeout: the search stops
** there and what was found stands. Returns 0 (also when nothing was
** found), IMAGE_ERR_ARGUMENT, IMAGE_ERR_NO_MEMORY or IMAGE_ERR_DECODER. */
int image_decode(const image_gray_t *img, image_code_t *codes, size_t max, size_t *count,
                 const image_decode_options_t *options);

/* Static English text for an image_rc_t. */
const char *image_strerror(int rc);

#endif /* KASSA_SCANNER_IMAGE_H */
