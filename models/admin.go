package models

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// ErrWrongState: the domain's status or plan does not allow the change
// asked for (revoking a deleted domain, restoring an active one, ...).
// The error returned wraps it in a *StateError that says which.
var ErrWrongState = errors.New("models: the domain's state does not allow this change")

// StateReason says why a change was refused. The zero value is no reason.
type StateReason int

// The reasons a change can be refused for; each AdminModel method says
// which it gives.
const (
	AlreadyRevoked StateReason = iota + 1 // the domain is revoked already
	AlreadyActive                         // the domain is active: there is nothing to restore
	Deleted                               // its owner deleted the domain: nothing changes it any more
	SamePlan                              // the domain is on the plan asked for already
	NotRequested                          // no premium request is pending on the domain
	stateReasonEnd
)

// Valid reports whether r is one of the reasons above; tests range over
// them with for r := StateReason(1); r.Valid(); r++.
func (r StateReason) Valid() bool { return r > 0 && r < stateReasonEnd }

func (r StateReason) String() string {
	switch r {
	case AlreadyRevoked:
		return "already revoked"
	case AlreadyActive:
		return "already active"
	case Deleted:
		return "deleted"
	case SamePlan:
		return "same plan"
	case NotRequested:
		return "not requested"
	}
	return fmt.Sprintf("StateReason(%d)", int(r))
}

// StateError tells why a change was refused: the action refused (one of
// the Action constants), the reason, and the domain's status and plan.
type StateError struct {
	Action string
	Reason StateReason
	Status string
	Plan   string
}

func (e *StateError) Error() string {
	return fmt.Sprintf("%v: %s refused, %s (status %s, plan %s)", ErrWrongState, e.Action, e.Reason, e.Status, e.Plan)
}

// Unwrap makes errors.Is(err, ErrWrongState) true.
func (e *StateError) Unwrap() error { return ErrWrongState }

// Audited actions. Looking at a page is not one: GET requests change
// nothing. (The log may still hold "user.view" entries from before; the
// audit page labels them.)
const (
	ActionRevoke  = "domain.revoke"
	ActionRestore = "domain.restore"
	ActionPlan    = "domain.plan"
	// A premium request's answer (PREMIUM=approval), requested → premium
	// or requested → free: a plan decision like ActionPlan's, which sticks
	// to the owner's host (decisions.go).
	ActionPremiumApprove = "domain.premium.approve"
	ActionPremiumDecline = "domain.premium.decline"
)

// premiumRequested is the audit log's "before" of a premium request's answer.
const premiumRequested = "requested"

// Sort orders of the admin domain list.
const (
	SortCreated  = "created"
	SortLastUsed = "last_used"
)

// maxOwnerIDs bounds the ids an owner filter passes as a list; beyond it
// the filter becomes a subquery. Past maxOwnerSubquery accounts, an owner
// filter is checked row by row as the page walks its sort order (see
// owned).
//
// A host filter matching up to maxHostIDs domains reads them all from the
// host's index and sorts them. Past it, the page first walks the hostWalk
// domains at the head of its sort order (the other filters applied from
// their index) and checks each one's host: a host on more than about 3 %
// of the domains is found there, unless its domains lie at the far end of
// the order (registered together long ago, or used alike), when every
// match is read from the host's index and sorted after all (see ordered).
// The cost is the walk plus, at worst, the host's matches: at 1M domains
// on MariaDB, 5 ms for 11,111 and 50 ms for 111,111 by creation (the
// index alone), and by last use, read by primary key, 20 ms and 150 ms;
// left to itself, the optimizer walked the whole sort order row by row
// looking for hosts that all lay at its end (1-4 s).
var (
	maxOwnerIDs      = 1000
	maxOwnerSubquery = 10000
	maxHostIDs       = 10000
	hostWalk         = 2000
)

// ownersAtMost reports whether no more than n accounts have an email or
// a nick that matches pat (each read from its index, up to n+1). On an
// error it says no: the page's query then meets the error too.
func ownersAtMost(db *gorm.DB, pat string, n int) bool {
	for _, col := range []string{"email", "nick"} {
		var count int64
		err := db.Table("(?) AS owners", db.Model(&User{}).Select("id").Where(col+" LIKE ? ESCAPE '!'", pat).Limit(n+1)).
			Count(&count).Error
		if err != nil || count > int64(n) {
			return false
		}
	}
	return true
}

