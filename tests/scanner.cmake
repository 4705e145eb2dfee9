# scanner: the marking-code engine, the keyboard layout, the transports.
kassa_unit_test(test_markcode SOURCES unit/test_markcode.c LIBS kassa_scanner)
kassa_fuzz_target(fuzz_markcode SOURCE fuzz/fuzz_markcode.c LIBS kassa_scanner
                  CORPUS ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/corpus/markcode)

# scanner transport tests: the framer alone, and the fd backend driven
# through pseudo-terminals (a writer thread plays the scanner).
find_package(Threads REQUIRED)
kassa_unit_test(test_transport_fd SOURCES unit/test_transport_fd.c LIBS kassa_scanner)
target_link_libraries(test_transport_fd PRIVATE Threads::Threads)
set_tests_properties(test_transport_fd PROPERTIES TIMEOUT 60)
