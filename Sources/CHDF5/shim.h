#include <hdf5.h>
// HDF5 exposes its type and flag constants as macros that Swift cannot import;
// these inline functions make them visible.
static inline hid_t swiftclip_H5T_NATIVE_FLOAT(void) { return H5T_NATIVE_FLOAT; }
static inline hid_t swiftclip_H5T_NATIVE_UINT8(void) { return H5T_NATIVE_UINT8; }
static inline hid_t swiftclip_H5T_NATIVE_INT64(void) { return H5T_NATIVE_INT64; }
static inline hid_t swiftclip_H5T_NATIVE_INT32(void) { return H5T_NATIVE_INT32; }
static inline hid_t swiftclip_H5T_C_S1(void) { return H5T_C_S1; }
static inline hid_t swiftclip_H5P_DEFAULT(void) { return H5P_DEFAULT; }
static inline hid_t swiftclip_H5S_ALL(void) { return H5S_ALL; }
static inline hid_t swiftclip_H5P_DATASET_CREATE(void) { return H5P_DATASET_CREATE; }
static inline unsigned swiftclip_H5F_ACC_RDONLY(void) { return H5F_ACC_RDONLY; }
static inline unsigned swiftclip_H5F_ACC_TRUNC(void) { return H5F_ACC_TRUNC; }
static inline hsize_t swiftclip_H5S_UNLIMITED(void) { return H5S_UNLIMITED; }