// Actor is the admin who acts, as written in the audit log.
type Actor struct {
	ID    uint64
	Email string
}

// DomainFilter selects and orders the domains of the admin list. Zero
// values select everything, newest first.
type DomainFilter struct {
	Owner   string // text in the owner's email or nick
	OwnerID uint64 // one owner only
	Host    string // text in the host
	Plan    string // PlanFree, PlanPremium or ""
	Status  string // StatusActive, StatusRevoked, StatusDeleted or ""
	Sort    string // SortCreated (default) or SortLastUsed
	Asc     bool   // oldest (or least recently used) first

	res *resolution // the lookups Resolve did, for the filters above
}

// AdminDomain is one line of the admin list: never the secret's hash.
type AdminDomain struct {
	ID           uint64
	UserID       uint64
	OwnerNick    string
	OwnerEmail   string
	Host         string
	Plan         string `gorm:"column:type"`
	Status       string
	SecretLast4  string
	TokensIssued int64
	LastTokenAt  *time.Time
	LastFailedAt *time.Time
	CreatedAt    time.Time
	// RevocationHeld: the domain is deleted, but an admin's revocation of
	// it holds, so its owner cannot register the host again until an
	// admin restores it.
	RevocationHeld bool `gorm:"-"`
	// PremiumRequested: a premium request waits for an admin's answer.
	PremiumRequested bool
	// RevokeReason is what the revoking admin told the owner ("" unless
	// revoked); Label is the owner's name for the domain.
	RevokeReason string
	Label        string
	// OwnerSuspended: an admin suspended the owner's account, so the
	// domain gets no tokens whatever its status.
	OwnerSuspended bool `gorm:"-"`
}

// AdminModel holds the queries of the admin console. Every change it makes
// is written to the audit log in the same transaction.
type AdminModel struct{ conn }

// NewAdminModel returns an AdminModel with the given per-query timeout.
func NewAdminModel(db *gorm.DB, timeout time.Duration) *AdminModel {
	return &AdminModel{conn{db, timeout}}
}

// prefixPattern makes s a LIKE pattern matching any text that starts
// with it, with % and _ taken literally (the escape character is !, which
// means the same to MySQL and SQLite, unlike the backslash). With no
// leading wildcard, MySQL reads the matches from a range of an index.
func prefixPattern(s string) string {
	return likeEscaper.Replace(s) + "%"
}

// likeEscaper makes % and _ literal in a LIKE pattern with ESCAPE '!'.
var likeEscaper = strings.NewReplacer("!", "!!", "%", "!%", "_", "!_")

// ListDomains returns up to limit domains after offset, with whether more
// follow. It reads in steps that each use an index, whatever MariaDB's
// optimizer would make of one big join:
//
//   - an owner filter finds the matching users first, and a host filter
//     counts its matches, each from a range of an index (the text starts
//     the email, nick or host), so that neither walks every domain; past a
//     bound, an owner filter stays a condition (resolve, below);
//   - the page's ids are read alone, from a (filter..., created_at or
//     last_token_at, id) index that holds them, so even a deep OFFSET
//     skips index entries rather than rows; a host filter's from the
//     host's index, or a bounded walk of the sort order (ordered);
//   - then the page's rows, and their owners, by primary key.
//
// Given a filter from Resolve, it does not look the owner and host up again.
func (m *AdminModel) ListDomains(ctx context.Context, f DomainFilter, limit, offset int) ([]AdminDomain, bool, error) {
	db, cancel := m.with(ctx)
	defer cancel()
	r, err := resolved(db, f)
	if err != nil || r.none {
		return nil, false, err
	}
	dir := "DESC"
	if f.Asc {
		dir = "ASC"
	}
	col := "created_at"
	if f.Sort == SortLastUsed {
		col = "last_token_at"
	}
	keys, err := ordered(db, r, col, dir, nil, limit+1, offset)
	if err != nil {
		return nil, false, err
	}
	more := len(keys) > limit
	if more {
		keys = keys[:limit]
	}
	rows, err := rowsOf(db, keyIDs(keys))
	return rows, more, err
}

