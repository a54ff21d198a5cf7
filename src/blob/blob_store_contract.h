// The contract every BlobStore backend passes. A backend's test file instantiates it:
//
//   INSTANTIATE_TEST_SUITE_P(Local, BlobStoreContractTest,
//       ::testing::Values(BlobBackendFactory{"local", [](const std::filesystem::path& scratch) {
//         return NewLocalBlobStore(scratch / "blobs"); }, {}}),
//       [](const auto& info) { return info.param.name; });
//
// `scratch` is a fresh empty folder per test, removed afterwards. A backend that needs an outside
// service (s3rver) sets `missing_service`: it names the service when it is not available (the test
// then fails or skips by the rule of common/testing/required_services.h), "" when it is.
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <set>
#include <sstream>
#include <streambuf>
#include <string>
#include <thread>
#include <vector>

#include "blob/blob_store.h"
#include "blob/sha256.h"
#include "common/clock.h"
#include "common/ids.h"
#include "common/testing/required_services.h"
#include "common/time_format.h"

namespace weir::blob {

struct BlobBackendFactory {
  std::string name;
  std::function<Result<std::unique_ptr<BlobStore>>(const std::filesystem::path& scratch)> make;
  // {service, why} when a service the backend needs is missing; {} when none is.
  std::function<std::pair<std::string, std::string>()> missing_service;
};

class BlobStoreContractTest : public ::testing::TestWithParam<BlobBackendFactory> {
 protected:
  void SetUp() override {
    if (GetParam().missing_service) {
      auto [service, why] = GetParam().missing_service();
      if (!service.empty()) WEIR_MISSING_SERVICE(service, why);
    }
    scratch_ = std::filesystem::temp_directory_path() / ("weir-blob-contract-" + NewUuid());
    std::filesystem::create_directories(scratch_);
    auto store = GetParam().make(scratch_);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
  }
  void TearDown() override {
    store_.reset();
    std::error_code ec;
    std::filesystem::permissions(scratch_, std::filesystem::perms::owner_all, ec);
    std::filesystem::remove_all(scratch_, ec);
  }

  std::string ReadAll(std::string_view key) {
    auto reader = store_->Open(key);
    EXPECT_TRUE(reader.ok()) << reader.status();
    if (!reader.ok()) return {};
    std::string out;
    char buf[4096];
    while (true) {
      auto n = (*reader)->Read(buf, sizeof buf);
      EXPECT_TRUE(n.ok()) << n.status();
      if (!n.ok() || *n == 0) break;
      out.append(buf, *n);
    }
    return out;
  }

  std::filesystem::path WriteScratch(const std::string& name, const std::string& data) {
    std::filesystem::path p = scratch_ / name;
    std::ofstream(p, std::ios::binary) << data;
    return p;
  }

  std::filesystem::path scratch_;
  std::unique_ptr<BlobStore> store_;
};

// A stream that yields `good` bytes and then fails, like a dropped upload.
class FailingStreamBuf : public std::streambuf {
 public:
  explicit FailingStreamBuf(std::string good) : good_(std::move(good)) {
    setg(good_.data(), good_.data(), good_.data() + good_.size());
  }

 protected:
  int_type underflow() override { throw std::runtime_error("connection reset"); }

 private:
  std::string good_;
};

TEST_P(BlobStoreContractTest, KeyIsTheSha256OfTheContent) {
  auto info = store_->PutBytes("abc");
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->key, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(info->size, 3);
  EXPECT_EQ(ReadAll(info->key), "abc");
}

TEST_P(BlobStoreContractTest, PutFileRoundTripsLargeContent) {
  std::string data;
  for (int64_t i = 0; i < 300000; ++i) data += static_cast<char>((i * 7919) % 251);
  std::filesystem::path src = WriteScratch("big.bin", data);
  auto info = store_->PutFile(src, Sha256Hex(data));
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->size, static_cast<int64_t>(data.size()));
  EXPECT_TRUE(std::filesystem::exists(src)) << "the source file stays in place";
  EXPECT_EQ(ReadAll(info->key), data);
  auto stat = store_->Stat(info->key);
  ASSERT_TRUE(stat.ok()) << stat.status();
  EXPECT_EQ(*stat, *info);

