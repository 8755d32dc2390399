// Package e2e holds the browser tests of the portal: Debian's Chromium,
// driven by chromedp, against the real application (handlers.New) on a
// random port of 127.0.0.1 with a fresh MariaDB database, plus a second
// small server that plays a customer's website calling the API from the
// browser (CORS).
//
// They need:
//
//	apt-get install -y chromium           # /usr/bin/chromium, no browser download
//	(cd e2e && npm ci)                    # axe-core, for the accessibility checks
//	NODEBIRD_TEST_MYSQL_DSN='root@tcp(127.0.0.1:3306)/'
//
// On a developer machine a missing one skips the tests with a message;
// under CI=true it fails them. A failing test saves a screenshot of its
// tab under e2e/screenshots/failures/ and logs the path.
//
// TestReadmeScreenshots writes docs/screenshots/*.png when run with
// -args -screenshots (or NODEBIRD_SCREENSHOTS=1).
package e2e
