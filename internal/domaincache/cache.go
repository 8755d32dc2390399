// Package domaincache keeps an in-memory view of the registered domains so
// that /v1/token finds a secret's domain and /v1/test checks a token's
// secret version without a database query per request.
//
// The view is loaded once, in pages of domains by id (Load, or the first
// Refresh), then every instance refreshes it from the database every few
// seconds (only the rows changed since the last refresh), and at once after
// a change it made itself. A rotation, deletion or revocation made on
// another instance therefore reaches this one within one refresh interval
// (plus the time the refresh query takes).
//
// The view holds every domain that is not deleted (about 150 bytes each
// at a million, host name included: a 64-byte record without pointers, in
// blocks, found through two open-addressing indexes of 4-byte cells, by id
// and by secret hash, blocks and large indexes mapped outside the Go heap;
// hosts and owners are interned), the ids of deleted
// ones (so that their tokens stay refused), and an index of at most max
// secret hashes: a secret evicted from a full index is looked up in the
// database again when it is next presented.
package domaincache

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nodebird/nodebird-api/models"
)

// overlap re-reads recent changes at every refresh, so that a change whose
// timestamp was taken before a commit that landed later is not missed.
const overlap = 10 * time.Second

const (
	// defaultPageSize is how many domains one query of the load reads.
	defaultPageSize = 10000
	// pageTimeout bounds each page of the load (instead of the per-request
	// query timeout), and each periodic refresh when it is longer than the
	// interval; the whole load is bounded by its context.
	pageTimeout = 30 * time.Second
)

// Source is where the domains come from (models.DomainModel).
type Source interface {
	CredentialByHash(ctx context.Context, hash string) (*models.Credential, error)
	// CredentialByID returns the domain in any status, deleted included.
	CredentialByID(ctx context.Context, id uint64) (*models.Credential, error)
	CredentialsChangedSince(ctx context.Context, t time.Time) ([]models.Credential, error)
	// CredentialsAfter is one page of the load: at most limit domains (every
	// status) with an id above afterID, by id.
	CredentialsAfter(ctx context.Context, afterID uint64, limit int) ([]models.Credential, error)
	// LastChange is the newest updated_at of any domain.
	LastChange(ctx context.Context) (time.Time, error)
}

// Entry is what the API needs of a domain: a copy of the view's record,
// made for the caller.
type Entry struct {
	ID            uint64
	UserID        uint64
	Nick          string
	Host          string
	Plan          string
	SecretVersion int
	Active        bool
	// Revoked: an administrator revoked the domain (Active is false). A
	// caller that presented its secret or a genuine token may be told so.
	Revoked bool
	// Until is, for a domain's previous secret (Lookup by a secret a
	// rotation replaced, within its overlap), when it stops working: its
	// tokens must not outlive it. Zero for the current secret.
	Until time.Time
}

// Validity is the cache's word on a token's domain and secret version.
type Validity int

const (
	// Valid: the domain is active and the token carries its current secret version.
	Valid Validity = iota
	// Retired: the domain was deleted or rotated since the token was issued.
	Retired
	// Unknown: the domain is not in the view yet. A token carries a valid
	// signature, so the domain existed when the token was issued: it was
	// created on another instance since this one's last refresh. The API
	// accepts such tokens; the next refresh settles them. (While the view
	// is still loading, Verify asks the database instead.)
	Unknown
	// Revoked: an administrator revoked the domain since the token was
	// issued (whatever its secret version).
	Revoked
)

func (v Validity) String() string {
	switch v {
	case Valid:
		return "Valid"
	case Retired:
		return "Retired"
	case Unknown:
		return "Unknown"
	case Revoked:
		return "Revoked"
	}
	return "Validity(" + strconv.Itoa(int(v)) + ")"
}

// record is one domain in the view: 64 bytes and no pointer, so that the
// collector never scans the records (they live in blocks, see slots). Its
// host and owner are numbers in the Cache's hosts and owners.
type record struct {
	id uint64
	// updated is the row's updated_at (Unix microseconds): a lookup that
	// read the database before a change never overwrites what a refresh
	// learned after it.
	updated int64
	hash    secretSum // zero if the stored hash is not hex SHA-256
	host    int32     // in Cache.hosts
	owner   int32     // in Cache.owners
	version int32
	plan    plan
	state   state   // active, revoked or retired
	_       [2]byte // spare: room for more state at no cost (the record is 64 bytes either way)
}

