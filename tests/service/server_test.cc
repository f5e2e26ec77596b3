// The v1 service over real gRPC channels, with the generated stubs.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <functional>
#include <numeric>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/core/storage/fd_handoff.h"
#include "tests/support/server_test_base.h"

namespace matcache {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

class ServerTest : public matcache::testing::ServerTestBase {
 protected:
  void SetUp() override {
    ServerTestBase::SetUp();
    stub_ = NewStub();
  }

  // Sends a Put stream: a header, then `chunks`; returns the call status.
  grpc::Status PutChunks(const std::string& name, std::vector<int64_t> shape,
                         v1::DType dtype, const std::vector<std::string>& chunks,
                         v1::MatrixInfo* info = nullptr) {
    grpc::ClientContext context;
    v1::MatrixInfo response;
    auto writer = StartPut(*stub_, &context, info != nullptr ? info : &response,
                           name, shape, dtype);
    v1::PutRequest message;
    for (const std::string& chunk : chunks) {
      message.Clear();
      message.set_data(chunk);
      if (!writer->Write(message)) break;
    }
    writer->WritesDone();
    return writer->Finish();
  }

  // Publishes `values` as a 1-d int64 matrix through a Put stream.
  v1::MatrixInfo PutInt64(const std::string& name,
                          const std::vector<int64_t>& values) {
    v1::MatrixInfo info;
    std::string bytes(reinterpret_cast<const char*>(values.data()),
                      values.size() * sizeof(int64_t));
    grpc::Status status = PutChunks(
        name, {static_cast<int64_t>(values.size())}, v1::DTYPE_INT64, {bytes}, &info);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return info;
  }

  grpc::Status Info(const std::string& name, v1::MatrixInfo* info) {
    grpc::ClientContext context;
    v1::InfoRequest request;
    request.set_name(name);
    return stub_->Info(&context, request, info);
  }

  // Reads a whole Read stream: the header and the concatenated data.
  grpc::Status ReadAll(const v1::ReadRequest& request, v1::ReadHeader* header,
                       std::string* data) {
    grpc::ClientContext context;
    auto reader = stub_->Read(&context, request);
    v1::ReadResponse response;
    while (reader->Read(&response)) {
      if (response.has_header()) *header = response.header();
      data->append(response.data());
    }
    return reader->Finish();
  }

