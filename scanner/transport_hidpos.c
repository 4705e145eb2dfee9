/*
** transport_hidpos.c: scans from USB scanners in HID Point of Sale mode.
**
** In HID-POS mode (USB HID usage page 0x8C, "Bar Code Scanner") a scanner
** is not a keyboard: each scan arrives as one or more interrupt IN reports
** carrying the decoded bytes as they are, GS included, with the AIM
** symbology identifier beside them. Nothing is lost to keyboard layouts or
** Caps Lock, which is why tills prefer it. This backend finds such a
** device, takes it from the kernel's HID driver (libusb's automatic
** detach; the driver gets it back on close), reads its reports and glues
** multi-report scans together.
**
** The report layout [likely]: scanner makers' interface manuals for usage
** page 0x8C (Access-IS and others) describe the same 64-byte input report:
** report ID 2, a length byte counting the data in this report, three AIM
** identifier bytes ("]d2"), up to 56 data bytes, a further symbology byte,
** a reserved byte, and a last byte whose bit 0 says "data continues in the
** next report"; a 60-byte code takes two reports, the second with length 4
** and zero padding. The HID POS Usage Tables 1.02 name the usages (Scanned
** Data Report, Decoded Data, Decoded Data Continued, Symbology Identifier
** 1-3). Reports without the ID byte are handled when the report descriptor
** declares no report IDs. A maker that lays its report out differently
** needs a new layout here; the assembler is the one place to change.
**
** Finding the device: by VID:PID, or, with no VID:PID, the first device
** whose HID interface's report descriptor uses page 0x8C. The descriptor
** is read from sysfs (/sys/bus/usb/devices/<dev>:<cfg>.<ifc>/<hid>/
** report_descriptor), which the kernel fills while its HID driver is
** bound; listing therefore opens and detaches nothing, so a keyboard is
** never taken from the person using it.
**
** Unplug: libusb's hotplug callback (udev on Linux) marks the device gone,
** and an interrupt transfer ending with LIBUSB_TRANSFER_NO_DEVICE says the
** same; either ends the read with TRANSPORT_UNPLUGGED, and the core
** reopens the device when it is back (found again by VID:PID or usage
** page, whatever address it gets).
**
** Threads: none of our own. libusb runs its hotplug monitor thread; its
** callbacks and transfer completions are delivered inside
** libusb_handle_events_timeout_completed(), which only read_scan, open and
** close call, so the state needs no lock.
*/
#include "scanner/transport.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <libusb.h>

#define HID_CLASS           3
#define HID_POS_USAGE_PAGE  0x8Cu
#define SYSFS_USB           "/sys/bus/usb/devices"
#define CLOSE_WAIT_MS       1000 /* for a cancelled transfer to come back */
#define MAX_TRANSFER_ERRORS 5    /* in a row, before the device counts as gone */
#define HID_DESCRIPTOR_MAX  4096

/* ---- report descriptor ---- */

bool hid_descriptor_is_pos(const uint8_t *desc, size_t len, bool *report_ids)
{
  bool pos = false, ids = false;
  size_t i = 0, size;
  uint32_t value;
  uint8_t prefix;

  if (report_ids != NULL) *report_ids = false;
  if (desc == NULL) return false;
  while (i < len) {
    prefix = desc[i];
    if (prefix == 0xFE) { /* long item: size byte, tag byte, data */
      if (i + 2 >= len) break;
      i += 3 + (size_t)desc[i + 1];
      continue;
    }
    size = prefix & 3u;
    if (size == 3) size = 4;
    if (i + 1 + size > len) break;
    value = 0;
    for (size_t k = 0; k < size; k++) value |= (uint32_t)desc[i + 1 + k] << (8 * k);
    /* Global items (type 1): Usage Page is tag 0, Report ID tag 8. */
    if ((prefix & 0xFCu) == 0x04u && (value & 0xFFFFu) == HID_POS_USAGE_PAGE) pos = true;
    if ((prefix & 0xFCu) == 0x84u) ids = true;
    i += 1 + size;
  }
  if (report_ids != NULL) *report_ids = ids;
  return pos;
}

/* ---- the assembler ---- */

