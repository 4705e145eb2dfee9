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

#define KASSA_PATH_MAX 1024

typedef struct kassa_config {
  char config_path[KASSA_PATH_MAX]; /* the file read, or "" for built-ins */
  char data_dir[KASSA_PATH_MAX];    /* [paths] data                        */
  char demo_codes[KASSA_PATH_MAX];  /* [paths] demo_codes                  */
  char scanner_device[256];         /* [scanner] device, e.g. serial:/dev/ttyACM0 */
  uint16_t http_port;               /* [service] http_port                 */
  uint16_t lm_port;                 /* [service] lm_port                   */
  uint16_t operator_ofd_port;       /* [operator] ofd_port                 */
  uint16_t operator_oism_port;      /* [operator] oism_port                */
  uint16_t operator_keys_port;      /* [operator] keys_port                */
  uint16_t operator_http_port;      /* [operator] http_port                */
} kassa_config_t;

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

#endif
