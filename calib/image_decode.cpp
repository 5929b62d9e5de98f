#include "calib/image_decode.h"

#include <cctype>
#include <csetjmp>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>

#include <jpeglib.h>  // after <cstdio>: it needs FILE
#include <jerror.h>
#include <png.h>

#include "onnx_io/atomic_file.h"

namespace vitq {
namespace fs = std::filesystem;

namespace {

// The libraries report errors by longjmp out of a callback. The functions that call setjmp hold
// no object with a destructor that a longjmp could skip: the buffers live in the caller's Image.

std::string sizeLimitMessage(const std::string& label, int64_t width, int64_t height) {
  return "'" + label + "': " + std::to_string(width) + "x" + std::to_string(height) +
         " pixels is past vitq's image limit (at most " + std::to_string(kMaxImageSide) + " a side and " +
         std::to_string(kMaxImagePixels) + " pixels)";
}

bool withinLimits(int64_t width, int64_t height) {
  return width > 0 && height > 0 && width <= kMaxImageSide && height <= kMaxImageSide &&
         width * height <= kMaxImagePixels;
}

// ---- PNG ----

struct PngReader {
  const unsigned char* data;
  size_t size;
  size_t pos;
  bool truncated;
  bool too_large;
  png_uint_32 width, height;  // as the header claims, for the limit message
  png_bytep* rows;            // malloc'd; here (not a local) so that it survives the longjmp
  char message[256];
};

[[noreturn]] void pngError(png_structp png, png_const_charp message) {
  auto* r = static_cast<PngReader*>(png_get_error_ptr(png));
  std::snprintf(r->message, sizeof(r->message), "%s", message);
  png_longjmp(png, 1);
}

void pngWarning(png_structp, png_const_charp) {}  // ancillary-chunk trouble: the pixels are still right

void pngRead(png_structp png, png_bytep out, png_size_t length) {
  auto* r = static_cast<PngReader*>(png_get_io_ptr(png));
  if (length > r->size - r->pos) {
    r->truncated = true;
    png_error(png, "the file ends early");
  }
  std::memcpy(out, r->data + r->pos, length);
  r->pos += length;
}

// Decodes into \p image; false with r->message set on any error.
bool decodePng(PngReader* r, Image* image) {
  png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, r, pngError, pngWarning);
  if (!png) {
    std::snprintf(r->message, sizeof(r->message), "libpng could not start");
    return false;
  }
  png_infop info = png_create_info_struct(png);
  if (!info) {
    png_destroy_read_struct(&png, nullptr, nullptr);
    std::snprintf(r->message, sizeof(r->message), "libpng could not start");
    return false;
  }
  r->rows = nullptr;
  if (setjmp(png_jmpbuf(png))) {
    std::free(r->rows);
    png_destroy_read_struct(&png, &info, nullptr);
    return false;
  }
  png_set_read_fn(png, r, pngRead);
  png_read_info(png, info);
  r->width = png_get_image_width(png, info);
  r->height = png_get_image_height(png, info);
  if (!withinLimits(r->width, r->height)) {
    r->too_large = true;
    png_destroy_read_struct(&png, &info, nullptr);
    return false;
  }
  const int color_type = png_get_color_type(png, info);
  const int bit_depth = png_get_bit_depth(png, info);
  if (bit_depth == 16) png_set_scale_16(png);
  if (color_type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
  if (color_type == PNG_COLOR_TYPE_GRAY && bit_depth < 8) png_set_expand_gray_1_2_4_to_8(png);
  png_set_strip_alpha(png);  // as PIL's convert("RGB"): transparency is dropped, not blended
  png_set_interlace_handling(png);
  png_read_update_info(png, info);
  const int channels = png_get_channels(png, info);
  const size_t row_bytes = png_get_rowbytes(png, info);
  if ((channels != 1 && channels != 3) || row_bytes != static_cast<size_t>(r->width) * channels) {
    png_error(png, "unexpected pixel layout after conversion to 8 bits");
  }
  image->width = static_cast<int>(r->width);
  image->height = static_cast<int>(r->height);
  image->channels = channels;
  image->pixels.assign(row_bytes * r->height, 0);
  r->rows = static_cast<png_bytep*>(std::malloc(sizeof(png_bytep) * r->height));
  if (!r->rows) png_error(png, "out of memory");
  for (png_uint_32 y = 0; y < r->height; ++y) r->rows[y] = image->pixels.data() + y * row_bytes;
  png_read_image(png, r->rows);
  png_read_end(png, nullptr);  // up to IEND: a file cut after the pixels is still truncated
  std::free(r->rows);
  png_destroy_read_struct(&png, &info, nullptr);
  return true;
}

StatusOr<Image> readPng(const std::string& bytes, const std::string& label) {
  PngReader r{reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), 0, false, false, 0, 0, nullptr, {}};
  Image image;
  if (decodePng(&r, &image)) return image;
  if (r.too_large) return invalidArgument(sizeLimitMessage(label, r.width, r.height));
  if (r.truncated) return invalidArgument("'" + label + "': truncated PNG (the file ends before the image does)");
  return invalidArgument("'" + label + "': corrupt PNG: " + r.message);
}

// ---- JPEG ----

constexpr int kMaxJpegScans = 500;  // progressive JPEGs with thousands of scans take minutes each

struct JpegReader {
  jpeg_error_mgr err;  // first: libjpeg hands back a pointer to it
  jpeg_progress_mgr progress;
  std::jmp_buf jump;
  bool truncated;
  bool too_large;
  int64_t width, height;
  char message[JMSG_LENGTH_MAX + 64];
};

JpegReader* readerOf(j_common_ptr cinfo) { return reinterpret_cast<JpegReader*>(cinfo->err); }

[[noreturn]] void jpegErrorExit(j_common_ptr cinfo) {
  JpegReader* r = readerOf(cinfo);
  (*cinfo->err->format_message)(cinfo, r->message);
  std::longjmp(r->jump, 1);
}

// libjpeg only warns about corrupt or missing data (and fills the rest with gray): stop instead.
void jpegEmitMessage(j_common_ptr cinfo, int level) {
  if (level >= 0) return;  // trace messages
  JpegReader* r = readerOf(cinfo);
  r->truncated = cinfo->err->msg_code == JWRN_JPEG_EOF;
  (*cinfo->err->format_message)(cinfo, r->message);
  std::longjmp(r->jump, 1);
}

void jpegOutputMessage(j_common_ptr) {}  // never to stderr

void jpegProgress(j_common_ptr cinfo) {
  auto* d = reinterpret_cast<j_decompress_ptr>(cinfo);
  if (d->input_scan_number > kMaxJpegScans) {
    JpegReader* r = readerOf(cinfo);
    std::snprintf(r->message, sizeof(r->message), "more than %d progressive scans", kMaxJpegScans);
    std::longjmp(r->jump, 1);
  }
}

bool decodeJpeg(JpegReader* r, const std::string& bytes, Image* image) {
  jpeg_decompress_struct cinfo;
  cinfo.err = jpeg_std_error(&r->err);
  r->err.error_exit = jpegErrorExit;
  r->err.emit_message = jpegEmitMessage;
  r->err.output_message = jpegOutputMessage;
  if (setjmp(r->jump)) {
    jpeg_destroy_decompress(&cinfo);
    return false;
  }
  jpeg_create_decompress(&cinfo);
  r->progress.progress_monitor = jpegProgress;
  cinfo.progress = &r->progress;
  jpeg_mem_src(&cinfo, reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<unsigned long>(bytes.size()));
  jpeg_read_header(&cinfo, TRUE);
  r->width = cinfo.image_width;
  r->height = cinfo.image_height;
  if (!withinLimits(r->width, r->height)) {
    r->too_large = true;
    jpeg_destroy_decompress(&cinfo);
    return false;
  }
  if (cinfo.num_components == 1) {
    cinfo.out_color_space = JCS_GRAYSCALE;
  } else if (cinfo.num_components == 3 && (cinfo.jpeg_color_space == JCS_YCbCr || cinfo.jpeg_color_space == JCS_RGB)) {
    cinfo.out_color_space = JCS_RGB;
  } else {
    std::snprintf(r->message, sizeof(r->message), "%d-component JPEGs (CMYK, YCCK) are not supported",
                  cinfo.num_components);
    jpeg_destroy_decompress(&cinfo);
    return false;
  }
  jpeg_start_decompress(&cinfo);
  image->width = static_cast<int>(cinfo.output_width);
  image->height = static_cast<int>(cinfo.output_height);
  image->channels = cinfo.output_components;
  image->pixels.assign(static_cast<size_t>(image->width) * image->height * image->channels, 0);
  const size_t row_bytes = static_cast<size_t>(image->width) * image->channels;
  while (cinfo.output_scanline < cinfo.output_height) {
    JSAMPROW row = image->pixels.data() + cinfo.output_scanline * row_bytes;
    jpeg_read_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_decompress(&cinfo);
  jpeg_destroy_decompress(&cinfo);
  return true;
}

StatusOr<Image> readJpeg(const std::string& bytes, const std::string& label) {
  JpegReader r{};
  Image image;
  if (decodeJpeg(&r, bytes, &image)) return image;
  if (r.too_large) return invalidArgument(sizeLimitMessage(label, r.width, r.height));
  if (r.truncated) return invalidArgument("'" + label + "': truncated JPEG (the file ends before the image does)");
  return invalidArgument("'" + label + "': corrupt or unsupported JPEG: " + r.message);
}

}  // namespace

bool isImageFile(const fs::path& path) {
  std::string ext = path.extension().string();
  for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return ext == ".png" || ext == ".jpg" || ext == ".jpeg";
}

StatusOr<Image> decodeImage(const std::string& bytes, const std::string& label) {
  static const unsigned char kPng[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  static const unsigned char kJpeg[3] = {0xff, 0xd8, 0xff};
  if (bytes.empty()) return invalidArgument("'" + label + "' is empty, not an image");
  if (bytes.size() >= 8 && std::memcmp(bytes.data(), kPng, 8) == 0) return readPng(bytes, label);
  if (bytes.size() >= 3 && std::memcmp(bytes.data(), kJpeg, 3) == 0) return readJpeg(bytes, label);
  return invalidArgument("'" + label + "' is not a PNG or JPEG image (its first bytes are neither signature)");
}

StatusOr<Image> readImage(const fs::path& path) {
  std::error_code ec;
  const auto size = fs::file_size(path, ec);
  if (ec) return notFound("cannot read image '" + path.string() + "': " + ec.message());
  if (static_cast<int64_t>(size) > kMaxImageFileBytes) {
    return invalidArgument("'" + path.string() + "' is " + std::to_string(size) + " bytes, past vitq's image file limit of " +
                           std::to_string(kMaxImageFileBytes));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return ioError("cannot open '" + path.string() + "'");
  protectInput(path, "an input file");
  std::string bytes((std::istreambuf_iterator<char>(in)), {});
  if (!in.good() && !in.eof()) return ioError("cannot read '" + path.string() + "'");
  return decodeImage(bytes, path.string());
}

}  // namespace vitq
