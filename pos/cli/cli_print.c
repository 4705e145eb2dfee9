/*
** cli_print.c: `kassa print`, a receipt from the FN archive on a thermal
** printer, and its QR code as a picture.
**
** `kassa print receipt FD` renders fiscal document FD (a receipt or a
** correction receipt) as ESC/POS bytes (pos/print/print.h) and sends them to the
** printer named by --printer, by --out (a file; "-" is standard output,
** for `lp -o raw` and the like), or by `[printer] device`. The bytes are
** made before the device is opened, so a wrong document number never
** touches the printer or truncates the file. `kassa print qr FD --png FILE`
** writes the receipt's QR code as a PNG.
**
** Exit status: 0 printed, 1 failed (no such receipt, the printer refused;
** the reason in Russian and English on stderr), 2 usage.
*/
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pos/cli/cli.h"
#include "pos/print/print.h"
#include "pos/print/receipt.h"
#include "pos/till/sale.h"
#include "pos/till/till.h"

static const char usage_text[] =
    "usage: kassa print receipt FD [--width 32|48] [--out FILE | --printer DEVICE]\n"
    "                             [--codepage N] [--qr raster|native|none]\n"
    "                             [--cut partial|full|none] [--timeout MS]\n"
    "       kassa print qr FD --png FILE [--module DOTS]\n"
    "\n"
    "receipt: fiscal document FD from the FN archive as ESC/POS bytes for a\n"
    "thermal printer: 32 characters a line for 58 mm paper, 48 for 80 mm\n"
    "(default [printer] width), text in CP866 (ESC t N, default [printer]\n"
    "codepage, 17 = PC866 in Epson's table), the QR code as a raster image,\n"
    "then feed and cut. Where the bytes go: --out FILE (\"-\": standard output),\n"
    "--printer DEVICE, or [printer] device. Devices:\n"
    "  file:PATH                    a file or /dev/usb/lp0\n"
    "  serial:PORT[@BAUD][,FLOW]    serial:/dev/ttyUSB0@115200,rtscts (8N1; BAUD 9600\n"
    "                               to 115200; FLOW none, rtscts, xonxoff, dtrdsr)\n"
    "  usb:VID:PID | usb            a USB printer through libusb\n"
    "qr: the receipt's QR code as a PNG, DOTS pixels a module (default 8).\n";

typedef struct opts {
  const char *fd, *width, *out, *printer, *codepage, *qr, *cut, *timeout, *png, *module;
} opts_t;

static int parse(int argc, char **argv, opts_t *o)
{
  memset(o, 0, sizeof *o);
  const cli_option_t options[] = {
      {"width", 0, &o->width, NULL},     {"out", 0, &o->out, NULL},
      {"printer", 0, &o->printer, NULL}, {"codepage", 0, &o->codepage, NULL},
      {"qr", 0, &o->qr, NULL},           {"cut", 0, &o->cut, NULL},
      {"timeout", 0, &o->timeout, NULL}, {"png", 0, &o->png, NULL},
      {"module", 0, &o->module, NULL},
  };
  /* argv[0] is the verb (receipt, qr); the options and the FD follow. */
  return cli_parse_verb(argc, argv, options, sizeof options / sizeof options[0], &o->fd);
}

static int failed(int rc, const char *detail)
{
  fprintf(stderr, "kassa: %s / %s%s%s\n", print_err_message(rc, true), print_err_message(rc, false),
          detail && *detail ? ": " : "", detail ? detail : "");
  return 1;
}

