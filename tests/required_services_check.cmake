# Proof of the missing-service rule (src/common/testing/required_services.h), run by ctest:
#   cmake -DTEST_BINARY=<gtest binary> -DFILTER=<gtest filter> -P required_services_check.cmake
# runs the tests FILTER picks with an s3rver that cannot start (WEIR_S3RVER_JS names a file that
# does not exist), twice. With WEIR_REQUIRE_SERVICES=1 the binary must fail and the output must
# name s3rver and why; without it the same tests must be skipped and the binary pass.
if(NOT TEST_BINARY OR NOT FILTER)
  message(FATAL_ERROR "required_services_check: set TEST_BINARY and FILTER")
endif()
set(missing_js "/nonexistent/weir-required-services-check/s3rver.js")

execute_process(
  COMMAND ${CMAKE_COMMAND} -E env WEIR_REQUIRE_SERVICES=1 WEIR_S3RVER_JS=${missing_js}
          ${TEST_BINARY} --gtest_filter=${FILTER}
  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
if(rc EQUAL 0)
  message(FATAL_ERROR "with WEIR_REQUIRE_SERVICES=1 and no s3rver, ${FILTER} passed:\n${out}")
endif()
if(NOT out MATCHES "required service 's3rver' is not available: [^\n]*${missing_js} is missing")
  message(FATAL_ERROR "the failure does not name s3rver and why:\n${out}")
endif()
if(NOT out MATCHES "\\[  FAILED  \\]" OR out MATCHES "\\[  SKIPPED \\]")
  message(FATAL_ERROR "with WEIR_REQUIRE_SERVICES=1 a test was skipped, not failed:\n${out}")
endif()

execute_process(
  COMMAND ${CMAKE_COMMAND} -E env --unset=WEIR_REQUIRE_SERVICES WEIR_S3RVER_JS=${missing_js}
          ${TEST_BINARY} --gtest_filter=${FILTER}
  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
if(NOT rc EQUAL 0 OR NOT out MATCHES "\\[  SKIPPED \\]" OR out MATCHES "\\[  FAILED  \\]")
  message(FATAL_ERROR "without WEIR_REQUIRE_SERVICES a missing s3rver must skip, rc ${rc}:\n${out}")
endif()
message(STATUS "${FILTER}: fails when s3rver is required and missing, skips otherwise")