// sortKey is a domain's place in a sort order: its id, and its created_at
// or last_token_at.
type sortKey struct {
	ID uint64
	At *time.Time
}

func keyIDs(keys []sortKey) []uint64 {
	ids := make([]uint64, len(keys))
	for i, k := range keys {
		ids[i] = k.ID
	}
	return ids
}

// ordered returns the keys of up to n of the domains r selects, after
// offset, ordered by col, then id, in dir; narrow, unless nil, adds a
// condition (an export page's start).
//
// Without a host filter they are read in order from a (filter..., col)
// index. With one, its matches are read from the host's index in a
// derived table, then sorted: a derived table with a LIMIT is
// never merged into the query around it, so the optimizer cannot choose
// to walk the sort order looking for them instead (which it does, reading
// each row, when they all lie at its far end: 1.6 s for 11,111 of 1M).
// Past maxHostIDs, the first hostWalk domains of the order (the other
// filters applied) are walked first, each one's host checked by primary
// key: a page found among them is the page, since they are the head of
// the whole order. Otherwise every match is sorted after all.
func ordered(db *gorm.DB, r *resolution, col, dir string, narrow func(*gorm.DB) *gorm.DB, n, offset int) ([]sortKey, error) {
	if narrow == nil {
		narrow = func(q *gorm.DB) *gorm.DB { return q }
	}
	by := func(table string) string { return table + "." + col + " " + dir + ", " + table + ".id " + dir }
	var keys []sortKey
	if r.of.Host == "" {
		err := narrow(r.domains(db)).Select("id, " + col + " AS at").Order(by("domains")).
			Limit(n).Offset(offset).Scan(&keys).Error
		return keys, translate(err)
	}
	// A short walk first: a host that common is often found at once, and
	// a walk reads every domain it is given. A walk too short to hold the
	// page is not taken.
	walks := []int{hostWalk}
	if short := 10 * (n + offset); short < hostWalk {
		walks = []int{short, hostWalk}
	}
	for _, w := range walks {
		if !r.hostWide() || w < n+offset {
			break
		}
		walk := narrow(r.stated(r.owned(db), "domains")).Select("id, " + col).Order(by("domains")).Limit(w)
		err := r.hosted(db.Table("(?) AS walk", walk).Joins("JOIN domains ON domains.id = walk.id")).
			Select("walk.id, walk." + col + " AS at").Order(by("walk")).Limit(n).Offset(offset).Scan(&keys).Error
		if err != nil || len(keys) == n { // fewer: the rest lie past the walk, or there are no more
			return keys, translate(err)
		}
	}
	// The derived table reads the host's index alone: the plan and status
	// are checked out of it (with them, MariaDB may read every revoked
	// domain's row to check its host instead), and the last use, which no
	// host index holds, is read after by primary key (asked for in the
	// derived table, it has MariaDB scan the table past ~100,000 matches).
	cols := "id, created_at"
	if r.of.Plan != "" {
		cols += ", type"
	}
	if r.of.Status != "" {
		cols += ", status"
	}
	matches := narrow(r.hosted(r.owned(db))).Select(cols).Limit(math.MaxInt64)
	q := r.stated(db.Table("(?) AS matches", matches), "matches")
	if col == "created_at" {
		q = q.Select("matches.id, matches.created_at AS at").Order(by("matches"))
	} else {
		q = q.Joins("JOIN domains ON domains.id = matches.id").Select("domains.id, domains." + col + " AS at").Order(by("domains"))
	}
	err := q.Limit(n).Offset(offset).Scan(&keys).Error
	return keys, translate(err)
}

