#include "calib/npz_io.h"

#include <zlib.h>

#include <fstream>
#include <sstream>

#include "calib/npy_io.h"
#include "onnx_io/atomic_file.h"

namespace vitq {
namespace {

constexpr uint32_t kEndOfDirectory = 0x06054b50, kZip64End = 0x06064b50, kZip64Locator = 0x07064b50;
constexpr uint32_t kDirectoryEntry = 0x02014b50, kLocalHeader = 0x04034b50;
constexpr uint64_t kMaxInflateRatio = 1032;  // deflate's largest possible expansion

// Little-endian reads with bounds checks against the whole file.
class Bytes {
 public:
  Bytes(const std::string& data, std::string where) : data_(data), where_(std::move(where)) {}
  StatusOr<uint64_t> read(uint64_t at, int width) const {
    if (at > data_.size() || static_cast<uint64_t>(width) > data_.size() - at) return truncated();
    uint64_t v = 0;
    for (int i = width - 1; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(data_[at + static_cast<uint64_t>(i)]);
    return v;
  }
  StatusOr<std::string> slice(uint64_t at, uint64_t length) const {
    if (at > data_.size() || length > data_.size() - at) return truncated();
    return data_.substr(at, length);
  }
  Status truncated() const { return invalidArgument(where_ + " is truncated or not a valid .npz (ZIP) archive"); }
  Status bad(const std::string& what) const { return invalidArgument(where_ + ": " + what); }
  size_t size() const { return data_.size(); }

 private:
  const std::string& data_;
  std::string where_;
};

struct Directory {
  uint64_t entries = 0, offset = 0;
};

StatusOr<Directory> findDirectory(const Bytes& b) {
  if (b.size() < 22) return b.truncated();
  for (uint64_t at = b.size() - 22;; --at) {
    VITQ_ASSIGN_OR_RETURN(uint64_t sig, b.read(at, 4));
    if (sig == kEndOfDirectory) {
      Directory d;
      VITQ_ASSIGN_OR_RETURN(d.entries, b.read(at + 10, 2));
      VITQ_ASSIGN_OR_RETURN(d.offset, b.read(at + 16, 4));
      if ((d.entries == 0xFFFF || d.offset == 0xFFFFFFFF) && at >= 20) {  // ZIP64: the real counts live elsewhere
        VITQ_ASSIGN_OR_RETURN(uint64_t locator, b.read(at - 20, 4));
        if (locator != kZip64Locator) return b.truncated();
        VITQ_ASSIGN_OR_RETURN(uint64_t end64, b.read(at - 20 + 8, 8));
        VITQ_ASSIGN_OR_RETURN(uint64_t sig64, b.read(end64, 4));
        if (sig64 != kZip64End) return b.truncated();
        VITQ_ASSIGN_OR_RETURN(d.entries, b.read(end64 + 32, 8));
        VITQ_ASSIGN_OR_RETURN(d.offset, b.read(end64 + 48, 8));
      }
      return d;
    }
    if (at == 0 || b.size() - at > 22 + 65535) return b.truncated();
  }
}

StatusOr<std::string> inflateRaw(const std::string& compressed, uint64_t size, const Bytes& b, const std::string& name) {
  std::string out(size, '\0');
  z_stream z{};
  if (inflateInit2(&z, -MAX_WBITS) != Z_OK) return internalError("zlib inflateInit2 failed");
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(compressed.data()));
  z.avail_in = static_cast<uInt>(compressed.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  const int rc = inflate(&z, Z_FINISH);
  const uint64_t produced = z.total_out;
  inflateEnd(&z);
  if (rc != Z_STREAM_END || produced != size) return b.bad("entry '" + name + "' does not inflate to its declared size");
  return out;
}

}  // namespace

StatusOr<std::vector<std::pair<std::string, Tensor>>> readNpz(const std::filesystem::path& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) return notFound("cannot open '" + path.string() + "'");
  protectInput(path, "an input file");
  std::ostringstream content;
  content << file.rdbuf();
  const std::string data = content.str();
  const Bytes b(data, "'" + path.string() + "'");
  VITQ_ASSIGN_OR_RETURN(Directory dir, findDirectory(b));
  std::vector<std::pair<std::string, Tensor>> arrays;
  uint64_t at = dir.offset;
  for (uint64_t e = 0; e < dir.entries; ++e) {
    VITQ_ASSIGN_OR_RETURN(uint64_t sig, b.read(at, 4));
    if (sig != kDirectoryEntry) return b.truncated();
    VITQ_ASSIGN_OR_RETURN(uint64_t method, b.read(at + 10, 2));
    VITQ_ASSIGN_OR_RETURN(uint64_t crc, b.read(at + 16, 4));
    VITQ_ASSIGN_OR_RETURN(uint64_t compressed, b.read(at + 20, 4));
    VITQ_ASSIGN_OR_RETURN(uint64_t size, b.read(at + 24, 4));
    VITQ_ASSIGN_OR_RETURN(uint64_t name_len, b.read(at + 28, 2));
    VITQ_ASSIGN_OR_RETURN(uint64_t extra_len, b.read(at + 30, 2));
    VITQ_ASSIGN_OR_RETURN(uint64_t comment_len, b.read(at + 32, 2));
    VITQ_ASSIGN_OR_RETURN(uint64_t local, b.read(at + 42, 4));
    VITQ_ASSIGN_OR_RETURN(std::string name, b.slice(at + 46, name_len));
    // ZIP64 extra field: the 64-bit values of the fields saturated at 0xFFFFFFFF, in this order.
    for (uint64_t x = at + 46 + name_len; x + 4 <= at + 46 + name_len + extra_len;) {
      VITQ_ASSIGN_OR_RETURN(uint64_t id, b.read(x, 2));
      VITQ_ASSIGN_OR_RETURN(uint64_t len, b.read(x + 2, 2));
      if (id == 1) {
        uint64_t field = x + 4;
        for (uint64_t* v : {&size, &compressed, &local}) {
          if (*v != 0xFFFFFFFF) continue;
          VITQ_ASSIGN_OR_RETURN(*v, b.read(field, 8));
          field += 8;
        }
      }
      x += 4 + len;
    }
    at += 46 + name_len + extra_len + comment_len;
    if (name.size() < 5 || name.compare(name.size() - 4, 4, ".npy") != 0) continue;  // not an array
    if (method != 0 && method != 8) return b.bad("entry '" + name + "' uses ZIP method " + std::to_string(method) + " (stored or deflate expected)");
    if (size > compressed * kMaxInflateRatio + 1024) return b.bad("entry '" + name + "' claims an impossible size");
    if (size > 0xFFFFFFFFull || compressed > 0xFFFFFFFFull) {
      return b.bad("entry '" + name + "' is over 4 GiB; split the data into several files");
    }
    VITQ_ASSIGN_OR_RETURN(uint64_t local_sig, b.read(local, 4));
    if (local_sig != kLocalHeader) return b.truncated();
    VITQ_ASSIGN_OR_RETURN(uint64_t local_name, b.read(local + 26, 2));
    VITQ_ASSIGN_OR_RETURN(uint64_t local_extra, b.read(local + 28, 2));
    VITQ_ASSIGN_OR_RETURN(std::string stored, b.slice(local + 30 + local_name + local_extra, compressed));
    std::string bytes;
    if (method == 0) {
      if (compressed != size) return b.bad("stored entry '" + name + "' has two sizes");
      bytes = std::move(stored);
    } else {
      VITQ_ASSIGN_OR_RETURN(bytes, inflateRaw(stored, size, b, name));
    }
    const uLong actual = crc32(crc32(0L, Z_NULL, 0), reinterpret_cast<const Bytef*>(bytes.data()), static_cast<uInt>(bytes.size()));
    if (actual != crc) return b.bad("entry '" + name + "' is corrupt (CRC mismatch)");
    VITQ_ASSIGN_OR_RETURN(Tensor t, parseNpy(bytes, path.string() + ":" + name));
    arrays.emplace_back(name.substr(0, name.size() - 4), std::move(t));
  }
  if (arrays.empty()) return invalidArgument("'" + path.string() + "' holds no .npy arrays");
  return arrays;
}

}  // namespace vitq
