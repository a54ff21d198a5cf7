# Sanitizer builds: -DWEIR_SANITIZE=address (ASan + UBSan, `make test-asan`) or thread (TSan,
# `make test-tsan`). Every target is instrumented alike, so the `weir` binary that the integration
# tests spawn carries the same checks as the test binaries.
#
# The runtime options live in the binaries (sanitizer_options.cc, compiled into every executable
# by weir_sanitizer_options_for_executables below), so running a test binary by hand, through
# ctest or as a child of another test behaves the same; environment variables still override.
set(WEIR_SANITIZE "" CACHE STRING "Sanitizers to build with: empty, address (ASan+UBSan) or thread")
set_property(CACHE WEIR_SANITIZE PROPERTY STRINGS "" address thread)

if(WEIR_SANITIZE STREQUAL "address")
  # -fno-sanitize-recover: undefined behaviour ends the process like an ASan error does, so no
  # report can scroll past in a passing test.
  set(WEIR_SANITIZER_FLAGS -fsanitize=address,undefined -fno-sanitize-recover=undefined
                           -fno-omit-frame-pointer)
elseif(WEIR_SANITIZE STREQUAL "thread")
  set(WEIR_SANITIZER_FLAGS -fsanitize=thread -fno-omit-frame-pointer)
elseif(NOT WEIR_SANITIZE STREQUAL "")
  message(FATAL_ERROR "WEIR_SANITIZE: '${WEIR_SANITIZE}' is not empty, address or thread")
endif()

# Suppression files, used only if present; each entry in them says why it is there.
set(WEIR_SANITIZER_DEFINITIONS "")
foreach(tool tsan lsan)
  string(TOUPPER ${tool} TOOL)
  if(EXISTS ${PROJECT_SOURCE_DIR}/cmake/${tool}.supp)
    list(APPEND WEIR_SANITIZER_DEFINITIONS
         WEIR_${TOOL}_SUPPRESSIONS="${PROJECT_SOURCE_DIR}/cmake/${tool}.supp")
  endif()
endforeach()

if(WEIR_SANITIZER_FLAGS)
  add_compile_options(${WEIR_SANITIZER_FLAGS})
  add_link_options(${WEIR_SANITIZER_FLAGS})
endif()

# Adds cmake/sanitizer_options.cc to every executable defined in `dir` and below. Called once at the
# end of the top-level CMakeLists.txt, when every target exists.
function(weir_sanitizer_options_for_executables dir)
  if(NOT WEIR_SANITIZER_FLAGS)
    return()
  endif()
  get_property(targets DIRECTORY ${dir} PROPERTY BUILDSYSTEM_TARGETS)
  foreach(t ${targets})
    get_target_property(type ${t} TYPE)
    if(type STREQUAL "EXECUTABLE")
      target_sources(${t} PRIVATE ${PROJECT_SOURCE_DIR}/cmake/sanitizer_options.cc)
      if(WEIR_SANITIZER_DEFINITIONS)
        set_property(SOURCE ${PROJECT_SOURCE_DIR}/cmake/sanitizer_options.cc TARGET_DIRECTORY ${t}
                     PROPERTY COMPILE_DEFINITIONS ${WEIR_SANITIZER_DEFINITIONS})
      endif()
    endif()
  endforeach()
  get_property(subdirs DIRECTORY ${dir} PROPERTY SUBDIRECTORIES)
  foreach(d ${subdirs})
    weir_sanitizer_options_for_executables(${d})
  endforeach()
endfunction()