// owner is a domain's account: interned, as an account has many domains.
type owner struct {
	id   uint64
	nick string
}

// state is a domain's standing in the view. The zero value (a free slot,
// or a domain Forget retired until the refresh that follows) opens nothing.
type state uint8

const (
	stateRetired state = iota
	stateActive
	stateRevoked
)

// stateOf is the view's state of a row: revoked, active (and its owner
// not suspended), else retired (deleted, an active domain of a suspended
// owner, a status the application does not know).
func stateOf(cr *models.Credential) state {
	switch {
	case cr.Status == models.StatusRevoked:
		return stateRevoked
	case cr.Status == models.StatusActive && !cr.OwnerSuspended:
		return stateActive
	}
	return stateRetired
}

func (r *record) active() bool { return r.state == stateActive }

// plan is a domain's plan as an index in plans.
type plan uint8

var plans = [...]string{models.PlanFree, models.PlanPremium}

// planOf is p's index; a plan the application does not know counts as free.
func planOf(p string) plan {
	if p == models.PlanPremium {
		return 1
	}
	return 0
}

// entryLocked is the entry of the record in slot i.
func (c *Cache) entryLocked(i int32) Entry {
	r := c.recs.at(i)
	o := c.owners.vals[r.owner]
	return Entry{
		ID: r.id, UserID: o.id, Nick: o.nick, Host: c.hosts.vals[r.host], Plan: plans[r.plan],
		SecretVersion: int(r.version), Active: r.active(), Revoked: r.state == stateRevoked,
	}
}

// recordOf is cr as a record, but for its host and owner: putLocked
// numbers them.
func recordOf(cr *models.Credential) record {
	return record{
		id: cr.ID, updated: cr.UpdatedAt.UnixMicro(), hash: sumOf(cr.SecretHash),
		version: int32(cr.SecretVersion), plan: planOf(cr.Plan), state: stateOf(cr),
	}
}

// Cache is safe for concurrent use.
type Cache struct {
	src      Source
	max      int
	log      *slog.Logger
	pageSize int

	mu     sync.RWMutex
	recs   slots   // the domains not deleted; a free slot is zero
	free   []int32 // free slots
	byID   index[uint64]
	byHash index[secretSum] // at most max secrets
	gone   map[uint64]int64 // deleted domains, with the time of deletion
	// forgets counts the Forget calls; forgotten holds, for a domain
	// retired by Forget and not read since, the count at its Forget. A
	// read that began before that Forget cannot undo it (it may hold the
	// state the change replaced); one that began after it can (it holds
	// the change, even when the view had read the same row before the
	// Forget).
	forgets   uint64
	forgotten map[uint64]uint64
	hosts     *intern[string]
	owners    *intern[owner]
	// live counts the active domains of each host (CORS preflights), by
	// its number in hosts.
	live []int32
	// prev holds the previous secrets of the domains in a rotation's
	// overlap, by domain id, and prevByHash finds them by hashKey: side
	// maps, since few domains are in an overlap at once (a field of every
	// record would cost every domain its size).
	prev       map[uint64]prevSecret
	prevByHash map[uint64]uint64
	now        func() time.Time
	since      time.Time   // newest updated_at seen
	loaded     atomic.Bool // set under mu

	// refreshMu serialises loads and refreshes, and guards the load's
	// progress below (a failed load resumes where it stopped).
	refreshMu sync.Mutex
	mark      time.Time // LastChange before the load began
	marked    bool      // mark is read
	cursor    uint64    // the last id loaded
	paged     bool      // every page is loaded
}

// New returns an empty cache holding at most max secrets.
func New(src Source, max int, log *slog.Logger) *Cache {
	if max < 1 {
		max = 1
	}
	c := &Cache{
		src: src, max: max, log: log, pageSize: defaultPageSize,
		gone: map[uint64]int64{}, forgotten: map[uint64]uint64{}, hosts: newIntern[string](), owners: newIntern[owner](),
		prev: map[uint64]prevSecret{}, prevByHash: map[uint64]uint64{}, now: time.Now,
	}
	c.byID.key = func(i int32) uint64 { return c.recs.at(i).id }
	c.byID.hash = func(id uint64) uint64 { return id }
	c.byHash.key = func(i int32) secretSum { return c.recs.at(i).hash }
	c.byHash.hash = hashKey // SHA-256: any 8 bytes of it are as good a hash as any
	return c
}

