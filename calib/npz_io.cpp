#include "calib/npz_io.h"

#include <zlib.h>

#include <algorithm>
#include <climits>
#include <mutex>

#include "onnx_io/atomic_file.h"

namespace vitq {
namespace {

constexpr uint32_t kEndOfDirectory = 0x06054b50, kZip64End = 0x06064b50, kZip64Locator = 0x07064b50;
constexpr uint32_t kDirectoryEntry = 0x02014b50, kLocalHeader = 0x04034b50;
constexpr uint64_t kMaxInflateRatio = 1032;  // deflate's largest possible expansion
constexpr uint64_t kMaxComment = 65535;      // the end record may be followed by a comment this long
constexpr size_t kChunk = 1 << 20;           // bytes per read when streaming an entry

uint64_t littleEndian(const char* p, int width) {
  uint64_t v = 0;
  for (int i = width - 1; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

// Little-endian reads of the archive's records, with bounds checks against the whole file.
class Bytes {
 public:
  Bytes(const FileSource& file, std::string where) : file_(file), where_(std::move(where)) {}
  StatusOr<uint64_t> read(uint64_t at, int width) const {
    VITQ_ASSIGN_OR_RETURN(std::string bytes, slice(at, static_cast<uint64_t>(width)));
    return littleEndian(bytes.data(), width);
  }
  StatusOr<std::string> slice(uint64_t at, uint64_t length) const {
    VITQ_RETURN_IF_ERROR(within(at, length));
    std::string out(length, '\0');
    VITQ_RETURN_IF_ERROR(file_.read(at, length, out.data()));
    return out;
  }
  Status within(uint64_t at, uint64_t length) const {
    return at > size() || length > size() - at ? truncated() : Status::ok();
  }
  Status truncated() const { return invalidArgument(where_ + " is truncated or not a valid .npz (ZIP) archive"); }
  Status bad(const std::string& what) const { return invalidArgument(where_ + ": " + what); }
  uint64_t size() const { return file_.size(); }

 private:
  const FileSource& file_;
  std::string where_;
};

struct Directory {
  uint64_t entries = 0, offset = 0;
};

StatusOr<Directory> findDirectory(const Bytes& b) {
  if (b.size() < 22) return b.truncated();
  const uint64_t tail_start = b.size() - std::min<uint64_t>(b.size(), 22 + kMaxComment);
  VITQ_ASSIGN_OR_RETURN(const std::string tail, b.slice(tail_start, b.size() - tail_start));
  for (uint64_t i = tail.size() - 22;; --i) {
    if (littleEndian(tail.data() + i, 4) == kEndOfDirectory) {
      const uint64_t at = tail_start + i;
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
    if (i == 0) return b.truncated();
  }
}

// A stored entry: a range of the file.
class StoredEntry : public ByteSource {
 public:
  StoredEntry(std::shared_ptr<const FileSource> file, uint64_t start, uint64_t size)
      : file_(std::move(file)), start_(start), size_(size) {}
  uint64_t size() const override { return size_; }
  Status read(uint64_t offset, uint64_t length, char* out) const override {
    return file_->read(start_ + offset, length, out);
  }

 private:
  std::shared_ptr<const FileSource> file_;
  uint64_t start_, size_;
};

// A deflated entry, inflated on demand: a read at or after the last one goes on from there, an
// earlier one inflates again from the entry's start. Reads are serialized (one stream state).
class DeflatedEntry : public ByteSource {
 public:
  DeflatedEntry(std::shared_ptr<const FileSource> file, uint64_t start, uint64_t compressed, uint64_t size,
                std::string where)
      : file_(std::move(file)), start_(start), compressed_(compressed), size_(size), where_(std::move(where)) {}
  ~DeflatedEntry() override {
    if (started_) inflateEnd(&z_);
  }
  uint64_t size() const override { return size_; }
  Status read(uint64_t offset, uint64_t length, char* out) const override {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!started_ || offset < produced_) VITQ_RETURN_IF_ERROR(restart());
    VITQ_RETURN_IF_ERROR(produce(nullptr, offset - produced_));
    return produce(out, length);
  }
  /// After all size() bytes were read: the deflate stream ends exactly there.
  Status checkEnd() const {
    std::lock_guard<std::mutex> lock(mutex_);
    char extra = 0;
    while (!ended_) {
      VITQ_ASSIGN_OR_RETURN(uint64_t made, step(&extra, 1));
      if (made) return wrongSize();
    }
    return Status::ok();
  }

 private:
  Status wrongSize() const { return invalidArgument(where_ + " does not inflate to its declared size"); }

  Status restart() const {
    if (!started_) {
      if (inflateInit2(&z_, -MAX_WBITS) != Z_OK) return internalError("zlib inflateInit2 failed");
      started_ = true;
      in_.resize(kChunk);
    } else if (inflateReset(&z_) != Z_OK) {
      return internalError("zlib inflateReset failed");
    }
    z_.avail_in = 0;
    produced_ = consumed_ = 0;
    ended_ = false;
    return Status::ok();
  }

  // One inflate call into \p out (room bytes); returns the bytes it produced.
  StatusOr<uint64_t> step(char* out, uInt room) const {
    if (z_.avail_in == 0 && consumed_ < compressed_) {
      const uint64_t n = std::min<uint64_t>(in_.size(), compressed_ - consumed_);
      VITQ_RETURN_IF_ERROR(file_->read(start_ + consumed_, n, in_.data()));
      consumed_ += n;
      z_.next_in = reinterpret_cast<Bytef*>(in_.data());
      z_.avail_in = static_cast<uInt>(n);
    }
    z_.next_out = reinterpret_cast<Bytef*>(out);
    z_.avail_out = room;
    const uInt input_before = z_.avail_in;
    const int rc = inflate(&z_, Z_NO_FLUSH);
    const uint64_t made = room - z_.avail_out;
    produced_ += made;
    if (rc == Z_STREAM_END) {
      ended_ = true;
    } else if ((rc != Z_OK && rc != Z_BUF_ERROR) || (made == 0 && z_.avail_in == input_before)) {
      return wrongSize();  // no deflate stream, or one that ends early: no progress is possible
    }
    return made;
  }

  // The next \p length bytes into \p out, or skipped (out null).
  Status produce(char* out, uint64_t length) const {
    std::vector<char> scratch(out ? 0 : std::min<uint64_t>(length, kChunk));
    while (length > 0) {
      if (ended_) return wrongSize();
      const uInt room = static_cast<uInt>(std::min<uint64_t>(length, out ? UINT_MAX / 2 : scratch.size()));
      VITQ_ASSIGN_OR_RETURN(uint64_t made, step(out ? out : scratch.data(), room));
      length -= made;
      if (out) out += made;
    }
    return Status::ok();
  }

  std::shared_ptr<const FileSource> file_;
  uint64_t start_, compressed_, size_;
  std::string where_;
  mutable std::mutex mutex_;
  mutable z_stream z_{};
  mutable std::vector<char> in_;
  mutable bool started_ = false, ended_ = false;
  mutable uint64_t produced_ = 0, consumed_ = 0;
};

// Streams \p entry once: its CRC-32 (and, deflated, that it inflates to exactly its size).
Status verifyEntry(const ByteSource& entry, const DeflatedEntry* deflated, uint64_t crc, const Bytes& b,
                   const std::string& name) {
  std::vector<char> chunk(static_cast<size_t>(std::min<uint64_t>(entry.size(), kChunk)));
  uLong actual = crc32(0L, Z_NULL, 0);
  for (uint64_t at = 0; at < entry.size(); at += chunk.size()) {
    const uint64_t n = std::min<uint64_t>(chunk.size(), entry.size() - at);
    VITQ_RETURN_IF_ERROR(entry.read(at, n, chunk.data()));
    actual = crc32(actual, reinterpret_cast<const Bytef*>(chunk.data()), static_cast<uInt>(n));
  }
  if (deflated) VITQ_RETURN_IF_ERROR(deflated->checkEnd());
  if (actual != crc) return b.bad("entry '" + name + "' is corrupt (CRC mismatch)");
  return Status::ok();
}

}  // namespace

StatusOr<std::vector<std::pair<std::string, NpyArray>>> openNpz(const std::filesystem::path& path) {
  auto opened = FileSource::open(path);
  if (!opened.isOk()) return notFound("cannot open '" + path.string() + "'");
  const std::shared_ptr<const FileSource> file = *opened;
  protectInput(path, "an input file");
  const Bytes b(*file, "'" + path.string() + "'");
  VITQ_ASSIGN_OR_RETURN(Directory dir, findDirectory(b));
  std::vector<std::pair<std::string, NpyArray>> arrays;
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
    VITQ_ASSIGN_OR_RETURN(const std::string extra, b.slice(at + 46 + name_len, extra_len));
    for (uint64_t x = 0; x + 4 <= extra.size();) {
      const uint64_t id = littleEndian(extra.data() + x, 2), len = littleEndian(extra.data() + x + 2, 2);
      if (id == 1) {
        uint64_t field = x + 4;
        for (uint64_t* v : {&size, &compressed, &local}) {
          if (*v != 0xFFFFFFFF) continue;
          if (field + 8 > extra.size()) return b.truncated();
          *v = littleEndian(extra.data() + field, 8);
          field += 8;
        }
      }
      x += 4 + len;
    }
    at += 46 + name_len + extra_len + comment_len;
    if (name.size() < 5 || name.compare(name.size() - 4, 4, ".npy") != 0) continue;  // not an array
    if (method != 0 && method != 8) return b.bad("entry '" + name + "' uses ZIP method " + std::to_string(method) + " (stored or deflate expected)");
    if (compressed > b.size() || size > compressed * kMaxInflateRatio + 1024) {
      return b.bad("entry '" + name + "' claims an impossible size");
    }
    if (method == 0 && compressed != size) return b.bad("stored entry '" + name + "' has two sizes");
    VITQ_ASSIGN_OR_RETURN(uint64_t local_sig, b.read(local, 4));
    if (local_sig != kLocalHeader) return b.truncated();
    VITQ_ASSIGN_OR_RETURN(uint64_t local_name, b.read(local + 26, 2));
    VITQ_ASSIGN_OR_RETURN(uint64_t local_extra, b.read(local + 28, 2));
    const uint64_t start = local + 30 + local_name + local_extra;
    VITQ_RETURN_IF_ERROR(b.within(start, compressed));
    std::shared_ptr<const ByteSource> entry;
    std::shared_ptr<const DeflatedEntry> deflated;
    if (method == 0) {
      entry = std::make_shared<StoredEntry>(file, start, size);
    } else {
      deflated = std::make_shared<DeflatedEntry>(file, start, compressed, size,
                                                 "'" + path.string() + "': entry '" + name + "'");
      entry = deflated;
    }
    VITQ_RETURN_IF_ERROR(verifyEntry(*entry, deflated.get(), crc, b, name));
    VITQ_ASSIGN_OR_RETURN(NpyArray array, NpyArray::open(entry, path.string() + ":" + name));
    arrays.emplace_back(name.substr(0, name.size() - 4), std::move(array));
  }
  if (arrays.empty()) return invalidArgument("'" + path.string() + "' holds no .npy arrays");
  return arrays;
}

}  // namespace vitq
