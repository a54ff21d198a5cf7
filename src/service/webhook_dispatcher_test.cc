// The pure parts of webhook delivery: the signature (checked against Python's hmac and
// `openssl dgst -sha256 -hmac`), the backoff schedule, and which URLs a subscription may name.
#include "service/webhook_dispatcher.h"

#include <gtest/gtest.h>

namespace weir::service {
namespace {

TEST(WebhookSignatureTest, IsHmacSha256OfTimestampDotBodyInLowerCaseHex) {
  // printf '%s' '1765000000.{"id":7,"type":"JOB_FINISHED"}' | openssl dgst -sha256 -hmac whsec-test
  EXPECT_EQ(WebhookSignature("whsec-test", "1765000000", R"({"id":7,"type":"JOB_FINISHED"})"),
            "sha256=15a320348f953992eb82abdf7d909328aba9f6e6b718f68f8f4900f597d507a1");
  EXPECT_NE(WebhookSignature("whsec-test", "1765000001", R"({"id":7,"type":"JOB_FINISHED"})"),
            WebhookSignature("whsec-test", "1765000000", R"({"id":7,"type":"JOB_FINISHED"})"));
}

TEST(WebhookBackoffTest, DoublesFromTheInitialWaitUpToTheMaximum) {
  WebhookOptions o;
  o.backoff_initial = Millis(1000);
  o.backoff_max = Millis(600'000);
  EXPECT_EQ(WebhookBackoff(o, 1), Millis(1000));
  EXPECT_EQ(WebhookBackoff(o, 2), Millis(2000));
  EXPECT_EQ(WebhookBackoff(o, 3), Millis(4000));
  EXPECT_EQ(WebhookBackoff(o, 10), Millis(512'000));
  EXPECT_EQ(WebhookBackoff(o, 11), Millis(600'000));
  EXPECT_EQ(WebhookBackoff(o, 100), Millis(600'000));
}

TEST(CheckWebhookUrlTest, OnlyHttpToPublicOrAllowedAddresses) {
  WebhookOptions o;
  EXPECT_TRUE(CheckWebhookUrl("https://hooks.example.com/weir", o).ok());
  EXPECT_TRUE(CheckWebhookUrl("http://203.0.113.9:8080/x?y=1", o).ok());
  for (const char* bad : {"ftp://example.com/x", "file:///etc/passwd", "example.com/x", "http:///x",
                          "https://exa mple.com/", "http://127.0.0.1/x", "http://localhost:9000/",
                          "http://[::1]/", "http://169.254.169.254/", "http://10.1.2.3/",
                          "http://user@192.168.1.1/", "http://2130706433/"}) {
    Status s = CheckWebhookUrl(bad, o);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << bad;
  }
  EXPECT_NE(CheckWebhookUrl("http://10.1.2.3/", o).message().find("webhooks.allowed_networks"),
            std::string::npos);
  o.allowed_networks = {*fetch::IpNetwork::Parse("127.0.0.0/8")};
  EXPECT_TRUE(CheckWebhookUrl("http://127.0.0.1:9000/hook", o).ok());
  EXPECT_TRUE(CheckWebhookUrl("http://localhost:9000/hook", o).ok());
  EXPECT_FALSE(CheckWebhookUrl("http://10.1.2.3/", o).ok());
}

}  // namespace
}  // namespace weir::service
