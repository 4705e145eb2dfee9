/*
** paths.h: where an installed kassa, or one run from its build directory,
** finds its default configuration file.
**
** An installed `kassa` reads /etc/kassa/kassa.conf (the configure-time
** CMAKE_INSTALL_FULL_SYSCONFDIR); the same program run from the build
** directory it was built in reads the source tree's config/kassa.conf, so a
** checkout works without --config and without an installed copy getting in
** the way. Both are chosen at configure time (common/version.h.in).
*/
#ifndef KASSA_COMMON_PATHS_H
#define KASSA_COMMON_PATHS_H

#include <stdbool.h>

/*
** The configuration file to read when no --config was given: the source
** tree's when the running executable lies directly in the build directory
** (KASSA_BUILD_DIR, read through /proc/self/exe), else the installed one.
** Never NULL; a static string.
*/
const char *kassa_default_config(void);

/* true when the running program is the build directory's (as above). */
bool kassa_running_from_build_tree(void);

#endif /* KASSA_COMMON_PATHS_H */
