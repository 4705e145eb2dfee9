# store: the rules of the shared store against the SQLite backend and the
# node's routes without a network (cmocka); the lanes racing through a
# store node on a PostgreSQL the test starts itself (4 lanes, 300 codes,
# the node and the postmaster killed once, a partition).
kassa_unit_test(test_store_shared SOURCES unit/test_store_shared.c LIBS kassa_store)
add_test(NAME store_lanes
         COMMAND python3 ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_store_lanes.py
                 $<TARGET_FILE:kassa> $<TARGET_FILE:kassa-operator> 4 300)
set_tests_properties(store_lanes PROPERTIES TIMEOUT 300)
# The same with a network partition made by the kernel (tests/integration/
# netpart.py: the node in a network namespace of its own behind a veth
# pair, the link delayed with netem, or htb where the kernel has no netem,
# then cut, then healed): exit 77, shown as skipped with the reason, where
# root or the kernel does not allow it (docs/ARCHITECTURE.md).
add_test(NAME store_partition
         COMMAND python3 ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_store_lanes.py
                 $<TARGET_FILE:kassa> $<TARGET_FILE:kassa-operator> 4 100 --partition)
set_tests_properties(store_partition PROPERTIES TIMEOUT 300 SKIP_RETURN_CODE 77)
