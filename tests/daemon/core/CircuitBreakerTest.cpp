// The provider circuit breaker: opens after N consecutive failures, refuses
// while open, lets exactly one probe through when half-open, closes on its
// success, re-opens for twice as long on its failure (capped), and a neutral
// outcome only frees the probe slot.
#include "core/CircuitBreaker.h"

#include <cppunit/extensions/HelperMacros.h>

using consultd::core::CircuitBreaker;
using namespace std::chrono_literals;

class CircuitBreakerTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(CircuitBreakerTest);
    CPPUNIT_TEST(opensAfterConsecutiveFailuresOnly);
    CPPUNIT_TEST(refusesWhileOpenAndProbesOnceWhenHalfOpen);
    CPPUNIT_TEST(failedProbeDoublesTheOpenPeriodUpToTheCap);
    CPPUNIT_TEST(neutralOutcomeFreesTheProbe);
    CPPUNIT_TEST_SUITE_END();

    static CircuitBreaker::Options options() {
        CircuitBreaker::Options o;
        o.failureThreshold = 3;
        o.openFor = 10s;
        o.maxOpenFor = 25s;
        return o;
    }

public:
    void opensAfterConsecutiveFailuresOnly() {
        CircuitBreaker breaker(options());
        const auto t0 = CircuitBreaker::Clock::now();
        breaker.onFailure(t0);
        breaker.onFailure(t0);
        breaker.onSuccess();  // resets the count
        breaker.onFailure(t0);
        breaker.onFailure(t0);
        CPPUNIT_ASSERT(breaker.admit(t0).allowed);
        CPPUNIT_ASSERT(breaker.snapshot(t0).state == CircuitBreaker::State::Closed);
        breaker.onFailure(t0);
        CPPUNIT_ASSERT(breaker.snapshot(t0).state == CircuitBreaker::State::Open);
        CPPUNIT_ASSERT_EQUAL(std::uint64_t(1), breaker.snapshot(t0).timesOpened);
    }

    void refusesWhileOpenAndProbesOnceWhenHalfOpen() {
        CircuitBreaker breaker(options());
        const auto t0 = CircuitBreaker::Clock::now();
        for (int i = 0; i < 3; ++i) breaker.onFailure(t0);
        const auto refused = breaker.admit(t0 + 4s);
        CPPUNIT_ASSERT(!refused.allowed);
        CPPUNIT_ASSERT(refused.retryAfter == 6s);
        CPPUNIT_ASSERT(breaker.snapshot(t0 + 10s).state == CircuitBreaker::State::HalfOpen);
        const auto probe = breaker.admit(t0 + 10s);
        CPPUNIT_ASSERT(probe.allowed && probe.probe);
        CPPUNIT_ASSERT(!breaker.admit(t0 + 10s).allowed);  // one probe at a time
        breaker.onSuccess();
        CPPUNIT_ASSERT(breaker.snapshot(t0 + 10s).state == CircuitBreaker::State::Closed);
        CPPUNIT_ASSERT(breaker.admit(t0 + 10s).allowed);
        CPPUNIT_ASSERT_EQUAL(std::uint64_t(2), breaker.snapshot(t0).refusedCalls);
    }

    void failedProbeDoublesTheOpenPeriodUpToTheCap() {
        CircuitBreaker breaker(options());
        auto t = CircuitBreaker::Clock::now();
        for (int i = 0; i < 3; ++i) breaker.onFailure(t);
        t += 10s;
        CPPUNIT_ASSERT(breaker.admit(t).probe);
        breaker.onFailure(t);  // open for 20 s now
        CPPUNIT_ASSERT(!breaker.admit(t + 19s).allowed);
        t += 20s;
        CPPUNIT_ASSERT(breaker.admit(t).probe);
        breaker.onFailure(t);  // 40 s capped at 25 s
        CPPUNIT_ASSERT(!breaker.admit(t + 24s).allowed);
        CPPUNIT_ASSERT(breaker.admit(t + 25s).probe);
        breaker.onSuccess();
        // Closed again: the next opening starts from openFor.
        for (int i = 0; i < 3; ++i) breaker.onFailure(t + 25s);
        CPPUNIT_ASSERT(breaker.admit(t + 35s).probe);
    }

    void neutralOutcomeFreesTheProbe() {
        CircuitBreaker breaker(options());
        const auto t0 = CircuitBreaker::Clock::now();
        for (int i = 0; i < 3; ++i) breaker.onFailure(t0);
        const auto probe = breaker.admit(t0 + 10s);
        CPPUNIT_ASSERT(probe.probe);
        breaker.onNeutral(probe);
        CPPUNIT_ASSERT(breaker.admit(t0 + 10s).probe);
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(CircuitBreakerTest);
