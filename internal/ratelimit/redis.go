package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// Store is the Redis that Redis limiters count in, and the state they share:
// whether Redis answers. Each call waits at most the Store's timeout; a
// call that fails or times out switches every Redis limiter of the Store to
// its local Memory at once (logged once), and Run's probe switches them
// back when Redis answers again (logged once). Redis is never retried per
// request.
type Store struct {
	// client is the client NewStore was given, shared with the rest of
	// the application; limits is a client of its own on the same Redis
	// (its own connections) that only the limit scripts and the probe use,
	// watched by limitHook.
	client, limits *redis.Client
	// batched runs the limit scripts through go-redis's autopipelining
	// (limits.AutoPipeline, marked experimental; go.mod pins the version):
	// the scripts of requests waiting at the same moment go to Redis in one
	// write and come back in one read, which under load saves most of a
	// round trip's system calls on both sides. Each request still makes
	// one script call. A queued call's context is not honoured by the
	// autopipeliner; limitHook bounds each batch by the timeout instead,
	// and a batch that fails switches the Store to local counting before
	// the next one goes out, so the batches queued behind it fail at once
	// instead of each trying Redis for another timeout: a request waits
	// about the timeout at most (TestRedisQueuedChecksWaitOneTimeout).
	batched redis.Scripter
	prefix  string
	timeout time.Duration
	log     *slog.Logger
	// local is true while Redis does not answer: limiters count locally.
	local atomic.Bool
	// roundTrips counts the commands and pipelines sent to Redis.
	roundTrips atomic.Uint64
}

// OpenRedis returns a client for url (redis://[:password@]host:port/db or
// rediss:// for TLS) whose dials, reads and writes each give up after
// timeout, and that never retries a command or a dial.
func OpenRedis(url string, timeout time.Duration) (*redis.Client, error) {
	o, err := redis.ParseURL(url)
	if err != nil {
		return nil, err
	}
	o.DialTimeout, o.ReadTimeout, o.WriteTimeout, o.PoolTimeout = timeout, timeout, timeout, timeout
	o.MaxRetries = -1   // a failed call falls back at once, the probe tries again
	o.DialerRetries = 1 // one dial, not five (five dials into a black hole took 2-4 s)
	o.ContextTimeoutEnabled = true
	o.DisableIdentity = true // no CLIENT SETINFO on each new connection
	// go-redis would log each failed dial of an outage; the Store logs
	// the outage once.
	redis.SetLogger(quiet{})
	return redis.NewClient(o), nil
}

// quiet is a go-redis logger that writes nothing.
type quiet struct{}

func (quiet) Printf(context.Context, string, ...any) {}

// NewStore counts in client under keys starting with prefix; each call
// waits at most timeout. log gets the switches to local counting and back.
func NewStore(client *redis.Client, prefix string, timeout time.Duration, log *slog.Logger) *Store {
	o := *client.Options()
	s := &Store{client: client, limits: redis.NewClient(&o), prefix: prefix, timeout: timeout, log: log}
	client.AddHook(countHook{&s.roundTrips})
	s.limits.AddHook(limitHook{s})
	s.batched = s.limits
	if ap, err := s.limits.AutoPipeline(); err == nil { // fails on a closed client, or on AutoPipelineOptions (OpenRedis sets none)
		s.batched = ap
	}
	return s
}

// Local reports whether the limiters count locally because Redis did not
// answer.
func (s *Store) Local() bool { return s.local.Load() }

// RoundTrips is the number of commands (or pipelines) sent to Redis so far.
func (s *Store) RoundTrips() uint64 { return s.roundTrips.Load() }

// Client is the Redis client NewStore was given, which the application's
// other uses of Redis share (the limits count through a client of their
// own on the same Redis).
func (s *Store) Client() *redis.Client { return s.client }

// Close closes the client and the limits' own.
func (s *Store) Close() error { return errors.Join(s.limits.Close(), s.client.Close()) }

