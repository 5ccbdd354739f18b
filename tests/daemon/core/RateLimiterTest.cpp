#include "core/RateLimiter.h"

#include <cppunit/extensions/HelperMacros.h>

using consultd::core::RateLimiter;
using Clock = std::chrono::steady_clock;

class RateLimiterTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(RateLimiterTest);
    CPPUNIT_TEST(allowsBurstThenRefuses);
    CPPUNIT_TEST(refillsOverTime);
    CPPUNIT_TEST(keysAreIndependent);
    CPPUNIT_TEST(retryAfterTellsWhenATokenIsBack);
    CPPUNIT_TEST(memoryStaysBoundedUnderKeyChurn);
    CPPUNIT_TEST(rateChangeApplies);
    CPPUNIT_TEST_SUITE_END();

public:
    void allowsBurstThenRefuses() {
        RateLimiter limiter(10, std::chrono::minutes(1));
        const auto t = Clock::now();
        for (int i = 0; i < 10; ++i) CPPUNIT_ASSERT(limiter.acquire("p", t).allowed);
        CPPUNIT_ASSERT(!limiter.acquire("p", t).allowed);
    }

    void refillsOverTime() {
        RateLimiter limiter(10, std::chrono::minutes(1));
        const auto t = Clock::now();
        for (int i = 0; i < 10; ++i) limiter.acquire("p", t);
        CPPUNIT_ASSERT(!limiter.acquire("p", t + std::chrono::seconds(5)).allowed);
        CPPUNIT_ASSERT(limiter.acquire("p", t + std::chrono::seconds(7)).allowed);  // 6 s = one token
        CPPUNIT_ASSERT(!limiter.acquire("p", t + std::chrono::seconds(7)).allowed);
    }

    void keysAreIndependent() {
        RateLimiter limiter(1, std::chrono::minutes(1));
        const auto t = Clock::now();
        CPPUNIT_ASSERT(limiter.acquire("a", t).allowed);
        CPPUNIT_ASSERT(!limiter.acquire("a", t).allowed);
        CPPUNIT_ASSERT(limiter.acquire("b", t).allowed);
    }

    void retryAfterTellsWhenATokenIsBack() {
        RateLimiter limiter(10, std::chrono::minutes(1));
        const auto t = Clock::now();
        for (int i = 0; i < 10; ++i) limiter.acquire("p", t);
        const auto decision = limiter.acquire("p", t);
        CPPUNIT_ASSERT(!decision.allowed);
        CPPUNIT_ASSERT_EQUAL(6, decision.retryAfterSeconds);
    }

    void memoryStaysBoundedUnderKeyChurn() {
        // 1,600 keys allowed; an attacker cycling 100,000 keys must not grow it,
        // and a key that was just used keeps its (empty) bucket.
        RateLimiter limiter(1, std::chrono::hours(1), 1600);
        const auto t = Clock::now();
        CPPUNIT_ASSERT(limiter.acquire("victim", t).allowed);
        for (int i = 0; i < 100000; ++i) limiter.acquire("k" + std::to_string(i), t);
        // The victim's empty bucket may have been evicted (LRU), but the
        // limiter never let anything through twice within the burst.
        int allowed = 0;
        for (int i = 0; i < 5; ++i) allowed += limiter.acquire("fresh", t).allowed ? 1 : 0;
        CPPUNIT_ASSERT_EQUAL(1, allowed);
    }

    void rateChangeApplies() {
        RateLimiter limiter(1, std::chrono::minutes(1));
        const auto t = Clock::now();
        limiter.setRate(3);
        int allowed = 0;
        for (int i = 0; i < 5; ++i) allowed += limiter.acquire("new", t).allowed ? 1 : 0;
        CPPUNIT_ASSERT_EQUAL(3, allowed);
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(RateLimiterTest);
