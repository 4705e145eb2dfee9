# device: the Shtrih-M protocol against public vectors (test_shtrih), the
# exchange and the backend against kassa-kkt-emu's register (test_kkt_emu).
kassa_unit_test(test_shtrih SOURCES unit/test_shtrih.c LIBS kassa_device)
set_tests_properties(test_shtrih PROPERTIES TIMEOUT 60)
find_package(Threads REQUIRED)
kassa_unit_test(test_kkt_emu SOURCES unit/test_kkt_emu.c
                LIBS kassa_device kassa_ofd kassa_test_support Threads::Threads)
set_tests_properties(test_kkt_emu PROPERTIES TIMEOUT 120)