// rowsOf reads the admin list's rows of the domains ids, in that order
// (a domain gone meanwhile is left out), with their owners.
func rowsOf(db *gorm.DB, ids []uint64) ([]AdminDomain, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	var got []AdminDomain
	err := db.Model(&Domain{}).
		Select("id, user_id, host, type, status, secret_last4, tokens_issued, last_token_at, last_failed_at, created_at, premium_requested, revoke_reason, label").
		Where("id IN ?", ids).Scan(&got).Error
	if err != nil {
		return nil, translate(err)
	}
	byID := make(map[uint64]AdminDomain, len(got))
	for _, d := range got {
		byID[d.ID] = d
	}
	rows := make([]AdminDomain, 0, len(ids))
	for _, id := range ids {
		if d, ok := byID[id]; ok { // gone between the two reads: left out
			rows = append(rows, d)
		}
	}
	if err := fillOwners(db, rows); err != nil {
		return nil, translate(err)
	}
	if err := fillHeld(db, rows); err != nil {
		return nil, translate(err)
	}
	return rows, nil
}

// Resolve does the lookups of f's owner and host filters (the accounts an
// owner filter matches, how many domains a host filter does) and returns f
// carrying them: ListDomains, CountDomains and ExportDomains given it do
// not do them again, so that a page and its count look up once. Filters
// changed after are looked up again; a filter already resolved is not.
func (m *AdminModel) Resolve(ctx context.Context, f DomainFilter) (DomainFilter, error) {
	db, cancel := m.with(ctx)
	defer cancel()
	r, err := resolved(db, f)
	if err != nil {
		return f, err
	}
	f.res = r
	return f, nil
}

// Ways an owner filter is checked.
const (
	ownerList     = iota + 1 // user_id IN (the accounts' ids)
	ownerSubquery            // user_id IN (SELECT the accounts)
	ownerPerRow              // a correlated subquery per domain
)

// resolution is what the lookups of a filter found.
type resolution struct {
	of      DomainFilter // the filter looked up, its Sort and Asc aside
	none    bool         // no domain can match, known without asking further
	ownerBy int          // how an owner filter is checked (0: none)
	owners  []uint64     // its accounts, for ownerList
	// hosts: the domains a host filter matched, counted up to
	// maxHostIDs+1.
	hosts int64
}

// hostWide reports whether a host filter matched more than maxHostIDs
// domains.
func (r *resolution) hostWide() bool { return r.hosts > int64(maxHostIDs) }

// wide reports whether an owner or host filter matched more than its
// bound (accounts or domains), so that no index range holds its matches.
func (r *resolution) wide() bool { return r.hostWide() || r.ownerBy >= ownerSubquery }

// narrowed reports whether another filter is set beside an owner or host
// filter (more than one filter is set).
func (r *resolution) narrowed() bool {
	f, filters := r.of, 0
	for _, set := range []bool{f.OwnerID != 0, f.Owner != "", f.Host != "", f.Plan != "", f.Status != ""} {
		if set {
			filters++
		}
	}
	return filters > 1
}

// lookedUp is the part of f a resolution is for.
func lookedUp(f DomainFilter) DomainFilter {
	f.Sort, f.Asc, f.res = "", false, nil
	return f
}

// resolved returns the resolution f carries, or makes one.
func resolved(db *gorm.DB, f DomainFilter) (*resolution, error) {
	if f.res != nil && f.res.of == lookedUp(f) {
		return f.res, nil
	}
	return resolve(db, f)
}

// resolve looks f's owner and host filters up: see ListDomains.
func resolve(db *gorm.DB, f DomainFilter) (*resolution, error) {
	r := &resolution{of: lookedUp(f)}
	none := &resolution{of: r.of, none: true}
	if noSuchID(f.OwnerID) || strings.ContainsRune(f.Owner+f.Host, 0) {
		// No stored email, nick or host holds a NUL, so the answer is no
		// row; SQLite's LIKE would stop reading the pattern at the NUL and
		// match every row (MariaDB matches none).
		return none, nil
	}
	if f.Owner != "" {
		pat := prefixPattern(f.Owner)
		// Two ranges, each read no further than the bound, rather than
		// one OR that MariaDB answers by merging both ranges whole.
		var ids []uint64
		for _, col := range []string{"email", "nick"} {
			var some []uint64
			err := db.Model(&User{}).Where(col+" LIKE ? ESCAPE '!'", pat).Limit(maxOwnerIDs+1).Pluck("id", &some).Error
			if err != nil {
				return nil, translate(err)
			}
			ids = append(ids, some...)
		}
		slices.Sort(ids)
		ids = slices.Compact(ids)
		switch {
		case len(ids) == 0:
			return none, nil
		case len(ids) <= maxOwnerIDs:
			r.ownerBy, r.owners = ownerList, ids
		case len(ids) <= maxOwnerSubquery && ownersAtMost(db, pat, maxOwnerSubquery):
			r.ownerBy = ownerSubquery
		default:
			r.ownerBy = ownerPerRow
		}
	}
	if f.Host != "" {
		err := db.Table("(?) AS hosts", db.Model(&Domain{}).Select("id").
			Where("host LIKE ? ESCAPE '!'", prefixPattern(f.Host)).Limit(maxHostIDs+1)).Count(&r.hosts).Error
		switch {
		case err != nil:
			return nil, translate(err)
		case r.hosts == 0:
			return none, nil
		}
	}
	return r, nil
}

