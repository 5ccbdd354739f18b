// POST /api/v1/api-keys/{id}/revoke: revokes a key (effective within a
// second, see ApiKeyAuth); audited as apikey.revoked.
#include "core/ApiError.h"
#include "http/routes/ApiKeyJson.h"
#include "http/routes/Routes.h"
#include "util/Time.h"

namespace consultd::http::routes {
namespace {

class RevokeApiKey final : public Route {
public:
    explicit RevokeApiKey(ApiServices& services) : s_(services) {}

    void handle(Request& request, Response& response) override {
        const std::string& id = request.param("id");
        const auto existing = s_.store.findApiKey(id);
        if (!existing) throw core::ApiError(404, "API_KEY_NOT_FOUND", "no such API key").withDetail("id", id);
        if (existing->revokedAt != 0) {
            throw core::ApiError(409, "API_KEY_REVOKED", "the API key is revoked already").withDetail("id", id);
        }
        store::AuditRecord audit;
        audit.at = util::nowMillis();
        audit.actor = request.principal.actorName();
        audit.action = "apikey.revoked";
        audit.target = id;
        audit.requestId = request.requestId();
        if (!s_.store.revokeApiKey(id, audit.at, audit)) {
            throw core::ApiError(409, "API_KEY_REVOKED", "the API key is revoked already").withDetail("id", id);
        }
        const auto revoked = s_.store.findApiKey(id);
        response.json(200, *apiKeyJson(revoked ? *revoked : *existing));
    }

private:
    ApiServices& s_;
};

}  // namespace

std::unique_ptr<Route> makeRevokeApiKey(ApiServices& services) { return std::make_unique<RevokeApiKey>(services); }

}  // namespace consultd::http::routes
