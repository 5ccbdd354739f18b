// POST /api/v1/sessions/{id}/recording/stop (scope recordings:write): finalises
// the session's recording files (waits until they are closed, a few seconds
// at most) and answers with the session's recordings.
#include "http/Json.h"
#include "http/routes/RecordingControl.h"
#include "http/routes/Routes.h"

namespace consultd::http::routes {
namespace {

class StopRecording final : public Route {
public:
    explicit StopRecording(ApiServices& services) : s_(services) {}
    void handle(Request& request, Response& response) override {
        FieldReader in(request.jsonBody(true));
        in.rejectUnknown({});
        in.finish();
        const auto state =
            recordingsOf(s_).stop(request.param("id"), {request.principal.actorName(), request.requestId()});
        response.json(200, *sessionRecordingJson(state));
    }

private:
    ApiServices& s_;
};

}  // namespace

std::unique_ptr<Route> makeStopRecording(ApiServices& services) { return std::make_unique<StopRecording>(services); }

}  // namespace consultd::http::routes