void hidpos_assembler_init(hidpos_assembler_t *a, bool report_ids)
{
  if (a == NULL) return;
  memset(a, 0, sizeof *a);
  a->report_ids = report_ids;
}

void hidpos_assembler_reset(hidpos_assembler_t *a)
{
  if (a == NULL) return;
  a->len = 0;
  a->pending = false;
  a->overlong = false;
  a->aim[0] = 0;
}

static bool is_aim(const uint8_t *p)
{
  return p[0] == ']' && ((p[1] >= 'A' && p[1] <= 'Z') || (p[1] >= 'a' && p[1] <= 'z')) &&
         p[2] > 0x20 && p[2] < 0x7F;
}

int hidpos_assembler_feed(hidpos_assembler_t *a, const uint8_t *report, size_t len, uint64_t now_ms,
                          scan_t *scan)
{
  size_t off, data_len, capacity;
  bool more;

  if (a == NULL || report == NULL || scan == NULL) return TRANSPORT_ERR_ARGUMENT;
  if (a->pending && now_ms - a->last_ms > HIDPOS_CONTINUATION_MS)
    hidpos_assembler_reset(a); /* the rest of that scan never came */

  off = a->report_ids ? 1 : 0;
  /* id, length, 3 AIM bytes, then data; the last three bytes of the
  ** report are the further symbology id, a reserved byte and the flags. */
  if (len < off + 1 + 3 + 3 + 1) return TRANSPORT_AGAIN; /* too short to be one */
  capacity = len - off - 1 - 3 - 3;
  data_len = report[off];
  if (data_len > capacity) data_len = capacity;
  more = (report[len - 1] & 1u) != 0;

  if (!a->pending) {
    a->len = 0;
    a->overlong = false;
    a->aim[0] = 0;
    if (is_aim(report + off + 1)) {
      memcpy(a->aim, report + off + 1, 3);
      a->aim[3] = 0;
    }
  }
  if (a->overlong || a->len + data_len > SCAN_DATA_MAX) {
    a->overlong = true;
  } else {
    memcpy(a->buf + a->len, report + off + 4, data_len);
    a->len += data_len;
  }
  a->last_ms = now_ms;
  a->pending = more;
  if (more) return TRANSPORT_AGAIN;

  if (a->overlong) {
    hidpos_assembler_reset(a);
    return TRANSPORT_OVERLONG;
  }
  if (a->len == 0) { /* an empty report: no scan */
    hidpos_assembler_reset(a);
    return TRANSPORT_AGAIN;
  }
  memcpy(scan->data, a->buf, a->len);
  scan->data[a->len] = 0;
  scan->length = a->len;
  memcpy(scan->aim, a->aim, sizeof scan->aim);
  scan->source[0] = 0;
  hidpos_assembler_reset(a);
  return TRANSPORT_OK;
}

/* ---- known vendors ---- */

/* USB vendor IDs of scanner makers, from the public USB ID list [likely].
** Only makers whose IDs are used for scanners; a generic USB chip vendor
** would flag every gadget built on it. */
static const struct {
  uint16_t vid;
  const char *name;
} scanner_vendors[] = {
    {0x05E0, "Symbol Technologies (Zebra)"},
    {0x0536, "Hand Held Products (Honeywell)"},
    {0x0C2E, "Metrologic (Honeywell)"},
    {0x05F9, "PSC Scanning (Datalogic)"},
    {0x065A, "Opticon"},
    {0x1EAB, "Newland"},
};

const char *transport_usb_vendor_name(uint16_t vid)
{
  for (size_t i = 0; i < sizeof scanner_vendors / sizeof scanner_vendors[0]; i++)
    if (scanner_vendors[i].vid == vid) return scanner_vendors[i].name;
  return NULL;
}

/* ---- sysfs ---- */

/* Read a small sysfs file into buf (NUL-terminated, trailing newline
** dropped). Returns its length or -1. */
static long sysfs_read(const char *path, char *buf, size_t size)
{
  FILE *f = fopen(path, "rb");
  size_t n;

  if (f == NULL) return -1;
  n = fread(buf, 1, size - 1, f);
  fclose(f);
  buf[n] = 0;
  while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' ')) buf[--n] = 0;
  return (long)n;
}

