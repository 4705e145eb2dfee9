# install.cmake: what `cmake --install` (and so the Debian package, `make
# deb`) puts where, with GNUInstallDirs. Included from the top-level
# CMakeLists.txt after the programs are defined.
#
#   bin/kassa, bin/kassa-operator     the programs
#   share/kassa/web/                  the cashier and manager pages
#   share/kassa/{catalogue.csv,demo-codes.txt}   the demo's files
#   SYSCONFDIR/kassa/kassa.conf       the settings (0640; group kassa when
#                                     it exists; the package's postinst
#                                     sets it and fresh secrets)
#   LOCALSTATEDIR/lib/kassa/          the data directory (0700)
#   /lib/systemd/system/kassa.service, kassa-operator.service
#   /lib/udev/rules.d/60-kassa.rules  scanners and printers for group kassa
#   share/man/man1/kassa.1, kassa-operator.1, man5/kassa.conf.5 (scdoc)
#
# With the prefix /usr, GNUInstallDirs makes SYSCONFDIR /etc and
# LOCALSTATEDIR /var, so the compiled-in default config
# (common/version.h.in) is /etc/kassa/kassa.conf.

set(KASSA_DATA_DIR "${CMAKE_INSTALL_FULL_LOCALSTATEDIR}/lib/kassa")
set(KASSA_CONFIG_FILE "${CMAKE_INSTALL_FULL_SYSCONFDIR}/kassa/kassa.conf")
set(KASSA_SHARE_DIR "${CMAKE_INSTALL_FULL_DATADIR}/kassa")
if(CMAKE_INSTALL_PREFIX STREQUAL "/usr")
  set(_kassa_lib_root "/lib") # Debian 12: units and rules under /lib
else()
  set(_kassa_lib_root "${CMAKE_INSTALL_PREFIX}/lib")
endif()
set(KASSA_SYSTEMD_UNIT_DIR "${_kassa_lib_root}/systemd/system"
    CACHE PATH "Where the systemd units are installed")
set(KASSA_UDEV_RULES_DIR "${_kassa_lib_root}/udev/rules.d"
    CACHE PATH "Where the udev rules are installed")

install(TARGETS kassa kassa-operator RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(DIRECTORY pos/serve/web/ DESTINATION ${CMAKE_INSTALL_DATADIR}/kassa/web
        FILE_PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
install(FILES config/catalogue.csv config/demo-codes.txt
        DESTINATION ${CMAKE_INSTALL_DATADIR}/kassa)

# The installed settings: the annotated config/kassa.conf with the paths
# of an installed till.
file(READ ${PROJECT_SOURCE_DIR}/config/kassa.conf _kassa_conf)
string(REPLACE "data = /var/lib/kassa" "data = ${KASSA_DATA_DIR}" _kassa_conf "${_kassa_conf}")
string(REPLACE "demo_codes = demo-codes.txt" "demo_codes = ${KASSA_SHARE_DIR}/demo-codes.txt"
               _kassa_conf "${_kassa_conf}")
string(REPLACE "web = ../pos/serve/web" "web = ${KASSA_SHARE_DIR}/web" _kassa_conf
               "${_kassa_conf}")
file(WRITE ${PROJECT_BINARY_DIR}/dist/kassa.conf "${_kassa_conf}")
install(FILES ${PROJECT_BINARY_DIR}/dist/kassa.conf
        DESTINATION ${CMAKE_INSTALL_SYSCONFDIR}/kassa
        PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ)
install(CODE "
  if(NOT DEFINED ENV{DESTDIR} OR \"\$ENV{DESTDIR}\" STREQUAL \"\")
    execute_process(COMMAND getent group kassa RESULT_VARIABLE _no_group OUTPUT_QUIET)
    if(_no_group EQUAL 0)
      execute_process(COMMAND chgrp kassa \"${KASSA_CONFIG_FILE}\")
    endif()
  endif()")

install(DIRECTORY DESTINATION ${KASSA_DATA_DIR}
        DIRECTORY_PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE)

configure_file(dist/systemd/kassa.service.in ${PROJECT_BINARY_DIR}/dist/kassa.service @ONLY)
configure_file(dist/systemd/kassa-operator.service.in
               ${PROJECT_BINARY_DIR}/dist/kassa-operator.service @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/dist/kassa.service
              ${PROJECT_BINARY_DIR}/dist/kassa-operator.service
        DESTINATION ${KASSA_SYSTEMD_UNIT_DIR})
install(FILES dist/udev/60-kassa.rules DESTINATION ${KASSA_UDEV_RULES_DIR})

# Man pages from scdoc sources (dist/man/*.scd).
find_program(SCDOC scdoc)
if(SCDOC)
  set(_kassa_man "")
  foreach(page kassa.1 kassa-operator.1 kassa.conf.5)
    string(REGEX REPLACE ".*\\.([0-9])$" "\\1" section ${page})
    add_custom_command(
      OUTPUT ${PROJECT_BINARY_DIR}/man/${page}
      COMMAND ${CMAKE_COMMAND} -E make_directory ${PROJECT_BINARY_DIR}/man
      COMMAND sh -c "\"$0\" < \"$1\" > \"$2\"" ${SCDOC}
              ${PROJECT_SOURCE_DIR}/dist/man/${page}.scd ${PROJECT_BINARY_DIR}/man/${page}
      DEPENDS ${PROJECT_SOURCE_DIR}/dist/man/${page}.scd
      COMMENT "scdoc ${page}"
      VERBATIM)
    list(APPEND _kassa_man ${PROJECT_BINARY_DIR}/man/${page})
    install(FILES ${PROJECT_BINARY_DIR}/man/${page} DESTINATION ${CMAKE_INSTALL_MANDIR}/man${section})
  endforeach()
  add_custom_target(kassa_man ALL DEPENDS ${_kassa_man})
else()
  message(STATUS "scdoc not found: the man pages are neither built nor installed")
endif()
