package models

import (
	"errors"
	"strings"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// An admin's decisions about a domain stick to its owner's host (issue 15):
// deleting the domain and registering the host again neither lifts a
// revocation nor undoes the plan an admin set.
//
// The decisions are read from the audit log, which AdminModel writes in
// the same transaction as every change it makes: it is the complete
// record of what admins decided, including before this rule existed, and
// entries are never changed or removed. A revocation holds while the
// domain's last revoke or restore entry is a revoke, whether the owner
// deleted the domain since or not; restoring a deleted domain writes the
// restore entry (the domain stays deleted: its owner chose that) and so
// lets its owner register the host again, with a new secret.
//
// A host is matched by name, on any port: "site.example:8443" is the same
// site as "site.example" for these rules.

// ErrHostRevoked: an admin revoked a domain of this owner on this host and
// no admin restored it; the owner cannot register the host again.
var ErrHostRevoked = errors.New("models: an administrator revoked this host for this owner")

// decisionActions are the audited actions that decide a host's fate.
var decisionActions = []string{ActionRevoke, ActionRestore, ActionPlan, ActionPremiumApprove, ActionPremiumDecline}

// planDecision reports whether an entry's action sets a plan: an admin's
// change of plan, or the answer to a premium request (a declined request
// is the plan free decided, so that deleting the domain and registering
// the host again does not ask again).
func planDecision(action string) bool {
	return action == ActionPlan || action == ActionPremiumApprove || action == ActionPremiumDecline
}

// hostDecisions is what admins decided about one owner's host.
type hostDecisions struct {
	revoked bool   // a revocation holds on one of its domains
	plan    string // the plan an admin last set on one of its domains, or ""
}

// decisionsOn reads what admins decided about userID's domains on host's
// name (any port), deleted ones included.
func decisionsOn(tx *gorm.DB, userID uint64, host string) (hostDecisions, error) {
	name := host
	if i := strings.LastIndexByte(name, ':'); i >= 0 {
		name = name[:i]
	}
	var es []decisionEntry
	err := tx.Table("audit_entries").
		Select("?, ?, ?", clause.Column{Table: "audit_entries", Name: "domain_id"}, // quoted: AFTER is a MySQL keyword
			clause.Column{Table: "audit_entries", Name: "action"}, clause.Column{Table: "audit_entries", Name: "after"}).
		Joins("JOIN domains ON domains.id = audit_entries.domain_id").
		Where("domains.user_id = ? AND (domains.host = ? OR domains.host LIKE ? ESCAPE '!')",
			userID, name, likeEscaper.Replace(name)+":%").
		Where("audit_entries.action IN ?", decisionActions).
		Order("audit_entries.id DESC").Scan(&es).Error
	if err != nil {
		return hostDecisions{}, err
	}
	var d hostDecisions
	for _, held := range heldOf(es) {
		d.revoked = d.revoked || held
	}
	for _, e := range es { // newest first
		if planDecision(e.Action) && (e.After == PlanFree || e.After == PlanPremium) {
			d.plan = e.After
			break
		}
	}
	return d, nil
}

// decisionEntry is the part of an audit entry a decision is read from.
type decisionEntry struct {
	DomainID uint64
	Action   string
	After    string
}

// heldOf tells, for each domain of es (newest entry first), whether a
// revocation holds on it: its newest revoke or restore entry is a revoke.
func heldOf(es []decisionEntry) map[uint64]bool {
	held := map[uint64]bool{}
	for _, e := range es {
		if e.Action != ActionRevoke && e.Action != ActionRestore {
			continue
		}
		if _, seen := held[e.DomainID]; !seen {
			held[e.DomainID] = e.Action == ActionRevoke
		}
	}
	return held
}

// revocationsHeld tells which of the domains ids a revocation holds on.
func revocationsHeld(tx *gorm.DB, ids []uint64) (map[uint64]bool, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	var es []decisionEntry
	err := tx.Table("audit_entries").Select("domain_id", "action").
		Where("domain_id IN ? AND action IN ?", ids, []string{ActionRevoke, ActionRestore}).
		Order("id DESC").Scan(&es).Error
	if err != nil {
		return nil, err
	}
	return heldOf(es), nil
}