// domains is the query of the domains r selects.
func (r *resolution) domains(db *gorm.DB) *gorm.DB {
	return r.stated(r.hosted(r.owned(db)), "domains")
}

// owned is the query of the domains r's owner filters select.
func (r *resolution) owned(db *gorm.DB) *gorm.DB {
	f := r.of
	q := db.Model(&Domain{})
	if f.OwnerID != 0 {
		q = q.Where("user_id = ?", f.OwnerID)
	}
	pat := prefixPattern(f.Owner)
	switch r.ownerBy {
	case ownerList:
		q = q.Where("user_id IN ?", r.owners)
	case ownerSubquery:
		// MariaDB reads the accounts, then their domains from
		// (user_id, created_at), and sorts them: 6 ms for 1,111
		// accounts at 1M domains.
		q = q.Where("user_id IN (?)", db.Model(&User{}).Select("id").
			Where("email LIKE ? ESCAPE '!' OR nick LIKE ? ESCAPE '!'", pat, pat))
	case ownerPerRow:
		// So many accounts that the page's query finds its rows soon
		// walking its order, each owner checked by primary key in a
		// correlated subquery: as IN (SELECT ...), or EXISTS, MariaDB
		// would read every matching account and sort all their
		// domains (1 s for 100,000 accounts at 1M domains); a scalar
		// subquery it leaves alone.
		q = q.Where("(SELECT 1 FROM users WHERE users.id = domains.user_id AND "+
			"(users.email LIKE ? ESCAPE '!' OR users.nick LIKE ? ESCAPE '!')) IS NOT NULL", pat, pat)
	}
	return q
}

// hosted adds r's host filter to q.
func (r *resolution) hosted(q *gorm.DB) *gorm.DB {
	if r.of.Host == "" {
		return q
	}
	return q.Where("host LIKE ? ESCAPE '!'", prefixPattern(r.of.Host))
}

// stated adds r's plan and status filters, on table's columns, to q.
func (r *resolution) stated(q *gorm.DB, table string) *gorm.DB {
	if r.of.Plan != "" {
		q = q.Where(table+".type = ?", r.of.Plan)
	}
	if r.of.Status != "" {
		q = q.Where(table+".status = ?", r.of.Status)
	}
	return q
}

// NotCounted is what CountDomains returns for a filter it does not count.
const NotCounted = -1

// CountDomains counts the domains f selects (its Sort and Asc aside), up
// to atMost: when more match, it returns atMost+1 and the caller says
// "more than atMost". Counting stops there, so that it costs at most
// atMost+1 index entries (or rows, where no index holds the filter)
// whatever the size of the table; an exact count of a million domains
// would read a million.
//
// It returns NotCounted, without asking the database, when an owner
// filter matches more than maxOwnerIDs accounts, or a host filter more
// than maxHostIDs domains, and another filter is set: no index holds
// both, so counting would read up to atMost+1 rows one by one (1-2 s
// for 10,000 at 1M domains on MariaDB), where the page itself stops at
// its first rows.
func (m *AdminModel) CountDomains(ctx context.Context, f DomainFilter, atMost int) (int, error) {
	db, cancel := m.with(ctx)
	defer cancel()
	r, err := resolved(db, f)
	if err != nil || r.none {
		return 0, err
	}
	if r.wide() && r.narrowed() {
		return NotCounted, nil
	}
	// A host filter alone: its lookup counted the same rows (up to
	// maxHostIDs+1).
	if f.Host != "" && !r.narrowed() && (r.hosts <= int64(maxHostIDs) || atMost <= maxHostIDs) {
		return int(min(r.hosts, int64(atMost)+1)), nil
	}
	var n int64
	if err := db.Table("(?) AS matches", r.domains(db).Select("id").Limit(atMost+1)).Count(&n).Error; err != nil {
		return 0, translate(err)
	}
	return int(n), nil
}

