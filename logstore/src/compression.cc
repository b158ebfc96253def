#include "compression.h"

#include <lz4frame.h>
#include <zstd.h>

#include <memory>
#include <string>

namespace sluice::logstore {
namespace {

// Kafka's default zstd level; a good balance of ratio and speed for record data.
constexpr int kZstdLevel = 3;

Status compress_lz4(ByteView in, Bytes& out) {
  LZ4F_preferences_t prefs{};
  prefs.frameInfo.contentSize = in.size();  // lets the reader size its buffer once
  prefs.frameInfo.blockSizeID = LZ4F_max64KB;
  // Kafka's Java client and broker refuse linked blocks ("Dependent block stream is
  // unsupported"): every block must decode on its own.
  prefs.frameInfo.blockMode = LZ4F_blockIndependent;
  size_t bound = LZ4F_compressFrameBound(in.size(), &prefs);
  size_t start = out.size();
  out.resize(start + bound);
  size_t n = LZ4F_compressFrame(out.data() + start, bound, in.data(), in.size(), &prefs);
  if (LZ4F_isError(n)) {
    out.resize(start);
    return internal_error(std::string("lz4 compression failed: ") + LZ4F_getErrorName(n));
  }
  out.resize(start + n);
  return Status();
}

struct Lz4DctxDeleter {
  void operator()(LZ4F_dctx* d) const { LZ4F_freeDecompressionContext(d); }
};

Status decompress_lz4(ByteView in, Bytes& out, size_t max_output) {
  LZ4F_dctx* raw = nullptr;
  if (LZ4F_isError(LZ4F_createDecompressionContext(&raw, LZ4F_VERSION))) {
    return internal_error("lz4: cannot create a decompression context");
  }
  std::unique_ptr<LZ4F_dctx, Lz4DctxDeleter> dctx(raw);
  const size_t start = out.size();
  size_t capacity = in.size() * 4 + 1024;
  const char* src = in.data();
  size_t src_left = in.size();
  size_t written = 0;
  size_t hint = 1;
  while (src_left > 0 && hint != 0) {
    if (written == capacity) capacity *= 2;
    if (capacity > max_output) capacity = max_output;
    if (written == capacity) return corruption("lz4 frame inflates past the batch size limit");
    out.resize(start + capacity);
    size_t dst_size = capacity - written;
    size_t src_size = src_left;
    hint = LZ4F_decompress(dctx.get(), out.data() + start + written, &dst_size, src, &src_size,
                           nullptr);
    if (LZ4F_isError(hint)) {
      out.resize(start);
      return corruption(std::string("lz4 frame is corrupt: ") + LZ4F_getErrorName(hint));
    }
    written += dst_size;
    src += src_size;
    src_left -= src_size;
    if (src_size == 0 && dst_size == 0 && written < capacity) break;  // no progress possible
  }
  out.resize(start + written);
  if (hint != 0) return corruption("lz4 frame is truncated");
  return Status();
}

Status compress_zstd(ByteView in, Bytes& out) {
  thread_local std::unique_ptr<ZSTD_CCtx, decltype(&ZSTD_freeCCtx)> cctx(ZSTD_createCCtx(),
                                                                         &ZSTD_freeCCtx);
  size_t bound = ZSTD_compressBound(in.size());
  size_t start = out.size();
  out.resize(start + bound);
  size_t n =
      ZSTD_compressCCtx(cctx.get(), out.data() + start, bound, in.data(), in.size(), kZstdLevel);
  if (ZSTD_isError(n)) {
    out.resize(start);
    return internal_error(std::string("zstd compression failed: ") + ZSTD_getErrorName(n));
  }
  out.resize(start + n);
  return Status();
}

Status decompress_zstd(ByteView in, Bytes& out, size_t max_output) {
  thread_local std::unique_ptr<ZSTD_DStream, decltype(&ZSTD_freeDStream)> dstream(
      ZSTD_createDStream(), &ZSTD_freeDStream);
  ZSTD_initDStream(dstream.get());
  const size_t start = out.size();
  unsigned long long known = ZSTD_getFrameContentSize(in.data(), in.size());
  size_t capacity =
      (known != ZSTD_CONTENTSIZE_UNKNOWN && known != ZSTD_CONTENTSIZE_ERROR && known <= max_output)
          ? static_cast<size_t>(known) + 1
          : in.size() * 4 + 1024;
  ZSTD_inBuffer input{in.data(), in.size(), 0};
  size_t written = 0;
  size_t ret = 1;
  while (ret != 0) {
    if (written == capacity) capacity *= 2;
    if (capacity > max_output) capacity = max_output;
    if (written == capacity) {
      out.resize(start);
      return corruption("zstd frame inflates past the batch size limit");
    }
    out.resize(start + capacity);
    ZSTD_outBuffer output{out.data() + start, capacity, written};
    size_t pos_before = input.pos;
    ret = ZSTD_decompressStream(dstream.get(), &output, &input);
    if (ZSTD_isError(ret)) {
      out.resize(start);
      return corruption(std::string("zstd frame is corrupt: ") + ZSTD_getErrorName(ret));
    }
    bool progressed = output.pos != written || input.pos != pos_before;
    written = output.pos;
    if (ret != 0 && input.pos == input.size && output.pos < capacity) break;  // input exhausted
    if (!progressed && written < capacity) break;
  }
  out.resize(start + written);
  if (ret != 0) return corruption("zstd frame is truncated");
  if (input.pos != input.size) return corruption("zstd data continues past the end of its frame");
  return Status();
}

}  // namespace

Status compress(Compression codec, ByteView in, Bytes& out) {
  switch (codec) {
    case Compression::kLz4:
      return compress_lz4(in, out);
    case Compression::kZstd:
      return compress_zstd(in, out);
    default:
      return invalid_argument("cannot compress with " + std::string(compression_name(codec)) +
                              ": Sluice writes lz4 or zstd");
  }
}

Status decompress(Compression codec, ByteView in, Bytes& out, size_t max_output) {
  switch (codec) {
    case Compression::kLz4:
      return decompress_lz4(in, out, max_output);
    case Compression::kZstd:
      return decompress_zstd(in, out, max_output);
    case Compression::kNone:
      out.append(in);
      return Status();
    case Compression::kGzip:
    case Compression::kSnappy:
      return unimplemented("batch compressed with " + std::string(compression_name(codec)) +
                           " cannot be read: Sluice supports lz4 and zstd");
  }
  return corruption("record batch names an unknown compression codec id " +
                    std::to_string(static_cast<int>(codec)));
}

}  // namespace sluice::logstore
