#include "LoopThread.h"

#include <memory>

namespace consultd::media {
namespace {

using Task = std::function<void()>;

gboolean runTask(gpointer data) {
    (*static_cast<Task*>(data))();
    return G_SOURCE_REMOVE;
}

void destroyTask(gpointer data) {
    // Ownership came from post() via release(); take it back to free it.
    std::unique_ptr<Task> owned(static_cast<Task*>(data));
}

}  // namespace

LoopThread::LoopThread()
    : context_(g_main_context_new()), loop_(g_main_loop_new(context_.get(), FALSE)) {
    std::promise<void> started;
    auto running = started.get_future();
    thread_ = std::thread([this, &started] {
        g_main_context_push_thread_default(context_.get());
        started.set_value();
        g_main_loop_run(loop_.get());
        g_main_context_pop_thread_default(context_.get());
    });
    threadId_ = thread_.get_id();
    running.wait();
}

LoopThread::~LoopThread() {
    // Quit from inside the loop: a quit issued before g_main_loop_run() began
    // would be forgotten and the join would hang.
    GMainLoop* loop = loop_.get();
    post([loop] { g_main_loop_quit(loop); });
    thread_.join();
}

void LoopThread::post(std::function<void()> task) {
    // Always queued (never run inline), so a post from the loop thread cannot re-enter its caller.
    auto owned = std::make_unique<Task>(std::move(task));
    SourcePtr source(g_idle_source_new());
    g_source_set_priority(source.get(), G_PRIORITY_DEFAULT);
    g_source_set_callback(source.get(), runTask, owned.release(), destroyTask);
    g_source_attach(source.get(), context_.get());
}

}  // namespace consultd::media
