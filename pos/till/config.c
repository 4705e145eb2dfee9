/*
** config.c: built-in defaults and the INI reader (inih) for kassa.conf.
*/
#include "pos/till/config.h"

#include <errno.h>
#include <stdbool.h>
#include <time.h>
#include <sys/stat.h>
#include <ctype.h>
#include <stddef.h>
#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/text.h"

void kassa_config_defaults(kassa_config_t *cfg)
{
  memset(cfg, 0, sizeof *cfg);
  snprintf(cfg->data_dir, sizeof cfg->data_dir, "%s", "/var/lib/kassa");
  snprintf(cfg->demo_codes, sizeof cfg->demo_codes, "%s", "demo-codes.txt");
  cfg->http_port = 8780;
  cfg->lm_port = 5995;
  cfg->background = 1;
  cfg->send_interval_s = 30;
  cfg->sync_interval_min = 60;
  cfg->keys_refresh_days = 60;
  cfg->operator_ofd_port = 7790;
  cfg->operator_oism_port = 7791;
  cfg->operator_keys_port = 7792;
  cfg->operator_http_port = 7793;
  snprintf(cfg->operator_host, sizeof cfg->operator_host, "%s", "127.0.0.1");
  snprintf(cfg->check_mode, sizeof cfg->check_mode, "%s", "both");
  cfg->check_budget_ms = 1500;
  cfg->cache_stale_hours = 72;
  cfg->tax_system = 1;
  cfg->discount_without_pin_percent = 10;
  cfg->fn_warn_days = 25;
  cfg->batch_warn_hours = 48;
  cfg->batch_refuse_hours = 72;
  cfg->batch_refuses_marked = 1;
  cfg->batch_applies_online = 0;
  cfg->printer_width = 48;
  cfg->printer_codepage = 17;
  cfg->price_tolerance_percent = 0;
  cfg->price_max_rub = 1000000;
  cfg->quantity_max = 999;
  cfg->weight_max_kg = 100;
  cfg->store_timeout_ms = 150;
  cfg->store_lease_ms = 120000;
  cfg->store_sync_ms = 1000;
  snprintf(cfg->store_offline_refuse, sizeof cfg->store_offline_refuse, "%s", "tobacco");
  snprintf(cfg->fn_backend, sizeof cfg->fn_backend, "emulator");
  cfg->fn_password = 30;
}

void kassa_config_operator_url(const kassa_config_t *cfg, char *out, size_t size)
{
  if (cfg->trueapi_cdn_url[0])
    snprintf(out, size, "%s", cfg->trueapi_cdn_url);
  else
    snprintf(out, size, "http://%s:%u", cfg->operator_host, (unsigned)cfg->operator_http_port);
}

void kassa_config_outbox_policy(const kassa_config_t *cfg, outbox_policy_t *p)
{
  outbox_policy_defaults(p);
  p->fn_warn_days = cfg->fn_warn_days;
  p->batch_warn_hours = cfg->batch_warn_hours;
  p->batch_refuse_hours = cfg->batch_refuse_hours;
  p->batch_refuses_marked = cfg->batch_refuses_marked != 0;
  p->batch_applies_online = cfg->batch_applies_online != 0;
}

typedef struct load_ctx {
  kassa_config_t *cfg;
  char dir[KASSA_PATH_MAX];
  char err[256];
} load_ctx_t;

/* dst = value if absolute, else dir/value; 0 when it does not fit. */
static int set_path(load_ctx_t *ctx, char *dst, size_t size, const char *value)
{
  size_t dl = value[0] == '/' ? 0 : strlen(ctx->dir), vl = strlen(value);
  if (dl + 1 + vl + 1 > size) {
    snprintf(ctx->err, sizeof ctx->err, "path too long: %.64s...", value);
    return 0;
  }
  if (dl) {
    memcpy(dst, ctx->dir, dl);
    dst[dl++] = '/';
  }
  memcpy(dst + dl, value, vl + 1);
  return 1;
}

static int set_port(uint16_t *dst, const char *value)
{
  char *end;
  errno = 0;
  long v = strtol(value, &end, 10);
  if (errno || *end || v < 1 || v > 65535) return 0;
  *dst = (uint16_t)v;
  return 1;
}

static int set_uint(uint32_t *dst, const char *value)
{
  char *end;
  errno = 0;
  unsigned long v = strtoul(value, &end, 10);
  if (errno || *end || !*value || value[0] == '-' || v > UINT32_MAX) return 0;
  *dst = (uint32_t)v;
  return 1;
}

