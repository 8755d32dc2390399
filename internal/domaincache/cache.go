// Package domaincache keeps an in-memory view of the registered domains so
// that /v1/token finds a secret's domain and /v1/test checks a token's
// secret version without a database query per request.
//
// Every instance refreshes its view from the database every few seconds
// (only the rows changed since the last refresh), and at once after a change
// it made itself. A rotation, deletion or revocation made on another
// instance therefore reaches this one within one refresh interval (plus the
// time the refresh query takes).
//
// The view holds every domain that is not deleted (a few dozen bytes each),
// the ids of deleted ones (so that their tokens stay refused), and at most
// max secret hashes: a secret evicted from a full cache is looked up in the
// database again when it is next presented.
package domaincache

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/nodebird/nodebird-api/models"
)

// overlap re-reads recent changes at every refresh, so that a change whose
// timestamp was taken before a commit that landed later is not missed.
const overlap = 10 * time.Second

// Source is where the domains come from (models.DomainModel).
type Source interface {
	CredentialByHash(ctx context.Context, hash string) (*models.Credential, error)
	CredentialsChangedSince(ctx context.Context, t time.Time) ([]models.Credential, error)
}

// Entry is what the API needs of a domain. It is immutable once published.
type Entry struct {
	ID            uint64
	UserID        uint64
	Nick          string
	Host          string
	Plan          string
	SecretVersion int
	Active        bool
	hash          secretSum // zero if the stored hash is not hex SHA-256
	// updated is the row's updated_at: a lookup that read the database
	// before a change never overwrites what a refresh learned after it.
	updated time.Time
}

// Validity is the cache's word on a token's domain and secret version.
type Validity int

const (
	// Valid: the domain is active and the token carries its current secret version.
	Valid Validity = iota
	// Retired: the domain was deleted, revoked or rotated since the token was issued.
	Retired
	// Unknown: the domain is not in the view yet. A token carries a valid
	// signature, so the domain existed when the token was issued: it was
	// created on another instance since this one's last refresh. The API
	// accepts such tokens; the next refresh settles them.
	Unknown
)

func (v Validity) String() string {
	switch v {
	case Valid:
		return "Valid"
	case Retired:
		return "Retired"
	case Unknown:
		return "Unknown"
	}
	return "Validity(" + strconv.Itoa(int(v)) + ")"
}

// Cache is safe for concurrent use.
type Cache struct {
	src Source
	max int
	log *slog.Logger

	mu     sync.RWMutex
	byID   map[uint64]*Entry    // every domain not deleted
	byHash map[secretSum]*Entry // at most max entries, each also in byID
	gone   map[uint64]time.Time // deleted domains, with the time of deletion
	hosts  map[string]int       // active domains per host (CORS preflights)
	since  time.Time            // newest updated_at seen
	loaded bool
	// refreshMu serialises refreshes.
	refreshMu sync.Mutex
}

// New returns an empty cache holding at most max secrets.
func New(src Source, max int, log *slog.Logger) *Cache {
	if max < 1 {
		max = 1
	}
	return &Cache{
		src: src, max: max, log: log,
		byID: map[uint64]*Entry{}, byHash: map[secretSum]*Entry{}, gone: map[uint64]time.Time{}, hosts: map[string]int{},
	}
}

// Len is the number of domains in the view (deleted ones left out).
func (c *Cache) Len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.byID)
}

// Secrets is the number of secret hashes held in memory (at most max).
func (c *Cache) Secrets() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.byHash)
}

// Lookup returns the (active or revoked) domain whose secret's SHA-256
// (secret.Sum) is sum: from memory, else from the database.
// models.ErrNoRecord if none.
func (c *Cache) Lookup(ctx context.Context, sum [sha256.Size]byte) (*Entry, error) {
	c.mu.RLock()
	e, ok := c.byHash[sum]
	c.mu.RUnlock()
	if ok {
		return e, nil
	}
	// A miss: a secret created since the last refresh (perhaps on another
	// instance), one evicted from a full cache, or no such secret. The
	// database decides; the per-IP limit on bad secrets keeps this rare.
	cr, err := c.src.CredentialByHash(ctx, hex.EncodeToString(sum[:]))
	if err != nil {
		return nil, err
	}
	e = entryOf(cr)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.newerLocked(e) {
		c.putLocked(e)
		return e, nil
	}
	// A change raced with this read and the view already knows better.
	if cur := c.byID[e.ID]; cur != nil && cur.hash == e.hash {
		return cur, nil
	}
	return nil, models.ErrNoRecord
}

