// GET /api/v1/recordings/{id} (scope recordings:read): one recording's metadata.
#include "http/Json.h"
#include "http/routes/RecordingControl.h"
#include "http/routes/Routes.h"

namespace consultd::http::routes {
namespace {

class GetRecording final : public Route {
public:
    explicit GetRecording(ApiServices& services) : s_(services) {}
    void handle(Request& request, Response& response) override {
        response.json(200, *recordingJson(recordingsOf(s_).get(request.param("id"))));
    }

private:
    ApiServices& s_;
};

}  // namespace

std::unique_ptr<Route> makeGetRecording(ApiServices& services) { return std::make_unique<GetRecording>(services); }

}  // namespace consultd::http::routes
