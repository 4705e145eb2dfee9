/*
** paths.c: the default configuration file (see paths.h).
*/
#include "common/paths.h"

#include <limits.h>
#include <string.h>
#include <unistd.h>

#include "common/version.h"

bool kassa_running_from_build_tree(void)
{
  char exe[PATH_MAX];
  if (!KASSA_BUILD_DIR[0]) return false; /* configured without a build-tree default */
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n <= 0) return false;
  exe[n] = '\0';
  char *slash = strrchr(exe, '/');
  if (!slash) return false;
  *slash = '\0';
  return strcmp(exe, KASSA_BUILD_DIR) == 0;
}

const char *kassa_default_config(void)
{
  return kassa_running_from_build_tree() ? KASSA_SOURCE_CONFIG : KASSA_INSTALLED_CONFIG;
}
