/*
** device/shtrih_link.h: one conversation with a Shtrih-M register over TCP
** or a serial port: the v1 exchange with its ENQ/ACK/NAK rules, retries
** and timeouts, so a caller sends a message and gets its answer once.
**
** The vendor's description of the exchange (Протокол ККТ 2.0, "Стандартный
** нижний уровень"): the host asks ENQ; NAK means the register waits for a
** command, ACK that it holds an answer not yet taken. Every frame is
** acknowledged with one byte, ACK or NAK (NAK: the bytes were garbled,
** not that the command was wrong). After a NAK from the host the register
** does not resend its answer by itself; it waits for ENQ and sends it then.
**
** shtrih_link_call() therefore always starts with ENQ, and that makes the
** three ways a conversation breaks safe without executing anything twice:
**   - the register's ACK of a command is lost: the host waits, asks ENQ,
**     hears ACK (an answer is waiting) and reads it; it never resends;
**   - the host's ACK of an answer is lost: the register keeps the answer;
**     the next call's ENQ hears ACK, reads that old answer, acknowledges
**     and drops it, and asks again until NAK;
**   - an answer arrives garbled (LRC): NAK, ENQ, and the register sends it
**     again.
** Bytes outside frames (line noise; the 0xFF some network registers put
** before their first ACK or NAK) are skipped. A command is resent only
** after ENQ has been answered NAK, i.e. when the register says it holds
** no answer, so it did not get the command.
**
** One link is used by one thread at a time.
*/
#ifndef KASSA_DEVICE_SHTRIH_LINK_H
#define KASSA_DEVICE_SHTRIH_LINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "device/shtrih_cmd.h"

typedef enum shtrih_link_rc {
  SHTRIH_LINK_OK = 0,
  SHTRIH_LINK_NO_ANSWER = -1, /* no answer within the timeouts and retries */
  SHTRIH_LINK_IO = -2,        /* the connection failed or closed; errno kept */
  SHTRIH_LINK_PROTOCOL = -3,  /* answers that never made sense (wrong command, garbled) */
  SHTRIH_LINK_CONNECT = -4,   /* could not connect or open the port */
  SHTRIH_LINK_SPEC = -5,      /* the KKT address is not tcp:HOST:PORT or serial:PORT[@BAUD] */
  SHTRIH_LINK_PARAMS = -6,    /* NULLs, an overflowed message */
  SHTRIH_LINK_NO_MEMORY = -7,
} shtrih_link_rc_t;

/* Stable name and a message for a cashier (Russian) or an integrator. */
const char *shtrih_link_err_name(int rc);
const char *shtrih_link_err_message(int rc, bool russian);

typedef struct shtrih_link_options {
  int control_ms; /* wait for ACK/NAK after ENQ or a command (0: 1000) */
  int answer_ms;  /* wait for an answer frame to begin (0: 30000: printing is slow) */
  int byte_ms;    /* wait for each next byte inside a frame (0: 1000) */
  int retries;    /* attempts per call (0: 3) */
} shtrih_link_options_t;

/* The TCP port network Shtrih-M registers listen on. */
#define SHTRIH_TCP_PORT 7778

typedef struct shtrih_link shtrih_link_t;

/*
** Opens spec: "tcp:HOST:PORT" or "serial:PORT[@BAUD]" (PORT a device path
** such as /dev/ttyUSB0; BAUD default 115200; 8N1, no flow control, as the
** protocol says). A serial port libserialport refuses (a pseudo-terminal)
** is opened as a plain tty with the same settings. options may be NULL.
** On failure *out is NULL and err (if given) says why in both languages.
*/
int shtrih_link_open(const char *spec, const shtrih_link_options_t *options, shtrih_link_t **out,
                     char *err, size_t err_size);

/* A link over an fd already connected (a socketpair in tests); it is
** closed with the link. */
int shtrih_link_from_fd(int fd, const shtrih_link_options_t *options, shtrih_link_t **out);

/*
** Sends request and puts the answer's message (command code, error byte,
** fields) into answer[0..*answer_len). The answer must be for the same
** command (a stale one is dropped and the call goes on). Returns 0 or a
** shtrih_link_rc_t. The register's own error byte is not a link error:
** parse the answer (shtrih_answer_parse).
*/
int shtrih_link_call(shtrih_link_t *link, const shtrih_msg_t *request, uint8_t *answer,
                     size_t answer_size, size_t *answer_len);

/* What the link saw: bytes skipped outside frames, answers resent after a
** NAK, stale answers dropped, commands sent again. For tests and logs. */
typedef struct shtrih_link_stats {
  uint32_t noise, bad_frames, stale_answers, resent_commands, enq_timeouts;
} shtrih_link_stats_t;
void shtrih_link_get_stats(const shtrih_link_t *link, shtrih_link_stats_t *out);

/* "tcp:HOST:PORT" or "serial:PORT@BAUD", for messages. Never NULL. */
const char *shtrih_link_describe(const shtrih_link_t *link);

/* Closes and frees; NULL is fine. */
void shtrih_link_close(shtrih_link_t *link);

#endif
