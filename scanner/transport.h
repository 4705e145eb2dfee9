/*
** transport.h: how scans arrive, whatever the scanner is plugged into.
**
** A 2D scanner reaches the till as a serial port (USB CDC or RS-232), a
** HID-POS device, a keyboard wedge or, in tests, a pseudo-terminal. The
** core wants one thing from all of them: the next scan, whole, with where
** it came from, or a clear reason why there is none (timeout, unplugged,
** too long). So there is one handle, scanner_transport_t, driven through a
** backend vtable (as libmodbus does with its backends); the core never
** knows which backend it holds.
**
** Byte-stream scanners end each scan with a suffix (CR, LF, CRLF or TAB)
** or just fall silent. Cutting the stream into scans is scan_framer_t, a
** pure piece with no fds and no clock of its own (bytes come with the time
** they arrived), so it is tested alone and shared by every byte-stream
** backend. GS (0x1D) is always data: marking codes are full of it.
**
** The handle also owns reconnection: when a backend reports the device
** gone, transport_read_scan() says so once (TRANSPORT_UNPLUGGED) and then
** keeps trying to reopen it on later calls, within their timeouts.
**
** Return codes: 0 (TRANSPORT_OK) or a negative transport_rc_t. TIMEOUT,
** UNPLUGGED and OVERLONG are outcomes the caller expects to see; only the
** TRANSPORT_ERR_* codes are faults.
*/
#ifndef KASSA_SCANNER_TRANSPORT_H
#define KASSA_SCANNER_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SCAN_DATA_MAX      1024 /* longest scan kept; longer is OVERLONG */
#define SCAN_AIM_SIZE      4    /* "]d2" and a NUL */
#define SCAN_SOURCE_SIZE   128  /* transport_describe() text, truncated */
#define TRANSPORT_RETRY_MS 100  /* pause between reopen attempts */

typedef enum transport_rc {
  TRANSPORT_OK = 0,
  TRANSPORT_AGAIN = -1,     /* framer: input used up, no scan yet */
  TRANSPORT_TIMEOUT = -2,   /* no scan within the timeout */
  TRANSPORT_UNPLUGGED = -3, /* device gone, or not there (yet) */
  TRANSPORT_OVERLONG = -4,  /* a scan over SCAN_DATA_MAX was dropped */
  TRANSPORT_ERR_IO = -5,    /* any other system error; errno kept */
  TRANSPORT_ERR_ARGUMENT = -6,
  TRANSPORT_ERR_NOT_OPEN = -7, /* read_scan after transport_close */
  TRANSPORT_ERR_NO_MEMORY = -8
} transport_rc_t;

/* One scan. data holds the bytes as received, less the frame suffix, and
** a NUL after them (data may itself contain NUL; length is the truth). An
** AIM symbology identifier, when the data starts with one, is copied into
** aim but left in data: the marking-code parser strips it itself. */
typedef struct scan {
  uint8_t data[SCAN_DATA_MAX + 1];
  size_t length;
  char aim[SCAN_AIM_SIZE];       /* "]d2", "]Q3"... or "" */
  char source[SCAN_SOURCE_SIZE]; /* e.g. "fd:/dev/ttyACM0" */
} scan_t;

typedef enum scan_framing_mode {
  SCAN_FRAME_CR,         /* scan ends at CR */
  SCAN_FRAME_LF,         /* ... at LF */
  SCAN_FRAME_CRLF,       /* ... at CR LF; a lone CR is data */
  SCAN_FRAME_TAB,        /* ... at TAB */
  SCAN_FRAME_ANY_SUFFIX, /* ... at CR, LF, CRLF or TAB, whichever comes */
  SCAN_FRAME_SILENCE     /* ... after gap_ms without a byte; every byte is
                            kept (a suffix, if any, stays in the data) */
} scan_framing_mode_t;

typedef struct scan_framing {
  scan_framing_mode_t mode;
  unsigned gap_ms; /* SCAN_FRAME_SILENCE only; must be > 0 */
} scan_framing_t;

/* ---- The framer: bytes in, scans out; no I/O, no clock. ---- */

