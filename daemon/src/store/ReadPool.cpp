#include "store/ReadPool.h"

#include <algorithm>

namespace consultd::store {

ReadPool::ReadPool(const std::string& path, int count, int busyTimeoutMs) {
    const int size = std::max(count, 1);
    connections_.reserve(static_cast<std::size_t>(size));
    for (int i = 0; i < size; ++i) {
        auto connection = std::make_unique<sql::Connection>(path, SQLITE_OPEN_READONLY, busyTimeoutMs);
        idle_.push_back(connection.get());
        connections_.push_back(std::move(connection));
    }
}

ReadPool::Lease ReadPool::acquire() {
    std::unique_lock lock(mutex_);
    available_.wait(lock, [this] { return !idle_.empty(); });
    sql::Connection* connection = idle_.back();
    idle_.pop_back();
    return Lease(*this, *connection);
}

void ReadPool::release(sql::Connection& connection) noexcept {
    {
        std::lock_guard lock(mutex_);
        idle_.push_back(&connection);
    }
    available_.notify_one();
}

ReadPool::Lease::~Lease() {
    if (pool_ != nullptr) {
        pool_->release(*connection_);
    }
}

}  // namespace consultd::store
