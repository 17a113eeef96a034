/* Valgrind client requests for the harness's worker, called through ctypes.
 * Callgrind runs with --instr-atstart=no --collect-atstart=no: the worker starts
 * instrumentation before it builds its tables (so the simulated caches warm up as
 * the real ones do) and toggles collection around its timed batches only.
 * Outside valgrind every request is a no-op and RUNNING_ON_VALGRIND is 0. */
#include <valgrind/callgrind.h>

unsigned harness_running_on_valgrind(void) { return RUNNING_ON_VALGRIND; }
void harness_start_instrumentation(void) { CALLGRIND_START_INSTRUMENTATION; }
void harness_toggle_collect(void) { CALLGRIND_TOGGLE_COLLECT; }
