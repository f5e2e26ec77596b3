#include <iostream>
#include <matcache/client.h>
int main() {
  matcache::ClientOptions options;
  options.address = "unix:/nonexistent/s.sock";
  auto client = matcache::Client::Connect(options);
  auto info = client->Info("x");
  std::cout << "status: " << info.status() << "\n";
}