// failed switches to local counting after err, logging the switch once.
// errLocal (a call failed because the Store already counted locally) is
// no news: the probe may have switched back since.
func (s *Store) failed(err error) {
	if !errors.Is(err, errLocal) && s.local.CompareAndSwap(false, true) {
		s.log.Warn("redis does not answer: rate limits count on this instance until it does", "err", err)
	}
}

// Probe asks Redis whether it answers (and loads the scripts, which a
// restarted Redis has forgotten), in one round trip: when it does, the
// limiters go back to Redis, and when it does not they count locally
// (each switch logged once).
func (s *Store) Probe(ctx context.Context) error {
	ctx = context.WithValue(ctx, probing{}, true) // limitHook bounds it by the timeout
	pipe := s.limits.Pipeline()
	pipe.ScriptLoad(ctx, allowScript.src)
	pipe.ScriptLoad(ctx, releaseScript.src)
	pipe.ScriptLoad(ctx, stepsScript.src)
	if _, err := pipe.Exec(ctx); err != nil {
		s.failed(err)
		return err
	}
	if s.local.CompareAndSwap(true, false) {
		s.log.Info("redis answers again: rate limits are shared again")
	}
	return nil
}

// Run probes Redis every interval while the limiters count locally, until
// ctx ends.
func (s *Store) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if s.local.Load() {
				_ = s.Probe(ctx)
			}
		}
	}
}

// script is a Lua script run by EVALSHA (EVAL only when Redis has
// forgotten it, after a restart).
type script struct {
	src string
	*redis.Script
}

func newScript(src string) script { return script{src, redis.NewScript(src)} }

// allowScript counts one request against KEYS at once: ARGV holds, for
// each key in turn, its limit, its window in milliseconds, and 1 when the
// request counts against it or 0 when the key must only have room for it
// (a peek). The rule is Memory's: a key holds its window's count and
// expires when the window ends; a request counted where no window runs
// starts one. The request is counted in its keys when every key has room,
// and in none otherwise. It returns, per key, 1 or 0 (the key had room),
// what remains, and the milliseconds until the window ends.
//
// Each counted key is incremented first and decremented again when a key
// refuses the request (the script runs alone, so no other request sees
// the step between; a key INCR creates has no expiry, so the script
// starts its window), and a peeked key without a window is not asked for
// its expiry: the common request makes two calls a counted key and one a
// peeked key. A refusal costs one more (the DECR) and writes, where
// reading first wrote nothing: the requests that pass are the many.
//
// With a Tally, its hash is the last key and its ID and Now end ARGV (see
// Tally): when every peeked key had room, the request is tallied as
// passed (counted) or failed (refused by a counted key), and the script
// returns one more value, 1.
//
// redis_rate (github.com/go-redis/redis_rate) is not used: its algorithm
// is GCRA, a leaky bucket that refills continuously, not these windows,
// and it counts one key per call, not a quota and its share at once.
var allowScript = newScript(`
local n = #KEYS
if #ARGV < 3*n then n = n - 1 end
local out, counted, ok, gated = {}, {}, true, true
for i = 1, n do
  local k, limit, per, inc = KEYS[i], tonumber(ARGV[3*i-2]), ARGV[3*i-1], ARGV[3*i] == '1'
  local c, ttl
  if inc then
    c, ttl = redis.call('INCR', k) - 1, redis.call('PTTL', k)
    if ttl < 0 then
      redis.call('SET', k, 1, 'PX', per)
      c, ttl = 0, tonumber(per)
    end
    counted[#counted + 1] = i
  else
    c = tonumber(redis.call('GET', k))
    if c == nil then
      c, ttl = 0, tonumber(per)
    else
      ttl = redis.call('PTTL', k)
      if ttl < 0 then c, ttl = 0, tonumber(per) end
    end
  end
  local room = c < limit
  ok = ok and room
  if not inc then gated = gated and room end
  out[3*i-2], out[3*i-1], out[3*i] = room and 1 or 0, c, ttl
end
for _, i in ipairs(counted) do
  if ok then
    out[3*i-1] = out[3*i-1] + 1
  else
    redis.call('DECR', KEYS[i])
  end
end
for i = 1, n do out[3*i-1] = math.max(0, tonumber(ARGV[3*i-2]) - out[3*i-1]) end
if n < #KEYS and gated then
  local h, id, now = KEYS[n + 1], ARGV[3*n + 1], tonumber(ARGV[3*n + 2])
  local f, at = 'r:' .. id, 'lr:' .. id
  if ok then f, at = 'i:' .. id, 'li:' .. id end
  redis.call('HINCRBY', h, f, 1)
  local last = tonumber(redis.call('HGET', h, at))
  if last == nil or last < now then redis.call('HSET', h, at, now) end
  out[#out + 1] = 1
end
return out
`)

