#include <stdio.h>
#include <jpeglib.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

// MARK: - Error handling without longjmp into Swift
//
// libjpeg reports fatal errors by calling error_exit, which must not return. Swift cannot catch a
// longjmp, so decoding and encoding run entirely inside the C functions below: each one calls setjmp
// itself, error_exit records the message and jumps back there, and the function returns -1 with the
// message in `message`. Warnings (e.g. "Premature end of JPEG file" for a truncated stream) are
// counted, so the caller can treat a stream that only decodes with warnings as corrupt.

typedef struct {
    struct jpeg_error_mgr manager;
    jmp_buf jump;
    int warnings;
    char message[JMSG_LENGTH_MAX];
} swiftclip_jpeg_error;

static void swiftclip_jpeg_error_exit(j_common_ptr info) {
    swiftclip_jpeg_error *error = (swiftclip_jpeg_error *)info->err;
    (*info->err->format_message)(info, error->message);
    longjmp(error->jump, 1);
}

static void swiftclip_jpeg_emit_message(j_common_ptr info, int level) {
    swiftclip_jpeg_error *error = (swiftclip_jpeg_error *)info->err;
    if (level < 0) {  // a warning: keep the first one's text, never print
        if (error->warnings == 0) { (*info->err->format_message)(info, error->message); }
        error->warnings += 1;
    }
}

static inline void swiftclip_jpeg_install_errors(swiftclip_jpeg_error *error) {
    jpeg_std_error(&error->manager);
    error->manager.error_exit = swiftclip_jpeg_error_exit;
    error->manager.emit_message = swiftclip_jpeg_emit_message;
    error->warnings = 0;
    error->message[0] = 0;
}

/// Decodes a JPEG to interleaved 8-bit pixels: RGB for colour (YCbCr or RGB) images, one channel for
/// grayscale ones, four (C, M, Y, K as stored) for CMYK and YCCK ones, which libjpeg turns into CMYK
/// (*components tells which). On success returns 0 and
/// *pixels is a malloc'ed [height, width, components] buffer the caller frees with free().
/// On failure returns -1 with a message in `message` (JMSG_LENGTH_MAX bytes); the warning count is
/// returned in *warnings either way.
static inline int swiftclip_jpeg_decode(const unsigned char *data, unsigned long size,
                                        unsigned char **pixels, int *width, int *height, int *components,
                                        int *warnings, char *message) {
    struct jpeg_decompress_struct info;
    swiftclip_jpeg_error error;
    unsigned char *volatile output = NULL;
    *pixels = NULL;
    info.err = (struct jpeg_error_mgr *)&error;
    swiftclip_jpeg_install_errors(&error);
    if (setjmp(error.jump)) {
        jpeg_destroy_decompress(&info);
        free(output);
        *warnings = error.warnings;
        strncpy(message, error.message, JMSG_LENGTH_MAX - 1);
        message[JMSG_LENGTH_MAX - 1] = 0;
        return -1;
    }
    jpeg_create_decompress(&info);
    jpeg_mem_src(&info, data, size);
    jpeg_read_header(&info, TRUE);
    if (info.jpeg_color_space == JCS_CMYK || info.jpeg_color_space == JCS_YCCK) {
        info.out_color_space = JCS_CMYK;
    } else {
        info.out_color_space = info.num_components == 1 ? JCS_GRAYSCALE : JCS_RGB;
    }
    jpeg_start_decompress(&info);
    size_t stride = (size_t)info.output_width * (size_t)info.output_components;
    output = (unsigned char *)malloc(stride * info.output_height);
    if (!output) {
        snprintf(error.message, JMSG_LENGTH_MAX, "out of memory");
        longjmp(error.jump, 1);
    }
    while (info.output_scanline < info.output_height) {
        JSAMPROW row = output + stride * info.output_scanline;
        jpeg_read_scanlines(&info, &row, 1);
    }
    jpeg_finish_decompress(&info);
    *width = (int)info.output_width;
    *height = (int)info.output_height;
    *components = info.output_components;
    *warnings = error.warnings;
    if (error.warnings > 0) { strncpy(message, error.message, JMSG_LENGTH_MAX - 1); message[JMSG_LENGTH_MAX - 1] = 0; }
    jpeg_destroy_decompress(&info);
    *pixels = output;
    return 0;
}

/// Encodes interleaved RGB [height, width, 3] at `quality` (1...100, 4:2:0 subsampling as libjpeg's
/// default). On success returns 0 and *bytes is a malloc'ed buffer of *count bytes (free() it).
static inline int swiftclip_jpeg_encode(const unsigned char *rgb, int width, int height, int quality,
                                        unsigned char **bytes, unsigned long *count, char *message) {
    struct jpeg_compress_struct info;
    swiftclip_jpeg_error error;
    *bytes = NULL;
    *count = 0;
    info.err = (struct jpeg_error_mgr *)&error;
    swiftclip_jpeg_install_errors(&error);
    if (setjmp(error.jump)) {
        jpeg_destroy_compress(&info);
        *bytes = NULL;  // libjpeg's memory destination may have reallocated it: never free a stale pointer
        *count = 0;
        strncpy(message, error.message, JMSG_LENGTH_MAX - 1);
        message[JMSG_LENGTH_MAX - 1] = 0;
        return -1;
    }
    jpeg_create_compress(&info);
    jpeg_mem_dest(&info, bytes, count);
    info.image_width = (JDIMENSION)width;
    info.image_height = (JDIMENSION)height;
    info.input_components = 3;
    info.in_color_space = JCS_RGB;
    jpeg_set_defaults(&info);
    jpeg_set_quality(&info, quality, TRUE);
    jpeg_start_compress(&info, TRUE);
    size_t stride = (size_t)width * 3;
    while (info.next_scanline < info.image_height) {
        JSAMPROW row = (JSAMPROW)(rgb + stride * info.next_scanline);
        jpeg_write_scanlines(&info, &row, 1);
    }
    jpeg_finish_compress(&info);
    jpeg_destroy_compress(&info);
    return 0;
}

static inline int swiftclip_jpeg_message_length(void) { return JMSG_LENGTH_MAX; }