/* Caller-allocated; fields are private. */
typedef struct scan_framer {
  scan_framing_t framing;
  uint8_t buf[SCAN_DATA_MAX];
  size_t len;
  bool overlong;    /* current scan outgrew buf: drop it at its end */
  bool cr_pending;  /* CRLF framing: a CR seen, waiting for its LF */
  uint64_t last_ms; /* arrival of the last byte (silence framing) */
} scan_framer_t;

/* Set f up for framing (copied). Returns 0, or TRANSPORT_ERR_ARGUMENT for
** NULL, an unknown mode, or silence framing with gap_ms 0. */
int scan_framer_init(scan_framer_t *f, const scan_framing_t *framing);

/* Forget a partial scan (after an unplug, say). NULL-safe. */
void scan_framer_reset(scan_framer_t *f);

/* Feed data[0..len), all of which arrived at now_ms. Takes bytes until a
** scan is complete; *used says how many. Returns:
**   0                   *scan holds a scan (source left empty);
**   TRANSPORT_OVERLONG  a scan longer than SCAN_DATA_MAX ended and was
**                       dropped whole;
**   TRANSPORT_AGAIN     all of data used, no scan complete.
** Call again with the rest until TRANSPORT_AGAIN. Empty scans (two
** suffixes in a row) are skipped silently. In silence framing, a byte that
** comes gap_ms or more after the previous one first completes the pending
** scan (and is not taken). */
int scan_framer_feed(scan_framer_t *f, const uint8_t *data, size_t len, uint64_t now_ms,
                     size_t *used, scan_t *scan);

/* Silence framing: if a scan is pending and gap_ms have passed since its
** last byte at now_ms, complete it (0 or TRANSPORT_OVERLONG as for feed).
** Otherwise, and always for suffix framing, TRANSPORT_AGAIN. */
int scan_framer_flush(scan_framer_t *f, uint64_t now_ms, scan_t *scan);

/* Milliseconds from now_ms until scan_framer_flush() would complete a
** pending scan (0 if it would now), or -1 if nothing waits on silence. */
int scan_framer_wait_ms(const scan_framer_t *f, uint64_t now_ms);

/* ---- The handle and the backend vtable. ---- */

typedef struct scanner_transport scanner_transport_t;

/* What a backend provides. The core calls open before any read_scan and
** close after an unplug or on transport_close, so a backend never sees
** read_scan on a closed device. */
typedef struct transport_backend {
  const char *name;
  /* Open the device: TRANSPORT_OK; TRANSPORT_UNPLUGGED when it is not
  ** there (so the core retries); TRANSPORT_ERR_IO otherwise. */
  int (*open)(scanner_transport_t *t);
  /* Wait at most timeout_ms (< 0: no limit) for one scan. Returns OK,
  ** TIMEOUT, UNPLUGGED, OVERLONG or TRANSPORT_ERR_IO. */
  int (*read_scan)(scanner_transport_t *t, scan_t *scan, int timeout_ms);
  /* Release the device; must work after an unplug. */
  void (*close)(scanner_transport_t *t);
  /* Free the backend's state (NULL-safe). */
  void (*destroy)(void *state);
} transport_backend_t;

/* Make a handle for backend with its state (ownership passes to the
** handle, which calls backend->destroy(state) when freed, also when this
** call fails). Nothing is opened yet. Returns 0 with *out set, or
** TRANSPORT_ERR_ARGUMENT / TRANSPORT_ERR_NO_MEMORY. */
int transport_new(const transport_backend_t *backend, void *state, const scan_framing_t *framing,
                  scanner_transport_t **out);

/* Close if open and free everything. NULL-safe. */
void transport_free(scanner_transport_t *t);

/* Open the device, closing it first if open. Returns 0; or
** TRANSPORT_UNPLUGGED when the device is not there, in which case
** transport_read_scan() keeps trying to open it; or TRANSPORT_ERR_IO. */
int transport_open(scanner_transport_t *t);

/* Wait at most timeout_ms (< 0: no limit) for the next scan. Returns 0
** with *scan filled (scan->source set), TRANSPORT_TIMEOUT,
** TRANSPORT_OVERLONG (a scan was dropped; call again), or
** TRANSPORT_UNPLUGGED: the device went away during this call (reported at
** once, and any partial scan is dropped) or is still away (reported when
** the timeout ends without a successful reopen, tried every
** TRANSPORT_RETRY_MS). Once the device is back, the next call reopens it
** and reads on. TRANSPORT_ERR_NOT_OPEN after transport_close(). */
int transport_read_scan(scanner_transport_t *t, scan_t *scan, int timeout_ms);

