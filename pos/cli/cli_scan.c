/*
** cli_scan.c: `kassa scan`, the scanners and pictures on the command line.
**
** The same transports `kassa serve` reads from, one command to try them
** with: list what is plugged in, read scans from one device, or decode
** codes from pictures. Every scan becomes one JSON line: the marking-code
** parser's result (the `kassa code parse` contract) plus where it came
** from ("source") and how it was encoded ("aim"; "symbology" for
** pictures), so a person setting up a till sees at once whether the
** scanner delivers codes intact, and scripts can read the same lines.
**
** Device strings are transport_new_from_spec()'s (scanner/transport.h):
** serial:PORT, serial:VID:PID[:SERIAL], usb[:VID:PID], wedge[:TTY],
** fd:PATH. Messages about the device (unplugged, back, faults) go to
** standard error in Russian and English; standard output carries only the
** JSON lines.
*/
#include "pos/cli/cli.h"
#include "pos/till/markcode_json.h"
#include "scanner/image.h"
#include "scanner/layout.h"
#include "scanner/markcode.h"
#include "scanner/transport.h"

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define READ_SLICE_MS 500 /* how often a waiting read looks at Ctrl+C */
#define IMAGE_CODES   64

static const char scan_usage[] =
    "usage: kassa scan --list\n"
    "       kassa scan --device DEVICE [--count N] [--timeout SECONDS] [options]\n"
    "       kassa scan --image FILE...\n"
    "\n"
    "Read marking codes from a scanner or from pictures; print one JSON line per code:\n"
    "the result of `kassa code parse` plus \"source\" and \"aim\" (\"symbology\" for\n"
    "pictures).\n"
    "\n"
    "  --list             serial ports, and USB devices that look like scanners\n"
    "  --device DEVICE    serial:/dev/ttyACM0   a serial port (USB CDC, RS-232) by name\n"
    "                     serial:0c2e:0b61[:SN] ... or by USB VID:PID (and serial number)\n"
    "                     usb:0c2e:0b61         a HID-POS scanner by USB VID:PID\n"
    "                     usb                   the first HID-POS scanner (usage page 0x8C)\n"
    "                     wedge[:/dev/ttyN]     a keyboard-wedge scanner on stdin or a tty\n"
    "                     fd:PATH               a tty, pty or FIFO read as it is\n"
    "  --image FILE...    decode PNG or JPEG pictures (DataMatrix, QR, EAN, Code 128)\n"
    "  --count N          stop after N scans\n"
    "  --timeout SECONDS  stop after this long without a scan\n"
    "  --framing MODE     serial and fd: cr, lf, crlf, tab, any (default), silence:MS\n"
    "  --baud N           serial speed (default 9600; USB CDC ignores it)\n"
    "  --gs-char C        wedge: the character the scanner types for GS\n"
    "  --prefix TEXT      wedge: the prefix the scanner is set to send\n"
    "  --key-gap MS       wedge: longest pause between keys of one scan (default 40)\n"
    "\n"
    "Exit status: 0 when every code parsed, 1 when a code was refused, a picture held\n"
    "none or the device failed, 2 on usage errors.\n";

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
  (void)sig;
  stop_requested = 1;
}

static int usage_error(const char *fmt, const char *arg)
{
  fprintf(stderr, "kassa scan: ");
  fprintf(stderr, fmt, arg);
  fprintf(stderr, "\n\n%s", scan_usage);
  return 2;
}

/* Print one parsed scan; returns 0 when it parsed, 1 when refused. */
static int print_scan(const uint8_t *data, size_t len, const char *source, const char *aim,
                      const char *symbology)
{
  markcode_t mc;
  json_t *o;
  char *line;

  markcode_parse(&mc, (const char *)data, len);
  o = markcode_to_json(&mc);
  if (o == NULL) return 1;
  json_object_set_new(o, "source", json_string(source));
  if (aim != NULL && aim[0]) json_object_set_new(o, "aim", json_string(aim));
  if (symbology != NULL) json_object_set_new(o, "symbology", json_string(symbology));
  line = json_dumps(o, JSON_COMPACT);
  if (line != NULL) {
    puts(line);
    fflush(stdout);
  }
  free(line);
  json_decref(o);
  return mc.err == MARKCODE_OK ? 0 : 1;
}