/* Options of `receipt` into *po; 2 with the reason on stderr when one is bad. */
static int receipt_options(const kassa_config_t *cfg, const opts_t *o, print_options_t *po)
{
  unsigned long v;
  print_options_default(po, cfg->printer_width);
  if (o->width) {
    if (!cli_number(o->width, 0, 1000, &v)) v = 0;
    po->width = (unsigned)v;
  }
  if (print_paper_dots(po->width) == 0) {
    fprintf(stderr,
            "kassa: ширина строки 32 (58 мм) или 48 (80 мм) / width must be 32 (58 mm) "
            "or 48 (80 mm), not %s\n",
            o->width ? o->width : "the [printer] width of the config");
    return 2;
  }
  po->codepage = cfg->printer_codepage;
  if (o->codepage) {
    if (!cli_number(o->codepage, 0, 255, &v)) {
      fprintf(stderr, "kassa: --codepage %s: a number 0-255 (ESC t n)\n", o->codepage);
      return 2;
    }
    po->codepage = (unsigned)v;
  }
  if (po->codepage > 255) {
    fprintf(stderr, "kassa: [printer] codepage %u: a number 0-255 (ESC t n)\n",
            (unsigned)po->codepage);
    return 2;
  }
  if (o->qr) {
    if (!strcmp(o->qr, "raster"))
      po->qr = PRINT_QR_RASTER;
    else if (!strcmp(o->qr, "native"))
      po->qr = PRINT_QR_NATIVE;
    else if (!strcmp(o->qr, "none"))
      po->qr = PRINT_QR_NONE;
    else {
      fprintf(stderr, "kassa: --qr %s: raster, native or none\n", o->qr);
      return 2;
    }
  }
  if (o->cut) {
    if (!strcmp(o->cut, "partial"))
      po->cut = PRINT_CUT_PARTIAL;
    else if (!strcmp(o->cut, "full"))
      po->cut = PRINT_CUT_FULL;
    else if (!strcmp(o->cut, "none"))
      po->cut = PRINT_CUT_NONE;
    else {
      fprintf(stderr, "kassa: --cut %s: partial, full or none\n", o->cut);
      return 2;
    }
  }
  return 0;
}

static int receipt(const kassa_config_t *cfg, const opts_t *o)
{
  print_options_t po;
  print_sink_options_t so = {0};
  print_sink_t *sink = NULL;
  till_t *t = NULL;
  uint8_t *bytes = NULL;
  size_t len = 0;
  unsigned long number_fd, v;
  char device[KASSA_PATH_MAX + 8], err[512];
  int rc, fn_error = 0;
  if (!o->fd || !cli_number(o->fd, 1, UINT32_MAX, &number_fd)) {
    fprintf(stderr, "kassa: print receipt needs the document number FD (1, 2, ...)\n");
    return 2;
  }
  if (o->out && o->printer) {
    fprintf(stderr, "kassa: --out or --printer, not both\n");
    return 2;
  }
  if ((rc = receipt_options(cfg, o, &po)) != 0) return rc;
  if (o->timeout) {
    if (!cli_number(o->timeout, 1, 600000, &v)) {
      fprintf(stderr, "kassa: --timeout %s: milliseconds (1-600000)\n", o->timeout);
      return 2;
    }
    so.timeout_ms = (int)v;
  }
  bool to_stdout = o->out && !strcmp(o->out, "-");
  if (o->out)
    snprintf(device, sizeof device, "file:%s", o->out);
  else
    snprintf(device, sizeof device, "%s", o->printer ? o->printer : cfg->printer_device);
  if (!to_stdout && !device[0]) {
    fprintf(stderr,
            "kassa: принтер не задан / no printer: give --printer DEVICE or --out FILE, "
            "or set [printer] device in %s\n",
            cfg->config_path[0] ? cfg->config_path : "the config");
    return 2;
  }

  /* The bytes first: a wrong FD must not touch the printer. */
  if (cli_open_till(cfg, &t)) return 1;
  rc = print_escpos_receipt(t, (uint32_t)number_fd, &po, &bytes, &len, &fn_error);
  till_close(t);
  if (rc != 0) {
    if (rc == PRINT_ERR_RECEIPT) {
      snprintf(err, sizeof err, "FD %lu (%s)", number_fd, fn_err_message(fn_error, false));
      return failed(rc, err);
    }
    return failed(rc, NULL);
  }

  if (to_stdout) {
    rc = fwrite(bytes, 1, len, stdout) == len && fflush(stdout) == 0 ? 0 : PRINT_ERR_IO;
    free(bytes);
    if (rc != 0) return failed(rc, "standard output");
    fprintf(stderr, "ФД %lu: %zu байт / bytes of ESC/POS\n", number_fd, len);
    return 0;
  }
  if ((rc = print_sink_open(device, &so, &sink, err, sizeof err)) != 0) {
    free(bytes);
    return failed(rc, err);
  }
  snprintf(err, sizeof err, "%s", print_sink_describe(sink));
  rc = print_sink_write(sink, bytes, len);
  int closed = print_sink_close(sink);
  free(bytes);
  if (rc == 0) rc = closed;
  if (rc != 0) return failed(rc, err);
  printf("Чек ФД %lu напечатан / receipt FD %lu printed: %zu bytes to %s\n", number_fd, number_fd,
         len, err);
  return 0;
}