/* The kernel's name ("1-3.2") of the device at bus/address, or false. */
static bool sysfs_find_device(uint8_t bus, uint8_t address, char *name, size_t size)
{
  char path[512], text[32];
  struct dirent *de;
  DIR *dir;
  bool found = false;

  dir = opendir(SYSFS_USB);
  if (dir == NULL) return false;
  while (!found && (de = readdir(dir)) != NULL) {
    if (de->d_name[0] == '.' || strchr(de->d_name, ':') != NULL) continue;
    snprintf(path, sizeof path, "%s/%s/busnum", SYSFS_USB, de->d_name);
    if (sysfs_read(path, text, sizeof text) <= 0 || atoi(text) != bus) continue;
    snprintf(path, sizeof path, "%s/%s/devnum", SYSFS_USB, de->d_name);
    if (sysfs_read(path, text, sizeof text) <= 0 || atoi(text) != address) continue;
    if (strlen(de->d_name) >= size) continue; /* no kernel name is that long */
    memcpy(name, de->d_name, strlen(de->d_name) + 1);
    found = true;
  }
  closedir(dir);
  return found;
}

/* For interface number ifc of device `name`: whether the kernel's report
** descriptor is there (*known), uses page 0x8C (returned), and declares
** report IDs (*report_ids). */
static bool sysfs_interface_is_pos(const char *name, int ifc, bool *known, bool *report_ids)
{
  static uint8_t desc[HID_DESCRIPTOR_MAX];
  char dirpath[512], path[800], text[16];
  struct dirent *de, *sub;
  DIR *dir, *idir;
  bool pos = false;
  size_t prefix_len = strlen(name);

  *known = false;
  *report_ids = true;
  dir = opendir(SYSFS_USB);
  if (dir == NULL) return false;
  while (!*known && (de = readdir(dir)) != NULL) {
    /* Interfaces are "<name>:<config>.<interface>". */
    if (strncmp(de->d_name, name, prefix_len) != 0 || de->d_name[prefix_len] != ':') continue;
    snprintf(dirpath, sizeof dirpath, "%s/%s", SYSFS_USB, de->d_name);
    snprintf(path, sizeof path, "%s/bInterfaceNumber", dirpath);
    if (sysfs_read(path, text, sizeof text) <= 0 || (int)strtol(text, NULL, 16) != ifc) continue;
    idir = opendir(dirpath);
    if (idir == NULL) continue;
    while ((sub = readdir(idir)) != NULL) {
      FILE *f;
      size_t n;

      if (sub->d_name[0] == '.') continue;
      snprintf(path, sizeof path, "%s/%s/report_descriptor", dirpath, sub->d_name);
      f = fopen(path, "rb");
      if (f == NULL) continue;
      n = fread(desc, 1, sizeof desc, f);
      fclose(f);
      *known = true;
      pos = hid_descriptor_is_pos(desc, n, report_ids);
      break;
    }
    closedir(idir);
  }
  closedir(dir);
  return pos;
}

static void sysfs_strings(const char *name, usb_scanner_info_t *info)
{
  char path[512];

  snprintf(path, sizeof path, "%s/%s/manufacturer", SYSFS_USB, name);
  if (sysfs_read(path, info->manufacturer, sizeof info->manufacturer) < 0)
    info->manufacturer[0] = 0;
  snprintf(path, sizeof path, "%s/%s/product", SYSFS_USB, name);
  if (sysfs_read(path, info->product, sizeof info->product) < 0) info->product[0] = 0;
  snprintf(path, sizeof path, "%s/%s/serial", SYSFS_USB, name);
  if (sysfs_read(path, info->serial, sizeof info->serial) < 0) info->serial[0] = 0;
}

/* ---- choosing the interface ---- */

typedef struct hid_choice {
  int interface;
  uint8_t endpoint;
  int packet_size;
  bool pos;        /* its report descriptor uses page 0x8C */
  bool report_ids; /* reports carry an ID byte */
  bool any_hid;
} hid_choice_t;

