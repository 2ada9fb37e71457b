# Each example pipeline's run-and-check tests live in tests/examples/<pipeline>.cmake.
file(GLOB redflag_example_tests CONFIGURE_DEPENDS "${CMAKE_CURRENT_LIST_DIR}/*.cmake")
list(REMOVE_ITEM redflag_example_tests "${CMAKE_CURRENT_LIST_FILE}")
list(SORT redflag_example_tests)
foreach(example_test IN LISTS redflag_example_tests)
  include("${example_test}")
endforeach()
