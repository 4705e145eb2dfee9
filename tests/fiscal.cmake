# fiscal: unit tests and fuzz targets (included from tests/CMakeLists.txt).
kassa_unit_test(test_tlv SOURCES unit/test_tlv.c LIBS kassa_fiscal)
kassa_unit_test(test_crypto SOURCES unit/test_crypto.c LIBS kassa_fiscal)
kassa_unit_test(test_doc SOURCES unit/test_doc.c LIBS kassa_fiscal)
kassa_unit_test(test_fn_emu SOURCES unit/test_fn_emu.c LIBS kassa_test_support)

kassa_fuzz_target(fuzz_tlv SOURCE fuzz/fuzz_tlv.c LIBS kassa_fiscal
                  CORPUS ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/corpus/tlv)
# The document readers kassa-operator and fsck use (issue 16): seeds are
# sealed documents of an emulated FN (receipts, corrections, X, Z).
kassa_fuzz_target(fuzz_doc SOURCE fuzz/fuzz_doc.c LIBS kassa_fiscal
                  CORPUS ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/corpus/doc)

# The kill loop: fn_storm writes receipts into an emulated FN, fn_crash
# SIGKILLs it at random moments (200 times here) and audits the archive:
# numbers contiguous and unique, every fiscal sign valid, notifications
# complete. Label "crash"; `ctest -L crash` runs it alone.
add_executable(fn_storm crash/fn_storm.c)
target_link_libraries(fn_storm PRIVATE kassa_test_support)
add_executable(fn_crash crash/fn_crash.c)
target_link_libraries(fn_crash PRIVATE kassa_fiscal)
target_link_libraries(fn_crash PRIVATE kassa_test_support)
add_test(NAME fn_crash COMMAND fn_crash $<TARGET_FILE:fn_storm> 200)
set_tests_properties(fn_crash PROPERTIES LABELS crash TIMEOUT 240)
# The FN's export for remote shops (fn_notification_next_after,
# fn_notifications_exported, fn_sign_blob), the schema upgrade, KASSA_FAKE_NOW.
kassa_unit_test(test_fn_export SOURCES unit/test_fn_export.c LIBS kassa_test_support)
