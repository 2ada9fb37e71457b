# The expected values in tests/preprocessing/sklearn_reference.hpp come from
# sklearn_reference.py; this test recomputes them with scikit-learn and fails
# when they differ from the checked-in header, so the literals provably are
# scikit-learn's.
if(REDFLAG_SKLEARN_PYTHON)
  add_test(NAME preprocessing.sklearn_reference_current
           COMMAND "${REDFLAG_SKLEARN_PYTHON}" "${CMAKE_CURRENT_LIST_DIR}/sklearn_reference.py" --check)
  set_tests_properties(preprocessing.sklearn_reference_current PROPERTIES LABELS "preprocessing")
endif()
