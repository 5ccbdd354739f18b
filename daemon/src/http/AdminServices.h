#pragma once
// What the admin console's routes get besides ApiServices: the login and
// session service and the dashboard.

#include "admin/AdminAuth.h"
#include "admin/Dashboard.h"

namespace consultd::http {

struct AdminServices {
    admin::AdminAuth& auth;
    admin::Dashboard& dashboard;
};

}  // namespace consultd::http
