#include "core/ApiError.h"
#include "http/Json.h"

#include <algorithm>
#include "http/routes/Routes.h"
#include "store/Store.h"
#include "util/Time.h"

namespace consultd::http::routes {
namespace {

/// STUN/TURN servers with time-limited credentials. The credentials are
/// minted per call and audited like any other grant.
class IceServers final : public Route {
public:
    explicit IceServers(ApiServices& services) : s_(services) {}

    void handle(Request& request, Response& response) override {
        const std::string participant = request.query("participant_id").value_or("");
        const std::string session = request.query("session_id").value_or("");
        if (!session.empty()) {
            const auto record = s_.sessions.get(session);  // 404 for an unknown session
            if (!participant.empty() &&
                std::none_of(record.participants.begin(), record.participants.end(),
                             [&](const auto& p) { return p.participantId == participant; })) {
                throw core::ApiError(403, "NOT_A_PARTICIPANT", "participant is not part of this session")
                    .withDetail("participant_id", participant);
            }
        } else if (!participant.empty()) {
            throw core::ApiError(422, "VALIDATION_FAILED", "invalid query parameters")
                .withDetails("fields", {{"participant_id", "needs session_id"}});
        }
        const auto servers = s_.iceServers ? s_.iceServers(session, participant) : std::vector<IceServer>{};
        Poco::JSON::Array::Ptr items = new Poco::JSON::Array;
        bool minted = false;
        for (const auto& server : servers) {
            items->add(iceServerJson(server));
            minted = minted || !server.credential.empty();
        }
        if (minted) {
            store::AuditRecord audit;
            audit.at = util::nowMillis();
            audit.actor = request.principal.actorName();
            audit.action = "turn.credentials_issued";
            audit.target = session;
            audit.detailsJson = "{}";
            audit.requestId = request.requestId();
            s_.store.appendAudit(audit);
        }
        Poco::JSON::Object out(Poco::JSON_PRESERVE_KEY_ORDER);
        out.set("ice_servers", items);
        out.set("ttl_seconds", s_.config()->getInt("turn.credential_ttl_seconds"));
        response.json(200, out);
    }

private:
    ApiServices& s_;
};

}  // namespace

std::unique_ptr<Route> makeIceServers(ApiServices& services) { return std::make_unique<IceServers>(services); }

}  // namespace consultd::http::routes
