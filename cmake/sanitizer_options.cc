// Default runtime options of the sanitizers, compiled into every executable of a sanitizer build
// (cmake/sanitizers.cmake). The runtimes call these hooks before reading ASAN_OPTIONS and the like,
// so the environment can still override any of them for a single run.
//
// The aim is that any report fails: the process ends with a non-zero status (ASan, UBSan: at the
// first error; LSan: at exit; TSan: at exit with status 66 after printing every race), and the
// integration-test harness (tests/weir_process.cc) fails the test whose `weir` child printed one.

extern "C" {

__attribute__((visibility("default"), used)) const char* __asan_default_options() {
  // check_initialization_order/strict_init_order: static-initialisation order bugs.
  // detect_stack_use_after_return: frames of returned functions stay poisoned (fake stacks).
  // handle_abort: a failed assert or std::terminate prints its stack like an ASan error.
  return "halt_on_error=1:detect_leaks=1:check_initialization_order=1:strict_init_order=1:"
         "detect_stack_use_after_return=1:strict_string_checks=1:handle_abort=1";
}

__attribute__((visibility("default"), used)) const char* __ubsan_default_options() {
  return "halt_on_error=1:print_stacktrace=1";
}

__attribute__((visibility("default"), used)) const char* __lsan_default_options() {
#ifdef WEIR_LSAN_SUPPRESSIONS
  return "suppressions=" WEIR_LSAN_SUPPRESSIONS;
#else
  return "";
#endif
}

__attribute__((visibility("default"), used)) const char* __tsan_default_options() {
  // second_deadlock_stack: lock-order reports show where both locks were taken.
  return "halt_on_error=0:second_deadlock_stack=1"
#ifdef WEIR_TSAN_SUPPRESSIONS
         ":suppressions=" WEIR_TSAN_SUPPRESSIONS
#endif
      ;
}

}  // extern "C"