/* Look at dev's HID interfaces: prefer one with page 0x8C, else the first
** with an interrupt IN endpoint. Returns true when one was found. */
static bool choose_interface(libusb_device *dev, hid_choice_t *out)
{
  struct libusb_config_descriptor *config = NULL;
  char name[32];
  bool have_name, found = false;

  memset(out, 0, sizeof *out);
  out->interface = -1;
  if (libusb_get_active_config_descriptor(dev, &config) != 0 &&
      libusb_get_config_descriptor(dev, 0, &config) != 0)
    return false;
  have_name = sysfs_find_device(libusb_get_bus_number(dev), libusb_get_device_address(dev), name,
                                sizeof name);
  for (int i = 0; i < config->bNumInterfaces; i++) {
    const struct libusb_interface_descriptor *alt;
    bool known = false, ids = true, pos = false;

    if (config->interface[i].num_altsetting < 1) continue;
    alt = &config->interface[i].altsetting[0];
    if (alt->bInterfaceClass != HID_CLASS) continue;
    out->any_hid = true;
    for (int e = 0; e < alt->bNumEndpoints; e++) {
      const struct libusb_endpoint_descriptor *ep = &alt->endpoint[e];

      if ((ep->bEndpointAddress & LIBUSB_ENDPOINT_IN) == 0 ||
          (ep->bmAttributes & 3u) != LIBUSB_TRANSFER_TYPE_INTERRUPT)
        continue;
      if (have_name) pos = sysfs_interface_is_pos(name, alt->bInterfaceNumber, &known, &ids);
      if (!found || (pos && !out->pos)) {
        out->interface = alt->bInterfaceNumber;
        out->endpoint = ep->bEndpointAddress;
        out->packet_size = ep->wMaxPacketSize & 0x7FF;
        out->pos = pos;
        out->report_ids = known ? ids : true;
        found = true;
      }
      break;
    }
  }
  libusb_free_config_descriptor(config);
  return found;
}

/* ---- listing ---- */

int transport_hidpos_list(usb_scanner_info_t **devices, size_t *count)
{
  libusb_context *ctx = NULL;
  libusb_device **list = NULL;
  usb_scanner_info_t *out = NULL;
  ssize_t n;
  size_t k = 0;
  int rc;

  if (devices != NULL) *devices = NULL;
  if (count != NULL) *count = 0;
  if (devices == NULL || count == NULL) return TRANSPORT_ERR_ARGUMENT;
  if (libusb_init(&ctx) != 0) {
    rc = TRANSPORT_ERR_IO;
    goto fail;
  }
  n = libusb_get_device_list(ctx, &list);
  if (n < 0) {
    rc = TRANSPORT_ERR_IO;
    goto fail;
  }
  out = calloc((size_t)n + 1, sizeof *out);
  if (out == NULL) {
    rc = TRANSPORT_ERR_NO_MEMORY;
    goto fail;
  }
  for (ssize_t i = 0; i < n; i++) {
    struct libusb_device_descriptor dd;
    usb_scanner_info_t *info = &out[k];
    hid_choice_t choice;
    bool hid;

    if (libusb_get_device_descriptor(list[i], &dd) != 0) continue;
    if (dd.bDeviceClass == LIBUSB_CLASS_HUB) continue;
    hid = choose_interface(list[i], &choice);
    info->vid = dd.idVendor;
    info->pid = dd.idProduct;
    info->bus = libusb_get_bus_number(list[i]);
    info->address = libusb_get_device_address(list[i]);
    info->hid = hid || choice.any_hid;
    info->hid_pos = hid && choice.pos;
    info->vendor_name = transport_usb_vendor_name(dd.idVendor);
    if (!info->hid_pos && info->vendor_name == NULL) continue;
    if (sysfs_find_device(info->bus, info->address, info->sysfs_name, sizeof info->sysfs_name))
      sysfs_strings(info->sysfs_name, info);
    k++;
  }
  libusb_free_device_list(list, 1);
  libusb_exit(ctx);
  if (k == 0) {
    free(out);
    out = NULL;
  }
  *devices = out;
  *count = k;
  return TRANSPORT_OK;

fail:
  if (list != NULL) libusb_free_device_list(list, 1);
  if (ctx != NULL) libusb_exit(ctx);
  free(out);
  return rc;
}

