#include "http/Json.h"
#include "http/routes/Routes.h"
#include "util/Time.h"

namespace consultd::http::routes {
namespace {

/// POST /api/v1/sessions/{id}/invites: a single-use, short-lived link to the
/// appliance's join page for one participant. The URL is a bearer secret:
/// it is answered once and never logged.
class CreateInvite final : public Route {
public:
    explicit CreateInvite(ApiServices& services) : s_(services) {}

    void handle(Request& request, Response& response) override {
        FieldReader in(request.jsonBody());
        in.rejectUnknown({"participant_id"});
        const auto participant = in.string("participant_id", true, 128, kIdPattern, "must be a participant id");
        in.finish();
        const auto invite = s_.invites->create(request.param("id"), *participant,
                                               {request.principal.actorName(), request.requestId()});
        Poco::JSON::Object out(Poco::JSON_PRESERVE_KEY_ORDER);
        out.set("invite_url", invite.url);
        out.set("expires_at", util::formatRfc3339(invite.expiresAt));
        out.set("session_id", invite.sessionId);
        out.set("participant_id", invite.participantId);
        response.json(201, out);
        response.headers.emplace_back("Pragma", "no-cache");
    }

private:
    ApiServices& s_;
};

}  // namespace

std::unique_ptr<Route> makeCreateInvite(ApiServices& services) { return std::make_unique<CreateInvite>(services); }

}  // namespace consultd::http::routes