  std::filesystem::path dest = scratch_ / "copy.bin";
  ASSERT_TRUE(store_->CopyTo(info->key, dest).ok());
  std::ifstream in(dest, std::ios::binary);
  std::stringstream got;
  got << in.rdbuf();
  EXPECT_EQ(got.str(), data);
}

TEST_P(BlobStoreContractTest, EmptyContentIsABlobToo) {
  auto info = store_->PutBytes("");
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->key, Sha256Hex(""));
  EXPECT_EQ(info->size, 0);
  EXPECT_EQ(ReadAll(info->key), "");
}

TEST_P(BlobStoreContractTest, StoringTheSameContentTwiceIsANoOp) {
  auto a = store_->PutBytes("same bytes");
  std::filesystem::path src = WriteScratch("same.txt", "same bytes");
  auto b = store_->PutFile(src);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(*a, *b);
  auto all = store_->List("");
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_EQ(all->size(), 1u);
}

TEST_P(BlobStoreContractTest, HashMismatchStoresNothing) {
  auto r = store_->PutBytes("payload", Sha256Hex("other payload"));
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("sha256"), std::string::npos) << r.status();
  EXPECT_EQ(store_->Stat(Sha256Hex("payload")).status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(store_->List("")->empty());
}

TEST_P(BlobStoreContractTest, MalformedExpectedHashIsRefused) {
  EXPECT_EQ(store_->PutBytes("x", std::string("ABC")).status().code(),
            StatusCode::kInvalidArgument);
}

TEST_P(BlobStoreContractTest, FailingSourceStoresNothing) {
  FailingStreamBuf buf(std::string(100000, 'x'));
  std::istream in(&buf);
  auto r = store_->PutStream(in);
  EXPECT_FALSE(r.ok());
  EXPECT_TRUE(store_->List("")->empty());
}

TEST_P(BlobStoreContractTest, MissingAndMalformedKeys) {
  std::string missing = Sha256Hex("never stored");
  EXPECT_EQ(store_->Stat(missing).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->Open(missing).status().code(), StatusCode::kNotFound);
  std::filesystem::path dest = scratch_ / "dest";
  EXPECT_EQ(store_->CopyTo(missing, dest).code(), StatusCode::kNotFound);
  EXPECT_FALSE(std::filesystem::exists(dest));
  for (std::string bad : std::vector<std::string>{
           "../../etc/passwd", "", "ABC", std::string(64, 'g'), "../" + missing.substr(3)}) {
    EXPECT_EQ(store_->Stat(bad).status().code(), StatusCode::kInvalidArgument) << bad;
    EXPECT_EQ(store_->Open(bad).status().code(), StatusCode::kInvalidArgument) << bad;
  }
  EXPECT_EQ(store_->List("../").status().code(), StatusCode::kInvalidArgument);
}

TEST_P(BlobStoreContractTest, ListFiltersByPrefixInKeyOrder) {
  std::set<std::string> keys;
  for (int i = 0; i < 40; ++i) keys.insert(store_->PutBytes("blob " + std::to_string(i))->key);
  auto all = store_->List("");
  ASSERT_TRUE(all.ok());
  std::vector<std::string> listed;
  for (const auto& b : *all) listed.push_back(b.key);
  EXPECT_EQ(listed, std::vector<std::string>(keys.begin(), keys.end()));
  std::string first = *keys.begin();
  for (std::string prefix : {first.substr(0, 1), first.substr(0, 3), first}) {
    auto some = store_->List(prefix);
    ASSERT_TRUE(some.ok());
    size_t expected = 0;
    for (const auto& k : keys) expected += k.compare(0, prefix.size(), prefix) == 0;
    EXPECT_EQ(some->size(), expected) << prefix;
  }
  EXPECT_EQ(store_->List("", 5)->size(), 5u);
}

