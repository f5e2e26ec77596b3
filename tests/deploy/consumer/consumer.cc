// Uses the installed client: it prints the status of an Info from a server
// that is not there. Given any argument, it instead runs every call of the
// API against that address, so that linking it needs every function the
// library exports.
#include <iostream>
#include <string>

#include <matcache/client.h>
#include <xtensor/xarray.hpp>

namespace {

void UseEveryCall(const std::string& address) {
  matcache::ClientOptions options;
  options.address = address.empty() ? matcache::DefaultAddress() : address;
  auto client = matcache::Client::Connect(options);
  std::cout << client->address() << " " << matcache::ServerFile("access.token")
            << " " << matcache::SegmentId::Random().ToHex() << "\n";
  const xt::xarray<double> square = {{1.0, 2.0}, {3.0, 4.0}};
  std::cout << client->Put("m", square).status() << "\n";
  if (auto mapped = client->Get("m"); mapped.ok()) {
    std::cout << mapped->View<double>().status() << "\n";
  }
  std::cout << client->Read<double>("m", {matcache::Index::At(0)}).status()
            << "\n";
  std::cout << client->Preview<double>("m", {1, 1}).status() << "\n";
  std::cout << client->List().status() << "\n";
  std::cout << client->Delete("m") << "\n";
  auto events = client->Watch("m");
  std::cout << events->Next().status() << "\n";
  events->Cancel();
  std::cout << client->Watch("m", false,
                             [](const matcache::WatchEvent&) { return false; })
            << "\n";
  for (const matcache::DTypeInfo& dtype : matcache::AllDTypes()) {
    std::cout << dtype.name << " "
              << matcache::DTypeFromName(dtype.name).ok() << " "
              << matcache::DTypeFromCode(static_cast<uint32_t>(dtype.dtype))
                     .ok()
              << "\n";
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1) {
    UseEveryCall(argv[1]);
    return 0;
  }
  matcache::ClientOptions options;
  options.address = "unix:/nonexistent/s.sock";
  auto client = matcache::Client::Connect(options);
  auto info = client->Info("x");
  std::cout << "status: " << info.status() << "\n";
}
