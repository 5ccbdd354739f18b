#include "http/Json.h"
#include "http/routes/Routes.h"
#include "util/Time.h"

namespace consultd::http::routes {
namespace {

/// POST only: a grant is a credential; it must never sit in a URL, a proxy
/// log or a browser history. The response is marked no-store.
class IssueToken final : public Route {
public:
    explicit IssueToken(ApiServices& services) : s_(services) {}

    void handle(Request& request, Response& response) override {
        FieldReader in(request.jsonBody());
        in.rejectUnknown({"participant_id"});
        const auto participant = in.string("participant_id", true, 128, kIdPattern, "must be a participant id");
        in.finish();
        const auto result = s_.sessions.issueGrant(request.param("id"), *participant,
                                                   {request.principal.actorName(), request.requestId()});
        Poco::JSON::Object out(Poco::JSON_PRESERVE_KEY_ORDER);
        out.set("provider", result.provider);
        out.set("room", result.grant.room);
        out.set("token", result.grant.token);
        out.set("join_url", result.grant.joinUrl);
        out.set("expires_at", util::formatRfc3339(result.grant.expiresAt * 1000));
        out.set("role", result.role);
        Poco::JSON::Array::Ptr ice = new Poco::JSON::Array;
        for (const auto& server : result.grant.iceServers) ice->add(iceServerJson(server));
        out.set("ice_servers", ice);
        Poco::JSON::Object::Ptr client = new Poco::JSON::Object;
        for (const auto& [k, v] : result.grant.client) client->set(k, v);
        out.set("client", client);
        response.json(200, out);
        response.headers.emplace_back("Pragma", "no-cache");
    }

private:
    ApiServices& s_;
};

}  // namespace

std::unique_ptr<Route> makeIssueToken(ApiServices& services) { return std::make_unique<IssueToken>(services); }

}  // namespace consultd::http::routes
