#pragma once
// A route: one small object per endpoint, matched by Router's table.

#include "http/Request.h"

#include <memory>
#include <string>

namespace consultd::http {

class Route {
public:
    virtual ~Route() = default;
    /// Fills `response`; throws core::ApiError (or store/provider errors,
    /// which ErrorMapper maps) for anything the client must be told.
    virtual void handle(Request& request, Response& response) = 0;
};

}  // namespace consultd::http