// Tally is a count kept in a Redis hash along with a request's limits, in
// the same script (no round trip of its own): field i:ID is incremented
// when the request is counted, r:ID when a counted limit refuses it, and
// li:ID or lr:ID then holds the latest Now (Unix milliseconds). Nothing
// is tallied when a peeked limit (a Gate) has no room. Done is set when
// the tally was made; it is not when the limits counted locally (Redis did
// not answer).
type Tally struct {
	Key, ID string
	Now     int64
	Done    bool
}

// releaseScript gives back, for each of KEYS, one request of its window
// if it counted any, or with ARGV[i] = 1 the whole window (the key is
// deleted).
var releaseScript = newScript(`
for i, k in ipairs(KEYS) do
  if ARGV[i] == '1' then
    redis.call('DEL', k)
  else
    local c = tonumber(redis.call('GET', k))
    if c ~= nil and c > 0 then redis.call('DECR', k) end
  end
end
return 0
`)

// stepsScript counts one request against KEYS in turn, as AllowSteps
// tells: ARGV holds, for each key, its limit, its window in milliseconds,
// and 1 when it spills (no room: the next key counts the request instead;
// room: the next key is not looked at). It stops at the first key without
// room that does not spill, and then counts the request in none; else in
// every key looked at that had room. A key looked at where no window runs
// starts one, as allowScript's counted keys do. It returns, per key, 1 or
// 0 (the key had room) or -1 (not looked at), what remains, and the
// milliseconds until the window ends.
var stepsScript = newScript(`
local out, counted, ok = {}, {}, true
for j = 1, #KEYS do out[3*j-2], out[3*j-1], out[3*j] = -1, 0, 0 end
local i = 1
while i <= #KEYS do
  local k, limit, per, spill = KEYS[i], tonumber(ARGV[3*i-2]), tonumber(ARGV[3*i-1]), ARGV[3*i] == '1'
  local c, ttl = tonumber(redis.call('GET', k)), redis.call('PTTL', k)
  if c == nil or ttl < 0 then
    c, ttl = 0, per
    redis.call('SET', k, 0, 'PX', per)
  end
  local room = c + 1 <= limit
  out[3*i-2], out[3*i-1], out[3*i] = room and 1 or 0, math.max(0, limit - c), ttl
  if room then
    counted[#counted + 1] = i
    if spill then i = i + 1 end
  elseif not spill then
    ok = false
    break
  end
  i = i + 1
end
if ok then
  for _, j in ipairs(counted) do
    out[3*j-1] = math.max(0, tonumber(ARGV[3*j-2]) - redis.call('INCR', KEYS[j]))
  end
end
return out
`)

// Redis is a Limiter counting in a Store, shared by every instance using
// the same Redis and table, with local, a Memory limiter, while Redis does
// not answer. Windows run on Redis's clock.
type Redis[K comparable] struct {
	store *Store
	table string
	// key names K in Redis.
	key   func(K) string
	local *Memory[K]
}

