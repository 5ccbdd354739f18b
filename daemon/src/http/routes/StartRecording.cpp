// POST /api/v1/sessions/{id}/recording/start (scope recordings:write): the host's
// system starts the session's recording. Native (webrtc) sessions are recorded
// by the daemon's recorder; other providers by the plugin.
#include "http/Json.h"
#include "http/routes/RecordingControl.h"
#include "http/routes/Routes.h"
#include "util/Time.h"

namespace consultd::http::routes {

Poco::JSON::Object::Ptr sessionRecordingJson(const recording::SessionRecordingState& state) {
    Poco::JSON::Object::Ptr out = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
    out->set("session_id", state.sessionId);
    out->set("recording", state.recording);
    out->set("mode", state.mode.empty() ? Poco::Dynamic::Var() : Poco::Dynamic::Var(state.mode));
    out->set("started_at",
             state.startedAt != 0 ? Poco::Dynamic::Var(util::formatRfc3339(state.startedAt)) : Poco::Dynamic::Var());
    Poco::JSON::Array::Ptr items = new Poco::JSON::Array;
    for (const auto& row : state.recordings) items->add(recordingJson(row));
    out->set("recordings", items);
    return out;
}

namespace {

class StartRecording final : public Route {
public:
    explicit StartRecording(ApiServices& services) : s_(services) {}
    void handle(Request& request, Response& response) override {
        FieldReader in(request.jsonBody(true));
        in.rejectUnknown({});
        in.finish();
        const auto state =
            recordingsOf(s_).start(request.param("id"), {request.principal.actorName(), request.requestId()});
        response.json(200, *sessionRecordingJson(state));
    }

private:
    ApiServices& s_;
};

}  // namespace

std::unique_ptr<Route> makeStartRecording(ApiServices& services) {
    return std::make_unique<StartRecording>(services);
}

}  // namespace consultd::http::routes