/* ---- the backend ---- */

#define HIDPOS_MAGIC 0x48504F53u /* "HPOS": tells our state from another backend's */

typedef struct hidpos_state {
  uint32_t magic;
  libusb_context *ctx;
  bool any; /* no VID:PID: the first usage page 0x8C device */
  uint16_t vid, pid;
  bool hotplug_on;
  libusb_hotplug_callback_handle hotplug;
  unsigned arrived, left;

  libusb_device *dev; /* referenced while open */
  libusb_device_handle *handle;
  hid_choice_t choice;
  struct libusb_transfer *transfer;
  bool in_flight; /* submitted, callback not yet run */
  int done;       /* set by the callback, for handle_events_completed */
  uint8_t buf[HIDPOS_REPORT_MAX];
  bool gone;  /* hotplug said our device left */
  int errors; /* transfer errors in a row */
  hidpos_assembler_t assembler;
} hidpos_state_t;

static int LIBUSB_CALL on_hotplug(libusb_context *ctx, libusb_device *dev,
                                  libusb_hotplug_event event, void *user)
{
  hidpos_state_t *st = user;

  (void)ctx;
  if (event == LIBUSB_HOTPLUG_EVENT_DEVICE_ARRIVED) {
    st->arrived++;
  } else if (event == LIBUSB_HOTPLUG_EVENT_DEVICE_LEFT) {
    st->left++;
    if (st->dev != NULL && dev == st->dev) st->gone = true;
  }
  return 0; /* stay registered */
}

static void LIBUSB_CALL on_transfer(struct libusb_transfer *transfer)
{
  hidpos_state_t *st = transfer->user_data;

  st->in_flight = false;
  st->done = 1;
}

/* Run libusb's events for at most ms milliseconds, or until the transfer
** completes. */
static void pump_events(hidpos_state_t *st, int ms)
{
  struct timeval tv;

  tv.tv_sec = ms / 1000;
  tv.tv_usec = (ms % 1000) * 1000;
  (void)libusb_handle_events_timeout_completed(st->ctx, &tv, &st->done);
}

static bool device_matches(hidpos_state_t *st, libusb_device *dev, hid_choice_t *choice)
{
  struct libusb_device_descriptor dd;

  if (libusb_get_device_descriptor(dev, &dd) != 0) return false;
  if (dd.bDeviceClass == LIBUSB_CLASS_HUB) return false;
  if (!st->any && (dd.idVendor != st->vid || dd.idProduct != st->pid)) return false;
  if (!choose_interface(dev, choice)) return false;
  return !st->any || choice->pos;
}

static int claim(hidpos_state_t *st)
{
  int rc;

  /* The kernel's HID driver holds the interface; libusb detaches it for
  ** the claim and reattaches it on release. */
  (void)libusb_set_auto_detach_kernel_driver(st->handle, 1);
  rc = libusb_claim_interface(st->handle, st->choice.interface);
  if (rc == LIBUSB_ERROR_OTHER || rc == LIBUSB_ERROR_NOT_SUPPORTED) {
    /* The detach itself failed. When no kernel driver is bound there is
    ** nothing to detach (some kernels and emulators refuse the detach
    ** ioctl even so): claim without it. */
    if (libusb_kernel_driver_active(st->handle, st->choice.interface) == 0) {
      (void)libusb_set_auto_detach_kernel_driver(st->handle, 0);
      rc = libusb_claim_interface(st->handle, st->choice.interface);
    }
  }
  return rc;
}

static void hidpos_close(scanner_transport_t *t);