static int set_bool(int *dst, const char *value)
{
  static const char *const yes[] = {"1", "yes", "true", "on"}, *const no[] = {"0", "no", "false",
                                                                              "off"};
  for (size_t i = 0; i < 4; i++) {
    if (!strcasecmp(value, yes[i])) return *dst = 1, 1;
    if (!strcasecmp(value, no[i])) return *dst = 0, 1;
  }
  return 0;
}

/* Every key the file may hold: where it goes and what it must look like.
** A key for a later module that is not here is accepted and ignored, so
** one file serves every version of the program. */
typedef enum key_type { KEY_PORT, KEY_UINT, KEY_BOOL, KEY_TEXT, KEY_PATH } key_type_t;

static const struct config_key {
  const char *section, *name;
  key_type_t type;
  size_t offset, size;
  const char *what; /* for the error message */
} config_keys[] = {
#define K(sec, nm, type, field, what)                                                              \
  {                                                                                                \
    sec, nm, type, offsetof(kassa_config_t, field), sizeof(((kassa_config_t *)0)->field), what     \
  }
    K("paths", "data", KEY_PATH, data_dir, "a path"),
    K("paths", "demo_codes", KEY_PATH, demo_codes, "a path"),
    K("paths", "web", KEY_PATH, web_dir, "a path"),
    K("scanner", "device", KEY_TEXT, scanner_device, "a device string"),
    K("service", "http_port", KEY_PORT, http_port, "a port (1-65535)"),
    K("service", "lm_port", KEY_PORT, lm_port, "a port (1-65535)"),
    K("service", "background", KEY_BOOL, background, "yes or no"),
    K("service", "send_interval_s", KEY_UINT, send_interval_s, "seconds"),
    K("service", "sync_interval_min", KEY_UINT, sync_interval_min, "minutes"),
    K("service", "keys_refresh_days", KEY_UINT, keys_refresh_days, "days"),
    K("operator", "ofd_port", KEY_PORT, operator_ofd_port, "a port (1-65535)"),
    K("operator", "oism_port", KEY_PORT, operator_oism_port, "a port (1-65535)"),
    K("operator", "keys_port", KEY_PORT, operator_keys_port, "a port (1-65535)"),
    K("operator", "http_port", KEY_PORT, operator_http_port, "a port (1-65535)"),
    K("operator", "host", KEY_TEXT, operator_host, "a host name"),
    K("till", "check", KEY_TEXT, check_mode, "oism, trueapi, both or offline"),
    K("till", "budget_ms", KEY_UINT, check_budget_ms, "milliseconds"),
    K("till", "cache_stale_hours", KEY_UINT, cache_stale_hours, "hours"),
    K("till", "manager_pin", KEY_TEXT, manager_pin, "a PIN"),
    K("till", "api_token", KEY_TEXT, api_token, "a token"),
    K("till", "force_catalogue", KEY_BOOL, force_catalogue, "yes or no"),
    K("till", "tax_system", KEY_UINT, tax_system, "a tax system bit (1, 2, 4, 16, 32)"),
    K("till", "timezone", KEY_TEXT, timezone, "an IANA time zone (Europe/Moscow)"),
    K("till", "discount_without_pin_percent", KEY_UINT, discount_without_pin_percent,
      "a percentage (0-99)"),
    K("trueapi", "cdn_url", KEY_TEXT, trueapi_cdn_url, "a URL"),
    K("trueapi", "api_key", KEY_TEXT, trueapi_api_key, "a key"),
    K("outbox", "fn_warn_days", KEY_UINT, fn_warn_days, "days"),
    K("outbox", "batch_warn_hours", KEY_UINT, batch_warn_hours, "hours"),
    K("outbox", "batch_refuse_hours", KEY_UINT, batch_refuse_hours, "hours"),
    K("outbox", "batch_refuses_marked", KEY_BOOL, batch_refuses_marked, "yes or no"),
    K("outbox", "batch_applies_online", KEY_BOOL, batch_applies_online, "yes or no"),
    K("ofd", "tls", KEY_BOOL, ofd_tls, "yes or no"),
    K("ofd", "ca_file", KEY_PATH, ofd_ca_file, "a path"),
    K("printer", "device", KEY_TEXT, printer_device, "a device string"),
    K("printer", "width", KEY_UINT, printer_width, "32 or 48"),
    K("printer", "codepage", KEY_UINT, printer_codepage, "a code page number (0-255)"),
    K("till", "price_tolerance_percent", KEY_UINT, price_tolerance_percent, "a percentage"),
    K("till", "price_max_rub", KEY_UINT, price_max_rub, "roubles"),
    K("till", "quantity_max", KEY_UINT, quantity_max, "pieces"),
    K("till", "weight_max_kg", KEY_UINT, weight_max_kg, "kilograms"),
    K("store", "url", KEY_TEXT, store_url, "a URL (http://HOST:PORT)"),
    K("store", "token", KEY_TEXT, store_token, "a token"),
    K("store", "timeout_ms", KEY_UINT, store_timeout_ms, "milliseconds"),
    K("store", "lease_ms", KEY_UINT, store_lease_ms, "milliseconds"),
    K("store", "sync_ms", KEY_UINT, store_sync_ms, "milliseconds"),
    K("store", "offline_refuse", KEY_TEXT, store_offline_refuse, "product groups (tobacco,lp)"),
    K("fn", "backend", KEY_TEXT, fn_backend,
      "emulator, shtrih:tcp:HOST:PORT or shtrih:serial:PORT"),
    K("fn", "password", KEY_UINT, fn_password, "a password (a number)"),
#undef K
};

