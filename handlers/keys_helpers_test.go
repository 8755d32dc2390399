package handlers

import "net/url"

// noOverlap is the rotate form asking that the current secret stop at once
// (the rotation of the tests written before overlaps existed).
func noOverlap() url.Values { return url.Values{"overlap": {"0s"}} }

// revokeReason is an admin's revoke form with a reason.
func revokeReason() url.Values { return url.Values{"reason": {"Serves phishing pages"}} }