static int hidpos_open(scanner_transport_t *t)
{
  hidpos_state_t *st = transport_backend_state(t);
  libusb_device **list = NULL;
  ssize_t n;
  int rc;

  pump_events(st, 0); /* take pending hotplug news first */
  st->gone = false;
  st->errors = 0;
  n = libusb_get_device_list(st->ctx, &list);
  if (n < 0) return TRANSPORT_ERR_IO;
  for (ssize_t i = 0; i < n && st->dev == NULL; i++) {
    hid_choice_t choice;

    if (!device_matches(st, list[i], &choice)) continue;
    st->dev = libusb_ref_device(list[i]);
    st->choice = choice;
  }
  libusb_free_device_list(list, 1);
  if (st->dev == NULL) return TRANSPORT_UNPLUGGED;

  rc = libusb_open(st->dev, &st->handle);
  if (rc != 0) {
    st->handle = NULL;
    goto fail;
  }
  rc = claim(st);
  if (rc != 0) goto fail;
  st->transfer = libusb_alloc_transfer(0);
  if (st->transfer == NULL) {
    rc = LIBUSB_ERROR_NO_MEM;
    goto fail;
  }
  hidpos_assembler_init(&st->assembler, st->choice.report_ids);
  if (st->any) {
    struct libusb_device_descriptor dd;

    if (libusb_get_device_descriptor(st->dev, &dd) == 0)
      transport_set_description(t, "usb:%04x:%04x", dd.idVendor, dd.idProduct);
  }
  return TRANSPORT_OK;

fail:
  hidpos_close(t);
  /* A device that vanished between the list and the open is unplugged;
  ** one we may not open (permissions, busy) is a fault to report. */
  return rc == LIBUSB_ERROR_NO_DEVICE || rc == LIBUSB_ERROR_NOT_FOUND ? TRANSPORT_UNPLUGGED
                                                                      : TRANSPORT_ERR_IO;
}

static void hidpos_close(scanner_transport_t *t)
{
  hidpos_state_t *st = transport_backend_state(t);
  uint64_t until;

  if (st->transfer != NULL) {
    if (st->in_flight) {
      /* Even when the cancel fails (the transfer is completing right now),
      ** its callback must run before the transfer is freed. */
      (void)libusb_cancel_transfer(st->transfer);
      until = transport_now_ms() + CLOSE_WAIT_MS;
      while (st->in_flight && transport_now_ms() < until) pump_events(st, 50);
    }
    /* A transfer libusb still holds must not be freed under it; after an
    ** unplug it always comes back, so this leak is theoretical. */
    if (!st->in_flight) libusb_free_transfer(st->transfer);
    st->transfer = NULL;
    st->in_flight = false;
  }
  if (st->handle != NULL) {
    (void)libusb_release_interface(st->handle, st->choice.interface);
    libusb_close(st->handle);
    st->handle = NULL;
  }
  if (st->dev != NULL) {
    libusb_unref_device(st->dev);
    st->dev = NULL;
  }
  hidpos_assembler_reset(&st->assembler);
}

static int hidpos_read_scan(scanner_transport_t *t, scan_t *scan, int timeout_ms)
{
  hidpos_state_t *st = transport_backend_state(t);
  uint64_t deadline = 0, now;
  int rc, wait, length;

  now = transport_now_ms();
  if (timeout_ms >= 0) deadline = now + (uint64_t)timeout_ms;
  for (;;) {
    if (st->gone) return TRANSPORT_UNPLUGGED;
    if (!st->in_flight) {
      libusb_fill_interrupt_transfer(st->transfer, st->handle, st->choice.endpoint, st->buf,
                                     st->choice.packet_size > 0 &&
                                             st->choice.packet_size < HIDPOS_REPORT_MAX
                                         ? st->choice.packet_size
                                         : HIDPOS_REPORT_MAX,
                                     on_transfer, st, 0);
      st->done = 0;
      rc = libusb_submit_transfer(st->transfer);
      if (rc == LIBUSB_ERROR_NO_DEVICE) return TRANSPORT_UNPLUGGED;
      if (rc != 0) return TRANSPORT_ERR_IO;
      st->in_flight = true;
    }
    wait = timeout_ms < 0 ? 1000 : now >= deadline ? 0 : (int)(deadline - now);
    pump_events(st, wait);
    now = transport_now_ms();
    if (st->gone) return TRANSPORT_UNPLUGGED;
    if (st->done && !st->in_flight) {
      st->done = 0;
      switch (st->transfer->status) {
      case LIBUSB_TRANSFER_COMPLETED:
        st->errors = 0;
        length = st->transfer->actual_length;
        rc = hidpos_assembler_feed(&st->assembler, st->buf, (size_t)length, now, scan);
        if (rc != TRANSPORT_AGAIN) return rc;
        break;
      case LIBUSB_TRANSFER_NO_DEVICE:
        return TRANSPORT_UNPLUGGED;
      case LIBUSB_TRANSFER_STALL:
        (void)libusb_clear_halt(st->handle, st->choice.endpoint);
        /* fall through */
      default: /* timed out, cancelled, error, overflow: try again */
        if (++st->errors >= MAX_TRANSFER_ERRORS) return TRANSPORT_UNPLUGGED;
        break;
      }
    }
    if (timeout_ms >= 0 && now >= deadline) return TRANSPORT_TIMEOUT;
  }
}

