# The expected values in tests/preprocessing/sklearn_reference.hpp come from
# sklearn_reference.py; this test recomputes them with scikit-learn and fails
# when they differ from the checked-in header, so the literals provably are
# scikit-learn's.
# Without scikit-learn it reports a skip.
redflag_add_tool_test(NAME preprocessing.sklearn_reference_current MISSING "${redflag_sklearn_missing}"
                      COMMAND "${REDFLAG_SKLEARN_PYTHON}" "${CMAKE_CURRENT_LIST_DIR}/sklearn_reference.py" --check)
set_tests_properties(preprocessing.sklearn_reference_current PROPERTIES LABELS "preprocessing")
