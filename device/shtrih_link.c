/*
** device/shtrih_link.c: the v1 exchange over a file descriptor (a TCP
** socket or a serial port), as shtrih_link.h describes.
**
** Bytes are read into a small buffer and fed one at a time to the framing
** state machine (shtrih_frame.h); so a device that sends "FF 06 02 ..." in
** one TCP segment, or one byte per read, looks the same here.
*/
#include "device/shtrih_link.h"

#include <errno.h>
#include <fcntl.h>
#include <libserialport.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "common/errtab.h"

static const errtab_t link_errors[] = {
    {SHTRIH_LINK_OK, "ok", "Готово", "Done"},
    {SHTRIH_LINK_NO_ANSWER, "no_answer",
     "ККТ не отвечает: проверьте, что она включена, кабель или сеть и адрес (kassa.conf, [fn] "
     "backend)",
     "The KKT does not answer: check that it is on, the cable or network and the address "
     "(kassa.conf, [fn] backend)"},
    {SHTRIH_LINK_IO, "io", "Связь с ККТ прервалась", "The connection to the KKT broke"},
    {SHTRIH_LINK_PROTOCOL, "protocol", "ККТ отвечает не по протоколу Штрих-М (или помехи на линии)",
     "The KKT's answers do not follow the Shtrih-M protocol (or the line is noisy)"},
    {SHTRIH_LINK_CONNECT, "connect", "Не удаётся подключиться к ККТ", "Cannot connect to the KKT"},
    {SHTRIH_LINK_SPEC, "spec", "Адрес ККТ должен быть tcp:ХОСТ:ПОРТ или serial:ПОРТ[@СКОРОСТЬ]",
     "The KKT address must be tcp:HOST:PORT or serial:PORT[@BAUD]"},
    {SHTRIH_LINK_PARAMS, "params", "Неверные параметры обмена с ККТ",
     "Wrong parameters for the KKT exchange"},
    {SHTRIH_LINK_NO_MEMORY, "no_memory", "Недостаточно памяти", "Out of memory"},
    ERRTAB_END("Неизвестная ошибка связи с ККТ", "Unknown KKT link error"),
};

const char *shtrih_link_err_name(int rc) { return errtab_name(link_errors, rc); }
const char *shtrih_link_err_message(int rc, bool russian)
{
  return errtab_message(link_errors, rc, russian);
}

struct shtrih_link {
  int fd;
  struct sp_port *port; /* serial through libserialport, else NULL */
  shtrih_link_options_t o;
  uint8_t buf[512];
  size_t have, at;
  shtrih_rx_t rx;
  shtrih_link_stats_t stats;
  char describe[320];
};

static void defaults(shtrih_link_options_t *o, const shtrih_link_options_t *given)
{
  memset(o, 0, sizeof *o);
  if (given) *o = *given;
  if (o->control_ms <= 0) o->control_ms = 1000;
  if (o->answer_ms <= 0) o->answer_ms = 30000;
  if (o->byte_ms <= 0) o->byte_ms = 1000;
  if (o->retries <= 0) o->retries = 3;
}