static void hidpos_destroy(void *state)
{
  hidpos_state_t *st = state;

  if (st == NULL) return;
  if (st->ctx != NULL) {
    if (st->hotplug_on) libusb_hotplug_deregister_callback(st->ctx, st->hotplug);
    libusb_exit(st->ctx);
  }
  free(st);
}

static const transport_backend_t hidpos_backend = {
    "hidpos", hidpos_open, hidpos_read_scan, hidpos_close, hidpos_destroy,
};

int transport_hidpos_new(const char *want, scanner_transport_t **out)
{
  static const scan_framing_t unused = {SCAN_FRAME_ANY_SUFFIX, 0};
  hidpos_state_t *st = NULL;
  uint16_t vid = 0, pid = 0;
  size_t used;
  int rc;

  if (out != NULL) *out = NULL;
  if (out == NULL) return TRANSPORT_ERR_ARGUMENT;
  if (want != NULL && *want != 0) {
    used = transport_parse_usb_id(want, &vid, &pid);
    if (used == 0 || want[used] != 0) return TRANSPORT_ERR_ARGUMENT;
  }
  st = calloc(1, sizeof *st);
  if (st == NULL) return TRANSPORT_ERR_NO_MEMORY;
  st->magic = HIDPOS_MAGIC;
  st->any = want == NULL || *want == 0;
  st->vid = vid;
  st->pid = pid;
  if (libusb_init(&st->ctx) != 0) {
    st->ctx = NULL;
    rc = TRANSPORT_ERR_IO;
    goto fail;
  }
  if (libusb_has_capability(LIBUSB_CAP_HAS_HOTPLUG)) {
    rc = libusb_hotplug_register_callback(
        st->ctx, LIBUSB_HOTPLUG_EVENT_DEVICE_ARRIVED | LIBUSB_HOTPLUG_EVENT_DEVICE_LEFT,
        LIBUSB_HOTPLUG_NO_FLAGS, st->any ? LIBUSB_HOTPLUG_MATCH_ANY : vid,
        st->any ? LIBUSB_HOTPLUG_MATCH_ANY : pid, LIBUSB_HOTPLUG_MATCH_ANY, on_hotplug, st,
        &st->hotplug);
    st->hotplug_on = rc == LIBUSB_SUCCESS;
  }
  /* Without hotplug, departures still show as failed transfers and
  ** arrivals as a successful reopen (the core retries). */
  bool any = st->any; /* st belongs to the handle after the call */
  if ((rc = transport_new(&hidpos_backend, st, &unused, out)) != TRANSPORT_OK) return rc;
  if (any)
    transport_set_description(*out, "usb");
  else
    transport_set_description(*out, "usb:%04x:%04x", vid, pid);
  return TRANSPORT_OK;

fail:
  hidpos_destroy(st);
  return rc;
}

void transport_hidpos_hotplug_counts(const scanner_transport_t *t, unsigned *arrived,
                                     unsigned *left)
{
  const hidpos_state_t *st = t == NULL ? NULL : transport_backend_state(t);

  /* Every backend's state is a heap block of at least 4 bytes. */
  if (st != NULL && st->magic != HIDPOS_MAGIC) st = NULL;
  if (arrived != NULL) *arrived = st == NULL ? 0 : st->arrived;
  if (left != NULL) *left = st == NULL ? 0 : st->left;
}
