// libFuzzer target: provider webhooks as POST /api/v1/webhooks/{provider}
// hands them to the plugins. The first line of the input is the signature
// header (X-Jaas-Signature, or Vonage's Authorization), the rest the body.
// Any input must end in events, WebhookRejected or ProviderRejected.
#include "JaasWebhook.h"
#include "VonageWebhook.h"

#include <cstdint>
#include <string>

namespace {
const consultd::jitsi::JaasWebhookVerifier jaas("fuzz-secret", "vpaas-magic-cookie-0123456789abcdef0123456789abcdef",
                                                std::chrono::seconds(300));
const consultd::vonage::VonageWebhookVerifier vonage("fuzz-secret", "fuzz-app", std::chrono::seconds(300));
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string text(reinterpret_cast<const char*>(data), size);
    const auto newline = text.find('\n');
    const std::string header = text.substr(0, newline);
    const std::string body = newline == std::string::npos ? std::string() : text.substr(newline + 1);
    constexpr std::int64_t now = 1800000000;
    try {
        (void)consultd::jitsi::parseJaasSignatureHeader(header);
    } catch (const consultd::WebhookRejected&) {
    }
    try {
        (void)jaas.verify(header, body, now);
    } catch (const consultd::WebhookRejected&) {
    }
    try {
        (void)vonage.verify(header, body, now);
    } catch (const consultd::WebhookRejected&) {
    }
    // What a verified body goes through.
    try {
        (void)jaas.translate(body);
    } catch (const consultd::ProviderRejected&) {
    }
    try {
        (void)vonage.translate(body);
    } catch (const consultd::ProviderRejected&) {
    }
    return 0;
}
