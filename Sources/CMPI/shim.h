#ifndef SWIFTCLIP_CMPI_SHIM_H
#define SWIFTCLIP_CMPI_SHIM_H
// Open MPI's C API. Its handles and constants are macros Swift cannot see; they are wrapped here.
#define OMPI_SKIP_MPICXX 1
#include <mpi.h>

static inline MPI_Comm swiftclip_mpi_comm_world(void) { return MPI_COMM_WORLD; }
static inline MPI_Datatype swiftclip_mpi_float(void) { return MPI_FLOAT; }
static inline MPI_Datatype swiftclip_mpi_byte(void) { return MPI_BYTE; }
static inline void *swiftclip_mpi_in_place(void) { return MPI_IN_PLACE; }
static inline int swiftclip_mpi_thread_serialized(void) { return MPI_THREAD_SERIALIZED; }
static inline int swiftclip_mpi_comm_type_shared(void) { return MPI_COMM_TYPE_SHARED; }
static inline MPI_Info swiftclip_mpi_info_null(void) { return MPI_INFO_NULL; }

#endif
