#include "http/JoinJson.h"
#include "http/Json.h"
#include "http/routes/Routes.h"
#include "util/Time.h"

#include <algorithm>

namespace consultd::http::routes {
namespace {

/// POST /api/v1/invites/redeem: public, called by the join page. The invite
/// id travels in the body (never in an API URL). The first call binds the
/// invite to this browser with a rejoin cookie; later calls need that cookie
/// (core/InviteService.h has the rules). Answers the session's state and,
/// when `grant` is not false and the session can be joined now, a fresh join
/// grant.
class RedeemInvite final : public Route {
public:
    explicit RedeemInvite(ApiServices& services) : s_(services) {}

    void handle(Request& request, Response& response) override {
        FieldReader in(request.jsonBody());
        in.rejectUnknown({"invite", "grant"});
        const auto invite = in.string("invite", true, 64, "[a-z2-7]{32}", "must be the invite id of the link");
        const auto wantGrant = in.boolean("grant");
        in.finish();
        const std::string cookie = core::InviteService::rejoinCookieName(*invite);
        const auto result = s_.invites->redeem(*invite, cookieValue(request, cookie), wantGrant.value_or(true),
                                               request.clientAddress(), request.requestId());

        Poco::JSON::Object out(Poco::JSON_PRESERVE_KEY_ORDER);
        out.set("session", joinSessionJson(result.session));
        Poco::JSON::Object::Ptr participant = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
        participant->set("id", result.participant.participantId);
        participant->set("name", result.participant.name);
        participant->set("role", result.participant.role);
        out.set("participant", participant);
        out.set("invite_expires_at", util::formatRfc3339(result.inviteExpiresAt));
        Poco::JSON::Object::Ptr window = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
        window->set("can_join", result.window.canJoin);
        window->set("reason", result.window.reason.empty() ? Poco::Dynamic::Var() : Poco::Dynamic::Var(result.window.reason));
        window->set("minutes_until_session", result.window.minutesUntilSession
                                                 ? Poco::Dynamic::Var(*result.window.minutesUntilSession)
                                                 : Poco::Dynamic::Var());
        out.set("can_join", window);
        out.set("grant", result.grant ? Poco::Dynamic::Var(grantJson(*result.grant)) : Poco::Dynamic::Var());
        response.json(200, out);
        response.headers.emplace_back("Pragma", "no-cache");
        if (!result.newRejoinCredential.empty()) {
            // Lives as long as the invite can be used; renewed by nothing.
            const std::int64_t seconds =
                std::max<std::int64_t>(60, (result.inviteExpiresAt - util::nowMillis()) / 1000 + 24 * 3600);
            response.headers.emplace_back(
                "Set-Cookie", setCookie(cookie, result.newRejoinCredential, "/api/v1/invites", seconds,
                                        secureCookies(*s_.config())));
        }
    }

private:
    ApiServices& s_;
};

}  // namespace

std::unique_ptr<Route> makeRedeemInvite(ApiServices& services) { return std::make_unique<RedeemInvite>(services); }

}  // namespace consultd::http::routes
