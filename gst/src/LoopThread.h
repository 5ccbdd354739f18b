#pragma once
// One GMainContext with its own thread, owned by a RecorderPeer: bus watches,
// timers and all webrtcbin signalling run here, so the library never touches
// the application's (or GLib's global default) main context.

#include "GstPtr.h"

#include <functional>
#include <future>
#include <thread>
#include <type_traits>

namespace consultd::media {

/// Runs a GMainLoop on a dedicated thread until destroyed. post() and invoke()
/// are thread-safe.
class LoopThread {
public:
    LoopThread();
    /// Quits the loop and joins the thread; work still queued is dropped.
    ~LoopThread();
    LoopThread(const LoopThread&) = delete;
    LoopThread& operator=(const LoopThread&) = delete;

    /// The context to attach sources (bus watches) to.
    GMainContext* context() const noexcept { return context_.get(); }
    /// True when called on the loop thread.
    bool onLoopThread() const noexcept { return std::this_thread::get_id() == threadId_; }
    /// Queues `task` to run on the loop thread.
    void post(std::function<void()> task);
    /// Runs `task` on the loop thread and returns its result (exceptions
    /// propagate). Runs inline when already on the loop thread.
    template <typename F>
    auto invoke(F&& task) -> std::invoke_result_t<F> {
        if (onLoopThread()) return task();
        using R = std::invoke_result_t<F>;
        auto promise = std::make_shared<std::promise<R>>();
        auto future = promise->get_future();
        post([promise, fn = std::forward<F>(task)]() mutable {
            try {
                if constexpr (std::is_void_v<R>) {
                    fn();
                    promise->set_value();
                } else {
                    promise->set_value(fn());
                }
            } catch (...) {
                promise->set_exception(std::current_exception());
            }
        });
        return future.get();
    }

private:
    MainContextPtr context_;
    MainLoopPtr loop_;
    std::thread thread_;
    std::thread::id threadId_;
};

}  // namespace consultd::media