/* ---- --list ---- */

static int scan_list(void)
{
  serial_port_info_t *ports = NULL;
  usb_scanner_info_t *usb = NULL;
  size_t nports = 0, nusb = 0;
  int rc, status = 0;

  rc = transport_serial_list(&ports, &nports);
  printf("Serial ports (libserialport):\n");
  if (rc != TRANSPORT_OK) {
    fprintf(stderr, "kassa scan: cannot list serial ports: %s\n", transport_strerror(rc));
    status = 1;
  } else if (nports == 0) {
    printf("  none\n");
  }
  for (size_t i = 0; i < nports; i++) {
    const serial_port_info_t *p = &ports[i];

    printf("  %s  %s", p->name, p->transport);
    if (p->usb_vid >= 0) {
      const char *maker = transport_usb_vendor_name((uint16_t)p->usb_vid);

      printf("  usb %04x:%04x", (unsigned)p->usb_vid, (unsigned)p->usb_pid);
      if (p->usb_serial[0]) printf("  serial %s", p->usb_serial);
      if (p->usb_manufacturer[0] || p->usb_product[0])
        printf("  \"%s %s\"", p->usb_manufacturer, p->usb_product);
      if (maker != NULL) printf("  (known scanner maker: %s)", maker);
      printf("\n      --device serial:%04x:%04x%s%s", (unsigned)p->usb_vid, (unsigned)p->usb_pid,
             p->usb_serial[0] ? ":" : "", p->usb_serial);
    } else if (p->description[0]) {
      printf("  \"%s\"", p->description);
    }
    printf("\n");
  }
  free(ports);

  rc = transport_hidpos_list(&usb, &nusb);
  printf("USB devices that look like scanners (libusb):\n");
  if (rc != TRANSPORT_OK) {
    fprintf(stderr, "kassa scan: cannot list USB devices: %s\n", transport_strerror(rc));
    status = 1;
  } else if (nusb == 0) {
    printf("  none\n");
  }
  for (size_t i = 0; i < nusb; i++) {
    const usb_scanner_info_t *d = &usb[i];

    printf("  %04x:%04x  bus %u address %u", d->vid, d->pid, d->bus, d->address);
    if (d->sysfs_name[0]) printf(" (%s)", d->sysfs_name);
    if (d->manufacturer[0] || d->product[0]) printf("  \"%s %s\"", d->manufacturer, d->product);
    if (d->serial[0]) printf("  serial %s", d->serial);
    printf("\n      why: ");
    if (d->hid_pos) printf("HID-POS interface (usage page 0x8C)");
    if (d->hid_pos && d->vendor_name != NULL) printf("; ");
    if (d->vendor_name != NULL) printf("known scanner maker (%s)", d->vendor_name);
    if (d->hid_pos)
      printf("\n      --device usb:%04x:%04x\n", d->vid, d->pid);
    else if (d->hid)
      printf("\n      a keyboard-mode scanner: --device wedge, or switch it to HID-POS\n");
    else
      printf("\n      not HID: look for it among the serial ports\n");
  }
  free(usb);
  return status;
}

/* ---- --image ---- */

static int scan_images(char **files, int count)
{
  static image_code_t codes[IMAGE_CODES];
  char source[1100];
  int status = 0;

  for (int i = 0; i < count; i++) {
    image_gray_t img;
    size_t n = 0;
    int rc = image_load(files[i], &img);

    if (rc != IMAGE_OK) {
      fprintf(stderr, "kassa scan: %s: %s%s%s\n", files[i], image_strerror(rc),
              rc == IMAGE_ERR_OPEN ? ": " : "", rc == IMAGE_ERR_OPEN ? strerror(errno) : "");
      status = 1;
      continue;
    }
    rc = image_decode(&img, codes, IMAGE_CODES, &n, NULL);
    image_free(&img);
    if (rc != IMAGE_OK) {
      fprintf(stderr, "kassa scan: %s: %s\n", files[i], image_strerror(rc));
      status = 1;
      continue;
    }
    if (n == 0) {
      fprintf(stderr, "kassa scan: %s: в изображении не найдено кодов / no code found\n", files[i]);
      status = 1;
      continue;
    }
    if (n > IMAGE_CODES) {
      fprintf(stderr, "kassa scan: %s: %zu codes, the first %d shown\n", files[i], n, IMAGE_CODES);
      n = IMAGE_CODES;
    }
    snprintf(source, sizeof source, "image:%s", files[i]);
    for (size_t k = 0; k < n; k++)
      status |=
          print_scan(codes[k].data, codes[k].length, source, codes[k].aim, codes[k].symbology);
  }
  return status;
}