/* data[0..len) into path whole or not at all: a temp file, then rename. */
static int write_file(const char *path, const uint8_t *data, size_t len)
{
  char tmp[KASSA_PATH_MAX + 16];
  FILE *f;
  snprintf(tmp, sizeof tmp, "%s.tmp%ld", path, (long)getpid());
  if (!(f = fopen(tmp, "wb"))) return -1;
  bool ok = fwrite(data, 1, len, f) == len;
  ok = fflush(f) == 0 && ok;
  ok = fsync(fileno(f)) == 0 && ok;
  ok = fclose(f) == 0 && ok;
  if (ok && rename(tmp, path) == 0) return 0;
  unlink(tmp);
  return -1;
}

static int qr(const kassa_config_t *cfg, const opts_t *o)
{
  receipt_layout_t layout;
  till_t *t = NULL;
  uint8_t *png = NULL;
  size_t png_len = 0;
  unsigned long number_fd, module = 0;
  int rc;
  if (!o->fd || !cli_number(o->fd, 1, UINT32_MAX, &number_fd) || !o->png) {
    fprintf(stderr, "kassa: print qr needs the document number FD and --png FILE\n");
    return 2;
  }
  if (o->module && !cli_number(o->module, 1, 32, &module)) {
    fprintf(stderr, "kassa: --module %s: dots a module, 1-32\n", o->module);
    return 2;
  }
  if (cli_open_till(cfg, &t)) return 1;
  rc = receipt_layout(t, (uint32_t)number_fd, PRINT_WIDTH_80MM, &layout);
  till_close(t);
  if (rc != 0) {
    char detail[128];
    snprintf(detail, sizeof detail, "FD %lu (%s)", number_fd, fn_err_message(rc, false));
    return failed(PRINT_ERR_RECEIPT, detail);
  }
  rc = layout.qr[0] ? print_qr_png(layout.qr, (unsigned)module, &png, &png_len) : PRINT_ERR_QR;
  if (rc == 0 && write_file(o->png, png, png_len) != 0) {
    fprintf(stderr, "kassa: не удалось записать / cannot write %s: %s\n", o->png, strerror(errno));
    rc = 1;
  } else if (rc == 0) {
    printf("%s\n", layout.qr);
  } else {
    rc = failed(rc, NULL);
  }
  free(png);
  receipt_layout_free(&layout);
  return rc;
}

int cli_print(const kassa_config_t *cfg, int argc, char **argv)
{
  opts_t o;
  int rc;
  if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
    fputs(usage_text, argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  if ((rc = parse(argc - 1, argv + 1, &o)) != 0) {
    fputs(usage_text, stderr);
    return rc;
  }
  if (!strcmp(argv[1], "receipt")) return receipt(cfg, &o);
  if (!strcmp(argv[1], "qr")) return qr(cfg, &o);
  fprintf(stderr, "kassa: print %s: unknown; use receipt or qr\n\n", argv[1]);
  fputs(usage_text, stderr);
  return 2;
}
