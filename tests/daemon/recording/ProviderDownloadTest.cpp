// The download policy of provider recording imports: only https, no user
// info, only configured hosts (exact or *.suffix, case-insensitive), so a
// webhook cannot make the appliance fetch from the hospital's own network.
// (Transfers themselves are tested against the fake Vonage server in
// tests/integration/test_recording_import.py.)
#include "recording/ProviderDownload.h"

#include <cppunit/extensions/HelperMacros.h>

using namespace consultd::recording;

class ProviderDownloadTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(ProviderDownloadTest);
    CPPUNIT_TEST(hostPatterns);
    CPPUNIT_TEST(urlsOutsideThePolicyAreRefused);
    CPPUNIT_TEST(missingCaFileIsAnError);
    CPPUNIT_TEST_SUITE_END();

    static void expectRefused(const RecordingDownloader& downloader, const std::string& url) {
        try {
            downloader.checkUrl(url);
        } catch (const DownloadError& e) {
            CPPUNIT_ASSERT_MESSAGE(url, e.kind() == DownloadError::Kind::Refused);
            return;
        }
        CPPUNIT_FAIL("accepted: " + url);
    }

public:
    void hostPatterns() {
        CPPUNIT_ASSERT(hostAllowed("archives.example.org", "archives.example.org"));
        CPPUNIT_ASSERT(hostAllowed("Archives.Example.ORG", "archives.example.org"));
        CPPUNIT_ASSERT(hostAllowed("a.b.8x8.vc", "*.8x8.vc"));
        CPPUNIT_ASSERT(!hostAllowed("8x8.vc", "*.8x8.vc"));
        CPPUNIT_ASSERT(!hostAllowed("evil8x8.vc", "*.8x8.vc"));
        CPPUNIT_ASSERT(!hostAllowed("archives.example.org.evil.net", "archives.example.org"));
        CPPUNIT_ASSERT(!hostAllowed("x", ""));
    }

    void urlsOutsideThePolicyAreRefused() {
        DownloadPolicy policy;
        policy.allowedHosts = {"archives.example.org", "*.8x8.vc"};
        policy.maxBytes = 1 << 20;
        const RecordingDownloader downloader(policy);
        CPPUNIT_ASSERT_NO_THROW(downloader.checkUrl("https://archives.example.org/a/b.mp4?X-Amz-Signature=1"));
        CPPUNIT_ASSERT_NO_THROW(downloader.checkUrl("https://download.eu.8x8.vc:8443/rec.mp4"));
        expectRefused(downloader, "http://archives.example.org/a.mp4");
        expectRefused(downloader, "ftp://archives.example.org/a.mp4");
        expectRefused(downloader, "https://user:pw@archives.example.org/a.mp4");
        expectRefused(downloader, "https://169.254.169.254/latest/meta-data");
        expectRefused(downloader, "https://127.0.0.1/a.mp4");
        expectRefused(downloader, "https://intranet.hospital.local/a.mp4");
        expectRefused(downloader, "not a url at all ::");
    }

    void missingCaFileIsAnError() {
        DownloadPolicy policy;
        policy.caFile = "/nonexistent/ca.pem";
        CPPUNIT_ASSERT_THROW(RecordingDownloader{policy}, std::runtime_error);
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(ProviderDownloadTest);
