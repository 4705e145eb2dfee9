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
  /* Where scans come from, for people and scan_t.source. Never NULL. */
  const char *(*describe)(const scanner_transport_t *t);
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

/* The backend's description ("fd:/dev/pts/3"); "" for NULL. */
const char *transport_describe(const scanner_transport_t *t);

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

#endif /* KASSA_SCANNER_TRANSPORT_H */
