// Throughput of the record batch codec on batches of 1000 records (8-byte key, 100-byte value):
// encoding, full validation (what every append does), decoding, and — the in-run baseline — a
// plain memcpy of the same bytes.
#include <benchmark/benchmark.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "gbench_main.h"
#include "sluice/logstore/record_batch.h"

namespace sluice::logstore {
namespace {

struct Data {
  explicit Data(int n, Compression c = Compression::kNone) : keys(n), values(n) {
    std::mt19937_64 rng(7);
    for (int i = 0; i < n; ++i) {
      uint64_t k = static_cast<uint64_t>(i);
      keys[i].assign(reinterpret_cast<const char*>(&k), 8);
      values[i].resize(100);
      // Half random, half repetitive: compressible like real records.
      for (size_t j = 0; j < values[i].size(); ++j) {
        values[i][j] = j < 50 ? static_cast<char>(rng()) : 'x';
      }
      records.push_back(Record{.key = ByteView(keys[i]), .value = ByteView(values[i])});
    }
    RecordBatchBuilder b({.compression = c});
    for (const Record& r : records) b.add(r);
    batch = *b.build();
  }
  std::vector<std::string> keys, values;
  std::vector<Record> records;
  Bytes batch;
};

void BM_MemcpyBaseline(benchmark::State& state) {
  Data data(1000);
  Bytes dst(data.batch.size(), '\0');
  for (auto _ : state) {
    std::memcpy(dst.data(), data.batch.data(), data.batch.size());
    benchmark::DoNotOptimize(dst.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * data.batch.size()));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * 1000));
}
BENCHMARK(BM_MemcpyBaseline);

void BM_Encode(benchmark::State& state) {
  Data data(1000, static_cast<Compression>(state.range(0)));
  RecordBatchBuilder b({.compression = static_cast<Compression>(state.range(0))});
  for (auto _ : state) {
    b.reset();
    for (const Record& r : data.records) b.add(r);
    auto built = b.build();
    benchmark::DoNotOptimize(built);
    b.recycle(std::move(built).value());  // as a producer appending batch after batch does
  }
  // Bytes are counted uncompressed, so the codecs compare on the same work.
  Data plain(1000);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * plain.batch.size()));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * 1000));
}
BENCHMARK(BM_Encode)->Arg(0)->Arg(3)->Arg(4)->ArgName("codec");

void BM_Validate(benchmark::State& state) {
  Data data(1000, static_cast<Compression>(state.range(0)));
  auto view = *RecordBatchView::parse(data.batch);
  for (auto _ : state) {
    auto n = validate_batch(view, true);
    benchmark::DoNotOptimize(n);
  }
  Data plain(1000);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * plain.batch.size()));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * 1000));
}
BENCHMARK(BM_Validate)->Arg(0)->Arg(3)->Arg(4)->ArgName("codec");

void BM_Decode(benchmark::State& state) {
  Data data(1000, static_cast<Compression>(state.range(0)));
  auto view = *RecordBatchView::parse(data.batch);
  for (auto _ : state) {
    auto it = *RecordIterator::open(view);
    RecordView r;
    size_t sum = 0;
    while (*it.next(r)) sum += r.value->size();
    benchmark::DoNotOptimize(sum);
  }
  Data plain(1000);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * plain.batch.size()));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * 1000));
}
BENCHMARK(BM_Decode)->Arg(0)->Arg(3)->Arg(4)->ArgName("codec");

SLUICE_BENCH_RATIO(validate_vs_memcpy_ratio, "BM_Validate/codec:0", "BM_MemcpyBaseline");
SLUICE_BENCH_RATIO(encode_vs_memcpy_ratio, "BM_Encode/codec:0", "BM_MemcpyBaseline");
SLUICE_BENCH_RATIO(decode_vs_memcpy_ratio, "BM_Decode/codec:0", "BM_MemcpyBaseline");

}  // namespace
}  // namespace sluice::logstore
