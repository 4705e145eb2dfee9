#!/usr/bin/env bash
# The dependency rule, checked: pos -> {scanner, fiscal, ofd}, ofd -> fiscal,
# scanner and fiscal include no other module. Run from the source root.
set -euo pipefail
fail=0
check() { # module, forbidden modules...
  local mod=$1; shift
  for bad in "$@"; do
    if grep -rnE "#include +\"$bad/" "$mod" --include='*.[ch]'; then
      echo "layering: $mod must not include $bad/" >&2; fail=1
    fi
  done
}
check scanner fiscal ofd pos
check fiscal scanner ofd pos
check ofd scanner pos
[ $fail -eq 0 ] && echo "layering: 1 passed, 0 failed"
exit $fail
