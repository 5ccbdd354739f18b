#include "http/Json.h"
#include "http/routes/Routes.h"

namespace consultd::http::routes {
namespace {

class PostEvent final : public Route {
public:
    explicit PostEvent(ApiServices& services) : s_(services) {}

    void handle(Request& request, Response& response) override {
        FieldReader in(request.jsonBody());
        in.rejectUnknown({"type", "participant_id", "severity", "message", "data", "idempotency_key"});
        store::EventRecord event;
        event.source = "client";
        if (auto v = in.string("type", true, 64, "[a-z][a-z0-9_]{0,63}", "must be snake_case, e.g. participant_joined")) event.type = *v;
        if (auto v = in.string("participant_id", false, 128, kIdPattern, "must be a participant id")) event.participantId = *v;
        if (auto v = in.oneOf("severity", {"debug", "info", "warning", "error", "critical"}, false)) event.severity = *v;
        if (auto v = in.string("idempotency_key", false, 128, "[A-Za-z0-9._:-]{1,128}", "must be 1-128 characters of A-Z a-z 0-9 . _ : -")) {
            event.idempotencyKey = *v;
        }
        Poco::JSON::Object::Ptr data = in.object("data", false);
        if (!data) data = new Poco::JSON::Object;
        if (auto message = in.string("message", false, 1000)) data->set("message", *message);
        std::ostringstream text;
        data->stringify(text);
        if (text.str().size() > 16384) in.fail("data", "must be at most 16384 bytes of JSON");
        event.dataJson = text.str();
        in.finish();
        const auto [stored, created] = s_.sessions.addEvent(request.param("id"), event);
        response.json(created ? 201 : 200, *eventJson(stored));
    }

private:
    ApiServices& s_;
};

}  // namespace

std::unique_ptr<Route> makePostEvent(ApiServices& services) { return std::make_unique<PostEvent>(services); }

}  // namespace consultd::http::routes
