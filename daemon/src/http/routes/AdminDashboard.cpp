// GET /api/v1/admin/dashboard: the dashboard snapshot once (admin/Dashboard.h).
#include "admin/Dashboard.h"
#include "http/routes/Routes.h"

namespace consultd::http::routes {
namespace {

class AdminDashboard final : public Route {
public:
    AdminDashboard(ApiServices&, AdminServices& admin) : admin_(admin) {}

    void handle(Request&, Response& response) override { response.json(200, *admin_.dashboard.snapshot()); }

private:
    AdminServices& admin_;
};

}  // namespace

std::unique_ptr<Route> makeAdminDashboard(ApiServices& services, AdminServices& admin) {
    return std::make_unique<AdminDashboard>(services, admin);
}

}  // namespace consultd::http::routes
