#include "http/routes/Routes.h"

#include "core/ApiError.h"
#include "core/RateLimiter.h"
#include "util/Time.h"

#include <Poco/Logger.h>

#include <algorithm>
#include <cctype>
#include <sstream>

namespace consultd::http::routes {
namespace {

using core::ApiError;

/// POST /api/v1/webhooks/{provider}: public. The provider's own signature
/// check authenticates the request; until then it is an anonymous caller,
/// so it is rate-limited per client address and its body is bounded.
class ProviderWebhook final : public Route {
public:
    explicit ProviderWebhook(ApiServices& services)
        : s_(services),
          limiter_(static_cast<double>(services.config()->getInt("providers.webhook_rate_per_minute")),
                   std::chrono::minutes(1)) {}

    void handle(Request& request, Response& response) override {
        const auto config = s_.config();
        const std::string name = request.param("provider");
        const std::string client = request.clientAddress();
        limiter_.setRate(static_cast<double>(config->getInt("providers.webhook_rate_per_minute")));
        const auto decision = limiter_.acquire(client);
        if (!decision.allowed) {
            // Only known names become label values: a caller must not grow the metric.
            s_.metrics.countWebhook(s_.plugins.find(name) != nullptr ? name : "unknown", "rate_limited");
            throw ApiError(429, "RATE_LIMITED", "too many webhook requests from this address")
                .withRetryAfter(decision.retryAfterSeconds);
        }
        Provider* provider = s_.plugins.find(name);
        if (provider == nullptr) {
            throw ApiError(404, "PROVIDER_NOT_FOUND", "no enabled provider of this name takes webhooks")
                .withDetail("provider", name.substr(0, 64));
        }
        if (!provider->capabilities().webhooks) {
            throw ApiError(404, "PROVIDER_NOT_FOUND", "provider " + name + " takes no webhooks (no webhook secret configured)")
                .withDetail("provider", name);
        }
        WebhookRequest webhook;
        webhook.body = request.rawBody(static_cast<std::size_t>(config->getInt("providers.webhook_max_body_bytes")));
        for (const auto& [key, value] : request.raw()) {
            std::string lower = key;
            std::transform(lower.begin(), lower.end(), lower.begin(),
                           [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
            webhook.headers[lower] = value;
        }

        std::vector<ProviderEvent> events;
        try {
            events = provider->handleWebhook(webhook);
        } catch (const WebhookRejected& e) {
            refuse(request, name, e.what());
        } catch (const ProviderRejected& e) {
            s_.metrics.countWebhook(name, "invalid");
            throw ApiError(422, "WEBHOOK_INVALID", std::string("the webhook was signed but cannot be used: ") + e.what())
                .withDetail("provider", name);
        } catch (const ProviderUnavailable& e) {
            s_.metrics.countWebhook(name, "unavailable");
            Poco::Logger::get("webhooks").warning("request " + request.requestId() + ": " + name + " webhook: " + e.what());
            throw ApiError(503, "PROVIDER_UNAVAILABLE", "the webhook cannot be processed now; retry").withRetryAfter(5);
        } catch (const std::exception& e) {
            s_.metrics.countProviderError(name, "error");
            Poco::Logger::get("webhooks").error("request " + request.requestId() + ": " + name +
                                                " handleWebhook failed: " + e.what());
            throw ApiError(502, "PROVIDER_ERROR", "provider " + name + " failed to process the webhook");
        }

        const core::Actor actor{"webhook:" + name, request.requestId()};
        int stored = 0;
        int duplicates = 0;
        int unknown = 0;
        for (const auto& event : events) {
            if (event.type.empty()) continue;
            switch (s_.sessions.applyProviderEvent(name, event, actor)) {
                case core::SessionService::ProviderEventOutcome::Stored: ++stored; break;
                case core::SessionService::ProviderEventOutcome::Duplicate: ++duplicates; break;
                case core::SessionService::ProviderEventOutcome::UnknownRoom: ++unknown; break;
            }
        }
        s_.metrics.countWebhook(name, "accepted");
        if (unknown > 0) {
            // A room of another appliance, or a session deleted by retention:
            // acknowledged, so the provider does not redeliver it forever.
            Poco::Logger::get("webhooks").information("request " + request.requestId() + ": " + name + " webhook: " +
                                                      std::to_string(unknown) + " event(s) for an unknown room");
        }
        Poco::JSON::Object out(Poco::JSON_PRESERVE_KEY_ORDER);
        out.set("received", static_cast<int>(events.size()));
        out.set("stored", stored);
        out.set("duplicates", duplicates);
        out.set("unknown_room", unknown);
        response.json(200, out);
    }

private:
    [[noreturn]] void refuse(Request& request, const std::string& provider, const std::string& reason) {
        s_.metrics.countWebhook(provider, "rejected");
        const std::string client = request.clientAddress();
        Poco::Logger::get("webhooks").notice("request " + request.requestId() + ": " + provider +
                                             " webhook refused from " + client + ": " + reason);
        store::AuditRecord audit;
        audit.at = util::nowMillis();
        audit.actor = "webhook:" + provider;
        audit.action = "webhook.rejected";
        audit.target = provider;
        Poco::JSON::Object details;
        details.set("reason", reason);
        details.set("client_address", client);
        std::ostringstream text;
        details.stringify(text);
        audit.detailsJson = text.str();
        audit.requestId = request.requestId();
        s_.store.appendAudit(audit);
        throw ApiError(401, "WEBHOOK_REJECTED", "the webhook's signature was refused: " + reason)
            .withDetail("provider", provider);
    }

    ApiServices& s_;
    core::RateLimiter limiter_;
};

}  // namespace

std::unique_ptr<Route> makeProviderWebhook(ApiServices& services) { return std::make_unique<ProviderWebhook>(services); }

}  // namespace consultd::http::routes