/* ---- --device ---- */

static int parse_framing(const char *s, scan_framing_t *f)
{
  char *end;
  unsigned long ms;

  f->gap_ms = 0;
  if (!strcmp(s, "cr"))
    f->mode = SCAN_FRAME_CR;
  else if (!strcmp(s, "lf"))
    f->mode = SCAN_FRAME_LF;
  else if (!strcmp(s, "crlf"))
    f->mode = SCAN_FRAME_CRLF;
  else if (!strcmp(s, "tab"))
    f->mode = SCAN_FRAME_TAB;
  else if (!strcmp(s, "any"))
    f->mode = SCAN_FRAME_ANY_SUFFIX;
  else if (!strncmp(s, "silence:", 8)) {
    errno = 0;
    ms = strtoul(s + 8, &end, 10);
    if (errno != 0 || *end != 0 || ms == 0 || ms > 60000) return -1;
    f->mode = SCAN_FRAME_SILENCE;
    f->gap_ms = (unsigned)ms;
  } else
    return -1;
  return 0;
}

static void say_state(const char *device, int rc, int *last)
{
  if (rc == *last) return;
  *last = rc;
  if (rc == TRANSPORT_UNPLUGGED)
    fprintf(stderr,
            "kassa scan: сканер %s отключён или не найден, ждём подключения / "
            "scanner %s unplugged or not found, waiting for it\n",
            device, device);
  else if (rc == TRANSPORT_OK)
    fprintf(stderr, "kassa scan: сканер %s на связи / scanner %s connected\n", device, device);
}

static int scan_device(const char *device, const transport_spec_options_t *opt, long count,
                       long timeout_s)
{
  scanner_transport_t *t = NULL;
  struct sigaction sa;
  uint64_t idle_since;
  char err[512];
  long got = 0;
  int rc, status = 0, last = 1;
  scan_t scan;

  rc = transport_new_from_spec(device, opt, &t, err, sizeof err);
  if (rc == TRANSPORT_ERR_ARGUMENT) {
    fprintf(stderr, "kassa scan: %s\n\n%s", err, scan_usage);
    return 2;
  }
  if (rc != TRANSPORT_OK) {
    fprintf(stderr, "kassa scan: %s\n", err);
    return 1;
  }
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);

  rc = transport_open(t);
  if (rc != TRANSPORT_OK && rc != TRANSPORT_UNPLUGGED) {
    fprintf(stderr, "kassa scan: %s: не удалось открыть / cannot open: %s\n", device,
            transport_strerror(rc));
    transport_free(t);
    return 1;
  }
  say_state(device, rc, &last);
  idle_since = transport_now_ms();
  while (!stop_requested && (count <= 0 || got < count)) {
    rc = transport_read_scan(t, &scan, READ_SLICE_MS);
    if (rc == TRANSPORT_OK) {
      say_state(device, rc, &last);
      status |= print_scan(scan.data, scan.length, scan.source, scan.aim, NULL);
      got++;
      idle_since = transport_now_ms();
      continue;
    }
    if (rc == TRANSPORT_UNPLUGGED) {
      /* Standard input that ended is not coming back. */
      if (!strcmp(device, "wedge")) break;
      say_state(device, rc, &last);
    } else if (rc == TRANSPORT_OVERLONG) {
      fprintf(stderr,
              "kassa scan: %s: скан длиннее %d байт пропущен / scan over %d bytes "
              "dropped\n",
              device, SCAN_DATA_MAX, SCAN_DATA_MAX);
      status = 1;
    } else if (rc != TRANSPORT_TIMEOUT) {
      fprintf(stderr, "kassa scan: %s: ошибка устройства / device error: %s\n", device,
              transport_strerror(rc));
      status = 1;
      break;
    }
    if (timeout_s > 0 && transport_now_ms() - idle_since >= (uint64_t)timeout_s * 1000u) break;
  }
  transport_free(t);
  return status;
}

