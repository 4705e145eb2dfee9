/*
** device/kkt_emu.h: a Shtrih-M register played in software, for tests.
**
** kassa-kkt-emu (kkt_emu_main.c) listens on TCP and plays a register
** with an FN inside: it speaks the v1 exchange (shtrih_link.h's other
** side) strictly, and answers the commands kassa's Shtrih-M backend uses
** from a real fn_t, the FN emulator, so every FN rule (24-hour shift, the
** document numbering, the archive) is the FN's, not this file's.
**
** Strict about what it takes: a frame with a wrong LRC is NAKed and not
** executed; a frame that stops halfway is dropped after the byte timeout;
** a command with the wrong password is refused with 4Fh, one the register
** does not know with 37h (one byte) or the FN's 01h (FF xx), one shorter
** than its layout with 33h (01h for FF xx). Like a register it keeps its
** last answer until the host acknowledges it, across connections, and
** sends it again when asked with ENQ.
**
** It is a test double, never a register: the protocol it answers is the
** vendor's (see docs/HARDWARE.md on what that permits), and the fiscal
** signs its FN makes are the emulator's.
**
** For the link's tests it can also misbehave on purpose (faults below):
** the stray 0xFF some network registers send, line noise before an answer,
** one byte per write, a lost ACK, a garbled answer.
*/
#ifndef KASSA_DEVICE_KKT_EMU_H
#define KASSA_DEVICE_KKT_EMU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fiscal/fn.h"

typedef struct kkt_emu_options {
  uint32_t password; /* the administrator's; 0: 30 */
  int byte_ms;       /* a frame's next byte within this, else it is dropped (0: 1000) */
  int ack_ms;        /* wait this long for the host's ACK of an answer (0: 1000) */
  /* Faults, for tests; 0 / false: none. Counts are 1-based command numbers. */
  bool stray_byte;              /* 0xFF before every ACK and NAK it sends */
  uint32_t noise_before_answer; /* this many noise bytes before each answer frame */
  bool split_writes;            /* one byte per write, 1 ms apart */
  uint32_t drop_ack_of;         /* do not ACK the Nth command (it is still executed) */
  uint32_t garble_answer_of;    /* send the Nth command's answer with a wrong LRC, once */
  /* A register's own links (kassa-kkt-emu --ofd/--oism): NULL, none.
  ** idle runs between commands, at least every idle_ms (0: 1000) while the
  ** host is quiet: where the register delivers its documents. oism_check
  ** asks the OISM about a code FF61h just checked (check->request is the
  ** FN's 81) and gives the FN's result after its answer (0), or fails
  ** (non-zero: the code stays checked offline). Both run on the thread
  ** that serves, between commands, so the FN is never used twice at once. */
  void (*idle)(void *user);
  int (*oism_check)(void *user, const fn_km_check_t *check, fn_km_check_t *out);
  void *user;
  int idle_ms;
  /* Where the register keeps its tables (17, 18: what a registration
  ** writes first) across restarts, as a register keeps them through a
  ** power cut: written whole (a temporary file renamed over it) on every
  ** change, read by kkt_emu_new. NULL: in memory only. Borrowed: it must
  ** outlive the emulator. */
  const char *tables_path;
} kkt_emu_options_t;

typedef struct kkt_emu kkt_emu_t;

/* A register around fn (borrowed: the caller frees it after kkt_emu_free).
** A receipt fn holds open is cancelled: the register that was building it
** went down (a register's receipt lives in its memory until FF45h). 0, or
** -1 (NULLs, no memory). options may be NULL. */
int kkt_emu_new(fn_t *fn, const kkt_emu_options_t *options, kkt_emu_t **out);

/*
** Executes one command message (code and parameters) and writes the
** answer message (code, error byte, fields) into answer. Pure dispatch:
** no framing. Returns the answer's length (> 0), or -1 when answer_size
** is below SHTRIH_MAX_MESSAGE.
*/
int kkt_emu_execute(kkt_emu_t *emu, const uint8_t *message, size_t len, uint8_t *answer,
                    size_t answer_size);

/* Plays the register on fd until the peer closes it: 0, or -1 on an I/O
** error. fd stays open (the caller closes it). Calls options.idle while
** the host is quiet. */
int kkt_emu_serve_fd(kkt_emu_t *emu, int fd);

/* Runs options.idle unless it ran less than idle_ms ago (kassa-kkt-emu
** between connections; kkt_emu_serve_fd between commands). */
void kkt_emu_idle(kkt_emu_t *emu);

/* Commands executed since kkt_emu_new (each at most once per frame). */
uint32_t kkt_emu_executed(const kkt_emu_t *emu);

/* NULL is fine. */
void kkt_emu_free(kkt_emu_t *emu);

#endif
