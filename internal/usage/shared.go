package usage

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/nodebird/nodebird-api/internal/ratelimit"
	"github.com/nodebird/nodebird-api/models"
)

// Redis keys of the shared counts.
const (
	// pendingKey is the hash the counts go to as they happen: fields
	// i:ID and r:ID (tokens issued and refused), li:ID and lr:ID (the
	// latest of each, Unix milliseconds).
	pendingKey = "nodebird:usage:pending"
	// flushingKey holds the counts one flush is moving to the database;
	// a flush that fails or dies part way leaves them there, and the next
	// flush moves them first.
	flushingKey = "nodebird:usage:flushing"
	// leaseKey names the instance moving the counts (SET NX PX).
	leaseKey = "nodebird:usage:lease"
)

// Shared keeps the counts in Redis as they happen, so that an instance's
// crash loses none of them, and moves them to the database one instance at
// a time: the one that holds a short lease. While Redis does not answer
// (the limits' Store says so) the Counter counts in memory, as without
// Redis, and writes those counts itself.
//
// A flush that writes to the database and dies before it clears what it
// wrote leaves those counts to be written again by the next one: counts
// are written at least once (a crash within that moment may count some
// twice), never lost once they reached Redis.
type Shared struct {
	client *redis.Client
	limits interface{ Local() bool }
	store  Store
	// timeout bounds each count sent outside the limits' script; lease is
	// how long a flush may hold the lease (an instance that dies holding
	// it delays the next flush that long at most).
	timeout, lease time.Duration
	log            *slog.Logger
}

// NewShared keeps counts in client's Redis and moves them to store;
// limits tells when Redis does not answer.
func NewShared(client *redis.Client, limits interface{ Local() bool }, store Store, timeout, lease time.Duration, log *slog.Logger) *Shared {
	return &Shared{client: client, limits: limits, store: store, timeout: timeout, lease: lease, log: log}
}

// Tally is domain id's count made by the limits' script of its token
// request (issued when counted, refused when a quota refused it), at now.
func (s *Shared) Tally(id uint64, now time.Time) *ratelimit.Tally {
	return &ratelimit.Tally{Key: pendingKey, ID: strconv.FormatUint(id, 10), Now: now.UnixMilli()}
}

// countScript is the tally of allowScript on its own: KEYS[1] the hash,
// ARGV the field, the time field, the time.
var countScript = redis.NewScript(`
redis.call('HINCRBY', KEYS[1], ARGV[1], 1)
local last = tonumber(redis.call('HGET', KEYS[1], ARGV[2]))
if last == nil or last < tonumber(ARGV[3]) then redis.call('HSET', KEYS[1], ARGV[2], ARGV[3]) end
return 0
`)

// add counts one token of domain id (issued or refused) in Redis, in one
// round trip; false when Redis does not answer (count it in memory).
func (s *Shared) add(id uint64, issued bool, now time.Time) bool {
	if s.limits.Local() {
		return false
	}
	n := strconv.FormatUint(id, 10)
	field, at := "r:"+n, "lr:"+n
	if issued {
		field, at = "i:"+n, "li:"+n
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
	defer cancel()
	return countScript.Run(ctx, s.client, []string{pendingKey}, field, at, now.UnixMilli()).Err() == nil
}

// takeScript moves the pending counts aside for a flush (unless a flush
// that failed left counts there: those go first) and returns them.
var takeScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[2]) == 0 then
  if redis.call('EXISTS', KEYS[1]) == 0 then return {} end
  redis.call('RENAME', KEYS[1], KEYS[2])
end
return redis.call('HGETALL', KEYS[2])
`)

// releaseScript ends the lease ARGV[1] holds, if it still holds it.
var releaseScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 0
`)

// flush moves the counts in Redis to the database when this instance gets
// the lease (false when another instance holds it, or Redis does not
// answer: nothing to do).
func (s *Shared) flush(ctx context.Context, now time.Time) (bool, error) {
	if s.limits.Local() {
		return false, nil
	}
	var b [12]byte
	_, _ = rand.Read(b[:])
	holder := hex.EncodeToString(b[:])
	got, err := s.client.SetNX(ctx, leaseKey, holder, s.lease).Result()
	if err != nil || !got {
		return false, err
	}
	defer func() {
		rctx, cancel := context.WithTimeout(context.Background(), s.timeout)
		defer cancel()
		_ = releaseScript.Run(rctx, s.client, []string{leaseKey}, holder).Err()
	}()
	fields, err := takeScript.Run(ctx, s.client, []string{pendingKey, flushingKey}).StringSlice()
	if err != nil {
		return true, err
	}
	deltas := parseCounts(fields)
	if len(deltas) == 0 {
		return true, s.client.Del(ctx, flushingKey).Err()
	}
	err = s.store.Add(ctx, now, deltas)
	if err == nil {
		return true, s.client.Del(ctx, flushingKey).Err()
	}
	var ue *models.UnwrittenError
	if errors.As(err, &ue) { // clear what was written; the rest waits for the next flush
		unwritten := map[uint64]bool{}
		for _, id := range ue.Unwritten {
			unwritten[id] = true
		}
		var written []string
		for id := range deltas {
			if !unwritten[id] {
				n := strconv.FormatUint(id, 10)
				written = append(written, "i:"+n, "r:"+n, "li:"+n, "lr:"+n)
			}
		}
		if len(written) > 0 {
			if herr := s.client.HDel(ctx, flushingKey, written...).Err(); herr != nil {
				err = errors.Join(err, herr)
			}
		}
	}
	return true, err
}

// parseCounts reads HGETALL's field, value pairs into deltas; fields it
// does not know are ignored.
func parseCounts(fields []string) map[uint64]models.UsageDelta {
	deltas := map[uint64]models.UsageDelta{}
	for i := 0; i+1 < len(fields); i += 2 {
		kind, idText, ok := strings.Cut(fields[i], ":")
		id, err := strconv.ParseUint(idText, 10, 64)
		v, verr := strconv.ParseInt(fields[i+1], 10, 64)
		if !ok || err != nil || verr != nil || id == 0 {
			continue
		}
		d := deltas[id]
		switch kind {
		case "i":
			d.Issued = v
		case "r":
			d.Refused = v
		case "li":
			d.LastIssued = time.UnixMilli(v)
		case "lr":
			d.LastRefused = time.UnixMilli(v)
		default:
			continue
		}
		deltas[id] = d
	}
	for id, d := range deltas {
		if d.Issued == 0 && d.Refused == 0 {
			delete(deltas, id)
		}
	}
	return deltas
}