/* Release the device; transport_open() may follow. NULL-safe. */
void transport_close(scanner_transport_t *t);

/* Where scans come from, for people and scan_t.source ("fd:/dev/pts/3");
** "" for NULL or before the backend said. */
const char *transport_describe(const scanner_transport_t *t);

/* For backends: sets what transport_describe() says (printf-style, cut to
** SCAN_SOURCE_SIZE - 1 bytes). A backend says it right after
** transport_new() and again when it learns more (the USB device it
** opened). NULL t is ignored. */
void transport_set_description(scanner_transport_t *t, const char *format, ...)
    __attribute__((format(printf, 2, 3)));

/* Static English text for a transport_rc_t (never NULL). */
const char *transport_strerror(int rc);

/* For backends: their state, the handle's framer, and the monotonic
** clock in milliseconds that framer timestamps use. */
void *transport_backend_state(const scanner_transport_t *t);
scan_framer_t *transport_framer(scanner_transport_t *t);
uint64_t transport_now_ms(void);

/* ---- The raw-fd backend (transport_fd.c). ---- */

/* A transport reading path (a tty, a pty slave, a FIFO) through a
** non-blocking fd, in raw mode when it is a tty; framing as given. A tty
** hang-up (POLLHUP, POLLERR, EIO) or end of file is reported as
** unplugged; opening the same path again reconnects, so a stable symlink
** (udev's /dev/serial/by-id/...) follows a scanner replugged under a new
** device name. Not for regular files: their end of file would read as an
** unplug, and the reopen would read them again. Returns 0 with *out set,
** or TRANSPORT_ERR_ARGUMENT / TRANSPORT_ERR_NO_MEMORY; call
** transport_open() next. */
int transport_fd_new(const char *path, const scan_framing_t *framing, scanner_transport_t **out);

/* ---- Serial ports (transport_serial.c, libserialport). ---- */

#define SERIAL_TEXT_SIZE 128

/* One serial port as libserialport sees it. Strings are "" when unknown. */
typedef struct serial_port_info {
  char name[SERIAL_TEXT_SIZE];        /* "/dev/ttyACM0" */
  char description[SERIAL_TEXT_SIZE]; /* libserialport's, e.g. the USB product */
  char transport[16];                 /* "usb", "native", "bluetooth" */
  int usb_vid, usb_pid;               /* -1 when not a USB port */
  char usb_serial[SERIAL_TEXT_SIZE];  /* the USB device's serial number */
  char usb_manufacturer[SERIAL_TEXT_SIZE];
  char usb_product[SERIAL_TEXT_SIZE];
} serial_port_info_t;

/* List the serial ports of this machine. On success *ports is a new array
** of *count entries (free() it; NULL when there are none). Returns 0,
** TRANSPORT_ERR_IO (libserialport failed) or TRANSPORT_ERR_NO_MEMORY. */
int transport_serial_list(serial_port_info_t **ports, size_t *count);

/* Which of ports[0..count) a port string names, or -1. The string is a
** device name ("/dev/ttyACM0", also matched without "/dev/"), or a USB
** identity in hex, "VID:PID" or "VID:PID:SERIAL" (serial compared
** exactly), so a scanner is found again whatever name it gets when it is
** plugged back in. The first match wins. */
int transport_serial_match(const serial_port_info_t *ports, size_t count, const char *port);

/* A transport reading a serial port through libserialport: the port is
** found by transport_serial_match() rules at every open (a symlink such as
** /dev/serial/by-id/... is resolved first), opened read-only at baud (0:
** 9600; USB CDC ignores it) 8N1 without flow control, and its fd is then
** read exactly as the fd backend reads one (poll, POLLHUP = unplugged).
** libserialport refuses pseudo-terminals, so tests drive the same framing
** through transport_fd_new() on a pty. Returns 0 with *out set, or
** TRANSPORT_ERR_ARGUMENT / TRANSPORT_ERR_NO_MEMORY. */
int transport_serial_new(const char *port, unsigned baud, const scan_framing_t *framing,
                         scanner_transport_t **out);

