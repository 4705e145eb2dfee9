/*
** tests/integration/test_operator_fn.c: the till's half for test_operator.py.
**
** The Python test plays the network; this program plays the FN, so that
** every document the operator sees is sealed by a real emulated FN:
**
**   test_operator_fn init PATH          create and register an FN
**   test_operator_fn keys PATH PORT     fetch keys from kassa-operator's
**                                       KEYS port (type 90 -> 91), load them
**   test_operator_fn sell PATH CODE...  check each code (\x1d escapes), print
**                                       "81 <tail_status> <hex of the 81>",
**                                       then sell them all in one receipt
** Documents and notifications are then read from the FN file by the test.
*/
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fiscal/crypto.h"
#include "fiscal/fn.h"
#include "fiscal/fn_emu.h"
#include "ofd/frame.h"
#include "ofd/keys.h"
#include "tests/support/fn_fixture.h"

#define FN_NUMBER "9999078900004343"

static void die(const char *what, int rc)
{
  fprintf(stderr, "test_operator_fn: %s: %d\n", what, rc);
  exit(2);
}

static int cmd_init(const char *path)
{
  fn_t *fn = NULL;
  fn_registration_t r;
  int rc;
  if ((rc = fn_emu_create(path, FN_NUMBER)) != 0) die("create", rc);
  if ((rc = fn_emu_open(path, NULL, &fn)) != 0) die("open", rc);
  fn_fixture_registration(&r, false);
  if ((rc = fn_register(fn, &r, false, NULL)) != 0) die("register", rc);
  if ((rc = fn_key_update(fn, NULL, 0, 0)) != 0) die("key session", rc);
  fn_free(fn);
  return 0;
}

static int cmd_keys(const char *path, int port)
{
  static uint8_t wire[FRAME_MESSAGE_MAX], in[FRAME_MESSAGE_MAX];
  static fn_key_t keys[64];
  static frame_parser_t parser;
  frame_message_t m, a;
  struct sockaddr_in addr;
  size_t len = 0, n = 0, got = 0, used = 0;
  uint32_t when = 0;
  fn_t *fn = NULL;
  int fd, rc;

  memset(&m, 0, sizeof m);
  m.profile = FRAME_PROFILE_KEYS;
  memcpy(m.fn_number, FN_NUMBER, 16);
  m.flags = FRAME_CRC_HEADER_BODY | FRAME_FLAG_RESPONSE_EXPECTED;
  m.has_container = 1;
  m.document_type = 90;
  if ((rc = frame_encode(&m, wire, sizeof wire, &len)) != 0) die("encode", rc);
  fd = socket(AF_INET, SOCK_STREAM, 0);
  memset(&addr, 0, sizeof addr);
  addr.sin_family = AF_INET;
  addr.sin_port = htons((uint16_t)port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) die("connect", -1);
  if (write(fd, wire, len) != (ssize_t)len) die("send", -1);
  frame_parser_init(&parser);
  for (;;) {
    ssize_t r = read(fd, in, sizeof in);
    if (r <= 0) die("read", -1);
    got = (size_t)r;
    rc = frame_parser_feed(&parser, in, got, &used, &a);
    if (rc == 0) break;
    if (rc != FRAME_AGAIN) die("frame", rc);
  }
  close(fd);
  if (a.document_type != 91) die("answer type", a.document_type);
  if ((rc = keys_parse_update(a.body, a.body_len, keys, 64, &n, &when)) != 0) die("parse", rc);
  if ((rc = fn_emu_open(path, NULL, &fn)) != 0) die("open", rc);
  if ((rc = fn_key_update(fn, keys, n, 0)) != 0) die("key update", rc);
  fn_free(fn);
  printf("keys %zu\n", n);
  return 0;
}

static int cmd_sell(const char *path, int count, char **codes)
{
  static doc_item_t items[16];
  static fn_km_check_t check;
  fn_t *fn = NULL;
  fn_status_t s;
  uint64_t total = 0;
  int rc;
  if (count < 1 || count > 16) die("count", count);
  if ((rc = fn_emu_open(path, NULL, &fn)) != 0) die("open", rc);
  if ((rc = fn_status(fn, &s)) != 0) die("status", rc);
  if (!s.shift_open && (rc = fn_shift_open(fn, "Cashier", NULL)) != 0) die("shift", rc);
  for (int i = 0; i < count; i++) {
    doc_item_t *it = &items[i];
    char name[32], km[DOC_MAX_KM + 1];
    snprintf(name, sizeof name, "Item %d", i);
    fn_fixture_unescape(codes[i], km);
    fn_fixture_marked_item(it, name, 1000, km);
    if ((rc = fn_km_check(fn, it, &check)) != 0) die("km check", rc);
    printf("81 %d ", check.tail_status);
    for (size_t b = 0; b < check.request_len; b++) printf("%02x", check.request[b]);
    printf("\n");
    if ((rc = fn_km_accept(fn, it->km, it->km_len, true)) != 0) die("accept", rc);
    total += it->total;
  }
  if ((rc = fn_receipt_begin(fn, DOC_OP_SALE, 1, "Cashier")) != 0) die("begin", rc);
  for (int i = 0; i < count; i++) {
    if ((rc = fn_receipt_add(fn, &items[i])) != 0) die("add", rc);
  }
  if ((rc = fn_receipt_close(fn, total, 0, false, NULL)) != 0) die("close", rc);
  fn_free(fn);
  return 0;
}

int main(int argc, char **argv)
{
  int rc;
  fn_fixture_driver("test_operator_fn");
  if ((rc = crypto_init()) != 0) die("crypto", rc);
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (argc == 3 && strcmp(argv[1], "init") == 0) return cmd_init(argv[2]);
  if (argc == 4 && strcmp(argv[1], "keys") == 0) return cmd_keys(argv[2], atoi(argv[3]));
  if (argc >= 4 && strcmp(argv[1], "sell") == 0) return cmd_sell(argv[2], argc - 3, argv + 3);
  fprintf(stderr, "usage: test_operator_fn init|keys|sell PATH ...\n");
  return 2;
}
