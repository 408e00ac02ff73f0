#include <png.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

// MARK: - Decoding without longjmp into Swift
//
// libpng reports fatal errors by calling its error function, which must not return (it longjmps to the
// jmp_buf of png_jmpbuf). Swift cannot catch a longjmp, so the whole decode runs inside the C function
// below: it calls setjmp itself, the error function records libpng's message and jumps back there, and
// the function returns -1 with the message. Warnings (benign, e.g. a bad ancillary chunk) are ignored.

enum { swiftclip_png_message_length = 200 };

typedef struct {
    const unsigned char *data;
    size_t size;
    size_t offset;
    char message[swiftclip_png_message_length];
} swiftclip_png_state;

static void swiftclip_png_error(png_structp png, png_const_charp text) {
    swiftclip_png_state *state = (swiftclip_png_state *)png_get_error_ptr(png);
    strncpy(state->message, text ? text : "unknown libpng error", swiftclip_png_message_length - 1);
    state->message[swiftclip_png_message_length - 1] = 0;
    png_longjmp(png, 1);
}

static void swiftclip_png_warning(png_structp png, png_const_charp text) { (void)png; (void)text; }

static void swiftclip_png_read(png_structp png, png_bytep out, size_t count) {
    swiftclip_png_state *state = (swiftclip_png_state *)png_get_io_ptr(png);
    if (count > state->size - state->offset) { png_error(png, "truncated PNG data"); }
    memcpy(out, state->data + state->offset, count);
    state->offset += count;
}

/// Decodes any PNG (gray, gray+alpha, palette with or without tRNS, RGB, RGBA; 1–16 bits; interlaced or
/// not) to interleaved 8-bit RGBA: palettes and gray are expanded, tRNS becomes alpha, opaque images get
/// alpha 255, 16-bit samples keep their high byte (png_set_strip_16, as PIL reads them). No gamma or
/// colour-profile correction is applied (as PIL). On success returns 0 and *pixels is a malloc'ed
/// [height, width, 4] buffer the caller frees with free(); on failure returns -1 with libpng's message
/// in `message` (swiftclip_png_message_length bytes).
static inline int swiftclip_png_decode(const unsigned char *data, size_t size, unsigned char **pixels,
                                       int *width, int *height, char *message) {
    swiftclip_png_state state = {data, size, 0, {0}};
    png_structp png = NULL;
    png_infop info = NULL;
    unsigned char *volatile output = NULL;
    png_bytep *volatile rows = NULL;
    *pixels = NULL;
    png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &state, swiftclip_png_error, swiftclip_png_warning);
    if (png) { info = png_create_info_struct(png); }
    if (!png || !info) {
        png_destroy_read_struct(&png, NULL, NULL);
        strcpy(message, "out of memory");
        return -1;
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_read_struct(&png, &info, NULL);
        free(output);
        free(rows);
        memcpy(message, state.message, swiftclip_png_message_length);
        return -1;
    }
    png_set_read_fn(png, &state, swiftclip_png_read);
    png_read_info(png, info);
    png_set_expand(png);                          // palette -> RGB, gray < 8 bits -> 8 bits, tRNS -> alpha
    png_set_strip_16(png);
    png_set_gray_to_rgb(png);
    png_set_add_alpha(png, 0xFF, PNG_FILLER_AFTER);  // opaque images: alpha 255 (no-op when alpha exists)
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    png_uint_32 w = png_get_image_width(png, info), h = png_get_image_height(png, info);
    size_t stride = png_get_rowbytes(png, info);
    if (w == 0 || h == 0 || stride != (size_t)w * 4) { png_error(png, "unexpected row layout after transforms"); }
    if (h > (size_t)-1 / stride) { png_error(png, "image too large"); }
    output = (unsigned char *)malloc(stride * h);
    rows = (png_bytep *)malloc(sizeof(png_bytep) * h);
    if (!output || !rows) { png_error(png, "out of memory"); }
    for (png_uint_32 y = 0; y < h; y++) { rows[y] = output + stride * y; }
    png_read_image(png, rows);
    png_read_end(png, NULL);
    png_destroy_read_struct(&png, &info, NULL);
    free(rows);
    *width = (int)w;
    *height = (int)h;
    *pixels = output;
    return 0;
}