static int on_entry(void *user, const char *section, const char *name, const char *value)
{
  load_ctx_t *ctx = user;
  for (size_t i = 0; i < sizeof config_keys / sizeof config_keys[0]; i++) {
    const struct config_key *k = &config_keys[i];
    if (strcmp(section, k->section) || strcmp(name, k->name)) continue;
    void *field = (char *)ctx->cfg + k->offset;
    int ok = 0;
    /* Every value is text a person wrote: UTF-8 without control
    ** characters (common/text.h), said with its position, never echoed. */
    size_t at = 0;
    text_fault_t fault = text_check(value, strlen(value), &at);
    if (fault != TEXT_OK) {
      snprintf(ctx->err, sizeof ctx->err, "[%s] %s: %s at byte %zu", section, name,
               text_fault_en(fault), at + 1);
      return 0;
    }
    switch (k->type) {
    case KEY_PORT:
      ok = set_port(field, value);
      break;
    case KEY_UINT:
      ok = set_uint(field, value);
      break;
    case KEY_BOOL:
      ok = set_bool(field, value);
      break;
    case KEY_PATH:
      return set_path(ctx, field, k->size, value);
    case KEY_TEXT:
      ok = strlen(value) < k->size;
      if (ok) memcpy(field, value, strlen(value) + 1);
      break;
    }
    if (ok) return 1;
    snprintf(ctx->err, sizeof ctx->err, "[%s] %s: '%.64s' is not %s", section, name, value,
             k->type == KEY_TEXT ? "short enough" : k->what);
    return 0;
  }
  return 1;
}

int kassa_config_load(kassa_config_t *cfg, const char *path, int required, char *err,
                      size_t err_size)
{
  load_ctx_t ctx = {.cfg = cfg};
  const char *slash = strrchr(path, '/');
  if (slash)
    snprintf(ctx.dir, sizeof ctx.dir, "%.*s", (int)(slash - path), path);
  else
    snprintf(ctx.dir, sizeof ctx.dir, ".");
  FILE *f = fopen(path, "r");
  if (!f) {
    if (!required && errno == ENOENT) return 0;
    snprintf(err, err_size, "cannot read config %s: %s", path, strerror(errno));
    return -1;
  }
  /* Defaults relative to the config's folder unless the file says else. */
  set_path(&ctx, cfg->demo_codes, sizeof cfg->demo_codes, "demo-codes.txt");
  /* The pages ship in the source tree beside config/: ../pos/serve/web. */
  set_path(&ctx, cfg->web_dir, sizeof cfg->web_dir, "../pos/serve/web");
  int line = ini_parse_file(f, on_entry, &ctx);
  fclose(f);
  if (line != 0) {
    snprintf(err, err_size, "%s:%d: %s", path, line, ctx.err[0] ? ctx.err : "syntax error");
    return -1;
  }
  snprintf(cfg->config_path, sizeof cfg->config_path, "%s", path);
  return 0;
}

int kassa_config_apply_timezone(const kassa_config_t *cfg, char *err, size_t err_size)
{
  char path[128];
  struct stat sb;
  const char *tz = cfg->timezone;
  if (!tz[0]) return 0;
  /* A zone name, not a path: letters, digits, '_', '-', '+', '/' between
  ** parts, never "..". */
  bool ok = tz[0] != '/' && !strstr(tz, "..");
  for (const char *c = tz; ok && *c; c++) ok = isalnum((unsigned char)*c) || strchr("_-+/", *c);
  snprintf(path, sizeof path, "/usr/share/zoneinfo/%s", tz);
  if (!ok || stat(path, &sb) != 0 || !S_ISREG(sb.st_mode)) {
    snprintf(err, err_size, "[till] timezone: '%s' is not a time zone this system knows", tz);
    return -1;
  }
  if (setenv("TZ", tz, 1) != 0) {
    snprintf(err, err_size, "[till] timezone: cannot set TZ");
    return -1;
  }
  tzset();
  return 0;
}
