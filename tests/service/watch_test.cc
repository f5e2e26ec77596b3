// The Watch RPC through matcache::Client against a real server: its
// iterator, its callback, and cancelling from another thread.
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <xtensor/xarray.hpp>

#include "absl/strings/str_cat.h"
#include "matcache/client.h"
#include "gtest/gtest.h"
#include "tests/support/server_test_base.h"

namespace matcache {
namespace {

using Kind = WatchEvent::Kind;

class WatchTest : public matcache::testing::ServerTestBase {
 protected:
  std::unique_ptr<Client> Connect() {
    ClientOptions options;
    options.address = unix_address();
    return Client::Connect(options);
  }

  // The next event of `stream`; a failure or the end fails the test.
  static WatchEvent NextOf(WatchStream& stream) {
    absl::StatusOr<std::optional<WatchEvent>> next = stream.Next();
    EXPECT_TRUE(next.ok()) << next.status();
    EXPECT_TRUE(next.ok() && next->has_value());
    return next.ok() && next->has_value() ? **next : WatchEvent();
  }

  // Waits until the server counts `watchers` watchers.
  void AwaitWatchers(int64_t watchers) {
    auto stub = NewStub();
    while (true) {
      grpc::ClientContext context;
      v1::StatsResponse stats;
      ASSERT_TRUE(stub->Stats(&context, v1::StatsRequest(), &stats).ok());
      if (stats.watchers() == watchers) return;
    }
  }
};

TEST_F(WatchTest, TheIteratorGivesTheSnapshotThenEachChangeInOrder) {
  auto client = Connect();
  absl::StatusOr<MatrixInfo> a = client->Put("a", xt::xarray<double>{1, 2});
  ASSERT_TRUE(a.ok()) << a.status();
  std::unique_ptr<WatchStream> stream = client->Watch("", /*initial=*/true);
  WatchEvent snapshot = NextOf(*stream);
  EXPECT_EQ(snapshot.kind, Kind::kPut);
  EXPECT_EQ(snapshot.reason, std::nullopt);
  EXPECT_EQ(snapshot.name, "a");
  EXPECT_EQ(snapshot.info.id, a->id);
  EXPECT_EQ(NextOf(*stream).kind, Kind::kSnapshotComplete);

  absl::StatusOr<MatrixInfo> b = client->Put("b", xt::xarray<int32_t>{{1, 2}, {3, 4}});
  ASSERT_TRUE(b.ok()) << b.status();
  ASSERT_TRUE(client->Delete("a").ok());
  WatchEvent put = NextOf(*stream);
  EXPECT_EQ(put.kind, Kind::kPut);
  EXPECT_EQ(put.reason, ChangeReason::kPut);
  EXPECT_EQ(put.generation, b->generation);
  EXPECT_EQ(put.info.shape, b->shape);
  EXPECT_EQ(put.info.dtype, DType::kInt32);
  WatchEvent deleted = NextOf(*stream);
  EXPECT_EQ(deleted.kind, Kind::kDelete);
  EXPECT_EQ(deleted.reason, ChangeReason::kDelete);
  EXPECT_EQ(deleted.generation, a->generation);
  EXPECT_GT(deleted.sequence, put.sequence);
}

TEST_F(WatchTest, TheCallbackRunsUntilItReturnsFalse) {
  auto client = Connect();
  std::vector<std::string> seen;
  absl::Status watched = client->Watch("m", /*initial=*/true, [&](const WatchEvent& event) {
    if (event.kind == Kind::kSnapshotComplete) {
      // Registered: these changes come next.
      EXPECT_TRUE(client->Put("other", xt::xarray<double>{0}).ok());
      EXPECT_TRUE(client->Put("m1", xt::xarray<double>{1}).ok());
      EXPECT_TRUE(client->Put("m2", xt::xarray<double>{2}).ok());
      return true;
    }
    seen.push_back(event.name);
    return seen.size() < 2;
  });
  EXPECT_TRUE(watched.ok()) << watched;
  EXPECT_EQ(seen, (std::vector<std::string>{"m1", "m2"}));
  AwaitWatchers(0);  // the stream ended with the callback
}

TEST_F(WatchTest, CancelFromAnotherThreadEndsAWaitingNext) {
  auto client = Connect();
  std::unique_ptr<WatchStream> stream = client->Watch();
  absl::StatusOr<std::optional<WatchEvent>> next;
  std::thread waiter([&] { next = stream->Next(); });
  AwaitWatchers(1);
  stream->Cancel();
  waiter.join();
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_FALSE(next->has_value());
  EXPECT_FALSE(*stream->Next());  // and stays ended
  AwaitWatchers(0);
}

TEST_F(WatchTest, AServerShuttingDownEndsTheStreamWithUnavailable) {
  auto client = Connect();
  std::unique_ptr<WatchStream> stream = client->Watch("", /*initial=*/true);
  EXPECT_EQ(NextOf(*stream).kind, Kind::kSnapshotComplete);
  StopServer();
  absl::StatusOr<std::optional<WatchEvent>> next = stream->Next();
  EXPECT_TRUE(absl::IsUnavailable(next.status())) << next.status();
}

}  // namespace
}  // namespace matcache
