#include <oneapi/dnnl/dnnl.h>

/* Debian's libdnnl runs on the OpenMP runtime (libgomp), whose thread count is per calling
   thread: a data-parallel worker sets 1 so oneDNN never oversubscribes the cores. */
void omp_set_num_threads(int n);

/* Execution-argument indices (macros Swift cannot see through their aliases). */
static inline int swiftclip_dnnl_arg_src(void) { return DNNL_ARG_SRC; }
static inline int swiftclip_dnnl_arg_weights(void) { return DNNL_ARG_WEIGHTS; }
static inline int swiftclip_dnnl_arg_dst(void) { return DNNL_ARG_DST; }