static int64_t now_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The next byte within ms: 1, 0 on timeout, SHTRIH_LINK_IO on EOF/error. */
static int next_byte(shtrih_link_t *l, int ms, uint8_t *b)
{
  if (l->at < l->have) {
    *b = l->buf[l->at++];
    return 1;
  }
  int64_t deadline = now_ms() + ms;
  for (;;) {
    int64_t left = deadline - now_ms();
    if (left < 0) left = 0;
    struct pollfd p = {.fd = l->fd, .events = POLLIN};
    int n = poll(&p, 1, (int)left);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return SHTRIH_LINK_IO;
    if (n == 0) return 0;
    ssize_t got = read(l->fd, l->buf, sizeof l->buf);
    if (got < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (got <= 0) return SHTRIH_LINK_IO;
    l->have = (size_t)got;
    l->at = 0;
    *b = l->buf[l->at++];
    return 1;
  }
}

/* write(), as send(MSG_NOSIGNAL) on a socket: a peer that hung up is an
** error to report (EPIPE), not a signal that ends the process. */
static ssize_t send_or_write(int fd, const void *p, size_t n)
{
  ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
  if (w < 0 && errno == ENOTSOCK) w = write(fd, p, n);
  return w;
}

static int write_all(shtrih_link_t *l, const uint8_t *p, size_t n)
{
  while (n > 0) {
    ssize_t w = send_or_write(l->fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 && errno == EAGAIN) {
      struct pollfd pf = {.fd = l->fd, .events = POLLOUT};
      (void)poll(&pf, 1, l->o.byte_ms);
      continue;
    }
    if (w <= 0) return SHTRIH_LINK_IO;
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

static int send_byte(shtrih_link_t *l, uint8_t b) { return write_all(l, &b, 1); }

/* The next ENQ/ACK/NAK outside a frame within ms, noise skipped: the byte
** (> 0), 0 on timeout, SHTRIH_LINK_IO. An STX here means the device sent
** a frame where a control byte was due: it is left for read_frame (the
** STX is pushed back) and reported as ACK, which it implies. */
static int read_control(shtrih_link_t *l, int ms)
{
  int64_t deadline = now_ms() + ms;
  for (;;) {
    int64_t left = deadline - now_ms();
    uint8_t b;
    int rc = next_byte(l, left > 0 ? (int)left : 0, &b);
    if (rc <= 0) return rc;
    if (b == SHTRIH_ENQ || b == SHTRIH_ACK || b == SHTRIH_NAK) return b;
    if (b == SHTRIH_STX) {
      l->at--; /* the byte is still in buf: read_frame takes it */
      return SHTRIH_ACK;
    }
    l->stats.noise++;
  }
}

/* Reads one frame: 1 a good one in l->rx, 2 a garbled one, 0 timeout
** (nothing began within first_ms, or a byte inside was late), IO. */
static int read_frame(shtrih_link_t *l, int first_ms)
{
  shtrih_rx_reset(&l->rx);
  int64_t deadline = now_ms() + first_ms;
  for (;;) {
    int wait = l->o.byte_ms;
    if (!shtrih_rx_in_frame(&l->rx)) {
      int64_t left = deadline - now_ms();
      wait = left > 0 ? (int)left : 0;
    }
    uint8_t b;
    int rc = next_byte(l, wait, &b);
    if (rc <= 0) return rc;
    switch (shtrih_rx_feed(&l->rx, b)) {
    case SHTRIH_RX_FRAME:
      return 1;
    case SHTRIH_RX_BAD_LRC:
      l->stats.bad_frames++;
      return 2;
    case SHTRIH_RX_NOISE:
    case SHTRIH_RX_CONTROL:
      l->stats.noise++;
      break;
    default:
      break;
    }
  }
}

/* The command code a message starts with. */
static uint16_t command_of(const uint8_t *m, size_t len)
{
  if (len >= 2 && m[0] == 0xFF) return (uint16_t)(0xFF00 | m[1]);
  return len ? m[0] : 0;
}

/*
** Takes the answer the device holds (after it said ACK to ENQ or to our
** command): 1 with it in l->rx, 0 when none came, IO. A garbled one is
** NAKed and asked for again by ENQ, up to the retries.
*/
static int take_answer(shtrih_link_t *l, int first_ms)
{
  for (int tries = 0; tries < l->o.retries; tries++) {
    int rc = read_frame(l, first_ms);
    if (rc < 0) return rc;
    if (rc == 1) return send_byte(l, SHTRIH_ACK) < 0 ? SHTRIH_LINK_IO : 1;
    if (rc == 2 && send_byte(l, SHTRIH_NAK) < 0) return SHTRIH_LINK_IO;
    /* Ask for it again: ENQ; ACK means it is still there. */
    if (send_byte(l, SHTRIH_ENQ) < 0) return SHTRIH_LINK_IO;
    int c = read_control(l, l->o.control_ms);
    if (c < 0) return c;
    if (c != SHTRIH_ACK) return 0;
    first_ms = l->o.control_ms;
  }
  return 0;
}

/*
** ENQ until the device says it waits for a command (NAK): answers it
** still holds are taken and dropped. 0 ready, NO_ANSWER, IO.
*/
static int sync_ready(shtrih_link_t *l)
{
  for (int tries = 0; tries < l->o.retries * 3; tries++) {
    if (send_byte(l, SHTRIH_ENQ) < 0) return SHTRIH_LINK_IO;
    int c = read_control(l, l->o.control_ms);
    if (c < 0) return c;
    if (c == 0) {
      l->stats.enq_timeouts++;
      if (tries + 1 >= l->o.retries) return SHTRIH_LINK_NO_ANSWER;
      continue;
    }
    if (c == SHTRIH_NAK) return 0;
    if (c == SHTRIH_ACK) {
      int rc = take_answer(l, l->o.control_ms);
      if (rc < 0) return rc;
      if (rc == 1) l->stats.stale_answers++;
    }
  }
  return SHTRIH_LINK_PROTOCOL;
}

int shtrih_link_call(shtrih_link_t *l, const shtrih_msg_t *request, uint8_t *answer,
                     size_t answer_size, size_t *answer_len)
{
  uint8_t frame[SHTRIH_V1_MAX_FRAME];
  if (!l || !request || !answer || !answer_len || request->overflow || request->len == 0)
    return SHTRIH_LINK_PARAMS;
  int n = shtrih_v1_encode(request->data, request->len, frame, sizeof frame);
  if (n < 0) return SHTRIH_LINK_PARAMS;
  uint16_t want = command_of(request->data, request->len);
  bool sent_once = false;
  for (int attempt = 0; attempt < l->o.retries; attempt++) {
    int rc = sync_ready(l);
    if (rc < 0) return rc;
    if (sent_once) l->stats.resent_commands++;
    if (write_all(l, frame, (size_t)n) < 0) return SHTRIH_LINK_IO;
    sent_once = true;
    int c = read_control(l, l->o.control_ms);
    if (c < 0) return c;
    if (c == SHTRIH_NAK) continue; /* garbled on the way: the device did nothing */
    if (c == 0) {
      /* The ACK was lost, or the command was: ENQ tells which. */
      if (send_byte(l, SHTRIH_ENQ) < 0) return SHTRIH_LINK_IO;
      c = read_control(l, l->o.control_ms);
      if (c < 0) return c;
      if (c != SHTRIH_ACK) continue; /* NAK or silence: it holds no answer */
    }
    rc = take_answer(l, l->o.answer_ms);
    if (rc < 0) return rc;
    if (rc == 0) continue; /* sync_ready's ENQ finds an answer that comes late */
    if (command_of(l->rx.message, l->rx.len) != want) {
      l->stats.stale_answers++;
      continue;
    }
    if (l->rx.len > answer_size) return SHTRIH_LINK_PARAMS;
    memcpy(answer, l->rx.message, l->rx.len);
    *answer_len = l->rx.len;
    return SHTRIH_LINK_OK;
  }
  return sent_once ? SHTRIH_LINK_NO_ANSWER : SHTRIH_LINK_PROTOCOL;
}

static shtrih_link_t *link_new(const shtrih_link_options_t *options)
{
  shtrih_link_t *l = calloc(1, sizeof *l);
  if (!l) return NULL;
  l->fd = -1;
  defaults(&l->o, options);
  return l;
}

int shtrih_link_from_fd(int fd, const shtrih_link_options_t *options, shtrih_link_t **out)
{
  if (!out || fd < 0) return SHTRIH_LINK_PARAMS;
  *out = NULL;
  shtrih_link_t *l = link_new(options);
  if (!l) return SHTRIH_LINK_NO_MEMORY;
  l->fd = fd;
  snprintf(l->describe, sizeof l->describe, "fd:%d", fd);
  *out = l;
  return 0;
}

static int open_tcp(shtrih_link_t *l, const char *host, const char *port)
{
  struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res = NULL;
  if (getaddrinfo(host, port, &hints, &res) != 0) return SHTRIH_LINK_CONNECT;
  int rc = SHTRIH_LINK_CONNECT;
  for (struct addrinfo *a = res; a; a = a->ai_next) {
    int fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) continue;
    if (connect(fd, a->ai_addr, a->ai_addrlen) == 0) {
      int one = 1;
      (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      l->fd = fd;
      rc = 0;
      break;
    }
    close(fd);
  }
  freeaddrinfo(res);
  return rc;
}

static speed_t speed_of(int baud)
{
  static const struct {
    int baud;
    speed_t speed;
  } speeds[] = {{2400, B2400},     {4800, B4800},    {9600, B9600},     {19200, B19200},
                {38400, B38400},   {57600, B57600},  {115200, B115200}, {230400, B230400},
                {460800, B460800}, {921600, B921600}};
  for (size_t i = 0; i < sizeof speeds / sizeof speeds[0]; i++)
    if (speeds[i].baud == baud) return speeds[i].speed;
  return 0;
}

static int open_serial(shtrih_link_t *l, const char *path, int baud)
{
  if (sp_get_port_by_name(path, &l->port) == SP_OK &&
      sp_open(l->port, SP_MODE_READ_WRITE) == SP_OK) {
    if (sp_set_baudrate(l->port, baud) != SP_OK || sp_set_bits(l->port, 8) != SP_OK ||
        sp_set_parity(l->port, SP_PARITY_NONE) != SP_OK || sp_set_stopbits(l->port, 1) != SP_OK ||
        sp_set_flowcontrol(l->port, SP_FLOWCONTROL_NONE) != SP_OK ||
        sp_get_port_handle(l->port, &l->fd) != SP_OK)
      return SHTRIH_LINK_CONNECT;
    return 0;
  }
  if (l->port) {
    sp_free_port(l->port);
    l->port = NULL;
  }
  /* A port libserialport refuses (a pty): a plain tty, raw, 8N1. */
  int fd = open(path, O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (fd < 0) return SHTRIH_LINK_CONNECT;
  struct termios t;
  if (tcgetattr(fd, &t) == 0) {
    cfmakeraw(&t);
    t.c_cflag &= (tcflag_t) ~(CSTOPB | PARENB | CRTSCTS);
    t.c_cflag |= CLOCAL | CREAD | CS8;
    (void)cfsetspeed(&t, speed_of(baud));
    (void)tcsetattr(fd, TCSANOW, &t);
  }
  l->fd = fd;
  return 0;
}

int shtrih_link_open(const char *spec, const shtrih_link_options_t *options, shtrih_link_t **out,
                     char *err, size_t err_size)
{
  char text[256];
  int rc = SHTRIH_LINK_SPEC;
  if (!out || !spec) return SHTRIH_LINK_PARAMS;
  *out = NULL;
  shtrih_link_t *l = link_new(options);
  if (!l) return SHTRIH_LINK_NO_MEMORY;
  snprintf(text, sizeof text, "%s", spec);
  if (strncmp(text, "tcp:", 4) == 0) {
    char *host = text + 4, *colon = strrchr(host, ':');
    if (colon && colon != host && colon[1]) {
      *colon = '\0';
      char *end = NULL;
      long port = strtol(colon + 1, &end, 10);
      if (*end == '\0' && port > 0 && port < 65536) {
        rc = open_tcp(l, host, colon + 1);
        snprintf(l->describe, sizeof l->describe, "tcp:%s:%ld", host, port);
      }
    }
  } else if (strncmp(text, "serial:", 7) == 0 && text[7]) {
    char *path = text + 7, *at = strrchr(path, '@');
    long baud = 115200;
    bool ok = true;
    if (at) {
      char *end = NULL;
      *at = '\0';
      baud = strtol(at + 1, &end, 10);
      ok = *end == '\0' && speed_of((int)baud) != 0;
    }
    if (ok && *path) {
      rc = open_serial(l, path, (int)baud);
      snprintf(l->describe, sizeof l->describe, "serial:%s@%ld", path, baud);
    }
  }
  if (rc != 0) {
    if (err && err_size)
      snprintf(err, err_size, "%s (%s) / %s (%s)", shtrih_link_err_message(rc, true), spec,
               shtrih_link_err_message(rc, false), spec);
    shtrih_link_close(l);
    return rc;
  }
  *out = l;
  return 0;
}

void shtrih_link_get_stats(const shtrih_link_t *link, shtrih_link_stats_t *out)
{
  if (out) *out = link ? link->stats : (shtrih_link_stats_t){0};
}

const char *shtrih_link_describe(const shtrih_link_t *link) { return link ? link->describe : ""; }

void shtrih_link_close(shtrih_link_t *link)
{
  if (!link) return;
  if (link->port) {
    sp_close(link->port);
    sp_free_port(link->port);
  } else if (link->fd >= 0) {
    close(link->fd);
  }
  free(link);
}