// NewRedis returns a limiter counting in s under table (a name of its own
// among s's limiters), naming keys with key, and counting in local while
// Redis does not answer.
func NewRedis[K comparable](s *Store, table string, key func(K) string, local *Memory[K]) *Redis[K] {
	return &Redis[K]{store: s, table: s.prefix + table + ":", key: key, local: local}
}

// Table is the limiter an application counts with: a Redis limiter over
// s (falling back to a Memory one), or a Memory one when s is nil.
func Table[K comparable](s *Store, table string, key func(K) string, maxKeys int, now func() time.Time) Limiter[K] {
	local := New[K](maxKeys, now)
	if s == nil {
		return local
	}
	return NewRedis(s, table, key, local)
}

func (l *Redis[K]) Allow(key K, limit int, per time.Duration) Result {
	if rs, ok := l.store.allow(nil, l.check(key, limit, per, true)); ok {
		return rs[0]
	}
	return l.local.Allow(key, limit, per)
}

func (l *Redis[K]) Peek(key K, limit int, per time.Duration) Result {
	if rs, ok := l.store.allow(nil, l.check(key, limit, per, false)); ok {
		return rs[0]
	}
	return l.local.Peek(key, limit, per)
}

func (l *Redis[K]) Release(key K) { GiveBack(Undo[K]{L: l, Key: key}) }

func (l *Redis[K]) Reset(key K) { GiveBack(Undo[K]{L: l, Key: key, Forget: true}) }

func allowBothRedis[A, B comparable](la *Redis[A], a A, limitA int, lb *Redis[B], b B, limitB int, per time.Duration) (ra, rb Result) {
	if rs, ok := la.store.allow(nil, la.check(a, limitA, per, true), lb.check(b, limitB, per, true)); ok {
		return rs[0], rs[1]
	}
	return allowBothMemory(la.local, a, limitA, lb.local, b, limitB, per)
}

// check is one key of an allowScript call.
type check struct {
	key   string
	limit int
	per   time.Duration
	count bool // false: a peek
}

func (l *Redis[K]) check(key K, limit int, per time.Duration, count bool) check {
	return check{l.table + l.key(key), limit, per, count}
}

// allow runs allowScript on cs (one round trip); false when Redis did not
// answer (or the limiters already count locally).
func (s *Store) allow(tally *Tally, cs ...check) ([]Result, bool) {
	if s.local.Load() {
		return nil, false
	}
	keys := make([]string, len(cs), len(cs)+1)
	args := make([]any, 0, 3*len(cs)+2)
	for i, c := range cs {
		keys[i] = c.key
		args = append(args, c.limit, c.per.Milliseconds(), bit(c.count))
	}
	if tally != nil {
		keys = append(keys, tally.Key)
		args = append(args, tally.ID, tally.Now)
	}
	// No context deadline (here, in allowSteps and in release): the
	// autopipeliner does not honour one; limitHook bounds the batch the
	// call goes in (see batched).
	v, err := allowScript.Run(context.Background(), s.batched, keys, args...).Int64Slice()
	if err == nil && len(v) != 3*len(cs) && len(v) != 3*len(cs)+1 {
		err = fmt.Errorf("ratelimit: the script answered %d values for %d keys", len(v), len(cs))
	}
	if err != nil {
		s.failed(err)
		return nil, false
	}
	if tally != nil {
		tally.Done = len(v) == 3*len(cs)+1
	}
	rs := make([]Result, len(cs))
	for i := range rs {
		rs[i] = Result{Allowed: v[3*i] == 1, Limit: cs[i].limit, Remaining: int(v[3*i+1]), Reset: time.Duration(v[3*i+2]) * time.Millisecond}
	}
	return rs, true
}