// Domain returns one domain of any user, as a row of the admin list,
// deleted ones included (ErrNoRecord when there is no such domain).
func (m *AdminModel) Domain(ctx context.Context, id uint64) (*AdminDomain, error) {
	if noSuchID(id) {
		return nil, ErrNoRecord
	}
	db, cancel := m.with(ctx)
	defer cancel()
	rows, err := rowsOf(db, []uint64{id})
	if err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		return nil, ErrNoRecord
	}
	return &rows[0], nil
}

// fillOwners sets the owner's nick, email and suspension of each row, in
// one query.
func fillOwners(db *gorm.DB, rows []AdminDomain) error {
	if len(rows) == 0 {
		return nil
	}
	ids := make([]uint64, 0, len(rows))
	seen := map[uint64]bool{}
	for _, r := range rows {
		if !seen[r.UserID] {
			seen[r.UserID] = true
			ids = append(ids, r.UserID)
		}
	}
	var us []User
	if err := db.Select("id, nick, email, suspended_at").Where("id IN ?", ids).Find(&us).Error; err != nil {
		return err
	}
	byID := make(map[uint64]*User, len(us))
	for i := range us {
		byID[us[i].ID] = &us[i]
	}
	for i := range rows {
		if u := byID[rows[i].UserID]; u != nil {
			rows[i].OwnerNick, rows[i].OwnerEmail, rows[i].OwnerSuspended = u.Nick, u.Email, u.Suspended()
		}
	}
	return nil
}

// fillHeld marks the deleted rows a revocation still holds on, in one query.
func fillHeld(db *gorm.DB, rows []AdminDomain) error {
	var ids []uint64
	for _, r := range rows {
		if r.Status == StatusDeleted {
			ids = append(ids, r.ID)
		}
	}
	held, err := revocationsHeld(db, ids)
	if err != nil {
		return err
	}
	for i := range rows {
		rows[i].RevocationHeld = rows[i].Status == StatusDeleted && held[rows[i].ID]
	}
	return nil
}

// Revoke stops the domain's secret from getting tokens, and retires the
// tokens issued so far: the domain's secret version goes up, so that a
// restore does not bring them back. The revocation outlives the domain:
// its owner cannot register the host again until an admin restores it
// (see decisions.go). Only an active domain can be revoked: the others
// are refused as AlreadyRevoked or Deleted.
//
// reason is told to the owner (the dashboard shows it) and written to the
// audit entry. Revoking ends the previous secret of a rotation's overlap
// with the current one.
func (m *AdminModel) Revoke(ctx context.Context, actor Actor, id uint64, reason string) error {
	return m.change(ctx, actor, id, ActionRevoke, reason, func(d *Domain, _ bool) (string, string, map[string]any, StateReason) {
		switch d.Status {
		case StatusRevoked:
			return "", "", nil, AlreadyRevoked
		case StatusDeleted:
			return "", "", nil, Deleted
		}
		return d.Status, StatusRevoked, map[string]any{
			"status": StatusRevoked, "secret_version": gorm.Expr("secret_version + 1"), "revoke_reason": reason,
			"prev_secret_hash": nil, "prev_secret_until": nil,
		}, 0
	})
}