static int parse_number(const char *s, long max, long *out)
{
  char *end;

  errno = 0;
  *out = strtol(s, &end, 10);
  return errno == 0 && *end == 0 && *out > 0 && *out <= max ? 0 : -1;
}

int cli_scan(const kassa_config_t *cfg, int argc, char **argv)
{
  transport_spec_options_t opt;
  const char *device = NULL;
  bool list = false;
  int first_image = 0, nimages = 0;
  long count = 0, timeout_s = 0, number;

  const char *count_arg = NULL, *timeout_arg = NULL, *framing = NULL, *baud = NULL, *gs = NULL,
             *gap = NULL;
  bool help = false, images = false;
  memset(&opt, 0, sizeof opt);
  const cli_option_t options[] = {
      {"help", 'h', NULL, &help},     {"list", 0, NULL, &list},
      {"image", 0, NULL, &images},    {"device", 0, &device, NULL},
      {"count", 0, &count_arg, NULL}, {"timeout", 0, &timeout_arg, NULL},
      {"framing", 0, &framing, NULL}, {"baud", 0, &baud, NULL},
      {"gs-char", 0, &gs, NULL},      {"prefix", 0, &opt.wedge.prefix, NULL},
      {"key-gap", 0, &gap, NULL},
  };
  int at;
  /* --image takes every positional argument as a picture (gathered after
  ** the options). */
  int rc = cli_read_options(argc, argv, options, sizeof options / sizeof options[0], &at);
  if (help) {
    fputs(scan_usage, stdout);
    return 0;
  }
  if (rc == CLI_OPTION_NO_VALUE) return usage_error("%s needs a value", argv[at]);
  if (rc != CLI_OPTIONS_OK) return usage_error("unknown option %s", argv[at]);
  if (count_arg && parse_number(count_arg, 1000000000L, &count) != 0)
    return usage_error("--count %s: expected a positive number", count_arg);
  if (timeout_arg && parse_number(timeout_arg, 86400L * 365, &timeout_s) != 0)
    return usage_error("--timeout %s: expected seconds, a positive number", timeout_arg);
  if (framing) {
    if (parse_framing(framing, &opt.framing) != 0)
      return usage_error("--framing %s: expected cr, lf, crlf, tab, any or silence:MS", framing);
    opt.framing_set = true;
  }
  if (baud) {
    if (parse_number(baud, 4000000L, &number) != 0)
      return usage_error("--baud %s: expected a positive number", baud);
    opt.baud = (unsigned)number;
  }
  if (gs) {
    uint32_t cp = 0;
    size_t n = layout_utf8_decode((const unsigned char *)gs, strlen(gs), &cp);
    if (n == 0 || gs[n] != 0 || cp < 0x20)
      return usage_error("--gs-char %s: expected one printable character", gs);
    opt.wedge.gs_substitute = cp;
  }
  if (gap) {
    if (parse_number(gap, 10000L, &number) != 0)
      return usage_error("--key-gap %s: expected milliseconds", gap);
    opt.wedge.key_gap_ms = (unsigned)number;
  }
  if (images) {
    first_image = at;
    nimages = argc - at;
    if (nimages == 0) return usage_error("%s needs at least one picture", "--image");
  } else if (at < argc) {
    return usage_error("unknown option %s", argv[at]);
  }
  /* No source given: the scanner the till is configured with ([scanner]
  ** device), the same string `kassa serve` reads. */
  if (!list && !device && nimages == 0 && cfg->scanner_device[0]) device = cfg->scanner_device;
  if ((list ? 1 : 0) + (device != NULL ? 1 : 0) + (nimages > 0 ? 1 : 0) != 1)
    return usage_error("%s", "give one of --list, --device DEVICE or --image FILE...");
  if (list) return scan_list();
  if (nimages > 0) return scan_images(argv + first_image, nimages);
  return scan_device(device, &opt, count, timeout_s);
}
