// Store put path against its physical limit, on the shm directory given by
// $MATCACHE_BENCH_DIR (default /dev/shm). Run by hand:
//   build/bin/core_bench --benchmark_counters_tabular=true
// Compare BM_StorePut with BM_PrivateMemcpy (the floor for any put) and
// BM_Checksum (the part of Commit that reads the data).
#include <sys/mman.h>

#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "benchmark/benchmark.h"
#include "server/core/cache/store.h"
#include "server/core/format/checksum.h"

namespace matcache {
namespace {

constexpr int64_t kMiB = int64_t{1} << 20;

std::string BenchDir() {
  const char* dir = std::getenv("MATCACHE_BENCH_DIR");
  return dir != nullptr ? dir : "/dev/shm";
}

std::vector<char> Source(int64_t bytes) {
  std::vector<char> source(bytes);
  for (int64_t i = 0; i < bytes; i += 4096) source[i] = static_cast<char>(i);
  return source;
}

void SetBytes(benchmark::State& state, int64_t bytes) {
  state.SetBytesProcessed(state.iterations() * bytes);
}

void BM_PrivateMemcpy(benchmark::State& state) {
  const int64_t bytes = state.range(0) * kMiB;
  const std::vector<char> source = Source(bytes);
  std::vector<char> target(bytes, 1);  // warm: already faulted in
  for (auto _ : state) {
    std::memcpy(target.data(), source.data(), bytes);
    benchmark::DoNotOptimize(target.data());
  }
  SetBytes(state, bytes);
}

void BM_Checksum(benchmark::State& state) {
  const int64_t bytes = state.range(0) * kMiB;
  const std::vector<char> source = Source(bytes);
  for (auto _ : state) {
    benchmark::DoNotOptimize(Checksum(source.data(), bytes));
  }
  SetBytes(state, bytes);
}

// BeginWrite (fallocate + prefault) + one memcpy + Commit (checksum, seal,
// rename); the matrix is deleted outside the timed region.
void BM_StorePut(benchmark::State& state) {
  const int64_t bytes = state.range(0) * kMiB;
  const std::vector<char> source = Source(bytes);
  StoreOptions options;
  options.shm_dir = BenchDir();
  options.name_space = "matcache-bench";
  absl::StatusOr<std::unique_ptr<Store>> store = Store::Open(options);
  if (!store.ok()) {
    state.SkipWithError(std::string(store.status().message()).c_str());
    return;
  }
  for (auto _ : state) {
    absl::StatusOr<StagingWrite> write = (*store)->BeginWrite(
        "m", {bytes}, DType::kUInt8, Segment::Prefault::kYes);
    if (!write.ok()) {
      state.SkipWithError(std::string(write.status().message()).c_str());
      return;
    }
    std::memcpy(write->segment->mutable_data(), source.data(), bytes);
    if (!(*store)->Commit(write->write_id).ok()) {
      state.SkipWithError("commit failed");
      return;
    }
    state.PauseTiming();
    write->segment.reset();
    (void)(*store)->Delete("m");
    state.ResumeTiming();
  }
  SetBytes(state, bytes);
}

BENCHMARK(BM_PrivateMemcpy)->Arg(64)->Arg(1024)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Checksum)->Arg(64)->Arg(1024)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_StorePut)->Arg(64)->Arg(1024)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace matcache

BENCHMARK_MAIN();