// Restore makes a revoked domain active again, with its secret (tokens
// issued before the revocation stay retired). A deleted domain that was
// revoked stays deleted (its owner chose that), but the revocation is
// lifted: its owner may register the host again, with a new secret;
// lifted says so. The others are refused as AlreadyActive, or Deleted for
// a deleted domain no revocation holds on. The revocation's reason is
// cleared.
func (m *AdminModel) Restore(ctx context.Context, actor Actor, id uint64) (lifted bool, err error) {
	err = m.change(ctx, actor, id, ActionRestore, "", func(d *Domain, held bool) (string, string, map[string]any, StateReason) {
		switch {
		case d.Status == StatusActive:
			return "", "", nil, AlreadyActive
		case d.Status == StatusDeleted && !held:
			return "", "", nil, Deleted
		case d.Status == StatusDeleted:
			lifted = true
			return StatusRevoked, StatusDeleted, map[string]any{"revoke_reason": ""}, 0
		}
		return d.Status, StatusActive, map[string]any{"status": StatusActive, "revoke_reason": ""}, 0
	})
	return lifted && err == nil, err
}

// SetPlan moves a domain that is not deleted to another plan: refused as
// Deleted or SamePlan. The plan outlives the domain: when its owner
// registers the host again, it gets this plan (see decisions.go).
func (m *AdminModel) SetPlan(ctx context.Context, actor Actor, id uint64, plan string) error {
	if plan != PlanFree && plan != PlanPremium {
		return fmt.Errorf("models: unknown plan %q", plan)
	}
	return m.change(ctx, actor, id, ActionPlan, "", func(d *Domain, _ bool) (string, string, map[string]any, StateReason) {
		switch {
		case d.Status == StatusDeleted:
			return "", "", nil, Deleted
		case d.Plan == plan:
			return "", "", nil, SamePlan
		}
		// The admin decided: a pending premium request is answered too.
		return d.Plan, plan, map[string]any{"type": plan, "premium_requested": false}, 0
	})
}

// AnswerPremium approves (the domain moves to premium) or declines (it
// stays on free) the premium request pending on a domain that is not
// deleted: refused as Deleted, or NotRequested when none is pending. The
// answer is a plan decision (decisions.go): deleting the domain and
// registering the host again gets the plan decided, without a new request.
func (m *AdminModel) AnswerPremium(ctx context.Context, actor Actor, id uint64, approve bool) error {
	action, plan := ActionPremiumDecline, PlanFree
	if approve {
		action, plan = ActionPremiumApprove, PlanPremium
	}
	return m.change(ctx, actor, id, action, "", func(d *Domain, _ bool) (string, string, map[string]any, StateReason) {
		switch {
		case d.Status == StatusDeleted:
			return "", "", nil, Deleted
		case !d.PremiumRequested:
			return "", "", nil, NotRequested
		}
		return premiumRequested, plan, map[string]any{"type": plan, "premium_requested": false}, 0
	})
}

// PremiumRequests returns up to limit of the domains with a pending
// premium request after offset, oldest first, with whether more follow;
// read from the (premium_requested, created_at) index.
func (m *AdminModel) PremiumRequests(ctx context.Context, limit, offset int) ([]AdminDomain, bool, error) {
	db, cancel := m.with(ctx)
	defer cancel()
	var ids []uint64
	err := db.Model(&Domain{}).Where("premium_requested = ?", true).
		Order("created_at, id").Limit(limit+1).Offset(offset).Pluck("id", &ids).Error
	if err != nil {
		return nil, false, translate(err)
	}
	more := len(ids) > limit
	if more {
		ids = ids[:limit]
	}
	rows, err := rowsOf(db, ids)
	return rows, more, err
}

// CountPremiumRequests counts the pending premium requests, up to atMost+1.
func (m *AdminModel) CountPremiumRequests(ctx context.Context, atMost int) (int, error) {
	db, cancel := m.with(ctx)
	defer cancel()
	var n int64
	q := db.Model(&Domain{}).Select("id").Where("premium_requested = ?", true).Limit(atMost + 1)
	if err := db.Table("(?) AS matches", q).Count(&n).Error; err != nil {
		return 0, translate(err)
	}
	return int(n), nil
}

