#pragma once
// What the admin console's routes get besides ApiServices: the login and
// session service and the dashboard. Forward-declared so the route table's
// header does not make every route depend on the admin classes.

namespace consultd::admin {
class AdminAuth;
class Dashboard;
}  // namespace consultd::admin

namespace consultd::http {

struct AdminServices {
    admin::AdminAuth& auth;
    admin::Dashboard& dashboard;
};

}  // namespace consultd::http
