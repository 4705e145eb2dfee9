/*
** config.c: built-in defaults and the INI reader (inih) for kassa.conf.
*/
#include "pos/config.h"

#include <errno.h>
#include <stddef.h>
#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void kassa_config_defaults(kassa_config_t *cfg)
{
  memset(cfg, 0, sizeof *cfg);
  snprintf(cfg->data_dir, sizeof cfg->data_dir, "%s", "/var/lib/kassa");
  snprintf(cfg->demo_codes, sizeof cfg->demo_codes, "%s", "demo-codes.txt");
  cfg->http_port = 8780;
  cfg->lm_port = 5995;
  cfg->operator_ofd_port = 7790;
  cfg->operator_oism_port = 7791;
  cfg->operator_keys_port = 7792;
  cfg->operator_http_port = 7793;
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

static int on_entry(void *user, const char *section, const char *name, const char *value)
{
  load_ctx_t *ctx = user;
  kassa_config_t *c = ctx->cfg;
  static const struct {
    const char *section, *name;
    size_t offset;
  } ports[] = {
      {"service", "http_port", offsetof(kassa_config_t, http_port)},
      {"service", "lm_port", offsetof(kassa_config_t, lm_port)},
      {"operator", "ofd_port", offsetof(kassa_config_t, operator_ofd_port)},
      {"operator", "oism_port", offsetof(kassa_config_t, operator_oism_port)},
      {"operator", "keys_port", offsetof(kassa_config_t, operator_keys_port)},
      {"operator", "http_port", offsetof(kassa_config_t, operator_http_port)},
  };
  for (size_t i = 0; i < sizeof ports / sizeof ports[0]; i++) {
    if (strcmp(section, ports[i].section) || strcmp(name, ports[i].name)) continue;
    if (set_port((uint16_t *)(void *)((char *)c + ports[i].offset), value)) return 1;
    snprintf(ctx->err, sizeof ctx->err, "[%s] %s: '%s' is not a port (1-65535)", section, name,
             value);
    return 0;
  }
  if (!strcmp(section, "paths") && !strcmp(name, "data"))
    return set_path(ctx, c->data_dir, sizeof c->data_dir, value);
  if (!strcmp(section, "scanner") && !strcmp(name, "device")) {
    if (strlen(value) >= sizeof c->scanner_device) {
      snprintf(ctx->err, sizeof ctx->err, "[scanner] device is too long");
      return 0;
    }
    snprintf(c->scanner_device, sizeof c->scanner_device, "%s", value);
    return 1;
  }
  if (!strcmp(section, "paths") && !strcmp(name, "demo_codes"))
    return set_path(ctx, c->demo_codes, sizeof c->demo_codes, value);
  /* Keys for later modules are accepted and ignored here, so one file
  ** serves every version of the program. */
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
  int line = ini_parse_file(f, on_entry, &ctx);
  fclose(f);
  if (line != 0) {
    snprintf(err, err_size, "%s:%d: %s", path, line, ctx.err[0] ? ctx.err : "syntax error");
    return -1;
  }
  snprintf(cfg->config_path, sizeof cfg->config_path, "%s", path);
  return 0;
}