/* ---- HID-POS scanners over USB (transport_hidpos.c, libusb-1.0). ---- */

#define HIDPOS_REPORT_MAX      64   /* full-speed interrupt reports */
#define HIDPOS_CONTINUATION_MS 1000 /* a scan's next report must come by then */

/* A USB device that looks like a scanner. */
typedef struct usb_scanner_info {
  uint16_t vid, pid;
  uint8_t bus, address;
  char sysfs_name[32]; /* "1-3.2", the kernel's name for the device */
  char manufacturer[SERIAL_TEXT_SIZE];
  char product[SERIAL_TEXT_SIZE];
  char serial[SERIAL_TEXT_SIZE];
  bool hid_pos;            /* a HID interface declares usage page 0x8C */
  bool hid;                /* it has a HID interface at all */
  const char *vendor_name; /* a known scanner vendor, or NULL */
} usb_scanner_info_t;

/* List USB devices that look like scanners: a HID interface whose report
** descriptor (read from sysfs, so nothing is opened or detached) uses the
** HID Point of Sale bar code scanner usage page 0x8C, or a vendor ID of a
** known scanner maker (transport_usb_vendor_name()). *devices is a new
** array (free() it). Returns 0, TRANSPORT_ERR_IO or
** TRANSPORT_ERR_NO_MEMORY. */
int transport_hidpos_list(usb_scanner_info_t **devices, size_t *count);

/* The name of a known scanner maker for a USB vendor ID, or NULL. */
const char *transport_usb_vendor_name(uint16_t vid);

/* A transport reading HID-POS input reports. want is "VID:PID" (hex) or
** NULL/"" for the first device with a usage page 0x8C interface. Open
** claims that interface with the kernel HID driver detached
** automatically (libusb_set_auto_detach_kernel_driver; it is reattached on
** close), reads interrupt reports and reassembles multi-report scans
** (hidpos_assembler_t). Arrival and departure come from libusb's hotplug
** API where the platform has it (a departure ends the current read with
** TRANSPORT_UNPLUGGED); a transfer failing with "no device" means the same.
** scan->aim holds the report's AIM identifier; scan->data holds the
** decoded data only (no AIM prefix). Returns 0 with *out set,
** TRANSPORT_ERR_ARGUMENT, TRANSPORT_ERR_NO_MEMORY or TRANSPORT_ERR_IO
** (libusb could not start). */
int transport_hidpos_new(const char *want, scanner_transport_t **out);

/* How many arrivals and departures of devices matching its VID:PID (any
** device, for a transport made without one) libusb's hotplug API reported
** to this HID-POS transport so far, for logs and tests. Zeros for NULL or
** another backend's transport. */
void transport_hidpos_hotplug_counts(const scanner_transport_t *t, unsigned *arrived,
                                     unsigned *left);

/* Parse a HID report descriptor: true when a Usage Page item selects the
** bar code scanner page 0x8C. *report_ids (may be NULL) says whether the
** descriptor declares report IDs, i.e. whether every report starts with
** its ID byte. */
bool hid_descriptor_is_pos(const uint8_t *desc, size_t len, bool *report_ids);

/* The HID-POS report assembler: reports in, scans out; pure, like the
** framer. The input report layout ([likely]: scanner makers' manuals for
** usage page 0x8C; see transport_hidpos.c), for a 64-byte report:
**   [0] report ID (only when the descriptor declares IDs)
**   [1] length of the data in this report
**   [2..4] AIM symbology identifier, "]d2"
**   [5..60] data (56 bytes at most)
**   [61] further symbology id, [62] reserved
**   [63] bit 0: data continues in the next report. */
typedef struct hidpos_assembler {
  bool report_ids;
  uint8_t buf[SCAN_DATA_MAX];
  size_t len;
  bool pending;  /* a continuation is awaited */
  bool overlong; /* the scan outgrew buf: drop it at its end */
  char aim[SCAN_AIM_SIZE];
  uint64_t last_ms; /* arrival of the last report */
} hidpos_assembler_t;

void hidpos_assembler_init(hidpos_assembler_t *a, bool report_ids);

/* Forget a partial scan. NULL-safe. */
void hidpos_assembler_reset(hidpos_assembler_t *a);