// SetClock makes the cache tell whether an overlap has ended on now's time
// (tests; nil: time.Now).
func (c *Cache) SetClock(now func() time.Time) {
	if now == nil {
		now = time.Now
	}
	c.mu.Lock()
	c.now = now
	c.mu.Unlock()
}

// prevSecret is a domain's previous secret: it gets tokens of version
// (the domain's version minus one) until until (Unix microseconds).
type prevSecret struct {
	sum     secretSum
	version int32
	until   int64
}

// live reports whether p still works at now (Unix microseconds).
func (p prevSecret) live(now int64) bool { return now < p.until }

// prevOf is the previous secret a row names, if it names one.
func prevOf(cr *models.Credential) (prevSecret, bool) {
	sum := sumOf(cr.PrevSecretHash)
	if sum == (secretSum{}) || cr.PrevSecretUntil.IsZero() || cr.SecretVersion < 2 {
		return prevSecret{}, false
	}
	return prevSecret{sum: sum, version: int32(cr.SecretVersion - 1), until: cr.PrevSecretUntil.UnixMicro()}, true
}

// setPrevLocked records the previous secret of domain id, or none.
func (c *Cache) setPrevLocked(id uint64, p prevSecret, ok bool) {
	c.dropPrevLocked(id)
	if ok && p.live(c.now().UnixMicro()) {
		c.prev[id] = p
		c.prevByHash[hashKey(p.sum)] = id
	}
}

// dropPrevLocked forgets domain id's previous secret.
func (c *Cache) dropPrevLocked(id uint64) {
	if p, ok := c.prev[id]; ok {
		if c.prevByHash[hashKey(p.sum)] == id {
			delete(c.prevByHash, hashKey(p.sum))
		}
		delete(c.prev, id)
	}
}

// prunePrevLocked forgets the previous secrets whose overlap has ended.
func (c *Cache) prunePrevLocked() {
	now := c.now().UnixMicro()
	for id, p := range c.prev {
		if !p.live(now) {
			c.dropPrevLocked(id)
		}
	}
}

// Overlaps is the number of previous secrets held (domains in an overlap).
func (c *Cache) Overlaps() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.prev)
}

// Len is the number of domains in the view (deleted ones left out).
func (c *Cache) Len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.byID.Len()
}

// Secrets is the number of secret hashes held in memory (at most max).
func (c *Cache) Secrets() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.byHash.Len()
}

// Loaded reports whether the whole view is loaded (the first Refresh, or
// Load, succeeded).
func (c *Cache) Loaded() bool { return c.loaded.Load() }

// began marks the start of a read from the database, for newerLocked.
func (c *Cache) began() uint64 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.forgets
}

// slots holds records in blocks of 1<<slotBits, so that growing never
// copies the whole view (nor needs twice its memory for a moment). The
// blocks are mapped outside the Go heap where possible (offheap.go).
type slots struct {
	blocks []*block
	mapped int   // blocks mapped outside the Go heap
	n      int32 // slots in use or free
}

const slotBits = 12

func (s *slots) at(i int32) *record { return &s.blocks[i>>slotBits][i&(1<<slotBits-1)] }

// add puts r in a new slot and returns it.
func (s *slots) add(r record) int32 {
	if int(s.n>>slotBits) == len(s.blocks) {
		b, mapped := newBlock()
		s.blocks = append(s.blocks, b)
		if mapped {
			s.mapped++
		}
	}
	i := s.n
	*s.at(i) = r
	s.n++
	return i
}

// hashKey is the hash of a secret's SHA-256 in the indexes (its first 8 bytes).
func hashKey(sum secretSum) uint64 { return binary.LittleEndian.Uint64(sum[:8]) }

// Cached returns the (active or revoked) domain whose secret's SHA-256 is
// sum, or whose previous secret it is within its overlap (as Lookup), from
// memory only; false when the view does not hold it (Lookup then asks the
// database).
func (c *Cache) Cached(sum [sha256.Size]byte) (Entry, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if i, ok := c.byHash.get(sum); ok {
		return c.entryLocked(i), true
	}
	return c.prevEntryLocked(sum)
}

