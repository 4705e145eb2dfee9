# scanner: the marking-code engine, the keyboard layout, the transports.
kassa_unit_test(test_markcode SOURCES unit/test_markcode.c LIBS kassa_scanner)
set_tests_properties(test_markcode PROPERTIES TIMEOUT 60)
kassa_fuzz_target(fuzz_markcode SOURCE fuzz/fuzz_markcode.c LIBS kassa_scanner
                  CORPUS ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/corpus/markcode)

# scanner transport tests: the framer alone, and the fd backend driven
# through pseudo-terminals (a writer thread plays the scanner).
find_package(Threads REQUIRED)
kassa_unit_test(test_transport_fd SOURCES unit/test_transport_fd.c LIBS kassa_scanner)
target_link_libraries(test_transport_fd PRIVATE Threads::Threads)
set_tests_properties(test_transport_fd PROPERTIES TIMEOUT 60)

# HID-POS over USB: the report assembler, then the libusb backend against a
# scanner emulated by umockdev (described device + scripted interrupt
# transfers + hotplug uevents). The test process must be started by
# umockdev-wrapper, which preloads umockdev's /sys, /dev and ioctl emulation.
pkg_check_modules(UMOCKDEV REQUIRED IMPORTED_TARGET umockdev-1.0)
find_program(UMOCKDEV_WRAPPER umockdev-wrapper REQUIRED)
# A transport test run under umockdev-wrapper (tests/unit/test_transport_testbed.h).
function(kassa_umockdev_test name)
  add_executable(${name} unit/${name}.c)
  target_link_libraries(${name} PRIVATE kassa_scanner PkgConfig::UMOCKDEV PkgConfig::CMOCKA)
  add_test(NAME ${name} COMMAND ${UMOCKDEV_WRAPPER} $<TARGET_FILE:${name}>
           WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
  # The preload library comes before the sanitizer runtime; tell ASan that is fine.
  set_tests_properties(${name} PROPERTIES TIMEOUT 60
                       ENVIRONMENT "ASAN_OPTIONS=verify_asan_link_order=0")
endfunction()
kassa_umockdev_test(test_transport_hidpos)

# Pictures: zint (Debian) and libdmtx's encoder make GS1 DataMatrix,
# DataMatrix and EAN-13 images at several scales and rotations; every code
# must decode to the same normalised marking code.
find_program(ZINT_PROGRAM zint REQUIRED)
kassa_unit_test(test_image SOURCES unit/test_image.c LIBS kassa_scanner m PkgConfig::JANSSON)
target_compile_definitions(test_image PRIVATE ZINT_PROGRAM="${ZINT_PROGRAM}")
set_tests_properties(test_image PROPERTIES TIMEOUT 120)

# Keyboard wedge: a pty plays the keyboard, with a scanner's and a person's
# timing, under a (simulated) Russian layout.
kassa_unit_test(test_transport_wedge SOURCES unit/test_transport_wedge.c LIBS kassa_scanner)
target_link_libraries(test_transport_wedge PRIVATE Threads::Threads)
set_tests_properties(test_transport_wedge PROPERTIES TIMEOUT 60)

# Serial ports: matching and device strings on plain data, then
# libserialport's enumeration and the backend end to end against a USB
# CDC-ACM scanner emulated by umockdev (its tty is a pty).
kassa_umockdev_test(test_transport_serial)

# `kassa scan` end to end: pictures, a FIFO, the wedge on stdin, and the
# HID-POS scanner under umockdev-run.
find_program(UMOCKDEV_RUN umockdev-run REQUIRED)
add_test(NAME cli_scan COMMAND python3 ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_cli_scan.py
                               $<TARGET_FILE:kassa>
         WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
set_tests_properties(cli_scan PROPERTIES TIMEOUT 120
                     ENVIRONMENT "ASAN_OPTIONS=verify_asan_link_order=0")