/* Take one report of len bytes that arrived at now_ms. Returns 0 with
** *scan complete (source empty), TRANSPORT_AGAIN (a continuation is
** awaited, or an empty or malformed report was ignored),
** TRANSPORT_OVERLONG (a scan over SCAN_DATA_MAX ended and was dropped), or
** TRANSPORT_ERR_ARGUMENT. A partial scan older than HIDPOS_CONTINUATION_MS
** is dropped before the report is taken. */
int hidpos_assembler_feed(hidpos_assembler_t *a, const uint8_t *report, size_t len, uint64_t now_ms,
                          scan_t *scan);

/* ---- Keyboard wedge (transport_wedge.c). ---- */

#define WEDGE_KEY_GAP_MS   40 /* default: longest pause between keys of a scan */
#define WEDGE_MIN_LENGTH   8  /* default: shorter bursts are typing */
#define WEDGE_DEFAULT_PATH "-"

typedef struct transport_wedge_options {
  const char *path;       /* tty or FIFO to read; NULL or "-": standard input */
  unsigned key_gap_ms;    /* 0: WEDGE_KEY_GAP_MS */
  size_t min_length;      /* characters; 0: WEDGE_MIN_LENGTH */
  const char *prefix;     /* the scanner's configured prefix, or NULL */
  uint32_t gs_substitute; /* code point the scanner types for GS, or 0 */
  /* Where the one-time warning goes; NULL: standard error. */
  void (*warn)(void *ctx, const char *message);
  void *warn_ctx;
} transport_wedge_options_t;

/* A transport reading a keyboard-wedge scanner from a tty (raw mode,
** restored on close) or standard input. Keys that come closer together
** than key_gap_ms make one burst; a burst ends at Enter, Tab or a pause.
** A burst of at least min_length characters (and, when a prefix is set,
** containing the prefix, which is removed with anything before it) is a
** scan; anything else is a person typing and is dropped. Each scan is
** repaired before it is handed out: a Russian keyboard layout is mapped
** back (layout.h) when any Cyrillic letter is present, and gs_substitute
** becomes GS (0x1D). When a scan arrives without GS and the marking-code
** parser cannot restore the separators (gs_missing), the wedge warns once,
** in Russian and English, how to set the scanner up. Input that is not a
** terminal (a pipe, a FIFO) carries no timing: every line of min_length or
** more is a scan, and its end reads as TRANSPORT_UNPLUGGED once the last
** line is out. Returns 0 with *out set, or TRANSPORT_ERR_ARGUMENT /
** TRANSPORT_ERR_NO_MEMORY. */
int transport_wedge_new(const transport_wedge_options_t *options, scanner_transport_t **out);

/* The wedge's warning text (both languages), for documentation and tests. */
extern const char transport_wedge_gs_warning[];

/* ---- Device strings (transport_spec.c). ---- */

/* Settings a device string does not carry. Zero means the default. */
typedef struct transport_spec_options {
  scan_framing_t framing; /* serial and fd; default: SCAN_FRAME_ANY_SUFFIX */
  bool framing_set;       /* false: use the default above */
  unsigned baud;          /* serial */
  transport_wedge_options_t wedge;
} transport_spec_options_t;

/* Make a transport from a device string, as `kassa scan --device` and
** `kassa serve` (from the config) take them:
**   serial:/dev/ttyACM0   serial:VID:PID[:SERIAL]   (libserialport)
**   usb:VID:PID           usb  (the first HID-POS scanner)
**   wedge                 wedge:/dev/tty3  (keyboard wedge; stdin alone)
**   fd:PATH               (a tty, pty or FIFO read raw; tests, odd setups)
** options may be NULL. Returns 0 with *out set; TRANSPORT_ERR_ARGUMENT
** with a message for a person in err (an unknown kind, a bad VID:PID);
** or the backend's error. */
int transport_new_from_spec(const char *spec, const transport_spec_options_t *options,
                            scanner_transport_t **out, char *err, size_t err_size);

/* Parse "VID:PID" (hex, 1-4 digits each) at s; returns the characters
** used (so a ":SERIAL" may follow), or 0 when s does not start with one. */
size_t transport_parse_usb_id(const char *s, uint16_t *vid, uint16_t *pid);

#endif /* KASSA_SCANNER_TRANSPORT_H */