// change locks the domain's row, asks decide whether the change applies
// (what it sets, nil for nothing, or the reason it is refused: decide sees
// only the three known statuses, and for a deleted domain whether a
// revocation holds on it), makes it and writes the audit entry, all in
// one transaction: there is no change without its entry, nor the reverse.
// note goes to the entry (a revocation's reason).
func (m *AdminModel) change(ctx context.Context, actor Actor, id uint64, action, note string,
	decide func(d *Domain, held bool) (before, after string, set map[string]any, refused StateReason)) error {
	if noSuchID(id) {
		return ErrNoRecord
	}
	db, cancel := m.with(ctx)
	defer cancel()
	err := db.Transaction(func(tx *gorm.DB) error {
		var d Domain
		err := tx.Clauses(clause.Locking{Strength: "UPDATE"}).
			Select("id", "user_id", "host", "type", "status", "premium_requested").Where("id = ?", id).Take(&d).Error
		if err != nil {
			return err
		}
		if d.Status != StatusActive && d.Status != StatusRevoked && d.Status != StatusDeleted {
			return fmt.Errorf("models: %s: domain %d has an unknown status %q", action, d.ID, d.Status)
		}
		held := false
		if d.Status == StatusDeleted {
			h, err := revocationsHeld(tx, []uint64{d.ID})
			if err != nil {
				return err
			}
			held = h[d.ID]
		}
		before, after, set, refused := decide(&d, held)
		if refused != 0 {
			return &StateError{Action: action, Reason: refused, Status: d.Status, Plan: d.Plan}
		}
		if set != nil {
			// The row is locked (MySQL) or the database is (SQLite): the
			// condition is a second guard, not the first, and it failing
			// is a broken lock rather than a state to explain.
			res := tx.Model(&Domain{}).Where("id = ? AND status = ? AND type = ?", d.ID, d.Status, d.Plan).Updates(set)
			if res.Error != nil {
				return res.Error
			}
			if res.RowsAffected != 1 {
				return fmt.Errorf("models: %s: domain %d changed under its lock (%d rows updated)", action, d.ID, res.RowsAffected)
			}
		}
		return tx.Create(&AuditEntry{
			ActorID: actor.ID, ActorEmail: actor.Email, Action: action,
			DomainID: d.ID, UserID: d.UserID, Before: before, After: after, Note: note,
		}).Error
	})
	if err != nil {
		var se *StateError
		if errors.As(err, &se) {
			return se
		}
		return translate(err)
	}
	return nil
}

// ExportDomains calls each with the domains f selects, in the order they
// were registered (newest first, oldest first with f.Asc; f.Sort aside),
// a page of at most pageSize at a time: keyset pages, each starting past
// the last (created_at, id) of the page before, read from the same
// (filter..., created_at) indexes as the list (a host filter's as in
// ordered), each query within its own time limit. A million domains are
// thus read in bounded memory, and at a cost per page that does not grow
// with the depth of the walk (an OFFSET would). The owner and host are
// looked up once, unless f comes from Resolve. It stops at the first
// error, each's included.
func (m *AdminModel) ExportDomains(ctx context.Context, f DomainFilter, pageSize int, each func([]AdminDomain) error) error {
	f, err := m.Resolve(ctx, f)
	if err != nil {
		return err
	}
	if f.res.none {
		return nil
	}
	var after *sortKey
	for {
		rows, last, n, err := m.exportPage(ctx, f, after, pageSize)
		if err != nil || n == 0 {
			return err
		}
		if len(rows) > 0 {
			if err := each(rows); err != nil {
				return err
			}
		}
		if n < pageSize {
			return nil
		}
		after = &last
	}
}

// exportPage reads the page after after: its rows (a domain gone since
// the first read is left out), its last key and how many ids it read.
func (m *AdminModel) exportPage(ctx context.Context, f DomainFilter, after *sortKey, limit int) ([]AdminDomain, sortKey, int, error) {
	db, cancel := m.with(ctx)
	defer cancel()
	dir, past := "DESC", "<"
	if f.Asc {
		dir, past = "ASC", ">"
	}
	var narrow func(*gorm.DB) *gorm.DB
	if after != nil {
		narrow = func(q *gorm.DB) *gorm.DB {
			return q.Where("(created_at "+past+" ? OR (created_at = ? AND id "+past+" ?))", after.At, after.At, after.ID)
		}
	}
	keys, err := ordered(db, f.res, "created_at", dir, narrow, limit, 0)
	if err != nil || len(keys) == 0 {
		return nil, sortKey{}, 0, err
	}
	rows, err := rowsOf(db, keyIDs(keys))
	return rows, keys[len(keys)-1], len(keys), err
}
