/*
** cli_device.c: `kassa device probe`, the first thing a technician runs
** against a cash register.
**
**   kassa device probe [--kkt SPEC] [--password N] [--timeout-ms MS]
**
** SPEC is what `[fn] backend` takes (shtrih:tcp:HOST:PORT,
** shtrih:serial:PORT[@BAUD]; tcp:... and serial:... are taken as Shtrih-M
** too); without --kkt, `[fn] backend` itself, which must then name a
** register. The probe connects, asks who the device is (FCh), its state
** (10h), its FN (FF01h) and the OFD queue (FF39h), prints one JSON object
** and exits 0. It changes nothing in the register. A part the register
** will not give (an older model, a command it does not know) is null in
** the JSON with the register's reason under "unavailable". Exit 1 with the reason
** in Russian and English on stderr: no answer, cannot connect, the wrong
** password, or the register's own error with its table text; 2 for a
** usage error.
*/
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "device/fn_shtrih.h"
#include "pos/cli/cli.h"

static const char device_usage[] =
    "usage: kassa device probe [--kkt SPEC] [--password N] [--timeout-ms MS]\n"
    "\n"
    "Connects to a cash register and prints what it says about itself, as JSON:\n"
    "model, protocol, fn_number, fn_phase, shift_open, last_document,\n"
    "unsent_documents. Changes nothing in the register.\n"
    "\n"
    "  --kkt SPEC       shtrih:tcp:HOST:PORT (network registers listen on 7778) or\n"
    "                   shtrih:serial:PORT[@BAUD] (default: [fn] backend)\n"
    "  --password N     the administrator's password (default: [fn] password, 30)\n"
    "  --timeout-ms MS  wait this long for each answer byte (default 1000)\n";

static const char *phase_name(uint8_t bits)
{
  if (bits & 0x04) return "post";
  if (bits & 0x02) return "fiscal";
  if (bits & 0x01) return "ready";
  return "not_set_up";
}

/* Sets key to value, or to null when the part it comes from is missing. */
static void set_or_null(json_t *o, const char *key, bool have, json_t *value)
{
  json_object_set_new(o, key, have ? value : json_null());
  if (!have) json_decref(value);
}

/*
** The facts as the JSON object the command prints. A part the register
** would not give leaves its fields null and says why under "unavailable";
** shift_open then comes from the register's mode (10h) when it can.
*/
static json_t *facts_json(const char *spec, const fn_shtrih_facts_t *f)
{
  char version[16];
  bool kkt = f->kkt_rc == 0, fn = f->fn_rc == 0, ex = f->exchange_rc == 0;
  uint8_t mode = f->kkt.mode & 0x0F;
  bool shift_known =
      fn || (kkt && (mode == SHTRIH_MODE_SHIFT_OPEN || mode == SHTRIH_MODE_SHIFT_OVERDUE ||
                     mode == SHTRIH_MODE_SHIFT_CLOSED));
  bool shift_open = fn ? f->fn.shift_open : mode != SHTRIH_MODE_SHIFT_CLOSED;
  snprintf(version, sizeof version, "%u.%u", f->device.protocol, f->device.subprotocol);
  json_t *o = json_object(), *why = json_object();
  if (!o || !why) {
    json_decref(o);
    json_decref(why);
    return NULL;
  }
  json_object_set_new(o, "model", json_string(f->device.name));
  json_object_set_new(o, "model_number", json_integer(f->device.model));
  json_object_set_new(o, "device_type", json_integer(f->device.type));
  json_object_set_new(o, "device_subtype", json_integer(f->device.subtype));
  json_object_set_new(o, "protocol", json_string("shtrih-m v1"));
  json_object_set_new(o, "protocol_version", json_string(version));
  json_object_set_new(o, "connection", json_string(spec));
  set_or_null(o, "fn_number", fn, json_string(f->fn.fn_number));
  set_or_null(o, "fn_phase", fn, json_string(phase_name(f->fn.phase_bits)));
  set_or_null(o, "shift_open", shift_known, json_boolean(shift_open));
  set_or_null(o, "last_document", fn, json_integer(f->fn.last_document));
  set_or_null(o, "unsent_documents", ex, json_integer(f->exchange.unsent));
  set_or_null(o, "first_unsent_document", ex, json_integer(f->exchange.first_unsent_number));
  set_or_null(o, "kkt_mode", kkt, json_integer(mode));
  set_or_null(o, "receipt_open", fn || kkt,
              json_boolean(fn ? f->fn.document == 0x04 || f->fn.document == 0x14
                              : mode == SHTRIH_MODE_DOCUMENT_OPEN));
  if (!kkt) json_object_set_new(why, "kkt_status", json_string(f->kkt_error));
  if (!fn) json_object_set_new(why, "fn_status", json_string(f->fn_error));
  if (!ex) json_object_set_new(why, "exchange_status", json_string(f->exchange_error));
  if (json_object_size(why))
    json_object_set_new(o, "unavailable", why);
  else
    json_decref(why);
  return o;
}