// allowSteps runs stepsScript on cs, spilling where spill says (one round
// trip); false when Redis did not answer (or the limiters already count
// locally).
func (s *Store) allowSteps(cs []check, spill []bool) (rs []Result, refused int, ok bool) {
	if s.local.Load() {
		return nil, 0, false
	}
	keys, args := make([]string, len(cs)), make([]any, 0, 3*len(cs))
	for i, c := range cs {
		keys[i] = c.key
		args = append(args, c.limit, c.per.Milliseconds(), bit(spill[i]))
	}
	v, err := stepsScript.Run(context.Background(), s.batched, keys, args...).Int64Slice()
	if err == nil && len(v) != 3*len(cs) {
		err = fmt.Errorf("ratelimit: the script answered %d values for %d keys", len(v), len(cs))
	}
	if err != nil {
		s.failed(err)
		return nil, 0, false
	}
	rs, refused = make([]Result, len(cs)), -1
	for i := range rs {
		if v[3*i] < 0 {
			continue // not looked at
		}
		rs[i] = Result{Allowed: v[3*i] == 1, Limit: cs[i].limit, Remaining: int(v[3*i+1]), Reset: time.Duration(v[3*i+2]) * time.Millisecond}
		if !rs[i].Allowed && !spill[i] {
			refused = i
		}
	}
	return rs, refused, true
}

// release runs releaseScript on keys, deleting those forget says (one
// round trip); false when Redis did not answer (or the limiters already
// count locally).
func (s *Store) release(keys []string, forget []bool) bool {
	if s.local.Load() {
		return false
	}
	args := make([]any, len(forget))
	for i, f := range forget {
		args[i] = bit(f)
	}
	if err := releaseScript.Run(context.Background(), s.batched, keys, args...).Err(); err != nil {
		s.failed(err)
		return false
	}
	return true
}

// bit is b as a script argument: 1 or 0.
func bit(b bool) int {
	if b {
		return 1
	}
	return 0
}

// countHook counts the commands and pipelines a client sends.
type countHook struct{ n *atomic.Uint64 }

func (h countHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h countHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.n.Add(1)
		return next(ctx, cmd)
	}
}

func (h countHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.n.Add(1)
		return next(ctx, cmds)
	}
}

// limitHook watches what the limits' client sends: the batches of limit
// scripts (the autopipeliner sends a batch of one as a single command)
// and the probe. Each is counted and bounded by the Store's timeout, from
// getting a connection (dial and handshake included) to the last reply;
// one that fails without an answer from Redis switches the Store to local
// counting, and while it counts locally everything but the probe fails at
// once, without a dial or a write.
type limitHook struct{ s *Store }

// probing marks the probe's context: its pipeline goes to Redis while the
// Store counts locally.
type probing struct{}

// errLocal fails the batches sent while the Store counts locally.
var errLocal = errors.New("ratelimit: redis did not answer; counting on this instance")

func (h limitHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h limitHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if h.refuse(ctx) {
			cmd.SetErr(errLocal)
			return errLocal
		}
		ctx, cancel := context.WithTimeout(ctx, h.s.timeout)
		defer cancel()
		return h.sent(ctx, next(ctx, cmd))
	}
}

func (h limitHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if h.refuse(ctx) {
			for _, c := range cmds {
				c.SetErr(errLocal)
			}
			return errLocal
		}
		ctx, cancel := context.WithTimeout(ctx, h.s.timeout)
		defer cancel()
		return h.sent(ctx, next(ctx, cmds))
	}
}

// refuse is true when the Store counts locally and ctx is not the probe's.
func (h limitHook) refuse(ctx context.Context) bool {
	return h.s.local.Load() && ctx.Value(probing{}) == nil
}

// sent counts a command or pipeline sent, and switches the Store to local
// counting when err says Redis did not answer (a Redis error reply, such
// as NOSCRIPT, is an answer; the probe reports its own failure).
func (h limitHook) sent(ctx context.Context, err error) error {
	h.s.roundTrips.Add(1)
	var reply redis.Error
	if err != nil && !errors.As(err, &reply) && !errors.Is(err, redis.ErrClosed) && ctx.Value(probing{}) == nil {
		h.s.failed(err)
	}
	return err
}
