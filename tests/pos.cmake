# pos: the samples through the engine, and the `kassa` command line.
kassa_unit_test(test_samples SOURCES unit/test_samples.c LIBS kassa_pos)
set_tests_properties(test_samples PROPERTIES TIMEOUT 60)
kassa_unit_test(test_markcode_json SOURCES unit/test_markcode_json.c LIBS kassa_pos)
set_tests_properties(test_markcode_json PROPERTIES TIMEOUT 120)
kassa_unit_test(test_cli_args SOURCES unit/test_cli_args.c LIBS kassa_pos)
kassa_unit_test(test_fiscal_text SOURCES unit/test_fiscal_text.c LIBS kassa_pos)
# What a person reads: every check reason in both languages within the budget
# of each place it is read in; messages joined whole, never cut (issue 23).
kassa_unit_test(test_reasons SOURCES unit/test_reasons.c LIBS kassa_pos)
# The code cache (pos/till/cache.h): every contract, against a real SQLite file.
kassa_unit_test(test_cache SOURCES unit/test_cache.c LIBS kassa_pos PkgConfig::SQLITE)
# Its kill loop: a writer applying receipts and sync pages is SIGKILLed 60
# times; after each kill every receipt and page is whole (label crash).
add_executable(cache_crash crash/cache_crash.c)
target_link_libraries(cache_crash PRIVATE kassa_pos kassa_test_support) # fn_fixture_fail
add_test(NAME cache_crash COMMAND cache_crash 60)
set_tests_properties(cache_crash PROPERTIES LABELS crash TIMEOUT 240)
# `kassa cache` against kassa-operator's sync feed: the operator's truth,
# increments, remarking, kill-and-resume of a 20 000-code sync.
kassa_till_test(cli_cache integration/test_cli_cache.py 180)
# A throw-away till (registered FN, cache, basket, hand-moved clocks) shared
# by test_till and test_print (tests/support/till_fixture.h).
add_library(kassa_till_fixture STATIC support/till_fixture.c)
target_link_libraries(kassa_till_fixture PUBLIC kassa_pos kassa_test_support)
kassa_unit_test(test_till SOURCES unit/test_till.c LIBS kassa_pos kassa_till_fixture)
# A power cut that takes the basket's and the cache's unflushed commits (issue 20).
kassa_unit_test(test_power_cut SOURCES unit/test_power_cut.c LIBS kassa_pos kassa_till_fixture)
set_tests_properties(test_power_cut PROPERTIES TIMEOUT 60)
# A receipt in one call, the keys of safe retries and the local module's
# sold-goods table on the same register, without a network.
kassa_unit_test(test_full_receipt SOURCES unit/test_full_receipt.c
                LIBS kassa_pos kassa_till_fixture)