  std::unique_ptr<v1::MatrixCache::Stub> stub_;
};

std::vector<int64_t> Iota(int64_t count, int64_t start) {
  std::vector<int64_t> values(count);
  std::iota(values.begin(), values.end(), start);
  return values;
}

std::string Bytes(const std::vector<int64_t>& values) {
  return std::string(reinterpret_cast<const char*>(values.data()),
                     values.size() * sizeof(int64_t));
}

TEST_F(ServerTest, CreateWriteCommitPublishesWhatTheClientWrote) {
  grpc::ClientContext context;
  v1::CreateRequest request;
  request.set_name("m");
  request.add_shape(2);
  request.add_shape(3);
  request.set_dtype(v1::DTYPE_INT64);
  v1::CreateResponse created;
  ASSERT_TRUE(stub_->Create(&context, request, &created).ok());
  EXPECT_EQ(created.nbytes(), 48);
  EXPECT_EQ(created.data_offset(), 4096);
  EXPECT_THAT(created.path(), HasSubstr(".staging.shm"));
  EXPECT_GT(created.lease_expires().seconds(), absl::ToUnixSeconds(absl::Now()) - 1);

  EXPECT_EQ(created.fd_socket(), socket_dir_.path() + "/m.sock.fds");

  absl::StatusOr<int> fd =
      RequestStagingFd(created.fd_socket(), created.lease(), absl::Seconds(5));
  ASSERT_TRUE(fd.ok()) << fd.status();
  const std::vector<int64_t> values = Iota(6, 10);
  ASSERT_EQ(pwrite(*fd, values.data(), 48, 4096), 48);
  close(*fd);

  grpc::ClientContext commit_context;
  v1::CommitRequest commit;
  commit.set_lease(created.lease());
  v1::MatrixInfo info;
  ASSERT_TRUE(stub_->Commit(&commit_context, commit, &info).ok());
  EXPECT_EQ(info.id(), created.id());
  EXPECT_THAT(info.shape(), ElementsAre(2, 3));
  EXPECT_THAT(info.strides(), ElementsAre(24, 8));

  v1::ReadRequest read;
  read.set_name("m");
  v1::ReadHeader header;
  std::string data;
  ASSERT_TRUE(ReadAll(read, &header, &data).ok());
  EXPECT_EQ(data, Bytes(values));
  EXPECT_THAT(SegmentFiles(), ElementsAre(absl::StrCat("t.m.", info.generation(), ".shm")));
}

TEST_F(ServerTest, AbortAndUnknownLeases) {
  grpc::ClientContext context;
  v1::CreateRequest request;
  request.set_name("m");
  request.add_shape(8);
  request.set_dtype(v1::DTYPE_UINT8);
  v1::CreateResponse created;
  ASSERT_TRUE(stub_->Create(&context, request, &created).ok());
  EXPECT_THAT(SegmentFiles(), SizeIs(1));

  grpc::ClientContext abort_context;
  v1::AbortRequest abort;
  abort.set_lease(created.lease());
  v1::AbortResponse aborted;
  ASSERT_TRUE(stub_->Abort(&abort_context, abort, &aborted).ok());
  EXPECT_THAT(SegmentFiles(), IsEmpty());

  grpc::ClientContext commit_context;
  v1::CommitRequest commit;
  commit.set_lease(created.lease());
  v1::MatrixInfo info;
  grpc::Status status = stub_->Commit(&commit_context, commit, &info);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(status.error_message(), HasSubstr(created.lease()));
}

TEST_F(ServerTest, UncommittedLeaseExpires) {
  grpc::ClientContext context;
  v1::CreateRequest request;
  request.set_name("m");
  request.add_shape(8);
  request.set_dtype(v1::DTYPE_UINT8);
  v1::CreateResponse created;
  ASSERT_TRUE(stub_->Create(&context, request, &created).ok());
  // The lease is 1 s; the sweeper runs every 250 ms.
  const absl::Time give_up = absl::Now() + absl::Seconds(10);
  while (!SegmentFiles().empty() && absl::Now() < give_up) {
    absl::SleepFor(absl::Milliseconds(100));
  }
  EXPECT_THAT(SegmentFiles(), IsEmpty());
  grpc::ClientContext commit_context;
  v1::CommitRequest commit;
  commit.set_lease(created.lease());
  v1::MatrixInfo info;
  EXPECT_EQ(stub_->Commit(&commit_context, commit, &info).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

TEST_F(ServerTest, PutPublishesOnlyACompleteStream) {
  const std::string full = Bytes(Iota(100, 0));
  // Short, long, headerless and malformed streams publish nothing.
  EXPECT_EQ(PutChunks("m", {100}, v1::DTYPE_INT64, {full.substr(0, 500)}).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(PutChunks("m", {100}, v1::DTYPE_INT64, {full, "x"}).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(PutChunks("m", {100}, v1::DTYPE_UNSPECIFIED, {full}).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(PutChunks("../m", {100}, v1::DTYPE_INT64, {full}).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  {
    grpc::ClientContext context;
    v1::MatrixInfo info;
    auto writer = stub_->Put(&context, &info);
    v1::PutRequest data;
    data.set_data(full);
    writer->Write(data);
    writer->WritesDone();
    grpc::Status status = writer->Finish();
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_THAT(status.error_message(), HasSubstr("header"));
  }
  v1::MatrixInfo info;
  EXPECT_EQ(Info("m", &info).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(SegmentFiles(), IsEmpty());

  // The same data in several chunks is published.
  ASSERT_TRUE(PutChunks("m", {10, 10}, v1::DTYPE_INT64,
                        {full.substr(0, 3), full.substr(3, 397), full.substr(400)},
                        &info)
                  .ok());
  v1::ReadRequest read;
  read.set_name("m");
  v1::ReadHeader header;
  std::string data;
  ASSERT_TRUE(ReadAll(read, &header, &data).ok());
  EXPECT_EQ(data, full);
}

TEST_F(ServerTest, CancelledPutPublishesNothing) {
  grpc::ClientContext context;
  v1::MatrixInfo info;
  auto writer = stub_->Put(&context, &info);
  v1::PutRequest message;
  message.mutable_header()->set_name("m");
  message.mutable_header()->add_shape(1 << 20);
  message.mutable_header()->set_dtype(v1::DTYPE_UINT8);
  ASSERT_TRUE(writer->Write(message));
  message.Clear();
  message.set_data(std::string(1 << 19, 'x'));
  ASSERT_TRUE(writer->Write(message));
  // Cancel mid-stream: once the server has made the staging segment (it
  // does so on its worker pool, after the header arrives).
  absl::Time give_up = absl::Now() + absl::Seconds(10);
  while (SegmentFiles().empty() && absl::Now() < give_up) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  ASSERT_THAT(SegmentFiles(), SizeIs(1));
  context.TryCancel();
  EXPECT_EQ(writer->Finish().error_code(), grpc::StatusCode::CANCELLED);

  give_up = absl::Now() + absl::Seconds(10);
  while (!SegmentFiles().empty() && absl::Now() < give_up) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  EXPECT_THAT(SegmentFiles(), IsEmpty());
  EXPECT_EQ(Info("m", &info).error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(ServerTest, ReadStreamsBoundedChunksAndChecksItsRequest) {
  const std::vector<int64_t> values = Iota(1000, 5);
  const v1::MatrixInfo info = PutInt64("m", values);

  v1::ReadRequest read;
  read.set_name("m");
  read.set_chunk_bytes(1000);
  grpc::ClientContext context;
  auto reader = stub_->Read(&context, read);
  v1::ReadResponse response;
  ASSERT_TRUE(reader->Read(&response));
  ASSERT_TRUE(response.has_header());
  EXPECT_THAT(response.header().shape(), ElementsAre(1000));
  EXPECT_EQ(response.header().dtype(), v1::DTYPE_INT64);
  EXPECT_EQ(response.header().generation(), info.generation());
  EXPECT_EQ(response.header().nbytes(), 8000);
  std::string data;
  int chunks = 0;
  while (reader->Read(&response)) {
    EXPECT_LE(response.data().size(), 1000u);
    data += response.data();
    ++chunks;
  }
  ASSERT_TRUE(reader->Finish().ok());
  EXPECT_EQ(chunks, 8);
  EXPECT_EQ(data, Bytes(values));

  v1::ReadHeader header;
  read.set_generation(info.generation() + 1);
  EXPECT_EQ(ReadAll(read, &header, &data).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
  read.set_generation(0);
  read.set_chunk_bytes(-1);
  EXPECT_EQ(ReadAll(read, &header, &data).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  read.set_chunk_bytes(0);
  read.set_name("missing");
  EXPECT_EQ(ReadAll(read, &header, &data).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

TEST_F(ServerTest, ReadSlicesAndCastsLikeNumpy) {
  // m = np.arange(24).reshape(4, 6)
  grpc::Status put = PutChunks("m", {4, 6}, v1::DTYPE_INT64, {Bytes(Iota(24, 0))});
  ASSERT_TRUE(put.ok());

  // m[::-2, 1:5:3] == [[19, 22], [7, 10]]
  v1::ReadRequest read;
  read.set_name("m");
  v1::Slice* rows = read.add_index()->mutable_slice();
  rows->set_step(-2);
  v1::Slice* columns = read.add_index()->mutable_slice();
  columns->set_start(1);
  columns->set_stop(5);
  columns->set_step(3);
  v1::ReadHeader header;
  std::string data;
  ASSERT_TRUE(ReadAll(read, &header, &data).ok());
  EXPECT_THAT(header.shape(), ElementsAre(2, 2));
  EXPECT_EQ(header.nbytes(), 32);
  EXPECT_EQ(data, Bytes({19, 22, 7, 10}));

  // m[-1].astype(np.float32)
  read.clear_index();
  read.add_index()->set_at(-1);
  read.set_dtype(v1::DTYPE_FLOAT32);
  data.clear();
  ASSERT_TRUE(ReadAll(read, &header, &data).ok());
  EXPECT_THAT(header.shape(), ElementsAre(6));
  EXPECT_EQ(header.dtype(), v1::DTYPE_FLOAT32);
  const std::vector<float> expected = {18, 19, 20, 21, 22, 23};
  EXPECT_EQ(data, std::string(reinterpret_cast<const char*>(expected.data()), 24));

  // m[2, 3]: a 0-d result.
  read.clear_index();
  read.clear_dtype();
  read.add_index()->set_at(2);
  read.add_index()->set_at(3);
  data.clear();
  ASSERT_TRUE(ReadAll(read, &header, &data).ok());
  EXPECT_THAT(header.shape(), IsEmpty());
  EXPECT_EQ(data, Bytes({15}));
}

TEST_F(ServerTest, PreviewDownsamplesInBoundedChunks) {
  // np.arange(24).reshape(4, 6): 2x3 blocks of 2x2, means.
  ASSERT_TRUE(PutChunks("m", {4, 6}, v1::DTYPE_INT64, {Bytes(Iota(24, 0))}).ok());
  v1::PreviewRequest request;
  request.set_name("m");
  request.add_shape(2);
  request.add_shape(3);
  request.set_chunk_bytes(16);
  grpc::ClientContext context;
  auto reader = stub_->Preview(&context, request);
  v1::ReadResponse response;
  ASSERT_TRUE(reader->Read(&response));
  EXPECT_THAT(response.header().shape(), ElementsAre(2, 3));
  EXPECT_EQ(response.header().dtype(), v1::DTYPE_FLOAT64);
  std::string data;
  while (reader->Read(&response)) {
    EXPECT_LE(response.data().size(), 16u);
    data += response.data();
  }
  ASSERT_TRUE(reader->Finish().ok());
  const std::vector<double> expected = {3.5, 5.5, 7.5, 15.5, 17.5, 19.5};
  EXPECT_EQ(data, std::string(reinterpret_cast<const char*>(expected.data()), 48));

  request.set_method(v1::PREVIEW_METHOD_FIRST);
  request.clear_shape();
  request.add_shape(3);  // rows 0, 1, 2 of 4 blocks [0,1) [1,2) [2,4)
  grpc::ClientContext first_context;
  auto first = stub_->Preview(&first_context, request);
  data.clear();
  while (first->Read(&response)) data += response.data();
  ASSERT_TRUE(first->Finish().ok());
  EXPECT_EQ(data, Bytes(Iota(18, 0)));
}

TEST_F(ServerTest, BadPreviewsAreInvalidArguments) {
  ASSERT_TRUE(PutChunks("m", {4, 6}, v1::DTYPE_INT64, {Bytes(Iota(24, 0))}).ok());
  for (const auto& [shape, message] : std::vector<std::pair<std::vector<int64_t>, std::string>>{
           {{2, 0}, "non-positive"},
           {{2, 3, 1}, "more dimensions"},
           {{5, 6}, "larger than the matrix"},
           {{}, "empty"}}) {
    v1::PreviewRequest request;
    request.set_name("m");
    request.mutable_shape()->Assign(shape.begin(), shape.end());
    grpc::ClientContext context;
    auto reader = stub_->Preview(&context, request);
    v1::ReadResponse response;
    while (reader->Read(&response)) {
    }
    grpc::Status status = reader->Finish();
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << message;
    EXPECT_THAT(status.error_message(), HasSubstr(message));
  }
  v1::PreviewRequest missing;
  missing.set_name("missing");
  missing.add_shape(1);
  grpc::ClientContext context;
  auto reader = stub_->Preview(&context, missing);
  v1::ReadResponse response;
  while (reader->Read(&response)) {
  }
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(ServerTest, BadIndicesAreInvalidArguments) {
  ASSERT_TRUE(PutChunks("m", {4, 6}, v1::DTYPE_INT64, {Bytes(Iota(24, 0))}).ok());
  struct Case {
    std::function<void(v1::ReadRequest&)> make;
    std::string message;
  };
  const std::vector<Case> cases = {
      {[](v1::ReadRequest& r) {
         r.add_index();
         r.add_index()->mutable_slice()->set_step(0);
       },
       "index 0 is neither"},
      {[](v1::ReadRequest& r) {
         r.add_index()->mutable_slice();
         r.add_index()->mutable_slice()->set_step(0);
       },
       "step is 0 in dimension 1"},
      {[](v1::ReadRequest& r) { r.add_index()->set_at(4); },
       "index 4 is out of bounds for dimension 0 with size 4"},
      {[](v1::ReadRequest& r) {
         for (int i = 0; i < 3; ++i) r.add_index()->set_at(0);
       },
       "too many indices"},
      {[](v1::ReadRequest& r) { r.set_dtype(static_cast<v1::DType>(77)); },
       "dtype code 77"},
  };
  for (const Case& c : cases) {
    v1::ReadRequest read;
    read.set_name("m");
    c.make(read);
    v1::ReadHeader header;
    std::string data;
    grpc::Status status = ReadAll(read, &header, &data);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << c.message;
    EXPECT_THAT(status.error_message(), HasSubstr(c.message));
  }
  v1::MatrixInfo info;
  EXPECT_TRUE(Info("m", &info).ok());
}

TEST_F(ServerTest, ReadKeepsItsGenerationThroughAReplace) {
  const std::vector<int64_t> old_values = Iota(4096, 0);
  PutInt64("m", old_values);
  v1::ReadRequest read;
  read.set_name("m");
  read.set_chunk_bytes(4096);
  grpc::ClientContext context;
  auto reader = stub_->Read(&context, read);
  v1::ReadResponse response;
  ASSERT_TRUE(reader->Read(&response));  // header
  ASSERT_TRUE(reader->Read(&response));  // first chunk
  std::string data = response.data();

  PutInt64("m", Iota(4096, 1000000));
  grpc::ClientContext delete_context;
  v1::DeleteRequest request;
  request.set_name("m");
  v1::DeleteResponse deleted;
  ASSERT_TRUE(stub_->Delete(&delete_context, request, &deleted).ok());

  while (reader->Read(&response)) data += response.data();
  ASSERT_TRUE(reader->Finish().ok());
  EXPECT_EQ(data, Bytes(old_values));
}

TEST_F(ServerTest, ListPagesInNameOrder) {
  for (const char* name : {"e", "a", "d", "b", "c", "other"}) PutInt64(name, {1});
  v1::ListRequest request;
  request.set_page_size(2);
  std::vector<std::string> names;
  int pages = 0;
  do {
    grpc::ClientContext context;
    v1::ListResponse response;
    ASSERT_TRUE(stub_->List(&context, request, &response).ok());
    for (const v1::MatrixInfo& info : response.matrices()) names.push_back(info.name());
    request.set_page_token(response.next_page_token());
    ++pages;
  } while (!request.page_token().empty());
  EXPECT_THAT(names, ElementsAre("a", "b", "c", "d", "e", "other"));
  EXPECT_EQ(pages, 3);

  grpc::ClientContext context;
  v1::ListRequest prefixed;
  prefixed.set_prefix("o");
  v1::ListResponse response;
  ASSERT_TRUE(stub_->List(&context, prefixed, &response).ok());
  EXPECT_THAT(response.matrices(), SizeIs(1));
  EXPECT_TRUE(response.next_page_token().empty());

  grpc::ClientContext bad_context;
  v1::ListRequest bad;
  bad.set_page_token("../x");
  EXPECT_EQ(stub_->List(&bad_context, bad, &response).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  grpc::ClientContext negative_context;
  v1::ListRequest negative;
  negative.set_page_size(-1);
  EXPECT_EQ(stub_->List(&negative_context, negative, &response).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(ServerTest, DeleteChecksTheGeneration) {
  const v1::MatrixInfo info = PutInt64("m", {1, 2});
  grpc::ClientContext stale_context;
  v1::DeleteRequest request;
  request.set_name("m");
  request.set_generation(info.generation() + 1);
  v1::DeleteResponse response;
  EXPECT_EQ(stub_->Delete(&stale_context, request, &response).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
  grpc::ClientContext context;
  request.set_generation(info.generation());
  EXPECT_TRUE(stub_->Delete(&context, request, &response).ok());
  grpc::ClientContext again;
  EXPECT_EQ(stub_->Delete(&again, request, &response).error_code(),
            grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(SegmentFiles(), IsEmpty());
}

TEST_F(ServerTest, BadInputGetsClearErrorsAndLeavesTheServerHealthy) {
  const v1::MatrixInfo kept = PutInt64("kept", Iota(10, 0));
  struct Case {
    std::string name;
    std::vector<int64_t> shape;
    v1::DType dtype;
    grpc::StatusCode code;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"", {1}, v1::DTYPE_INT8, grpc::StatusCode::INVALID_ARGUMENT, "empty"},
      {"a/b", {1}, v1::DTYPE_INT8, grpc::StatusCode::INVALID_ARGUMENT, "[A-Za-z0-9_.-]"},
      {std::string("a\0b", 3), {1}, v1::DTYPE_INT8, grpc::StatusCode::INVALID_ARGUMENT, "a\\000b"},
      {"m", {-1}, v1::DTYPE_INT8, grpc::StatusCode::INVALID_ARGUMENT, "negative"},
      {"m", {1 << 30, 1 << 30, 1 << 30}, v1::DTYPE_INT8, grpc::StatusCode::INVALID_ARGUMENT, "overflow"},
      {"m", std::vector<int64_t>(33, 1), v1::DTYPE_INT8, grpc::StatusCode::INVALID_ARGUMENT, "33 dimensions"},
      {"m", {1}, v1::DTYPE_UNSPECIFIED, grpc::StatusCode::INVALID_ARGUMENT, "dtype"},
      {"m", {1}, static_cast<v1::DType>(99), grpc::StatusCode::INVALID_ARGUMENT, "dtype"},
      {"m", {int64_t{1} << 40}, v1::DTYPE_FLOAT64, grpc::StatusCode::RESOURCE_EXHAUSTED, "limit"},
  };
  for (const Case& c : cases) {
    grpc::ClientContext context;
    v1::CreateRequest request;
    request.set_name(c.name);
    request.mutable_shape()->Assign(c.shape.begin(), c.shape.end());
    request.set_dtype(c.dtype);
    v1::CreateResponse response;
    grpc::Status status = stub_->Create(&context, request, &response);
    EXPECT_EQ(status.error_code(), c.code) << c.message;
    EXPECT_THAT(status.error_message(), HasSubstr(c.message));
  }
  EXPECT_THAT(SegmentFiles(), ElementsAre(absl::StrCat("t.kept.", kept.generation(), ".shm")));
  v1::MatrixInfo info;
  ASSERT_TRUE(Info("kept", &info).ok());
  EXPECT_EQ(info.checksum(), kept.checksum());
}

TEST_F(ServerTest, PinAndTtlThroughTheService) {
  grpc::ClientContext create_context;
  v1::CreateRequest create;
  create.set_name("m");
  create.add_shape(4);
  create.set_dtype(v1::DTYPE_INT8);
  create.set_ttl_seconds(-1);
  v1::CreateResponse created;
  grpc::Status refused = stub_->Create(&create_context, create, &created);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(refused.error_message(), HasSubstr("ttl_seconds is negative"));

  PutInt64("m", {1, 2});
  grpc::ClientContext pin_context;
  v1::PinRequest pin;
  pin.set_name("m");
  v1::MatrixInfo info;
  ASSERT_TRUE(stub_->Pin(&pin_context, pin, &info).ok());
  EXPECT_TRUE(info.pinned());
  EXPECT_FALSE(info.has_expires());
  grpc::ClientContext unpin_context;
  ASSERT_TRUE(stub_->Unpin(&unpin_context, pin, &info).ok());
  EXPECT_FALSE(info.pinned());
  grpc::ClientContext missing_context;
  pin.set_name("absent");
  EXPECT_EQ(stub_->Pin(&missing_context, pin, &info).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

TEST_F(ServerTest, StatsCountMatricesAndStaging) {
  PutInt64("a", Iota(10, 0));
  PutInt64("b", Iota(20, 0));
  grpc::ClientContext create_context;
  v1::CreateRequest create;
  create.set_name("c");
  create.add_shape(7);
  create.set_dtype(v1::DTYPE_INT16);
  v1::CreateResponse created;
  ASSERT_TRUE(stub_->Create(&create_context, create, &created).ok());

  grpc::ClientContext context;
  v1::StatsResponse stats;
  ASSERT_TRUE(stub_->Stats(&context, v1::StatsRequest(), &stats).ok());
  EXPECT_EQ(stats.matrix_count(), 2);
  EXPECT_EQ(stats.matrix_bytes(), 240);
  EXPECT_EQ(stats.staging_count(), 1);
  EXPECT_EQ(stats.staging_bytes(), 14);
  EXPECT_EQ(stats.shm_dir(), shm_dir());
  EXPECT_GT(stats.shm_dir_total_bytes(), 0);
}

TEST_F(ServerTest, TcpListenerServesTheSameCatalogue) {
  PutInt64("m", {7});
  const std::string address = tcp_address();
  ASSERT_FALSE(address.empty());
  EXPECT_THAT(address, ::testing::Not(::testing::EndsWith(":0")));
  auto tcp = v1::MatrixCache::NewStub(
      grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  context.AddMetadata("authorization", "Bearer " + AccessToken());
  v1::InfoRequest request;
  request.set_name("m");
  v1::MatrixInfo info;
  ASSERT_TRUE(tcp->Info(&context, request, &info).ok());
  EXPECT_EQ(info.nbytes(), 8);
}

// Info on "m" over TCP with `token` (none if empty).
grpc::Status TcpInfo(const std::string& address, const std::string& token) {
  auto tcp = v1::MatrixCache::NewStub(
      grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  if (!token.empty()) context.AddMetadata("authorization", "Bearer " + token);
  v1::InfoRequest request;
  request.set_name("m");
  v1::MatrixInfo info;
  return tcp->Info(&context, request, &info);
}

TEST_F(ServerTest, TcpNeedsTheAccessTokenAndTheUnixSocketDoesNot) {
  PutInt64("m", {7});  // over the unix socket, without a token
  const std::string token = AccessToken();
  ASSERT_EQ(token.size(), 64u);
  const grpc::Status missing = TcpInfo(tcp_address(), "");
  EXPECT_EQ(missing.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_THAT(missing.error_message(), HasSubstr(access_token_file()));
  EXPECT_EQ(TcpInfo(tcp_address(), "x" + token.substr(1)).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_TRUE(TcpInfo(tcp_address(), token).ok());
  // The health service stays open.
  EXPECT_TRUE(CheckHealth().ok());
  // The same token after a restart.
  StartServer(Options());
  EXPECT_EQ(AccessToken(), token);
}

TEST_F(ServerTest, TcpAuthNoneOpensTcp) {
  ServerOptions options = Options();
  options.tcp_auth = TcpAuth::kNone;
  StartServer(options);
  PutInt64("m", {7});
  EXPECT_TRUE(TcpInfo(tcp_address(), "").ok());
}

TEST_F(ServerTest, ASecondServerCannotTakeAPortInUse) {
  const std::string address = tcp_address();
  testing::ScopedTempDir other_shm, other_socket;
  ServerOptions options = Options();
  options.store.shm_dir = other_shm.path();
  options.listen = {ListenAddress{true, other_socket.path() + "/s.sock",
                                  "unix:" + other_socket.path() + "/s.sock"},
                    ListenAddress{false, "", address}};
  absl::StatusOr<std::unique_ptr<MatcacheServer>> second =
      MatcacheServer::Start(options);
  EXPECT_FALSE(second.ok());
  EXPECT_THAT(second.status().message(), HasSubstr(address));
}

TEST_F(ServerTest, HealthServiceReportsServing) {
  std::string bytes;
  const grpc::Status status = CheckHealth(&bytes);
  ASSERT_TRUE(status.ok()) << status.error_message();
  // HealthCheckResponse{status: SERVING (1)}.
  EXPECT_EQ(bytes, std::string("\x08\x01", 2));
}

TEST_F(ServerTest, ReflectionListsTheService) {
  auto channel =
      grpc::CreateChannel(unix_address(), grpc::InsecureChannelCredentials());
  grpc::GenericStub generic(channel);
  grpc::ClientContext context;
  grpc::CompletionQueue queue;
  auto call = generic.PrepareCall(
      &context, "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
      &queue);
  auto wait = [&queue]() {
    void* tag;
    bool ok = false;
    return queue.Next(&tag, &ok) && ok;
  };
  call->StartCall(nullptr);
  ASSERT_TRUE(wait());
  // ServerReflectionRequest{list_services: ""}: field 7, empty string.
  grpc::Slice list_services(std::string("\x3a\x00", 2));
  call->Write(grpc::ByteBuffer(&list_services, 1), nullptr);
  ASSERT_TRUE(wait());
  grpc::ByteBuffer response;
  call->Read(&response, nullptr);
  ASSERT_TRUE(wait());
  std::vector<grpc::Slice> slices;
  ASSERT_TRUE(response.Dump(&slices).ok());
  std::string bytes;
  for (const grpc::Slice& slice : slices) {
    bytes.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
  }
  EXPECT_THAT(bytes, HasSubstr("matcache.v1.MatrixCache"));
  EXPECT_THAT(bytes, HasSubstr("grpc.health.v1.Health"));
  context.TryCancel();
  grpc::Status status;
  call->Finish(&status, nullptr);
  wait();
  queue.Shutdown();
  void* tag;
  bool ok;
  while (queue.Next(&tag, &ok)) {
  }
}

TEST_F(ServerTest, ShutdownRemovesStagingAndRestartKeepsPublished) {
  const v1::MatrixInfo kept = PutInt64("kept", Iota(100, 3));
  grpc::ClientContext context;
  v1::CreateRequest request;
  request.set_name("pending");
  request.add_shape(100);
  request.set_dtype(v1::DTYPE_INT64);
  v1::CreateResponse created;
  ASSERT_TRUE(stub_->Create(&context, request, &created).ok());
  EXPECT_THAT(SegmentFiles(), SizeIs(2));

  StopServer();
  EXPECT_THAT(SegmentFiles(),
              ElementsAre(absl::StrCat("t.kept.", kept.generation(), ".shm")));
  StartServer(Options());
  stub_ = NewStub();
  v1::MatrixInfo info;
  ASSERT_TRUE(Info("kept", &info).ok());
  EXPECT_EQ(info.generation(), kept.generation());
  EXPECT_EQ(info.id(), kept.id());
  v1::ReadRequest read;
  read.set_name("kept");
  v1::ReadHeader header;
  std::string data;
  ASSERT_TRUE(ReadAll(read, &header, &data).ok());
  EXPECT_EQ(data, Bytes(Iota(100, 3)));
}

TEST_F(ServerTest, ConcurrentClientsSeeConsistentVersions) {
  constexpr int kThreads = 6;
  constexpr int kRounds = 15;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([this, t] {
      auto stub = NewStub();
      for (int round = 0; round < kRounds; ++round) {
        // Each version is filled with one value: a torn read would mix two.
        const int64_t value = t * 1000 + round;
        PutInt64("shared", std::vector<int64_t>(2048, value));
        v1::ReadRequest read;
        read.set_name("shared");
        read.set_chunk_bytes(1024);
        v1::ReadHeader header;
        std::string data;
        ASSERT_TRUE(ReadAll(read, &header, &data).ok());
        ASSERT_EQ(data.size(), 2048 * sizeof(int64_t));
        const int64_t* elements = reinterpret_cast<const int64_t*>(data.data());
        ASSERT_TRUE(std::all_of(elements, elements + 2048,
                                [&](int64_t v) { return v == elements[0]; }));
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_THAT(SegmentFiles(), SizeIs(1));
}

}  // namespace
}  // namespace matcache
