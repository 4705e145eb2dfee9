/*
** config.h: the settings every `kassa` command starts from.
**
** Values come, in order of precedence, from the command line (--data), the
** environment (KASSA_DATA), the config file (--config, default
** config/kassa.conf), and the defaults built into the program, so `kassa`
** runs with no file at all. The file is INI (read with inih); every key is
** documented in config/kassa.conf.
*/
#ifndef KASSA_POS_CONFIG_H
#define KASSA_POS_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "ofd/outbox.h"

#define KASSA_PATH_MAX 1024

typedef struct kassa_config {
  char config_path[KASSA_PATH_MAX]; /* the file read, or "" for built-ins */
  char data_dir[KASSA_PATH_MAX];    /* [paths] data                        */
  char demo_codes[KASSA_PATH_MAX];  /* [paths] demo_codes                  */
  char web_dir[KASSA_PATH_MAX];     /* [paths] web: the pages (pos/serve/web); "": none */
  char scanner_device[256];         /* [scanner] device, e.g. serial:/dev/ttyACM0 */
  uint16_t http_port;               /* [service] http_port                 */
  uint16_t lm_port;                 /* [service] lm_port                   */
  /* [service]: the background work of `kassa serve` (pos/serve/background.h). */
  int background;              /* [service] background (1): deliver, sync and update keys */
  uint32_t send_interval_s;    /* [service] send_interval_s (30): look for owed items */
  uint32_t sync_interval_min;  /* [service] sync_interval_min (60): cache sync; 0 off */
  uint32_t keys_refresh_days;  /* [service] keys_refresh_days (60): key update; 0 off */
  uint16_t operator_ofd_port;  /* [operator] ofd_port                 */
  uint16_t operator_oism_port; /* [operator] oism_port                */
  uint16_t operator_keys_port; /* [operator] keys_port                */
  uint16_t operator_http_port; /* [operator] http_port                */
  char operator_host[256];     /* [operator] host (127.0.0.1)          */
  /* [till]: the checkout's decisions and the service's secrets. */
  char check_mode[16];        /* [till] check: oism | trueapi | both | offline */
  uint32_t check_budget_ms;   /* [till] budget_ms: operator check budget (1500) */
  uint32_t cache_stale_hours; /* [till] cache_stale_hours (72)          */
  char manager_pin[32];       /* [till] manager_pin ("": manager actions refused) */
  uint32_t tax_system;        /* [till] tax_system: 1055, one bit of the registered mask (1) */
  char timezone[64];    /* [till] timezone: an IANA zone ("Europe/Moscow"); "": the machine's */
  char api_token[128];  /* [till] api_token ("": the API needs no token) */
  bool force_catalogue; /* [till] force_catalogue: the catalogue's name, price, VAT win over
                           a front end's in a receipt in one call (no) */
  uint32_t discount_without_pin_percent; /* [till] discount_without_pin_percent (10): above it
                                            a line's discount needs the manager PIN */
  /* [trueapi]: the permissive-mode online check. */
  char trueapi_cdn_url[256]; /* [trueapi] cdn_url ("": http://host:http_port) */
  char trueapi_api_key[128]; /* [trueapi] api_key                      */
  /* [outbox]: the delivery deadlines (ofd/outbox.h has their meaning). */
  uint32_t fn_warn_days;       /* [outbox] fn_warn_days (25)             */
  uint32_t batch_warn_hours;   /* [outbox] batch_warn_hours (48)         */
  uint32_t batch_refuse_hours; /* [outbox] batch_refuse_hours (72)       */
  int batch_refuses_marked;    /* [outbox] batch_refuses_marked (1)      */
  int batch_applies_online;    /* [outbox] batch_applies_online (0)      */
  /* [ofd]: the links to the OFD, OISM and key server. */
  int ofd_tls;                      /* [ofd] tls (0): TLS on the frame links */
  char ofd_ca_file[KASSA_PATH_MAX]; /* [ofd] ca_file ("": the system's CAs) */
  /* [printer]: the receipt printer (pos/print/print.h). */
  char printer_device[256];  /* [printer] device ("": none), e.g. usb:0416:5011 */
  uint32_t printer_width;    /* [printer] width: 32 (58 mm) or 48 (80 mm) (48) */
  uint32_t printer_codepage; /* [printer] codepage: ESC t n of PC866 (17) */
  /* [till] money limits (issue 18, pos/till/money.h). */
  uint32_t price_tolerance_percent; /* [till] price_tolerance_percent (0): beyond, the PIN */
  uint32_t price_max_rub;           /* [till] price_max_rub (1000000): a unit's price */
  uint32_t quantity_max;            /* [till] quantity_max (999): pieces in one line */
  uint32_t weight_max_kg;           /* [till] weight_max_kg (100): a weighed line */
  /* [store]: the store node the lanes share (store/store.h); "" url: none,
  ** the till decides alone as it always did. */
  char store_url[256];       /* [store] url: http://HOST:PORT of `kassa store serve` */
  char store_token[160];     /* [store] token: the node's bearer token */
  uint32_t store_timeout_ms; /* [store] timeout_ms (150): then the lane decides alone */
  uint32_t store_lease_ms;   /* [store] lease_ms (120000): a basket's claim lives this long */
  uint32_t store_sync_ms;    /* [store] sync_ms (1000): kassa serve syncs its cache from the node */
  char store_offline_refuse[128]; /* [store] offline_refuse ("tobacco"): groups refused offline */
  /* [fn]: which FN the till drives (device/fn_shtrih.h, issue 22). */
  char fn_backend[256]; /* [fn] backend: emulator | shtrih:tcp:HOST:PORT | shtrih:serial:PORT[@BAUD]
                         */
  uint32_t fn_password; /* [fn] password: the register's administrator password (30) */
} kassa_config_t;

/* The operator's HTTP base (true-api, the code feed, remarks, batches):
** [trueapi] cdn_url when set, else http://[operator] host:http_port. */
void kassa_config_operator_url(const kassa_config_t *cfg, char *out, size_t size);

/* The delivery deadlines of the [outbox] section as the outbox takes them. */
void kassa_config_outbox_policy(const kassa_config_t *cfg, outbox_policy_t *p);

/* Fill cfg with the built-in defaults. */
void kassa_config_defaults(kassa_config_t *cfg);

/*
** Read the INI file at path over cfg. Relative paths inside the file are
** taken relative to the file's folder. When `required` is 0 a missing file
** is not an error (the built-in defaults stand). Returns 0, or -1 with a
** message in err (line number included for syntax errors).
*/
int kassa_config_load(kassa_config_t *cfg, const char *path, int required, char *err,
                      size_t err_size);

/*
** Makes [till] timezone the process's local zone (TZ), so the FN's clock
** (local time written as if UTC, 1012), its 1011 and the printed times are
** the register's, whatever the machine is set to; "" keeps the machine's.
** -1 with the reason in err when the zone is not a name the system knows
** (its file under /usr/share/zoneinfo), else 0.
*/
int kassa_config_apply_timezone(const kassa_config_t *cfg, char *err, size_t err_size);

#endif