static int probe(const kassa_config_t *cfg, int argc, char **argv)
{
  const char *kkt = NULL, *password_text = NULL, *timeout_text = NULL;
  const cli_option_t options[] = {{"kkt", 0, &kkt, NULL},
                                  {"password", 0, &password_text, NULL},
                                  {"timeout-ms", 0, &timeout_text, NULL}};
  unsigned long password = cfg->fn_password, timeout = 1000;
  if (cli_parse_options("device probe", device_usage, argc, argv, options, 3, NULL)) return 2;
  if ((password_text && !cli_number(password_text, 1, 0x7FFFFFFFUL, &password)) ||
      (timeout_text && !cli_number(timeout_text, 10, 600000, &timeout))) {
    fprintf(stderr, "kassa device probe: --password and --timeout-ms take a number\n\n%s",
            device_usage);
    return 2;
  }
  char spec[300], given[300];
  snprintf(given, sizeof given, "%s", kkt ? kkt : cfg->fn_backend);
  if (strncmp(given, "tcp:", 4) == 0 || strncmp(given, "serial:", 7) == 0) {
    char bare[300];
    snprintf(bare, sizeof bare, "%s", given);
    snprintf(given, sizeof given, "shtrih:%.290s", bare);
  }
  int kind = fn_shtrih_backend_spec(given, spec, sizeof spec);
  if (kind != 1) {
    fprintf(stderr,
            "kassa device probe: %s — не адрес кассы (shtrih:tcp:ХОСТ:ПОРТ или "
            "shtrih:serial:ПОРТ[@СКОРОСТЬ]) / not a register's address (shtrih:tcp:HOST:PORT or "
            "shtrih:serial:PORT[@BAUD])\n",
            given);
    return 2;
  }
  shtrih_link_options_t lo = {
      .control_ms = (int)timeout, .byte_ms = (int)timeout, .answer_ms = (int)(timeout * 10)};
  char err[1024];
  fn_t *fn = NULL;
  if (fn_shtrih_open(spec, (uint32_t)password, &lo, &fn, err, sizeof err) != 0) {
    fprintf(stderr, "kassa device probe: %s\n", err);
    return 1;
  }
  fn_shtrih_facts_t facts;
  int status = 1;
  if (fn_shtrih_facts(fn, &facts) != 0) {
    fprintf(stderr, "kassa device probe: %s / %s\n", fn_shtrih_last_error(fn, true),
            fn_shtrih_last_error(fn, false));
  } else {
    json_t *j = facts_json(spec, &facts);
    char *text = j ? json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
    if (text) {
      printf("%s\n", text);
      status = 0;
    } else {
      fprintf(stderr, "kassa device probe: Недостаточно памяти / Out of memory\n");
    }
    free(text);
    json_decref(j);
  }
  fn_free(fn);
  return status;
}

int cli_device(const kassa_config_t *cfg, int argc, char **argv)
{
  if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
    fputs(device_usage, argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  if (strcmp(argv[1], "probe") != 0) {
    fprintf(stderr, "kassa device: unknown command %s\n\n%s", argv[1], device_usage);
    return 2;
  }
  return probe(cfg, argc - 1, argv + 1);
}
