// Full streamed read of one matrix into C++ through matcache::Client::Read,
// repeated; prints "gbps=<GB/s>" per repetition. Run by bench/run (the
// suite's remote reads, bench/suite/remote.py) or by hand against a running
// server:
//   build/bin/read_bench --address 127.0.0.1:7470 --name big --repeat 5
#include <chrono>
#include <cstdio>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "matcache/client.h"

ABSL_FLAG(std::string, address, "127.0.0.1:7470", "matcached address");
ABSL_FLAG(std::string, name, "", "float64 matrix to read");
ABSL_FLAG(int, repeat, 5, "repetitions");

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  matcache::ClientOptions options;
  options.address = absl::GetFlag(FLAGS_address);
  options.timeout = absl::Minutes(10);
  auto client = matcache::Client::Connect(options);
  for (int i = 0; i < absl::GetFlag(FLAGS_repeat); ++i) {
    const auto start = std::chrono::steady_clock::now();
    absl::StatusOr<xt::xarray<double>> matrix =
        client->Read<double>(absl::GetFlag(FLAGS_name));
    const std::chrono::duration<double> elapsed =
        std::chrono::steady_clock::now() - start;
    if (!matrix.ok()) {
      std::fprintf(stderr, "read_bench: %s\n", matrix.status().ToString().c_str());
      return 1;
    }
    std::printf("gbps=%.3f\n", matrix->size() * 8 / elapsed.count() / 1e9);
    std::fflush(stdout);
  }
  return 0;
}
