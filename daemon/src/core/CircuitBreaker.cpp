#include "core/CircuitBreaker.h"

#include <algorithm>

namespace consultd::core {

CircuitBreaker::CircuitBreaker(Options options) : options_(options), currentOpenFor_(options.openFor) {}

const char* CircuitBreaker::stateName(State state) {
    switch (state) {
        case State::Closed: return "closed";
        case State::Open: return "open";
        case State::HalfOpen: return "half_open";
    }
    return "closed";
}

CircuitBreaker::Admission CircuitBreaker::admit(Clock::time_point now) {
    std::lock_guard lock(mutex_);
    Admission admission;
    if (state_ == State::Open && now >= openUntil_) state_ = State::HalfOpen;
    switch (state_) {
        case State::Closed:
            return admission;
        case State::Open:
            admission.allowed = false;
            admission.retryAfter = std::chrono::duration_cast<std::chrono::milliseconds>(openUntil_ - now);
            ++refused_;
            return admission;
        case State::HalfOpen:
            if (probeInFlight_) {
                // One probe at a time: the others wait for its verdict.
                admission.allowed = false;
                admission.retryAfter = std::chrono::milliseconds(1000);
                ++refused_;
                return admission;
            }
            probeInFlight_ = true;
            admission.probe = true;
            return admission;
    }
    return admission;
}

void CircuitBreaker::onSuccess() {
    std::lock_guard lock(mutex_);
    state_ = State::Closed;
    consecutiveFailures_ = 0;
    probeInFlight_ = false;
    currentOpenFor_ = options_.openFor;
}

void CircuitBreaker::onFailure(Clock::time_point now) {
    std::lock_guard lock(mutex_);
    ++consecutiveFailures_;
    if (state_ == State::HalfOpen) {
        // The probe failed: wait longer before the next one.
        probeInFlight_ = false;
        currentOpenFor_ = std::min(currentOpenFor_ * 2, options_.maxOpenFor);
        open(now);
    } else if (state_ == State::Closed && consecutiveFailures_ >= options_.failureThreshold) {
        open(now);
    }
    // Open: a call admitted before the breaker opened failed too; nothing changes.
}

void CircuitBreaker::onNeutral(const Admission& admission) {
    if (!admission.probe) return;
    std::lock_guard lock(mutex_);
    probeInFlight_ = false;
}

void CircuitBreaker::open(Clock::time_point now) {
    state_ = State::Open;
    openUntil_ = now + currentOpenFor_;
    ++timesOpened_;
}

CircuitBreaker::Snapshot CircuitBreaker::snapshot(Clock::time_point now) const {
    std::lock_guard lock(mutex_);
    Snapshot s;
    s.state = (state_ == State::Open && now >= openUntil_) ? State::HalfOpen : state_;
    s.consecutiveFailures = consecutiveFailures_;
    if (s.state == State::Open) {
        s.retryAfter = std::chrono::duration_cast<std::chrono::milliseconds>(openUntil_ - now);
    }
    s.timesOpened = timesOpened_;
    s.refusedCalls = refused_;
    return s;
}

}  // namespace consultd::core
