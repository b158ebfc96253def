#include "compression.h"

#include <lz4frame.h>
#include <snappy-c.h>
#include <zlib.h>
#include <zstd.h>

#include <cstring>
#include <memory>
#include <string>

#include "sluice/base/bytes.h"

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

// gzip: a gzip stream (RFC 1952), as Kafka's clients write it. Decoding also accepts a bare
// zlib stream, which some clients have sent.
Status compress_gzip(ByteView in, Bytes& out) {
  z_stream zs{};
  if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) !=
      Z_OK) {
    return internal_error("gzip: cannot create a compression stream");
  }
  const size_t start = out.size();
  const size_t bound = deflateBound(&zs, in.size());
  out.resize(start + bound);
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data() + start);
  zs.avail_out = static_cast<uInt>(bound);
  const int rc = deflate(&zs, Z_FINISH);
  const size_t n = zs.total_out;
  deflateEnd(&zs);
  if (rc != Z_STREAM_END) {
    out.resize(start);
    return internal_error("gzip compression failed");
  }
  out.resize(start + n);
  return Status();
}

Status decompress_gzip(ByteView in, Bytes& out, size_t max_output) {
  z_stream zs{};
  // 32 + 15: detect a gzip or zlib header, largest window.
  if (inflateInit2(&zs, 32 + 15) != Z_OK) return internal_error("gzip: cannot create a stream");
  std::unique_ptr<z_stream, decltype(&inflateEnd)> guard(&zs, &inflateEnd);
  const size_t start = out.size();
  size_t capacity = std::min(in.size() * 4 + 1024, max_output);
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  int rc = Z_OK;
  while (rc != Z_STREAM_END) {
    if (zs.total_out == capacity) {
      if (capacity == max_output) {
        out.resize(start);
        return corruption("gzip data inflates past the batch size limit");
      }
      capacity = std::min(capacity * 2, max_output);
    }
    out.resize(start + capacity);
    zs.next_out = reinterpret_cast<Bytef*>(out.data() + start + zs.total_out);
    zs.avail_out = static_cast<uInt>(capacity - zs.total_out);
    rc = inflate(&zs, Z_NO_FLUSH);
    if (rc == Z_BUF_ERROR && zs.avail_in == 0) {
      out.resize(start);
      return corruption("gzip data is truncated");
    }
    if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR) {
      out.resize(start);
      return corruption(std::string("gzip data is corrupt: ") +
                        (zs.msg ? zs.msg : "inflate failed"));
    }
  }
  out.resize(start + zs.total_out);
  if (zs.avail_in != 0) return corruption("gzip data continues past the end of its stream");
  return Status();
}

// snappy: Kafka's clients write either one raw snappy block (librdkafka) or the xerial
// snappy-java framing (the Java client): a 16-byte header, then blocks each prefixed by its
// big-endian compressed length. Sluice writes raw snappy, as librdkafka does.
constexpr char kXerialMagic[8] = {'\x82', 'S', 'N', 'A', 'P', 'P', 'Y', '\0'};
constexpr size_t kXerialHeaderBytes = 16;

Status compress_snappy(ByteView in, Bytes& out) {
  const size_t start = out.size();
  size_t n = snappy_max_compressed_length(in.size());
  out.resize(start + n);
  if (snappy_compress(in.data(), in.size(), out.data() + start, &n) != SNAPPY_OK) {
    out.resize(start);
    return internal_error("snappy compression failed");
  }
  out.resize(start + n);
  return Status();
}

// Appends one raw snappy block to `out`; `budget` is what may still be appended.
Status decompress_snappy_block(ByteView in, Bytes& out, size_t& budget) {
  size_t n = 0;
  if (snappy_uncompressed_length(in.data(), in.size(), &n) != SNAPPY_OK) {
    return corruption("snappy block is corrupt: bad length preamble");
  }
  if (n > budget) return corruption("snappy data inflates past the batch size limit");
  const size_t start = out.size();
  out.resize(start + n);
  if (snappy_uncompress(in.data(), in.size(), out.data() + start, &n) != SNAPPY_OK) {
    out.resize(start);
    return corruption("snappy block is corrupt");
  }
  out.resize(start + n);
  budget -= n;
  return Status();
}

Status decompress_snappy(ByteView in, Bytes& out, size_t max_output) {
  size_t budget = max_output;
  if (in.size() < kXerialHeaderBytes ||
      std::memcmp(in.data(), kXerialMagic, sizeof(kXerialMagic)) != 0) {
    return decompress_snappy_block(in, out, budget);
  }
  const size_t start = out.size();
  in.remove_prefix(kXerialHeaderBytes);
  while (!in.empty()) {
    Status s;
    if (in.size() < 4) s = corruption("snappy-java frame is truncated");
    const uint32_t length = s.ok() ? load_be<uint32_t>(in.data()) : 0;
    if (s.ok() && length > in.size() - 4) s = corruption("snappy-java block runs past the batch");
    if (s.ok()) s = decompress_snappy_block(in.substr(4, length), out, budget);
    if (!s.ok()) {
      out.resize(start);
      return s;
    }
    in.remove_prefix(4 + length);
  }
  return Status();
}

}  // namespace

Status compress(Compression codec, ByteView in, Bytes& out) {
  switch (codec) {
    case Compression::kLz4:
      return compress_lz4(in, out);
    case Compression::kZstd:
      return compress_zstd(in, out);
    case Compression::kGzip:
      return compress_gzip(in, out);
    case Compression::kSnappy:
      return compress_snappy(in, out);
    default:
      return invalid_argument("cannot compress with " + std::string(compression_name(codec)));
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
      return decompress_gzip(in, out, max_output);
    case Compression::kSnappy:
      return decompress_snappy(in, out, max_output);
  }
  return corruption("record batch names an unknown compression codec id " +
                    std::to_string(static_cast<int>(codec)));
}

}  // namespace sluice::logstore