// Lookup returns the (active or revoked) domain whose secret's SHA-256
// (secret.Sum) is sum: from memory, else from the database.
// models.ErrNoRecord if none.
//
// A domain's previous secret, within its overlap, finds the domain too,
// with the previous secret version and the overlap's end (Entry.Until);
// past the overlap it is ErrNoRecord.
func (c *Cache) Lookup(ctx context.Context, sum [sha256.Size]byte) (Entry, error) {
	if e, ok := c.Cached(sum); ok {
		return e, nil
	}
	// A miss: a secret created since the last refresh (perhaps on another
	// instance), one evicted from a full index, a domain the load has not
	// reached yet, or no such secret. The database decides; the per-IP
	// limit on bad secrets keeps this rare.
	began := c.began()
	cr, err := c.src.CredentialByHash(ctx, hex.EncodeToString(sum[:]))
	if err != nil {
		return Entry{}, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	// The row is folded in unless a change raced with this read and the
	// view already knows better.
	i := c.applyLocked(cr, began)
	if i >= 0 && c.recs.at(i).hash == sum {
		return c.entryLocked(i), nil
	}
	if e, ok := c.prevEntryLocked(sum); ok {
		return e, nil
	}
	return Entry{}, models.ErrNoRecord
}

// prevEntryLocked is the entry of the domain whose previous secret is sum,
// while its overlap lasts.
func (c *Cache) prevEntryLocked(sum secretSum) (Entry, bool) {
	id, ok := c.prevByHash[hashKey(sum)]
	if !ok {
		return Entry{}, false
	}
	p := c.prev[id]
	i, ok := c.byID.get(id)
	if p.sum != sum || !ok || !p.live(c.now().UnixMicro()) {
		return Entry{}, false
	}
	e := c.entryLocked(i)
	e.SecretVersion, e.Until = int(p.version), time.UnixMicro(p.until)
	return e, true
}

// newerLocked reports whether r (read from the database) is at least as
// recent as what the view holds: a read racing with a rotation, revocation
// or deletion must not bring the old state back. slot is the domain's
// slot, -1 if the view holds none.
func (c *Cache) newerLocked(r *record, began uint64) (slot int32, newer bool) {
	if deletedAt, deleted := c.gone[r.id]; deleted {
		return -1, r.updated > deletedAt // restored since
	}
	i, ok := c.byID.get(r.id)
	if !ok {
		return -1, true
	}
	cur := c.recs.at(i)
	switch {
	case r.version != cur.version:
		return i, r.version > cur.version
	case r.updated == cur.updated:
		// The same row: a Forget (which retires it in place) is undone
		// only by a read that began after it.
		if at, forgot := c.forgotten[r.id]; forgot && at <= began {
			return i, true
		}
		return i, cur.active() || !r.active()
	}
	return i, r.updated > cur.updated
}

// Check tells from memory whether a token for domain id with secret
// version sv still stands: the current version, or the previous one while
// a rotation's overlap lasts.
func (c *Cache) Check(id uint64, sv int) Validity {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if _, deleted := c.gone[id]; deleted {
		return Retired
	}
	i, ok := c.byID.get(id)
	switch {
	case !ok:
		return Unknown
	case c.recs.at(i).state == stateRevoked:
		return Revoked
	case !c.recs.at(i).active():
		return Retired
	case int(c.recs.at(i).version) == sv:
		return Valid
	}
	if p, ok := c.prev[id]; ok && int(p.version) == sv && p.live(c.now().UnixMicro()) {
		return Valid
	}
	return Retired
}

// Verify is Check, except that while the view is still loading a domain it
// has not seen yet is looked up in the database (and a domain the database
// does not have is Retired): before the load ends, Unknown would accept the
// tokens of any domain revoked, rotated or deleted within a token's life.
// Once loaded it never queries the database.
func (c *Cache) Verify(ctx context.Context, id uint64, sv int) (Validity, error) {
	v := c.Check(id, sv)
	if v != Unknown || c.Loaded() {
		return v, nil
	}
	began := c.began()
	cr, err := c.src.CredentialByID(ctx, id)
	if errors.Is(err, models.ErrNoRecord) {
		return Retired, nil
	}
	if err != nil {
		return Unknown, err
	}
	c.mu.Lock()
	c.applyLocked(cr, began)
	c.mu.Unlock()
	return c.Check(id, sv), nil
}

// Refresh folds in the domains changed since the last refresh; the first
// time (until it succeeds), it loads the whole view as Load does.
func (c *Cache) Refresh(ctx context.Context) error {
	c.refreshMu.Lock()
	defer c.refreshMu.Unlock()
	if !c.Loaded() {
		return c.loadLocked(ctx)
	}
	return c.refreshLocked(ctx)
}

// Load reads every domain into the view, a page of domains by id at a time
// (each page within its own time limit rather than the per-request one),
// then catches up with the changes made meanwhile: the refresh that ends
// it asks for every change since the newest one before the load began
// (minus the usual overlap). A load that fails resumes after the last page
// it read. It does nothing once the view is loaded.
func (c *Cache) Load(ctx context.Context) error {
	c.refreshMu.Lock()
	defer c.refreshMu.Unlock()
	if c.Loaded() {
		return nil
	}
	return c.loadLocked(ctx)
}

func (c *Cache) loadLocked(ctx context.Context) error {
	start := time.Now()
	if !c.marked {
		mark, err := c.src.LastChange(ctx)
		if err != nil {
			return fmt.Errorf("loading the domains: %w", err)
		}
		c.mark, c.marked = mark, true
	}
	// The next page is read while this one is folded in.
	type result struct {
		page []models.Credential
		err  error
	}
	next := make(chan result, 1)
	fetch := func(after uint64) {
		go func() {
			pctx, cancel := context.WithTimeout(ctx, pageTimeout)
			defer cancel()
			page, err := c.src.CredentialsAfter(pctx, after, c.pageSize)
			next <- result{page, err}
		}()
	}
	pages := 0
	if !c.paged {
		fetch(c.cursor)
	}
	for !c.paged {
		res := <-next
		if res.err != nil {
			return fmt.Errorf("loading the domains after id %d: %w", c.cursor, res.err)
		}
		page := res.page
		full := len(page) == c.pageSize
		if full {
			fetch(page[len(page)-1].ID)
		}
		c.mu.Lock()
		for i := range page {
			c.applyLocked(&page[i], 0) // as if read before any Forget: never undoes one
		}
		c.mu.Unlock()
		pages++
		if len(page) > 0 {
			c.cursor = page[len(page)-1].ID
		}
		c.paged = !full
	}
	c.mu.Lock()
	if c.since.IsZero() || c.mark.Before(c.since) {
		c.since = c.mark
	}
	c.mu.Unlock()
	if err := c.refreshLocked(ctx); err != nil {
		return fmt.Errorf("loading the domains: the changes made during the load: %w", err)
	}
	c.loaded.Store(true)
	c.log.Info("domain view loaded", "domains", c.Len(), "secrets", c.Secrets(), "pages", pages,
		"took", time.Since(start).Round(time.Millisecond))
	return nil
}

// refreshLocked folds in the rows changed since the newest change seen,
// minus the overlap (every row when none was seen).
func (c *Cache) refreshLocked(ctx context.Context) error {
	c.mu.RLock()
	since := c.since
	c.mu.RUnlock()
	if !since.IsZero() { // zero: nothing seen yet, read everything
		since = since.Add(-overlap)
	}
	began := c.began()
	cs, err := c.src.CredentialsChangedSince(ctx, since)
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.prunePrevLocked()
	for i := range cs {
		if cs[i].UpdatedAt.After(c.since) {
			c.since = cs[i].UpdatedAt
		}
		c.applyLocked(&cs[i], began)
	}
	return nil
}

// applyLocked folds one row read from the database into the view: a
// deletion always, anything else when it is newer than what the view holds.
//
// It returns the domain's slot, -1 when the view holds none.
func (c *Cache) applyLocked(cr *models.Credential, began uint64) int32 {
	if cr.Status == models.StatusDeleted {
		delete(c.forgotten, cr.ID)
		c.dropPrevLocked(cr.ID)
		if i, ok := c.byID.get(cr.ID); ok {
			c.unindexLocked(i)
			c.releaseLocked(i)
			c.byID.remove(cr.ID, i)
			*c.recs.at(i) = record{}
			c.free = append(c.free, i)
		}
		c.gone[cr.ID] = cr.UpdatedAt.UnixMicro()
		return -1
	}
	r := recordOf(cr)
	i, newer := c.newerLocked(&r, began)
	if newer {
		i = c.putLocked(r, cr, i)
		p, ok := prevOf(cr)
		c.setPrevLocked(r.id, p, ok)
	}
	return i
}

// Reload reads domain id from the database and folds it into the view (as
// a refresh would, newer rows only): another instance said it changed.
// Nothing is done before the view is loaded (the load reads the change).
func (c *Cache) Reload(ctx context.Context, id uint64) error {
	if !c.Loaded() {
		return nil
	}
	began := c.began()
	cr, err := c.src.CredentialByID(ctx, id)
	if errors.Is(err, models.ErrNoRecord) { // not committed where we read, or never was: the poll settles it
		return nil
	}
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.applyLocked(cr, began)
	return nil
}

// Forget drops a domain at once (after this instance changed it), so that
// its old secret and tokens fail even before the refresh that follows.
func (c *Cache) Forget(id uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if i, ok := c.byID.get(id); ok {
		c.unindexLocked(i)
		c.recs.at(i).state = stateRetired
		c.forgets++
		c.forgotten[id] = c.forgets
	}
}

// putLocked makes r, with cr's host and owner, the domain's record, in
// slot i (the domain's, from newerLocked) or in a new one when i is -1,
// and indexes it; it returns the slot.
func (c *Cache) putLocked(r record, cr *models.Credential, i int32) int32 {
	// Numbered before the old record lets go of them: an unchanged host or
	// owner is not dropped and added again.
	r.host, r.owner = c.hosts.ref(cr.Host), c.owners.ref(owner{cr.UserID, cr.Nick})
	delete(c.forgotten, r.id)
	for len(c.live) < len(c.hosts.vals) {
		c.live = append(c.live, 0)
	}
	switch {
	case i >= 0:
		c.unindexLocked(i)
		c.releaseLocked(i)
		*c.recs.at(i) = r
	case len(c.free) > 0:
		i = c.free[len(c.free)-1]
		c.free = c.free[:len(c.free)-1]
		*c.recs.at(i) = r
		c.byID.put(i)
		delete(c.gone, r.id)
	default:
		i = c.recs.add(r)
		c.byID.put(i)
		delete(c.gone, r.id)
	}
	if r.active() {
		c.live[r.host]++
	}
	if r.hash == (secretSum{}) { // no secret hashes to it: nothing to find it by
		return i
	}
	if c.byHash.Len() >= c.max {
		if _, ok := c.byHash.get(r.hash); !ok {
			c.byHash.removeAny()
		}
	}
	c.byHash.put(i)
	return i
}

// unindexLocked takes slot i out of the host counts and the secret index,
// and forgets its previous secret (its record stays, for Check).
func (c *Cache) unindexLocked(i int32) {
	r := c.recs.at(i)
	c.dropPrevLocked(r.id)
	if r.active() {
		c.live[r.host]--
	}
	if r.hash != (secretSum{}) {
		c.byHash.remove(r.hash, i)
	}
}

// releaseLocked lets go of the host and owner of the record in slot i,
// before it is replaced or freed.
func (c *Cache) releaseLocked(i int32) {
	r := c.recs.at(i)
	c.hosts.unref(r.host)
	c.owners.unref(r.owner)
}

// secretSum is a secret's SHA-256, the key of the secrets held in memory
// (the database stores it in hex).
type secretSum = [sha256.Size]byte

// sumOf decodes a stored hex hash; zero if it is malformed.
func sumOf(hash string) secretSum {
	var sum secretSum
	if hex.DecodedLen(len(hash)) != len(sum) {
		return secretSum{}
	}
	if _, err := hex.Decode(sum[:], []byte(hash)); err != nil {
		return secretSum{}
	}
	return sum
}

// Run loads the view (retrying with backoff while the database fails),
// then refreshes it every interval until ctx ends. Refresh failures are
// logged and retried at the next tick; the last good view keeps serving
// meanwhile.
func (c *Cache) Run(ctx context.Context, every time.Duration) {
	for wait := time.Second; !c.Loaded(); wait = min(2*wait, 30*time.Second) {
		err := c.Load(ctx)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return
		}
		c.log.Warn("loading the domain view; retrying", "err", err, "in", wait)
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			// A refresh may take longer than the interval on a busy
			// database: bounded by the interval, every refresh failed and
			// the view stopped learning of changes (the ticker drops the
			// ticks it misses meanwhile).
			rctx, cancel := context.WithTimeout(ctx, max(every, pageTimeout))
			err := c.Refresh(rctx)
			cancel()
			if err != nil && !errors.Is(err, context.Canceled) {
				c.log.Warn("refreshing the domain cache", "err", err)
			}
		}
	}
}
