// DELETE /api/v1/recordings/{id} (scope recordings:write): the file is removed,
// the row stays with status "deleted" (the audit trail keeps pointing at it),
// an audit entry and a recording_deleted session event are written. 204.
#include "http/routes/RecordingControl.h"
#include "http/routes/Routes.h"

namespace consultd::http::routes {
namespace {

class DeleteRecording final : public Route {
public:
    explicit DeleteRecording(ApiServices& services) : s_(services) {}
    void handle(Request& request, Response& response) override {
        recordingsOf(s_).remove(request.param("id"), {request.principal.actorName(), request.requestId()});
        response.text(204, "application/json", "");
    }

private:
    ApiServices& s_;
};

}  // namespace

std::unique_ptr<Route> makeDeleteRecording(ApiServices& services) {
    return std::make_unique<DeleteRecording>(services);
}

}  // namespace consultd::http::routes
