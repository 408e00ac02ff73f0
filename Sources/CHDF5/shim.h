#include <hdf5.h>
// HDF5 exposes its type and flag constants as macros that Swift cannot import;
// these inline functions make them visible.
static inline hid_t swiftclip_H5T_NATIVE_FLOAT(void) { return H5T_NATIVE_FLOAT; }
static inline hid_t swiftclip_H5T_NATIVE_UINT8(void) { return H5T_NATIVE_UINT8; }
static inline hid_t swiftclip_H5T_NATIVE_INT64(void) { return H5T_NATIVE_INT64; }
static inline hid_t swiftclip_H5T_NATIVE_INT32(void) { return H5T_NATIVE_INT32; }
static inline hid_t swiftclip_H5T_NATIVE_INT16(void) { return H5T_NATIVE_INT16; }
static inline hid_t swiftclip_H5T_NATIVE_INT8(void) { return H5T_NATIVE_INT8; }
static inline hid_t swiftclip_H5T_NATIVE_DOUBLE(void) { return H5T_NATIVE_DOUBLE; }
static inline hid_t swiftclip_H5T_C_S1(void) { return H5T_C_S1; }
static inline hid_t swiftclip_H5P_DEFAULT(void) { return H5P_DEFAULT; }
static inline hid_t swiftclip_H5S_ALL(void) { return H5S_ALL; }
static inline hid_t swiftclip_H5P_DATASET_CREATE(void) { return H5P_DATASET_CREATE; }
static inline unsigned swiftclip_H5F_ACC_RDONLY(void) { return H5F_ACC_RDONLY; }
static inline unsigned swiftclip_H5F_ACC_TRUNC(void) { return H5F_ACC_TRUNC; }
static inline hsize_t swiftclip_H5S_UNLIMITED(void) { return H5S_UNLIMITED; }

// MARK: - Data pipeline additions (HDF5File.swift)
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
static inline unsigned swiftclip_H5F_ACC_EXCL(void) { return H5F_ACC_EXCL; }
static inline size_t swiftclip_H5T_VARIABLE(void) { return H5T_VARIABLE; }
static inline hid_t swiftclip_H5E_DEFAULT(void) { return H5E_DEFAULT; }

/// Open HDF5 objects (files, datasets, groups, types, attributes) across every open file.
static inline long swiftclip_hdf5_open_object_count(void) {
    return (long)H5Fget_obj_count((hid_t)H5F_OBJ_ALL, H5F_OBJ_ALL);
}

/// Turns off HDF5's automatic printing of its error stack on the calling thread (the thread-safe build
/// keeps one error stack, with its own printing setting, per thread); errors are reported by the caller.
/// Cheap after the first call on a thread.
static inline void swiftclip_hdf5_silence_errors_on_this_thread(void) {
    static _Thread_local int silenced = 0;
    if (!silenced) {
        H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
        silenced = 1;
    }
}

static herr_t swiftclip_hdf5_error_walker(unsigned n, const H5E_error2_t *err, void *data) {
    // Walking downward, the last entry visited is the most specific one: keep replacing.
    char **message = (char **)data;
    if (err->desc && err->desc[0]) {
        free(*message);
        *message = strdup(err->desc);   // whole: a file driver's message runs past any fixed buffer
    }
    (void)n;
    return 0;
}

/// A copy (for the caller to free) of the most specific message of the current error stack, which it
/// clears; NULL when there is no error recorded.
static inline char *swiftclip_hdf5_last_error(void) {
    char *message = NULL;
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, swiftclip_hdf5_error_walker, &message);
    H5Eclear2(H5E_DEFAULT);
    return message;
}
