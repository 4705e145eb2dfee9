# ofd module tests (included from tests/CMakeLists.txt).
kassa_unit_test(test_frame SOURCES unit/test_frame.c LIBS kassa_ofd)
kassa_fuzz_target(fuzz_frame SOURCE fuzz/fuzz_frame.c LIBS kassa_ofd
                  CORPUS ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/corpus/frame)
kassa_unit_test(test_keys SOURCES unit/test_keys.c LIBS kassa_ofd)
# The sync feed's pages as the till reads them (ofd/registry.h).
kassa_unit_test(test_registry SOURCES unit/test_registry.c LIBS kassa_ofd)
# Delivery (ofd/client.h) against an in-test operator thread, and the outbox.
find_package(Threads REQUIRED)
kassa_unit_test(test_client SOURCES unit/test_client.c LIBS kassa_ofd kassa_test_support Threads::Threads)
kassa_unit_test(test_outbox SOURCES unit/test_outbox.c LIBS kassa_ofd kassa_test_support)
# kassa-operator's store transactions nest (its group commit; store.h).
kassa_unit_test(test_store SOURCES unit/test_store.c ${PROJECT_SOURCE_DIR}/ofd/emulator/store.c
                LIBS kassa_common PkgConfig::SQLITE)
# kassa-operator end to end: real FN (test_operator_fn), real sockets.
add_executable(test_operator_fn integration/test_operator_fn.c)
target_link_libraries(test_operator_fn PRIVATE kassa_ofd kassa_fiscal)
target_link_libraries(test_operator_fn PRIVATE kassa_test_support)
add_test(NAME operator COMMAND python3 ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_operator.py
                               $<TARGET_FILE:kassa-operator> $<TARGET_FILE:test_operator_fn>
                               $<TARGET_FILE:kassa>
         WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
set_tests_properties(operator PROPERTIES TIMEOUT 90)
# Issue 4's end-to-end proofs (label e2e): the till (e2e_till: a real FN,
# ofd/client.c) against kassa-operator on loopback. 1 000 receipts with
# marked lines delivered and sold once; then every --fault mode in turn.
add_executable(e2e_till integration/e2e_till.c)
target_link_libraries(e2e_till PRIVATE kassa_ofd kassa_fiscal)
target_link_libraries(e2e_till PRIVATE kassa_test_support)
add_test(NAME e2e_delivery
         COMMAND python3 ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_e2e_delivery.py
                 $<TARGET_FILE:kassa-operator> $<TARGET_FILE:e2e_till> $<TARGET_FILE:kassa>
         WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
set_tests_properties(e2e_delivery PROPERTIES LABELS e2e TIMEOUT 300)
add_test(NAME e2e_delivery_faults
         COMMAND python3 ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_delivery_faults.py
                 $<TARGET_FILE:kassa-operator> $<TARGET_FILE:e2e_till> $<TARGET_FILE:kassa>
         WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
set_tests_properties(e2e_delivery_faults PROPERTIES LABELS e2e TIMEOUT 300)
# The link-chaos harness (issue 8): flushes through proxies that drop,
# delay, truncate, duplicate and corrupt; short here, long in `make chaos`.
add_test(NAME e2e_chaos
         COMMAND python3 ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_chaos.py
                 $<TARGET_FILE:kassa-operator> $<TARGET_FILE:e2e_till> $<TARGET_FILE:kassa>
                 80 8)
set_tests_properties(e2e_chaos PROPERTIES LABELS e2e TIMEOUT 300)
# The windowed flush killed (issue 8): `kassa ofd flush` SIGKILLed 24 times
# (and kassa-operator now and then) until the outbox is empty; then each
# document stored once, byte-identical, nothing owed. `make crash`: N kills.
add_test(NAME flush_kill
         COMMAND python3 ${CMAKE_CURRENT_SOURCE_DIR}/crash/flush_kill.py
                 $<TARGET_FILE:kassa-operator> $<TARGET_FILE:e2e_till> $<TARGET_FILE:kassa> 24
         WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
set_tests_properties(flush_kill PROPERTIES LABELS crash TIMEOUT 300)
# Permissive mode (ofd/trueapi.h): the deny order from JSON alone, then
# end to end against kassa-operator's HTTP port with a dead and a slow host.
kassa_unit_test(test_trueapi_verdict SOURCES unit/test_trueapi_verdict.c LIBS kassa_ofd)
add_executable(test_trueapi_driver integration/test_trueapi_driver.c)
target_link_libraries(test_trueapi_driver PRIVATE kassa_ofd PkgConfig::JANSSON)
add_test(NAME trueapi COMMAND python3 ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_trueapi.py
                              $<TARGET_FILE:kassa-operator> $<TARGET_FILE:test_trueapi_driver>
         WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
set_tests_properties(trueapi PROPERTIES TIMEOUT 90)
# Remote shops (ofd/batch.h): the batch file built, parsed, verified and
# refused when altered; the FN's export mark and the outbox's 3-day clock.
kassa_unit_test(test_batch SOURCES unit/test_batch.c LIBS kassa_ofd kassa_test_support)
# Issue 4, Done-when 3: a remote shop's four days on an injected clock
# (KASSA_FAKE_NOW): warning at 48 h, refusal at 72 h, export and upload.
add_executable(remote_till integration/remote_till.c)
target_link_libraries(remote_till PRIVATE kassa_ofd kassa_fiscal)
target_link_libraries(remote_till PRIVATE kassa_test_support)
add_test(NAME remote_shop
         COMMAND python3 ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_remote_shop.py
                 $<TARGET_FILE:kassa> $<TARGET_FILE:kassa-operator> $<TARGET_FILE:remote_till>
         WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
set_tests_properties(remote_shop PROPERTIES LABELS e2e TIMEOUT 180)
# TLS on the frame links: kassa ofd flush|keys against kassa-operator
# --tls-cert/--tls-key with certificates made by the openssl CLI.
kassa_till_test(tls integration/test_tls.py 120)
kassa_fuzz_target(fuzz_batch SOURCE fuzz/fuzz_batch.c LIBS kassa_ofd
                  CORPUS ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/corpus/batch)