# Goods acceptance (pos/till/accept.h): UTD and list import, comparison, the
# decision against a real cache; `kassa accept` end to end; the UTD fuzzer.
kassa_unit_test(test_accept SOURCES unit/test_accept.c LIBS kassa_pos)
add_test(NAME cli_accept COMMAND python3 ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_cli_accept.py
                                 $<TARGET_FILE:kassa>
         WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
kassa_fuzz_target(fuzz_utd SOURCE fuzz/fuzz_utd.c LIBS kassa_pos
                  CORPUS ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/corpus/utd)
# `kassa code parse`'s direct JSON writer against jansson's output (issue 20).
kassa_fuzz_target(fuzz_markcode_json SOURCE fuzz/fuzz_markcode_json.c LIBS kassa_pos
                  CORPUS ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/corpus/markcode)
# Remarking labels (pos/print/label.h) read back by scanner/image.h.
kassa_unit_test(test_label SOURCES unit/test_label.c LIBS kassa_pos m)
set_tests_properties(test_label PROPERTIES TIMEOUT 120)
add_test(NAME cli_code COMMAND python3 ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_cli_code.py
                                $<TARGET_FILE:kassa>
         WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
# --help on every command and subcommand of kassa and kassa-operator: usage, exit 0.
kassa_till_test(cli_help integration/test_cli_help.py 120)
# What `kassa sale` says is true: keys never loaded vs older than 90 days, the
# remote shop's 48-hour warning with the true hours left, the 72-hour refusal
# whole (issue 23).
kassa_till_test(cli_messages integration/test_cli_messages.py 180)
add_test(NAME cli_demo_codes COMMAND $<TARGET_FILE:kassa> demo codes
         WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
# The store day: kassa-operator as a child, every step must behave.
add_test(NAME cli_demo COMMAND $<TARGET_FILE:kassa> demo WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
set_tests_properties(cli_demo PROPERTIES
                     ENVIRONMENT "KASSA_OPERATOR=$<TARGET_FILE:kassa-operator>" TIMEOUT 120)
add_test(NAME cli_fiscal COMMAND python3 ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_cli_fiscal.py
                                  $<TARGET_FILE:kassa> $<TARGET_FILE:fn_storm>
         WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
# kassa report x|z, cash in|out, correction, fd copy, fn close and replace
# (issue 16); the documents delivered to build/kassa-operator when it is built.
if(TARGET kassa-operator)
  set(KASSA_REPORTS_OPERATOR $<TARGET_FILE:kassa-operator>)
else()
  set(KASSA_REPORTS_OPERATOR "")
endif()
add_test(NAME cli_reports COMMAND python3 ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_cli_reports.py
                                   $<TARGET_FILE:kassa> ${KASSA_REPORTS_OPERATOR}
         WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
set_tests_properties(cli_reports PROPERTIES TIMEOUT 120)
# The same day through `kassa serve`: reports, cash, corrections, copies, the
# FN close and replacement over HTTP (needs kassa-operator for the delivery).
if(TARGET kassa-operator)
  add_test(NAME serve_office COMMAND python3
           ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_api_office.py $<TARGET_FILE:kassa>
           $<TARGET_FILE:kassa-operator> WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
  set_tests_properties(serve_office PROPERTIES TIMEOUT 180)
endif()
# Fractions, prepayment and credit settlements, agents, corrections by every
# form (issue 16), delivered to kassa-operator and read back as TLV.
if(TARGET kassa-operator)
  add_test(NAME cli_settlements
           COMMAND python3 ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_cli_settlements.py
                   $<TARGET_FILE:kassa> $<TARGET_FILE:kassa-operator>
           WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
  set_tests_properties(cli_settlements PROPERTIES TIMEOUT 180)
endif()
# A shop's year on the injected clock, shortened to 14 working days here
# (`make year` runs 365: about 2 minutes here).
if(TARGET kassa-operator)
  add_test(NAME year_short COMMAND python3 ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_year.py
                                    $<TARGET_FILE:kassa> $<TARGET_FILE:kassa-operator> 14
           WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
  set_tests_properties(year_short PROPERTIES LABELS e2e TIMEOUT 300)
endif()
# `kassa ofd status|flush|keys`; against build/kassa-operator when it is built.
if(TARGET kassa-operator)
  set(KASSA_DELIVERY_OPERATOR $<TARGET_FILE:kassa-operator>)
else()
  set(KASSA_DELIVERY_OPERATOR "")
endif()
add_test(NAME cli_delivery COMMAND python3 ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_delivery.py
                                    $<TARGET_FILE:kassa> $<TARGET_FILE:fn_storm>
                                    ${KASSA_DELIVERY_OPERATOR}
         WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
# The till's kill loop: sales and returns SIGKILLed 200 times, then audited
# against the FN archive (tests/crash/till_storm.c).
add_executable(till_storm crash/till_storm.c)
target_link_libraries(till_storm PRIVATE kassa_pos)
target_link_libraries(till_storm PRIVATE kassa_test_support)
add_test(NAME till_crash COMMAND till_storm kill - 200)
set_tests_properties(till_crash PROPERTIES LABELS crash TIMEOUT 300)
# `kassa serve`: the HTTP API and the local-module port, end to end against
# kassa-operator (tests/integration/test_api.py); the rate limiter's clock
# and the gates without a network (tests/unit/test_api.c).
kassa_unit_test(test_api SOURCES unit/test_api.c LIBS kassa_pos kassa_test_support)
kassa_till_test(serve_api integration/test_api.py 120)
# `kassa serve` under issue 18's attacks: slow clients, anonymous large
# bodies, too many connections, lock-out as a weapon, log injection.
kassa_till_test(serve_hostile integration/test_serve_hostile.py 240)
# Secure defaults: serve refuses to start without a token, warns on the
# demo's secrets; PINs and keys from files or the environment; text with
# control characters or bad UTF-8 refused where it enters (issue 18).
kassa_till_test(secure_defaults integration/test_secure_defaults.py 120)
# The local-module port as the 2025 manual describes it, its examples sent
# as printed (tests/data/lm/), every field and error code.
kassa_till_test(serve_lm_manual integration/test_lm_manual.py 180)
# A receipt in one call from a front end (four lines: two marked, weighed,
# an agent's), killed between the FN's close and the answer, retried with
# its Idempotency-Key: one receipt, two identical answers.
kassa_till_test(serve_frontend_receipt integration/test_frontend_receipt.py 180)
# ATOL-style JSON tasks: shifts, cash, FN info, marking-code validation,
# unknown tasks, the uuid as idempotency key, and the same receipt as the
# one-call receipt compared tag by tag.
kassa_till_test(serve_atol_tasks integration/test_atol_tasks.py 180)
# `kassa serve`'s background work (pos/serve/background.h): keys, sync and
# delivery with nobody running a command, and the sender's retry.
kassa_till_test(serve_background integration/test_serve_background.py 180)
# `kassa fsck` on a storm-made directory, clean and then damaged six ways.
add_test(NAME cli_fsck COMMAND python3 ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_fsck.py
                               $<TARGET_FILE:kassa> $<TARGET_FILE:till_storm>
         WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
# Receipt printing (pos/print/print.h): ESC/POS bytes of a receipt with marked
# items compared byte for byte with tests/data/escpos/ (KASSA_REGENERATE=1
# rewrites them), its QR read back by zbar, the file sink and the serial
# sink on a pty.
kassa_unit_test(test_print SOURCES unit/test_print.c LIBS kassa_pos kassa_till_fixture
                Threads::Threads)
# The USB printer sink against a printer emulated by umockdev: bulk OUT URBs
# compared with the job's bytes. Under umockdev-wrapper, like
# test_transport_hidpos (UMOCKDEV and UMOCKDEV_WRAPPER come from scanner.cmake).
add_executable(test_print_usb unit/test_print_usb.c)
target_link_libraries(test_print_usb PRIVATE kassa_pos PkgConfig::UMOCKDEV PkgConfig::CMOCKA)
add_test(NAME test_print_usb COMMAND ${UMOCKDEV_WRAPPER} $<TARGET_FILE:test_print_usb>
         WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
set_tests_properties(test_print_usb PROPERTIES TIMEOUT 60
                     ENVIRONMENT "ASAN_OPTIONS=verify_asan_link_order=0")
# The HTTP API's JSON bodies on a real till (issue 8).
kassa_fuzz_target(fuzz_api SOURCE fuzz/fuzz_api.c LIBS kassa_pos
                  CORPUS ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/corpus/api)
if(TARGET fuzz_api)
  target_link_libraries(fuzz_api PRIVATE kassa_test_support)
endif()
# `kassa print receipt|qr` end to end: stdout, [printer] device, --out, a pty.
add_test(NAME cli_print COMMAND python3 ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_cli_print.py
                                $<TARGET_FILE:kassa>
         WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
# The pages (pos/serve/web) as api_handle() serves them: content types, the
# shipped files, and no path out of the folder (tests/unit/test_web.c).
kassa_unit_test(test_web SOURCES unit/test_web.c LIBS kassa_pos kassa_test_support)
# The pages over HTTP: the files with their types and security headers, no
# path out of pos/serve/web (%2e%2e, %00 ...), the API's helpers for the pages (the
# receipt QR as PNG read back by zbar, a remark's label again, the weight
# asked for) (tests/browser/run.py --http-only) ...
add_test(NAME serve_pages COMMAND python3 ${CMAKE_CURRENT_SOURCE_DIR}/browser/run.py
                                  $<TARGET_FILE:kassa> $<TARGET_FILE:kassa-operator> --http-only
         WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
set_tests_properties(serve_pages PROPERTIES TIMEOUT 180)
# ... and in Debian's chromium driven by playwright-core (npm ci on first
# use): a sale with a refused item, a return, a remark, an acceptance at
# 1024x768; screenshots in tests/artifacts/browser/. Exit 77 (skipped, with
# the reason) only when /usr/bin/chromium or node is missing.
add_test(NAME browser_pages COMMAND python3 ${CMAKE_CURRENT_SOURCE_DIR}/browser/run.py
                                    $<TARGET_FILE:kassa> $<TARGET_FILE:kassa-operator>
         WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
set_tests_properties(browser_pages PROPERTIES TIMEOUT 400 SKIP_RETURN_CODE 77)
# `kassa remark` from a shell, against kassa-operator (pool, report, label).
add_test(NAME cli_remark COMMAND python3 ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_cli_remark.py
                                 $<TARGET_FILE:kassa> $<TARGET_FILE:kassa-operator>
         WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
# A full disk (a 6 MB tmpfs mounted by the test; needs root, else skipped
# with exit 77): clean refusal, fsck clean, every reported receipt kept.
add_test(NAME till_enospc COMMAND python3 ${CMAKE_CURRENT_SOURCE_DIR}/crash/test_enospc.py
                                  $<TARGET_FILE:kassa>
         WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
set_tests_properties(till_enospc PROPERTIES LABELS crash TIMEOUT 300 SKIP_RETURN_CODE 77)
# The storm through the HTTP API: `kassa serve` SIGKILLed 40 times mid-storm,
# then fsck and the client's record of paid receipts (make crash: more).
add_test(NAME serve_crash COMMAND python3 ${CMAKE_CURRENT_SOURCE_DIR}/crash/serve_storm.py
                                  $<TARGET_FILE:kassa> $<TARGET_FILE:kassa-operator> 40
         WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
set_tests_properties(serve_crash PROPERTIES LABELS crash TIMEOUT 300)
# Permissive mode, CRPT's test plan (issue 15): every case of
# tests/data/permissive/cases.json against kassa-operator's true-api, at the
# true-api layer (test_trueapi_driver) and at a whole till (permissive_till).
add_executable(permissive_till integration/permissive_till.c)
target_link_libraries(permissive_till PRIVATE kassa_till_fixture PkgConfig::JANSSON)
add_test(NAME permissive
         COMMAND python3 ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_permissive.py
                 $<TARGET_FILE:kassa-operator> $<TARGET_FILE:test_trueapi_driver>
                 $<TARGET_FILE:permissive_till>
                 ${CMAKE_CURRENT_SOURCE_DIR}/data/permissive/cases.json
         WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
set_tests_properties(permissive PROPERTIES TIMEOUT 240)

# The docs as their readers run them: every shell line of README.md and every
# curl example of docs/API.md, in order, on a fresh till and kassa-operator
# (issue 23; the marks it understands are in README.md and the script).
add_test(NAME docs COMMAND python3 ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_docs.py
                           $<TARGET_FILE:kassa> $<TARGET_FILE:kassa-operator> ${PROJECT_SOURCE_DIR}
         WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
set_tests_properties(docs PROPERTIES TIMEOUT 600)
# The contract (docs/openapi.yaml, OpenAPI 3.1): validated by an npm
# validator, every route of api.c and lm.c documented, and every answer the
# HTTP API tests receive (test_api, test_serve_background, the three
# drop-in tests, test_api_office, the docs' curl lines through a recording
# proxy, the pages over HTTP and in chromium, the store's lanes) checked
# against it (the store node's own ports are not kassa serve's). They
# record their exchanges into build/contract/ (KASSA_CONTRACT_RECORD); the
# contract test requires them (a fixture, each file named), so `ctest -R
# contract` runs them first.
file(MAKE_DIRECTORY ${CMAKE_BINARY_DIR}/contract)
set(KASSA_CONTRACT_RECORDINGS serve_api serve_background serve_lm_manual serve_frontend_receipt
                              serve_atol_tasks serve_office docs serve_pages browser_pages
                              store_lanes)
foreach(recording ${KASSA_CONTRACT_RECORDINGS})
  set_property(TEST ${recording} APPEND PROPERTY ENVIRONMENT
               KASSA_CONTRACT_RECORD=${CMAKE_BINARY_DIR}/contract/${recording}.jsonl)
  set_property(TEST ${recording} APPEND PROPERTY FIXTURES_SETUP contract_records)
endforeach()
add_test(NAME contract_openapi
         COMMAND python3 ${CMAKE_CURRENT_SOURCE_DIR}/contract/run.py
                 ${PROJECT_SOURCE_DIR}/docs/openapi.yaml ${PROJECT_SOURCE_DIR}/pos/serve/api.c
                 ${PROJECT_SOURCE_DIR}/pos/serve/lm.c ${CMAKE_BINARY_DIR}/contract
                 ${KASSA_CONTRACT_RECORDINGS})
set_tests_properties(contract_openapi PROPERTIES TIMEOUT 600 SKIP_RETURN_CODE 77
                     FIXTURES_REQUIRED contract_records)