TEST_P(BlobStoreContractTest, ConcurrentPutsOfTheSameContentAgree) {
  std::string data(200000, 'z');
  std::vector<std::thread> threads;
  std::vector<Result<BlobInfo>> results(8, Status(StatusCode::kInternal, "not run"));
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&, i] { results[i] = store_->PutBytes(data); });
  }
  for (auto& t : threads) t.join();
  for (const auto& r : results) {
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->key, Sha256Hex(data));
  }
  EXPECT_EQ(store_->List("")->size(), 1u);
  EXPECT_EQ(ReadAll(Sha256Hex(data)), data);
}

TEST_P(BlobStoreContractTest, DeleteRemovesTheBlobAndIsIdempotent) {
  std::string keep = store_->PutBytes("keep me")->key;
  std::string gone = store_->PutBytes("delete me")->key;
  ASSERT_TRUE(store_->Delete(gone).ok());
  EXPECT_EQ(store_->Stat(gone).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->Open(gone).status().code(), StatusCode::kNotFound);
  auto all = store_->List("");
  ASSERT_TRUE(all.ok()) << all.status();
  ASSERT_EQ(all->size(), 1u);
  EXPECT_EQ((*all)[0].key, keep);
  EXPECT_EQ(ReadAll(keep), "keep me");

  Status again = store_->Delete(gone);
  EXPECT_TRUE(again.ok()) << "deleting an absent blob is Ok: " << again;
  Status never = store_->Delete(Sha256Hex("never stored"));
  EXPECT_TRUE(never.ok()) << never;
  EXPECT_EQ(store_->Delete("../" + keep.substr(3)).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ReadAll(keep), "keep me");

  // The same content can be stored again after a delete.
  auto back = store_->PutBytes("delete me");
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(ReadAll(gone), "delete me");
}

TEST_P(BlobStoreContractTest, ListShowsWhenEachBlobWasWritten) {
  const TimePoint before = SystemClock::Instance().Now();
  std::string key = store_->PutBytes("dated")->key;
  const TimePoint after = SystemClock::Instance().Now();
  auto all = store_->List("");
  ASSERT_TRUE(all.ok()) << all.status();
  ASSERT_EQ(all->size(), 1u);
  EXPECT_EQ((*all)[0].key, key);
  EXPECT_EQ((*all)[0].size, 5);
  // Backends store times to the second (S3) and a server's clock may be a little off ours.
  const Millis slack = std::chrono::minutes(1);
  EXPECT_GE((*all)[0].modified, before - slack) << FormatIso8601((*all)[0].modified);
  EXPECT_LE((*all)[0].modified, after + slack) << FormatIso8601((*all)[0].modified);
}

TEST_P(BlobStoreContractTest, ListPagesOnFromTheLastKey) {
  std::set<std::string> keys;
  for (int i = 0; i < 23; ++i) keys.insert(store_->PutBytes("page " + std::to_string(i))->key);
  std::vector<std::string> seen;
  std::string after;
  for (int calls = 0; calls < 10; ++calls) {
    auto page = store_->List("", 5, after);
    ASSERT_TRUE(page.ok()) << page.status();
    for (const ListedBlob& b : *page) seen.push_back(b.key);
    if (page->size() < 5) break;
    after = page->back().key;
  }
  EXPECT_EQ(seen, std::vector<std::string>(keys.begin(), keys.end()));
  // start_after need not be a stored key: the listing goes on from where it would sort.
  const std::string between = *std::next(keys.begin(), 9) + "0";  // sorts after the 10th key
  auto rest = store_->List("", 1000, between);
  ASSERT_TRUE(rest.ok()) << rest.status();
  ASSERT_EQ(rest->size(), keys.size() - 10);
  EXPECT_EQ(rest->front().key, *std::next(keys.begin(), 10));
}

TEST_P(BlobStoreContractTest, UriNamesTheKey) {
  std::string key = store_->PutBytes("uri")->key;
  std::string uri = store_->Uri(key);
  EXPECT_NE(uri.find("://"), std::string::npos) << uri;
  EXPECT_NE(uri.find(key), std::string::npos) << uri;
}

}  // namespace weir::blob