// newerLocked reports whether e (read from the database) is at least as
// recent as what the view holds: a read racing with a rotation, revocation
// or deletion must not bring the old state back.
func (c *Cache) newerLocked(e *Entry) bool {
	if deletedAt, deleted := c.gone[e.ID]; deleted {
		return e.updated.After(deletedAt) // restored since
	}
	cur, ok := c.byID[e.ID]
	if !ok {
		return true
	}
	switch {
	case e.SecretVersion != cur.SecretVersion:
		return e.SecretVersion > cur.SecretVersion
	case e.updated.Equal(cur.updated):
		// The same row: never undo a Forget (which retires it in place).
		return cur.Active || !e.Active
	}
	return e.updated.After(cur.updated)
}

// Check tells whether a token for domain id with secret version sv still stands.
func (c *Cache) Check(id uint64, sv int) Validity {
	c.mu.RLock()
	e, ok := c.byID[id]
	_, deleted := c.gone[id]
	c.mu.RUnlock()
	switch {
	case deleted:
		return Retired
	case !ok:
		return Unknown
	case e.Active && e.SecretVersion == sv:
		return Valid
	}
	return Retired
}

// Refresh folds in the domains changed since the last refresh (all of
// them the first time).
func (c *Cache) Refresh(ctx context.Context) error {
	c.refreshMu.Lock()
	defer c.refreshMu.Unlock()
	c.mu.RLock()
	since := c.since
	loaded := c.loaded
	c.mu.RUnlock()
	if loaded && !since.IsZero() { // zero: nothing seen yet, read everything
		since = since.Add(-overlap)
	}
	cs, err := c.src.CredentialsChangedSince(ctx, since)
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := range cs {
		cr := &cs[i]
		if cr.UpdatedAt.After(c.since) {
			c.since = cr.UpdatedAt
		}
		old := c.byID[cr.ID]
		if cr.Status == models.StatusDeleted {
			if old != nil {
				delete(c.byHash, old.hash)
			}
			c.setIDLocked(cr.ID, nil)
			c.gone[cr.ID] = cr.UpdatedAt
			continue
		}
		if e := entryOf(cr); c.newerLocked(e) {
			if old != nil && old.hash != e.hash {
				delete(c.byHash, old.hash)
			}
			c.putLocked(e)
		}
	}
	c.loaded = true
	return nil
}

// Forget drops a domain at once (after this instance changed it), so that
// its old secret and tokens fail even before the refresh that follows.
func (c *Cache) Forget(id uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.byID[id]; ok {
		delete(c.byHash, old.hash)
		retired := *old
		retired.Active = false
		c.setIDLocked(id, &retired)
	}
}

// setIDLocked puts e (nil: nothing) in byID under id, keeping the count
// of active domains per host in step.
func (c *Cache) setIDLocked(id uint64, e *Entry) {
	if old, ok := c.byID[id]; ok && old.Active {
		if c.hosts[old.Host]--; c.hosts[old.Host] <= 0 {
			delete(c.hosts, old.Host)
		}
	}
	if e == nil {
		delete(c.byID, id)
		return
	}
	c.byID[id] = e
	if e.Active {
		c.hosts[e.Host]++
	}
}

func (c *Cache) putLocked(e *Entry) {
	delete(c.gone, e.ID)
	c.setIDLocked(e.ID, e)
	if e.hash == (secretSum{}) { // no secret hashes to it: nothing to find it by
		return
	}
	if _, ok := c.byHash[e.hash]; !ok && len(c.byHash) >= c.max {
		for k := range c.byHash { // evict an arbitrary entry: maps iterate randomly
			delete(c.byHash, k)
			break
		}
	}
	c.byHash[e.hash] = e
}

func entryOf(cr *models.Credential) *Entry {
	return &Entry{
		ID: cr.ID, UserID: cr.UserID, Nick: cr.Nick, Host: cr.Host, Plan: cr.Plan,
		SecretVersion: cr.SecretVersion, Active: cr.Status == models.StatusActive, hash: sumOf(cr.SecretHash),
		updated: cr.UpdatedAt,
	}
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

// Run refreshes every interval until ctx ends. Failures are logged and
// retried at the next tick; the last good view keeps serving meanwhile.
func (c *Cache) Run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			rctx, cancel := context.WithTimeout(ctx, every)
			err := c.Refresh(rctx)
			cancel()
			if err != nil && !errors.Is(err, context.Canceled) {
				c.log.Warn("refreshing the domain cache", "err", err)
			}
		}
	}
}
